//! The panel's Window page (/admin/window): how the chat window looks (brand colour with its
//! contrast checked as it is chosen, title, subtitle, welcome text, launcher side, the team's
//! avatar or a logo) with a live preview, and the team's business hours. Admins change them;
//! the window reads them as it renders.

use leptos::{html, prelude::*};
use leptos_meta::Title;

use super::Panel;
use crate::{
    components::browser,
    model::{contrast_with_white, BusinessHours, LauncherSide, OpeningHours, WindowSettings, MIN_CONTRAST},
    staff_api::{read_window_settings, remove_window_avatar, save_window_settings},
};

const FIELD: &str = "mt-1 w-full rounded-lg border border-slate-300 px-2 py-1";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50";
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

#[component]
pub fn WindowRoute() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let is_admin = panel.view.with_value(|v| v.me.role.as_deref() == Some("admin"));
    let settings = LocalResource::new(read_window_settings);
    view! {
        <Title text="Window · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="window-page" aria-labelledby="window-title">
            <h1 id="window-title" class="text-lg font-semibold">"Chat window"</h1>
            <p class="mt-1 text-slate-700">
                "How the chat window looks on the shop's pages, and when the team answers. "
                "A change shows on the next page a customer opens: nothing to rebuild."
            </p>
            {move || match settings.get() {
                None => view! { <p class="mt-4">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4">{e.message}</p> }.into_any(),
                Some(Ok(loaded)) => view! { <WindowForm loaded is_admin/> }.into_any(),
            }}
        </section>
    }
}

/// One day's row of the business hours: open or closed, from and to.
#[derive(Clone, Copy)]
struct Day {
    open: RwSignal<bool>,
    from: RwSignal<String>,
    to: RwSignal<String>,
}

