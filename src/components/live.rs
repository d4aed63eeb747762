//! The live connection both audiences follow: a WebSocket feed that reconnects with backoff,
//! resumes after the last sequence number seen and drops duplicates, its state (`Link`), and
//! typing indicators. The socket itself is browser glue (`super::browser`).

use leptos::prelude::*;

use super::browser::{self, SocketState};

/// The state of a live connection, as the reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// Lost; trying again (0.5 s doubling to 10 s, with jitter, without giving up; at once when
    /// the server said it restarts, 1012).
    Reconnecting,
    /// The server refused it (4001 sign in, 4003 forbidden, 4004 not found).
    Refused(u16),
}

pub use browser::Outbox;

/// Follows a WebSocket feed at `path`, handing each frame's JSON text to `on_frame`. With `after`,
/// frames carry `seq`: the feed resumes after the last one seen and never delivers one twice.
/// Reconnects after 0.5 s doubling to 10 s (with jitter, a 5 s connect timeout, no give-up), or
/// within a quarter second when the server closed with 1012 (it restarts; another replica
/// answers), and shows the state in `link`; `on_open(true)` after a reconnect. Stops when the
/// calling component is cleaned up.
pub fn follow_socket(
    path: String,
    after: Option<i64>,
    link: RwSignal<Link>,
    on_open: impl Fn(bool) + 'static,
    on_frame: impl Fn(&str) + 'static,
) -> Outbox {
    let opened_before = std::cell::Cell::new(false);
    let on_state = move |state| {
        let _ = link.try_set(match state {
            SocketState::Open => Link::Live,
            SocketState::Refused(code) => Link::Refused(code),
            SocketState::Lost => Link::Reconnecting,
        });
        if state == SocketState::Open {
            on_open(opened_before.replace(true));
        }
    };
    browser::follow_socket(path, after, backoff_ms, on_state, on_frame)
}

/// Who is typing on the other side, shown for a few seconds after each signal.
#[derive(Clone, Copy)]
pub struct TypingIndicator {
    /// The name to show ("Alice is typing…", or the customer) while someone types.
    pub who: RwSignal<Option<String>>,
    generation: RwSignal<u32>,
}

/// How long a typing signal shows without a new one.
const TYPING_SHOWS_MS: u64 = 4_000;

impl TypingIndicator {
    pub fn new() -> Self {
        TypingIndicator { who: RwSignal::new(None), generation: RwSignal::new(0) }
    }

    pub fn show(&self, typing: crate::model::Typing) {
        if !typing.typing {
            return self.clear();
        }
        let name = typing.name.unwrap_or_else(|| if typing.staff { "Our team".into() } else { "The customer".into() });
        self.who.set(Some(name));
        self.generation.update(|g| *g += 1);
        let (who, generation, mine) = (self.who, self.generation, self.generation.get_untracked());
        leptos::prelude::set_timeout(
            move || {
                if generation.try_get_untracked() == Some(mine) {
                    let _ = who.try_set(None);
                }
            },
            std::time::Duration::from_millis(TYPING_SHOWS_MS),
        );
    }

    pub fn clear(&self) {
        self.who.set(None);
    }
}

impl Default for TypingIndicator {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends "typing" at most every 2 s while someone types (`last_sent` is kept by the caller).
pub fn typing_ping(outbox: StoredValue<Outbox>, last_sent: StoredValue<f64>) {
    let now = now_ms();
    if now - last_sent.get_value() > 2_000.0 {
        last_sent.set_value(now);
        outbox.with_value(|outbox| outbox.send(r#"{"typing":true}"#));
    }
}

fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// The wait before reconnect attempt `attempt` (0-based): 0.5 s doubling to a 10 s cap, with jitter
/// (`random` in 0..1 picks between half and all of it), so clients that lost the server together
/// do not all come back at once.
pub fn backoff_ms(attempt: u32, random: f64) -> u32 {
    let base = 500u32.saturating_mul(1 << attempt.min(5)).min(10_000);
    base / 2 + (random.clamp(0.0, 1.0) * f64::from(base / 2)) as u32
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn reconnects_wait_half_a_second_doubling_to_ten_seconds_with_jitter() {
        let longest: Vec<u32> = (0..8).map(|attempt| backoff_ms(attempt, 1.0)).collect();
        assert_eq!(longest, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        let shortest: Vec<u32> = (0..8).map(|attempt| backoff_ms(attempt, 0.0)).collect();
        assert_eq!(shortest, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(backoff_ms(u32::MAX, 0.5), 7500, "no overflow and no give-up, however many attempts");
    }
}
