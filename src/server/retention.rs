//! Retention: what is kept and for how long. A background pass (every `FRONTDESK_RETENTION_EVERY_MINUTES`)
//! removes expired sessions, visitors who never wrote (with the greeting-only chats their page
//! views made), the token-delta events of finished replies (the `message.completed` event carries
//! the whole text, so a resume still ends with it), and old versions of edited or regenerated
//! messages; and the per-visitor and per-network token totals of past days (the day's totals in
//! all stay, for the usage report). Each delete goes in batches so no pass holds the database for
//! long; idle visitors go one at a time, each chat of theirs under its lock like any change to it.
//! Retention decides what is old; each domain removes its own rows.

use std::{sync::Arc, time::Duration};

use super::{
    accounts::Accounts,
    chat::{store::idle_chat, Chats},
    config::Config,
    db::{now_ms, Db},
    error::AppResult,
    throttle::forget_shared_counts,
    usage::Usage,
};

/// How long things are kept.
#[derive(Debug, Clone)]
pub struct Policy {
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

impl Policy {
    pub fn from_config(config: &Config) -> Self {
        Policy {
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

/// What keeps things no longer than the policy says.
pub struct Retention {
    db: Db,
    accounts: Arc<Accounts>,
    chats: Arc<Chats>,
    usage: Arc<Usage>,
}

impl Retention {
    pub fn new(db: Db, accounts: Arc<Accounts>, chats: Arc<Chats>, usage: Arc<Usage>) -> Self {
        Retention { db, accounts, chats, usage }
    }

    /// One retention pass as of `now_ms`.
    pub async fn pass(&self, policy: &Policy, now_ms: i64) -> AppResult<Removed> {
        let sessions = self.accounts.forget_expired_sessions(now_ms, BATCH).await?;
        let visitors = self.forget_idle_visitors(cutoff(now_ms, policy.idle_visitors)).await?;
        let delta_events = self.chats.forget_finished_deltas(cutoff(now_ms, policy.deltas), BATCH).await?;
        let versions = self.chats.forget_versions(cutoff(now_ms, policy.versions), BATCH).await?;
        // Allowances read only today's rows; yesterday's are kept a day for a look back.
        let usage_rows = self.usage.forget_past_days(now_ms).await?;
        // The replicas' shared allowances count in windows of at most an hour, and read the
        // window before the current one.
        let usage_rows = usage_rows + forget_shared_counts(&self.db, now_ms - 7_200_000).await?;
        Ok(Removed { sessions, visitors, delta_events, versions, usage_rows })
    }

    /// Visitors who never wrote, idle since `cutoff`, whose chats are all idle too. Found a batch
    /// at a time, then forgotten one by one (see [`Retention::forget_idle_visitor`]), so a first
    /// message that arrives meanwhile keeps its writer.
    async fn forget_idle_visitors(&self, cutoff: i64) -> AppResult<u64> {
        let (mut forgotten, mut after) = (0, 0);
        loop {
            let found = self.accounts.idle_visitors(cutoff, &idle_chat(), after, BATCH).await?;
            for &visitor in &found {
                forgotten += u64::from(self.forget_idle_visitor(visitor, cutoff).await?);
            }
            match found.last() {
                Some(&last) if found.len() == BATCH as usize => after = last,
                _ => return Ok(forgotten),
            }
        }
    }

    /// Forgets a visitor a pass found idle since `cutoff`, unless they wrote, asked for someone or
    /// saved something since; whether they went. Each of their chats goes in a change of its own
    /// (under its lock, checked again there, announcing `chat.deleted` to an open window), then
    /// the visitor with their sessions once no chat is left.
    pub async fn forget_idle_visitor(&self, visitor: i64, cutoff: i64) -> AppResult<bool> {
        Ok(self.chats.forget_idle_chats_of(visitor, cutoff).await?
            && self.accounts.forget_idle_visitor(visitor, cutoff).await?)
    }
}

/// Runs a pass now and then every `policy.every`, for as long as the retention lives.
pub async fn run(retention: std::sync::Weak<Retention>, policy: Policy) {
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(retention) = retention.upgrade() else { return };
        match retention.pass(&policy, now_ms()).await {
            Ok(removed) if removed != Removed::default() => tracing::info!(?removed, "retention pass"),
            Ok(_) => {}
            Err(error) => tracing::warn!(?error, "a retention pass failed; the next one tries again"),
        }
    }
}
