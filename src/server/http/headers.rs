//! Security headers on every response: a Content-Security-Policy with a per-request nonce for the
//! pages (Leptos puts it on its hydration and resource scripts), who may frame what, `nosniff`, a
//! referrer policy, and `no-store` on anything personal (pages, API answers, cookies).

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use base64::Engine;

use crate::server::app::Frontdesk;

/// The CSP nonce of this request, handed to Leptos (see `provide_nonce`) so the scripts it writes
/// carry it.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// Puts this request's nonce where Leptos reads it. Called in the app's render context.
pub fn provide_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce =
        use_context::<axum::http::request::Parts>().and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

/// Who may put a response in a frame: only the chat widget may be framed, by the allowed origins
/// (`FRONTDESK_ALLOWED_ORIGINS`; any site when none are set); nothing else, ever.
fn frame_ancestors(path: &str, allowed_origins: &[String]) -> String {
    if path != "/widget" {
        return "'none'".into();
    }
    if allowed_origins.is_empty() {
        return "*".into();
    }
    let mut sources = vec!["'self'".to_string()];
    sources.extend(allowed_origins.iter().map(|o| o.trim_end_matches('/').to_string()));
    sources.join(" ")
}

/// The policy of an HTML page. Scripts: the app's own files and the inline ones Leptos writes
/// with the nonce (and WebAssembly compilation). Styles and images: the app's own. Connections:
/// the app's own origin (fetch, EventSource, WebSocket).
pub fn page_policy(nonce: &str, ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-src 'self'; frame-ancestors {ancestors}"
    )
}

/// The API explorer (Swagger UI) writes its own inline styles and data: images.
fn docs_policy() -> String {
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        .into()
}

fn new_nonce() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// Answers about someone: pages, API answers, event streams, and anything that sets a cookie.
fn is_personal(headers: &HeaderMap, content_type: &str) -> bool {
    headers.contains_key(header::SET_COOKIE)
        || ["text/html", "application/json", "text/event-stream"].iter().any(|t| content_type.starts_with(t))
}

/// The middleware: a nonce into the request, the headers onto the response.
pub async fn security_headers(State(state): State<Frontdesk>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let nonce = new_nonce();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let ancestors = frame_ancestors(&path, &state.config.allowed_origins);
    let headers = response.headers_mut();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let policy = if !content_type.starts_with("text/html") {
        format!("default-src 'none'; frame-ancestors {ancestors}")
    } else if path == "/docs" || path.starts_with("/docs/") {
        docs_policy()
    } else {
        page_policy(&nonce, &ancestors)
    };
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(headers, header::CONTENT_SECURITY_POLICY, &policy);
    if ancestors == "'none'" {
        set(headers, header::X_FRAME_OPTIONS, "DENY");
    }
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    if is_personal(headers, &content_type) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_widget_may_be_framed_and_only_by_the_allowed_origins() {
        assert_eq!(frame_ancestors("/admin", &[]), "'none'");
        assert_eq!(frame_ancestors("/", &["https://shop.example".into()]), "'none'");
        assert_eq!(frame_ancestors("/widget", &[]), "*");
        assert_eq!(frame_ancestors("/widget", &["https://shop.example/".into()]), "'self' https://shop.example");
    }

    #[test]
    fn a_page_policy_allows_scripts_only_with_the_nonce() {
        let policy = page_policy("abc", "'none'");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn nonces_differ_between_requests() {
        assert_ne!(new_nonce(), new_nonce());
        assert!(new_nonce().len() >= 22);
    }
}
