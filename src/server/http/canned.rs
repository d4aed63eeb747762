//! The team's canned responses under /api/v1/admin/canned-responses (admins write, staff read),
//! and those of one conversation with their placeholders filled. Thin adapters over `Canned`.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Path, Query};
use crate::{
    model::{CannedResponse, ErrorBody},
    server::{
        app::Frontdesk,
        canned::{Canned, CannedInput, Placeholders},
        error::AppResult,
        identity::Staff,
    },
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    /// Only those whose shortcut or content holds this (any case).
    #[param(max_length = 200)]
    pub q: Option<String>,
}

/// The team's canned responses, by shortcut (staff).
#[utoipa::path(get, path = "/api/v1/admin/canned-responses", tag = "admin", params(CannedQuery), responses(
    (status = 200, body = Vec<CannedResponse>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn list_canned(
    State(canned): State<Arc<Canned>>,
    staff: Staff,
    Query(query): Query<CannedQuery>,
) -> AppResult<Json<Vec<CannedResponse>>> {
    Ok(Json(canned.list(staff, query.q.as_deref()).await?))
}

/// A new canned response (admins): 409 when its shortcut is taken.
#[utoipa::path(post, path = "/api/v1/admin/canned-responses", tag = "admin", request_body = CannedInput, responses(
    (status = 201, body = CannedResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_canned(
    State(canned): State<Arc<Canned>>,
    staff: Staff,
    Json(input): Json<CannedInput>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(canned.create(staff, &input).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/canned-responses/{id}", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 200, body = CannedResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn get_canned(
    State(canned): State<Arc<Canned>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<Json<CannedResponse>> {
    Ok(Json(canned.get(staff, id).await?))
}

/// Changes a canned response (admins): 409 when its new shortcut is another's.
#[utoipa::path(put, path = "/api/v1/admin/canned-responses/{id}", tag = "admin", params(("id" = i64, Path)),
    request_body = CannedInput, responses(
    (status = 200, body = CannedResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_canned(
    State(canned): State<Arc<Canned>>,
    staff: Staff,
    Path(id): Path<i64>,
    Json(input): Json<CannedInput>,
) -> AppResult<Json<CannedResponse>> {
    Ok(Json(canned.update(staff, id, &input).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/canned-responses/{id}", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_canned(
    State(canned): State<Arc<Canned>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    canned.delete(staff, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The canned responses for one conversation, their placeholders filled with its customer's
/// email, its product's name and the asking staff member's name (staff).
#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/canned-responses", tag = "admin",
    params(("id" = i64, Path), CannedQuery), responses(
    (status = 200, body = Vec<CannedResponse>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn canned_for_inquiry(
    State(app): State<Frontdesk>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(query): Query<CannedQuery>,
) -> AppResult<Json<Vec<CannedResponse>>> {
    Ok(Json(filled_for(&app, staff, id, query.q.as_deref()).await?))
}

/// The canned responses matching `q`, filled for conversation `chat_id` as `staff` would send them.
pub async fn filled_for(
    app: &Frontdesk,
    staff: Staff,
    chat_id: i64,
    q: Option<&str>,
) -> AppResult<Vec<CannedResponse>> {
    let inquiry = app.inquiries.get(staff, chat_id).await?;
    let me = app.accounts.me(staff.user_id).await?;
    let here = Placeholders {
        customer_email: inquiry.chat.customer_email,
        product_name: inquiry.product_name,
        agent_name: me.display_name,
    };
    let mut found = app.canned.list(staff, q).await?;
    for response in &mut found {
        response.content = here.fill(&response.content);
    }
    Ok(found)
}