#[component]
fn WindowForm(loaded: WindowSettings, is_admin: bool) -> impl IntoView {
    let color = RwSignal::new(loaded.brand_color.clone());
    let title = RwSignal::new(loaded.title.clone());
    let subtitle = RwSignal::new(loaded.subtitle.clone());
    let welcome = RwSignal::new(loaded.welcome.clone());
    let left = RwSignal::new(loaded.launcher == LauncherSide::Left);
    let has_avatar = RwSignal::new(loaded.avatar);
    let hours_on = RwSignal::new(loaded.business_hours.enabled);
    let zone = RwSignal::new(loaded.business_hours.time_zone.clone());
    let days: Vec<Day> = (0..7)
        .map(|i| {
            let day = loaded.business_hours.days.get(i).cloned().flatten();
            Day {
                open: RwSignal::new(day.is_some()),
                from: RwSignal::new(day.as_ref().map_or("09:00".into(), |d| d.open.clone())),
                to: RwSignal::new(day.map_or("17:00".into(), |d| d.close)),
            }
        })
        .collect();
    let message: RwSignal<Option<(bool, String)>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let contrast = move || contrast_with_white(&color.get());
    let gathered = {
        let days = days.clone();
        move || WindowSettings {
            brand_color: color.get_untracked(),
            title: title.get_untracked(),
            subtitle: subtitle.get_untracked(),
            welcome: welcome.get_untracked(),
            launcher: if left.get_untracked() { LauncherSide::Left } else { LauncherSide::Right },
            business_hours: BusinessHours {
                enabled: hours_on.get_untracked(),
                time_zone: zone.get_untracked(),
                days: days
                    .iter()
                    .map(|d| {
                        d.open
                            .get_untracked()
                            .then(|| OpeningHours { open: d.from.get_untracked(), close: d.to.get_untracked() })
                    })
                    .collect(),
            },
            avatar: has_avatar.get_untracked(),
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let settings = gathered();
        leptos::task::spawn_local(async move {
            let said = match save_window_settings(settings).await {
                Ok(_) => (true, "Saved: the window shows it on its next page.".to_string()),
                Err(e) => (false, e.message),
            };
            message.try_set(Some(said));
            busy.try_set(false);
        });
    };
    let file = NodeRef::<html::Input>::new();
    let upload = move |_| {
        let Some(input) = file.get() else { return };
        leptos::task::spawn_local(async move {
            let said = match browser::put_file(&input, "/api/v1/admin/settings/window/avatar").await {
                Ok(()) => {
                    has_avatar.try_set(true);
                    (true, "The avatar is up.".to_string())
                }
                Err(e) => (false, e),
            };
            message.try_set(Some(said));
        });
    };
    let remove = move |_| {
        leptos::task::spawn_local(async move {
            let said = match remove_window_avatar().await {
                Ok(()) => {
                    has_avatar.try_set(false);
                    (true, "The avatar is down.".to_string())
                }
                Err(e) => (false, e.message),
            };
            message.try_set(Some(said));
        });
    };
    view! {
        <div class="mt-4 grid gap-6 lg:grid-cols-[minmax(0,1fr)_22rem]">
            <form data-testid="window-form" aria-label="The chat window" on:submit=save class="flex flex-col gap-3">
                <fieldset disabled=!is_admin class="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-3">
                    <legend class="px-1 font-semibold">"Look"</legend>
                    <div class="flex flex-wrap items-end gap-3">
                        <label>"Brand colour"
                            <input type="color" data-testid="window-color-picker" class="mt-1 block h-8 w-14 rounded border border-slate-300"
                                prop:value=move || color.get() on:input=move |ev| color.set(event_target_value(&ev))/>
                        </label>
                        <label>"As #rrggbb"
                            <input data-testid="window-color" required maxlength="7" pattern="#[0-9a-fA-F]{6}" class=FIELD bind:value=color/>
                        </label>
                        <p role="status" data-testid="window-contrast" class="pb-1"
                            data-passes=move || contrast().is_some_and(|r| r >= MIN_CONTRAST).to_string()>
                            {move || match contrast() {
                                Some(r) if r >= MIN_CONTRAST => format!("White text on it: {r:.2}:1, passes WCAG AA"),
                                Some(r) => format!("White text on it: {r:.2}:1, under the 4.5:1 WCAG AA asks for: choose a darker colour"),
                                None => "Not a colour as #rrggbb".into(),
                            }}
                        </p>
                    </div>
                    <label>"Title"
                        <input data-testid="window-title-input" required maxlength="60" class=FIELD bind:value=title/>
                    </label>
                    <label>"Subtitle (empty: the topic's description)"
                        <input data-testid="window-subtitle" maxlength="120" class=FIELD bind:value=subtitle/>
                    </label>
                    <label>"Welcome text beside the launcher (empty: none)"
                        <input data-testid="window-welcome" maxlength="160" class=FIELD bind:value=welcome/>
                    </label>
                    <div role="radiogroup" aria-label="Launcher side" class="flex gap-4">
                        <label class="flex items-center gap-2">
                            <input type="radio" name="launcher-side" data-testid="window-launcher-right" prop:checked=move || !left.get() on:change=move |_| left.set(false)/>
                            "Launcher on the right"
                        </label>
                        <label class="flex items-center gap-2">
                            <input type="radio" name="launcher-side" data-testid="window-launcher-left" prop:checked=move || left.get() on:change=move |_| left.set(true)/>
                            "Launcher on the left"
                        </label>
                    </div>
                </fieldset>
                <fieldset disabled=!is_admin class="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-3">
                    <legend class="px-1 font-semibold">"Business hours"</legend>
                    <label class="flex items-center gap-2">
                        <input type="checkbox" data-testid="hours-on" bind:checked=hours_on/>
                        "Outside these hours the window says when the team is back, and asking for a person asks for an email"
                    </label>
                    <label>"Time zone (like Europe/Paris)"
                        <input data-testid="hours-zone" required maxlength="64" class=FIELD bind:value=zone/>
                    </label>
                    <table class="w-fit">
                        <caption class="sr-only">"Opening hours by day"</caption>
                        <thead><tr><th scope="col" class="pr-3 text-left">"Day"</th><th scope="col" class="pr-3 text-left">"Open"</th>
                            <th scope="col" class="pr-3 text-left">"From"</th><th scope="col" class="text-left">"To"</th></tr></thead>
                        <tbody>
                            {days.iter().enumerate().map(|(i, day)| {
                                let Day { open, from, to } = *day;
                                let name = DAYS[i];
                                view! {
                                    <tr data-testid="hours-day" data-day=i>
                                        <th scope="row" class="pr-3 text-left font-normal">{name}</th>
                                        <td class="py-1 pr-3"><input type="checkbox" class="size-6" aria-label=format!("Open on {name}") bind:checked=open/></td>
                                        <td class="py-1 pr-3"><input type="time" aria-label=format!("{name} from") class="min-h-8 rounded border border-slate-300 px-1"
                                            disabled=move || !open.get() bind:value=from/></td>
                                        <td class="py-1"><input type="time" aria-label=format!("{name} to") class="min-h-8 rounded border border-slate-300 px-1"
                                            disabled=move || !open.get() bind:value=to/></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </fieldset>
                {is_admin.then(|| view! {
                    <div><button type="submit" data-testid="window-save" class=BUTTON disabled=move || busy.get()>"Save"</button></div>
                })}
                {move || message.get().map(|(ok, text)| {
                    let (role, class) = if ok { ("status", "text-emerald-800") } else { ("alert", "text-red-800") };
                    view! { <p role=role data-testid="window-message" class=class>{text}</p> }
                })}
            </form>
            <div class="flex flex-col gap-3">
                <Preview color title subtitle welcome left has_avatar/>
                {is_admin.then(|| view! {
                    <div class="rounded-lg border border-slate-200 bg-white p-3">
                        <label>"The team's avatar or a logo (PNG, JPEG, GIF or WebP, at most 256 KiB)"
                            <input type="file" accept="image/png,image/jpeg,image/gif,image/webp" data-testid="window-avatar-file" node_ref=file class="mt-1 block w-full"/>
                        </label>
                        <div class="mt-2 flex gap-2">
                            <button type="button" data-testid="window-avatar-upload" class=BUTTON on:click=upload>"Upload"</button>
                            <button type="button" data-testid="window-avatar-remove" class="rounded-lg px-3 py-1 text-red-800 hover:bg-red-50"
                                disabled=move || !has_avatar.get() on:click=remove>"Remove"</button>
                        </div>
                    </div>
                })}
            </div>
        </div>
    }
}

/// The window as customers will see it, drawn from the form as it is typed (colours as SVG
/// fills: the panel's pages allow no inline styles).
#[component]
fn Preview(
    color: RwSignal<String>,
    title: RwSignal<String>,
    subtitle: RwSignal<String>,
    welcome: RwSignal<String>,
    left: RwSignal<bool>,
    has_avatar: RwSignal<bool>,
) -> impl IntoView {
    let fill = move || {
        let c = color.get();
        if contrast_with_white(&c).is_some() {
            c
        } else {
            "#4f46e5".into()
        }
    };
    let side = move || if left.get() { "items-start" } else { "items-end" };
    view! {
        <figure data-testid="window-preview" data-side=move || if left.get() { "left" } else { "right" }
            class="rounded-lg border border-slate-200 bg-slate-100 p-3">
            <figcaption class="mb-2 font-semibold">"Preview"</figcaption>
            <div class="overflow-hidden rounded-xl border border-slate-200 bg-white shadow">
                <div class="relative">
                    <svg class="absolute inset-0 size-full" preserveAspectRatio="none" viewBox="0 0 10 10" aria-hidden="true">
                        <rect width="10" height="10" fill=fill/>
                    </svg>
                    <div class="relative flex items-center gap-3 px-4 py-3 text-white">
                        <span class="flex size-9 shrink-0 items-center justify-center rounded-full bg-white/15 text-xs">
                            {move || if has_avatar.get() { "Logo" } else { "🤖" }}
                        </span>
                        <div class="min-w-0">
                            <p data-testid="preview-title" class="truncate font-semibold">{move || title.get()}</p>
                            <p data-testid="preview-subtitle" class="text-sm">{move || {
                                let s = subtitle.get();
                                if s.is_empty() { "The topic's description".to_string() } else { s }
                            }}</p>
                        </div>
                    </div>
                </div>
                <p class="p-4 text-slate-600">"…the conversation…"</p>
            </div>
            <div class=move || format!("mt-3 flex flex-col gap-2 {}", side())>
                {move || {
                    let w = welcome.get();
                    (!w.is_empty()).then(|| view! {
                        <span data-testid="preview-welcome" class="rounded-full border border-slate-200 bg-white px-3 py-1 text-slate-800 shadow-sm">{w}</span>
                    })
                }}
                <svg data-testid="preview-launcher" class="size-12" viewBox="0 0 48 48" role="img" aria-label="The launcher">
                    <circle cx="24" cy="24" r="24" fill=fill/>
                    <path d="M16 30l-2 6 6-2a12 12 0 1 0-4-4z" fill="none" stroke="#fff" stroke-width="2.5" stroke-linejoin="round"/>
                </svg>
            </div>
        </figure>
    }
}
