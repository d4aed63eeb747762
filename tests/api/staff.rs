//! Staff accounts, role checks and inquiries, on both databases.

use crate::support::{next_matching, read, smtp::SmtpServer, Backend, Options, TestApp};
use frontdesk::{model::EventKind, server::identity::StaffRole};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, protocol::frame::coding::CloseCode, Message as Ws};

on_both_databases!(
    every_staff_endpoint_answers_401_to_nobody_and_403_to_a_visitor,
    signing_in_starts_a_new_session_and_signing_out_ends_it,
    the_first_start_creates_one_admin_whose_password_works,
    a_customer_question_shows_in_the_pending_list_with_its_product_and_counts,
    a_staff_reply_takes_over_and_the_customer_sees_it_live,
    a_take_over_committed_while_a_send_waits_for_the_chat_keeps_the_assistant_quiet,
    handing_back_lets_the_assistant_answer_again,
    resolving_an_inquiry_takes_it_off_the_pending_list,
    read_marks_move_forward_only_and_each_side_sees_the_other_read_live,
    a_customer_email_is_saved_on_the_chat_and_a_bad_one_is_refused,
    staff_websockets_close_with_4001_for_nobody_4003_for_a_visitor_and_4004_for_no_inquiry,
    a_websocket_from_another_site_is_refused_at_the_handshake,
    deleting_a_chat_tells_its_followers_and_the_panels_and_ends_its_streams,
    the_panel_feed_carries_every_conversations_changes_but_not_token_deltas,
    a_staff_feed_resumes_after_a_server_restart_missing_nothing_and_repeating_nothing,
    asking_for_a_person_makes_a_high_priority_inquiry_and_emails_every_staff_member,
    typing_shows_on_the_other_side_only_and_is_never_stored,
    staff_server_functions_answer_401_to_nobody_and_403_to_a_visitor,
    a_customer_message_is_delivered_once_it_reaches_a_staff_screen,
    many_open_staff_screens_cost_one_delivery_write_per_customer_message,
);

pub(crate) const PASSWORD: &str = "a-long-enough-password";

/// A client signed in as a new staff member.
pub(crate) async fn staff_client(app: &TestApp, email: &str, name: &str, role: StaffRole) -> reqwest::Client {
    app.state.accounts.create_staff(email, name, role, PASSWORD).await.unwrap();
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let (status, me) = read(
        client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    client
}

pub(crate) async fn call(client: &reqwest::Client, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
    let request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PATCH" => client.patch(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        _ => unreachable!(),
    };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    read(request.send().await.unwrap()).await
}

async fn every_staff_endpoint_answers_401_to_nobody_and_403_to_a_visitor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await; // `app.client` is now a visitor with a session
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let admin = staff_client(&app, "boss@example.com", "Bea", StaffRole::Admin).await;
    let nobody = reqwest::Client::new();
    let endpoints: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", "/api/v1/auth/me".into(), None, 200),
        ("GET", "/api/v1/admin/staff".into(), None, 200),
        ("GET", "/api/v1/admin/knowledge".into(), None, 200),
        ("GET", "/api/v1/admin/knowledge/search?q=returns".into(), None, 200),
        ("GET", "/api/v1/admin/inquiries".into(), None, 200),
        ("GET", format!("/api/v1/admin/inquiries/{chat}"), None, 200),
        ("GET", format!("/api/v1/admin/inquiries/{chat}/messages"), None, 200),
        ("PUT", format!("/api/v1/admin/inquiries/{chat}/read"), Some(json!({"up_to": 1})), 204),
        ("PATCH", format!("/api/v1/admin/inquiries/{chat}"), Some(json!({"priority": "high"})), 200),
        ("POST", format!("/api/v1/admin/inquiries/{chat}/messages"), Some(json!({"content": "Hello from staff"})), 201),
    ];
    for (method, path, body, ok) in endpoints {
        let url = app.url(&path);
        let (status, err) = call(&nobody, method, url.clone(), body.clone()).await;
        assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")), "nobody: {method} {path}");
        let (status, err) = call(&app.client, method, url.clone(), body.clone()).await;
        assert_eq!((status, err["error"]["code"].as_str()), (403, Some("forbidden")), "visitor: {method} {path}");
        for staff in [&agent, &admin] {
            let (status, body) = call(staff, method, url.clone(), body.clone()).await;
            assert_eq!(status, ok, "staff: {method} {path}: {body}");
        }
    }
    let (status, _) = call(&agent, "GET", app.url("/api/v1/admin/inquiries/999999"), None).await;
    assert_eq!(status, 404);
}

