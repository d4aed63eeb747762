//! Several replicas on one PostgreSQL database: two servers (each its own hub, connections and
//! port) in this process; and, where a replica must die, two server processes.

use std::time::Duration;

use crate::{
    staff::{next_frame, open_ws, staff_cookie},
    support::{next_matching, process::ServerProcess, read, wait_for, Backend, Script, TestApp},
};
use frontdesk::{model::EventKind, server::identity::StaffRole};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as Ws;

/// Frames of a chat socket until one matches; every sequence number is the one after the last
/// (nothing missed, nothing twice) and typing frames are set aside.
async fn frames_until(
    socket: &mut crate::staff::Socket,
    last: &mut i64,
    seen: &mut Vec<Value>,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let frame = next_frame(socket).await.expect("the socket stays open");
        if frame["type"] == "typing" {
            continue;
        }
        let seq = frame["seq"].as_i64().unwrap_or_else(|| panic!("an event frame has a seq: {frame}"));
        assert_eq!(seq, *last + 1, "events arrive in order, each once: {frame}");
        *last = seq;
        seen.push(frame.clone());
        if matches(&frame) {
            return frame;
        }
    }
}

/// A staff member (by session cookie) answers in a chat through `app`.
async fn staff_says(app: &TestApp, staff: &str, chat: i64, content: &str) {
    let (status, body) = read(
        reqwest::Client::new()
            .post(app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")))
            .header("cookie", staff)
            .json(&json!({"content": content}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// A staff member ("Alice") on `app`: their cookie, their panel, and their socket on `chat` from
/// its newest event (`start`).
struct Following {
    start: i64,
    staff: String,
    panel: crate::staff::Socket,
    agent: crate::staff::Socket,
}

async fn staff_on(app: &TestApp, chat: i64) -> Following {
    let start = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let staff = staff_cookie(app, "agent@example.com", "Alice").await;
    let panel = open_ws(app, "/api/v1/admin/ws", Some(&staff), None).await.unwrap();
    let agent =
        open_ws(app, &format!("/api/v1/admin/inquiries/{chat}/ws?after={start}"), Some(&staff), None).await.unwrap();
    Following { start, staff, panel, agent }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_on_one_replica_and_staff_on_another_see_every_event_once_and_in_order() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.replica().await;
    let chat = a.new_chat().await;
    let Following { start, staff, mut panel, mut agent } = staff_on(&b, chat).await;
    let mut customer =
        open_ws(&a, &format!("/api/v1/chats/{chat}/ws?after={start}"), Some(&a.cookie_header()), None).await.unwrap();

    // The customer asks on A; the reply streams from A; staff on B see it token by token.
    a.fake().push(Script::slow_words("Your parcel left the warehouse today", Duration::from_millis(20)));
    let (status, sent) =
        a.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "Where is my parcel?"})).await;
    assert_eq!(status, 201, "{sent}");
    let reply = sent["reply"]["id"].as_i64().unwrap();
    let (mut agent_last, mut agent_seen) = (start, Vec::new());
    let done = frames_until(&mut agent, &mut agent_last, &mut agent_seen, |f| {
        f["type"] == "message.completed" && f["data"]["id"] == reply
    })
    .await;
    assert_eq!(done["data"]["content"], "Your parcel left the warehouse today");
    let streamed: String = agent_seen
        .iter()
        .filter(|f| f["type"] == "message.delta" && f["data"]["message_id"] == reply)
        .map(|f| f["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, "Your parcel left the warehouse today", "staff on B saw the reply as it streamed");
    assert!(agent_seen.iter().any(|f| f["type"] == "message.created" && f["data"]["content"] == "Where is my parcel?"));

    // B's panel heard of the question, with the conversation's summary.
    let question = loop {
        let frame = next_frame(&mut panel).await.unwrap();
        if frame["type"] == "message.created" && frame["data"]["role"] == "user" {
            break frame;
        }
    };
    assert_eq!(question["chat_id"], chat);
    assert_eq!(question["inquiry"]["chat"]["id"], chat, "{question}");

    // Staff answer on B; the customer on A sees everything, in order, then the agent typing.
    staff_says(&b, &staff, chat, "Alice here: it arrives tomorrow.").await;
    let (mut customer_last, mut customer_seen) = (start, Vec::new());
    frames_until(&mut customer, &mut customer_last, &mut customer_seen, |f| {
        f["type"] == "message.created" && f["data"]["role"] == "agent"
    })
    .await;
    assert!(customer_seen.iter().any(|f| f["type"] == "message.completed" && f["data"]["id"] == reply));
    agent.send(Ws::Text(json!({"typing": true}).to_string().into())).await.unwrap();
    let typing = loop {
        let frame = next_frame(&mut customer).await.unwrap();
        if frame["type"] == "typing" {
            break frame;
        }
    };
    assert_eq!(typing["data"], json!({"staff": true, "name": "Alice", "typing": true}));
    let scrape = frontdesk::server::metrics::get().render();
    assert!(
        scrape.lines().any(|l| l.starts_with("frontdesk_event_bus_lag_seconds_count ") && !l.ends_with(" 0")),
        "the lag of events from the other replica is measured: {scrape}"
    );

    // A follower that reconnects to the other replica resumes where it was.
    let mut resumed = b.events(chat, Some(start)).await;
    let mut replayed = Vec::new();
    next_matching(&mut resumed, &mut replayed, |e| e.seq == customer_last).await;
    let replayed: Vec<i64> = replayed.iter().map(|e| e.seq).collect();
    assert_eq!(replayed, ((start + 1)..=customer_last).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_take_over_sent_to_one_replica_stop_the_reply_another_writes() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.replica().await;
    let chat = a.new_chat().await;
    // A reply that would take a minute, written by A.
    let long = "word ".repeat(2_000);
    a.fake().push(Script::slow_words(&long, Duration::from_millis(30)));
    let mut events = a.events(chat, None).await;
    let (status, sent) = a.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "Tell me a story"})).await;
    assert_eq!(status, 201, "{sent}");
    let reply = sent["reply"]["id"].as_i64().unwrap();
    let mut seen = Vec::new();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageDelta).await;
    assert_eq!(a.state.replies.running_count(), 1);

    // The customer's Stop reaches B: A's task ends the reply, its text kept.
    let (status, stopped) =
        read(a.client.post(b.url(&format!("/api/v1/chats/{chat}/messages/{reply}/stop"))).send().await.unwrap()).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert!(stopped["content"].as_str().unwrap().starts_with("word"), "{stopped}");
    let replies = a.state.replies.clone();
    wait_for("A's task to end", || replies.running_count() == 0).await;

    // Staff taking over on B stop the next reply A writes.
    a.fake().push(Script::slow_words(&long, Duration::from_millis(30)));
    let (status, sent) = a.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "Go on"})).await;
    assert_eq!(status, 201, "{sent}");
    let second = sent["reply"]["id"].as_i64().unwrap();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageDelta && e.data["message_id"] == second)
        .await;
    let staff = staff_cookie(&b, "agent@example.com", "Alice").await;
    staff_says(&b, &staff, chat, "Alice here, I will take it from here.").await;
    let ended =
        next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == second)
            .await;
    assert_eq!(ended.data["status"], "stopped", "{:?}", ended.data);
    wait_for("A's task to end", || replies.running_count() == 0).await;
}

