//! The chat API end to end: real server, real database (SQLite and PostgreSQL), a real HTTP server
//! speaking the OpenAI protocol.

use std::time::Duration;

use crate::support::{fake_openai::DEFAULT_REPLY, next_matching, Backend, Options, Script, TestApp};
use frontdesk::model::{EventKind, Message, MessageStatus, Role};
use serde_json::json;

on_both_databases!(
    a_new_chat_opens_with_the_greeting_of_its_context,
    an_unknown_context_is_refused_and_no_chat_is_created,
    a_first_message_opens_the_chat_and_starts_its_reply_in_one_request,
    a_reply_streams_from_the_upstream_and_is_saved_with_its_usage,
    the_offline_assistant_answers_when_no_key_is_set,
    an_empty_message_is_refused_and_nothing_is_saved,
    a_message_over_the_limit_is_refused_with_413_and_nothing_is_saved,
    a_visitor_cannot_read_or_change_another_visitors_chat,
    editing_a_message_keeps_the_old_version_and_regenerates_the_reply,
    deleting_a_message_removes_it_for_good,
    stopping_a_reply_keeps_its_text_so_far,
    a_rate_limited_upstream_is_retried_after_the_time_it_asks_for,
    an_upstream_error_fails_the_reply_with_a_reason_and_keeps_the_customers_message,
    a_stream_cut_mid_reply_is_interrupted_with_its_text_kept,
    a_stalled_stream_times_out_and_keeps_its_text,
    resuming_from_a_sequence_number_has_no_gap_and_no_duplicate,
    what_a_follower_hears_live_reads_back_the_same_from_the_event_log,
    a_reply_streams_on_while_another_chat_is_held_up_and_that_chats_text_follows_in_order,
    a_reply_completes_after_its_client_left,
    a_client_joining_mid_reply_first_receives_the_text_so_far,
    the_websocket_carries_the_same_events_and_resumes_after_a_sequence_number,
    messages_sent_while_the_assistant_writes_are_answered_together_by_one_reply,
    every_waiting_send_of_a_burst_answers_201_with_the_one_reply_that_answers_them_all,
    a_message_sent_while_a_reply_is_written_again_further_up_stops_that_reply_and_keeps_its_text,
    switching_the_context_shows_in_the_transcript_and_steers_the_next_reply,
    a_product_chat_gives_the_assistant_the_products_facts,
    message_pages_walk_back_through_history_oldest_first,
    replies_left_streaming_by_a_crash_become_interrupted_on_start,
    deleting_a_chat_removes_it_and_its_messages,
    too_many_messages_in_a_minute_are_refused_with_429,
    edits_and_retries_spend_from_the_same_allowance_as_sends,
    replies_written_at_once_are_capped_per_visitor_and_overall,
    a_failed_reply_can_be_retried_and_its_old_text_is_kept,
    asking_for_a_person_pauses_the_assistant_and_marks_the_chat_pending,
    a_send_repeated_with_the_same_client_id_creates_one_message,
    sends_at_once_from_many_visitors_all_succeed_on_a_small_connection_pool,
    only_the_token_deltas_of_a_streaming_reply_skip_the_wait_for_the_database_flush,
);

async fn a_new_chat_opens_with_the_greeting_of_its_context(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, chat) = app.post("/api/v1/chats", json!({"context": "support"})).await;
    assert_eq!(status, 201, "{chat}");
    assert_eq!(chat["context"], "support");
    assert_eq!(chat["status"], "pending");
    let messages = app.messages(chat["id"].as_i64().unwrap()).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].role, Role::Assistant);
    assert!(messages[0].content.contains("help with setup"), "{}", messages[0].content);
    let (_, list) = app.get("/api/v1/chats").await;
    assert_eq!(list["chats"].as_array().unwrap().len(), 1);
}

async fn an_unknown_context_is_refused_and_no_chat_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.post("/api/v1/chats", json!({"context": "astrology"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid");
    assert!(body["error"]["message"].as_str().unwrap().contains("sales, support, billing"), "{body}");
    let (_, list) = app.get("/api/v1/chats").await;
    assert_eq!(list["chats"], json!([]));
}

async fn a_first_message_opens_the_chat_and_starts_its_reply_in_one_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The reply holds after its first word until a client has joined, so the join is mid-reply.
    let (open, gate) = tokio::sync::watch::channel(false);
    app.fake().push(Script::Held { first: vec!["It ".into()], rest: vec!["ships ".into(), "tomorrow.".into()], gate });
    // Refused, it creates nothing: no visitor, no chat, no cookie.
    let (status, body) = app.post("/api/v1/chats", json!({"message": {"content": "   "}})).await;
    assert_eq!(status, 422, "{body}");
    use reqwest::cookie::CookieStore;
    assert!(app.jar.cookies(&app.base.parse().unwrap()).is_none(), "no cookie for a refused first message");
    let (status, body) = app.post("/api/v1/chats", json!({"message": {"content": "x".repeat(4001)}})).await;
    assert_eq!(status, 413, "{body}");
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'visitor'")
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing was written");

    let (status, chat) = app
        .post("/api/v1/chats", json!({"message": {"content": "When does the lamp ship?", "client_id": "first-1"}}))
        .await;
    assert_eq!(status, 201, "{chat}");
    assert_eq!(chat["title"], "When does the lamp ship?", "the first message names the chat");
    let id = chat["id"].as_i64().unwrap();
    // A client joining while the reply is written gets it from its start.
    let mut events = app.events(id, None).await;
    let mut seen = Vec::new();
    let first = next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageDelta).await;
    assert_eq!(first.data["text"], "It ", "the reply's text from its first word");
    open.send(true).unwrap();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCompleted).await;
    let messages = app.messages(id).await;
    let said: Vec<(Role, &str)> = messages.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(said[1..], [(Role::User, "When does the lamp ship?"), (Role::Assistant, "It ships tomorrow.")]);
    assert_eq!(messages[1].client_id.as_deref(), Some("first-1"));
    assert_eq!(app.fake().requests().len(), 1, "one reply was asked for");
}