async fn signing_in_starts_a_new_session_and_signing_out_ends_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state.accounts.create_staff("agent@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
    app.new_chat().await;
    let before = app.cookie_header();
    for (email, password) in [("agent@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)] {
        let (status, body) = app.post("/api/v1/auth/login", json!({"email": email, "password": password})).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["message"], "the email or the password is wrong");
    }
    let (status, me) =
        app.post("/api/v1/auth/login", json!({"email": "Agent@Example.com ", "password": PASSWORD})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["kind"].as_str(), me["role"].as_str(), me["display_name"].as_str()),
        (Some("staff"), Some("agent"), Some("Alice"))
    );
    let after = app.cookie_header();
    assert_ne!(before, after, "a new session id at sign-in");
    // The visitor session that signed in is over.
    let old = reqwest::Client::new();
    let (status, _) = read(old.get(app.url("/api/v1/auth/me")).header("cookie", before).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(app.get("/api/v1/auth/me").await.0, 200);
    let (status, _) = app.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(status, 204);
    let stale = reqwest::Client::new();
    let (status, _) = read(stale.get(app.url("/api/v1/auth/me")).header("cookie", after).send().await.unwrap()).await;
    assert_eq!(status, 401, "the session ended with the sign-out");
}

async fn the_first_start_creates_one_admin_whose_password_works(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (email, password) =
        app.state.accounts.ensure_first_admin("Owner@Example.com", None).await.unwrap().expect("created");
    assert_eq!(email, "owner@example.com");
    assert!(app.state.accounts.ensure_first_admin("other@example.com", None).await.unwrap().is_none(), "only once");
    let (status, me) = app.post("/api/v1/auth/login", json!({"email": email, "password": password})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    let (status, body) = app.get("/api/v1/admin/staff").await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
}

async fn a_customer_question_shows_in_the_pending_list_with_its_product_and_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, chat) = app.post("/api/v1/chats", json!({"product_id": "3"})).await;
    let chat = chat["id"].as_i64().unwrap();
    app.send_and_wait(chat, "Do the headphones fold?").await;
    app.send_and_wait(chat, "And is there a case?").await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let list = |query: &'static str| {
        let staff = staff.clone();
        let url = app.url(&format!("/api/v1/admin/inquiries{query}"));
        async move {
            let (status, body) = read(staff.get(url).send().await.unwrap()).await;
            assert_eq!(status, 200, "{body}");
            body["inquiries"].as_array().unwrap().clone()
        }
    };
    let pending = list("").await;
    assert_eq!(pending.len(), 1);
    let inquiry = &pending[0];
    assert_eq!(inquiry["chat"]["id"], chat);
    assert_eq!(inquiry["chat"]["status"], "pending");
    assert_eq!(inquiry["product_name"], "Drift Noise-Cancelling Headphones");
    assert_eq!(inquiry["message_count"], 5);
    assert_eq!(inquiry["unread_count"], 2);
    assert_eq!(inquiry["last_message"], crate::support::fake_openai::DEFAULT_REPLY);
    assert_eq!(inquiry["last_role"], "assistant");
    assert_eq!(inquiry["last_question"], "And is there a case?", "the customer's newest message, under the answer");
    assert_eq!(list("?product_id=3").await.len(), 1);
    assert_eq!(list("?product_id=1").await.len(), 0);
    assert_eq!(list("?priority=high").await.len(), 0);
    assert_eq!(list("?q=A%20CASE").await.len(), 1, "text search ignores case");
    assert_eq!(list("?q=100%25").await.len(), 0, "% is a character, not a wildcard");
    assert_eq!(list("?status=resolved").await.len(), 0);
    assert_eq!(list("?status=all").await.len(), 1);
    let (status, _) = read(staff.get(app.url("/api/v1/admin/inquiries?status=lost")).send().await.unwrap()).await;
    assert_eq!(status, 422);
    // Reading clears the unread count.
    let (status, _) = call(
        &staff,
        "PUT",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/read")),
        Some(json!({"up_to": i64::MAX / 2})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(list("").await[0]["unread_count"], 0);
}

async fn a_staff_reply_takes_over_and_the_customer_sees_it_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "I need a human").await;
    let mut events = app.events(chat, None).await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (status, message) = call(
        &staff,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")),
        Some(json!({"content": "Hi, Alice here."})),
    )
    .await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(message["role"], "agent");
    assert_eq!(message["author"], "Alice", "customers see who answered");
    let mut seen = Vec::new();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCreated && e.data["role"] == "agent").await;
    assert!(seen.iter().any(|e| e.data["content"] == "Alice joined the conversation"));
    assert_eq!(seen.last().unwrap().data, message, "the message as the staff member's send answered with it");
    // Read back from the event log, with the author's name, exactly as it was heard live.
    let mut replayed = Vec::new();
    let (first, last) = (seen[0].seq, seen.last().unwrap().seq);
    next_matching(&mut app.events(chat, Some(first - 1)).await, &mut replayed, |e| e.seq == last).await;
    assert_eq!(replayed, seen);
    let (_, chat_json) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(chat_json["ai_enabled"], false);
    assert_eq!(chat_json["status"], "in_progress");
    let (_, me) = call(&staff, "GET", app.url("/api/v1/auth/me"), None).await;
    assert_eq!(chat_json["assignee_id"], me["id"]);
    let before = app.fake().requests().len();
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "thanks!"})).await;
    assert_eq!(status, 201);
    assert!(body["reply"].is_null(), "the assistant stays quiet while a person handles the chat");
    assert_eq!(app.fake().requests().len(), before);
    let (status, _) = call(
        &staff,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")),
        Some(json!({"content": "  "})),
    )
    .await;
    assert_eq!(status, 422);
}

