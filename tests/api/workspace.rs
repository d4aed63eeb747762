//! The team's workspace (issue 32): the default view, private notes, the team's members and
//! their own accounts, on both databases.

use crate::{
    staff::{app_with_mail, call, cookie_of, next_any_frame, next_frame, open_ws, staff_client, Socket, PASSWORD},
    support::{next_matching, read, smtp::SmtpServer, Backend, Options, TestApp},
};
use frontdesk::{model::EventKind, server::identity::StaffRole};
use serde_json::{json, Value};

on_both_databases!(
    the_default_view_keeps_a_conversation_staff_replied_to_and_lists_unassigned_ones_apart,
    a_note_reaches_staff_live_and_never_the_customer_the_assistant_or_email,
    bad_notes_are_refused_with_the_reason_and_change_nothing,
    deactivating_a_member_ends_their_sessions_and_sockets_and_puts_their_conversations_back_in_the_queue,
    the_team_keeps_an_active_admin_and_only_admins_change_members,
    a_member_changes_their_name_and_password_and_their_other_sessions_end,
    a_reset_link_works_once_within_thirty_minutes_and_ends_every_session,
    asking_for_reset_links_answers_the_same_for_any_address_and_is_throttled_like_signing_in,
    admins_make_labels_members_put_them_on_conversations_and_the_list_filters_and_shows_them_live,
    bad_labels_are_refused_with_the_reason_and_change_nothing,
    the_views_counts_follow_the_conversations,
    a_snoozed_conversation_wakes_at_its_time_or_when_the_customer_writes,
    a_customer_writing_again_reopens_a_resolved_conversation_and_bad_snoozes_are_refused,
    a_member_is_online_while_a_panel_of_theirs_is_open_unless_they_say_they_are_away,
    auto_assignment_gives_waiting_conversations_in_turn_under_the_cap_and_waits_until_someone_is_free,
    an_invited_member_chooses_their_password_with_the_emailed_link_which_works_once,
    without_mail_an_invitation_is_refused_and_no_account_is_made,
    staff_see_the_customer_beside_a_conversation_with_their_history_browser_and_time_zone,
    a_bad_time_zone_is_refused_and_an_unknown_conversation_has_no_customer,
);

async fn id_of(client: &reqwest::Client, app: &TestApp) -> i64 {
    let (status, me) = call(client, "GET", app.url("/api/v1/auth/me"), None).await;
    assert_eq!(status, 200, "{me}");
    me["id"].as_i64().unwrap()
}

async fn listed(client: &reqwest::Client, app: &TestApp, query: &str) -> Vec<i64> {
    let (status, body) = call(client, "GET", app.url(&format!("/api/v1/admin/inquiries{query}")), None).await;
    assert_eq!(status, 200, "{body}");
    body["inquiries"].as_array().unwrap().iter().map(|i| i["chat"]["id"].as_i64().unwrap()).collect()
}

async fn the_default_view_keeps_a_conversation_staff_replied_to_and_lists_unassigned_ones_apart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (replied, waiting) = (app.new_chat().await, app.new_chat().await);
    app.send_and_wait(replied, "Where is my parcel?").await;
    app.send_and_wait(waiting, "Do you ship to Norway?").await;
    let reply = app.url(&format!("/api/v1/admin/inquiries/{replied}/messages"));
    assert_eq!(call(&staff, "POST", reply, Some(json!({"content": "Looking now."}))).await.0, 201);
    // Replied to, it is in progress, and still in the default view: it still needs the team.
    let mut shown = listed(&staff, &app, "").await;
    shown.sort();
    assert_eq!(shown, vec![replied, waiting]);
    assert_eq!(listed(&staff, &app, "?status=active").await.len(), 2);
    assert_eq!(listed(&staff, &app, "?status=pending").await, vec![waiting]);
    assert_eq!(listed(&staff, &app, "?status=in_progress").await, vec![replied]);
    assert_eq!(listed(&staff, &app, "?assignee=none").await, vec![waiting], "the reply assigned the other");
    assert_eq!(listed(&staff, &app, "?assignee=me").await, vec![replied]);
    // Resolved, it leaves the default view.
    let inquiry = app.url(&format!("/api/v1/admin/inquiries/{replied}"));
    assert_eq!(call(&staff, "PATCH", inquiry, Some(json!({"status": "resolved"}))).await.0, 200);
    assert_eq!(listed(&staff, &app, "").await, vec![waiting]);
    let (status, body) = call(&staff, "GET", app.url("/api/v1/admin/inquiries?assignee=nobody"), None).await;
    assert_eq!(status, 422, "{body}");
}

/// Frames of a socket until one matches; every frame read is kept in `seen`.
async fn frames_until(socket: &mut Socket, seen: &mut Vec<Value>, done: impl Fn(&Value) -> bool) {
    loop {
        let frame = next_any_frame(socket).await.expect("the socket stays open");
        seen.push(frame.clone());
        if done(&frame) {
            return;
        }
    }
}

