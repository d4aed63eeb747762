//! The streaming engine: the replies this process writes, and the operations on them. A reply is
//! begun inside the change that creates (or resets) it, and written by a background task that
//! needs no request or client to finish (`streaming`); it can be stopped (here or on the replica
//! that writes it) and awaited. Its text goes through the delta writer (`deltas`); replies whose
//! server stopped are ended by `lease`; what it answers from, and what it cited, is `grounding`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{deltas::DeltaWriter, store, ChatTx};
use crate::{
    model::{Event, Message, MessageStatus, Product, Role},
    server::{
        catalog::Catalog,
        config::Config,
        contexts::ContextStore,
        db::Db,
        error::{AppError, AppResult},
        events::{cluster, Hub},
        identity::Caller,
        knowledge::Knowledge,
        llm::{Assistant, Prompt, PromptMessage},
        usage::Usage,
    },
};

pub const STOPPED_REASON: &str = "stopped before it finished";
pub const INTERRUPTED_REASON: &str = "the server restarted while this reply was being written";
/// How long a stop waits for another replica to end a reply it writes.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// How replies are written, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct ReplySettings {
    /// History sent upstream, newest kept.
    pub prompt_budget_chars: usize,
    /// Silence allowed before the first chunk and between chunks.
    pub idle_timeout: Duration,
    /// Retries before the first token.
    pub max_retries: u32,
    /// How long token deltas are gathered into one event after the first.
    pub coalesce: Duration,
    /// Replies being written at once for one visitor (across their chats), and in all.
    pub replies_per_visitor: usize,
    pub max_replies: usize,
}

impl ReplySettings {
    pub fn from_config(config: &Config) -> Self {
        ReplySettings {
            prompt_budget_chars: config.prompt_budget_chars as usize,
            idle_timeout: config.idle_timeout(),
            max_retries: config.openai_max_retries,
            coalesce: Duration::from_millis(config.delta_coalesce_ms),
            replies_per_visitor: config.replies_per_visitor as usize,
            max_replies: config.max_replies as usize,
        }
    }
}

struct Running {
    chat_id: i64,
    /// The visitor whose chat it is.
    owner: i64,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

/// The replies this process writes.
pub struct Replies {
    pub(super) db: Db,
    pub(super) hub: Arc<Hub>,
    pub(super) assistant: Arc<dyn Assistant>,
    contexts: Arc<ContextStore>,
    pub(super) settings: ReplySettings,
    pub(super) usage: Arc<Usage>,
    /// What the assistant answers from.
    pub(super) knowledge: Arc<Knowledge>,
    running: Mutex<HashMap<i64, Running>>,
    /// The delta writer (started with the first reply).
    pub(super) deltas: DeltaWriter,
    /// Cancelled when this replica leaves ([`Replies::leave`]): replies still being written end
    /// as interrupted, the heartbeat stops.
    pub(super) stopping: CancellationToken,
}

/// 429: the visitor's allowance of replies being written at once is in use.
fn busy_elsewhere() -> AppError {
    AppError::rate_limited("the assistant is still answering in your other conversations", Duration::from_secs(5))
}

impl Replies {
    pub fn new(
        db: Db,
        hub: Arc<Hub>,
        assistant: Arc<dyn Assistant>,
        contexts: Arc<ContextStore>,
        settings: ReplySettings,
        usage: Arc<Usage>,
        knowledge: Arc<Knowledge>,
    ) -> Self {
        Replies {
            db,
            hub,
            assistant,
            contexts,
            settings,
            usage,
            knowledge,
            running: Mutex::default(),
            deltas: DeltaWriter::default(),
            stopping: CancellationToken::new(),
        }
    }

    /// The assistant's name, for the log.
    pub fn assistant_name(&self) -> &'static str {
        self.assistant.name()
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replies this replica is writing now.
    pub fn running_count(&self) -> usize {
        self.running().len()
    }

    /// Refuses (429) a new reply when the caller already has as many replies being written as
    /// they may (here, or with `elsewhere` on the other replicas), or the server as many as it
    /// may: each is a stream from the model, paid for. Replies in `replacing` (the chat whose
    /// running reply the new one replaces) do not count.
    pub fn check_room(&self, caller: Caller, replacing: Option<i64>, elsewhere: usize) -> AppResult<()> {
        let running = self.running();
        let counted = || running.values().filter(|r| Some(r.chat_id) != replacing);
        if counted().count() >= self.settings.max_replies {
            return Err(AppError::rate_limited(
                "the assistant is answering many customers right now",
                std::time::Duration::from_secs(5),
            ));
        }
        let per_visitor = self.settings.replies_per_visitor;
        if counted().filter(|r| r.owner == caller.user_id).count() >= per_visitor || elsewhere >= per_visitor {
            return Err(busy_elsewhere());
        }
        Ok(())
    }

