//! The unit of work of a chat: its write lock, a database transaction and the events the change
//! records, published only after the commit. Every change to a chat goes through [`ChatTx`], so
//! the rule lives here once: *a change and its events in one transaction, under the chat's lock
//! (always taken before the transaction begins), broadcast after commit in sequence order.* The
//! queries of a change are in `store::change`; [`BatchTx`] is the same rule for many chats at once
//! (the streaming engine's text).

use sqlx::{Any, AnyConnection, Transaction};

use crate::{
    model::{ChatEvent, Event},
    server::{
        db::{now_ms, Db},
        error::{AppError, AppResult},
        events::{ChatLock, Hub},
    },
};

/// One change to one chat (see the module documentation).
pub struct ChatTx<'h> {
    hub: &'h Hub,
    db: &'h Db,
    lock: ChatLock,
    tx: Transaction<'static, Any>,
    /// The change's events, in order, published after commit; each with whether the commit
    /// stores it (in one statement for all): not an announced event, nor one that a statement of
    /// the change stored itself.
    pending: Vec<(ChatEvent, bool)>,
    /// The chat has new activity: written with the next sequence number, or at commit.
    activity: bool,
}

impl<'h> ChatTx<'h> {
    /// Takes the chat's lock, then begins the transaction. While other replicas share the
    /// database, the chat's row is locked first too: their changes to the chat wait, as this
    /// process's do on the chat's lock (reads in the change see one moment of the chat).
    pub async fn begin(hub: &'h Hub, db: &'h Db, chat_id: i64) -> AppResult<ChatTx<'h>> {
        let lock = hub.lock(chat_id).await;
        let mut tx = db.write.begin().await?;
        if hub.peers() > 0 {
            sqlx::query("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE").bind(chat_id).execute(&mut *tx).await?;
        }
        Ok(ChatTx { hub, db, lock, tx, pending: Vec::new(), activity: false })
    }

    /// Continues a transaction that created the chat `chat_id`: nobody else can know a chat that
    /// is not committed yet, so taking its lock after the transaction began waits on no one.
    pub async fn for_new_chat(hub: &'h Hub, db: &'h Db, tx: Transaction<'static, Any>, chat_id: i64) -> ChatTx<'h> {
        let lock = hub.lock(chat_id).await;
        ChatTx { hub, db, lock, tx, pending: Vec::new(), activity: false }
    }

    pub fn chat_id(&self) -> i64 {
        self.lock.chat_id()
    }

    /// This replica's name, when several may share the database.
    pub fn replica(&self) -> Option<&'h str> {
        self.hub.replica()
    }

    /// Other replicas alive on the database (see [`Hub::peers`]).
    pub fn peers(&self) -> usize {
        self.hub.peers()
    }

    /// The transaction's connection, for the queries of the change.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Marks new activity in the chat (its `updated_at` and `last_activity_at` move). Costs no
    /// statement of its own when an event follows in this change.
    pub fn touch(&mut self) {
        self.activity = true;
    }

    /// The database's kind (for the few statements written once per backend).
    pub fn backend(&self) -> crate::server::db::Backend {
        self.db.backend
    }

    /// A statement of the change moved the chat's activity times itself: the commit does not
    /// move them again.
    pub fn activity_moved(&mut self) {
        self.activity = false;
    }

    /// Assigns the chat's next sequence number (with the activity time, when marked).
    pub async fn next_seq(&mut self) -> AppResult<i64> {
        self.next_seqs(1).await
    }

    /// Assigns the chat's next `count` sequence numbers in one statement; the first of them.
    pub async fn next_seqs(&mut self, count: i64) -> AppResult<i64> {
        let (last,): (i64,) = self.count_returning(count, "last_seq", None).await?;
        Ok(last - count + 1)
    }

    /// Assigns the chat's next sequence number in a statement that also returns the chat's
    /// `columns` as they then stand, for an event that carries the chat with its own sequence
    /// number: one round trip where a counter's update and a read took two.
    /// With `title`, the chat is renamed in the same statement (the title a first message gives).
    pub async fn next_seq_returning<R>(&mut self, columns: &str, title: Option<&str>) -> AppResult<R>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        self.count_returning(1, columns, title).await
    }

    /// Moves the chat's counter on by `count` (and its activity time, when marked; its title,
    /// when given); the chat's `columns` as they then stand.
    async fn count_returning<R>(&mut self, count: i64, columns: &str, title: Option<&str>) -> AppResult<R>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let activity = std::mem::take(&mut self.activity);
        let times = if activity { ", updated_at = $3, last_activity_at = $3" } else { "" };
        let retitle = if title.is_some() { ", title = $4, updated_at = $3" } else { "" };
        let sql =
            format!("UPDATE chats SET last_seq = last_seq + $2{times}{retitle} WHERE id = $1 RETURNING {columns}");
        let mut query = sqlx::query_as::<_, R>(&sql).bind(self.chat_id()).bind(count);
        if activity || title.is_some() {
            query = query.bind(now_ms());
        }
        if let Some(title) = title {
            query = query.bind(title);
        }
        Ok(query.fetch_one(&mut *self.tx).await?)
    }

    /// Stores an event under a sequence number from [`ChatTx::next_seq`] (for an event whose
    /// data must show its own sequence number, such as `chat.updated`).
    pub fn store(&mut self, seq: i64, event: Event) {
        self.store_all(vec![ChatEvent { seq, event }]);
    }

    /// Stores events under sequence numbers from [`ChatTx::next_seqs`]. They are written at
    /// commit, with every other event of the change, in one statement: nothing reads a chat's
    /// event log inside a change, and a change that is not committed stores none of them.
    pub fn store_all(&mut self, events: Vec<ChatEvent>) {
        self.pending.extend(events.into_iter().map(|event| (event, true)));
    }

    /// Publishes after commit events that a statement of the change stored itself.
    pub fn stored(&mut self, events: Vec<ChatEvent>) {
        self.pending.extend(events.into_iter().map(|event| (event, false)));
    }

    /// Publishes an event after commit without storing it, under a sequence number the caller
    /// took (`chat.deleted`: the chat's event log is deleted with it).
    pub fn announce(&mut self, event: ChatEvent) {
        self.pending.push((event, false));
    }

    /// Stores an event under the chat's next sequence number.
    pub async fn emit(&mut self, event: Event) -> AppResult<i64> {
        let seq = self.next_seq().await?;
        self.store(seq, event);
        Ok(seq)
    }

    /// Stores the change's events, commits, then broadcasts them in order; the lock is released
    /// last.
    pub async fn commit(mut self) -> AppResult<()> {
        if std::mem::take(&mut self.activity) {
            sqlx::query("UPDATE chats SET updated_at = $1, last_activity_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(self.chat_id())
                .execute(&mut *self.tx)
                .await?;
        }
        let chat_id = self.chat_id();
        let rows: Vec<(i64, i64, &Event)> =
            self.pending.iter().filter(|(_, store)| *store).map(|(e, _)| (chat_id, e.seq, &e.event)).collect();
        store_events(&mut self.tx, &rows).await?;
        let ChatTx { hub, db, lock, tx, pending, .. } = self;
        tx.commit().await?;
        db.count_write();
        hub.publish(&lock, pending.into_iter().map(|(event, _)| event).collect());
        Ok(())
    }
}

