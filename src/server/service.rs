//! The chat service: the one place the rules of chats and messages live. Server functions, REST
//! handlers and the WebSocket are thin adapters over it.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{stream::BoxStream, StreamExt};
use sqlx::{Any, Transaction};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    config::Config,
    db::{now_ms, rfc3339, Db},
    error::{AppError, AppResult},
    events::{ChatWriter, Hub},
    llm::{Assistant, Chunk, ChunkStream, Contexts, LlmError, LlmErrorKind, Prompt, PromptMessage},
    notify::{InquiryNotice, Notifier},
};
use crate::model::{
    Chat, ChatEvent, ChatStatus, ContextInfo, Deleted, Delta, EventKind, Message, MessagePage, MessageStatus,
    Preferences, Priority, Product, Role, SendKey, TextSize, Theme, Usage,
};

/// Who is asking. Visitors own their chats; staff come with the inquiry panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
}

/// Limits and timings the service enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub message_max_chars: usize,
    pub prompt_budget_chars: usize,
    pub idle_timeout: Duration,
    pub max_retries: u32,
    /// How long token deltas are gathered into one event after the first.
    pub coalesce: Duration,
    pub sends_per_minute: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Limits {
            message_max_chars: config.message_max_chars as usize,
            prompt_budget_chars: config.prompt_budget_chars as usize,
            idle_timeout: config.idle_timeout(),
            max_retries: config.openai_max_retries,
            coalesce: Duration::from_millis(config.delta_coalesce_ms),
            sends_per_minute: config.sends_per_minute as usize,
        }
    }
}

/// What a customer may change about a chat; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChatChanges {
    pub context: Option<String>,
    pub title: Option<String>,
    /// An empty string removes the email.
    pub customer_email: Option<String>,
}

/// A trimmed, lower-cased email address, or empty (which removes it).
fn checked_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.is_empty()
        || (email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            }));
    if valid {
        Ok(email)
    } else {
        Err(AppError::Invalid("give an email address like name@example.com".into()))
    }
}

/// The answer to a send or an edit: the customer's message and the reply being written (if any).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub message: Message,
    pub reply: Option<Message>,
}

struct RunningReply {
    chat_id: i64,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

pub struct ChatService {
    pub db: Db,
    pub hub: Hub,
    assistant: Arc<dyn Assistant>,
    contexts: Contexts,
    limits: Limits,
    replies: Mutex<HashMap<i64, RunningReply>>,
    sends: Mutex<HashMap<i64, VecDeque<Instant>>>,
    notifier: Option<Notifier>,
}

const MESSAGE_COLUMNS: &str =
    "id, chat_id, role, author_name, content, status, reason, prompt_tokens, completion_tokens, created_at, edited_at";
pub(super) const CHAT_COLUMNS: &str =
    "id, owner_id, title, context, product_id, status, priority, assignee_id, ai_enabled, \
     customer_email, created_at, updated_at, last_activity_at, last_seq, staff_read_up_to, customer_read_up_to, \
     staff_delivered_up_to";
const NEW_CHAT_TITLE: &str = "New conversation";

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    chat_id: i64,
    role: String,
    author_name: Option<String>,
    content: String,
    status: String,
    reason: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    created_at: i64,
    edited_at: Option<i64>,
}

