//! The panel's Knowledge page (/admin/knowledge): the shop's articles and answers, listed and
//! searched, written and edited (Markdown, with a preview), imported from files (Markdown, text,
//! HTML), a web page or a sitemap, and deleted. Every change is the server's (audited, on every replica at once).

use leptos::prelude::*;
use leptos_meta::Title;

use super::when;
use crate::{
    markdown::to_safe_html,
    model::{KnowledgeItem, KnowledgeKind, Visibility},
    staff_api::{delete_knowledge, import_knowledge_url, list_knowledge, save_knowledge},
};

/// An item being written: a new one (no id yet fixed) or an existing one.
#[derive(Debug, Clone, PartialEq, Default)]
struct Draft {
    /// The item's id as stored; none for a new item (its id is typed).
    stored: Option<String>,
    external_id: String,
    kind: KnowledgeKind,
    title: String,
    body: String,
    url: String,
    /// Comma-separated.
    tags: String,
    visibility: Visibility,
}

impl Draft {
    fn of(item: &KnowledgeItem) -> Draft {
        Draft {
            stored: Some(item.external_id.clone()),
            external_id: item.external_id.clone(),
            kind: item.kind,
            title: item.title.clone(),
            body: item.body.clone(),
            url: item.url.clone().unwrap_or_default(),
            tags: item.tags.join(", "),
            visibility: item.visibility,
        }
    }
}

