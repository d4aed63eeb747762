//! Every query of chats and messages. Here: the rows and their conversion, and the reads outside
//! a change; in `change`: what a change to one chat (its [`ChatTx`](super::ChatTx)) reads and
//! writes, each write recording its event (the staff side's too: taking over, triage, handing
//! back).

mod change;

use sqlx::AnyConnection;

use crate::{
    model::{Chat, ChatStatus, Message, MessagePage, MessageStatus, Page, Priority, Role, Usage},
    server::{
        db::{now_ms, rfc3339, Db},
        error::{AppError, AppResult},
    },
};

pub const MESSAGE_COLUMNS: &str = "id, chat_id, role, author_name, content, status, reason, prompt_tokens, \
     completion_tokens, created_at, edited_at, client_id, sources, unanswered";
pub const CHAT_COLUMNS: &str =
    "id, owner_id, title, context, product, page_url, page_title, status, priority, assignee_id, ai_enabled, \
     customer_email, created_at, updated_at, last_activity_at, last_seq, staff_read_up_to, customer_read_up_to, \
     staff_delivered_up_to";
pub const NEW_CHAT_TITLE: &str = "New conversation";

/// The assistant's reply that answers message `$2` of chat `$1`: the first assistant message
/// after it with no staff reply between. Customer messages may come between: a burst is answered
/// once, by the reply after its last message, which replaced the replies begun for the others.
fn answer_after() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id > $2 AND role = 'assistant' \
         AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.chat_id = $1 AND a.role = 'agent' AND a.id > $2 \
         AND a.id < messages.id) ORDER BY id LIMIT 1"
    )
}

#[derive(sqlx::FromRow)]
pub struct MessageRow {
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
    client_id: Option<String>,
    sources: Option<String>,
    unanswered: i64,
}

impl MessageRow {
    pub fn into_message(self) -> AppResult<Message> {
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
            client_id: self.client_id,
            sources: super::grounding::cited_sources(self.sources.as_deref()),
            unanswered: self.unanswered != 0,
        })
    }
}

/// A chat as stored. Fields the rules read are public; the rest become a [`Chat`].
#[derive(sqlx::FromRow)]
pub struct ChatRow {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    pub context: String,
    /// The shop's id of the product the chat is about.
    pub(super) product: Option<String>,
    pub(super) page_url: Option<String>,
    pub(super) page_title: Option<String>,
    pub status: String,
    pub priority: String,
    pub assignee_id: Option<i64>,
    ai_enabled: i64,
    customer_email: Option<String>,
    created_at: i64,
    updated_at: i64,
    pub last_activity_at: i64,
    pub last_seq: i64,
    staff_read_up_to: i64,
    customer_read_up_to: i64,
    staff_delivered_up_to: i64,
}

impl ChatRow {
    /// The page the chat began on.
    pub fn page(&self) -> Option<Page> {
        Some(Page { url: self.page_url.clone()?, title: self.page_title.clone() })
    }

    /// The assistant answers (no person took over).
    pub fn ai_enabled(&self) -> bool {
        self.ai_enabled != 0
    }

    /// Whether the customer left an email.
    pub fn has_email(&self) -> bool {
        self.customer_email.is_some()
    }

    pub fn is_high_priority(&self) -> bool {
        self.priority == Priority::High.as_str()
    }

