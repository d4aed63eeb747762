//! Who is calling: visitors, staff and their sessions (`accounts` holds staff accounts and
//! passwords). Visitors and sessions: a random, HttpOnly, SameSite cookie names a server-side session.
//! A window embedded on another site gets no cookies (browsers withhold them from third-party
//! frames), so it sends the same token in the [`TOKEN_HEADER`] header (or, on a WebSocket, as a
//! subprotocol): `embed.js` keeps it in the host page's own storage. Only visitors' sessions are
//! accepted that way; staff sign in with the cookie. A
//! visitor is created at their first real action (starting a conversation, which a first message,
//! "talk to a person" or a context picked does; a preference saved), once its input is checked,
//! by [`Session::caller`]. Everything else, page views, reads, actions on a chat, static files and
//! health checks, and a first action that is refused, writes nothing for a caller without a
//! session: they are [`Caller::nobody`].

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use tokio::sync::OnceCell;

pub mod accounts;

use crate::model::is_well_formed_token;
pub use crate::model::{TOKEN_HEADER, WS_PROTOCOL, WS_TOKEN_PROTOCOL_PREFIX};

use super::{
    chat::{Caller, ChatService, FirstVisit, Starter},
    db::{now_ms, Db},
    error::{AppError, AppResult},
    state::AppState,
};

/// The session cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "fd_session";
/// Its name when the cookie is Secure: the `__Host-` prefix makes browsers refuse it unless it is
/// Secure, host-only and for the whole site, so no subdomain or plain-HTTP page can plant one.
pub const SECURE_COOKIE_NAME: &str = "__Host-fd_session";
/// How long a visitor's session lasts (a visitor keeps their conversation for months).
const SESSION_DAYS: i64 = 180;
/// The longest a staff session lasts however active it is.
const STAFF_SESSION_DAYS: i64 = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The session cookie's name for this deployment.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The session of this request: an existing visitor, or one created on first use.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    db: Db,
    secure: bool,
    token: Option<String>,
    existing: Option<SessionUser>,
    created: OnceCell<(i64, String)>,
    /// The visitor `created` names was written in a transaction not known to have committed.
    uncommitted: std::sync::atomic::AtomicBool,
    /// The request came from a window embedded by `embed.js` ([`TOKEN_HEADER`], on any site): a
    /// visitor it creates is handed back in that header rather than in a cookie.
    widget: bool,
    /// The network the request came from (see [`crate::server::limits::client_network`]).
    network: Option<std::net::IpAddr>,
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

pub use crate::model::StaffRole;

impl Session {
    /// Who is reading: the session's user, or [`Caller::nobody`] (who owns nothing). Creates nothing.
    pub fn reader(&self) -> Caller {
        match &self.inner.existing {
            Some(user) => Caller { user_id: user.id, network: self.inner.network },
            None => match self.inner.created.get() {
                Some((user_id, _)) => Caller { user_id: *user_id, network: self.inner.network },
                None => Caller::nobody(self.inner.network),
            },
        }
    }

    /// Who is acting; creates the visitor (and their session cookie) at their first real action.
    pub async fn caller(&self) -> AppResult<Caller> {
        if let Some(user) = &self.inner.existing {
            return Ok(Caller { user_id: user.id, network: self.inner.network });
        }
        let (user_id, _) = self.inner.created.get_or_try_init(|| create_visitor(&self.inner.db)).await?;
        Ok(Caller { user_id: *user_id, network: self.inner.network })
    }

