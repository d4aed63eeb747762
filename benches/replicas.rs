//! Two replicas on one PostgreSQL database, as a client sees them: two server processes (the
//! release binary), the fake OpenAI server in a third, and this program the client over real HTTP.
//!
//! - 64 browser-like streams (as in `ttft.rs`: one SSE connection each, messages in a loop, replies
//!   of 54 pieces 20 ms apart) on one replica, then spread over both (even streams on one, odd on
//!   the other): time to first token added over the upstream alone, and completed replies per
//!   second of two replicas against one.
//! - Cross-replica latency: 16 visitors each follow their chat on both replicas and send on the
//!   first; a sample is how much later an event arrived on the second than on the first.
//!
//! Goals: added ≤ 5 ms p50 and ≤ 20 ms p99 at 64 streams over two replicas; completed replies
//! per second of two replicas at least 98% of one; cross-replica latency ≤ 5 ms p50 and ≤ 50 ms
//! p99. Needs BENCH_POSTGRES_URL (an admin URL; `make bench` finds or starts a PostgreSQL).

mod common;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use common::{
    ms, new_chat, percentile, report,
    streams::{app_stream, pause, run, upstream_stream},
    visitor, Blocks, Server, Upstream,
};

const PIECES: usize = 54;
const PIECE_PAUSE: Duration = Duration::from_millis(20);

/// One visitor following their chat on `a` and on `b`, sending `rounds` messages on `a` (each
/// answered before the next): for every event, how much later it arrived on `b`.
async fn cross_replica(a: String, b: String, rounds: usize, mut seed: u64) -> Vec<Duration> {
    let client = visitor();
    let (chat, last_seq) = new_chat(&client, &a).await;
    let follow = |base: &str| client.get(format!("{base}/api/v1/chats/{chat}/events?after={last_seq}")).send();
    let (on_a, on_b) = (Blocks::new(follow(&a).await.unwrap()), Blocks::new(follow(&b).await.unwrap()));
    // Each side's arrival time per sequence number, until `rounds` replies completed.
    let arrivals = |mut blocks: Blocks| async move {
        let mut seen = HashMap::new();
        let mut completed = 0;
        while completed < rounds {
            let block = blocks.next().await;
            let at = Instant::now();
            if let Some(seq) =
                block.lines().find_map(|l| l.strip_prefix("id:")).and_then(|v| v.trim().parse::<i64>().ok())
            {
                seen.insert(seq, at);
            }
            if block.contains("event: message.completed") {
                completed += 1;
            }
        }
        seen
    };
    let (on_a, on_b) = (tokio::spawn(arrivals(on_a)), tokio::spawn(arrivals(on_b)));
    for round in 0..rounds {
        tokio::time::sleep(pause(&mut seed)).await;
        let response = client
            .post(format!("{a}/api/v1/chats/{chat}/messages?wait=true"))
            .json(&serde_json::json!({"content": format!("question {round}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "sending failed: {}", response.text().await.unwrap_or_default());
    }
    let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
    on_a.iter().filter_map(|(seq, at_a)| on_b.get(seq).map(|at_b| at_b.saturating_duration_since(*at_a))).collect()
}

fn main() {
    common::serve_upstream_if_asked(PIECES, PIECE_PAUSE);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
        let Some((database_url, admin, name)) = common::postgres_database().await else {
            println!("replicas: set BENCH_POSTGRES_URL (an admin URL) to run this benchmark; `make bench` does");
            return;
        };
        let upstream = Upstream::start().await;
        let env = [("OPENAI_API_KEY", "bench"), ("OPENAI_BASE_URL", upstream.base_url.as_str())];
        let first = Server::start(Some(&database_url), &env).await;
        let second = Server::start(Some(&database_url), &env).await;
        let (a, b) = (first.base.clone(), second.base.clone());

        println!("Two replicas on one PostgreSQL database (2 servers, upstream and client in 4 processes)");
        println!("{rounds} messages per stream; replies of {PIECES} pieces {PIECE_PAUSE:?} apart");
        // Warm-up: every pooled connection of both has prepared the statements of a send.
        run(32, |i, seed| app_stream(if i % 2 == 0 { a.clone() } else { b.clone() }, 3, seed)).await;

        let (one, _, one_rate) = run(64, |_, seed| app_stream(a.clone(), rounds, seed)).await;
        let (two, _, two_rate) =
            run(64, |i, seed| app_stream(if i % 2 == 0 { a.clone() } else { b.clone() }, rounds, seed)).await;
        let url = upstream.base_url.clone();
        let (up, _, up_rate) = run(64, |_, seed| upstream_stream(url.clone(), rounds, seed)).await;
        println!(
            "{:>22} {:>10} {:>10} {:>11} {:>11} {:>8}",
            "64 streams", "p50", "p99", "added p50", "added p99", "rep/s"
        );
        let (u50, u99) = (ms(percentile(&up, 50.0)), ms(percentile(&up, 99.0)));
        for (what, samples, rate) in [("one replica", &one, one_rate), ("two replicas", &two, two_rate)] {
            let (p50, p99) = (ms(percentile(samples, 50.0)), ms(percentile(samples, 99.0)));
            println!("{what:>22} {p50:>8.2}ms {p99:>8.2}ms {:>9.2}ms {:>9.2}ms {rate:>8.1}", p50 - u50, p99 - u99);
        }
        println!("{:>22} {u50:>8.2}ms {u99:>8.2}ms {:>11} {:>11} {up_rate:>8.1}", "upstream alone", "", "");

        let mut lag: Vec<Duration> = Vec::new();
        let tasks: Vec<_> = (0..16u64)
            .map(|i| tokio::spawn(cross_replica(a.clone(), b.clone(), rounds, 0x2545_F491_4F6C_DD1D ^ (i + 1))))
            .collect();
        for task in tasks {
            lag.extend(task.await.unwrap());
        }
        lag.sort();
        println!(
            "cross-replica: {} events, p50 {:.2} ms, p99 {:.2} ms",
            lag.len(),
            ms(percentile(&lag, 50.0)),
            ms(percentile(&lag, 99.0))
        );

        let two = (ms(percentile(&two, 50.0)) - u50, ms(percentile(&two, 99.0)) - u99);
        report("added time to first token, 64 streams over two replicas, p50", two.0, "ms", 5.0, true);
        report("added time to first token, 64 streams over two replicas, p99", two.1, "ms", 20.0, true);
        report("completed replies per second, two replicas vs one", two_rate / one_rate * 100.0, "%", 98.0, false);
        report("an event on the other replica, later by, p50", ms(percentile(&lag, 50.0)), "ms", 5.0, true);
        report("an event on the other replica, later by, p99", ms(percentile(&lag, 99.0)), "ms", 50.0, true);
        drop((first, second));
        common::drop_postgres_database(&admin, &name).await;
    });
}
