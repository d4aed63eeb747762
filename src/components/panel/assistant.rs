//! The panel's Assistant page (/admin/assistant, admins): the 1 to 3 contexts customers pick from,
//! each with its label, description, greeting, instructions, knowledge tags, strictness and model;
//! one more added, one deleted, another made the default. A change reaches open windows and every
//! replica at once.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    model::ContextSettings,
    staff_api::{delete_context, list_contexts, make_default_context, save_context},
};

/// At most this many contexts (as the server holds).
const MAX_CONTEXTS: usize = 3;

#[component]
pub fn AssistantRoute() -> impl IntoView {
    let contexts: RwSignal<Option<Result<Vec<ContextSettings>, String>>> = RwSignal::new(None);
    let adding = RwSignal::new(false);
    let done: RwSignal<Option<&'static str>> = RwSignal::new(None);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            contexts.try_set(Some(list_contexts().await.map_err(|e| e.message)));
        });
    });
    let on_saved = Callback::new(move |(all, said): (Vec<ContextSettings>, &'static str)| {
        contexts.set(Some(Ok(all)));
        adding.set(false);
        done.set(Some(said));
    });
    view! {
        <Title text="Assistant · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="assistant-page" aria-labelledby="assistant-title">
            <h1 id="assistant-title" class="text-lg font-semibold">"Assistant"</h1>
            <p class="mt-1 text-slate-700">
                "Customers pick one of these topics in the chat window; the first is where a conversation starts. "
                "A change reaches open windows at once."
            </p>
            {move || done.get().map(|said| view! { <p role="status" data-testid="context-said" class="mt-2 text-slate-700">{said}</p> })}
            {move || match contexts.get() {
                None => view! { <p class="mt-4">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4">{e}</p> }.into_any(),
                Some(Ok(all)) => {
                    let count = all.len();
                    view! {
                        <ul class="mt-4 flex flex-col gap-4" data-testid="context-list">
                            {all.into_iter().enumerate().map(|(i, context)| {
                                let (is_default, can_delete) = (i == 0, count > 1);
                                view! { <li><ContextForm context is_new=false is_default can_delete on_saved/></li> }
                            }).collect_view()}
                        </ul>
                        {(count < MAX_CONTEXTS).then(|| view! {
                            <Show when=move || adding.get() fallback=move || view! {
                                <button type="button" data-testid="context-add" on:click=move |_| adding.set(true)
                                    class="mt-4 self-start rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700">"Add a topic"</button>
                            }>
                                <div class="mt-4">
                                    <ContextForm context=ContextSettings::default() is_new=true is_default=false can_delete=false on_saved/>
                                </div>
                            </Show>
                        })}
                    }.into_any()
                }
            }}
        </section>
    }
}

