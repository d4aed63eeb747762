//! The window as the shop wants it (issue 32): admins set its look and the team's hours, and the
//! window reads them as it renders, on both databases.

use crate::{
    staff::{call, staff_client},
    support::{read, Backend, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(
    admins_set_the_window_and_it_shows_on_the_next_page,
    bad_window_settings_are_refused_with_the_reason_and_change_nothing,
    outside_business_hours_the_window_says_so_the_assistant_answers_and_a_person_is_asked_for_with_an_email,
    the_avatar_is_an_image_an_admin_puts_up_and_takes_down,
);

fn look(brand: &str, launcher: &str, hours: Value) -> Value {
    json!({
        "brand_color": brand, "title": "Acme help", "subtitle": "We answer in minutes",
        "welcome": "Questions? Ask us", "launcher": launcher, "business_hours": hours,
    })
}

fn hours(enabled: bool, day: Option<(&str, &str)>) -> Value {
    let day = day.map(|(open, close)| json!({"open": open, "close": close}));
    json!({"enabled": enabled, "time_zone": "Europe/Paris", "days": vec![day; 7]})
}

/// A page of this server as a browser gets it: its status and text.
async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = reqwest::Client::new().get(app.url(path)).header("accept", "text/html").send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn admins_set_the_window_and_it_shows_on_the_next_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let settings = app.url("/api/v1/admin/settings/window");
    let (status, before) = call(&agent, "GET", settings.clone(), None).await;
    assert_eq!((status, &before["brand_color"], &before["launcher"]), (200, &json!("#4f46e5"), &json!("right")));
    let (_, widget) = page(&app, "/widget").await;
    assert!(widget.contains("Hi there! 👋") && widget.contains("/window/brand.css"), "{widget}");

    let wanted = look("#0F766E", "left", hours(false, Some(("09:00", "17:00"))));
    assert_eq!(call(&agent, "PUT", settings.clone(), Some(wanted.clone())).await.0, 403, "admins only");
    let (status, saved) = call(&admin, "PUT", settings.clone(), Some(wanted)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!((&saved["brand_color"], &saved["title"]), (&json!("#0f766e"), &json!("Acme help")));
    // The next page has it: the texts in the window, the colour and side in its style sheet.
    let (_, widget) = page(&app, "/widget").await;
    assert!(widget.contains("Acme help") && widget.contains("We answer in minutes"), "{widget}");
    assert!(!widget.contains("Hi there!"), "{widget}");
    let response = reqwest::Client::new().get(app.url("/window/brand.css")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache", "asked again on every page");
    let css = response.text().await.unwrap();
    assert!(css.contains("--fd-brand:#0f766e") && css.contains("--fd-left:1.25rem;--fd-right:auto"), "{css}");
    let (_, product_page) = page(&app, "/products/2").await;
    assert!(product_page.contains("Questions? Ask us"), "the welcome beside the launcher");
    // embed.js reads the launcher's colour, side and welcome from any site.
    let response =
        reqwest::Client::new().get(app.url("/api/v1/window")).header("origin", "https://shop.example").send().await;
    let response = response.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let (_, public) = read(response).await;
    assert_eq!(public, json!({"brand_color": "#0f766e", "launcher": "left", "welcome": "Questions? Ask us"}));
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let entry = log.to_string();
    assert!(
        entry.contains("window.updated") && entry.contains("brand_color, title, subtitle, welcome, launcher"),
        "{entry}"
    );
}

async fn bad_window_settings_are_refused_with_the_reason_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let settings = app.url("/api/v1/admin/settings/window");
    let (_, before) = call(&admin, "GET", settings.clone(), None).await;
    let fine = || look("#0f766e", "right", hours(true, Some(("09:00", "17:00"))));
    let with = |key: &str, value: Value| {
        let mut body = fine();
        body[key] = value;
        body
    };
    let mut backwards = fine();
    backwards["business_hours"] = hours(true, Some(("17:00", "09:00")));
    let mut nowhere = fine();
    nowhere["business_hours"]["time_zone"] = json!("Mars/Olympus_Mons");
    let mut six_days = fine();
    six_days["business_hours"]["days"].as_array_mut().unwrap().pop();
    for (bad, why) in [
        (with("brand_color", json!("#ffcc00")), "4.5:1"),
        (with("brand_color", json!("red")), "not a colour"),
        (with("title", json!("   ")), "title"),
        (with("launcher", json!("top")), "launcher"),
        (backwards, "Monday"),
        (nowhere, "Mars/Olympus_Mons"),
        (six_days, "seven days"),
    ] {
        let (status, body) = call(&admin, "PUT", settings.clone(), Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{why}: {body}");
    }
    assert_eq!(call(&admin, "GET", settings, None).await.1, before, "nothing changed");
}

/// The newest system line of a customer's chat.
async fn last_system_line(app: &TestApp, chat: i64) -> String {
    let line = app.messages(chat).await.into_iter().rev().find(|m| m.role == frontdesk::model::Role::System);
    line.expect("a system line").content
}

async fn outside_business_hours_the_window_says_so_the_assistant_answers_and_a_person_is_asked_for_with_an_email(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let settings = app.url("/api/v1/admin/settings/window");
    // Closed every day: the team is out whenever this runs.
    let closed = look("#0f766e", "right", hours(true, None));
    assert_eq!(call(&admin, "PUT", settings.clone(), Some(closed)).await.0, 200);
    let (_, widget) = page(&app, "/widget").await;
    assert!(widget.contains("We're away now."), "the subtitle says so: {widget}");
    assert!(!widget.contains("We answer in minutes"), "{widget}");
    // The assistant still answers.
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "Do you ship to Spain?").await;
    assert!(!reply.content.is_empty());
    // Asking for a person says when the team is back and asks for an email.
    assert_eq!(app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await.0, 200);
    assert_eq!(
        last_system_line(&app, chat).await,
        "You asked for a person. We're away now. Leave your email so the team can write to you."
    );
    // With an email left, it does not ask again.
    let other = app.new_chat().await;
    assert_eq!(app.patch(&format!("/api/v1/chats/{other}"), json!({"customer_email": "sam@example.com"})).await.0, 200);
    assert_eq!(app.post(&format!("/api/v1/chats/{other}/handoff"), json!({})).await.0, 200);
    assert_eq!(
        last_system_line(&app, other).await,
        "You asked for a person. We're away now. Someone from our team will reply here then."
    );
    // Open all day, every day: the team is in.
    let open = look("#0f766e", "right", hours(true, Some(("00:00", "24:00"))));
    assert_eq!(call(&admin, "PUT", settings, Some(open)).await.0, 200);
    let (_, widget) = page(&app, "/widget").await;
    assert!(widget.contains("We answer in minutes") && !widget.contains("We're away"), "{widget}");
    let third = app.new_chat().await;
    assert_eq!(app.post(&format!("/api/v1/chats/{third}/handoff"), json!({})).await.0, 200);
    assert_eq!(last_system_line(&app, third).await, frontdesk::model::HANDOFF_LINE);
}

/// A small PNG's first bytes, then some more.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len, 7);
    bytes
}

async fn the_avatar_is_an_image_an_admin_puts_up_and_takes_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let url = app.url("/api/v1/admin/settings/window/avatar");
    let put = |client: &reqwest::Client, kind: &'static str, body: Vec<u8>| {
        client.put(url.clone()).header("content-type", kind).body(body).send()
    };
    assert_eq!(page(&app, "/window/avatar").await.0, 404, "none yet");
    assert_eq!(put(&agent, "image/png", png(100)).await.unwrap().status().as_u16(), 403);
    let (status, body) =
        read(put(&admin, "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec()).await.unwrap()).await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = read(put(&admin, "image/png", png(300 * 1024)).await.unwrap()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(page(&app, "/window/avatar").await.0, 404, "nothing was kept");

    assert_eq!(put(&admin, "image/png", png(2048)).await.unwrap().status().as_u16(), 204);
    let response = reqwest::Client::new().get(app.url("/window/avatar")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().to_vec(), png(2048));
    let (_, css) = page(&app, "/window/brand.css").await;
    assert!(css.contains(".fd-avatar{background:url(/window/avatar?v="), "{css}");
    let (_, settings) = call(&admin, "GET", app.url("/api/v1/admin/settings/window"), None).await;
    assert_eq!(settings["avatar"], true);

    let (status, _) = read(admin.delete(url.clone()).send().await.unwrap()).await;
    assert_eq!(status, 204);
    assert_eq!(page(&app, "/window/avatar").await.0, 404);
    assert!(!page(&app, "/window/brand.css").await.1.contains("fd-avatar"));
}
