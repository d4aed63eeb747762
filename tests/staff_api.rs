//! Staff accounts, role checks and inquiries, on both databases.

mod support;

use frontdesk::{model::EventKind, server::session::StaffRole};
use serde_json::{json, Value};
use support::{next_matching, read, Backend, TestApp};

on_both_databases!(
    every_staff_endpoint_answers_401_to_nobody_and_403_to_a_visitor,
    signing_in_starts_a_new_session_and_signing_out_ends_it,
    the_first_start_creates_one_admin_whose_password_works,
    a_customer_question_shows_in_the_pending_list_with_its_product_and_counts,
    a_staff_reply_takes_over_and_the_customer_sees_it_live,
    handing_back_lets_the_assistant_answer_again,
    resolving_an_inquiry_takes_it_off_the_pending_list,
);

const PASSWORD: &str = "a-long-enough-password";

/// A client signed in as a new staff member.
async fn staff_client(app: &TestApp, email: &str, name: &str, role: StaffRole) -> reqwest::Client {
    app.state.service.create_staff(email, name, role, PASSWORD).await.unwrap();
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

async fn call(client: &reqwest::Client, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
    let request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PATCH" => client.patch(url),
        "PUT" => client.put(url),
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
    app.state.service.create_staff("agent@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
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
    let (email, password) = app.state.service.ensure_first_admin("Owner@Example.com").await.unwrap().expect("created");
    assert_eq!(email, "owner@example.com");
    assert!(app.state.service.ensure_first_admin("other@example.com").await.unwrap().is_none(), "only once");
    let (status, me) = app.post("/api/v1/auth/login", json!({"email": email, "password": password})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    let (status, body) = app.get("/api/v1/admin/staff").await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
}

async fn a_customer_question_shows_in_the_pending_list_with_its_product_and_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, chat) = app.post("/api/v1/chats", json!({"product_id": 3})).await;
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
    assert_eq!(inquiry["last_message"], support::fake_openai::DEFAULT_REPLY);
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
    let mut seen = Vec::new();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCreated && e.data["role"] == "agent").await;
    assert!(seen.iter().any(|e| e.data["content"] == "Alice joined the conversation"));
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
    assert_eq!(reply.content, support::fake_openai::DEFAULT_REPLY);
    let (status, body) = call(&staff, "PATCH", url.clone(), Some(json!({"assignee_id": 999999}))).await;
    assert_eq!(status, 422, "{body}");
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
