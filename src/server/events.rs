//! Live events: every change in a chat is stored with a per-chat sequence number (in the same
//! transaction as the change) and then broadcast. Subscribers read what they missed from the
//! database and follow the broadcast, filling any gap from the database, so a stream never skips
//! or repeats a sequence number.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use futures::{stream::BoxStream, StreamExt};
use sqlx::{Any, Transaction};
use tokio::sync::{broadcast, OwnedMutexGuard};

use super::{
    db::{now_ms, Db},
    error::AppResult,
};
use crate::model::{ChatEvent, EventKind, Typing};

/// Live fan-out capacity per chat; a subscriber that falls further behind catches up from the database.
const CHANNEL_CAPACITY: usize = 64;

struct Channel {
    /// Held while a change is written and broadcast, so broadcasts leave in sequence order.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    tx: broadcast::Sender<ChatEvent>,
    /// Typing indicators: live only, never stored.
    typing: broadcast::Sender<Typing>,
}

/// A chat's typing indicators from now on (it keeps the chat's channel alive).
pub struct TypingFeed {
    _channel: Arc<Channel>,
    pub rx: broadcast::Receiver<Typing>,
}

/// Capacity of the staff panel's feed of every chat; a panel that falls further behind reloads.
const PANEL_CAPACITY: usize = 1024;

/// An event of any chat, as the staff panel's feed carries it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PanelEvent {
    pub chat_id: i64,
    #[serde(flatten)]
    pub event: ChatEvent,
}

pub struct Hub {
    channels: Mutex<HashMap<i64, Weak<Channel>>>,
    /// Every chat's events but token deltas, for the staff panel.
    panel: broadcast::Sender<PanelEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { channels: Mutex::default(), panel: broadcast::channel(PANEL_CAPACITY).0 }
    }
}

/// Proof that the caller holds a chat's write lock; events are appended through it.
pub struct ChatWriter {
    chat_id: i64,
    channel: Arc<Channel>,
    panel: broadcast::Sender<PanelEvent>,
    _guard: OwnedMutexGuard<()>,
    pending: Vec<ChatEvent>,
}