async fn a_reply_streams_from_the_upstream_and_is_saved_with_its_usage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::words("Our lamp ships in two days."));
    let chat = app.new_chat().await;
    let (message, reply) = app.send_and_wait(chat, "When does the lamp ship?").await;
    assert_eq!(message.content, "When does the lamp ship?");
    assert_eq!(reply.content, "Our lamp ships in two days.");
    assert_eq!(reply.status, MessageStatus::Complete);
    let usage = reply.usage.expect("usage saved");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (11, 7, 18));
    // What the upstream was asked: the context's system prompt, then the conversation.
    let request = &app.fake().requests()[0];
    assert_eq!(request["model"], "fake-model");
    assert_eq!(request["stream"], true);
    assert_eq!(request["stream_options"]["include_usage"], true);
    let sent = request["messages"].as_array().unwrap();
    assert_eq!(sent[0]["role"], "system");
    assert!(sent[0]["content"].as_str().unwrap().contains("sales assistant"));
    assert_eq!(sent.last().unwrap()["content"], "When does the lamp ship?");
    // The saved transcript is what was streamed.
    let saved = app.messages(chat).await;
    assert_eq!(saved.last().unwrap(), &reply);
}

async fn the_offline_assistant_answers_when_no_key_is_set(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "How much does shipping cost?").await;
    assert_eq!(reply.status, MessageStatus::Complete);
    assert!(reply.content.starts_with("I'm the offline assistant"), "{}", reply.content);
    assert!(reply.content.contains("2 to 4 business days") || reply.content.contains("ship free"), "{}", reply.content);
    assert!(reply.usage.is_some());
}

async fn an_empty_message_is_refused_and_nothing_is_saved(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "   \n"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["message"], "the message is empty");
    assert_eq!(app.messages(chat).await.len(), 1);
    assert!(app.fake().requests().is_empty());
}

async fn a_message_over_the_limit_is_refused_with_413_and_nothing_is_saved(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (status, body) =
        app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "é".repeat(4001)})).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "too_long");
    assert!(body["error"]["message"].as_str().unwrap().contains("4001 characters"), "{body}");
    // Exactly at the limit (in characters, not bytes) is fine.
    let (status, _) =
        app.post(&format!("/api/v1/chats/{chat}/messages?wait=true"), json!({"content": "é".repeat(4000)})).await;
    assert_eq!(status, 201);
    assert_eq!(app.messages(chat).await.len(), 3);
}

async fn a_visitor_cannot_read_or_change_another_visitors_chat(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "mine").await;
    let stranger = app.another_visitor();
    let url = |path: &str| app.url(&format!("/api/v1/chats/{chat}{path}"));
    let attempts = [
        stranger.get(url("")),
        stranger.get(url("/messages")),
        stranger.get(url("/events")),
        stranger.get(url("/ws")),
        stranger.patch(url("")).json(&json!({"title": "mine now"})),
        stranger.delete(url("")),
        stranger.post(url("/messages")).json(&json!({"content": "hi"})),
        stranger.put(url(&format!("/messages/{}", reply.id))).json(&json!({"content": "edited"})),
        stranger.delete(url(&format!("/messages/{}", reply.id))),
        stranger.post(url(&format!("/messages/{}/stop", reply.id))),
    ];
    for attempt in attempts {
        let (status, body) = crate::support::read(attempt.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (_, theirs) = crate::support::read(stranger.get(app.url("/api/v1/chats")).send().await.unwrap()).await;
    assert_eq!(theirs["chats"], json!([]));
    let messages = app.messages(chat).await;
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1].content, "mine");
}

async fn editing_a_message_keeps_the_old_version_and_regenerates_the_reply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.fake().push(Script::words("First answer."));
    let (message, first_reply) = app.send_and_wait(chat, "What is the price of the chair?").await;
    app.fake().push(Script::words("Second answer."));
    let (status, body) = app
        .put(
            &format!("/api/v1/chats/{chat}/messages/{}?wait=true", message.id),
            json!({"content": "What is the price of the desk?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let edited: Message = serde_json::from_value(body["message"].clone()).unwrap();
    let reply: Message = serde_json::from_value(body["reply"].clone()).unwrap();
    assert_eq!(edited.content, "What is the price of the desk?");
    assert!(edited.edited_at.is_some());
    assert_eq!(reply.id, first_reply.id, "the reply after the message is the one regenerated");
    assert_eq!(reply.content, "Second answer.");
    assert_eq!(reply.status, MessageStatus::Complete);
    let sent = app.fake().requests()[1]["messages"].as_array().unwrap().clone();
    assert_eq!(sent.last().unwrap()["content"], "What is the price of the desk?");
    assert!(!sent.iter().any(|m| m["content"] == "First answer."), "the old reply is not in the new prompt");
    let versions: Vec<(i64, String)> = sqlx::query_as("SELECT message_id, content FROM message_versions ORDER BY id")
        .fetch_all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(
        versions,
        vec![(message.id, "What is the price of the chair?".to_string()), (reply.id, "First answer.".to_string())]
    );
    let (status, body) = app.put(&format!("/api/v1/chats/{chat}/messages/{}", reply.id), json!({"content": "x"})).await;
    assert_eq!(status, 403, "an assistant message cannot be edited: {body}");
    let (status, _) = app.put(&format!("/api/v1/chats/{chat}/messages/999999"), json!({"content": "x"})).await;
    assert_eq!(status, 404);
}

async fn deleting_a_message_removes_it_for_good(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (message, _) = app.send_and_wait(chat, "delete me").await;
    let (status, body) = app.delete(&format!("/api/v1/chats/{chat}/messages/{}", message.id)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"deleted_id": message.id}));
    assert!(app.messages(chat).await.iter().all(|m| m.id != message.id));
    let (status, body) = app.delete(&format!("/api/v1/chats/{chat}/messages/{}", message.id)).await;
    assert_eq!(status, 404, "{body}");
}

