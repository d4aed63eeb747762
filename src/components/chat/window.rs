//! The chat window: launcher, frame (open, maximized, minimized, closed, popped out), header, and
//! the state its parts share.

use leptos::prelude::*;

use crate::components::browser;

use super::{composer::Composer, messages::MessageList, settings::SettingsDialog, ChatState};
use crate::components::{
    feed::{Feed, Pages},
    icons::{Icon, Svg},
    live,
};
use crate::{
    api::{load_chat, mark_read, rate_chat, update_chat, ChatView},
    model::{ChatStatus, MessageStatus, Product, Role, TextSize, Theme, WindowMode, DRAFT_CHAT_ID, PENDING_ID_BASE},
};

/// The chat window, with its launcher, for any page.
#[component]
pub fn ChatWindow(
    /// The product the page shows: the chat is about it.
    #[prop(optional_no_strip)]
    product_id: Option<String>,
    /// Inside the embed iframe or a pop-out: the window fills the page and has no launcher.
    #[prop(optional)]
    embedded: bool,
    /// On a product's page: no window (rather than an error) when the product does not exist.
    #[prop(optional)]
    hide_without_product: bool,
) -> impl IntoView {
    let data = Resource::new(move || product_id.clone(), load_chat);
    // Embedded on another site, the page came without the visitor (their token stays in the
    // browser): load their conversation again with it.
    Effect::new(move |_| {
        if browser::embed_token().is_some_and(|token| !token.is_empty()) {
            data.refetch();
        }
    });
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Window view embedded/> }.into_any(),
                    Err(error) if hide_without_product && error.code == "not_found" => {
                        Effect::new(|_| browser::mark_hydrated());
                        ().into_any()
                    }
                    Err(error) => {
                        Effect::new(|_| browser::mark_hydrated());
                        view! {
                            <div role="alert" class="fixed right-4 bottom-4 rounded-xl bg-red-50 p-3 text-sm text-red-800 shadow">
                                "The chat is unavailable right now: "
                                {error.message}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn theme_class(theme: Theme) -> &'static str {
    match theme {
        Theme::Light => "",
        Theme::Dark => "dark",
        Theme::System => "theme-system",
    }
}

fn text_class(size: TextSize) -> &'static str {
    match size {
        TextSize::Small => "text-sm",
        TextSize::Medium => "text-[15px]",
        TextSize::Large => "text-lg",
    }
}

/// The launcher's element id (focus returns to it when the window goes).
const LAUNCHER_ID: &str = "fd-launcher";
/// The window's element id (focus goes to it when it opens on a phone).
const WINDOW_ID: &str = "fd-chat-window";

