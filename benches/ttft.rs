//! Time to first token that Frontdesk adds over the upstream, and completed replies per second,
//! as a client sees them: the server runs as a process of its own (the release binary), the fake
//! OpenAI server in another, and this program is the client, over real HTTP.
//!
//! N concurrent streams (visitors) each keep one SSE connection open as a browser would and send
//! messages in a loop, with a random 0–100 ms pause after each finished reply. Every reply is
//! streamed by the fake upstream like a model does: 54 pieces, 20 ms apart. A sample is the time
//! from sending a message to its reply's first `message.delta` on the SSE stream. The upstream
//! alone is replayed in the same shape (request to first content chunk). What Frontdesk adds is
//! the difference of the percentiles.
//!
//! Goals at 64 streams: added ≤ 5 ms p50 and ≤ 20 ms p99; completed replies per second at least
//! 98% of the upstream alone (the 2% is run-to-run noise on this 2-core machine).
//!
//! `make bench` runs it on a temporary SQLite file and on a fresh PostgreSQL database
//! (BENCH_POSTGRES_URL, an admin URL); BENCH_ROUNDS sets the messages per stream (default 10).

mod common;

use std::time::{Duration, Instant};

use common::{ms, new_chat, percentile, report, visitor, Blocks, Server, Upstream};

const PIECES: usize = 54;
const PIECE_PAUSE: Duration = Duration::from_millis(20);

fn pause(seed: &mut u64) -> Duration {
    // xorshift: a deterministic 0–100 ms pause per stream and round.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_millis(*seed % 100)
}

/// One browser-like visitor: one SSE connection, `rounds` messages; (round, sample) each.
async fn app_stream(base: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
    let client = visitor();
    let (chat, last_seq) = new_chat(&client, &base).await;
    let events = client.get(format!("{base}/api/v1/chats/{chat}/events?after={last_seq}")).send().await.unwrap();
    let mut events = Blocks::new(events);
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        let started = Instant::now();
        let sent = async {
            let response = client
                .post(format!("{base}/api/v1/chats/{chat}/messages"))
                .json(&serde_json::json!({"content": format!("question {round}")}))
                .send()
                .await
                .unwrap();
            // A refused send fails the run here rather than leaving it waiting for a reply.
            let status = response.status();
            assert_eq!(status, 201, "sending failed: {}", response.text().await.unwrap_or_default());
        };
        let first_delta = async {
            loop {
                if events.next().await.contains("event: message.delta") {
                    return started.elapsed();
                }
            }
        };
        let ((), ttft) = tokio::join!(sent, first_delta);
        samples.push((round, ttft));
        while !events.next().await.contains("event: message.completed") {}
    }
    samples
}

/// The upstream alone, in the same shape.
async fn upstream_stream(base_url: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        let started = Instant::now();
        let response = client
            .post(format!("{base_url}/chat/completions"))
            .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}))
            .send()
            .await
            .unwrap();
        let mut blocks = Blocks::new(response);
        while !blocks.next().await.contains("\"content\"") {}
        samples.push((round, started.elapsed()));
        while !blocks.next().await.contains("[DONE]") {}
    }
    samples
}

/// Runs `streams` streams at once: all samples sorted, those after every stream's first round
/// sorted (the first round starts every stream within 100 ms: a burst, not a steady state), and
/// completed replies per second.
async fn run<F, Fut>(streams: usize, make: F) -> (Vec<Duration>, Vec<Duration>, f64)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Vec<(usize, Duration)>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..streams as u64).map(|i| tokio::spawn(make(0x9E37_79B9_7F4A_7C15 ^ (i + 1)))).collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let per_second = all.len() as f64 / started.elapsed().as_secs_f64();
    let mut steady: Vec<Duration> = all.iter().filter(|(round, _)| *round > 0).map(|(_, d)| *d).collect();
    let mut all: Vec<Duration> = all.into_iter().map(|(_, d)| d).collect();
    all.sort();
    steady.sort();
    (all, steady, per_second)
}

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

        println!("Time to first token added by Frontdesk over the upstream (server, upstream and client in 3 processes)");
        println!(
            "database {}; {rounds} messages per stream; replies of {PIECES} pieces {PIECE_PAUSE:?} apart",
            if postgres.is_some() { "PostgreSQL" } else { "a temporary SQLite file" }
        );
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>10} {:>10}",
            "streams", "app p50", "app p99", "up p50", "up p99", "added p50", "added p99", "app rep/s", "up rep/s"
        );
        let mut at_64 = None;
        let mut steady_64 = None;
        // Warm-up, as a server that has been up a while is: every pooled connection has prepared
        // the statements of a send and a reply (PostgreSQL prepares per connection).
        run(32, |seed| app_stream(base.clone(), 3, seed)).await;
        for streams in [1usize, 64] {
            let (app, app_steady, app_rate) = run(streams, |seed| app_stream(base.clone(), rounds, seed)).await;
            let url = upstream.base_url.clone();
            let (up, up_steady, up_rate) = run(streams, |seed| upstream_stream(url.clone(), rounds, seed)).await;
            steady_64 = Some((
                ms(percentile(&app_steady, 50.0)) - ms(percentile(&up_steady, 50.0)),
                ms(percentile(&app_steady, 99.0)) - ms(percentile(&up_steady, 99.0)),
            ));
            let (a50, a99) = (ms(percentile(&app, 50.0)), ms(percentile(&app, 99.0)));
            let (u50, u99) = (ms(percentile(&up, 50.0)), ms(percentile(&up, 99.0)));
            println!(
                "{streams:>8} {a50:>8.2}ms {a99:>8.2}ms {u50:>8.2}ms {u99:>8.2}ms {:>9.2}ms {:>9.2}ms {app_rate:>10.1} {up_rate:>10.1}",
                a50 - u50,
                a99 - u99
            );
            at_64 = Some((a50 - u50, a99 - u99, app_rate / up_rate));
        }
        let (added50, added99, ratio) = at_64.unwrap();
        let (steady50, steady99) = steady_64.unwrap();
        report("added time to first token, 64 streams, p50", added50, "ms", 5.0, true);
        report("added time to first token, 64 streams, p99", added99, "ms", 20.0, true);
        report("  the same after each stream's first message, p50", steady50, "ms", 5.0, true);
        report("  the same after each stream's first message, p99", steady99, "ms", 20.0, true);
        report("completed replies per second vs the upstream alone, 64 streams", ratio * 100.0, "%", 98.0, false);
        println!("server resident memory after the run: {:.1} MiB", server.rss_mib());
        drop(server);
        if let Some((_, admin, name)) = postgres {
            common::drop_postgres_database(&admin, &name).await;
        }
    });
}
