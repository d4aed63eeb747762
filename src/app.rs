//! The Leptos app: the HTML shell and the pages. The shop's pages and the window's own page are
//! the [`Storefront`]: the path picks the page, with no client-side router (each page is a page
//! load of its own; the window keeps its state across them). The browser hydrates only a store
//! page's chat window (`hydrate_store_page`): the rest of the page is the server's HTML, so the
//! customer's bundle carries the window and none of the shop's pages' code, `leptos_meta` (14.4 KiB
//! brotli together) or `leptos_router`. The staff panel (`/admin…`, the `panel` feature) is
//! [`App`], a routed app.

use leptos::prelude::*;

use crate::components::browser;
use leptos_meta::{provide_meta_context, MetaTags, Title};

#[cfg(feature = "panel")]
use crate::components::panel::{
    AdminLogin, AdminPanel, ApiKeysRoute, AssistantRoute, AuditRoute, CannedRoute, ConversationRoute, KnowledgeRoute,
    LabelsRoute, NoConversation, ResetPasswordPage, TeamRoute, UsageRoute, WindowRoute,
};
use crate::{
    api::{get_product, list_products},
    components::ChatWindow,
    model::Product,
};

/// The WASM bundle a page loads: the staff panel's pages (`/admin…`) their own, every other page
/// the customer's, which leaves the panel out (see the `panel` feature).
pub const PANEL_BUNDLE_SUFFIX: &str = "_panel";

pub fn is_panel_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let panel = is_panel_path(&page_address().0);
    let options = bundle_for_this_page(options, panel);
    // Each bundle has its style sheet: the window's leaves out the panel's classes.
    let stylesheet = format!("/pkg/{}.css", options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Frontdesk: answers from our assistant, and from our team when you need them."/>
                // Static, so written here by the server rather than by components in the
                // hydrated body (which left placeholders there and cost 1.7 KiB of WASM).
                <link id="leptos" rel="stylesheet" href=stylesheet/>
                // The shop's brand colour, launcher side and avatar, as they are now.
                {(!panel).then(|| view! { <link rel="stylesheet" href="/window/brand.css"/> })}
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                {if panel { panel_app().into_any() } else { view! { <Storefront/> }.into_any() }}
            </body>
        </html>
    }
}

#[cfg(feature = "panel")]
fn panel_app() -> impl IntoView {
    view! { <App/> }
}

/// Without the panel's code (the customer's bundle), its pages are never rendered here.
#[cfg(not(feature = "panel"))]
fn panel_app() -> impl IntoView {}

/// The page's path, and its query without the `?`: the request's on the server, the address
/// bar's in the browser.
pub fn page_address() -> (String, String) {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<axum::http::request::Parts>() {
        return (parts.uri.path().to_owned(), parts.uri.query().unwrap_or("").to_owned());
    }
    browser::page_address()
}

