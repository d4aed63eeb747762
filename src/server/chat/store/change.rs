//! The queries of a change to one chat, on its [`ChatTx`]: its reads inside the transaction, and
//! its writes, each recording its event.

use sqlx::{FromRow, Row};

use super::{
    idle_chat, ChatRow, MessageRow, NewMessage, ReadMark, ReplyState, StreamingReply, CHAT_COLUMNS, MESSAGE_COLUMNS,
};
use crate::{
    model::{Chat, ChatDeleted, ChatEvent, Deleted, Event, Message, MessageStatus, Role, Usage},
    server::{
        db::{now_ms, Backend},
        error::{AppError, AppResult},
        events::ChatTx,
    },
};

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
    /// `idle_chat`); whether it went.
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
