//! Who people are: visitors, written at their first real action (their session's token is
//! random, stored hashed); staff accounts and signing in (`staff`); each visitor's preferences
//! (`preferences`); the API keys integrations use (`keys`); password reset links (`reset`). The HTTP side of sessions (cookies,
//! the embedded window's token header, the extractors) is `http::session`. Tables: `users`,
//! `sessions`, `preferences`, `api_keys`, `password_resets`.

mod keys;
mod preferences;
mod reset;
mod staff;

use std::{sync::Arc, time::Duration};

use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

pub use self::{reset::RESET_VALID_MS, staff::generate_password};
use super::{
    audit::Trail,
    contexts::ContextStore,
    db::{now_ms, Backend, Db},
    error::AppResult,
    events::Hub,
    identity::{Staff, StaffRole},
    notify::Notifier,
    throttle::SignInThrottle,
};

/// How long a visitor's session lasts (a visitor keeps their conversation for months).
pub const SESSION_DAYS: i64 = 180;
/// The longest a staff session lasts however active it is.
const STAFF_SESSION_DAYS: i64 = 30;
pub(crate) const DAY_MS: i64 = 24 * 3600 * 1000;

/// The accounts.
pub struct Accounts {
    db: Db,
    hub: Arc<Hub>,
    /// Sign-in attempts and password hashing, bounded.
    sign_ins: SignInThrottle,
    audit: Arc<dyn Trail>,
    /// The contexts a visitor may prefer.
    contexts: Arc<ContextStore>,
    /// A staff session ends after this long without a request.
    staff_idle: Duration,
    /// Password reset links are emailed when mail is set up.
    mail: Option<Arc<Notifier>>,
}

/// The user a live session names.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub id: i64,
    kind: String,
    role: Option<String>,
}

impl SessionUser {
    pub fn is_visitor(&self) -> bool {
        self.kind == "visitor"
    }

    /// The member of staff it is; `None` for a visitor.
    pub fn staff(&self) -> Option<Staff> {
        (self.kind == "staff").then(|| Staff {
            user_id: self.id,
            role: if self.role.as_deref() == Some("admin") { StaffRole::Admin } else { StaffRole::Agent },
        })
    }
}