    pub fn into_chat(self) -> AppResult<Chat> {
        Ok(Chat {
            id: self.id,
            title: self.title,
            context: self.context,
            product_id: self.product,
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

/// A message about to be written.
pub struct NewMessage<'a> {
    pub author_id: Option<i64>,
    pub role: Role,
    pub content: &'a str,
    pub status: MessageStatus,
    pub client_id: Option<&'a str>,
}

impl<'a> NewMessage<'a> {
    /// A line the service writes into the transcript ("Switched to Sales").
    pub fn system(line: &'a str) -> Self {
        NewMessage {
            author_id: None,
            role: Role::System,
            content: line,
            status: MessageStatus::Complete,
            client_id: None,
        }
    }

    /// The assistant's finished text (a greeting).
    pub fn assistant(text: &'a str) -> Self {
        NewMessage { role: Role::Assistant, ..NewMessage::system(text) }
    }

    /// An empty assistant reply that streams next.
    pub fn reply() -> Self {
        NewMessage { status: MessageStatus::Streaming, ..NewMessage::assistant("") }
    }

    pub fn from_customer(user_id: i64, content: &'a str, client_id: Option<&'a str>) -> Self {
        NewMessage { author_id: Some(user_id), role: Role::User, client_id, ..NewMessage::system(content) }
    }

    pub fn from_staff(user_id: i64, content: &'a str) -> Self {
        NewMessage { author_id: Some(user_id), role: Role::Agent, ..NewMessage::system(content) }
    }
}

/// A reply the assistant is writing (see [`ChatTx::reply_state`](crate::server::chat::ChatTx::reply_state)).
#[derive(Debug, Clone, Copy)]
pub struct StreamingReply {
    pub id: i64,
    /// No customer message follows it: it answers the newest messages.
    pub unanswered: bool,
}

/// What a change that may start a reply reads inside its transaction (see [`ChatTx::reply_state`](crate::server::chat::ChatTx::reply_state)).
#[derive(Debug)]
pub struct ReplyState {
    /// The assistant answers (no person took the chat over).
    pub assistant_on: bool,
    /// Replies being written now, oldest first.
    pub streaming: Vec<StreamingReply>,
}

/// A message as a prompt's history reads it: role, content and status.
pub type HistoryRow = (String, String, String);

/// What a reply's prompt is built from: the chat's context, product and page, and its messages
/// before the reply, newest first.
pub struct PromptInputs {
    pub context: String,
    pub product: Option<String>,
    pub page: Option<Page>,
    pub rows: Vec<HistoryRow>,
}

/// How many of a chat's newest messages a prompt's history reads (more than any budget fills;
/// the prompt trims).
pub const HISTORY_LIMIT: usize = 200;

/// What a send reads inside its change, in one statement (see
/// [`ChatTx::send_state`](crate::server::chat::ChatTx::send_state)).
#[derive(Debug)]
pub struct SendState {
    pub reply: ReplyState,
    /// The customer message the client sent before with this send's client id.
    pub sent_before: Option<i64>,
    /// While the assistant answers: the chat's newest messages with their ids, newest first.
    pub history: Vec<(i64, HistoryRow)>,
}

impl SendState {
    /// The history a reply to `message` reads, newest first: `message`, then what was there
    /// without the messages `deleted` in the change. A read after the change would also find a
    /// system line the change added ("Switched to Sales"), which a prompt leaves out anyway.
    pub fn history_after(history: Vec<(i64, HistoryRow)>, message: &NewMessage, deleted: &[i64]) -> Vec<HistoryRow> {
        let newest =
            (message.role.as_str().to_string(), message.content.to_string(), message.status.as_str().to_string());
        std::iter::once(newest)
            .chain(history.into_iter().filter(|(id, _)| !deleted.contains(id)).map(|(_, row)| row))
            .take(HISTORY_LIMIT)
            .collect()
    }
}

/// Which read mark of a chat moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMark {
    /// The customer read staff replies up to a message.
    Customer,
    /// Staff read the customer's messages up to a message.
    Staff,
    /// The customer's messages up to one reached a staff member's screen.
    Delivered,
}

impl ReadMark {
    fn column(self) -> &'static str {
        match self {
            ReadMark::Customer => "customer_read_up_to",
            ReadMark::Staff => "staff_read_up_to",
            ReadMark::Delivered => "staff_delivered_up_to",
        }
    }
}

// ----- reads ---------------------------------------------------------------------------------

pub async fn chat_row(db: &Db, chat_id: i64) -> AppResult<Option<ChatRow>> {
    Ok(sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1"))
        .bind(chat_id)
        .fetch_optional(&db.read)
        .await?)
}

pub async fn owned_chat_row(db: &Db, owner_id: i64, chat_id: i64) -> AppResult<Option<ChatRow>> {
    Ok(sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1 AND owner_id = $2"))
        .bind(chat_id)
        .bind(owner_id)
        .fetch_optional(&db.read)
        .await?)
}

pub async fn chats_of(db: &Db, owner_id: i64) -> AppResult<Vec<Chat>> {
    let rows: Vec<ChatRow> = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats WHERE owner_id = $1 ORDER BY last_activity_at DESC, id DESC LIMIT 100"
    ))
    .bind(owner_id)
    .fetch_all(&db.read)
    .await?;
    rows.into_iter().map(ChatRow::into_chat).collect()
}