/// The options naming the bundle of the page being rendered (on the server, where the shell runs):
/// the panel's for a `panel` page.
#[cfg_attr(not(feature = "ssr"), allow(unused_variables))]
fn bundle_for_this_page(options: LeptosOptions, panel: bool) -> LeptosOptions {
    #[cfg(feature = "ssr")]
    {
        if panel && panel_bundle_built(&options) {
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

/// The chat window a store page shows, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageWindow {
    product_id: Option<String>,
    embedded: bool,
    hide_without_product: bool,
}

impl PageWindow {
    /// The window itself: what the browser hydrates inside [`WINDOW_ROOT_ID`].
    fn view(self) -> impl IntoView {
        let PageWindow { product_id, embedded, hide_without_product } = self;
        view! { <ChatWindow product_id embedded hide_without_product/> }
    }
}

/// The element holding a store page's window, the one part of the page the browser hydrates.
pub const WINDOW_ROOT_ID: &str = "frontdesk-chat";

/// What the page at `path` (with `query`) shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorePage {
    Home,
    /// The window alone (the embed's iframe, the pop-out), about a product when the query says.
    Widget(Option<String>),
    Products,
    /// A product page, by the shop's id; none when the address holds no id (a "not found" page).
    Product(Option<String>),
    NotFound,
}

impl StorePage {
    pub fn at(path: &str, query: &str) -> StorePage {
        // The shop's ids are letters, digits and `._:-`: nothing to decode in an address.
        let id = |v: &str| {
            let ok =
                !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
            ok.then(|| v.to_string())
        };
        match path {
            "/" => StorePage::Home,
            "/widget" => {
                StorePage::Widget(query.split('&').find_map(|pair| pair.strip_prefix("product_id=")).and_then(id))
            }
            "/products" => StorePage::Products,
            _ => match path.strip_prefix("/products/") {
                Some(slug) if !slug.is_empty() && !slug.contains('/') => StorePage::Product(id(slug)),
                _ => StorePage::NotFound,
            },
        }
    }

    /// The page's chat window: none on a page that shows no product or nothing.
    pub fn window(self) -> Option<PageWindow> {
        match self {
            StorePage::Home | StorePage::Products => Some(PageWindow::default()),
            StorePage::Widget(product_id) => Some(PageWindow { product_id, embedded: true, ..PageWindow::default() }),
            StorePage::Product(Some(id)) => {
                Some(PageWindow { product_id: Some(id), hide_without_product: true, ..PageWindow::default() })
            }
            StorePage::Product(None) | StorePage::NotFound => None,
        }
    }
}

/// In the browser: hydrates the page's chat window, the only code a store page has (its content
/// is the server's HTML), or marks a page without one ready as it is.
#[cfg(feature = "hydrate")]
pub fn hydrate_store_page() {
    use wasm_bindgen::JsCast;
    let (path, query) = page_address();
    let window = StorePage::at(&path, &query).window();
    match window.zip(document().get_element_by_id(WINDOW_ROOT_ID)) {
        Some((window, root)) => leptos::mount::hydrate_from(root.unchecked_into(), move || window.view()).forget(),
        None => browser::mark_hydrated(),
    }
}

/// Builds a store page's content, which the browser never hydrates, without numbering its data
/// (resources, boundaries) among the window's: the window's numbers on the server are then the
/// ones the browser gives them when it hydrates the window alone. Its data is still sent (unread).
/// Content built later (a `Suspend`'s, once its data came) is numbered: it must create no
/// resource or boundary.
fn server_only<V>(content: impl FnOnce() -> V) -> V {
    #[cfg(feature = "ssr")]
    if let Some(context) = Owner::current_shared_context() {
        let was = context.get_is_hydrating();
        context.set_is_hydrating(false);
        let content = content();
        context.set_is_hydrating(was);
        return content;
    }
    content()
}

/// The customer's side: the shop's pages and the window's page, picked by the address.
#[component]
pub fn Storefront() -> impl IntoView {
    let head = page_head();
    view! {
        {head}
        <StoreRoute/>
    }
}

/// What both apps put in the page's head, with the meta context their pages' titles use (so
/// called in the app's own scope). The page marks itself hydrated (for the tests) where it is
/// ready: the chat window does on a page that has one (it hydrates last, after its data).
fn page_head() -> impl IntoView {
    provide_meta_context();
    view! { <Title text="Frontdesk"/> }
}

/// The page for the address (also the view of the store's routes in the panel's [`App`]).
#[component]
fn StoreRoute() -> impl IntoView {
    let (path, query) = page_address();
    let page = StorePage::at(&path, &query);
    let window =
        page.clone().window().map(|window| view! { <div id=WINDOW_ROOT_ID class="contents">{window.view()}</div> });
    let window = window.into_any();
    server_only(move || match page {
        StorePage::Home => view! { <HomePage window/> }.into_any(),
        StorePage::Widget(_) => view! { <WidgetPage window/> }.into_any(),
        StorePage::Products => view! { <ProductsPage window/> }.into_any(),
        StorePage::Product(id) => view! { <ProductPage id window/> }.into_any(),
        StorePage::NotFound => view! { <NotFound/> }.into_any(),
    })
}

/// The staff panel, routed (and the store's routes, so the server serves them: see
/// `server::http::router`, which registers every route of this app).
#[cfg(feature = "panel")]
#[component]
pub fn App() -> impl IntoView {
    use leptos_router::{
        components::{ParentRoute, Route, Router, Routes},
        path, SsrMode,
    };
    let head = page_head();
    Effect::new(|_| browser::mark_hydrated());
    view! {
        {head}
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=StoreRoute ssr=SsrMode::Async/>
                <Route path=path!("/widget") view=StoreRoute ssr=SsrMode::Async/>
                <Route path=path!("/products") view=StoreRoute ssr=SsrMode::Async/>
                <Route path=path!("/products/:id") view=StoreRoute ssr=SsrMode::Async/>
                <Route path=path!("/admin/login") view=AdminLogin/>
                <Route path=path!("/admin/reset-password") view=ResetPasswordPage/>
                <ParentRoute path=path!("/admin") view=AdminPanel ssr=SsrMode::Async>
                    <Route path=path!("") view=NoConversation/>
                    <Route path=path!("inquiries/:id") view=ConversationRoute/>
                    <Route path=path!("knowledge") view=KnowledgeRoute/>
                    <Route path=path!("assistant") view=AssistantRoute/>
                    <Route path=path!("canned-responses") view=CannedRoute/>
                    <Route path=path!("api-keys") view=ApiKeysRoute/>
                    <Route path=path!("team") view=TeamRoute/>
                    <Route path=path!("labels") view=LabelsRoute/>
                    <Route path=path!("window") view=WindowRoute/>
                    <Route path=path!("audit") view=AuditRoute/>
                    <Route path=path!("usage") view=UsageRoute/>
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
                <a href="/" class="text-lg font-semibold text-indigo-700">"Frontdesk Store"</a>
                <a href="/products" class="rounded px-2 py-1 text-slate-700 hover:bg-slate-100">"Products"</a>
            </nav>
        </header>
    }
}

#[component]
fn HomePage(window: AnyView) -> impl IntoView {
    view! {
        <Title text="Frontdesk · Help, right away"/>
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-12">
            <h1 class="text-3xl font-bold tracking-tight">"Questions? We answer right away."</h1>
            <p class="mt-3 max-w-xl text-slate-700">
                "Our assistant answers questions about products, orders and billing at any hour, and a person from our team takes over whenever you ask."
            </p>
            <a href="/products" class="mt-6 inline-block rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
                "Browse products"
            </a>
        </main>
        {window}
    }
}

/// The window alone, filling the page: inside the embed iframe and in the pop-out window.
#[component]
fn WidgetPage(window: AnyView) -> impl IntoView {
    view! {
        <Title text="Chat · Frontdesk"/>
        <main>
            <h1 class="sr-only">"Chat"</h1>
            {window}
        </main>
    }
}

#[component]
fn ProductsPage(window: AnyView) -> impl IntoView {
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
        {window}
    }
}

