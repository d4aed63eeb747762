//! What happened and what it cost, in the panel: the audit log (/admin/audit, admins), filtered
//! by member, conversation and kind of action, paged back; and the assistant's use
//! (/admin/usage), tokens and replies per day against the daily allowance.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{when, Panel};
use crate::{
    model::{tokens_label, AuditEntry, AuditFilter, UsageReport},
    staff_api::{read_audit, read_usage},
};

/// The kinds of action an admin can narrow the log to (a prefix of the action's name).
const KINDS: [(&str, &str); 14] = [
    ("", "Everything"),
    ("inquiry.", "Conversations: status, assignee, replies, labels"),
    ("message.", "Messages deleted"),
    ("chat.", "Conversations deleted"),
    ("note.", "Private notes"),
    ("staff.", "The team and passwords"),
    ("routing.", "Auto-assignment"),
    ("knowledge.", "Knowledge"),
    ("product", "The catalog"),
    ("context.", "The assistant's topics"),
    ("canned.", "Canned responses"),
    ("label.", "Labels"),
    ("api_key.", "API keys"),
    ("window.", "The window"),
];

#[component]
pub fn AuditRoute() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let is_admin = panel.view.with_value(|v| v.me.role.as_deref() == Some("admin"));
    let team = panel.view.with_value(|v| v.staff.clone());
    let member = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let chat = RwSignal::new(String::new());
    let entries: RwSignal<Vec<AuditEntry>> = RwSignal::new(Vec::new());
    let next: RwSignal<Option<i64>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let loading = RwSignal::new(false);
    // The filter as chosen; `before` pages back from the last entry shown.
    let filter = move |before: Option<i64>| AuditFilter {
        chat_id: chat.with_untracked(|c| c.trim().parse().ok()),
        actor_id: member.with_untracked(|m| m.parse().ok()),
        action: Some(kind.get_untracked()).filter(|k| !k.is_empty()),
        before,
        limit: Some(50),
    };
    let load = move |before: Option<i64>| {
        loading.set(true);
        leptos::task::spawn_local(async move {
            match read_audit(filter(before)).await {
                Ok(page) => {
                    if before.is_none() {
                        entries.try_set(page.entries);
                    } else {
                        entries.try_update(|list| list.extend(page.entries));
                    }
                    next.try_set(page.next_before);
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            loading.try_set(false);
        });
    };
    Effect::new(move |_| {
        if is_admin {
            load(None);
        }
    });
    let field = "rounded-lg border border-slate-300 bg-white px-2 py-1";
    view! {
        <Title text="Audit log · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="audit-page" aria-labelledby="audit-title">
            <h1 id="audit-title" class="text-lg font-semibold">"Audit log"</h1>
            {(!is_admin).then(|| view! { <p class="mt-2 text-slate-700">"Only admins read the audit log."</p> })}
            {is_admin.then(|| view! {
                <p class="mt-1 text-slate-700">"Who changed what, and when; never what a message said."</p>
                <form class="mt-3 flex flex-wrap items-end gap-3" data-testid="audit-filter" on:submit=move |ev| {
                    ev.prevent_default();
                    load(None);
                }>
                    <label class="flex flex-col gap-1">"Member"
                        <select data-testid="audit-member" class=field bind:value=member>
                            <option value="">"Anyone"</option>
                            {team.iter().map(|m| view! { <option value=m.id.to_string()>{m.display_name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="flex flex-col gap-1">"What"
                        <select data-testid="audit-kind" class=field bind:value=kind>
                            {KINDS.iter().map(|&(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="flex flex-col gap-1">"Conversation"
                        <input data-testid="audit-chat" class=format!("{field} w-28") inputmode="numeric" placeholder="Any" bind:value=chat/>
                    </label>
                    <button type="submit" data-testid="audit-apply" class="rounded-lg bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Show"</button>
                </form>
                {move || error.get().map(|e| view! { <p role="alert" data-testid="audit-error" class="mt-2 text-red-800">{e}</p> })}
                <table class="mt-4 w-full border-collapse text-left" data-testid="audit-table">
                    <caption class="sr-only">"Audit log entries, newest first"</caption>
                    <thead class="text-xs text-slate-600">
                        <tr><th scope="col" class="py-1 pr-3">"When"</th><th scope="col" class="py-1 pr-3">"Who"</th>
                            <th scope="col" class="py-1 pr-3">"Action"</th><th scope="col" class="py-1 pr-3">"Conversation"</th>
                            <th scope="col" class="py-1">"What changed"</th></tr>
                    </thead>
                    <tbody>
                        {move || entries.get().into_iter().map(|e| view! {
                            <tr data-testid="audit-entry" data-action=e.action.clone() class="border-t border-slate-200 align-top">
                                <td class="py-1 pr-3 whitespace-nowrap"><time datetime=e.at.clone()>{when(&e.at)}</time></td>
                                <td class="py-1 pr-3">{e.actor_name.clone().unwrap_or_else(|| format!("{} {}", e.actor_kind, e.actor_id))}</td>
                                <td class="py-1 pr-3 font-mono text-xs">{e.action.clone()}</td>
                                <td class="py-1 pr-3">{e.chat_id.map(|id| view! {
                                    <A href=format!("/admin/inquiries/{id}") attr:class="underline">{format!("#{id}")}</A>
                                })}</td>
                                <td class="py-1 break-words">{e.detail.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {move || (entries.with(Vec::is_empty) && !loading.get()).then(|| view! { <p class="mt-2 text-slate-700">"Nothing matches."</p> })}
                {move || next.get().map(|before| view! {
                    <button type="button" data-testid="audit-older" disabled=move || loading.get() on:click=move |_| load(Some(before))
                        class="mt-3 self-start rounded-lg px-3 py-1 ring-1 ring-slate-300 hover:bg-slate-100">"Older entries"</button>
                })}
            })}
        </section>
    }
}

#[component]
pub fn UsageRoute() -> impl IntoView {
    let days = RwSignal::new(String::from("14"));
    let report: RwSignal<Option<UsageReport>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    Effect::new(move |_| {
        let n: u32 = days.get().parse().unwrap_or(14);
        leptos::task::spawn_local(async move {
            match read_usage(n).await {
                Ok(r) => {
                    report.try_set(Some(r));
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    });
    view! {
        <Title text="Usage · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="usage-page" aria-labelledby="usage-title">
            <div class="flex flex-wrap items-end gap-3">
                <h1 id="usage-title" class="text-lg font-semibold">"The assistant's use"</h1>
                <label class="ml-auto flex items-center gap-2">"Over the last"
                    <select data-testid="usage-days" class="rounded-lg border border-slate-300 bg-white px-2 py-1" bind:value=days>
                        <option value="7">"7 days"</option>
                        <option value="14">"14 days"</option>
                        <option value="30">"30 days"</option>
                        <option value="90">"90 days"</option>
                    </select>
                </label>
            </div>
            {move || error.get().map(|e| view! { <p role="alert" class="mt-2 text-red-800">{e}</p> })}
            {move || report.get().map(|r| {
                let cap = r.tokens_per_day.max(1);
                let total: i64 = r.days.iter().map(|d| d.tokens).sum();
                let replies: i64 = r.days.iter().map(|d| d.calls).sum();
                view! {
                    <p class="mt-2 text-slate-700" data-testid="usage-total">
                        {format!("{} and {replies} replies in all; the allowance is {} a day (all visitors), {} a visitor.",
                            tokens_label(total), tokens_label(r.tokens_per_day), tokens_label(r.tokens_per_visitor_day))}
                    </p>
                    <table class="mt-3 w-full max-w-2xl border-collapse text-left" data-testid="usage-table">
                        <caption class="sr-only">"Tokens and replies per day, newest first"</caption>
                        <thead class="text-xs text-slate-600">
                            <tr><th scope="col" class="py-1 pr-3">"Day (UTC)"</th><th scope="col" class="py-1 pr-3">"Tokens"</th>
                                <th scope="col" class="py-1 pr-3">"Replies"</th><th scope="col" class="py-1">"Of the day's allowance"</th></tr>
                        </thead>
                        <tbody>
                            {r.days.is_empty().then(|| view! { <tr><td colspan="4" class="py-2 text-slate-700">"No replies in this time."</td></tr> })}
                            {r.days.into_iter().map(|d| {
                                let share = (d.tokens.saturating_mul(100) / cap).min(100);
                                view! {
                                    <tr data-testid="usage-day" data-day=d.day.clone() class="border-t border-slate-200">
                                        <td class="py-1 pr-3">{d.day.clone()}</td>
                                        <td class="py-1 pr-3">{d.tokens}</td>
                                        <td class="py-1 pr-3">{d.calls}</td>
                                        <td class="py-1">
                                            <div class="flex items-center gap-2">
                                                // A meter, not a styled bar: the panel's CSP allows no inline style.
                                                <meter class="h-2 w-40" min="0" max="100" value=share aria-hidden="true"></meter>
                                                <span>{format!("{share}%")}</span>
                                            </div>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }
            })}
        </section>
    }
}
