//! Browser-only behaviour behind small functions; the server build compiles them to nothing, so
//! components need no `cfg`.

use super::chat_window::ChatState;

#[cfg(feature = "hydrate")]
mod imp {
    use futures::StreamExt;
    use gloo_net::eventsource::futures::EventSource;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::{
        components::chat_window::ChatState,
        model::{Chat, ChatEvent, EventKind},
    };

    pub fn mark_hydrated() {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }

    pub fn follow(chat_id: i64, after: i64, state: ChatState) {
        let Ok(mut source) = EventSource::new(&format!("/api/v1/chats/{chat_id}/events?after={after}")) else {
            return;
        };
        let subscriptions: Vec<_> = EventKind::ALL.iter().filter_map(|k| source.subscribe(k.as_str()).ok()).collect();
        let mut events = futures::stream::select_all(subscriptions);
        leptos::task::spawn_local(async move {
            let _source = source;
            let mut last = after;
            while let Some(item) = events.next().await {
                let Ok((kind, message)) = item else { continue };
                let Ok(seq) = message.last_event_id().parse::<i64>() else { continue };
                if seq <= last {
                    continue;
                }
                let (Ok(kind), Some(data)) = (kind.parse::<EventKind>(), message.data().as_string()) else { continue };
                let Ok(data) = serde_json::from_str::<serde_json::Value>(&data) else { continue };
                last = seq;
                if kind == EventKind::ChatUpdated {
                    if let Ok(updated) = serde_json::from_value::<Chat>(data) {
                        state.chat.set(updated);
                    }
                    continue;
                }
                let subject = data.get("id").and_then(|v| v.as_i64());
                if matches!(kind, EventKind::MessageCreated | EventKind::MessageUpdated | EventKind::MessageCompleted)
                    && subject.is_some_and(|id| state.outside_window(id))
                {
                    // Not rendered now; the reader gets it when paging there.
                    if kind == EventKind::MessageCreated && state.newer_cursor.get_untracked().is_some() {
                        state.new_below.set(true);
                    }
                    continue;
                }
                let event = ChatEvent { seq, kind, data };
                state.messages.update(|list| event.apply_to(list));
            }
        });
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
    use crate::components::chat_window::ChatState;

    pub fn mark_hydrated() {}
    pub fn follow(_: i64, _: i64, _: ChatState) {}
    pub fn set_cookie(_: &str, _: &str) {}
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
    pub fn move_focus_within(_: &str, _: i32) {}
}

/// Marks `<body data-hydrated="true">` once the app runs in the browser (tests wait on it).
pub fn mark_hydrated() {
    imp::mark_hydrated()
}

/// Follows a chat's event stream from `after`; the browser reconnects with Last-Event-ID.
pub fn follow(chat_id: i64, after: i64, state: ChatState) {
    imp::follow(chat_id, after, state)
}

pub fn set_cookie(name: &str, value: &str) {
    imp::set_cookie(name, value)
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

/// Moves focus to the next (`step` 1) or previous (-1) menu item inside `container`, wrapping.
pub fn move_focus_within(container: &str, step: i32) {
    imp::move_focus_within(container, step)
}