#[component]
fn ProductCard(product: Product) -> impl IntoView {
    view! {
        <li class="rounded-xl border border-slate-200 bg-white p-4">
            {product.image_url.clone().map(|src| view! { <img src=src alt="" width="96" height="96" class="mb-3 size-24"/> })}
            <h2 class="font-semibold">
                <a href=format!("/products/{}", product.id) class="hover:underline">{product.name.clone()}</a>
            </h2>
            <p class="mt-1 text-sm text-slate-700">{product.description.clone()}</p>
            <p class="mt-2 font-medium">{product.price.to_string()}</p>
        </li>
    }
}

#[component]
fn ProductPage(id: Option<String>, window: AnyView) -> impl IntoView {
    // `/products/abc` is not a product page (as `/products/999` is not).
    #[cfg(feature = "ssr")]
    if id.is_none() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    let product = Resource::new(
        move || id.clone(),
        |id| async move {
            match id {
                Some(id) => get_product(id).await,
                None => {
                    Err(crate::model::ErrorDetail { code: "not_found".into(), message: "product was not found".into() })
                }
            }
        },
    );
    view! {
        <StoreHeader/>
        <main class="mx-auto max-w-5xl px-4 py-8">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match product.await {
                        Ok(p) => view! {
                            <Title text=format!("{} · Frontdesk Store", p.name)/>
                            <article class="grid gap-8 sm:grid-cols-[200px_1fr]" data-testid="product" data-product-id=p.id>
                                {p.image_url.clone().map(|src| view! { <img src=src alt="" width="200" height="200" class="size-48 rounded-xl border border-slate-200 bg-white"/> })}
                                <div>
                                    <h1 class="text-2xl font-bold">{p.name.clone()}</h1>
                                    <p class="mt-2 text-xl font-medium">{p.price.to_string()}</p>
                                    <p class="mt-4 max-w-prose text-slate-700">{p.description.clone()}</p>
                                    <p class="mt-6 text-sm text-slate-700">"Questions about this product? Ask in the chat: it knows this page."</p>
                                </div>
                            </article>
                        }.into_any(),
                        Err(e) => view! { <p role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
        // Beside the product's Suspense, not inside it. It loads the product itself and is not
        // shown when there is none.
        {window}
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
            <a href="/" class="mt-4 inline-block text-indigo-700 underline">"Back to the start"</a>
        </main>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_address_picks_the_store_page() {
        assert_eq!(StorePage::at("/", ""), StorePage::Home);
        assert_eq!(StorePage::at("/products", ""), StorePage::Products);
        assert_eq!(StorePage::at("/products/7", ""), StorePage::Product(Some("7".into())));
        assert_eq!(StorePage::at("/products/oak-lamp", ""), StorePage::Product(Some("oak-lamp".into())));
        assert_eq!(StorePage::at("/products/%3Cb%3E", ""), StorePage::Product(None));
        assert_eq!(StorePage::at("/widget", "x=1&product_id=lamp-3"), StorePage::Widget(Some("lamp-3".into())));
        assert_eq!(StorePage::at("/widget", "product_id=a%20b"), StorePage::Widget(None));
        for elsewhere in ["/products/", "/products/7/reviews", "/nowhere", "/widget/"] {
            assert_eq!(StorePage::at(elsewhere, ""), StorePage::NotFound, "{elsewhere}");
        }
    }

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