async fn a_take_over_committed_while_a_send_waits_for_the_chat_keeps_the_assistant_quiet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let hub = &app.state.hub;
    // The send reads the chat (assistant on), then waits here for the chat's lock.
    let lock = hub.lock(chat).await;
    let send = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/chats/{chat}/messages")));
        async move { read(client.post(url).json(&json!({"content": "anyone there?"})).send().await.unwrap()).await }
    });
    crate::support::wait_for("the send to wait for the chat", || hub.lock_queue(chat) == 2).await;
    // Meanwhile a take-over commits (as another replica's does: it does not wait on this lock).
    sqlx::query("UPDATE chats SET ai_enabled = 0 WHERE id = $1").bind(chat).execute(&app.state.db.write).await.unwrap();
    drop(lock);
    let (status, body) = send.await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body["reply"].is_null(), "no reply starts after a person took the chat over: {body}");
    assert!(app.fake().requests().is_empty(), "the assistant was not asked");
    let roles: Vec<_> = app.messages(chat).await.into_iter().map(|m| m.role).collect();
    use frontdesk::model::Role;
    assert_eq!(roles, [Role::Assistant, Role::User], "the greeting and the message, kept; no reply was written");
}

async fn handing_back_lets_the_assistant_answer_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let url = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
    let (status, inquiry) = call(&staff, "PATCH", url.clone(), Some(json!({"ai_enabled": false}))).await;
    assert_eq!(status, 200, "{inquiry}");
    assert_eq!(inquiry["chat"]["ai_enabled"], false);
    let (status, inquiry) = call(&staff, "PATCH", url.clone(), Some(json!({"ai_enabled": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(inquiry["chat"]["ai_enabled"], true);
    let lines: Vec<String> = app
        .messages(chat)
        .await
        .into_iter()
        .filter(|m| m.role == frontdesk::model::Role::System)
        .map(|m| m.content)
        .collect();
    assert_eq!(lines, ["Alice joined the conversation", "The assistant is answering again"]);
    let (_, reply) = app.send_and_wait(chat, "robot, are you back?").await;
    assert_eq!(reply.content, crate::support::fake_openai::DEFAULT_REPLY);
    let (status, body) = call(&staff, "PATCH", url.clone(), Some(json!({"assignee_id": 999999}))).await;
    assert_eq!(status, 404, "a staff member who does not exist: {body}");
    let (status, body) = call(&staff, "PATCH", url, Some(json!({"priority": "urgent"}))).await;
    assert_eq!(status, 422, "{body}");
}

async fn resolving_an_inquiry_takes_it_off_the_pending_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (status, _) = call(
        &staff,
        "PATCH",
        app.url(&format!("/api/v1/admin/inquiries/{chat}")),
        Some(json!({"status": "resolved", "assignee_id": null})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, pending) = call(&staff, "GET", app.url("/api/v1/admin/inquiries"), None).await;
    assert_eq!(pending["inquiries"], json!([]));
    let (_, resolved) = call(&staff, "GET", app.url("/api/v1/admin/inquiries?status=resolved"), None).await;
    assert_eq!(resolved["inquiries"][0]["chat"]["id"], chat);
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket with an optional Cookie header and Origin; the HTTP status when refused.
pub(crate) async fn open_ws(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Socket, u16> {
    let mut request = format!("{}{path}", app.base.replace("http", "ws")).into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("the WebSocket failed: {other}"),
    }
}

/// The next JSON frame of a socket (or its close code), but news of who is on duty
/// (`presence.changed`, which every panel opening and closing sends): see [`next_any_frame`].
pub(crate) async fn next_frame(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame = next_any_frame(socket).await?;
        if frame["type"] != "presence.changed" {
            return Ok(frame);
        }
    }
}

/// The next JSON frame of a socket, whatever it is, or its close code.
pub(crate) async fn next_any_frame(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), socket.next())
            .await
            .expect("a frame arrived in time")
            .expect("the socket stayed open")
            .unwrap();
        match frame {
            Ws::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
            Ws::Close(Some(close)) => return Err(u16::from(close.code)),
            Ws::Close(None) => return Err(u16::from(CloseCode::Normal)),
            _ => continue,
        }
    }
}

