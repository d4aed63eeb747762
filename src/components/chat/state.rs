//! What the chat window's parts share: the chat, its feed of messages and paging cursors, the
//! live link, and the visitor's settings.

use leptos::prelude::*;

use crate::{
    api::list_messages,
    components::live,
    model::{Chat, ContextInfo, Message, MessageStatus, Preferences, PENDING_ID_BASE},
};

/// What the window's parts share.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub chat: RwSignal<Chat>,
    /// The rendered window of the conversation: contiguous, in id order.
    pub messages: RwSignal<Vec<Message>>,
    /// Older messages exist before the window (pass as `before`).
    pub next_cursor: RwSignal<Option<i64>>,
    /// Newer messages exist after the window; `None` means the window reaches the live end.
    pub newer_cursor: RwSignal<Option<i64>>,
    /// Keep the view at the newest message as text arrives.
    pub follow_bottom: RwSignal<bool>,
    /// Something new arrived below what the reader sees.
    pub new_below: RwSignal<bool>,
    pub prefs: RwSignal<Preferences>,
    pub contexts: StoredValue<Vec<ContextInfo>>,
    pub max_chars: usize,
    /// A problem to show at the bottom of the window.
    pub notice: RwSignal<Option<String>>,
    /// True once running in the browser (times and other client-only details render then).
    pub hydrated: RwSignal<bool>,
    /// The live connection's state ("reconnecting…").
    pub link: RwSignal<live::Link>,
    /// Sends on the live connection (typing indicators).
    pub outbox: StoredValue<live::Outbox>,
    /// A staff member typing.
    pub typing: live::TypingIndicator,
}

impl ChatState {
    pub fn chat_id(&self) -> i64 {
        self.chat.with_untracked(|c| c.id)
    }

    /// The reply being written, if any.
    pub fn streaming_reply(&self) -> Option<i64> {
        self.messages.with(|list| list.iter().rev().find(|m| m.status == MessageStatus::Streaming).map(|m| m.id))
    }

    pub fn context_label(&self, id: &str) -> Option<ContextInfo> {
        self.contexts.with_value(|all| all.iter().find(|c| c.id == id).cloned())
    }

    /// Whether an event about message `id` falls outside the rendered window (and must wait
    /// until the reader pages there).
    pub fn outside_window(&self, id: i64) -> bool {
        let (first, last) = self.messages.with_untracked(|list| {
            (list.first().map(|m| m.id), list.iter().rev().find(|m| m.id < PENDING_ID_BASE).map(|m| m.id))
        });
        let after_window = self.newer_cursor.get_untracked().is_some() && last.is_some_and(|last| id > last);
        let before_window = self.next_cursor.get_untracked().is_some() && first.is_some_and(|first| id < first);
        after_window || before_window
    }

    /// Shows the newest page again (after the reader paged back far enough to drop it).
    pub async fn jump_to_latest(&self) {
        if self.newer_cursor.get_untracked().is_none() {
            self.follow_bottom.set(true);
            return;
        }
        match list_messages(self.chat_id(), None, None).await {
            Ok(page) => {
                self.messages.set(page.messages);
                self.next_cursor.set(page.next_cursor);
                self.newer_cursor.set(None);
                self.new_below.set(false);
                self.follow_bottom.set(true);
            }
            Err(e) => self.notice.set(Some(e.message)),
        }
    }
}
