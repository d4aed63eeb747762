//! The Leptos app: the HTML shell, routes and pages. The chat window is on every page.

use leptos::prelude::*;

use crate::components::browser;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes, A},
    hooks::{use_params_map, use_query_map},
    path, SsrMode,
};

#[cfg(feature = "panel")]
use crate::components::panel::{AdminLogin, AdminPanel, ConversationRoute, NoConversation};
use crate::{
    api::{get_product, list_products},
    components::ChatWindow,
    model::Product,
};
#[cfg(not(feature = "panel"))]
use staff_routes_elsewhere::{AdminLogin, AdminPanel, ConversationRoute, NoConversation};

/// The WASM bundle a page loads: the staff panel's pages (`/admin…`) their own, every other page
/// the customer's, which leaves the panel out (see the `panel` feature).
pub const PANEL_BUNDLE_SUFFIX: &str = "_panel";

pub fn is_panel_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let options = bundle_for_this_page(options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Frontdesk: answers from our assistant, and from our team when you need them."/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

/// The options naming the bundle of the page being rendered (on the server, where the shell runs).
fn bundle_for_this_page(options: LeptosOptions) -> LeptosOptions {
    #[cfg(feature = "ssr")]
    {
        let path = use_context::<axum::http::request::Parts>().map(|parts| parts.uri.path().to_owned());
        if path.as_deref().is_some_and(is_panel_path) && panel_bundle_built(&options) {
            let mut options = options;
            options.output_name = format!("{}{PANEL_BUNDLE_SUFFIX}", options.output_name).into();
            return options;
        }
    }
    options
}

/// False for a site built by cargo-leptos alone (`make dev`): one bundle, built with the panel
/// (`lib-features` in Cargo.toml), serves every page. A release site (scripts/build-site.sh) has
/// both; a server with no site built yet (the Rust tests) names the release layout.
#[cfg(feature = "ssr")]
fn panel_bundle_built(options: &LeptosOptions) -> bool {
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let bundle = |name: &str| pkg.join(format!("{name}.wasm")).exists();
    bundle(&format!("{}{PANEL_BUNDLE_SUFFIX}", options.output_name)) || !bundle(&options.output_name)
}

/// The customer's bundle keeps the staff routes in its route list (so both bundles match the
/// same routes the same way) with views that load the page anew, with the panel's bundle: a
/// customer page never links there, so this runs only on a navigation typed into the router.
#[cfg(not(feature = "panel"))]
mod staff_routes_elsewhere {
    use leptos::prelude::*;

    fn load_page_anew() {
        let url = leptos_router::hooks::use_location();
        Effect::new(move |_| {
            let (path, search) = (url.pathname.get_untracked(), url.search.get_untracked());
            let query = search.trim_start_matches('?');
            crate::components::browser::go_to(&if query.is_empty() { path } else { format!("{path}?{query}") });
        });
    }

    #[component]
    pub fn AdminLogin() -> impl IntoView {
        load_page_anew()
    }

    #[component]
    pub fn AdminPanel() -> impl IntoView {
        load_page_anew()
    }

    #[component]
    pub fn NoConversation() -> impl IntoView {}

    #[component]
    pub fn ConversationRoute() -> impl IntoView {}
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Effect::new(|_| browser::mark_hydrated());
    view! {
        <Stylesheet id="leptos" href="/pkg/frontdesk.css"/>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
        <Title text="Frontdesk"/>
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/widget") view=WidgetPage ssr=SsrMode::Async/>
                <Route path=path!("/products") view=ProductsPage ssr=SsrMode::Async/>
                <Route path=path!("/products/:id") view=ProductPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/login") view=AdminLogin/>
                <ParentRoute path=path!("/admin") view=AdminPanel ssr=SsrMode::Async>
                    <Route path=path!("") view=NoConversation/>
                    <Route path=path!("inquiries/:id") view=ConversationRoute/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn StoreHeader() -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white">
            <nav class="mx-auto flex max-w-5xl items-center justify-between px-4 py-3" aria-label="Main">
                <A href="/" attr:class="text-lg font-semibold text-indigo-700">"Frontdesk Store"</A>
                <A href="/products" attr:class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100">"Products"</A>
            </nav>
        </header>
    }
}

fn price(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[component]
fn HomePage() -> impl IntoView {
    view! {
        <Title text="Frontdesk · Help, right away"/>
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-12">
            <h1 class="text-3xl font-bold tracking-tight">"Questions? We answer right away."</h1>
            <p class="mt-3 max-w-xl text-slate-700">
                "Our assistant answers questions about products, orders and billing at any hour, and a person from our team takes over whenever you ask."
            </p>
            <A href="/products" attr:class="mt-6 inline-block rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
                "Browse products"
            </A>
        </main>
        <ChatWindow/>
    }
}

/// The window alone, filling the page: inside the embed iframe and in the pop-out window.
#[component]
fn WidgetPage() -> impl IntoView {
    let query = use_query_map();
    let product_id = query.with_untracked(|q| q.get("product_id").and_then(|v| v.parse::<i64>().ok()));
    view! {
        <Title text="Chat · Frontdesk"/>
        <main>
            <h1 class="sr-only">"Chat"</h1>
            <ChatWindow product_id=product_id embedded=true/>
        </main>
    }
}

#[component]
fn ProductsPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    view! {
        <Title text="Products · Frontdesk Store"/>
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-8">
            <h1 class="mb-6 text-2xl font-bold">"Products"</h1>
            <Suspense fallback=|| view! { <p>"Loading products…"</p> }>
                {move || Suspend::new(async move {
                    match products.await {
                        Ok(list) => view! {
                            <ul class="grid gap-4 sm:grid-cols-2" data-testid="product-list">
                                {list.into_iter().map(|p| view! { <ProductCard product=p/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
        <ChatWindow/>
    }
}

#[component]
fn ProductCard(product: Product) -> impl IntoView {
    view! {
        <li class="rounded-xl border border-slate-200 bg-white p-4">
            <img src=product.image_path.clone() alt="" width="96" height="96" class="mb-3 size-24"/>
            <h2 class="font-semibold">
                <A href=format!("/products/{}", product.id) attr:class="hover:underline">{product.name.clone()}</A>
            </h2>
            <p class="mt-1 text-sm text-slate-700">{product.description.clone()}</p>
            <p class="mt-2 font-medium">{price(product.price_cents)}</p>
        </li>
    }
}

#[component]
fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let product_id = |p: &leptos_router::params::ParamsMap| p.get("id").and_then(|v| v.parse::<i64>().ok());
    let id = move || params.with(product_id);
    // `/products/abc` is not a product page (as `/products/999` is not).
    #[cfg(feature = "ssr")]
    if params.with_untracked(product_id).is_none() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    let product = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_product(id).await,
            None => {
                Err(crate::model::ErrorDetail { code: "not_found".into(), message: "product was not found".into() })
            }
        }
    });
    view! {
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-8">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match product.await {
                        Ok(p) => view! {
                            <Title text=format!("{} · Frontdesk Store", p.name)/>
                            <article class="grid gap-8 sm:grid-cols-[200px_1fr]" data-testid="product" data-product-id=p.id>
                                <img src=p.image_path.clone() alt="" width="200" height="200" class="size-48 rounded-xl border border-slate-200 bg-white"/>
                                <div>
                                    <h1 class="text-2xl font-bold">{p.name.clone()}</h1>
                                    <p class="mt-2 text-xl font-medium">{price(p.price_cents)}</p>
                                    <p class="mt-4 max-w-prose text-slate-700">{p.description.clone()}</p>
                                    <p class="mt-6 text-sm text-slate-700">"Questions about this product? Ask in the chat: it knows this page."</p>
                                </div>
                            </article>
                            <ChatWindow product_id=Some(p.id)/>
                        }.into_any(),
                        Err(e) => view! { <p role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Frontdesk"/>
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-12">
            <h1 class="text-2xl font-bold">"Page not found"</h1>
            <A href="/" attr:class="mt-4 inline-block text-indigo-700 underline">"Back to the start"</A>
        </main>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn staff_pages_name_the_panels_bundle_unless_the_site_was_built_with_one_bundle() {
        let site = tempfile::tempdir().unwrap();
        let options =
            LeptosOptions::builder().output_name("frontdesk").site_root(site.path().to_str().unwrap()).build();
        assert!(panel_bundle_built(&options), "no site yet: the release layout");
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("frontdesk.wasm"), b"").unwrap();
        assert!(!panel_bundle_built(&options), "cargo-leptos's one bundle serves every page");
        std::fs::write(pkg.join("frontdesk_panel.wasm"), b"").unwrap();
        assert!(panel_bundle_built(&options), "the release site's two bundles");
    }
}