/// The owner's most recent chat about `product_id` (or about no product).
pub async fn latest_chat(db: &Db, owner_id: i64, product_id: Option<&str>) -> AppResult<Option<ChatRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats WHERE owner_id = $1 AND \
         (product = $2 OR ($2 IS NULL AND product IS NULL)) \
         ORDER BY last_activity_at DESC, id DESC LIMIT 1"
    ))
    .bind(owner_id)
    .bind(product_id)
    .fetch_optional(&db.read)
    .await?)
}

pub async fn message(db: &Db, chat_id: i64, message_id: i64) -> AppResult<Message> {
    find_message(db, chat_id, message_id).await?.ok_or(AppError::not_found("message"))
}

/// A message of a chat, or `None` when there is none with that id (it was deleted, say).
pub async fn find_message(db: &Db, chat_id: i64, message_id: i64) -> AppResult<Option<Message>> {
    sqlx::query_as::<_, MessageRow>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND chat_id = $2"))
        .bind(message_id)
        .bind(chat_id)
        .fetch_optional(&db.read)
        .await?
        .map(MessageRow::into_message)
        .transpose()
}

/// The assistant's reply that answers a message (see `answer_after`), if there is one.
pub async fn reply_answering(db: &Db, chat_id: i64, message_id: i64) -> AppResult<Option<Message>> {
    sqlx::query_as::<_, MessageRow>(&answer_after())
        .bind(chat_id)
        .bind(message_id)
        .fetch_optional(&db.read)
        .await?
        .map(MessageRow::into_message)
        .transpose()
}

/// A page of a chat's messages, oldest to newest: the newest page, the page before `before`, or
/// the page after `after` (and before `before`, when both are given: the messages between). The
/// caller holds the chat's lock so `last_seq` matches the page.
pub async fn page(
    db: &Db,
    chat_id: i64,
    before: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> AppResult<MessagePage> {
    let (last_seq,): (i64,) =
        sqlx::query_as("SELECT last_seq FROM chats WHERE id = $1").bind(chat_id).fetch_one(&db.read).await?;
    if let Some(after) = after {
        let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id > $2 AND id < $4 ORDER BY id LIMIT $3"
        ))
        .bind(chat_id)
        .bind(after)
        .bind(limit + 1)
        .bind(before.unwrap_or(i64::MAX))
        .fetch_all(&db.read)
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
    .fetch_all(&db.read)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    let messages = rows.into_iter().map(MessageRow::into_message).collect::<AppResult<Vec<_>>>()?;
    let next_cursor = if more { messages.first().map(|m| m.id) } else { None };
    Ok(MessagePage { messages, next_cursor, newer_cursor: None, last_seq })
}

/// The sequence number a joining client starts after: just before the first reply still being
/// written (so it gets that reply from its start), or the chat's newest.
pub async fn join_point(db: &Db, chat: &ChatRow) -> AppResult<i64> {
    let (first_streaming,): (Option<i64>,) =
        sqlx::query_as("SELECT MIN(created_seq) FROM messages WHERE chat_id = $1 AND status = 'streaming'")
            .bind(chat.id)
            .fetch_one(&db.read)
            .await?;
    Ok(first_streaming.map_or(chat.last_seq, |seq| seq - 1))
}

/// Replies left `streaming` (by a crash or a restart): `(id, chat_id)`.
pub async fn streaming_replies(db: &Db) -> AppResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as("SELECT id, chat_id FROM messages WHERE status = 'streaming'").fetch_all(&db.read).await?)
}

