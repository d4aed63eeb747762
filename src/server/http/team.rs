//! The team's workspace over REST: private notes on a conversation, an admin's changes to a
//! member, a member's changes to their own account, password reset links, and labels. Thin adapters over `Notes`,
//! `Inquiries::update_member` and `Accounts::update_profile`.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    extract::{Json, Path},
    session::Session,
};
use crate::{
    model::{
        AssignmentSettings, AvailabilityInput, ChatLabels, CustomerProfile, ErrorBody, Inquiry, Label, LabelInput, Me,
        NewNote, Note, Presence, ProfilePatch, StaffMember, StaffPatch,
    },
    server::{
        accounts::Accounts, customers::Customers, error::AppResult, identity::Staff, inquiries::Inquiries,
        labels::Labels, notes::Notes, routing::Routing,
    },
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
    State(app): State<crate::server::app::Frontdesk>,
    staff: Staff,
    Path(member_id): Path<i64>,
    Json(body): Json<StaffPatch>,
) -> AppResult<Json<StaffMember>> {
    Ok(Json(app.update_member(staff, member_id, &body).await?))
}

/// The customer beside a conversation: email, first seen, their conversations, the products and
/// pages they asked about, tokens spent on them, browser and system (from the User-Agent that
/// started it) and time zone (when their browser said it).
#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/customer", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 200, body = CustomerProfile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn customer_profile(
    State(customers): State<Arc<Customers>>,
    staff: Staff,
    Path(chat_id): Path<i64>,
) -> AppResult<Json<CustomerProfile>> {
    Ok(Json(customers.profile(staff, chat_id).await?))
}

/// Whether each active member is on duty: what they said (`online` or `away`) and whether they
/// are online (they said so and a panel of theirs is open). Changes reach open panels as
/// `presence.changed`.
#[utoipa::path(get, path = "/api/v1/admin/presence", tag = "admin", responses(
    (status = 200, body = Vec<Presence>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_presence(State(routing): State<Arc<Routing>>, _staff: Staff) -> AppResult<Json<Vec<Presence>>> {
    Ok(Json(routing.presence().await?))
}

/// The signed-in member says they are online or away. Away, auto-assignment gives them
/// nothing new; online with a panel open, it may give them a waiting conversation at once.
#[utoipa::path(put, path = "/api/v1/admin/availability", tag = "admin", request_body = AvailabilityInput, responses(
    (status = 200, body = Presence), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn set_availability(
    State(routing): State<Arc<Routing>>,
    staff: Staff,
    Json(body): Json<AvailabilityInput>,
) -> AppResult<Json<Presence>> {
    Ok(Json(routing.set_availability(staff, body.availability).await?))
}

/// Auto-assignment's settings (any member reads them).
#[utoipa::path(get, path = "/api/v1/admin/settings/assignment", tag = "admin", responses(
    (status = 200, body = AssignmentSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn assignment_settings(
    State(routing): State<Arc<Routing>>,
    _staff: Staff,
) -> AppResult<Json<AssignmentSettings>> {
    Ok(Json(routing.settings().await?))
}

/// Turns auto-assignment on or off and sets its cap (admins only; audited). Turned on, the
/// conversations waiting are given out at once to the online members with room.
#[utoipa::path(put, path = "/api/v1/admin/settings/assignment", tag = "admin", request_body = AssignmentSettings, responses(
    (status = 200, body = AssignmentSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn save_assignment_settings(
    State(routing): State<Arc<Routing>>,
    staff: Staff,
    Json(body): Json<AssignmentSettings>,
) -> AppResult<Json<AssignmentSettings>> {
    Ok(Json(routing.set_settings(staff, &body).await?))
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
    Ok(Json(accounts.update_profile(staff, session.network(), session.token(), &body).await?))
}

/// Asks for a password reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The member's email address.
    #[schema(max_length = 254)]
    pub email: String,
}

/// Emails a link that sets a new password (it works once, for 30 minutes) when the address is an
/// active member's: 204 either way, so the answer tells nobody which addresses have accounts.
/// Throttled like signing in (429).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest, responses(
    (status = 204, description = "A link is on its way if the address has an account"),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn request_reset(
    State(accounts): State<Arc<Accounts>>,
    session: Session,
    Json(body): Json<ResetRequest>,
) -> AppResult<StatusCode> {
    accounts.request_reset(session.network(), &body.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new password, with the token of a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The `token` of the link in the email.
    #[schema(max_length = 200)]
    pub token: String,
    /// 12 to 1,024 characters.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Sets a new password with a reset link's token: once, within 30 minutes (404 after, or for a
/// link a newer one replaced). Every session of the member ends; they sign in with it.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm, responses(
    (status = 204, description = "The password is set; every session of the member ended"),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_reset(
    State(accounts): State<Arc<Accounts>>,
    Json(body): Json<ResetConfirm>,
) -> AppResult<StatusCode> {
    accounts.reset_password(&body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team's labels, by name (staff).
#[utoipa::path(get, path = "/api/v1/admin/labels", tag = "admin", responses(
    (status = 200, body = Vec<Label>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_labels(State(labels): State<Arc<Labels>>, _staff: Staff) -> AppResult<Json<Vec<Label>>> {
    Ok(Json(labels.list().await?))
}

/// Creates a label (admins only); 409 when one has that name (in any case).
#[utoipa::path(post, path = "/api/v1/admin/labels", tag = "admin", request_body = LabelInput, responses(
    (status = 201, body = Label), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_label(
    State(labels): State<Arc<Labels>>,
    staff: Staff,
    Json(body): Json<LabelInput>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(labels.create(staff, &body).await?)))
}

/// Renames or recolours a label (admins only).
#[utoipa::path(put, path = "/api/v1/admin/labels/{id}", tag = "admin", params(("id" = i64, Path)),
    request_body = LabelInput, responses(
    (status = 200, body = Label), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_label(
    State(labels): State<Arc<Labels>>,
    staff: Staff,
    Path(id): Path<i64>,
    Json(body): Json<LabelInput>,
) -> AppResult<Json<Label>> {
    Ok(Json(labels.update(staff, id, &body).await?))
}

/// Deletes a label: it comes off every conversation (admins only).
#[utoipa::path(delete, path = "/api/v1/admin/labels/{id}", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_label(
    State(labels): State<Arc<Labels>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    labels.delete(staff, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts exactly these labels on a conversation (any member): open panels see it at once. 404
/// for an unknown conversation or label (nothing changes); 422 for more than 20.
#[utoipa::path(put, path = "/api/v1/admin/inquiries/{id}/labels", tag = "admin", params(("id" = i64, Path)),
    request_body = ChatLabels, responses(
    (status = 200, body = Inquiry), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_labels(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(chat_id): Path<i64>,
    Json(body): Json<ChatLabels>,
) -> AppResult<Json<Inquiry>> {
    Ok(Json(inquiries.set_labels(staff, chat_id, &body).await?))
}
