//! Chats and messages: the customer's side of the service. [`ChatService`] is the one facade the
//! adapters (server functions, REST, WebSockets) call; its work is split by collaborator:
//! `chats` (a conversation's life), `messages` (what customers send, edit and delete),
//! `replies` (the streaming engine), `deltas` (its writer of streamed text), `lease` (replies whose server stopped; the replicas'
//! heartbeats), `rules` (checks), `store` (the chat queries). Changes go through
//! [`crate::server::events::ChatTx`].

pub mod budget;
mod chats;
mod deltas;
mod lease;
mod messages;
pub mod replies;
pub mod rules;
pub mod store;

use std::{sync::Arc, time::Duration};

use self::{
    budget::{Allowances, Budgets},
    replies::Replies,
};
use super::{
    config::Config,
    db::{Backend, Db},
    error::{AppError, AppResult},
    events::{cluster, Hub},
    limits::SignInThrottle,
    llm::{Assistant, Context, Contexts},
    notify::Notifier,
};
use crate::model::{ContextInfo, Message};

pub use chats::ChatChanges;
pub use messages::Outgoing;

/// Who is asking. Visitors own their chats; staff come with the inquiry panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    /// The network the request came from (IPv4 address or IPv6 /64), when known: budgets count
    /// per network too, so a new cookie is not a new allowance.
    pub network: Option<std::net::IpAddr>,
}

impl Caller {
    /// A reader without a session: owns no chats and has default preferences. Reads answer them
    /// without creating a visitor (user ids start at 1, so no row is theirs).
    pub fn nobody(network: Option<std::net::IpAddr>) -> Self {
        Caller { user_id: 0, network }
    }

    pub fn is_nobody(&self) -> bool {
        self.user_id == 0
    }
}

/// Who starts a conversation: a caller who exists, or a visitor whose first action this is.
#[derive(Clone, Copy)]
pub enum Starter<'a> {
    Known(Caller),
    /// Written in the same transaction as the chat: one commit for both, and on SQLite one turn
    /// of the writer (a burst of new visitors queues half as deep ahead of customers' messages).
    First(&'a dyn FirstVisit),
}

/// A visitor not written yet: the session of their first action.
#[async_trait::async_trait]
pub trait FirstVisit: Sync {
    /// The network they came from (see [`Caller::network`]).
    fn network(&self) -> Option<std::net::IpAddr>;

    /// Writes the visitor (and their session) in `conn`'s transaction.
    async fn write(&self, conn: &mut sqlx::AnyConnection) -> AppResult<Caller>;

    /// The transaction that wrote the visitor committed: they exist whatever happens next.
    fn committed(&self);
}

/// Limits and timings the service enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub message_max_chars: usize,
    pub prompt_budget_chars: usize,
    pub idle_timeout: Duration,
    pub max_retries: u32,
    /// How long token deltas are gathered into one event after the first.
    pub coalesce: Duration,
    /// Calls to the model and tokens: per visitor, per network and in all.
    pub allowances: Allowances,
    /// Live connections one visitor may hold open (staff: four times as many).
    pub streams_per_visitor: usize,
    /// Replies being written at once for one visitor (across their chats), and in all.
    pub replies_per_visitor: usize,
    pub max_replies: usize,
    /// Sign-in attempts per account and per network in 5 minutes.
    pub sign_ins_per_account: u32,
    pub sign_ins_per_network: u32,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Limits {
            message_max_chars: config.message_max_chars as usize,
            prompt_budget_chars: config.prompt_budget_chars as usize,
            idle_timeout: config.idle_timeout(),
            max_retries: config.openai_max_retries,
            coalesce: Duration::from_millis(config.delta_coalesce_ms),
            allowances: Allowances {
                calls_per_visitor_minute: config.sends_per_minute,
                calls_per_network_minute: config.sends_per_network_per_minute,
                calls_per_minute: config.sends_per_minute_total,
                tokens_per_visitor_day: config.tokens_per_visitor_per_day as i64,
                tokens_per_network_day: config.tokens_per_network_per_day as i64,
                tokens_per_day: config.tokens_per_day as i64,
            },
            streams_per_visitor: config.streams_per_visitor as usize,
            replies_per_visitor: config.replies_per_visitor as usize,
            max_replies: config.max_replies as usize,
            sign_ins_per_account: config.sign_ins_per_account,
            sign_ins_per_network: config.sign_ins_per_network,
        }
    }
}

/// The answer to a send or an edit: the customer's message and the reply being written (if any).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub message: Message,
    pub reply: Option<Message>,
    /// False when a retried send found the message it had already created.
    pub created: bool,
}

