//! Who is calling, over HTTP. A random, HttpOnly, SameSite cookie names a server-side session
//! (`accounts` keeps them). A window embedded on another site gets no cookies (browsers withhold
//! them from third-party frames), so it sends the same token in the [`TOKEN_HEADER`] header (or,
//! on a WebSocket, as a subprotocol): `embed.js` keeps it in the host page's own storage. Only
//! visitors' sessions are accepted that way; staff sign in with the cookie. A visitor is created at
//! their first real action (starting a conversation, which a first message, "talk to a person" or
//! a context picked does; a preference saved), once its input is checked, by [`Session::caller`]
//! or in the chat's own transaction ([`Session::starter`]). Everything else, page views, reads,
//! actions on a chat, static files and health checks, and a first action that is refused, writes
//! nothing for a caller without a session: they are [`Caller::nobody`]. Cookies are read and
//! written with the `cookie` crate.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use cookie::{Cookie, SameSite};
use tokio::sync::OnceCell;

pub use crate::model::{TOKEN_HEADER, WS_PROTOCOL, WS_TOKEN_PROTOCOL_PREFIX};
use crate::{
    model::is_well_formed_token,
    server::{
        accounts::{new_token, Accounts, SessionUser, SESSION_DAYS},
        app::Frontdesk,
        chat::{FirstVisit, Starter},
        config::Config,
        error::{AppError, AppResult},
        identity::{Caller, Editor, Staff},
        throttle::client_network,
    },
};

/// The session cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "fd_session";
/// Its name when the cookie is Secure: the `__Host-` prefix makes browsers refuse it unless it is
/// Secure, host-only and for the whole site, so no subdomain or plain-HTTP page can plant one.
pub const SECURE_COOKIE_NAME: &str = "__Host-fd_session";

/// The session cookie's name for this deployment.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The value of the cookie `name` the request sent, if any (the first one of that name).
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The session of this request: an existing user, or a visitor created on first use.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    accounts: Arc<Accounts>,
    secure: bool,
    token: Option<String>,
    existing: Option<SessionUser>,
    created: OnceCell<(i64, String)>,
    /// The visitor `created` names was written in a transaction not known to have committed.
    uncommitted: AtomicBool,
    /// The request came from a window embedded by `embed.js` ([`TOKEN_HEADER`], on any site): a
    /// visitor it creates is handed back in that header rather than in a cookie.
    embedded: bool,
    /// The network the request came from (see [`client_network`]).
    network: Option<std::net::IpAddr>,
}

impl Session {
    /// Who is reading: the session's user, or [`Caller::nobody`] (who owns nothing). Creates nothing.
    pub fn reader(&self) -> Caller {
        match (&self.inner.existing, self.inner.created.get()) {
            (Some(user), _) => Caller { user_id: user.id, network: self.inner.network },
            (None, Some((user_id, _))) => Caller { user_id: *user_id, network: self.inner.network },
            (None, None) => Caller::nobody(self.inner.network),
        }
    }

    /// Who is acting; creates the visitor (and their session cookie) at their first real action.
    pub async fn caller(&self) -> AppResult<Caller> {
        if let Some(user) = &self.inner.existing {
            return Ok(Caller { user_id: user.id, network: self.inner.network });
        }
        let (user_id, _) = self.inner.created.get_or_try_init(|| self.inner.accounts.create_visitor()).await?;
        Ok(Caller { user_id: *user_id, network: self.inner.network })
    }

