//! Chats and messages: conversations as customers have them. Two types, each split by
//! collaborator:
//! - [`Chats`]: a conversation's life (`chats`: opening, renaming, the customer's email, read
//!   marks, asking for a person, following its events, deleting it) and its messages
//!   (`messages`: pages of history, sending, editing, deleting, retrying and stopping replies);
//! - [`Replies`]: the streaming engine (`replies`: starting, writing, stopping and ending the
//!   assistant's replies; `deltas`, its writer of streamed text; `lease`, replies whose server
//!   stopped and the replicas' heartbeats).
//!
//! Every change to a chat goes through its unit of work, [`ChatTx`] (`tx`), whose queries are in
//! `store` with the rows and the reads outside a change; `rules` holds the checks. Tables: `chats`,
//! `messages`, `message_versions`, `chat_events`, `replicas`. A chat seen from the staff side is an
//! inquiry (`inquiries`, which uses this module); that a chat needs a person is said through
//! [`Alerts`], which that module provides.

mod chats;
mod deltas;
pub mod grounding;
mod lease;
mod messages;
mod replies;
pub mod rules;
pub mod store;
mod streaming;
mod tx;

use std::sync::Arc;

pub use self::{
    chats::ChatChanges,
    messages::Outgoing,
    replies::{Replies, ReplySettings, STOPPED_REASON},
    tx::{Append, BatchTx, ChatTx},
};
use super::{
    accounts::Accounts, audit::Trail, catalog::Catalog, config::Config, contexts::ContextStore, db::Db,
    error::AppResult, events::Hub, identity::Caller, usage::Usage,
};
use crate::model::{ContextInfo, Message};

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

/// What the chats tell the staff side: a conversation now needs a person (it became high
/// priority), so the team may be told by email.
#[async_trait::async_trait]
pub trait Alerts: Send + Sync {
    async fn high_priority(&self, chat_id: i64);
}

/// The sizes of a conversation's parts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest message, in characters.
    pub message_max_chars: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Limits { message_max_chars: config.message_max_chars as usize }
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

/// The conversations.
pub struct Chats {
    db: Db,
    hub: Arc<Hub>,
    contexts: Arc<ContextStore>,
    limits: Limits,
    replies: Arc<Replies>,
    usage: Arc<Usage>,
    catalog: Arc<Catalog>,
    /// Visitors' preferences (the context a new chat starts in).
    accounts: Arc<Accounts>,
    audit: Arc<dyn Trail>,
    alerts: Arc<dyn Alerts>,
    branding: Arc<crate::server::branding::Branding>,
}

/// What [`Chats`] is made of.
pub struct ChatParts {
    pub db: Db,
    pub hub: Arc<Hub>,
    pub contexts: Arc<ContextStore>,
    pub limits: Limits,
    pub replies: Arc<Replies>,
    pub usage: Arc<Usage>,
    pub catalog: Arc<Catalog>,
    pub accounts: Arc<Accounts>,
    pub audit: Arc<dyn Trail>,
    pub alerts: Arc<dyn Alerts>,
    /// The team's hours: asking for a person outside them asks for an email.
    pub branding: Arc<crate::server::branding::Branding>,
}

impl Chats {
    pub fn new(parts: ChatParts) -> Self {
        let ChatParts { db, hub, contexts, limits, replies, usage, catalog, accounts, audit, alerts, branding } = parts;
        Chats { db, hub, contexts, limits, replies, usage, catalog, accounts, audit, alerts, branding }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn contexts(&self) -> Vec<ContextInfo> {
        self.contexts.current().infos()
    }
}
