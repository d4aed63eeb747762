//! The panel's keyboard: j / k move through the list, r replies, n writes a note, e resolves, a
//! assigns to me, / opens the canned responses, ? lists them all (Esc closes the list). Keys
//! typed in a field are text, never commands.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

use super::Panel;
use crate::components::browser;

/// What a key asks of the open conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Reply,
    Note,
    Resolve,
    AssignToMe,
    Canned,
}

/// Every shortcut, as the help lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("j", "Next conversation in the list"),
    ("k", "Previous conversation in the list"),
    ("r", "Reply to the customer"),
    ("n", "Write a private note"),
    ("e", "Resolve the conversation"),
    ("a", "Assign the conversation to me"),
    ("/", "Put a canned response in the reply"),
    ("?", "Show these shortcuts"),
    ("Esc", "Close this list"),
];

/// The open conversation's id, from the address.
fn open_id(path: &str) -> Option<i64> {
    path.strip_prefix("/admin/inquiries/")?.split(['/', '?', '#']).next()?.parse().ok()
}

/// The conversation `step` (1 or -1) from `current` in `ids`: the first (or last) without one.
fn neighbour(ids: &[i64], current: Option<i64>, step: i32) -> Option<i64> {
    let at = current.and_then(|c| ids.iter().position(|i| *i == c));
    let next = match (at, step) {
        (None, 1) => 0,
        (None, _) => ids.len().checked_sub(1)?,
        (Some(at), 1) => at + 1,
        (Some(at), _) => at.checked_sub(1)?,
    };
    ids.get(next).copied()
}

/// Listens for the shortcuts on the whole page; `help` shows the list of them.
pub fn install(panel: Panel, help: RwSignal<bool>) {
    let location = use_location();
    let navigate = use_navigate();
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && help.get_untracked() {
            help.set(false);
            return;
        }
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.is_composing() || browser::in_a_field(&ev) {
            return;
        }
        let open = open_id(&location.pathname.get_untracked());
        let command = match ev.key().as_str() {
            "j" | "k" => {
                let ids: Vec<i64> = panel.shown_untracked().iter().map(|i| i.chat.id).collect();
                if let Some(id) = neighbour(&ids, open, if ev.key() == "j" { 1 } else { -1 }) {
                    ev.prevent_default();
                    navigate(&format!("/admin/inquiries/{id}"), Default::default());
                    browser::after_render(move || {
                        browser::focus_selector(&format!("[data-testid=inquiry][data-id='{id}'] a"))
                    });
                }
                return;
            }
            "?" => {
                ev.prevent_default();
                help.update(|h| *h = !*h);
                return;
            }
            "r" => Command::Reply,
            "n" => Command::Note,
            "e" => Command::Resolve,
            "a" => Command::AssignToMe,
            "/" => Command::Canned,
            _ => return,
        };
        if open.is_some() {
            ev.prevent_default();
            panel.command.update(|(counter, last)| {
                *counter += 1;
                *last = Some(command);
            });
        }
    });
    on_cleanup(move || handle.remove());
}

/// Runs `act` for each command given after this was set up (not for one given before).
pub fn on_command(panel: Panel, act: impl Fn(Command) + 'static) {
    let seen = StoredValue::new(panel.command.with_untracked(|(counter, _)| *counter));
    Effect::new(move |_| {
        let (counter, command) = panel.command.get();
        if counter != seen.get_value() {
            seen.set_value(counter);
            if let Some(command) = command {
                act(command);
            }
        }
    });
}

/// The list of shortcuts, as a dialog.
#[component]
pub fn ShortcutHelp(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <div class="fixed inset-0 z-20 flex items-center justify-center bg-slate-900/40" on:click=move |_| open.set(false)>
                <div role="dialog" aria-modal="true" aria-labelledby="shortcuts-title" data-testid="shortcuts"
                    class="w-full max-w-sm rounded-2xl bg-white p-5 shadow-xl" on:click=|ev| ev.stop_propagation()>
                    <h2 id="shortcuts-title" class="text-lg font-semibold">"Keyboard shortcuts"</h2>
                    <dl class="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1.5 text-sm">
                        {SHORTCUTS.iter().map(|(key, what)| view! {
                            <dt><kbd class="rounded border border-slate-300 bg-slate-50 px-1.5 font-mono">{*key}</kbd></dt>
                            <dd>{*what}</dd>
                        }).collect_view()}
                    </dl>
                    <button type="button" data-testid="shortcuts-close" class="mt-4 rounded-lg border border-slate-300 px-3 py-1 text-sm hover:bg-slate-50"
                        on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j_and_k_move_through_the_list_and_stop_at_its_ends() {
        let ids = [7, 5, 3];
        assert_eq!(neighbour(&ids, None, 1), Some(7), "j with none open opens the first");
        assert_eq!(neighbour(&ids, None, -1), Some(3));
        assert_eq!(neighbour(&ids, Some(7), 1), Some(5));
        assert_eq!(neighbour(&ids, Some(5), -1), Some(7));
        assert_eq!(neighbour(&ids, Some(3), 1), None, "past the end: nothing");
        assert_eq!(neighbour(&ids, Some(7), -1), None);
        assert_eq!(neighbour(&ids, Some(99), 1), Some(7), "one not in the list: from the top");
        assert_eq!(neighbour(&[], None, 1), None);
    }

    #[test]
    fn the_open_conversation_is_read_from_the_address() {
        assert_eq!(open_id("/admin/inquiries/12"), Some(12));
        assert_eq!(open_id("/admin/inquiries/12/"), Some(12));
        assert_eq!(open_id("/admin/team"), None);
        assert_eq!(open_id("/admin/inquiries/x"), None);
    }
}
