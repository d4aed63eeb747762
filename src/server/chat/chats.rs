//! A conversation's life: opening, listing, renaming, switching context, the customer's email,
//! read marks, asking for a person, following its events, and deleting it.

use std::sync::Arc;

use futures::stream::BoxStream;

use super::{
    messages::PAGE_SIZE,
    rules::{check_client_id, check_content, check_resume, check_title, MarkPosition},
    store::{self, ChatRow, NewMessage, ReadMark, NEW_CHAT_TITLE},
    ChatTx, Chats, Outgoing, Starter,
};
use crate::{
    model::{
        Chat, ChatEvent, ChatStatus, Email, Message, MessagePage, MessageStatus, Page, Priority, Product, Role,
        DRAFT_CHAT_ID,
    },
    server::{
        audit::Actor,
        db::{now_ms, rfc3339},
        error::{AppError, AppResult},
        identity::Caller,
        llm::{Context, Contexts},
    },
};

/// What a customer may change about a chat; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChatChanges {
    pub context: Option<String>,
    pub title: Option<String>,
    /// An empty string removes the email.
    pub customer_email: Option<String>,
}

impl Chats {
    /// Opens a chat with the assistant's greeting for its context (the visitor's preferred one
    /// unless `context` is given).
    pub async fn create_chat(
        &self,
        starter: Starter<'_>,
        context: Option<&str>,
        product_id: Option<&str>,
        page: Option<&Page>,
    ) -> AppResult<Chat> {
        Ok(self.open_chat(starter, context, product_id, page).await?.1)
    }

    /// [`Chats::create_chat`], with its owner and the greeting it wrote. A first visit's
    /// visitor is written in the chat's own transaction, and has no preferences to read.
    async fn open_chat(
        &self,
        starter: Starter<'_>,
        context: Option<&str>,
        product_id: Option<&str>,
        page: Option<&Page>,
    ) -> AppResult<(Caller, Chat, Message)> {
        let contexts = self.contexts.current();
        let context = match (context, starter) {
            (Some(id), _) => contexts.check(id)?,
            (None, Starter::Known(caller)) => self.preferred_context(&contexts, caller).await?,
            (None, Starter::First(_)) => contexts.or_default(None),
        };
        let product = self.product_for_chat(product_id).await?;
        let (title, greeting) = Self::opening_lines(context, product.as_ref());
        let _turn = self.db.patient_turn().await;
        let mut tx = self.db.write.begin().await?;
        let owner = match starter {
            Starter::Known(caller) => caller,
            Starter::First(visit) => visit.write(&mut tx).await?,
        };
        let chat_id = store::insert_chat(&mut tx, owner.user_id, &title, &context.id, product_id, page).await?;
        let mut tx = ChatTx::for_new_chat(&self.hub, &self.db, tx, chat_id).await;
        let greeting = tx.insert_message(NewMessage::assistant(&greeting)).await?;
        let chat = tx.chat_row().await?.into_chat()?;
        tx.commit().await?;
        if let Starter::First(visit) = starter {
            visit.committed();
        }
        Ok((owner, chat, greeting))
    }

    /// What [`Chats::create_chat`] would refuse: an unknown context or product (checked
    /// before a visitor is created for the chat).
    pub async fn check_new_chat(
        &self,
        context: Option<&str>,
        product_id: Option<&str>,
        page: Option<&Page>,
    ) -> AppResult<()> {
        if let Some(id) = context {
            self.contexts.current().check(id)?;
        }
        if let Some(page) = page {
            check_page(page)?;
        }
        self.product_for_chat(product_id).await?;
        Ok(())
    }