async fn a_note_reaches_staff_live_and_never_the_customer_the_assistant_or_email(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(backend, &smtp, 20).await;
    let alice = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    app.state.accounts.create_staff("bea.m@example.com", "Bea Moreau", StaffRole::Agent, PASSWORD).await.unwrap();
    let bea_cookie = cookie_of(&app, "bea.m@example.com", PASSWORD).await.unwrap();
    let mut bea_panel = open_ws(&app, "/api/v1/admin/ws", Some(&bea_cookie), None).await.unwrap();
    let chat = app.new_chat().await;
    let (question, _) = app.send_and_wait(chat, "My order 1042 never came").await;
    // The customer follows the conversation on SSE and on its WebSocket.
    let mut sse = app.events(chat, Some(0)).await;
    let mut window =
        open_ws(&app, &format!("/api/v1/chats/{chat}/ws?after=0"), Some(&app.cookie_header()), None).await.unwrap();

    let secret = "SECRET-NOTE: refund approved, courier lost it";
    let content = format!("{secret}. @bea moreau can you confirm?");
    let (status, note) = call(
        &alice,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/notes")),
        Some(json!({"content": content})),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!((note["author"].as_str(), note["chat_id"].as_i64()), (Some("Alice"), Some(chat)));
    let bea =
        app.state.accounts.list_staff().await.unwrap().into_iter().find(|m| m.display_name == "Bea Moreau").unwrap();
    assert_eq!(note["mentions"], json!([bea.id]));
    assert!(note["after_message_id"].as_i64().unwrap() > question.id, "it sits after the assistant's answer");
    // Staff: live on the panel feed, and in the conversation's notes.
    let mut heard = Vec::new();
    frames_until(&mut bea_panel, &mut heard, |f| f["type"] == "note.created").await;
    assert_eq!(heard.last().unwrap()["data"], note);
    let (status, notes) = call(&alice, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/notes")), None).await;
    assert_eq!((status, notes), (200, json!([note])));
    // The mentioned member is emailed who and where, not what.
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["bea.m@example.com".to_string()]);
    assert!(
        mails[0].data.contains(&format!("Subject: Alice mentioned you on conversation #{chat}")),
        "{}",
        mails[0].data
    );
    assert!(mails[0].data.contains(&format!("https://desk.example.com/admin/inquiries/{chat}")));
    assert!(!mails[0].data.contains("SECRET-NOTE"), "the note stays in the panel: {}", mails[0].data);

    // The customer writes again and the assistant answers: the note is nowhere on their side.
    let (_, reply) = app.send_and_wait(chat, "Any news?").await;
    let mut seen = Vec::new();
    next_matching(&mut sse, &mut seen, |e| e.kind == EventKind::MessageCompleted && e.data["id"] == reply.id).await;
    assert!(seen.iter().all(|e| !e.data.to_string().contains("SECRET-NOTE")), "SSE: {seen:?}");
    let mut frames = Vec::new();
    frames_until(&mut window, &mut frames, |f| f["type"] == "message.completed" && f["data"]["id"] == reply.id).await;
    assert!(frames.iter().all(|f| !f.to_string().contains("SECRET-NOTE")), "WebSocket: {frames:?}");
    let (_, page) = app.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(!page.to_string().contains("SECRET-NOTE"), "the customer's API: {page}");
    let (_, staff_page) = call(&alice, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")), None).await;
    assert!(!staff_page.to_string().contains("SECRET-NOTE"), "a note is not a message: {staff_page}");
    let prompts = app.fake().requests();
    assert!(!prompts.is_empty());
    assert!(prompts.iter().all(|r| !r.to_string().contains("SECRET-NOTE")), "the model never gets a note");
    // A customer asking for a person emails the team their words, never the note.
    assert_eq!(app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await.0, 200);
    let mails = smtp.wait_for(2).await;
    assert!(mails.iter().all(|m| !m.data.contains("SECRET-NOTE")));
    assert!(mails[1].data.contains("Any news?"), "{}", mails[1].data);
    // The audit log names the note, never its text.
    let (_, admin_log) = {
        let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
        call(&admin, "GET", app.url(&format!("/api/v1/admin/audit?chat_id={chat}")), None).await
    };
    assert!(admin_log.to_string().contains("note.added") && !admin_log.to_string().contains("SECRET-NOTE"));
}

async fn bad_notes_are_refused_with_the_reason_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let chat = app.new_chat().await;
    let notes = app.url(&format!("/api/v1/admin/inquiries/{chat}/notes"));
    let missing = app.url("/api/v1/admin/inquiries/999999/notes");
    for (url, body, want) in [
        (missing.clone(), json!({"content": "hello"}), 404),
        (notes.clone(), json!({"content": "  \n "}), 422),
        (notes.clone(), json!({"content": "x".repeat(4001)}), 413),
        (notes.clone(), json!({"content": "hi", "private": false}), 422),
        (notes.clone(), json!({}), 422),
    ] {
        let (status, error) = call(&staff, "POST", url, Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    assert_eq!(call(&staff, "GET", missing, None).await.0, 404);
    assert_eq!(call(&staff, "GET", notes.clone(), None).await.1, json!([]));
    // Customers never reach notes.
    let (status, _) = app.post(&format!("/api/v1/admin/inquiries/{chat}/notes"), json!({"content": "me too"})).await;
    assert_eq!(status, 403);
    assert_eq!(app.get(&format!("/api/v1/admin/inquiries/{chat}/notes")).await.0, 403);
    // A deleted conversation takes its notes with it.
    assert_eq!(call(&staff, "POST", notes.clone(), Some(json!({"content": "kept?"}))).await.0, 201);
    assert_eq!(app.delete(&format!("/api/v1/chats/{chat}")).await.0, 204);
    assert_eq!(call(&staff, "GET", notes, None).await.0, 404);
}

async fn deactivating_a_member_ends_their_sessions_and_sockets_and_puts_their_conversations_back_in_the_queue(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let alice = id_of(&agent, &app).await;
    let cookie = cookie_of(&app, "alice@example.com", PASSWORD).await.unwrap();
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&cookie), None).await.unwrap();
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Hello?").await;
    let reply = app.url(&format!("/api/v1/admin/inquiries/{chat}/messages"));
    assert_eq!(call(&agent, "POST", reply, Some(json!({"content": "Alice here."}))).await.0, 201);
    let (_, before) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!((before["status"].as_str(), before["assignee_id"].as_i64()), (Some("in_progress"), Some(alice)));
    let messages_before = app.messages(chat).await.len();
    // One of hers sleeps: it sleeps on, unassigned.
    let sleeping = app.new_chat().await;
    app.send_and_wait(sleeping, "Call me next week").await;
    let snooze = json!({"status": "snoozed", "assignee_id": alice});
    assert_eq!(
        call(&agent, "PATCH", app.url(&format!("/api/v1/admin/inquiries/{sleeping}")), Some(snooze)).await.0,
        200
    );

    let member = app.url(&format!("/api/v1/admin/staff/{alice}"));
    let (status, body) = call(&admin, "PATCH", member.clone(), Some(json!({"active": false}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    // Their open socket closes at once; their session is gone; they cannot sign in.
    loop {
        match next_frame(&mut panel).await {
            Err(code) => break assert_eq!(code, 4001),
            Ok(_) => continue,
        }
    }
    assert_eq!(call(&agent, "GET", app.url("/api/v1/auth/me"), None).await.0, 401);
    assert_eq!(cookie_of(&app, "alice@example.com", PASSWORD).await, Err(401));
    // Their conversation is back in the queue; the customer saw nothing of it.
    let (_, after) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!((after["status"].as_str(), after["assignee_id"].as_i64()), (Some("pending"), None));
    let (_, asleep) = app.get(&format!("/api/v1/chats/{sleeping}")).await;
    assert_eq!((asleep["status"].as_str(), asleep["assignee_id"].as_i64()), (Some("snoozed"), None));
    assert_eq!(app.messages(chat).await.len(), messages_before);
    assert!(listed(&admin, &app, "?assignee=none").await.contains(&chat));
    // Nobody can assign them now.
    let inquiry = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
    assert_eq!(call(&admin, "PATCH", inquiry, Some(json!({"assignee_id": alice}))).await.0, 404);
    let (_, team) = call(&admin, "GET", app.url("/api/v1/admin/staff"), None).await;
    let listed_alice = team.as_array().unwrap().iter().find(|m| m["id"] == alice).unwrap().clone();
    assert_eq!(listed_alice["active"], false, "the team page still lists them: {team}");
    // Let back in, they sign in again.
    assert_eq!(call(&admin, "PATCH", member, Some(json!({"active": true}))).await.0, 200);
    assert!(cookie_of(&app, "alice@example.com", PASSWORD).await.is_ok());
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let log = log.to_string();
    assert!(log.contains(&format!("staff {alice}: deactivated")) && log.contains("reactivated"), "{log}");
}

async fn the_team_keeps_an_active_admin_and_only_admins_change_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let (root, alice) = (id_of(&admin, &app).await, id_of(&agent, &app).await);
    let url = |id: i64| app.url(&format!("/api/v1/admin/staff/{id}"));
    // An agent changes nobody.
    assert_eq!(call(&agent, "PATCH", url(root), Some(json!({"active": false}))).await.0, 403);
    assert_eq!(call(&agent, "PATCH", url(alice), Some(json!({"role": "admin"}))).await.0, 403);
    // The only admin can be neither demoted nor deactivated.
    for change in [json!({"role": "agent"}), json!({"active": false})] {
        let (status, body) = call(&admin, "PATCH", url(root), Some(change)).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("active admin"), "{body}");
    }
    // Once another is an admin, they can.
    let (status, body) = call(&admin, "PATCH", url(alice), Some(json!({"role": "admin"}))).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("admin")));
    assert_eq!(call(&agent, "GET", app.url("/api/v1/admin/audit"), None).await.0, 200, "the new role holds at once");
    assert_eq!(call(&admin, "PATCH", url(root), Some(json!({"role": "agent"}))).await.0, 200);
    assert_eq!(call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await.0, 403);
    // Bad input: a clear 4xx, nothing changed.
    for (id, body, want) in [
        (999_999, json!({"active": false}), 404),
        (alice, json!({"role": "owner"}), 422),
        (alice, json!({"active": "no"}), 422),
        (alice, json!({"boss": true}), 422),
    ] {
        let (status, error) = call(&agent, "PATCH", url(id), Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {error}");
    }
    let (_, team) = call(&agent, "GET", app.url("/api/v1/admin/staff"), None).await;
    let alice_now = team.as_array().unwrap().iter().find(|m| m["id"] == alice).unwrap();
    assert_eq!((alice_now["role"].as_str(), alice_now["active"].as_bool()), (Some("admin"), Some(true)));
    // An API key an admin made writes while they are active, and not once they are deactivated.
    let (status, key) = call(&agent, "POST", app.url("/api/v1/admin/api-keys"), Some(json!({"name": "sync"}))).await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_string();
    let article = json!({"title": "Shipping", "body": "We ship in two days."});
    let path = "/api/v1/admin/knowledge/shipping";
    assert_eq!(crate::knowledge::with_key(&app, &key, "PUT", path, Some(article.clone())).await.0, 201);
    assert_eq!(call(&admin, "PATCH", url(root), Some(json!({"role": "admin"}))).await.0, 403, "root is an agent now");
    assert_eq!(call(&agent, "PATCH", url(root), Some(json!({"role": "admin"}))).await.0, 200);
    assert_eq!(call(&admin, "PATCH", url(alice), Some(json!({"active": false}))).await.0, 200);
    let (status, body) = crate::knowledge::with_key(&app, &key, "PUT", path, Some(article)).await;
    assert_eq!(status, 401, "a deactivated admin's key writes nothing: {body}");
}

async fn a_member_changes_their_name_and_password_and_their_other_sessions_end(backend: Backend) {
    // More sign-ins than the default allowance per account (5 in 5 minutes): this is not about it.
    let configure = Box::new(|config: &mut frontdesk::server::config::Config| config.sign_ins_per_account = 20);
    let app = TestApp::spawn_with(backend, Options { configure, ..Options::default() }).await;
    let here = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let elsewhere = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = json!({"email": "alice@example.com", "password": PASSWORD});
    assert_eq!(call(&elsewhere, "POST", app.url("/api/v1/auth/login"), Some(login)).await.0, 200);
    let me = app.url("/api/v1/auth/me");
    let (status, body) = call(&here, "PATCH", me.clone(), Some(json!({"display_name": "  Alice Moreau "}))).await;
    assert_eq!((status, body["display_name"].as_str()), (200, Some("Alice Moreau")), "{body}");
    for (change, want) in [
        (json!({"password": {"new": "another-long-password"}}), 422),
        (json!({"password": {"new": "another-long-password", "current": "wrong-password!"}}), 403),
        (json!({"password": {"new": "short", "current": PASSWORD}}), 422),
        (json!({"display_name": ""}), 422),
        (json!({"role": "admin"}), 422),
    ] {
        let (status, error) = call(&here, "PATCH", me.clone(), Some(change.clone())).await;
        assert_eq!(status, want, "{change}: {error}");
    }
    assert_eq!(call(&elsewhere, "GET", me.clone(), None).await.0, 200, "nothing changed yet");
    let change = json!({"password": {"new": "another-long-password", "current": PASSWORD}});
    assert_eq!(call(&here, "PATCH", me.clone(), Some(change)).await.0, 200);
    assert_eq!(call(&here, "GET", me.clone(), None).await.0, 200, "this session stays");
    assert_eq!(call(&elsewhere, "GET", me.clone(), None).await.0, 401, "the other one ended");
    assert_eq!(cookie_of(&app, "alice@example.com", PASSWORD).await, Err(401));
    assert!(cookie_of(&app, "alice@example.com", "another-long-password").await.is_ok());
    // A visitor has no account to change.
    app.new_chat().await;
    let (status, _) = read(app.client.patch(me).json(&json!({"display_name": "Me"})).send().await.unwrap()).await;
    assert_eq!(status, 403);
}

/// The reset link's token in an email as it arrived (its body may be quoted-printable).
fn reset_token(mail: &crate::support::smtp::Mail) -> String {
    let body = mail.data.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let start = body.find("/admin/reset-password?token=").expect("the email holds the link") + 28;
    body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Uses a reset (or invitation) link's token to set a password, as the reset page does.
async fn confirm_reset(app: &TestApp, token: String, password: &str) -> (u16, Value) {
    let url = app.url("/api/v1/auth/password-reset/confirm");
    read(reqwest::Client::new().post(url).json(&json!({"token": token, "password": password})).send().await.unwrap())
        .await
}

async fn a_reset_link_works_once_within_thirty_minutes_and_ends_every_session(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let configure = Box::new(move |config: &mut frontdesk::server::config::Config| {
        config.smtp_url = Some(url);
        config.public_url = "https://desk.example.com".into();
        config.sign_ins_per_account = 50;
    });
    let app = TestApp::spawn_with(backend, Options { configure, ..Options::default() }).await;
    let here = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let ask = |email: &'static str| {
        let url = app.url("/api/v1/auth/password-reset");
        async move { read(reqwest::Client::new().post(url).json(&json!({"email": email})).send().await.unwrap()).await.0 }
    };
    let confirm = |token: String, password: &'static str| confirm_reset(&app, token, password);
    assert_eq!(ask("nobody@example.com").await, 204);
    assert_eq!(ask("Alice@Example.com ").await, 204);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["alice@example.com".to_string()], "no email for an address without an account");
    assert!(mails[0].data.contains("Subject: Set a new Frontdesk password"), "{}", mails[0].data);
    let token = reset_token(&mails[0]);
    assert_eq!(token.len(), 43, "{}", mails[0].data);

    let (status, body) = confirm(token.clone(), "short").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        call(&here, "GET", app.url("/api/v1/auth/me"), None).await.0,
        200,
        "a refused new password changes nothing"
    );
    assert_eq!(confirm(token.clone(), "a-brand-new-password").await.0, 204);
    assert_eq!(call(&here, "GET", app.url("/api/v1/auth/me"), None).await.0, 401, "every session ended");
    assert_eq!(cookie_of(&app, "alice@example.com", PASSWORD).await, Err(401));
    assert!(cookie_of(&app, "alice@example.com", "a-brand-new-password").await.is_ok());
    // Used once: a second use is refused with the reason, and the password stays.
    let (status, body) = confirm(token, "yet-another-password").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("used already, expired"), "{body}");
    assert!(cookie_of(&app, "alice@example.com", "a-brand-new-password").await.is_ok());

    // A newer link replaces the one before.
    assert_eq!(ask("alice@example.com").await, 204);
    assert_eq!(ask("alice@example.com").await, 204);
    let mails = smtp.wait_for(3).await;
    let (older, newer) = (reset_token(&mails[1]), reset_token(&mails[2]));
    assert_eq!(confirm(older, "replaced-link-password").await.0, 404);
    // Past 30 minutes it is refused too (its time moved back in the database).
    sqlx::query("UPDATE password_resets SET expires_at = expires_at - $1")
        .bind(frontdesk::server::accounts::RESET_VALID_MS)
        .execute(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(confirm(newer, "expired-link-password").await.0, 404);
    assert!(cookie_of(&app, "alice@example.com", "a-brand-new-password").await.is_ok(), "nothing changed");
    // A deactivated member gets no link.
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let alice = app.state.accounts.list_staff().await.unwrap().into_iter().find(|m| m.display_name == "Alice").unwrap();
    let member = app.url(&format!("/api/v1/admin/staff/{}", alice.id));
    assert_eq!(call(&admin, "PATCH", member, Some(json!({"active": false}))).await.0, 200);
    assert_eq!(ask("alice@example.com").await, 204);
    assert_eq!(ask("root@example.com").await, 204);
    let mails = smtp.wait_for(4).await;
    assert_eq!(mails[3].to, vec!["root@example.com".to_string()], "the deactivated member's request sent nothing");
}

