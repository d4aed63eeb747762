//! Throttles: how often a caller may do a thing. The sign-in throttle (per network and per
//! account, with the password hashing bounded), the counts replicas share for the calls
//! allowances of `usage` (table `rate_windows`), and who the caller is on the network.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::ConnectInfo,
    http::{Extensions, HeaderMap},
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::{
    db::{now_ms, Db},
    error::{AppError, AppResult},
};
use crate::model::Email;

/// The network a request comes from: the peer address, or with `trust_proxy` the last
/// `X-Forwarded-For` entry (what the load balancer saw). IPv6 addresses count per /64, the block
/// one customer usually holds.
pub fn client_network(headers: &HeaderMap, extensions: &Extensions, trust_proxy: bool) -> Option<IpAddr> {
    let forwarded = trust_proxy
        .then(|| headers.get("x-forwarded-for")?.to_str().ok()?.rsplit(',').next()?.trim().parse::<IpAddr>().ok())
        .flatten();
    let ip = forwarded.or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))?;
    Some(network_of(ip))
}

fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Sign-in attempts: a burst then a steady rate, per network and per account; and at most a few
/// password hashes (Argon2, 19 MiB each) at once, so a flood of guesses cannot take the CPU or
/// the memory from everyone else.
pub struct SignInThrottle {
    per_network: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    per_network_limit: u32,
    per_account_limit: u32,
    hashing: Arc<Semaphore>,
    hashers: Hashers,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Threads of their own for password hashing, at a lower CPU priority (nice 10), so that while
/// they are busy the scheduler still runs everything else first.
struct Hashers {
    jobs: std::sync::mpsc::Sender<HashJob>,
}

impl Hashers {
    fn start(threads: usize) -> Hashers {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("password-hash-{i}")).spawn(move || {
                lower_priority();
                loop {
                    let job = match queue.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    job();
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password hashing thread");
            }
        }
        Hashers { jobs }
    }
}

/// Nice 10 for the calling thread (Linux threads have their own nice value); best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only read their arguments; a failure leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Counts one attempt against each of `allowances` (`(key, limit)`) in the database, so every
/// replica counts together. Counts are kept per fixed window of `window`, and an allowance is
/// judged on a sliding window: the current window's count plus the previous one's, weighted by
/// how much of it the sliding window still covers (so a burst across a window's edge is not
/// allowed twice the limit). Two statements for all keys. `Some((index, wait))` when an
/// allowance is over: the first such in the order given, and the time until one more attempt
/// would be allowed. The attempt counts either way, as a refused attempt does with the
/// in-process limiters.
pub async fn count_shared(
    db: &Db,
    window: Duration,
    allowances: &[(String, u32)],
) -> AppResult<Option<(usize, Duration)>> {
    if allowances.is_empty() {
        return Ok(None);
    }
    let now = now_ms();
    let window_ms = window.as_millis().max(1) as i64;
    let start = now - now.rem_euclid(window_ms);
    let rows = (0..allowances.len()).map(|i| format!("(${}, $1, 1)", i + 2)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO rate_windows (key, window_start, count) VALUES {rows} \
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 RETURNING key, count"
    );
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql).bind(start);
    for (key, _) in allowances {
        query = query.bind(key);
    }
    let counts = query.fetch_all(&db.write).await?;
    let keys = (0..allowances.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT key, count FROM rate_windows WHERE window_start = $1 AND key IN ({keys})");
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql).bind(start - window_ms);
    for (key, _) in allowances {
        query = query.bind(key);
    }
    let before = query.fetch_all(&db.read).await?;
    let count_of = |rows: &[(String, i64)], key: &str| rows.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n);
    let sliding = SlidingCount { start, window_ms, now };
    Ok(allowances.iter().enumerate().find_map(|(index, (key, limit))| {
        let (previous, current) = (count_of(&before, key), count_of(&counts, key));
        sliding.over(previous, current, i64::from(*limit)).map(|wait| (index, wait))
    }))
}

