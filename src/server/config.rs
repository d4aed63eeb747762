//! Settings, read once at start from the command line and the environment.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Frontdesk: AI customer chat.
#[derive(Debug, Clone, Parser)]
#[command(name = "frontdesk", version, about)]
pub struct Config {
    /// Database URL: `sqlite://path/to/file.db` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/frontdesk.db")]
    pub database_url: String,

    /// PostgreSQL connections this process keeps open (all opened at start, so a burst of
    /// customers does not wait for new ones). SQLite uses one writer and eight readers.
    #[arg(long, env = "FRONTDESK_DB_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_connections: u32,

    /// Address the HTTP server listens on.
    #[arg(long, env = "FRONTDESK_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Key for OpenAI or an OpenAI-compatible server. Unset or empty: the offline assistant answers.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// Base URL of the OpenAI-compatible API (Ollama: http://localhost:11434/v1).
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    pub openai_base_url: String,

    /// Model name sent upstream.
    #[arg(long, env = "OPENAI_MODEL", default_value = "gpt-4o-mini")]
    pub openai_model: String,

    /// Embedding model on the same endpoint (e.g. text-embedding-3-small). Set: the shop's
    /// knowledge is embedded in the background and retrieval is hybrid (full text and vectors,
    /// fused by reciprocal rank). Unset or without a key: full text alone.
    #[arg(long, env = "OPENAI_EMBEDDING_MODEL")]
    pub openai_embedding_model: Option<String>,

    /// Seconds to wait for a connection to the upstream.
    #[arg(long, env = "OPENAI_CONNECT_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub openai_connect_timeout_secs: u64,

    /// Seconds of silence allowed before the first chunk and between chunks of a reply.
    #[arg(long, env = "OPENAI_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub openai_idle_timeout_secs: u64,

    /// Retries on 429, 5xx and connection errors before the first token.
    #[arg(long, env = "OPENAI_MAX_RETRIES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub openai_max_retries: u32,

    /// Longest message a customer may send, in characters.
    #[arg(long, env = "FRONTDESK_MESSAGE_MAX_CHARS", default_value_t = 4000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub message_max_chars: u32,

    /// Calls to the model (messages, edits and retries) one visitor may make per minute (429
    /// beyond). Formerly FRONTDESK_SENDS_PER_MINUTE, still read.
    #[arg(long, env = "FRONTDESK_CALLS_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub calls_per_minute: u32,

    /// Calls to the model per minute from one network (IPv4 address or IPv6 /64), all its
    /// visitors together: a new cookie is not a new allowance. 429 beyond.
    #[arg(long, env = "FRONTDESK_CALLS_PER_NETWORK_PER_MINUTE", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub calls_per_network_per_minute: u32,

    /// Calls to the model per minute from everyone together. 429 beyond.
    #[arg(long, env = "FRONTDESK_CALLS_PER_MINUTE_TOTAL", default_value_t = 1200, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub calls_per_minute_total: u32,

    /// Tokens (read and written by the model) one visitor may use per UTC day. 429 beyond, until
    /// midnight UTC; a person can still answer.
    #[arg(long, env = "FRONTDESK_TOKENS_PER_VISITOR_PER_DAY", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub tokens_per_visitor_per_day: u64,

    /// Tokens one network may use per UTC day, all its visitors together.
    #[arg(long, env = "FRONTDESK_TOKENS_PER_NETWORK_PER_DAY", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub tokens_per_network_per_day: u64,

    /// Tokens everyone together may use per UTC day: the cap on the model bill. Past it the
    /// assistant answers no one until midnight UTC (staff still can).
    #[arg(long, env = "FRONTDESK_TOKENS_PER_DAY", default_value_t = 20_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub tokens_per_day: u64,

    /// Live connections (WebSocket and event streams) one visitor may hold open; staff may hold
    /// four times as many. 429 beyond.
    #[arg(long, env = "FRONTDESK_STREAMS_PER_VISITOR", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub streams_per_visitor: u32,

    /// Replies one visitor may have the assistant write at once (one per chat in any case); 429 beyond.
    #[arg(long, env = "FRONTDESK_REPLIES_PER_VISITOR", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub replies_per_visitor: u32,

    /// Replies the assistant writes at once for everyone (streams from the model); 429 beyond.
    #[arg(long, env = "FRONTDESK_MAX_REPLIES", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_replies: u32,

    /// PostgreSQL's text-search configuration for the shop's knowledge: `english` stems English
    /// words; `simple` suits mixed languages (any configuration `\dF` lists). SQLite always stems
    /// English (FTS5's porter tokenizer).
    #[arg(long, env = "FRONTDESK_SEARCH_LANGUAGE", default_value = "english")]
    pub search_language: String,

