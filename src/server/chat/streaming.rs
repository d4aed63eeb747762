//! Writing one reply: the upstream stream is opened (retrying with jittered exponential backoff,
//! honouring Retry-After, until the first chunk), its text appended as it arrives (the first words
//! at once, then gathered for `coalesce`), and the reply ended as complete, stopped, failed or
//! interrupted, in the transaction that also charges its tokens. The text so far is always kept.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{
    grounding::{grounded, Grounded},
    replies::INTERRUPTED_REASON,
    ChatTx, Replies, STOPPED_REASON,
};
use crate::{
    model::{Delta, Event, MessageStatus, Usage},
    server::{
        error::AppResult,
        identity::Caller,
        llm::{Assistant, Chunk, ChunkStream, LlmError, LlmErrorKind, OfflineAssistant, Prompt},
        metrics,
    },
};

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

impl Replies {
    /// Ends a reply whose server stopped while writing it as interrupted, its text kept (no-op
    /// when it already ended).
    pub(super) async fn interrupt(&self, chat_id: i64, reply_id: i64) -> AppResult<()> {
        self.finish(chat_id, reply_id, "", MessageStatus::Interrupted, Some(INTERRUPTED_REASON), None, None, None).await
    }

    /// How a cancelled reply ends: stopped, or interrupted when this replica shuts down.
    fn cancelled(&self) -> Outcome {
        if self.stopping.is_cancelled() {
            Outcome::Interrupted(INTERRUPTED_REASON.into())
        } else {
            Outcome::Stopped
        }
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
            let idle = self.settings.idle_timeout;
            let started = async {
                // A strict context with nothing to answer from hands off without the model.
                let hand_off = OfflineAssistant::hand_off();
                let assistant: &dyn Assistant =
                    if prompt.has_nothing_to_answer_from() { &hand_off } else { &*self.assistant };
                let mut stream = tokio::time::timeout(idle, assistant.stream(prompt.clone()))
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
            if !error.is_retryable() || attempt >= self.settings.max_retries {
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

    /// Writes a reply begun by [`Replies::begin`]: opens the upstream stream (while its change
    /// commits: nothing is written before `committed` says it did), appends the text as it
    /// arrives (the first words at once, then gathered for `coalesce`), and ends the reply as
    /// complete, stopped, failed or interrupted, its text always kept and its tokens charged.
    pub(super) async fn write(
        &self,
        chat_id: i64,
        reply_id: i64,
        caller: Caller,
        cancel: &CancellationToken,
        prompt: Prompt,
        mut committed: oneshot::Receiver<()>,
    ) -> AppResult<()> {
        let started = std::time::Instant::now();
        let mut prompt = prompt;
        self.ground(&mut prompt).await;
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
        let (mut stream, first) = match opened {
            Ok(opened) => opened,
            Err(outcome) => {
                metrics::get().reply_ended(outcome.label(), started.elapsed().as_secs_f64());
                return self.end(chat_id, reply_id, "", outcome, None, None, None).await;
            }
        };
        let mut pending = String::new();
        // The whole text, for the sources it cites (and its length for the tokens).
        let mut written = String::new();
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
                        chunk = tokio::time::timeout(self.settings.idle_timeout, stream.next()) => match chunk {
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
                    written.push_str(&text);
                    pending.push_str(&text);
                    if !wrote_text {
                        // The first words go out at once: coalescing must not delay the first token.
                        wrote_text = true;
                        if !self.append_delta(chat_id, reply_id, &std::mem::take(&mut pending)).await? {
                            break Outcome::Gone;
                        }
                        metrics::get().first_token.observe(started.elapsed().as_secs_f64());
                    } else if flush_at.is_none() {
                        flush_at = Some(tokio::time::Instant::now() + self.settings.coalesce);
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
                let estimated = estimate_tokens(prompt.chars() + written.chars().count());
                metrics.tokens_used("estimated", estimated);
                estimated
            }
        };
        let kept = grounded(&prompt.sources, &written);
        self.end(chat_id, reply_id, &pending, outcome, usage, Charge::of(caller, tokens), Some(&kept)).await
    }

    /// Ends a reply as its task saw it end; a reply that is gone is charged all the same.
    #[allow(clippy::too_many_arguments)]
    async fn end(
        &self,
        chat_id: i64,
        reply_id: i64,
        rest: &str,
        outcome: Outcome,
        usage: Option<Usage>,
        charge: Option<Charge>,
        grounded: Option<&Grounded>,
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
                    tx.add_tokens(charge.tokens).await?;
                    self.usage.charge(tx.conn(), charge.caller, charge.tokens).await?;
                    tx.commit().await?;
                }
                return Ok(());
            }
        };
        self.finish(chat_id, reply_id, rest, status, reason, usage, charge, grounded).await
    }

    /// Appends text to a streaming reply and records the delta, through the delta writer (it
    /// commits the deltas of every running reply together). False when the reply is gone
    /// (deleted, or ended elsewhere).
    async fn append_delta(&self, chat_id: i64, reply_id: i64, text: &str) -> AppResult<bool> {
        if text.is_empty() {
            return Ok(true);
        }
        self.deltas.append(chat_id, reply_id, text).await
    }

    /// Ends a streaming reply with its final status; the text so far is kept, and the tokens
    /// spent are charged in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish(
        &self,
        chat_id: i64,
        reply_id: i64,
        rest: &str,
        status: MessageStatus,
        reason: Option<&str>,
        usage: Option<Usage>,
        charge: Option<Charge>,
        grounded: Option<&Grounded>,
    ) -> AppResult<()> {
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        if let Some(charge) = charge {
            tx.add_tokens(charge.tokens).await?;
        }
        if tx.end_reply(reply_id, rest, status, reason, usage, grounded).await? {
            tx.touch();
            if !rest.is_empty() {
                // Deltas alone must rebuild the saved text.
                tx.emit(Event::MessageDelta(Delta { message_id: reply_id, text: rest.to_string() })).await?;
            }
            tx.message_event(reply_id, Event::MessageCompleted).await?;
        }
        if let Some(charge) = charge {
            self.usage.charge(tx.conn(), charge.caller, charge.tokens).await?;
        }
        tx.commit().await
    }
}

/// The tokens one reply cost (more than none), and whose allowance they come from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Charge {
    caller: Caller,
    tokens: i64,
}

impl Charge {
    /// What a reply that spent `tokens` costs `caller`: none when it spent none.
    fn of(caller: Caller, tokens: i64) -> Option<Charge> {
        (tokens > 0).then_some(Charge { caller, tokens })
    }
}

/// Tokens for text when the upstream did not say (an OpenAI-compatible server without usage, or a
/// reply stopped before the usage came): about four characters a token, rounded up.
fn estimate_tokens(chars: usize) -> i64 {
    chars.div_ceil(4) as i64
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
    fn unreported_tokens_are_estimated_at_four_characters_each() {
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(1), 1);
        assert_eq!(estimate_tokens(8), 2);
        assert_eq!(estimate_tokens(9), 3);
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
