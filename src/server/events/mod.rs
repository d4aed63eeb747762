//! Live events. Every change in a chat is stored with a per-chat sequence number in the same
//! transaction as the change, and broadcast after commit (the chat's unit of work, in `chat::tx`,
//! under its [`ChatLock`]); subscribers read what they missed from the database and follow the
//! broadcast ([`Hub::subscribe`]), so a stream never skips or repeats a sequence number. With
//! several replicas on PostgreSQL, `cluster` carries what each publishes to the others.

pub mod cluster;
mod hub;
mod lock;

pub use hub::{events_after, ChatWatch, Hub, PanelQueue, StreamSlot, TypingFeed};
pub use lock::ChatLock;
