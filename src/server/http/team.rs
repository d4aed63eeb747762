//! The team's workspace over REST: private notes on a conversation, an admin's changes to a
//! member, and a member's changes to their own account. Thin adapters over `Notes`,
//! `Inquiries::update_member` and `Accounts::update_profile`.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse};

use super::{
    extract::{Json, Path},
    session::Session,
};
use crate::{
    model::{ErrorBody, Me, NewNote, Note, ProfilePatch, StaffMember, StaffPatch},
    server::{accounts::Accounts, error::AppResult, identity::Staff, inquiries::Inquiries, notes::Notes},
};

/// A conversation's private notes, oldest first (staff only; never shown to the customer).
#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/notes", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Note>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn list_notes(
    State(notes): State<Arc<Notes>>,
    staff: Staff,
    Path(chat_id): Path<i64>,
) -> AppResult<Json<Vec<Note>>> {
    Ok(Json(notes.list(staff, chat_id).await?))
}

/// Writes a private note on a conversation: staff see it live; the customer and the assistant
/// never do. `@name` notifies that member (in their panel, and by email when mail is set up).
#[utoipa::path(post, path = "/api/v1/admin/inquiries/{id}/notes", tag = "admin", params(("id" = i64, Path)),
    request_body = NewNote, responses(
    (status = 201, body = Note), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_note(
    State(notes): State<Arc<Notes>>,
    staff: Staff,
    Path(chat_id): Path<i64>,
    Json(body): Json<NewNote>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(notes.add(staff, chat_id, &body).await?)))
}

/// Changes a member's role, or deactivates them (their sessions and sockets end at once and
/// their open conversations go back to the queue) or lets them back (admins only). The last
/// active admin can be neither demoted nor deactivated (409).
#[utoipa::path(patch, path = "/api/v1/admin/staff/{id}", tag = "admin", params(("id" = i64, Path)),
    request_body = StaffPatch, responses(
    (status = 200, body = StaffMember), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_member(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(member_id): Path<i64>,
    Json(body): Json<StaffPatch>,
) -> AppResult<Json<StaffMember>> {
    Ok(Json(inquiries.update_member(staff, member_id, &body).await?))
}

/// Changes the signed-in member's own name, or password (with the current one: their other
/// sessions end).
#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth", request_body = ProfilePatch, responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_me(
    State(accounts): State<Arc<Accounts>>,
    session: Session,
    Json(body): Json<ProfilePatch>,
) -> AppResult<Json<Me>> {
    let staff = session.staff()?;
    Ok(Json(accounts.update_profile(staff, session.token(), &body).await?))
}