pub struct ChatService {
    pub db: Db,
    pub hub: Hub,
    assistant: Arc<dyn Assistant>,
    contexts: Contexts,
    limits: Limits,
    replies: Replies,
    /// What the assistant may cost (calls per minute, tokens per day).
    pub budgets: Budgets,
    notifier: Option<Notifier>,
    /// Sign-in attempts and password hashing, bounded.
    pub sign_ins: SignInThrottle,
    /// Cancelled when this replica is told to stop: live connections close, `/readyz` fails.
    draining: tokio_util::sync::CancellationToken,
    /// Cancelled when its grace ran out ([`ChatService::leave`]): replies still being written end
    /// as interrupted, the heartbeat stops.
    stopping: tokio_util::sync::CancellationToken,
}

impl ChatService {
    pub fn new(db: Db, assistant: Arc<dyn Assistant>, contexts: Contexts, limits: Limits) -> Self {
        ChatService {
            db,
            hub: Hub::default(),
            assistant,
            contexts,
            budgets: Budgets::new(limits.allowances),
            sign_ins: SignInThrottle::new(limits.sign_ins_per_account, limits.sign_ins_per_network),
            limits,
            replies: Replies::default(),
            notifier: None,
            draining: Default::default(),
            stopping: Default::default(),
        }
    }

    /// Emails staff about new high-priority inquiries through `notifier`.
    pub fn with_notifier(mut self, notifier: Option<Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Starts the background work: replies a restart interrupted are marked so, the staff
    /// panel's feed runs, and on PostgreSQL (`database_url`) the hub joins the other replicas.
    pub async fn start(self: &Arc<Self>, database_url: &str) -> AppResult<()> {
        match self.db.backend {
            Backend::Postgres => {
                cluster::join(self, database_url)
                    .await
                    .map_err(|e| AppError::Internal(format!("cannot listen for other replicas: {e}")))?;
                self.keep_lease().await?;
            }
            Backend::Sqlite => {
                tracing::info!("SQLite: one process serves this database; use PostgreSQL for several replicas");
                self.recover_interrupted().await?;
            }
        }
        if let Some(queue) = self.hub.take_panel_queue() {
            tokio::spawn(super::staff::panel::run(Arc::downgrade(self), queue));
        }
        Ok(())
    }

    /// Starts shutting this replica down: live connections close (their clients reconnect to
    /// another replica) and `/readyz` answers 503. See [`ChatService::shut_down`].
    pub fn drain(&self) {
        self.draining.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves once the replica is told to stop.
    pub fn draining(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.draining.clone().cancelled_owned()
    }

    /// Shuts this replica down: drains, lets the replies it writes finish for up to `grace`, ends
    /// the rest as interrupted (their text kept), and leaves the replicas' list.
    pub async fn shut_down(&self, grace: Duration) {
        self.drain();
        let running = self.replies_running();
        if running > 0 {
            tracing::info!(running, ?grace, "letting the replies being written finish");
        }
        let _ = tokio::time::timeout(grace, self.replies.wait_all()).await;
        self.stopping.cancel();
        self.replies.cancel_all();
        if tokio::time::timeout(Duration::from_secs(10), self.replies.wait_all()).await.is_err() {
            tracing::warn!("some replies did not record their end; another replica or the next start will");
        }
        self.leave().await;
    }

    pub fn assistant_name(&self) -> &'static str {
        self.assistant.name()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn list_contexts(&self) -> Vec<ContextInfo> {
        self.contexts.all().iter().map(|c| c.info()).collect()
    }

    /// A context by id, or a 422 that lists the known ones.
    pub(crate) fn context(&self, id: &str) -> AppResult<&Context> {
        self.contexts.get(id).ok_or_else(|| {
            let known: Vec<_> = self.contexts.all().iter().map(|c| c.id.as_str()).collect();
            AppError::Invalid(format!("unknown context '{id}'; choose one of: {}", known.join(", ")))
        })
    }

    pub(crate) fn context_or_default(&self, id: Option<&str>) -> &Context {
        id.and_then(|id| self.contexts.get(id)).unwrap_or_else(|| self.contexts.default_context())
    }

    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_ref()
    }
}

/// What this replica does with what the others tell it.
impl cluster::Node for ChatService {
    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn db(&self) -> &Db {
        &self.db
    }

    fn stop_here(&self, chat: i64, reply: Option<i64>) {
        match reply {
            Some(reply) => self.replies.cancel(reply),
            None => self.replies.cancel_chat(chat),
        }
    }
}