    /// Who starts a conversation: the caller, or at a visitor's first action the visitor to
    /// write in the same transaction as the chat (see [`Starter`]).
    pub fn starter(&self) -> Starter<'_> {
        match (&self.inner.existing, self.inner.created.get()) {
            (None, None) => Starter::First(self),
            _ => Starter::Known(self.reader()),
        }
    }

    /// The network the request came from, for per-network allowances.
    pub fn network(&self) -> Option<std::net::IpAddr> {
        self.inner.network
    }

    /// The staff member signed in: 401 without a session, 403 for a visitor.
    pub fn staff(&self) -> AppResult<Staff> {
        match &self.inner.existing {
            None => Err(AppError::Unauthorized),
            Some(user) => user.staff().ok_or(AppError::Forbidden),
        }
    }

    /// The raw token of this request's session, if it came with one.
    pub fn token(&self) -> Option<&str> {
        self.inner.token.as_deref()
    }

    /// Resolves when this session ends: signed out (on any replica), or expired (checked every
    /// `every`). Staff sockets close then. Never resolves for a request without a session.
    pub async fn ended(&self, every: std::time::Duration) {
        match &self.inner.token {
            Some(token) => self.inner.accounts.session_ends(token, every).await,
            None => std::future::pending().await,
        }
    }

    /// Signs a staff member in with a new session (this request's own, if any, ends): who signed
    /// in, and the Set-Cookie value of the new session.
    pub async fn sign_in(&self, email: &str, password: &str) -> AppResult<(crate::model::Me, String)> {
        let (me, token) = self.inner.accounts.sign_in(self.network(), email, password, self.token()).await?;
        Ok((me, session_cookie(&token, self.inner.secure)))
    }

    /// Ends this request's session; the Set-Cookie value that removes the cookie.
    pub async fn sign_out(&self) -> AppResult<String> {
        if let Some(token) = self.token() {
            self.inner.accounts.end_session(token).await?;
        }
        Ok(cookie_header(removal(self.inner.secure)))
    }
}

/// A visitor's first action may write them in its own transaction: until it commits, the cookie
/// (or token header) is set only if the action succeeds, so an action undone leaves the browser
/// as it was.
#[async_trait::async_trait]
impl FirstVisit for Session {
    fn network(&self) -> Option<std::net::IpAddr> {
        self.inner.network
    }

    async fn write(&self, conn: &mut sqlx::AnyConnection) -> AppResult<Caller> {
        let token = new_token();
        let user_id = Accounts::insert_visitor(conn, &token).await?;
        self.inner.uncommitted.store(true, Ordering::Relaxed);
        self.inner
            .created
            .set((user_id, token))
            .map_err(|_| AppError::Internal("the visitor was created twice in one request".into()))?;
        Ok(Caller { user_id, network: self.inner.network })
    }

    fn committed(&self) {
        self.inner.uncommitted.store(false, Ordering::Relaxed);
    }
}

/// The session cookie for a token, as it is set.
fn session_cookie(token: &str, secure: bool) -> String {
    let cookie = Cookie::build((cookie_name(secure), token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(SESSION_DAYS))
        .secure(secure)
        .build();
    cookie_header(cookie)
}

/// The cookie that removes the session cookie.
fn removal(secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(secure), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::ZERO)
        .secure(secure)
        .build()
}

fn cookie_header(cookie: Cookie<'_>) -> String {
    cookie.to_string()
}

