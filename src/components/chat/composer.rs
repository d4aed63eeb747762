//! The input box and footer: the customer's avatar, an auto-growing text box with the chosen send
//! key, a counter near the limit, optimistic sending (also while a reply streams: the server
//! answers a burst of messages with one reply), Stop while a reply streams and the box is empty,
//! the context menu, "Talk to a person" and the settings gear.

use leptos::{html, prelude::*};

use crate::components::browser;

use super::ChatState;
use crate::components::{
    icons::{Icon, Svg},
    live,
};
use crate::{
    api::{handoff, stop_reply, update_chat},
    model::{Message, MessageStatus, Role, SendKey, PENDING_ID_BASE},
};

#[component]
pub fn Composer(on_settings: Callback<()>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let typing_sent = StoredValue::new(0.0f64);
    let draft = RwSignal::new(String::new());
    let textarea = NodeRef::<html::Textarea>::new();
    let next_pending = StoredValue::new(PENDING_ID_BASE);
    let max = state.max_chars;
    let length = Memo::new(move |_| draft.with(|d| d.chars().count()));
    let over = move || length.get() > max;
    let streaming = Memo::new(move |_| state.streaming_reply());

    let grow = move || {
        if let Some(el) = textarea.get_untracked() {
            let _ = el.style(("height", "auto"));
            let height = el.scroll_height().min(160);
            let _ = el.style(("height", format!("{height}px")));
        }
    };

    // Words typed before the page hydrated (a slow connection, a quick customer) reached the
    // text box but not the draft: its handlers were not there yet. Once they are, take them in.
    Effect::new(move |_| {
        if let Some(el) = textarea.get() {
            let typed = el.value();
            if !typed.is_empty() && draft.with_untracked(String::is_empty) {
                draft.set(typed);
                grow();
            }
        }
    });

    let send = move || {
        let content = draft.get_untracked();
        if content.trim().is_empty() || content.chars().count() > max {
            return;
        }
        state.notice.set(None);
        // Sending shows the newest messages and follows the reply.
        state.feed.follow_bottom.set(true);
        let pending_id = next_pending.get_value();
        next_pending.set_value(pending_id + 1);
        // Names this send: the saved message replaces the optimistic copy that carries it, and a
        // repeated request cannot create a second message.
        let client_id = browser::client_id();
        let chat_id = state.chat_id();
        // Shown at once; replaced by the saved message, or rolled back.
        state.feed.messages.update(|list| {
            list.push(Message {
                id: pending_id,
                chat_id,
                role: Role::User,
                author: None,
                content: content.clone(),
                status: MessageStatus::Complete,
                reason: None,
                created_at: String::new(),
                edited_at: None,
                usage: None,
                client_id: Some(client_id.clone()),
                sources: Vec::new(),
                unanswered: false,
            })
        });
        draft.set(String::new());
        grow();
        leptos::task::spawn_local(async move {
            let result = state.send(content.clone(), client_id).await;
            // The window may have closed meanwhile: everything below reads with try_.
            if state.feed.newer_cursor.try_get_untracked().flatten().is_some() {
                state.feed.jump_to_latest().await;
            }
            state.feed.messages.try_update(|list| {
                list.retain(|m| m.id != pending_id);
                if let Ok(saved) = &result {
                    if let Err(at) = list.binary_search_by_key(&saved.id, |m| m.id) {
                        list.insert(at, saved.clone());
                    }
                }
            });
            if let Err(e) = result {
                // The text goes back into the box, ahead of anything typed since: never lost.
                draft.try_update(|typed| {
                    *typed = if typed.is_empty() { content } else { format!("{content}\n{typed}") };
                });
                state.notice.try_set(Some(e.message));
            }
        });
    };

    let stop = move || {
        let Some(reply) = streaming.get_untracked() else { return };
        let chat_id = state.chat_id();
        leptos::task::spawn_local(async move {
            if let Err(e) = stop_reply(chat_id, reply).await {
                state.notice.set(Some(e.message));
            }
        });
    };

    let change_context = move |ev: leptos::ev::Event| {
        let context = event_target_value(&ev);
        leptos::task::spawn_local(async move {
            // A draft starts in the context picked (no "Switched to" line); when another action
            // was already starting it, the context is switched once it exists.
            let chat_id = match state.started(Some(context.clone())).await {
                Ok(chat_id) => chat_id,
                Err(e) => {
                    // The select shows the chat's context again.
                    state.chat.try_update(|_| ());
                    state.notice.try_set(Some(e.message));
                    return;
                }
            };
            if state.chat.try_with_untracked(|c| c.context == context) != Some(false) {
                return;
            }
            match update_chat(chat_id, Some(context), None, None).await {
                Ok(chat) => {
                    state.chat.try_set(chat);
                }
                Err(e) => {
                    state.chat.try_update(|_| ());
                    state.notice.try_set(Some(e.message));
                }
            }
        });
    };

    view! {
        <form
            class="border-t border-slate-200 px-3 pt-2 pb-2 dark:border-slate-700"
            on:submit=move |ev| {
                ev.prevent_default();
                if draft.with_untracked(|d| d.trim().is_empty()) && streaming.get_untracked().is_some() {
                    stop()
                } else {
                    send()
                }
            }
        >
            <div class="flex items-end gap-2">
                <span class="mb-1 flex size-8 shrink-0 items-center justify-center rounded-full bg-slate-200 text-slate-600 dark:bg-slate-700 dark:text-slate-200" aria-hidden="true">
                    <Svg icon=Icon::User class="size-4"/>
                </span>
                <label for="composer" class="sr-only">"Your message"</label>
                <textarea
                    id="composer"
                    node_ref=textarea
                    data-testid="composer"
                    rows="1"
                    // Short enough for a 320 px phone; the send key is said below (from tablets up).
                    placeholder="Write a message…"
                    aria-describedby="composer-help"
                    aria-invalid=move || over().to_string()
                    class="max-h-40 min-h-10 flex-1 resize-none rounded-2xl border border-slate-300 bg-white px-3 py-2 text-slate-900 placeholder:text-slate-500 focus:border-indigo-500 focus:outline-none dark:border-slate-600 dark:bg-slate-950 dark:text-slate-100 dark:placeholder:text-slate-400"
                    bind:value=draft
                    on:input=move |_| {
                        grow();
                        live::typing_ping(state.outbox, typing_sent);
                    }
                    on:keydown=move |ev| {
                        if ev.key() != "Enter" || ev.is_composing() {
                            return;
                        }
                        let sends = match state.prefs.with_untracked(|p| p.send_key) {
                            SendKey::ShiftEnter => ev.shift_key(),
                            SendKey::Enter => !ev.shift_key(),
                        };
                        if sends {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
            </div>
            <p id="composer-help" data-testid="composer-help" class="sr-only sm:not-sr-only sm:mt-1 sm:block sm:pl-10 sm:text-xs sm:text-slate-500 dark:sm:text-slate-400">
                {move || match state.prefs.with(|p| p.send_key) {
                    SendKey::ShiftEnter => "Press Shift+Enter to send, Enter for a new line.",
                    SendKey::Enter => "Press Enter to send, Shift+Enter for a new line.",
                }}
            </p>
            <Show when=move || { length.get() * 10 >= max * 9 }>
                <p
                    data-testid="char-counter"
                    aria-live="polite"
                    class=move || if over() { "mt-1 text-right text-xs font-medium text-red-700 dark:text-red-300" } else { "mt-1 text-right text-xs text-slate-500 dark:text-slate-400" }
                >
                    {move || {
                        let len = length.get();
                        if len > max {
                            format!("{len} / {max} — {} characters over the limit; shorten it to send", len - max)
                        } else {
                            format!("{len} / {max}")
                        }
                    }}
                </p>
            </Show>
            <div class="mt-2 flex items-center gap-2">
                <label for="context-select" class="sr-only">"Topic"</label>
                <select
                    id="context-select"
                    data-testid="context-select"
                    class="min-w-0 flex-1 rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-900"
                    on:change=change_context
                    prop:value=move || state.chat.with(|c| c.context.clone())
                >
                    // `prop:value` keeps the choice; `selected` shows it before the page hydrates.
                    {move || {
                        let current = state.chat.with_untracked(|chat| chat.context.clone());
                        state.contexts.get().into_iter().map(|c| {
                            let selected = c.id == current;
                            view! { <option value=c.id selected=selected>{c.label}</option> }
                        }).collect_view()
                    }}
                </select>
                <TalkToPerson/>
                <button type="button" data-testid="settings-button" aria-label="Settings" aria-haspopup="dialog"
                    class="rounded-lg p-1.5 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
                    on:click=move |_| on_settings.run(())>
                    <Svg icon=Icon::Settings/>
                </button>
                <Show
                    when=move || streaming.get().is_some() && draft.with(|d| d.trim().is_empty())
                    fallback=move || view! {
                        <button type="submit" data-testid="send" aria-label="Send message"
                            class="rounded-full bg-indigo-600 p-2 text-white hover:bg-indigo-700 disabled:cursor-not-allowed disabled:opacity-40"
                            disabled=move || over() || draft.with(|d| d.trim().is_empty())>
                            <Svg icon=Icon::Send class="size-4"/>
                        </button>
                    }
                >
                    <button type="submit" data-testid="stop" aria-label="Stop the reply"
                        class="rounded-full bg-slate-800 p-2 text-white hover:bg-slate-700 dark:bg-slate-200 dark:text-slate-900">
                        <Svg icon=Icon::Square class="size-4"/>
                    </button>
                </Show>
            </div>
        </form>
    }
    .into_any()
}

/// "Talk to a person": the assistant pauses and the chat waits for staff (the banner above the
/// transcript says so from then on). On a phone only its icon shows; its name stays the same.
/// Beside the composer, and under a reply that could not answer (`under_reply`).
#[component]
pub(super) fn TalkToPerson(#[prop(optional)] under_reply: bool) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let asking = RwSignal::new(false);
    let ask = move |_| {
        asking.set(true);
        leptos::task::spawn_local(async move {
            let result = async { handoff(state.started(None).await?).await }.await;
            match result {
                Ok(chat) => {
                    state.chat.try_set(chat);
                }
                Err(e) => {
                    state.notice.try_set(Some(e.message));
                }
            }
            asking.try_set(false);
        });
    };
    view! {
        <Show when=move || state.chat.with(|c| c.ai_enabled)>
            <button
                type="button"
                data-testid=if under_reply { "talk-to-person-under-reply" } else { "talk-to-person" }
                aria-label="Talk to a person"
                title="Talk to a person"
                class="flex shrink-0 items-center gap-1.5 rounded-lg px-2 py-1.5 text-sm text-slate-700 hover:bg-slate-100 disabled:opacity-50 dark:text-slate-200 dark:hover:bg-slate-800"
                disabled=move || asking.get()
                on:click=ask
            >
                <Svg icon=Icon::Headset class="size-4"/>
                <span class="hidden min-[360px]:inline" aria-hidden="true">"Talk to a person"</span>
            </button>
        </Show>
    }
}
