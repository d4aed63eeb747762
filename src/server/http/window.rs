//! The window's look over HTTP: admins read and change it (`/api/v1/admin/settings/window`, the
//! avatar), and the window and embed.js read it (`/window/brand.css`, `/window/avatar`,
//! `/api/v1/window`). Thin adapters over `Branding`.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Json;
use crate::{
    model::{ErrorBody, LauncherSide, WindowSettings},
    server::{
        branding::{Branding, AVATAR_MAX_BYTES},
        error::{AppError, AppResult},
        identity::Staff,
    },
};

/// The window's look and the team's hours (any member reads them).
#[utoipa::path(get, path = "/api/v1/admin/settings/window", tag = "admin", responses(
    (status = 200, body = WindowSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn window_settings(State(branding): State<Arc<Branding>>, _staff: Staff) -> AppResult<Json<WindowSettings>> {
    Ok(Json(branding.settings().await?))
}

/// Changes the window's look and the team's hours (admins only; audited). Refused with the reason
/// (422), changing nothing, for a brand colour white text does not read on (WCAG AA, 4.5:1), a
/// time zone this server does not know, or a day that closes before it opens.
#[utoipa::path(put, path = "/api/v1/admin/settings/window", tag = "admin", request_body = WindowSettings, responses(
    (status = 200, body = WindowSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn save_window_settings(
    State(branding): State<Arc<Branding>>,
    staff: Staff,
    Json(body): Json<WindowSettings>,
) -> AppResult<Json<WindowSettings>> {
    Ok(Json(branding.save(staff, &body).await?))
}

/// An image as the request's body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct AvatarImage(Vec<u8>);

/// Puts up the team's avatar or a logo, shown in the window's header (admins only): the image
/// itself as the body, PNG, JPEG, GIF or WebP (read from its bytes; 415 otherwise), at most
/// 256 KiB (413).
#[utoipa::path(put, path = "/api/v1/admin/settings/window/avatar", tag = "admin",
    request_body(content((AvatarImage = "image/png"), (AvatarImage = "image/jpeg"), (AvatarImage = "image/gif"), (AvatarImage = "image/webp"))),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn put_avatar(State(branding): State<Arc<Branding>>, staff: Staff, body: Body) -> AppResult<StatusCode> {
    staff.require_admin()?;
    let bytes = axum::body::to_bytes(body, AVATAR_MAX_BYTES)
        .await
        .map_err(|_| AppError::TooLarge("the avatar is at most 256 KiB".into()))?;
    branding.set_avatar(staff, &bytes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the avatar down (admins only).
#[utoipa::path(delete, path = "/api/v1/admin/settings/window/avatar", tag = "admin", responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_avatar(State(branding): State<Arc<Branding>>, staff: Staff) -> AppResult<StatusCode> {
    branding.remove_avatar(staff).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What embed.js needs to draw its launcher on the shop's page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLook {
    /// `#rrggbb`.
    pub brand_color: String,
    pub launcher: LauncherSide,
    /// Shown beside the launcher until the window is first opened (empty: nothing).
    pub welcome: String,
}

/// The launcher's colour, side and welcome, for embed.js on any site (public; any origin may read it).
#[utoipa::path(get, path = "/api/v1/window", tag = "chat", responses((status = 200, body = PublicLook)))]
pub async fn public_look(State(branding): State<Arc<Branding>>) -> AppResult<Response> {
    let settings = branding.settings().await?;
    let look = PublicLook { brand_color: settings.brand_color, launcher: settings.launcher, welcome: settings.welcome };
    let mut response = Json(look).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The window's style sheet of the moment (brand colour, launcher side, avatar): asked again on
/// every page (no-cache), so a change shows at once.
pub async fn brand_css(State(branding): State<Arc<Branding>>) -> AppResult<Response> {
    let css = branding.style_sheet().await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        css,
    )
        .into_response())
}

/// The avatar (404 when there is none). Kept for good under the versioned address the style
/// sheet gives (`?v=`, which changes with it); asked again each time without one.
pub async fn avatar(
    State(branding): State<Arc<Branding>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> AppResult<Response> {
    let (bytes, kind) = branding.avatar().await?.ok_or(AppError::not_found("avatar"))?;
    let kind = HeaderValue::from_str(&kind).map_err(|e| AppError::Internal(e.to_string()))?;
    let versioned = query.is_some_and(|q| q.starts_with("v="));
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "no-cache" };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}
