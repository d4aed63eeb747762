//! The inquiry panel (/admin): sign-in, the live list of conversations with filters, and a
//! conversation view where staff read, take over, reply and hand back.

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, A},
    hooks::{use_params_map, use_query_map},
};

use super::{
    icons::{Icon, Svg},
    live::{self, Link},
};
use crate::{
    markdown::to_safe_html,
    model::{
        ChatStatus, Event, Inquiry, InquiryFilter, InquiryPatch, LiveSignal, Message, MessageStatus, PanelEvent,
        Priority, Role, ServerFrame,
    },
    staff_api::{
        get_inquiry, inquiry_messages, list_inquiries, load_panel, staff_mark_read, staff_reply, update_inquiry,
        PanelView, StaffSignIn, StaffSignOut,
    },
};

/// What the panel's parts share.
#[derive(Clone, Copy)]
struct Panel {
    view: StoredValue<PanelView>,
    inquiries: RwSignal<Vec<Inquiry>>,
    next_cursor: RwSignal<Option<String>>,
    filter: RwSignal<InquiryFilter>,
    link: RwSignal<Link>,
    notice: RwSignal<Option<String>>,
}

impl Panel {
    fn me(&self) -> i64 {
        self.view.with_value(|v| v.me.id)
    }

    fn staff_name(&self, id: Option<i64>) -> Option<String> {
        let id = id?;
        self.view.with_value(|v| v.staff.iter().find(|s| s.id == id).map(|s| s.display_name.clone()))
    }

    /// Whether an inquiry belongs in the list the filters describe (the text search is the
    /// server's: a new inquiry is not added while one is typed).
    fn matches(&self, inquiry: &Inquiry) -> bool {
        let me = self.me();
        self.filter.with_untracked(|f| f.parse().is_ok_and(|query| query.matches(inquiry, me)))
    }

    /// Loads the first page for the current filters.
    fn reload(self) {
        let filter = self.filter.get_untracked();
        leptos::task::spawn_local(async move {
            match list_inquiries(filter).await {
                Ok(page) => {
                    self.inquiries.set(page.inquiries);
                    self.next_cursor.set(page.next_cursor);
                }
                Err(e) => self.notice.set(Some(e.message)),
            }
        });
    }

    fn load_more(self) {
        let Some(before) = self.next_cursor.get_untracked() else { return };
        let filter = InquiryFilter { before: Some(before), ..self.filter.get_untracked() };
        leptos::task::spawn_local(async move {
            match list_inquiries(filter).await {
                Ok(page) => {
                    self.inquiries.update(|list| {
                        for inquiry in page.inquiries {
                            if !list.iter().any(|i| i.chat.id == inquiry.chat.id) {
                                list.push(inquiry);
                            }
                        }
                    });
                    self.next_cursor.set(page.next_cursor);
                }
                Err(e) => self.notice.set(Some(e.message)),
            }
        });
    }

    /// Puts a fresh copy of an inquiry in the list: to the top when it has new activity, in place
    /// otherwise, and out of the list when it no longer matches the filters.
    fn upsert(&self, inquiry: Inquiry) {
        let keep = self.matches(&inquiry);
        let searching = self.filter.with_untracked(|f| f.q.as_deref().is_some_and(|q| !q.trim().is_empty()));
        self.inquiries.update(|list| match list.iter().position(|i| i.chat.id == inquiry.chat.id) {
            Some(i) if !keep => {
                list.remove(i);
            }
            Some(i) if list[i].chat.last_activity_at != inquiry.chat.last_activity_at => {
                list.remove(i);
                list.insert(0, inquiry);
            }
            Some(i) => list[i] = inquiry,
            None if keep && !searching => list.insert(0, inquiry),
            None => {}
        });
    }
}

fn status_label(status: ChatStatus) -> &'static str {
    match status {
        ChatStatus::Pending => "Pending",
        ChatStatus::InProgress => "In progress",
        ChatStatus::Resolved => "Resolved",
        ChatStatus::Closed => "Closed",
    }
}

fn priority_class(priority: Priority) -> &'static str {
    match priority {
        Priority::High => "bg-red-100 text-red-800",
        Priority::Medium => "bg-amber-100 text-amber-900",
        Priority::Low => "bg-slate-100 text-slate-700",
    }
}

