//! Every query of chats and messages: rows and their conversion, reads, and the writes a
//! [`ChatTx`] makes (each change records its event in the same place). The writes only staff
//! make (taking over, triage, handing back) are in `staff::store`.

use sqlx::{AnyConnection, FromRow, Row};

use crate::{
    model::{
        Chat, ChatDeleted, ChatEvent, ChatStatus, Deleted, Event, Message, MessagePage, MessageStatus, Priority, Role,
        Usage,
    },
    server::{
        db::{now_ms, rfc3339, Backend, Db},
        error::{AppError, AppResult},
        events::ChatTx,
        staff::TOUCHED,
    },
};

pub const MESSAGE_COLUMNS: &str = "id, chat_id, role, author_name, content, status, reason, prompt_tokens, \
     completion_tokens, created_at, edited_at, client_id";
pub const CHAT_COLUMNS: &str = "id, owner_id, title, context, product_id, status, priority, assignee_id, ai_enabled, \
     customer_email, created_at, updated_at, last_activity_at, last_seq, staff_read_up_to, customer_read_up_to, \
     staff_delivered_up_to";
pub const NEW_CHAT_TITLE: &str = "New conversation";

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
    pub(super) product_id: Option<i64>,
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
    /// The assistant answers (no person took over).
    pub fn ai_enabled(&self) -> bool {
        self.ai_enabled != 0
    }

    pub fn is_high_priority(&self) -> bool {
        self.priority == Priority::High.as_str()
    }

    pub fn into_chat(self) -> AppResult<Chat> {
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

/// A reply the assistant is writing (see [`ChatTx::reply_state`]).
#[derive(Debug, Clone, Copy)]
pub struct StreamingReply {
    pub id: i64,
    /// No customer message follows it: it answers the newest messages.
    pub unanswered: bool,
}

/// What a change that may start a reply reads inside its transaction (see [`ChatTx::reply_state`]).
#[derive(Debug)]
pub struct ReplyState {
    /// The assistant answers (no person took the chat over).
    pub assistant_on: bool,
    /// Replies being written now, oldest first.
    pub streaming: Vec<StreamingReply>,
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
pub async fn latest_chat(db: &Db, owner_id: i64, product_id: Option<i64>) -> AppResult<Option<ChatRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} FROM chats WHERE owner_id = $1 AND \
         (product_id = $2 OR ($2 IS NULL AND product_id IS NULL)) \
         ORDER BY last_activity_at DESC, id DESC LIMIT 1"
    ))
    .bind(owner_id)
    .bind(product_id)
    .fetch_optional(&db.read)
    .await?)
}

pub async fn message(db: &Db, chat_id: i64, message_id: i64) -> AppResult<Message> {
    sqlx::query_as::<_, MessageRow>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND chat_id = $2"))
        .bind(message_id)
        .bind(chat_id)
        .fetch_optional(&db.read)
        .await?
        .ok_or(AppError::not_found("message"))?
        .into_message()
}

/// A page of a chat's messages, oldest to newest: the newest page, the page before `before`, or
/// the page after `after`. The caller holds the chat's lock so `last_seq` matches the page.
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
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(chat_id)
        .bind(after)
        .bind(limit + 1)
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

/// What a reply's prompt is built from: the chat's context and product, and the messages
/// before the reply, newest first (enough to fill any budget; the prompt trims).
pub async fn prompt_inputs(
    db: &Db,
    chat_id: i64,
    reply_id: i64,
) -> AppResult<(String, Option<i64>, Vec<(String, String, String)>)> {
    // Side by side: one round trip.
    let ((context, product_id), rows) = tokio::try_join!(
        sqlx::query_as::<_, (String, Option<i64>)>("SELECT context, product_id FROM chats WHERE id = $1")
            .bind(chat_id)
            .fetch_one(&db.read),
        sqlx::query_as(PROMPT_HISTORY).bind(chat_id).bind(reply_id).fetch_all(&db.read),
    )?;
    Ok((context, product_id, rows))
}

