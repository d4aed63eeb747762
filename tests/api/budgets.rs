//! What the assistant may cost, on both databases: calls per minute and tokens per day, per
//! visitor, per network (a new cookie is not a new allowance) and in all; the tokens each reply
//! used, summed per chat and per day, as staff see them.

use crate::{
    staff::{call, staff_client},
    support::{read, Backend, Options, Script, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(
    past_its_daily_tokens_a_visitor_is_refused_until_midnight_and_loses_nothing,
    a_new_cookie_on_the_same_network_is_not_a_new_allowance,
    past_the_daily_cap_the_assistant_answers_no_one_and_staff_still_can,
    every_reply_and_rewrite_is_counted_in_its_chat_and_its_day,
);

/// Tokens the fake upstream reports for every reply it streams to the end.
const FAKE_TOKENS: i64 = 18;

/// A visitor of their own (own cookies) who appears to come from `network` (the app trusts the
/// proxy header).
fn visitor_from(network: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", network.parse().unwrap());
    reqwest::Client::builder().cookie_store(true).default_headers(headers).build().unwrap()
}

/// Creates a chat for `client` and sends `content` (waiting for the reply): the status and body.
async fn chat_and_send(app: &TestApp, client: &reqwest::Client, content: &str) -> (i64, u16, Value) {
    let (status, chat) = call(client, "POST", app.url("/api/v1/chats"), Some(json!({}))).await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    let (status, body) = call(
        client,
        "POST",
        app.url(&format!("/api/v1/chats/{chat}/messages?wait=true")),
        Some(json!({"content": content})),
    )
    .await;
    (chat, status, body)
}

fn seconds_to_utc_midnight() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    86_400 - now % 86_400
}

async fn past_its_daily_tokens_a_visitor_is_refused_until_midnight_and_loses_nothing(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options { configure: Box::new(|c| c.tokens_per_visitor_per_day = FAKE_TOKENS as u64), ..Options::default() },
    )
    .await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "What does the lamp cost?").await;
    assert_eq!(reply.usage.map(|u| u.total_tokens), Some(FAKE_TOKENS), "the reply records what it used");
    // The day's tokens are spent: the next send, an edit or a retry reaches no model.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/chats/{chat}/messages")))
        .json(&json!({"content": "And the chair?"}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("today's allowance") && message.contains("Talk to a person"), "{message}");
    let midnight = seconds_to_utc_midnight();
    assert!(retry_after <= midnight + 1 && retry_after + 5 >= midnight, "{retry_after} vs {midnight}");
    let (status, _) = app.post(&format!("/api/v1/chats/{chat}/messages/{}/retry", reply.id), json!({})).await;
    assert_eq!(status, 429);
    assert_eq!(app.fake().requests().len(), 1, "the model was asked once");
    let messages = app.messages(chat).await;
    assert!(messages.iter().all(|m| m.content != "And the chair?"), "a refused message is not half-saved");
    assert!(messages.iter().any(|m| m.id == reply.id && !m.content.is_empty()), "nothing saved was lost");
    // A person can still be asked for.
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Another visitor has an allowance of their own.
    let other = app.another_visitor();
    let (_, status, body) = chat_and_send(&app, &other, "Hello").await;
    assert_eq!(status, 201, "{body}");
}

async fn a_new_cookie_on_the_same_network_is_not_a_new_allowance(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            configure: Box::new(|c| {
                c.trust_proxy = true;
                c.calls_per_network_per_minute = 2;
                c.tokens_per_network_per_day = 3 * FAKE_TOKENS as u64;
            }),
            ..Options::default()
        },
    )
    .await;
    // Two calls a minute from one network, whoever's cookie.
    let (_, status, _) = chat_and_send(&app, &visitor_from("198.51.100.7"), "one").await;
    assert_eq!(status, 201);
    let (_, status, _) = chat_and_send(&app, &visitor_from("198.51.100.7"), "two").await;
    assert_eq!(status, 201);
    let (chat, status, body) = chat_and_send(&app, &visitor_from("198.51.100.7"), "three").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("from your network"), "{body}");
    let (status, page) = app.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(status == 404 || page["messages"].as_array().unwrap().iter().all(|m| m["content"] != "three"));
    // An IPv6 visitor counts per /64: another address of the same block shares its allowance.
    let (_, status, _) = chat_and_send(&app, &visitor_from("2001:db8:5:6::1"), "one").await;
    assert_eq!(status, 201);
    let (_, status, _) = chat_and_send(&app, &visitor_from("2001:db8:5:6:ffff::2"), "two").await;
    assert_eq!(status, 201);
    let (_, status, _) = chat_and_send(&app, &visitor_from("2001:db8:5:6:abcd::3"), "three").await;
    assert_eq!(status, 429);
    // Tokens per day per network, across cookies: the third reply fills it.
    let (_, status, _) = chat_and_send(&app, &visitor_from("203.0.113.5"), "one").await;
    assert_eq!(status, 201);
    let (_, status, _) = chat_and_send(&app, &visitor_from("203.0.113.5"), "two").await;
    assert_eq!(status, 201);
    // (The minute's calls of this network are spent too; the day's tokens are checked first.)
    sqlx::query("UPDATE usage_daily SET tokens = tokens + $1 WHERE scope = 'network:203.0.113.5'")
        .bind(FAKE_TOKENS)
        .execute(&app.state.db.write)
        .await
        .unwrap();
    let (_, status, body) = chat_and_send(&app, &visitor_from("203.0.113.5"), "three").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("today's allowance"), "{body}");
    // Another network is not affected.
    let (_, status, body) = chat_and_send(&app, &visitor_from("192.0.2.44"), "hello").await;
    assert_eq!(status, 201, "{body}");
}