impl MessageRow {
    fn into_message(self) -> AppResult<Message> {
        let usage = match (self.prompt_tokens, self.completion_tokens) {
            (Some(p), Some(c)) => Some(Usage { prompt_tokens: p, completion_tokens: c, total_tokens: p + c }),
            _ => None,
        };
        Ok(Message {
            id: self.id,
            chat_id: self.chat_id,
            role: self.role.parse().map_err(AppError::Internal)?,
            author: self.author_name,
            content: self.content,
            status: self.status.parse().map_err(AppError::Internal)?,
            reason: self.reason,
            created_at: rfc3339(self.created_at),
            edited_at: self.edited_at.map(rfc3339),
            usage,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChatRow {
    pub(super) id: i64,
    #[allow(dead_code)]
    owner_id: i64,
    title: String,
    context: String,
    product_id: Option<i64>,
    status: String,
    pub(super) priority: String,
    assignee_id: Option<i64>,
    pub(super) ai_enabled: i64,
    customer_email: Option<String>,
    created_at: i64,
    updated_at: i64,
    pub(super) last_activity_at: i64,
    last_seq: i64,
    staff_read_up_to: i64,
    customer_read_up_to: i64,
    staff_delivered_up_to: i64,
}

impl ChatRow {
    pub(super) fn into_chat(self) -> AppResult<Chat> {
        Ok(Chat {
            id: self.id,
            title: self.title,
            context: self.context,
            product_id: self.product_id,
            status: self.status.parse::<ChatStatus>().map_err(AppError::Internal)?,
            priority: self.priority.parse::<Priority>().map_err(AppError::Internal)?,
            assignee_id: self.assignee_id,
            ai_enabled: self.ai_enabled != 0,
            customer_email: self.customer_email,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            last_activity_at: rfc3339(self.last_activity_at),
            last_seq: self.last_seq,
            staff_read_up_to: self.staff_read_up_to,
            customer_read_up_to: self.customer_read_up_to,
            staff_delivered_up_to: self.staff_delivered_up_to,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i64,
    name: String,
    description: String,
    price_cents: i64,
    image_path: String,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Product {
            id: r.id,
            name: r.name,
            description: r.description,
            price_cents: r.price_cents,
            image_path: r.image_path,
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// How a reply ended.
enum Outcome {
    Complete,
    Stopped,
    /// Failed before any text.
    Failed(String),
    /// Failed after some text; the text is kept.
    Interrupted(String),
    /// The message was deleted or finished elsewhere: nothing to write.
    Gone,
}

impl ChatService {
    pub fn new(db: Db, assistant: Arc<dyn Assistant>, contexts: Contexts, limits: Limits) -> Self {
        ChatService {
            db,
            hub: Hub::default(),
            assistant,
            contexts,
            limits,
            replies: Mutex::new(HashMap::new()),
            sends: Mutex::new(HashMap::new()),
            notifier: None,
        }
    }

    /// Emails staff about new high-priority inquiries through `notifier`.
    pub fn with_notifier(mut self, notifier: Option<Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Tells staff by email (when configured) that an inquiry became high priority.
    pub(super) async fn notify_high_priority(&self, chat_id: i64) {
        let Some(notifier) = &self.notifier else { return };
        match self.high_priority_notice(chat_id).await {
            Ok(Some((to, notice))) => notifier.high_priority(to, notice),
            Ok(None) => {}
            Err(error) => tracing::warn!(?error, chat_id, "could not prepare the staff notice"),
        }
    }

    async fn high_priority_notice(&self, chat_id: i64) -> AppResult<Option<(Vec<String>, InquiryNotice)>> {
        let staff: Vec<(Option<String>,)> =
            sqlx::query_as("SELECT email FROM users WHERE kind = 'staff' AND email IS NOT NULL")
                .fetch_all(&self.db.read)
                .await?;
        let chat: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT c.title, p.name, (SELECT m.content FROM messages m WHERE m.chat_id = c.id AND m.role = 'user' \
             ORDER BY m.id DESC LIMIT 1) FROM chats c LEFT JOIN products p ON p.id = c.product_id WHERE c.id = $1",
        )
        .bind(chat_id)
        .fetch_optional(&self.db.read)
        .await?;
        Ok(chat.map(|(title, product, last_message)| {
            (
                staff.into_iter().filter_map(|(email,)| email).collect(),
                InquiryNotice { chat_id, title, product, last_message },
            )
        }))
    }

    pub fn assistant_name(&self) -> &'static str {
        self.assistant.name()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn contexts(&self) -> Vec<ContextInfo> {
        self.contexts.all().iter().map(|c| c.info()).collect()
    }

    // ----- start-up -------------------------------------------------------------------------

    /// Replies left `streaming` by a crash or restart become `interrupted`, their text kept.
    pub async fn recover_interrupted(&self) -> AppResult<usize> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, chat_id FROM messages WHERE status = 'streaming'")
            .fetch_all(&self.db.read)
            .await?;
        for (id, chat_id) in &rows {
            let mut writer = self.hub.writer(*chat_id).await;
            self.finish_reply(
                &mut writer,
                *id,
                "",
                MessageStatus::Interrupted,
                Some("the server restarted while this reply was being written"),
                None,
            )
            .await?;
        }
        if !rows.is_empty() {
            tracing::warn!(count = rows.len(), "replies interrupted by a restart were marked interrupted");
        }
        Ok(rows.len())
    }

    // ----- chats ----------------------------------------------------------------------------

    /// Opens a chat with the assistant's greeting for its context.
    pub async fn create_chat(&self, caller: Caller, context: Option<&str>, product_id: Option<i64>) -> AppResult<Chat> {
        let context = match context {
            Some(id) => self.context(id)?,
            None => {
                let preferred = self.preferences(caller).await?.default_context;
                preferred
                    .as_deref()
                    .and_then(|id| self.contexts.get(id))
                    .unwrap_or_else(|| self.contexts.default_context())
            }
        };
        let title = match product_id {
            Some(id) => {
                let product = self
                    .product(id)
                    .await
                    .map_err(|_| AppError::Invalid(format!("there is no product with id {id}")))?;
                format!("About {}", product.name)
            }
            None => NEW_CHAT_TITLE.to_string(),
        };
        let now = now_ms();
        let mut tx = self.db.write.begin().await?;
        let (chat_id,): (i64,) = sqlx::query_as(
            "INSERT INTO chats (owner_id, title, context, product_id, status, priority, ai_enabled, created_at, updated_at, last_activity_at, last_seq) \
             VALUES ($1, $2, $3, $4, 'pending', 'medium', 1, $5, $5, $5, 0) RETURNING id",
        )
        .bind(caller.user_id)
        .bind(&title)
        .bind(&context.id)
        .bind(product_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut writer = self.hub.writer(chat_id).await;
        self.insert_message(&mut tx, &mut writer, None, Role::Assistant, &context.greeting, MessageStatus::Complete)
            .await?;
        tx.commit().await?;
        writer.publish();
        self.chat(caller, chat_id).await
    }

    /// The caller's chats, newest activity first.
    pub async fn list_chats(&self, caller: Caller) -> AppResult<Vec<Chat>> {
        let rows: Vec<ChatRow> = sqlx::query_as(&format!(
            "SELECT {CHAT_COLUMNS} FROM chats WHERE owner_id = $1 ORDER BY last_activity_at DESC, id DESC LIMIT 100"
        ))
        .bind(caller.user_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.into_iter().map(ChatRow::into_chat).collect()
    }

    /// One of the caller's chats; another's is "not found".
    pub async fn chat(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        self.owned_chat(caller, chat_id).await?.into_chat()
    }

    /// The caller's most recent chat (about `product_id`, or about no product), or a new one.
    pub async fn current_chat(&self, caller: Caller, product_id: Option<i64>) -> AppResult<Chat> {
        let row: Option<ChatRow> = sqlx::query_as(&format!(
            "SELECT {CHAT_COLUMNS} FROM chats WHERE owner_id = $1 AND \
             (product_id = $2 OR ($2 IS NULL AND product_id IS NULL)) \
             ORDER BY last_activity_at DESC, id DESC LIMIT 1"
        ))
        .bind(caller.user_id)
        .bind(product_id)
        .fetch_optional(&self.db.read)
        .await?;
        match row {
            Some(row) => row.into_chat(),
            None => self.create_chat(caller, None, product_id).await,
        }
    }

    async fn owned_chat(&self, caller: Caller, chat_id: i64) -> AppResult<ChatRow> {
        sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1 AND owner_id = $2"))
            .bind(chat_id)
            .bind(caller.user_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(AppError::not_found("chat"))
    }

    /// Renames a chat, switches its context (the switch shows in the transcript) and/or saves the
    /// customer's email for follow-up (an empty one removes it).
    pub async fn update_chat(&self, caller: Caller, chat_id: i64, changes: &ChatChanges) -> AppResult<Chat> {
        let row = self.owned_chat(caller, chat_id).await?;
        let title = match changes.title.as_deref().map(str::trim) {
            Some("") => return Err(AppError::Invalid("the title must not be empty".into())),
            Some(t) if t.chars().count() > 120 => {
                return Err(AppError::Invalid("the title must be at most 120 characters".into()))
            }
            other => other,
        };
        let email = changes.customer_email.as_deref().map(checked_email).transpose()?;
        let context = changes.context.as_deref().map(|id| self.context(id)).transpose()?;
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        if let Some(context) = context.filter(|c| c.id != row.context) {
            self.switch_context(&mut tx, &mut writer, context.id.as_str()).await?;
        }
        // NULL leaves a field as it is; an empty email clears it.
        sqlx::query(
            "UPDATE chats SET title = COALESCE($1, title), \
             customer_email = CASE WHEN $2 IS NULL THEN customer_email WHEN $2 = '' THEN NULL ELSE $2 END, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(title)
        .bind(email)
        .bind(now_ms())
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
        let chat = self.record_chat_updated(&mut tx, &mut writer).await?;
        tx.commit().await?;
        writer.publish();
        Ok(chat)
    }

    /// The customer has read staff replies up to message `up_to`; staff see it.
    pub async fn mark_read(&self, caller: Caller, chat_id: i64, up_to: i64) -> AppResult<Chat> {
        self.owned_chat(caller, chat_id).await?;
        self.record_read(chat_id, "customer_read_up_to", up_to).await
    }

    /// Moves a read mark forward (never back) and tells both sides.
    pub(super) async fn record_read(&self, chat_id: i64, column: &'static str, up_to: i64) -> AppResult<Chat> {
        if up_to < 0 {
            return Err(AppError::Invalid("up_to is a message id".into()));
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        let moved = sqlx::query(&format!(
            "UPDATE chats SET {column} = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = $1 AND id <= $2) \
             WHERE id = $1 AND {column} < $2"
        ))
        .bind(chat_id)
        .bind(up_to)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let chat = if moved > 0 {
            self.record_chat_updated(&mut tx, &mut writer).await?
        } else {
            sqlx::query_as::<_, ChatRow>(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1"))
                .bind(chat_id)
                .fetch_one(&mut *tx)
                .await?
                .into_chat()?
        };
        tx.commit().await?;
        writer.publish();
        Ok(chat)
    }

    /// Deletes a chat with all its messages; a reply being written is stopped.
    pub async fn delete_chat(&self, caller: Caller, chat_id: i64) -> AppResult<()> {
        self.owned_chat(caller, chat_id).await?;
        self.cancel_replies_of(chat_id);
        let _writer = self.hub.writer(chat_id).await;
        sqlx::query("DELETE FROM chats WHERE id = $1 AND owner_id = $2")
            .bind(chat_id)
            .bind(caller.user_id)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    // ----- messages -------------------------------------------------------------------------

    /// A page of messages, oldest to newest: the newest page, the page before a message id, or
    /// (with `after`) the page after one.
    pub async fn messages(
        &self,
        caller: Caller,
        chat_id: i64,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        self.messages_around(caller, chat_id, before, None, limit).await
    }

    pub async fn messages_around(
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
    pub(super) async fn page_of(
        &self,
        chat_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        let limit = limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(AppError::Invalid("limit must be between 1 and 100".into()));
        }
        if before.is_some() && after.is_some() {
            return Err(AppError::Invalid("give either before or after, not both".into()));
        }
        // Read under the chat's write lock so the page and `last_seq` describe the same moment.
        let _writer = self.hub.writer(chat_id).await;
        let (last_seq,): (i64,) =
            sqlx::query_as("SELECT last_seq FROM chats WHERE id = $1").bind(chat_id).fetch_one(&self.db.read).await?;
        if let Some(after) = after {
            let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id > $2 ORDER BY id LIMIT $3"
            ))
            .bind(chat_id)
            .bind(after)
            .bind(limit + 1)
            .fetch_all(&self.db.read)
            .await?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let messages = rows.into_iter().map(MessageRow::into_message).collect::<AppResult<Vec<_>>>()?;
            let newer_cursor = if more { messages.last().map(|m| m.id) } else { None };
            // Messages before this page exist (at least the one named by `after`).
            let next_cursor = messages.first().map(|m| m.id);
            return Ok(MessagePage { messages, next_cursor, newer_cursor, last_seq });
        }
        let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(chat_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        rows.reverse();
        let messages = rows.into_iter().map(MessageRow::into_message).collect::<AppResult<Vec<_>>>()?;
        let next_cursor = if more { messages.first().map(|m| m.id) } else { None };
        Ok(MessagePage { messages, next_cursor, newer_cursor: None, last_seq })
    }

    pub async fn message(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        self.owned_chat(caller, chat_id).await?;
        self.load_message(chat_id, message_id).await
    }

    async fn load_message(&self, chat_id: i64, message_id: i64) -> AppResult<Message> {
        sqlx::query_as::<_, MessageRow>(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND chat_id = $2"
        ))
        .bind(message_id)
        .bind(chat_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(AppError::not_found("message"))?
        .into_message()
    }

    pub(super) fn check_staff_content(&self, content: &str) -> AppResult<()> {
        self.check_content(content)
    }

    fn check_content(&self, content: &str) -> AppResult<()> {
        if content.trim().is_empty() {
            return Err(AppError::Invalid("the message is empty".into()));
        }
        let len = content.chars().count();
        if len > self.limits.message_max_chars {
            return Err(AppError::TooLong { len, max: self.limits.message_max_chars });
        }
        Ok(())
    }

    fn check_rate(&self, caller: Caller) -> AppResult<()> {
        let mut sends = self.sends.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let expired = |t: &Instant| now.duration_since(*t) > Duration::from_secs(60);
        if sends.len() >= 4096 {
            // Forget visitors who sent nothing in the last minute.
            sends.retain(|_, window| window.back().is_some_and(|t| !expired(t)));
        }
        let window = sends.entry(caller.user_id).or_default();
        while window.front().is_some_and(expired) {
            window.pop_front();
        }
        if window.len() >= self.limits.sends_per_minute {
            return Err(AppError::RateLimited);
        }
        window.push_back(now);
        Ok(())
    }

    /// Sends the customer's message. It is committed before anything else happens; the reply is
    /// written by a background task that needs no request or client to finish.
    pub async fn send(
        self: &Arc<Self>,
        caller: Caller,
        chat_id: i64,
        content: &str,
        context: Option<&str>,
    ) -> AppResult<Exchange> {
        self.check_content(content)?;
        let row = self.owned_chat(caller, chat_id).await?;
        let context = context.map(|id| self.context(id)).transpose()?;
        self.check_rate(caller)?;
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        ensure_no_reply_streaming(&mut tx, chat_id).await?;
        let mut chat_changed = false;
        if let Some(context) = context.filter(|c| c.id != row.context) {
            self.switch_context(&mut tx, &mut writer, context.id.as_str()).await?;
            chat_changed = true;
        }
        let message = self
            .insert_message(&mut tx, &mut writer, Some(caller.user_id), Role::User, content, MessageStatus::Complete)
            .await?;
        if row.title == NEW_CHAT_TITLE {
            sqlx::query("UPDATE chats SET title = $1 WHERE id = $2")
                .bind(title_from(content))
                .bind(chat_id)
                .execute(&mut *tx)
                .await?;
            chat_changed = true;
        }
        let reply = if row.ai_enabled != 0 {
            Some(self.insert_message(&mut tx, &mut writer, None, Role::Assistant, "", MessageStatus::Streaming).await?)
        } else {
            None
        };
        if chat_changed {
            self.record_chat_updated(&mut tx, &mut writer).await?;
        }
        tx.commit().await?;
        writer.publish();
        drop(writer);
        if let Some(reply) = &reply {
            self.spawn_reply(chat_id, reply.id);
        }
        Ok(Exchange { message, reply })
    }

    /// Edits a customer's message: the old text is kept as a version and the reply after it is
    /// written again.
    pub async fn edit(
        self: &Arc<Self>,
        caller: Caller,
        chat_id: i64,
        message_id: i64,
        content: &str,
    ) -> AppResult<Exchange> {
        self.check_content(content)?;
        let chat = self.owned_chat(caller, chat_id).await?;
        let original = self.load_message(chat_id, message_id).await?;
        if original.role != Role::User {
            return Err(AppError::Invalid("only your own messages can be edited".into()));
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        ensure_no_reply_streaming(&mut tx, chat_id).await?;
        let now = now_ms();
        save_version(&mut tx, message_id, now).await?;
        sqlx::query("UPDATE messages SET content = $1, edited_at = $2 WHERE id = $3")
            .bind(content)
            .bind(now)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        let message = self.record_message_event(&mut tx, &mut writer, message_id, EventKind::MessageUpdated).await?;

        // The reply to regenerate: the first assistant message after this one, before the next
        // customer message; or a new one when this is the newest message.
        let following: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, role FROM messages WHERE chat_id = $1 AND id > $2 ORDER BY id LIMIT 50")
                .bind(chat_id)
                .bind(message_id)
                .fetch_all(&mut *tx)
                .await?;
        let reply_id = following
            .iter()
            .take_while(|(_, role)| role != "user")
            .find(|(_, role)| role == "assistant")
            .map(|(id, _)| *id);
        let reply = match (reply_id, chat.ai_enabled != 0) {
            (_, false) => None,
            (Some(reply_id), true) => Some(self.reset_reply(&mut tx, &mut writer, reply_id, now).await?),
            (None, true) if following.is_empty() => Some(
                self.insert_message(&mut tx, &mut writer, None, Role::Assistant, "", MessageStatus::Streaming).await?,
            ),
            (None, true) => None,
        };
        touch_chat(&mut tx, chat_id).await?;
        tx.commit().await?;
        writer.publish();
        drop(writer);
        if let Some(reply) = &reply {
            self.spawn_reply(chat_id, reply.id);
        }
        Ok(Exchange { message, reply })
    }

    /// Writes an assistant reply again (after a failure, a stop, or to get another answer); the
    /// old text is kept as a version.
    pub async fn retry(self: &Arc<Self>, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        let chat = self.owned_chat(caller, chat_id).await?;
        let message = self.load_message(chat_id, message_id).await?;
        if message.role != Role::Assistant {
            return Err(AppError::Invalid("only the assistant's replies can be retried".into()));
        }
        if chat.ai_enabled == 0 {
            return Err(AppError::Conflict("a person is handling this conversation; the assistant is paused".into()));
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        ensure_no_reply_streaming(&mut tx, chat_id).await?;
        let reply = self.reset_reply(&mut tx, &mut writer, message_id, now_ms()).await?;
        touch_chat(&mut tx, chat_id).await?;
        tx.commit().await?;
        writer.publish();
        drop(writer);
        self.spawn_reply(chat_id, reply.id);
        Ok(reply)
    }

    /// The customer asks for a person: the chat waits for staff (as a high-priority inquiry: a
    /// customer is waiting) and the assistant pauses.
    pub async fn handoff(&self, caller: Caller, chat_id: i64) -> AppResult<Chat> {
        let before = self.owned_chat(caller, chat_id).await?;
        self.cancel_replies_of(chat_id);
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE chats SET status = 'pending', priority = 'high', ai_enabled = 0, updated_at = $1 \
             WHERE id = $2 AND ai_enabled = 1",
        )
        .bind(now_ms())
        .bind(chat_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            let line = "You asked for a person. Someone from our team will reply here.";
            self.insert_message(&mut tx, &mut writer, None, Role::System, line, MessageStatus::Complete).await?;
        }
        let chat = self.record_chat_updated(&mut tx, &mut writer).await?;
        tx.commit().await?;
        writer.publish();
        drop(writer);
        if changed > 0 && before.priority != "high" {
            self.notify_high_priority(chat_id).await;
        }
        Ok(chat)
    }

    /// Deletes a message; a reply being written is stopped first.
    pub async fn delete_message(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<i64> {
        self.owned_chat(caller, chat_id).await?;
        self.load_message(chat_id, message_id).await?;
        if let Some(running) = self.replies.lock().unwrap_or_else(|e| e.into_inner()).get(&message_id) {
            running.cancel.cancel();
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        let deleted = sqlx::query("DELETE FROM messages WHERE id = $1 AND chat_id = $2")
            .bind(message_id)
            .bind(chat_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(AppError::not_found("message"));
        }
        writer.record(&mut tx, EventKind::MessageDeleted, to_json(&Deleted { message_id })).await?;
        touch_chat(&mut tx, chat_id).await?;
        tx.commit().await?;
        writer.publish();
        Ok(message_id)
    }

    /// Stops a reply being written; its text so far is kept and it is marked stopped.
    pub async fn stop(&self, caller: Caller, chat_id: i64, message_id: i64) -> AppResult<Message> {
        self.owned_chat(caller, chat_id).await?;
        let message = self.load_message(chat_id, message_id).await?;
        if message.status != MessageStatus::Streaming {
            return Err(AppError::Conflict("this reply is not being written".into()));
        }
        let running = {
            let replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
            replies.get(&message_id).map(|r| (r.cancel.clone(), r.done.clone()))
        };
        match running {
            Some((cancel, mut done)) => {
                cancel.cancel();
                let _ = done.wait_for(|finished| *finished).await;
            }
            None => {
                let mut writer = self.hub.writer(chat_id).await;
                self.finish_reply(&mut writer, message_id, "", MessageStatus::Stopped, Some(STOPPED_REASON), None)
                    .await?;
            }
        }
        self.load_message(chat_id, message_id).await
    }

    /// Waits until a reply has ended (completed, stopped, failed or interrupted).
    pub async fn wait_for_reply(&self, chat_id: i64, message_id: i64) -> AppResult<Message> {
        let done = self.replies.lock().unwrap_or_else(|e| e.into_inner()).get(&message_id).map(|r| r.done.clone());
        if let Some(mut done) = done {
            let _ = done.wait_for(|finished| *finished).await;
        }
        self.load_message(chat_id, message_id).await
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
    pub(super) async fn follow_chat(
        &self,
        chat: &ChatRow,
        after: Option<i64>,
    ) -> AppResult<BoxStream<'static, AppResult<ChatEvent>>> {
        let chat_id = chat.id;
        let after = match after {
            Some(after) if after < 0 => {
                return Err(AppError::Invalid("the sequence number must not be negative".into()))
            }
            Some(after) => after,
            None => {
                let (first_streaming,): (Option<i64>,) =
                    sqlx::query_as("SELECT MIN(created_seq) FROM messages WHERE chat_id = $1 AND status = 'streaming'")
                        .bind(chat_id)
                        .fetch_one(&self.db.read)
                        .await?;
                first_streaming.map_or(chat.last_seq, |seq| seq - 1)
            }
        };
        Ok(self.hub.subscribe(self.db.clone(), chat_id, after))
    }

    // ----- preferences and products ---------------------------------------------------------

    pub async fn preferences(&self, caller: Caller) -> AppResult<Preferences> {
        let row: Option<(String, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT theme, send_key, sound, text_size, default_context FROM preferences WHERE user_id = $1",
        )
        .bind(caller.user_id)
        .fetch_optional(&self.db.read)
        .await?;
        Ok(match row {
            None => Preferences::default(),
            Some((theme, send_key, sound, text_size, default_context)) => Preferences {
                theme: theme.parse::<Theme>().unwrap_or(Theme::System),
                send_key: send_key.parse::<SendKey>().unwrap_or(SendKey::ShiftEnter),
                sound: sound != 0,
                text_size: text_size.parse::<TextSize>().unwrap_or(TextSize::Medium),
                default_context,
            },
        })
    }

    pub async fn set_preferences(&self, caller: Caller, prefs: &Preferences) -> AppResult<Preferences> {
        if let Some(id) = &prefs.default_context {
            self.context(id)?;
        }
        sqlx::query(
            "INSERT INTO preferences (user_id, theme, send_key, sound, text_size, default_context, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET theme = excluded.theme, send_key = excluded.send_key, \
             sound = excluded.sound, text_size = excluded.text_size, default_context = excluded.default_context, \
             updated_at = excluded.updated_at",
        )
        .bind(caller.user_id)
        .bind(prefs.theme.as_str())
        .bind(prefs.send_key.as_str())
        .bind(prefs.sound as i64)
        .bind(prefs.text_size.as_str())
        .bind(prefs.default_context.as_deref())
        .bind(now_ms())
        .execute(&self.db.write)
        .await?;
        self.preferences(caller).await
    }

    pub async fn products(&self) -> AppResult<Vec<Product>> {
        let rows: Vec<ProductRow> =
            sqlx::query_as("SELECT id, name, description, price_cents, image_path FROM products ORDER BY id")
                .fetch_all(&self.db.read)
                .await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    pub async fn product(&self, id: i64) -> AppResult<Product> {
        sqlx::query_as::<_, ProductRow>(
            "SELECT id, name, description, price_cents, image_path FROM products WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db.read)
        .await?
        .map(Product::from)
        .ok_or(AppError::not_found("product"))
    }

    // ----- internals ------------------------------------------------------------------------

    fn context(&self, id: &str) -> AppResult<&super::llm::Context> {
        self.contexts.get(id).ok_or_else(|| {
            let known: Vec<_> = self.contexts.all().iter().map(|c| c.id.as_str()).collect();
            AppError::Invalid(format!("unknown context '{id}'; choose one of: {}", known.join(", ")))
        })
    }

    async fn switch_context(
        &self,
        tx: &mut Transaction<'static, Any>,
        writer: &mut ChatWriter,
        context_id: &str,
    ) -> AppResult<()> {
        let context = self.context(context_id)?;
        sqlx::query("UPDATE chats SET context = $1, updated_at = $2 WHERE id = $3")
            .bind(&context.id)
            .bind(now_ms())
            .bind(writer.chat_id())
            .execute(&mut **tx)
            .await?;
        let line = format!("Switched to {}", context.label);
        self.insert_message(tx, writer, None, Role::System, &line, MessageStatus::Complete).await?;
        Ok(())
    }

    pub(super) async fn insert_message(
        &self,
        tx: &mut Transaction<'static, Any>,
        writer: &mut ChatWriter,
        author_id: Option<i64>,
        role: Role,
        content: &str,
        status: MessageStatus,
    ) -> AppResult<Message> {
        let now = now_ms();
        let seq = writer.next_seq(tx).await?;
        let row: MessageRow = sqlx::query_as(&format!(
            "INSERT INTO messages (chat_id, author_id, author_name, role, content, status, created_seq, created_at) \
             VALUES ($1, $2, (SELECT display_name FROM users WHERE id = $2 AND kind = 'staff'), $3, $4, $5, $6, $7) \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(writer.chat_id())
        .bind(author_id)
        .bind(role.as_str())
        .bind(content)
        .bind(status.as_str())
        .bind(seq)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        let message = row.into_message()?;
        writer.store(tx, seq, EventKind::MessageCreated, to_json(&message)).await?;
        touch_chat(tx, writer.chat_id()).await?;
        Ok(message)
    }

    async fn record_message_event(
        &self,
        tx: &mut Transaction<'static, Any>,
        writer: &mut ChatWriter,
        message_id: i64,
        kind: EventKind,
    ) -> AppResult<Message> {
        let message = sqlx::query_as::<_, MessageRow>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
            .bind(message_id)
            .fetch_one(&mut **tx)
            .await?
            .into_message()?;
        writer.record(tx, kind, to_json(&message)).await?;
        Ok(message)
    }

    pub(super) async fn record_chat_updated(
        &self,
        tx: &mut Transaction<'static, Any>,
        writer: &mut ChatWriter,
    ) -> AppResult<Chat> {
        // The event's own sequence number is assigned first so the chat it carries is current.
        let seq = writer.next_seq(tx).await?;
        let chat = sqlx::query_as::<_, ChatRow>(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1"))
            .bind(writer.chat_id())
            .fetch_one(&mut **tx)
            .await?
            .into_chat()?;
        writer.store(tx, seq, EventKind::ChatUpdated, to_json(&chat)).await?;
        Ok(chat)
    }

    /// Empties a reply and marks it streaming again (its text kept as a version).
    async fn reset_reply(
        &self,
        tx: &mut Transaction<'static, Any>,
        writer: &mut ChatWriter,
        reply_id: i64,
        now: i64,
    ) -> AppResult<Message> {
        save_version(tx, reply_id, now).await?;
        sqlx::query(
            "UPDATE messages SET content = '', status = 'streaming', reason = NULL, prompt_tokens = NULL, \
             completion_tokens = NULL, edited_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(reply_id)
        .execute(&mut **tx)
        .await?;
        self.record_message_event(tx, writer, reply_id, EventKind::MessageUpdated).await
    }

    pub(super) fn cancel_replies_of(&self, chat_id: i64) {
        for running in self.replies.lock().unwrap_or_else(|e| e.into_inner()).values() {
            if running.chat_id == chat_id {
                running.cancel.cancel();
            }
        }
    }

    fn spawn_reply(self: &Arc<Self>, chat_id: i64, reply_id: i64) {
        let cancel = CancellationToken::new();
        let (done_tx, done_rx) = watch::channel(false);
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(reply_id, RunningReply { chat_id, cancel: cancel.clone(), done: done_rx });
        let service = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = service.write_reply(chat_id, reply_id, &cancel).await {
                tracing::error!(?error, chat_id, reply_id, "writing a reply failed");
                let mut writer = service.hub.writer(chat_id).await;
                let reason = "the reply could not be saved; please try again";
                if let Err(error) =
                    service.finish_reply(&mut writer, reply_id, "", MessageStatus::Failed, Some(reason), None).await
                {
                    tracing::error!(?error, reply_id, "marking a reply failed did not work either");
                }
            }
            service.replies.lock().unwrap_or_else(|e| e.into_inner()).remove(&reply_id);
            let _ = done_tx.send(true);
        });
    }

    async fn prompt_for(&self, chat_id: i64, reply_id: i64) -> AppResult<Prompt> {
        let chat: (String, Option<i64>) = sqlx::query_as("SELECT context, product_id FROM chats WHERE id = $1")
            .bind(chat_id)
            .fetch_one(&self.db.read)
            .await?;
        let context = self.contexts.get(&chat.0).unwrap_or_else(|| self.contexts.default_context());
        let product = match chat.1 {
            Some(id) => self.product(id).await.ok(),
            None => None,
        };
        // Enough recent messages to fill any budget; the prompt trims to the budget.
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT role, content, status FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT 200",
        )
        .bind(chat_id)
        .bind(reply_id)
        .fetch_all(&self.db.read)
        .await?;
        let history = rows
            .into_iter()
            .rev()
            .filter(|(_, content, status)| !content.is_empty() && status != "failed")
            .filter_map(|(role, content, _)| Some(PromptMessage { role: role.parse().ok()?, content }))
            .filter(|m| m.role != Role::System)
            .collect();
        Ok(Prompt::build(context, product.as_ref(), history, self.limits.prompt_budget_chars))
    }

    /// Opens the upstream stream, retrying with jittered exponential backoff (honouring
    /// Retry-After) until the first chunk arrives.
    async fn open_stream(
        &self,
        prompt: &Prompt,
        cancel: &CancellationToken,
    ) -> Result<(ChunkStream, Option<Chunk>), Result<Outcome, AppError>> {
        let mut attempt = 0u32;
        loop {
            let idle = self.limits.idle_timeout;
            let started = async {
                let mut stream = tokio::time::timeout(idle, self.assistant.stream(prompt.clone()))
                    .await
                    .map_err(|_| timeout_error())??;
                match tokio::time::timeout(idle, stream.next()).await.map_err(|_| timeout_error())? {
                    Some(Ok(first)) => Ok((stream, Some(first))),
                    Some(Err(e)) => Err(e),
                    None => Ok((stream, None)),
                }
            };
            let error = tokio::select! {
                _ = cancel.cancelled() => return Err(Ok(Outcome::Stopped)),
                result = started => match result {
                    Ok(opened) => return Ok(opened),
                    Err(error) => error,
                },
            };
            if !error.is_retryable() || attempt >= self.limits.max_retries {
                return Err(Ok(Outcome::Failed(error.message)));
            }
            let delay = retry_delay(attempt, error.retry_after);
            tracing::info!(attempt, ?delay, reason = %error.message, "retrying the assistant");
            tokio::select! {
                _ = cancel.cancelled() => return Err(Ok(Outcome::Stopped)),
                _ = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
        }
    }

    async fn write_reply(&self, chat_id: i64, reply_id: i64, cancel: &CancellationToken) -> AppResult<()> {
        let prompt = self.prompt_for(chat_id, reply_id).await?;
        let (mut stream, first) = match self.open_stream(&prompt, cancel).await {
            Ok(opened) => opened,
            Err(outcome) => return self.end_reply(chat_id, reply_id, "", outcome?, None).await,
        };
        let mut pending = String::new();
        let mut usage = None;
        let mut wrote_text = false;
        let mut flush_at: Option<tokio::time::Instant> = None;
        let mut next = first.map(Ok);
        let outcome = loop {
            let item = match next.take() {
                Some(item) => Some(item),
                None => {
                    let deadline = flush_at;
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => break Outcome::Stopped,
                        _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                            if deadline.is_some() => {
                            flush_at = None;
                            if !self.append_delta(chat_id, reply_id, &std::mem::take(&mut pending)).await? {
                                break Outcome::Gone;
                            }
                            continue;
                        }
                        chunk = tokio::time::timeout(self.limits.idle_timeout, stream.next()) => match chunk {
                            Ok(chunk) => chunk,
                            Err(_) => Some(Err(timeout_error())),
                        },
                    }
                }
            };
            match item {
                None => break Outcome::Complete,
                Some(Ok(Chunk::Usage(u))) => usage = Some(u),
                Some(Ok(Chunk::Text(text))) => {
                    pending.push_str(&text);
                    if !wrote_text {
                        // The first words go out at once: coalescing must not delay the first token.
                        wrote_text = true;
                        if !self.append_delta(chat_id, reply_id, &std::mem::take(&mut pending)).await? {
                            break Outcome::Gone;
                        }
                    } else if flush_at.is_none() {
                        flush_at = Some(tokio::time::Instant::now() + self.limits.coalesce);
                    }
                }
                Some(Err(error)) if wrote_text || !pending.is_empty() => break Outcome::Interrupted(error.message),
                Some(Err(error)) => break Outcome::Failed(error.message),
            }
        };
        self.end_reply(chat_id, reply_id, &pending, outcome, usage).await
    }

    async fn end_reply(
        &self,
        chat_id: i64,
        reply_id: i64,
        rest: &str,
        outcome: Outcome,
        usage: Option<Usage>,
    ) -> AppResult<()> {
        let (status, reason) = match &outcome {
            Outcome::Complete => (MessageStatus::Complete, None),
            Outcome::Stopped => (MessageStatus::Stopped, Some(STOPPED_REASON)),
            Outcome::Failed(reason) => (MessageStatus::Failed, Some(reason.as_str())),
            Outcome::Interrupted(reason) => (MessageStatus::Interrupted, Some(reason.as_str())),
            Outcome::Gone => return Ok(()),
        };
        let mut writer = self.hub.writer(chat_id).await;
        self.finish_reply(&mut writer, reply_id, rest, status, reason, usage).await
    }

    /// Appends text to a streaming reply and records the delta. False when the reply is gone
    /// (deleted, or ended elsewhere).
    async fn append_delta(&self, chat_id: i64, reply_id: i64, text: &str) -> AppResult<bool> {
        if text.is_empty() {
            return Ok(true);
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        let updated = sqlx::query("UPDATE messages SET content = content || $1 WHERE id = $2 AND status = 'streaming'")
            .bind(text)
            .bind(reply_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        writer
            .record(&mut tx, EventKind::MessageDelta, to_json(&Delta { message_id: reply_id, text: text.to_string() }))
            .await?;
        tx.commit().await?;
        writer.publish();
        Ok(true)
    }

    /// Ends a streaming reply with its final status; the text so far is kept.
    async fn finish_reply(
        &self,
        writer: &mut ChatWriter,
        reply_id: i64,
        rest: &str,
        status: MessageStatus,
        reason: Option<&str>,
        usage: Option<Usage>,
    ) -> AppResult<()> {
        let mut tx = self.db.write.begin().await?;
        let updated = sqlx::query(
            "UPDATE messages SET content = content || $1, status = $2, reason = $3, prompt_tokens = $4, \
             completion_tokens = $5 WHERE id = $6 AND status = 'streaming'",
        )
        .bind(rest)
        .bind(status.as_str())
        .bind(reason)
        .bind(usage.map(|u| u.prompt_tokens))
        .bind(usage.map(|u| u.completion_tokens))
        .bind(reply_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(());
        }
        if !rest.is_empty() {
            // Deltas alone must rebuild the saved text.
            let delta = Delta { message_id: reply_id, text: rest.to_string() };
            writer.record(&mut tx, EventKind::MessageDelta, to_json(&delta)).await?;
        }
        self.record_message_event(&mut tx, writer, reply_id, EventKind::MessageCompleted).await?;
        touch_chat(&mut tx, writer.chat_id()).await?;
        tx.commit().await?;
        writer.publish();
        Ok(())
    }
}

const STOPPED_REASON: &str = "stopped before it finished";

fn timeout_error() -> LlmError {
    LlmError::new(LlmErrorKind::Timeout, "the assistant service stopped responding")
}

/// Exponential backoff from 250 ms with full jitter, or what the upstream asked for (capped at a minute).
fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(Duration::from_secs(60));
    }
    let base = Duration::from_millis(250).saturating_mul(2u32.saturating_pow(attempt)).min(Duration::from_secs(8));
    let jitter = rand::random::<f64>();
    base.mul_f64(0.5 + jitter / 2.0)
}

fn title_from(content: &str) -> String {
    let line = content.trim().lines().next().unwrap_or_default();
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    title
}

async fn ensure_no_reply_streaming(tx: &mut Transaction<'static, Any>, chat_id: i64) -> AppResult<()> {
    let streaming: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM messages WHERE chat_id = $1 AND status = 'streaming' LIMIT 1")
            .bind(chat_id)
            .fetch_optional(&mut **tx)
            .await?;
    if streaming.is_some() {
        return Err(AppError::Conflict(
            "the assistant is still writing a reply; stop it or wait for it to finish".into(),
        ));
    }
    Ok(())
}

async fn save_version(tx: &mut Transaction<'static, Any>, message_id: i64, now: i64) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO message_versions (message_id, content, created_at) SELECT id, content, $1 FROM messages WHERE id = $2",
    )
    .bind(now)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn touch_chat(tx: &mut Transaction<'static, Any>, chat_id: i64) -> AppResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE chats SET updated_at = $1, last_activity_at = $1 WHERE id = $2")
        .bind(now)
        .bind(chat_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_over_backoff_and_is_capped_at_a_minute() {
        assert_eq!(retry_delay(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(retry_delay(0, Some(Duration::from_secs(600))), Duration::from_secs(60));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        for attempt in 0..10 {
            let base = Duration::from_millis(250).saturating_mul(2u32.pow(attempt)).min(Duration::from_secs(8));
            let d = retry_delay(attempt, None);
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn a_title_is_the_first_line_cut_at_sixty_characters() {
        assert_eq!(title_from("  Hello there\nsecond line"), "Hello there");
        let long = "x".repeat(80);
        assert_eq!(title_from(&long).chars().count(), 61);
    }
}