async fn stopping_a_reply_keeps_its_text_so_far(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::StallAfter { pieces: vec!["Half ".into(), "an answer".into()] });
    let chat = app.new_chat().await;
    let mut events = app.events(chat, None).await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "go"})).await;
    assert_eq!(status, 201);
    let reply_id = body["reply"]["id"].as_i64().unwrap();
    let mut seen = Vec::new();
    let mut text = String::new();
    next_matching(&mut events, &mut seen, |e| {
        if e.kind == EventKind::MessageDelta {
            text.push_str(e.data["text"].as_str().unwrap());
        }
        text == "Half an answer"
    })
    .await;
    let (status, stopped) = app.post(&format!("/api/v1/chats/{chat}/messages/{reply_id}/stop"), json!({})).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["content"], "Half an answer");
    assert_eq!(stopped["reason"], "stopped before it finished");
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages/{reply_id}/stop"), json!({})).await;
    assert_eq!(status, 409, "a finished reply cannot be stopped: {body}");
}

async fn a_rate_limited_upstream_is_retried_after_the_time_it_asks_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::Status { code: 429, retry_after: Some(1) });
    app.fake().push(Script::words("Finally."));
    let chat = app.new_chat().await;
    let started = std::time::Instant::now();
    let (_, reply) = app.send_and_wait(chat, "hello?").await;
    assert_eq!(reply.content, "Finally.");
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(app.fake().requests().len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "Retry-After was honoured: {:?}", started.elapsed());
}

async fn an_upstream_error_fails_the_reply_with_a_reason_and_keeps_the_customers_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..3 {
        app.fake().push(Script::Status { code: 500, retry_after: None });
    }
    let chat = app.new_chat().await;
    let (message, reply) = app.send_and_wait(chat, "are you there?").await;
    assert_eq!(reply.status, MessageStatus::Failed);
    assert_eq!(reply.reason.as_deref(), Some("the assistant service had an error (HTTP 500)"));
    assert_eq!(app.fake().requests().len(), 3, "the first try and two retries");
    let saved = app.messages(chat).await;
    assert!(saved.iter().any(|m| m.id == message.id && m.content == "are you there?"));
    // A refusal (400) is not retried.
    app.fake().push(Script::Status { code: 400, retry_after: None });
    let (_, reply) = app.send_and_wait(chat, "again").await;
    assert_eq!(reply.status, MessageStatus::Failed);
    assert_eq!(app.fake().requests().len(), 4);
}

async fn a_stream_cut_mid_reply_is_interrupted_with_its_text_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::CutAfter { pieces: vec!["The first ".into(), "half".into()] });
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "tell me").await;
    assert_eq!(reply.status, MessageStatus::Interrupted);
    assert_eq!(reply.content, "The first half");
    assert_eq!(reply.reason.as_deref(), Some("the connection to the assistant service was cut off"));
    assert_eq!(app.fake().requests().len(), 1, "no retry after the first token");
}

async fn a_stalled_stream_times_out_and_keeps_its_text(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options { configure: Box::new(|c| c.openai_idle_timeout_secs = 1), ..Options::default() },
    )
    .await;
    app.fake().push(Script::StallAfter { pieces: vec!["Thinking".into()] });
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "hmm").await;
    assert_eq!(reply.status, MessageStatus::Interrupted);
    assert_eq!(reply.content, "Thinking");
    assert_eq!(reply.reason.as_deref(), Some("the assistant service stopped responding"));
}

async fn resuming_from_a_sequence_number_has_no_gap_and_no_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::slow_words("one two three four five six seven eight", Duration::from_millis(60)));
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "count").await;
    assert_eq!(reply.content, "one two three four five six seven eight");
    let (_, chat_json) = app.get(&format!("/api/v1/chats/{chat}")).await;
    let last = chat_json["last_seq"].as_i64().unwrap();
    assert!(last >= 5, "several events were recorded: {last}");
    // Read the whole history, then resume from every point: always exactly the rest.
    let mut all = Vec::new();
    let mut events = app.events(chat, Some(0)).await;
    next_matching(&mut events, &mut all, |e| e.seq == last).await;
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=last).collect::<Vec<_>>());
    for from in [1, last / 2, last - 1] {
        let mut resumed = Vec::new();
        let mut events = app.events(chat, Some(from)).await;
        next_matching(&mut events, &mut resumed, |e| e.seq == last).await;
        assert_eq!(resumed.iter().map(|e| e.seq).collect::<Vec<_>>(), (from + 1..=last).collect::<Vec<_>>());
        assert_eq!(resumed, all[from as usize..].to_vec());
    }
    // The deltas rebuild exactly the saved text.
    let text: String = all
        .iter()
        .filter(|e| e.kind == EventKind::MessageDelta && e.data["message_id"] == reply.id)
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, reply.content);
    // ?after= works like Last-Event-ID, and a bad Last-Event-ID is a clear 400.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/chats/{chat}/events")))
        .header("last-event-id", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// Events are published as the server holds them and stored as the database wrote them (on
/// PostgreSQL a message's `message.created` is stored by the statement that inserts it): a
/// client that reconnects reads back exactly what it heard live.
async fn what_a_follower_hears_live_reads_back_the_same_from_the_event_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::words("Your order ships tomorrow."));
    let chat = app.new_chat().await;
    let (_, chat_json) = app.get(&format!("/api/v1/chats/{chat}")).await;
    let from = chat_json["last_seq"].as_i64().unwrap();
    let mut events = app.events(chat, Some(from)).await;
    let (status, body) = app
        .post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "where is my order?", "client_id": "c-42"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let reply = body["reply"]["id"].as_i64().unwrap();
    let mut live = Vec::new();
    next_matching(&mut events, &mut live, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply).await;
    let created: Vec<&serde_json::Value> =
        live.iter().filter(|e| e.kind == EventKind::MessageCreated).map(|e| &e.data).collect();
    assert_eq!(created, [&body["message"], &body["reply"]], "each message as the send answered with it");
    assert!(live.iter().any(|e| e.kind == EventKind::ChatUpdated), "the first message names the chat");
    let last = live.last().unwrap().seq;
    let mut replayed = Vec::new();
    next_matching(&mut app.events(chat, Some(from)).await, &mut replayed, |e| e.seq == last).await;
    assert_eq!(replayed, live);
}

