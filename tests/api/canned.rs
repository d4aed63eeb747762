//! Canned responses: admins write them, staff use them, filled in for a conversation, on both
//! databases.

use crate::{
    staff::{call, staff_client},
    support::{Backend, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::json;

on_both_databases!(
    admins_write_canned_responses_and_staff_get_them_filled_in_for_a_conversation,
    bad_canned_responses_are_refused_with_a_reason_and_change_nothing,
);

async fn admins_write_canned_responses_and_staff_get_them_filled_in_for_a_conversation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let url = |path: &str| app.url(&format!("/api/v1/admin/canned-responses{path}"));
    let body = json!({"shortcut": "thanks", "content": " Thanks, {{customer.email}}! {{agent.name}} here about the {{product.name}}. "});
    let (status, created) = call(&admin, "POST", url(""), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["content"].as_str().unwrap().starts_with("Thanks,"), "kept trimmed: {created}");
    let id = created["id"].as_i64().unwrap();
    let (status, _) = call(&agent, "POST", url(""), Some(json!({"shortcut": "x", "content": "y"}))).await;
    assert_eq!(status, 403, "an agent writes none");
    let (status, listed) = call(&agent, "GET", url("?q=THANKS"), None).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1), "{listed}");

    // Filled in for a conversation about a product, with the customer's email.
    let (status, chat) = app.post("/api/v1/chats", json!({"product_id": "1"})).await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    app.send_and_wait(chat, "Is it in stock?").await;
    assert_eq!(app.patch(&format!("/api/v1/chats/{chat}"), json!({"customer_email": "ann@example.com"})).await.0, 200);
    let (_, product) = app.get("/api/v1/products/1").await;
    let (status, filled) =
        call(&agent, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/canned-responses?q=thanks")), None).await;
    assert_eq!(status, 200, "{filled}");
    assert_eq!(
        filled[0]["content"].as_str().unwrap(),
        format!("Thanks, ann@example.com! Alice here about the {}.", product["name"].as_str().unwrap())
    );

    let (status, changed) =
        call(&admin, "PUT", url(&format!("/{id}")), Some(json!({"shortcut": "thanks", "content": "Cheers!"}))).await;
    assert_eq!((status, changed["content"].as_str()), (200, Some("Cheers!")), "{changed}");
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    assert!(log.to_string().contains("canned.updated"), "audited: {log}");
    assert_eq!(call(&admin, "DELETE", url(&format!("/{id}")), None).await.0, 204);
    assert_eq!(call(&admin, "GET", url(&format!("/{id}")), None).await.0, 404);
    assert_eq!(app.get("/api/v1/admin/canned-responses").await.0, 403, "a visitor reads none");
}

async fn bad_canned_responses_are_refused_with_a_reason_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let url = app.url("/api/v1/admin/canned-responses");
    let (status, first) =
        call(&admin, "POST", url.clone(), Some(json!({"shortcut": "hello", "content": "Hello!"}))).await;
    assert_eq!(status, 201, "{first}");
    for (body, expected, says) in [
        (json!({"shortcut": "hello", "content": "Again"}), 409, "taken"),
        (json!({"shortcut": "two words", "content": "x"}), 422, "shortcut"),
        (json!({"shortcut": "Hello", "content": "x"}), 422, "shortcut"),
        (json!({"shortcut": "blank", "content": "   "}), 422, "content"),
        (json!({"shortcut": "long", "content": "x".repeat(4_001)}), 422, "content"),
    ] {
        let (status, refused) = call(&admin, "POST", url.clone(), Some(body)).await;
        assert_eq!(status, expected, "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(says), "{refused}");
    }
    let (status, _) =
        call(&admin, "PUT", format!("{url}/424242"), Some(json!({"shortcut": "nope", "content": "x"}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(&admin, "GET", app.url("/api/v1/admin/inquiries/424242/canned-responses"), None).await;
    assert_eq!(status, 404, "a conversation that does not exist");
    let (_, all) = call(&admin, "GET", url, None).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "nothing but the first was written: {all}");
}
