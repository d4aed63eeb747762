//! One conversation in the panel: the shared feed (`components::feed`) with staff bubbles, triage
//! (status, priority, assignee), taking over and handing back, and the reply box.

use leptos::{context::Provider, prelude::*};

use leptos_router::hooks::use_params_map;

use super::{status_label, when, LinkBadge, Panel};
use crate::{
    components::{
        browser,
        feed::{Feed, FeedList, Pages},
        icons::{Icon, Svg},
        live::{self, Link},
    },
    markdown::to_safe_html,
    model::{Chat, ChatStatus, Inquiry, InquiryPatch, Message, MessageStatus, Note, Priority, Role, TeamEvent},
    staff_api::{
        add_note, canned_for, get_inquiry, inquiry_messages, list_notes, message_sources, read_satisfaction,
        set_chat_labels, staff_mark_read, staff_reply, update_inquiry,
    },
};

/// The right-hand pane when nothing is selected.
#[component]
pub fn NoConversation() -> impl IntoView {
    view! { <p class="m-auto text-slate-600">"Pick a conversation on the left."</p> }
}

/// /admin/inquiries/:id
#[component]
pub fn ConversationRoute() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok())));
    move || match id.get() {
        Some(id) => view! { <Conversation id/> }.into_any(),
        None => view! { <p class="m-auto">"There is no such conversation."</p> }.into_any(),
    }
}

#[component]
fn Conversation(id: i64) -> impl IntoView {
    // Loaded in the browser: the panel around it is rendered on the server, and this part shows
    // "Loading" there. Hydration must find that same view whenever the data arrives (a direct
    // load can have it before the panel around it hydrates), so the conversation replaces it
    // only once this part is mounted.
    let data = LocalResource::new(move || async move {
        // Asked together: one round trip's wait, not three.
        let (inquiry, page, thoughts) =
            futures::join!(get_inquiry(id), inquiry_messages(id, None, None), read_satisfaction(id));
        // Without what the customer thought, the conversation still shows.
        Ok::<_, crate::model::ErrorDetail>((inquiry?, page?, thoughts.unwrap_or_default()))
    });
    let mounted = crate::components::browser::mounted();
    move || match mounted.get().then(|| data.get()).flatten() {
        Some(Ok((inquiry, page, thoughts))) => view! {
            <Provider value=super::satisfaction::Thoughts(RwSignal::new(thoughts))>
            <div class="flex min-h-0 min-w-0 flex-1">
                <ConversationView inquiry page/>
                <super::customer::CustomerCard chat_id=id/>
            </div>
            </Provider>
        }
        .into_any(),
        Some(Err(e)) => view! { <p role="alert" class="m-auto">{e.message}</p> }.into_any(),
        None => view! { <p class="m-auto text-slate-600">"Loading the conversation…"</p> }.into_any(),
    }
}