/// The customer's and a new staff member's ("Alice") sockets on `chat`, both from its current
/// sequence number on, and the staff member's cookie.
pub(crate) async fn both_sides_following(app: &TestApp, chat: i64) -> (Socket, Socket, String) {
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let staff = staff_cookie(app, "agent@example.com", "Alice").await;
    let customer =
        open_ws(app, &format!("/api/v1/chats/{chat}/ws?after={last}"), Some(&app.cookie_header()), None).await.unwrap();
    let agent =
        open_ws(app, &format!("/api/v1/admin/inquiries/{chat}/ws?after={last}"), Some(&staff), None).await.unwrap();
    (customer, agent, staff)
}

/// The session cookie a signed-in staff client sends.
pub(crate) async fn staff_cookie(app: &TestApp, email: &str, name: &str) -> String {
    app.state.accounts.create_staff(email, name, StaffRole::Agent, PASSWORD).await.unwrap();
    cookie_of(app, email, PASSWORD).await.expect("the new member signs in")
}

/// Signs in: the session's cookie (`name=value`, for sockets), or the status that refused it.
pub(crate) async fn cookie_of(app: &TestApp, email: &str, password: &str) -> Result<String, u16> {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    Ok(response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string())
}

async fn read_marks_move_forward_only_and_each_side_sees_the_other_read_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (question, _) = app.send_and_wait(chat, "Is anyone there?").await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let mut events = app.events(chat, None).await;
    // Staff read the question: the customer sees it live.
    let (status, _) = call(
        &staff,
        "PUT",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/read")),
        Some(json!({"up_to": question.id})),
    )
    .await;
    assert_eq!(status, 204);
    let mut seen = Vec::new();
    let update = next_matching(&mut events, &mut seen, |e| e.kind == EventKind::ChatUpdated).await;
    assert_eq!(update.data["staff_read_up_to"], question.id);
    let (_, answer) = call(
        &staff,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")),
        Some(json!({"content": "Yes!"})),
    )
    .await;
    let answer_id = answer["id"].as_i64().unwrap();
    // The customer reads the answer: staff see it.
    let (status, chat_json) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": answer_id})).await;
    assert_eq!(status, 200, "{chat_json}");
    assert_eq!(chat_json["customer_read_up_to"], answer_id);
    let (_, inquiry) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}")), None).await;
    assert_eq!(inquiry["chat"]["customer_read_up_to"], answer_id);
    // A mark never moves back, and a read beyond the end stops at the newest message.
    let (_, chat_json) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": 1})).await;
    assert_eq!(chat_json["customer_read_up_to"], answer_id);
    let (status, body) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": -5})).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": "x"})).await;
    assert_eq!(status, 422);
    // Someone else's chat is not found.
    let stranger = app.another_visitor();
    let (status, _) = read(
        stranger.put(app.url(&format!("/api/v1/chats/{chat}/read"))).json(&json!({"up_to": 1})).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

async fn a_customer_email_is_saved_on_the_chat_and_a_bad_one_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (status, body) = app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": "not an email"})).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("email"));
    // The window's rule: an address a link could run as script is refused here too.
    for bad in ["javascript:alert(1)//@example.com", "a@b", "<sam@example.com>"] {
        let (status, body) = app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": bad})).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) =
        app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": " Sam@Example.com "})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer_email"], "sam@example.com");
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (_, list) = call(&staff, "GET", app.url("/api/v1/admin/inquiries?q=sam%40example"), None).await;
    assert_eq!(list["inquiries"][0]["chat"]["customer_email"], "sam@example.com", "staff find it by email");
    let (status, body) = app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": ""})).await;
    assert_eq!(status, 200);
    assert!(body["customer_email"].is_null(), "an empty email removes it");
}