#[component]
fn Window(view: ChatView, embedded: bool) -> impl IntoView {
    // The page's last part to hydrate (inside the window's Suspense): the page is ready.
    Effect::new(|_| browser::mark_hydrated());
    let ChatView {
        chat,
        page,
        contexts,
        max_chars,
        preferences,
        product,
        window,
        title,
        subtitle,
        welcome,
        away,
        thumbs,
        rating,
    } = view;
    let chat = RwSignal::new(chat);
    let notice = RwSignal::new(None);
    let live_after = StoredValue::new(page.last_seq);
    let state = ChatState {
        chat,
        feed: Feed::new(Pages::Customer(chat), page, notice),
        prefs: RwSignal::new(preferences),
        contexts: RwSignal::new(contexts),
        max_chars,
        notice,
        hydrated: browser::mounted(),
        link: RwSignal::new(live::Link::Connecting),
        outbox: StoredValue::new(live::Outbox::default()),
        typing: live::TypingIndicator::new(),
        live_after,
        starting: StoredValue::new(None),
        away,
        thumbs: RwSignal::new(thumbs),
        rating: RwSignal::new(rating),
    };
    provide_context(state);
    // A new resolution (seen live) is a new one to rate.
    Effect::new(move |before: Option<ChatStatus>| {
        let now = state.chat.with(|c| c.status);
        if before.is_some_and(|b| b != ChatStatus::Resolved) && now == ChatStatus::Resolved {
            state.rating.set(None);
        }
        now
    });
    let mode = RwSignal::new(if embedded { WindowMode::Open } else { window });
    let settings_open = RwSignal::new(false);
    let unread = RwSignal::new(0u32);
    let chat_id = Memo::new(move |_| state.chat.with(|c| c.id));

    // The live feed, once there is a conversation (a draft has no events).
    Effect::new(move |_| {
        let chat_id = chat_id.get();
        if chat_id != DRAFT_CHAT_ID {
            let path = format!("/api/v1/chats/{chat_id}/ws");
            let on_chat = move |chat| match chat {
                Some(chat) => state.chat.set(chat),
                None => state.start_over(),
            };
            let outbox = state.feed.follow(
                path,
                state.live_after.get_value(),
                state.link,
                (state.typing, Role::Agent),
                Some(state.contexts),
                on_chat,
            );
            state.outbox.set_value(outbox);
        }
    });
    // Unread replies while the window is not showing; a tone when asked for. Counted per chat: a
    // draft that became a conversation (another tab's, with its history) has nothing new.
    Effect::new(move |previous: Option<(i64, usize)>| {
        let this_chat = chat_id.get();
        let finished = state
            .feed
            .messages
            .with(|list| list.iter().filter(|m| m.role != Role::User && m.status != MessageStatus::Streaming).count());
        if let Some((_, previous)) = previous.filter(|(chat, _)| *chat == this_chat) {
            if finished > previous {
                let new = (finished - previous) as u32;
                if embedded {
                    // The host page knows whether the iframe shows; it keeps the count.
                    browser::post_to_host("reply", new);
                } else if !mode.get_untracked().is_visible() {
                    unread.update(|n| *n += new);
                }
                if state.prefs.with_untracked(|p| p.sound) {
                    browser::beep();
                }
            }
        }
        (this_chat, finished)
    });
    // Staff replies the customer sees are read: tell the team (once per new reply).
    let page_visible = browser::page_visible();
    Effect::new(move |_| {
        let visible = mode.get().is_visible() && page_visible.get();
        let newest_staff = state
            .feed
            .messages
            .with(|list| list.iter().rev().find(|m| m.role == Role::Agent && m.id < PENDING_ID_BASE).map(|m| m.id));
        let read = state.chat.with_untracked(|c| c.customer_read_up_to);
        if let (true, Some(newest)) = (visible, newest_staff) {
            if newest > read {
                let chat_id = state.chat_id();
                state.chat.update(|c| c.customer_read_up_to = newest);
                leptos::task::spawn_local(async move {
                    let _ = mark_read(chat_id, newest).await;
                });
            }
        }
    });
    let set_mode = move |next: WindowMode| {
        let was_visible = mode.get_untracked().is_visible();
        mode.set(next);
        // Focus follows: into the window when it opens (the composer; on a phone the window
        // itself, so the keyboard does not cover the conversation), back to the launcher when it
        // goes (after the render that shows them).
        if !embedded && next.is_visible() != was_visible {
            let target = match (next.is_visible(), browser::is_narrow()) {
                (true, false) => "composer",
                (true, true) => WINDOW_ID,
                (false, _) => LAUNCHER_ID,
            };
            browser::after_render(move || browser::focus_by_id(target));
        }
        if next.is_visible() {
            unread.set(0);
        }
        if embedded {
            if !next.is_visible() {
                browser::post_to_host("close", 0);
            }
        } else {
            browser::set_cookie(WindowMode::COOKIE, next.as_str());
        }
    };
    let pop_out = move |_| {
        // An embedded window's pop-out finds the visitor's token on the window that opened it.
        let url = match state.chat.with_untracked(|c| c.product_id.clone()) {
            Some(id) => format!("/widget?product_id={id}"),
            None => "/widget".to_string(),
        };
        if browser::open_popup(&url) {
            set_mode(WindowMode::Minimized);
        } else {
            state.notice.set(Some("Your browser blocked the pop-out window.".into()));
        }
    };

    let frame_class = move || {
        let size = match (embedded, mode.get()) {
            (true, _) => "fixed inset-0",
            (false, WindowMode::Maximized) => "fixed inset-0 sm:inset-4 sm:rounded-2xl",
            _ => "fixed inset-0 sm:inset-auto sm:right-(--fd-right) sm:left-(--fd-left) sm:bottom-5 sm:h-[min(680px,calc(100dvh-2.5rem))] sm:w-[400px] sm:rounded-2xl",
        };
        let prefs = state.prefs.get();
        format!(
            "{size} {} {} z-[2147483000] flex flex-col focus:outline-none overflow-hidden border border-slate-200 bg-white text-slate-900 shadow-2xl dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100",
            theme_class(prefs.theme),
            text_class(prefs.text_size),
        )
    };

    // The shop's welcome beside the launcher; on a product page, by default, an offer to help.
    let prompt = match (welcome.is_empty(), &product) {
        (false, _) => Some(welcome),
        (true, Some(_)) => Some("Ask about this product".to_string()),
        (true, None) => None,
    };
    view! {
        <Show when=move || !embedded && !mode.get().is_visible()>
            {prompt.clone().map(|text| view! {
                <Show when=move || unread.get() == 0>
                    <button
                        type="button"
                        data-testid="launcher-prompt"
                        class="fixed right-(--fd-prompt-right) left-(--fd-prompt-left) bottom-8 z-[2147483000] rounded-full border border-slate-200 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 shadow-md hover:bg-slate-50"
                        on:click=move |_| set_mode(WindowMode::Open)
                    >
                        {text.clone()}
                    </button>
                </Show>
            })}
            <button
                type="button"
                id=LAUNCHER_ID
                data-testid="launcher"
                aria-label=move || match unread.get() {
                    0 => "Open chat".to_string(),
                    n => format!("Open chat, {n} unread"),
                }
                class="fixed right-(--fd-right) left-(--fd-left) bottom-5 z-[2147483000] flex size-14 items-center justify-center rounded-full bg-indigo-600 text-white shadow-lg hover:bg-indigo-700 focus-visible:outline-offset-4"
                on:click=move |_| set_mode(WindowMode::Open)
            >
                <Svg icon=Icon::MessageCircle class="size-7"/>
                <Show when=move || { unread.get() > 0 }>
                    <span
                        data-testid="unread-badge"
                        class="absolute -top-1 -right-1 min-w-5 rounded-full bg-red-600 px-1.5 text-xs leading-5 font-semibold text-white"
                    >
                        {move || unread.get()}
                    </span>
                </Show>
            </button>
        </Show>
        // Minimized keeps the window (draft, scroll) mounted but hidden; closed unmounts it.
        <Show when=move || embedded || mode.get() != WindowMode::Closed>
            <section
                data-testid="chat-window"
                id=WINDOW_ID
                tabindex="-1"
                data-chat-id=move || chat_id.get()
                data-mode=move || mode.get().as_str()
                role="region"
                aria-label="Chat with Frontdesk"
                class=frame_class
                hidden=move || !mode.get().is_visible()
            >
                <Header
                    product=product.clone()
                    title=title.clone()
                    subtitle=subtitle.clone()
                    embedded
                    maximized=Signal::derive(move || mode.get() == WindowMode::Maximized)
                    on_minimize=Callback::new(move |_| set_mode(WindowMode::Minimized))
                    on_close=Callback::new(move |_| set_mode(WindowMode::Closed))
                    on_toggle_max=Callback::new(move |_| {
                        set_mode(if mode.get_untracked() == WindowMode::Maximized { WindowMode::Open } else { WindowMode::Maximized })
                    })
                    on_pop_out=Callback::new(pop_out)
                />
                <HandoffBanner/>
                <Show when=move || state.link.get() == live::Link::Reconnecting>
                    <p data-testid="link-status" role="status" class="bg-slate-100 px-4 py-1 text-center text-xs text-slate-700 dark:bg-slate-800 dark:text-slate-200">
                        "Reconnecting…"
                    </p>
                </Show>
                <MessageList/>
                <Show when=move || state.typing.who.with(Option::is_some)>
                    <p data-testid="typing" role="status" class="px-4 pb-1 text-xs text-slate-500 dark:text-slate-400">
                        {move || state.typing.who.get().map(|who| format!("{who} is typing…"))}
                    </p>
                </Show>
                <Show when=move || state.notice.get().is_some()>
                    <p role="alert" data-testid="notice" class="mx-3 mb-1 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
                        {move || state.notice.get()}
                    </p>
                </Show>
                <RatingPrompt/>
                <Composer on_settings=Callback::new(move |_| settings_open.set(true))/>
                <Show when=move || settings_open.get()>
                    <SettingsDialog on_close=Callback::new(move |_| settings_open.set(false))/>
                </Show>
            </section>
        </Show>
    }
    .into_any()
}

