//! The hub: per-chat broadcast channels and write locks, typing signals, and the staff panel's
//! feed of every chat.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex, OnceLock, Weak,
    },
};

use futures::{stream::BoxStream, StreamExt};
use tokio::sync::{broadcast, mpsc};

use super::{
    cluster::{Link, Signal},
    lock::ChatLock,
};
use crate::{
    model::{ChatEvent, Event, EventKind, PanelEvent, TeamEvent, Typing},
    server::{db::Db, error::AppResult},
};

/// Live fan-out capacity per chat; a subscriber that falls further behind catches up from the
/// database. Its slots are allocated with the chat's channel, for every chat someone follows, so
/// they hold `Arc`s (a few bytes each) rather than events.
const CHANNEL_CAPACITY: usize = 32;
/// Capacity of the staff panel's feed of every chat; a panel that falls further behind reloads.
const PANEL_CAPACITY: usize = 1024;

pub(super) struct Channel {
    /// Held while a change is written and broadcast, so broadcasts leave in sequence order.
    pub(super) write_lock: Arc<tokio::sync::Mutex<()>>,
    tx: broadcast::Sender<Arc<ChatEvent>>,
    /// The highest sequence number broadcast (so a replica that lost touch with the others knows
    /// where to catch up from).
    published: AtomicI64,
    /// Typing indicators: live only, never stored.
    typing: broadcast::Sender<Typing>,
}

/// A chat's typing indicators from now on (it keeps the chat's channel alive).
pub struct TypingFeed {
    _channel: Arc<Channel>,
    pub rx: broadcast::Receiver<Typing>,
}

/// A chat's broadcast events from now on (it keeps the chat's channel alive).
pub struct ChatWatch {
    _channel: Arc<Channel>,
    pub rx: broadcast::Receiver<Arc<ChatEvent>>,
}

/// Committed changes on their way to the staff panels: the panel feed task
/// (`staff::panel`) adds each conversation's summary once and broadcasts them.
pub type PanelQueue = mpsc::UnboundedReceiver<(i64, ChatEvent)>;

pub struct Hub {
    channels: Mutex<HashMap<i64, Weak<Channel>>>,
    /// What open panels receive.
    panel: broadcast::Sender<PanelEvent>,
    panel_in: mpsc::UnboundedSender<(i64, ChatEvent)>,
    panel_queue: Mutex<Option<PanelQueue>>,
    /// The newest customer message per chat that some staff screen acknowledged, so that many
    /// open staff sockets cost one write per message, not one each.
    delivered: Mutex<HashMap<i64, i64>>,
    /// Sessions that ended (their token hashes), so the sockets they opened close.
    session_ends: broadcast::Sender<Arc<String>>,
    /// Moves on when open panels may have missed changes (this replica lost touch with the
    /// others for a while): they reload.
    panel_resets: tokio::sync::watch::Sender<u64>,
    /// Moves on when another replica changed the assistant's contexts: they are read again.
    contexts: tokio::sync::watch::Sender<u64>,
    /// Staff-only news for open panels (a note written), from every replica.
    team: broadcast::Sender<TeamEvent>,
    /// Open live streams (SSE and WebSocket) per user.
    streams: Arc<Mutex<HashMap<i64, usize>>>,
    /// The other replicas on the same PostgreSQL database (see [`super::cluster`]).
    cluster: OnceLock<Link>,
    /// How many of them were alive at the last heartbeat.
    peers: std::sync::atomic::AtomicUsize,
}

/// One open live stream of a user; the count goes down when it is dropped.
pub struct StreamSlot {
    streams: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = streams.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl Default for Hub {
    fn default() -> Self {
        let (panel_in, queue) = mpsc::unbounded_channel();
        Hub {
            channels: Mutex::default(),
            panel: broadcast::channel(PANEL_CAPACITY).0,
            panel_in,
            panel_queue: Mutex::new(Some(queue)),
            delivered: Mutex::default(),
            session_ends: broadcast::channel(64).0,
            panel_resets: tokio::sync::watch::channel(0).0,
            contexts: tokio::sync::watch::channel(0).0,
            team: broadcast::channel(PANEL_CAPACITY).0,
            streams: Arc::default(),
            cluster: OnceLock::new(),
            peers: Default::default(),
        }
    }
}

impl Hub {
    pub(super) fn channel(&self, chat_id: i64) -> Arc<Channel> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(&chat_id).and_then(Weak::upgrade) {
            return channel;
        }
        if channels.len() >= 1024 && channels.len().is_power_of_two() {
            channels.retain(|_, weak| weak.strong_count() > 0);
        }
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let (typing, _) = broadcast::channel(4);
        let channel = Arc::new(Channel {
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            tx,
            published: AtomicI64::new(0),
            typing,
        });
        channels.insert(chat_id, Arc::downgrade(&channel));
        channel
    }

