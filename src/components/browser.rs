//! Browser-only behaviour behind small functions: the WebSocket, timers, cookies, focus, sound,
//! pop-ups and the host page. The server build compiles them to nothing, so components need no
//! `cfg`.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
mod imp {
    use futures::StreamExt;
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};

    use crate::components::live::Link;
    use crate::{
        components::ChatState,
        model::{Event, LiveSignal, Role, ServerFrame},
    };

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

    enum Frame {
        Open,
        Text(String),
        Closed(u16),
    }

    /// One WebSocket and the handlers that feed `tx`; closing it drops them.
    struct Socket {
        ws: web_sys::WebSocket,
        _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    impl Drop for Socket {
        fn drop(&mut self) {
            self.ws.set_onopen(None);
            self.ws.set_onmessage(None);
            self.ws.set_onclose(None);
            let _ = self.ws.close();
        }
    }

    fn open_socket(path: &str, tx: futures::channel::mpsc::UnboundedSender<Frame>) -> Option<Socket> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        let ws = web_sys::WebSocket::new(&format!("{scheme}://{}{path}", location.host().ok()?)).ok()?;
        let on_open = {
            let tx = tx.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let _ = tx.unbounded_send(Frame::Open);
            })
        };
        let on_message = {
            let tx = tx.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                if let Some(text) = event.dyn_ref::<web_sys::MessageEvent>().and_then(|m| m.data().as_string()) {
                    let _ = tx.unbounded_send(Frame::Text(text));
                }
            })
        };
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let code = event.dyn_ref::<web_sys::CloseEvent>().map_or(1006, |c| c.code());
            let _ = tx.unbounded_send(Frame::Closed(code));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Some(Socket { ws, _handlers: vec![on_open, on_message, on_close] })
    }

    /// Sends text on the current connection (dropped while disconnected). The browser has one
    /// thread, so the wrapper never moves it.
    #[derive(Clone)]
    pub struct Outbox {
        socket: SendWrapper<std::rc::Rc<std::cell::RefCell<Option<web_sys::WebSocket>>>>,
    }

    impl Default for Outbox {
        fn default() -> Self {
            Outbox { socket: SendWrapper::new(Default::default()) }
        }
    }

    impl Outbox {
        pub fn send(&self, text: &str) {
            if let Some(ws) = self.socket.borrow().as_ref() {
                if ws.ready_state() == web_sys::WebSocket::OPEN {
                    let _ = ws.send_with_str(text);
                }
            }
        }
    }

    pub fn follow_socket(
        path: String,
        mut after: Option<i64>,
        link: RwSignal<Link>,
        on_open: impl Fn(bool) + 'static,
        on_frame: impl Fn(serde_json::Value) + 'static,
    ) -> Outbox {
        let outbox = Outbox::default();
        let current = (*outbox.socket).clone();
        let stopped = std::rc::Rc::new(std::cell::Cell::new(false));
        {
            let guard = SendWrapper::new((stopped.clone(), current.clone()));
            // The component is gone: stop, and close the connection now.
            on_cleanup(move || {
                let (stopped, current) = &*guard;
                stopped.set(true);
                if let Some(ws) = current.borrow_mut().take() {
                    let _ = ws.close();
                }
            });
        }
        leptos::task::spawn_local(async move {
            let mut attempt = 0u32;
            let mut opened_before = false;
            while !stopped.get() {
                let url = match after {
                    Some(seq) => format!("{path}?after={seq}"),
                    None => path.clone(),
                };
                let (tx, mut rx) = futures::channel::mpsc::unbounded();
                let Some(socket) = open_socket(&url, tx) else { return };
                // A 5 s connect timeout.
                let opened = futures::select! {
                    frame = rx.next() => matches!(frame, Some(Frame::Open)),
                    _ = futures::FutureExt::fuse(Box::pin(sleep(5_000))) => false,
                };
                if opened {
                    attempt = 0;
                    *current.borrow_mut() = Some(socket.ws.clone());
                    let _ = link.try_set(Link::Live);
                    on_open(opened_before);
                    opened_before = true;
                    while let Some(frame) = rx.next().await {
                        match frame {
                            Frame::Text(_) if stopped.get() => return,
                            Frame::Text(text) => {
                                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                                if let (Some(last), Some(seq)) = (after, value.get("seq").and_then(|s| s.as_i64())) {
                                    if seq <= last {
                                        continue; // already shown
                                    }
                                    after = Some(seq);
                                }
                                on_frame(value);
                            }
                            Frame::Closed(code) if (4000..4100).contains(&code) => {
                                // Not allowed or gone: reconnecting would not help.
                                let _ = link.try_set(Link::Refused(code));
                                return;
                            }
                            Frame::Closed(_) => break,
                            Frame::Open => {}
                        }
                        if stopped.get() {
                            return;
                        }
                    }
                }
                current.borrow_mut().take();
                drop(socket);
                if stopped.get() {
                    return;
                }
                let _ = link.try_set(Link::Reconnecting);
                sleep(crate::components::live::backoff_ms(attempt, js_sys::Math::random())).await;
                attempt = attempt.saturating_add(1);
            }
        });
        outbox
    }

    pub fn follow(chat_id: i64, after: i64, state: ChatState) -> Outbox {
        follow_socket(
            format!("/api/v1/chats/{chat_id}/ws"),
            Some(after),
            state.link,
            |_| {},
            move |value| {
                let event = match serde_json::from_value::<ServerFrame>(value) {
                    Ok(ServerFrame::Event(event)) => event,
                    Ok(ServerFrame::Signal(LiveSignal::Typing(typing))) => return state.typing.show(typing),
                    Ok(ServerFrame::Error(_)) | Err(_) => return,
                };
                match &event.event {
                    Event::ChatUpdated(chat) => return state.chat.set(chat.clone()),
                    Event::MessageCreated(message) if message.role == Role::Agent => state.typing.clear(),
                    _ => {}
                }
                if event.event.message().is_some_and(|m| state.outside_window(m.id)) {
                    // Not rendered now; the reader gets it when paging there.
                    if matches!(event.event, Event::MessageCreated(_)) && state.newer_cursor.get_untracked().is_some() {
                        state.new_below.set(true);
                    }
                    return;
                }
                state.messages.update(|list| event.apply_to(list));
            },
        )
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

    pub fn after_render(f: impl FnOnce() + 'static) {
        request_animation_frame(f);
    }

    pub fn open_popup(url: &str) -> bool {
        window()
            .open_with_url_and_target_and_features(url, "frontdesk-chat", "popup,width=420,height=680")
            .ok()
            .flatten()
            .is_some()
    }

    /// Tells the host page (when inside the embed iframe) what happened.
    pub fn post_to_host(kind: &str, value: u32) {
        if let Ok(Some(parent)) = window().parent() {
            let message = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&message, &"type".into(), &format!("frontdesk:{kind}").into());
            let _ = js_sys::Reflect::set(&message, &"value".into(), &value.into());
            let _ = parent.post_message(&message, "*");
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

    pub fn is_narrow() -> bool {
        window().inner_width().ok().and_then(|w| w.as_f64()).is_some_and(|w| w < 640.0)
    }

    pub fn focus_by_id(id: &str) {
        if let Some(el) = document().get_element_by_id(id).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
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

    use crate::components::live::Link;
    use crate::components::ChatState;

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
    pub fn follow(_: i64, _: i64, _: ChatState) -> Outbox {
        Outbox::default()
    }
    pub fn follow_socket(
        _: String,
        _: Option<i64>,
        _: RwSignal<Link>,
        _: impl Fn(bool) + 'static,
        _: impl Fn(serde_json::Value) + 'static,
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
    pub fn after_render(_: impl FnOnce() + 'static) {}
    pub fn open_popup(_: &str) -> bool {
        false
    }
    pub fn post_to_host(_: &str, _: u32) {}
    pub fn beep() {}
    pub fn focus_by_id(_: &str) {}
    pub fn is_narrow() -> bool {
        false
    }
    pub fn move_focus_within(_: &str, _: i32) {}
}

/// Marks `<body data-hydrated="true">` once the app runs in the browser (tests wait on it).
pub fn mark_hydrated() {
    imp::mark_hydrated()
}

pub fn set_cookie(name: &str, value: &str) {
    imp::set_cookie(name, value)
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

/// Runs `f` after the browser has laid out the latest changes.
pub fn after_render(f: impl FnOnce() + 'static) {
    imp::after_render(f)
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

pub use imp::Outbox;
pub(crate) use imp::{follow, follow_socket};