/// Stores events, `(chat_id, seq, event)`, as one multi-row insert.
async fn store_events(conn: &mut AnyConnection, events: &[(i64, i64, &Event)]) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Every row shares its time ($1).
    let rows = (0..events.len())
        .map(|i| format!("(${}, ${}, ${}, ${}, $1)", 4 * i + 2, 4 * i + 3, 4 * i + 4, 4 * i + 5))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO chat_events (chat_id, seq, kind, data, created_at) VALUES {rows}");
    let mut query = sqlx::query(&insert).bind(now_ms());
    for (chat_id, seq, event) in events {
        query = query.bind(*chat_id).bind(*seq).bind(event.kind().as_str()).bind(event.data_json());
    }
    query.execute(conn).await?;
    Ok(())
}

/// Small changes to several chats in one transaction (group commit: the streaming engine writes
/// the token deltas of every running reply this way). The same rule as [`ChatTx`]: every chat's
/// lock is held before the transaction begins (the caller takes them with [`Hub::lock_free`] or
/// [`Hub::lock_all`]), and events are published per chat, in order, after commit. It runs on
/// [`Db::deltas`].
pub struct BatchTx<'h> {
    hub: &'h Hub,
    db: &'h Db,
    /// Sorted by chat id, one per chat.
    locks: Vec<ChatLock>,
    tx: Transaction<'static, Any>,
    pending: Vec<Vec<ChatEvent>>,
}