async fn a_reply_streams_on_while_another_chat_is_held_up_and_that_chats_text_follows_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The busy chat's words keep coming, faster than the other's, for longer.
    let slow = (1..=40).map(|n| format!("w{n}")).collect::<Vec<_>>().join(" ");
    let slow = slow.as_str();
    app.fake().push(Script::slow_words(slow, Duration::from_millis(10)));
    app.fake().push(Script::slow_words("the other answer, whole", Duration::from_millis(30)));
    let (busy, other) = (app.new_chat().await, app.new_chat().await);
    let (status, sent) = app.post(&format!("/api/v1/chats/{busy}/messages"), json!({"content": "count"})).await;
    assert_eq!(status, 201, "{sent}");
    let busy_reply = sent["reply"]["id"].as_i64().unwrap();
    crate::support::wait_until("the slow reply's first words", || async {
        !reply_text(&app, busy, busy_reply).await.is_empty()
    })
    .await;
    // Something holds the busy chat (a change to it that takes long): its words wait, and
    // nobody else's do.
    let hub = &app.state.hub;
    let held = hub.lock(busy).await;
    let (status, sent) = app.post(&format!("/api/v1/chats/{other}/messages"), json!({"content": "hi"})).await;
    assert_eq!(status, 201, "{sent}");
    let other_reply = app.until_ended(other, sent["reply"]["id"].as_i64().unwrap()).await;
    assert_eq!(other_reply.status, MessageStatus::Complete);
    assert_eq!(other_reply.content, "the other answer, whole");
    // (Read from the database: the API reads a chat under its lock.)
    let stored: String = sqlx::query_scalar("SELECT content FROM messages WHERE id = $1")
        .bind(busy_reply)
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
    assert_ne!(stored, slow, "the busy chat's words waited");
    drop(held);
    let busy_reply = app.until_ended(busy, busy_reply).await;
    assert_eq!(busy_reply.status, MessageStatus::Complete);
    assert_eq!(busy_reply.content, slow, "every word, in order");
}

/// A message's text as stored now.
async fn reply_text(app: &TestApp, chat: i64, id: i64) -> String {
    app.messages(chat).await.into_iter().find(|m| m.id == id).expect("the reply exists").content
}

async fn a_reply_completes_after_its_client_left(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::slow_words("written while nobody watched", Duration::from_millis(50)));
    let chat = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "bye"})).await;
    assert_eq!(status, 201);
    assert_eq!(body["reply"]["status"], "streaming");
    let reply_id = body["reply"]["id"].as_i64().unwrap();
    assert_eq!(app.state.hub.subscriber_count(chat), 0, "no client is listening");
    let ended = app.until_ended(chat, reply_id).await;
    assert_eq!(ended.status, MessageStatus::Complete);
    assert_eq!(ended.content, "written while nobody watched");
}

async fn a_client_joining_mid_reply_first_receives_the_text_so_far(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::slow_words("alpha beta gamma delta epsilon zeta eta theta", Duration::from_millis(80)));
    let chat = app.new_chat().await;
    let (_, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "greek"})).await;
    let reply_id = body["reply"]["id"].as_i64().unwrap();
    // Wait until some text exists, then join without a sequence number.
    let mut watcher = app.events(chat, None).await;
    let mut seen = Vec::new();
    next_matching(&mut watcher, &mut seen, |e| e.kind == EventKind::MessageDelta).await;
    let mut joined = app.events(chat, None).await;
    let mut received = Vec::new();
    next_matching(&mut joined, &mut received, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply_id)
        .await;
    assert_eq!(received[0].kind, EventKind::MessageCreated, "the join starts at the reply's creation");
    let text: String = received
        .iter()
        .filter(|e| e.kind == EventKind::MessageDelta)
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "alpha beta gamma delta epsilon zeta eta theta");
}

