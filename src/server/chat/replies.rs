//! The streaming engine: a reply is written by a background task that opens the upstream stream
//! (retrying until the first chunk), appends text as it arrives (the first words at once, then
//! gathered for `coalesce`), and ends the reply as complete, stopped, failed or interrupted. The
//! text so far is always kept. Running replies can be stopped and awaited.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{budget, deltas::DeltaWriter, store, Caller, ChatService};
use crate::{
    model::{Delta, Event, Message, MessageStatus, Product, Role, Usage},
    server::{
        error::{AppError, AppResult},
        events::ChatTx,
        llm::{Chunk, ChunkStream, LlmError, LlmErrorKind, Prompt, PromptMessage},
        metrics,
    },
};

pub const STOPPED_REASON: &str = "stopped before it finished";
pub const INTERRUPTED_REASON: &str = "the server restarted while this reply was being written";
/// How long a stop waits for another replica to end a reply it writes.
const STOP_WAIT: Duration = Duration::from_secs(2);

struct Running {
    chat_id: i64,
    /// The visitor whose chat it is.
    owner: i64,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

/// The replies this process is writing.
#[derive(Default)]
pub struct Replies {
    running: Mutex<HashMap<i64, Running>>,
    /// The delta writer (started with the first reply).
    deltas: DeltaWriter,
}

impl Replies {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, chat_id: i64, owner: i64, reply_id: i64) -> (CancellationToken, watch::Sender<bool>) {
        let cancel = CancellationToken::new();
        let (done_tx, done) = watch::channel(false);
        self.running().insert(reply_id, Running { chat_id, owner, cancel: cancel.clone(), done });
        (cancel, done_tx)
    }

    /// Refuses (429) a new reply when `owner` already has `per_visitor` replies being written, or
    /// the server `overall`: each is a stream from the model, paid for. Replies in `replacing`
    /// (the chat whose running reply the new one replaces) do not count.
    pub(super) fn check_room(
        &self,
        owner: i64,
        per_visitor: usize,
        overall: usize,
        replacing: Option<i64>,
    ) -> AppResult<()> {
        let running = self.running();
        let counted = || running.values().filter(|r| Some(r.chat_id) != replacing);
        if counted().count() >= overall {
            return Err(AppError::rate_limited(
                "the assistant is answering many customers right now",
                std::time::Duration::from_secs(5),
            ));
        }
        if counted().filter(|r| r.owner == owner).count() >= per_visitor {
            return Err(busy_elsewhere());
        }
        Ok(())
    }

    fn finished(&self, reply_id: i64) {
        self.running().remove(&reply_id);
    }

    /// Stops every reply being written in a chat (a person takes over, the chat is deleted).
    pub fn cancel_chat(&self, chat_id: i64) {
        for running in self.running().values().filter(|r| r.chat_id == chat_id) {
            running.cancel.cancel();
        }
    }

    /// Stops one reply, if it is being written.
    pub fn cancel(&self, reply_id: i64) {
        if let Some(running) = self.running().get(&reply_id) {
            running.cancel.cancel();
        }
    }

    /// Stops a reply and waits until its task wrote the end; false when none was running here.
    async fn cancel_and_wait(&self, reply_id: i64) -> bool {
        let running = self.running().get(&reply_id).map(|r| (r.cancel.clone(), r.done.clone()));
        match running {
            Some((cancel, mut done)) => {
                cancel.cancel();
                let _ = done.wait_for(|finished| *finished).await;
                true
            }
            None => false,
        }
    }

    /// Stops every reply being written here (the replica shuts down).
    pub(super) fn cancel_all(&self) {
        for running in self.running().values() {
            running.cancel.cancel();
        }
    }

    /// Waits until every reply being written now has ended.
    pub(super) async fn wait_all(&self) {
        let done: Vec<_> = self.running().values().map(|r| r.done.clone()).collect();
        for mut done in done {
            let _ = done.wait_for(|finished| *finished).await;
        }
    }
}

impl Outcome {
    /// Its name in metrics.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Stopped => "stopped",
            Outcome::Failed(_) => "failed",
            Outcome::Interrupted(_) => "interrupted",
            Outcome::Gone => "gone",
        }
    }
}

/// 429: the visitor's allowance of replies being written at once is in use.
pub(super) fn busy_elsewhere() -> AppError {
    AppError::rate_limited("the assistant is still answering in your other conversations", Duration::from_secs(5))
}

