//! A chat's write lock: changes to a chat take turns on it, and its events are published while
//! it is held, so they leave in sequence order.

use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;

use super::hub::Channel;

/// A chat's write lock: held, nobody else changes the chat, and reads see one moment of it.
pub struct ChatLock {
    chat_id: i64,
    channel: Arc<Channel>,
    _guard: OwnedMutexGuard<()>,
}

impl ChatLock {
    pub(super) async fn acquire(channel: Arc<Channel>, chat_id: i64) -> ChatLock {
        let guard = channel.write_lock.clone().lock_owned().await;
        ChatLock { chat_id, channel, _guard: guard }
    }

    pub(super) fn try_acquire(channel: Arc<Channel>, chat_id: i64) -> Option<ChatLock> {
        let guard = channel.write_lock.clone().try_lock_owned().ok()?;
        Some(ChatLock { chat_id, channel, _guard: guard })
    }

    pub fn chat_id(&self) -> i64 {
        self.chat_id
    }

    pub(super) fn channel(&self) -> &Channel {
        &self.channel
    }
}