async fn past_the_daily_cap_the_assistant_answers_no_one_and_staff_still_can(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            configure: Box::new(|c| {
                c.trust_proxy = true;
                c.tokens_per_day = FAKE_TOKENS as u64;
            }),
            ..Options::default()
        },
    )
    .await;
    let customer = visitor_from("198.51.100.1");
    let (first, status, _) = chat_and_send(&app, &customer, "one").await;
    assert_eq!(status, 201);
    let (_, status, body) = chat_and_send(&app, &visitor_from("203.0.113.9"), "two").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("today's limit"), "{body}");
    assert_eq!(app.fake().requests().len(), 1);
    // Staff answer whatever the model's budget, and see the day's use against the cap.
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (status, body) = call(
        &staff,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{first}/messages")),
        Some(json!({"content": "A person here: the lamp is $49."})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, usage) = call(&staff, "GET", app.url("/api/v1/admin/usage"), None).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["tokens_per_day"], FAKE_TOKENS);
    let today = &usage["days"][0];
    assert_eq!((today["tokens"].as_i64(), today["calls"].as_i64()), (Some(FAKE_TOKENS), Some(1)), "{usage}");
    let (status, _) = call(&staff, "GET", app.url("/api/v1/admin/usage?days=0"), None).await;
    assert_eq!(status, 422);
    let (status, _) = call(&customer, "GET", app.url("/api/v1/admin/usage"), None).await;
    assert_eq!(status, 403, "visitors do not see the shop's usage");
}

async fn every_reply_and_rewrite_is_counted_in_its_chat_and_its_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "What does the lamp cost?").await;
    let tokens_used = || async {
        let (status, inquiry) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}")), None).await;
        assert_eq!(status, 200, "{inquiry}");
        inquiry["tokens_used"].as_i64().unwrap()
    };
    assert_eq!(tokens_used().await, FAKE_TOKENS);
    // A retry is paid for again: the chat counts both, the message shows its latest.
    let (status, retried) =
        app.post(&format!("/api/v1/chats/{chat}/messages/{}/retry?wait=true", reply.id), json!({})).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["usage"]["total_tokens"], FAKE_TOKENS);
    assert_eq!(tokens_used().await, 2 * FAKE_TOKENS);
    // A reply cut before the upstream reported usage is charged by estimate (prompt and text at
    // about four characters a token), not for free.
    let text = "The lamp costs forty-nine dollars and ships in two days ";
    app.fake().push(Script::CutAfter { pieces: vec![text.into()] });
    let (status, cut) =
        app.post(&format!("/api/v1/chats/{chat}/messages/{}/retry?wait=true", reply.id), json!({})).await;
    assert_eq!(status, 200, "{cut}");
    assert_eq!(cut["status"], "interrupted");
    let estimated = tokens_used().await - 2 * FAKE_TOKENS;
    let asked = app.fake().requests().pop().unwrap();
    let prompt_chars: usize =
        asked["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().chars().count()).sum();
    assert_eq!(estimated, (prompt_chars + text.chars().count()).div_ceil(4) as i64);
    // The day's total is the sum of every call.
    let (_, usage) = call(&staff, "GET", app.url("/api/v1/admin/usage?days=1"), None).await;
    assert_eq!(usage["days"][0]["tokens"].as_i64(), Some(2 * FAKE_TOKENS + estimated), "{usage}");
    assert_eq!(usage["days"][0]["calls"].as_i64(), Some(3));
}
