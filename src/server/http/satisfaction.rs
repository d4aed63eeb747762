//! Satisfaction over REST: the customer rates a resolved conversation and puts thumbs on the
//! assistant's replies; staff read both and mark a wrong answer. Thin adapters over
//! `Satisfactions`.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse};

use super::extract::{Json, Path};
use crate::{
    model::{CustomerThumb, ErrorBody, Rating, RatingInput, Satisfaction, ThumbInput},
    server::{
        error::{AppError, AppResult},
        identity::{Caller, Staff},
        satisfaction::{Rater, Satisfactions},
    },
};

type Service = State<Arc<Satisfactions>>;

/// Rates the conversation's latest resolution: 1 to 5, with an optional comment. 201 the first
/// time; a second rating of the same resolution changes it (200) for 7 days after it was given
/// (409 after). A conversation never resolved cannot be rated yet (409).
#[utoipa::path(post, path = "/api/v1/chats/{id}/rating", tag = "chat", params(("id" = i64, Path)),
    request_body = RatingInput, responses(
    (status = 201, body = Rating), (status = 200, body = Rating, description = "The rating changed"),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rate_chat(
    State(satisfaction): Service,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<RatingInput>,
) -> AppResult<impl IntoResponse> {
    let (rating, created) = satisfaction.rate(caller, id, &body).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(rating)))
}

/// The customer's rating of the conversation's latest resolution (404 when there is none).
#[utoipa::path(get, path = "/api/v1/chats/{id}/rating", tag = "chat", params(("id" = i64, Path)), responses(
    (status = 200, body = Rating), (status = 404, body = ErrorBody)))]
pub async fn chat_rating(State(satisfaction): Service, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Rating>> {
    let rating = satisfaction.rating(caller, id).await?;
    Ok(Json(rating.ok_or_else(|| AppError::Missing(format!("chat {id} has no rating yet")))?))
}

/// The customer's thumbs on the conversation's replies.
#[utoipa::path(get, path = "/api/v1/chats/{id}/feedback", tag = "messages", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<CustomerThumb>), (status = 404, body = ErrorBody)))]
pub async fn chat_thumbs(
    State(satisfaction): Service,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<CustomerThumb>>> {
    Ok(Json(satisfaction.customer_thumbs(caller, id).await?))
}

/// Thumbs up or down on one of the assistant's replies to the customer (a second one replaces
/// the first; one given before the reply is written again stops counting). 409 for a message
/// that is not such a reply (the customer's own, staff's, the greeting).
#[utoipa::path(put, path = "/api/v1/chats/{id}/messages/{mid}/feedback", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path)), request_body = ThumbInput, responses(
    (status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn thumb_reply(
    State(satisfaction): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
    Json(body): Json<ThumbInput>,
) -> AppResult<StatusCode> {
    satisfaction.thumb(Rater::Customer(caller), id, mid, Some(body.helpful)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the customer's thumb off a reply.
#[utoipa::path(delete, path = "/api/v1/chats/{id}/messages/{mid}/feedback", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unthumb_reply(
    State(satisfaction): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    satisfaction.thumb(Rater::Customer(caller), id, mid, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the conversation's customer thought: their ratings (newest resolution first) and the
/// thumbs on the assistant's replies, the customer's and staff's.
#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/satisfaction", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = Satisfaction), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn inquiry_satisfaction(
    State(satisfaction): Service,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<Json<Satisfaction>> {
    Ok(Json(satisfaction.for_staff(staff, id).await?))
}

/// Staff mark one of the assistant's replies right (up) or wrong (down); the customer never
/// sees it. 409 for a message that is not the assistant's.
#[utoipa::path(put, path = "/api/v1/admin/inquiries/{id}/messages/{mid}/feedback", tag = "admin",
    params(("id" = i64, Path), ("mid" = i64, Path)), request_body = ThumbInput, responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn staff_thumb_reply(
    State(satisfaction): Service,
    staff: Staff,
    Path((id, mid)): Path<(i64, i64)>,
    Json(body): Json<ThumbInput>,
) -> AppResult<StatusCode> {
    satisfaction.thumb(Rater::Staff(staff), id, mid, Some(body.helpful)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes staff's mark off a reply.
#[utoipa::path(delete, path = "/api/v1/admin/inquiries/{id}/messages/{mid}/feedback", tag = "admin",
    params(("id" = i64, Path), ("mid" = i64, Path)), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody)))]
pub async fn staff_unthumb_reply(
    State(satisfaction): Service,
    staff: Staff,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    satisfaction.thumb(Rater::Staff(staff), id, mid, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
