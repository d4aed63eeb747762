//! Load benchmarks of the live core, each printing its figure and its goal. The server runs as
//! a process of its own (the release binary) and this program is the client over real HTTP and
//! WebSockets, except the write count, which reads the server's own counter in process.
//!
//! - 10,000 idle WebSocket clients: the server's resident memory (goal ≤ 150 MiB).
//! - One event fanned out to 1,000 sockets: time from the send to each socket's frame (p99 ≤ 50 ms).
//! - 200 concurrent writers on SQLite: failed requests, "database is locked" among them (goal 0).
//! - First page of a 10,000-message chat over HTTP (p95 ≤ 5 ms).
//! - Database writes per customer message with 50 staff sockets open (goal ≤ 2).
//! - A flood of bad staff sign-ins from many networks: other requests' latency (goal ≤ 2× idle).
//!
//! `make bench`; BENCH_ONLY=idle|fanout|writers|page|writes|logins runs one.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::{ms, percentile, report, Server, Upstream};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as Ws};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const ADMIN_PASSWORD: &str = "bench-admin-password";

/// A new visitor's chat: its id and the visitor's session cookie.
async fn visitor_chat(client: &reqwest::Client, base: &str) -> (i64, String) {
    let response = client.post(format!("{base}/api/v1/chats")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let chat: Value = response.json().await.unwrap();
    (chat["id"].as_i64().unwrap(), cookie)
}

async fn open_ws(base: &str, path: &str, cookie: &str) -> Socket {
    let mut request = format!("{}{path}", base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect("the WebSocket opens").0
}

/// The first admin's session cookie (the server creates the admin with FRONTDESK_ADMIN_PASSWORD).
async fn admin_cookie(base: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@frontdesk.local", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// A person takes the chat over: customer messages then get no reply (one write each).
async fn take_over(base: &str, admin: &str, chat: i64) {
    let response = reqwest::Client::new()
        .patch(format!("{base}/api/v1/admin/inquiries/{chat}"))
        .header("cookie", admin)
        .json(&json!({"ai_enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn idle_sockets() {
    const SOCKETS: usize = 10_000;
    let server = Server::start(None, &[]).await;
    let before = server.rss_mib();
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let sockets: Vec<Socket> = futures::stream::iter(0..SOCKETS)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let (chat, cookie) = visitor_chat(&client, &base).await;
                open_ws(&base, &format!("/api/v1/chats/{chat}/ws"), &cookie).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let after = server.rss_mib();
    println!(
        "idle sockets: {} open; server RSS {before:.1} MiB before, {after:.1} MiB after ({:.1} KiB per socket)",
        sockets.len(),
        (after - before) * 1024.0 / SOCKETS as f64
    );
    report("server RSS with 10,000 idle WebSocket clients", after, "MiB", 150.0, true);
    drop(sockets);
}

async fn fan_out() {
    const SOCKETS: usize = 1_000;
    const ROUNDS: usize = 20;
    let server = Server::start(None, &[("FRONTDESK_OFFLINE_WORD_DELAY_MS", "0")]).await;
    let client = reqwest::Client::new();
    let (chat, cookie) = visitor_chat(&client, &server.base).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    for _ in 0..SOCKETS {
        let mut socket = open_ws(&server.base, &format!("/api/v1/chats/{chat}/ws"), &cookie).await;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(Ws::Text(text))) = socket.next().await {
                let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                if frame["type"] == "message.created" && frame["data"]["role"] == "user" {
                    let round = frame["data"]["content"]
                        .as_str()
                        .and_then(|c| c.strip_prefix("round "))
                        .and_then(|r| r.parse().ok());
                    if let Some(round) = round {
                        let _ = tx.send((round, Instant::now()));
                    }
                }
            }
        });
    }
    let mut samples = Vec::with_capacity(SOCKETS * ROUNDS);
    for round in 0..ROUNDS {
        let started = Instant::now();
        let response = client
            .post(format!("{}/api/v1/chats/{chat}/messages?wait=true", server.base))
            .header("cookie", &cookie)
            .json(&json!({"content": format!("round {round}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let mut received = 0;
        while received < SOCKETS {
            let (r, at) =
                tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("every socket got it").unwrap();
            if r == round {
                samples.push(at - started);
                received += 1;
            }
        }
    }
    samples.sort();
    println!(
        "fan-out: {SOCKETS} sockets × {ROUNDS} events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(*samples.last().unwrap())
    );
    report("one event to 1,000 sockets, p99", ms(percentile(&samples, 99.0)), "ms", 50.0, true);
}

async fn concurrent_writers() {
    const WRITERS: usize = 200;
    const MESSAGES: usize = 5;
    let upstream = Upstream::start().await;
    let server = Server::start(None, &[("OPENAI_API_KEY", "bench"), ("OPENAI_BASE_URL", &upstream.base_url)]).await;
    let base = server.base.clone();
    let started = Instant::now();
    let outcomes: Vec<(usize, usize, Vec<String>)> = futures::future::join_all((0..WRITERS).map(|_| {
        let base = base.clone();
        async move {
            let client = common::visitor();
            let (chat, _) = common::new_chat(&client, &base).await;
            let (mut ok, mut failed, mut reasons) = (0, 0, Vec::new());
            for i in 0..MESSAGES {
                let response = client
                    .post(format!("{base}/api/v1/chats/{chat}/messages?wait=true"))
                    .json(&json!({"content": format!("message {i}")}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                if status == 201 && body["reply"]["status"] == "complete" {
                    ok += 1;
                } else {
                    failed += 1;
                    reasons.push(format!("{status} {body}"));
                }
            }
            (ok, failed, reasons)
        }
    }))
    .await;
    let ok: usize = outcomes.iter().map(|o| o.0).sum();
    let failed: usize = outcomes.iter().map(|o| o.1).sum();
    let locked = outcomes.iter().flat_map(|o| &o.2).filter(|r| r.contains("locked")).count();
    println!(
        "writers: {WRITERS} visitors × {MESSAGES} messages with streamed replies in {:.1} s: {ok} complete, {failed} failed ({locked} mention a lock)",
        started.elapsed().as_secs_f64()
    );
    if let Some(reason) = outcomes.iter().flat_map(|o| &o.2).next() {
        println!("  first failure: {reason}");
    }
    report("failed requests, 200 concurrent writers on SQLite", failed as f64, "", 0.0, true);
}

async fn first_page() {
    const MESSAGES: usize = 10_000;
    const READS: usize = 500;
    let server = Server::start(None, &[]).await;
    let client = reqwest::Client::new();
    let (chat, cookie) = visitor_chat(&client, &server.base).await;
    take_over(&server.base, &admin_cookie(&server.base).await, chat).await;
    let url = format!("{}/api/v1/chats/{chat}/messages", server.base);
    futures::stream::iter(0..MESSAGES)
        .for_each_concurrent(4, |i| {
            let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
            async move {
                let response = client
                    .post(url)
                    .header("cookie", cookie)
                    .json(&json!({"content": format!("message {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
            }
        })
        .await;
    let mut samples = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        let page: Value =
            client.get(format!("{url}?limit=20")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
        samples.push(started.elapsed());
        assert_eq!(page["messages"].as_array().unwrap().len(), 20);
    }
    samples.sort();
    println!(
        "first page: {MESSAGES} messages in the chat, {READS} reads of the newest 20: p50 {:.2} ms, p95 {:.2} ms",
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 95.0))
    );
    report("first page of a 10,000-message chat, p95", ms(percentile(&samples, 95.0)), "ms", 5.0, true);
}

/// Latencies of `count` reads of a visitor's newest page (a database read) and the contexts.
async fn read_latencies(client: &reqwest::Client, base: &str, chat: i64, cookie: &str, count: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let url = if i % 2 == 0 {
            format!("{base}/api/v1/chats/{chat}/messages?limit=20")
        } else {
            format!("{base}/api/v1/contexts")
        };
        let started = Instant::now();
        let response = client.get(url).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

async fn login_flood() {
    const ATTACKERS: usize = 64;
    // Enough reads to span a few seconds of the flood.
    const READS: usize = 5000;
    // Behind a (trusted) load balancer, each guess from another network for another account: the
    // per-network and per-account throttles do not stop it, the bounded hashing must.
    let server = Server::start(None, &[("FRONTDESK_TRUST_PROXY", "true")]).await;
    let client = reqwest::Client::new();
    let (chat, cookie) = visitor_chat(&client, &server.base).await;
    read_latencies(&client, &server.base, chat, &cookie, 50).await; // warm up
    let idle = read_latencies(&client, &server.base, chat, &cookie, READS).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|a| {
            let (stop, attempts, base) = (stop.clone(), attempts.clone(), server.base.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let _ = client
                        .post(format!("{base}/api/v1/auth/login"))
                        .header("x-forwarded-for", format!("10.{a}.{}.{}", i / 250 % 250, i % 250))
                        .json(&json!({"email": format!("guess{a}-{i}@example.com"), "password": "not the password"}))
                        .send()
                        .await
                        .map(|r| r.status());
                    attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Measure once the flood is under way.
    common::wait_for(Duration::from_secs(30), || {
        (attempts.load(std::sync::atomic::Ordering::Relaxed) >= ATTACKERS).then_some(())
    })
    .await
    .expect("the flood started");
    let started = Instant::now();
    let flooded = read_latencies(&client, &server.base, chat, &cookie, READS).await;
    let elapsed = started.elapsed();
    let during = attempts.load(std::sync::atomic::Ordering::Relaxed);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for attacker in attackers {
        let _ = attacker.await;
    }
    let (idle50, idle99) = (ms(percentile(&idle, 50.0)), ms(percentile(&idle, 99.0)));
    let (flood50, flood99) = (ms(percentile(&flooded, 50.0)), ms(percentile(&flooded, 99.0)));
    println!(
        "sign-in flood: {ATTACKERS} clients guessing ({during} attempts in all, {:.0}/s while measured); \
         reads idle p50 {idle50:.2} ms p99 {idle99:.2} ms, under the flood p50 {flood50:.2} ms p99 {flood99:.2} ms",
        during as f64 / elapsed.as_secs_f64().max(0.001)
    );
    report("read latency under a sign-in flood, p50 against idle", flood50 / idle50, "×", 2.0, true);
    report("read latency under a sign-in flood, p99 against idle", flood99 / idle99, "×", 2.0, true);
}

/// Counted in process: the server's own count of committed changes, with clients over HTTP.
async fn writes_per_message() {
    use frontdesk::server::{app::Frontdesk, config::Config, http::router};
    const PANELS: usize = 50;
    const MESSAGES: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_database(format!("sqlite://{}/bench.db", dir.path().display()));
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.calls_per_minute = 100_000;
    config.calls_per_network_per_minute = 1_000_000;
    let state = Frontdesk::build(config.clone()).await.expect("the app starts");
    state.accounts.ensure_first_admin(&config.admin_email, Some(ADMIN_PASSWORD)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(frontdesk::server::serve(listener, router(state.clone()), std::future::pending()));
    let client = reqwest::Client::new();
    let (chat, cookie) = visitor_chat(&client, &base).await;
    let admin = admin_cookie(&base).await;
    take_over(&base, &admin, chat).await;
    let mut panels = Vec::new();
    for _ in 0..PANELS {
        panels.push(open_ws(&base, "/api/v1/admin/ws", &admin).await);
    }
    let writes = Arc::new(state.db.clone());
    let before = writes.write_count();
    for i in 0..MESSAGES {
        let response = client
            .post(format!("{base}/api/v1/chats/{chat}/messages"))
            .header("cookie", &cookie)
            .json(&json!({"content": format!("message {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // A last change every panel receives after it acknowledged every message before it.
    let response = client
        .patch(format!("{base}/api/v1/admin/inquiries/{chat}"))
        .header("cookie", &admin)
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for panel in &mut panels {
        loop {
            let Some(Ok(Ws::Text(text))) = panel.next().await else { panic!("a panel closed") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "chat.updated" && frame["data"]["priority"] == "low" {
                break;
            }
        }
        let _ = panel.send(Ws::Close(None)).await;
    }
    let per_message = (writes.write_count() - before - 1) as f64 / MESSAGES as f64;
    println!("writes: {MESSAGES} customer messages with {PANELS} staff panels open: {per_message:.2} writes each");
    report("database writes per customer message, 50 staff sockets", per_message, "", 2.0, true);
}

fn main() {
    common::serve_upstream_if_asked(10, Duration::from_millis(10));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let only = std::env::var("BENCH_ONLY").ok();
        let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
        if wanted("idle") {
            idle_sockets().await;
        }
        if wanted("fanout") {
            fan_out().await;
        }
        if wanted("writers") {
            concurrent_writers().await;
        }
        if wanted("page") {
            first_page().await;
        }
        if wanted("writes") {
            writes_per_message().await;
        }
        if wanted("logins") {
            login_flood().await;
        }
    });
}
