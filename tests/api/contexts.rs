//! The assistant's contexts as admins keep them (the panel's server functions): in force at once
//! for new conversations, open windows, the spec and the model, on both databases.

use crate::{
    staff::{call, next_frame, open_ws, staff_client},
    support::{read, Backend, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(
    an_admin_changes_a_context_and_an_open_window_hears_it_at_once,
    contexts_are_added_made_default_and_deleted_and_the_spec_names_the_ones_in_force,
    a_context_answers_with_its_own_model,
    bad_context_settings_are_refused_with_a_reason_and_change_nothing,
);

/// Calls one of the panel's server functions with a JSON body.
pub async fn server_fn(client: &reqwest::Client, app: &TestApp, name: &str, body: Value) -> (u16, Value) {
    read(client.post(app.url(&format!("/api/fn/staff/{name}"))).json(&body).send().await.unwrap()).await
}

/// The settings of one of the built-in contexts, changed by `change`.
pub async fn changed_context(
    admin: &reqwest::Client,
    app: &TestApp,
    id: &str,
    change: impl FnOnce(&mut Value),
) -> (u16, Value) {
    let (status, all) = server_fn(admin, app, "list_contexts", json!({})).await;
    assert_eq!(status, 200, "{all}");
    let mut context = all.as_array().unwrap().iter().find(|c| c["id"] == id).expect("the context exists").clone();
    change(&mut context);
    server_fn(admin, app, "save_context", json!({"context": context})).await
}

fn ids(contexts: &Value) -> Vec<String> {
    contexts.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// The context ids the served spec allows for a new chat.
async fn spec_ids(app: &TestApp) -> Vec<String> {
    let (_, spec) = app.get("/api/openapi.json").await;
    let allowed = &spec["components"]["schemas"]["CreateChat"]["properties"]["context"]["enum"];
    allowed.as_array().unwrap().iter().filter_map(|id| id.as_str().map(str::to_string)).collect()
}

async fn an_admin_changes_a_context_and_an_open_window_hears_it_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let chat = app.new_chat().await;
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let mut window = open_ws(&app, &format!("/api/v1/chats/{chat}/ws?after={last}"), Some(&app.cookie_header()), None)
        .await
        .unwrap();

    let (status, all) = changed_context(&admin, &app, "sales", |c| {
        c["label"] = "Shop advice".into();
        c["greeting"] = "Welcome to the shop! What are you looking for?".into();
    })
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all[0]["label"], "Shop advice");

    // The open window hears the contexts it offers now.
    let frame = loop {
        let frame = next_frame(&mut window).await.expect("the socket stays open");
        if frame["type"] == "contexts" {
            break frame;
        }
    };
    assert_eq!(frame["data"][0], json!({"id": "sales", "label": "Shop advice", "description": all[0]["description"]}));
    assert!(frame.get("seq").is_none(), "a live signal, not a stored event: {frame}");
    // So does everyone who asks, and a new conversation starts with the new greeting.
    let (_, listed) = app.get("/api/v1/contexts").await;
    assert_eq!(listed[0]["label"], "Shop advice", "{listed}");
    let other = app.another_visitor();
    let (status, created) = read(other.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(status, 201, "{created}");
    let (_, page) =
        read(other.get(app.url(&format!("/api/v1/chats/{}/messages", created["id"]))).send().await.unwrap()).await;
    assert_eq!(page["messages"][0]["content"], "Welcome to the shop! What are you looking for?");
    // Audited.
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    assert!(log.to_string().contains("context.updated"), "{log}");
}

async fn contexts_are_added_made_default_and_deleted_and_the_spec_names_the_ones_in_force(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    assert_eq!(spec_ids(&app).await, ["sales", "support", "billing"]);
    let returns = json!({"id": "returns", "label": "Returns", "description": "Sending something back",
        "greeting": "Hi! What would you like to return?", "instructions": "You help with returns.",
        "knowledge_tags": ["returns"], "strict": true, "model": null});

    // Three is the most; an agent changes none.
    let (status, refused) = server_fn(&admin, &app, "save_context", json!({"context": returns})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("at most 3"), "{refused}");
    let (status, _) = server_fn(&agent, &app, "delete_context", json!({"id": "billing"})).await;
    assert_eq!(status, 403);

    let (status, all) = server_fn(&admin, &app, "delete_context", json!({"id": "billing"})).await;
    assert_eq!((status, ids(&all)), (200, vec!["sales".to_string(), "support".to_string()]));
    let (status, all) = server_fn(&admin, &app, "save_context", json!({"context": returns})).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), ["sales", "support", "returns"]);
    assert_eq!(all[2]["strict"], true);
    assert_eq!(spec_ids(&app).await, ["sales", "support", "returns"], "the spec names the contexts in force");
    let (status, _) = app.post("/api/v1/chats", json!({"context": "billing"})).await;
    assert_eq!(status, 422, "a deleted context is not offered");

    let (status, all) = server_fn(&admin, &app, "make_default_context", json!({"id": "returns"})).await;
    assert_eq!((status, ids(&all)[0].as_str()), (200, "returns"));
    let chat = app.new_chat().await;
    let (_, opened) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(opened["context"], "returns", "new conversations start in the default: {opened}");

    for id in ["sales", "support"] {
        assert_eq!(server_fn(&admin, &app, "delete_context", json!({"id": id})).await.0, 200);
    }
    let (status, last) = server_fn(&admin, &app, "delete_context", json!({"id": "returns"})).await;
    assert_eq!(status, 422, "one context always stays: {last}");
    let (status, _) = server_fn(&admin, &app, "delete_context", json!({"id": "nope"})).await;
    assert_eq!(status, 404);
}

async fn a_context_answers_with_its_own_model(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Hello?").await;
    let (status, _) = changed_context(&admin, &app, "sales", |c| c["model"] = "shop-model-2".into()).await;
    assert_eq!(status, 200);
    app.send_and_wait(chat, "Hello again?").await;
    let models: Vec<Value> = app.fake().requests().iter().map(|r| r["model"].clone()).collect();
    assert_eq!(models, [json!("fake-model"), json!("shop-model-2")], "the server's model, then the context's");
}

async fn bad_context_settings_are_refused_with_a_reason_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let (_, before) = server_fn(&admin, &app, "list_contexts", json!({})).await;
    for (field, value, says) in [
        ("label", json!("   "), "label"),
        ("greeting", json!("x".repeat(1_001)), "greeting"),
        ("instructions", json!(""), "instructions"),
        ("knowledge_tags", json!(["two words"]), "tag"),
        ("model", json!("gpt 4"), "model"),
    ] {
        let (status, refused) = changed_context(&admin, &app, "support", |c| c[field] = value.clone()).await;
        assert_eq!(status, 422, "{field}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(says), "{field}: {refused}");
    }
    let new = json!({"context": {"id": "Bad Id", "label": "X", "description": "", "greeting": "Hi",
        "instructions": "Be kind.", "knowledge_tags": [], "strict": false, "model": null}});
    assert_eq!(server_fn(&admin, &app, "delete_context", json!({"id": "billing"})).await.0, 200);
    let (status, refused) = server_fn(&admin, &app, "save_context", new).await;
    assert_eq!(status, 422, "{refused}");
    let (_, after) = server_fn(&admin, &app, "list_contexts", json!({})).await;
    let mut expected = before.as_array().unwrap().clone();
    expected.retain(|c| c["id"] != "billing");
    assert_eq!(after, Value::Array(expected), "nothing but the deletion changed");
}