async fn the_websocket_carries_the_same_events_and_resumes_after_a_sequence_number(backend: Backend) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as Ws};

    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "hello").await;
    let last = app.get(&format!("/api/v1/chats/{chat}")).await.1["last_seq"].as_i64().unwrap();
    let jar_cookie = app.cookie_header();
    let mut request =
        format!("{}/api/v1/chats/{chat}/ws?after=0", app.base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("cookie", jar_cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
        let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        assert!(value["type"].is_string() && value["data"].is_object());
        seqs.push(value["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    socket.send(Ws::Text(json!({"after": last - 2}).to_string().into())).await.unwrap();
    let mut resumed = Vec::new();
    while resumed.len() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
        let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        resumed.push(value["seq"].as_i64().unwrap());
    }
    assert_eq!(resumed, vec![last - 1, last]);
    assert!(reply.id > 0);
}

/// Customers write in bursts: every message is accepted at once, the unfinished answer is
/// removed, and one reply after the newest message answers all of them.
async fn messages_sent_while_the_assistant_writes_are_answered_together_by_one_reply(backend: Backend) {
    // One reply at a time per visitor: the burst must not be refused by the cap either.
    let configure = |c: &mut frontdesk::server::config::Config| c.replies_per_visitor = 1;
    let app = TestApp::spawn_with(backend, Options { configure: Box::new(configure), ..Options::default() }).await;
    // Both early answers are still being written when the next message comes.
    app.fake().push(Script::StallAfter { pieces: vec!["Hello! How".into()] });
    app.fake().push(Script::StallAfter { pieces: vec!["Sorry to".into()] });
    app.fake().set_default(Script::words("Let me check your order."));
    let chat = app.new_chat().await;
    let mut events = app.events(chat, Some(0)).await;
    let mut seen = Vec::new();
    let path = format!("/api/v1/chats/{chat}/messages");
    let (status, first) = app.post(&path, json!({"content": "hi"})).await;
    assert_eq!(status, 201, "{first}");
    let unfinished = first["reply"]["id"].as_i64().unwrap();
    next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageDelta && e.data["message_id"] == unfinished)
        .await;
    let mut replies = Vec::new();
    for content in ["my order didn't arrive", "can you check?"] {
        let (status, body) = app.post(&path, json!({"content": content})).await;
        assert_eq!(status, 201, "accepted while the assistant writes: {body}");
        assert_eq!(body["message"]["content"], content);
        assert_eq!(body["reply"]["status"], "streaming");
        let reply = body["reply"]["id"].as_i64().unwrap();
        replies.push(reply);
        if replies.len() == 1 {
            next_matching(&mut events, &mut seen, |e| {
                e.kind == EventKind::MessageDelta && e.data["message_id"] == reply
            })
            .await;
        }
    }
    let last = *replies.last().unwrap();
    let reply = app.until_ended(chat, last).await;
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(reply.content, "Let me check your order.");
    // The unfinished answers are gone, for the API and for anyone following the chat.
    let kept: Vec<i64> = app.messages(chat).await.iter().map(|m| m.id).collect();
    for old in [unfinished, replies[0]] {
        assert!(!kept.contains(&old), "reply {old} was replaced: {kept:?}");
        let deleted =
            |e: &crate::support::WireEvent| e.kind == EventKind::MessageDeleted && e.data["message_id"] == old;
        if !seen.iter().any(deleted) {
            next_matching(&mut events, &mut seen, deleted).await;
        }
    }
    let roles: Vec<(Role, String)> =
        app.messages(chat).await.into_iter().skip(1).map(|m| (m.role, m.content)).collect();
    assert_eq!(
        roles,
        vec![
            (Role::User, "hi".to_string()),
            (Role::User, "my order didn't arrive".to_string()),
            (Role::User, "can you check?".to_string()),
            (Role::Assistant, "Let me check your order.".to_string()),
        ],
        "every message kept, one answer after them"
    );
    // The answer was written from the whole burst, without the unfinished text.
    let asked = app
        .fake()
        .requests()
        .into_iter()
        .find(|r| r["messages"].as_array().unwrap().iter().any(|m| m["content"] == "can you check?"))
        .expect("the model was asked about the last message");
    let said: Vec<&str> =
        asked["messages"].as_array().unwrap()[1..].iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(said[said.len() - 3..], ["hi", "my order didn't arrive", "can you check?"]);
    assert!(!said.iter().any(|c| c.contains("Hello! How")), "{said:?}");
}

/// A reply being written again after an edit further up is not the answer to the new message:
/// it is stopped with its text kept, and the new message gets its own reply.
async fn every_waiting_send_of_a_burst_answers_201_with_the_one_reply_that_answers_them_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Every reply writes its first words, then waits until the whole burst is stored.
    let (open, gate) = tokio::sync::watch::channel(false);
    let rest = crate::support::fake_openai::split("check your order.");
    app.fake().set_default(Script::Held { first: vec!["Let me ".into()], rest, gate });
    let chat = app.new_chat().await;
    let mut events = app.events(chat, None).await;
    let path = format!("/api/v1/chats/{chat}/messages?wait=true");
    const BURST: usize = 20;
    let sends =
        futures::future::join_all(
            (0..BURST).map(|i| {
                let (app, path) = (&app, &path);
                async move {
                    app.post(path, json!({"content": format!("part {i}"), "client_id": format!("burst-{i}")})).await
                }
            }),
        );
    let release = async {
        let mut seen = Vec::new();
        for _ in 0..BURST {
            next_matching(&mut events, &mut seen, |e| e.kind == EventKind::MessageCreated && e.data["role"] == "user")
                .await;
        }
        open.send(true).unwrap();
    };
    let (answers, ()) = tokio::join!(sends, release);
    let stored = app.messages(chat).await;
    let final_reply = stored.last().expect("the chat has messages").clone();
    assert_eq!(final_reply.role, Role::Assistant, "one answer after the burst: {stored:?}");
    assert_eq!(final_reply.status, MessageStatus::Complete);
    assert_eq!(final_reply.content, "Let me check your order.");
    for (status, body) in &answers {
        assert_eq!(*status, 201, "a stored message answers 201: {body}");
        assert_eq!(body["reply"]["id"], final_reply.id, "the reply that answers the burst: {body}");
        assert_eq!(body["reply"]["status"], "complete", "{body}");
        assert_eq!(body["reply"]["content"], "Let me check your order.");
    }
    let users: Vec<&Message> = stored.iter().filter(|m| m.role == Role::User).collect();
    assert_eq!(users.len(), BURST, "every message stored once: {stored:?}");
    assert_eq!(stored.iter().filter(|m| m.role == Role::Assistant).count(), 2, "the greeting and one answer");
    // A client that did not hear back sends again: the same message and the same answer.
    let (status, again) = app.post(&path, json!({"content": "part 0", "client_id": "burst-0"})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["message"]["content"], "part 0");
    assert_eq!(again["reply"]["id"], final_reply.id, "{again}");
    assert_eq!(app.messages(chat).await.len(), stored.len(), "nothing stored twice");
}