async fn asking_for_reset_links_answers_the_same_for_any_address_and_is_throttled_like_signing_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state.accounts.create_staff("alice@example.com", "Alice", StaffRole::Agent, PASSWORD).await.unwrap();
    let url = app.url("/api/v1/auth/password-reset");
    for email in ["alice@example.com", "nobody@example.com"] {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let (status, _) =
                read(reqwest::Client::new().post(&url).json(&json!({"email": email})).send().await.unwrap()).await;
            statuses.push(status);
        }
        assert_eq!(statuses, [204, 204, 204, 204, 204, 429], "{email}: five in five minutes, as for signing in");
    }
    let (status, body) =
        read(reqwest::Client::new().post(&url).json(&json!({"email": "not an address"})).send().await.unwrap()).await;
    assert_eq!(status, 422, "{body}");
}

async fn admins_make_labels_members_put_them_on_conversations_and_the_list_filters_and_shows_them_live(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let labels = app.url("/api/v1/admin/labels");
    let (status, refund) =
        call(&admin, "POST", labels.clone(), Some(json!({"name": " Refund ", "color": "#B91C1C"}))).await;
    assert_eq!(status, 201, "{refund}");
    assert_eq!((refund["name"].as_str(), refund["color"].as_str()), (Some("Refund"), Some("#b91c1c")));
    let (_, vip) = call(&admin, "POST", labels.clone(), Some(json!({"name": "VIP", "color": "#4338ca"}))).await;
    let (refund_id, vip_id) = (refund["id"].as_i64().unwrap(), vip["id"].as_i64().unwrap());
    assert_eq!(call(&agent, "POST", labels.clone(), Some(json!({"name": "x", "color": "#000000"}))).await.0, 403);
    let (_, all_labels) = call(&agent, "GET", labels.clone(), None).await;
    assert_eq!(all_labels, json!([refund, vip]), "by name");

    let (labelled, other) = (app.new_chat().await, app.new_chat().await);
    app.send_and_wait(labelled, "I want my money back").await;
    app.send_and_wait(other, "Hello").await;
    let cookie = cookie_of(&app, "alice@example.com", PASSWORD).await.unwrap();
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&cookie), None).await.unwrap();
    let put = app.url(&format!("/api/v1/admin/inquiries/{labelled}/labels"));
    let (status, inquiry) =
        call(&agent, "PUT", put.clone(), Some(json!({"label_ids": [vip_id, refund_id, vip_id]}))).await;
    assert_eq!(status, 200, "{inquiry}");
    assert_eq!(inquiry["labels"], json!([refund, vip]));
    // Open panels see it at once, with the conversation's summary.
    let mut seen = Vec::new();
    frames_until(&mut panel, &mut seen, |f| {
        f["chat_id"] == labelled && f["inquiry"]["labels"].as_array().is_some_and(|l| l.len() == 2)
    })
    .await;
    // The list shows them and filters by one.
    assert_eq!(listed_with(&agent, &app, &format!("?label={refund_id}")).await, vec![labelled]);
    let mut all = listed(&agent, &app, "").await;
    all.sort();
    assert_eq!(all, vec![labelled, other]);
    let (_, page) = call(&agent, "GET", app.url("/api/v1/admin/inquiries"), None).await;
    let row = page["inquiries"].as_array().unwrap().iter().find(|i| i["chat"]["id"] == labelled).unwrap().clone();
    assert_eq!(row["labels"], json!([refund, vip]));
    // The customer sees none of it.
    let (_, chat) = app.get(&format!("/api/v1/chats/{labelled}")).await;
    assert!(!chat.to_string().contains("Refund"), "{chat}");
    // Renamed, the conversation shows the new name (open panels hear it); taken off, it is gone;
    // deleted, off everywhere.
    let one = app.url(&format!("/api/v1/admin/labels/{vip_id}"));
    assert_eq!(call(&admin, "PUT", one.clone(), Some(json!({"name": "Gold", "color": "#4338ca"}))).await.0, 200);
    frames_until(&mut panel, &mut seen, |f| f["type"] == "labels.changed").await;
    let (_, inquiry) = call(&agent, "GET", app.url(&format!("/api/v1/admin/inquiries/{labelled}")), None).await;
    assert_eq!(inquiry["labels"][0]["name"], "Gold", "{inquiry}");
    let (_, inquiry) = call(&agent, "PUT", put.clone(), Some(json!({"label_ids": [refund_id]}))).await;
    assert_eq!(inquiry["labels"], json!([refund]));
    assert_eq!(call(&admin, "DELETE", app.url(&format!("/api/v1/admin/labels/{refund_id}")), None).await.0, 204);
    assert_eq!(listed_with(&agent, &app, &format!("?label={refund_id}")).await, Vec::<i64>::new());
    let (_, inquiry) = call(&agent, "GET", app.url(&format!("/api/v1/admin/inquiries/{labelled}")), None).await;
    assert_eq!(inquiry["labels"], json!([]));
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    assert!(log.to_string().contains("inquiry.labelled") && log.to_string().contains("label.deleted"), "{log}");
}

