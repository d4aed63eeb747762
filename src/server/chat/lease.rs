//! Replies whose server stopped. With several replicas on PostgreSQL each says it is alive every
//! [`HEARTBEAT`] (`replicas`, by the database's clock) and a streaming reply names its writer
//! (`messages.writer`); the replies of a writer not seen for [`LEASE`] (killed), or that left
//! (shut down), are marked interrupted by the others, their text kept. SQLite has one process:
//! at start every streaming reply is one a restart interrupted.

use std::{sync::Arc, time::Duration};

use super::{store, Replies};
use crate::server::{
    db::Db,
    error::{AppError, AppResult},
};

/// How often a replica says it is alive, and how long after it last did its replies are taken
/// for interrupted (a replica killed mid-reply: its replies end within `LEASE + HEARTBEAT`).
const HEARTBEAT: Duration = Duration::from_secs(2);
const LEASE: Duration = Duration::from_secs(6);
/// Replicas not seen for this long leave the list.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

impl Replies {
    /// Replies left `streaming` by a crash or restart become `interrupted`, their text kept
    /// (SQLite: one process, so every streaming reply at start).
    pub async fn recover_interrupted(&self) -> AppResult<usize> {
        let rows = store::streaming_replies(&self.db).await?;
        self.interrupt_all(rows).await
    }

    /// Marks each `(reply, chat)` interrupted; how many.
    async fn interrupt_all(&self, rows: Vec<(i64, i64)>) -> AppResult<usize> {
        for (id, chat_id) in &rows {
            self.interrupt(*chat_id, *id).await?;
        }
        if !rows.is_empty() {
            tracing::warn!(
                count = rows.len(),
                "replies whose server stopped while writing them were marked interrupted"
            );
        }
        Ok(rows.len())
    }

    /// Several replicas on PostgreSQL: this one says it is alive every 2 s, and each
    /// replica marks interrupted the streaming replies whose writer has not said so for
    /// 6 s (it died) or left. Runs until [`Replies::leave`].
    pub async fn keep_lease(self: &Arc<Self>) -> AppResult<()> {
        let replica = self.hub.replica().ok_or_else(|| AppError::Internal("no replica name".into()))?.to_owned();
        replica_alive(&self.db, &replica).await?;
        self.interrupt_orphans().await?;
        self.hub.set_peers(other_replicas(&self.db, &replica, LEASE.as_millis() as i64).await?);
        let (service, stopping) = (Arc::downgrade(self), self.stopping.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.tick().await;
            // Other replicas' replies are taken for orphaned only after a lease of this one's own
            // heartbeats in a row: after an outage (of the database, or of this replica's
            // connections), the others get the time to say they are alive again.
            let (mut last_ok, mut alive_since) = (std::time::Instant::now(), std::time::Instant::now());
            loop {
                tokio::select! {
                    _ = stopping.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(service) = service.upgrade() else { return };
                if let Err(error) = replica_alive(&service.db, &replica).await {
                    tracing::warn!(?error, "could not tell the other replicas this one is alive");
                    continue;
                }
                if last_ok.elapsed() > LEASE {
                    alive_since = std::time::Instant::now();
                }
                last_ok = std::time::Instant::now();
                if alive_since.elapsed() >= LEASE {
                    if let Err(error) = service.interrupt_orphans().await {
                        tracing::warn!(?error, "could not look for replies whose server stopped");
                    }
                }
                match other_replicas(&service.db, &replica, LEASE.as_millis() as i64).await {
                    Ok(peers) => service.hub.set_peers(peers),
                    Err(error) => tracing::warn!(?error, "could not count the other replicas"),
                }
            }
        });
        Ok(())
    }

    async fn interrupt_orphans(&self) -> AppResult<usize> {
        let rows = orphaned_replies(&self.db, LEASE.as_millis() as i64).await?;
        let count = self.interrupt_all(rows).await?;
        forget_replicas(&self.db, None, FORGET_AFTER.as_millis() as i64).await?;
        Ok(count)
    }

    /// This replica stops: no more heartbeats, and it leaves the replicas' list so that the others
    /// take over the replies it was writing at once.
    pub async fn leave(&self) {
        self.stopping.cancel();
        // The last events (replies ended at shutdown) reach the other replicas' followers.
        self.hub.flush_cluster().await;
        if let Some(replica) = self.hub.replica() {
            if let Err(error) = forget_replicas(&self.db, Some(replica), FORGET_AFTER.as_millis() as i64).await {
                tracing::warn!(?error, "could not leave the replicas' list");
            }
        }
    }
}

/// The database's clock in unix milliseconds (PostgreSQL): every replica reads liveness by one
/// clock, whatever its own says.
const DB_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// Says that replica `id` is alive now (by the database's clock).
async fn replica_alive(db: &Db, id: &str) -> AppResult<()> {
    sqlx::query(&format!(
        "INSERT INTO replicas (id, started_at, seen_at) VALUES ($1, {DB_NOW_MS}, {DB_NOW_MS}) \
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at"
    ))
    .bind(id)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Replicas other than `id` seen within `lease_ms`.
async fn other_replicas(db: &Db, id: &str, lease_ms: i64) -> AppResult<usize> {
    let (count,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM replicas WHERE id <> $1 AND seen_at >= {DB_NOW_MS} - $2"))
            .bind(id)
            .bind(lease_ms)
            .fetch_one(&db.read)
            .await?;
    Ok(count as usize)
}

/// Forgets a replica that left, and those not seen for `forget_ms`.
async fn forget_replicas(db: &Db, id: Option<&str>, forget_ms: i64) -> AppResult<()> {
    sqlx::query(&format!("DELETE FROM replicas WHERE id = $1 OR seen_at < {DB_NOW_MS} - $2"))
        .bind(id)
        .bind(forget_ms)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// `(id, chat_id)` of streaming replies that no live replica writes: their writer was not seen
/// within `lease_ms` (by the database's clock), or left.
async fn orphaned_replies(db: &Db, lease_ms: i64) -> AppResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, chat_id FROM messages WHERE status = 'streaming' AND NOT EXISTS \
         (SELECT 1 FROM replicas WHERE replicas.id = messages.writer AND replicas.seen_at >= {DB_NOW_MS} - $1)"
    ))
    .bind(lease_ms)
    .fetch_all(&db.read)
    .await?)
}
