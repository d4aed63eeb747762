//! What customers do with messages: read pages of history, send (idempotently), edit (the reply
//! is written again), delete, retry and stop replies.

use super::{
    rules::{check_client_id, check_content, title_from},
    store::{self, NewMessage, PromptInputs, SendState, NEW_CHAT_TITLE},
    ChatTx, Chats, Exchange, STOPPED_REASON,
};
use crate::{
    model::{Message, MessagePage, MessageStatus, Role},
    server::{
        audit::Actor,
        error::{AppError, AppResult},
        identity::Caller,
        usage::SharedCall,
    },
};

/// Messages in a page when the reader does not say.
pub(super) const PAGE_SIZE: i64 = 20;

/// What the replicas count together for one call (see `Chats::shared_counts`).
#[derive(Debug, Default)]
struct Shared {
    /// The call, counted in the allowances of calls per minute the replicas share.
    call: SharedCall,
    /// The visitor's replies being written on the other replicas.
    replies_elsewhere: usize,
}

/// A customer's message as an adapter hands it over.
#[derive(Debug, Clone, Default)]
pub struct Outgoing<'a> {
    pub content: &'a str,
    /// Switch the chat to this context first.
    pub context: Option<&'a str>,
    /// The client's id for this send: a retry with the same id creates nothing new.
    pub client_id: Option<&'a str>,
}

impl Chats {
    /// A page of messages, oldest to newest: the newest page, the page before a message id, or
    /// (with `after`) the page after one, and before `before` when both are given.
    pub async fn list_messages(
        &self,
        caller: Caller,
        chat_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        self.owned_chat(caller, chat_id).await?;
        self.page_of(chat_id, before, after, limit).await
    }

    /// A page of a chat's messages; the caller has checked access.
    pub(crate) async fn page_of(
        &self,
        chat_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        let limit = limit.unwrap_or(PAGE_SIZE);
        if !(1..=100).contains(&limit) {
            return Err(AppError::Invalid("limit must be between 1 and 100".into()));
        }
        // Read under the chat's lock so the page and `last_seq` describe the same moment.
        let _lock = self.hub.lock(chat_id).await;
        store::page(&self.db, chat_id, before, after, limit).await
    }

    pub async fn get_message(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        self.owned_chat(caller, chat_id).await?;
        store::message(&self.db, chat_id, message_id).await
    }