    /// Begins a reply inside the change that creates (or resets) it, before the commit: its
    /// prompt is built from `history` (the change read it: newest first, as
    /// [`store::SendState::history_after`] gives it) or, when `None`, read now in the change; the
    /// upstream is asked while the commit completes, so a reply's first words wait for neither in
    /// turn. Nothing is written for the reply until `EarlyReply::committed`; dropped instead (the
    /// change failed), the reply ends without a trace and its request to the upstream is dropped.
    /// Its tokens are charged to `caller` (the visitor whose chat it is).
    pub async fn begin(
        self: &Arc<Self>,
        tx: &mut ChatTx<'_>,
        caller: Caller,
        reply_id: i64,
        inputs: Option<store::PromptInputs>,
    ) -> AppResult<EarlyReply> {
        let chat_id = tx.chat_id();
        let inputs = match inputs {
            Some(inputs) => inputs,
            None => tx.prompt_inputs(reply_id).await?,
        };
        let product = match &inputs.product {
            Some(id) => Catalog::find_in(tx.conn(), id).await?,
            None => None,
        };
        let mut prompt = self.build_prompt(&inputs.context, product.as_ref(), inputs.rows);
        if let Some(page) = &inputs.page {
            prompt.on_page(page);
        }
        let (committed, known) = oneshot::channel();
        self.deltas.start(self);
        let (cancel, done) = self.register(chat_id, caller.user_id, reply_id);
        let replies = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = replies.write(chat_id, reply_id, caller, &cancel, prompt, known).await {
                tracing::error!(?error, chat_id, reply_id, "writing a reply failed");
                let reason = "the reply could not be saved; please try again";
                if let Err(error) =
                    replies.finish(chat_id, reply_id, "", MessageStatus::Failed, Some(reason), None, None, None).await
                {
                    tracing::error!(?error, reply_id, "marking a reply failed did not work either");
                }
            }
            replies.running().remove(&reply_id);
            let _ = done.send(true);
        });
        Ok(EarlyReply { committed })
    }

    fn register(&self, chat_id: i64, owner: i64, reply_id: i64) -> (CancellationToken, watch::Sender<bool>) {
        let cancel = CancellationToken::new();
        let (done_tx, done) = watch::channel(false);
        self.running().insert(reply_id, Running { chat_id, owner, cancel: cancel.clone(), done });
        (cancel, done_tx)
    }

    /// The prompt from the chat's context, its product and its history (newest first, as read).
    fn build_prompt(&self, context: &str, product: Option<&Product>, rows: Vec<store::HistoryRow>) -> Prompt {
        let contexts = self.contexts.current();
        let context = contexts.or_default(Some(context));
        let history = rows
            .into_iter()
            .rev()
            .filter(|(_, content, status)| !content.is_empty() && status != MessageStatus::Failed.as_str())
            .filter_map(|(role, content, _)| Some(PromptMessage { role: role.parse().ok()?, content }))
            .filter(|m| m.role != Role::System)
            .collect();
        Prompt::build(context, product, history, self.settings.prompt_budget_chars)
    }

    /// Stops a reply and waits until it ended: its task ends it (here or on another replica), or,
    /// when no task writes it, it is ended now.
    pub async fn stop(&self, chat_id: i64, reply_id: i64) -> AppResult<()> {
        if self.cancel_and_wait(reply_id).await || self.stopped_elsewhere(chat_id, reply_id).await? {
            return Ok(());
        }
        self.finish(chat_id, reply_id, "", MessageStatus::Stopped, Some(STOPPED_REASON), None, None, None).await
    }

    /// Stops a reply this replica writes and waits until its task wrote the end; false when none
    /// runs here.
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

    /// Stops a reply being written, here or on another replica, without waiting (its task ends
    /// it as stopped; a reply its change deleted ends without a trace).
    pub fn stop_soon(&self, chat_id: i64, reply_id: i64) {
        if let Some(running) = self.running().get(&reply_id) {
            running.cancel.cancel();
        }
        self.hub.stop_elsewhere(chat_id, Some(reply_id));
    }

    /// Stops every reply being written in a chat, here and on the other replicas, without waiting
    /// (a person takes over, the chat is deleted).
    pub fn stop_chat(&self, chat_id: i64) {
        cluster::Node::stop_here(self, chat_id, None);
        self.hub.stop_elsewhere(chat_id, None);
    }

    /// Waits until a reply is no longer being written, by whichever replica writes it: the reply
    /// as it ended, or `None` when it was removed (replaced in a burst, or its chat deleted). It
    /// wakes on the reply's end or removal as broadcast here, and reads again after a gap.
    pub async fn until_ended(&self, chat_id: i64, reply_id: i64) -> AppResult<Option<Message>> {
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

    /// Waits until every reply being written now has ended, for at most `grace`; then ends the
    /// rest as interrupted (their text kept) and waits up to 10 s for them to say so.
    pub async fn finish_all(&self, grace: Duration) {
        let running = self.running_count();
        if running > 0 {
            tracing::info!(running, ?grace, "letting the replies being written finish");
        }
        let _ = tokio::time::timeout(grace, self.wait_all()).await;
        self.stopping.cancel();
        for running in self.running().values() {
            running.cancel.cancel();
        }
        if tokio::time::timeout(Duration::from_secs(10), self.wait_all()).await.is_err() {
            tracing::warn!("some replies did not record their end; another replica or the next start will");
        }
    }

    /// Waits until every reply being written now has ended.
    async fn wait_all(&self) {
        let done: Vec<_> = self.running().values().map(|r| r.done.clone()).collect();
        for mut done in done {
            let _ = done.wait_for(|finished| *finished).await;
        }
    }
}

/// What this replica does with what the others tell it.
impl cluster::Node for Replies {
    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn db(&self) -> &Db {
        &self.db
    }

    fn stop_here(&self, chat: i64, reply: Option<i64>) {
        for (id, running) in self.running().iter() {
            if running.chat_id == chat && reply.is_none_or(|reply| reply == *id) {
                running.cancel.cancel();
            }
        }
    }
}

/// A reply begun before its change committed: say when it has.
#[must_use = "a reply begun early writes nothing until told its change committed"]
pub struct EarlyReply {
    committed: oneshot::Sender<()>,
}

impl EarlyReply {
    /// The change that created the reply committed: the reply may write.
    pub fn committed(self) {
        let _ = self.committed.send(());
    }
}