    async fn preferred_context<'a>(&self, contexts: &'a Contexts, caller: Caller) -> AppResult<&'a Context> {
        let preferred = self.accounts.preferences(caller).await?.default_context;
        Ok(contexts.or_default(preferred.as_deref()))
    }

    /// The product a new chat is about; one that does not exist is not found (404), as the
    /// product's own address would be.
    async fn product_for_chat(&self, product_id: Option<&str>) -> AppResult<Option<Product>> {
        match product_id {
            Some(id) => Ok(Some(self.catalog.get(id).await?)),
            None => Ok(None),
        }
    }

    /// A new chat's title and greeting: about the product when there is one.
    fn opening_lines(context: &Context, product: Option<&Product>) -> (String, String) {
        match product {
            Some(product) => {
                let greeting = format!(
                    "{}\n\nYou're looking at the **{}**: ask me anything about it.",
                    context.greeting, product.name
                );
                (format!("About {}", product.name), greeting)
            }
            None => (NEW_CHAT_TITLE.to_string(), context.greeting.clone()),
        }
    }

    /// What the window opens on: the reader's latest chat (about `product`, which the page has
    /// already read, or about no product) with its newest page; without one, a draft that exists only on the page (id
    /// [`DRAFT_CHAT_ID`], the greeting of the preferred context). Writes nothing: a page view is
    /// not a conversation, and [`Chats::start_chat`] makes the draft real at the first action.
    pub async fn opening(&self, reader: Caller, product: Option<&Product>) -> AppResult<(Chat, MessagePage)> {
        let product_id = product.map(|p| p.id.as_str());
        if !reader.is_nobody() {
            if let Some(row) = store::latest_chat(&self.db, reader.user_id, product_id).await? {
                let chat = row.into_chat()?;
                let page = self.page_of(chat.id, None, None, None).await?;
                return Ok((chat, page));
            }
        }
        let contexts = self.contexts.current();
        let context = self.preferred_context(&contexts, reader).await?;
        let (title, greeting) = Self::opening_lines(context, product);
        let now = rfc3339(now_ms());
        let chat = Chat {
            id: DRAFT_CHAT_ID,
            title,
            context: context.id.clone(),
            product_id: product_id.map(str::to_string),
            status: ChatStatus::Pending,
            priority: Priority::Medium,
            assignee_id: None,
            ai_enabled: true,
            customer_email: None,
            created_at: now.clone(),
            updated_at: now.clone(),
            last_activity_at: now.clone(),
            last_seq: 0,
            staff_read_up_to: 0,
            customer_read_up_to: 0,
            staff_delivered_up_to: 0,
        };
        let greeting = Message {
            id: DRAFT_CHAT_ID,
            chat_id: DRAFT_CHAT_ID,
            role: Role::Assistant,
            author: None,
            content: greeting,
            status: MessageStatus::Complete,
            reason: None,
            created_at: now,
            edited_at: None,
            usage: None,
            client_id: None,
            sources: Vec::new(),
            unanswered: false,
        };
        Ok((chat, MessagePage { messages: vec![greeting], next_cursor: None, newer_cursor: None, last_seq: 0 }))
    }

    /// Makes the window's draft a conversation, at the visitor's first real action: their latest
    /// chat about `product_id` if one came into being meanwhile (another tab), else a new one in
    /// `context` (or the preferred one). With `first`, the customer's message goes in as well (a
    /// first message is one request: the conversation and its reply start together). Returns the
    /// chat with its newest page.
    pub async fn start_chat(
        self: &Arc<Self>,
        starter: Starter<'_>,
        product_id: Option<&str>,
        page: Option<&Page>,
        context: Option<&str>,
        first: Option<Outgoing<'_>>,
    ) -> AppResult<(Chat, MessagePage)> {
        if let Some(first) = &first {
            check_content(first.content, self.limits.message_max_chars)?;
            first.client_id.map(check_client_id).transpose()?;
        }
        let latest = match starter {
            Starter::Known(caller) => {
                store::latest_chat(&self.db, caller.user_id, product_id).await?.map(|c| (caller, c))
            }
            // A visitor not written yet has no chats.
            Starter::First(_) => None,
        };
        let (caller, chat) = match latest {
            Some((caller, row)) => match context {
                Some(context) if context != row.context => {
                    let changes = ChatChanges { context: Some(context.to_string()), ..ChatChanges::default() };
                    (caller, self.update_chat(caller, row.id, &changes).await?)
                }
                _ => (caller, row.into_chat()?),
            },
            None => {
                let (caller, chat, greeting) = self.open_chat(starter, context, product_id, page).await?;
                if first.is_none() {
                    // A new chat's first page is its greeting: nothing to read back.
                    let last_seq = chat.last_seq;
                    let page =
                        MessagePage { messages: vec![greeting], next_cursor: None, newer_cursor: None, last_seq };
                    return Ok((chat, page));
                }
                (caller, chat)
            }
        };
        if let Some(first) = first {
            self.send_message(caller, chat.id, first).await?;
        }
        // The chat as of the page's last event: the live feed resumes after it.
        let _lock = self.hub.lock(chat.id).await;
        let (chat, page) = tokio::try_join!(
            async { store::chat_row(&self.db, chat.id).await?.ok_or(AppError::not_found("chat"))?.into_chat() },
            store::page(&self.db, chat.id, None, None, PAGE_SIZE),
        )?;
        Ok((chat, page))
    }

    /// The caller's chats, newest activity first.
    pub async fn list_chats(&self, caller: Caller) -> AppResult<Vec<Chat>> {
        store::chats_of(&self.db, caller.user_id).await
    }

    /// One of the caller's chats; another's is "not found".
    pub async fn get_chat(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        self.owned_chat(caller, chat_id).await?.into_chat()
    }

    pub(crate) async fn owned_chat(&self, caller: Caller, chat_id: i64) -> AppResult<ChatRow> {
        store::owned_chat_row(&self.db, caller.user_id, chat_id).await?.ok_or(AppError::not_found("chat"))
    }

    /// Renames a chat, switches its context (the switch shows in the transcript) and/or saves the
    /// customer's email for follow-up (an empty one removes it).
    pub async fn update_chat(&self, caller: Caller, chat_id: i64, changes: &ChatChanges) -> AppResult<Chat> {
        let row = self.owned_chat(caller, chat_id).await?;
        let title = changes.title.as_deref().map(check_title).transpose()?;
        let email = match changes.customer_email.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(Email::parse(text).map_err(AppError::Invalid)?)),
        };
        let contexts = self.contexts.current();
        let context = changes.context.as_deref().map(|id| contexts.check(id)).transpose()?;
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        if let Some(context) = context.filter(|c| c.id != row.context) {
            self.switch_context(&mut tx, &context.id).await?;
        }

        if let Some(email) = &email {
            tx.set_email(email.as_ref().map(Email::as_str)).await?;
        }
        let chat = tx.retitled(title).await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// Switches a chat's context; the switch shows in the transcript.
    pub(crate) async fn switch_context(&self, tx: &mut ChatTx<'_>, context_id: &str) -> AppResult<()> {
        let contexts = self.contexts.current();
        let context = contexts.check(context_id)?;
        tx.set_context(&context.id).await?;
        tx.insert_message(NewMessage::system(&crate::model::switched_line(&context.label))).await?;
        Ok(())
    }

    /// The customer has read staff replies up to message `up_to`; staff see it.
    pub async fn mark_read(&self, caller: Caller, chat_id: i64, up_to: i64) -> AppResult<Chat> {
        let up_to = MarkPosition::new(up_to)?;
        self.owned_chat(caller, chat_id).await?;
        self.move_read_mark(chat_id, ReadMark::Customer, up_to).await
    }

    /// Moves a read mark forward (never back) and tells both sides.
    pub(crate) async fn move_read_mark(&self, chat_id: i64, mark: ReadMark, up_to: MarkPosition) -> AppResult<Chat> {
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        let chat = if tx.move_read_mark(mark, up_to.get()).await? {
            tx.chat_updated().await?
        } else {
            tx.chat_row().await?.into_chat()?
        };
        tx.commit().await?;
        Ok(chat)
    }

    /// The customer asks for a person: the chat waits for staff (as a high-priority inquiry: a
    /// customer is waiting) and the assistant pauses. Outside the team's hours its line says when
    /// the team is back and asks for an email (when none was left).
    pub async fn handoff(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        let before = self.owned_chat(caller, chat_id).await?;
        // Outside the team's hours the line says when it is back and asks for an email.
        let line = match self.branding.away().await? {
            Some(away) => crate::model::after_hours_line(&away, before.has_email()),
            None => crate::model::HANDOFF_LINE.to_string(),
        };
        self.replies.stop_chat(chat_id);
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        tx.stop_replies_written_elsewhere(super::STOPPED_REASON).await?;
        let changed = tx.hand_to_staff().await?;
        if changed {
            tx.insert_message(NewMessage::system(&line)).await?;
        }
        let chat = tx.chat_updated().await?;
        tx.commit().await?;
        if changed && !before.is_high_priority() {
            self.alerts.high_priority(chat_id).await;
        }
        Ok(chat)
    }

    /// Deletes a chat with all its messages; a reply being written is stopped.
    pub async fn delete_chat(&self, caller: Caller, chat_id: i64) -> AppResult<()> {
        self.owned_chat(caller, chat_id).await?;
        self.replies.stop_chat(chat_id);
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        tx.delete_chat().await?;
        tx.audit(&*self.audit, Actor::Visitor(caller.user_id), "chat.deleted", String::new()).await?;
        tx.commit().await
    }

    /// Events of one of the caller's chats after `after`; with no `after`, a joining client gets
    /// any reply being written from its start, then everything new.
    pub async fn subscribe(
        &self,
        caller: Caller,
        chat_id: i64,
        after: Option<i64>,
    ) -> AppResult<BoxStream<'static, AppResult<ChatEvent>>> {
        let chat = self.owned_chat(caller, chat_id).await?;
        self.follow_chat(&chat, after).await
    }

    /// Events of a chat after `after` (see [`Chats::subscribe`]); the caller checked access.
    pub(crate) async fn follow_chat(
        &self,
        chat: &ChatRow,
        after: Option<i64>,
    ) -> AppResult<BoxStream<'static, AppResult<ChatEvent>>> {
        let after = match check_resume(after)? {
            Some(after) => after,
            None => store::join_point(&self.db, chat).await?,
        };
        Ok(self.hub.subscribe(self.db.clone(), chat.id, after))
    }

    /// Deletes a visitor's chats that retention may remove (idle since `cutoff`: see
    /// `store::idle_chat`), each in a change of its own, under its lock, checked again there;
    /// false as soon as one may not go (the visitor wrote meanwhile), true when none is left.
    pub async fn forget_idle_chats_of(&self, visitor: i64, cutoff: i64) -> AppResult<bool> {
        let chats: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM chats WHERE owner_id = $1").bind(visitor).fetch_all(&self.db.write).await?;
        for (chat,) in chats {
            let mut change = ChatTx::begin(&self.hub, &self.db, chat).await?;
            if !change.delete_chat_if_idle(cutoff).await? {
                return Ok(false);
            }
            change.commit().await?;
        }
        Ok(true)
    }

    /// Token-delta events of finished replies older than `cutoff` (the `message.completed` event
    /// carries the whole text, so a resume still ends with it), `batch` rows at a time.
    pub async fn forget_finished_deltas(&self, cutoff: i64, batch: i64) -> AppResult<u64> {
        self.db
            .delete_in_batches(
                "DELETE FROM chat_events WHERE (chat_id, seq) IN (SELECT e.chat_id, e.seq FROM chat_events e \
                 WHERE e.kind = 'message.delta' AND e.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = e.chat_id AND m.status = 'streaming') \
                 LIMIT $2)",
                cutoff,
                batch,
            )
            .await
    }

    /// Earlier versions of edited messages and regenerated replies older than `cutoff`.
    pub async fn forget_versions(&self, cutoff: i64, batch: i64) -> AppResult<u64> {
        self.db
            .delete_in_batches(
                "DELETE FROM message_versions WHERE id IN \
                 (SELECT id FROM message_versions WHERE created_at < $1 LIMIT $2)",
                cutoff,
                batch,
            )
            .await
    }
}

/// 422 unless `page` is an http(s) address with a title of at most 200 characters.
fn check_page(page: &Page) -> AppResult<()> {
    if !crate::server::knowledge::is_web_address(&page.url) {
        return Err(AppError::Invalid("page.url must be an http or https address".into()));
    }
    if page.title.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::Invalid("page.title is at most 200 characters".into()));
    }
    Ok(())
}
