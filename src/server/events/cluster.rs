//! Several replicas on one PostgreSQL database: what one replica's hub publishes reaches the
//! others through `LISTEN/NOTIFY`. The stored event log stays the source of truth; a notification
//! only wakes the other replicas (carrying small events whole, and naming the sequence numbers of
//! larger ones, which they read from the database). Subscribers already drop repeats and fill
//! gaps from the database, so for stored events a wake-up that arrives late, twice or out of order
//! loses nothing, and one that never arrives delays them until the chat's next event (or the
//! follower's reconnect). Typing, signed-out sessions, requests to stop a reply and changed
//! contexts travel the same way but live only in the notification: a lost typing signal is
//! forgotten, a signed-out staff socket still closes at its session check, a take-over also ends
//! the other replicas' replies in the database, and contexts are read again every minute anyway.
//!
//! Notifications leave from a connection of their own, after commit, in batches: a change never
//! waits for them. SQLite has one process and no cluster.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::hub::{events_after, Hub, EVENTS_PAGE};
use crate::{
    model::{ChatEvent, Event, TeamEvent, Typing},
    server::db::{now_ms, Db},
};

/// The PostgreSQL channel every replica of a database listens on.
const CHANNEL: &str = "frontdesk_events";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const PAYLOAD_MAX: usize = 7_900;
/// Events of one chat this large or larger are named by their sequence numbers, not carried.
const INLINE_MAX: usize = 3_000;

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// Committed (or announced) events of a chat, whole.
    Events {
        chat: i64,
        events: Vec<ChatEvent>,
    },
    /// A chat's stored events `from..=to` were committed: read them.
    Committed {
        chat: i64,
        from: i64,
        to: i64,
    },
    Typing {
        chat: i64,
        typing: Typing,
    },
    /// A session ended (its token hash): its sockets close.
    SessionEnded {
        token_hash: String,
    },
    /// Stop the reply being written in a chat (one, or every one when `reply` is none).
    Stop {
        chat: i64,
        reply: Option<i64>,
    },
    /// The assistant's contexts changed: read them again.
    ContextsChanged,
    /// Staff-only news for the open panels.
    Team {
        event: TeamEvent,
    },
}

/// One notification: the replica it comes from and what it says.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    /// When it was sent (unix ms), for the event-bus lag metric.
    #[serde(default)]
    at: i64,
    signals: Vec<Signal>,
}

/// What the sender task is handed: a signal, or a request to report once everything handed
/// before it went out.
enum Outgoing {
    Signal(Signal),
    Flush(oneshot::Sender<()>),
}

/// Signals waiting to go out, at most; past it (the database slow or away) new ones are dropped:
/// stored events then reach the other replicas' followers at the next event or reconnect.
const QUEUE: usize = 4096;

/// A hub's way out to the other replicas.
pub(super) struct Link {
    replica: Arc<str>,
    out: mpsc::Sender<Outgoing>,
}

impl Link {
    /// Tells the other replicas about events this replica just published.
    pub(super) fn published(&self, chat: i64, events: &[ChatEvent]) {
        if !events.is_empty() {
            self.send(Signal::Events { chat, events: events.to_vec() });
        }
    }

    pub(super) fn send(&self, signal: Signal) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(Outgoing::Signal(signal)) {
            tracing::warn!("the queue to the other replicas is full: a signal was dropped");
        }
    }

    /// Waits (up to 2 s) until everything handed over so far went out (before this replica exits).
    pub(super) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        let sent = async {
            if self.out.send(Outgoing::Flush(done)).await.is_ok() {
                let _ = flushed.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(2), sent).await.is_err() {
            tracing::warn!("the last signals to the other replicas did not all go out");
        }
    }

    pub(super) fn replica(&self) -> &str {
        &self.replica
    }
}

/// What a replica does with what the others tell it.
pub trait Node: Send + Sync + 'static {
    fn hub(&self) -> &Hub;
    fn db(&self) -> &Db;
    /// Stops the reply (or every reply of the chat) if this replica writes it.
    fn stop_here(&self, chat: i64, reply: Option<i64>);
}

/// Joins `node`'s hub to the other replicas on the PostgreSQL database at `url`: notifications
/// leave from a connection of their own and arrive on a listening one.
pub async fn join<N: Node>(node: &Arc<N>, url: &str) -> Result<(), sqlx::Error> {
    let replica: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
    // A notification that cannot go out within a second is dropped, rather than queueing more.
    let pool = PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(1)).connect(url).await?;
    let listener = listening(url).await?;
    let (out, outgoing) = mpsc::channel(QUEUE);
    node.hub().join_cluster(Link { replica: replica.clone(), out });
    tokio::spawn(send(pool, replica.clone(), outgoing));
    tokio::spawn(listen(Arc::downgrade(node), listener, url.to_string(), replica.clone()));
    tracing::info!(%replica, "live events are shared with every replica on this database (LISTEN/NOTIFY)");
    Ok(())
}

