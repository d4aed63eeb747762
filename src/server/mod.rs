//! Everything that runs only on the server. `main.rs` calls [`run`].

pub mod accounts;
pub mod app;
pub mod audit;
pub mod branding;
pub mod canned;
pub mod catalog;
pub mod chat;
pub mod config;
pub mod contexts;
pub mod customers;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod identity;
pub mod inquiries;
pub mod knowledge;
pub mod labels;
pub mod llm;
pub mod metrics;
pub mod notes;
pub mod notify;
pub mod retention;
pub mod routing;
pub mod satisfaction;
pub mod throttle;
pub mod usage;

use clap::Parser;

use self::{
    accounts::generate_password,
    app::Frontdesk,
    config::{Command, Config, LogFormat},
    db::Db,
    identity::StaffRole,
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
    // Settings renamed since: the old name still counts (said once the log is up).
    let renamed = config::renamed_settings(|name| std::env::var(name).ok());
    for (_, new, value) in &renamed {
        std::env::set_var(new, value);
    }
    let config = Config::parse();
    config.validate().map_err(StartError::Settings)?;
    init_tracing(config.log_format);
    for (old, new, _) in &renamed {
        tracing::warn!("{old} is now called {new}: rename it (the old name still works for now)");
    }
    let command = config.command.clone().unwrap_or(Command::Serve);
    let addr = config.addr;
    if let Command::Migrate = command {
        // Only the schema: nothing starts (a migration step before the replicas, say).
        let db = Db::connect(&config.database_url, 2)
            .await
            .map_err(|e| StartError::Startup(format!("cannot open the database: {}", e.for_operator())))?;
        db.migrate().await.map_err(|e| StartError::Startup(e.for_operator()))?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let app = Frontdesk::build(config).await.map_err(StartError::Startup)?;
    if let Command::CreateAdmin { email, name } = command {
        let password = generate_password();
        app.accounts
            .create_staff(&email, &name, StaffRole::Admin, &password)
            .await
            .map_err(|e| StartError::Startup(e.public_message()))?;
        println!("Created admin {email} with password: {password}");
        app.replies.leave().await;
        return Ok(());
    }
    let preset = app.config.admin_password.as_deref().filter(|p| !p.is_empty());
    match app.accounts.ensure_first_admin(&app.config.admin_email, preset).await {
        Ok(Some((email, _))) if preset.is_some() => {
            tracing::info!("No staff accounts existed: created admin {email} with FRONTDESK_ADMIN_PASSWORD")
        }
        Ok(Some((email, password))) => tracing::warn!(
            "No staff accounts existed: created admin {email} with password {password} \
             (shown this once; sign in at /admin/login)"
        ),
        Ok(None) => {}
        Err(e) => return Err(StartError::Startup(format!("cannot create the first admin: {}", e.for_operator()))),
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Startup(format!("cannot listen on {addr}: {e}")))?;
    // The address bound: port 0 in FRONTDESK_ADDR picks a free one, named here.
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(
        %addr,
        assistant = app.replies.assistant_name(),
        database = ?app.db.backend,
        "Frontdesk is listening on http://{addr}"
    );
    let grace = std::time::Duration::from_secs(app.config.shutdown_grace_secs);
    // On SIGTERM or Ctrl-C: stop accepting connections and close the live ones (their clients
    // reconnect to another replica), let the replies being written finish within the grace
    // period, then leave.
    let draining = {
        let app = app.clone();
        async move {
            shutdown_signal().await;
            app.drain();
        }
    };
    let mut serving = tokio::spawn(serve(listener, http::router(app.clone()), draining));
    // Serving ends by itself only on an error; once told to stop, the connections may all close
    // before the replies end, so the shutdown below runs whichever comes first.
    let served = tokio::select! {
        served = &mut serving => Some(served),
        _ = app.draining() => None,
    };
    if !app.is_draining() {
        if let Some(served) = served {
            return served.map_err(|e| StartError::Startup(e.to_string()))?.map_err(Into::into);
        }
    }
    app.shut_down(grace).await;
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