impl<'h> BatchTx<'h> {
    /// Begins a change to the chats whose locks are given (in id order, each once, as
    /// [`Hub::lock_free`] and [`Hub::lock_all`] return them).
    pub async fn begin(hub: &'h Hub, db: &'h Db, locks: Vec<ChatLock>) -> AppResult<BatchTx<'h>> {
        debug_assert!(locks.windows(2).all(|w| w[0].chat_id() < w[1].chat_id()));
        let tx = db.deltas.begin().await?;
        let pending = locks.iter().map(|_| Vec::new()).collect();
        Ok(BatchTx { hub, db, locks, tx, pending })
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Publishes an event of the batch after commit.
    fn record(&mut self, chat_id: i64, event: ChatEvent) -> AppResult<()> {
        let index = self
            .locks
            .binary_search_by_key(&chat_id, ChatLock::chat_id)
            .map_err(|_| AppError::Internal(format!("chat {chat_id} is not in this batch")))?;
        self.pending[index].push(event);
        Ok(())
    }

    /// Stores events of the batch's chats, each under its chat's next sequence number, in three
    /// statements whatever their number: the chats' counters move at once, the events go in as
    /// one multi-row insert.
    pub async fn emit_all(&mut self, events: Vec<(i64, Event)>) -> AppResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut counts: Vec<(i64, i64)> = Vec::new();
        for (chat_id, _) in &events {
            match counts.iter_mut().find(|(id, _)| id == chat_id) {
                Some((_, n)) => *n += 1,
                None => counts.push((*chat_id, 1)),
            }
        }
        let values =
            (0..counts.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(", ");
        // VALUES columns are column1, column2 on SQLite and PostgreSQL alike.
        let update = format!(
            "UPDATE chats SET last_seq = last_seq + v.column2 FROM (VALUES {values}) AS v \
             WHERE chats.id = v.column1 RETURNING id, last_seq"
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(&update);
        for (chat_id, n) in &counts {
            query = query.bind(*chat_id).bind(*n);
        }
        let last: Vec<(i64, i64)> = query.fetch_all(self.conn()).await?;
        // The first sequence number each chat's events take.
        let mut next: Vec<(i64, i64)> = counts
            .iter()
            .map(|(chat_id, n)| {
                let last_seq = last.iter().find(|(id, _)| id == chat_id).map(|(_, seq)| *seq);
                last_seq
                    .map(|seq| (*chat_id, seq - n + 1))
                    .ok_or_else(|| AppError::Internal(format!("chat {chat_id} is gone")))
            })
            .collect::<AppResult<_>>()?;
        let mut stored = Vec::with_capacity(events.len());
        for (chat_id, event) in events {
            let slot = next.iter_mut().find(|(id, _)| *id == chat_id).expect("counted above");
            stored.push((chat_id, ChatEvent { seq: slot.1, event }));
            slot.1 += 1;
        }
        let rows: Vec<(i64, i64, &Event)> = stored.iter().map(|(chat_id, e)| (*chat_id, e.seq, &e.event)).collect();
        store_events(self.conn(), &rows).await?;
        for (chat_id, event) in stored {
            self.record(chat_id, event)?;
        }
        Ok(())
    }

    pub async fn commit(self) -> AppResult<()> {
        let BatchTx { hub, db, locks, tx, pending } = self;
        tx.commit().await?;
        db.count_write();
        for (lock, events) in locks.iter().zip(pending) {
            hub.publish(lock, events);
        }
        Ok(())
    }
}

/// Text for a streaming reply, recorded as a `message.delta` of its chat.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    pub chat_id: i64,
    pub reply_id: i64,
    pub text: &'a str,
}

