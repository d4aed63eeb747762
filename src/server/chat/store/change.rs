//! The queries of a change to one chat, on its [`ChatTx`]: its reads inside the transaction, and
//! its writes, each recording its event.

use sqlx::{FromRow, Row};

use super::super::{grounding::Grounded, ChatTx};
use super::{
    answer_after, idle_chat, ChatRow, MessageRow, NewMessage, PromptInputs, ReadMark, ReplyState, SendState,
    StreamingReply, CHAT_COLUMNS, HISTORY_LIMIT, MESSAGE_COLUMNS,
};
use crate::{
    model::{
        Chat, ChatDeleted, ChatEvent, ChatStatus, Deleted, Event, Message, MessageStatus, Page, Priority, Role, Usage,
    },
    server::{
        audit::{Action, Actor, Trail},
        db::{now_ms, rfc3339, Backend},
        error::{AppError, AppResult},
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

    /// Inserts messages in this order, each with its `message.created` event: on SQLite in
    /// two statements whatever their number (the counter, the rows; the events go in at
    /// commit), on PostgreSQL in one, a data-modifying `WITH` that moves the counter, inserts
    /// the rows and stores their events.
    pub async fn insert_messages(&mut self, news: &[NewMessage<'_>]) -> AppResult<Vec<Message>> {
        if news.is_empty() {
            return Ok(Vec::new());
        }
        let (n, count, now, chat_id) = (news.len(), news.len() as i64, now_ms(), self.chat_id());
        // SQLite: the numbers first; PostgreSQL: each row's number from the counter the same
        // statement moves (`$p5` is then the row's distance from the last).
        let in_one = self.backend() == Backend::Postgres;
        let (first_seq, seq_of) = if in_one {
            // New messages are activity: the times move here (and not again at commit).
            self.activity_moved();
            (None, "(SELECT last_seq FROM counter) - ")
        } else {
            self.touch();
            (Some(self.next_seqs(count).await?), "")
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
        let insert = format!(
            "INSERT INTO messages (chat_id, author_id, author_name, role, content, status, created_seq, created_at, client_id, writer) \
             VALUES {rows} RETURNING {MESSAGE_COLUMNS}, created_seq"
        );
        // PostgreSQL: each event's data is the message as this process writes it (`$e`), with
        // the id and a staff author's name the insert gave it filled in.
        let (sql, data) = if in_one {
            let values =
                (0..n).map(|i| format!("(${}::TEXT, {}::BIGINT)", 6 * n + 5 + i, n - 1 - i)).collect::<Vec<_>>();
            let sql = format!(
                "WITH counter AS (UPDATE chats SET last_seq = last_seq + ${c}, updated_at = $2, last_activity_at = $2 \
                 WHERE id = $1 RETURNING last_seq), \
                 inserted AS ({insert}), \
                 stored AS (INSERT INTO chat_events (chat_id, seq, kind, data, created_at) \
                   SELECT $1, inserted.created_seq, '{kind}', (jsonb_set(v.data::jsonb, '{{id}}', to_jsonb(inserted.id)) || \
                   CASE WHEN inserted.author_name IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('author', inserted.author_name) END)::TEXT, $2 \
                   FROM inserted JOIN (VALUES {values}) AS v (data, distance) \
                   ON inserted.created_seq = (SELECT last_seq FROM counter) - v.distance) \
                 SELECT * FROM inserted",
                c = 6 * n + 4,
                kind = crate::model::EventKind::MessageCreated.as_str(),
                values = values.join(", "),
            );
            let data: Vec<String> = news
                .iter()
                .map(|new| {
                    let message = Message {
                        id: 0,
                        chat_id,
                        role: new.role,
                        author: None,
                        content: new.content.to_string(),
                        status: new.status,
                        reason: None,
                        created_at: rfc3339(now),
                        edited_at: None,
                        usage: None,
                        client_id: new.client_id.map(str::to_owned),
                        sources: Vec::new(),
                        unanswered: false,
                    };
                    Event::MessageCreated(message).data_json()
                })
                .collect();
            (sql, data)
        } else {
            (insert, Vec::new())
        };
        let mut query = sqlx::query(&sql).bind(chat_id).bind(now).bind(writer);
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
            for data in &data {
                query = query.bind(data.as_str());
            }
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
        if in_one {
            self.stored(events);
        } else {
            self.store_all(events);
        }
        Ok(messages)
    }

    /// A customer message sent before (see [`SendState::sent_before`]) and the reply that
    /// answers it (see `answer_after`): in a burst, the one that replaced the reply its send began.
    pub async fn sent_before(&mut self, message_id: i64) -> AppResult<(Message, Option<Message>)> {
        let chat_id = self.chat_id();
        let message = self.message(message_id).await?;
        let reply: Option<MessageRow> =
            sqlx::query_as(&answer_after()).bind(chat_id).bind(message.id).fetch_optional(self.conn()).await?;
        Ok((message, reply.map(MessageRow::into_message).transpose()?))
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
        self.retitled(None).await
    }

    /// [`ChatTx::chat_updated`], renaming the chat in the same statement when `title` is given.
    pub async fn retitled(&mut self, title: Option<&str>) -> AppResult<Chat> {
        let row: ChatRow = self.next_seq_returning(CHAT_COLUMNS, title).await?;
        let seq = row.last_seq;
        let chat = row.into_chat()?;
        self.store(seq, Event::ChatUpdated(chat.clone()));
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
        Ok(self.read_state(None, false).await?.reply)
    }

    /// What a send reads before it writes, in one statement: the reply state (as
    /// [`ChatTx::reply_state`]), the message sent before with `client_id`, and while the
    /// assistant answers, the prompt's history as it stands.
    pub async fn send_state(&mut self, client_id: Option<&str>) -> AppResult<SendState> {
        self.read_state(client_id, true).await
    }

    async fn read_state(&mut self, client_id: Option<&str>, history: bool) -> AppResult<SendState> {
        let chat_id = self.chat_id();
        // One result in three parts, told apart by `part` (the columns a part does not use are
        // empty): 0, one row per reply being written (or one row with no reply) with whether no
        // customer message follows it; 1, the message sent before with the client id; 2, the
        // newest messages, while the assistant answers.
        let history = if history {
            format!(
                " UNION ALL SELECT 2, 0, id, 0, role, content, status FROM (SELECT id, role, content, status \
                 FROM messages WHERE chat_id = $1 AND EXISTS (SELECT 1 FROM chats WHERE id = $1 AND ai_enabled = 1) \
                 ORDER BY id DESC LIMIT {HISTORY_LIMIT}) AS newest"
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT 0 AS part, chats.ai_enabled AS flag, messages.id AS id, CASE WHEN EXISTS (SELECT 1 FROM messages later \
             WHERE later.chat_id = $1 AND later.role = 'user' AND later.id > messages.id) THEN 0 ELSE 1 END AS unanswered, \
             NULL AS role, NULL AS content, NULL AS status \
             FROM chats LEFT JOIN messages ON messages.chat_id = chats.id AND messages.status = 'streaming' \
             WHERE chats.id = $1 \
             UNION ALL SELECT 1, 0, id, 0, NULL, NULL, NULL FROM messages WHERE chat_id = $1 AND client_id = $2\
             {history} ORDER BY part, id"
        );
        type Row = (i64, i64, Option<i64>, i64, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(&sql).bind(chat_id).bind(client_id).fetch_all(self.conn()).await?;
        let mut state = SendState {
            reply: ReplyState { assistant_on: false, streaming: Vec::new() },
            sent_before: None,
            history: Vec::new(),
        };
        let mut found = false;
        for (part, flag, id, unanswered, role, content, status) in rows {
            match (part, id) {
                (0, id) => {
                    found = true;
                    state.reply.assistant_on = flag != 0;
                    if let Some(id) = id {
                        state.reply.streaming.push(StreamingReply { id, unanswered: unanswered == 1 });
                    }
                }
                (1, id) => state.sent_before = id,
                (_, Some(id)) => state
                    .history
                    .push((id, (role.unwrap_or_default(), content.unwrap_or_default(), status.unwrap_or_default()))),
                (_, None) => {}
            }
        }
        if !found {
            return Err(AppError::not_found("chat"));
        }
        // Read oldest first; a prompt reads newest first.
        state.history.reverse();
        Ok(state)
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
        grounded: Option<&Grounded>,
    ) -> AppResult<bool> {
        let unanswered = grounded.is_some_and(|g| g.unanswered);
        let updated = sqlx::query(
            "UPDATE messages SET content = content || $1, status = $2, reason = $3, prompt_tokens = $4, \
             completion_tokens = $5, sources = $7, unanswered = $8 WHERE id = $6 AND status = 'streaming'",
        )
        .bind(rest)
        .bind(status.as_str())
        .bind(reason)
        .bind(usage.map(|u| u.prompt_tokens))
        .bind(usage.map(|u| u.completion_tokens))
        .bind(reply_id)
        .bind(grounded.and_then(|g| g.sources.as_deref()))
        .bind(i64::from(unanswered))
        .execute(self.conn())
        .await?
        .rows_affected();
        if updated > 0 && unanswered {
            // Marked for staff until a person answers or the conversation is resolved.
            let chat_id = self.chat_id();
            sqlx::query("UPDATE chats SET unanswered = 1 WHERE id = $1").bind(chat_id).execute(self.conn()).await?;
        }
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
            "UPDATE chats SET status = 'pending', priority = 'high', ai_enabled = 0, snoozed_until = NULL, updated_at = $1 \
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

    /// Records `name` in the audit log on this transaction's chat, committed (or not) with the
    /// change.
    pub async fn audit(
        &mut self,
        trail: &dyn Trail,
        actor: Actor,
        name: &'static str,
        detail: String,
    ) -> AppResult<()> {
        let action = Action { name, chat_id: Some(self.chat_id()), detail };
        trail.record(self.conn(), actor, action).await
    }

    /// Adds a reply's tokens to its chat (in the transaction that ends the reply, first: a change
    /// to a chat takes the chat's row before its messages').
    pub async fn add_tokens(&mut self, tokens: i64) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET tokens_used = tokens_used + $1 WHERE id = $2")
            .bind(tokens)
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// What a reply's prompt is built from, as it stands in the change: the chat's context,
    /// product and page, and the messages before the reply, newest first (enough to fill any
    /// budget; the prompt trims).
    pub async fn prompt_inputs(&mut self, reply_id: i64) -> AppResult<PromptInputs> {
        let chat_id = self.chat_id();
        let (context, product, page_url, page_title): (String, Option<String>, Option<String>, Option<String>) =
            sqlx::query_as("SELECT context, product, page_url, page_title FROM chats WHERE id = $1")
                .bind(chat_id)
                .fetch_one(self.conn())
                .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT role, content, status FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT {HISTORY_LIMIT}"
        ))
        .bind(chat_id)
        .bind(reply_id)
        .fetch_all(self.conn())
        .await?;
        let page = page_url.map(|url| Page { url, title: page_title });
        Ok(PromptInputs { context, product, page, rows })
    }

    /// A staff member replies: the assistant stops, the chat is in progress and assigned (when it
    /// was not), and what staff sent, staff have read.
    pub async fn staff_replied(&mut self, staff_id: i64, message_id: i64) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query(
            "UPDATE chats SET ai_enabled = 0, status = CASE WHEN status = 'pending' THEN 'in_progress' ELSE status END, \
             assignee_id = COALESCE(assignee_id, $1), staff_read_up_to = $2, unanswered = 0 WHERE id = $3",
        )
        .bind(staff_id)
        .bind(message_id)
        .bind(chat_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A snoozed chat wakes at `until` (unix ms), or at the customer's next message (none).
    pub async fn set_snooze(&mut self, until: Option<i64>) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET snoozed_until = $1 WHERE id = $2")
            .bind(until)
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// A resolved or snoozed chat is open again (pending): the customer wrote. Whether it was.
    pub async fn reopen(&mut self) -> AppResult<bool> {
        let chat_id = self.chat_id();
        let reopened = sqlx::query(
            "UPDATE chats SET status = 'pending', snoozed_until = NULL WHERE id = $1 AND status IN ('resolved', 'snoozed')",
        )
        .bind(chat_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(reopened > 0)
    }

    /// Wakes a snoozed chat whose time came (at `now`): pending again. Whether it was still asleep.
    pub async fn wake(&mut self, now: i64) -> AppResult<bool> {
        let chat_id = self.chat_id();
        let woke = sqlx::query(
            "UPDATE chats SET status = 'pending', snoozed_until = NULL, updated_at = $2 \
             WHERE id = $1 AND status = 'snoozed' AND snoozed_until <= $2",
        )
        .bind(chat_id)
        .bind(now)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(woke > 0)
    }

    /// Status, priority and assignee (`None` leaves each as it is; `Some(None)` unassigns). A
    /// chat becoming resolved records when (`resolved_at`: ratings and reports go by it).
    pub async fn set_triage(
        &mut self,
        status: Option<ChatStatus>,
        priority: Option<Priority>,
        assignee: Option<Option<i64>>,
    ) -> AppResult<()> {
        let chat_id = self.chat_id();
        let (set_assignee, assignee) = match assignee {
            Some(assignee) => (1i64, assignee),
            None => (0, None),
        };
        sqlx::query(
            "UPDATE chats SET status = COALESCE($1, status), priority = COALESCE($2, priority), \
             assignee_id = CASE WHEN $3 = 1 THEN $4 ELSE assignee_id END, updated_at = $5, \
             snoozed_until = CASE WHEN $1 IS NOT NULL AND $1 <> 'snoozed' THEN NULL ELSE snoozed_until END, \
             resolved_at = CASE WHEN $1 = 'resolved' AND (status <> 'resolved' OR resolved_at IS NULL) THEN $5 \
             ELSE resolved_at END, \
             unanswered = CASE WHEN $1 IN ('resolved', 'closed') THEN 0 ELSE unanswered END WHERE id = $6",
        )
        .bind(status.map(|s| s.as_str()))
        .bind(priority.map(|p| p.as_str()))
        .bind(set_assignee)
        .bind(assignee)
        .bind(now_ms())
        .bind(chat_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A person takes over (`false`) or hands back to the assistant (`true`).
    pub async fn set_ai_enabled(&mut self, enabled: bool) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET ai_enabled = $1 WHERE id = $2")
            .bind(enabled as i64)
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
