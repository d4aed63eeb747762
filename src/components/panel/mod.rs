//! The inquiry panel (/admin): sign-in, the live list of conversations with filters, and a
//! conversation view where staff read, take over, reply and hand back.

mod activity;
mod api_keys;
mod assistant;
mod canned;
mod conversation;
mod customer;
mod keys;
mod knowledge;
mod labels;
mod satisfaction;
mod team;
mod window;

pub use activity::{AuditRoute, UsageRoute};
pub use api_keys::ApiKeysRoute;
pub use assistant::AssistantRoute;
pub use canned::CannedRoute;
pub use conversation::{ConversationRoute, NoConversation};
pub use knowledge::KnowledgeRoute;
pub use labels::LabelsRoute;
pub use team::TeamRoute;
pub use window::WindowRoute;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, A},
    hooks::{use_params_map, use_query_map},
};

use crate::{
    components::{
        browser,
        live::{self, Link},
    },
    model::{
        Availability, ChatStatus, Inquiry, InquiryCounts, InquiryFilter, Label, PanelEvent, Presence, Priority, Role,
        StaffMember, TeamEvent,
    },
    staff_api::{list_inquiries, load_panel, PanelView, StaffSignIn, StaffSignOut},
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
    /// The newest staff-only news of the panel feed (a note written).
    news: RwSignal<Option<TeamEvent>>,
    /// The newest note that mentions the reader: its conversation and who wrote it.
    mentioned: RwSignal<Option<(i64, String)>>,
    /// The team's labels (the Labels page keeps them current).
    labels: RwSignal<Vec<Label>>,
    /// Who is on duty (kept current by the feed).
    presence: RwSignal<Vec<Presence>>,
    /// How many conversations each saved view holds (kept current as the feed brings changes).
    counts: RwSignal<InquiryCounts>,
    recount_due: StoredValue<bool>,
    /// The newest keyboard command for the open conversation, with a counter (the same key twice
    /// is two commands).
    command: RwSignal<(u32, Option<keys::Command>)>,
}

impl Panel {
    fn me(&self) -> i64 {
        self.view.with_value(|v| v.me.id)
    }

    fn staff_name(&self, id: Option<i64>) -> Option<String> {
        let id = id?;
        self.view.with_value(|v| v.staff.iter().find(|s| s.id == id).map(|s| s.display_name.clone()))
    }

    /// A member's state as shown beside their name: `online` (said so, with a panel open),
    /// `away` (said so) or `offline` (no panel open). Tracked.
    fn presence_of(&self, id: i64) -> &'static str {
        self.presence.with(|all| match all.iter().find(|p| p.user_id == id) {
            Some(p) if p.online => "online",
            Some(p) if p.availability == Availability::Away.as_str() => "away",
            _ => "offline",
        })
    }

    /// A new word from the feed on who is on duty.
    fn presence_changed(&self, news: &Presence) {
        self.presence.update(|all| match all.iter_mut().find(|p| p.user_id == news.user_id) {
            Some(p) => *p = news.clone(),
            None => all.push(news.clone()),
        });
    }

    /// Whether an inquiry belongs in the list the filters describe (the text search is the
    /// server's: a new inquiry is not added while one is typed).
    fn matches(&self, inquiry: &Inquiry) -> bool {
        let me = self.me();
        self.filter.with_untracked(|f| f.parse().is_ok_and(|query| query.matches(inquiry, me)))
    }

    /// The list as shown: in the default view (what needs the team), the conversations assigned
    /// to the reader first, each part newest activity first.
    fn shown(&self) -> Vec<Inquiry> {
        self.inquiries.track();
        self.filter.track();
        self.shown_untracked()
    }

    fn shown_untracked(&self) -> Vec<Inquiry> {
        let mut list = self.inquiries.get_untracked();
        let default_view =
            self.filter.with_untracked(|f| matches!(f.status.as_deref(), None | Some("") | Some("active")));
        if default_view {
            let me = self.me();
            list.sort_by_key(|i| i.chat.assignee_id != Some(me));
        }
        list
    }

    /// Reads the team's labels again (an admin changed them).
    fn reload_labels(self) {
        leptos::task::spawn_local(async move {
            match crate::staff_api::list_labels().await {
                Ok(all) => {
                    self.labels.try_set(all);
                }
                Err(e) => {
                    self.notice.try_set(Some(e.message));
                }
            }
        });
    }

    /// Reads who is on duty again (news may have been missed while the feed was down).
    fn reload_presence(self) {
        leptos::task::spawn_local(async move {
            if let Ok(team) = crate::staff_api::list_team().await {
                self.presence.try_set(team.iter().map(StaffMember::presence).collect());
            }
        });
    }

    /// Reads the views' counts again soon: at most once a second however many changes arrive.
    fn recount(self) {
        if self.recount_due.get_value() {
            return;
        }
        self.recount_due.set_value(true);
        set_timeout(
            move || {
                self.recount_due.try_set_value(false);
                leptos::task::spawn_local(async move {
                    if let Ok(counts) = crate::staff_api::inquiry_counts().await {
                        self.counts.try_set(counts);
                    }
                });
            },
            std::time::Duration::from_millis(COUNTS_PAUSE_MS),
        );
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
        ChatStatus::Snoozed => "Snoozed",
        ChatStatus::Resolved => "Resolved",
        ChatStatus::Closed => "Closed",
    }
}

