//! The HTTP surface around the chat API: error bodies, origin checks, health, docs, the rendered
//! page and start-up settings.

use crate::support::{process::ServerProcess, Backend, Options, TestApp};
use serde_json::json;

on_both_databases!(
    every_error_is_json_with_a_code_and_a_readable_message,
    writes_from_another_origin_are_refused,
    health_and_readiness_answer,
    the_openapi_spec_describes_every_endpoint_and_docs_are_served_locally,
    the_spec_states_the_rules_the_server_enforces_and_the_server_keeps_to_them,
    preferences_are_saved_per_visitor_and_checked,
    a_first_action_sets_a_private_session_cookie,
);

async fn every_error_is_json_with_a_code_and_a_readable_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let cases = [
        (
            app.client
                .post(app.url(&format!("/api/v1/chats/{chat}/messages")))
                .header("content-type", "application/json")
                .body("{oops"),
            400,
        ),
        (app.client.post(app.url(&format!("/api/v1/chats/{chat}/messages"))).body("content=hi"), 400),
        (app.client.post(app.url(&format!("/api/v1/chats/{chat}/messages"))).json(&json!({"text": "hi"})), 422),
        (app.client.get(app.url("/api/v1/chats/abc")), 404),
        (app.client.get(app.url("/api/v1/chats/424242")), 404),
        (app.client.get(app.url("/api/v1/nothing-here")), 404),
    ];
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let (status, body) = crate::support::read(response).await;
        assert_eq!(status, expected, "{body}");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(body["error"]["code"].is_string());
        assert!(!message.to_lowercase().contains("sql") && !message.contains("panicked"), "{message}");
    }
}

async fn writes_from_another_origin_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let url = app.url(&format!("/api/v1/chats/{chat}/messages"));
    let foreign = app.client.post(&url).header("origin", "https://evil.example").json(&json!({"content": "hi"}));
    let (status, body) = crate::support::read(foreign.send().await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let cross_site = app.client.post(&url).header("sec-fetch-site", "cross-site").json(&json!({"content": "hi"}));
    assert_eq!(cross_site.send().await.unwrap().status(), 403);
    assert_eq!(app.messages(chat).await.len(), 1, "nothing was saved");
    let same =
        app.client.post(format!("{url}?wait=true")).header("origin", app.base.clone()).json(&json!({"content": "hi"}));
    assert_eq!(same.send().await.unwrap().status(), 201);
    // Reads from anywhere are fine.
    let read = app.client.get(app.url("/api/v1/contexts")).header("origin", "https://evil.example");
    assert_eq!(read.send().await.unwrap().status(), 200);
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(app.get("/readyz").await, (200, json!({"status": "ready"})));
    app.state.db.read.close().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
}

async fn the_openapi_spec_describes_every_endpoint_and_docs_are_served_locally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, spec) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"), "{}", spec["openapi"]);
    for path in [
        "/api/v1/contexts",
        "/api/v1/chats",
        "/api/v1/chats/{id}",
        "/api/v1/chats/{id}/messages",
        "/api/v1/chats/{id}/messages/{mid}",
        "/api/v1/chats/{id}/messages/{mid}/stop",
        "/api/v1/chats/{id}/messages/{mid}/retry",
        "/api/v1/chats/{id}/handoff",
        "/api/v1/chats/{id}/read",
        "/api/v1/chats/{id}/events",
        "/api/v1/chats/{id}/ws",
        "/api/v1/preferences",
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/admin/staff",
        "/api/v1/admin/inquiries",
        "/api/v1/admin/inquiries/{id}",
        "/api/v1/admin/inquiries/{id}/messages",
        "/api/v1/admin/inquiries/{id}/read",
        "/api/v1/admin/inquiries/{id}/ws",
        "/api/v1/admin/ws",
        "/api/v1/admin/api-keys",
        "/api/v1/admin/api-keys/{id}",
        "/api/v1/admin/knowledge",
        "/api/v1/admin/knowledge/search",
        "/api/v1/admin/knowledge/import",
        "/api/v1/admin/knowledge/{external_id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    let schemas = &spec["components"]["schemas"];
    assert!(schemas["UpdateChat"]["properties"]["customer_email"].is_object(), "the email field is documented");
    assert!(schemas["Chat"]["properties"]["staff_read_up_to"].is_object(), "read marks are documented");
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger") && !html.contains("cdn"), "docs are served by the app itself");
}

