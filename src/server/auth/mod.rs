//! Who is calling: visitors, staff and their sessions (`accounts` holds staff accounts and
//! passwords). Visitors and sessions: a random, HttpOnly, SameSite cookie names a server-side session. A
//! visitor is created on first contact, lazily, only when a handler asks who is calling (or for a
//! page load), so static files and health checks create nothing.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

pub mod accounts;

use super::{
    chat::{Caller, ChatService},
    db::{now_ms, Db},
    error::{AppError, AppResult},
    state::AppState,
};

pub const COOKIE_NAME: &str = "fd_session";
const SESSION_DAYS: i64 = 180;

/// The session of this request: an existing visitor, or one created on first use.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    db: Db,
    token: Option<String>,
    existing: Option<SessionUser>,
    created: OnceCell<(i64, String)>,
}

/// The user a session cookie names.
#[derive(Debug, Clone)]
struct SessionUser {
    id: i64,
    kind: String,
    role: Option<String>,
}

/// A member of staff, checked on the server for every staff endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staff {
    pub user_id: i64,
    pub role: StaffRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Admin,
    Agent,
}

impl Session {
    /// Who is calling; creates the visitor when this is their first contact.
    pub async fn caller(&self) -> AppResult<Caller> {
        if let Some(user) = &self.inner.existing {
            return Ok(Caller { user_id: user.id });
        }
        let (user_id, _) = self.inner.created.get_or_try_init(|| create_visitor(&self.inner.db)).await?;
        Ok(Caller { user_id: *user_id })
    }

    /// The staff member signed in: 401 without a session, 403 for a visitor.
    pub fn staff(&self) -> AppResult<Staff> {
        match &self.inner.existing {
            None => Err(AppError::Unauthorized),
            Some(user) if user.kind == "staff" => Ok(Staff {
                user_id: user.id,
                role: if user.role.as_deref() == Some("admin") { StaffRole::Admin } else { StaffRole::Agent },
            }),
            Some(_) => Err(AppError::Forbidden),
        }
    }

    /// The raw token of this request's session, if it came with one.
    pub fn token(&self) -> Option<&str> {
        self.inner.token.as_deref()
    }
}

/// Starts a new session for `user_id` (at sign-in: a fresh id, never the visitor's old one).
pub async fn start_session(db: &Db, user_id: i64) -> AppResult<String> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + SESSION_DAYS * 24 * 3600 * 1000)
        .execute(&db.write)
        .await?;
    Ok(token)
}

/// Ends a session.
pub async fn end_session(db: &Db, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash(token)).execute(&db.write).await?;
    Ok(())
}

/// Signs a staff member in with a new session id (the caller's old session, if any, ends).
/// Returns who signed in and the Set-Cookie value.
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    email: &str,
    password: &str,
) -> AppResult<(crate::model::Me, String)> {
    let service = &state.service;
    let user_id = service.check_password(email, password).await.map_err(|e| match e {
        AppError::Unauthorized => AppError::BadCredentials,
        other => other,
    })?;
    if let Some(old) = session.token() {
        end_session(&service.db, old).await?;
    }
    let token = start_session(&service.db, user_id).await?;
    let me = service.me(user_id).await?;
    Ok((me, session_cookie(&token, state.config.cookie_secure)))
}

/// Ends the caller's session; returns the Set-Cookie value that removes the cookie.
pub async fn sign_out(service: &ChatService, session: &Session) -> AppResult<String> {
    if let Some(token) = session.token() {
        end_session(&service.db, token).await?;
    }
    Ok(cleared_cookie())
}

/// The Set-Cookie value for a session token.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", SESSION_DAYS * 24 * 3600)
}

/// The Set-Cookie value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn create_visitor(db: &Db) -> AppResult<(i64, String)> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    let mut tx = db.write.begin().await?;
    let (user_id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', $1) RETURNING id",
    )
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + SESSION_DAYS * 24 * 3600 * 1000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((user_id, token))
}

async fn lookup(db: &Db, token: &str) -> AppResult<Option<SessionUser>> {
    let row: Option<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT u.id, u.kind, u.role FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(hash(token))
    .bind(now_ms())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|(id, kind, role)| SessionUser { id, kind, role }))
}

fn cookie_token(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Resolves the session cookie, and sets it on the response when a visitor was created.
pub async fn session_layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let db = state.service.db.clone();
    let token = cookie_token(request.headers());
    let existing = match &token {
        Some(token) => match lookup(&db, token).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let token = token.filter(|_| existing.is_some());
    let signed_in = existing.is_some();
    let session = Session { inner: Arc::new(SessionInner { db, token, existing, created: OnceCell::new() }) };
    // A page load gets its visitor up front, so the cookie goes out with the page's headers.
    // (Not for the staff pages: staff sign in, they are not visitors.)
    let is_page = request.method() == Method::GET
        && !request.uri().path().starts_with("/admin")
        && request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    if !signed_in && is_page {
        if let Err(e) = session.caller().await {
            return e.into_response();
        }
    }
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    if let Some((_, token)) = session.inner.created.get() {
        if let Ok(value) = HeaderValue::from_str(&session_cookie(token, state.config.cookie_secure)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().ok_or(AppError::Unauthorized)?.staff()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::Internal("the session layer is missing".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::Internal("the session layer is missing".into()))?;
        session.caller().await
    }
}

/// Whether a request comes from this site (or an allowed origin). Without an Origin header it is
/// not a browser's cross-origin request, unless Fetch metadata says so.
pub fn origin_allowed(headers: &axum::http::HeaderMap, allowed_origins: &[String]) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
            origin_host == host || allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin)
        }
        None => headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) != Some("cross-site"),
    }
}

/// Refuses unsafe methods (POST, PUT, PATCH, DELETE) sent from another origin.
pub async fn same_origin_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !origin_allowed(request.headers(), &state.config.allowed_origins) {
        return AppError::Forbidden.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; fd_session=abc; b=2"));
        assert_eq!(cookie_token(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("fd_session="));
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn tokens_are_stored_hashed() {
        assert_eq!(hash("x").len(), 64);
        assert_ne!(hash("x"), "x");
    }
}
