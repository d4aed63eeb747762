//! The panel's API keys page (/admin/api-keys, admins): the keys integrations write the catalog
//! and the knowledge with, a new one shown once, and revoking one.

use leptos::prelude::*;
use leptos_meta::Title;

use super::when;
use crate::staff_api::{create_api_key, list_api_keys, revoke_api_key};

#[component]
pub fn ApiKeysRoute() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let keys = LocalResource::new(move || {
        changed.track();
        list_api_keys()
    });
    let name = RwSignal::new(String::new());
    let created: RwSignal<Option<(String, String)>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let wanted = name.get_untracked();
        leptos::task::spawn_local(async move {
            match create_api_key(wanted).await {
                Ok(key) => {
                    created.try_set(Some((key.name, key.key)));
                    error.try_set(None);
                    name.try_set(String::new());
                    changed.try_update(|n| *n += 1);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    let revoke = move |id: i64| {
        leptos::task::spawn_local(async move {
            match revoke_api_key(id).await {
                Ok(()) => {
                    changed.try_update(|n| *n += 1);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <Title text="API keys · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4 text-sm" data-testid="api-keys-page" aria-labelledby="api-keys-title">
            <h1 id="api-keys-title" class="text-lg font-semibold">"API keys"</h1>
            <p class="mt-1 text-slate-700">
                "Integrations write your catalog and knowledge with a key: "<code>"Authorization: Bearer <key>"</code>
                " on "<code>"/api/v1/admin/products"</code>" and "<code>"/api/v1/admin/knowledge"</code>". A key acts for the admin who made it."
            </p>
            <form class="mt-3 flex flex-wrap items-center gap-2" on:submit=create>
                <label for="api-key-name">"What it is for"</label>
                <input id="api-key-name" data-testid="api-key-name" required maxlength="80" placeholder="Shopify sync"
                    class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1" bind:value=name/>
                <button type="submit" data-testid="api-key-create" class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700">"Create a key"</button>
            </form>
            {move || error.get().map(|e| view! { <p role="alert" data-testid="api-key-error" class="mt-2 text-red-800">{e}</p> })}
            {move || created.get().map(|(name, key)| view! {
                <div role="status" data-testid="api-key-created" class="mt-3 rounded-lg bg-amber-50 p-3 text-amber-900">
                    <p>{format!("The key for {name}: copy it now, it is not shown again.")}</p>
                    <code data-testid="api-key-value" class="mt-1 block break-all select-all font-mono">{key}</code>
                </div>
            })}
            {move || match keys.get() {
                None => view! { <p class="mt-4">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4">{e.message}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="mt-4 text-slate-700">"No key yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="mt-4 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" data-testid="api-key-list">
                        {list.into_iter().map(|key| {
                            let used = key.last_used_at.as_deref().map_or("never used".to_string(), |at| format!("last used {}", when(at)));
                            let id = key.id;
                            view! {
                                <li data-testid="api-key" data-id=id class="flex items-center gap-3 px-3 py-2">
                                    <div class="min-w-0 flex-1">
                                        <p class="truncate font-medium">{key.name.clone()}</p>
                                        <p class="text-xs text-slate-600">{format!("{}… · created {} · {used}", key.prefix, when(&key.created_at))}</p>
                                    </div>
                                    <button type="button" class="rounded-lg px-2 py-1 text-red-800 hover:bg-red-50"
                                        aria-label=format!("Revoke {}", key.name) on:click=move |_| revoke(id)>"Revoke"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}