/// A chat's history before a reply, newest first (at most 200): role, content and status, read
/// on `conn` (inside the change that creates the reply).
pub async fn prompt_history(
    conn: &mut AnyConnection,
    chat_id: i64,
    reply_id: i64,
) -> AppResult<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(PROMPT_HISTORY).bind(chat_id).bind(reply_id).fetch_all(conn).await?)
}

const PROMPT_HISTORY: &str =
    "SELECT role, content, status FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT 200";

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

/// A chat retention may remove (SQL on alias `c`, the cutoff as `$1`): nothing happened in it
/// since the cutoff, and nobody wrote in it, asked for someone or left an email.
pub(crate) fn idle_chat() -> String {
    format!("(c.last_activity_at < $1 AND NOT {TOUCHED})")
}

/// Inserts a chat (in `conn`'s transaction) and returns its id.
pub async fn insert_chat(
    conn: &mut AnyConnection,
    owner_id: i64,
    title: &str,
    context: &str,
    product_id: Option<i64>,
) -> AppResult<i64> {
    let (chat_id,): (i64,) = sqlx::query_as(
        "INSERT INTO chats (owner_id, title, context, product_id, status, priority, ai_enabled, created_at, updated_at, last_activity_at, last_seq) \
         VALUES ($1, $2, $3, $4, 'pending', 'medium', 1, $5, $5, $5, 0) RETURNING id",
    )
    .bind(owner_id)
    .bind(title)
    .bind(context)
    .bind(product_id)
    .bind(now_ms())
    .fetch_one(conn)
    .await?;
    Ok(chat_id)
}

// ----- the writes of a change -----------------------------------------------------------------