/// A label as the panel shows it: its colour as a dot beside its name (legible on any colour).
#[component]
fn LabelChip(label: Label, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <span data-testid="label-chip" data-label=label.id class="inline-flex items-center gap-1 rounded-full bg-slate-100 px-1.5 text-xs text-slate-800">
            // An SVG fill, not a style attribute: the pages' CSP allows no inline styles.
            <svg class="size-2" viewBox="0 0 8 8" aria-hidden="true"><circle cx="4" cy="4" r="4" fill=label.color/></svg>
            {label.name}
            {children.map(|c| c())}
        </span>
    }
}

/// A member's presence as a dot (green online, amber away, grey offline) with its word for
/// screen readers and a tooltip.
#[component]
fn PresenceDot(id: i64) -> impl IntoView {
    let panel = expect_context::<Panel>();
    let state = move || panel.presence_of(id);
    let fill = move || match state() {
        "online" => "#059669",
        "away" => "#d97706",
        _ => "#94a3b8",
    };
    view! {
        <span data-testid="presence" data-member=id data-state=state title=state class="inline-flex">
            <svg class="size-2" viewBox="0 0 8 8" aria-hidden="true"><circle cx="4" cy="4" r="4" fill=fill/></svg>
            <span class="sr-only">{state}</span>
        </span>
    }
}

/// The reader says whether they are online or away (online also needs this panel open).
#[component]
fn OwnAvailability() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let me = panel.me();
    let said = move || {
        panel.presence.with(|all| {
            all.iter()
                .find(|p| p.user_id == me)
                .map_or(Availability::Online.as_str().to_string(), |p| p.availability.clone())
        })
    };
    view! {
        <label class="sr-only" for="own-availability">"Your availability"</label>
        <select id="own-availability" data-testid="own-availability" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
            prop:value=said
            on:change=move |ev| {
                let Ok(chosen) = event_target_value(&ev).parse::<Availability>() else { return };
                leptos::task::spawn_local(async move {
                    match crate::staff_api::set_availability(chosen).await {
                        Ok(presence) => panel.presence_changed(&presence),
                        Err(e) => {
                            panel.notice.try_set(Some(e.message));
                            // The menu shows what holds again.
                            panel.presence.try_update(|_| {});
                        }
                    }
                });
            }>
            <option value="online">"Online"</option>
            <option value="away">"Away"</option>
        </select>
    }
}

/// A form's change (a save, a delete) as it is sent.
type Change = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), crate::model::ErrorDetail>>>>;

