//! What the benchmarks share: the server as a process of its own (the release binary cargo built
//! for this bench), the fake OpenAI server in another process, an SSE reader, percentiles, and
//! the resident memory of a process. Clients talk to the server over real HTTP and WebSockets.
#![allow(dead_code)]

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::{stream::BoxStream, StreamExt};

#[path = "../../tests/support/fake_openai.rs"]
pub mod fake_openai;
pub mod knowledge;
pub mod streams;

/// Set in the environment of this program re-run as the fake upstream.
const UPSTREAM_MODE: &str = "FRONTDESK_BENCH_UPSTREAM";

/// A reply of `pieces` words, `pause` apart, like a model streams.
pub fn reply_script(pieces: usize, pause: Duration) -> fake_openai::Script {
    let text: String = (0..pieces).map(|i| format!("word{i} ")).collect();
    fake_openai::Script::slow_words(text.trim_end(), pause)
}

/// When this program was started as the fake upstream: serve until killed (never returns).
pub fn serve_upstream_if_asked(pieces: usize, pause: Duration) {
    let Ok(port_file) = std::env::var(UPSTREAM_MODE) else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let fake = fake_openai::FakeOpenAi::start().await;
        fake.set_default(reply_script(pieces, pause));
        std::fs::write(&port_file, fake.addr.unwrap().port().to_string()).unwrap();
        std::future::pending::<()>().await;
    });
    std::process::exit(0);
}

/// The fake OpenAI server in a process of its own: this program, re-run.
pub struct Upstream {
    child: Child,
    pub base_url: String,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new(std::env::current_exe().unwrap())
            .env(UPSTREAM_MODE, &port_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("the fake upstream starts");
        let port =
            wait_for(Duration::from_secs(20), || std::fs::read_to_string(&port_file).ok().filter(|p| !p.is_empty()))
                .await
                .expect("the fake upstream wrote its port");
        Upstream { child, base_url: format!("http://127.0.0.1:{port}/v1") }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 20 ms until it answers, or gives up after `limit`.
pub async fn wait_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Frontdesk server binary (release, as `cargo bench` builds it) in a process of its own.
pub struct Server {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server on `database_url` (a temporary SQLite file when `None`) with `env`, and
    /// waits until it answers /readyz.
    pub async fn start(database_url: Option<&str>, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database_url =
            database_url.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // BENCH_SERVER_BIN: another build of the server (an earlier commit's, to compare in one run).
        let bin = std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_frontdesk").to_string());
        let mut command = Command::new(bin);
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", &database_url)
            .env("FRONTDESK_ADDR", format!("127.0.0.1:{port}"))
            .env("FRONTDESK_ADMIN_PASSWORD", "bench-admin-password")
            // Every client here is one visitor network on 127.0.0.1; the budgets stay on (their
            // checks are part of what a send costs) but far out of reach.
            .env("FRONTDESK_CALLS_PER_MINUTE", "100000")
            .env("FRONTDESK_CALLS_PER_NETWORK_PER_MINUTE", "1000000")
            .env("FRONTDESK_CALLS_PER_MINUTE_TOTAL", "10000000")
            .env("FRONTDESK_TOKENS_PER_VISITOR_PER_DAY", "1000000000000")
            .env("FRONTDESK_TOKENS_PER_NETWORK_PER_DAY", "1000000000000")
            .env("FRONTDESK_TOKENS_PER_DAY", "1000000000000")
            // BENCH_SERVER_LOG (a RUST_LOG filter) shows the server's own logs, to profile a run
            // (FRONTDESK_LOG_FORMAT=json makes them easy to sum up).
            .env("RUST_LOG", std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(if std::env::var_os("BENCH_SERVER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("the server starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the server did not become ready in a minute");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, base, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database for one run when `BENCH_POSTGRES_URL` (an admin URL) is set:
/// its URL, and the admin URL and name to drop it by afterwards.
pub async fn postgres_database() -> Option<(String, String, String)> {
    let admin = std::env::var("BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    sqlx::any::install_default_drivers();
    let name = format!("fd_bench_{}", std::process::id());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("PostgreSQL answers");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap();
    Some((format!("{base}/{name}"), admin, name))
}

pub async fn drop_postgres_database(admin: &str, name: &str) {
    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await {
        let _ =
            sqlx::Executor::execute(&mut conn, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
    }
}

/// A process's resident memory in MiB (Linux: /proc/PID/status).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p`th percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints a figure with its goal and whether it is met.
pub fn report(what: &str, figure: f64, unit: &str, goal: f64, lower_is_better: bool) {
    let met = if lower_is_better { figure <= goal } else { figure >= goal };
    let relation = if lower_is_better { "≤" } else { "≥" };
    println!(
        "{what:<58} {figure:>10.2} {unit:<4} goal {relation} {goal} {unit}: {}",
        if met { "met" } else { "MISSED" }
    );
}

/// Reads an SSE body block by block (`event`/`data` lines up to a blank line).
pub struct Blocks {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Blocks {
    pub fn new(response: reqwest::Response) -> Self {
        Blocks { body: response.bytes_stream().boxed(), buffer: String::new() }
    }

    pub async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                return self.buffer.drain(..end + 2).collect();
            }
            let chunk = self.body.next().await.expect("the stream stays open").expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// A visitor with their own cookie jar.
pub fn visitor() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().unwrap()
}

/// Creates a chat for `client`: its id and newest sequence number.
pub async fn new_chat(client: &reqwest::Client, base: &str) -> (i64, i64) {
    let chat: serde_json::Value = client
        .post(format!("{base}/api/v1/chats"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (chat["id"].as_i64().unwrap(), chat["last_seq"].as_i64().unwrap())
}