/// How a reply ended.
enum Outcome {
    Complete,
    Stopped,
    /// Failed before any text.
    Failed(String),
    /// Failed after some text; the text is kept.
    Interrupted(String),
    /// The message was deleted or finished elsewhere: nothing to write.
    Gone,
}

impl ChatService {
    /// Ends a reply whose server stopped while writing it as interrupted, its text kept (no-op
    /// when it already ended).
    pub(super) async fn interrupt_reply(&self, chat_id: i64, reply_id: i64) -> AppResult<()> {
        self.finish_reply(chat_id, reply_id, "", MessageStatus::Interrupted, Some(INTERRUPTED_REASON), None, None).await
    }

    /// How a cancelled reply ends: stopped, or interrupted when this replica shuts down.
    fn cancelled(&self) -> Outcome {
        if self.stopping.is_cancelled() {
            Outcome::Interrupted(INTERRUPTED_REASON.into())
        } else {
            Outcome::Stopped
        }
    }

    /// Stops a reply: its task ends it (here or on another replica), or, when no task writes it,
    /// it is ended now.
    pub(crate) async fn stop_running_reply(&self, chat_id: i64, reply_id: i64) -> AppResult<()> {
        if self.replies.cancel_and_wait(reply_id).await || self.stopped_elsewhere(chat_id, reply_id).await? {
            return Ok(());
        }
        self.finish_reply(chat_id, reply_id, "", MessageStatus::Stopped, Some(STOPPED_REASON), None, None).await
    }

    /// Asks the other replicas to stop a reply and waits until one wrote its end; false when
    /// none did within [`STOP_WAIT`] (no replica writes it) or there are no others.
    async fn stopped_elsewhere(&self, chat_id: i64, reply_id: i64) -> AppResult<bool> {
        if self.hub.peers() == 0 {
            return Ok(false);
        }
        let ended = self.until_ended(chat_id, reply_id);
        self.hub.stop_elsewhere(chat_id, Some(reply_id));
        match tokio::time::timeout(STOP_WAIT, ended).await {
            Ok(outcome) => outcome.map(|_| true),
            Err(_) => {
                tracing::warn!(chat_id, reply_id, "no replica stopped a streaming reply; it is ended here");
                Ok(false)
            }
        }
    }

    /// Waits until a reply is no longer being written, by whichever replica writes it: the reply
    /// as it ended, or `None` when it was removed (replaced in a burst, or its chat deleted). It
    /// wakes on the reply's end or removal as broadcast here, and reads again after a gap.
    pub(super) async fn until_ended(&self, chat_id: i64, reply_id: i64) -> AppResult<Option<Message>> {
        // Listening before the read: an end committed after it is heard.
        let mut watch = self.hub.watch_chat(chat_id);
        loop {
            match store::find_message(&self.db, chat_id, reply_id).await? {
                Some(reply) if reply.status == MessageStatus::Streaming => {}
                ended => return Ok(ended),
            }
            // Missed events (or, never while watched, no channel) end the wait too: read again.
            while let Ok(event) = watch.rx.recv().await {
                match &event.event {
                    Event::MessageCompleted(m) if m.id == reply_id => break,
                    Event::MessageDeleted(d) if d.message_id == reply_id => break,
                    Event::ChatDeleted(_) => break,
                    _ => {}
                }
            }
        }
    }

    /// Stops one reply being written, here or on another replica, without waiting.
    pub(crate) fn cancel_reply(&self, chat_id: i64, reply_id: i64) {
        self.replies.cancel(reply_id);
        self.hub.stop_elsewhere(chat_id, Some(reply_id));
    }

    /// Replies this replica is writing now.
    pub fn replies_running(&self) -> usize {
        self.replies.running().len()
    }

    /// Stops every reply being written in a chat, here and on the other replicas.
    pub(crate) fn cancel_replies_of(&self, chat_id: i64) {
        self.replies.cancel_chat(chat_id);
        self.hub.stop_elsewhere(chat_id, None);
    }

    /// Writes a reply in the background; its tokens are charged to `caller` (the visitor whose
    /// chat it is, from the network they asked from).
    pub(super) fn spawn_reply(self: &Arc<Self>, chat_id: i64, caller: Caller, reply_id: i64) {
        self.start_reply(chat_id, caller, reply_id, Start::Committed);
    }

