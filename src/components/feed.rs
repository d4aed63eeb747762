//! The conversation feed the customer's window and the staff conversation share: a window of at
//! most `WINDOW` messages of one conversation, older pages on scroll-up and newer ones on
//! scroll-down with what the reader looks at held in place, new text followed unless the reader
//! scrolled up (then a "New messages" pill), and live events applied where they belong. Each side
//! brings its own bubble.

use leptos::{html, prelude::*};

use crate::{
    api::list_messages,
    components::{
        browser,
        icons::{Icon, Svg},
        live::{self, Link, Outbox, TypingIndicator},
    },
    model::{
        Chat, ChatEvent, ContextInfo, ErrorDetail, Event, LiveSignal, Message, MessagePage, Role, ServerFrame,
        PENDING_ID_BASE,
    },
};

/// Distance from the bottom (px) under which the reader counts as "at the bottom".
const STICKY_PX: i32 = 48;
/// Distance from either end (px) at which the next page loads.
const PAGE_AHEAD_PX: i32 = 160;
/// At most this many messages are rendered; paging further drops the far end (and pages it back in
/// when the reader returns), so a chat of any length stays light for the browser.
const WINDOW: usize = 150;

/// Where a feed's pages come from: the visitor's own chat (its id changes when a draft becomes a
/// conversation), or a conversation staff opened.
#[derive(Clone, Copy)]
pub enum Pages {
    Customer(RwSignal<Chat>),
    #[cfg(feature = "panel")]
    Staff(i64),
}

impl Pages {
    async fn fetch(self, before: Option<i64>, after: Option<i64>) -> Result<MessagePage, ErrorDetail> {
        match self {
            Pages::Customer(chat) => list_messages(chat.with_untracked(|c| c.id), before, after).await,
            #[cfg(feature = "panel")]
            Pages::Staff(chat_id) => crate::staff_api::inquiry_messages(chat_id, before, after).await,
        }
    }
}

/// Which end of the window a page goes in at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Toward {
    Older,
    Newer,
}

/// One conversation's rendered messages and where the reader is in it.
#[derive(Clone, Copy)]
pub struct Feed {
    /// The rendered window of the conversation: contiguous, in id order (unsaved sends last).
    pub messages: RwSignal<Vec<Message>>,
    /// Older messages exist before the window (pass as `before`).
    pub next_cursor: RwSignal<Option<i64>>,
    /// Newer messages exist after the window; `None` means the window reaches the live end.
    pub newer_cursor: RwSignal<Option<i64>>,
    /// Keep the view at the newest message as text arrives.
    pub follow_bottom: RwSignal<bool>,
    /// Something new arrived below what the reader sees.
    pub new_below: RwSignal<bool>,
    /// A page is on its way.
    loading: RwSignal<bool>,
    pages: Pages,
    /// Where a page that could not be loaded is reported.
    notice: RwSignal<Option<String>>,
}

impl Feed {
    pub fn new(pages: Pages, page: MessagePage, notice: RwSignal<Option<String>>) -> Self {
        Feed {
            messages: RwSignal::new(page.messages),
            next_cursor: RwSignal::new(page.next_cursor),
            newer_cursor: RwSignal::new(page.newer_cursor),
            follow_bottom: RwSignal::new(true),
            new_below: RwSignal::new(false),
            loading: RwSignal::new(false),
            pages,
            notice,
        }
    }

    /// Whether an event about message `id` falls outside the rendered window (and must wait
    /// until the reader pages there).
    fn outside_window(&self, id: i64) -> bool {
        let (first, last) = self.messages.with_untracked(|list| {
            (list.first().map(|m| m.id), list.iter().rev().find(|m| m.id < PENDING_ID_BASE).map(|m| m.id))
        });
        let after_window = self.newer_cursor.get_untracked().is_some() && last.is_some_and(|last| id > last);
        let before_window = self.next_cursor.get_untracked().is_some() && first.is_some_and(|first| id < first);
        after_window || before_window
    }

    /// Applies a live event about a message to the window, or, when it falls outside, leaves it
    /// for the reader to page to (a new message there lights the pill).
    pub fn apply(&self, event: &ChatEvent) {
        if event.event.message().is_some_and(|m| self.outside_window(m.id)) {
            if matches!(event.event, Event::MessageCreated(_)) && self.newer_cursor.get_untracked().is_some() {
                self.new_below.set(true);
            }
            return;
        }
        self.messages.update(|list| event.apply_to(list));
    }

