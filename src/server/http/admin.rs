//! Sign-in and the staff REST API under /api/v1/admin: thin adapters. `Staff` in a handler's
//! arguments is the role check (401 without a session, 403 for a visitor).

use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::session::Session;
use super::{
    extract::{Json, Path, Query},
    rest::{PageQuery, ReadUpTo},
};
use crate::{
    model::{
        AuditFilter, AuditPage, CreatedStaff, ErrorBody, GivenSource, Me, Message, MessagePage, NewStaff, StaffMember,
        UsageReport,
    },
    server::{
        accounts::Accounts,
        audit::AuditLog,
        error::AppResult,
        identity::Staff,
        inquiries::{Inquiries, Inquiry, InquiryFilter, InquiryPage, InquiryPatch},
        usage::Usage,
    },
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMessage {
    /// Not blank; at most `FRONTDESK_MESSAGE_MAX_CHARS` characters (413 beyond).
    #[schema(pattern = r"\S")]
    pub content: String,
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Signs a staff member in with a new session id (the old session, if any, ends).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login, responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "Too many attempts from this network or for this account; see Retry-After")))]
pub async fn sign_in(session: Session, Json(body): Json<Login>) -> AppResult<Response> {
    let (me, cookie) = session.sign_in(&body.email, &body.password).await?;
    Ok(with_cookie(Json(me).into_response(), &cookie))
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn sign_out(session: Session) -> AppResult<Response> {
    let cookie = session.sign_out().await?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie))
}

/// Who is signed in (staff only).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn me(State(accounts): State<Arc<Accounts>>, staff: Staff) -> AppResult<Json<Me>> {
    Ok(Json(accounts.me(staff.user_id).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/staff", tag = "admin", responses(
    (status = 200, body = Vec<StaffMember>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_staff(
    State(app): State<crate::server::app::Frontdesk>,
    _staff: Staff,
) -> AppResult<Json<Vec<StaffMember>>> {
    Ok(Json(app.team().await?))
}

/// Creates a staff account (admins only): with a generated password, returned this once, or with
/// `invite: true` emailed an invitation whose link (once, for 7 days) lets them choose their
/// password; then no password is returned, and without mail set up it is refused (409). An
/// address that has an account already: 409.
#[utoipa::path(post, path = "/api/v1/admin/staff", tag = "admin", request_body = NewStaff, responses(
    (status = 201, body = CreatedStaff), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_staff(
    State(accounts): State<Arc<Accounts>>,
    staff: Staff,
    Json(body): Json<NewStaff>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(accounts.add_staff(staff, &body).await?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this chat's entries.
    pub chat_id: Option<i64>,
    /// Only what this member (or visitor) did.
    pub actor_id: Option<i64>,
    /// Only actions beginning with this: lower-case letters, dots and underscores (`inquiry.` for
    /// every change to conversations).
    #[param(max_length = 64, pattern = "^[a-z_.]*$")]
    pub action: Option<String>,
    /// Entries older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The audit log, newest first: who changed what and when, never message text (admins only).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery), responses(
    (status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn audit_log(
    State(audit): State<Arc<AuditLog>>,
    staff: Staff,
    Query(query): Query<AuditQuery>,
) -> AppResult<Json<AuditPage>> {
    staff.require_admin()?;
    let AuditQuery { chat_id, actor_id, action, before, limit } = query;
    Ok(Json(audit.read(&AuditFilter { chat_id, actor_id, action, before, limit }).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Days back from today (UTC), 1 to 90 (default 14).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<u32>,
}

/// The assistant's use per day (tokens and replies) and the daily allowances in force.
#[utoipa::path(get, path = "/api/v1/admin/usage", tag = "admin", params(UsageQuery), responses(
    (status = 200, body = UsageReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn usage_report(
    State(usage): State<Arc<Usage>>,
    _staff: Staff,
    Query(query): Query<UsageQuery>,
) -> AppResult<Json<UsageReport>> {
    Ok(Json(usage.report(query.days).await?))
}

/// How many conversations each saved view holds (`mine` for the member asking); `waiting` counts
/// those waiting for a person.
#[utoipa::path(get, path = "/api/v1/admin/inquiries/counts", tag = "admin", responses(
    (status = 200, body = crate::model::InquiryCounts), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn inquiry_counts(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
) -> AppResult<Json<crate::model::InquiryCounts>> {
    Ok(Json(inquiries.counts(staff).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/inquiries", tag = "admin", params(InquiryFilter), responses(
    (status = 200, body = InquiryPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn list_inquiries(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Query(filter): Query<InquiryFilter>,
) -> AppResult<Json<InquiryPage>> {
    Ok(Json(inquiries.list(staff, &filter).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 200, body = Inquiry), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn get_inquiry(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<Json<Inquiry>> {
    Ok(Json(inquiries.get(staff, id).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/messages", tag = "admin", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = MessagePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn inquiry_messages(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<MessagePage>> {
    Ok(Json(inquiries.messages(staff, id, page.before, page.after, page.limit).await?))
}

/// Every passage an assistant reply was given (what the shop's knowledge held on the question),
/// with whether the reply cited it; none for a reply written without sources.
#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/messages/{mid}/sources", tag = "admin",
    params(("id" = i64, Path), ("mid" = i64, Path)), responses(
        (status = 200, body = Vec<GivenSource>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn message_sources(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<Vec<GivenSource>>> {
    Ok(Json(inquiries.sources(staff, id, mid).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/inquiries/{id}/messages", tag = "admin", params(("id" = i64, Path)),
    request_body = StaffMessage, responses((status = 201, body = Message), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn staff_reply(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(id): Path<i64>,
    Json(body): Json<StaffMessage>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(inquiries.reply(staff, id, &body.content).await?)))
}

#[utoipa::path(patch, path = "/api/v1/admin/inquiries/{id}", tag = "admin", params(("id" = i64, Path)),
    request_body = InquiryPatch, responses((status = 200, body = Inquiry), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "snoozed_until beside another status"),
        (status = 422, body = ErrorBody)))]
pub async fn update_inquiry(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(id): Path<i64>,
    Json(patch): Json<InquiryPatch>,
) -> AppResult<Json<Inquiry>> {
    Ok(Json(inquiries.update(staff, id, &patch).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/inquiries/{id}/read", tag = "admin", params(("id" = i64, Path)),
    request_body = ReadUpTo, responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn staff_mark_read(
    State(inquiries): State<Arc<Inquiries>>,
    staff: Staff,
    Path(id): Path<i64>,
    Json(body): Json<ReadUpTo>,
) -> AppResult<StatusCode> {
    inquiries.mark_read(staff, id, body.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}