    /// Let an import by URL fetch from loopback, private and link-local addresses (a shop's
    /// intranet). Off, such an address is refused: the server never reaches inside its own network
    /// for whoever may import.
    #[arg(long, env = "FRONTDESK_IMPORT_PRIVATE_URLS", default_value_t = false, action = clap::ArgAction::Set)]
    pub import_private_urls: bool,

    /// The most pages one import by URL fetches (a sitemap's first ones).
    #[arg(long, env = "FRONTDESK_IMPORT_MAX_PAGES", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub import_max_pages: u32,

    /// The demo shop: on a first start its catalog is written, and `/` and `/products` show its
    /// storefront. Off (the Docker image's default), no demo rows are written, no storefront is
    /// served and `/` sends staff to the panel; a database keeps the products it has.
    #[arg(long, env = "FRONTDESK_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo: bool,

    /// Characters of conversation history sent upstream; the newest messages are kept.
    #[arg(long, env = "FRONTDESK_PROMPT_BUDGET_CHARS", default_value_t = 24_000, value_parser = clap::value_parser!(u32).range(500..=2_000_000))]
    pub prompt_budget_chars: u32,

    /// Milliseconds token deltas are gathered into one event (and one write) after the first.
    #[arg(long, env = "FRONTDESK_DELTA_COALESCE_MS", default_value_t = 40, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub delta_coalesce_ms: u64,

    /// A TOML file of assistant contexts (1 to 3). Unset: Sales, Support and Billing are built in.
    #[arg(long, env = "FRONTDESK_CONTEXTS_FILE")]
    pub contexts_file: Option<PathBuf>,

    /// Log format: pretty or json. Levels come from RUST_LOG (default info).
    #[arg(long, env = "FRONTDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Milliseconds between words of the offline assistant (0 streams as fast as it can).
    #[arg(long, env = "FRONTDESK_OFFLINE_WORD_DELAY_MS", default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub offline_word_delay_ms: u64,

    /// Mark the session cookie Secure (set this when served over HTTPS).
    #[arg(long, env = "FRONTDESK_COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,

    /// Minutes without a request after which a staff session ends (staff sign in again).
    #[arg(long, env = "FRONTDESK_STAFF_IDLE_MINUTES", default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub staff_idle_minutes: u64,

    /// Email of the admin created on a first start with no staff (its password is printed once).
    #[arg(long, env = "FRONTDESK_ADMIN_EMAIL", default_value = "admin@frontdesk.local")]
    pub admin_email: String,

    /// Password of that first admin (unset: one is generated and printed once).
    #[arg(long, env = "FRONTDESK_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Staff sign-in attempts per account in 5 minutes (they come back evenly); 429 beyond.
    #[arg(long, env = "FRONTDESK_SIGN_INS_PER_ACCOUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sign_ins_per_account: u32,

    /// Staff sign-in attempts per network (IPv4 address or IPv6 /64) in 5 minutes; 429 beyond.
    #[arg(long, env = "FRONTDESK_SIGN_INS_PER_NETWORK", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sign_ins_per_network: u32,

    /// Behind a load balancer: take the client's address from the last `X-Forwarded-For` entry
    /// (for per-network limits). Leave off when clients reach the server directly.
    #[arg(long, env = "FRONTDESK_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,

    /// Extra origins allowed to make unsafe requests (comma-separated), besides the app's own.
    #[arg(long, env = "FRONTDESK_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// SMTP server for staff notices, e.g. `smtp://localhost:25` or
    /// `smtps://user:password@smtp.example.com` (unset: no email is sent).
    #[arg(long, env = "FRONTDESK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Staff notices (emails about high-priority inquiries) per hour in all; one per conversation
    /// per hour at most.
    #[arg(long, env = "FRONTDESK_NOTICES_PER_HOUR", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub notices_per_hour: u32,

    /// Days after which a visitor who never wrote (no message, email, handoff or preference) is
    /// removed with the greeting-only chats their page views opened.
    #[arg(long, env = "FRONTDESK_RETAIN_IDLE_VISITORS_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_idle_visitors_days: u32,

    /// Minutes after which the token-delta events of finished replies are removed (a resume then
    /// gets the whole reply in its `message.completed` event).
    #[arg(long, env = "FRONTDESK_RETAIN_DELTAS_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub retain_deltas_minutes: u32,

    /// Days earlier versions of edited messages and regenerated replies are kept.
    #[arg(long, env = "FRONTDESK_RETAIN_VERSIONS_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_versions_days: u32,