    /// Follows the conversation's live events on the socket at `path` from `after`: messages go
    /// into the feed, the chat's own changes to `on_chat`, typing signals to `typing` (cleared
    /// when a message from its `Role`, the side typing, arrives), the contexts admins changed to
    /// `contexts`; `on_chat` hears `None` when the conversation is deleted, after the feed says so.
    pub fn follow(
        self,
        path: String,
        after: i64,
        link: RwSignal<Link>,
        (typing, typist): (TypingIndicator, Role),
        contexts: Option<RwSignal<Vec<ContextInfo>>>,
        on_chat: impl Fn(Option<Chat>) + 'static,
    ) -> Outbox {
        live::follow_socket(
            path,
            Some(after),
            link,
            |_| {},
            move |frame| {
                let event = match ServerFrame::parse(frame) {
                    Some(ServerFrame::Event(event)) => event,
                    Some(ServerFrame::Signal(LiveSignal::Typing(signal))) => return typing.show(signal),
                    Some(ServerFrame::Signal(LiveSignal::Contexts(all))) => {
                        return contexts.into_iter().for_each(|contexts| contexts.set(all.clone()))
                    }
                    Some(ServerFrame::Error(_)) | None => return,
                };
                match event.event {
                    Event::ChatUpdated(chat) => return on_chat(Some(chat)),
                    // The last event of a deleted chat: the socket closes for good after it.
                    Event::ChatDeleted(_) => {
                        self.notice.set(Some("This conversation was deleted.".into()));
                        return on_chat(None);
                    }
                    Event::MessageCreated(ref message) if message.role == typist => typing.clear(),
                    _ => {}
                }
                self.apply(&event);
            },
        )
    }

    /// Shows the newest page again (after the reader paged back far enough to drop it).
    pub async fn jump_to_latest(&self) {
        if self.newer_cursor.get_untracked().is_none() {
            self.follow_bottom.set(true);
            return;
        }
        // The feed may be gone when the page arrives: `try_` then does nothing.
        match self.pages.fetch(None, None).await {
            Ok(page) => {
                if self.messages.try_set(page.messages).is_none() {
                    self.next_cursor.set(page.next_cursor);
                    self.newer_cursor.set(None);
                    self.new_below.set(false);
                    self.follow_bottom.set(true);
                }
            }
            Err(e) => {
                self.notice.try_set(Some(e.message));
            }
        }
    }
}