impl BatchTx<'_> {
    /// On PostgreSQL: appends each text to its reply while the reply is still streaming and
    /// stores a `message.delta` for each append under its chat's next sequence number, in one
    /// statement. A statement is a transaction of its own, so this is the same unit of work as
    /// a batch (locks in id order first, events published after commit, in order) without the
    /// round trips of BEGIN, three statements and COMMIT: the streaming engine's writer spends a
    /// quarter of the time per batch, and a reply's first words wait that much less behind it.
    /// `locks` are the appends' chats' locks, in id order. For each append, whether its reply
    /// was still streaming.
    pub async fn append_deltas_at_once(
        hub: &Hub,
        db: &Db,
        locks: &[ChatLock],
        appends: &[Append<'_>],
    ) -> AppResult<Vec<bool>> {
        if appends.is_empty() {
            return Ok(Vec::new());
        }
        debug_assert!(appends.iter().all(|a| locks.binary_search_by_key(&a.chat_id, ChatLock::chat_id).is_ok()));
        // v: one row per append, in order; locked: while other replicas share the database, the
        // chats' rows, locked first, in id order, as their changes lock them (a reply's row
        // updated before its chat's could wait crosswise with one of theirs; alone, this
        // process's chat locks already keep the order); appended: the replies still streaming,
        // with their text added (through their chat's locked row); counted: each chat's counter
        // moved on by its appends; numbered: each append's sequence number (its chat's next
        // ones, in the batch's order); the insert stores the events (a data-modifying WITH runs
        // whether or not it is read).
        let (locked, through_locked) = if hub.peers() > 0 {
            (
                "locked AS (SELECT id FROM chats WHERE id IN (SELECT chat_id FROM v) ORDER BY id FOR UPDATE), ",
                "JOIN locked ON locked.id = v.chat_id ",
            )
        } else {
            ("", "")
        };
        let values = (0..appends.len())
            .map(|i| {
                let p = |k: usize| 4 * i + 1 + k;
                format!("(${}::BIGINT, ${}::BIGINT, ${}::TEXT, ${}::TEXT, {i}::BIGINT)", p(1), p(2), p(3), p(4))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH v (chat_id, reply_id, text, data, ord) AS (VALUES {values}), \
             {locked}\
             appended AS (UPDATE messages SET content = content || v.text FROM v {through_locked}\
               WHERE messages.id = v.reply_id AND messages.chat_id = v.chat_id AND messages.status = 'streaming' \
               RETURNING messages.chat_id, v.reply_id, v.data, v.ord), \
             counted AS (UPDATE chats SET last_seq = chats.last_seq + n.appends \
               FROM (SELECT chat_id, COUNT(*) AS appends FROM appended GROUP BY chat_id) AS n \
               WHERE chats.id = n.chat_id RETURNING chats.id, chats.last_seq, n.appends), \
             numbered AS (SELECT a.chat_id, a.ord, a.data, \
               c.last_seq - c.appends + ROW_NUMBER() OVER (PARTITION BY a.chat_id ORDER BY a.ord) AS seq \
               FROM appended a JOIN counted c ON c.id = a.chat_id), \
             stored AS (INSERT INTO chat_events (chat_id, seq, kind, data, created_at) \
               SELECT chat_id, seq, '{}', data, $1 FROM numbered) \
             SELECT chat_id, ord, seq FROM numbered ORDER BY chat_id, seq",
            crate::model::EventKind::MessageDelta.as_str()
        );
        let events: Vec<Event> = appends
            .iter()
            .map(|a| Event::MessageDelta(crate::model::Delta { message_id: a.reply_id, text: a.text.to_string() }))
            .collect();
        let mut query = sqlx::query_as::<_, (i64, i64, i64)>(&sql).bind(now_ms());
        for (append, event) in appends.iter().zip(&events) {
            query = query.bind(append.chat_id).bind(append.reply_id).bind(append.text).bind(event.data_json());
        }
        let stored = query.fetch_all(&db.deltas).await?;
        db.count_write();
        let mut events: Vec<Option<Event>> = events.into_iter().map(Some).collect();
        let mut appended = vec![false; appends.len()];
        let mut stored = stored.into_iter().peekable();
        for lock in locks {
            let mut published = Vec::new();
            // `ord` is the append's place in the batch.
            while let Some((_, ord, seq)) = stored.next_if(|(chat_id, _, _)| *chat_id == lock.chat_id()) {
                let index = usize::try_from(ord).unwrap_or(usize::MAX);
                let event = events
                    .get_mut(index)
                    .and_then(Option::take)
                    .ok_or_else(|| AppError::Internal(format!("append {ord} is not in this batch once")))?;
                appended[index] = true;
                published.push(ChatEvent { seq, event });
            }
            hub.publish(lock, published);
        }
        Ok(appended)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::model::{Deleted, Event};

    async fn db_with_a_chat(name: &str) -> (Db, i64) {
        let db = Db::connect(&format!("sqlite:file:{name}?mode=memory&cache=shared"), 2).await.unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.write.begin().await.unwrap();
        let (owner,): (i64,) = sqlx::query_as(
            "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', 0) RETURNING id",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let id = super::super::store::insert_chat(&mut tx, owner, "t", "support", None, None).await.unwrap();
        tx.commit().await.unwrap();
        (db, id)
    }

    fn deleted(message_id: i64) -> Event {
        Event::MessageDeleted(Deleted { message_id })
    }

    #[tokio::test]
    async fn a_change_that_is_not_committed_stores_and_publishes_nothing() {
        let (db, chat) = db_with_a_chat("tx_rollback").await;
        let hub = Hub::default();
        let mut events = hub.subscribe(db.clone(), chat, 0);
        {
            let mut tx = ChatTx::begin(&hub, &db, chat).await.unwrap();
            tx.emit(deleted(1)).await.unwrap();
            // Dropped without commit: rolled back.
        }
        let mut tx = ChatTx::begin(&hub, &db, chat).await.unwrap();
        assert_eq!(tx.emit(deleted(2)).await.unwrap(), 1, "the rolled-back sequence number is free again");
        tx.commit().await.unwrap();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!((first.seq, first.event), (1, deleted(2)), "only the committed change was published");
        assert_eq!(db.write_count(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_changes_to_one_chat_get_consecutive_numbers_and_arrive_in_order() {
        let (db, chat) = db_with_a_chat("tx_order").await;
        let hub = std::sync::Arc::new(Hub::default());
        let mut events = hub.subscribe(db.clone(), chat, 0);
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (hub, db) = (hub.clone(), db.clone());
                tokio::spawn(async move {
                    for i in 0..5 {
                        let mut tx = ChatTx::begin(&hub, &db, chat).await.unwrap();
                        tx.emit(deleted(writer * 100 + i)).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        for expected in 1..=40 {
            assert_eq!(events.next().await.unwrap().unwrap().seq, expected);
        }
    }

    #[tokio::test]
    async fn a_batch_numbers_each_chats_events_in_order_and_publishes_them_after_commit() {
        let (db, first) = db_with_a_chat("tx_batch").await;
        let second = {
            let mut tx = db.write.begin().await.unwrap();
            let id = super::super::store::insert_chat(&mut tx, 1, "u", "support", None, None).await.unwrap();
            tx.commit().await.unwrap();
            id
        };
        let hub = Hub::default();
        let mut tx = ChatTx::begin(&hub, &db, second).await.unwrap();
        tx.emit(deleted(1)).await.unwrap();
        tx.commit().await.unwrap();
        let mut first_events = hub.subscribe(db.clone(), first, 0);
        let mut second_events = hub.subscribe(db.clone(), second, 1);
        let mut batch = BatchTx::begin(&hub, &db, hub.lock_all(&[second, first, second]).await).await.unwrap();
        batch.emit_all(vec![(first, deleted(10)), (second, deleted(20)), (first, deleted(11))]).await.unwrap();
        batch.commit().await.unwrap();
        let a = first_events.next().await.unwrap().unwrap();
        let b = first_events.next().await.unwrap().unwrap();
        assert_eq!((a.seq, a.event, b.seq, b.event), (1, deleted(10), 2, deleted(11)));
        let c = second_events.next().await.unwrap().unwrap();
        assert_eq!((c.seq, c.event), (2, deleted(20)), "numbers continue after the chat's own");
    }

    #[tokio::test]
    async fn lock_free_takes_the_free_chats_in_order_and_leaves_out_a_held_one() {
        let hub = Hub::default();
        let held = hub.lock(2).await;
        let locks = hub.lock_free(&[3, 2, 1, 3]);
        assert_eq!(locks.iter().map(ChatLock::chat_id).collect::<Vec<_>>(), vec![1, 3]);
        assert!(hub.try_lock(3).is_none(), "the batch holds what it took");
        drop((held, locks));
        assert_eq!(hub.lock_free(&[2, 3]).len(), 2, "released locks are free again");
    }
}