    /// Sends the customer's message. It is committed before anything else happens; the reply is
    /// written by a background task that needs no request or client to finish. A send repeated
    /// with the same `client_id` answers with what the first one created.
    ///
    /// Customers write in bursts ("hi" / "my order didn't arrive" / "can you check?"): a message
    /// sent while the assistant is still answering the previous ones is accepted like any other,
    /// and the unfinished answer is replaced: it is removed and one new reply, after the newest
    /// message, answers everything the customer said since the last answer. (A reply being
    /// written again further up the conversation, after an edit, is stopped instead: its text
    /// is kept.)
    pub async fn send_message(&self, caller: Caller, chat_id: i64, outgoing: Outgoing<'_>) -> AppResult<Exchange> {
        check_content(outgoing.content, self.limits.message_max_chars)?;
        if let Some(client_id) = outgoing.client_id {
            check_client_id(client_id)?;
        }
        // The reads are independent: side by side, one round trip.
        let (row, used, shared) = tokio::join!(
            self.owned_chat(caller, chat_id),
            self.usage.used_today(caller),
            self.shared_counts(caller, Some(chat_id)),
        );
        let (row, shared) = (row?, shared?);
        let contexts = self.contexts.current();
        let context = outgoing.context.map(|id| contexts.check(id)).transpose()?;
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        // Read inside the change: a take-over committed since the chat was read above counts.
        let SendState { reply: state, sent_before, history } = tx.send_state(outgoing.client_id).await?;
        if let Some(message_id) = sent_before {
            let (message, reply) = tx.sent_before(message_id).await?;
            return Ok(Exchange { message, reply, created: false });
        }
        if state.assistant_on {
            self.replies.check_room(caller, Some(chat_id), shared.replies_elsewhere)?;
        }
        self.usage.spend_call(used?, shared.call, caller)?;
        let replaced = state.streaming;
        let removed: Vec<i64> = replaced.iter().filter(|r| r.unanswered).map(|r| r.id).collect();
        for id in &removed {
            tx.delete_message(*id).await?;
        }
        if !replaced.is_empty() {
            tx.stop_replies_written_elsewhere(STOPPED_REASON).await?;
        }
        let mut chat_changed = false;
        let mut context_now = row.context.as_str();
        if let Some(context) = context.filter(|c| c.id != row.context) {
            self.switch_context(&mut tx, &context.id).await?;
            context_now = &context.id;
            chat_changed = true;
        }
        // The customer writing again opens a resolved or snoozed conversation (read before the
        // lock: one resolved at this very moment stays resolved, with the message in it).
        if matches!(row.status.as_str(), "resolved" | "snoozed") && tx.reopen().await? {
            chat_changed = true;
        }
        let customer = NewMessage::from_customer(caller.user_id, outgoing.content, outgoing.client_id);
        let history = SendState::history_after(history, &customer, &removed);
        let mut news = vec![customer];
        if state.assistant_on {
            news.push(NewMessage::reply());
        }
        let mut inserted = tx.insert_messages(&news).await?.into_iter();
        let message = inserted.next().ok_or_else(|| AppError::Internal("the message was not inserted".into()))?;
        let reply = inserted.next();
        // A first message names the chat, in the statement that records `chat.updated`.
        let title = (row.title == NEW_CHAT_TITLE).then(|| title_from(outgoing.content));
        if chat_changed || title.is_some() {
            tx.retitled(title.as_deref()).await?;
        }
        // The reply starts asking the model while the change commits.
        let early = match &reply {
            Some(reply) => Some(
                self.replies
                    .begin(
                        &mut tx,
                        caller,
                        reply.id,
                        Some(PromptInputs {
                            context: context_now.to_string(),
                            product: row.product.clone(),
                            page: row.page(),
                            rows: history,
                        }),
                    )
                    .await?,
            ),
            None => None,
        };
        tx.commit().await?;
        if let Some(early) = early {
            early.committed();
        }
        // Their tasks see the removed replies gone (and charge what was written); the others end
        // as stopped.
        for old in replaced {
            self.replies.stop_soon(chat_id, old.id);
        }
        Ok(Exchange { message, reply, created: true })
    }

    /// Edits a customer's message: the old text is kept as a version and the reply after it is
    /// written again.
    pub async fn edit_message(
        &self,
        caller: Caller,
        chat_id: i64,
        message_id: i64,
        content: &str,
    ) -> AppResult<Exchange> {
        check_content(content, self.limits.message_max_chars)?;
        // Independent reads side by side; their errors in this order.
        let (chat, original, used, shared) = tokio::join!(
            self.owned_chat(caller, chat_id),
            store::message(&self.db, chat_id, message_id),
            self.usage.used_today(caller),
            self.shared_counts(caller, None),
        );
        let (chat, original, shared) = (chat?, original?, shared?);
        // What staff and the assistant said is the shop's record of the conversation.
        if original.role != Role::User {
            return Err(AppError::NotAllowed("you can edit your own messages, not the replies".into()));
        }
        // An edit asks the model again: it spends from the same allowance as a send.
        if chat.ai_enabled() {
            self.replies.check_room(caller, None, shared.replies_elsewhere)?;
            self.usage.spend_call(used?, shared.call, caller)?;
        }
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        // A take-over committed since the chat was read above: the edit is kept, no reply.
        let assistant_on = tx.ensure_no_reply_streaming().await? && chat.ai_enabled();
        tx.touch();
        let message = tx.edit_message(message_id, content).await?;
        // The reply to write again: the first assistant message after this one, before the next
        // customer message; or a new one when this is the newest message.
        let following = tx.messages_after(message_id).await?;
        let reply_id = following
            .iter()
            .take_while(|(_, role)| *role != Role::User)
            .find(|(_, role)| *role == Role::Assistant)
            .map(|(id, _)| *id);
        let reply = match (reply_id, assistant_on) {
            (_, false) => None,
            (Some(reply_id), true) => Some(tx.reset_reply(reply_id).await?),
            (None, true) if following.is_empty() => Some(tx.insert_message(NewMessage::reply()).await?),
            (None, true) => None,
        };
        let early = match &reply {
            Some(reply) => Some(self.replies.begin(&mut tx, caller, reply.id, None).await?),
            None => None,
        };
        tx.commit().await?;
        if let Some(early) = early {
            early.committed();
        }
        Ok(Exchange { message, reply, created: false })
    }