/// The scrolling list of a feed. `bubble` draws one message; `start` is said above the first one.
#[component]
pub fn FeedList<B, V>(feed: Feed, bubble: B, testid: &'static str, start: &'static str) -> impl IntoView
where
    B: Fn(Message) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let list = NodeRef::<html::Div>::new();
    let Feed { messages, next_cursor, newer_cursor, follow_bottom, new_below, loading, .. } = feed;

    // Run after a frame, when the list may be gone (a conversation left): signals are read with
    // `try_`, which does nothing then.
    let scroll_to_bottom = move || {
        if let Some(el) = list.try_get_untracked().flatten() {
            el.set_scroll_top(el.scroll_height());
        }
        new_below.try_set(false);
    };

    // Follow new text unless the reader scrolled up; then offer a pill.
    Effect::new(move |previous: Option<Option<i64>>| {
        let last_id = messages.with(|m| m.last().map(|m| m.id));
        let _ = messages.with(|m| m.last().map(|m| m.content.len()));
        let grew_at_end = previous.is_some_and(|prev_last| prev_last != last_id);
        if follow_bottom.get() {
            browser::after_render(scroll_to_bottom);
        } else if grew_at_end {
            new_below.set(true);
        }
        last_id
    });

    // A hidden list has no layout, so a scroll to its end there lands nowhere (a window opened
    // from the launcher, a frame shown again): whenever the list gets its size (shown, or
    // resized), a reader following the newest message is taken to it.
    Effect::new(move |_| {
        if let Some(el) = list.get() {
            let shown = el.clone();
            // Signals are read with `try_`: the browser may report a size after the list is gone.
            browser::on_resize(&el, move || {
                if follow_bottom.try_get_untracked() == Some(true) {
                    shown.set_scroll_top(shown.scroll_height());
                    new_below.try_set(false);
                }
            });
        }
    });

    // Where message `id` sits relative to the top of the list's viewport.
    let offset_of = move |id: i64| -> Option<f64> {
        let el = list.try_get_untracked().flatten()?;
        let item = el.query_selector(&format!("[data-id='{id}']")).ok()??;
        Some(item.get_bounding_client_rect().top() - el.get_bounding_client_rect().top())
    };
    // After the window changed, puts message `id` back where it was on screen.
    let restore = move |id: i64, before: f64| {
        browser::after_render(move || {
            if let (Some(el), Some(now)) = (list.try_get_untracked().flatten(), offset_of(id)) {
                el.set_scroll_top(el.scroll_top() + (now - before) as i32);
            }
            loading.try_set(false);
        });
    };

    // Pages in the next page toward one end; the message at that end stays where it is on screen,
    // and past WINDOW messages the other end is dropped (and paged back in when the reader returns).
    let load = move |toward: Toward| {
        let cursor = match toward {
            Toward::Older => next_cursor,
            Toward::Newer => newer_cursor,
        };
        let Some(from) = cursor.get_untracked() else { return };
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        leptos::task::spawn_local(async move {
            let fetched = match toward {
                Toward::Older => feed.pages.fetch(Some(from), None).await,
                Toward::Newer => feed.pages.fetch(None, Some(from)).await,
            };
            let page = match fetched {
                Ok(page) => page,
                Err(e) => {
                    let which = if toward == Toward::Older { "Older" } else { "Newer" };
                    feed.notice.try_set(Some(format!("{which} messages could not be loaded: {}", e.message)));
                    loading.try_set(false);
                    return;
                }
            };
            // The list may be gone by the time the page arrives.
            let Some(anchor) = messages.try_with_untracked(|m| match toward {
                Toward::Older => m.first().map(|m| m.id),
                Toward::Newer => m.last().map(|m| m.id),
            }) else {
                return;
            };
            let anchor_at = anchor.and_then(offset_of);
            let mut dropped = None;
            messages.update(|list| {
                for message in page.messages {
                    if let Err(at) = list.binary_search_by_key(&message.id, |m| m.id) {
                        list.insert(at, message);
                    }
                }
                if list.len() > WINDOW {
                    match toward {
                        Toward::Older => {
                            list.truncate(WINDOW);
                            dropped = list.last().map(|m| m.id);
                        }
                        Toward::Newer => {
                            list.drain(..list.len() - WINDOW);
                            dropped = list.first().map(|m| m.id);
                        }
                    }
                }
            });
            match toward {
                Toward::Older => {
                    next_cursor.set(page.next_cursor);
                    if dropped.is_some() {
                        newer_cursor.set(dropped);
                    }
                }
                Toward::Newer => {
                    newer_cursor.set(page.newer_cursor);
                    if dropped.is_some() {
                        next_cursor.set(dropped);
                    }
                }
            }
            match (anchor, anchor_at) {
                (Some(id), Some(at)) => restore(id, at),
                _ => loading.set(false),
            }
        });
    };

    let on_scroll = move |_| {
        let Some(el) = list.get_untracked() else { return };
        // A list being hidden reports a scroll to nowhere: nobody scrolled it.
        if el.client_height() == 0 {
            return;
        }
        let below = el.scroll_height() - el.scroll_top() - el.client_height();
        let at_live_end = newer_cursor.get_untracked().is_none();
        follow_bottom.set(below < STICKY_PX && at_live_end);
        if below < STICKY_PX && at_live_end {
            new_below.set(false);
        }
        if el.scroll_top() < PAGE_AHEAD_PX {
            load(Toward::Older);
        } else if below < PAGE_AHEAD_PX && !at_live_end {
            load(Toward::Newer);
        }
    };
    let show_newest = move |_| {
        leptos::task::spawn_local(async move {
            feed.jump_to_latest().await;
            browser::after_render(scroll_to_bottom);
        });
    };

    view! {
        <div class="relative flex min-h-0 flex-1 flex-col">
            <div
                node_ref=list
                data-testid=testid
                class="flex min-h-0 flex-1 flex-col gap-2 overflow-y-auto overscroll-contain px-3 py-3"
                role="log"
                aria-live="polite"
                aria-relevant="additions"
                aria-label="Conversation"
                tabindex="0"
                on:scroll=on_scroll
            >
                <div class="flex justify-center py-1 text-xs text-slate-600 dark:text-slate-400">
                    {move || {
                        if loading.get() && next_cursor.get().is_some() {
                            view! {
                                <span data-testid="older-loader" class="flex items-center gap-1.5" role="status">
                                    <Svg icon=Icon::Loader class="size-4 animate-spin"/>
                                    "Loading older messages…"
                                </span>
                            }
                                .into_any()
                        } else if next_cursor.get().is_some() {
                            view! {
                                <button type="button" data-testid="load-older" class="rounded px-2 py-0.5 hover:underline" on:click=move |_| load(Toward::Older)>
                                    "Load older messages"
                                </button>
                            }
                                .into_any()
                        } else {
                            view! { <span data-testid="history-start">{start}</span> }.into_any()
                        }
                    }}
                </div>
                <For
                    each=move || messages.get()
                    key=|m| (m.id, m.content.len(), m.status, m.edited_at.clone(), m.reason.clone())
                    children=bubble
                />
                <Show when=move || newer_cursor.get().is_some()>
                    <div class="flex justify-center py-1 text-xs text-slate-600 dark:text-slate-400">
                        <button type="button" data-testid="load-newer" class="rounded px-2 py-0.5 hover:underline" on:click=move |_| load(Toward::Newer)>
                            "Load newer messages"
                        </button>
                    </div>
                </Show>
            </div>
            <Show when=move || new_below.get()>
                <button
                    type="button"
                    data-testid="new-messages"
                    class="absolute bottom-2 left-1/2 flex -translate-x-1/2 items-center gap-1 rounded-full bg-indigo-600 px-3 py-1 text-sm text-white shadow-lg"
                    on:click=show_newest
                >
                    <Svg icon=Icon::ArrowDown class="size-4"/>
                    "New messages"
                </button>
            </Show>
        </div>
    }
    .into_any()
}