/// A replica as it runs in production: its own process on `database_url`, its assistant the fake
/// OpenAI server; its base URL.
async fn replica_process(
    database_url: &str,
    fake: &crate::support::FakeOpenAi,
    settings: &[(&str, &str)],
) -> (ServerProcess, String) {
    let base_url = fake.base_url();
    let mut all = vec![
        ("DATABASE_URL", database_url),
        ("FRONTDESK_DB_CONNECTIONS", "4"),
        ("OPENAI_API_KEY", "test-key"),
        ("OPENAI_BASE_URL", base_url.as_str()),
        ("OPENAI_MODEL", "fake-model"),
        ("FRONTDESK_ADMIN_PASSWORD", "a-long-enough-password"),
    ];
    all.extend_from_slice(settings);
    let process = ServerProcess::start(&all).await;
    let base = process.base.clone();
    (process, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_replica_is_killed_ends_interrupted_and_the_chat_goes_on_with_another() {
    let db = crate::support::TestDb::new(Backend::Postgres).await;
    let fake = crate::support::FakeOpenAi::start().await;
    let (mut a, a_base) = replica_process(&db.url, &fake, &[]).await;
    let (_b, b_base) = replica_process(&db.url, &fake, &[]).await;
    let (visitor, _) = crate::support::visitor();
    let post = |url: String, body: Value| {
        let visitor = visitor.clone();
        async move { read(visitor.post(url).json(&body).send().await.unwrap()).await }
    };
    let (status, chat) = post(format!("{a_base}/api/v1/chats"), json!({})).await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    let mut on_b = crate::support::sse_events(&visitor, &format!("{b_base}/api/v1/chats/{chat}/events"), None).await;

    // A writes a long reply; B's follower sees it start; then A is killed (SIGKILL).
    fake.push(Script::slow_words(&"word ".repeat(2_000), Duration::from_millis(30)));
    let (status, sent) =
        post(format!("{a_base}/api/v1/chats/{chat}/messages"), json!({"content": "Tell me a story"})).await;
    assert_eq!(status, 201, "{sent}");
    let reply = sent["reply"]["id"].as_i64().unwrap();
    let mut seen = Vec::new();
    next_matching(&mut on_b, &mut seen, |e| e.kind == EventKind::MessageDelta && e.data["message_id"] == reply).await;
    a.kill();

    // B marks it interrupted (its text kept) once A's lease runs out, and answers from then on.
    let ended =
        next_matching(&mut on_b, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply).await;
    assert_eq!(ended.data["status"], "interrupted", "{:?}", ended.data);
    assert!(ended.data["content"].as_str().unwrap().starts_with("word"), "the text so far is kept: {:?}", ended.data);
    fake.push(Script::words("Still here to help."));
    let (status, sent) =
        post(format!("{b_base}/api/v1/chats/{chat}/messages"), json!({"content": "Hello again?"})).await;
    assert_eq!(status, 201, "{sent}");
    let again = sent["reply"]["id"].as_i64().unwrap();
    let done =
        next_matching(&mut on_b, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == again).await;
    assert_eq!(done.data["content"], "Still here to help.");
    assert_eq!(done.data["status"], "complete");
}

/// `(status, content)` of a message, read from the database.
async fn stored_message(database_url: &str, id: i64) -> (String, String) {
    let pool = sqlx::AnyPool::connect(database_url).await.unwrap();
    sqlx::query_as("SELECT status, content FROM messages WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap()
}

/// A chat on `base` for `visitor`, its customer WebSocket, and the reply to `question` (whose first
/// token has arrived on the socket).
async fn a_reply_under_way(
    base: &str,
    visitor: &reqwest::Client,
    jar: &reqwest::cookie::Jar,
    question: &str,
) -> (crate::staff::Socket, i64) {
    use reqwest::cookie::CookieStore;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (status, chat) =
        read(visitor.post(format!("{base}/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    let last = chat_last_seq(base, visitor, chat).await;
    let mut request =
        format!("{}/api/v1/chats/{chat}/ws?after={last}", base.replace("http", "ws")).into_client_request().unwrap();
    let cookie = jar.cookies(&base.parse().unwrap()).unwrap();
    request.headers_mut().insert("cookie", cookie);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (status, sent) = read(
        visitor
            .post(format!("{base}/api/v1/chats/{chat}/messages"))
            .json(&json!({"content": question}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let reply = sent["reply"]["id"].as_i64().unwrap();
    loop {
        let frame = next_frame(&mut socket).await.unwrap();
        if frame["type"] == "message.delta" && frame["data"]["message_id"] == reply {
            return (socket, reply);
        }
    }
}

/// The visitor's one chat.
async fn visitor_chat(base: &str, visitor: &reqwest::Client) -> i64 {
    let (_, body) = read(visitor.get(format!("{base}/api/v1/chats")).send().await.unwrap()).await;
    body["chats"][0]["id"].as_i64().unwrap_or_else(|| panic!("the visitor has a chat: {body}"))
}

async fn chat_last_seq(base: &str, visitor: &reqwest::Client, chat: i64) -> i64 {
    let (_, body) = read(visitor.get(format!("{base}/api/v1/chats/{chat}")).send().await.unwrap()).await;
    body["last_seq"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_told_to_stop_closes_its_sockets_to_reconnect_lets_its_reply_finish_and_leaves() {
    let db = crate::support::TestDb::new(Backend::Postgres).await;
    let fake = crate::support::FakeOpenAi::start().await;
    let (a, base) = replica_process(&db.url, &fake, &[("FRONTDESK_SHUTDOWN_GRACE_SECS", "30")]).await;
    let (visitor, jar) = crate::support::visitor();
    let text = "one two three four five six seven eight nine ten eleven twelve";
    fake.push(Script::slow_words(text, Duration::from_millis(80)));
    let (mut socket, reply) = a_reply_under_way(&base, &visitor, &jar, "Count to twelve").await;
    let chat = visitor_chat(&base, &visitor).await;
    let mut sse = crate::support::sse_events(&visitor, &format!("{base}/api/v1/chats/{chat}/events"), None).await;

    let exited = tokio::spawn(a.terminate());
    // The socket closes with "service restart" (reconnect at once, elsewhere)...
    let code = loop {
        match next_frame(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(code, 1012);
    // ...and the event stream ends (EventSource reconnects by itself).
    let ended = tokio::time::timeout(Duration::from_secs(20), async { while sse.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the event stream ended");
    // ...while the reply it was writing finishes, and the replica leaves cleanly.
    assert!(exited.await.unwrap().success());
    assert_eq!(stored_message(&db.url, reply).await, ("complete".to_string(), text.to_string()));
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (replicas,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM replicas").fetch_one(&pool).await.unwrap();
    assert_eq!(replicas, 0, "it left the replicas' list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_still_being_written_when_the_grace_runs_out_ends_interrupted_with_its_text_on_every_replica() {
    let db = crate::support::TestDb::new(Backend::Postgres).await;
    let fake = crate::support::FakeOpenAi::start().await;
    let (a, base) = replica_process(&db.url, &fake, &[("FRONTDESK_SHUTDOWN_GRACE_SECS", "0")]).await;
    let (_b, other) = replica_process(&db.url, &fake, &[]).await;
    let (visitor, jar) = crate::support::visitor();
    fake.push(Script::slow_words(&"word ".repeat(2_000), Duration::from_millis(30)));
    let (_socket, reply) = a_reply_under_way(&base, &visitor, &jar, "Tell me a story").await;
    // The visitor also follows the chat on the other replica (as after a reconnect there).
    let chat = visitor_chat(&base, &visitor).await;
    let mut on_other = crate::support::sse_events(&visitor, &format!("{other}/api/v1/chats/{chat}/events"), None).await;
    let mut seen = Vec::new();
    next_matching(&mut on_other, &mut seen, |e| e.kind == EventKind::MessageDelta && e.data["message_id"] == reply)
        .await;
    assert!(a.terminate().await.success());
    let (status, content) = stored_message(&db.url, reply).await;
    assert_eq!(status, "interrupted");
    assert!(content.starts_with("word"), "the text so far is kept: {content}");
    // The end it wrote on its way out reached the other replica's follower.
    let ended =
        next_matching(&mut on_other, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply)
            .await;
    assert_eq!(ended.data["status"], "interrupted");
    assert_eq!(ended.data["content"], content.as_str());
}

/// Two replicas on a new PostgreSQL database, both settings changed by `configure`, once each
/// sees the other (from then on they share allowances).
async fn two_replicas(
    configure: impl FnOnce(&mut frontdesk::server::config::Config) + Send + 'static,
) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(
        Backend::Postgres,
        crate::support::Options { configure: Box::new(configure), ..Default::default() },
    )
    .await;
    let b = a.replica().await;
    let (on_a, on_b) = (a.state.clone(), b.state.clone());
    wait_for("the replicas to see each other", || on_a.hub.peers() > 0 && on_b.hub.peers() > 0).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_a_visitors_messages_per_minute_and_an_accounts_sign_in_attempts() {
    let (a, b) = two_replicas(|config| {
        config.calls_per_minute = 3;
        config.calls_per_minute_total = 4;
        config.sign_ins_per_account = 2;
    })
    .await;

    // Three messages a minute, wherever they land: each replica alone would take three.
    let chat = a.new_chat().await;
    for (i, app) in [&a, &b, &a].into_iter().enumerate() {
        let (status, body) = app
            .post(&format!("/api/v1/chats/{chat}/messages?wait=true"), json!({"content": format!("question {i}")}))
            .await;
        assert_eq!(status, 201, "message {i}: {body}");
    }
    let response = b
        .client
        .post(b.url(&format!("/api/v1/chats/{chat}/messages")))
        .json(&json!({"content": "one more"}))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = read(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let message = |body: &Value| body["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message(&body).starts_with("too many messages, edits and retries this minute"), "{body}");

    // Four a minute from everyone (the refused one counted too): another visitor is told why.
    let (other, _) = crate::support::visitor();
    let (status, chat) = read(other.post(b.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{chat}");
    let url = b.url(&format!("/api/v1/chats/{}/messages", chat["id"]));
    let (status, body) = read(other.post(url).json(&json!({"content": "hello?"})).send().await.unwrap()).await;
    assert_eq!(status, 429, "{body}");
    assert!(message(&body).starts_with("the assistant is answering many customers right now"), "{body}");

    // Two sign-in attempts per account, across both replicas.
    let attempt = |app: &TestApp| {
        let url = app.url("/api/v1/auth/login");
        async move {
            let body = json!({"email": "admin@example.com", "password": "not-the-password"});
            read(reqwest::Client::new().post(url).json(&body).send().await.unwrap()).await.0
        }
    };
    assert_eq!(attempt(&a).await, 401);
    assert_eq!(attempt(&b).await, 401);
    assert_eq!(attempt(&a).await, 429, "the account's attempts are spent, whichever replica took them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_a_chat_on_one_replica_waits_for_the_others_change_to_the_same_chat() {
    let (a, b) = two_replicas(|_| {}).await;
    let chat = a.new_chat().await;
    let on_a = a.state.clone();
    // A change on A holds the chat (its lock here, and its row in the database).
    let change = frontdesk::server::chat::ChatTx::begin(&on_a.hub, &on_a.db, chat).await.unwrap();
    let send = tokio::spawn({
        let (client, url) = (b.client.clone(), b.url(&format!("/api/v1/chats/{chat}/messages")));
        async move { read(client.post(url).json(&json!({"content": "my turn?"})).send().await.unwrap()).await }
    });
    let db = on_a.db.read.clone();
    crate::support::wait_until("B's send to wait for the chat's row", || {
        let db = db.clone();
        async move {
            let (waiting,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            waiting > 0
        }
    })
    .await;
    assert!(!send.is_finished(), "B's send waits while A's change is open");
    change.commit().await.unwrap();
    let (status, body) = send.await.unwrap();
    assert_eq!(status, 201, "then it goes through: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_staff_notice_emails_of_an_hour() {
    let smtp = crate::support::smtp::SmtpServer::start().await;
    let url = smtp.url();
    let (a, b) = two_replicas(move |config| {
        config.smtp_url = Some(url);
        config.notices_per_hour = 1;
    })
    .await;
    let staff = crate::staff::staff_client(&a, "alice@example.com", "Alice", StaffRole::Agent).await;
    let raise = |app: &TestApp, chat: i64, priority: &'static str| {
        let url = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
        let staff = staff.clone();
        async move { crate::staff::call(&staff, "PATCH", url, Some(json!({ "priority": priority }))).await.0 }
    };
    let (first, second) = (a.new_chat().await, a.new_chat().await);
    assert_eq!(raise(&a, first, "high").await, 200);
    smtp.wait_for(1).await;
    // B has sent nothing itself, but the hour's one notice is spent, and so is the first chat's.
    assert_eq!(raise(&b, second, "high").await, 200);
    assert_eq!(raise(&b, first, "low").await, 200);
    assert_eq!(raise(&b, first, "high").await, 200);
    let on_b = b.state.notices.notifier().expect("email is configured");
    assert_eq!(on_b.suppressed(), 2, "both were held back on B");
    assert_eq!(smtp.mails().len(), 1, "one email in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitors_replies_being_written_count_across_replicas() {
    let (a, b) = two_replicas(|config| config.replies_per_visitor = 1).await;
    let (first, second) = (a.new_chat().await, a.new_chat().await);
    a.fake().push(Script::slow_words(&"word ".repeat(2_000), Duration::from_millis(30)));
    let (status, body) =
        a.post(&format!("/api/v1/chats/{first}/messages"), json!({"content": "A long story, please"})).await;
    assert_eq!(status, 201, "{body}");
    // B writes no reply for this visitor, but A does: one at a time is their allowance.
    let (status, body) = b.post(&format!("/api/v1/chats/{second}/messages"), json!({"content": "And here?"})).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("other conversations"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_a_new_database_both_serve_and_make_one_first_admin() {
    let db = crate::support::TestDb::new(Backend::Postgres).await;
    let fake = crate::support::FakeOpenAi::start().await;
    let ((_a, a), (_b, b)) = tokio::join!(replica_process(&db.url, &fake, &[]), replica_process(&db.url, &fake, &[]));
    let client = reqwest::Client::new();
    for base in [a, b] {
        assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    }
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (staff,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'staff'").fetch_one(&pool).await.unwrap();
    assert_eq!(staff, 1);
}

/// The shared counts are read before a send's transaction takes its connection: with every
/// connection held by a send waiting for a second one, none would ever come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_at_once_over_two_replicas_all_succeed_on_small_connection_pools() {
    let (a, b) = two_replicas(|c| c.db_connections = 2).await;
    let sends = (0..12).map(|i| {
        let (client, base) = (a.another_visitor(), if i % 2 == 0 { a.base.clone() } else { b.base.clone() });
        async move {
            let (status, chat) =
                read(client.post(format!("{base}/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
            assert_eq!(status, 201, "{chat}");
            let url = format!("{base}/api/v1/chats/{}/messages?wait=true", chat["id"]);
            read(client.post(url).json(&json!({"content": format!("question {i}")})).send().await.unwrap()).await
        }
    });
    for (status, body) in futures::future::join_all(sends).await {
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["reply"]["status"], "complete", "the reply was written: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_touch_with_the_others_reloads_its_panels_and_follows_on() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.replica().await;
    let chat = a.new_chat().await;
    let Following { start, mut panel, mut agent, .. } = staff_on(&b, chat).await;

    // Every listening connection on the database is cut (a network blip, a failover).
    let pool = sqlx::AnyPool::connect(&a.db.url).await.unwrap();
    let (cut,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') AS t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(cut, 2, "both replicas were listening");
    // B's panel may have missed changes: it is told to reload.
    let code = loop {
        match next_frame(&mut panel).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(code, 1013);
    // And B hears A again: a question on A reaches staff on B, nothing missed, nothing twice.
    a.fake().push(Script::words("On its way."));
    let (status, sent) = a.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "Any news?"})).await;
    assert_eq!(status, 201, "{sent}");
    let (mut last, mut seen) = (start, Vec::new());
    frames_until(&mut agent, &mut last, &mut seen, |f| f["type"] == "message.completed").await;
    assert!(seen.iter().any(|f| f["type"] == "message.created" && f["data"]["content"] == "Any news?"));
}

/// A take-over ends the replies other replicas write in the database too: their writer stops at
/// its next append even if the notification to stop never reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_over_ends_a_reply_another_replica_writes_even_when_it_hears_nothing() {
    let (a, b) = two_replicas(|_| {}).await;
    let chat = a.new_chat().await;
    let (_, reply) = a.send_and_wait(chat, "Hello?").await;
    // A replica that is alive (it says so) but hears nothing is writing the reply.
    let db = &a.state.db;
    let far = frontdesk::server::db::now_ms() + 600_000;
    sqlx::query("INSERT INTO replicas (id, started_at, seen_at) VALUES ('deaf', $1, $1)")
        .bind(far)
        .execute(&db.write)
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET status = 'streaming', writer = 'deaf' WHERE id = $1")
        .bind(reply.id)
        .execute(&db.write)
        .await
        .unwrap();
    let last = a.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut events = a.events(chat, Some(last)).await;
    let staff = staff_cookie(&b, "agent@example.com", "Alice").await;
    staff_says(&b, &staff, chat, "Alice here.").await;
    let mut seen = Vec::new();
    let ended =
        next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply.id)
            .await;
    assert_eq!(ended.data["status"], "stopped");
    assert_eq!(ended.data["content"], reply.content, "its text is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_an_admin_changes_on_one_replica_reaches_a_window_on_another_at_once() {
    let (a, b) = two_replicas(|_| {}).await;
    let chat = b.new_chat().await;
    let last = b.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut window =
        open_ws(&b, &format!("/api/v1/chats/{chat}/ws?after={last}"), Some(&b.cookie_header()), None).await.unwrap();
    let admin = crate::staff::staff_client(&a, "admin@example.com", "Ada", StaffRole::Admin).await;
    let (status, _) = crate::contexts::changed_context(&admin, &a, "billing", |c| c["label"] = "Invoices".into()).await;
    assert_eq!(status, 200);

    let frame = loop {
        let frame = next_frame(&mut window).await.expect("the socket stays open");
        if frame["type"] == "contexts" {
            break frame;
        }
    };
    assert_eq!(frame["data"][2]["label"], "Invoices", "{frame}");
    let (_, listed) = b.get("/api/v1/contexts").await;
    assert_eq!(listed[2]["label"], "Invoices", "the other replica offers it too: {listed}");
    let (status, created) = b.post("/api/v1/chats", json!({"context": "billing"})).await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_written_on_one_replica_reaches_a_panel_on_another_whole_or_named_when_long() {
    let (a, b) = two_replicas(|_| {}).await;
    let chat = a.new_chat().await;
    let watcher = staff_cookie(&b, "bea@example.com", "Bea").await;
    let mut panel = open_ws(&b, "/api/v1/admin/ws", Some(&watcher), None).await.unwrap();
    let writer = crate::staff::staff_client(&a, "alice@example.com", "Alice", StaffRole::Agent).await;
    let notes = a.url(&format!("/api/v1/admin/inquiries/{chat}/notes"));
    let (status, short) =
        read(writer.post(&notes).json(&json!({"content": "@bea the courier called"})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{short}");
    let heard = note_news(&mut panel).await;
    assert_eq!((heard["type"].as_str(), &heard["data"]), (Some("note.created"), &short), "carried whole");
    // Too long for a PostgreSQL notification: named, with its mentions, and read from the database.
    let long = format!("@bea {}", "é".repeat(3_900));
    let (status, written) = read(writer.post(&notes).json(&json!({"content": long})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{written}");
    let heard = note_news(&mut panel).await;
    assert_eq!(heard["type"], "note.written", "{heard}");
    assert_eq!(
        (heard["data"]["chat_id"].as_i64(), heard["data"]["note_id"].as_i64()),
        (Some(chat), written["id"].as_i64())
    );
    assert_eq!(heard["data"]["mentions"], written["mentions"]);
    let (_, on_b) = read(
        reqwest::Client::new()
            .get(b.url(&format!("/api/v1/admin/inquiries/{chat}/notes")))
            .header("cookie", &watcher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(on_b[1]["content"], written["content"], "the other replica reads it whole");
}

/// The next note frame of a panel's feed.
async fn note_news(panel: &mut crate::staff::Socket) -> Value {
    loop {
        let frame = next_frame(panel).await.expect("the panel stays open");
        if frame["type"].as_str().is_some_and(|t| t.starts_with("note.")) {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_online_on_one_replica_is_online_on_the_other_and_is_given_a_conversation_waiting_there() {
    use crate::staff::{call, cookie_of, staff_client, PASSWORD};
    let (a, b) = two_replicas(|_| {}).await;
    // The admin watches from replica A, away: nothing is given to them.
    let admin = staff_client(&a, "root@example.com", "Root", StaffRole::Admin).await;
    let away = Some(json!({"availability": "away"}));
    assert_eq!(call(&admin, "PUT", a.url("/api/v1/admin/availability"), away).await.0, 200);
    let root_cookie = cookie_of(&a, "root@example.com", PASSWORD).await.unwrap();
    let mut watching = open_ws(&a, "/api/v1/admin/ws", Some(&root_cookie), None).await.unwrap();
    // Alice opens her panel on replica B: A's panels see her online.
    let alice_cookie = staff_cookie(&b, "alice@example.com", "Alice").await;
    let alice =
        b.state.accounts.list_staff().await.unwrap().into_iter().find(|m| m.display_name == "Alice").unwrap().id;
    let _panel = open_ws(&b, "/api/v1/admin/ws", Some(&alice_cookie), None).await.unwrap();
    loop {
        let frame = crate::staff::next_any_frame(&mut watching).await.expect("the panel stays open");
        if frame["type"] == "presence.changed" && frame["data"]["user_id"] == alice && frame["data"]["online"] == true {
            break;
        }
    }
    let (_, presence) = call(&admin, "GET", a.url("/api/v1/admin/presence"), None).await;
    assert!(presence.as_array().unwrap().iter().any(|p| p["user_id"] == alice && p["online"] == true), "{presence}");
    // Auto-assignment on, a customer asking for a person on A is given to Alice, online on B.
    let on = Some(json!({"auto_assign": true, "max_open_per_member": 5}));
    assert_eq!(call(&admin, "PUT", a.url("/api/v1/admin/settings/assignment"), on).await.0, 200);
    let chat = a.new_chat().await;
    assert_eq!(a.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await.0, 200);
    loop {
        let frame = next_frame(&mut watching).await.expect("the panel stays open");
        if frame["chat_id"] == chat && frame["inquiry"]["chat"]["assignee_id"] == alice {
            break;
        }
    }
}