    /// Minutes between retention passes (the first runs at start).
    #[arg(long, env = "FRONTDESK_RETENTION_EVERY_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_080))]
    pub retention_every_minutes: u32,

    /// Seconds a replica told to stop (SIGTERM, Ctrl-C) lets the replies it writes finish; then
    /// they end as interrupted, their text kept. Live connections close at once (WebSocket code
    /// 1012) so their clients reconnect to another replica.
    #[arg(long, env = "FRONTDESK_SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// Bearer token `GET /metrics` requires (`Authorization: Bearer <token>`). Unset: the metrics
    /// are open to anyone who reaches the server; keep /metrics off the public ingress then.
    #[arg(long, env = "FRONTDESK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Sender of staff notices.
    #[arg(long, env = "FRONTDESK_SMTP_FROM", default_value = "Frontdesk <frontdesk@localhost>")]
    pub smtp_from: String,

    /// The app's public address, for links in emails.
    #[arg(long, env = "FRONTDESK_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Start the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create an admin account and print its generated password.
    CreateAdmin {
        /// The admin's email (their sign-in name).
        #[arg(long)]
        email: String,
        /// The name shown to customers.
        #[arg(long, default_value = "Admin")]
        name: String,
    },
}

impl Config {
    /// Settings for tests and embedding: every default, no command line.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Config::parse_from(["frontdesk"]);
        config.database_url = database_url.into();
        config.openai_api_key = None;
        config
    }

    /// The OpenAI key, when one is set and not blank.
    pub fn openai_key(&self) -> Option<&str> {
        self.openai_api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.openai_connect_timeout_secs)
    }

    /// How long a staff session lasts without a request.
    pub fn staff_idle(&self) -> Duration {
        Duration::from_secs(self.staff_idle_minutes * 60)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.openai_idle_timeout_secs)
    }

    /// Checks what clap cannot: a one-line reason when a setting is unusable.
    pub fn validate(&self) -> Result<(), String> {
        let db = self.database_url.as_str();
        if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(format!(
                "DATABASE_URL must start with sqlite: or postgres:// (got '{}')",
                db.split(':').next().unwrap_or_default()
            ));
        }
        if self.openai_key().is_some() {
            let base = self.openai_base_url.as_str();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(format!("OPENAI_BASE_URL must be an http(s) URL (got '{base}')"));
            }
            if self.openai_model.trim().is_empty() {
                return Err("OPENAI_MODEL must not be empty".into());
            }
        }
        if let Some(url) = self.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err("FRONTDESK_SMTP_URL must start with smtp:// or smtps://".into());
            }
        }
        if self.smtp_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "FRONTDESK_SMTP_FROM must be an address like 'Frontdesk <desk@example.com>' (got '{}')",
                self.smtp_from
            ));
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(format!("FRONTDESK_ALLOWED_ORIGINS entries must be http(s) origins (got '{origin}')"));
            }
        }
        Ok(())
    }
}

/// Settings renamed since they were first read, `(old, new)`: an old name still counts when the
/// new one is not set (see [`renamed_settings`]).
pub const RENAMED: &[(&str, &str)] = &[
    ("FRONTDESK_SENDS_PER_MINUTE", "FRONTDESK_CALLS_PER_MINUTE"),
    ("FRONTDESK_SENDS_PER_NETWORK_PER_MINUTE", "FRONTDESK_CALLS_PER_NETWORK_PER_MINUTE"),
    ("FRONTDESK_SENDS_PER_MINUTE_TOTAL", "FRONTDESK_CALLS_PER_MINUTE_TOTAL"),
];

/// The renamed settings set under their old name only, as `(old, new, value)`, given how to read
/// a variable: the caller sets each under its new name (and says it was renamed).
pub fn renamed_settings(var: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, &'static str, String)> {
    RENAMED
        .iter()
        .filter(|(_, new)| var(new).is_none())
        .filter_map(|(old, new)| Some((*old, *new, var(old)?)))
        .collect()
}

#[cfg(test)]
mod renamed {
    use super::*;

    #[test]
    fn an_old_setting_name_counts_unless_the_new_one_is_set() {
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| set.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            renamed_settings(env(&[("FRONTDESK_SENDS_PER_MINUTE", "5")])),
            vec![("FRONTDESK_SENDS_PER_MINUTE", "FRONTDESK_CALLS_PER_MINUTE", "5".to_string())]
        );
        assert!(renamed_settings(env(&[("FRONTDESK_SENDS_PER_MINUTE", "5"), ("FRONTDESK_CALLS_PER_MINUTE", "7")]))
            .is_empty());
    }
}