async fn listed_with(client: &reqwest::Client, app: &TestApp, query: &str) -> Vec<i64> {
    let (status, body) =
        call(client, "GET", app.url(&format!("/api/v1/admin/inquiries{query}&status=all")), None).await;
    assert_eq!(status, 200, "{body}");
    body["inquiries"].as_array().unwrap().iter().map(|i| i["chat"]["id"].as_i64().unwrap()).collect()
}

async fn bad_labels_are_refused_with_the_reason_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let labels = app.url("/api/v1/admin/labels");
    let (_, refund) = call(&admin, "POST", labels.clone(), Some(json!({"name": "Refund", "color": "#b91c1c"}))).await;
    let refund_id = refund["id"].as_i64().unwrap();
    for (body, want) in [
        (json!({"name": "refund", "color": "#000000"}), 409),
        (json!({"name": "Blue", "color": "blue"}), 422),
        (json!({"name": "Blue", "color": "#12345"}), 422),
        (json!({"name": "  ", "color": "#123456"}), 422),
        (json!({"name": "x".repeat(41), "color": "#123456"}), 422),
        (json!({"name": "Blue"}), 422),
    ] {
        let (status, error) = call(&admin, "POST", labels.clone(), Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    let (_, error) = call(&admin, "POST", labels.clone(), Some(json!({"name": "Blue", "color": "blue"}))).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("#rrggbb"), "{error}");
    assert_eq!(call(&admin, "GET", labels.clone(), None).await.1.as_array().unwrap().len(), 1);
    let missing = app.url("/api/v1/admin/labels/999999");
    assert_eq!(call(&admin, "PUT", missing.clone(), Some(json!({"name": "a", "color": "#000000"}))).await.0, 404);
    assert_eq!(call(&admin, "DELETE", missing, None).await.0, 404);
    // An unknown label on a conversation: 404 naming it, and the labels it had stay; too many: 422.
    let chat = app.new_chat().await;
    let put = app.url(&format!("/api/v1/admin/inquiries/{chat}/labels"));
    assert_eq!(call(&admin, "PUT", put.clone(), Some(json!({"label_ids": [refund_id]}))).await.0, 200);
    let (status, error) = call(&admin, "PUT", put.clone(), Some(json!({"label_ids": [999999]}))).await;
    assert_eq!(status, 404, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("no label 999999"), "{error}");
    let (_, inquiry) = call(&admin, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}")), None).await;
    assert_eq!(inquiry["labels"], json!([refund]));
    let many: Vec<i64> = (1..=21).collect();
    assert_eq!(call(&admin, "PUT", put.clone(), Some(json!({"label_ids": many}))).await.0, 422);
    let (status, _) =
        call(&admin, "PUT", app.url("/api/v1/admin/inquiries/999999/labels"), Some(json!({"label_ids": []}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(&admin, "GET", app.url("/api/v1/admin/inquiries?label=0"), None).await;
    assert_eq!(status, 422);
    // Customers reach none of it.
    assert_eq!(app.get("/api/v1/admin/labels").await.0, 403);
}

async fn the_views_counts_follow_the_conversations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let counts = || async { call(&staff, "GET", app.url("/api/v1/admin/inquiries/counts"), None).await };
    let (status, none) = counts().await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["all"], 0);
    let (handled, asked, replied, done) =
        (app.new_chat().await, app.new_chat().await, app.new_chat().await, app.new_chat().await);
    app.new_chat().await; // opened, never written in: no inquiry, counted nowhere
    for chat in [handled, asked, replied, done] {
        app.send_and_wait(chat, "Hello?").await;
    }
    assert_eq!(app.post(&format!("/api/v1/chats/{asked}/handoff"), json!({})).await.0, 200);
    let reply = app.url(&format!("/api/v1/admin/inquiries/{replied}/messages"));
    assert_eq!(call(&staff, "POST", reply, Some(json!({"content": "On it."}))).await.0, 201);
    let resolve = app.url(&format!("/api/v1/admin/inquiries/{done}"));
    assert_eq!(call(&staff, "PATCH", resolve, Some(json!({"status": "resolved"}))).await.0, 200);
    let (_, now) = counts().await;
    let want = json!({
        "waiting": 1, "active": 3, "mine": 1, "unassigned": 2,
        "pending": 2, "in_progress": 1, "snoozed": 0, "resolved": 1, "closed": 0, "all": 4
    });
    assert_eq!(now, want, "the assistant answers one, one asked for a person, Alice has one, one is resolved");
    // The counts agree with the lists they count.
    assert_eq!(listed(&staff, &app, "").await.len(), 3);
    assert_eq!(listed(&staff, &app, "?assignee=none").await.len(), 2);
    assert_eq!(app.get("/api/v1/admin/inquiries/counts").await.0, 403, "customers count nothing");
}

/// A time `minutes` from now, as RFC 3339.
fn minutes_from_now(minutes: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
    at.format(&time::format_description::well_known::Rfc3339).unwrap()
}

async fn status_of(app: &TestApp, chat: i64) -> String {
    app.get(&format!("/api/v1/chats/{chat}")).await.1["status"].as_str().unwrap().to_string()
}

async fn a_snoozed_conversation_wakes_at_its_time_or_when_the_customer_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let (timed, until_reply) = (app.new_chat().await, app.new_chat().await);
    app.send_and_wait(timed, "Can you check tomorrow?").await;
    app.send_and_wait(until_reply, "I will send the photo later").await;
    let until = minutes_from_now(60);
    let patch = |chat: i64, body: Value| {
        let url = app.url(&format!("/api/v1/admin/inquiries/{chat}"));
        let staff = staff.clone();
        async move { call(&staff, "PATCH", url, Some(body)).await }
    };
    let (status, inquiry) = patch(timed, json!({"status": "snoozed", "snoozed_until": until})).await;
    assert_eq!(status, 200, "{inquiry}");
    assert_eq!(inquiry["chat"]["status"], "snoozed");
    assert!(inquiry["snoozed_until"].as_str().is_some_and(|at| at[..16] == until[..16]), "{inquiry}");
    let (_, inquiry) = patch(until_reply, json!({"status": "snoozed"})).await;
    assert_eq!(inquiry["snoozed_until"], Value::Null, "until the customer writes");
    // Set aside: out of the default view, in the snoozed one, counted.
    assert_eq!(listed(&staff, &app, "").await, Vec::<i64>::new());
    let mut snoozed = listed(&staff, &app, "?status=snoozed").await;
    snoozed.sort();
    assert_eq!(snoozed, vec![timed, until_reply]);
    let (_, counts) = call(&staff, "GET", app.url("/api/v1/admin/inquiries/counts"), None).await;
    assert_eq!((counts["snoozed"].as_i64(), counts["active"].as_i64()), (Some(2), Some(0)), "{counts}");

    // Its time not come, nothing wakes; past it, the timed one does (open panels see it come back).
    let now = frontdesk::server::db::now_ms();
    assert_eq!(app.state.inquiries.wake_snoozed(now).await.unwrap(), 0);
    let cookie = cookie_of(&app, "alice@example.com", PASSWORD).await.unwrap();
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&cookie), None).await.unwrap();
    assert_eq!(app.state.inquiries.wake_snoozed(now + 2 * 3600 * 1000).await.unwrap(), 1);
    let mut seen = Vec::new();
    frames_until(&mut panel, &mut seen, |f| f["chat_id"] == timed && f["inquiry"]["chat"]["status"] == "pending").await;
    assert_eq!(status_of(&app, timed).await, "pending");
    assert_eq!(listed(&staff, &app, "").await, vec![timed]);
    assert_eq!(status_of(&app, until_reply).await, "snoozed", "no time: it waits for the customer");
    // The customer writes: it wakes.
    app.send_and_wait(until_reply, "Here is the photo").await;
    assert_eq!(status_of(&app, until_reply).await, "pending");
    // Asking for a person wakes it, its time gone.
    let (_, inquiry) = patch(timed, json!({"status": "snoozed", "snoozed_until": minutes_from_now(30)})).await;
    assert!(inquiry["snoozed_until"].is_string());
    assert_eq!(app.post(&format!("/api/v1/chats/{timed}/handoff"), json!({})).await.0, 200);
    let (_, inquiry) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{timed}")), None).await;
    assert_eq!((inquiry["chat"]["status"].as_str(), &inquiry["snoozed_until"]), (Some("pending"), &Value::Null));
    // Another status ends a snooze and its time.
    let (_, inquiry) = patch(timed, json!({"status": "snoozed", "snoozed_until": minutes_from_now(30)})).await;
    assert!(inquiry["snoozed_until"].is_string());
    let (_, inquiry) = patch(timed, json!({"status": "in_progress"})).await;
    assert_eq!((inquiry["chat"]["status"].as_str(), &inquiry["snoozed_until"]), (Some("in_progress"), &Value::Null));
}