/// Sends a form's changes in the background: `busy` while one runs, `on_done` after it, its
/// error shown in `error`.
fn form_runner(
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    on_done: impl Fn() + Copy + 'static,
) -> impl Fn(Change) + Copy {
    move |change: Change| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match change.await {
                Ok(()) => on_done(),
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
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
    let time = browser::local_time(rfc3339);
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
    // Only a path of the panel is ever followed (the same rule as the server's redirect).
    let next = query.with_untracked(|q| crate::model::staff_return_path(q.get("next").as_deref()).to_string());
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.message);
    // Signed in: load the panel afresh (with the new session cookie).
    let target = next.clone();
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(())))) {
            browser::go_to(&target);
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
                <ForgotPassword/>
            </div>
        </main>
    }
    .into_any()
}

/// "Forgot password?": an email with a link that sets a new one.
#[component]
fn ForgotPassword() -> impl IntoView {
    let open = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let answer: RwSignal<Option<Result<(), String>>> = RwSignal::new(None);
    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let wanted = email.get_untracked();
        leptos::task::spawn_local(async move {
            let result = crate::staff_api::request_password_reset(wanted).await.map_err(|e| e.message);
            answer.try_set(Some(result));
        });
    };
    view! {
        <button type="button" data-testid="forgot-password" class="mt-3 text-sm text-indigo-700 underline"
            aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
            "Forgot password?"
        </button>
        <Show when=move || open.get()>
            <form class="mt-2 flex flex-col gap-2" aria-label="Reset the password" on:submit=ask>
                <label class="flex flex-col gap-1 text-sm font-medium">
                    "Your email"
                    <input type="email" required autocomplete="username" data-testid="reset-email" bind:value=email
                        class="rounded-lg border border-slate-300 px-3 py-2 font-normal"/>
                </label>
                <button type="submit" data-testid="reset-send" class="rounded-lg border border-slate-300 px-4 py-2 text-sm hover:bg-slate-50">
                    "Email me a link"
                </button>
                {move || answer.get().map(|result| match result {
                    Ok(()) => view! {
                        <p role="status" data-testid="reset-sent" class="text-sm text-slate-700">
                            "If that address has an account, a link is on its way. It works once, for 30 minutes."
                        </p>
                    }.into_any(),
                    Err(message) => view! { <p role="alert" data-testid="reset-error" class="text-sm text-red-800">{message}</p> }.into_any(),
                })}
            </form>
        </Show>
    }
}