async fn the_spec_states_the_rules_the_server_enforces_and_the_server_keeps_to_them(backend: Backend) {
    let configure = |c: &mut frontdesk::server::config::Config| c.message_max_chars = 500;
    let app = TestApp::spawn_with(backend, Options { configure: Box::new(configure), ..Options::default() }).await;
    let (_, spec) = app.get("/api/openapi.json").await;
    let schema = |name: &str, field: &str| spec["components"]["schemas"][name]["properties"][field].clone();
    let param = |path: &str, method: &str, name: &str| {
        spec["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{method} {path} documents {name}"))
    };
    // Configured rules: the longest message and the contexts (a closed set).
    for name in ["SendMessage", "EditMessage", "StaffMessage"] {
        assert_eq!(schema(name, "content")["maxLength"], 500, "{name}");
        assert_eq!(schema(name, "content")["pattern"], r"\S", "{name}: not blank");
    }
    for (name, field) in [("CreateChat", "context"), ("UpdateChat", "context"), ("SendMessage", "context")] {
        assert_eq!(schema(name, field)["enum"], json!(["sales", "support", "billing", null]), "{name}.{field}");
    }
    assert_eq!(schema("Preferences", "default_context")["enum"], json!(["sales", "support", "billing", null]));
    assert_eq!(spec["components"]["schemas"]["StaffRole"]["enum"], json!(["admin", "agent"]), "roles are a closed set");
    assert_eq!(schema("ReadUpTo", "up_to")["minimum"], 0);
    assert_eq!(schema("UpdateChat", "title")["maxLength"], 120);
    assert_eq!(
        param("/api/v1/admin/knowledge/search", "get", "context")["schema"]["enum"],
        json!(["sales", "support", "billing"])
    );
    assert_eq!(schema("KnowledgeInput", "tags")["items"]["pattern"], r"^[A-Za-z0-9_-]{1,40}$");
    assert!(schema("KnowledgeInput", "visibility").to_string().contains("Visibility"), "a closed set");
    // Ranges of the query parameters.
    for (path, name, min, max) in [
        ("/api/v1/chats/{id}/messages", "limit", 1, 100),
        ("/api/v1/admin/inquiries", "limit", 1, 100),
        ("/api/v1/admin/inquiries/{id}/messages", "limit", 1, 100),
        ("/api/v1/admin/audit", "limit", 1, 200),
        ("/api/v1/admin/usage", "days", 1, 90),
        ("/api/v1/admin/knowledge", "limit", 1, 200),
    ] {
        let schema = &param(path, "get", name)["schema"];
        assert_eq!((schema["minimum"].clone(), schema["maximum"].clone()), (json!(min), json!(max)), "{path} {name}");
    }
    // The WebSockets say they need a handshake.
    for path in ["/api/v1/chats/{id}/ws", "/api/v1/admin/inquiries/{id}/ws", "/api/v1/admin/ws"] {
        for header in ["Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key"] {
            let header = param(path, "get", header);
            assert_eq!((header["in"].as_str(), header["required"].as_bool()), (Some("header"), Some(true)), "{path}");
        }
        assert!(spec["paths"][path]["get"]["responses"]["101"].is_object(), "{path}");
    }

    // The server keeps to what the spec says.
    let chat = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!(["hi", null])).await;
    assert_eq!(status, 422, "a body is an object, not the fields in a list: {body}");
    let (status, _) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "x".repeat(501)})).await;
    assert_eq!(status, 413, "past maxLength");
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages?wait=true"), json!({"content": "hi"})).await;
    assert_eq!(status, 201, "{body}");
    let reply = body["reply"]["id"].as_i64().unwrap();
    let (status, body) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": reply as f64})).await;
    assert_eq!(status, 200, "a whole number is an integer however it is written: {body}");
    let (status, body) = app.put(&format!("/api/v1/chats/{chat}/read"), json!({"up_to": 1.5})).await;
    assert_eq!(status, 422, "{body}");
    let (status, page) = app.get(&format!("/api/v1/chats/{chat}/messages?after=0&before={reply}")).await;
    assert_eq!(status, 200, "before and after together: the messages between ({page})");
    let ids: Vec<i64> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "the greeting and the question: {ids:?}");
    assert!(ids.iter().all(|id| *id < reply));
    let (status, _) = app.get(&format!("/api/v1/chats/{chat}/messages?limit=0")).await;
    assert_eq!(status, 422);
    let (status, body) = app.post("/api/v1/chats", json!({"product_id": "424242"})).await;
    assert_eq!(status, 404, "an id that names nothing: {body}");
    let (status, body) =
        app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": "  Ann@Example.COM "})).await;
    assert_eq!((status, body["customer_email"].as_str()), (200, Some("ann@example.com")), "{body}");
    // A WebSocket endpoint refuses a plain GET, and a bad resume point before any upgrade.
    let (status, body) = app.get(&format!("/api/v1/chats/{chat}/ws")).await;
    assert_eq!(status, 400, "{body}");
    let handshake = app
        .client
        .get(app.url(&format!("/api/v1/chats/{chat}/ws?after=-1")))
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let (status, body) = crate::support::read(handshake.send().await.unwrap()).await;
    assert_eq!(status, 422, "{body}");
}