async fn a_customer_writing_again_reopens_a_resolved_conversation_and_bad_snoozes_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let (resolved, closed) = (app.new_chat().await, app.new_chat().await);
    for chat in [resolved, closed] {
        app.send_and_wait(chat, "Thanks!").await;
    }
    let url = |chat: i64| app.url(&format!("/api/v1/admin/inquiries/{chat}"));
    assert_eq!(call(&staff, "PATCH", url(resolved), Some(json!({"status": "resolved"}))).await.0, 200);
    assert_eq!(call(&staff, "PATCH", url(closed), Some(json!({"status": "closed"}))).await.0, 200);
    app.send_and_wait(resolved, "Actually, one more question").await;
    app.send_and_wait(closed, "Hello again").await;
    assert_eq!(status_of(&app, resolved).await, "pending", "a resolved conversation opens again");
    assert_eq!(status_of(&app, closed).await, "closed", "a closed one stays closed");
    // Bad snoozes: a clear 4xx, nothing changes.
    for (body, want) in [
        (json!({"status": "snoozed", "snoozed_until": "next tuesday"}), 422),
        (json!({"status": "resolved", "snoozed_until": minutes_from_now(60)}), 409),
    ] {
        let (status, error) = call(&staff, "PATCH", url(resolved), Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains("snoozed_until"), "{error}");
    }
    assert_eq!(status_of(&app, resolved).await, "pending");
    // A time alone snoozes; one already past wakes at the next look.
    let (status, inquiry) =
        call(&staff, "PATCH", url(resolved), Some(json!({"snoozed_until": minutes_from_now(-5)}))).await;
    assert_eq!((status, inquiry["chat"]["status"].as_str()), (200, Some("snoozed")), "{inquiry}");
    assert_eq!(app.state.inquiries.wake_snoozed(frontdesk::server::db::now_ms()).await.unwrap(), 1);
    assert_eq!(status_of(&app, resolved).await, "pending");
}

