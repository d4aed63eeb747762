//! Browser-only behaviour behind small functions: the live WebSocket (gloo-net), timers, cookies,
//! focus, sound, pop-ups and the host page. The server build compiles them to nothing, so components need no
//! `cfg`.

use leptos::prelude::*;

/// What became of a socket `follow_socket` keeps open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    Open,
    /// Closed by the server with a 4xxx code: it will not be opened again.
    Refused(u16),
    /// Lost; it is opened again after `wait_ms` (at once when the server restarts, 1012).
    Lost,
}

#[cfg(feature = "hydrate")]
mod imp {
    use std::{cell::Cell, cell::RefCell, rc::Rc};

    use futures::{channel::mpsc, FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message, State, WebSocketError};

    use crate::model::{is_well_formed_token, WS_PROTOCOL, WS_TOKEN_PROTOCOL_PREFIX};
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};

    use super::SocketState;

    pub fn mark_hydrated() {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }

    /// Sleeps without blocking the page.
    async fn sleep(ms: u32) {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = tx.send(());
            },
            std::time::Duration::from_millis(ms.into()),
        );
        let _ = rx.await;
    }

    /// Sends text on the current connection (dropped while disconnected). The browser has one
    /// thread, so the wrapper never moves it.
    #[derive(Clone)]
    pub struct Outbox {
        current: SendWrapper<Rc<RefCell<Option<mpsc::UnboundedSender<String>>>>>,
    }

    impl Default for Outbox {
        fn default() -> Self {
            Outbox { current: SendWrapper::new(Default::default()) }
        }
    }

    impl Outbox {
        pub fn send(&self, text: &str) {
            if let Some(connection) = self.current.borrow().as_ref() {
                let _ = connection.unbounded_send(text.to_string());
            }
        }
    }

    thread_local! {
        /// Inside a window embedded on another site: the visitor's token (empty before the first
        /// action creates the visitor). `None` elsewhere: the session cookie serves.
        static WIDGET_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Where `embed.js` puts the token on the frame's address (a fragment never reaches a server).
    const TOKEN_FRAGMENT: &str = "#fd-token=";

    /// The property of the window's own `window` object that holds its token, where a pop-out
    /// (same origin, opened by it) reads it; the host page, another origin, cannot.
    const TOKEN_PROPERTY: &str = "__frontdeskToken";

    /// The page that frames this one (embed.js's), if any: not the window itself.
    fn host_frame() -> Option<web_sys::Window> {
        window().parent().ok().flatten().filter(|parent| *parent != window())
    }

    fn set_token(token: String) {
        let _ = js_sys::Reflect::set(&window(), &TOKEN_PROPERTY.into(), &token.as_str().into());
        WIDGET_TOKEN.with(|t| *t.borrow_mut() = Some(token));
    }

    pub fn read_embed_token() {
        let location = window().location();
        let fragment = location.hash().ok().and_then(|h| h.strip_prefix(TOKEN_FRAGMENT).map(str::to_string));
        if let Some(token) = fragment {
            // Out of the address bar, so no link copied from the frame carries it.
            if let (Ok(path), Ok(search), Ok(history)) = (location.pathname(), location.search(), window().history()) {
                let _ =
                    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{path}{search}")));
            }
            // Only inside a frame (embed.js's): a link that opens /widget#fd-token=… at the top
            // would otherwise sign its reader in as whoever made the link.
            if host_frame().is_some() && location.pathname().is_ok_and(|p| p == "/widget") {
                set_token(if is_well_formed_token(&token) { token } else { String::new() });
            }
            return;
        }
        // A pop-out of an embedded window: the window that opened it (same origin) has the token.
        let from_opener = window()
            .opener()
            .ok()
            .filter(|opener| !opener.is_null() && !opener.is_undefined())
            .and_then(|opener| js_sys::Reflect::get(&opener, &TOKEN_PROPERTY.into()).ok())
            .and_then(|token| token.as_string());
        // (Empty: the embedded window had no visitor yet.)
        if let Some(token) = from_opener.filter(|t| t.is_empty() || is_well_formed_token(t)) {
            set_token(token);
        }
    }

    pub fn embed_token() -> Option<String> {
        WIDGET_TOKEN.with(|t| t.borrow().clone())
    }

    pub fn keep_embed_token(token: &str) {
        let changed = embed_token().is_some_and(|current| current != token) && is_well_formed_token(token);
        if changed {
            set_token(token.to_string());
            post_to_host("token", token);
        }
    }

    /// Opens a socket on this page's host; true once it is open (false when it failed or took
    /// longer than 5 s). An embedded window's token goes as a subprotocol.
    async fn connect(path: &str) -> Option<(WebSocket, bool)> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{path}", location.host().ok()?);
        let mut ws = match embed_token() {
            None => WebSocket::open(&url),
            Some(token) if token.is_empty() => WebSocket::open_with_protocols(&url, &[WS_PROTOCOL]),
            Some(token) => WebSocket::open_with_protocols(
                &url,
                &[WS_PROTOCOL.to_string(), format!("{WS_TOKEN_PROTOCOL_PREFIX}{token}")],
            ),
        }
        .ok()?;
        // The sink is ready once the socket left "connecting" (open, or failed).
        let settled = {
            let ready = futures::future::poll_fn(|cx| ws.poll_ready_unpin(cx)).fuse();
            let timeout = sleep(5_000).fuse();
            futures::pin_mut!(ready, timeout);
            futures::select! {
                ready = ready => ready.is_ok(),
                _ = timeout => false,
            }
        };
        let open = settled && matches!(ws.state(), State::Open);
        Some((ws, open))
    }

    pub fn follow_socket(
        path: String,
        mut after: Option<i64>,
        wait_ms: fn(u32, f64) -> u32,
        on_state: impl Fn(SocketState) + 'static,
        on_frame: impl Fn(&str) + 'static,
    ) -> Outbox {
        let outbox = Outbox::default();
        let current = (*outbox.current).clone();
        let stopped = Rc::new(Cell::new(false));
        {
            let guard = SendWrapper::new((stopped.clone(), current.clone()));
            // The component is gone: stop, and close the connection now (its task sees the
            // outbox end and drops the socket, which closes it).
            on_cleanup(move || {
                let (stopped, current) = &*guard;
                stopped.set(true);
                current.borrow_mut().take();
            });
        }
        leptos::task::spawn_local(async move {
            let mut attempt = 0u32;
            while !stopped.get() {
                let url = match after {
                    Some(seq) => format!("{path}?after={seq}"),
                    None => path.clone(),
                };
                let Some((ws, opened)) = connect(&url).await else { return };
                // The server is shutting down (1012): another replica answers at once.
                let mut restarting = false;
                if opened && !stopped.get() {
                    attempt = 0;
                    let (outgoing, mut to_send) = mpsc::unbounded::<String>();
                    *current.borrow_mut() = Some(outgoing);
                    on_state(SocketState::Open);
                    let mut ws = ws.fuse();
                    loop {
                        futures::select! {
                            frame = ws.next() => match frame {
                                Some(Ok(Message::Text(text))) => {
                                    if stopped.get() {
                                        return;
                                    }
                                    if let (Some(last), Some(seq)) = (after, crate::model::frame_seq(&text)) {
                                        if seq <= last {
                                            continue; // already shown
                                        }
                                        after = Some(seq);
                                    }
                                    on_frame(&text);
                                }
                                Some(Ok(Message::Bytes(_))) => {}
                                Some(Err(WebSocketError::ConnectionClose(close))) if (4000..4100).contains(&close.code) => {
                                    // Not allowed or gone: reconnecting would not help.
                                    on_state(SocketState::Refused(close.code));
                                    return;
                                }
                                Some(Err(WebSocketError::ConnectionClose(close))) if close.code == 1012 => {
                                    restarting = true;
                                    break;
                                }
                                Some(Err(_)) | None => break,
                            },
                            text = to_send.next() => match text {
                                Some(text) => {
                                    let _ = ws.send(Message::Text(text)).await;
                                }
                                // The component is gone (see on_cleanup).
                                None => return,
                            },
                        }
                    }
                }
                current.borrow_mut().take();
                if stopped.get() {
                    return;
                }
                on_state(SocketState::Lost);
                if restarting {
                    // Spread over a quarter second, so a replica's clients do not all arrive at once.
                    sleep((js_sys::Math::random() * 250.0) as u32).await;
                    continue;
                }
                sleep(wait_ms(attempt, js_sys::Math::random())).await;
                attempt = attempt.saturating_add(1);
            }
        });
        outbox
    }

    pub fn client_id() -> String {
        let part = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        format!("{:x}-{:013x}{:013x}", js_sys::Date::now() as u64, part(), part())
    }

    pub fn go_to(url: &str) {
        let _ = window().location().assign(url);
    }

    pub fn page_visible() -> RwSignal<bool> {
        let visible = || document().visibility_state() == web_sys::VisibilityState::Visible;
        let signal = RwSignal::new(visible());
        let on_change = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = signal.try_set(visible());
        });
        let _ = document().add_event_listener_with_callback("visibilitychange", on_change.as_ref().unchecked_ref());
        // Lives as long as the page; a disposed signal ignores it.
        on_change.forget();
        signal
    }

    pub fn set_cookie(name: &str, value: &str) {
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let _ = doc.set_cookie(&format!("{name}={value}; Path=/; Max-Age=31536000; SameSite=Lax"));
        }
    }

    pub fn local_time(rfc3339: &str) -> String {
        let date = js_sys::Date::new(&rfc3339.into());
        if date.get_time().is_nan() {
            return String::new();
        }
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }

    pub fn time_in_zone(zone: &str) -> String {
        let options = js_sys::Object::new();
        for (key, value) in [("timeZone", zone), ("hour", "2-digit"), ("minute", "2-digit"), ("weekday", "short")] {
            let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
        }
        let date = js_sys::Date::new_0();
        // An unknown zone throws: called through Reflect, it is an error here, not a panic.
        js_sys::Reflect::get(&date, &"toLocaleTimeString".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call2(&date, &"en-GB".into(), &options).ok())
            .and_then(|text| text.as_string())
            .unwrap_or_default()
    }

    pub async fn put_file(input: &web_sys::HtmlInputElement, url: &str) -> Result<(), String> {
        let file = input.files().and_then(|files| files.get(0)).ok_or("Choose an image first.")?;
        let request = gloo_net::http::Request::put(url)
            .header("content-type", &file.type_())
            .body(wasm_bindgen::JsValue::from(file))
            .map_err(|e| e.to_string())?;
        let response = request.send().await.map_err(|e| e.to_string())?;
        if response.ok() {
            return Ok(());
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(body["error"]["message"].as_str().unwrap_or("The upload failed.").to_string())
    }

    pub fn after_render(f: impl FnOnce() + 'static) {
        request_animation_frame(f);
    }

    pub fn on_resize(el: &web_sys::Element, f: impl Fn() + 'static) {
        let on_change = Closure::<dyn Fn()>::new(f);
        if let Ok(observer) = web_sys::ResizeObserver::new(on_change.as_ref().unchecked_ref()) {
            observer.observe(el);
        }
        // The browser keeps the observer while the element lives; the closure goes with them.
        on_change.forget();
    }

    pub fn open_popup(url: &str) -> bool {
        window()
            .open_with_url_and_target_and_features(url, "frontdesk-chat", "popup,width=420,height=680")
            .ok()
            .flatten()
            .is_some()
    }

    /// Tells the host page (when inside the embed iframe) what happened: to its origin where the
    /// browser says which it is (`location.ancestorOrigins`), else to whichever page framed it.
    pub fn post_to_host(kind: &str, value: impl Into<wasm_bindgen::JsValue>) {
        // Not framed (the page itself, or a pop-out): nobody to tell.
        if let Some(parent) = host_frame() {
            let host = js_sys::Reflect::get(&window().location(), &"ancestorOrigins".into())
                .ok()
                .and_then(|origins| js_sys::Reflect::get(&origins, &0.into()).ok())
                .and_then(|origin| origin.as_string())
                .unwrap_or_else(|| "*".into());
            let message = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&message, &"type".into(), &format!("frontdesk:{kind}").into());
            let _ = js_sys::Reflect::set(&message, &"value".into(), &value.into());
            let _ = parent.post_message(&message, &host);
        }
    }

    pub fn beep() {
        let Ok(ctx) = web_sys::AudioContext::new() else { return };
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else { return };
        osc.frequency().set_value(660.0);
        gain.gain().set_value(0.05);
        let _ = osc.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&ctx.destination());
        let _ = osc.start();
        let _ = osc.stop_with_when(ctx.current_time() + 0.12);
    }

    pub fn page_address() -> (String, String) {
        let location = window().location();
        let search = location.search().unwrap_or_default();
        (location.pathname().unwrap_or_default(), search.trim_start_matches('?').to_owned())
    }

    pub fn is_narrow() -> bool {
        window().inner_width().ok().and_then(|w| w.as_f64()).is_some_and(|w| w < 640.0)
    }

    pub fn focus_by_id(id: &str) {
        if let Some(el) = document().get_element_by_id(id).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }

    pub fn focus_selector(selector: &str) {
        let found = document().query_selector(selector).ok().flatten();
        if let Some(el) = found.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }

    pub fn data_id_within(ev: &web_sys::Event, selector: &str) -> Option<i64> {
        let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
        el.closest(selector).ok()??.get_attribute("data-id")?.parse().ok()
    }

    pub fn time_from_now(seconds: f64) -> String {
        let at = js_sys::Date::new(&(js_sys::Date::now() + seconds * 1000.0).into());
        at.to_iso_string().into()
    }

    pub fn set_title_count(count: i64) {
        let title = document().title();
        let bare = match title.strip_prefix('(').and_then(|rest| rest.split_once(") ")) {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest.to_string(),
            _ => title,
        };
        document().set_title(&if count > 0 { format!("({count}) {bare}") } else { bare });
    }

    pub fn ask_desktop_alerts() {
        let _ = web_sys::Notification::request_permission();
    }

    pub fn desktop_alerts_allowed() -> bool {
        web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
    }

    pub fn desktop_alert(title: &str, body: &str) {
        if desktop_alerts_allowed() {
            let options = web_sys::NotificationOptions::new();
            options.set_body(body);
            let _ = web_sys::Notification::new_with_options(title, &options);
        }
    }

    pub fn target_node(ev: &web_sys::Event) -> Option<web_sys::Node> {
        ev.target()?.dyn_into::<web_sys::Node>().ok()
    }

    pub fn nothing_focused() -> bool {
        let body = document().body();
        document().active_element().is_none_or(|active| body.is_some_and(|b| active.is_same_node(Some(&b))))
    }

    pub fn in_a_field(ev: &web_sys::KeyboardEvent) -> bool {
        let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) else { return false };
        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.is_content_editable()
    }

    pub fn move_focus_within(container: &str, step: i32) {
        let Some(root) = document().get_element_by_id(container) else { return };
        let Ok(items) = root.query_selector_all("[role=menuitem]") else { return };
        let count = items.length() as i32;
        if count == 0 {
            return;
        }
        let active = document().active_element();
        let current = (0..count)
            .find(|i| items.item(*i as u32).is_some_and(|n| active.as_ref().is_some_and(|a| a.is_same_node(Some(&n)))))
            .unwrap_or(-1);
        let next = (current + step).rem_euclid(count);
        if let Some(el) = items.item(next as u32).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use leptos::prelude::RwSignal;

    use super::SocketState;

    #[derive(Clone, Default)]
    pub struct Outbox {
        _nothing: (),
    }

    impl Outbox {
        pub fn send(&self, _: &str) {}
    }

    pub fn mark_hydrated() {}
    pub fn client_id() -> String {
        String::new()
    }
    pub fn follow_socket(
        _: String,
        _: Option<i64>,
        _: fn(u32, f64) -> u32,
        _: impl Fn(SocketState) + 'static,
        _: impl Fn(&str) + 'static,
    ) -> Outbox {
        Outbox::default()
    }
    pub fn set_cookie(_: &str, _: &str) {}
    pub fn page_visible() -> RwSignal<bool> {
        RwSignal::new(false)
    }
    pub fn go_to(_: &str) {}
    pub fn local_time(_: &str) -> String {
        String::new()
    }
    pub fn time_in_zone(_: &str) -> String {
        String::new()
    }
    pub async fn put_file(_: &web_sys::HtmlInputElement, _: &str) -> Result<(), String> {
        Err(String::new())
    }
    pub fn after_render(_: impl FnOnce() + 'static) {}
    pub fn on_resize(_: &web_sys::Element, _: impl Fn() + 'static) {}
    pub fn open_popup(_: &str) -> bool {
        false
    }
    pub fn post_to_host(_: &str, _: u32) {}
    pub fn read_embed_token() {}
    pub fn embed_token() -> Option<String> {
        None
    }
    pub fn keep_embed_token(_: &str) {}
    pub fn beep() {}
    pub fn focus_by_id(_: &str) {}
    pub fn focus_selector(_: &str) {}
    pub fn nothing_focused() -> bool {
        false
    }
    pub fn target_node(_: &web_sys::Event) -> Option<web_sys::Node> {
        None
    }
    pub fn set_title_count(_: i64) {}
    pub fn time_from_now(_: f64) -> String {
        String::new()
    }
    pub fn ask_desktop_alerts() {}
    pub fn desktop_alerts_allowed() -> bool {
        false
    }
    pub fn desktop_alert(_: &str, _: &str) {}
    pub fn data_id_within(_: &web_sys::Event, _: &str) -> Option<i64> {
        None
    }
    pub fn in_a_field(_: &web_sys::KeyboardEvent) -> bool {
        false
    }
    pub fn page_address() -> (String, String) {
        ("/".to_owned(), String::new())
    }
    pub fn is_narrow() -> bool {
        false
    }
    pub fn move_focus_within(_: &str, _: i32) {}
}

/// False while the server renders and the browser hydrates, true once this part runs in the
/// browser: what only the browser knows (local times, data loaded after the page) shows from then,
/// so hydration meets the same markup the server wrote.
pub fn mounted() -> RwSignal<bool> {
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    mounted
}

/// Marks `<body data-hydrated="true">` once the page is interactive in the browser (tests wait on
/// it): the chat window marks it where the page has one, since it hydrates last, after its data.
pub fn mark_hydrated() {
    imp::mark_hydrated()
}

pub fn set_cookie(name: &str, value: &str) {
    imp::set_cookie(name, value)
}

/// The address of the page in the browser: its path, and its query without the `?`.
pub fn page_address() -> (String, String) {
    imp::page_address()
}

/// Loads `url` as a new page.
pub fn go_to(url: &str) {
    imp::go_to(url)
}

/// Whether the page is showing (not a background tab), kept current.
pub fn page_visible() -> RwSignal<bool> {
    imp::page_visible()
}

/// `HH:MM` in the reader's time zone (empty on the server, which does not know it).
pub fn local_time(rfc3339: &str) -> String {
    imp::local_time(rfc3339)
}

/// The time now in an IANA time zone, as `Mon 14:05` (empty on the server, and for a zone the
/// browser does not know).
pub fn time_in_zone(zone: &str) -> String {
    imp::time_in_zone(zone)
}

/// Sends the file chosen in `input` as the body of a PUT to `url` (with its media type): the
/// server's reason when it refuses.
pub async fn put_file(input: &web_sys::HtmlInputElement, url: &str) -> Result<(), String> {
    imp::put_file(input, url).await
}

/// Runs `f` after the browser has laid out the latest changes.
pub fn after_render(f: impl FnOnce() + 'static) {
    imp::after_render(f)
}

/// Runs `f` whenever `el`'s box changes size, after layout and before the browser paints: when it
/// is first laid out, when it is shown after being hidden (a hidden element has no size), and
/// when it grows or shrinks.
pub fn on_resize(el: &web_sys::Element, f: impl Fn() + 'static) {
    imp::on_resize(el, f)
}

/// Opens the chat in a small window of its own; false when the browser blocked it.
pub fn open_popup(url: &str) -> bool {
    imp::open_popup(url)
}

pub fn post_to_host(kind: &str, value: u32) {
    imp::post_to_host(kind, value)
}

/// A short, quiet tone for a new reply.
pub fn beep() {
    imp::beep()
}

pub fn focus_by_id(id: &str) {
    imp::focus_by_id(id)
}

/// Focuses the first element `selector` finds (when it can take focus).
pub fn focus_selector(selector: &str) {
    imp::focus_selector(selector)
}

/// The `data-id` of the element matching `selector` that holds the event's target.
pub fn data_id_within(ev: &web_sys::Event, selector: &str) -> Option<i64> {
    imp::data_id_within(ev, selector)
}

/// The time `seconds` from now, in RFC 3339 (UTC).
pub fn time_from_now(seconds: f64) -> String {
    imp::time_from_now(seconds)
}

/// Puts `(count) ` before the tab's title (none for 0), replacing a count it had.
pub fn set_title_count(count: i64) {
    imp::set_title_count(count)
}

/// Asks the browser to allow desktop notifications (call it from a click: browsers ask only then).
pub fn ask_desktop_alerts() {
    imp::ask_desktop_alerts()
}

/// Whether the browser allows desktop notifications.
pub fn desktop_alerts_allowed() -> bool {
    imp::desktop_alerts_allowed()
}

/// A desktop notification, when allowed.
pub fn desktop_alert(title: &str, body: &str) {
    imp::desktop_alert(title, body)
}

/// The node an event happened on.
pub fn target_node(ev: &web_sys::Event) -> Option<web_sys::Node> {
    imp::target_node(ev)
}

/// Nothing has focus (the page itself has it): what an element removed while focused leaves.
pub fn nothing_focused() -> bool {
    imp::nothing_focused()
}

/// A key pressed while typing in a field (input, text area, select, editable text).
pub fn in_a_field(ev: &web_sys::KeyboardEvent) -> bool {
    imp::in_a_field(ev)
}

/// A phone-sized screen (under 640 px wide, where the chat window fills the screen).
pub fn is_narrow() -> bool {
    imp::is_narrow()
}

/// Moves focus to the next (`step` 1) or previous (-1) menu item inside `container`, wrapping.
pub fn move_focus_within(container: &str, step: i32) {
    imp::move_focus_within(container, step)
}

/// A fresh id for a send (see `client_id` on POST /chats/{id}/messages).
pub fn client_id() -> String {
    imp::client_id()
}

/// Inside a window embedded on another site, where the browser withholds cookies, the visitor's
/// token comes from `embed.js` in the frame's address fragment (`#fd-token=`); taken from there
/// (and out of the address) before the app starts.
pub fn read_embed_token() {
    imp::read_embed_token()
}

/// The embedded window's token: `Some("")` before its visitor exists, `None` outside an embed.
pub fn embed_token() -> Option<String> {
    imp::embed_token()
}

/// Keeps the token a first action created, and hands it to the host page (`embed.js` stores it).
pub fn keep_embed_token(token: &str) {
    imp::keep_embed_token(token)
}

pub(crate) use imp::follow_socket;
pub use imp::Outbox;
