//! What the team reads back (issue 33): the audit log, filtered by member, kind of action and
//! conversation, on both databases.

use crate::{
    staff::{call, staff_client},
    support::{Backend, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(the_audit_log_is_filtered_by_member_kind_of_action_and_conversation,);

async fn id_of(client: &reqwest::Client, app: &TestApp) -> i64 {
    let (status, me) = call(client, "GET", app.url("/api/v1/auth/me"), None).await;
    assert_eq!(status, 200, "{me}");
    me["id"].as_i64().unwrap()
}

async fn audit(admin: &reqwest::Client, app: &TestApp, query: &str) -> (u16, Value) {
    call(admin, "GET", app.url(&format!("/api/v1/admin/audit{query}")), None).await
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn the_audit_log_is_filtered_by_member_kind_of_action_and_conversation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let alice = id_of(&agent, &app).await;
    let (first, second) = (app.new_chat().await, app.new_chat().await);
    for chat in [first, second] {
        let url = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
        assert_eq!(call(&agent, "PATCH", url, Some(json!({"status": "in_progress"}))).await.0, 200);
    }
    let label = json!({"name": "Refund", "color": "#b91c1c"});
    assert_eq!(call(&admin, "POST", app.url("/api/v1/admin/labels"), Some(label)).await.0, 201);

    let (status, by_alice) = audit(&admin, &app, &format!("?actor_id={alice}")).await;
    assert_eq!(status, 200, "{by_alice}");
    assert_eq!(actions(&by_alice), ["inquiry.updated", "inquiry.updated"]);
    assert!(by_alice["entries"].as_array().unwrap().iter().all(|e| e["actor_name"] == "Alice"));
    let (_, labels) = audit(&admin, &app, "?action=label.").await;
    assert_eq!(actions(&labels), ["label.created"]);
    let (_, one) = audit(&admin, &app, &format!("?chat_id={first}&action=inquiry.")).await;
    assert_eq!(one["entries"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["entries"][0]["chat_id"], first);
    // `_` is a letter here, not LIKE's wildcard.
    let (_, none) = audit(&admin, &app, "?action=inquiry_").await;
    assert_eq!(actions(&none), Vec::<String>::new());

    for bad in ["?action=Label", "?action=label%25", "?limit=0", "?actor_id=x"] {
        let (status, body) = audit(&admin, &app, bad).await;
        assert!(status == 422 || status == 400, "{bad} → {status} {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    assert_eq!(audit(&agent, &app, "").await.0, 403, "admins only");
}