    /// Who starts a conversation: the caller, or at a visitor's first action the visitor to
    /// write in the same transaction as the chat (see [`Starter`]).
    pub fn starter(&self) -> Starter<'_> {
        match (&self.inner.existing, self.inner.created.get()) {
            (Some(user), _) => Starter::Known(Caller { user_id: user.id, network: self.inner.network }),
            (None, Some((user_id, _))) => Starter::Known(Caller { user_id: *user_id, network: self.inner.network }),
            (None, None) => Starter::First(self),
        }
    }

    /// The network the request came from, for per-network limits.
    pub fn network(&self) -> Option<std::net::IpAddr> {
        self.inner.network
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

    /// Resolves when this session ends: signed out (on any socket's watch), or expired (checked
    /// every `every`). Staff sockets close then. Never resolves for a request without a session.
    pub async fn ended(&self, service: &ChatService, every: std::time::Duration) {
        let Some(token) = self.inner.token.clone() else { return std::future::pending().await };
        let token_hash = hash(&token);
        let mut ends = service.hub.watch_session_ends();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                ended = ends.recv() => match ended {
                    Ok(ended) if *ended == token_hash => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return std::future::pending().await,
                },
                _ = tick.tick() => {
                    if matches!(lookup(&self.inner.db, &token, None).await, Ok(None)) {
                        return;
                    }
                }
            }
        }
    }
}

/// Starts a staff session for `user_id` (at sign-in: a fresh id, never the visitor's old one).
/// It ends after `idle` without a request, and after `STAFF_SESSION_DAYS` in any case.
pub async fn start_session(db: &Db, user_id: i64, idle: std::time::Duration) -> AppResult<String> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + idle.as_millis() as i64)
        .execute(&db.write)
        .await?;
    Ok(token)
}

/// Ends a session, and tells the sockets it opened to close.
pub async fn end_session(service: &ChatService, token: &str) -> AppResult<()> {
    let token_hash = hash(token);
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&token_hash).execute(&service.db.write).await?;
    service.hub.session_ended(token_hash);
    Ok(())
}

/// Signs a staff member in with a new session id (the caller's old session, if any, ends).
/// Returns who signed in and the Set-Cookie value.
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    network: Option<std::net::IpAddr>,
    email: &str,
    password: &str,
) -> AppResult<(crate::model::Me, String)> {
    let service = &state.service;
    service.sign_ins.attempt(network, email)?;
    if service.hub.peers() > 0 {
        // Other replicas take sign-ins too: the allowance is theirs as well.
        service.sign_ins.attempt_shared(&service.db, network, email).await?;
    }
    let user_id = service.check_password(email, password).await.map_err(|e| match e {
        AppError::Unauthorized => AppError::BadCredentials,
        other => other,
    })?;
    if let Some(old) = session.token() {
        end_session(service, old).await?;
    }
    let token = start_session(&service.db, user_id, state.config.staff_idle()).await?;
    let me = service.me(user_id).await?;
    Ok((me, session_cookie(&token, state.config.cookie_secure)))
}

/// Ends the caller's session; returns the Set-Cookie value that removes the cookie.
pub async fn sign_out(service: &ChatService, session: &Session) -> AppResult<String> {
    if let Some(token) = session.token() {
        end_session(service, token).await?;
    }
    Ok(cleared_cookie(session.inner.secure))
}

/// The Set-Cookie value for a session token.
pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie(token, SESSION_DAYS * 24 * 3600, secure)
}

/// The Set-Cookie value that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn create_visitor(db: &Db) -> AppResult<(i64, String)> {
    let token = new_token();
    let _turn = db.patient_turn().await;
    let mut tx = db.write.begin().await?;
    let user_id = insert_visitor(&mut tx, &token).await?;
    tx.commit().await?;
    Ok((user_id, token))
}

fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Writes a visitor and their session (the token's hash) in `conn`'s transaction: on PostgreSQL
/// in one statement, on SQLite (no data-modifying WITH) in two.
async fn insert_visitor(conn: &mut AnyConnection, token: &str) -> AppResult<i64> {
    let now = now_ms();
    let expires = now + SESSION_DAYS * DAY_MS;
    if conn.backend_name() == "PostgreSQL" {
        let (user_id,): (i64,) = sqlx::query_as(
            "WITH u AS (INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', $1) RETURNING id), \
             s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT $2, id, $1, $3 FROM u) \
             SELECT id FROM u",
        )
        .bind(now)
        .bind(hash(token))
        .bind(expires)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(user_id);
    }
    let (user_id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', $1) RETURNING id",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(token))
        .bind(user_id)
        .bind(now)
        .bind(expires)
        .execute(&mut *conn)
        .await?;
    Ok(user_id)
}

/// A visitor's first action may write them in its own transaction: until it commits, the cookie
/// (or token header) is set only if the action succeeds, so an action undone leaves the browser
/// as it was.
#[async_trait::async_trait]
impl FirstVisit for Session {
    fn network(&self) -> Option<std::net::IpAddr> {
        self.inner.network
    }

    async fn write(&self, conn: &mut AnyConnection) -> AppResult<Caller> {
        let token = new_token();
        let user_id = insert_visitor(conn, &token).await?;
        self.inner.uncommitted.store(true, std::sync::atomic::Ordering::Relaxed);
        self.inner
            .created
            .set((user_id, token))
            .map_err(|_| AppError::Internal("the visitor was created twice in one request".into()))?;
        Ok(Caller { user_id, network: self.inner.network })
    }

    fn committed(&self) {
        self.inner.uncommitted.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The user a live session names. With `staff_idle`, a staff session's idle deadline moves on
/// (written at most once a minute per session, never past its absolute end).
async fn lookup(db: &Db, token: &str, staff_idle: Option<std::time::Duration>) -> AppResult<Option<SessionUser>> {
    let token_hash = hash(token);
    let now = now_ms();
    let row: Option<(i64, String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.kind, u.role, s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(&token_hash)
    .bind(now)
    .fetch_optional(&db.read)
    .await?;
    let Some((id, kind, role, created_at, expires_at)) = row else { return Ok(None) };
    if let (Some(idle), "staff") = (staff_idle, kind.as_str()) {
        let deadline = (now + idle.as_millis() as i64).min(created_at + STAFF_SESSION_DAYS * DAY_MS);
        if deadline - expires_at > 60_000 {
            sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
                .bind(deadline)
                .bind(&token_hash)
                .execute(&db.write)
                .await?;
        }
    }
    Ok(Some(SessionUser { id, kind, role }))
}

/// Whether a request comes from an embedded window (`Some`), and the token it carries (`None`
/// inside: no visitor yet). From [`TOKEN_HEADER`], or a socket's subprotocols.
fn widget_token(headers: &axum::http::HeaderMap) -> Option<Option<String>> {
    if let Some(value) = headers.get(TOKEN_HEADER) {
        let token = value.to_str().unwrap_or_default().trim();
        return Some(is_well_formed_token(token).then(|| token.to_string()));
    }
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !offered.contains(&WS_PROTOCOL) {
        return None;
    }
    Some(
        offered
            .iter()
            .find_map(|p| p.strip_prefix(WS_TOKEN_PROTOCOL_PREFIX))
            .filter(|t| is_well_formed_token(t))
            .map(str::to_string),
    )
}

fn cookie_token(parts: &axum::http::HeaderMap, secure: bool) -> Option<String> {
    let wanted = cookie_name(secure);
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Resolves the session (the cookie, or an embedded window's token), and hands a visitor the
/// request created back: a cookie, or for an embedded window the [`TOKEN_HEADER`] header.
pub async fn session_layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let db = state.service.db.clone();
    let secure = state.config.cookie_secure;
    let widget = widget_token(request.headers());
    // An embedded window's own token first, for visitors only: the host page's scripts can read
    // it, so it never names staff, and a staff session's idle time does not move for it. When it
    // names nobody (expired), the cookie still counts (a window framed by a page of Frontdesk's
    // own site has it).
    let mut found = None;
    if let Some(token) = widget.clone().flatten() {
        match lookup(&db, &token, None).await {
            Ok(Some(user)) if user.kind == "visitor" => found = Some((token, user)),
            Ok(_) => {}
            Err(e) => return e.into_response(),
        }
    }
    if found.is_none() {
        if let Some(token) = cookie_token(request.headers(), secure) {
            match lookup(&db, &token, Some(state.config.staff_idle())).await {
                Ok(Some(user)) => found = Some((token, user)),
                Ok(None) => {}
                Err(e) => return e.into_response(),
            }
        }
    }
    let (token, existing) = found.unzip();
    let network =
        crate::server::limits::client_network(request.headers(), request.extensions(), state.config.trust_proxy);
    let session = Session {
        inner: Arc::new(SessionInner {
            db,
            secure,
            token,
            existing,
            created: OnceCell::new(),
            uncommitted: Default::default(),
            widget: widget.is_some(),
            network,
        }),
    };
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    // A visitor whose transaction may have been undone (the action failed) gets nothing.
    let written =
        !session.inner.uncommitted.load(std::sync::atomic::Ordering::Relaxed) || response.status().is_success();
    if let Some((_, token)) = session.inner.created.get().filter(|_| written) {
        let (name, value) = if session.inner.widget {
            (header::HeaderName::from_static(TOKEN_HEADER), token.clone())
        } else {
            (header::SET_COOKIE, session_cookie(token, state.config.cookie_secure))
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(name, value);
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

/// Who calls, as [`Session::reader`]: without a session, nobody (who owns nothing, so an action on
/// a chat answers 404). It creates no visitor: the handlers of a first action check their input,
/// then call [`Session::caller`].
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Session::from_request_parts(parts, state).await?.reader())
    }
}

/// Whether a request comes from this site (or an allowed origin). The site's own origin is its
/// Host with the scheme it is served on (https when the cookie is Secure): `http://` pages of the
/// same host do not count. Without an Origin header it is not a browser's cross-origin request,
/// unless Fetch metadata says so.
pub fn origin_allowed(headers: &axum::http::HeaderMap, config: &super::config::Config) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let scheme = if config.cookie_secure { "https" } else { "http" };
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            origin
                .strip_prefix(scheme)
                .and_then(|rest| rest.strip_prefix("://"))
                .is_some_and(|h| !host.is_empty() && h == host)
                || config.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin)
        }
        None => headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) != Some("cross-site"),
    }
}

/// Refuses unsafe methods (POST, PUT, PATCH, DELETE) sent from another origin.
pub async fn same_origin_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !origin_allowed(request.headers(), &state.config) {
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
        assert_eq!(cookie_token(&headers, false).as_deref(), Some("abc"));
        assert_eq!(cookie_token(&headers, true), None, "a Secure deployment reads only the __Host- cookie");
        headers.insert(header::COOKIE, HeaderValue::from_static("__Host-fd_session=xyz; fd_session=abc"));
        assert_eq!(cookie_token(&headers, true).as_deref(), Some("xyz"));
        headers.insert(header::COOKIE, HeaderValue::from_static("fd_session="));
        assert_eq!(cookie_token(&headers, false), None);
    }

    #[test]
    fn an_embedded_window_is_known_by_its_header_or_its_socket_protocols() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(widget_token(&headers), None, "a plain request is not an embedded window");
        headers.insert(TOKEN_HEADER, HeaderValue::from_static(""));
        assert_eq!(widget_token(&headers), Some(None), "embedded, without a visitor yet");
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("abc-_9"));
        assert_eq!(widget_token(&headers), Some(Some("abc-_9".into())));
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("a b;c"));
        assert_eq!(widget_token(&headers), Some(None), "a malformed token is never looked up");

        let mut socket = axum::http::HeaderMap::new();
        socket.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("frontdesk, frontdesk.token.xyz"));
        assert_eq!(widget_token(&socket), Some(Some("xyz".into())));
        socket.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("frontdesk.token.xyz"));
        assert_eq!(widget_token(&socket), None, "the token counts only beside the frontdesk protocol");
    }

    #[test]
    fn the_origin_check_compares_the_scheme_too() {
        let mut config = crate::server::config::Config::for_database("sqlite::memory:");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("shop.example"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://shop.example"));
        assert!(origin_allowed(&headers, &config));
        config.cookie_secure = true;
        assert!(!origin_allowed(&headers, &config), "an http page may not write to the https site");
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://shop.example"));
        assert!(origin_allowed(&headers, &config));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://shop.example.evil"));
        assert!(!origin_allowed(&headers, &config));
    }

    #[test]
    fn tokens_are_stored_hashed() {
        assert_eq!(hash("x").len(), 64);
        assert_ne!(hash("x"), "x");
    }
}
