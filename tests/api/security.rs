//! Hardening, on both databases: security headers, cookies and origins, staff sessions, sign-in
//! throttling, live-connection limits, deletion rights and the audit log.

use std::time::Duration;

use crate::{
    staff::{both_sides_following, call, next_frame, open_ws, staff_client, staff_cookie, PASSWORD},
    support::{read, wait_for, Backend, Options, TestApp},
};
use frontdesk::server::identity::StaffRole;
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Ws;

on_both_databases!(
    api_answers_may_not_be_framed_sniffed_or_cached,
    a_secure_deployment_uses_a_host_prefixed_cookie_and_refuses_plain_http_origins,
    a_staff_session_ends_after_its_idle_time,
    signing_out_closes_the_staff_sockets_of_that_session,
    sign_in_attempts_are_throttled_per_account_and_per_network,
    a_visitor_holds_a_limited_number_of_live_connections,
    typing_repeats_are_dropped_and_resumes_are_rate_limited,
    an_oversized_socket_frame_closes_the_socket,
    a_client_that_does_not_read_is_disconnected,
    a_customer_deletes_only_their_own_messages_and_every_deletion_is_audited,
    staff_changes_are_audited_and_only_admins_read_the_log_and_add_staff,
    server_function_call_errors_carry_no_internal_text,
    a_retention_pass_removes_what_is_no_longer_needed_and_keeps_what_is,
    a_visitor_who_writes_while_a_retention_pass_runs_keeps_their_chat,
    page_views_and_reads_write_nothing_until_the_visitor_acts,
    an_embedded_window_keeps_its_visitor_by_token_where_cookies_are_withheld,
);

async fn api_answers_may_not_be_framed_sniffed_or_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/api/v1/contexts", "/api/v1/chats/424242", "/api/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
        assert_eq!(headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}: personal answers are never cached");
    }
}

async fn a_secure_deployment_uses_a_host_prefixed_cookie_and_refuses_plain_http_origins(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, Options { configure: Box::new(|c| c.cookie_secure = true), ..Options::default() })
            .await;
    let plain = reqwest::Client::new();
    let response = plain.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("__Host-fd_session="), "{set_cookie}");
    assert!(set_cookie.contains("; Secure") && set_cookie.contains("; Path=/") && !set_cookie.contains("Domain"));
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let (status, chats) =
        read(plain.get(app.url("/api/v1/chats")).header("cookie", &cookie).send().await.unwrap()).await;
    assert_eq!(
        (status, chats["chats"].as_array().map(Vec::len)),
        (200, Some(1)),
        "the prefixed cookie names the visitor"
    );
    let host = app.base.trim_start_matches("http://").to_string();
    let write = |origin: String| {
        plain.post(app.url("/api/v1/chats")).header("cookie", &cookie).header("origin", origin).json(&json!({})).send()
    };
    assert_eq!(write(format!("http://{host}")).await.unwrap().status(), 403, "an http page of the same host");
    assert_eq!(write(format!("https://{host}")).await.unwrap().status(), 201);
}

async fn a_staff_session_ends_after_its_idle_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cookie = staff_cookie(&app, "agent@example.com", "Alice").await;
    let (created, expires): (i64, i64) =
        sqlx::query_as("SELECT created_at, expires_at FROM sessions").fetch_one(&app.state.db.read).await.unwrap();
    let idle_ms = app.state.config.staff_idle().as_millis() as i64;
    assert!(expires - created <= idle_ms + 1000, "a staff session lasts its idle time, not months");
    let me = || reqwest::Client::new().get(app.url("/api/v1/auth/me")).header("cookie", &cookie).send();
    assert_eq!(me().await.unwrap().status(), 200);
    // Idle past the deadline: the session is over.
    sqlx::query("UPDATE sessions SET expires_at = $1").bind(created).execute(&app.state.db.write).await.unwrap();
    assert_eq!(me().await.unwrap().status(), 401);
}