#[component]
fn Header(
    product: Option<Product>,
    title: String,
    subtitle: String,
    embedded: bool,
    maximized: Signal<bool>,
    on_minimize: Callback<()>,
    on_close: Callback<()>,
    on_toggle_max: Callback<()>,
    on_pop_out: Callback<()>,
) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let subheader = move || {
        if !subtitle.is_empty() {
            return subtitle.clone();
        }
        let chat = state.chat.get();
        let context = state.context_label(&chat.context);
        match (&product, context) {
            (Some(p), Some(c)) => format!("{} · about {}", c.description, p.name),
            (None, Some(c)) => c.description,
            (Some(p), None) => format!("About {}", p.name),
            (None, None) => String::new(),
        }
    };
    let button = "rounded-lg p-1 text-indigo-100 hover:bg-white/15 hover:text-white";
    let wide_only = "hidden rounded-lg p-1 text-indigo-100 hover:bg-white/15 hover:text-white sm:block";
    view! {
        <header class="flex items-center gap-3 bg-indigo-600 px-4 py-3 text-white">
            <span class="fd-avatar flex size-9 shrink-0 items-center justify-center rounded-full bg-white/15">
                <Svg icon=Icon::Bot/>
            </span>
            <div class="min-w-0 flex-1">
                <h2 data-testid="window-title" class="truncate font-semibold">{title}</h2>
                // White like the title: the brand colour is only checked against white.
                <p data-testid="subheader" class="text-sm leading-snug text-white">{subheader}</p>
            </div>
            <Show when=move || !embedded>
                // On a phone the window already fills the screen: no pop-out or maximize there.
                <button type="button" class=wide_only data-testid="pop-out" aria-label="Open in a new window" title="Open in a new window"
                    on:click=move |_| on_pop_out.run(())>
                    <Svg icon=Icon::ExternalLink class="size-4"/>
                </button>
                <button
                    type="button"
                    class=wide_only
                    data-testid="maximize"
                    aria-label=move || if maximized.get() { "Restore size" } else { "Maximize" }
                    aria-pressed=move || maximized.get().to_string()
                    on:click=move |_| on_toggle_max.run(())
                >
                    {move || if maximized.get() { view! { <Svg icon=Icon::Minimize class="size-4"/> } } else { view! { <Svg icon=Icon::Maximize class="size-4"/> } }}
                </button>
            </Show>
            <button type="button" class=button data-testid="minimize" aria-label="Minimize" on:click=move |_| on_minimize.run(())>
                <Svg icon=Icon::Minus class="size-4"/>
            </button>
            <button type="button" class=button data-testid="close" aria-label="Close chat" on:click=move |_| on_close.run(())>
                <Svg icon=Icon::X class="size-4"/>
            </button>
        </header>
    }
    .into_any()
}