/// One context's settings, saved as a whole.
#[component]
fn ContextForm(
    context: ContextSettings,
    is_new: bool,
    is_default: bool,
    can_delete: bool,
    on_saved: Callback<(Vec<ContextSettings>, &'static str)>,
) -> impl IntoView {
    let id = RwSignal::new(context.id.clone());
    let label = RwSignal::new(context.label);
    let description = RwSignal::new(context.description);
    let greeting = RwSignal::new(context.greeting);
    let instructions = RwSignal::new(context.instructions);
    let tags = RwSignal::new(context.knowledge_tags.join(", "));
    let strict = RwSignal::new(context.strict);
    let model = RwSignal::new(context.model.unwrap_or_default());
    let busy = RwSignal::new(false);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    // Runs a change, then shows the contexts as they are now (or why it failed).
    let run = move |change: std::pin::Pin<Box<dyn std::future::Future<Output = _>>>, done: &'static str| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result: Result<Vec<ContextSettings>, crate::model::ErrorDetail> = change.await;
            busy.try_set(false);
            match result {
                Ok(all) => on_saved.run((all, done)),
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let settings = ContextSettings {
            id: id.get_untracked(),
            label: label.get_untracked(),
            description: description.get_untracked(),
            greeting: greeting.get_untracked(),
            instructions: instructions.get_untracked(),
            knowledge_tags: tags
                .get_untracked()
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            strict: strict.get_untracked(),
            model: Some(model.get_untracked()).filter(|m| !m.trim().is_empty()),
        };
        run(Box::pin(save_context(settings)), "Saved.");
    };
    let field = "mt-1 w-full rounded-lg border border-slate-300 px-2 py-1";
    let key = if is_new { "new".to_string() } else { context.id.clone() };
    let heading = if is_new { "New topic".to_string() } else { format!("Topic “{}”", context.id) };
    let label_of_form = heading.clone();
    view! {
        <form data-testid="context-form" data-id=key class="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4" on:submit=save
            aria-label=label_of_form>
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="font-semibold">{heading}</h2>
                {is_default.then(|| view! { <span data-testid="context-default" class="rounded-full bg-indigo-50 px-2 text-xs text-indigo-800">"Default"</span> })}
            </div>
            {is_new.then(|| view! {
                <label>"Id (a-z, 0-9, - and _; fixed once created)"
                    <input data-testid="context-id" class=field required maxlength="40" pattern="[a-z0-9][a-z0-9_\\-]*" bind:value=id/>
                </label>
            })}
            <div class="flex flex-wrap gap-3">
                <label class="min-w-40 flex-1">"Label"
                    <input data-testid="context-label" class=field required maxlength="40" bind:value=label/>
                </label>
                <label class="min-w-40 flex-1">"Description (one line)"
                    <input data-testid="context-description" class=field maxlength="200" bind:value=description/>
                </label>
            </div>
            <label>"Greeting (the first message of a new conversation)"
                <textarea data-testid="context-greeting" rows="2" class=field required maxlength="1000" bind:value=greeting></textarea>
            </label>
            <label>"Instructions (what the assistant is and does)"
                <textarea data-testid="context-instructions" rows="5" class=field required maxlength="8000" bind:value=instructions></textarea>
            </label>
            <div class="flex flex-wrap gap-3">
                <label class="min-w-40 flex-1">"Knowledge tags (comma-separated; none: all knowledge)"
                    <input data-testid="context-tags" class=field bind:value=tags/>
                </label>
                <label class="min-w-40 flex-1">"Model (empty: the server's)"
                    <input data-testid="context-model" class=field maxlength="100" placeholder="gpt-4o-mini" bind:value=model/>
                </label>
            </div>
            <label class="flex items-center gap-2">
                <input type="checkbox" data-testid="context-strict" bind:checked=strict/>
                "Strict: answer only from the shop's knowledge and the product, otherwise hand off to a person"
            </label>
            {move || error.get().map(|e| view! { <p role="alert" data-testid="context-error" class="text-red-800">{e}</p> })}
            <div class="flex flex-wrap gap-2">
                <button type="submit" data-testid="context-save" disabled=move || busy.get()
                    class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                    {if is_new { "Add" } else { "Save" }}
                </button>
                {(!is_new && !is_default).then(|| {
                    let id = context.id.clone();
                    view! {
                        <button type="button" data-testid="context-make-default" disabled=move || busy.get()
                            class="rounded-lg border border-slate-300 px-3 py-1 hover:bg-slate-100 disabled:opacity-50"
                            on:click=move |_| run(Box::pin(make_default_context(id.clone())), "This is the default now.")>
                            "Make default"
                        </button>
                    }
                })}
                {(!is_new && can_delete).then(|| {
                    let id = context.id.clone();
                    view! {
                        <button type="button" data-testid="context-delete" disabled=move || busy.get()
                            class="ml-auto rounded-lg px-3 py-1 text-red-800 hover:bg-red-50"
                            on:click=move |_| run(Box::pin(delete_context(id.clone())), "Deleted.")>
                            "Delete"
                        </button>
                    }
                })}
            </div>
        </form>
    }
}
