//! Time to first token that Frontdesk adds over the upstream, and completed replies per second,
//! as a client sees them: the server runs as a process of its own (the release binary), the fake
//! OpenAI server in another, and this program is the client, over real HTTP.
//!
//! Two patterns of N concurrent streams, with a random 0–100 ms pause after each finished reply:
//! - steady sends: each stream (a visitor) keeps one SSE connection open as a browser would and
//!   sends messages in a loop; a sample is the time from sending a message to its reply's first
//!   `message.delta` on the SSE stream;
//! - new conversations: each round is a new visitor (a new cookie jar and connections) who
//!   creates a chat, then opens its SSE stream as the first message goes out; a sample runs from
//!   creating the chat to the reply's first delta;
//! - first messages: the same new visitors, sending their first message as the window does, in
//!   the request that creates the chat, then opening its SSE stream (which begins with the reply
//!   being written); a sample runs from that request to the reply's first delta.
//!
//! Every reply is streamed by the fake upstream like a model does: 54 pieces, 20 ms apart. The
//! upstream alone is replayed in the same shape (request to first content chunk), right after each
//! run of the app. What Frontdesk adds is the difference of the percentiles.
//!
//! Goals at 64 streams, for both patterns: added ≤ 5 ms p50 and ≤ 20 ms p99; completed replies
//! per second at least 98% of the upstream alone (the 2% is run-to-run noise on this 2-core
//! machine).
//!
//! `make bench` runs it on a temporary SQLite file and on a fresh PostgreSQL database
//! (BENCH_POSTGRES_URL, an admin URL); BENCH_ROUNDS sets the messages per stream (default 10),
//! BENCH_PATTERN (`steady`, `new` or `first`) runs one pattern only, BENCH_SERVER_BIN another
//! build of the server (to compare two commits in one run), BENCH_KNOWLEDGE=N loads N articles
//! (ten passages each) first, to see what each reply's search of the knowledge costs.

mod common;

use std::time::Duration;

use common::{
    ms, percentile, report,
    streams::{app_stream, first_message_stream, new_chat_stream, run, upstream_stream},
    Server, Upstream,
};

const PIECES: usize = 54;

/// How the clients use the app.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// Each stream keeps one chat and one event stream and sends in a loop.
    Steady,
    /// Each round is a new visitor's first message: the chat created, its stream opened as the
    /// message goes out.
    NewChats,
    /// Each round is a new visitor's first message as the window sends it: the chat created with
    /// the message in one request, then its stream opened.
    FirstMessages,
}

impl Pattern {
    fn key(self) -> &'static str {
        match self {
            Pattern::Steady => "steady",
            Pattern::NewChats => "new",
            Pattern::FirstMessages => "first",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Pattern::Steady => "steady sends",
            Pattern::NewChats => "new conversations",
            Pattern::FirstMessages => "first messages",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Pattern::Steady => "steady sends: one chat and one event stream per stream, messages in a loop (send -> first delta)",
            Pattern::NewChats => "new conversations: a new visitor per round creates a chat, opens its stream as it sends (create -> first delta)",
            Pattern::FirstMessages => "first messages: a new visitor per round creates a chat with its message in one request, then opens its stream (create -> first delta)",
        }
    }
}
const PIECE_PAUSE: Duration = Duration::from_millis(20);

