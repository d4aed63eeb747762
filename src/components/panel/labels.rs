//! The panel's Labels page (/admin/labels): the team's labels, each a name and a colour; admins
//! create, rename, recolour and delete them (deleting takes one off every conversation).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{LabelChip, Panel};
use crate::{
    model::Label,
    staff_api::{delete_label, list_labels, save_label},
};

#[component]
pub fn LabelsRoute() -> impl IntoView {
    let panel = expect_context::<Panel>();
    let is_admin = panel.view.with_value(|v| v.me.role.as_deref() == Some("admin"));
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    // None: no form; Some(None): a new one; Some(Some(l)): editing l.
    let editing: RwSignal<Option<Option<Label>>> = RwSignal::new(None);
    // The panel's copy (its filter and the conversations' pickers) is the one shown and kept current.
    let reload = move || {
        leptos::task::spawn_local(async move {
            match list_labels().await {
                Ok(all) => panel.labels.set(all),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    Effect::new(move |_| reload());
    let on_saved = move || {
        editing.set(None);
        error.set(None);
        reload();
    };
    view! {
        <Title text="Labels · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="labels-page" aria-labelledby="labels-title">
            <div class="flex flex-wrap items-center gap-2">
                <h1 id="labels-title" class="text-lg font-semibold">"Labels"</h1>
                {is_admin.then(|| view! {
                    <button type="button" data-testid="label-new" on:click=move |_| editing.set(Some(None))
                        class="ml-auto rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700">"New label"</button>
                })}
            </div>
            <p class="mt-1 text-slate-700">"Any member puts labels on a conversation (in its header); the list filters by them."</p>
            {move || editing.get().map(|label| view! { <LabelForm label on_saved on_close=move || editing.set(None) error/> })}
            {move || error.get().map(|e| view! { <p role="alert" data-testid="label-error" class="mt-2 text-red-800">{e}</p> })}
            {move || {
                let all = panel.labels.get();
                if all.is_empty() {
                    return view! { <p class="mt-4 text-slate-700">"None yet."</p> }.into_any();
                }
                view! {
                    <ul class="mt-4 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" data-testid="label-list">
                        {all.into_iter().map(|label| {
                            let edit = label.clone();
                            let aria = format!("Edit the label {}", label.name);
                            let item_name = label.name.clone();
                            view! {
                                <li data-testid="label-item" data-name=item_name class="flex items-center gap-3 px-3 py-2">
                                    <LabelChip label/>
                                    <span class="flex-1"></span>
                                    {is_admin.then(|| view! {
                                        <button type="button" class="rounded-lg px-2 py-1 text-indigo-700 underline" aria-label=aria
                                            on:click=move |_| editing.set(Some(Some(edit.clone())))>"Edit"</button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn LabelForm(
    label: Option<Label>,
    on_saved: impl Fn() + Copy + Send + Sync + 'static,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = label.as_ref().map(|l| l.id);
    let name = RwSignal::new(label.as_ref().map(|l| l.name.clone()).unwrap_or_default());
    let color = RwSignal::new(label.map(|l| l.color).unwrap_or_else(|| "#4338ca".into()));
    let busy = RwSignal::new(false);
    let run = super::form_runner(busy, error, on_saved);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, c) = (name.get_untracked(), color.get_untracked());
        run(Box::pin(async move { save_label(id, n, c).await.map(drop) }));
    };
    let field = "mt-1 rounded-lg border border-slate-300 px-2 py-1";
    view! {
        <form data-testid="label-form" class="mt-4 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4" on:submit=save
            aria-label=if id.is_none() { "New label" } else { "Edit label" }>
            <label class="flex flex-col">"Name"
                <input data-testid="label-name" class=field required maxlength="40" bind:value=name/>
            </label>
            <label class="flex flex-col">"Colour"
                <input type="color" data-testid="label-color" class="mt-1 h-8 w-14 rounded border border-slate-300" bind:value=color/>
            </label>
            <button type="submit" data-testid="label-save" disabled=move || busy.get()
                class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">"Save"</button>
            <button type="button" class="rounded-lg px-3 py-1 hover:bg-slate-100" on:click=move |_| on_close()>"Cancel"</button>
            {id.map(|id| view! {
                <button type="button" data-testid="label-delete" disabled=move || busy.get()
                    class="ml-auto rounded-lg px-3 py-1 text-red-800 hover:bg-red-50"
                    on:click=move |_| run(Box::pin(delete_label(id)))>"Delete"</button>
            })}
        </form>
    }
}
