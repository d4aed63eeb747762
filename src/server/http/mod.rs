//! HTTP: the router that puts the REST API, event streams, docs and the Leptos app together.

pub mod admin;
mod extract;
pub mod rest;
pub mod stream;

use axum::{
    extract::State,
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::{any, get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{compression::CompressionLayer, services::ServeDir, trace::TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::{
    error::AppError,
    session::{same_origin_layer, session_layer},
    state::AppState,
};
use crate::app::{shell, App};

#[derive(OpenApi)]
#[openapi(
    info(title = "Frontdesk API", description = "Chats with an AI assistant: contexts, chats, messages, live events, preferences and products. Errors are `{\"error\": {\"code\", \"message\"}}`. A visitor is identified by the `fd_session` cookie set on first contact."),
    paths(
        rest::list_contexts, rest::create_chat, rest::list_chats, rest::get_chat, rest::update_chat, rest::delete_chat,
        rest::list_messages, rest::send_message, rest::edit_message, rest::delete_message, rest::stop_message,
        rest::retry_message, rest::handoff, rest::mark_read,
        admin::login, admin::logout, admin::me, admin::list_staff, admin::list_inquiries, admin::get_inquiry,
        admin::inquiry_messages, admin::reply, admin::update_inquiry, admin::staff_read,
        rest::get_preferences, rest::put_preferences, rest::list_products, rest::get_product,
        stream::sse, stream::ws, stream::staff_ws, stream::panel_ws, healthz, readyz,
    ),
    tags((name = "chat"), (name = "messages"), (name = "events"), (name = "preferences"), (name = "products"), (name = "auth"), (name = "admin"), (name = "health"))
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

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Health), (status = 503, body = crate::model::ErrorBody)))]
async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, AppError> {
    if state.service.db.ping().await {
        Ok(axum::Json(Health { status: "ready" }))
    } else {
        Err(AppError::Unavailable)
    }
}

async fn api_not_found() -> AppError {
    AppError::not_found("endpoint")
}

fn api_routes() -> Router<AppState> {
    use rest::*;
    Router::new()
        .route("/api/v1/contexts", get(list_contexts))
        .route("/api/v1/chats", get(list_chats).post(create_chat))
        .route("/api/v1/chats/{id}", get(get_chat).patch(update_chat).delete(delete_chat))
        .route("/api/v1/chats/{id}/messages", get(list_messages).post(send_message))
        .route("/api/v1/chats/{id}/messages/{mid}", axum::routing::put(edit_message).delete(delete_message))
        .route("/api/v1/chats/{id}/messages/{mid}/stop", post(stop_message))
        .route("/api/v1/chats/{id}/messages/{mid}/retry", post(retry_message))
        .route("/api/v1/chats/{id}/handoff", post(handoff))
        .route("/api/v1/chats/{id}/read", axum::routing::put(mark_read))
        .route("/api/v1/chats/{id}/events", get(stream::sse))
        .route("/api/v1/chats/{id}/ws", get(stream::ws))
        .route("/api/v1/preferences", get(get_preferences).put(put_preferences))
        .route("/api/v1/products", get(list_products))
        .route("/api/v1/products/{id}", get(get_product))
        .route("/api/v1/auth/login", post(admin::login))
        .route("/api/v1/auth/logout", post(admin::logout))
        .route("/api/v1/auth/me", get(admin::me))
        .route("/api/v1/admin/staff", get(admin::list_staff))
        .route("/api/v1/admin/inquiries", get(admin::list_inquiries))
        .route("/api/v1/admin/inquiries/{id}", get(admin::get_inquiry).patch(admin::update_inquiry))
        .route("/api/v1/admin/inquiries/{id}/messages", get(admin::inquiry_messages).post(admin::reply))
        .route("/api/v1/admin/inquiries/{id}/read", axum::routing::put(admin::staff_read))
        .route("/api/v1/admin/inquiries/{id}/ws", get(stream::staff_ws))
        .route("/api/v1/admin/ws", get(stream::panel_ws))
        .route("/api/v1", any(api_not_found))
        .route("/api/v1/{*rest}", any(api_not_found))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    // The WASM, JS and CSS, precompressed at build time when scripts/precompress.mjs ran
    // (otherwise the compression layer compresses them per request).
    let options = &state.leptos_options;
    let assets = ServeDir::new(format!("{}/{}", options.site_root, options.site_pkg_dir))
        .precompressed_br()
        .precompressed_gzip();
    let app = Router::new()
        .merge(api_routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(context_state.service.clone());
                provide_context(context_state.clone());
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(from_fn_with_state(state.clone(), session_layer))
        .layer(from_fn_with_state(state.clone(), same_origin_layer))
        // Browsers ask for /favicon.ico whatever the page links: point them at the SVG.
        .route("/favicon.ico", get(|| async { axum::response::Redirect::permanent("/favicon.svg") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    app.nest_service("/pkg", assets)
        .merge(SwaggerUi::new("/docs").url("/api/openapi.json", ApiDoc::openapi()))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}