async fn signing_out_closes_the_staff_sockets_of_that_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let cookie = staff_cookie(&app, "agent@example.com", "Alice").await;
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&cookie), None).await.unwrap();
    let mut conversation =
        open_ws(&app, &format!("/api/v1/admin/inquiries/{chat}/ws"), Some(&cookie), None).await.unwrap();
    // Another staff member's socket stays open.
    let other = staff_cookie(&app, "bea@example.com", "Bea").await;
    let mut others = open_ws(&app, "/api/v1/admin/ws", Some(&other), None).await.unwrap();
    let logout = reqwest::Client::new().post(app.url("/api/v1/auth/logout")).header("cookie", &cookie).send().await;
    assert_eq!(logout.unwrap().status(), 204);
    assert_eq!(next_frame(&mut panel).await, Err(4001));
    loop {
        match next_frame(&mut conversation).await {
            Ok(_) => continue, // the conversation's history comes first
            Err(code) => break assert_eq!(code, 4001),
        }
    }
    // The other session's panel still gets the next change.
    app.send_and_wait(chat, "still there?").await;
    let frame = next_frame(&mut others).await.expect("the other panel is open");
    assert_eq!(frame["chat_id"], chat);
}

async fn sign_in_attempts_are_throttled_per_account_and_per_network(backend: Backend) {
    let configure = |c: &mut frontdesk::server::config::Config| {
        c.trust_proxy = true;
        c.sign_ins_per_network = 6;
    };
    let app = TestApp::spawn_with(backend, Options { configure: Box::new(configure), ..Options::default() }).await;
    app.state.accounts.create_staff("agent@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
    let login = |email: &str, password: &str, from: &str| {
        reqwest::Client::new()
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.9, {from}"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    // The allowances come back over 5 minutes, far longer than this test takes.
    // Guesses at one account from many networks: a few, then 429 even with the right password.
    for i in 0..5 {
        assert_eq!(login("agent@example.com", "wrong guess!", &format!("198.51.100.{i}")).await.unwrap().status(), 401);
    }
    let refused = login("agent@example.com", PASSWORD, "198.51.100.77").await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (_, body) = read(refused).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["message"].as_str().unwrap().contains("too many sign-in attempts"));
    // Guesses at many accounts from one network: a burst, then 429 for that network only.
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(login(&format!("user{i}@example.com"), "wrong guess!", "192.0.2.1").await.unwrap().status());
    }
    assert!(statuses[..6].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[6], 429, "{statuses:?}");
    assert_eq!(login("user99@example.com", "wrong guess!", "192.0.2.2").await.unwrap().status(), 401);
}

async fn a_visitor_holds_a_limited_number_of_live_connections(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options { configure: Box::new(|c| c.streams_per_visitor = 2), ..Options::default() },
    )
    .await;
    let chat = app.new_chat().await;
    let visitor = app.owner_of(chat).await;
    let url = app.url(&format!("/api/v1/chats/{chat}/events"));
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = open_ws(&app, &format!("/api/v1/chats/{chat}/ws"), Some(&app.cookie_header()), None).await.unwrap();
    let refused = app.client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        open_ws(&app, &format!("/api/v1/chats/{chat}/ws"), Some(&app.cookie_header()), None).await.err(),
        Some(429)
    );
    // Another visitor has their own share.
    let stranger = app.another_visitor();
    let their_chat = read(stranger.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await.1["id"]
        .as_i64()
        .unwrap();
    let theirs = stranger.get(app.url(&format!("/api/v1/chats/{their_chat}/events"))).send().await.unwrap();
    assert_eq!(theirs.status(), 200);
    // Closing one frees its place.
    let hub = &app.state.hub;
    assert_eq!(hub.open_streams(visitor), 2);
    drop(first);
    wait_for("the closed stream to be released", || hub.open_streams(visitor) == 1).await;
    drop(second);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
}

