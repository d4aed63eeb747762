//! Time-to-first-token Frontdesk adds over the upstream.
//!
//! N concurrent streams (chats) each send messages in a loop, with a short random pause between a
//! finished reply and the next message, and keep one SSE connection open as a browser would. The
//! fake OpenAI server streams every reply like a model does (20 pieces, 10 ms apart). A sample is
//! the time from sending a message to its reply's first `message.delta` on the SSE stream.
//! The upstream alone is replayed with the same shape (concurrency, pauses, paced replies): request
//! to first content chunk. What Frontdesk adds is the difference of the percentiles.
//! Budget: ≤ 5 ms at p50 and ≤ 20 ms at p99 with 64 streams.
//!
//! `make bench`; BENCH_DATABASE_URL picks the database (default: a temporary SQLite file),
//! BENCH_ROUNDS the messages per stream (default 10).

#[path = "../tests/support/fake_openai.rs"]
#[allow(dead_code)]
mod fake_openai;

use std::time::{Duration, Instant};

use fake_openai::{FakeOpenAi, Script};
use frontdesk::server::{build_state, config::Config, http::router};
use futures::{stream::BoxStream, StreamExt};

const PIECES: usize = 20;
const PIECE_PAUSE: Duration = Duration::from_millis(10);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Reads an SSE body block by block (`event`/`data` lines up to a blank line).
struct Blocks {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Blocks {
    fn new(response: reqwest::Response) -> Self {
        Blocks { body: response.bytes_stream().boxed(), buffer: String::new() }
    }

    async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                return self.buffer.drain(..end + 2).collect();
            }
            let chunk = self.body.next().await.expect("the stream stays open").expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn pause(seed: &mut u64) -> Duration {
    // xorshift: a deterministic 0–100 ms pause per stream and round.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_millis(*seed % 100)
}

/// One browser-like visitor: one SSE connection, `rounds` messages.
async fn app_stream(base: String, rounds: usize, mut seed: u64) -> Vec<Duration> {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let chat: serde_json::Value = client
        .post(format!("{base}/api/v1/chats"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (chat, last_seq) = (chat["id"].as_i64().unwrap(), chat["last_seq"].as_i64().unwrap());
    let events = client.get(format!("{base}/api/v1/chats/{chat}/events?after={last_seq}")).send().await.unwrap();
    let mut events = Blocks::new(events);
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        let started = Instant::now();
        let sent = client
            .post(format!("{base}/api/v1/chats/{chat}/messages"))
            .json(&serde_json::json!({"content": format!("question {round}")}))
            .send();
        let first_delta = async {
            loop {
                if events.next().await.contains("event: message.delta") {
                    return started.elapsed();
                }
            }
        };
        let (sent, ttft) = tokio::join!(sent, first_delta);
        assert_eq!(sent.unwrap().status(), 201);
        samples.push(ttft);
        while !events.next().await.contains("event: message.completed") {}
    }
    samples
}

/// The upstream alone, in the same shape.
async fn upstream_stream(base_url: String, rounds: usize, mut seed: u64) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
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
        samples.push(started.elapsed());
        while !blocks.next().await.contains("[DONE]") {}
    }
    samples
}

async fn run<F, Fut>(streams: usize, make: F) -> Vec<Duration>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Vec<Duration>> + Send + 'static,
{
    let tasks: Vec<_> = (0..streams as u64).map(|i| tokio::spawn(make(0x9E37_79B9_7F4A_7C15 ^ (i + 1)))).collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
        let dir = tempfile::tempdir().unwrap();
        let database_url = std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
        let fake = FakeOpenAi::start().await;
        let reply: String = (0..PIECES).map(|i| format!("word{i} ")).collect();
        fake.set_default(Script::slow_words(reply.trim_end(), PIECE_PAUSE));
        let mut config = Config::for_database(database_url.clone());
        config.openai_api_key = Some("bench".into());
        config.openai_base_url = fake.base_url();
        config.sends_per_minute = 100_000;
        let state = build_state(config).await.expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(frontdesk::server::serve(listener, router(state), std::future::pending()));

        println!("Time to first token added by Frontdesk over the upstream");
        println!(
            "database {database_url}; {rounds} messages per stream; replies of {PIECES} pieces {PIECE_PAUSE:?} apart"
        );
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11}",
            "streams", "app p50", "app p99", "up p50", "up p99", "added p50", "added p99"
        );
        for streams in [1usize, 64] {
            run(streams.min(8), |seed| app_stream(base.clone(), 1, seed)).await; // warm-up
            let app = run(streams, |seed| app_stream(base.clone(), rounds, seed)).await;
            let upstream = run(streams, |seed| upstream_stream(fake.base_url(), rounds, seed)).await;
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let (a50, a99) = (ms(percentile(&app, 50.0)), ms(percentile(&app, 99.0)));
            let (u50, u99) = (ms(percentile(&upstream, 50.0)), ms(percentile(&upstream, 99.0)));
            println!(
                "{streams:>8} {a50:>8.2}ms {a99:>8.2}ms {u50:>8.2}ms {u99:>8.2}ms {:>9.2}ms {:>9.2}ms",
                a50 - u50,
                a99 - u99
            );
        }
    });
}
