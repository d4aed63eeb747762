//! What the assistant may cost, and what it cost. Every call that reaches the model (a send, an
//! edit, a retry) spends from three allowances of calls per minute (the visitor's, their network's
//! and everyone's: governor's GCRA limiters, a burst then an even rate, and with other replicas
//! also counted in the database) and needs room in three allowances of tokens per UTC day (the
//! same three scopes). Tokens are known only when a reply ends, so the day's totals are kept in
//! the database and added to in the transaction that ends the reply; every replica reads the same
//! totals. Table: `usage_daily`.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::AnyConnection;

use super::{
    config::Config,
    db::{now_ms, Db},
    error::{AppError, AppResult},
    events::Hub,
    identity::Caller,
    throttle::{count_shared, wait_until_allowed},
};
use crate::model::{UsageDay, UsageReport};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The allowances, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Allowances {
    pub calls_per_visitor_minute: u32,
    pub calls_per_network_minute: u32,
    pub calls_per_minute: u32,
    pub tokens_per_visitor_day: i64,
    pub tokens_per_network_day: i64,
    pub tokens_per_day: i64,
}

impl Allowances {
    pub fn from_config(config: &Config) -> Self {
        Allowances {
            calls_per_visitor_minute: config.calls_per_minute,
            calls_per_network_minute: config.calls_per_network_per_minute,
            calls_per_minute: config.calls_per_minute_total,
            tokens_per_visitor_day: config.tokens_per_visitor_per_day as i64,
            tokens_per_network_day: config.tokens_per_network_per_day as i64,
            tokens_per_day: config.tokens_per_day as i64,
        }
    }
}

/// A call counted with the other replicas (see [`Usage::count_shared_call`]): whose allowance of
/// the minute it found used up, and for how long.
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedCall(Option<(CallScope, Duration)>);

/// Tokens a caller, their network and everyone used today, as read at `now`.
#[derive(Debug, Clone, Copy)]
pub struct UsedToday {
    now: i64,
    tokens: [i64; 3],
}

/// What the assistant may cost, and what it cost.
pub struct Usage {
    db: Db,
    hub: Arc<Hub>,
    allowances: Allowances,
    per_visitor: DefaultKeyedRateLimiter<i64>,
    per_network: DefaultKeyedRateLimiter<IpAddr>,
    overall: DefaultDirectRateLimiter,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"))
}

/// Whose calls to the model per minute ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallScope {
    Visitor,
    Network,
    Everyone,
}

/// 429: the calls of this minute are used up for `scope`, for `wait` (the same words whether
/// this process or the replicas' shared count found it).
pub fn calls_used_up(scope: CallScope, wait: Duration) -> AppError {
    let message = match scope {
        CallScope::Visitor => "too many messages, edits and retries this minute",
        CallScope::Network => "too many messages from your network this minute",
        CallScope::Everyone => "the assistant is answering many customers right now",
    };
    AppError::rate_limited(message, wait)
}

/// A day's key: its UTC date, `YYYY-MM-DD`.
pub fn day_of(ms: i64) -> String {
    let mut day = crate::server::db::rfc3339(ms);
    day.truncate(10);
    day
}

/// Time until the next UTC midnight, when the day's token allowances start again.
fn until_tomorrow(ms: i64) -> Duration {
    Duration::from_millis((DAY_MS - ms.rem_euclid(DAY_MS)) as u64)
}

fn visitor_scope(user_id: i64) -> String {
    format!("visitor:{user_id}")
}

fn network_scope(network: Option<IpAddr>) -> Option<String> {
    network.map(|n| format!("network:{n}"))
}

const ALL: &str = "all";

impl Usage {
    pub fn new(db: Db, hub: Arc<Hub>, allowances: Allowances) -> Self {
        Usage {
            db,
            hub,
            per_visitor: RateLimiter::keyed(per_minute(allowances.calls_per_visitor_minute)),
            per_network: RateLimiter::keyed(per_minute(allowances.calls_per_network_minute)),
            overall: RateLimiter::direct(per_minute(allowances.calls_per_minute)),
            allowances,
        }
    }

    /// Spends one call to the model for `caller`, or refuses with 429 (and a `Retry-After`) when
    /// a day's tokens (as read by [`Usage::used_today`], which can run beside the caller's other
    /// reads) or a minute's calls are used up, here or (`shared`, from
    /// [`Usage::count_shared_call`]) with the other replicas. Tokens are checked first, so a
    /// refusal for the day spends no call.
    pub fn spend_call(&self, used: UsedToday, shared: SharedCall, caller: Caller) -> AppResult<()> {
        let UsedToday { now, tokens: [visitor, network, all] } = used;
        let a = self.allowances;
        let tomorrow = until_tomorrow(now);
        if all >= a.tokens_per_day {
            return Err(AppError::rate_limited(
                "the assistant has reached today's limit; a person can still answer: use Talk to a person",
                tomorrow,
            ));
        }
        if visitor >= a.tokens_per_visitor_day || network >= a.tokens_per_network_day {
            return Err(AppError::rate_limited(
                "you have used today's allowance of assistant replies; a person can still answer: use Talk to a person",
                tomorrow,
            ));
        }
        if let Err(not_until) = self.per_visitor.check_key(&caller.user_id) {
            return Err(calls_used_up(CallScope::Visitor, wait_until_allowed(not_until)));
        }
        if let Some(network) = caller.network {
            if let Err(not_until) = self.per_network.check_key(&network) {
                return Err(calls_used_up(CallScope::Network, wait_until_allowed(not_until)));
            }
        }
        if let Err(not_until) = self.overall.check() {
            return Err(calls_used_up(CallScope::Everyone, wait_until_allowed(not_until)));
        }
        if self.per_visitor.len() > 100_000 {
            self.per_visitor.retain_recent();
            self.per_network.retain_recent();
        }
        match shared.0 {
            Some((scope, wait)) => Err(calls_used_up(scope, wait)),
            None => Ok(()),
        }
    }

