//! What the chat window's parts share: the chat, its feed of messages (`components::feed`), the
//! live link, and the visitor's settings.

use futures::channel::oneshot;
use leptos::prelude::*;

use crate::{
    api::{send_message, start_chat, StartedChat},
    components::{feed::Feed, live},
    model::{Chat, ContextInfo, ErrorDetail, Message, MessageStatus, Preferences, DRAFT_CHAT_ID, PENDING_ID_BASE},
};

/// An action waiting for the draft to become a conversation: it gets the chat's id.
pub type Waiter = oneshot::Sender<Result<i64, ErrorDetail>>;

/// What the window's parts share.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub chat: RwSignal<Chat>,
    /// The conversation's messages as shown, and the reader's place in them.
    pub feed: Feed,
    pub prefs: RwSignal<Preferences>,
    /// The contexts offered (admins may change them while the window is open).
    pub contexts: RwSignal<Vec<ContextInfo>>,
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
    /// Follow the chat's events after this sequence number (the page shown ends there).
    pub live_after: StoredValue<i64>,
    /// While the draft becomes a conversation: the other actions waiting for it (see
    /// [`ChatState::started`]).
    pub starting: StoredValue<Option<Vec<Waiter>>>,
    /// Outside the team's hours (as the page was made): a person asked for answers later.
    pub away: bool,
    /// The customer's thumbs on the assistant's replies: `(message id, helpful)`.
    pub thumbs: RwSignal<Vec<(i64, bool)>>,
    /// Their rating (1 to 5) of the conversation's latest resolution.
    pub rating: RwSignal<Option<i64>>,
}

impl ChatState {
    pub fn chat_id(&self) -> i64 {
        self.chat.with_untracked(|c| c.id)
    }

    /// The chat's id, making the window's draft a conversation first (a visitor's first action:
    /// a message, "talk to a person", a context picked). Actions at once share one request; one
    /// that fails can be tried again. `context` is the one the conversation starts in.
    pub async fn started(&self, context: Option<String>) -> Result<i64, ErrorDetail> {
        self.start(context, None).await.map(|(chat_id, _)| chat_id)
    }

    /// Sends the customer's message (`client_id` names it): for a draft, in the request that
    /// makes it a conversation (a first message costs one request); else, or when another
    /// action is already starting the draft, once there is a conversation.
    pub async fn send(&self, content: String, client_id: String) -> Result<Message, ErrorDetail> {
        match self.start(None, Some((content.clone(), client_id.clone()))).await? {
            (_, Some(saved)) => Ok(saved),
            (chat_id, None) => send_message(chat_id, content, None, Some(client_id)).await,
        }
    }

    /// The chat's id, making the draft a conversation first (see [`ChatState::started`]); with
    /// `first`, the message that request sent, as saved.
    async fn start(
        &self,
        context: Option<String>,
        first: Option<(String, String)>,
    ) -> Result<(i64, Option<Message>), ErrorDetail> {
        let chat_id = self.chat_id();
        if chat_id != DRAFT_CHAT_ID {
            return Ok((chat_id, None));
        }
        let waiting = self.starting.try_update_value(|starting| {
            starting.as_mut().map(|waiters| {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                rx
            })
        });
        match waiting {
            Some(Some(rx)) => rx.await.unwrap_or_else(|_| Err(window_closed())).map(|id| (id, None)),
            Some(None) => {
                self.starting.set_value(Some(Vec::new()));
                let product_id = self.chat.with_untracked(|c| c.product_id.clone());
                let (message, client_id) = first.unzip();
                let result = start_chat(product_id, context, message, client_id.clone()).await.map(|started| {
                    let id = started.chat.id;
                    let saved = client_id.and_then(|sent| {
                        started.page.messages.iter().find(|m| m.client_id.as_ref() == Some(&sent)).cloned()
                    });
                    self.adopt(started);
                    (id, saved)
                });
                for waiter in self.starting.try_update_value(Option::take).flatten().unwrap_or_default() {
                    let _ = waiter.send(result.as_ref().map(|(id, _)| *id).map_err(Clone::clone));
                }
                result
            }
            None => Err(window_closed()),
        }
    }

    /// Shows the conversation the draft became: its messages replace the draft's greeting (the
    /// customer's unsaved messages stay), and the live feed starts.
    fn adopt(&self, started: StartedChat) {
        let StartedChat { chat, page } = started;
        self.feed.messages.update(|list| {
            // An unsaved message the request saved is in the page now.
            let saved = |m: &Message| m.client_id.is_some() && page.messages.iter().any(|p| p.client_id == m.client_id);
            let unsaved: Vec<Message> = list.drain(..).filter(|m| m.id >= PENDING_ID_BASE && !saved(m)).collect();
            *list = page.messages;
            list.extend(unsaved);
        });
        self.feed.next_cursor.set(page.next_cursor);
        self.feed.newer_cursor.set(None);
        self.live_after.set_value(page.last_seq);
        self.chat.set(chat);
    }

    /// After the conversation was deleted (by the visitor elsewhere, or by retention): the window
    /// empties and becomes a draft again, so the next message starts a new conversation.
    pub fn start_over(&self) {
        self.feed.messages.set(Vec::new());
        self.feed.next_cursor.set(None);
        self.feed.newer_cursor.set(None);
        self.live_after.set_value(0);
        self.notice.set(Some("This conversation was deleted. A new message starts a new one.".into()));
        self.chat.update(|chat| chat.id = DRAFT_CHAT_ID);
    }

    /// The reply being written, if any.
    pub fn streaming_reply(&self) -> Option<i64> {
        self.feed.messages.with(|list| list.iter().rev().find(|m| m.status == MessageStatus::Streaming).map(|m| m.id))
    }

    pub fn context_label(&self, id: &str) -> Option<ContextInfo> {
        self.contexts.with(|all| all.iter().find(|c| c.id == id).cloned())
    }
}

/// What an action waiting on a window that closed meanwhile gets.
fn window_closed() -> ErrorDetail {
    ErrorDetail { code: "closed".into(), message: "the chat window was closed".into() }
}