    /// Writes an assistant reply again (after a failure, a stop, or to get another answer); the
    /// old text is kept as a version.
    pub async fn retry_reply(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        // Independent reads side by side; their errors in this order.
        let (chat, message, used, shared) = tokio::join!(
            self.owned_chat(caller, chat_id),
            store::message(&self.db, chat_id, message_id),
            self.usage.used_today(caller),
            self.shared_counts(caller, None),
        );
        let (chat, message, shared) = (chat?, message?, shared?);
        if message.role != Role::Assistant {
            return Err(AppError::Conflict("only the assistant's replies can be retried".into()));
        }
        if !chat.ai_enabled() {
            return Err(assistant_paused());
        }
        self.replies.check_room(caller, None, shared.replies_elsewhere)?;
        self.usage.spend_call(used?, shared.call, caller)?;
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        // A take-over may have committed since the chat was read above.
        if !tx.ensure_no_reply_streaming().await? {
            return Err(assistant_paused());
        }
        tx.touch();
        let reply = tx.reset_reply(message_id).await?;
        let early = self.replies.begin(&mut tx, caller, reply.id, None).await?;
        tx.commit().await?;
        early.committed();
        Ok(reply)
    }

    /// Deletes a message; a reply being written is stopped first.
    pub async fn delete_message(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<i64> {
        self.owned_chat(caller, chat_id).await?;
        let message = store::message(&self.db, chat_id, message_id).await?;
        // The customer's own words are theirs to remove; what staff and the assistant said is the
        // shop's record of the conversation.
        if message.role != Role::User {
            return Err(AppError::NotAllowed("you can delete your own messages, not the replies".into()));
        }
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        tx.delete_message(message_id).await?;
        let detail = format!("message {message_id} (user)");
        tx.audit(&*self.audit, Actor::Visitor(caller.user_id), "message.deleted", detail).await?;
        tx.commit().await?;
        Ok(message_id)
    }

    /// Stops a reply being written; its text so far is kept and it is marked stopped.
    pub async fn stop_reply(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        self.owned_chat(caller, chat_id).await?;
        let message = store::message(&self.db, chat_id, message_id).await?;
        if message.status != MessageStatus::Streaming {
            return Err(AppError::Conflict("this reply is not being written".into()));
        }
        self.replies.stop(chat_id, message_id).await?;
        store::message(&self.db, chat_id, message_id).await
    }

    /// With other replicas alive: counts this call in the allowances they share, and the
    /// visitor's replies being written on any of them (nothing, and no query, alone). Read beside
    /// the change's other reads, before its transaction: a second connection taken while a
    /// transaction holds one starves the pool under load.
    async fn shared_counts(&self, caller: Caller, replacing: Option<i64>) -> AppResult<Shared> {
        if self.hub.peers() == 0 {
            return Ok(Shared::default());
        }
        let (call, replies) = tokio::join!(
            self.usage.count_shared_call(caller),
            store::streaming_replies_of(&self.db, caller.user_id, replacing),
        );
        Ok(Shared { call: call?, replies_elsewhere: replies? })
    }

    /// Waits until a reply has ended (completed, stopped, failed or interrupted), by whichever
    /// replica writes it. A reply that a later message of the same burst replaced is followed to
    /// the reply that replaced it, which answers the same message: a waiting send always gets
    /// the answer to its message.
    pub async fn wait_for_reply(&self, chat_id: i64, reply_id: i64) -> AppResult<Message> {
        let mut reply_id = reply_id;
        loop {
            if let Some(reply) = self.replies.until_ended(chat_id, reply_id).await? {
                return Ok(reply);
            }
            // Removed: the reply after it (past the customer messages that replaced it) is the
            // answer now; none when the chat itself went.
            reply_id =
                store::reply_answering(&self.db, chat_id, reply_id).await?.ok_or(AppError::not_found("chat"))?.id;
        }
    }
}

fn assistant_paused() -> AppError {
    AppError::Conflict("a person is handling this conversation; the assistant is paused".into())
}
