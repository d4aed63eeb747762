//! Retention: what is kept and for how long. A background pass (every `FRONTDESK_RETENTION_EVERY_MINUTES`)
//! removes expired sessions, visitors who never wrote (with the greeting-only chats their page
//! views made), the token-delta events of finished replies (the `message.completed` event carries
//! the whole text, so a resume still ends with it), and old versions of edited or regenerated
//! messages; and the per-visitor and per-network token totals of past days (the day's totals in
//! all stay, for the usage report). Each delete goes in batches so no pass holds the database for
//! long; idle visitors go one at a time, each chat of theirs under its lock like any change to it.

use std::time::Duration;

use super::{
    chat::store::idle_chat,
    chat::ChatService,
    config::Config,
    db::{now_ms, Backend},
    error::AppResult,
    events::ChatTx,
};

/// How long things are kept.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Visitors who never wrote (no message, email, handoff or saved preference), after their
    /// first visit.
    pub idle_visitors: Duration,
    /// Token-delta events of finished replies.
    pub deltas: Duration,
    /// Earlier versions of edited messages and regenerated replies.
    pub versions: Duration,
    /// Time between passes.
    pub every: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 3600);
/// Rows removed per statement.
const BATCH: i64 = 1000;

/// A visitor retention may remove, their chats aside (SQL on alias `u`, the cutoff as `$1`): first
/// seen before the cutoff, with no preference saved.
const IDLE_VISITOR: &str = "u.kind = 'visitor' AND u.created_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM preferences p WHERE p.user_id = u.id)";

impl Retention {
    pub fn from_config(config: &Config) -> Self {
        Retention {
            idle_visitors: DAY * config.retain_idle_visitors_days,
            deltas: Duration::from_secs(60 * config.retain_deltas_minutes as u64),
            versions: DAY * config.retain_versions_days,
            every: Duration::from_secs(60 * config.retention_every_minutes as u64),
        }
    }
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: u64,
    pub visitors: u64,
    pub delta_events: u64,
    pub versions: u64,
    pub usage_rows: u64,
}

fn cutoff(now_ms: i64, age: Duration) -> i64 {
    now_ms - age.as_millis() as i64
}

impl ChatService {
    /// One retention pass as of `now_ms`.
    pub async fn retain(&self, policy: &Retention, now_ms: i64) -> AppResult<Removed> {
        let sessions = self
            .delete_in_batches(
                "DELETE FROM sessions WHERE token_hash IN \
                 (SELECT token_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
                now_ms,
            )
            .await?;
        let visitors = self.forget_idle_visitors(cutoff(now_ms, policy.idle_visitors)).await?;
        let delta_events = self
            .delete_in_batches(
                "DELETE FROM chat_events WHERE (chat_id, seq) IN (SELECT e.chat_id, e.seq FROM chat_events e \
                 WHERE e.kind = 'message.delta' AND e.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = e.chat_id AND m.status = 'streaming') \
                 LIMIT $2)",
                cutoff(now_ms, policy.deltas),
            )
            .await?;
        let versions = self
            .delete_in_batches(
                "DELETE FROM message_versions WHERE id IN \
                 (SELECT id FROM message_versions WHERE created_at < $1 LIMIT $2)",
                cutoff(now_ms, policy.versions),
            )
            .await?;
        // Budgets read only today's rows; yesterday's are kept a day for a look back.
        let usage_rows = sqlx::query("DELETE FROM usage_daily WHERE scope <> $2 AND day < $1")
            .bind(crate::server::chat::budget::day_of(now_ms - DAY.as_millis() as i64))
            .bind(crate::server::chat::budget::ALL)
            .execute(&self.db.write)
            .await?
            .rows_affected();
        // The replicas' shared allowances count in windows of at most an hour, and read the
        // window before the current one.
        let usage_rows = usage_rows + crate::server::limits::forget_shared_counts(&self.db, now_ms - 7_200_000).await?;
        Ok(Removed { sessions, visitors, delta_events, versions, usage_rows })
    }

    /// Visitors who never wrote, idle since `cutoff` (see [`IDLE_VISITOR`]), whose chats are all
    /// idle too. Found a batch at a time, then forgotten one by one (see
    /// [`ChatService::forget_idle_visitor`]), so a first message that arrives meanwhile keeps its
    /// writer.
    async fn forget_idle_visitors(&self, cutoff: i64) -> AppResult<u64> {
        let find = format!(
            "SELECT u.id FROM users u WHERE u.id > $3 AND {IDLE_VISITOR} \
             AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.owner_id = u.id AND NOT {}) ORDER BY u.id LIMIT $2",
            idle_chat()
        );
        let (mut forgotten, mut after) = (0, 0);
        loop {
            let found: Vec<(i64,)> =
                sqlx::query_as(&find).bind(cutoff).bind(BATCH).bind(after).fetch_all(&self.db.read).await?;
            for &(visitor,) in &found {
                forgotten += u64::from(self.forget_idle_visitor(visitor, cutoff).await?);
            }
            match found.last() {
                Some(&(last,)) if found.len() == BATCH as usize => after = last,
                _ => return Ok(forgotten),
            }
        }
    }

    /// Forgets a visitor a pass found idle since `cutoff`, unless they wrote, asked for someone or
    /// saved something since; whether they went. Each of their chats goes in a change of its own
    /// (under its lock, checked again there, announcing `chat.deleted` to an open window), then
    /// the visitor with their sessions once no chat is left. On PostgreSQL the visitor's row is
    /// locked before that last check, so a chat being created for them meanwhile is seen (one
    /// begun after finds no visitor and fails, never half made).
    pub async fn forget_idle_visitor(&self, visitor: i64, cutoff: i64) -> AppResult<bool> {
        let chats: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM chats WHERE owner_id = $1").bind(visitor).fetch_all(&self.db.write).await?;
        for (chat,) in chats {
            let mut change = ChatTx::begin(&self.hub, &self.db, chat).await?;
            if !change.delete_chat_if_idle(cutoff).await? {
                return Ok(false);
            }
            change.commit().await?;
        }
        let mut tx = self.db.write.begin().await?;
        if self.db.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(visitor).execute(&mut *tx).await?;
        }
        let gone = sqlx::query(&format!(
            "DELETE FROM users WHERE id IN (SELECT u.id FROM users u WHERE u.id = $2 AND {IDLE_VISITOR} \
             AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.owner_id = u.id))"
        ))
        .bind(cutoff)
        .bind(visitor)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    async fn delete_in_batches(&self, sql: &str, cutoff: i64) -> AppResult<u64> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql).bind(cutoff).bind(BATCH).execute(&self.db.write).await?.rows_affected();
            total += done;
            if done < BATCH as u64 {
                return Ok(total);
            }
        }
    }
}

/// Runs a pass now and then every `policy.every`, for as long as the service lives.
pub async fn run(service: std::sync::Weak<ChatService>, policy: Retention) {
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else { return };
        match service.retain(&policy, now_ms()).await {
            Ok(removed) if removed != Removed::default() => tracing::info!(?removed, "retention pass"),
            Ok(_) => {}
            Err(error) => tracing::warn!(?error, "a retention pass failed; the next one tries again"),
        }
    }
}
