//! The unit of work: a chat's write lock, a database transaction and the events the change
//! records, published only after the commit. Every change to a chat goes through [`ChatTx`], so
//! the rule lives here once: *a change and its events in one transaction, under the chat's lock
//! (always taken before the transaction begins), broadcast after commit in sequence order.*

use std::sync::Arc;

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::OwnedMutexGuard;

use super::hub::{Channel, Hub};
use crate::{
    model::{ChatEvent, Event},
    server::{
        db::{now_ms, Db},
        error::AppResult,
    },
};

/// A chat's write lock: held, nobody else changes the chat, and reads see one moment of it.
pub struct ChatLock {
    chat_id: i64,
    channel: Arc<Channel>,
    _guard: OwnedMutexGuard<()>,
}

impl ChatLock {
    pub(super) async fn acquire(channel: Arc<Channel>, chat_id: i64) -> ChatLock {
        let guard = channel.write_lock.clone().lock_owned().await;
        ChatLock { chat_id, channel, _guard: guard }
    }

    pub fn chat_id(&self) -> i64 {
        self.chat_id
    }

    pub(super) fn channel(&self) -> &Channel {
        &self.channel
    }
}

/// One change to one chat (see the module documentation).
pub struct ChatTx<'h> {
    hub: &'h Hub,
    db: &'h Db,
    lock: ChatLock,
    tx: Transaction<'static, Any>,
    pending: Vec<ChatEvent>,
}

impl<'h> ChatTx<'h> {
    /// Takes the chat's lock, then begins the transaction.
    pub async fn begin(hub: &'h Hub, db: &'h Db, chat_id: i64) -> AppResult<ChatTx<'h>> {
        let lock = hub.lock(chat_id).await;
        let tx = db.write.begin().await?;
        Ok(ChatTx { hub, db, lock, tx, pending: Vec::new() })
    }

    /// Continues a transaction that created the chat `chat_id`: nobody else can know a chat that
    /// is not committed yet, so taking its lock after the transaction began waits on no one.
    pub async fn for_new_chat(hub: &'h Hub, db: &'h Db, tx: Transaction<'static, Any>, chat_id: i64) -> ChatTx<'h> {
        let lock = hub.lock(chat_id).await;
        ChatTx { hub, db, lock, tx, pending: Vec::new() }
    }

    pub fn chat_id(&self) -> i64 {
        self.lock.chat_id()
    }

    /// The transaction's connection, for the queries of the change.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Assigns the chat's next sequence number.
    pub async fn next_seq(&mut self) -> AppResult<i64> {
        let (seq,): (i64,) =
            sqlx::query_as("UPDATE chats SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
                .bind(self.chat_id())
                .fetch_one(&mut *self.tx)
                .await?;
        Ok(seq)
    }

    /// Stores an event under a sequence number from [`ChatTx::next_seq`] (for an event whose
    /// data must show its own sequence number, such as `chat.updated`).
    pub async fn store(&mut self, seq: i64, event: Event) -> AppResult<()> {
        sqlx::query("INSERT INTO chat_events (chat_id, seq, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(self.chat_id())
            .bind(seq)
            .bind(event.kind().as_str())
            .bind(event.data_json())
            .bind(now_ms())
            .execute(&mut *self.tx)
            .await?;
        self.pending.push(ChatEvent { seq, event });
        Ok(())
    }

    /// Stores an event under the chat's next sequence number.
    pub async fn emit(&mut self, event: Event) -> AppResult<i64> {
        let seq = self.next_seq().await?;
        self.store(seq, event).await?;
        Ok(seq)
    }

    /// Commits, then broadcasts the recorded events in order; the lock is released last.
    pub async fn commit(self) -> AppResult<()> {
        let ChatTx { hub, db, lock, tx, pending } = self;
        tx.commit().await?;
        db.count_write();
        hub.publish(&lock, pending);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::model::{Deleted, Event};

    async fn db_with_a_chat(name: &str) -> (Db, i64) {
        let db = Db::connect(&format!("sqlite:file:{name}?mode=memory&cache=shared")).await.unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.write.begin().await.unwrap();
        let (owner,): (i64,) = sqlx::query_as(
            "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', 0) RETURNING id",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let id = crate::server::chat::store::insert_chat(&mut tx, owner, "t", "support", None).await.unwrap();
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
}
