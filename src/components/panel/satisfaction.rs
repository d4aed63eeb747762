//! What the customer thought, in the panel: their ratings beside the conversation, and the
//! thumbs on the assistant's replies, where staff also mark a wrong answer (never shown to the
//! customer).

use leptos::prelude::*;

use super::when;
use crate::{
    model::{ReplyThumbs, Satisfaction},
    staff_api::mark_reply,
};

/// The open conversation's ratings and thumbs, shared by its replies and the customer card.
#[derive(Clone, Copy)]
pub struct Thoughts(pub RwSignal<Satisfaction>);

/// Under one of the assistant's replies: the customer's thumb, and staff's right/wrong mark.
#[component]
pub fn ReplyMarks(chat_id: i64, message_id: i64) -> impl IntoView {
    let Some(Thoughts(thoughts)) = use_context::<Thoughts>() else {
        return ().into_any();
    };
    let error = RwSignal::new(None::<String>);
    let marks = move || {
        thoughts.with(|t| t.replies.iter().find(|r| r.message_id == message_id).cloned()).unwrap_or(ReplyThumbs {
            message_id,
            customer: None,
            staff: None,
            staff_name: None,
        })
    };
    let mark = move |helpful: bool| {
        let next = (marks().staff != Some(helpful)).then_some(helpful);
        leptos::task::spawn_local(async move {
            match mark_reply(chat_id, message_id, next).await {
                Ok(()) => {
                    thoughts.try_update(|t| match t.replies.iter_mut().find(|r| r.message_id == message_id) {
                        Some(reply) => reply.staff = next,
                        None => {
                            t.replies.push(ReplyThumbs { message_id, customer: None, staff: next, staff_name: None })
                        }
                    });
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    let button = "min-h-6 min-w-6 rounded px-1.5 py-0.5 ring-1 ring-slate-300 hover:bg-slate-100 aria-pressed:bg-slate-800 aria-pressed:text-white";
    view! {
        <div data-testid="reply-marks" class="mt-1 flex items-center gap-2 px-1 text-xs text-slate-700">
            <span data-testid="customer-thumb" data-value=move || match marks().customer {
                Some(true) => "up",
                Some(false) => "down",
                None => "none",
            }>
                {move || match marks().customer {
                    Some(true) => "Customer: helpful 👍",
                    Some(false) => "Customer: not helpful 👎",
                    None => "",
                }}
            </span>
            <span role="group" aria-label="Was the answer right?" class="flex gap-1">
                <button type="button" data-testid="mark-right" class=button
                    aria-pressed=move || (marks().staff == Some(true)).to_string() on:click=move |_| mark(true)>"Right"</button>
                <button type="button" data-testid="mark-wrong" class=button
                    aria-pressed=move || (marks().staff == Some(false)).to_string() on:click=move |_| mark(false)>"Wrong"</button>
            </span>
            <span role="alert">{move || error.get()}</span>
        </div>
    }
    .into_any()
}

/// The customer's ratings of this conversation (newest resolution first), for the customer card.
#[component]
pub fn Ratings() -> impl IntoView {
    let Some(Thoughts(thoughts)) = use_context::<Thoughts>() else {
        return ().into_any();
    };
    view! {
        <h3 class="mt-4 text-xs font-semibold uppercase text-slate-600">"Rating"</h3>
        <ul data-testid="customer-ratings" class="mt-1 space-y-1">
            {move || thoughts.with(|t| t.ratings.is_empty()).then(|| view! { <li class="text-slate-600">"Not rated"</li> })}
            {move || thoughts.with(|t| t.ratings.clone()).into_iter().map(|r| view! {
                <li data-testid="customer-rating" data-score=r.score>
                    <span class="font-medium">{format!("{} of 5", r.score)}</span>
                    <span class="text-xs text-slate-600">{format!(" · {}", when(&r.rated_at))}</span>
                    {r.comment.map(|c| view! { <q class="block text-slate-800">{c}</q> })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