async fn typing_repeats_are_dropped_and_resumes_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let (mut customer, mut agent, _) = both_sides_following(&app, chat).await;
    // Both follow: each sees a change made now.
    app.send_and_wait(chat, "hello").await;
    for socket in [&mut customer, &mut agent] {
        while next_frame(socket).await.unwrap()["type"] != "message.completed" {}
    }
    for _ in 0..5 {
        customer.send(Ws::Text(json!({"typing": true}).to_string().into())).await.unwrap();
    }
    customer.send(Ws::Text(json!({"typing": false}).to_string().into())).await.unwrap();
    let mut typing = Vec::new();
    while typing.last() != Some(&false) {
        let frame = next_frame(&mut agent).await.unwrap();
        if frame["type"] == "typing" {
            typing.push(frame["data"]["typing"].as_bool().unwrap());
        }
    }
    assert_eq!(typing, vec![true, false], "repeats of the same state are dropped; a change passes");
    // A resume reloads from the database; asked again at once it is refused, and the socket stays.
    customer.send(Ws::Text(json!({"after": 0}).to_string().into())).await.unwrap();
    customer.send(Ws::Text(json!({"after": 0}).to_string().into())).await.unwrap();
    let mut replayed = 0;
    let error = loop {
        let frame = next_frame(&mut customer).await.unwrap();
        if frame.get("error").is_some() {
            break frame;
        }
        replayed += 1;
    };
    assert_eq!(error["error"]["code"], "rate_limited");
    assert!(replayed <= (last + 10) as usize, "the second resume reloaded nothing more");
}