/// Frames of a panel socket until `who` is reported online (or not).
async fn presence_until(panel: &mut Socket, who: i64, online: bool) -> Value {
    let mut seen = Vec::new();
    frames_until(panel, &mut seen, |f| {
        f["type"] == "presence.changed" && f["data"]["user_id"] == who && f["data"]["online"] == online
    })
    .await;
    seen.pop().unwrap()
}

async fn presence_of(client: &reqwest::Client, app: &TestApp, who: i64) -> (String, bool) {
    let (status, all) = call(client, "GET", app.url("/api/v1/admin/presence"), None).await;
    assert_eq!(status, 200, "{all}");
    let mine = all.as_array().unwrap().iter().find(|p| p["user_id"] == who).expect("listed").clone();
    let (_, team) = call(client, "GET", app.url("/api/v1/admin/staff"), None).await;
    let member = team.as_array().unwrap().iter().find(|m| m["id"] == who).unwrap().clone();
    assert_eq!((&member["availability"], &member["online"]), (&mine["availability"], &mine["online"]), "{team}");
    (mine["availability"].as_str().unwrap().to_string(), mine["online"].as_bool().unwrap())
}

async fn a_member_is_online_while_a_panel_of_theirs_is_open_unless_they_say_they_are_away(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let alice = id_of(&agent, &app).await;
    let root_cookie = cookie_of(&app, "root@example.com", PASSWORD).await.unwrap();
    let mut watching = open_ws(&app, "/api/v1/admin/ws", Some(&root_cookie), None).await.unwrap();
    presence_until(&mut watching, id_of(&admin, &app).await, true).await;
    assert_eq!(presence_of(&admin, &app, alice).await, ("online".into(), false), "no panel open: offline");

    let alice_cookie = cookie_of(&app, "alice@example.com", PASSWORD).await.unwrap();
    let mut panel = open_ws(&app, "/api/v1/admin/ws", Some(&alice_cookie), None).await.unwrap();
    presence_until(&mut watching, alice, true).await;
    assert_eq!(presence_of(&admin, &app, alice).await, ("online".into(), true));

    let availability = app.url("/api/v1/admin/availability");
    let (status, body) = call(&agent, "PUT", availability.clone(), Some(json!({"availability": "away"}))).await;
    assert_eq!((status, &body["online"], &body["availability"]), (200, &json!(false), &json!("away")), "{body}");
    let news = presence_until(&mut watching, alice, false).await;
    assert_eq!(news["data"]["availability"], "away");
    // A second panel of hers changes nothing: she said she is away.
    let _second = open_ws(&app, "/api/v1/admin/ws", Some(&alice_cookie), None).await.unwrap();
    presence_until(&mut panel, alice, false).await;
    assert_eq!(presence_of(&admin, &app, alice).await, ("away".into(), false));

    for bad in [json!({"availability": "busy"}), json!({}), json!({"availability": "online", "until": 5})] {
        let (status, body) = call(&agent, "PUT", availability.clone(), Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    assert_eq!(presence_of(&admin, &app, alice).await, ("away".into(), false), "nothing changed");
    assert_eq!(call(&agent, "PUT", availability, Some(json!({"availability": "online"}))).await.0, 200);
    presence_until(&mut watching, alice, true).await;
    // Her panels closed, she is offline; what she said stays.
    drop(panel);
    drop(_second);
    presence_until(&mut watching, alice, false).await;
    assert_eq!(presence_of(&admin, &app, alice).await, ("online".into(), false));
    // Customers see none of it.
    let (status, body) = app.get("/api/v1/admin/presence").await;
    assert!(matches!(status, 401 | 403), "{status} {body}");
}

/// Frames of a panel socket until `chat` is shown assigned to `member`.
async fn assigned_until(panel: &mut Socket, chat: i64, member: i64) {
    let mut seen = Vec::new();
    frames_until(panel, &mut seen, |f| f["chat_id"] == chat && f["inquiry"]["chat"]["assignee_id"] == member).await;
}

/// A customer's conversation that asks for a person.
async fn waiting_for_a_person(app: &TestApp) -> i64 {
    let chat = app.new_chat().await;
    let (status, body) = app.post(&format!("/api/v1/chats/{chat}/handoff"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    chat
}

async fn assignee_of(app: &TestApp, chat: i64) -> Option<i64> {
    app.get(&format!("/api/v1/chats/{chat}")).await.1["assignee_id"].as_i64()
}

async fn auto_assignment_gives_waiting_conversations_in_turn_under_the_cap_and_waits_until_someone_is_free(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let alice_client = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let bea_client = staff_client(&app, "bea@example.com", "Bea", StaffRole::Agent).await;
    let (alice, bea) = (id_of(&alice_client, &app).await, id_of(&bea_client, &app).await);
    let settings = app.url("/api/v1/admin/settings/assignment");
    let (status, body) = call(&admin, "GET", settings.clone(), None).await;
    assert_eq!((status, body), (200, json!({"auto_assign": false, "max_open_per_member": 10})), "off by default");
    // The admin watches, away: nothing is given to them.
    let away = Some(json!({"availability": "away"}));
    assert_eq!(call(&admin, "PUT", app.url("/api/v1/admin/availability"), away.clone()).await.0, 200);
    let root_cookie = cookie_of(&app, "root@example.com", PASSWORD).await.unwrap();
    let mut watching = open_ws(&app, "/api/v1/admin/ws", Some(&root_cookie), None).await.unwrap();
    let alice_cookie = cookie_of(&app, "alice@example.com", PASSWORD).await.unwrap();
    let _alice_panel = open_ws(&app, "/api/v1/admin/ws", Some(&alice_cookie), None).await.unwrap();
    presence_until(&mut watching, alice, true).await;

    // Off, a conversation waits for someone to take it.
    let first = waiting_for_a_person(&app).await;
    assert_eq!(assignee_of(&app, first).await, None);
    // Only admins turn it on, with a cap of 1 to 100.
    let on = |cap: i64| Some(json!({"auto_assign": true, "max_open_per_member": cap}));
    assert_eq!(call(&alice_client, "PUT", settings.clone(), on(1)).await.0, 403);
    for cap in [0, 101] {
        let (status, body) = call(&admin, "PUT", settings.clone(), on(cap)).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("1 to 100"), "{body}");
    }
    assert_eq!(call(&admin, "GET", settings.clone(), None).await.1["auto_assign"], false, "nothing changed");
    // On, the waiting one goes to the only member online (not to the admin, who is away).
    assert_eq!(call(&admin, "PUT", settings.clone(), on(1)).await.0, 200);
    assigned_until(&mut watching, first, alice).await;
    // Alice is full and Bea is offline: the next one waits until Bea opens the panel.
    let second = waiting_for_a_person(&app).await;
    let bea_cookie = cookie_of(&app, "bea@example.com", PASSWORD).await.unwrap();
    let _bea_panel = open_ws(&app, "/api/v1/admin/ws", Some(&bea_cookie), None).await.unwrap();
    assigned_until(&mut watching, second, bea).await;
    assert_eq!(listed(&alice_client, &app, "?assignee=me").await, vec![first], "the cap held");

    // Room for three each: they take turns.
    assert_eq!(call(&admin, "PUT", settings.clone(), on(3)).await.0, 200);
    let third = waiting_for_a_person(&app).await;
    assigned_until(&mut watching, third, alice).await;
    let fourth = waiting_for_a_person(&app).await;
    assigned_until(&mut watching, fourth, bea).await;
    // Bea is away: Alice takes the next, then is full; the one after waits for Bea to be back.
    assert_eq!(call(&bea_client, "PUT", app.url("/api/v1/admin/availability"), away).await.0, 200);
    presence_until(&mut watching, bea, false).await;
    let fifth = waiting_for_a_person(&app).await;
    assigned_until(&mut watching, fifth, alice).await;
    let sixth = waiting_for_a_person(&app).await;
    let back = Some(json!({"availability": "online"}));
    assert_eq!(call(&bea_client, "PUT", app.url("/api/v1/admin/availability"), back).await.0, 200);
    assigned_until(&mut watching, sixth, bea).await;
    let mut alices = listed(&alice_client, &app, "?assignee=me").await;
    alices.sort();
    assert_eq!(alices, vec![first, third, fifth]);
    // Resolving one makes room.
    let resolve = Some(json!({"status": "resolved"}));
    assert_eq!(
        call(&alice_client, "PATCH", app.url(&format!("/api/v1/admin/inquiries/{first}")), resolve).await.0,
        200
    );
    let seventh = waiting_for_a_person(&app).await;
    assigned_until(&mut watching, seventh, alice).await;
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let log = log.to_string();
    assert!(log.contains(&format!("assignee: nobody → staff {alice} (auto-assigned)")), "{log}");
    assert!(log.contains("auto-assignment on, at most 3 open each"), "{log}");
}

async fn an_invited_member_chooses_their_password_with_the_emailed_link_which_works_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = app_with_mail(backend, &smtp, 20).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let invite = json!({"email": "Kim@Example.com", "display_name": "Kim", "role": "agent", "invite": true});
    let (status, body) = call(&admin, "POST", app.url("/api/v1/admin/staff"), Some(invite.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("password").is_none(), "nobody sees a password for an invitation: {body}");
    assert_eq!((&body["member"]["email"], &body["member"]["active"]), (&json!("kim@example.com"), &json!(true)));
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["kim@example.com".to_string()]);
    assert!(mails[0].data.contains("Subject: Root invited you to Frontdesk"), "{}", mails[0].data);
    assert!(mails[0].data.contains("7 days"), "{}", mails[0].data);
    let token = reset_token(&mails[0]);
    // The same address twice is refused, and sends nothing more.
    assert_eq!(call(&admin, "POST", app.url("/api/v1/admin/staff"), Some(invite)).await.0, 409);
    let confirm = |password: &'static str| {
        let url = app.url("/api/v1/auth/password-reset/confirm");
        let token = token.clone();
        async move {
            read(
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"token": token, "password": password}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .0
        }
    };
    assert_eq!(confirm("kims-own-password").await, 204);
    assert!(cookie_of(&app, "kim@example.com", "kims-own-password").await.is_ok(), "they sign in with theirs");
    assert_eq!(confirm_reset(&app, token, "another-password-1").await.0, 404, "the link works once");
    assert!(cookie_of(&app, "kim@example.com", "kims-own-password").await.is_ok());
    // Still good after 6 days, not after 7 (its time moved back in the database).
    let invited = json!({"email": "lou@example.com", "display_name": "Lou", "invite": true});
    assert_eq!(call(&admin, "POST", app.url("/api/v1/admin/staff"), Some(invited)).await.0, 201);
    let lou = reset_token(&smtp.wait_for(2).await[1]);
    sqlx::query("UPDATE password_resets SET expires_at = expires_at - $1 WHERE used_at IS NULL")
        .bind(7 * 24 * 3600 * 1000_i64)
        .execute(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(confirm_reset(&app, lou, "lous-own-password").await.0, 404);
    assert_eq!(cookie_of(&app, "lou@example.com", "lous-own-password").await, Err(401));
    // Only admins invite.
    let agent = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let by_agent = json!({"email": "max@example.com", "display_name": "Max", "invite": true});
    assert_eq!(call(&agent, "POST", app.url("/api/v1/admin/staff"), Some(by_agent)).await.0, 403);
    assert_eq!(smtp.mails().len(), 2, "nothing more was sent");
}

async fn without_mail_an_invitation_is_refused_and_no_account_is_made(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = staff_client(&app, "root@example.com", "Root", StaffRole::Admin).await;
    let invite = json!({"email": "kim@example.com", "display_name": "Kim", "invite": true});
    let (status, body) = call(&admin, "POST", app.url("/api/v1/admin/staff"), Some(invite)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("FRONTDESK_SMTP_URL"), "{body}");
    let (_, team) = call(&admin, "GET", app.url("/api/v1/admin/staff"), None).await;
    assert!(!team.to_string().contains("kim@example.com"), "{team}");
    // With a generated password it works, as before.
    let add = json!({"email": "kim@example.com", "display_name": "Kim"});
    let (status, body) = call(&admin, "POST", app.url("/api/v1/admin/staff"), Some(add)).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["password"].as_str().is_some_and(|p| p.len() >= 12), "{body}");
}

const FIREFOX_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME_ON_MAC: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn staff_see_the_customer_beside_a_conversation_with_their_history_browser_and_time_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    // Earlier, over the API from Firefox on Windows: about product 2, begun on a page, an email left.
    let earlier = json!({"product_id": "2", "page": {"url": "https://shop.example/p/2", "title": "Boots"},
        "time_zone": "America/Argentina/Buenos_Aires"});
    let response =
        app.client.post(app.url("/api/v1/chats")).header("user-agent", FIREFOX_ON_WINDOWS).json(&earlier).send().await;
    let (status, first) = read(response.unwrap()).await;
    assert_eq!(status, 201, "{first}");
    let first = first["id"].as_i64().unwrap();
    app.send_and_wait(first, "Do these run large?").await;
    let (status, body) =
        app.patch(&format!("/api/v1/chats/{first}"), json!({"customer_email": "sam@example.com"})).await;
    assert_eq!(status, 200, "{body}");
    // Now, in the embedded window on another page, from Chrome on a Mac in Paris.
    let referer = app.url("/widget?page_url=https%3A%2F%2Fshop.example%2Fhelp&page_title=Help&tz=Europe%2FParis");
    let response = app
        .client
        .post(app.url("/api/fn/start_chat"))
        .header("user-agent", CHROME_ON_MAC)
        .header("referer", referer)
        .json(&json!({"message": "Where is my order?"}))
        .send()
        .await;
    let (status, started) = read(response.unwrap()).await;
    assert_eq!(status, 200, "{started}");
    let now = started["chat"]["id"].as_i64().unwrap();
    // Another customer's conversation is not theirs.
    let (other, _) = crate::support::visitor();
    let theirs = read(other.post(app.url("/api/v1/chats")).json(&json!({})).send().await.unwrap()).await.1;

    let (status, card) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{now}/customer")), None).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["email"], "sam@example.com", "the email they left before: {card}");
    assert!(card["first_seen"].as_str().is_some_and(|t| t.ends_with('Z')), "{card}");
    let listed: Vec<i64> =
        card["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, vec![now, first], "newest first, not another customer's ({})", theirs["id"]);
    assert_eq!(card["products"], json!([{"id": "2", "name": card["products"][0]["name"]}]), "{card}");
    assert!(card["products"][0]["name"].as_str().is_some_and(|n| !n.is_empty()), "{card}");
    let pages: Vec<&str> = card["pages"].as_array().unwrap().iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert_eq!(pages, vec!["https://shop.example/help", "https://shop.example/p/2"]);
    assert!(card["tokens_used"].as_i64().unwrap() > 0, "the assistant's tokens on them: {card}");
    assert!(card["browser"].as_str().is_some_and(|b| b.starts_with("Chrome 131")), "this conversation's: {card}");
    assert!(card["system"].as_str().is_some_and(|s| s.starts_with("Mac OSX")), "{card}");
    assert_eq!(card["time_zone"], "Europe/Paris");
    // Beside the earlier conversation: that one's browser and zone.
    let (_, before) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{first}/customer")), None).await;
    assert!(before["browser"].as_str().is_some_and(|b| b.starts_with("Firefox 133")), "{before}");
    assert_eq!(before["time_zone"], "America/Argentina/Buenos_Aires");
    assert_eq!(before["conversations"], card["conversations"]);
    // Customers see none of it.
    let (status, _) = app.get(&format!("/api/v1/admin/inquiries/{now}/customer")).await;
    assert!(matches!(status, 401 | 403), "{status}");
}

async fn a_bad_time_zone_is_refused_and_an_unknown_conversation_has_no_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = staff_client(&app, "alice@example.com", "Alice", StaffRole::Agent).await;
    let (_, before) = app.get("/api/v1/chats").await;
    for bad in ["Mars/Olympus Mons", "<b>", "Europe//Paris"] {
        let (status, body) = app.post("/api/v1/chats", json!({"time_zone": bad})).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("time zone"), "{body}");
    }
    assert_eq!(app.get("/api/v1/chats").await.1, before, "no chat was made");
    // A zone the embedded window's address carries that is no zone is left out, not refused.
    let referer = app.url("/widget?page_url=https%3A%2F%2Fshop.example%2F&tz=%3Cscript%3E");
    let response =
        app.client.post(app.url("/api/fn/start_chat")).header("referer", referer).json(&json!({})).send().await;
    let (status, started) = read(response.unwrap()).await;
    assert_eq!(status, 200, "{started}");
    let chat = started["chat"]["id"].as_i64().unwrap();
    let (_, card) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}/customer")), None).await;
    assert!(card["time_zone"].is_null(), "{card}");
    let (status, body) = call(&staff, "GET", app.url("/api/v1/admin/inquiries/999999/customer"), None).await;
    assert_eq!(status, 404, "{body}");
}