/// How a session's token is kept: its SHA-256, so a copy of the database names no session.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new session token: 256 random bits.
pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl Accounts {
    pub fn new(
        db: Db,
        hub: Arc<Hub>,
        sign_ins: SignInThrottle,
        audit: Arc<dyn Trail>,
        contexts: Arc<ContextStore>,
        staff_idle: Duration,
        mail: Option<Arc<Notifier>>,
    ) -> Self {
        Accounts { db, hub, sign_ins, audit, contexts, staff_idle, mail }
    }

    /// The user a live session token names. With `moving`, a staff session's idle deadline moves
    /// on (written at most once a minute per session, never past its absolute end); a token the
    /// host page's scripts can read (an embedded window's) does not move it.
    pub async fn session(&self, token: &str, moving: bool) -> AppResult<Option<SessionUser>> {
        let token_hash = token_hash(token);
        let now = now_ms();
        let row: Option<(i64, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT u.id, u.kind, u.role, s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.deactivated_at IS NULL",
        )
        .bind(&token_hash)
        .bind(now)
        .fetch_optional(&self.db.read)
        .await?;
        let Some((id, kind, role, created_at, expires_at)) = row else { return Ok(None) };
        if moving && kind == "staff" {
            let deadline = (now + self.staff_idle.as_millis() as i64).min(created_at + STAFF_SESSION_DAYS * DAY_MS);
            if deadline - expires_at > 60_000 {
                sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
                    .bind(deadline)
                    .bind(&token_hash)
                    .execute(&self.db.write)
                    .await?;
            }
        }
        Ok(Some(SessionUser { id, kind, role }))
    }

    /// A visitor and their session, in a transaction of their own (a first action that writes
    /// nothing else, a preference saved): their id and token.
    pub async fn create_visitor(&self) -> AppResult<(i64, String)> {
        let token = new_token();
        let _turn = self.db.patient_turn().await;
        let mut tx = self.db.write.begin().await?;
        let user_id = Self::insert_visitor(&mut tx, &token).await?;
        tx.commit().await?;
        Ok((user_id, token))
    }

    /// Writes a visitor and their session (the token's hash) in `conn`'s transaction: on
    /// PostgreSQL in one statement, on SQLite (no data-modifying WITH) in two.
    pub async fn insert_visitor(conn: &mut AnyConnection, token: &str) -> AppResult<i64> {
        let now = now_ms();
        let expires = now + SESSION_DAYS * DAY_MS;
        if conn.backend_name() == "PostgreSQL" {
            let (user_id,): (i64,) = sqlx::query_as(
                "WITH u AS (INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', $1) RETURNING id), \
                 s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT $2, id, $1, $3 FROM u) \
                 SELECT id FROM u",
            )
            .bind(now)
            .bind(token_hash(token))
            .bind(expires)
            .fetch_one(&mut *conn)
            .await?;
            return Ok(user_id);
        }
        let (user_id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Visitor', $1) RETURNING id",
        )
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(token))
            .bind(user_id)
            .bind(now)
            .bind(expires)
            .execute(&mut *conn)
            .await?;
        Ok(user_id)
    }

    /// Starts a staff session for `user_id` (at sign-in: a fresh id, never the visitor's old one).
    /// It ends after the idle time without a request, and after `STAFF_SESSION_DAYS` in any case.
    async fn start_session(&self, user_id: i64) -> AppResult<String> {
        let token = new_token();
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(now)
            .bind(now + self.staff_idle.as_millis() as i64)
            .execute(&self.db.write)
            .await?;
        Ok(token)
    }

    /// Ends a session, and tells the sockets it opened (on every replica) to close.
    pub async fn end_session(&self, token: &str) -> AppResult<()> {
        let token_hash = token_hash(token);
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&token_hash).execute(&self.db.write).await?;
        self.hub.session_ended(token_hash);
        Ok(())
    }

    /// Deletes every session of `user_id` but the one of `keep` (a token), in `conn`'s
    /// transaction: their hashes, for [`Accounts::sessions_ended`] once it commits.
    async fn delete_sessions(conn: &mut AnyConnection, user_id: i64, keep: Option<&str>) -> AppResult<Vec<String>> {
        let ended: Vec<(String,)> =
            sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING token_hash")
                .bind(user_id)
                .bind(keep.map(token_hash).unwrap_or_default())
                .fetch_all(&mut *conn)
                .await?;
        Ok(ended.into_iter().map(|(hash,)| hash).collect())
    }

    /// Tells the sockets of sessions deleted (and committed) that they ended, on every replica.
    fn sessions_ended(&self, hashes: Vec<String>) {
        for hash in hashes {
            self.hub.session_ended(hash);
        }
    }

    /// Resolves when the session of `token` ends: signed out (heard on the hub), or expired
    /// (checked every `every`). Staff sockets close then.
    pub async fn session_ends(&self, token: &str, every: Duration) {
        let token_hash = token_hash(token);
        let mut ends = self.hub.watch_session_ends();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                ended = ends.recv() => match ended {
                    Ok(ended) if *ended == token_hash => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return std::future::pending().await,
                },
                _ = tick.tick() => {
                    if matches!(self.session(token, false).await, Ok(None)) {
                        return;
                    }
                }
            }
        }
    }

    /// Expired sessions, in batches; how many went.
    pub async fn forget_expired_sessions(&self, now: i64, batch: i64) -> AppResult<u64> {
        self.db
            .delete_in_batches(
                "DELETE FROM sessions WHERE token_hash IN \
                 (SELECT token_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
                now,
                batch,
            )
            .await
    }

    /// Forgets a visitor who never wrote, first seen before `cutoff`, once none of their chats is
    /// left (retention removes those first); whether they went. On PostgreSQL their row is locked
    /// before the check, so a chat being created for them meanwhile is seen (one begun after finds
    /// no visitor and fails, never half made).
    pub async fn forget_idle_visitor(&self, visitor: i64, cutoff: i64) -> AppResult<bool> {
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

    /// Visitors who may have never written (first seen before `cutoff`, no preference saved) after `after`, by id, at most
    /// `batch`, whose chats `chats_idle` (SQL on alias `c`, the cutoff as `$1`) all are.
    pub async fn idle_visitors(&self, cutoff: i64, chats_idle: &str, after: i64, batch: i64) -> AppResult<Vec<i64>> {
        let found: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT u.id FROM users u WHERE u.id > $3 AND {IDLE_VISITOR} \
             AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.owner_id = u.id AND NOT {chats_idle}) ORDER BY u.id LIMIT $2"
        ))
        .bind(cutoff)
        .bind(batch)
        .bind(after)
        .fetch_all(&self.db.read)
        .await?;
        Ok(found.into_iter().map(|(id,)| id).collect())
    }
}

/// A visitor retention may remove, their chats aside (SQL on alias `u`, the cutoff as `$1`): first
/// seen before the cutoff, with no preference saved.
const IDLE_VISITOR: &str = "u.kind = 'visitor' AND u.created_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM preferences p WHERE p.user_id = u.id)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed() {
        assert_eq!(token_hash("x").len(), 64);
        assert_ne!(token_hash("x"), "x");
    }
}