fn main() {
    common::serve_upstream_if_asked(PIECES, PIECE_PAUSE);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
        let postgres = common::postgres_database().await;
        let database_url = postgres.as_ref().map(|(url, _, _)| url.clone());
        let upstream = Upstream::start().await;
        let server = Server::start(
            database_url.as_deref(),
            &[("OPENAI_API_KEY", "bench"), ("OPENAI_BASE_URL", &upstream.base_url)],
        )
        .await;
        let base = server.base.clone();
        // BENCH_KNOWLEDGE=5000: that many articles (ten passages each) in the knowledge base,
        // one passage in ten holding the word the benchmark's questions ask about, so each
        // reply's search finds and ranks passages as a shop's would.
        let knowledge: usize = std::env::var("BENCH_KNOWLEDGE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        if knowledge > 0 {
            let key = common::knowledge::admin_key(&base).await;
            common::knowledge::load(&base, &key, knowledge, "question").await;
        }

        println!("Time to first token added by Frontdesk over the upstream (server, upstream and client in 3 processes)");
        println!(
            "database {}; {rounds} messages per stream; replies of {PIECES} pieces {PIECE_PAUSE:?} apart",
            if postgres.is_some() { "PostgreSQL" } else { "a temporary SQLite file" }
        );
        println!(
            "knowledge: {} passages beside the seeded FAQ answers (BENCH_KNOWLEDGE articles)",
            knowledge * common::knowledge::SECTIONS
        );
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>10} {:>10}",
            "streams", "app p50", "app p99", "up p50", "up p99", "added p50", "added p99", "app rep/s", "up rep/s"
        );
        // Warm-up, as a server that has been up a while is: every pooled connection has prepared
        // the statements of a send and a reply (PostgreSQL prepares per connection).
        run(32, |_, seed| app_stream(base.clone(), 3, seed)).await;
        run(32, |_, seed| new_chat_stream(base.clone(), 2, seed)).await;
        let url = upstream.base_url.clone();
        let mut figures = Vec::new();
        // BENCH_PATTERN=steady or new runs one pattern only.
        let only = std::env::var("BENCH_PATTERN").unwrap_or_default();
        let patterns = [Pattern::Steady, Pattern::NewChats, Pattern::FirstMessages].into_iter().filter(|p| only.is_empty() || p.key() == only);
        for pattern in patterns {
            println!("{}", pattern.title());
            for streams in [1usize, 64] {
                // Each run of the app is followed by the upstream alone, in the same shape.
                let (app, app_steady, app_rate) = run(streams, |_, seed| {
                    let base = base.clone();
                    async move {
                        match pattern {
                            Pattern::Steady => app_stream(base, rounds, seed).await,
                            Pattern::NewChats => new_chat_stream(base, rounds, seed).await,
                            Pattern::FirstMessages => first_message_stream(base, rounds, seed).await,
                        }
                    }
                })
                .await;
                let (up, up_steady, up_rate) = run(streams, |_, seed| upstream_stream(url.clone(), rounds, seed)).await;
                let (a50, a99) = (ms(percentile(&app, 50.0)), ms(percentile(&app, 99.0)));
                let (u50, u99) = (ms(percentile(&up, 50.0)), ms(percentile(&up, 99.0)));
                println!(
                    "{streams:>8} {a50:>8.2}ms {a99:>8.2}ms {u50:>8.2}ms {u99:>8.2}ms {:>9.2}ms {:>9.2}ms {app_rate:>10.1} {up_rate:>10.1}",
                    a50 - u50,
                    a99 - u99
                );
                if streams == 64 {
                    let steady = (
                        ms(percentile(&app_steady, 50.0)) - ms(percentile(&up_steady, 50.0)),
                        ms(percentile(&app_steady, 99.0)) - ms(percentile(&up_steady, 99.0)),
                    );
                    figures.push((pattern, (a50 - u50, a99 - u99, app_rate / up_rate), steady));
                }
            }
        }
        for (pattern, (added50, added99, ratio), (steady50, steady99)) in figures {
            let name = pattern.name();
            report(&format!("{name}: added time to first token, 64 streams, p50"), added50, "ms", 5.0, true);
            report(&format!("{name}: added time to first token, 64 streams, p99"), added99, "ms", 20.0, true);
            if pattern == Pattern::Steady {
                report("  the same after each stream's first message, p50", steady50, "ms", 5.0, true);
                report("  the same after each stream's first message, p99", steady99, "ms", 20.0, true);
            }
            report(&format!("{name}: replies per second vs the upstream alone, 64 streams"), ratio * 100.0, "%", 98.0, false);
        }
        println!("server resident memory after the run: {:.1} MiB", server.rss_mib());
        drop(server);
        if let Some((_, admin, name)) = postgres {
            common::drop_postgres_database(&admin, &name).await;
        }
    });
}