async fn an_oversized_socket_frame_closes_the_socket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let mut socket =
        open_ws(&app, &format!("/api/v1/chats/{chat}/ws"), Some(&app.cookie_header()), None).await.unwrap();
    let huge = json!({"typing": true, "padding": "x".repeat(64 * 1024)}).to_string();
    let _ = socket.send(Ws::Text(huge.into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match futures::StreamExt::next(&mut socket).await {
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the socket");
}

async fn a_client_that_does_not_read_is_disconnected(backend: Backend) {
    use frontdesk::server::identity::Staff;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = TestApp::spawn_with(
        backend,
        Options { configure: Box::new(|c| c.message_max_chars = 100_000), ..Options::default() },
    )
    .await;
    let chat = app.new_chat().await;
    let visitor = app.owner_of(chat).await;
    // A client with a tiny receive buffer that never reads what it is sent.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let mut request =
        format!("{}/api/v1/chats/{chat}/ws", app.base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("cookie", app.cookie_header().parse().unwrap());
    let (_silent, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();
    wait_for("the socket to be open", || app.state.hub.open_streams(visitor) == 1).await;
    // Far more than every buffer on the way holds: 100 staff replies of 100,000 characters.
    let service = &app.state;
    let staff_id =
        service.accounts.create_staff("agent@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
    let staff = Staff { user_id: staff_id, role: StaffRole::Agent };
    let text = "x".repeat(100_000);
    for _ in 0..100 {
        if service.hub.open_streams(visitor) == 0 {
            break;
        }
        service.inquiries.reply(staff, chat, &text).await.unwrap();
    }
    // The server gave up on the client (its buffer full, or 10 s without progress); nothing the
    // staff sent was lost.
    wait_for("the silent client to be dropped", || service.hub.open_streams(visitor) == 0).await;
    let (_, page) = app.get(&format!("/api/v1/chats/{chat}/messages?limit=1")).await;
    assert_eq!(page["messages"][0]["content"].as_str().map(str::len), Some(100_000));
}

async fn a_customer_deletes_only_their_own_messages_and_every_deletion_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (mine, reply) = app.send_and_wait(chat, "a secret I regret").await;
    let greeting = app.messages(chat).await[0].id;
    for other in [reply.id, greeting] {
        let (status, body) = app.delete(&format!("/api/v1/chats/{chat}/messages/{other}")).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["message"], "you can delete your own messages, not the replies");
    }
    assert_eq!(app.messages(chat).await.len(), 3, "nothing was deleted");
    assert_eq!(app.delete(&format!("/api/v1/chats/{chat}/messages/{}", mine.id)).await.0, 200);
    assert_eq!(app.delete(&format!("/api/v1/chats/{chat}")).await.0, 204);
    let admin = staff_client(&app, "boss@example.com", "Bea", StaffRole::Admin).await;
    let (status, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<_> = entries.iter().map(|e| (e["action"].as_str().unwrap(), e["chat_id"].as_i64())).collect();
    assert_eq!(actions, vec![("chat.deleted", Some(chat)), ("message.deleted", Some(chat))]);
    assert!(entries.iter().all(|e| e["actor_kind"] == "visitor"));
    assert!(!log.to_string().contains("secret"), "the log never holds the text");
}

async fn staff_changes_are_audited_and_only_admins_read_the_log_and_add_staff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "my order is late").await;
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let admin = staff_client(&app, "boss@example.com", "Bea", StaffRole::Admin).await;
    let inquiry = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
    let (status, _) =
        call(&agent, "PATCH", inquiry.clone(), Some(json!({"priority": "high", "status": "in_progress"}))).await;
    assert_eq!(status, 200);
    let (status, _) = call(&agent, "POST", format!("{inquiry}/messages"), Some(json!({"content": "On it"}))).await;
    assert_eq!(status, 201);
    // Agents neither read the log nor manage staff; visitors even less.
    for client in [&agent, &app.client] {
        assert_eq!(call(client, "GET", app.url("/api/v1/admin/audit"), None).await.0, 403);
        let new = json!({"email": "new@example.com", "display_name": "New"});
        assert_eq!(call(client, "POST", app.url("/api/v1/admin/staff"), Some(new)).await.0, 403);
    }
    let (_, log) = call(&admin, "GET", app.url(&format!("/api/v1/admin/audit?chat_id={chat}")), None).await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["action"], "inquiry.replied");
    assert!(entries[0]["detail"].as_str().unwrap().contains("took over from the assistant"));
    assert_eq!(entries[1]["action"], "inquiry.updated");
    assert_eq!(entries[1]["detail"], "status: pending → in_progress; priority: medium → high");
    assert!(entries.iter().all(|e| e["actor_name"] == "Alice" && e["actor_kind"] == "staff"));
    // An admin adds an agent; the password shown once works, and the log says who added whom.
    let (status, created) = call(
        &admin,
        "POST",
        app.url("/api/v1/admin/staff"),
        Some(json!({"email": "carl@example.com", "display_name": "Carl"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["member"]["role"], "agent");
    let password = created["password"].as_str().unwrap();
    let login = json!({"email": "carl@example.com", "password": password});
    assert_eq!(call(&reqwest::Client::new(), "POST", app.url("/api/v1/auth/login"), Some(login)).await.0, 200);
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit?limit=1"), None).await;
    assert_eq!(log["entries"][0]["action"], "staff.created");
    assert_eq!(log["entries"][0]["actor_name"], "Bea");
    assert!(log["next_before"].is_i64(), "older entries are a page away");
    let (status, _) = call(&admin, "GET", app.url("/api/v1/admin/audit?limit=0"), None).await;
    assert_eq!(status, 422);
}

async fn server_function_call_errors_carry_no_internal_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.new_chat().await;
    // Arguments that do not parse: a readable 400, not serde's words.
    let response = app
        .client
        .post(app.url("/api/fn/staff/staff_mark_read"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=abc&up_to=%%%")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("the request's fields could not be read"), "{body}");
    assert!(!body.contains("invalid digit") && !body.contains("Deserialization") && !body.contains("Args"), "{body}");
}

async fn a_retention_pass_removes_what_is_no_longer_needed_and_keeps_what_is(backend: Backend) {
    use frontdesk::server::retention::{Policy, Removed};
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let count =
        |sql: &'static str| async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(&db.read).await.unwrap().0 };
    // A page view that never wrote: a visitor with a greeting-only chat.
    let passer_by = app.another_visitor();
    assert_eq!(passer_by.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap().status(), 201);
    // A customer who wrote, edited (an old version) and got a streamed reply (delta events).
    let chat = app.new_chat().await;
    let (message, _) = app.send_and_wait(chat, "What does the lamp cost?").await;
    let (status, _) = app
        .put(&format!("/api/v1/chats/{chat}/messages/{}?wait=true", message.id), json!({"content": "And the chair?"}))
        .await;
    assert_eq!(status, 200);
    let reply_text = app.messages(chat).await.last().unwrap().content.clone();
    assert!(count("SELECT COUNT(*) FROM chat_events WHERE kind = 'message.delta'").await > 0);
    // A staff session that will have expired.
    staff_cookie(&app, "agent@example.com", "Alice").await;
    let policy = Policy {
        idle_visitors: Duration::from_secs(30 * 86_400),
        deltas: Duration::from_secs(3600),
        versions: Duration::from_secs(90 * 86_400),
        every: Duration::from_secs(3600),
    };
    let visitors_before = count("SELECT COUNT(*) FROM users WHERE kind = 'visitor'").await;
    let versions_before = count("SELECT COUNT(*) FROM message_versions").await;
    assert!(versions_before > 0);
    let now = frontdesk::server::db::now_ms();
    // Right away nothing is due.
    assert_eq!(app.state.retention.pass(&policy, now).await.unwrap(), Removed::default());
    let day = 86_400_000;
    let removed = app.state.retention.pass(&policy, now + 31 * day).await.unwrap();
    assert_eq!((removed.sessions, removed.visitors, removed.versions), (1, 1, 0), "{removed:?}");
    assert!(removed.delta_events > 0);
    assert_eq!(count("SELECT COUNT(*) FROM users WHERE kind = 'visitor'").await, visitors_before - 1);
    assert_eq!(count("SELECT COUNT(*) FROM chat_events WHERE kind = 'message.delta'").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM message_versions").await, versions_before);
    // Past days' token totals per visitor and network go (the budgets read today's); the day's
    // total in all stays for the usage report.
    assert_eq!(removed.usage_rows, 2, "{removed:?}");
    assert_eq!(count("SELECT COUNT(*) FROM usage_daily").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM usage_daily WHERE scope = 'all'").await, 1);
    // The customer who wrote keeps everything, and a resume from the start still ends with the
    // whole reply (message.completed carries it).
    assert_eq!(app.messages(chat).await.last().unwrap().content, reply_text);
    let mut events = app.events(chat, Some(0)).await;
    let mut seen = Vec::new();
    let completed = crate::support::next_matching(&mut events, &mut seen, |e| {
        e.kind == frontdesk::model::EventKind::MessageCompleted && e.data["content"] == reply_text.as_str()
    })
    .await;
    assert!(completed.seq > 0);
    assert!(seen.iter().all(|e| e.kind != frontdesk::model::EventKind::MessageDelta));
    // Old versions go after their own age; a customer who wrote is never removed as idle.
    let removed = app.state.retention.pass(&policy, now + 91 * day).await.unwrap();
    assert_eq!((removed.visitors, removed.versions), (0, versions_before as u64));
    assert_eq!(app.messages(chat).await.len(), 3);
}

async fn a_visitor_who_writes_while_a_retention_pass_runs_keeps_their_chat(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let service = app.state.retention.clone();
    let db = app.state.db.clone();
    // Past the 30 days after which a visitor who never wrote is forgotten.
    let later = frontdesk::server::db::now_ms() + 31 * 86_400_000;
    let start = |client: reqwest::Client| {
        let url = app.url("/api/v1/chats");
        let db = db.clone();
        async move {
            let (status, chat) = read(client.post(url).json(&json!({})).send().await.unwrap()).await;
            assert_eq!(status, 201, "{chat}");
            let chat = chat["id"].as_i64().unwrap();
            let (owner,): (i64,) = sqlx::query_as("SELECT owner_id FROM chats WHERE id = $1")
                .bind(chat)
                .fetch_one(&db.read)
                .await
                .unwrap();
            (chat, owner)
        }
    };
    let chats_of = |owner: i64| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM chats WHERE owner_id = $1")
                .bind(owner)
                .fetch_one(&db.read)
                .await
                .unwrap();
            n
        }
    };

    // A pass found this visitor idle (a greeting-only chat); before it reached them, they wrote.
    let writer = app.another_visitor();
    let (chat, owner) = start(writer.clone()).await;
    let url = app.url(&format!("/api/v1/chats/{chat}/messages"));
    let (status, sent) =
        read(writer.post(&url).json(&json!({"content": "is anyone there?"})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{sent}");
    assert!(!service.forget_idle_visitor(owner, later).await.unwrap(), "a visitor who wrote is kept");
    let (status, page) = read(writer.get(&url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.to_string().contains("is anyone there?"), "{page}");

    // One who did not write goes, with their chat.
    let (_, quiet) = start(app.another_visitor()).await;
    assert!(service.forget_idle_visitor(quiet, later).await.unwrap());
    assert_eq!(chats_of(quiet).await, 0);

    if backend == Backend::Postgres {
        // A visitor with no chat left, whose new chat is being created as the pass reaches them:
        // the pass waits for it, sees it and keeps them.
        let (chat, owner) = start(app.another_visitor()).await;
        sqlx::query("DELETE FROM chats WHERE id = $1").bind(chat).execute(&db.write).await.unwrap();
        let mut creating = db.write.begin().await.unwrap();
        frontdesk::server::chat::store::insert_chat(&mut creating, owner, "New chat", "general", None, None)
            .await
            .unwrap();
        let pass = tokio::spawn({
            let service = service.clone();
            async move { service.forget_idle_visitor(owner, later).await.unwrap() }
        });
        crate::support::wait_until("the pass to wait for the chat being created", || {
            let db = db.clone();
            async move {
                let (waiting,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(&db.read)
                .await
                .unwrap();
                waiting > 0
            }
        })
        .await;
        creating.commit().await.unwrap();
        assert!(!pass.await.unwrap(), "the visitor whose chat was being created is kept");
        assert_eq!(chats_of(owner).await, 1);
    }
}

/// Rows that page views must not add.
async fn row_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in ["users", "sessions", "chats", "messages", "chat_events", "preferences"] {
        let (n,): (i64,) =
            sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&app.state.db.read).await.unwrap();
        counts.push((table, n));
    }
    counts
}

async fn start_chat(
    client: &reqwest::Client,
    app: &TestApp,
    args: serde_json::Value,
) -> (u16, serde_json::Value, bool) {
    let response = client.post(app.url("/api/fn/start_chat")).json(&args).send().await.unwrap();
    let sets_cookie = response.headers().get("set-cookie").is_some();
    let (status, body) = read(response).await;
    (status, body, sets_cookie)
}

async fn page_views_and_reads_write_nothing_until_the_visitor_acts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let theirs = app.new_chat().await; // another visitor's
    let before = row_counts(&app).await;
    let (visitor, _) = crate::support::visitor();
    for path in ["/", "/products/2", "/widget", "/widget?product_id=3"] {
        let response = visitor.get(app.url(path)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().get("set-cookie").is_none(), "{path} sets no cookie");
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"data-chat-id="0""#), "{path} shows a draft");
        assert!(page.contains(r#"data-role="assistant""#), "{path} shows the greeting");
    }
    for path in ["/api/v1/chats", "/api/v1/preferences"] {
        let response = visitor.get(app.url(path)).send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none(), "reading {path} sets no cookie");
        assert_eq!(response.status(), 200, "{path}");
    }
    assert_eq!(row_counts(&app).await, before, "page views and reads wrote nothing");
    // Nor does a first action that is refused, or an action on a chat that is not theirs.
    let (status, _, sets_cookie) = start_chat(&visitor, &app, json!({"context": "astrology"})).await;
    assert_eq!((status, sets_cookie), (422, false), "an unknown context");
    let (status, _, sets_cookie) = start_chat(&visitor, &app, json!({"product_id": "999"})).await;
    assert_eq!((status, sets_cookie), (404, false), "an unknown product");
    for (method, path, body) in [
        ("PATCH", format!("/api/v1/chats/{theirs}"), json!({"title": "mine now"})),
        ("POST", format!("/api/v1/chats/{theirs}/messages"), json!({"content": "hi"})),
        ("POST", format!("/api/v1/chats/{theirs}/handoff"), json!({})),
        ("DELETE", format!("/api/v1/chats/{theirs}"), json!({})),
        ("POST", "/api/v1/chats".into(), json!({"product_id": "999"})),
        (
            "PUT",
            "/api/v1/preferences".into(),
            json!({"theme": "dark", "send_key": "enter", "sound": false, "text_size": "small", "default_context": "astrology"}),
        ),
    ] {
        let response = visitor.request(method.parse().unwrap(), app.url(&path)).json(&body).send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none(), "{method} {path} sets no cookie");
        assert!([404, 422].contains(&response.status().as_u16()), "{method} {path}: {}", response.status());
    }
    assert_eq!(row_counts(&app).await, before, "refused actions wrote nothing");

    // The first action: the visitor and the chat come into being, with the greeting.
    let (status, started, sets_cookie) = start_chat(&visitor, &app, json!({"product_id": "2"})).await;
    assert_eq!(status, 200, "{started}");
    assert!(sets_cookie, "the visitor gets their cookie with their first action");
    let chat = started["chat"]["id"].as_i64().unwrap();
    assert!(chat > 0);
    assert_eq!(started["chat"]["product_id"], "2");
    let messages = started["page"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{started}");
    assert_eq!(messages[0]["role"], "assistant");
    assert!(messages[0]["content"].as_str().unwrap().contains("Nimbus Office Chair"), "a greeting about the product");
    assert!(started["page"]["last_seq"].as_i64().unwrap() > 0, "the live feed continues from the page");
    // Another tab's draft becomes the same conversation, not a second one.
    let (_, again, sets_cookie) = start_chat(&visitor, &app, json!({"product_id": "2"})).await;
    assert_eq!(again["chat"]["id"], chat);
    assert!(!sets_cookie);
    let page = visitor.get(app.url("/products/2")).header("accept", "text/html").send().await.unwrap();
    assert!(page.text().await.unwrap().contains(&format!(r#"data-chat-id="{chat}""#)), "the page opens on it");
    // A context picked on a draft: the conversation starts in it (no "Switched to" line).
    let (status, support, _) = start_chat(&visitor, &app, json!({"context": "support"})).await;
    assert_eq!(status, 200, "{support}");
    assert_eq!(support["chat"]["context"], "support");
    assert_eq!(support["chat"]["product_id"], serde_json::Value::Null);
    assert_eq!(support["page"]["messages"].as_array().map(Vec::len), Some(1), "{support}");
    let (status, unknown, _) = start_chat(&visitor, &app, json!({"context": "astrology"})).await;
    assert_eq!(status, 422, "{unknown}");
    assert!(unknown["message"].as_str().unwrap().contains("unknown context"), "{unknown}");
    let after: Vec<_> = row_counts(&app).await.into_iter().zip(before).map(|((t, n), (_, m))| (t, n - m)).collect();
    assert_eq!(
        after,
        [("users", 1), ("sessions", 1), ("chats", 2), ("messages", 2), ("chat_events", 2), ("preferences", 0)],
        "one visitor, two chats with their greetings"
    );
}

async fn an_embedded_window_keeps_its_visitor_by_token_where_cookies_are_withheld(backend: Backend) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = TestApp::spawn(backend).await;
    // No cookie store: a third-party frame's requests carry none.
    let frame = reqwest::Client::new();
    let created =
        frame.post(app.url("/api/v1/chats")).header("x-frontdesk-token", "").json(&json!({})).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().get("set-cookie").is_none(), "an embedded window gets its visitor in the header");
    let token = created.headers()["x-frontdesk-token"].to_str().unwrap().to_string();
    let chat = read(created).await.1["id"].as_i64().unwrap();

    let chat_path = format!("/api/v1/chats/{chat}");
    let (status, _) =
        read(frame.get(app.url(&chat_path)).header("x-frontdesk-token", &token).send().await.unwrap()).await;
    assert_eq!(status, 200, "the token names the visitor");
    let (status, _) = read(frame.get(app.url(&chat_path)).send().await.unwrap()).await;
    assert_eq!(status, 404, "without it the chat is nobody's to read");
    let again = frame
        .post(app.url(&format!("{chat_path}/messages")))
        .header("x-frontdesk-token", &token)
        .json(&json!({"content": "Hello from the shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert!(again.headers().get("x-frontdesk-token").is_none(), "a known visitor is not issued another token");

    // The Origin rule stays as strict: another site's page may not write with the token.
    let foreign = frame
        .post(app.url(&format!("{chat_path}/messages")))
        .header("x-frontdesk-token", &token)
        .header("origin", "http://shop.example")
        .json(&json!({"content": "Forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    // A window framed by a page of Frontdesk's own site also has the cookie: a token that names
    // nobody (expired) falls back to it; a live one comes first.
    let (same_site, _) = crate::support::visitor();
    let theirs = read(same_site.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await.1["id"]
        .as_i64()
        .unwrap();
    let chats_of =
        |token: &str| same_site.get(app.url("/api/v1/chats")).header("x-frontdesk-token", token.to_string()).send();
    let ids = |body: serde_json::Value| -> Vec<i64> {
        body["chats"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(read(chats_of("expired0token").await.unwrap()).await.1), vec![theirs]);
    assert_eq!(ids(read(chats_of(&token).await.unwrap()).await.1), vec![chat]);

    // A staff session is never accepted from a header the host page's scripts can read.
    let staff = staff_cookie(&app, "agent@example.com", "Agent").await;
    let staff_token = staff.split_once('=').unwrap().1.to_string();
    let (status, _) =
        read(frame.get(app.url("/api/v1/auth/me")).header("x-frontdesk-token", &staff_token).send().await.unwrap())
            .await;
    assert_eq!(status, 401);

    // The socket takes the token as a subprotocol beside "frontdesk", which the server picks.
    let mut request =
        format!("{}{chat_path}/ws?after=0", app.base.replace("http", "ws")).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", format!("frontdesk, frontdesk.token.{token}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
    assert_eq!(response.headers()["sec-websocket-protocol"], "frontdesk");
    loop {
        let frame = next_frame(&mut socket).await.expect("the visitor's socket stays open");
        if frame["type"] == "message.created" && frame["data"]["content"] == "Hello from the shop" {
            break; // the visitor's own conversation, replayed
        }
    }
    let mut stranger = format!("{}{chat_path}/ws", app.base.replace("http", "ws")).into_client_request().unwrap();
    stranger.headers_mut().insert("sec-websocket-protocol", "frontdesk".parse().unwrap());
    match tokio_tungstenite::connect_async(stranger).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404, "without the token the chat is not theirs")
        }
        other => panic!("a socket without the token was not refused: {:?}", other.map(|(_, r)| r.status())),
    }
}