impl Hub {
    fn channel(&self, chat_id: i64) -> Arc<Channel> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(&chat_id).and_then(Weak::upgrade) {
            return channel;
        }
        if channels.len() >= 1024 && channels.len().is_power_of_two() {
            channels.retain(|_, weak| weak.strong_count() > 0);
        }
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let (typing, _) = broadcast::channel(16);
        let channel = Arc::new(Channel { write_lock: Arc::new(tokio::sync::Mutex::new(())), tx, typing });
        channels.insert(chat_id, Arc::downgrade(&channel));
        channel
    }

    /// Takes the chat's write lock. Changes made while holding it and recorded with
    /// [`ChatWriter::record`] are broadcast in order by [`ChatWriter::publish`] after commit.
    pub async fn writer(&self, chat_id: i64) -> ChatWriter {
        let channel = self.channel(chat_id);
        let guard = channel.write_lock.clone().lock_owned().await;
        ChatWriter { chat_id, channel, panel: self.panel.clone(), _guard: guard, pending: Vec::new() }
    }

    /// Tells a chat's followers that someone is typing.
    pub fn typing(&self, chat_id: i64, typing: Typing) {
        let _ = self.channel(chat_id).typing.send(typing);
    }

    pub fn watch_typing(&self, chat_id: i64) -> TypingFeed {
        let channel = self.channel(chat_id);
        let rx = channel.typing.subscribe();
        TypingFeed { _channel: channel, rx }
    }

    /// Every chat's events from now on, but token deltas (the staff panel's feed).
    pub fn watch_panel(&self) -> broadcast::Receiver<PanelEvent> {
        self.panel.subscribe()
    }

    /// Number of live subscribers of a chat (for tests and metrics).
    pub fn subscriber_count(&self, chat_id: i64) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&chat_id)
            .and_then(Weak::upgrade)
            .map_or(0, |c| c.tx.receiver_count())
    }

    /// Every event of a chat after `after`, then live ones, without gaps or repeats.
    pub fn subscribe(&self, db: Db, chat_id: i64, after: i64) -> BoxStream<'static, AppResult<ChatEvent>> {
        let channel = self.channel(chat_id);
        // Subscribe before reading the backlog so nothing committed in between is missed.
        let rx = channel.tx.subscribe();
        struct State {
            db: Db,
            chat_id: i64,
            last: i64,
            rx: broadcast::Receiver<ChatEvent>,
            queue: std::collections::VecDeque<ChatEvent>,
            backlog_read: bool,
            _channel: Arc<Channel>,
        }
        let state =
            State { db, chat_id, last: after, rx, queue: Default::default(), backlog_read: false, _channel: channel };
        futures::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(event) = s.queue.pop_front() {
                    if event.seq <= s.last {
                        continue;
                    }
                    s.last = event.seq;
                    return Some((Ok(event), s));
                }
                if !s.backlog_read {
                    s.backlog_read = true;
                    match events_after(&s.db, s.chat_id, s.last, None).await {
                        Ok(backlog) => {
                            s.queue.extend(backlog);
                            continue;
                        }
                        Err(e) => return Some((Err(e), s)),
                    }
                }
                match s.rx.recv().await {
                    Ok(event) if event.seq <= s.last => continue,
                    Ok(event) if event.seq == s.last + 1 => s.queue.push_back(event),
                    Ok(event) => {
                        // A gap: fill it from the database, then this event.
                        match events_after(&s.db, s.chat_id, s.last, Some(event.seq)).await {
                            Ok(missing) => s.queue.extend(missing),
                            Err(e) => return Some((Err(e), s)),
                        }
                        s.queue.push_back(event);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        match events_after(&s.db, s.chat_id, s.last, None).await {
                            Ok(missing) => s.queue.extend(missing),
                            Err(e) => return Some((Err(e), s)),
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}

impl ChatWriter {
    pub fn chat_id(&self) -> i64 {
        self.chat_id
    }

    /// Assigns the chat's next sequence number (inside the transaction).
    pub async fn next_seq(&mut self, tx: &mut Transaction<'static, Any>) -> AppResult<i64> {
        let (seq,): (i64,) =
            sqlx::query_as("UPDATE chats SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
                .bind(self.chat_id)
                .fetch_one(&mut **tx)
                .await?;
        Ok(seq)
    }

    /// Stores an event under a sequence number from [`ChatWriter::next_seq`].
    pub async fn store(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        seq: i64,
        kind: EventKind,
        data: serde_json::Value,
    ) -> AppResult<()> {
        sqlx::query("INSERT INTO chat_events (chat_id, seq, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(self.chat_id)
            .bind(seq)
            .bind(kind.as_str())
            .bind(data.to_string())
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        self.pending.push(ChatEvent { seq, kind, data });
        Ok(())
    }

    /// Stores an event under the chat's next sequence number.
    pub async fn record(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        kind: EventKind,
        data: serde_json::Value,
    ) -> AppResult<i64> {
        let seq = self.next_seq(tx).await?;
        self.store(tx, seq, kind, data).await?;
        Ok(seq)
    }

    /// Broadcasts what was recorded; call after the transaction committed.
    pub fn publish(&mut self) {
        for event in self.pending.drain(..) {
            // No subscribers is fine: the event is stored.
            if event.kind != EventKind::MessageDelta {
                let _ = self.panel.send(PanelEvent { chat_id: self.chat_id, event: event.clone() });
            }
            let _ = self.channel.tx.send(event);
        }
    }
}

/// Stored events with `after < seq < before`, in order.
pub async fn events_after(db: &Db, chat_id: i64, after: i64, before: Option<i64>) -> AppResult<Vec<ChatEvent>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, kind, data FROM chat_events WHERE chat_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT 5000",
    )
    .bind(chat_id)
    .bind(after)
    .bind(before.unwrap_or(i64::MAX))
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(seq, kind, data)| {
            Some(ChatEvent { seq, kind: kind.parse().ok()?, data: serde_json::from_str(&data).ok()? })
        })
        .collect())
}