async fn staff_websockets_close_with_4001_for_nobody_4003_for_a_visitor_and_4004_for_no_inquiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let visitor = app.cookie_header();
    let staff = staff_cookie(&app, "agent@example.com", "Alice").await;
    for path in [format!("/api/v1/admin/inquiries/{chat}/ws"), "/api/v1/admin/ws".to_string()] {
        let mut socket = open_ws(&app, &path, None, None).await.unwrap();
        assert_eq!(next_frame(&mut socket).await, Err(4001), "nobody: {path}");
        let mut socket = open_ws(&app, &path, Some(&visitor), None).await.unwrap();
        assert_eq!(next_frame(&mut socket).await, Err(4003), "visitor: {path}");
    }
    let mut socket = open_ws(&app, "/api/v1/admin/inquiries/999999/ws", Some(&staff), None).await.unwrap();
    assert_eq!(next_frame(&mut socket).await, Err(4004));
    // Staff follow any conversation: the customer's events, from the start.
    let mut socket =
        open_ws(&app, &format!("/api/v1/admin/inquiries/{chat}/ws?after=0"), Some(&staff), None).await.unwrap();
    let first = next_frame(&mut socket).await.unwrap();
    assert_eq!(first["seq"], 1);
}

async fn a_websocket_from_another_site_is_refused_at_the_handshake(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let visitor = app.cookie_header();
    let staff = staff_cookie(&app, "agent@example.com", "Alice").await;
    let evil = Some("https://evil.example");
    assert_eq!(open_ws(&app, &format!("/api/v1/chats/{chat}/ws"), Some(&visitor), evil).await.err(), Some(403));
    assert_eq!(open_ws(&app, "/api/v1/admin/ws", Some(&staff), evil).await.err(), Some(403));
    let own = app.base.clone();
    assert!(open_ws(&app, "/api/v1/admin/ws", Some(&staff), Some(&own)).await.is_ok(), "the app's own origin is fine");
}

async fn the_panel_feed_carries_every_conversations_changes_but_not_token_deltas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_cookie(&app, "agent@example.com", "Alice").await;
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&staff), None).await.unwrap();
    let chat = app.new_chat().await;
    let mut customer = app.events(chat, None).await;
    app.fake().push(crate::support::Script::slow_words("Hello there my friend", std::time::Duration::from_millis(60)));
    let (question, reply) = app.send_and_wait(chat, "Hi").await;
    let mut seen = Vec::new();
    next_matching(&mut customer, &mut seen, |e| e.kind == EventKind::MessageCompleted).await;
    assert!(seen.iter().any(|e| e.kind == EventKind::MessageDelta), "the customer got the reply token by token");
    let mut kinds = Vec::new();
    let last = loop {
        let frame = next_frame(&mut panel).await.unwrap();
        assert_eq!(frame["chat_id"], chat);
        // Every change comes with the conversation's summary: the panel needs no query of its own.
        assert_eq!(frame["inquiry"]["chat"]["id"], chat, "{frame}");
        kinds.push(frame["type"].as_str().unwrap().to_string());
        if frame["type"] == "message.completed" && frame["data"]["id"] == reply.id {
            break frame;
        }
    };
    let summary = &last["inquiry"];
    assert_eq!(summary["last_message"], "Hello there my friend", "the summary is taken after the change: {summary}");
    assert_eq!(summary["customer_message_count"], 1);
    assert_eq!(summary["is_inquiry"], true, "the customer wrote: it is an inquiry");
    assert!(kinds.contains(&"message.created".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"message.delta".to_string()), "no token deltas on the panel feed: {kinds:?}");
    assert!(question.id < reply.id);
}