/// Replies being written now (by any replica) in the chats of `owner`, but in `except`.
pub async fn streaming_replies_of(db: &Db, owner: i64, except: Option<i64>) -> AppResult<usize> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages JOIN chats ON chats.id = messages.chat_id \
         WHERE messages.status = 'streaming' AND chats.owner_id = $1 AND messages.chat_id <> $2",
    )
    .bind(owner)
    .bind(except.unwrap_or(0))
    .fetch_one(&db.read)
    .await?;
    Ok(count as usize)
}

/// Appends text to replies that are still streaming, in one statement; the ids of those that
/// were (a deleted or ended reply is left alone).
pub async fn append_to_replies(conn: &mut AnyConnection, appends: &[(i64, &str)]) -> AppResult<Vec<i64>> {
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    let values = (0..appends.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(", ");
    // VALUES columns are column1, column2 on SQLite and PostgreSQL alike.
    let sql = format!(
        "UPDATE messages SET content = content || v.column2 FROM (VALUES {values}) AS v \
         WHERE messages.id = v.column1 AND messages.status = 'streaming' RETURNING id"
    );
    let mut query = sqlx::query_as::<_, (i64,)>(&sql);
    for (reply_id, text) in appends {
        query = query.bind(*reply_id).bind(*text);
    }
    Ok(query.fetch_all(conn).await?.into_iter().map(|(id,)| id).collect())
}

/// A chat is an inquiry once the customer wrote, left an email or asked for a person, or staff
/// acted on it (SQL on alias `c`): a visitor who only opened the window has not touched it.
/// Defined here only; the staff side reads it as `is_inquiry`, and retention keeps such chats.
pub const TOUCHED: &str = "(c.status <> 'pending' OR c.ai_enabled = 0 OR c.customer_email IS NOT NULL \
     OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.role = 'user'))";

/// A chat retention may remove (SQL on alias `c`, the cutoff as `$1`): nothing happened in it
/// since the cutoff, and nobody wrote in it, asked for someone or left an email.
pub fn idle_chat() -> String {
    format!("(c.last_activity_at < $1 AND NOT {TOUCHED})")
}

/// Inserts a chat (in `conn`'s transaction) and returns its id.
pub async fn insert_chat(
    conn: &mut AnyConnection,
    owner_id: i64,
    title: &str,
    context: &str,
    product_id: Option<&str>,
    page: Option<&Page>,
) -> AppResult<i64> {
    let (chat_id,): (i64,) = sqlx::query_as(
        "INSERT INTO chats (owner_id, title, context, product, page_url, page_title, status, priority, ai_enabled, \
         created_at, updated_at, last_activity_at, last_seq) \
         VALUES ($1, $2, $3, $4, $6, $7, 'pending', 'medium', 1, $5, $5, $5, 0) RETURNING id",
    )
    .bind(owner_id)
    .bind(title)
    .bind(context)
    .bind(product_id)
    .bind(now_ms())
    .bind(page.map(|p| p.url.as_str()))
    .bind(page.and_then(|p| p.title.as_deref()))
    .fetch_one(conn)
    .await?;
    Ok(chat_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(role: &str, content: &str) -> HistoryRow {
        (role.to_string(), content.to_string(), "complete".to_string())
    }

    #[test]
    fn a_reply_reads_the_new_message_first_and_not_the_replies_its_send_removed() {
        let read =
            vec![(3, line("assistant", "Hello! How")), (2, line("user", "hi")), (1, line("assistant", "Welcome"))];
        let message = NewMessage::from_customer(7, "my order didn't arrive", Some("c-1"));
        assert_eq!(
            SendState::history_after(read, &message, &[3]),
            vec![line("user", "my order didn't arrive"), line("user", "hi"), line("assistant", "Welcome")]
        );
        let full: Vec<(i64, HistoryRow)> = (0..HISTORY_LIMIT as i64).map(|id| (id, line("user", "older"))).collect();
        let history = SendState::history_after(full, &message, &[]);
        assert_eq!(history.len(), HISTORY_LIMIT, "no longer than a read of the newest messages");
        assert_eq!(history[0].1, "my order didn't arrive");
    }
}