async fn a_message_sent_while_a_reply_is_written_again_further_up_stops_that_reply_and_keeps_its_text(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (first, _) = app.send_and_wait(chat, "first question").await;
    app.send_and_wait(chat, "second question").await;
    app.fake().push(Script::StallAfter { pieces: vec!["Rewritten".into()] });
    let path = format!("/api/v1/chats/{chat}/messages");
    let (status, edited) = app.put(&format!("{path}/{}", first.id), json!({"content": "first, reworded"})).await;
    assert_eq!(status, 200, "{edited}");
    let rewriting = edited["reply"]["id"].as_i64().unwrap();
    let mut events = app.events(chat, None).await;
    next_matching(&mut events, &mut Vec::new(), |e| {
        e.kind == EventKind::MessageDelta && e.data["message_id"] == rewriting
    })
    .await;
    let (status, body) = app.post(&format!("{path}?wait=true"), json!({"content": "third question"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["reply"]["status"], "complete");
    let stopped = app.until_ended(chat, rewriting).await;
    assert_eq!(stopped.status, MessageStatus::Stopped);
    assert_eq!(stopped.content, "Rewritten");
}

async fn switching_the_context_shows_in_the_transcript_and_steers_the_next_reply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (status, updated) =
        app.patch(&format!("/api/v1/chats/{chat}"), json!({"context": "billing", "title": "Invoices"})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["context"], "billing");
    assert_eq!(updated["title"], "Invoices");
    let messages = app.messages(chat).await;
    let line = messages.last().unwrap();
    assert_eq!((line.role, line.content.as_str()), (Role::System, "Switched to Billing"));
    app.send_and_wait(chat, "where is my invoice").await;
    // A context given with a message switches too.
    let (status, _) = app
        .post(
            &format!("/api/v1/chats/{chat}/messages?wait=true"),
            json!({"content": "and returns?", "context": "support"}),
        )
        .await;
    assert_eq!(status, 201);
    let requests = app.fake().requests();
    let system = |i: usize| requests[i]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system(0).contains("billing assistant"), "{}", system(0));
    assert!(system(1).contains("support assistant"), "{}", system(1));
    assert!(
        requests[1]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] != "system" || m == &requests[1]["messages"][0]),
        "transcript lines are not sent upstream"
    );
    let (status, body) = app.patch(&format!("/api/v1/chats/{chat}"), json!({"title": "  "})).await;
    assert_eq!(status, 422, "{body}");
}

async fn a_product_chat_gives_the_assistant_the_products_facts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, products) = app.get("/api/v1/products").await;
    assert_eq!(status, 200);
    let product = products["products"][1].clone();
    let (status, chat) = app.post("/api/v1/chats", json!({"product_id": product["id"]})).await;
    assert_eq!(status, 201);
    assert_eq!(chat["product_id"], product["id"]);
    app.send_and_wait(chat["id"].as_i64().unwrap(), "how long is assembly?").await;
    let system = app.fake().requests()[0]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains(product["name"].as_str().unwrap()) && system.contains("15 minutes"), "{system}");
    let (status, body) = app.post("/api/v1/chats", json!({"product_id": "999999"})).await;
    assert_eq!(status, 404, "a product that does not exist: {body}");
    let (status, _) = app.get("/api/v1/products/999999").await;
    assert_eq!(status, 404);
}

async fn message_pages_walk_back_through_history_oldest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let db = &app.state.db.write;
    for i in 0..44 {
        sqlx::query("INSERT INTO messages (chat_id, role, content, status, created_seq, created_at) VALUES ($1, 'user', $2, 'complete', 0, 0)")
            .bind(chat)
            .bind(format!("m{i}"))
            .execute(db)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut pages = 0;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/v1/chats/{chat}/messages?before={c}"),
            None => format!("/api/v1/chats/{chat}/messages"),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<i64> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest to newest within a page");
        assert!(ids.len() <= 20);
        seen.splice(0..0, ids);
        pages += 1;
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 45);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "no message twice, none missing");
    // And forward again with `after`, from the oldest.
    let mut forward = vec![seen[0]];
    let mut after = seen[0];
    loop {
        let (status, page) = app.get(&format!("/api/v1/chats/{chat}/messages?after={after}&limit=20")).await;
        assert_eq!(status, 200, "{page}");
        forward.extend(page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()));
        match page["newer_cursor"].as_i64() {
            Some(c) => after = c,
            None => break,
        }
    }
    assert_eq!(forward, seen);
    let (status, between) =
        app.get(&format!("/api/v1/chats/{chat}/messages?after={}&before={}", seen[1], seen[5])).await;
    assert_eq!(status, 200, "both: the messages between them, oldest first");
    let ids: Vec<i64> = between["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, seen[2..5]);
    for bad in ["limit=0", "limit=101", "limit=abc"] {
        let (status, body) = app.get(&format!("/api/v1/chats/{chat}/messages?{bad}")).await;
        assert!(status == 422 || status == 400, "{bad}: {status} {body}");
        assert!(body["error"]["message"].is_string());
    }
}

async fn replies_left_streaming_by_a_crash_become_interrupted_on_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (message, _) = app.send_and_wait(chat, "before the crash").await;
    // A reply that was being written when the process died.
    sqlx::query("UPDATE messages SET status = 'streaming', content = 'partial' WHERE id = $1")
        .bind(message.id + 1)
        .execute(&app.state.db.write)
        .await
        .unwrap();
    let app = app.restart().await;
    let messages = app.messages(chat).await;
    let reply = messages.iter().find(|m| m.id == message.id + 1).unwrap();
    assert_eq!(reply.status, MessageStatus::Interrupted);
    assert_eq!(reply.content, "partial");
    assert!(reply.reason.as_deref().unwrap().contains("restarted"));
}

