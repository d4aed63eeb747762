//! The panel's Team page (/admin/team): every member with their role; admins add one (with a
//! password shown once), change a role, deactivate one (their sessions end at once and their
//! open conversations go back to the queue) or let them back, and set auto-assignment up. Everyone
//! sees who is online and changes their own name and password here.

use leptos::prelude::*;
use leptos_meta::Title;

use super::Panel;
use crate::{
    model::{AssignmentSettings, PasswordChange, ProfilePatch, StaffMember, StaffPatch, StaffRole},
    staff_api::{
        add_member, list_team, read_assignment_settings, save_assignment_settings, update_member, update_profile,
    },
};

const FIELD: &str = "mt-1 w-full rounded-lg border border-slate-300 px-2 py-1";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50";

#[component]
pub fn TeamRoute() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let is_admin = panel.view.with_value(|v| v.me.role.as_deref() == Some("admin"));
    let me = panel.me();
    let changed = RwSignal::new(0u32);
    let team = LocalResource::new(move || {
        changed.track();
        list_team()
    });
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let change = move |id: i64, patch: StaffPatch| {
        leptos::task::spawn_local(async move {
            match update_member(id, patch).await {
                Ok(_) => {
                    error.try_set(None);
                    changed.try_update(|n| *n += 1);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                    // The list shows what holds, not the refused change.
                    changed.try_update(|n| *n += 1);
                }
            }
        });
    };
    view! {
        <Title text="Team · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="team-page" aria-labelledby="team-title">
            <h1 id="team-title" class="text-lg font-semibold">"Team"</h1>
            <p class="mt-1 text-slate-700">
                "Admins set the product up and manage the team; agents answer conversations. "
                "A deactivated member cannot sign in: their open conversations go back to the queue."
            </p>
            {is_admin.then(|| view! { <AddMember on_added=move || changed.update(|n| *n += 1)/> })}
            {move || error.get().map(|e| view! { <p role="alert" data-testid="team-error" class="mt-2 text-red-800">{e}</p> })}
            {move || match team.get() {
                None => view! { <p class="mt-4">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4">{e.message}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="mt-4 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" data-testid="team-list">
                        {list.into_iter().map(|member| view! { <MemberRow member is_admin me change/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <AutoAssignment is_admin/>
            <OwnAccount/>
        </section>
    }
}

#[component]
fn MemberRow(
    member: StaffMember,
    is_admin: bool,
    me: i64,
    change: impl Fn(i64, StaffPatch) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = member.id;
    let select_id = format!("member-role-{id}");
    let you = if id == me { " (you)" } else { "" };
    let status = if member.active { "Active" } else { "Deactivated" };
    let role = member.role.clone();
    view! {
        <li data-testid="team-member" data-id=id data-email=member.email.clone() data-active=member.active.to_string()
            class="flex flex-wrap items-center gap-3 px-3 py-2">
            <div class="min-w-0 flex-1">
                <p class="flex items-center gap-1 font-medium"><super::PresenceDot id/>{format!("{}{you}", member.display_name)}</p>
                <p class="truncate text-xs text-slate-600">{member.email.clone()}" · "<span data-testid="member-status">{status}</span></p>
            </div>
            {if is_admin {
                view! {
                    <label class="sr-only" for=select_id.clone()>{format!("Role of {}", member.display_name)}</label>
                    <select id=select_id data-testid="member-role" class="rounded-lg border border-slate-300 bg-white px-2 py-1"
                        prop:value=role
                        on:change=move |ev| {
                            if let Ok(role) = event_target_value(&ev).parse::<StaffRole>() {
                                change(id, StaffPatch { role: Some(role), active: None });
                            }
                        }>
                        <option value="agent">"Agent"</option>
                        <option value="admin">"Admin"</option>
                    </select>
                    {if member.active {
                        view! {
                            <button type="button" data-testid="member-deactivate" class="rounded-lg px-2 py-1 text-red-800 hover:bg-red-50"
                                aria-label=format!("Deactivate {}", member.display_name)
                                on:click=move |_| change(id, StaffPatch { role: None, active: Some(false) })>"Deactivate"</button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" data-testid="member-reactivate" class="rounded-lg px-2 py-1 text-indigo-700 hover:bg-indigo-50"
                                aria-label=format!("Reactivate {}", member.display_name)
                                on:click=move |_| change(id, StaffPatch { role: None, active: Some(true) })>"Reactivate"</button>
                        }.into_any()
                    }}
                }.into_any()
            } else {
                view! { <span class="text-slate-700">{if member.role == "admin" { "Admin" } else { "Agent" }}</span> }.into_any()
            }}
        </li>
    }
}

/// An admin adds a member: invited by email (they choose their password), or with a generated
/// password shown once, to pass on.
#[component]
fn AddMember(on_added: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let (email, name, role) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(StaffRole::Agent));
    // Invitations are emailed: offered (and the default) when this server sends email.
    let mail = expect_context::<Panel>().view.with_value(|v| v.mail);
    let invite = RwSignal::new(mail);
    // What happened: (email, the password shown once or none for an invitation).
    let created: RwSignal<Option<(String, Option<String>)>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let (e, n, r, i) = (email.get_untracked(), name.get_untracked(), role.get_untracked(), invite.get_untracked());
        leptos::task::spawn_local(async move {
            match add_member(e, n, r, i).await {
                Ok(added) => {
                    created.try_set(Some((added.member.email, added.password)));
                    error.try_set(None);
                    email.try_set(String::new());
                    name.try_set(String::new());
                    on_added();
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <form data-testid="member-add" aria-label="Add a member" on:submit=add
            class="mt-3 grid gap-2 rounded-lg border border-slate-200 bg-white p-3 sm:grid-cols-[1fr_1fr_auto_auto] sm:items-end">
            <label>"Email"
                <input type="email" data-testid="member-email" required maxlength="254" class=FIELD bind:value=email/>
            </label>
            <label>"Name"
                <input data-testid="member-name" required maxlength="80" class=FIELD bind:value=name/>
            </label>
            <label>"Role"
                <select data-testid="member-new-role" class=FIELD
                    on:change=move |ev| role.set(event_target_value(&ev).parse().unwrap_or(StaffRole::Agent))>
                    <option value="agent">"Agent"</option>
                    <option value="admin">"Admin"</option>
                </select>
            </label>
            <fieldset class="flex flex-wrap gap-4 sm:col-span-4">
                <legend class="sr-only">"How they get in"</legend>
                <label class="flex items-center gap-2">
                    <input type="radio" name="member-how" data-testid="member-invite" prop:checked=move || invite.get()
                        disabled=!mail on:change=move |_| invite.set(true)/>
                    {if mail {
                        "Email an invitation (they choose their password)"
                    } else {
                        "Email an invitation (needs mail: FRONTDESK_SMTP_URL is not set)"
                    }}
                </label>
                <label class="flex items-center gap-2">
                    <input type="radio" name="member-how" data-testid="member-with-password" prop:checked=move || !invite.get()
                        on:change=move |_| invite.set(false)/>
                    "Make a password to pass on"
                </label>
            </fieldset>
            <button type="submit" data-testid="member-add-submit" class=BUTTON disabled=move || busy.get()>
                {move || if invite.get() { "Invite" } else { "Add" }}
            </button>
        </form>
        {move || error.get().map(|e| view! { <p role="alert" data-testid="member-add-error" class="mt-2 text-red-800">{e}</p> })}
        {move || created.get().map(|(email, password)| match password {
            Some(password) => view! {
                <div role="status" data-testid="member-created" class="mt-3 rounded-lg bg-amber-50 p-3 text-amber-900">
                    <p>{format!("{email} can sign in with this password (shown once; they can change it under Team → Your account):")}</p>
                    <code data-testid="member-password" class="mt-1 block break-all select-all font-mono">{password}</code>
                </div>
            }.into_any(),
            None => view! {
                <p role="status" data-testid="member-invited" class="mt-3 rounded-lg bg-emerald-50 p-3 text-emerald-900">
                    {format!("{email} is invited: the email's link (it works once, for 7 days) lets them choose a password.")}
                </p>
            }.into_any(),
        })}
    }
}

/// Auto-assignment: admins turn it on and set the cap; everyone sees how it works.
#[component]
fn AutoAssignment(is_admin: bool) -> impl IntoView {
    let (on, cap) = (RwSignal::new(false), RwSignal::new(String::from("10")));
    let message: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    // Read in the browser (effects do not run on the server).
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(settings) = read_assignment_settings().await {
                on.try_set(settings.auto_assign);
                cap.try_set(settings.max_open_per_member.to_string());
            }
        });
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(max_open_per_member) = cap.get_untracked().trim().parse::<i64>() else {
            message.set(Some((false, "The cap must be a whole number from 1 to 100.".into())));
            return;
        };
        let settings = AssignmentSettings { auto_assign: on.get_untracked(), max_open_per_member };
        leptos::task::spawn_local(async move {
            let said = match save_assignment_settings(settings).await {
                Ok(_) => (true, "Saved.".to_string()),
                Err(e) => (false, e.message),
            };
            message.try_set(Some(said));
        });
    };
    view! {
        <h2 class="mt-6 text-base font-semibold" id="auto-assignment">"Auto-assignment"</h2>
        <form data-testid="auto-assignment" aria-labelledby="auto-assignment" on:submit=save
            class="mt-2 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-3">
            <p class="w-full text-slate-700">
                "When on, each conversation waiting for a person goes, in turn, to a member who is online "
                "(they said so and have the panel open) with fewer open conversations than the cap. "
                "When nobody is, it waits and is given as soon as someone is."
            </p>
            <label class="flex items-center gap-2">
                <input type="checkbox" data-testid="auto-assign-on" disabled=!is_admin bind:checked=on/>
                "Assign waiting conversations automatically"
            </label>
            <label>"Open conversations per member, at most"
                <input type="number" min="1" max="100" required data-testid="auto-assign-cap" disabled=!is_admin class=FIELD bind:value=cap/>
            </label>
            {is_admin.then(|| view! { <button type="submit" data-testid="auto-assign-save" class=BUTTON>"Save"</button> })}
        </form>
        {move || message.get().map(|(ok, text)| {
            let (role, class) = if ok { ("status", "mt-2 text-emerald-800") } else { ("alert", "mt-2 text-red-800") };
            view! { <p role=role data-testid="auto-assign-message" class=class>{text}</p> }
        })}
    }
}

/// The signed-in member's own name and password.
#[component]
fn OwnAccount() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let name = RwSignal::new(panel.view.with_value(|v| v.me.display_name.clone()));
    let (current, new) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let message: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    let save = move |patch: ProfilePatch, done: &'static str| {
        leptos::task::spawn_local(async move {
            match update_profile(patch).await {
                Ok(_) => {
                    message.try_set(Some((true, done.to_string())));
                    current.try_set(String::new());
                    new.try_set(String::new());
                }
                Err(e) => {
                    message.try_set(Some((false, e.message)));
                }
            }
        });
    };
    view! {
        <h2 class="mt-6 text-base font-semibold" id="own-account">"Your account"</h2>
        <div class="mt-2 grid gap-3 sm:grid-cols-2" aria-labelledby="own-account">
            <form data-testid="own-name" aria-label="Your name" class="flex flex-col gap-2 rounded-lg border border-slate-200 bg-white p-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save(ProfilePatch { display_name: Some(name.get_untracked()), password: None }, "Your name is saved.");
                }>
                <label>"Your name, as customers and the team see it"
                    <input data-testid="own-name-input" required maxlength="80" class=FIELD bind:value=name/>
                </label>
                <button type="submit" data-testid="own-name-save" class=BUTTON>"Save the name"</button>
            </form>
            <form data-testid="own-password" aria-label="Your password" class="flex flex-col gap-2 rounded-lg border border-slate-200 bg-white p-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let password = PasswordChange { current: current.get_untracked(), new: new.get_untracked() };
                    save(ProfilePatch { display_name: None, password: Some(password) }, "Your password is changed; your other sessions ended.");
                }>
                <label>"Current password"
                    <input type="password" data-testid="own-current-password" required autocomplete="current-password" class=FIELD bind:value=current/>
                </label>
                <label>"New password (12 characters or more)"
                    <input type="password" data-testid="own-new-password" required minlength="12" maxlength="1024" autocomplete="new-password" class=FIELD bind:value=new/>
                </label>
                <button type="submit" data-testid="own-password-save" class=BUTTON>"Change the password"</button>
            </form>
        </div>
        {move || message.get().map(|(ok, text)| {
            let (role, class) = if ok { ("status", "mt-2 text-emerald-800") } else { ("alert", "mt-2 text-red-800") };
            view! { <p role=role data-testid="own-account-message" class=class>{text}</p> }
        })}
    }
}
