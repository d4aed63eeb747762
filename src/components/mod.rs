//! The chat window and its pieces.

pub mod admin;
pub(crate) mod chat_window;
mod composer;
pub mod icons;
pub mod live;
mod messages;
mod settings;

pub use chat_window::{ChatState, ChatWindow};