    /// With other replicas alive: counts a call in the minute's allowances kept in the database
    /// with every replica (see [`count_shared`]), for [`Usage::spend_call`]: the first used up, in
    /// the order it checks them in this process alone, and for how long. Alone, nothing (and no
    /// query). Read beside a change's other reads, before its transaction.
    pub async fn count_shared_call(&self, caller: Caller) -> AppResult<SharedCall> {
        if self.hub.peers() == 0 {
            return Ok(SharedCall(None));
        }
        let a = self.allowances;
        let mut allowances = vec![(CallScope::Visitor, visitor_scope(caller.user_id), a.calls_per_visitor_minute)];
        if let Some(network) = network_scope(caller.network) {
            allowances.push((CallScope::Network, network, a.calls_per_network_minute));
        }
        allowances.push((CallScope::Everyone, ALL.to_owned(), a.calls_per_minute));
        let keys: Vec<(String, u32)> =
            allowances.iter().map(|(_, scope, limit)| (format!("calls:{scope}"), *limit)).collect();
        let over = count_shared(&self.db, Duration::from_secs(60), &keys).await?;
        Ok(SharedCall(over.map(|(index, wait)| (allowances[index].0, wait))))
    }

    /// Tokens used today by the caller, their network, and everyone.
    pub async fn used_today(&self, caller: Caller) -> AppResult<UsedToday> {
        let now = crate::server::db::now_ms();
        let visitor = visitor_scope(caller.user_id);
        let network = network_scope(caller.network);
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT scope, tokens FROM usage_daily WHERE day = $1 AND scope IN ($2, $3, $4)")
                .bind(day_of(now))
                .bind(&visitor)
                .bind(network.as_deref().unwrap_or(ALL))
                .bind(ALL)
                .fetch_all(&self.db.read)
                .await?;
        let used = |scope: Option<&str>| rows.iter().find(|(s, _)| Some(s.as_str()) == scope).map_or(0, |(_, t)| *t);
        Ok(UsedToday { now, tokens: [used(Some(&visitor)), used(network.as_deref()), used(Some(ALL))] })
    }

    /// The assistant's use over the last `days` days (1 to 90, default 14), newest first (days
    /// without a call left out), and the allowances in force.
    pub async fn report(&self, days: Option<u32>) -> AppResult<UsageReport> {
        let days = days.unwrap_or(14);
        if !(1..=90).contains(&days) {
            return Err(AppError::Invalid("days must be between 1 and 90".into()));
        }
        let since = day_of(now_ms() - i64::from(days - 1) * DAY_MS);
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT day, tokens, calls FROM usage_daily WHERE scope = $1 AND day >= $2 ORDER BY day DESC",
        )
        .bind(ALL)
        .bind(since)
        .fetch_all(&self.db.read)
        .await?;
        let a = self.allowances;
        Ok(UsageReport {
            days: rows.into_iter().map(|(day, tokens, calls)| UsageDay { day, tokens, calls }).collect(),
            tokens_per_day: a.tokens_per_day,
            tokens_per_visitor_day: a.tokens_per_visitor_day,
            tokens_per_network_day: a.tokens_per_network_day,
        })
    }

    /// Forgets the per-visitor and per-network totals of days before yesterday (everyone's stay,
    /// for the report): only today's rows are read. How many went.
    pub async fn forget_past_days(&self, now: i64) -> AppResult<u64> {
        Ok(sqlx::query("DELETE FROM usage_daily WHERE scope <> $2 AND day < $1")
            .bind(day_of(now - DAY_MS))
            .bind(ALL)
            .execute(&self.db.write)
            .await?
            .rows_affected())
    }

    /// Adds a reply's tokens to the day's totals of its visitor, their network and everyone, in
    /// `conn`'s transaction (the one that ends the reply), last: every reply's end adds to the same
    /// rows, locked until commit; taken last, each end holds them only while it commits.
    pub async fn charge(&self, conn: &mut AnyConnection, caller: Caller, tokens: i64) -> AppResult<()> {
        let day = day_of(now_ms());
        let scopes: Vec<String> =
            [Some(visitor_scope(caller.user_id)), network_scope(caller.network), Some(ALL.to_string())]
                .into_iter()
                .flatten()
                .collect();
        // One statement for every allowance; its rows always in this order (the day's shared row
        // last), so two ends never wait for each other's rows crosswise.
        let rows = (0..scopes.len()).map(|i| format!("($1, ${}, $2, 1)", i + 3)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "INSERT INTO usage_daily (day, scope, tokens, calls) VALUES {rows} \
             ON CONFLICT (day, scope) DO UPDATE SET tokens = usage_daily.tokens + excluded.tokens, \
             calls = usage_daily.calls + 1"
        );
        let mut query = sqlx::query(&sql).bind(&day).bind(tokens);
        for scope in &scopes {
            query = query.bind(scope);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_its_utc_date_and_the_allowance_returns_at_midnight() {
        let noon = 1_763_812_800_000; // 2025-11-22T12:00:00Z
        assert_eq!(day_of(noon), "2025-11-22");
        assert_eq!(until_tomorrow(noon), Duration::from_secs(12 * 3600));
        assert_eq!(day_of(noon + 12 * 3600 * 1000), "2025-11-23");
    }
}