/// `HH:MM` today, the date otherwise (in the reader's time zone once running in the browser).
fn when(rfc3339: &str) -> String {
    let time = live::local_time(rfc3339);
    if time.is_empty() {
        rfc3339.get(..10).unwrap_or_default().to_string()
    } else {
        time
    }
}

/// /admin/login, and what /admin shows to a caller who is not staff.
#[component]
pub fn AdminLogin() -> impl IntoView {
    view! {
        <Title text="Sign in · Frontdesk staff"/>
        <SignIn reason=None/>
    }
}

#[component]
fn SignIn(reason: Option<String>) -> impl IntoView {
    let action = ServerAction::<StaffSignIn>::new();
    let query = use_query_map();
    let next = query.with_untracked(|q| q.get("next")).unwrap_or_else(|| "/admin".to_string());
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.message);
    // Signed in: load the panel afresh (with the new session cookie).
    let target = next.clone();
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(())))) {
            live::go_to(&target);
        }
    });
    view! {
        <main class="flex min-h-dvh items-center justify-center bg-slate-100 px-4">
            <div class="w-full max-w-sm rounded-2xl bg-white p-6 shadow">
                <h1 class="text-xl font-semibold">"Frontdesk staff"</h1>
                {reason.map(|r| view! { <p data-testid="signin-reason" class="mt-2 text-sm text-slate-700">{r}</p> })}
                <ActionForm action attr:class="mt-4 flex flex-col gap-3">
                    <input type="hidden" name="next" value=next/>
                    <label class="flex flex-col gap-1 text-sm font-medium">
                        "Email"
                        <input name="email" type="email" required autocomplete="username" data-testid="signin-email"
                            class="rounded-lg border border-slate-300 px-3 py-2 font-normal"/>
                    </label>
                    <label class="flex flex-col gap-1 text-sm font-medium">
                        "Password"
                        <input name="password" type="password" required autocomplete="current-password" data-testid="signin-password"
                            class="rounded-lg border border-slate-300 px-3 py-2 font-normal"/>
                    </label>
                    <Show when=move || error().is_some()>
                        <p role="alert" data-testid="signin-error" class="text-sm text-red-800">{error}</p>
                    </Show>
                    <button type="submit" data-testid="signin-submit" disabled=move || action.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                        "Sign in"
                    </button>
                </ActionForm>
            </div>
        </main>
    }
    .into_any()
}

