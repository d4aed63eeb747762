//! The settings dialog: send key, theme, sound and text size, saved through the preferences API and
//! applied at once; and the email staff can follow up at (saved on the conversation). Focus stays
//! inside; Escape closes.

use leptos::{html, prelude::*};

use super::{window::EmailCapture, ChatState};
use crate::components::icons::{Icon, Svg};
use crate::{
    api::save_preferences,
    model::{Preferences, SendKey, TextSize, Theme},
};

#[component]
pub fn SettingsDialog(on_close: Callback<()>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let dialog = NodeRef::<html::Div>::new();
    let saved_note = RwSignal::new(None::<String>);

    let update = move |change: Box<dyn FnOnce(&mut Preferences)>| {
        let before = state.prefs.get_untracked();
        let mut next = before.clone();
        change(&mut next);
        state.prefs.set(next.clone());
        leptos::task::spawn_local(async move {
            match save_preferences(next).await {
                Ok(saved) => {
                    state.prefs.set(saved);
                    saved_note.set(Some("Saved".into()));
                }
                Err(e) => {
                    state.prefs.set(before);
                    saved_note.set(Some(format!("Not saved: {}", e.message)));
                }
            }
        });
    };

    // Focus the dialog's first control when it opens.
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            if let Ok(Some(first)) = el.query_selector("input, select, button") {
                use leptos::wasm_bindgen::JsCast;
                if let Ok(first) = first.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = first.focus();
                }
            }
        }
    });

    // Keep Tab inside the dialog; Escape closes it.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.stop_propagation();
            on_close.run(());
            return;
        }
        if ev.key() != "Tab" {
            return;
        }
        let Some(el) = dialog.get_untracked() else { return };
        let Ok(list) = el.query_selector_all("input, select, button") else { return };
        let (Some(first), Some(last)) = (list.item(0), list.item(list.length().saturating_sub(1))) else { return };
        let active = leptos::prelude::document().active_element();
        use leptos::wasm_bindgen::JsCast;
        let focus = |node: leptos::web_sys::Node| {
            if let Ok(node) = node.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = node.focus();
            }
        };
        let is = |node: &leptos::web_sys::Node| active.as_ref().is_some_and(|a| a.is_same_node(Some(node)));
        if ev.shift_key() && is(&first) {
            ev.prevent_default();
            focus(last);
        } else if !ev.shift_key() && is(&last) {
            ev.prevent_default();
            focus(first);
        }
    };

    let radio = "flex items-center gap-2 rounded-lg border border-slate-200 px-3 py-2 text-sm has-[:checked]:border-indigo-500 has-[:checked]:bg-indigo-50 dark:border-slate-700 dark:has-[:checked]:bg-indigo-950";
    view! {
        <div class="absolute inset-0 z-20 flex items-end bg-slate-900/40 sm:items-center sm:justify-center" on:click=move |_| on_close.run(())>
            <div
                node_ref=dialog
                role="dialog"
                aria-modal="true"
                aria-labelledby="settings-title"
                data-testid="settings-dialog"
                class="w-full rounded-t-2xl bg-white p-4 shadow-xl sm:w-[340px] sm:rounded-2xl dark:bg-slate-900"
                on:click=|ev| ev.stop_propagation()
                on:keydown=on_keydown
            >
                <div class="mb-3 flex items-center justify-between">
                    <h2 id="settings-title" class="font-semibold">"Chat settings"</h2>
                    <span role="status" class="text-xs text-slate-500 dark:text-slate-400">{move || saved_note.get()}</span>
                </div>
                <fieldset class="mb-3">
                    <legend class="mb-1 text-sm font-medium">"Send messages with"</legend>
                    <div class="grid grid-cols-2 gap-2">
                        <label class=radio>
                            <input type="radio" name="send-key" data-testid="send-key-shift-enter"
                                prop:checked=move || state.prefs.with(|p| p.send_key == SendKey::ShiftEnter)
                                on:change=move |_| update(Box::new(|p| p.send_key = SendKey::ShiftEnter))/>
                            "Shift+Enter"
                        </label>
                        <label class=radio>
                            <input type="radio" name="send-key" data-testid="send-key-enter"
                                prop:checked=move || state.prefs.with(|p| p.send_key == SendKey::Enter)
                                on:change=move |_| update(Box::new(|p| p.send_key = SendKey::Enter))/>
                            "Enter"
                        </label>
                    </div>
                </fieldset>
                <fieldset class="mb-3">
                    <legend class="mb-1 text-sm font-medium">"Theme"</legend>
                    <div class="grid grid-cols-3 gap-2">
                        {[(Theme::Light, "Light"), (Theme::Dark, "Dark"), (Theme::System, "System")].into_iter().map(|(theme, label)| view! {
                            <label class=radio>
                                <input type="radio" name="theme" data-testid=format!("theme-{}", theme.as_str())
                                    prop:checked=move || state.prefs.with(|p| p.theme == theme)
                                    on:change=move |_| update(Box::new(move |p| p.theme = theme))/>
                                {label}
                            </label>
                        }).collect_view()}
                    </div>
                </fieldset>
                <label class="mb-3 flex items-center justify-between text-sm">
                    <span class="font-medium">"Sound on new replies"</span>
                    <input type="checkbox" data-testid="sound" class="size-4"
                        prop:checked=move || state.prefs.with(|p| p.sound)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            update(Box::new(move |p| p.sound = on))
                        }/>
                </label>
                <label class="mb-4 flex items-center justify-between gap-3 text-sm">
                    <span class="font-medium">"Text size"</span>
                    <select data-testid="text-size" class="rounded-lg border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-900"
                        prop:value=move || state.prefs.with(|p| p.text_size.as_str())
                        on:change=move |ev| {
                            if let Ok(size) = event_target_value(&ev).parse::<TextSize>() {
                                update(Box::new(move |p| p.text_size = size))
                            }
                        }>
                        <option value="small">"Small"</option>
                        <option value="medium">"Medium"</option>
                        <option value="large">"Large"</option>
                    </select>
                </label>
                <div class="mb-4 text-sm">
                    <p class="font-medium">"Email for follow-up"</p>
                    <p class="text-xs text-slate-600 dark:text-slate-300">"So our team can answer you if you leave."</p>
                    <EmailCapture in_settings=true/>
                </div>
                <button type="button" data-testid="settings-close"
                    class="flex w-full items-center justify-center gap-2 rounded-lg bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700"
                    on:click=move |_| on_close.run(())>
                    <Svg icon=Icon::Check class="size-4"/>
                    "Done"
                </button>
            </div>
        </div>
    }
    .into_any()
}