async fn preferences_are_saved_per_visitor_and_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, prefs) = app.get("/api/v1/preferences").await;
    assert_eq!(status, 200);
    assert_eq!(
        prefs,
        json!({"theme": "system", "send_key": "shift_enter", "sound": false, "text_size": "medium", "default_context": null})
    );
    let wanted = json!({"theme": "dark", "send_key": "enter", "sound": true, "text_size": "large", "default_context": "billing"});
    assert_eq!(app.put("/api/v1/preferences", wanted.clone()).await, (200, wanted.clone()));
    assert_eq!(app.get("/api/v1/preferences").await.1, wanted);
    let (_, chat) = app.post("/api/v1/chats", json!({})).await;
    assert_eq!(chat["context"], "billing", "new chats start in the preferred context");
    let (status, _) = app
        .put("/api/v1/preferences", json!({"theme": "neon", "send_key": "enter", "sound": true, "text_size": "large"}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .put("/api/v1/preferences", json!({"theme": "dark", "send_key": "enter", "sound": true, "text_size": "large", "default_context": "nope"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.get("/api/v1/preferences").await.1, wanted, "refused changes change nothing");
    let stranger = app.another_visitor();
    let (_, theirs) = crate::support::read(stranger.get(app.url("/api/v1/preferences")).send().await.unwrap()).await;
    assert_eq!(theirs["theme"], "system");
}

async fn a_first_action_sets_a_private_session_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = reqwest::Client::new().post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("fd_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let static_check = reqwest::get(app.url("/healthz")).await.unwrap();
    assert!(static_check.headers().get("set-cookie").is_none(), "health checks create no visitors");
}

#[test]
fn invalid_settings_stop_the_server_with_a_one_line_reason() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .env("DATABASE_URL", "mysql://localhost/db")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL must start with sqlite: or postgres://"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .env("FRONTDESK_MESSAGE_MAX_CHARS", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("message-max-chars"));
}

#[test]
fn help_lists_every_setting() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk")).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for var in [
        "DATABASE_URL",
        "FRONTDESK_ADDR",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "OPENAI_CONNECT_TIMEOUT_SECS",
        "OPENAI_IDLE_TIMEOUT_SECS",
        "OPENAI_MAX_RETRIES",
        "FRONTDESK_MESSAGE_MAX_CHARS",
        "FRONTDESK_CONTEXTS_FILE",
        "FRONTDESK_LOG_FORMAT",
        "FRONTDESK_SHUTDOWN_GRACE_SECS",
        "FRONTDESK_METRICS_TOKEN",
    ] {
        assert!(help.contains(var), "--help mentions {var}");
    }
}