#[component]
fn ConversationView(inquiry: Inquiry, page: crate::model::MessagePage) -> impl IntoView {
    let panel = expect_context::<Panel>();
    let id = inquiry.chat.id;
    let inquiry = RwSignal::new(inquiry);
    let link = RwSignal::new(Link::Connecting);
    let error = RwSignal::new(None::<String>);
    let last_seq = page.last_seq;
    let feed = Feed::new(Pages::Staff(id), page, error);
    let chat = move || inquiry.with(|i| i.chat.clone());

    // The team's private notes, beside the history; new ones arrive on the panel feed.
    let notes: RwSignal<Vec<Note>> = RwSignal::new(Vec::new());
    let load_notes = move || {
        leptos::task::spawn_local(async move {
            match list_notes(id).await {
                // Merged: a note that arrived meanwhile stays.
                Ok(list) => list.into_iter().for_each(|note| add_to(notes, note)),
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    Effect::new(move |_| load_notes());
    Effect::new(move |_| match panel.news.get() {
        Some(TeamEvent::NoteCreated(note)) if note.chat_id == id => add_to(notes, note),
        Some(TeamEvent::NoteWritten { chat_id, .. }) if chat_id == id => load_notes(),
        _ => {}
    });

    let typing = live::TypingIndicator::new();
    let outbox = StoredValue::new(live::Outbox::default());
    Effect::new(move |_| {
        let path = format!("/api/v1/admin/inquiries/{id}/ws");
        // A deleted conversation stays on screen, with the feed's notice.
        let on_chat = move |updated: Option<Chat>| {
            if let Some(updated) = updated {
                inquiry.update(|i| i.chat = updated);
            }
        };
        outbox.set_value(feed.follow(path, last_seq, link, (typing, Role::User), None, on_chat));
    });
    // What staff see, staff have read (when the tab is showing).
    let page_visible = browser::page_visible();
    Effect::new(move |_| {
        let newest = feed.messages.with(|l| l.iter().rev().find(|m| m.role == Role::User).map(|m| m.id));
        let read = inquiry.with_untracked(|i| i.chat.staff_read_up_to);
        if let Some(newest) = newest.filter(|n| *n > read && page_visible.get()) {
            inquiry.update(|i| i.chat.staff_read_up_to = newest);
            leptos::task::spawn_local(async move {
                let _ = staff_mark_read(id, newest).await;
            });
        }
    });
    let change = move |patch: InquiryPatch| {
        leptos::task::spawn_local(async move {
            match update_inquiry(id, patch).await {
                Ok(updated) => {
                    // The conversation may be gone from the screen meanwhile (j/k moved on).
                    inquiry.try_set(updated.clone());
                    panel.upsert(updated);
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    let snooze_menu = NodeRef::<leptos::html::Select>::new();
    // Deactivated members cannot be assigned; the one still assigned (if any) shows as such.
    let assigned = inquiry.with_untracked(|i| i.chat.assignee_id);
    let staff: Vec<_> =
        panel.view.with_value(|v| v.staff.iter().filter(|s| s.active || Some(s.id) == assigned).cloned().collect());
    let me = panel.me();
    // e resolves, a assigns to me (the reply box takes r, n and /).
    super::keys::on_command(panel, move |command| match command {
        super::keys::Command::Resolve => {
            change(InquiryPatch { status: Some(ChatStatus::Resolved), ..Default::default() })
        }
        super::keys::Command::AssignToMe => change(InquiryPatch { assignee_id: Some(Some(me)), ..Default::default() }),
        _ => {}
    });
    let select = "rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm";
    let title = move || {
        inquiry.with(|i| {
            let who = i.chat.customer_email.clone().unwrap_or_else(|| format!("Visitor #{}", i.chat.id));
            format!("{who} · {}", i.chat.title)
        })
    };

    // The panel feed keeps the list's summary current as replies end; the loaded one until then.
    let tokens_used = move || {
        let listed = panel.inquiries.with(|l| l.iter().find(|i| i.chat.id == id).map(|i| i.tokens_used));
        crate::model::tokens_label(listed.unwrap_or_default().max(inquiry.with(|i| i.tokens_used)))
    };

    view! {
        <section class="flex min-h-0 min-w-0 flex-1 flex-col" data-testid="conversation" data-id=id aria-label="Conversation">
            <header class="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-4 py-2">
                // The details wrap onto more lines rather than being cut off.
                <div class="min-w-[12rem] flex-1">
                    <h1 class="font-semibold break-words" data-testid="conversation-title">{title}</h1>
                    <p data-testid="conversation-details" class="flex flex-wrap gap-x-1.5 text-sm text-slate-600">
                        <span data-testid="conversation-product">{move || inquiry.with(|i| i.product_name.clone().map(|p| format!("About {p}")).unwrap_or_else(|| "No product".into()))}</span>
                        <span aria-hidden="true">"·"</span>
                        <span data-testid="conversation-email" class="break-all">{move || chat().customer_email.unwrap_or_else(|| "no email left".into())}</span>
                        <span aria-hidden="true">"·"</span>
                        <span data-testid="conversation-mode">{move || if chat().ai_enabled { "The assistant is answering" } else { "A person is handling this" }}</span>
                        <span aria-hidden="true">"·"</span>
                        <span data-testid="conversation-usage" title="Tokens the assistant used in this conversation">{tokens_used}</span>
                        {move || inquiry.with(|i| i.page.clone()).map(|page| {
                            let shown = page.title.clone().unwrap_or_else(|| page.url.clone());
                            view! {
                            <span aria-hidden="true">"·"</span>
                            <span data-testid="conversation-page" class="break-all">"Began on "
                                <a href=page.url target="_blank" rel="noopener noreferrer" class="underline">{shown}</a>
                            </span>
                        }})}
                    </p>
                </div>
                <LinkBadge link/>
                <label class="sr-only" for="set-status">"Status"</label>
                <select id="set-status" data-testid="set-status" class=select
                    prop:value=move || chat().status.as_str()
                    on:change=move |ev| {
                        if let Ok(status) = event_target_value(&ev).parse::<ChatStatus>() {
                            change(InquiryPatch { status: Some(status), ..Default::default() });
                        }
                    }>
                    {ChatStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{status_label(*s)}</option> }).collect_view()}
                </select>
                <label class="sr-only" for="set-priority">"Priority"</label>
                <select id="set-priority" data-testid="set-priority" class=select
                    prop:value=move || chat().priority.as_str()
                    on:change=move |ev| {
                        if let Ok(priority) = event_target_value(&ev).parse::<Priority>() {
                            change(InquiryPatch { priority: Some(priority), ..Default::default() });
                        }
                    }>
                    {Priority::ALL.iter().map(|p| view! { <option value=p.as_str()>{format!("{} priority", p.as_str())}</option> }).collect_view()}
                </select>
                <label class="sr-only" for="set-assignee">"Assignee"</label>
                <select id="set-assignee" data-testid="set-assignee" class=select
                    prop:value=move || chat().assignee_id.map(|a| a.to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let assignee = event_target_value(&ev).parse::<i64>().ok();
                        change(InquiryPatch { assignee_id: Some(assignee), ..Default::default() });
                    }>
                    <option value="">"Unassigned"</option>
                    {staff.into_iter().map(|s| {
                        let label = move || match (s.id == me, s.active) {
                            (true, _) => format!("{} (me)", s.display_name),
                            (false, false) => format!("{} (deactivated)", s.display_name),
                            (false, true) => format!("{} · {}", s.display_name, panel.presence_of(s.id)),
                        };
                        view! { <option value=s.id>{label}</option> }
                    }).collect_view()}
                </select>
                <label class="sr-only" for="snooze">"Snooze"</label>
                <select id="snooze" data-testid="snooze" class=select node_ref=snooze_menu
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        // The menu reads "Snooze…" again, ready for the next choice.
                        if let Some(menu) = snooze_menu.get_untracked() {
                            menu.set_value("");
                        }
                        let snoozed_until = match value.as_str() {
                            "reply" => None,
                            seconds => match seconds.parse::<f64>() {
                                Ok(seconds) => Some(browser::time_from_now(seconds)),
                                Err(_) => return,
                            },
                        };
                        change(InquiryPatch { status: Some(ChatStatus::Snoozed), snoozed_until, ..Default::default() });
                    }>
                    <option value="">"Snooze…"</option>
                    <option value="reply">"Until the customer writes"</option>
                    <option value="3600">"For an hour"</option>
                    <option value="14400">"For 4 hours"</option>
                    <option value="86400">"For a day"</option>
                    <option value="604800">"For a week"</option>
                </select>
                {move || (chat().status == ChatStatus::Snoozed).then(|| {
                    let until = inquiry.with(|i| i.snoozed_until.clone());
                    let text = until.map_or("Snoozed until the customer writes".to_string(), |at| format!("Snoozed until {}", when(&at)));
                    view! { <span data-testid="snoozed-until" class="text-sm text-slate-700">{text}</span> }
                })}
                <ConversationLabels inquiry/>
                <Show
                    when=move || chat().ai_enabled
                    fallback=move || view! {
                        <button type="button" data-testid="hand-back" class="rounded-lg border border-slate-300 px-3 py-1 text-sm hover:bg-slate-50"
                            on:click=move |_| change(InquiryPatch { ai_enabled: Some(true), ..Default::default() })>
                            "Hand back to the assistant"
                        </button>
                    }
                >
                    <button type="button" data-testid="take-over" class="rounded-lg bg-indigo-600 px-3 py-1 text-sm font-medium text-white hover:bg-indigo-700"
                        on:click=move |_| change(InquiryPatch {
                            ai_enabled: Some(false),
                            assignee_id: inquiry.with_untracked(|i| i.chat.assignee_id).is_none().then_some(Some(me)),
                            ..Default::default()
                        })>
                        "Take over"
                    </button>
                </Show>
            </header>
            <FeedList
                feed
                bubble=move |message| {
                    let message_id = message.id;
                    view! {
                        <StaffBubble message customer_read=Signal::derive(move || chat().customer_read_up_to)/>
                        <NotesAfter message_id notes feed/>
                    }
                }
                testid="staff-messages"
                start="Start of the conversation"
            />
            <Show when=move || error.get().is_some()>
                <p role="alert" data-testid="conversation-error" class="mx-4 mb-1 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800">{move || error.get()}</p>
            </Show>
            <Show when=move || typing.who.with(Option::is_some)>
                <p data-testid="staff-typing" role="status" class="px-4 pb-1 text-xs text-slate-600">
                    {move || typing.who.get().map(|who| format!("{who} is typing…"))}
                </p>
            </Show>
            <ReplyBox id ai_enabled=Signal::derive(move || chat().ai_enabled) error outbox notes/>
        </section>
    }
    .into_any()
}

/// The conversation's labels: each with a button that takes it off, and a list to add one.
#[component]
fn ConversationLabels(inquiry: RwSignal<Inquiry>) -> impl IntoView {
    let panel = expect_context::<Panel>();
    let id = inquiry.with_untracked(|i| i.chat.id);
    let put = move |ids: Vec<i64>| {
        leptos::task::spawn_local(async move {
            match set_chat_labels(id, ids).await {
                Ok(updated) => {
                    inquiry.try_set(updated.clone());
                    panel.upsert(updated);
                }
                Err(e) => {
                    panel.notice.try_set(Some(e.message));
                }
            }
        });
    };
    let on = move || inquiry.with(|i| i.labels.iter().map(|l| l.id).collect::<Vec<_>>());
    view! {
        <div data-testid="conversation-labels" class="flex flex-wrap items-center gap-1">
            <For each=move || inquiry.with(|i| i.labels.clone()) key=|l| (l.id, l.name.clone(), l.color.clone()) children=move |label| {
                let label_id = label.id;
                let name = label.name.clone();
                view! {
                    <super::LabelChip label>
                        <button type="button" data-testid="label-remove" class="ml-0.5 rounded-full px-1 hover:bg-slate-200"
                            aria-label=format!("Take the label {name} off")
                            on:click=move |_| put(on().into_iter().filter(|l| *l != label_id).collect())>"×"</button>
                    </super::LabelChip>
                }
            }/>
            <label class="sr-only" for="add-label">"Add a label"</label>
            <select id="add-label" data-testid="add-label" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
                prop:value=""
                on:change=move |ev| {
                    if let Ok(label) = event_target_value(&ev).parse::<i64>() {
                        put(on().into_iter().chain([label]).collect());
                    }
                }>
                <option value="">"+ Label"</option>
                {move || {
                    let on = on();
                    panel.labels.get().into_iter().filter(|l| !on.contains(&l.id))
                        .map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()
                }}
            </select>
        </div>
    }
}

/// Adds a note to the list once (it comes back from the send and on the panel feed).
fn add_to(notes: RwSignal<Vec<Note>>, note: Note) {
    // Called as answers arrive: the conversation may be gone from the screen meanwhile.
    notes.try_update(|list| {
        if !list.iter().any(|n| n.id == note.id) {
            list.push(note);
            list.sort_by_key(|n| n.id);
        }
    });
}

/// The notes written after message `message_id` and before the next one shown (the first
/// message shown, when nothing older is left to load, also takes those written before it).
#[component]
fn NotesAfter(message_id: i64, notes: RwSignal<Vec<Note>>, feed: Feed) -> impl IntoView {
    let here = move || {
        let (first, next) = feed.messages.with(|list| {
            (list.first().map(|m| m.id) == Some(message_id), list.iter().find(|m| m.id > message_id).map(|m| m.id))
        });
        let from = if first && feed.next_cursor.with(Option::is_none) { i64::MIN } else { message_id };
        notes.with(|list| {
            list.iter()
                .filter(|n| n.after_message_id >= from && next.is_none_or(|next| n.after_message_id < next))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <For each=here key=|note| note.id children=|note| view! {
            <aside data-testid="staff-note" data-id=note.id aria-label="Private note"
                class="flex max-w-[75%] flex-col items-end self-end">
                <div class="whitespace-pre-wrap break-words rounded-2xl border border-amber-300 bg-amber-50 px-3.5 py-2 text-amber-950">
                    {note.content.clone()}
                </div>
                <div class="mt-0.5 flex gap-2 px-1 text-xs text-slate-600">
                    <span class="font-medium text-amber-900">"Private note"</span>
                    <span>{note.author.clone()}</span>
                    <time datetime=note.created_at.clone()>{when(&note.created_at)}</time>
                </div>
            </aside>
        }/>
    }
}

#[component]
fn StaffBubble(message: Message, customer_read: Signal<i64>) -> impl IntoView {
    let id = message.id;
    let chat_id = message.chat_id;
    if message.role == Role::System {
        return view! {
            <p data-testid="staff-message" data-id=id data-role="system" class="self-center text-xs text-slate-600">
                {crate::model::system_line_for_staff(&message.content).into_owned()}
            </p>
        }
        .into_any();
    }
    let customer = message.role == Role::User;
    let who = match message.role {
        Role::User => "Customer".to_string(),
        Role::Agent => message.author.clone().unwrap_or_else(|| "Staff".into()),
        _ => "Assistant".to_string(),
    };
    let bubble = match message.role {
        Role::User => "bg-white ring-1 ring-slate-200",
        Role::Agent => "bg-indigo-600 text-white",
        _ => "bg-slate-200 text-slate-900",
    };
    let streaming = message.status == MessageStatus::Streaming;
    let is_agent = message.role == Role::Agent;
    view! {
        <article data-testid="staff-message" data-id=id data-role=message.role.as_str() data-status=message.status.as_str()
            class=if customer { "flex max-w-[75%] flex-col items-start self-start" } else { "flex max-w-[75%] flex-col items-end self-end" }>
            <div class=format!("rounded-2xl px-3.5 py-2 {bubble}")>
                {if customer {
                    view! { <div data-testid="staff-message-content" class="whitespace-pre-wrap break-words">{message.content.clone()}</div> }.into_any()
                } else {
                    view! { <div data-testid="staff-message-content" class="prose-chat break-words" inner_html=to_safe_html(&message.content)></div> }.into_any()
                }}
                {streaming.then(|| view! { <span data-testid="staff-caret" class="ml-0.5 inline-block h-4 w-1.5 animate-pulse rounded-sm bg-current align-middle" aria-hidden="true"></span> })}
            </div>
            <div class="mt-0.5 flex gap-2 px-1 text-xs text-slate-600">
                <span>{who}</span>
                <time datetime=message.created_at.clone()>{when(&message.created_at)}</time>
                {move || (is_agent && customer_read.get() >= id).then(|| view! { <span data-testid="seen">"Seen"</span> })}
                {message.unanswered.then(|| view! { <span data-testid="staff-unanswered" class="font-medium text-amber-900">"Not answered"</span> })}
            </div>
            {(message.role == Role::Assistant && !streaming).then(|| view! {
                <super::satisfaction::ReplyMarks chat_id message_id=id/>
                <GivenSources chat_id message_id=id/>
            })}
        </article>
    }
    .into_any()
}

/// What the shop's knowledge gave an assistant reply: every passage, the cited ones marked,
/// loaded when staff open it.
#[component]
fn GivenSources(chat_id: i64, message_id: i64) -> impl IntoView {
    let open = RwSignal::new(false);
    let sources = LocalResource::new(move || async move {
        if open.get() {
            Some(message_sources(chat_id, message_id).await)
        } else {
            None
        }
    });
    view! {
        <div data-testid="given-sources" class="mt-1 max-w-full px-1 text-xs text-slate-700">
            <button type="button" class="underline" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>"Sources the assistant was given"</button>
            {move || match sources.get().flatten() {
                None if !open.get() => ().into_any(),
                None => view! { <p class="mt-1">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-1">{e.message}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="mt-1" data-testid="no-given-sources">"None: nothing in the shop's knowledge matched."</p> }.into_any()
                }
                Some(Ok(list)) => view! {
                    <ol class="mt-1 flex flex-col gap-1.5">
                        {list.into_iter().map(|source| {
                            let title = source.hit.title.clone();
                            view! {
                                <li data-testid="given-source" data-cited=source.cited.to_string()>
                                    <span class="font-medium">
                                        {match source.hit.url.clone() {
                                            Some(url) => view! { <a href=url target="_blank" rel="noopener" class="underline">{title}</a> }.into_any(),
                                            None => view! { <span>{title}</span> }.into_any(),
                                        }}
                                    </span>
                                    " · "{source.hit.kind.as_str()}" · "{source.hit.visibility.as_str()}
                                    {source.cited.then(|| view! { <span class="ml-1 rounded bg-emerald-100 px-1 text-emerald-800">"cited"</span> })}
                                    <p data-testid="given-passage" class="whitespace-pre-wrap text-slate-600">{source.hit.passage.clone()}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn ReplyBox(
    id: i64,
    ai_enabled: Signal<bool>,
    error: RwSignal<Option<String>>,
    outbox: StoredValue<live::Outbox>,
    notes: RwSignal<Vec<Note>>,
) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    // A private note instead of a reply: only the team sees it.
    let note_mode = RwSignal::new(false);
    // Which canned response ↑ / ↓ chose (Enter takes it).
    let choice = RwSignal::new(0usize);
    let typing_sent = StoredValue::new(0.0f64);
    let busy = RwSignal::new(false);
    // r, n and / from the keyboard: the box, in the mode they ask for.
    let panel = expect_context::<Panel>();
    super::keys::on_command(panel, move |command| {
        match command {
            super::keys::Command::Reply => note_mode.set(false),
            super::keys::Command::Note => note_mode.set(true),
            super::keys::Command::Canned => {
                note_mode.set(false);
                // An unsent reply stays: `/` starts a canned response only in an empty box.
                if draft.with_untracked(|d| d.trim().is_empty()) {
                    draft.set("/".into());
                }
            }
            _ => return,
        }
        browser::after_render(|| browser::focus_by_id("staff-reply"));
    });
    let send = move || {
        let content = draft.get_untracked();
        if content.trim().is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        if note_mode.get_untracked() {
            leptos::task::spawn_local(async move {
                match add_note(id, content).await {
                    Ok(note) => {
                        add_to(notes, note);
                        draft.try_set(String::new());
                        error.try_set(None);
                    }
                    Err(e) => {
                        error.try_set(Some(e.message));
                    }
                }
                busy.try_set(false);
            });
            return;
        }
        // "/shortcut": the first canned response it names goes into the box instead.
        if let Some(q) = content.strip_prefix('/').filter(|q| !q.contains(char::is_whitespace)) {
            let q = q.to_string();
            leptos::task::spawn_local(async move {
                match canned_for(id, Some(q).filter(|q| !q.is_empty())).await {
                    Ok(found) => {
                        let chosen = choice.try_get_untracked().unwrap_or_default();
                        match found.get(chosen.min(found.len().saturating_sub(1))) {
                            Some(chosen) => {
                                draft.try_set(chosen.content.clone());
                            }
                            None => {
                                error.try_set(Some("No canned response has that shortcut.".into()));
                            }
                        }
                    }
                    Err(e) => {
                        error.try_set(Some(e.message));
                    }
                }
                busy.try_set(false);
            });
            return;
        }
        leptos::task::spawn_local(async move {
            match staff_reply(id, content).await {
                Ok(_) => {
                    draft.try_set(String::new());
                    error.try_set(None);
                }
                // The reply stays in the box.
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    let tab = move |note: bool| {
        move || {
            if note_mode.get() == note {
                "rounded-t-lg border border-b-0 border-slate-200 bg-white px-3 py-1 text-sm font-medium"
            } else {
                "px-3 py-1 text-sm text-slate-700 hover:text-slate-900"
            }
        }
    };
    view! {
        <Show when=move || !note_mode.get()>
            <super::canned::CannedPicker id draft choice/>
        </Show>
        <div class="flex gap-1 px-3 pt-2" role="group" aria-label="Write">
            <button type="button" data-testid="mode-reply" class=tab(false) aria-pressed=move || (!note_mode.get()).to_string()
                on:click=move |_| note_mode.set(false)>"Reply"</button>
            <button type="button" data-testid="mode-note" class=tab(true) aria-pressed=move || note_mode.get().to_string()
                on:click=move |_| note_mode.set(true)>"Private note"</button>
        </div>
        <form class=move || if note_mode.get() { "flex items-end gap-2 border-t border-amber-300 bg-amber-50 p-3" } else { "flex items-end gap-2 border-t border-slate-200 bg-white p-3" }
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }>
            <label for="staff-reply" class="sr-only">{move || if note_mode.get() { "Private note to the team" } else { "Reply to the customer" }}</label>
            <textarea
                id="staff-reply"
                data-testid="staff-reply"
                data-mode=move || if note_mode.get() { "note" } else { "reply" }
                rows="2"
                class="min-h-10 flex-1 resize-y rounded-lg border border-slate-300 bg-white px-3 py-2"
                placeholder=move || if note_mode.get() {
                    "A note only the team sees (@name tells them)"
                } else if ai_enabled.get() {
                    "Reply (you take over from the assistant; / for canned responses)"
                } else {
                    "Reply to the customer (/ for canned responses)"
                }
                bind:value=draft
                on:input=move |_| {
                    // The customer sees staff typing a reply, never a note.
                    if !note_mode.get_untracked() {
                        live::typing_ping(outbox, typing_sent);
                    }
                }
                on:keydown=move |ev| {
                    let picking = !note_mode.get_untracked() && draft.with_untracked(|d| super::canned::canned_query(d).is_some());
                    if picking && (ev.key() == "ArrowDown" || ev.key() == "ArrowUp") {
                        ev.prevent_default();
                        choice.update(|c| *c = if ev.key() == "ArrowDown" { *c + 1 } else { c.saturating_sub(1) });
                        return;
                    }
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <button type="submit" data-testid="staff-send" disabled=move || busy.get()
                aria-label=move || if note_mode.get() { "Save the note" } else { "Send reply" }
                class=move || if note_mode.get() { "rounded-lg bg-amber-700 p-2.5 text-white hover:bg-amber-800 disabled:opacity-50" } else { "rounded-lg bg-indigo-600 p-2.5 text-white hover:bg-indigo-700 disabled:opacity-50" }>
                <Svg icon=Icon::Send class="size-5"/>
            </button>
        </form>
    }
    .into_any()
}