async fn a_staff_feed_resumes_after_a_server_restart_missing_nothing_and_repeating_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let staff = staff_cookie(&app, "agent@example.com", "Alice").await;
    app.send_and_wait(chat, "first").await;
    let last_seen = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut socket =
        open_ws(&app, &format!("/api/v1/admin/inquiries/{chat}/ws?after=0"), Some(&staff), None).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last_seen) {
        seqs.push(next_frame(&mut socket).await.unwrap()["seq"].as_i64().unwrap());
    }
    drop(socket);
    // The server goes away; while the staff member is disconnected the conversation goes on.
    let app = app.restart().await;
    app.send_and_wait(chat, "second").await;
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut socket = open_ws(&app, &format!("/api/v1/admin/inquiries/{chat}/ws?after={last_seen}"), Some(&staff), None)
        .await
        .unwrap();
    while seqs.last() != Some(&last) {
        seqs.push(next_frame(&mut socket).await.unwrap()["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "every event once, in order");
    // Resuming on the open socket works as on the customer's: an event already sent comes again.
    // (Newer ones, such as the delivery this feed just recorded, may come before it.)
    socket.send(Ws::Text(json!({"after": last - 1}).to_string().into())).await.unwrap();
    let mut after_resume = Vec::new();
    while after_resume.last() != Some(&last) {
        after_resume.push(next_frame(&mut socket).await.unwrap()["seq"].as_i64().unwrap());
    }
    assert!(after_resume.iter().all(|seq| *seq >= last), "{after_resume:?}");
}

/// An app that mails through `smtp`, at `https://desk.example.com`, with `notices_per_hour`.
pub(crate) async fn app_with_mail(backend: Backend, smtp: &SmtpServer, notices_per_hour: u32) -> TestApp {
    let url = smtp.url();
    let configure = Box::new(move |config: &mut frontdesk::server::config::Config| {
        config.smtp_url = Some(url);
        config.public_url = "https://desk.example.com".into();
        config.notices_per_hour = notices_per_hour;
    });
    TestApp::spawn_with(backend, Options { configure, ..Options::default() }).await
}

async fn asking_for_a_person_makes_a_high_priority_inquiry_and_emails_every_staff_member(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(backend, &smtp, 2).await;
    app.state.accounts.create_staff("alice@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
    app.state.accounts.create_staff("bea@example.com", "Bea", StaffRole::Admin, PASSWORD).await.unwrap();
    let (_, chat) = app.post("/api/v1/chats", json!({"product_id": "2"})).await;
    let chat = chat["id"].as_i64().unwrap();
    app.send_and_wait(chat, "Can the chair go lower than 45 cm?").await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["priority"].as_str()), (Some("pending"), Some("high")));
    let mails = smtp.wait_for(1).await;
    let mail = &mails[0];
    assert!(mail.to.contains(&"alice@example.com".to_string()) && mail.to.contains(&"bea@example.com".to_string()));
    assert!(
        mail.data.contains(&format!("Subject: High-priority inquiry #{chat} about Nimbus Office Chair")),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("Written by the customer, not by Frontdesk"), "{}", mail.data);
    assert!(mail.data.contains("> Can the chair go lower than 45 cm?"));
    assert!(mail.data.contains(&format!("https://desk.example.com/admin/inquiries/{chat}")));
    assert!(!mail.data.to_lowercase().contains("\nto: alice"), "staff addresses are not shown to each other");
    // Asking again is not a new inquiry: no second email. A staff member raising another to high is.
    let (status, _) = app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    assert_eq!(status, 200);
    let other = app.new_chat().await;
    let staff = staff_client(&app, "carl@example.com", "Carl", StaffRole::Agent).await;
    let (status, _) =
        call(&staff, "PATCH", app.url(&format!("/api/v1/admin/inquiries/{other}")), Some(json!({"priority": "high"})))
            .await;
    assert_eq!(status, 200);
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2, "one email per inquiry that became high priority");
    let subject = mails[1].data.lines().find(|l| l.starts_with("Subject:")).unwrap_or_default().trim_end();
    assert_eq!(
        subject,
        format!("Subject: High-priority inquiry #{other}"),
        "the customer's title is not in the subject"
    );
    // The same conversation made high priority again within the hour: no second notice.
    let inquiry = app.url(&format!("/api/v1/admin/inquiries/{other}"));
    assert_eq!(call(&staff, "PATCH", inquiry.clone(), Some(json!({"priority": "low"}))).await.0, 200);
    assert_eq!(call(&staff, "PATCH", inquiry, Some(json!({"priority": "high"}))).await.0, 200);
    let notifier = app.state.notices.notifier().expect("email is configured");
    assert_eq!(notifier.suppressed(), 1, "the repeat was throttled, not sent");
    // Past the hour's allowance in all (2 here), a new high-priority inquiry is not emailed either.
    let third = app.new_chat().await;
    let inquiry = app.url(&format!("/api/v1/admin/inquiries/{third}"));
    assert_eq!(call(&staff, "PATCH", inquiry, Some(json!({"priority": "high"}))).await.0, 200);
    assert_eq!(notifier.suppressed(), 2);
    assert_eq!(smtp.mails().len(), 2);
}