/// /admin: the panel for staff; the sign-in form (with 401 or 403) for anyone else.
#[component]
pub fn AdminPanel() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_panel());
    view! {
        <Title text="Inquiries · Frontdesk staff"/>
        <Suspense fallback=|| view! { <p class="p-6">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <PanelFrame view/> }.into_any(),
                    Err(e) if e.code == "unauthorized" => view! { <SignIn reason=None/> }.into_any(),
                    Err(e) if e.code == "forbidden" => {
                        let reason = "This page is for staff. Sign in with a staff account.".to_string();
                        view! { <SignIn reason=Some(reason)/> }.into_any()
                    }
                    Err(e) => view! { <p role="alert" class="p-6">{e.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PanelFrame(view: PanelView) -> impl IntoView {
    let me = view.me.display_name.clone();
    let panel = Panel {
        view: StoredValue::new(view),
        inquiries: RwSignal::new(Vec::new()),
        next_cursor: RwSignal::new(None),
        filter: RwSignal::new(InquiryFilter::default()),
        link: RwSignal::new(Link::Connecting),
        notice: RwSignal::new(None),
    };
    provide_context(panel);
    let sign_out = ServerAction::<StaffSignOut>::new();
    Effect::new(move |_| {
        if sign_out.value().with(|v| matches!(v, Some(Ok(())))) {
            live::go_to("/admin/login");
        }
    });
    // The list follows the filters; the panel feed keeps it current (and a reconnect reloads it).
    Effect::new(move |_| {
        panel.filter.track();
        panel.reload();
    });
    Effect::new(move |_| {
        live::follow_socket(
            "/api/v1/admin/ws".into(),
            None,
            panel.link,
            move |reconnected| {
                if reconnected {
                    panel.reload();
                }
            },
            move |frame| {
                // Each change comes with the conversation's summary as it stands after it.
                let Ok(PanelEvent { chat_id, inquiry, .. }) = serde_json::from_value::<PanelEvent>(frame) else {
                    return;
                };
                match inquiry {
                    Some(inquiry) => panel.upsert(inquiry),
                    None => panel.inquiries.update(|list| list.retain(|i| i.chat.id != chat_id)),
                }
            },
        );
    });
    view! {
        <div class="flex h-dvh flex-col bg-slate-50 text-slate-900">
            <header class="flex items-center gap-4 border-b border-slate-200 bg-white px-4 py-2">
                <A href="/admin" attr:class="font-semibold text-indigo-700">"Frontdesk · Inquiries"</A>
                <LinkBadge link=panel.link/>
                <span class="ml-auto text-sm text-slate-700" data-testid="staff-name">{me}</span>
                <ActionForm action=sign_out>
                    <button type="submit" data-testid="sign-out" class="rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100">"Sign out"</button>
                </ActionForm>
            </header>
            <div class="flex min-h-0 flex-1">
                <aside class="flex w-[26rem] shrink-0 flex-col border-r border-slate-200 bg-white" aria-label="Inquiries">
                    <Filters/>
                    <InquiryList/>
                </aside>
                <div class="flex min-w-0 flex-1 flex-col">
                    <Outlet/>
                </div>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn LinkBadge(link: RwSignal<Link>) -> impl IntoView {
    let text = move || match link.get() {
        Link::Connecting => "Connecting…",
        Link::Live => "Live",
        Link::Reconnecting => "Reconnecting…",
        Link::Refused(_) => "Signed out",
    };
    let class = move || match link.get() {
        Link::Live => "rounded-full bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800",
        _ => "rounded-full bg-amber-100 px-2 py-0.5 text-xs text-amber-900",
    };
    view! { <span role="status" data-testid="panel-link" data-state=move || format!("{:?}", link.get()).to_lowercase() class=class>{text}</span> }
}

#[component]
fn Filters() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let products: Vec<(String, String)> =
        panel.view.with_value(|v| v.products.iter().map(|p| (p.id.to_string(), p.name.clone())).collect());
    let staff: Vec<(String, String)> =
        panel.view.with_value(|v| v.staff.iter().map(|s| (s.id.to_string(), s.display_name.clone())).collect());
    let options = |fixed: &[(&str, &str)], more: Vec<(String, String)>| {
        fixed.iter().map(|(v, l)| (v.to_string(), l.to_string())).chain(more).collect::<Vec<_>>()
    };
    let search = RwSignal::new(String::new());
    view! {
        <form class="flex flex-wrap gap-2 border-b border-slate-200 p-3" role="search" on:submit=move |ev| {
            ev.prevent_default();
            let q = search.get_untracked();
            panel.filter.update(|f| f.q = Some(q).filter(|q| !q.trim().is_empty()));
        }>
            <FilterSelect name="status" label="Status"
                options=options(&[("pending", "Pending"), ("in_progress", "In progress"), ("resolved", "Resolved"), ("closed", "Closed"), ("all", "All statuses")], vec![])
                on_change=move |value: String| panel.filter.update(|f| f.status = Some(value))/>
            <FilterSelect name="priority" label="Priority"
                options=options(&[("", "Any priority"), ("high", "High"), ("medium", "Medium"), ("low", "Low")], vec![])
                on_change=move |value: String| panel.filter.update(|f| f.priority = value.parse::<Priority>().ok())/>
            <FilterSelect name="product" label="Product" options=options(&[("", "Any product")], products)
                on_change=move |value: String| panel.filter.update(|f| f.product_id = value.parse::<i64>().ok())/>
            <FilterSelect name="assignee" label="Assignee" options=options(&[("", "Anyone"), ("me", "Assigned to me")], staff)
                on_change=move |value: String| panel.filter.update(|f| f.assignee = Some(value).filter(|v| !v.is_empty()))/>
            <label class="sr-only" for="filter-q">"Search"</label>
            <input id="filter-q" data-testid="filter-q" type="search" placeholder="Search messages, titles, emails"
                class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1 text-sm" bind:value=search/>
        </form>
    }
    .into_any()
}

/// One filter of the list: a labelled select whose first option is the default.
#[component]
fn FilterSelect(
    name: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    #[prop(into)] on_change: Callback<String>,
) -> impl IntoView {
    let id = format!("filter-{name}");
    view! {
        <label class="sr-only" for=id.clone()>{label}</label>
        <select id=id.clone() data-testid=id class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
            on:change=move |ev| on_change.run(event_target_value(&ev))>
            {options.into_iter().map(|(value, text)| view! { <option value=value>{text}</option> }).collect_view()}
        </select>
    }
}

#[component]
fn InquiryList() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let params = use_params_map();
    let selected = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()));
    view! {
        <Show when=move || panel.notice.get().is_some()>
            <p role="alert" class="m-3 rounded-lg bg-red-50 p-2 text-sm text-red-800">{move || panel.notice.get()}</p>
        </Show>
        <ul data-testid="inquiry-list" class="min-h-0 flex-1 divide-y divide-slate-100 overflow-y-auto">
            <For
                each=move || panel.inquiries.get()
                key=|i| (i.chat.id, i.chat.last_seq)
                children=move |inquiry| view! { <InquiryRow inquiry selected=Signal::derive(selected)/> }
            />
            <Show when=move || panel.inquiries.with(Vec::is_empty)>
                <li data-testid="inquiry-empty" class="p-6 text-center text-sm text-slate-600">"No conversations here."</li>
            </Show>
            <Show when=move || panel.next_cursor.with(Option::is_some)>
                <li class="p-3 text-center">
                    <button type="button" data-testid="load-more" class="text-sm text-indigo-700 underline" on:click=move |_| panel.load_more()>
                        "Load more"
                    </button>
                </li>
            </Show>
        </ul>
    }
    .into_any()
}

#[component]
fn InquiryRow(inquiry: Inquiry, selected: Signal<Option<i64>>) -> impl IntoView {
    let panel = expect_context::<Panel>();
    let id = inquiry.chat.id;
    let chat = inquiry.chat.clone();
    let assignee = panel.staff_name(chat.assignee_id);
    let customer = chat.customer_email.clone().unwrap_or_else(|| format!("Visitor #{}", chat.id));
    let class = move || {
        if selected.get() == Some(id) {
            "block bg-indigo-50 px-3 py-2.5"
        } else {
            "block px-3 py-2.5 hover:bg-slate-50"
        }
    };
    view! {
        <li data-testid="inquiry" data-id=id data-status=chat.status.as_str() data-priority=chat.priority.as_str()>
            <A href=format!("/admin/inquiries/{id}") attr:class=class>
                <div class="flex items-center gap-2">
                    <span class="truncate font-medium" data-testid="inquiry-customer">{customer}</span>
                    {(inquiry.unread_count > 0).then(|| view! {
                        <span data-testid="inquiry-unread" class="rounded-full bg-indigo-600 px-1.5 text-xs leading-5 font-semibold text-white"
                            aria-label=format!("{} unread", inquiry.unread_count)>{inquiry.unread_count}</span>
                    })}
                    <span class="ml-auto shrink-0 text-xs text-slate-500">{when(&chat.last_activity_at)}</span>
                </div>
                <div class="mt-0.5 flex flex-wrap items-center gap-1.5 text-xs">
                    {inquiry.product_name.clone().map(|p| view! { <span data-testid="inquiry-product" class="rounded bg-indigo-100 px-1.5 text-indigo-800">{p}</span> })}
                    <span data-testid="inquiry-status" class="rounded bg-slate-100 px-1.5 text-slate-700">{status_label(chat.status)}</span>
                    <span class=format!("rounded px-1.5 {}", priority_class(chat.priority))>{chat.priority.as_str()}</span>
                    <span class="text-slate-600">{assignee.unwrap_or_else(|| "Unassigned".into())}</span>
                    <span class="text-slate-500">{format!("{} messages", inquiry.message_count)}</span>
                </div>
                <p data-testid="inquiry-last" class="mt-0.5 truncate text-sm text-slate-600">{inquiry.last_message.clone().unwrap_or_default()}</p>
            </A>
        </li>
    }
}

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
    // Loaded in the browser: the panel around it is rendered on the server.
    let data = LocalResource::new(move || async move {
        let inquiry = get_inquiry(id).await?;
        let page = inquiry_messages(id, None).await?;
        Ok::<_, crate::model::ErrorDetail>((inquiry, page))
    });
    view! {
        <Suspense fallback=|| view! { <p class="m-auto text-slate-600">"Loading the conversation…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((inquiry, page)) => view! { <ConversationView inquiry page/> }.into_any(),
                    Err(e) => view! { <p role="alert" class="m-auto">{e.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConversationView(inquiry: Inquiry, page: crate::model::MessagePage) -> impl IntoView {
    let panel = expect_context::<Panel>();
    let id = inquiry.chat.id;
    let inquiry = RwSignal::new(inquiry);
    let messages = RwSignal::new(page.messages);
    let next_cursor = RwSignal::new(page.next_cursor);
    let loading_older = RwSignal::new(false);
    let link = RwSignal::new(Link::Connecting);
    let error = RwSignal::new(None::<String>);
    let list = NodeRef::<html::Div>::new();
    let near_bottom = RwSignal::new(true);
    let chat = move || inquiry.with(|i| i.chat.clone());

    let typing = live::TypingIndicator::new();
    let outbox = StoredValue::new(live::Outbox::default());
    Effect::new(move |_| {
        let socket = live::follow_socket(
            format!("/api/v1/admin/inquiries/{id}/ws"),
            Some(page.last_seq),
            link,
            |_| {},
            move |frame| {
                let event = match serde_json::from_value::<ServerFrame>(frame) {
                    Ok(ServerFrame::Event(event)) => event,
                    Ok(ServerFrame::Signal(LiveSignal::Typing(signal))) => return typing.show(signal),
                    Ok(ServerFrame::Error(_)) | Err(_) => return,
                };
                match &event.event {
                    Event::ChatUpdated(updated) => return inquiry.update(|i| i.chat = updated.clone()),
                    Event::MessageCreated(message) if message.role == Role::User => typing.clear(),
                    _ => {}
                }
                messages.update(|list| event.apply_to(list));
            },
        );
        outbox.set_value(socket);
    });
    // Stay at the newest message as text arrives, unless the reader scrolled up.
    Effect::new(move |_| {
        messages.track();
        if near_bottom.get_untracked() {
            live::after_render(move || {
                if let Some(el) = list.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    // What staff see, staff have read (when the tab is showing).
    let page_visible = live::page_visible();
    Effect::new(move |_| {
        let newest = messages.with(|l| l.iter().rev().find(|m| m.role == Role::User).map(|m| m.id));
        let read = inquiry.with_untracked(|i| i.chat.staff_read_up_to);
        if let Some(newest) = newest.filter(|n| *n > read && page_visible.get()) {
            inquiry.update(|i| i.chat.staff_read_up_to = newest);
            leptos::task::spawn_local(async move {
                let _ = staff_mark_read(id, newest).await;
            });
        }
    });
    let load_older = move || {
        let Some(before) = next_cursor.get_untracked() else { return };
        if loading_older.get_untracked() {
            return;
        }
        loading_older.set(true);
        let height = list.get_untracked().map_or(0, |el| el.scroll_height());
        leptos::task::spawn_local(async move {
            match inquiry_messages(id, Some(before)).await {
                Ok(older) => {
                    messages.update(|list| {
                        let mut merged = older.messages;
                        merged.retain(|m| !list.iter().any(|x| x.id == m.id));
                        merged.append(list);
                        *list = merged;
                    });
                    next_cursor.set(older.next_cursor);
                    // Keep what the reader was looking at in place.
                    live::after_render(move || {
                        if let Some(el) = list.get_untracked() {
                            el.set_scroll_top(el.scroll_top() + el.scroll_height() - height);
                        }
                    });
                }
                Err(e) => error.set(Some(e.message)),
            }
            loading_older.set(false);
        });
    };
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            near_bottom.set(el.scroll_height() - el.scroll_top() - el.client_height() < 80);
            if el.scroll_top() < 120 {
                load_older();
            }
        }
    };
    let change = move |patch: InquiryPatch| {
        leptos::task::spawn_local(async move {
            match update_inquiry(id, patch).await {
                Ok(updated) => {
                    inquiry.set(updated.clone());
                    panel.upsert(updated);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let staff = panel.view.with_value(|v| v.staff.clone());
    let me = panel.me();
    let select = "rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm";
    let title = move || {
        inquiry.with(|i| {
            let who = i.chat.customer_email.clone().unwrap_or_else(|| format!("Visitor #{}", i.chat.id));
            format!("{who} · {}", i.chat.title)
        })
    };

    view! {
        <section class="flex min-h-0 flex-1 flex-col" data-testid="conversation" data-id=id aria-label="Conversation">
            <header class="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-4 py-2">
                <div class="min-w-0 flex-1">
                    <h1 class="truncate font-semibold" data-testid="conversation-title">{title}</h1>
                    <p class="truncate text-sm text-slate-600">
                        <span data-testid="conversation-product">{move || inquiry.with(|i| i.product_name.clone().map(|p| format!("About {p}")).unwrap_or_else(|| "No product".into()))}</span>
                        " · "
                        <span data-testid="conversation-email">{move || chat().customer_email.unwrap_or_else(|| "no email left".into())}</span>
                        " · "
                        <span data-testid="conversation-mode">{move || if chat().ai_enabled { "The assistant is answering" } else { "A person is handling this" }}</span>
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
                        let label = if s.id == me { format!("{} (me)", s.display_name) } else { s.display_name };
                        view! { <option value=s.id>{label}</option> }
                    }).collect_view()}
                </select>
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
            <div node_ref=list on:scroll=on_scroll data-testid="staff-messages" class="flex min-h-0 flex-1 flex-col gap-2 overflow-y-auto p-4">
                <Show when=move || next_cursor.with(Option::is_some)>
                    <p class="text-center text-xs text-slate-500">{move || if loading_older.get() { "Loading older messages…" } else { "Scroll up for older messages" }}</p>
                </Show>
                <For
                    each=move || messages.get()
                    key=|m| (m.id, m.status, m.content.len(), m.edited_at.clone())
                    children=move |message| view! { <StaffBubble message customer_read=Signal::derive(move || chat().customer_read_up_to)/> }
                />
            </div>
            <Show when=move || error.get().is_some()>
                <p role="alert" data-testid="conversation-error" class="mx-4 mb-1 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800">{move || error.get()}</p>
            </Show>
            <Show when=move || typing.who.with(Option::is_some)>
                <p data-testid="staff-typing" role="status" class="px-4 pb-1 text-xs text-slate-500">
                    {move || typing.who.get().map(|who| format!("{who} is typing…"))}
                </p>
            </Show>
            <ReplyBox id ai_enabled=Signal::derive(move || chat().ai_enabled) error outbox/>
        </section>
    }
    .into_any()
}

#[component]
fn StaffBubble(message: Message, customer_read: Signal<i64>) -> impl IntoView {
    let id = message.id;
    if message.role == Role::System {
        return view! {
            <p data-testid="staff-message" data-id=id data-role="system" class="self-center text-xs text-slate-500">{message.content}</p>
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
            <div class="mt-0.5 flex gap-2 px-1 text-xs text-slate-500">
                <span>{who}</span>
                <time datetime=message.created_at.clone()>{when(&message.created_at)}</time>
                {move || (is_agent && customer_read.get() >= id).then(|| view! { <span data-testid="seen">"Seen"</span> })}
            </div>
        </article>
    }
    .into_any()
}

#[component]
fn ReplyBox(
    id: i64,
    ai_enabled: Signal<bool>,
    error: RwSignal<Option<String>>,
    outbox: StoredValue<live::Outbox>,
) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let typing_sent = StoredValue::new(0.0f64);
    let busy = RwSignal::new(false);
    let send = move || {
        let content = draft.get_untracked();
        if content.trim().is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match staff_reply(id, content).await {
                Ok(_) => {
                    draft.set(String::new());
                    error.set(None);
                }
                // The reply stays in the box.
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="flex items-end gap-2 border-t border-slate-200 bg-white p-3" on:submit=move |ev| {
            ev.prevent_default();
            send();
        }>
            <label for="staff-reply" class="sr-only">"Reply to the customer"</label>
            <textarea
                id="staff-reply"
                data-testid="staff-reply"
                rows="2"
                class="min-h-10 flex-1 resize-y rounded-lg border border-slate-300 px-3 py-2"
                placeholder=move || if ai_enabled.get() { "Reply (you take over from the assistant)" } else { "Reply to the customer" }
                bind:value=draft
                on:input=move |_| live::typing_ping(outbox, typing_sent)
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <button type="submit" data-testid="staff-send" aria-label="Send reply" disabled=move || busy.get()
                class="rounded-lg bg-indigo-600 p-2.5 text-white hover:bg-indigo-700 disabled:opacity-50">
                <Svg icon=Icon::Send class="size-5"/>
            </button>
        </form>
    }
    .into_any()
}