/// Sends what the hub publishes, as few notifications as fit.
async fn send(pool: PgPool, replica: Arc<str>, mut outgoing: mpsc::Receiver<Outgoing>) {
    let from = serde_json::Value::from(&*replica);
    while let Some(first) = outgoing.recv().await {
        let mut pending = vec![first];
        while let Ok(more) = outgoing.try_recv() {
            pending.push(more);
        }
        let mut signals = Vec::new();
        let mut flushed = Vec::new();
        for item in pending {
            match item {
                Outgoing::Signal(signal) => signals.extend(fit(signal)),
                Outgoing::Flush(done) => flushed.push(done),
            }
        }
        let head = format!(r#"{{"from":{from},"at":{},"signals":["#, now_ms());
        let mut payload = head.clone();
        let mut count = 0;
        for signal in signals {
            let Ok(json) = serde_json::to_string(&signal) else { continue };
            if count > 0 && payload.len() + json.len() + 3 > PAYLOAD_MAX {
                notify(&pool, std::mem::replace(&mut payload, head.clone()) + "]}").await;
                count = 0;
            }
            if count > 0 {
                payload.push(',');
            }
            payload.push_str(&json);
            count += 1;
        }
        if count > 0 {
            notify(&pool, payload + "]}").await;
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// A signal as it travels: events too large to carry are named by their sequence numbers (an
/// event that is not stored, `chat.deleted`, is always small and always carried).
fn fit(signal: Signal) -> Vec<Signal> {
    if let Signal::Team { event: TeamEvent::NoteCreated(note) } = &signal {
        // A long note is named, and read by the panels that show its conversation.
        if serde_json::to_string(note).map_or(usize::MAX, |json| json.len()) >= INLINE_MAX {
            let (chat_id, note_id, mentions) = (note.chat_id, note.id, note.mentions.clone());
            return vec![Signal::Team { event: TeamEvent::NoteWritten { chat_id, note_id, mentions } }];
        }
    }
    let Signal::Events { chat, events } = signal else { return vec![signal] };
    let size: usize = events.iter().map(|e| e.event.data_json().len() + 40).sum();
    if size < INLINE_MAX {
        return vec![Signal::Events { chat, events }];
    }
    let (stored, unstored): (Vec<_>, Vec<_>) =
        events.into_iter().partition(|e| !matches!(e.event, Event::ChatDeleted(_)));
    let mut signals = Vec::new();
    if let (Some(first), Some(last)) = (stored.first(), stored.last()) {
        signals.push(Signal::Committed { chat, from: first.seq, to: last.seq });
    }
    if !unstored.is_empty() {
        signals.push(Signal::Events { chat, events: unstored });
    }
    signals
}

async fn notify(pool: &PgPool, payload: String) {
    for attempt in 0..2 {
        match sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(pool).await {
            Ok(_) => return,
            // Stored events reach the others at their next event of the chat (or their followers'
            // reconnect); a stop is also written to the database (see `ChatTx` in chat::store).
            Err(error) if attempt > 0 => tracing::warn!(%error, "could not tell the other replicas about a change"),
            Err(_) => {}
        }
    }
}

/// Receives what the other replicas publish, until the node is gone. A lost connection is opened
/// again, and every chat followed here is then read up to date from the database.
async fn listen<N: Node>(node: Weak<N>, mut listener: PgListener, url: String, replica: Arc<str>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let Some(node) = node.upgrade() else { return };
                match serde_json::from_str::<Envelope>(notification.payload()) {
                    Ok(envelope) if *envelope.from == *replica => {}
                    Ok(envelope) => {
                        let lag = (now_ms() - envelope.at).max(0) as f64 / 1000.0;
                        crate::server::metrics::get().bus_lag.observe(lag);
                        for signal in envelope.signals {
                            receive(&*node, signal).await;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "a notification from another replica does not parse"),
                }
            }
            Ok(None) | Err(_) => {
                tracing::warn!("the connection that hears other replicas was lost; opening it again");
                listener = reconnect(&url).await;
                let Some(node) = node.upgrade() else { return };
                // What the others did meanwhile: followed chats are read up to date, and open
                // panels reload.
                node.hub().reset_panels();
                for (chat, mut after) in node.hub().followed_chats() {
                    loop {
                        match events_after(node.db(), chat, after, None).await {
                            Ok(events) => {
                                let full = events.len() == EVENTS_PAGE;
                                after = events.last().map_or(after, |e| e.seq);
                                node.hub().deliver(chat, events);
                                if !full {
                                    break;
                                }
                            }
                            Err(error) => {
                                tracing::warn!(?error, chat, "could not catch a followed chat up");
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A connection listening to the other replicas.
async fn listening(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn reconnect(url: &str) -> PgListener {
    let mut wait = Duration::from_millis(100);
    loop {
        match listening(url).await {
            Ok(listener) => return listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen to the other replicas yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn receive<N: Node>(node: &N, signal: Signal) {
    let hub = node.hub();
    match signal {
        Signal::Events { chat, events } => hub.deliver(chat, events),
        Signal::Committed { chat, from, to } => {
            if !hub.wants(chat, to) {
                return;
            }
            match events_after(node.db(), chat, from - 1, Some(to + 1)).await {
                Ok(events) => hub.deliver(chat, events),
                Err(error) => tracing::warn!(?error, chat, "could not read events another replica wrote"),
            }
        }
        Signal::Typing { chat, typing } => hub.typing_here(chat, typing),
        Signal::SessionEnded { token_hash } => hub.session_ended_here(token_hash),
        Signal::Stop { chat, reply } => node.stop_here(chat, reply),
        Signal::ContextsChanged => hub.contexts_changed_elsewhere(),
        Signal::Team { event } => hub.team_here(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Deleted, Delta};

    fn delta(seq: i64, text: &str) -> ChatEvent {
        ChatEvent { seq, event: Event::MessageDelta(Delta { message_id: 1, text: text.into() }) }
    }

    #[tokio::test]
    async fn a_full_queue_to_the_other_replicas_drops_new_signals_rather_than_hold_up_a_change_or_an_exit() {
        // Nothing takes from the queue: the database is slow or away.
        let (out, mut outgoing) = mpsc::channel(QUEUE);
        let link = Link { replica: "here".into(), out };
        for chat in 0..QUEUE as i64 + 5 {
            link.send(Signal::Stop { chat, reply: None });
        }
        // An exit waits for the queue at most its grace, then goes.
        tokio::time::timeout(Duration::from_secs(10), link.flush()).await.expect("flush gives up after 2 s");
        let mut queued = Vec::new();
        while let Ok(Outgoing::Signal(signal)) = outgoing.try_recv() {
            queued.push(signal);
        }
        assert_eq!(queued.len(), QUEUE, "the queue holds its bound and no more");
        assert_eq!(
            queued.last(),
            Some(&Signal::Stop { chat: QUEUE as i64 - 1, reply: None }),
            "the newest are dropped"
        );
    }

    #[tokio::test]
    async fn what_was_handed_over_before_a_flush_has_gone_out_when_it_returns() {
        let url = std::env::var("TEST_POSTGRES_URL").expect(
            "TEST_POSTGRES_URL is not set: run `make test-rust` or export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres",
        );
        let mut listener = listening(&url).await.unwrap();
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        let replica: Arc<str> = format!("flush-test-{:016x}", rand::random::<u64>()).into();
        let (out, outgoing) = mpsc::channel(QUEUE);
        let link = Link { replica: replica.clone(), out };
        let sender = tokio::spawn(send(pool, replica.clone(), outgoing));
        let typing = |chat| Signal::Typing { chat, typing: Typing { staff: true, name: None, typing: true } };
        for chat in 1..=3 {
            link.send(typing(chat));
        }
        link.flush().await;
        // The replica exits: whatever had not gone out yet never will.
        sender.abort();
        let mut heard = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            while heard.len() < 3 {
                let notification = listener.recv().await.unwrap();
                let envelope: Envelope = serde_json::from_str(notification.payload()).unwrap();
                if *envelope.from == *replica {
                    heard.extend(envelope.signals);
                }
            }
        })
        .await
        .expect("every signal handed over before the flush reached the other replicas");
        assert_eq!(heard, (1..=3).map(typing).collect::<Vec<_>>());
    }

    #[test]
    fn small_events_travel_whole_and_large_ones_by_their_numbers() {
        let small = Signal::Events { chat: 7, events: vec![delta(3, "hi"), delta(4, " there")] };
        assert_eq!(fit(small.clone()), vec![small]);
        let large = Signal::Events { chat: 7, events: vec![delta(3, &"x".repeat(5_000)), delta(4, "y")] };
        assert_eq!(fit(large), vec![Signal::Committed { chat: 7, from: 3, to: 4 }]);
    }

    #[test]
    fn a_deleted_chat_is_always_carried_since_nothing_of_it_is_stored() {
        let gone = ChatEvent { seq: 5, event: Event::ChatDeleted(crate::model::ChatDeleted { chat_id: 7 }) };
        let events = vec![
            delta(3, &"x".repeat(5_000)),
            ChatEvent { seq: 4, event: Event::MessageDeleted(Deleted { message_id: 1 }) },
            gone.clone(),
        ];
        assert_eq!(
            fit(Signal::Events { chat: 7, events }),
            vec![Signal::Committed { chat: 7, from: 3, to: 4 }, Signal::Events { chat: 7, events: vec![gone] }]
        );
    }

    #[test]
    fn a_signal_reads_back_as_it_was_sent() {
        let signal = Signal::Events { chat: 7, events: vec![delta(3, "hi")] };
        let json = serde_json::to_string(&signal).unwrap();
        assert_eq!(serde_json::from_str::<Signal>(&json).unwrap(), signal);
    }
}
