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