async fn typing_shows_on_the_other_side_only_and_is_never_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (mut customer, mut agent, staff) = both_sides_following(&app, chat).await;
    // A staff reply both sockets must see first proves both are following.
    let reply = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")))
        .header("cookie", &staff)
        .json(&json!({"content": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let seq_before = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    for socket in [&mut customer, &mut agent] {
        loop {
            let frame = next_frame(socket).await.unwrap();
            if frame["type"] == "message.created" && frame["data"]["role"] == "agent" {
                break;
            }
        }
    }
    agent.send(Ws::Text(json!({"typing": true}).to_string().into())).await.unwrap();
    let frame = loop {
        let frame = next_frame(&mut customer).await.unwrap();
        if frame["type"] == "typing" {
            break frame;
        }
    };
    assert_eq!(frame["data"], json!({"staff": true, "name": "Alice", "typing": true}));
    assert!(frame.get("seq").is_none(), "typing has no sequence number");
    customer.send(Ws::Text(json!({"typing": true}).to_string().into())).await.unwrap();
    let frame = loop {
        let frame = next_frame(&mut agent).await.unwrap();
        if frame["type"] == "typing" {
            break frame;
        }
    };
    assert_eq!(frame["data"], json!({"staff": false, "name": null, "typing": true}));
    // Nothing about typing was stored: the chat's sequence did not move.
    let seq_after = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    assert_eq!(seq_after, seq_before, "typing is never stored");
    // A frame that is neither a resume nor typing gets a readable error, and the socket stays.
    customer.send(Ws::Text("hello?".into())).await.unwrap();
    let error = next_frame(&mut customer).await.unwrap();
    assert_eq!(error["error"]["code"], "bad_request");
}

async fn staff_server_functions_answer_401_to_nobody_and_403_to_a_visitor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let nobody = reqwest::Client::new();
    let form = |pairs: &[(&str, String)]| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let functions = [
        ("load_panel", String::new()),
        ("get_inquiry", form(&[("chat_id", chat.to_string())])),
        ("inquiry_messages", form(&[("chat_id", chat.to_string())])),
        ("staff_mark_read", form(&[("chat_id", chat.to_string()), ("up_to", "1".into())])),
    ];
    for (name, body) in functions {
        let url = app.url(&format!("/api/fn/staff/{name}"));
        for (who, client, expected) in [("nobody", &nobody, 401), ("visitor", &app.client, 403), ("staff", &staff, 200)]
        {
            let response = client
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let (status, value) = read(response).await;
            assert_eq!(status, expected, "{who} calling {name}: {value}");
            if expected != 200 {
                assert!(value["message"].is_string(), "a readable error for {who}: {value}");
            }
        }
    }
}

async fn a_customer_message_is_delivered_once_it_reaches_a_staff_screen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (unseen, _) = app.send_and_wait(chat, "Nobody from staff is online").await;
    let (_, body) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(body["staff_delivered_up_to"], 0, "no staff screen showed it");
    let staff = staff_cookie(&app, "agent@example.com", "Alice").await;
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&staff), None).await.unwrap();
    // The handshake answers before the socket's task follows the feed: wait until it does.
    crate::support::wait_for("the panel to follow the feed", || app.state.hub.open_panels() == 1).await;
    let mut events = app.events(chat, None).await;
    let (seen, _) = app.send_and_wait(chat, "Is anyone there now?").await;
    loop {
        let frame = next_frame(&mut panel).await.unwrap();
        if frame["type"] == "message.created" && frame["data"]["id"] == seen.id {
            break;
        }
    }
    let mut received = Vec::new();
    let update = next_matching(&mut events, &mut received, |e| {
        e.kind == EventKind::ChatUpdated && e.data["staff_delivered_up_to"].as_i64() >= Some(seen.id)
    })
    .await;
    assert_eq!(update.data["staff_delivered_up_to"], seen.id);
    assert!(update.data["staff_read_up_to"].as_i64() < Some(unseen.id), "delivered is not read");
}