/// A sliding window estimated from two fixed ones: the one that began at `start` and the one
/// before it.
#[derive(Debug, Clone, Copy)]
struct SlidingCount {
    start: i64,
    window_ms: i64,
    now: i64,
}

impl SlidingCount {
    /// `None` while `previous` (weighted by the part of its window the sliding window still
    /// covers) and `current` stay within `limit`; else how long until one more would.
    fn over(self, previous: i64, current: i64, limit: i64) -> Option<Duration> {
        let window = self.window_ms as f64;
        let covered = 1.0 - (self.now - self.start) as f64 / window;
        if previous as f64 * covered + current as f64 <= limit as f64 {
            return None;
        }
        // One more is allowed once `weight * earlier + later + 1 <= limit`, the earlier window's
        // weight falling from 1 to 0 across a window.
        let when = if current < limit && previous > 0 {
            self.start as f64 + window * (1.0 - (limit - current - 1) as f64 / previous as f64)
        } else {
            let fade = if current > 0 { (1.0 - (limit - 1) as f64 / current as f64).max(0.0) } else { 0.0 };
            (self.start + self.window_ms) as f64 + window * fade
        };
        Some(Duration::from_millis(((when - self.now as f64).ceil() as i64).max(1000) as u64))
    }
}

/// Forgets windows that ended before `before` (unix ms).
pub async fn forget_shared_counts(db: &Db, before: i64) -> AppResult<u64> {
    Ok(sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
        .bind(before)
        .execute(&db.write)
        .await?
        .rows_affected())
}

/// How long a sign-in waits for a hashing slot before it is refused.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(3);

/// How long until a governor limiter that refused allows again (for `Retry-After`).
pub fn wait_until_allowed(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(governor::clock::DefaultClock::default().now())
}

fn quota(burst: u32, every: Duration) -> Quota {
    Quota::with_period(every)
        .expect("a period above zero")
        .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"))
}

/// The window the sign-in allowances are counted in.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(300);

impl SignInThrottle {
    /// `per_account` and `per_network` attempts per [`SIGN_IN_WINDOW`]: all at once if need be,
    /// then coming back evenly over the window. (A person mistypes a few times; a script tries
    /// thousands.)
    pub fn new(per_account: u32, per_network: u32) -> Self {
        let hashers = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        let allowance = |n: u32| quota(n.max(1), SIGN_IN_WINDOW / n.max(1));
        SignInThrottle {
            per_network: RateLimiter::keyed(allowance(per_network)),
            per_account: RateLimiter::keyed(allowance(per_account)),
            per_network_limit: per_network.max(1),
            per_account_limit: per_account.max(1),
            hashing: Arc::new(Semaphore::new(hashers)),
            hashers: Hashers::start(hashers),
        }
    }

    /// The same allowances counted in the database with every replica (see [`count_shared`]).
    pub async fn attempt_shared(&self, db: &Db, network: Option<IpAddr>, email: &str) -> AppResult<()> {
        let mut allowances = vec![(format!("sign-in:account:{}", Email::normalized(email)), self.per_account_limit)];
        if let Some(network) = network {
            allowances.push((format!("sign-in:network:{network}"), self.per_network_limit));
        }
        match count_shared(db, SIGN_IN_WINDOW, &allowances).await? {
            Some((_, wait)) => Err(AppError::rate_limited("too many sign-in attempts", wait)),
            None => Ok(()),
        }
    }

    /// Spends one attempt from the network's and the account's allowance, or refuses with 429.
    pub fn attempt(&self, network: Option<IpAddr>, email: &str) -> AppResult<()> {
        let refuse = |wait: Duration| AppError::rate_limited("too many sign-in attempts", wait);
        if let Some(network) = network {
            if let Err(not_until) = self.per_network.check_key(&network) {
                return Err(refuse(wait_until_allowed(not_until)));
            }
        }
        if let Err(not_until) = self.per_account.check_key(&Email::normalized(email)) {
            return Err(refuse(wait_until_allowed(not_until)));
        }
        if self.per_network.len() > 100_000 {
            self.per_network.retain_recent();
            self.per_account.retain_recent();
        }
        Ok(())
    }