async fn deleting_a_chat_removes_it_and_its_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "hi").await;
    let (status, _) = app.delete(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(status, 404);
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE chat_id = $1")
        .bind(chat)
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

async fn too_many_messages_in_a_minute_are_refused_with_429(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, Options { configure: Box::new(|c| c.calls_per_minute = 2), ..Options::default() })
            .await;
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "one").await;
    app.send_and_wait(chat, "two").await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "three"})).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(app.messages(chat).await.iter().all(|m| m.content != "three"));
    let _ = DEFAULT_REPLY;
}

async fn edits_and_retries_spend_from_the_same_allowance_as_sends(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, Options { configure: Box::new(|c| c.calls_per_minute = 2), ..Options::default() })
            .await;
    let chat = app.new_chat().await;
    let (message, reply) = app.send_and_wait(chat, "one").await;
    let (status, body) = app
        .put(&format!("/api/v1/chats/{chat}/messages/{}?wait=true", message.id), json!({"content": "one, edited"}))
        .await;
    assert_eq!(status, 200, "{body}");
    // The allowance (2) is spent: neither another edit nor a retry reaches the model.
    let (status, body) =
        app.put(&format!("/api/v1/chats/{chat}/messages/{}", message.id), json!({"content": "again"})).await;
    assert_eq!(status, 429, "{body}");
    let (status, response) = {
        let response = app
            .client
            .post(app.url(&format!("/api/v1/chats/{chat}/messages/{}/retry", reply.id)))
            .send()
            .await
            .unwrap();
        let retry_after = response.headers().get("retry-after").cloned();
        (response.status().as_u16(), retry_after)
    };
    assert_eq!(status, 429);
    let seconds: u64 = response.expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert_eq!(app.fake().requests().len(), 2, "the model was asked twice, no more");
    let messages = app.messages(chat).await;
    assert!(messages.iter().any(|m| m.content == "one, edited"), "nothing saved was lost");
}

async fn a_failed_reply_can_be_retried_and_its_old_text_is_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::CutAfter { pieces: vec!["Partial".into()] });
    let chat = app.new_chat().await;
    let (message, reply) = app.send_and_wait(chat, "please answer").await;
    assert_eq!(reply.status, MessageStatus::Interrupted);
    app.fake().push(Script::words("A whole answer."));
    let (status, retried) =
        app.post(&format!("/api/v1/chats/{chat}/messages/{}/retry?wait=true", reply.id), json!({})).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["id"], reply.id);
    assert_eq!(retried["content"], "A whole answer.");
    assert_eq!(retried["status"], "complete");
    assert!(retried["reason"].is_null());
    let sent = app.fake().requests()[1]["messages"].as_array().unwrap().clone();
    assert_eq!(sent.last().unwrap()["content"], "please answer", "the retry answers the same question");
    let (versions,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM message_versions WHERE message_id = $1 AND content = 'Partial'")
            .bind(reply.id)
            .fetch_one(&app.state.db.read)
            .await
            .unwrap();
    assert_eq!(versions, 1);
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages/{}/retry", message.id), json!({})).await;
    assert_eq!(status, 409, "a customer message is not retried: {body}");
}

async fn asking_for_a_person_pauses_the_assistant_and_marks_the_chat_pending(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    let (status, updated) = app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "pending");
    assert_eq!(updated["ai_enabled"], false);
    let line = app.messages(chat).await.pop().unwrap();
    assert_eq!(line.role, Role::System);
    assert!(line.content.contains("Someone from our team will reply here"));
    // The customer can still write; no assistant reply is started.
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "hello, human?"})).await;
    assert_eq!(status, 201);
    assert!(body["reply"].is_null(), "{body}");
    assert!(app.fake().requests().is_empty(), "the assistant was not asked");
    // Asking twice adds no second line.
    app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    let lines = app.messages(chat).await.into_iter().filter(|m| m.role == Role::System).count();
    assert_eq!(lines, 1);
}

/// A send retried with the same client id (a lost response, a double click) answers with what
/// the first send created, even while its reply is still being written; a bad id is refused.
async fn a_send_repeated_with_the_same_client_id_creates_one_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.new_chat().await;
    app.fake().push(Script::slow_words("One answer only", Duration::from_millis(80)));
    let path = format!("/api/v1/chats/{chat}/messages");
    let body = json!({"content": "Where is my order?", "client_id": "9f1c2e7a-retry"});
    let (status, first) = app.post(&path, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["message"]["client_id"], "9f1c2e7a-retry", "the saved message carries the client's id");
    assert_eq!(first["reply"]["status"], "streaming");
    let (status, again) = app.post(&path, body.clone()).await;
    assert_eq!(status, 200, "a repeat is not a conflict, even while the reply streams: {again}");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert_eq!(again["reply"]["id"], first["reply"]["id"]);
    let reply = app.until_ended(chat, first["reply"]["id"].as_i64().unwrap()).await;
    assert_eq!(reply.content, "One answer only");
    let (status, after) = app.post(&format!("{path}?wait=true"), body).await;
    assert_eq!(status, 200);
    assert_eq!(after["reply"]["content"], "One answer only", "the repeat shows the reply as it is now");
    let messages = app.messages(chat).await;
    assert_eq!(messages.iter().filter(|m| m.role == Role::User).count(), 1, "one message, however often it was sent");
    assert_eq!(app.fake().requests().len(), 1, "one reply was written");
    for bad in ["", "has spaces", &"x".repeat(65)] {
        let (status, error) = app.post(&path, json!({"content": "hi", "client_id": bad})).await;
        assert_eq!(status, 422, "{bad:?}: {error}");
        assert_eq!(error["error"]["code"], "invalid");
    }
    assert_eq!(app.messages(chat).await.len(), messages.len(), "nothing was saved for a refused send");
}

