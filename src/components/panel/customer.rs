//! The customer beside a conversation: email, first seen, local time, browser and system, tokens
//! spent on them, the products and pages they asked about, and their other conversations (one
//! click away).

use leptos::prelude::*;
use leptos_router::components::A;

use super::when;
use crate::{components::browser, model::CustomerProfile, staff_api::read_customer};

/// How often the customer's local time is written again.
const CLOCK_MS: u64 = 30_000;

#[component]
pub fn CustomerCard(chat_id: i64) -> impl IntoView {
    let profile = LocalResource::new(move || read_customer(chat_id));
    view! {
        <aside data-testid="customer" aria-labelledby="customer-title"
            class="hidden w-72 shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-4 text-sm lg:block">
            <h2 id="customer-title" class="font-semibold">"Customer"</h2>
            {move || match profile.get() {
                None => view! { <p class="mt-2 text-slate-600">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-2 text-red-800">{e.message}</p> }.into_any(),
                Some(Ok(profile)) => view! { <Profile profile chat_id/> }.into_any(),
            }}
        </aside>
    }
}

#[component]
fn Profile(profile: CustomerProfile, chat_id: i64) -> impl IntoView {
    // Their local time, kept current while the card is shown.
    let now = RwSignal::new(0u32);
    let ticking = set_interval_with_handle(move || now.update(|n| *n += 1), std::time::Duration::from_millis(CLOCK_MS));
    on_cleanup(move || {
        if let Ok(handle) = ticking {
            handle.clear();
        }
    });
    let zone = profile.time_zone.clone();
    let local = move || {
        now.track();
        zone.as_deref().map(|z| (z.to_string(), browser::time_in_zone(z)))
    };
    let others: Vec<_> = profile.conversations.iter().filter(|c| c.id != chat_id).cloned().collect();
    let device = match (&profile.browser, &profile.system) {
        (Some(b), Some(s)) => Some(format!("{b} on {s}")),
        (Some(one), None) | (None, Some(one)) => Some(one.clone()),
        (None, None) => None,
    };
    let row = "mt-2";
    let term = "text-xs text-slate-600";
    view! {
        <dl>
            <div class=row><dt class=term>"Email"</dt>
                <dd data-testid="customer-email" class="break-all">{profile.email.unwrap_or_else(|| "None left".into())}</dd></div>
            <div class=row><dt class=term>"First seen"</dt>
                <dd data-testid="customer-first-seen">{when(&profile.first_seen)}</dd></div>
            <div class=row><dt class=term>"Local time"</dt>
                <dd data-testid="customer-local-time">{move || match local() {
                    Some((zone, time)) if !time.is_empty() => format!("{time} ({zone})"),
                    Some((zone, _)) => zone,
                    None => "Not known".into(),
                }}</dd></div>
            <div class=row><dt class=term>"Browser"</dt>
                <dd data-testid="customer-device">{device.unwrap_or_else(|| "Not known".into())}</dd></div>
            <div class=row><dt class=term>"Tokens spent on them"</dt>
                <dd data-testid="customer-tokens">{crate::model::tokens_label(profile.tokens_used)}</dd></div>
        </dl>
        <super::satisfaction::Ratings/>
        <h3 class="mt-4 text-xs font-semibold uppercase text-slate-600">"Asked about"</h3>
        <ul data-testid="customer-products" class="mt-1 space-y-1">
            {profile.products.is_empty().then(|| view! { <li class="text-slate-600">"No product"</li> })}
            {profile.products.into_iter().map(|p| view! {
                <li data-testid="customer-product" data-id=p.id.clone()>{p.name.unwrap_or_else(|| format!("Product {}", p.id))}</li>
            }).collect_view()}
        </ul>
        <h3 class="mt-4 text-xs font-semibold uppercase text-slate-600">"Pages"</h3>
        <ul data-testid="customer-pages" class="mt-1 space-y-1">
            {profile.pages.is_empty().then(|| view! { <li class="text-slate-600">"None known"</li> })}
            {profile.pages.into_iter().map(|p| {
                let shown = p.title.clone().unwrap_or_else(|| p.url.clone());
                view! { <li class="break-all"><a data-testid="customer-page" href=p.url target="_blank" rel="noopener noreferrer" class="underline">{shown}</a></li> }
            }).collect_view()}
        </ul>
        <h3 class="mt-4 text-xs font-semibold uppercase text-slate-600">"Other conversations"</h3>
        <ul data-testid="customer-conversations" class="mt-1 space-y-1">
            {others.is_empty().then(|| view! { <li class="text-slate-600">"None"</li> })}
            {others.into_iter().map(|c| view! {
                <li>
                    <A href=format!("/admin/inquiries/{}", c.id) attr:data-testid="customer-conversation" attr:data-id=c.id attr:class="underline">
                        {format!("#{} {}", c.id, c.title)}
                    </A>
                    <span class="text-xs text-slate-600">{format!(" · {} · {}", c.status.replace('_', " "), when(&c.last_activity_at))}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}
