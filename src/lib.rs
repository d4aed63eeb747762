//! Frontdesk: one crate, two builds. The server (`ssr`) and the browser (`hydrate`) share `model`,
//! `api` (server functions) and the pages in `app`.

// Leptos view types nest deeply; the release WASM build needs room to compute their layout.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod markdown;
pub mod model;
#[cfg(feature = "panel")]
pub mod staff_api;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console where staff and developers work (the panel's bundle, and
    // `make dev`'s single one); the customer's window goes without the formatting they cost.
    #[cfg(feature = "panel")]
    console_error_panic_hook::set_once();
    components::browser::read_embed_token();
    #[cfg(feature = "panel")]
    if app::is_panel_path(&app::page_address().0) {
        leptos::mount::hydrate_body(app::App);
        return;
    }
    app::hydrate_store_page();
}