#[component]
pub fn KnowledgeRoute() -> impl IntoView {
    let q = RwSignal::new(String::new());
    let changed = RwSignal::new(0u32);
    let items = LocalResource::new(move || {
        let q = q.get();
        changed.track();
        async move { list_knowledge(Some(q).filter(|q| !q.trim().is_empty()), None).await }
    });
    let draft: RwSignal<Option<Draft>> = RwSignal::new(None);
    let saved = move || changed.update(|n| *n += 1);
    view! {
        <Title text="Knowledge · Frontdesk staff"/>
        <section class="flex min-h-0 flex-1 flex-col overflow-y-auto p-4" data-testid="knowledge-page" aria-labelledby="knowledge-title">
            <div class="flex flex-wrap items-center gap-2">
                <h1 id="knowledge-title" class="text-lg font-semibold">"Knowledge"</h1>
                <label class="sr-only" for="knowledge-q">"Search the knowledge"</label>
                <input id="knowledge-q" data-testid="knowledge-q" type="search" placeholder="Search titles and ids"
                    class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1 text-sm" bind:value=q/>
                <button type="button" data-testid="knowledge-new" class="rounded-lg bg-indigo-600 px-3 py-1 text-sm font-medium text-white hover:bg-indigo-700"
                    on:click=move |_| draft.set(Some(Draft::default()))>"New article"</button>
            </div>
            <UrlImport on_done=saved/>
            <FileImport on_done=saved/>
            {move || draft.get().map(|d| view! { <Editor draft=d on_close=move || draft.set(None) on_saved=saved/> })}
            {move || match items.get() {
                None => view! { <p class="mt-4 text-sm">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p role="alert" class="mt-4 text-sm">{e.message}</p> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! { <p class="mt-4 text-sm text-slate-700">"Nothing yet: write an article or import your help pages."</p> }.into_any(),
                Some(Ok(page)) => view! {
                    <ul class="mt-4 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" data-testid="knowledge-list">
                        {page.items.into_iter().map(|item| {
                            let edit = Draft::of(&item);
                            view! {
                                <li data-testid="knowledge-item" data-id=item.external_id.clone() class="flex items-center gap-3 px-3 py-2 text-sm">
                                    <div class="min-w-0 flex-1">
                                        <p class="truncate font-medium">{item.title.clone()}</p>
                                        <p class="truncate text-xs text-slate-600">
                                            {format!("{} · {} · {} · {} passages · updated {}", item.external_id, item.kind.as_str(),
                                                item.visibility.as_str(), item.passages, when(&item.updated_at))}
                                        </p>
                                    </div>
                                    <button type="button" class="rounded-lg px-2 py-1 text-indigo-700 underline"
                                        aria-label=format!("Edit {}", item.title) on:click=move |_| draft.set(Some(edit.clone()))>"Edit"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

/// A page or a sitemap by its address, fetched by the server.
#[component]
fn UrlImport(on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let outcome: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let import = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let address = url.get_untracked();
        leptos::task::spawn_local(async move {
            let result = import_knowledge_url(address, Visibility::Public).await;
            outcome.try_set(Some(match result {
                Ok(s) => {
                    let mut said = format!("{} created, {} updated, {} unchanged.", s.created, s.updated, s.unchanged);
                    for (address, reason) in s.rejected {
                        said.push_str(&format!(" Not imported: {address} ({reason})."));
                    }
                    Ok(said)
                }
                Err(e) => Err(e.message),
            }));
            busy.try_set(false);
            on_done();
        });
    };
    view! {
        <form class="mt-3 flex flex-wrap items-center gap-2 text-sm" on:submit=import>
            <label for="knowledge-import-url">"Import a page or a sitemap"</label>
            <input id="knowledge-import-url" data-testid="knowledge-import-url" type="url" required placeholder="https://shop.example/sitemap.xml"
                class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1" bind:value=url/>
            <button type="submit" data-testid="knowledge-import" disabled=move || busy.get()
                class="rounded-lg border border-slate-300 px-3 py-1 hover:bg-slate-100 disabled:opacity-50">"Import"</button>
            {move || outcome.get().map(|o| match o {
                Ok(said) => view! { <p data-testid="knowledge-import-result" role="status" class="w-full text-slate-700">{said}</p> }.into_any(),
                Err(e) => view! { <p data-testid="knowledge-import-result" role="alert" class="w-full text-red-800">{e}</p> }.into_any(),
            })}
        </form>
    }
}

/// Writes one item: its fields, the body as Markdown with a preview, save and delete.
#[component]
fn Editor(
    draft: Draft,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
    on_saved: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let stored = draft.stored.clone();
    let is_new = stored.is_none();
    let external_id = RwSignal::new(draft.external_id);
    let kind = RwSignal::new(draft.kind);
    let title = RwSignal::new(draft.title);
    let body = RwSignal::new(draft.body);
    let url = RwSignal::new(draft.url);
    let tags = RwSignal::new(draft.tags);
    let visibility = RwSignal::new(draft.visibility);
    let preview = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let tags: Vec<String> =
            tags.get_untracked().split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        let url = Some(url.get_untracked()).filter(|u| !u.trim().is_empty());
        let (id, kind, title, body, visibility) = (
            external_id.get_untracked(),
            kind.get_untracked(),
            title.get_untracked(),
            body.get_untracked(),
            visibility.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            match save_knowledge(id, kind, title, body, url, tags, visibility).await {
                Ok(_) => {
                    on_saved();
                    on_close();
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    let delete = move |_| {
        let Some(id) = stored.clone() else { return };
        busy.set(true);
        leptos::task::spawn_local(async move {
            match delete_knowledge(id).await {
                Ok(()) => {
                    on_saved();
                    on_close();
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    let field = "mt-1 w-full rounded-lg border border-slate-300 px-2 py-1";
    view! {
        <form data-testid="knowledge-editor" class="mt-4 flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4 text-sm" on:submit=save
            aria-label=if is_new { "New article" } else { "Edit article" }>
            <div class="flex flex-wrap gap-3">
                <label class="min-w-40 flex-1">"Id (yours: a slug)"
                    <input data-testid="knowledge-id" class=field required readonly=!is_new bind:value=external_id/>
                </label>
                <label>"Kind"
                    <select data-testid="knowledge-kind" class=field on:change=move |ev| kind.set(event_target_value(&ev).parse().unwrap_or_default())>
                        <option value="article" selected=move || kind.get() == KnowledgeKind::Article>"Article"</option>
                        <option value="answer" selected=move || kind.get() == KnowledgeKind::Answer>"Answer (title is the question)"</option>
                    </select>
                </label>
                <label>"Who sees it"
                    <select data-testid="knowledge-visibility" class=field on:change=move |ev| visibility.set(event_target_value(&ev).parse().unwrap_or_default())>
                        <option value="public" selected=move || visibility.get() == Visibility::Public>"Public: used and cited with its link"</option>
                        <option value="assistant" selected=move || visibility.get() == Visibility::Assistant>"Assistant: used, never shown"</option>
                        <option value="staff" selected=move || visibility.get() == Visibility::Staff>"Staff only"</option>
                    </select>
                </label>
            </div>
            <label>"Title"<input data-testid="knowledge-title" class=field required maxlength="200" bind:value=title/></label>
            <label>"Address customers can read it at (optional)"<input data-testid="knowledge-url" type="url" class=field bind:value=url/></label>
            <label>"Tags (comma-separated)"<input data-testid="knowledge-tags" class=field bind:value=tags/></label>
            <div>
                <div class="flex items-center gap-2">
                    <label for="knowledge-body">"Body (Markdown)"</label>
                    <button type="button" class="ml-auto text-indigo-700 underline" aria-pressed=move || preview.get().to_string()
                        on:click=move |_| preview.update(|p| *p = !*p)>"Preview"</button>
                </div>
                <textarea id="knowledge-body" data-testid="knowledge-body" rows="10" class=field bind:value=body></textarea>
                {move || preview.get().then(|| view! {
                    <div data-testid="knowledge-preview" class="prose-chat mt-2 rounded-lg bg-slate-50 p-3" inner_html=to_safe_html(&body.get())></div>
                })}
            </div>
            {move || error.get().map(|e| view! { <p role="alert" data-testid="knowledge-error" class="text-red-800">{e}</p> })}
            <div class="flex gap-2">
                <button type="submit" data-testid="knowledge-save" disabled=move || busy.get()
                    class="rounded-lg bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">"Save"</button>
                <button type="button" class="rounded-lg px-3 py-1 hover:bg-slate-100" on:click=move |_| on_close()>"Cancel"</button>
                {(!is_new).then(|| view! {
                    <button type="button" data-testid="knowledge-delete" disabled=move || busy.get()
                        class="ml-auto rounded-lg px-3 py-1 text-red-800 hover:bg-red-50" on:click=delete>"Delete"</button>
                })}
            </div>
        </form>
    }
}

/// Markdown, text and HTML files, several at once, sent to the import endpoint as they are.
#[component]
fn FileImport(on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let form: NodeRef<leptos::html::Form> = NodeRef::new();
    let busy = RwSignal::new(false);
    let outcome: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let upload = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = form.get_untracked() else { return };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = upload_files(&form).await;
            if result.is_ok() {
                form.reset();
            }
            outcome.try_set(Some(result));
            busy.try_set(false);
            on_done();
        });
    };
    view! {
        <form node_ref=form class="mt-3 flex flex-wrap items-center gap-2 text-sm" on:submit=upload>
            <label for="knowledge-files">"Import files (Markdown, text, HTML)"</label>
            <input id="knowledge-files" data-testid="knowledge-files" type="file" name="files" multiple required
                accept=".md,.markdown,.txt,.html,.htm,text/markdown,text/plain,text/html"
                class="min-w-0 flex-1 rounded-lg border border-slate-300 px-2 py-1"/>
            <label class="sr-only" for="knowledge-files-visibility">"Who sees them"</label>
            <select id="knowledge-files-visibility" name="visibility" class="rounded-lg border border-slate-300 px-2 py-1">
                <option value="public" selected>"Public"</option>
                <option value="assistant">"Assistant only"</option>
                <option value="staff">"Staff only"</option>
            </select>
            <button type="submit" data-testid="knowledge-upload" disabled=move || busy.get()
                class="rounded-lg border border-slate-300 px-3 py-1 hover:bg-slate-100 disabled:opacity-50">"Upload"</button>
            {move || outcome.get().map(|o| match o {
                Ok(said) => view! { <p data-testid="knowledge-upload-result" role="status" class="w-full text-slate-700">{said}</p> }.into_any(),
                Err(e) => view! { <p data-testid="knowledge-upload-result" role="alert" class="w-full text-red-800">{e}</p> }.into_any(),
            })}
        </form>
    }
}

/// Posts the form's files (multipart, with the staff member's session) and says what came of it.
#[cfg(feature = "hydrate")]
async fn upload_files(form: &web_sys::HtmlFormElement) -> Result<String, String> {
    let data = web_sys::FormData::new_with_form(form).map_err(|_| "the files could not be read".to_string())?;
    let response = gloo_net::http::Request::post("/api/v1/admin/knowledge/import")
        .body(data)
        .map_err(|_| "the files could not be sent".to_string())?
        .send()
        .await
        .map_err(|_| "the server could not be reached; try again".to_string())?;
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !response.ok() {
        let reason = body["error"]["message"].as_str().map(str::to_string);
        return Err(reason.unwrap_or_else(|| format!("the import failed (HTTP {})", response.status())));
    }
    let count = |field: &str| body[field].as_u64().unwrap_or(0);
    let mut said =
        format!("{} created, {} updated, {} unchanged.", count("created"), count("updated"), count("unchanged"));
    for rejected in body["rejected"].as_array().into_iter().flatten() {
        said.push_str(&format!(
            " Not imported: {} ({}).",
            rejected["file"].as_str().unwrap_or("a file"),
            rejected["reason"].as_str().unwrap_or("no reason given")
        ));
    }
    Ok(said)
}

/// Only a browser sends files.
#[cfg(not(feature = "hydrate"))]
async fn upload_files(_form: &web_sys::HtmlFormElement) -> Result<String, String> {
    Err("files are sent from the browser".into())
}