    /// Takes a chat's write lock (see `chat::ChatTx`, which is how changes are written).
    pub async fn lock(&self, chat_id: i64) -> ChatLock {
        ChatLock::acquire(self.channel(chat_id), chat_id).await
    }

    /// Takes a chat's write lock if nobody holds it or waits for it.
    pub fn try_lock(&self, chat_id: i64) -> Option<ChatLock> {
        ChatLock::try_acquire(self.channel(chat_id), chat_id)
    }

    /// Every chat's lock, in id order (each once), waiting for each in turn.
    pub async fn lock_all(&self, chat_ids: &[i64]) -> Vec<ChatLock> {
        let mut locks = Vec::with_capacity(chat_ids.len());
        for id in sorted_once(chat_ids) {
            locks.push(self.lock(id).await);
        }
        locks
    }

    /// The locks of those chats nobody holds now, in id order (each once), without waiting: a
    /// batch writer takes what is free and leaves a busy chat's share for its next batch rather
    /// than making every chat in the batch wait behind one.
    pub fn lock_free(&self, chat_ids: &[i64]) -> Vec<ChatLock> {
        sorted_once(chat_ids).into_iter().filter_map(|id| self.try_lock(id)).collect()
    }

    /// Changes to a chat that hold its write lock or wait for it (contention on one chat shows
    /// here; tests use it to pause a change at the lock).
    pub fn lock_queue(&self, chat_id: i64) -> usize {
        // Each holder and waiter keeps a clone of the lock's Arc; the channel keeps one.
        self.existing(chat_id).map_or(0, |channel| Arc::strong_count(&channel.write_lock) - 1)
    }

    /// Broadcasts committed events in order (the chat's lock, held, keeps that order): to the
    /// chat's followers, (but token deltas) to the staff panels when any is open, and to the other
    /// replicas.
    pub fn publish(&self, lock: &ChatLock, events: Vec<ChatEvent>) {
        if let Some(link) = self.cluster.get() {
            link.published(lock.chat_id(), &events);
        }
        self.broadcast(lock.chat_id(), Some(lock.channel()), events);
    }

    fn broadcast(&self, chat_id: i64, channel: Option<&Channel>, events: Vec<ChatEvent>) {
        let panels_open = self.panel.receiver_count() > 0;
        for event in events {
            if panels_open && event.event.kind() != EventKind::MessageDelta {
                let _ = self.panel_in.send((chat_id, event.clone()));
            }
            if let Some(channel) = channel {
                channel.published.fetch_max(event.seq, Ordering::Relaxed);
                // No subscribers is fine: the event is stored.
                let _ = channel.tx.send(Arc::new(event));
            }
        }
    }

    /// Broadcasts events another replica committed, to this replica's followers and panels.
    /// Subscribers drop what they already have and fill gaps, so order and repeats do not matter.
    pub(super) fn deliver(&self, chat_id: i64, events: Vec<ChatEvent>) {
        let channel = self.followed(chat_id);
        self.broadcast(chat_id, channel.as_deref(), events);
    }