impl ChatTx<'_> {
    /// Deletes the chat with everything in it (its messages, versions and events go with it);
    /// its followers and the staff panels hear `chat.deleted`.
    pub async fn delete_chat(&mut self) -> AppResult<()> {
        let (last_seq,): (i64,) = sqlx::query_as("DELETE FROM chats WHERE id = $1 RETURNING last_seq")
            .bind(self.chat_id())
            .fetch_one(self.conn())
            .await?;
        self.announce_deleted(last_seq);
        Ok(())
    }

    /// Deletes the chat (announcing `chat.deleted`) if retention may still remove it (see
    /// [`idle_chat`]); whether it went.
    pub async fn delete_chat_if_idle(&mut self, cutoff: i64) -> AppResult<bool> {
        let deleted: Option<(i64,)> = sqlx::query_as(&format!(
            "DELETE FROM chats WHERE id IN (SELECT c.id FROM chats c WHERE c.id = $2 AND {}) RETURNING last_seq",
            idle_chat()
        ))
        .bind(cutoff)
        .bind(self.chat_id())
        .fetch_optional(self.conn())
        .await?;
        let Some((last_seq,)) = deleted else { return Ok(false) };
        self.announce_deleted(last_seq);
        Ok(true)
    }

    /// Tells the chat's followers it was deleted, under the number after its last event.
    fn announce_deleted(&mut self, last_seq: i64) {
        let chat_id = self.chat_id();
        self.announce(ChatEvent { seq: last_seq + 1, event: Event::ChatDeleted(ChatDeleted { chat_id }) });
    }

    /// The chat as it stands inside this transaction.
    pub async fn chat_row(&mut self) -> AppResult<ChatRow> {
        let chat_id = self.chat_id();
        Ok(sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1"))
            .bind(chat_id)
            .fetch_one(self.conn())
            .await?)
    }

    /// Adds a message and records `message.created`; the chat's activity time moves.
    pub async fn insert_message(&mut self, new: NewMessage<'_>) -> AppResult<Message> {
        let mut inserted = self.insert_messages(&[new]).await?;
        inserted.pop().ok_or_else(|| AppError::Internal("the message was not inserted".into()))
    }

    /// Inserts messages in this order, each with its `message.created` event, in three
    /// statements whatever their number (the counter, the rows, the events); two on PostgreSQL,
    /// where the rows' insert moves the counter itself (a data-modifying `WITH`).
    pub async fn insert_messages(&mut self, news: &[NewMessage<'_>]) -> AppResult<Vec<Message>> {
        if news.is_empty() {
            return Ok(Vec::new());
        }
        let count = news.len() as i64;
        // SQLite: the numbers first; PostgreSQL: each row's number from the counter the same
        // statement moves (`$p5` is then the row's distance from the last).
        let in_one = self.backend() == Backend::Postgres;
        let (first_seq, seq_of, counter) = if in_one {
            // New messages are activity: the times move here (and not again at commit).
            self.activity_moved();
            let counter = format!(
                "WITH counter AS (UPDATE chats SET last_seq = last_seq + ${}, updated_at = $2, last_activity_at = $2 \
                 WHERE id = $1 RETURNING last_seq) ",
                6 * news.len() + 4
            );
            (None, "(SELECT last_seq FROM counter) - ", counter)
        } else {
            self.touch();
            (Some(self.next_seqs(count).await?), "", String::new())
        };
        // A streaming reply names the replica that writes it.
        let writer = self.replica().map(str::to_owned);
        // Every row shares its chat ($1), time ($2) and writer ($3, for streaming rows only).
        let rows = (0..news.len())
            .map(|i| {
                let p = |k: usize| 6 * i + 3 + k;
                format!(
                    "($1, ${a}, (SELECT display_name FROM users WHERE id = ${a} AND kind = 'staff'), ${}, ${}, ${s}, {seq_of}${}, $2, ${}, \
                     CASE WHEN ${s} = 'streaming' THEN $3 END)",
                    p(2),
                    p(3),
                    p(5),
                    p(6),
                    a = p(1),
                    s = p(4),
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "{counter}INSERT INTO messages (chat_id, author_id, author_name, role, content, status, created_seq, created_at, client_id, writer) \
             VALUES {rows} RETURNING {MESSAGE_COLUMNS}, created_seq"
        );
        let mut query = sqlx::query(&sql).bind(self.chat_id()).bind(now_ms()).bind(writer);
        for (i, new) in news.iter().enumerate() {
            let seq = match first_seq {
                Some(first) => first + i as i64,
                None => count - 1 - i as i64,
            };
            query = query
                .bind(new.author_id)
                .bind(new.role.as_str())
                .bind(new.content)
                .bind(new.status.as_str())
                .bind(seq)
                .bind(new.client_id);
        }
        if in_one {
            query = query.bind(count);
        }
        let mut rows = query
            .fetch_all(self.conn())
            .await?
            .iter()
            .map(|row| Ok((MessageRow::from_row(row)?, row.try_get::<i64, _>("created_seq")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        // Ids grow in the order the rows were written.
        rows.sort_by_key(|(row, _)| row.id);
        let first_seq = rows.first().map_or(0, |(_, seq)| *seq);
        let messages = rows.into_iter().map(|(row, _)| row.into_message()).collect::<AppResult<Vec<_>>>()?;
        let events = (first_seq..)
            .zip(&messages)
            .map(|(seq, message)| ChatEvent { seq, event: Event::MessageCreated(message.clone()) })
            .collect();
        self.store_all(events).await?;
        Ok(messages)
    }

    /// The customer message a client sent with `client_id` before, and the reply after it.
    pub async fn sent_before(&mut self, client_id: &str) -> AppResult<Option<(Message, Option<Message>)>> {
        let chat_id = self.chat_id();
        let found: Option<MessageRow> =
            sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND client_id = $2"))
                .bind(chat_id)
                .bind(client_id)
                .fetch_optional(self.conn())
                .await?;
        let Some(message) = found.map(MessageRow::into_message).transpose()? else { return Ok(None) };
        let reply: Option<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id > $2 AND role = 'assistant' \
             AND NOT EXISTS (SELECT 1 FROM messages u WHERE u.chat_id = $1 AND u.role = 'user' AND u.id > $2 AND u.id < messages.id) \
             ORDER BY id LIMIT 1"
        ))
        .bind(chat_id)
        .bind(message.id)
        .fetch_optional(self.conn())
        .await?;
        Ok(Some((message, reply.map(MessageRow::into_message).transpose()?)))
    }

    /// The message as it stands inside this transaction.
    pub async fn message(&mut self, message_id: i64) -> AppResult<Message> {
        sqlx::query_as::<_, MessageRow>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
            .bind(message_id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(AppError::not_found("message"))?
            .into_message()
    }

    /// Records an event carrying the message as it now stands.
    pub async fn message_event(&mut self, message_id: i64, event: fn(Message) -> Event) -> AppResult<Message> {
        let message = self.message(message_id).await?;
        self.emit(event(message.clone())).await?;
        Ok(message)
    }

    /// Records `chat.updated` with the chat as it stands, including the event's own sequence number.
    pub async fn chat_updated(&mut self) -> AppResult<Chat> {
        let seq = self.next_seq().await?;
        let chat = self.chat_row().await?.into_chat()?;
        self.store(seq, Event::ChatUpdated(chat.clone())).await?;
        Ok(chat)
    }

    /// Ids and roles of the messages after `message_id`, oldest first (at most 50).
    pub async fn messages_after(&mut self, message_id: i64) -> AppResult<Vec<(i64, Role)>> {
        let chat_id = self.chat_id();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, role FROM messages WHERE chat_id = $1 AND id > $2 ORDER BY id LIMIT 50")
                .bind(chat_id)
                .bind(message_id)
                .fetch_all(self.conn())
                .await?;
        rows.into_iter().map(|(id, role)| Ok((id, role.parse().map_err(AppError::Internal)?))).collect()
    }

    /// Whether the assistant answers in this chat and the replies it is writing now, as they
    /// stand inside the change (a take-over committed a moment ago counts), in one read.
    pub async fn reply_state(&mut self) -> AppResult<ReplyState> {
        let chat_id = self.chat_id();
        // One row per reply being written, or one row with no reply.
        let rows: Vec<(i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT chats.ai_enabled, messages.id, CASE WHEN EXISTS (SELECT 1 FROM messages later \
             WHERE later.chat_id = $1 AND later.role = 'user' AND later.id > messages.id) THEN 0 ELSE 1 END \
             FROM chats LEFT JOIN messages ON messages.chat_id = chats.id AND messages.status = 'streaming' \
             WHERE chats.id = $1 ORDER BY messages.id",
        )
        .bind(chat_id)
        .fetch_all(self.conn())
        .await?;
        let assistant_on = rows.first().ok_or(AppError::not_found("chat"))?.0 != 0;
        let streaming = rows
            .into_iter()
            .filter_map(|(_, id, unanswered)| Some(StreamingReply { id: id?, unanswered: unanswered == 1 }))
            .collect();
        Ok(ReplyState { assistant_on, streaming })
    }

    /// Whether the assistant answers in this chat; refuses the change while it writes a reply.
    pub async fn ensure_no_reply_streaming(&mut self) -> AppResult<bool> {
        let state = self.reply_state().await?;
        if !state.streaming.is_empty() {
            return Err(AppError::Conflict(
                "the assistant is still writing a reply; stop it or wait for it to finish".into(),
            ));
        }
        Ok(state.assistant_on)
    }

    /// Keeps a message's current text as a version before it changes.
    pub async fn save_version(&mut self, message_id: i64) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO message_versions (message_id, content, created_at) SELECT id, content, $1 FROM messages WHERE id = $2",
        )
        .bind(now_ms())
        .bind(message_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A customer's message gets new text (the old one kept as a version); `message.updated`.
    pub async fn edit_message(&mut self, message_id: i64, content: &str) -> AppResult<Message> {
        self.save_version(message_id).await?;
        sqlx::query("UPDATE messages SET content = $1, edited_at = $2 WHERE id = $3")
            .bind(content)
            .bind(now_ms())
            .bind(message_id)
            .execute(self.conn())
            .await?;
        self.message_event(message_id, Event::MessageUpdated).await
    }

    /// Empties a reply and marks it streaming again (its text kept as a version); `message.updated`.
    pub async fn reset_reply(&mut self, reply_id: i64) -> AppResult<Message> {
        self.save_version(reply_id).await?;
        sqlx::query(
            "UPDATE messages SET content = '', status = 'streaming', reason = NULL, prompt_tokens = NULL, \
             completion_tokens = NULL, edited_at = $1, writer = $3 WHERE id = $2",
        )
        .bind(now_ms())
        .bind(reply_id)
        .bind(self.replica().map(str::to_owned))
        .execute(self.conn())
        .await?;
        self.message_event(reply_id, Event::MessageUpdated).await
    }

    /// Ends, as stopped, the chat's replies that another replica is writing (`message.completed`
    /// each), so that its next append finds them ended: a stop that depends on no notification
    /// arriving. (This replica's own replies end by their tasks, with their last words.)
    pub async fn stop_replies_written_elsewhere(&mut self, reason: &str) -> AppResult<()> {
        let Some(me) = self.replica().filter(|_| self.peers() > 0).map(str::to_owned) else { return Ok(()) };
        let ended: Vec<(i64,)> = sqlx::query_as(
            "UPDATE messages SET status = 'stopped', reason = $1 \
             WHERE chat_id = $2 AND status = 'streaming' AND writer IS NOT NULL AND writer <> $3 RETURNING id",
        )
        .bind(reason)
        .bind(self.chat_id())
        .bind(me)
        .fetch_all(self.conn())
        .await?;
        for (id,) in ended {
            self.message_event(id, Event::MessageCompleted).await?;
        }
        Ok(())
    }

    /// Ends a streaming reply with `rest` appended; false when it was not streaming.
    pub async fn end_reply(
        &mut self,
        reply_id: i64,
        rest: &str,
        status: MessageStatus,
        reason: Option<&str>,
        usage: Option<Usage>,
    ) -> AppResult<bool> {
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
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Deletes a message of this chat and records `message.deleted`.
    pub async fn delete_message(&mut self, message_id: i64) -> AppResult<()> {
        let chat_id = self.chat_id();
        let deleted = sqlx::query("DELETE FROM messages WHERE id = $1 AND chat_id = $2")
            .bind(message_id)
            .bind(chat_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(AppError::not_found("message"));
        }
        self.touch();
        self.emit(Event::MessageDeleted(Deleted { message_id })).await?;
        Ok(())
    }

    pub async fn set_title(&mut self, title: &str) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET title = $1, updated_at = $2 WHERE id = $3")
            .bind(title)
            .bind(now_ms())
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_context(&mut self, context_id: &str) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET context = $1, updated_at = $2 WHERE id = $3")
            .bind(context_id)
            .bind(now_ms())
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Saves (Some) or removes (None) the customer's email.
    pub async fn set_email(&mut self, email: Option<&str>) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET customer_email = $1, updated_at = $2 WHERE id = $3")
            .bind(email)
            .bind(now_ms())
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The customer asks for a person: pending, high priority, the assistant paused. False when
    /// a person already handles the chat.
    pub async fn hand_to_staff(&mut self) -> AppResult<bool> {
        let chat_id = self.chat_id();
        let changed = sqlx::query(
            "UPDATE chats SET status = 'pending', priority = 'high', ai_enabled = 0, updated_at = $1 \
             WHERE id = $2 AND ai_enabled = 1",
        )
        .bind(now_ms())
        .bind(chat_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Moves a read mark forward to the newest message at or before `up_to` (never back);
    /// true when it moved.
    pub async fn move_read_mark(&mut self, mark: ReadMark, up_to: i64) -> AppResult<bool> {
        let chat_id = self.chat_id();
        let column = mark.column();
        let moved = sqlx::query(&format!(
            "UPDATE chats SET {column} = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = $1 AND id <= $2) \
             WHERE id = $1 AND {column} < $2"
        ))
        .bind(chat_id)
        .bind(up_to)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(moved > 0)
    }
}