    /// Begins a reply inside the change that creates it, before the commit: the prompt is built
    /// from the `history` the change read (newest first, as [`store::SendState::history_after`]
    /// gives it), and the upstream is asked while the commit completes, so a reply's first words
    /// wait for neither in turn. Nothing is written for the reply until
    /// [`EarlyReply::committed`]; dropped instead (the change failed), the reply ends without a
    /// trace and its request to the upstream is dropped.
    pub(super) async fn begin_reply(
        self: &Arc<Self>,
        tx: &mut ChatTx<'_>,
        caller: Caller,
        reply_id: i64,
        context: &str,
        product_id: Option<i64>,
        history: Vec<store::HistoryRow>,
    ) -> AppResult<EarlyReply> {
        let chat_id = tx.chat_id();
        let product = match product_id {
            Some(id) => crate::server::catalog::product_in(tx.conn(), id).await?,
            None => None,
        };
        let prompt = self.build_prompt(context, product.as_ref(), history);
        let (committed, known) = oneshot::channel();
        self.start_reply(chat_id, caller, reply_id, Start::Early { prompt: Box::new(prompt), committed: known });
        Ok(EarlyReply { committed })
    }

    fn start_reply(self: &Arc<Self>, chat_id: i64, caller: Caller, reply_id: i64, start: Start) {
        self.replies.deltas.start(self);
        let (cancel, done) = self.replies.start(chat_id, caller.user_id, reply_id);
        let service = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = service.write_reply(chat_id, reply_id, caller, &cancel, start).await {
                tracing::error!(?error, chat_id, reply_id, "writing a reply failed");
                let reason = "the reply could not be saved; please try again";
                if let Err(error) =
                    service.finish_reply(chat_id, reply_id, "", MessageStatus::Failed, Some(reason), None, None).await
                {
                    tracing::error!(?error, reply_id, "marking a reply failed did not work either");
                }
            }
            service.replies.finished(reply_id);
            let _ = done.send(true);
        });
    }

    async fn prompt_for(&self, chat_id: i64, reply_id: i64) -> AppResult<Prompt> {
        let (context, product_id, rows) = store::prompt_inputs(&self.db, chat_id, reply_id).await?;
        let product = match product_id {
            Some(id) => self.get_product(id).await.ok(),
            None => None,
        };
        Ok(self.build_prompt(&context, product.as_ref(), rows))
    }

    /// The prompt from the chat's context, its product and its history (newest first, as read).
    fn build_prompt(&self, context: &str, product: Option<&Product>, rows: Vec<store::HistoryRow>) -> Prompt {
        let context = self.context_or_default(Some(context));
        let history = rows
            .into_iter()
            .rev()
            .filter(|(_, content, status)| !content.is_empty() && status != MessageStatus::Failed.as_str())
            .filter_map(|(role, content, _)| Some(PromptMessage { role: role.parse().ok()?, content }))
            .filter(|m| m.role != Role::System)
            .collect();
        Prompt::build(context, product, history, self.limits.prompt_budget_chars)
    }

    /// Opens the upstream stream, retrying with jittered exponential backoff (honouring
    /// Retry-After) until the first chunk arrives.
    async fn open_stream(
        &self,
        prompt: &Prompt,
        cancel: &CancellationToken,
    ) -> Result<(ChunkStream, Option<Chunk>), Outcome> {
        let mut attempt = 0u32;
        loop {
            let idle = self.limits.idle_timeout;
            let started = async {
                let mut stream = tokio::time::timeout(idle, self.assistant.stream(prompt.clone()))
                    .await
                    .map_err(|_| timeout_error())??;
                match tokio::time::timeout(idle, stream.next()).await.map_err(|_| timeout_error())? {
                    Some(Ok(first)) => Ok((stream, Some(first))),
                    Some(Err(e)) => Err(e),
                    None => Ok((stream, None)),
                }
            };
            let error = tokio::select! {
                _ = cancel.cancelled() => return Err(self.cancelled()),
                result = started => match result {
                    Ok(opened) => return Ok(opened),
                    Err(error) => error,
                },
            };
            metrics::get().upstream_error(error.kind.label());
            if !error.is_retryable() || attempt >= self.limits.max_retries {
                return Err(Outcome::Failed(error.message));
            }
            let delay = retry_delay(attempt, error.retry_after);
            tracing::info!(attempt, ?delay, reason = %error.message, "retrying the assistant");
            tokio::select! {
                _ = cancel.cancelled() => return Err(self.cancelled()),
                _ = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
        }
    }

    async fn write_reply(
        &self,
        chat_id: i64,
        reply_id: i64,
        caller: Caller,
        cancel: &CancellationToken,
        start: Start,
    ) -> AppResult<()> {
        let started = std::time::Instant::now();
        let (prompt, opened) = match start {
            Start::Committed => {
                let prompt = self.prompt_for(chat_id, reply_id).await?;
                let opened = self.open_stream(&prompt, cancel).await;
                (prompt, opened)
            }
            Start::Early { prompt, mut committed } => {
                let mut known = false;
                let opened = {
                    let open = self.open_stream(&prompt, cancel);
                    tokio::pin!(open);
                    loop {
                        tokio::select! {
                            opened = &mut open => break opened,
                            outcome = &mut committed, if !known => match outcome {
                                Ok(()) => known = true,
                                // The change failed: the reply does not exist.
                                Err(_) => return Ok(()),
                            },
                        }
                    }
                };
                if !known && committed.await.is_err() {
                    return Ok(());
                }
                (*prompt, opened)
            }
        };
        let (mut stream, first) = match opened {
            Ok(opened) => opened,
            Err(outcome) => {
                metrics::get().reply_ended(outcome.label(), started.elapsed().as_secs_f64());
                return self.end_reply(chat_id, reply_id, "", outcome, None, None).await;
            }
        };
        let mut pending = String::new();
        let mut written_chars = 0usize;
        let mut usage = None;
        let mut wrote_text = false;
        let mut flush_at: Option<tokio::time::Instant> = None;
        let mut next = first.map(Ok);
        let outcome = loop {
            let item = match next.take() {
                Some(item) => Some(item),
                None => {
                    let deadline = flush_at;
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => break self.cancelled(),
                        _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                            if deadline.is_some() => {
                            flush_at = None;
                            if !self.append_delta(chat_id, reply_id, &std::mem::take(&mut pending)).await? {
                                break Outcome::Gone;
                            }
                            continue;
                        }
                        chunk = tokio::time::timeout(self.limits.idle_timeout, stream.next()) => match chunk {
                            Ok(chunk) => chunk,
                            Err(_) => Some(Err(timeout_error())),
                        },
                    }
                }
            };
            match item {
                None => break Outcome::Complete,
                Some(Ok(Chunk::Usage(u))) => usage = Some(u),
                Some(Ok(Chunk::Text(text))) => {
                    written_chars += text.chars().count();
                    pending.push_str(&text);
                    if !wrote_text {
                        // The first words go out at once: coalescing must not delay the first token.
                        wrote_text = true;
                        if !self.append_delta(chat_id, reply_id, &std::mem::take(&mut pending)).await? {
                            break Outcome::Gone;
                        }
                        metrics::get().first_token.observe(started.elapsed().as_secs_f64());
                    } else if flush_at.is_none() {
                        flush_at = Some(tokio::time::Instant::now() + self.limits.coalesce);
                    }
                }
                Some(Err(error)) => {
                    metrics::get().upstream_error(error.kind.label());
                    if wrote_text || !pending.is_empty() {
                        break Outcome::Interrupted(error.message);
                    }
                    break Outcome::Failed(error.message);
                }
            }
        };
        // What the model was paid for: as the upstream reported it, or estimated from the
        // prompt and the text when it did not (an upstream without usage, a reply stopped early).
        let metrics = metrics::get();
        metrics.reply_ended(outcome.label(), started.elapsed().as_secs_f64());
        let tokens = match usage {
            Some(u) => {
                metrics.tokens_used("prompt", u.prompt_tokens);
                metrics.tokens_used("completion", u.completion_tokens);
                u.total_tokens
            }
            None => {
                let estimated = budget::estimate_tokens(prompt.chars() + written_chars);
                metrics.tokens_used("estimated", estimated);
                estimated
            }
        };
        self.end_reply(chat_id, reply_id, &pending, outcome, usage, Charge::of(caller, tokens)).await
    }

    async fn end_reply(
        &self,
        chat_id: i64,
        reply_id: i64,
        rest: &str,
        outcome: Outcome,
        usage: Option<Usage>,
        charge: Option<Charge>,
    ) -> AppResult<()> {
        let (status, reason) = match &outcome {
            Outcome::Complete => (MessageStatus::Complete, None),
            Outcome::Stopped => (MessageStatus::Stopped, Some(STOPPED_REASON)),
            Outcome::Failed(reason) => (MessageStatus::Failed, Some(reason.as_str())),
            Outcome::Interrupted(reason) => (MessageStatus::Interrupted, Some(reason.as_str())),
            Outcome::Gone => {
                // The reply is gone, but what the model wrote was paid for all the same.
                if let Some(charge) = charge {
                    let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
                    charge.on_chat(&mut tx).await?;
                    charge.on_allowances(&mut tx).await?;
                    tx.commit().await?;
                }
                return Ok(());
            }
        };
        self.finish_reply(chat_id, reply_id, rest, status, reason, usage, charge).await
    }

    /// Appends text to a streaming reply and records the delta, through the delta writer (it
    /// commits the deltas of every running reply together). False when the reply is gone
    /// (deleted, or ended elsewhere).
    async fn append_delta(&self, chat_id: i64, reply_id: i64, text: &str) -> AppResult<bool> {
        if text.is_empty() {
            return Ok(true);
        }
        self.replies.deltas.append(chat_id, reply_id, text).await
    }

    /// Ends a streaming reply with its final status; the text so far is kept, and the tokens
    /// spent are charged in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn finish_reply(
        &self,
        chat_id: i64,
        reply_id: i64,
        rest: &str,
        status: MessageStatus,
        reason: Option<&str>,
        usage: Option<Usage>,
        charge: Option<Charge>,
    ) -> AppResult<()> {
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        if let Some(charge) = charge {
            charge.on_chat(&mut tx).await?;
        }
        if tx.end_reply(reply_id, rest, status, reason, usage).await? {
            tx.touch();
            if !rest.is_empty() {
                // Deltas alone must rebuild the saved text.
                tx.emit(Event::MessageDelta(Delta { message_id: reply_id, text: rest.to_string() })).await?;
            }
            tx.message_event(reply_id, Event::MessageCompleted).await?;
        }
        if let Some(charge) = charge {
            charge.on_allowances(&mut tx).await?;
        }
        tx.commit().await
    }
}