    /// The chat's channel, when it exists (someone follows the chat, or writes to it).
    fn existing(&self, chat_id: i64) -> Option<Arc<Channel>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner()).get(&chat_id).and_then(Weak::upgrade)
    }

    /// The chat's channel, when someone here follows it.
    fn followed(&self, chat_id: i64) -> Option<Arc<Channel>> {
        self.existing(chat_id).filter(|c| c.tx.receiver_count() > 0)
    }

    /// True when this replica would show a chat's events up to `seq` that it has not broadcast:
    /// someone here follows the chat, or a staff panel is open.
    pub(super) fn wants(&self, chat_id: i64, seq: i64) -> bool {
        self.panel.receiver_count() > 0
            || self.followed(chat_id).is_some_and(|c| c.published.load(Ordering::Relaxed) < seq)
    }

    /// The chats someone here follows, with the last sequence number broadcast for each.
    pub(super) fn followed_chats(&self) -> Vec<(i64, i64)> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .iter()
            .filter_map(|(id, weak)| weak.upgrade().filter(|c| c.tx.receiver_count() > 0).map(|c| (*id, c)))
            .map(|(id, c)| (id, c.published.load(Ordering::Relaxed)))
            .collect()
    }

    /// Connects this hub to the other replicas (once).
    pub(super) fn join_cluster(&self, link: Link) {
        let _ = self.cluster.set(link);
    }

    /// Other replicas alive on the database (as of the last heartbeat, every 2 s): while there
    /// are any, allowances are counted in the database too.
    pub fn peers(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }

    pub fn set_peers(&self, peers: usize) {
        self.peers.store(peers, Ordering::Relaxed);
    }

    /// Waits until what this replica told the others went out (before it exits).
    pub async fn flush_cluster(&self) {
        if let Some(link) = self.cluster.get() {
            link.flush().await;
        }
    }

    /// This replica's name among the others, when clustered.
    pub fn replica(&self) -> Option<&str> {
        self.cluster.get().map(Link::replica)
    }

    /// Asks the other replicas to stop the reply (or every reply of a chat) they write.
    pub fn stop_elsewhere(&self, chat_id: i64, reply_id: Option<i64>) {
        if let Some(link) = self.cluster.get() {
            link.send(Signal::Stop { chat: chat_id, reply: reply_id });
        }
    }

    /// A chat's events as they are broadcast here from now on, however they arrive (for waiting
    /// on one; [`Hub::subscribe`] is the gapless stream).
    pub fn watch_chat(&self, chat_id: i64) -> ChatWatch {
        let channel = self.channel(chat_id);
        let rx = channel.tx.subscribe();
        ChatWatch { _channel: channel, rx }
    }

    /// The queue of committed changes for the panel feed task; there is one, taken once.
    pub fn take_panel_queue(&self) -> Option<PanelQueue> {
        self.panel_queue.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Sends a change, with its conversation's summary, to every open panel.
    pub fn send_to_panels(&self, event: PanelEvent) {
        let _ = self.panel.send(event);
    }

    /// Tells every open panel to reload: it may have missed changes.
    pub(super) fn reset_panels(&self) {
        self.panel_resets.send_modify(|generation| *generation += 1);
    }

    /// Changes when open panels must reload (see `Hub::reset_panels`).
    pub fn watch_panel_resets(&self) -> tokio::sync::watch::Receiver<u64> {
        self.panel_resets.subscribe()
    }

    /// Staff panels following the feed now.
    pub fn open_panels(&self) -> usize {
        self.panel.receiver_count()
    }

    /// Every chat's events from now on, but token deltas (the staff panel's feed).
    pub fn watch_panel(&self) -> broadcast::Receiver<PanelEvent> {
        self.panel.subscribe()
    }

    /// True the first time a staff screen acknowledges `message_id` of a chat (or a later one):
    /// only then does the delivery mark need writing.
    pub fn claim_delivery(&self, chat_id: i64, message_id: i64) -> bool {
        let mut delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        if delivered.len() >= 65_536 {
            // Forget the oldest marks; the worst case is one repeated (harmless) write.
            delivered.clear();
        }
        let newest = delivered.entry(chat_id).or_insert(0);
        if *newest >= message_id {
            return false;
        }
        *newest = message_id;
        true
    }

    /// Tells a chat's followers, on every replica, that someone is typing.
    pub fn typing(&self, chat_id: i64, typing: Typing) {
        if let Some(link) = self.cluster.get() {
            link.send(Signal::Typing { chat: chat_id, typing: typing.clone() });
        }
        self.typing_here(chat_id, typing);
    }

    pub(super) fn typing_here(&self, chat_id: i64, typing: Typing) {
        if let Some(channel) = self.existing(chat_id) {
            let _ = channel.typing.send(typing);
        }
    }

    /// A slot for one more live stream of `user_id`, unless they already hold `max`.
    pub fn open_stream(&self, user_id: i64, max: usize) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let count = streams.entry(user_id).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(StreamSlot { streams: self.streams.clone(), user_id })
    }

    /// Live streams `user_id` holds open now.
    pub fn open_streams(&self, user_id: i64) -> usize {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).get(&user_id).copied().unwrap_or(0)
    }

    /// Says, on every replica, that the session with this token hash ended (signed out).
    pub fn session_ended(&self, token_hash: String) {
        if let Some(link) = self.cluster.get() {
            link.send(Signal::SessionEnded { token_hash: token_hash.clone() });
        }
        self.session_ended_here(token_hash);
    }

    pub(super) fn session_ended_here(&self, token_hash: String) {
        let _ = self.session_ends.send(Arc::new(token_hash));
    }

    /// Tells the other replicas that this one changed the assistant's contexts.
    pub fn contexts_changed(&self) {
        if let Some(link) = self.cluster.get() {
            link.send(Signal::ContextsChanged);
        }
    }

    pub(super) fn contexts_changed_elsewhere(&self) {
        self.contexts.send_modify(|n| *n += 1);
    }

    /// Moves on each time another replica changed the assistant's contexts.
    pub fn watch_contexts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.contexts.subscribe()
    }

    /// Sends staff-only news to every open panel, on every replica.
    pub fn send_to_team(&self, event: TeamEvent) {
        if let Some(link) = self.cluster.get() {
            link.send(Signal::Team { event: event.clone() });
        }
        self.team_here(event);
    }

    pub(super) fn team_here(&self, event: TeamEvent) {
        let _ = self.team.send(event);
    }

    /// Staff-only news from now on (see [`Hub::send_to_team`]).
    pub fn watch_team(&self) -> broadcast::Receiver<TeamEvent> {
        self.team.subscribe()
    }

    pub fn watch_session_ends(&self) -> broadcast::Receiver<Arc<String>> {
        self.session_ends.subscribe()
    }

    pub fn watch_typing(&self, chat_id: i64) -> TypingFeed {
        let channel = self.channel(chat_id);
        let rx = channel.typing.subscribe();
        TypingFeed { _channel: channel, rx }
    }

    /// Number of live subscribers of a chat (for tests and metrics).
    pub fn subscriber_count(&self, chat_id: i64) -> usize {
        self.existing(chat_id).map_or(0, |c| c.tx.receiver_count())
    }

    /// Every event of a chat after `after`, then live ones, without gaps or repeats; it ends
    /// after `chat.deleted`.
    pub fn subscribe(&self, db: Db, chat_id: i64, after: i64) -> BoxStream<'static, AppResult<ChatEvent>> {
        let channel = self.channel(chat_id);
        // Subscribe before reading the backlog so nothing committed in between is missed.
        let rx = channel.tx.subscribe();
        struct State {
            db: Db,
            chat_id: i64,
            last: i64,
            rx: broadcast::Receiver<Arc<ChatEvent>>,
            queue: VecDeque<ChatEvent>,
            backlog_read: bool,
            /// `chat.deleted` went out: the stream ends.
            ended: bool,
            channel: Arc<Channel>,
        }
        let state =
            State { db, chat_id, last: after, rx, queue: VecDeque::new(), backlog_read: false, ended: false, channel };
        futures::stream::unfold(state, |mut s| async move {
            loop {
                if s.ended {
                    return None;
                }
                if let Some(event) = s.queue.pop_front() {
                    if event.seq <= s.last {
                        continue;
                    }
                    s.last = event.seq;
                    s.ended = event.event.ends_the_stream();
                    return Some((Ok(event), s));
                }
                if !s.backlog_read {
                    s.backlog_read = true;
                    match events_after(&s.db, s.chat_id, s.last, None).await {
                        Ok(backlog) => {
                            // What this follower has is in hand here: a catch-up after losing
                            // touch with the other replicas starts from it.
                            let newest = backlog.last().map_or(s.last, |e| e.seq);
                            s.channel.published.fetch_max(newest, Ordering::Relaxed);
                            s.queue.extend(backlog);
                            continue;
                        }
                        Err(e) => return Some((Err(e), s)),
                    }
                }
                match s.rx.recv().await.map(Arc::unwrap_or_clone) {
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

/// The most events [`events_after`] returns at once.
pub const EVENTS_PAGE: usize = 5000;

/// Stored events with `after < seq < before`, in order: the first `EVENTS_PAGE` of them.
pub async fn events_after(db: &Db, chat_id: i64, after: i64, before: Option<i64>) -> AppResult<Vec<ChatEvent>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, kind, data FROM chat_events WHERE chat_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4",
    )
    .bind(chat_id)
    .bind(after)
    .bind(before.unwrap_or(i64::MAX))
    .bind(EVENTS_PAGE as i64)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(seq, kind, data)| {
            let event = Event::from_parts(kind.parse().ok()?, &data)
                .map_err(|error| tracing::error!(%error, chat_id, seq, "a stored event does not parse"))
                .ok()?;
            Some(ChatEvent { seq, event })
        })
        .collect())
}

fn sorted_once(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}
