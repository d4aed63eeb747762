//! The staff panel's live feed. Committed changes of every chat (but token deltas) arrive here in
//! order; each conversation's summary is computed once per batch, after commit, and broadcast
//! with the change to every open panel, so panels need no query of their own.

use std::{collections::HashMap, sync::Weak};

use super::Inquiries;
use crate::{
    model::{ChatEvent, PanelEvent},
    server::events::PanelQueue,
};

/// Changes taken in one go: under load a conversation's summary is computed once for many.
const BATCH: usize = 256;

pub async fn run(service: Weak<Inquiries>, mut queue: PanelQueue) {
    let mut batch: Vec<(i64, ChatEvent)> = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let Some(service) = service.upgrade() else { return };
        let mut summaries = HashMap::new();
        for (chat_id, _) in &batch {
            if summaries.contains_key(chat_id) {
                continue;
            }
            let summary = match service.summary(*chat_id).await {
                Ok(summary) => summary,
                Err(error) => {
                    // The panels still get the change; their list reloads on reconnect.
                    tracing::warn!(?error, chat_id, "could not summarise an inquiry for the panel");
                    None
                }
            };
            summaries.insert(*chat_id, summary);
        }
        for (chat_id, event) in batch.drain(..) {
            let inquiry = summaries.get(&chat_id).cloned().flatten();
            service.hub.send_to_panels(PanelEvent { chat_id, event, inquiry });
        }
    }
}
