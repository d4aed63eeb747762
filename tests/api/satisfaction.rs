//! Satisfaction (issue 33): the customer rates a resolved conversation, once per resolution and
//! changeable for 7 days, and thumbs go on the assistant's replies from the customer and from
//! staff, on both databases.

use crate::{
    staff::{call, staff_client},
    support::{Backend, TestApp},
};
use frontdesk::{model::Role, server::identity::StaffRole};
use serde_json::json;

on_both_databases!(
    a_resolved_conversation_is_rated_once_per_resolution_and_the_rating_changes_for_seven_days,
    bad_ratings_are_refused_and_change_nothing,
    thumbs_go_on_the_assistants_replies_from_the_customer_and_from_staff,
);

async fn resolve(app: &TestApp, staff: &reqwest::Client, chat: i64) {
    let url = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
    let (status, body) = call(staff, "PATCH", url, Some(json!({"status": "resolved"}))).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_resolved_conversation_is_rated_once_per_resolution_and_the_rating_changes_for_seven_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Where is my order?").await;
    let rating = format!("/api/v1/chats/{chat}/rating");
    // Not resolved yet: nothing to rate.
    let (status, body) = app.post(&rating, json!({"score": 5})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(app.get(&rating).await.0, 404);

    resolve(&app, &staff, chat).await;
    let (status, first) = app.post(&rating, json!({"score": 4, "comment": "  Quick "})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!((&first["score"], &first["comment"]), (&json!(4), &json!("Quick")));
    // Rated again: the same rating changes; without a comment the one given stays.
    let (status, changed) = app.post(&rating, json!({"score": 5})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!((&changed["score"], &changed["rated_at"]), (&json!(5), &first["rated_at"]));
    assert_eq!(changed["comment"], "Quick");
    let (_, emptied) = app.post(&rating, json!({"score": 5, "comment": ""})).await;
    assert_eq!(emptied["comment"], json!(null), "an empty comment removes it");
    assert_eq!(app.get(&rating).await.1["score"], 5);
    // Someone else's conversation is not theirs to rate.
    let (stranger, _) = crate::support::visitor();
    let (status, _) =
        crate::support::read(stranger.post(app.url(&rating)).json(&json!({"score": 1})).send().await.unwrap()).await;
    assert_eq!(status, 404);

    // Seven days on, the rating stands as it is.
    sqlx::query("UPDATE chat_ratings SET created_at = created_at - $1 WHERE chat_id = $2")
        .bind(7 * 24 * 3600 * 1000 + 1000i64)
        .bind(chat)
        .execute(&app.state.db.write)
        .await
        .unwrap();
    let (status, body) = app.post(&rating, json!({"score": 1})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("7 days"), "{body}");
    assert_eq!(app.get(&rating).await.1["score"], 5);

    // The customer writes again (it reopens), and a new resolution is a new rating.
    app.send_and_wait(chat, "One more thing").await;
    resolve(&app, &staff, chat).await;
    assert_eq!(app.get(&rating).await.0, 404, "the new resolution is not rated yet");
    assert_eq!(app.post(&rating, json!({"score": 2})).await.0, 201);
    // Staff read both, newest resolution first.
    let url = app.url(&format!("/api/v1/admin/inquiries/{chat}/satisfaction"));
    let (status, seen) = call(&staff, "GET", url, None).await;
    assert_eq!(status, 200, "{seen}");
    let scores: Vec<i64> = seen["ratings"].as_array().unwrap().iter().map(|r| r["score"].as_i64().unwrap()).collect();
    assert_eq!(scores, [2, 5]);
}

async fn bad_ratings_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Hello").await;
    resolve(&app, &staff, chat).await;
    let rating = format!("/api/v1/chats/{chat}/rating");
    for bad in [
        json!({"score": 0}),
        json!({"score": 6}),
        json!({"score": "5"}),
        json!({}),
        json!({"score": 3, "comment": "x".repeat(1001)}),
        json!({"score": 3, "stars": 3}),
    ] {
        let (status, body) = app.post(&rating, bad.clone()).await;
        assert_eq!(status, 422, "{bad} → {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    assert_eq!(app.get(&rating).await.0, 404, "nothing was saved");
    assert_eq!(app.post("/api/v1/chats/999999/rating", json!({"score": 3})).await.0, 404);
}

async fn thumbs_go_on_the_assistants_replies_from_the_customer_and_from_staff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let chat = app.new_chat().await;
    let (question, reply) = app.send_and_wait(chat, "Do you ship to Spain?").await;
    assert_eq!(reply.role, Role::Assistant);
    let feedback = |mid: i64| format!("/api/v1/chats/{chat}/messages/{mid}/feedback");

    assert_eq!(app.put(&feedback(reply.id), json!({"helpful": false})).await.0, 204);
    assert_eq!(app.put(&feedback(reply.id), json!({"helpful": true})).await.0, 204, "a second replaces the first");
    let (status, mine) = app.get(&format!("/api/v1/chats/{chat}/feedback")).await;
    assert_eq!(status, 200);
    assert_eq!(mine, json!([{"message_id": reply.id, "helpful": true}]));
    // Only the assistant's replies to the customer, in this conversation, take one: not the
    // customer's own message, not the greeting.
    let (status, body) = app.put(&feedback(question.id), json!({"helpful": true})).await;
    assert_eq!(status, 409, "{body}");
    let greeting = app.messages(chat).await[0].clone();
    assert_eq!(
        (greeting.role, app.put(&feedback(greeting.id), json!({"helpful": true})).await.0),
        (Role::Assistant, 409)
    );
    let (stranger, _) = crate::support::visitor();
    let theirs = stranger.put(app.url(&feedback(reply.id))).json(&json!({"helpful": false})).send().await.unwrap();
    assert_eq!(theirs.status().as_u16(), 404, "someone else's conversation");
    assert_eq!(app.put(&feedback(reply.id + 1000), json!({"helpful": true})).await.0, 404);
    assert_eq!(app.put(&feedback(reply.id), json!({"helpful": "yes"})).await.0, 422);

    // Staff mark it wrong; the customer never sees staff's mark.
    let staff_feedback = app.url(&format!("/api/v1/admin/inquiries/{chat}/messages/{}/feedback", reply.id));
    assert_eq!(call(&staff, "PUT", staff_feedback.clone(), Some(json!({"helpful": false}))).await.0, 204);
    let (_, seen) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/satisfaction")), None).await;
    assert_eq!(
        seen["replies"],
        json!([{"message_id": reply.id, "customer": true, "staff": false, "staff_name": "Alice"}])
    );
    assert_eq!(app.get(&format!("/api/v1/chats/{chat}/feedback")).await.1, mine);
    // Customers cannot reach staff's.
    let theirs = format!("/api/v1/admin/inquiries/{chat}/messages/{}/feedback", reply.id);
    assert_eq!(app.put(&theirs, json!({"helpful": true})).await.0, 403);

    // Written again (its question edited), the reply starts with no thumb from anyone.
    let edited = format!("/api/v1/chats/{chat}/messages/{}?wait=true", question.id);
    assert_eq!(app.put(&edited, json!({"content": "Do you ship to Portugal?"})).await.0, 200);
    assert_eq!(app.get(&format!("/api/v1/chats/{chat}/feedback")).await.1, json!([]));
    let (_, seen) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/satisfaction")), None).await;
    assert_eq!(seen["replies"], json!([]));
    assert_eq!(app.put(&feedback(reply.id), json!({"helpful": true})).await.0, 204);
    assert_eq!(call(&staff, "PUT", staff_feedback.clone(), Some(json!({"helpful": false}))).await.0, 204);

    // Taken off, both.
    assert_eq!(app.delete(&feedback(reply.id)).await.0, 204);
    assert_eq!(call(&staff, "DELETE", staff_feedback, None).await.0, 204);
    let (_, seen) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/satisfaction")), None).await;
    assert_eq!(seen["replies"], json!([]));
}
