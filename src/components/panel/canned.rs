//! The panel's Canned responses page (/admin/canned-responses): the team's saved replies, each
//! under a shortcut, written by admins (with `{{customer.email}}`, `{{product.name}}` and
//! `{{agent.name}}` filled in where they are used), and the picker the reply box opens on `/`.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    model::CannedResponse,
    staff_api::{canned_for, delete_canned, list_canned, save_canned},
};

#[component]
pub fn CannedRoute() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        changed.track();
        list_canned(None)
    });
    // None: no form; Some(None): a new one; Some(Some(r)): editing r.
    let editing: RwSignal<Option<Option<CannedResponse>>> = RwSignal::new(None);
    let on_saved = move || {
        editing.set(None);
        changed.update(|n| *n += 1);
    };
    view! {
        <Title text="Canned responses · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="canned-page" aria-labelledby="canned-title">
            <div class="flex flex-wrap items-center gap-2">
                <h1 id="canned-title" class="text-lg font-semibold">"Canned responses"</h1>
                <button type="button" data-testid="canned-new" on:click=move |_| editing.set(Some(None))
                    class="ml-auto rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700">"New response"</button>
            </div>
            <p class="mt-1 text-slate-700">
                "Type / and the shortcut in a reply box to use one. "
                <code>"{{customer.email}}"</code>", "<code>"{{product.name}}"</code>" and "<code>"{{agent.name}}"</code>
                " are filled in for the conversation."
            </p>
            {move || editing.get().map(|response| view! { <CannedForm response on_saved on_close=move || editing.set(None)/> })}
            {move || match list.get() {
                None => view! { <p class="mt-4">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4">{e.message}</p> }.into_any(),
                Some(Ok(all)) if all.is_empty() => view! { <p class="mt-4 text-slate-700">"None yet."</p> }.into_any(),
                Some(Ok(all)) => view! {
                    <ul class="mt-4 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" data-testid="canned-list">
                        {all.into_iter().map(|response| {
                            let label = format!("Edit /{}", response.shortcut);
                            let (shortcut, content) = (response.shortcut.clone(), response.content.clone());
                            view! {
                                <li data-testid="canned-item" data-shortcut=shortcut.clone() class="flex items-center gap-3 px-3 py-2">
                                    <div class="min-w-0 flex-1">
                                        <p class="font-medium">{format!("/{shortcut}")}</p>
                                        <p class="truncate text-xs text-slate-600">{content}</p>
                                    </div>
                                    <button type="button" class="rounded-lg px-2 py-1 text-indigo-700 underline" aria-label=label
                                        on:click=move |_| editing.set(Some(Some(response.clone())))>"Edit"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn CannedForm(
    response: Option<CannedResponse>,
    on_saved: impl Fn() + Copy + Send + Sync + 'static,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = response.as_ref().map(|r| r.id);
    let shortcut = RwSignal::new(response.as_ref().map(|r| r.shortcut.clone()).unwrap_or_default());
    let content = RwSignal::new(response.map(|r| r.content).unwrap_or_default());
    let busy = RwSignal::new(false);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let run = super::form_runner(busy, error, on_saved);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (s, c) = (shortcut.get_untracked(), content.get_untracked());
        run(Box::pin(async move { save_canned(id, s, c).await.map(drop) }));
    };
    let field = "mt-1 w-full rounded-lg border border-slate-300 px-2 py-1";
    view! {
        <form data-testid="canned-form" class="mt-4 flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4" on:submit=save
            aria-label=if id.is_none() { "New canned response" } else { "Edit canned response" }>
            <label>"Shortcut (a-z, 0-9, - and _)"
                <input data-testid="canned-shortcut" class=field required maxlength="40" pattern="[a-z0-9][a-z0-9_\\-]*" bind:value=shortcut/>
            </label>
            <label>"Response (Markdown)"
                <textarea data-testid="canned-content" rows="4" class=field required maxlength="4000" bind:value=content></textarea>
            </label>
            {move || error.get().map(|e| view! { <p role="alert" data-testid="canned-error" class="text-red-800">{e}</p> })}
            <div class="flex gap-2">
                <button type="submit" data-testid="canned-save" disabled=move || busy.get()
                    class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">"Save"</button>
                <button type="button" class="rounded-lg px-3 py-1 hover:bg-slate-100" on:click=move |_| on_close()>"Cancel"</button>
                {id.map(|id| view! {
                    <button type="button" data-testid="canned-delete" disabled=move || busy.get()
                        class="ml-auto rounded-lg px-3 py-1 text-red-800 hover:bg-red-50"
                        on:click=move |_| run(Box::pin(delete_canned(id)))>"Delete"</button>
                })}
            </div>
        </form>
    }
}

/// What a draft asks of the canned responses: `/` and a word (or nothing yet).
pub fn canned_query(draft: &str) -> Option<&str> {
    draft.strip_prefix('/').filter(|q| !q.contains(char::is_whitespace))
}

/// The canned responses a reply box's draft asks for: a draft of `/` and a word (or nothing yet)
/// lists those matching it, filled in for conversation `id`; ↑ and ↓ move `choice`, and picking
/// one (a click, or Enter on the one chosen) puts its text in the draft.
#[component]
pub fn CannedPicker(id: i64, draft: RwSignal<String>, choice: RwSignal<usize>) -> impl IntoView {
    let asked = Memo::new(move |_| draft.with(|d| canned_query(d).map(str::to_string)));
    // A new search starts from the first.
    Effect::new(move |_| {
        asked.track();
        choice.set(0);
    });
    let found = LocalResource::new(move || {
        let asked = asked.get();
        async move {
            match asked {
                Some(q) => canned_for(id, Some(q).filter(|q| !q.is_empty())).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    // ↓ past the last one stays on it.
    Effect::new(move |_| {
        let len = found.with(|f| f.as_ref().map_or(0, Vec::len));
        if len > 0 && choice.get() >= len {
            choice.set(len - 1);
        }
    });
    move || {
        let list = found.get().unwrap_or_default();
        (asked.with(Option::is_some) && !list.is_empty()).then(|| view! {
            <ul role="listbox" aria-label="Canned responses" data-testid="canned-picker"
                class="max-h-48 overflow-y-auto border-t border-slate-200 bg-white text-sm">
                {let last = list.len() - 1;
                list.into_iter().enumerate().map(|(at, response)| {
                    let text = response.content.clone();
                    let chosen = move || choice.get().min(last) == at;
                    view! {
                        <li role="option" aria-selected=move || chosen().to_string()>
                            <button type="button" data-testid="canned-option" data-chosen=move || chosen().to_string()
                                class=move || if chosen() { "w-full bg-indigo-50 px-3 py-1.5 text-left" } else { "w-full px-3 py-1.5 text-left hover:bg-slate-100" }
                                on:click=move |_| draft.set(text.clone())>
                                <span class="font-medium">{format!("/{}", response.shortcut)}</span>
                                <span class="ml-2 text-slate-600">{response.content.clone()}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        })
    }
}
