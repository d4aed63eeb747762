//! Everything that runs only on the server. `main.rs` calls [`run`].

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod limits;
pub mod llm;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod staff;
pub mod state;

use std::sync::Arc;

use clap::Parser;
use leptos::prelude::get_configuration;

use self::{
    auth::{accounts::generate_password, StaffRole},
    chat::{ChatService, Limits},
    config::{Command, Config, LogFormat},
    db::Db,
    state::AppState,
};

/// Why the program could not start or serve, in one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong: fix the configuration.
    #[error("{0}")]
    Settings(String),
    /// Something at start failed (the database, the port, the first admin).
    #[error("{0}")]
    Startup(String),
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

impl StartError {
    /// 2 for bad settings (as for bad arguments), 1 otherwise.
    pub fn exit_code(&self) -> std::process::ExitCode {
        match self {
            StartError::Settings(_) => std::process::ExitCode::from(2),
            _ => std::process::ExitCode::from(1),
        }
    }
}

/// Connects the database, applies migrations, recovers interrupted replies, starts the
/// background work and builds the state.
pub async fn build_state(config: Config) -> Result<AppState, String> {
    config.validate()?;
    let contexts = llm::Contexts::load(config.contexts_file.as_deref())?;
    let assistant = llm::from_config(&config)?;
    let db = Db::connect(&config.database_url, config.db_connections)
        .await
        .map_err(|e| format!("cannot open the database: {}", describe(&e)))?;
    db.migrate().await.map_err(|e| describe(&e))?;
    let notifier = notify::Notifier::from_config(&config)?;
    let service =
        Arc::new(ChatService::new(db, assistant, contexts, Limits::from_config(&config)).with_notifier(notifier));
    service.start(&config.database_url).await.map_err(|e| describe(&e))?;
    tokio::spawn(retention::run(Arc::downgrade(&service), retention::Retention::from_config(&config)));
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
pub async fn run() -> Result<(), StartError> {
    let _ = dotenvy::dotenv();
    let config = Config::parse();
    config.validate().map_err(StartError::Settings)?;
    init_tracing(config.log_format);
    let command = config.command.clone().unwrap_or(Command::Serve);
    let addr = config.addr;
    if let Command::Migrate = command {
        // Only the schema: nothing starts (a migration step before the replicas, say).
        let db = Db::connect(&config.database_url, 2)
            .await
            .map_err(|e| StartError::Startup(format!("cannot open the database: {}", describe(&e))))?;
        db.migrate().await.map_err(|e| StartError::Startup(describe(&e)))?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let state = build_state(config).await.map_err(StartError::Startup)?;
    if let Command::CreateAdmin { email, name } = command {
        let password = generate_password();
        state
            .service
            .create_staff(&email, &name, StaffRole::Admin, &password)
            .await
            .map_err(|e| StartError::Startup(e.public_message()))?;
        println!("Created admin {email} with password: {password}");
        state.service.leave().await;
        return Ok(());
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
        Err(e) => return Err(StartError::Startup(format!("cannot create the first admin: {}", describe(&e)))),
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Startup(format!("cannot listen on {addr}: {e}")))?;
    // The address bound: port 0 in FRONTDESK_ADDR picks a free one, named here.
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(
        %addr,
        assistant = state.service.assistant_name(),
        database = ?state.service.db.backend,
        "Frontdesk is listening on http://{addr}"
    );
    let service = state.service.clone();
    let grace = std::time::Duration::from_secs(state.config.shutdown_grace_secs);
    // On SIGTERM or Ctrl-C: stop accepting connections and close the live ones (their clients
    // reconnect to another replica), let the replies being written finish within the grace
    // period, then leave.
    let draining = {
        let service = service.clone();
        async move {
            shutdown_signal().await;
            service.drain();
        }
    };
    let mut serving = tokio::spawn(serve(listener, http::router(state), draining));
    // Serving ends by itself only on an error; once told to stop, the connections may all close
    // before the replies end, so the shutdown below runs whichever comes first.
    let served = tokio::select! {
        served = &mut serving => Some(served),
        _ = service.draining() => None,
    };
    if !service.is_draining() {
        if let Some(served) = served {
            return served.map_err(|e| StartError::Startup(e.to_string()))?.map_err(Into::into);
        }
    }
    service.shut_down(grace).await;
    // Requests still open (a send waiting for its reply) had their answer by now.
    let served = match served {
        Some(served) => Some(served),
        None => tokio::time::timeout(std::time::Duration::from_secs(5), serving).await.ok(),
    };
    match served {
        Some(Ok(served)) => served?,
        Some(Err(error)) => tracing::warn!(%error, "the server task failed"),
        None => tracing::warn!("some connections were still open at exit"),
    }
    tracing::info!("stopped");
    Ok(())
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
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
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
