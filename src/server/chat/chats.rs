//! A conversation's life: opening, listing, renaming, switching context, the customer's email,
//! read marks, asking for a person, following its events, and deleting it.

use futures::stream::BoxStream;

use super::{
    rules::{check_title, ReadUpTo},
    store::{self, ChatRow, NewMessage, ReadMark, NEW_CHAT_TITLE},
    Caller, ChatService,
};
use crate::{
    model::{Chat, ChatEvent, Email},
    server::{
        audit::Actor,
        error::{AppError, AppResult},
        events::ChatTx,
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

impl ChatService {
    /// Opens a chat with the assistant's greeting for its context.
    pub async fn create_chat(&self, caller: Caller, context: Option<&str>, product_id: Option<i64>) -> AppResult<Chat> {
        let context = match context {
            Some(id) => self.context(id)?,
            None => {
                let preferred = self.get_preferences(caller).await?.default_context;
                self.context_or_default(preferred.as_deref())
            }
        };
        let title = match product_id {
            Some(id) => {
                let product = self
                    .get_product(id)
                    .await
                    .map_err(|_| AppError::Invalid(format!("there is no product with id {id}")))?;
                format!("About {}", product.name)
            }
            None => NEW_CHAT_TITLE.to_string(),
        };
        let mut tx = self.db.write.begin().await?;
        let chat_id = store::insert_chat(&mut tx, caller.user_id, &title, &context.id, product_id).await?;
        let mut tx = ChatTx::for_new_chat(&self.hub, &self.db, tx, chat_id).await;
        tx.insert_message(NewMessage::assistant(&context.greeting)).await?;
        let chat = tx.chat_row().await?.into_chat()?;
        tx.commit().await?;
        Ok(chat)
    }

    /// The caller's chats, newest activity first.
    pub async fn list_chats(&self, caller: Caller) -> AppResult<Vec<Chat>> {
        store::chats_of(&self.db, caller.user_id).await
    }

    /// One of the caller's chats; another's is "not found".
    pub async fn get_chat(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        self.owned_chat(caller, chat_id).await?.into_chat()
    }

    /// The caller's most recent chat (about `product_id`, or about no product), or a new one.
    pub async fn current_chat(&self, caller: Caller, product_id: Option<i64>) -> AppResult<Chat> {
        match store::latest_chat(&self.db, caller.user_id, product_id).await? {
            Some(row) => row.into_chat(),
            None => self.create_chat(caller, None, product_id).await,
        }
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
        let context = changes.context.as_deref().map(|id| self.context(id)).transpose()?;
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        if let Some(context) = context.filter(|c| c.id != row.context) {
            self.switch_context(&mut tx, &context.id).await?;
        }
        if let Some(title) = title {
            tx.set_title(title).await?;
        }
        if let Some(email) = &email {
            tx.set_email(email.as_ref().map(Email::as_str)).await?;
        }
        let chat = tx.chat_updated().await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// Switches a chat's context; the switch shows in the transcript.
    pub(crate) async fn switch_context(&self, tx: &mut ChatTx<'_>, context_id: &str) -> AppResult<()> {
        let context = self.context(context_id)?;
        tx.set_context(&context.id).await?;
        tx.insert_message(NewMessage::system(&format!("Switched to {}", context.label))).await?;
        Ok(())
    }

    /// The customer has read staff replies up to message `up_to`; staff see it.
    pub async fn mark_read(&self, caller: Caller, chat_id: i64, up_to: i64) -> AppResult<Chat> {
        let up_to = ReadUpTo::new(up_to)?;
        self.owned_chat(caller, chat_id).await?;
        self.move_read_mark(chat_id, ReadMark::Customer, up_to).await
    }

    /// Moves a read mark forward (never back) and tells both sides.
    pub(crate) async fn move_read_mark(&self, chat_id: i64, mark: ReadMark, up_to: ReadUpTo) -> AppResult<Chat> {
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
    /// customer is waiting) and the assistant pauses.
    pub async fn handoff(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        let before = self.owned_chat(caller, chat_id).await?;
        self.cancel_replies_of(chat_id);
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        let changed = tx.hand_to_staff().await?;
        if changed {
            tx.insert_message(NewMessage::system("You asked for a person. Someone from our team will reply here."))
                .await?;
        }
        let chat = tx.chat_updated().await?;
        tx.commit().await?;
        if changed && !before.is_high_priority() {
            self.notify_high_priority(chat_id).await;
        }
        Ok(chat)
    }

    /// Deletes a chat with all its messages; a reply being written is stopped.
    pub async fn delete_chat(&self, caller: Caller, chat_id: i64) -> AppResult<()> {
        self.owned_chat(caller, chat_id).await?;
        self.cancel_replies_of(chat_id);
        let _lock = self.hub.lock(chat_id).await;
        store::delete_chat(&self.db, chat_id, Actor::Visitor(caller.user_id)).await
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

    /// Events of a chat after `after` (see [`ChatService::subscribe`]); the caller checked access.
    pub(crate) async fn follow_chat(
        &self,
        chat: &ChatRow,
        after: Option<i64>,
    ) -> AppResult<BoxStream<'static, AppResult<ChatEvent>>> {
        let after = match after {
            Some(after) if after < 0 => {
                return Err(AppError::Invalid("the sequence number must not be negative".into()))
            }
            Some(after) => after,
            None => store::join_point(&self.db, chat).await?,
        };
        Ok(self.hub.subscribe(self.db.clone(), chat.id, after))
    }
}