async fn replies_written_at_once_are_capped_per_visitor_and_overall(backend: Backend) {
    let configure = |c: &mut frontdesk::server::config::Config| {
        c.replies_per_visitor = 1;
        c.max_replies = 2;
    };
    let app = TestApp::spawn_with(backend, Options { configure: Box::new(configure), ..Options::default() }).await;
    // A reply that keeps streaming until it is stopped.
    app.fake().push(Script::StallAfter { pieces: vec!["Thinking".into()] });
    let first = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{first}/messages"), json!({"content": "one"})).await;
    assert_eq!(status, 201, "{body}");
    let streaming = body["reply"]["id"].as_i64().unwrap();
    // The same visitor in a second chat: refused while the first reply is written, nothing saved.
    let second = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{second}/messages"), json!({"content": "two"})).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("still answering in your other conversations"));
    assert!(app.messages(second).await.iter().all(|m| m.content != "two"));
    // Another visitor fills the server's last place; a third is refused until one ends.
    app.fake().push(Script::StallAfter { pieces: vec!["Also thinking".into()] });
    let other = app.another_visitor();
    let (_, chat) =
        crate::support::read(other.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
    let url = app.url(&format!("/api/v1/chats/{}/messages", chat["id"]));
    let (status, _) =
        crate::support::read(other.post(&url).json(&json!({"content": "hi"})).send().await.unwrap()).await;
    assert_eq!(status, 201);
    let third = app.another_visitor();
    let (_, chat) =
        crate::support::read(third.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await;
    let url = app.url(&format!("/api/v1/chats/{}/messages", chat["id"]));
    let (status, body) =
        crate::support::read(third.post(&url).json(&json!({"content": "hello"})).send().await.unwrap()).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("many customers"));
    // The first reply stopped: the visitor may send in their second chat.
    let (status, _) = app.post(&format!("/api/v1/chats/{first}/messages/{streaming}/stop"), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = app.post(&format!("/api/v1/chats/{second}/messages"), json!({"content": "two"})).await;
    assert_eq!(status, 201, "{body}");
}

/// A send holds a connection for its transaction; it must not wait for a second one (with every
/// connection held by a send waiting the same way, none would ever come).
async fn sends_at_once_from_many_visitors_all_succeed_on_a_small_connection_pool(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, Options { configure: Box::new(|c| c.db_connections = 2), ..Options::default() })
            .await;
    let sends = (0..12).map(|i| {
        let (client, base) = (app.another_visitor(), app.base.clone());
        async move {
            let chat: serde_json::Value = client
                .post(format!("{base}/api/v1/chats"))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let chat = chat["id"].as_i64().unwrap();
            let response = client
                .post(format!("{base}/api/v1/chats/{chat}/messages?wait=true"))
                .json(&json!({"content": format!("question {i}")}))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    for (status, body) in futures::future::join_all(sends).await {
        assert_eq!(status, 201, "{body}");
        assert!(body.contains(r#""status":"complete""#), "the reply was written: {body}");
    }
}

/// On PostgreSQL the streaming engine's delta batches commit without waiting for the WAL flush;
/// every other write still waits (a message is durable when its POST answers). The reply itself
/// is whole once it completes: its last commit flushes the deltas before it.
async fn only_the_token_deltas_of_a_streaming_reply_skip_the_wait_for_the_database_flush(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.fake().push(Script::words("Deltas go in batches and the reply is whole at the end."));
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "How are deltas saved?").await;
    assert_eq!(reply.content, "Deltas go in batches and the reply is whole at the end.");
    let db = &app.state.db;
    match backend {
        Backend::Postgres => {
            async fn synchronous_commit(pool: &sqlx::AnyPool) -> String {
                let (value,): (String,) =
                    sqlx::query_as("SELECT current_setting('synchronous_commit')").fetch_one(pool).await.unwrap();
                value
            }
            assert_eq!(synchronous_commit(&db.deltas).await, "off");
            assert_eq!(synchronous_commit(&db.write).await, "on");
        }
        Backend::Sqlite => {
            // One writer connection: the deltas share it (a second would meet "database is locked").
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&db.deltas).await.unwrap();
            assert_eq!(mode, "wal");
            assert_eq!(db.deltas.options().get_max_connections(), 1);
        }
    }
}

/// On PostgreSQL a change can fail as it commits (here a check the database makes only then):
/// the customer gets a plain error, the reply begun while the send committed ends without a
/// trace, and the chat goes on as if the send had not happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_fails_as_it_commits_leaves_no_reply_behind() {
    let app = TestApp::spawn(Backend::Postgres).await;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.content = 'refused at commit' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON messages \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();",
    )
    .execute(&app.state.db.write)
    .await
    .unwrap();
    // Every answer would take a minute: the begun reply must end, not run it out.
    app.fake().set_default(Script::slow_words(&"word ".repeat(2_000), Duration::from_millis(30)));
    let chat = app.new_chat().await;
    let (status, body) =
        app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "refused at commit"})).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "internal", "{body}");
    assert!(!body.to_string().contains("refused"), "no database text reaches the client: {body}");
    let replies = app.state.replies.clone();
    crate::support::wait_for("the begun reply to end", || replies.running_count() == 0).await;
    let roles: Vec<Role> = app.messages(chat).await.into_iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Assistant], "the greeting alone: the send and its reply are not there");
    let (status, sent) = app.post(&format!("/api/v1/chats/{chat}/messages"), json!({"content": "hello?"})).await;
    assert_eq!(status, 201, "{sent}");
    let ids: Vec<i64> = app.messages(chat).await.into_iter().skip(1).map(|m| m.id).collect();
    assert_eq!(ids, [sent["message"]["id"].as_i64().unwrap(), sent["reply"]["id"].as_i64().unwrap()]);
}