/// Shown once the customer asked for a person (the button to ask is in the composer's footer).
#[component]
fn HandoffBanner() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let person = move || {
        state
            .feed
            .messages
            .with(|list| list.iter().rev().find(|m| m.role == Role::Agent).and_then(|m| m.author.clone()))
    };
    view! {
        <Show when=move || !state.chat.with(|c| c.ai_enabled)>
            <div data-testid="handoff-banner" class="bg-amber-50 px-4 py-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-100">
                <p role="status" class="flex items-center gap-2">
                    <Svg icon=Icon::Headset class="size-4 shrink-0"/>
                    {move || match person() {
                        Some(name) => format!("You're chatting with {name} from our team."),
                        // After hours the email below is how the team answers.
                        None if state.away && state.chat.with(|c| c.customer_email.is_none()) => {
                            "The team is away now. Leave your email and they will answer you there.".to_string()
                        }
                        None => "A person from our team will answer here soon.".to_string(),
                    }}
                </p>
                <EmailCapture/>
            </div>
        </Show>
    }
    .into_any()
}

/// "Leave your email so we can follow up": saved on the chat for staff. Offered in the banner
/// once a person was asked for, and in the settings at any time (a draft becomes a
/// conversation first).
#[component]
pub(super) fn EmailCapture(#[prop(optional)] in_settings: bool) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let saved = move || state.chat.with(|c| c.customer_email.clone());
    let save = move || {
        busy.set(true);
        let email = draft.get_untracked();
        leptos::task::spawn_local(async move {
            let result = async { update_chat(state.started(None).await?, None, None, Some(email)).await }.await;
            match result {
                Ok(chat) => {
                    state.chat.try_set(chat);
                    editing.try_set(false);
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    // The banner's and the settings' copies can be on screen together: their ids differ.
    let (prefix, input_id) = if in_settings { ("settings-", "settings-email") } else { ("", "customer-email") };
    let (input_class, save_class) = if in_settings {
        (
            "min-w-0 flex-1 rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 dark:border-slate-600 dark:bg-slate-950 dark:text-slate-100",
            "rounded-lg bg-indigo-600 px-2.5 py-1 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50",
        )
    } else {
        (
            "min-w-0 flex-1 rounded-lg border border-amber-300 bg-white px-2 py-1 text-slate-900 dark:border-amber-700 dark:bg-slate-950 dark:text-slate-100",
            "rounded-lg bg-amber-600 px-2.5 py-1 font-medium text-white hover:bg-amber-700 disabled:opacity-50",
        )
    };
    view! {
        <Show
            when=move || editing.get() || saved().is_none()
            fallback=move || view! {
                <p data-testid=format!("{prefix}email-saved") class="mt-1 text-xs">
                    "We'll follow up at " <strong>{saved}</strong> " if you leave. "
                    <button type="button" class="underline" on:click=move |_| {
                        draft.set(saved().unwrap_or_default());
                        editing.set(true);
                    }>"Change"</button>
                </p>
            }
        >
            <form class="mt-1.5 flex gap-1.5" on:submit=move |ev| {
                ev.prevent_default();
                save();
            }>
                <label for=input_id class="sr-only">"Your email"</label>
                <input
                    id=input_id
                    data-testid=format!("{prefix}email-input")
                    type="email"
                    autocomplete="email"
                    placeholder=if in_settings { "you@example.com" } else { "Leave your email so we can follow up" }
                    class=input_class
                    bind:value=draft
                />
                <button type="submit" data-testid=format!("{prefix}email-save") disabled=move || busy.get() class=save_class>
                    "Save"
                </button>
            </form>
            <Show when=move || error.get().is_some()>
                <p role="alert" data-testid=format!("{prefix}email-error") class="mt-1 text-xs text-red-800 dark:text-red-300">{move || error.get()}</p>
            </Show>
        </Show>
    }
    .into_any()
}

/// The faces of a rating, 1 to 5, and what each says.
const FACES: [(&str, &str); 5] =
    [("😞", "very bad"), ("🙁", "bad"), ("😐", "okay"), ("🙂", "good"), ("😄", "very good")];

/// "How did we do?" once the conversation is resolved: a face rates it at once, then an optional
/// comment; a face again changes the rating (for 7 days).
#[component]
fn RatingPrompt() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let commenting = RwSignal::new(false);
    let comment = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // (No button is disabled while a rating goes: the one pressed keeps the keyboard's focus.)
    let rate = move |score: i64, text: Option<String>| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let asked_comment = text.is_none();
            match rate_chat(state.chat_id(), score, text).await {
                Ok(()) => {
                    state.rating.try_set(Some(score));
                    commenting.try_set(asked_comment);
                }
                Err(e) => {
                    state.notice.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <Show when=move || state.chat.with(|c| c.status == ChatStatus::Resolved)>
            <section data-testid="rating" aria-labelledby="rating-title"
                class="mx-3 mb-2 rounded-lg border border-slate-200 bg-slate-50 p-3 text-sm dark:border-slate-700 dark:bg-slate-800">
                <h3 id="rating-title" aria-live="polite" class="font-medium">
                    {move || match state.rating.get() {
                        None => "How did we do?".to_string(),
                        Some(score) => format!("You rated us {score} of 5. Thank you!"),
                    }}
                </h3>
                <div role="group" aria-label="Your rating" class="mt-1 flex gap-1">
                    {FACES.iter().zip(1..).map(|(&(face, label), score): (&(&str, &str), i64)| view! {
                        <button type="button" data-testid="rate" data-score=score
                            aria-label=format!("{score} of 5, {label}")
                            aria-pressed=move || (state.rating.get() == Some(score)).to_string()
                            class="rounded-lg px-1.5 py-0.5 text-2xl hover:bg-slate-200 aria-pressed:bg-indigo-100 dark:hover:bg-slate-700 dark:aria-pressed:bg-indigo-900"
                            on:click=move |_| rate(score, None)>
                            {face}
                        </button>
                    }).collect_view()}
                </div>
                {move || commenting.get().then(|| view! {
                    <form class="mt-2 flex gap-1.5" on:submit=move |ev| {
                        ev.prevent_default();
                        if let Some(score) = state.rating.get_untracked() {
                            rate(score, Some(comment.get_untracked()));
                        }
                    }>
                        <label for="rating-comment" class="sr-only">"Tell us more (optional)"</label>
                        <input id="rating-comment" data-testid="rating-comment" maxlength="1000" placeholder="Tell us more (optional)"
                            class="min-w-0 flex-1 rounded-lg border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-900"
                            bind:value=comment/>
                        <button type="submit" data-testid="rating-send"
                            class="rounded-lg bg-indigo-600 px-2.5 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">"Send"</button>
                    </form>
                })}
            </section>
        </Show>
    }
}