/// /admin/reset-password?token=…: the page a reset link opens, to set a new password.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.with_untracked(|q| q.get("token").unwrap_or_default());
    let password = RwSignal::new(String::new());
    let answer: RwSignal<Option<Result<(), String>>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let set = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let (token, wanted) = (token.clone(), password.get_untracked());
        leptos::task::spawn_local(async move {
            let result = crate::staff_api::reset_password(token, wanted).await.map_err(|e| e.message);
            answer.try_set(Some(result));
            busy.try_set(false);
        });
    };
    view! {
        <Title text="New password · Frontdesk staff"/>
        <main class="flex min-h-dvh items-center justify-center bg-slate-100 px-4">
            <div class="w-full max-w-sm rounded-2xl bg-white p-6 shadow">
                <h1 class="text-xl font-semibold">"Choose your password"</h1>
                {move || match answer.get() {
                    Some(Ok(())) => view! {
                        <p role="status" data-testid="reset-done" class="mt-3 text-sm text-slate-700">
                            "Your password is set, and every session of your account ended. "
                            <a href="/admin/login" class="text-indigo-700 underline">"Sign in"</a>
                        </p>
                    }.into_any(),
                    answered => view! {
                        <form class="mt-4 flex flex-col gap-3" on:submit=set.clone()>
                            <label class="flex flex-col gap-1 text-sm font-medium">
                                "New password (12 characters or more)"
                                <input type="password" required minlength="12" maxlength="1024" autocomplete="new-password"
                                    data-testid="reset-password" bind:value=password
                                    class="rounded-lg border border-slate-300 px-3 py-2 font-normal"/>
                            </label>
                            {answered.and_then(Result::err).map(|message| view! {
                                <p role="alert" data-testid="reset-error" class="text-sm text-red-800">{message}</p>
                            })}
                            <button type="submit" data-testid="reset-submit" disabled=move || busy.get()
                                class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                                "Set the password"
                            </button>
                        </form>
                    }.into_any(),
                }}
            </div>
        </main>
    }
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
    let usage_today = format!(
        "Assistant today: {} of {}",
        crate::model::tokens_label(view.usage.days.first().map_or(0, |d| d.tokens)),
        crate::model::tokens_label(view.usage.tokens_per_day)
    );
    let labels = RwSignal::new(view.labels.clone());
    let presence = RwSignal::new(view.staff.iter().map(StaffMember::presence).collect());
    let panel = Panel {
        view: StoredValue::new(view),
        inquiries: RwSignal::new(Vec::new()),
        next_cursor: RwSignal::new(None),
        filter: RwSignal::new(InquiryFilter::default()),
        link: RwSignal::new(Link::Connecting),
        notice: RwSignal::new(None),
        news: RwSignal::new(None),
        mentioned: RwSignal::new(None),
        labels,
        presence,
        command: RwSignal::new((0, None)),
        counts: RwSignal::new(InquiryCounts::default()),
        recount_due: StoredValue::new(false),
    };
    provide_context(panel);
    let help = RwSignal::new(false);
    keys::install(panel, help);
    // The tab's title counts the conversations waiting for a person (on every panel page).
    let location = leptos_router::hooks::use_location();
    Effect::new(move |_| {
        let waiting = panel.counts.with(|c| c.waiting);
        location.pathname.track();
        browser::after_render(move || browser::set_title_count(waiting));
    });
    // A sound and a desktop notification (each when chosen) for a new conversation waiting for a
    // person, and for a mention.
    let sound = RwSignal::new(false);
    let desktop = RwSignal::new(false);
    Effect::new(move |before: Option<i64>| {
        let waiting = panel.counts.with(|c| c.waiting);
        if before.is_some_and(|before| waiting > before) {
            if sound.get_untracked() {
                browser::beep();
            }
            if desktop.get_untracked() {
                browser::desktop_alert("A customer is waiting", &format!("{waiting} conversations wait for a person"));
            }
        }
        waiting
    });
    Effect::new(move |_| {
        if let Some((chat_id, author)) = panel.mentioned.get() {
            if sound.get_untracked() {
                browser::beep();
            }
            if desktop.get_untracked() {
                browser::desktop_alert(&format!("{author} mentioned you"), &format!("In conversation #{chat_id}"));
            }
        }
    });
    let sign_out = ServerAction::<StaffSignOut>::new();
    Effect::new(move |_| {
        if sign_out.value().with(|v| matches!(v, Some(Ok(())))) {
            browser::go_to("/admin/login");
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
                    panel.reload_presence();
                }
                panel.recount();
            },
            move |frame| {
                // Each change comes with the conversation's summary as it stands after it.
                let Ok(PanelEvent { chat_id, inquiry, .. }) = serde_json::from_str::<PanelEvent>(frame) else {
                    // Or it is the team's own news: a note.
                    if let Ok(news) = serde_json::from_str::<TeamEvent>(frame) {
                        if let Some((chat_id, _)) = news.note_of().filter(|(_, m)| m.contains(&panel.me())) {
                            let author = match &news {
                                TeamEvent::NoteCreated(note) => note.author.clone(),
                                _ => "A teammate".into(),
                            };
                            panel.mentioned.set(Some((chat_id, author)));
                        }
                        if news == TeamEvent::LabelsChanged {
                            panel.reload_labels();
                            panel.reload();
                        }
                        if let TeamEvent::Presence(presence) = &news {
                            panel.presence_changed(presence);
                        }
                        panel.news.set(Some(news));
                    }
                    return;
                };
                match inquiry {
                    Some(inquiry) => panel.upsert(inquiry),
                    None => panel.inquiries.update(|list| list.retain(|i| i.chat.id != chat_id)),
                }
                panel.recount();
            },
        );
    });
    view! {
        <div class="flex h-dvh flex-col bg-slate-50 text-slate-900">
            <header class="flex flex-wrap items-center gap-x-4 gap-y-1 border-b border-slate-200 bg-white px-4 py-2">
                <A href="/admin" attr:class="font-semibold text-indigo-700">"Frontdesk · Inquiries"</A>
                <nav aria-label="Panel" class="text-sm">
                    <A href="/admin/knowledge" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-knowledge">"Knowledge"</A>
                    <A href="/admin/canned-responses" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-canned">"Canned responses"</A>
                    <A href="/admin/assistant" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-assistant">"Assistant"</A>
                    <A href="/admin/api-keys" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-api-keys">"API keys"</A>
                    <A href="/admin/labels" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-labels">"Labels"</A>
                    <A href="/admin/window" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-window">"Window"</A>
                    <A href="/admin/team" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-team">"Team"</A>
                    <A href="/admin/usage" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-usage">"Usage"</A>
                    <A href="/admin/audit" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100" attr:data-testid="nav-audit">"Audit log"</A>
                </nav>
                <LinkBadge link=panel.link/>
                {move || panel.mentioned.get().map(|(chat_id, author)| view! {
                    <span role="status" data-testid="mention-notice" class="rounded-full bg-amber-100 px-2 py-0.5 text-xs text-amber-900">
                        <A href=format!("/admin/inquiries/{chat_id}") on:click=move |_| panel.mentioned.set(None)>
                            {format!("{author} mentioned you in #{chat_id}")}
                        </A>
                    </span>
                })}
                <span class="ml-auto text-sm text-slate-600" data-testid="usage-today" title="Tokens the assistant used today (UTC), of the daily cap">
                    {usage_today}
                </span>
                <button type="button" data-testid="sound-toggle" class="rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100"
                    aria-pressed=move || sound.get().to_string() on:click=move |_| sound.update(|s| *s = !*s)>
                    {move || if sound.get() { "Sound on" } else { "Sound off" }}
                </button>
                <button type="button" data-testid="desktop-toggle" class="rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100"
                    aria-pressed=move || desktop.get().to_string()
                    on:click=move |_| {
                        // The browser asks its question only on a click.
                        if !desktop.get_untracked() && !browser::desktop_alerts_allowed() {
                            browser::ask_desktop_alerts();
                        }
                        desktop.update(|d| *d = !*d);
                    }>
                    {move || if desktop.get() { "Desktop alerts on" } else { "Desktop alerts off" }}
                </button>
                <button type="button" data-testid="shortcuts-open" class="rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100"
                    aria-haspopup="dialog" on:click=move |_| help.set(true)>"Shortcuts (?)"</button>
                <span class="flex items-center gap-1 text-sm text-slate-700" data-testid="own-presence">
                    <PresenceDot id=panel.me()/><span data-testid="staff-name">{me}</span>
                </span>
                <OwnAvailability/>
                <ActionForm action=sign_out>
                    <button type="submit" data-testid="sign-out" class="rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100">"Sign out"</button>
                </ActionForm>
            </header>
            <keys::ShortcutHelp open=help/>
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
        Link::Refused(4004) => "Deleted",
        Link::Refused(_) => "Signed out",
    };
    let class = move || match link.get() {
        Link::Live => "rounded-full bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800",
        _ => "rounded-full bg-amber-100 px-2 py-0.5 text-xs text-amber-900",
    };
    view! { <span role="status" data-testid="panel-link" data-state=move || format!("{:?}", link.get()).to_lowercase() class=class>{text}</span> }
}

