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

use std::time::Duration;

use common::{
    ms, percentile, report,
    streams::{app_stream, run, upstream_stream},
    Server, Upstream,
};

const PIECES: usize = 54;
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
        run(32, |_, seed| app_stream(base.clone(), 3, seed)).await;
        for streams in [1usize, 64] {
            let (app, app_steady, app_rate) = run(streams, |_, seed| app_stream(base.clone(), rounds, seed)).await;
            let url = upstream.base_url.clone();
            let (up, up_steady, up_rate) = run(streams, |_, seed| upstream_stream(url.clone(), rounds, seed)).await;
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
