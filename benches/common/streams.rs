//! Browser-like streams for the time-to-first-token benchmarks: a visitor sending messages in a
//! loop over one SSE connection, the upstream alone in the same shape, and a run of many at once.

use std::time::{Duration, Instant};

use super::{new_chat, visitor, Blocks};

pub fn pause(seed: &mut u64) -> Duration {
    // xorshift: a deterministic 0–100 ms pause per stream and round.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_millis(*seed % 100)
}

/// One browser-like visitor: one SSE connection, `rounds` messages; (round, sample) each.
pub async fn app_stream(base: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
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
                // As the window sends: with the client's id for the message (a retry creates nothing new).
                .json(&serde_json::json!({"content": format!("question {round}"), "client_id": format!("c{seed}-{round}")}))
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

/// A new visitor each round, as the window starts a conversation: the chat is created, then its
/// event stream opens as the first message goes out (the window's first send does both at once).
/// A sample runs from creating the chat to the reply's first delta.
pub async fn new_chat_stream(base: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        // A new browser: its own cookie jar and connections.
        let client = visitor();
        let started = Instant::now();
        let (chat, last_seq) = new_chat(&client, &base).await;
        let stream = async {
            let events =
                client.get(format!("{base}/api/v1/chats/{chat}/events?after={last_seq}")).send().await.unwrap();
            let mut events = Blocks::new(events);
            loop {
                if events.next().await.contains("event: message.delta") {
                    return (started.elapsed(), events);
                }
            }
        };
        let sent = async {
            let response = client
                .post(format!("{base}/api/v1/chats/{chat}/messages"))
                .json(&serde_json::json!({"content": format!("first question {round}"), "client_id": format!("n{seed}-{round}")}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert_eq!(status, 201, "sending failed: {}", response.text().await.unwrap_or_default());
        };
        let ((ttft, mut events), ()) = tokio::join!(stream, sent);
        samples.push((round, ttft));
        while !events.next().await.contains("event: message.completed") {}
    }
    samples
}

/// A new visitor each round, as the window sends a first message: one request creates the chat
/// with the message (its reply starts at once), then the chat's event stream opens without a
/// sequence number, so it begins with the reply being written. A sample runs from that request
/// to the reply's first delta.
pub async fn first_message_stream(base: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        let client = visitor();
        let started = Instant::now();
        let message =
            serde_json::json!({"content": format!("first question {round}"), "client_id": format!("f{seed}-{round}")});
        let response = client
            .post(format!("{base}/api/v1/chats"))
            .json(&serde_json::json!({"message": message}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "starting failed");
        let chat: serde_json::Value = response.json().await.unwrap();
        let chat = chat["id"].as_i64().unwrap();
        let events = client.get(format!("{base}/api/v1/chats/{chat}/events")).send().await.unwrap();
        let mut events = Blocks::new(events);
        while !events.next().await.contains("event: message.delta") {}
        samples.push((round, started.elapsed()));
        while !events.next().await.contains("event: message.completed") {}
    }
    samples
}

/// The upstream alone, in the same shape.
pub async fn upstream_stream(base_url: String, rounds: usize, mut seed: u64) -> Vec<(usize, Duration)> {
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

/// Runs `streams` streams at once (`make(index, seed)` makes each): all samples sorted, those after every stream's first round
/// sorted (the first round starts every stream within 100 ms: a burst, not a steady state), and
/// completed replies per second.
pub async fn run<F, Fut>(streams: usize, make: F) -> (Vec<Duration>, Vec<Duration>, f64)
where
    F: Fn(usize, u64) -> Fut,
    Fut: std::future::Future<Output = Vec<(usize, Duration)>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..streams).map(|i| tokio::spawn(make(i, 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1)))).collect();
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