/// The views' counts are read again at most this often while changes arrive.
const COUNTS_PAUSE_MS: u64 = 1000;

/// How long typing in the search box pauses before the list follows it.
const SEARCH_PAUSE_MS: u64 = 300;

#[component]
fn Filters() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let products: Vec<(String, String)> =
        panel.view.with_value(|v| v.products.iter().map(|p| (p.id.clone(), p.name.clone())).collect());
    let staff: Vec<(i64, String)> = panel
        .view
        .with_value(|v| v.staff.iter().filter(|s| s.active).map(|s| (s.id, s.display_name.clone())).collect());
    let options = |fixed: &[(&str, &str)], more: Vec<(String, String)>| {
        fixed.iter().map(|(v, l)| (v.to_string(), l.to_string())).chain(more).collect::<Vec<_>>()
    };
    let search = RwSignal::new(String::new());
    let apply_search = move || {
        let q = search.get_untracked();
        let q = Some(q).filter(|q| !q.trim().is_empty());
        if panel.filter.with_untracked(|f| f.q != q) {
            panel.filter.update(|f| f.q = q);
        }
    };
    // The list follows the search as it is typed, once typing pauses (Enter applies it at once).
    let typed = StoredValue::new(0u32);
    let on_type = move |_| {
        typed.update_value(|n| *n += 1);
        let mine = typed.get_value();
        set_timeout(
            move || {
                if typed.try_get_value() == Some(mine) {
                    apply_search();
                }
            },
            std::time::Duration::from_millis(SEARCH_PAUSE_MS),
        );
    };
    view! {
        <form class="flex flex-wrap gap-2 border-b border-slate-200 p-3" role="search" on:submit=move |ev| {
            ev.prevent_default();
            typed.update_value(|n| *n += 1);
            apply_search();
        }>
            <label class="sr-only" for="filter-status">"View"</label>
            <select id="filter-status" data-testid="filter-status" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
                on:change=move |ev| panel.filter.update(|f| f.status = Some(event_target_value(&ev)))>
                {VIEWS.iter().map(|(value, text, count)| view! {
                    <option value=*value>{move || format!("{text} ({})", panel.counts.with(count))}</option>
                }).collect_view()}
            </select>
            <FilterSelect name="priority" label="Priority"
                options=options(&[("", "Any priority"), ("high", "High"), ("medium", "Medium"), ("low", "Low")], vec![])
                on_change=move |value: String| panel.filter.update(|f| f.priority = value.parse::<Priority>().ok())/>
            <FilterSelect name="product" label="Product" options=options(&[("", "Any product")], products)
                on_change=move |value: String| panel.filter.update(|f| f.product_id = Some(value).filter(|v| !v.is_empty()))/>
            <label class="sr-only" for="filter-assignee">"Assignee"</label>
            <select id="filter-assignee" data-testid="filter-assignee" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
                on:change=move |ev| panel.filter.update(|f| f.assignee = Some(event_target_value(&ev)).filter(|v| !v.is_empty()))>
                <option value="">"Anyone"</option>
                <option value="me">{move || format!("Assigned to me ({} open)", panel.counts.with(|c| c.mine))}</option>
                <option value="none">{move || format!("Unassigned ({} open)", panel.counts.with(|c| c.unassigned))}</option>
                {staff.into_iter().map(|(id, name)| view! {
                    <option value=id>{move || format!("{name} · {}", panel.presence_of(id))}</option>
                }).collect_view()}
            </select>
            <label class="sr-only" for="filter-label">"Label"</label>
            <select id="filter-label" data-testid="filter-label" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm"
                on:change=move |ev| panel.filter.update(|f| f.label = event_target_value(&ev).parse::<i64>().ok())>
                <option value="">"Any label"</option>
                <For each=move || panel.labels.get() key=|l| (l.id, l.name.clone()) children=|l| view! { <option value=l.id>{l.name}</option> }/>
            </select>
            <FilterSelect name="answered" label="Answered" options=options(&[("", "Answered or not"), ("unanswered", "Not answered")], vec![])
                on_change=move |value: String| panel.filter.update(|f| f.unanswered = (value == "unanswered").then_some(true))/>
            <label class="sr-only" for="filter-q">"Search"</label>
            <input id="filter-q" data-testid="filter-q" type="search" placeholder="Search messages, titles, emails"
                class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1 text-sm" bind:value=search on:input=on_type/>
        </form>
    }
    .into_any()
}

