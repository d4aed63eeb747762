//! HTTP: the router that puts the REST API, event streams, docs and the Leptos app together.

pub mod admin;
pub mod canned;
pub mod catalog;
mod extract;
pub mod headers;
pub mod knowledge;
pub mod rest;
pub mod satisfaction;
pub mod session;
mod spec;
pub mod stream;
pub mod team;
pub mod window;

use std::time::Duration;

use axum::{
    extract::State,
    http::{
        header::{AUTHORIZATION, CONTENT_TYPE},
        HeaderMap,
    },
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::{any, get},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use self::session::{same_origin_layer, session_layer};
use super::{app::Frontdesk, error::AppError};
use crate::app::{shell, App};

/// The spec's front matter; every path is added where its route is registered (`api_routes`).
#[derive(OpenApi)]
#[openapi(
    info(title = "Frontdesk API", description = "Chats with an AI assistant: contexts, chats, messages, live events, preferences and products. Errors are `{\"error\": {\"code\", \"message\"}}`. A visitor is identified by the `fd_session` cookie set on first contact."),
    tags((name = "chat"), (name = "messages"), (name = "events"), (name = "preferences"), (name = "products"), (name = "auth"), (name = "admin"), (name = "knowledge", description = "The shop's articles and answers the assistant answers from. Write with `Authorization: Bearer <API key>` (admins create keys) or as staff signed in."), (name = "catalog", description = "The shop's products by its own ids, one at a time or imported (JSON, CSV, Shopify's export); the assistant answers from them. Write with an API key or as staff signed in."), (name = "health"))
)]
pub struct ApiDoc;

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> impl IntoResponse {
    axum::Json(Health { status: "ok" })
}

/// The database answers and the replica is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Health), (status = 503, body = crate::model::ErrorBody)))]
async fn readyz(State(app): State<Frontdesk>) -> Result<axum::Json<Health>, AppError> {
    if !app.is_draining() && app.db.ping().await {
        Ok(axum::Json(Health { status: "ready" }))
    } else {
        Err(AppError::Unavailable)
    }
}

/// The process's metrics in the Prometheus (OpenMetrics) text format. With
/// `FRONTDESK_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"),
    (status = 401, body = crate::model::ErrorBody)))]
async fn metrics(State(app): State<Frontdesk>, request_headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = app.config.metrics_token.as_deref().filter(|t| !t.is_empty()) {
        let given =
            request_headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_secret(given, token)) {
            return Err(AppError::Unauthorized);
        }
    }
    let metrics = crate::server::metrics::get();
    metrics.replies_streaming.set(app.replies.running_count() as i64);
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
        .into_response())
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// Counts every request in the metrics, by its route's pattern (never the raw path, which would
/// make a series per chat).
async fn count_request(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = match &matched {
        Some(path) => path.as_str(),
        None if request.uri().path().starts_with("/pkg/") => "/pkg",
        None => "unmatched",
    }
    .to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    crate::server::metrics::get().request(method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Without the demo (`FRONTDESK_DEMO=false`) there is no storefront: `/` sends staff to the
/// panel and the product pages are not found. The window (`/widget`) and the embed stay.
async fn storefront_layer(
    State(app): State<Frontdesk>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !app.config.demo {
        let path = request.uri().path();
        if path == "/" {
            return axum::response::Redirect::to("/admin").into_response();
        }
        if path == "/products" || path.starts_with("/products/") {
            return AppError::not_found("page").into_response();
        }
    }
    next.run(request).await
}

async fn api_not_found() -> AppError {
    AppError::not_found("endpoint")
}

/// The REST API, event streams and WebSockets: each route registered once, with its OpenAPI
/// entry (handlers on one path go in one `routes!`).
fn api_routes() -> OpenApiRouter<Frontdesk> {
    use rest::*;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_contexts))
        .routes(routes!(list_chats, create_chat))
        .routes(routes!(get_chat, update_chat, delete_chat))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(stop_reply))
        .routes(routes!(retry_reply))
        .routes(routes!(handoff))
        .routes(routes!(mark_read))
        .routes(routes!(satisfaction::rate_chat, satisfaction::chat_rating))
        .routes(routes!(satisfaction::chat_thumbs))
        .routes(routes!(satisfaction::thumb_reply, satisfaction::unthumb_reply))
        .routes(routes!(stream::sse))
        .routes(routes!(stream::ws))
        .routes(routes!(get_preferences, save_preferences))
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(admin::sign_in))
        .routes(routes!(admin::sign_out))
        .routes(routes!(admin::me, team::update_me))
        .routes(routes!(team::request_reset))
        .routes(routes!(team::confirm_reset))
        .routes(routes!(admin::list_staff, admin::add_staff))
        .routes(routes!(team::update_member))
        .routes(routes!(team::list_presence))
        .routes(routes!(team::set_availability))
        .routes(routes!(team::assignment_settings, team::save_assignment_settings))
        .routes(routes!(window::window_settings, window::save_window_settings))
        .routes(routes!(window::put_avatar, window::delete_avatar))
        .routes(routes!(window::public_look))
        .routes(routes!(team::list_notes, team::add_note))
        .routes(routes!(team::customer_profile))
        .routes(routes!(team::list_labels, team::create_label))
        .routes(routes!(team::update_label, team::delete_label))
        .routes(routes!(team::set_labels))
        .routes(routes!(admin::audit_log))
        .routes(routes!(admin::usage_report))
        .routes(routes!(admin::list_inquiries))
        .routes(routes!(admin::inquiry_counts))
        .routes(routes!(admin::get_inquiry, admin::update_inquiry))
        .routes(routes!(admin::inquiry_messages, admin::staff_reply))
        .routes(routes!(admin::staff_mark_read))
        .routes(routes!(admin::message_sources))
        .routes(routes!(satisfaction::inquiry_satisfaction))
        .routes(routes!(satisfaction::staff_thumb_reply, satisfaction::staff_unthumb_reply))
        .routes(routes!(knowledge::create_api_key, knowledge::list_api_keys))
        .routes(routes!(knowledge::revoke_api_key))
        .routes(routes!(knowledge::list_knowledge))
        .routes(routes!(knowledge::search_knowledge))
        .routes(routes!(knowledge::import_knowledge))
        .routes(routes!(knowledge::put_knowledge, knowledge::get_knowledge, knowledge::delete_knowledge))
        .routes(routes!(catalog::list_products))
        .routes(routes!(catalog::import_products))
        .routes(routes!(catalog::put_product, catalog::get_product, catalog::delete_product))
        .routes(routes!(canned::list_canned, canned::create_canned))
        .routes(routes!(canned::get_canned, canned::update_canned, canned::delete_canned))
        .routes(routes!(canned::canned_for_inquiry))
        .routes(routes!(stream::staff_ws))
        .routes(routes!(stream::panel_ws))
        .route("/api/v1", any(api_not_found))
        .route("/api/v1/{*rest}", any(api_not_found))
}

