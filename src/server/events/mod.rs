//! Live events. Every change in a chat is stored with a per-chat sequence number in the same
//! transaction as the change, and broadcast after commit ([`ChatTx`]); subscribers read what they
//! missed from the database and follow the broadcast ([`Hub::subscribe`]), so a stream never skips
//! or repeats a sequence number.

pub mod cluster;
mod hub;
mod tx;

pub use hub::{events_after, ChatWatch, Hub, PanelQueue, StreamSlot, TypingFeed};
pub use tx::{Append, BatchTx, ChatLock, ChatTx};
