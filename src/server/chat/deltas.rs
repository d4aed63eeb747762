//! The delta writer: the text of every running reply is appended in one transaction at a time
//! (group commit), under the locks of the chats that are free, and published after commit.

use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::{mpsc, oneshot};

use super::{store, Append, BatchTx, Replies};
use crate::{
    model::{Delta, Event},
    server::{
        db::Backend,
        error::{AppError, AppResult},
        events::ChatLock,
    },
};

/// Text to append to a streaming reply, and where to say whether it was.
struct DeltaJob {
    chat_id: i64,
    reply_id: i64,
    text: String,
    appended: oneshot::Sender<Result<bool, ()>>,
}

/// The delta writer's queue, started with the first reply.
#[derive(Default)]
pub(super) struct DeltaWriter {
    queue: OnceLock<mpsc::UnboundedSender<DeltaJob>>,
}

impl DeltaWriter {
    /// Starts the writer for `service`, unless it runs.
    pub(super) fn start(&self, service: &Arc<Replies>) {
        self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write_deltas(Arc::downgrade(service), jobs));
            queue
        });
    }

    /// Appends `text` to a streaming reply with the next batch: whether the reply was still
    /// streaming (false when it is gone, deleted or ended elsewhere).
    pub(super) async fn append(&self, chat_id: i64, reply_id: i64, text: &str) -> AppResult<bool> {
        let queue = self.queue.get().ok_or_else(|| AppError::Internal("no delta writer".into()))?;
        let (appended, answer) = oneshot::channel();
        queue
            .send(DeltaJob { chat_id, reply_id, text: text.to_string(), appended })
            .map_err(|_| AppError::Internal("the delta writer stopped".into()))?;
        match answer.await {
            Ok(Ok(appended)) => Ok(appended),
            _ => Err(AppError::Internal("the reply's text could not be saved".into())),
        }
    }
}

/// Most deltas one transaction writes.
const DELTA_BATCH: usize = 256;

/// The delta writer: appends the text of every running reply that has some waiting, in one
/// transaction (group commit), so 64 streaming replies cost one write transaction at a time on
/// the database rather than 64, and a customer's message never queues behind them for long.
///
/// A chat whose lock someone holds (a message being sent, a reply finishing) keeps its text
/// for the next batch instead of holding up every other chat's: one busy chat delays only its
/// own words. Its text stays in order, since all of a chat's waiting text moves together.
async fn write_deltas(service: Weak<Replies>, mut jobs: mpsc::UnboundedReceiver<DeltaJob>) {
    let mut waiting: Vec<DeltaJob> = Vec::with_capacity(DELTA_BATCH);
    loop {
        if waiting.is_empty() {
            if jobs.recv_many(&mut waiting, DELTA_BATCH).await == 0 {
                return;
            }
        } else {
            while waiting.len() < DELTA_BATCH {
                let Ok(job) = jobs.try_recv() else { break };
                waiting.push(job);
            }
        }
        let Some(service) = service.upgrade() else { return };
        let chat_ids: Vec<i64> = waiting.iter().map(|job| job.chat_id).collect();
        let mut locks = service.hub.lock_free(&chat_ids);
        if locks.is_empty() {
            // Every chat with text waiting is busy: wait for the first to be free, or for text
            // of another chat (the lock's turn is given up then, and the batch starts over).
            let first = chat_ids.iter().copied().min().expect("text is waiting");
            tokio::select! {
                lock = service.hub.lock(first) => {
                    locks = service.hub.lock_free(&chat_ids);
                    let at = locks.partition_point(|other| other.chat_id() < first);
                    locks.insert(at, lock);
                }
                received = jobs.recv_many(&mut waiting, DELTA_BATCH) => {
                    if received == 0 {
                        // Closed: nothing new comes; finish what waits.
                        locks = service.hub.lock_all(&chat_ids).await;
                    } else {
                        continue;
                    }
                }
            }
        }
        let (batch, later): (Vec<DeltaJob>, Vec<DeltaJob>) =
            waiting.drain(..).partition(|job| locks.binary_search_by_key(&job.chat_id, ChatLock::chat_id).is_ok());
        waiting = later;
        match service.append_deltas(locks, &batch).await {
            Ok(appended) => {
                for (job, appended) in batch.into_iter().zip(appended) {
                    let _ = job.appended.send(Ok(appended));
                }
            }
            Err(error) => {
                tracing::error!(?error, deltas = batch.len(), "saving reply text failed");
                for job in batch {
                    let _ = job.appended.send(Err(()));
                }
            }
        }
    }
}

impl Replies {
    /// One transaction for many deltas, under their chats' locks; for each delta, whether its
    /// reply was still streaming.
    async fn append_deltas(&self, locks: Vec<ChatLock>, jobs: &[DeltaJob]) -> AppResult<Vec<bool>> {
        if self.db.backend == Backend::Postgres {
            let appends: Vec<Append> = jobs
                .iter()
                .map(|job| Append { chat_id: job.chat_id, reply_id: job.reply_id, text: &job.text })
                .collect();
            return BatchTx::append_deltas_at_once(&self.hub, &self.db, &locks, &appends).await;
        }
        let mut tx = BatchTx::begin(&self.hub, &self.db, locks).await?;
        let appends: Vec<(i64, &str)> = jobs.iter().map(|job| (job.reply_id, job.text.as_str())).collect();
        let streaming = store::append_to_replies(tx.conn(), &appends).await?;
        let appended: Vec<bool> = jobs.iter().map(|job| streaming.contains(&job.reply_id)).collect();
        let deltas = jobs
            .iter()
            .zip(&appended)
            .filter(|(_, appended)| **appended)
            .map(|(job, _)| {
                (job.chat_id, Event::MessageDelta(Delta { message_id: job.reply_id, text: job.text.clone() }))
            })
            .collect();
        tx.emit_all(deltas).await?;
        tx.commit().await?;
        Ok(appended)
    }
}