/// Health checks: outside the session layer (they create nothing).
fn health_routes() -> OpenApiRouter<Frontdesk> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

/// The whole application.
async fn docs_stylesheet() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../../style/docs.css"))
}

pub fn router(state: Frontdesk) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let state_for_headers = state.clone();
    // The WASM, JS and CSS, precompressed at build time when scripts/precompress.mjs ran
    // (otherwise the compression layer compresses them per request).
    let options = &state.leptos_options;
    let assets = ServeDir::new(format!("{}/{}", options.site_root, options.site_pkg_dir))
        .precompressed_br()
        .precompressed_gzip();
    let (api, mut spec) = api_routes().split_for_parts();
    let (health, health_spec) = health_routes().split_for_parts();
    spec.merge(health_spec);
    spec::add_common_errors(&mut spec);
    let spec = std::sync::Arc::new(spec::with_server_rules(spec, state.config.message_max_chars as usize));
    let contexts = state.contexts.clone();
    // The spec as served names the contexts in force when it is asked for.
    let serve_spec = move || {
        let ids: Vec<String> = contexts.current().infos().into_iter().map(|c| c.id).collect();
        let spec = spec::with_contexts(&spec, &ids);
        async move { axum::Json(spec) }
    };
    let app = Router::new()
        .merge(api)
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                headers::provide_nonce();
                provide_context(context_state.clone());
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<Frontdesk, _>(headers::provide_nonce, shell))
        .layer(from_fn_with_state(state.clone(), session_layer))
        .layer(from_fn_with_state(state.clone(), storefront_layer))
        .layer(from_fn_with_state(state.clone(), same_origin_layer))
        // Browsers ask for /favicon.ico whatever the page links: point them at the SVG.
        .route("/favicon.ico", get(|| async { axum::response::Redirect::permanent("/favicon.svg") }))
        // The window's look, read as it renders (outside the session layer: reading writes nothing).
        .route("/window/brand.css", get(window::brand_css))
        .route("/window/avatar", get(window::avatar))
        .merge(health)
        .with_state(state);
    app.nest_service("/pkg", assets)
        // The base layout: the docs without Swagger's "Explore" bar (an unlabelled URL field that
        // only loads other specs).
        // Swagger UI's page stylesheet, with what its page lacks for accessibility.
        .route("/docs/index.css", get(docs_stylesheet))
        .route("/api/openapi.json", get(serve_spec))
        .merge(SwaggerUi::new("/docs").config(SwaggerConfig::new(["/api/openapi.json"]).use_base_layout()))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(count_request))
        .layer(from_fn_with_state(state_for_headers, headers::security_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(log_response))
        // Outermost: every request has an id (the caller's `X-Request-Id`, or a new UUID) before
        // anything logs; it goes back as a header.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span of a request: its id and what it asks for, so every log line of the request names
/// them. The query string is left out: it can carry what does not belong in logs.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
}

/// The access-log line of a request, at info, inside its span.
fn log_response(response: &axum::http::Response<axum::body::Body>, latency: Duration, _: &tracing::Span) {
    tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "served");
}