/// Whether a request comes from an embedded window (`Some`), and the token it carries (`None`
/// inside: no visitor yet). From [`TOKEN_HEADER`], or a socket's subprotocols.
fn embed_token(headers: &HeaderMap) -> Option<Option<String>> {
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

/// The session token the request's cookie carries.
fn cookie_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    cookie_value(headers, cookie_name(secure)).filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Resolves the session (the cookie, or an embedded window's token), and hands a visitor the
/// request created back: a cookie, or for an embedded window the [`TOKEN_HEADER`] header.
pub async fn session_layer(State(app): State<Frontdesk>, mut request: Request, next: Next) -> Response {
    let accounts = app.accounts.clone();
    let secure = app.config.cookie_secure;
    let embedded = embed_token(request.headers());
    // An embedded window's own token first, for visitors only: the host page's scripts can read
    // it, so it never names staff, and a staff session's idle time does not move for it. When it
    // names nobody (expired), the cookie still counts (a window framed by a page of Frontdesk's
    // own site has it).
    let mut found = None;
    if let Some(token) = embedded.clone().flatten() {
        match accounts.session(&token, false).await {
            Ok(Some(user)) if user.is_visitor() => found = Some((token, user)),
            Ok(_) => {}
            Err(e) => return e.into_response(),
        }
    }
    if found.is_none() {
        if let Some(token) = cookie_token(request.headers(), secure) {
            match accounts.session(&token, true).await {
                Ok(Some(user)) => found = Some((token, user)),
                Ok(None) => {}
                Err(e) => return e.into_response(),
            }
        }
    }
    let (token, existing) = found.unzip();
    let network = client_network(request.headers(), request.extensions(), app.config.trust_proxy);
    let session = Session {
        inner: Arc::new(SessionInner {
            accounts,
            secure,
            token,
            existing,
            created: OnceCell::new(),
            uncommitted: AtomicBool::new(false),
            embedded: embedded.is_some(),
            network,
        }),
    };
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    // A visitor whose transaction may have been undone (the action failed) gets nothing.
    let written = !session.inner.uncommitted.load(Ordering::Relaxed) || response.status().is_success();
    if let Some((_, token)) = session.inner.created.get().filter(|_| written) {
        let (name, value) = if session.inner.embedded {
            (header::HeaderName::from_static(TOKEN_HEADER), token.clone())
        } else {
            (header::SET_COOKIE, session_cookie(token, secure))
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

/// Who writes the catalog and knowledge: `Authorization: Bearer <API key>` (401 for a revoked or
/// unknown key), or else a staff member signed in (401 / 403 as for [`Staff`]).
impl<S: Send + Sync> FromRequestParts<S> for Editor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let bearer = parts.headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
        match bearer {
            Some(value) => {
                let key = value.strip_prefix("Bearer ").ok_or(AppError::Unauthorized)?.trim();
                session.inner.accounts.key_editor(key).await
            }
            None => session.staff().map(Staff::editor),
        }
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
pub fn origin_allowed(headers: &HeaderMap, config: &Config) -> bool {
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
pub async fn same_origin_layer(State(app): State<Frontdesk>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !origin_allowed(request.headers(), &app.config) {
        return AppError::Forbidden.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; fd_session=abc; b=2"));
        assert_eq!(cookie_token(&headers, false).as_deref(), Some("abc"));
        assert_eq!(cookie_token(&headers, true), None, "a Secure deployment reads only the __Host- cookie");
        headers.insert(header::COOKIE, HeaderValue::from_static("__Host-fd_session=xyz; fd_session=abc"));
        assert_eq!(cookie_token(&headers, true).as_deref(), Some("xyz"));
        headers.insert(header::COOKIE, HeaderValue::from_static("fd_session="));
        assert_eq!(cookie_token(&headers, false), None);
    }

    #[test]
    fn the_session_cookie_is_private_to_the_site_and_removed_by_an_expired_one() {
        let set = session_cookie("abc", true);
        for part in ["__Host-fd_session=abc", "HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age=15552000"] {
            assert!(set.contains(part), "{set} has {part}");
        }
        let gone = cookie_header(removal(false));
        assert!(gone.starts_with("fd_session=;") && gone.contains("Max-Age=0") && !gone.contains("Secure"), "{gone}");
    }

    #[test]
    fn an_embedded_window_is_known_by_its_header_or_its_socket_protocols() {
        let mut headers = HeaderMap::new();
        assert_eq!(embed_token(&headers), None, "a plain request is not an embedded window");
        headers.insert(TOKEN_HEADER, HeaderValue::from_static(""));
        assert_eq!(embed_token(&headers), Some(None), "embedded, without a visitor yet");
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("abc-_9"));
        assert_eq!(embed_token(&headers), Some(Some("abc-_9".into())));
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("a b;c"));
        assert_eq!(embed_token(&headers), Some(None), "a malformed token is never looked up");

        let mut socket = HeaderMap::new();
        socket.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("frontdesk, frontdesk.token.xyz"));
        assert_eq!(embed_token(&socket), Some(Some("xyz".into())));
        socket.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("frontdesk.token.xyz"));
        assert_eq!(embed_token(&socket), None, "the token counts only beside the frontdesk protocol");
    }

    #[test]
    fn the_origin_check_compares_the_scheme_too() {
        let mut config = Config::for_database("sqlite::memory:");
        let mut headers = HeaderMap::new();
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
}