    /// Runs a password hash or check on the hashing threads (off the async threads, at a lower
    /// priority), a bounded number at once; a caller that waits too long for a turn gets 429.
    pub async fn hash<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let permit = tokio::time::timeout(HASH_QUEUE_WAIT, self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| AppError::rate_limited("the server is busy with other sign-ins", Duration::from_secs(5)))?
            .map_err(|_| AppError::Unavailable)?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _permit = permit;
            let _ = done.send(work());
        });
        self.hashers.jobs.send(job).map_err(|_| AppError::Internal("the password hashing threads are gone".into()))?;
        result.await.map_err(|_| AppError::Internal("a password hash was lost".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_count_slides_across_a_windows_edge() {
        // A minute's window, 1 s after it began: the minute before still counts 59/60.
        let at = SlidingCount { start: 60_000, window_ms: 60_000, now: 61_000 };
        assert_eq!(at.over(0, 2, 2), None, "within the limit");
        assert!(at.over(2, 1, 2).is_some(), "two just before the edge and one after are three in a minute");
        let wait = at.over(2, 1, 2).unwrap();
        assert!(wait >= Duration::from_secs(59) && wait <= Duration::from_secs(61), "{wait:?}");
        // Late in the window the earlier one barely counts.
        let late = SlidingCount { start: 60_000, window_ms: 60_000, now: 119_000 };
        assert_eq!(late.over(2, 1, 2), None);
        // Over within the current window alone: the wait runs into the next one.
        let wait = at.over(0, 3, 2).unwrap();
        assert!(wait >= Duration::from_secs(59), "{wait:?}");
    }

    #[test]
    fn ipv6_callers_count_per_64_block_and_ipv4_per_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of("2001:db8:1:3::1".parse().unwrap()), network_of(a));
        assert_eq!(network_of("10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(network_of("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_account_gets_a_few_attempts_then_waits_whatever_the_network() {
        let throttle = SignInThrottle::new(5, 20);
        for i in 0..5 {
            let network = Some(IpAddr::from([10, 0, 0, i]));
            assert!(throttle.attempt(network, "Admin@Example.com").is_ok());
        }
        let refused = throttle.attempt(Some(IpAddr::from([10, 0, 1, 1])), "admin@example.com ");
        assert!(matches!(refused, Err(AppError::RateLimited { .. })), "{refused:?}");
        assert!(refused.unwrap_err().retry_after_secs().unwrap() >= 1);
        assert!(throttle.attempt(Some(IpAddr::from([10, 0, 1, 1])), "other@example.com").is_ok());
    }

    #[test]
    fn a_network_gets_a_burst_of_attempts_across_accounts_then_waits() {
        let throttle = SignInThrottle::new(5, 20);
        let network = Some(IpAddr::from([192, 0, 2, 7]));
        for i in 0..20 {
            assert!(throttle.attempt(network, &format!("user{i}@example.com")).is_ok());
        }
        assert!(throttle.attempt(network, "user99@example.com").is_err());
        assert!(throttle.attempt(Some(IpAddr::from([192, 0, 2, 8])), "user99@example.com").is_ok());
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;

    #[test]
    fn behind_a_trusted_proxy_the_last_forwarded_address_is_the_client() {
        let request =
            axum::http::Request::builder().header("x-forwarded-for", "203.0.113.9, 192.0.2.1").body(()).unwrap();
        let (parts, _) = request.into_parts();
        assert_eq!(client_network(&parts.headers, &parts.extensions, true), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            client_network(&parts.headers, &parts.extensions, false),
            None,
            "not trusted, and no peer address here"
        );
    }
}