/// Delivery is marked once per customer message, however many staff screens show it: the write
/// count of the database does not grow with the number of open panels.
async fn many_open_staff_screens_cost_one_delivery_write_per_customer_message(backend: Backend) {
    const PANELS: usize = 12;
    const MESSAGES: usize = 3;
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    // A person handles the chat: a customer message is then one write, with no reply after it.
    let (status, _) =
        call(&staff, "PATCH", app.url(&format!("/api/v1/admin/inquiries/{chat}")), Some(json!({"ai_enabled": false})))
            .await;
    assert_eq!(status, 200);
    let cookie = staff_cookie(&app, "bea@example.com", "Bea").await;
    let mut panels = Vec::new();
    for _ in 0..PANELS {
        panels.push(open_ws(&app, "/api/v1/admin/ws", Some(&cookie), None).await.unwrap());
    }
    let mut events = app.events(chat, None).await;
    let mut seen = Vec::new();
    let writes_before = app.state.db.write_count();
    for round in 0..MESSAGES {
        let (status, body) =
            app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": format!("Message {round}")})).await;
        assert_eq!(status, 201, "{body}");
        assert!(body["reply"].is_null(), "a person handles the chat: no reply");
        let id = body["message"]["id"].as_i64().unwrap();
        next_matching(&mut events, &mut seen, |e| {
            e.kind == EventKind::ChatUpdated && e.data["staff_delivered_up_to"].as_i64() >= Some(id)
        })
        .await;
    }
    // A last change every panel must receive after it handled the messages (a panel acknowledges
    // a message before it reads its next frame): then every acknowledgement has been made.
    let (status, _) =
        call(&staff, "PATCH", app.url(&format!("/api/v1/admin/inquiries/{chat}")), Some(json!({"priority": "low"})))
            .await;
    assert_eq!(status, 200);
    for panel in &mut panels {
        loop {
            let frame = next_frame(panel).await.unwrap();
            if frame["type"] == "chat.updated" && frame["data"]["priority"] == "low" {
                break;
            }
        }
    }
    let writes = app.state.db.write_count() - writes_before;
    // Per message: the message itself and its delivery mark; plus the priority change.
    assert_eq!(writes, (2 * MESSAGES + 1) as u64, "{PANELS} open panels, {MESSAGES} messages");
}

/// `chat.deleted` goes out live (it cannot be stored: the chat's log goes with it): the
/// customer's SSE stream and the staff conversation socket get it and then end (the socket with
/// 4004, so it does not reconnect), and the panel feed drops the conversation.
async fn deleting_a_chat_tells_its_followers_and_the_panels_and_ends_its_streams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Please forget this conversation").await;
    let (mut customer_ws, mut agent, staff) = both_sides_following(&app, chat).await;
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut sse = app.events(chat, Some(last)).await;
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&staff), None).await.unwrap();

    let (status, body) = app.delete(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(status, 204, "{body}");

    let within = std::time::Duration::from_secs(20);
    let deleted =
        tokio::time::timeout(within, sse.next()).await.expect("in time").expect("the SSE stream carries chat.deleted");
    assert_eq!((deleted.seq, deleted.kind), (last + 1, EventKind::ChatDeleted));
    assert_eq!(deleted.data, json!({"chat_id": chat}));
    assert!(
        tokio::time::timeout(within, sse.next()).await.expect("in time").is_none(),
        "the SSE stream ends after chat.deleted"
    );
    for socket in [&mut customer_ws, &mut agent] {
        let frame = next_frame(socket).await.expect("chat.deleted arrives before the close");
        assert_eq!((frame["seq"].as_i64(), frame["type"].as_str()), (Some(last + 1), Some("chat.deleted")));
        assert_eq!(next_frame(socket).await, Err(4004));
    }
    let frame = next_frame(&mut panel).await.expect("the panel hears of it");
    assert_eq!((frame["chat_id"].as_i64(), frame["type"].as_str()), (Some(chat), Some("chat.deleted")));
    assert!(frame.get("inquiry").is_none_or(Value::is_null), "no summary for a deleted chat: {frame}");
    // Gone for good: its stream and its inquiry answer 404.
    let (status, _) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(status, 404);
}
