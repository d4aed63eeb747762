//! The customer's messages: the shared feed (`components::feed`) with the customer's bubbles,
//! each with its menu (edit, delete after a confirmation, retry, stop).

use leptos::prelude::*;

use crate::components::{browser, feed::FeedList};

use super::ChatState;
use crate::components::icons::{Icon, Svg};
use crate::{
    api::{delete_message, edit_message, retry_reply, thumb_reply},
    markdown::to_safe_html,
    model::{Message, MessageStatus, Role, Source, DRAFT_CHAT_ID, PENDING_ID_BASE},
};

/// The customer's side of the shared feed: their conversation with their own bubbles.
#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        <FeedList
            feed=state.feed
            bubble=|message| view! { <Bubble message/> }
            testid="messages"
            start="This is the start of your conversation"
        />
    }
}

/// The shop's articles a reply cites, as links under it (an article customers may not see is
/// named without its title). Written as Markdown for the renderer the replies use, which makes
/// safe links that open apart.
fn sources_of(sources: &[Source]) -> Option<impl IntoView> {
    if sources.is_empty() {
        return None;
    }
    let mut text = String::from("Sources:");
    for (i, source) in sources.iter().enumerate() {
        let mut title = String::new();
        for c in source.title.as_deref().unwrap_or("the shop's notes").chars() {
            if "\\`*_[]<>".contains(c) {
                title.push('\\');
            }
            title.push(c);
        }
        text.push_str(if i == 0 { " " } else { " · " });
        match &source.url {
            Some(url) => text.push_str(&format!("[{title}]({})", url.replace('(', "%28").replace(')', "%29"))),
            None => text.push_str(&title),
        }
    }
    Some(view! {
        <nav aria-label="Sources" data-testid="sources" class="prose-chat mt-1 px-1 text-xs text-slate-600 dark:text-slate-300"
            inner_html=to_safe_html(&text)></nav>
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Reading,
    Menu,
    Editing,
    ConfirmDelete,
}

#[component]
fn Bubble(message: Message) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let mode = RwSignal::new(Mode::Reading);
    let error = RwSignal::new(None::<String>);
    let draft = RwSignal::new(message.content.clone());
    let original = StoredValue::new(message.content.clone());
    let busy = RwSignal::new(false);
    let id = message.id;
    let pending = id >= PENDING_ID_BASE;
    let role = message.role;
    let own = role == Role::User;
    let created_at = message.created_at.clone();
    let time = move || if state.hydrated.get() { browser::local_time(&created_at) } else { String::new() };

    if role == Role::System {
        return view! {
            <p data-testid="message" data-id=id data-role="system" data-status=message.status.as_str()
                class="self-center px-2 text-center text-xs text-slate-500 dark:text-slate-400">
                <span data-testid="message-content">{message.content}</span>
            </p>
        }
        .into_any();
    }

    let bubble = match role {
        Role::User => "bg-indigo-600 text-white rounded-br-md",
        Role::Agent => "bg-emerald-50 text-slate-900 ring-1 ring-emerald-200 rounded-bl-md dark:bg-emerald-950 dark:text-emerald-50 dark:ring-emerald-800",
        _ => "bg-slate-100 text-slate-900 rounded-bl-md dark:bg-slate-800 dark:text-slate-100",
    };
    let author = match role {
        Role::User => "You".to_string(),
        Role::Agent => message.author.clone().unwrap_or_else(|| "Support team".into()),
        _ => "Assistant".to_string(),
    };
    let agent_name = (role == Role::Agent).then(|| author.clone());
    // Thumbs on the assistant's finished replies to the customer (not the greeting: the first
    // message, or one with no question before it): a second press of the same one takes it off.
    // A reply written again (retried, its question edited) starts without one.
    if role == Role::Assistant && message.status == MessageStatus::Streaming {
        state.thumbs.update_untracked(|t| t.retain(|(m, _)| *m != id));
    }
    let answers = id != DRAFT_CHAT_ID
        && (state.feed.next_cursor.with_untracked(Option::is_some)
            || state.feed.messages.with_untracked(|l| l.iter().any(|m| m.role == Role::User && m.id < id)));
    let thumbs = (role == Role::Assistant && message.status == MessageStatus::Complete && answers && !pending).then(|| {
        let given = move || state.thumbs.with(|t| t.iter().find(|(m, _)| *m == id).map(|&(_, helpful)| helpful));
        let set = move |helpful: bool| {
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            let next = (given() != Some(helpful)).then_some(helpful);
            leptos::task::spawn_local(async move {
                match thumb_reply(state.chat_id(), id, next).await {
                    Ok(()) => {
                        state.thumbs.try_update(|t| {
                            t.retain(|(m, _)| *m != id);
                            t.extend(next.map(|helpful| (id, helpful)));
                        });
                        error.try_set(None);
                    }
                    Err(e) => {
                        error.try_set(Some(e.message));
                    }
                }
                busy.try_set(false);
            });
        };
        let thumb = "min-h-6 min-w-6 rounded hover:bg-slate-200 aria-pressed:bg-indigo-100 dark:hover:bg-slate-700 dark:aria-pressed:bg-indigo-900";
        view! {
            <span role="group" aria-label="Was this helpful?" class="ml-auto flex gap-1">
                <button type="button" data-testid="thumb-up" aria-label="Helpful" class=thumb
                    aria-pressed=move || (given() == Some(true)).to_string() on:click=move |_| set(true)>"👍"</button>
                <button type="button" data-testid="thumb-down" aria-label="Not helpful" class=thumb
                    aria-pressed=move || (given() == Some(false)).to_string() on:click=move |_| set(false)>"👎"</button>
            </span>
        }
    });
    // Read marks on the customer's own messages: sent (saved), delivered (on a staff member's
    // screen), read (staff read it).
    let receipt = move || {
        if !own || pending {
            return None;
        }
        let (read, delivered) = state.chat.with(|c| (c.staff_read_up_to >= id, c.staff_delivered_up_to >= id));
        // Only the newest of the customer's messages carries the mark, as in most messengers.
        let newest = state.feed.messages.with(|list| {
            list.iter().rev().find(|m| m.role == Role::User && m.id < PENDING_ID_BASE).map(|m| m.id) == Some(id)
        });
        // (the mark tests read, what people read)
        newest.then_some(if read {
            ("read", "Read")
        } else if delivered {
            ("delivered", "Delivered")
        } else {
            ("sent", "Sent")
        })
    };
    let streaming = message.status == MessageStatus::Streaming;
    let ended_badly =
        matches!(message.status, MessageStatus::Failed | MessageStatus::Stopped | MessageStatus::Interrupted);
    // A reply that ended with no text has no bubble: the sentence under it says what happened.
    let no_bubble = ended_badly && message.content.trim().is_empty();
    let why = ended_reason(&message);
    let content = message.content.clone();
    let body = move || {
        if own {
            view! { <div data-testid="message-content" class="whitespace-pre-wrap break-words">{content.clone()}</div> }
                .into_any()
        } else {
            view! { <div data-testid="message-content" class="prose-chat break-words" inner_html=to_safe_html(&content)></div> }
                .into_any()
        }
    };

    let save = move || {
        let content = draft.get_untracked();
        if content.trim().is_empty() {
            error.set(Some("The message is empty.".into()));
            return;
        }
        busy.set(true);
        let chat_id = state.chat_id();
        leptos::task::spawn_local(async move {
            match edit_message(chat_id, id, content).await {
                Ok(()) => mode.set(Mode::Reading),
                // The edited text stays in the box.
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let remove = move || {
        busy.set(true);
        let chat_id = state.chat_id();
        leptos::task::spawn_local(async move {
            match delete_message(chat_id, id).await {
                Ok(()) => state.feed.messages.update(|list| list.retain(|m| m.id != id)),
                Err(e) => {
                    error.set(Some(e.message));
                    mode.set(Mode::Reading);
                }
            }
            busy.set(false);
        });
    };
    let retry = move |_| {
        let chat_id = state.chat_id();
        leptos::task::spawn_local(async move {
            if let Err(e) = retry_reply(chat_id, id).await {
                error.set(Some(e.message));
            }
        });
    };
    let menu_id = StoredValue::new(format!("menu-{id}"));
    let edit_id = format!("edit-{id}");
    let edit_focus = StoredValue::new(edit_id.clone());

    view! {
        <article
            data-testid="message"
            data-id=id
            data-role=role.as_str()
            data-status=message.status.as_str()
            aria-label=author.clone()
            class=if own { "group relative flex max-w-[85%] flex-col items-end self-end" } else { "group relative flex max-w-[85%] flex-col items-start self-start" }
            on:contextmenu=move |ev| {
                if !pending {
                    ev.prevent_default();
                    mode.set(Mode::Menu);
                }
            }
            on:keydown=move |ev| {
                if ev.key() == "Escape" && mode.get_untracked() != Mode::Reading {
                    ev.stop_propagation();
                    if mode.get_untracked() == Mode::Editing {
                        draft.set(original.get_value());
                    }
                    mode.set(Mode::Reading);
                    error.set(None);
                }
            }
        >
            <Show
                when=move || mode.get() == Mode::Editing
                fallback=move || {
                    (!no_bubble).then(|| view! {
                        <div class=format!("rounded-2xl px-3.5 py-2 {bubble}")>
                            {body.clone()()}
                            <Show when=move || streaming>
                                <span data-testid="caret" class="ml-0.5 inline-block h-4 w-1.5 animate-pulse rounded-sm bg-current align-middle" aria-hidden="true"></span>
                            </Show>
                        </div>
                    })
                }
            >
                <form
                    class="flex w-72 max-w-full flex-col gap-2 rounded-2xl border border-indigo-300 bg-white p-2 dark:border-indigo-700 dark:bg-slate-900"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        save();
                    }
                >
                    <label for=edit_id.clone() class="sr-only">"Edit your message"</label>
                    <textarea
                        id=edit_id.clone()
                        data-testid="edit-input"
                        rows="3"
                        class="w-full resize-y rounded-lg border border-slate-300 bg-white p-2 text-slate-900 dark:border-slate-600 dark:bg-slate-950 dark:text-slate-100"
                        bind:value=draft
                    ></textarea>
                    <div class="flex justify-end gap-1">
                        <button type="button" data-testid="edit-cancel" aria-label="Cancel editing"
                            class="rounded-lg p-1.5 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
                            on:click=move |_| {
                                draft.set(original.get_value());
                                error.set(None);
                                mode.set(Mode::Reading);
                            }>
                            <Svg icon=Icon::X class="size-4"/>
                        </button>
                        <button type="submit" data-testid="edit-confirm" aria-label="Save and regenerate the reply"
                            class="rounded-lg bg-indigo-600 p-1.5 text-white hover:bg-indigo-700 disabled:opacity-50"
                            disabled=move || busy.get()>
                            <Svg icon=Icon::Check class="size-4"/>
                        </button>
                    </div>
                </form>
            </Show>
            {sources_of(&message.sources)}
            {message.unanswered.then(|| view! { <super::composer::TalkToPerson under_reply=true/> })}
            <div class="mt-0.5 flex items-center gap-2 px-1 text-xs text-slate-500 dark:text-slate-400">
                {agent_name.map(|name| view! { <span data-testid="author" class="font-medium text-emerald-800 dark:text-emerald-300">{name}</span> })}
                <time datetime=message.created_at.clone()>{time}</time>
                {message.edited_at.as_ref().map(|_| view! { <span>"edited"</span> })}
                {pending.then(|| view! { <span data-testid="sending">"Sending…"</span> })}
                {move || receipt().map(|(mark, label)| view! { <span data-testid="receipt" data-mark=mark>{label}</span> })}
                {thumbs}
            </div>
            {ended_badly.then(|| view! {
                <div class="mt-1 flex items-center gap-2 px-1 text-xs">
                    <span data-testid="failure-reason" class="text-red-700 dark:text-red-300">{why.clone()}</span>
                    <button type="button" data-testid="retry" class="flex items-center gap-1 rounded px-1.5 py-0.5 font-medium text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-slate-800"
                        on:click=retry>
                        <Svg icon=Icon::RotateCcw class="size-3.5"/>
                        "Retry"
                    </button>
                </div>
            })}
            <Show when=move || error.get().is_some()>
                <p role="alert" data-testid="message-error" class="mt-1 px-1 text-xs text-red-700 dark:text-red-300">{move || error.get()}</p>
            </Show>
            // Only the customer's own messages have actions (edit, delete): replies are the
            // shop's record of the conversation, and the server refuses to delete them.
            <Show when=move || own && !pending && !streaming && mode.get() != Mode::Editing>
                <div class=if own { "absolute top-1 -left-9" } else { "absolute top-1 -right-9" }>
                    <button
                        type="button"
                        data-testid="message-menu-button"
                        aria-label="Message actions"
                        aria-haspopup="menu"
                        aria-expanded=move || (mode.get() == Mode::Menu).to_string()
                        aria-controls=menu_id.get_value()
                        class="rounded-full p-1 text-slate-500 opacity-0 group-hover:opacity-100 group-focus-within:opacity-100 hover:bg-slate-100 focus:opacity-100 aria-expanded:opacity-100 dark:hover:bg-slate-800"
                        id=format!("menu-button-{id}")
                        on:click=move |_| {
                            let opening = mode.get_untracked() != Mode::Menu;
                            mode.set(if opening { Mode::Menu } else { Mode::Reading });
                            if opening {
                                browser::after_render(move || browser::focus_by_id(&format!("menu-{id}-first")));
                            }
                        }
                    >
                        <Svg icon=Icon::Ellipsis class="size-4"/>
                    </button>
                </div>
                // Anchored to the message's outer edge, so it stays inside the window for
                // messages of any length.
                <Show when=move || mode.get() == Mode::Menu>
                    <div
                        id=menu_id.get_value()
                        on:keydown=move |ev| {
                            let key = ev.key();
                            if key == "Escape" {
                                ev.stop_propagation();
                                mode.set(Mode::Reading);
                                browser::focus_by_id(&format!("menu-button-{id}"));
                            } else if key == "ArrowDown" || key == "ArrowUp" {
                                ev.prevent_default();
                                browser::move_focus_within(&format!("menu-{id}"), if key == "ArrowDown" { 1 } else { -1 });
                            }
                        }
                        role="menu"
                        data-testid="message-menu"
                        aria-label="Message actions"
                        class=if own { "absolute top-8 right-0 z-10 w-32 rounded-lg border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-800" } else { "absolute top-8 left-0 z-10 w-32 rounded-lg border border-slate-200 bg-white py-1 shadow-lg dark:border-slate-700 dark:bg-slate-800" }
                    >
                        {own.then(|| {
                            let edit_id = edit_focus.get_value();
                            view! {
                                <button type="button" role="menuitem" data-testid="menu-edit" id=format!("menu-{id}-first")
                                    class="flex w-full items-center gap-2 px-3 py-1.5 text-left text-sm hover:bg-slate-100 focus:bg-slate-100 dark:hover:bg-slate-700 dark:focus:bg-slate-700"
                                    on:click=move |_| {
                                        mode.set(Mode::Editing);
                                        let edit_id = edit_id.clone();
                                        browser::after_render(move || browser::focus_by_id(&edit_id));
                                    }>
                                    <Svg icon=Icon::Pencil class="size-4"/>
                                    "Edit"
                                </button>
                            }
                        })}
                        <button type="button" role="menuitem" data-testid="menu-delete"
                            id=if own { format!("menu-{id}-delete") } else { format!("menu-{id}-first") }
                            class="flex w-full items-center gap-2 px-3 py-1.5 text-left text-sm text-red-700 hover:bg-slate-100 focus:bg-slate-100 dark:text-red-300 dark:hover:bg-slate-700 dark:focus:bg-slate-700"
                            on:click=move |_| {
                                mode.set(Mode::ConfirmDelete);
                                browser::after_render(move || browser::focus_by_id(&format!("delete-cancel-{id}")));
                            }>
                            <Svg icon=Icon::Trash class="size-4"/>
                            "Delete"
                        </button>
                    </div>
                </Show>
            </Show>
            <Show when=move || mode.get() == Mode::ConfirmDelete>
                <div
                    role="alertdialog"
                    aria-modal="false"
                    aria-labelledby=format!("delete-title-{id}")
                    data-testid="delete-confirm"
                    class="mt-1 flex flex-col gap-2 rounded-xl border border-red-200 bg-white p-3 text-sm shadow-lg dark:border-red-900 dark:bg-slate-800"
                >
                    <p id=format!("delete-title-{id}")>"Delete this message? This cannot be undone."</p>
                    <div class="flex justify-end gap-2">
                        <button type="button" data-testid="delete-cancel" id=format!("delete-cancel-{id}")
                            class="rounded-lg px-3 py-1 hover:bg-slate-100 dark:hover:bg-slate-700"
                            on:click=move |_| {
                                mode.set(Mode::Reading);
                                browser::focus_by_id(&format!("menu-button-{id}"));
                            }>
                            "Cancel"
                        </button>
                        <button type="button" data-testid="delete-confirm-button"
                            class="rounded-lg bg-red-600 px-3 py-1 font-medium text-white hover:bg-red-700 disabled:opacity-50"
                            disabled=move || busy.get()
                            on:click=move |_| remove()>
                            "Delete"
                        </button>
                    </div>
                </div>
            </Show>
        </article>
    }
    .into_any()
}

/// What the customer reads under a reply that did not end well: a plain sentence, never the
/// upstream's technical words (staff see those in the panel).
fn ended_reason(message: &Message) -> String {
    match message.status {
        MessageStatus::Failed if message.content.trim().is_empty() => {
            "Sorry, the assistant couldn't answer this time.".into()
        }
        MessageStatus::Failed => "The reply was cut off before it finished.".into(),
        MessageStatus::Interrupted => "The reply was interrupted before it finished.".into(),
        // "stopped before it finished": the service's own words for a Stop.
        _ => message.reason.clone().unwrap_or_else(|| "The reply did not finish.".into()),
    }
}