/// A saved view by status: the filter's value, its name, and where its count is.
type View = (&'static str, &'static str, fn(&InquiryCounts) -> i64);

/// The saved views by status.
const VIEWS: &[View] = &[
    ("active", "Needs the team", |c| c.active),
    ("pending", "Pending", |c| c.pending),
    ("in_progress", "In progress", |c| c.in_progress),
    ("snoozed", "Snoozed", |c| c.snoozed),
    ("resolved", "Resolved", |c| c.resolved),
    ("closed", "Closed", |c| c.closed),
    ("all", "All", |c| c.all),
];

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
    // A row drawn again as its conversation changes live keeps the focus it had.
    let focused = StoredValue::new(None::<i64>);
    Effect::new(move |_| {
        panel.inquiries.track();
        if let Some(id) = focused.get_value() {
            browser::after_render(move || {
                if browser::nothing_focused() {
                    browser::focus_selector(&format!("[data-testid=inquiry][data-id='{id}'] a"));
                }
            });
        }
    });
    view! {
        <Show when=move || panel.notice.get().is_some()>
            <p role="alert" class="m-3 rounded-lg bg-red-50 p-2 text-sm text-red-800">{move || panel.notice.get()}</p>
        </Show>
        <ul data-testid="inquiry-list" class="min-h-0 flex-1 divide-y divide-slate-100 overflow-y-auto"
            on:focusin=move |ev| focused.set_value(browser::data_id_within(&ev, "[data-testid=inquiry]"))
            on:focusout=move |ev| {
                // Focus moved on (to anything, the page itself too): forgotten, once the page
                // settles. A row drawn again lost its focus by being removed: remembered.
                let left = browser::target_node(&ev);
                browser::after_render(move || {
                    if left.is_some_and(|node| node.is_connected()) {
                        focused.try_set_value(None);
                    }
                });
            }>
            <For
                each=move || panel.shown()
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
    // Under the customer's newest question, the answer after it (plain text, no Markdown marks).
    let answer = match (inquiry.last_role, inquiry.last_message.as_deref()) {
        (Some(Role::Assistant), Some(text)) => Some(("Assistant", crate::markdown::to_plain_text(text))),
        (Some(Role::Agent), Some(text)) => Some(("Team", crate::markdown::to_plain_text(text))),
        _ => None,
    };
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
                    <span class="ml-auto shrink-0 text-xs text-slate-600">{when(&chat.last_activity_at)}</span>
                </div>
                <div class="mt-0.5 flex flex-wrap items-center gap-1.5 text-xs">
                    {inquiry.unanswered.then(|| view! { <span data-testid="inquiry-unanswered" class="rounded bg-amber-100 px-1.5 text-amber-900">"Not answered"</span> })}
                    {inquiry.product_name.clone().map(|p| view! { <span data-testid="inquiry-product" class="rounded bg-indigo-100 px-1.5 text-indigo-800">{p}</span> })}
                    <span data-testid="inquiry-status" class="rounded bg-slate-100 px-1.5 text-slate-700">{status_label(chat.status)}</span>
                    <span class=format!("rounded px-1.5 {}", priority_class(chat.priority))>{chat.priority.as_str()}</span>
                    <span class="text-slate-600">{assignee.unwrap_or_else(|| "Unassigned".into())}</span>
                    <span class="text-slate-600">{format!("{} messages", inquiry.message_count)}</span>
                    {inquiry.labels.iter().map(|label| view! { <LabelChip label=label.clone()/> }).collect_view()}
                </div>
                {inquiry.last_question.clone().map(|q| view! {
                    <p data-testid="inquiry-question" class="mt-0.5 truncate text-sm text-slate-800">
                        <span class="sr-only">"The customer: "</span>{q}
                    </p>
                })}
                {answer.map(|(who, text)| view! {
                    <p data-testid="inquiry-last" class="mt-0.5 truncate text-sm text-slate-600">
                        <span class="font-medium">{who}": "</span>{text}
                    </p>
                })}
            </A>
        </li>
    }
}