/// How a reply task starts: after the change that created the reply committed, or begun inside
/// it (see [`ChatService::begin_reply`]).
enum Start {
    Committed,
    Early { prompt: Box<Prompt>, committed: oneshot::Receiver<()> },
}

/// A reply begun before its change committed: say when it has.
#[must_use = "a reply begun early writes nothing until told its change committed"]
pub(super) struct EarlyReply {
    committed: oneshot::Sender<()>,
}

impl EarlyReply {
    /// The change that created the reply committed: the reply may write.
    pub(super) fn committed(self) {
        let _ = self.committed.send(());
    }
}

/// The tokens one reply cost (more than none), and whose allowance they come from.
#[derive(Debug, Clone, Copy)]
struct Charge {
    caller: Caller,
    tokens: i64,
}

impl Charge {
    /// What a reply that spent `tokens` costs `caller`: none when it spent none.
    fn of(caller: Caller, tokens: i64) -> Option<Charge> {
        (tokens > 0).then_some(Charge { caller, tokens })
    }

    async fn on_chat(self, tx: &mut ChatTx<'_>) -> AppResult<()> {
        let chat_id = tx.chat_id();
        budget::charge_chat(tx.conn(), chat_id, self.tokens).await
    }

    async fn on_allowances(self, tx: &mut ChatTx<'_>) -> AppResult<()> {
        budget::charge_allowances(tx.conn(), self.caller, self.tokens, crate::server::db::now_ms()).await
    }
}

fn timeout_error() -> LlmError {
    LlmError::new(LlmErrorKind::Timeout, "the assistant service stopped responding")
}

/// Exponential backoff from 250 ms with full jitter, or what the upstream asked for (capped at a minute).
fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(Duration::from_secs(60));
    }
    let base = Duration::from_millis(250).saturating_mul(2u32.saturating_pow(attempt)).min(Duration::from_secs(8));
    let jitter = rand::random::<f64>();
    base.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_over_backoff_and_is_capped_at_a_minute() {
        assert_eq!(retry_delay(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(retry_delay(0, Some(Duration::from_secs(600))), Duration::from_secs(60));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        for attempt in 0..10 {
            let base = Duration::from_millis(250).saturating_mul(2u32.pow(attempt)).min(Duration::from_secs(8));
            let d = retry_delay(attempt, None);
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }
}
