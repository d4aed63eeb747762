//! Everything that runs only on the server. `main.rs` calls [`run`].

pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod inquiries;
pub mod llm;
pub mod notify;
pub mod service;
pub mod session;
pub mod state;

use std::sync::Arc;

use clap::Parser;
use leptos::prelude::get_configuration;

use self::{
    config::{Command, Config, LogFormat},
    db::Db,
    service::{ChatService, Limits},
    state::AppState,
};

/// Connects the database, applies migrations, recovers interrupted replies and builds the state.
pub async fn build_state(config: Config) -> Result<AppState, String> {
    config.validate()?;
    let contexts = llm::Contexts::load(config.contexts_file.as_deref())?;
    let assistant = llm::from_config(&config)?;
    let db =
        Db::connect(&config.database_url).await.map_err(|e| format!("cannot open the database: {}", describe(&e)))?;
    db.migrate().await.map_err(|e| describe(&e))?;
    let notifier = notify::Notifier::from_config(&config)?;
    let service =
        Arc::new(ChatService::new(db, assistant, contexts, Limits::from_config(&config)).with_notifier(notifier));
    service.recover_interrupted().await.map_err(|e| describe(&e))?;
    let mut leptos_options = get_configuration(None).map_err(|e| format!("leptos configuration: {e}"))?.leptos_options;
    leptos_options.site_addr = config.addr;
    Ok(AppState { leptos_options, service, config: Arc::new(config) })
}

fn describe(error: &error::AppError) -> String {
    match error {
        error::AppError::Database(e) => e.to_string(),
        other => other.to_string(),
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The program: parse settings (refusing bad ones with a one-line reason), then serve or migrate.
pub async fn run() {
    let _ = dotenvy::dotenv();
    let config = Config::parse();
    if let Err(reason) = config.validate() {
        eprintln!("frontdesk: {reason}");
        std::process::exit(2);
    }
    init_tracing(config.log_format);
    let command = config.command.clone().unwrap_or(Command::Serve);
    let addr = config.addr;
    let state = match build_state(config).await {
        Ok(state) => state,
        Err(reason) => {
            eprintln!("frontdesk: {reason}");
            std::process::exit(1);
        }
    };
    match command {
        Command::Migrate => {
            tracing::info!("migrations applied");
            return;
        }
        Command::CreateAdmin { email, name } => {
            let password = inquiries::generate_password();
            match state.service.create_staff(&email, &name, session::StaffRole::Admin, &password).await {
                Ok(_) => println!("Created admin {email} with password: {password}"),
                Err(e) => {
                    eprintln!("frontdesk: {}", e.public_message());
                    std::process::exit(1);
                }
            }
            return;
        }
        Command::Serve => {}
    }
    let preset = state.config.admin_password.as_deref().filter(|p| !p.is_empty());
    match state.service.ensure_first_admin(&state.config.admin_email, preset).await {
        Ok(Some((email, _))) if preset.is_some() => {
            tracing::info!("No staff accounts existed: created admin {email} with FRONTDESK_ADMIN_PASSWORD")
        }
        Ok(Some((email, password))) => tracing::warn!(
            "No staff accounts existed: created admin {email} with password {password} \
             (shown this once; sign in at /admin/login)"
        ),
        Ok(None) => {}
        Err(e) => {
            eprintln!("frontdesk: cannot create the first admin: {}", describe(&e));
            std::process::exit(1);
        }
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("frontdesk: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(
        %addr,
        assistant = state.service.assistant_name(),
        database = ?state.service.db.backend,
        "Frontdesk is listening on http://{addr}"
    );
    if let Err(e) = serve(listener, http::router(state), shutdown_signal()).await {
        eprintln!("frontdesk: server error: {e}");
        std::process::exit(1);
    }
}

/// Serves the app with TCP_NODELAY on every connection: small writes (an SSE event, a WebSocket
/// frame) leave at once instead of waiting for the peer's delayed ACK (about 40 ms).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}