/// The server as it runs (its own process, its own logs): every request gets an id — the
/// caller's `X-Request-Id`, or a new UUID — returned as a header and named on the request's
/// access-log line (info: method, path, status, latency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_an_id_returned_as_a_header_and_named_in_its_access_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/log.db", dir.path().display());
    let mut server = ServerProcess::start(&[("DATABASE_URL", database.as_str())]).await;
    let (base, lines) = (server.base.clone(), &mut server.lines);
    let client = reqwest::Client::new();

    let mine = client.get(format!("{base}/api/v1/chats")).header("x-request-id", "req-from-the-caller-42");
    let response = mine.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-from-the-caller-42");
    let fresh = client.get(format!("{base}/api/v1/chats/424242")).send().await.unwrap();
    assert_eq!(fresh.status(), 404);
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a new UUID: {id}");

    // The access-log lines of both, each inside its request's span.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut wanted = vec![("req-from-the-caller-42", "/api/v1/chats", 200), (id.as_str(), "/api/v1/chats/424242", 404)];
    while !wanted.is_empty() {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no access-log line for {wanted:?}"));
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["fields"]["message"] != "served" {
            continue;
        }
        assert_eq!(entry["level"], "INFO", "{line}");
        let span = &entry["span"];
        wanted.retain(|(id, path, status)| {
            !(span["id"] == *id
                && span["path"] == *path
                && span["method"] == "GET"
                && entry["fields"]["status"] == *status)
        });
    }
}

/// The value of one series in a metrics scrape (0 when absent).
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_replies_tokens_and_open_connections_behind_a_token() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        crate::support::Options {
            configure: Box::new(|config| config.metrics_token = Some("scrape-secret".into())),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 401, "without the token: {body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let scrape = || async {
        let response = reqwest::Client::new()
            .get(app.url("/metrics"))
            .header("authorization", "Bearer scrape-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        response.text().await.unwrap()
    };
    // Metrics are per process and other tests run beside this one: compare before and after.
    let before = scrape().await;
    let chat = app.new_chat().await;
    let _following = app.events(chat, None).await;
    app.send_and_wait(chat, "How much is the lamp?").await;
    let after = scrape().await;
    let grew = |name: &str| series(&after, name) - series(&before, name);
    assert!(
        grew(r#"frontdesk_http_requests_total{method="POST",route="/api/v1/chats/{id}/messages",status="201"}"#) >= 1.0,
        "{after}"
    );
    assert!(grew("frontdesk_time_to_first_token_seconds_count") >= 1.0);
    assert!(grew(r#"frontdesk_reply_duration_seconds_count{kind="complete"}"#) >= 1.0);
    assert!(grew(r#"frontdesk_tokens_total{kind="completion"}"#) >= 7.0, "the upstream's usage is counted");
    assert!(series(&after, r#"frontdesk_open_connections{kind="sse"}"#) >= 1.0, "the open event stream counts");
    assert!(!after.contains(&format!("/api/v1/chats/{chat}")), "routes by pattern, never a series per chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_and_starts_nothing_else() {
    let db = crate::support::TestDb::new(Backend::Postgres).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("FRONTDESK_ADMIN_PASSWORD", "a-long-enough-password")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (migrations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    assert!(migrations >= 9, "every migration applied");
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&pool).await.unwrap();
    let (replicas,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM replicas").fetch_one(&pool).await.unwrap();
    assert_eq!((users, replicas), (0, 0), "no first admin, no replica: only the schema");
}
