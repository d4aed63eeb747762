//! Password reset: "Forgot password" emails a member a link that works once, for 30 minutes (an
//! invitation's link, the same kind, works for 7 days).
//! Asking answers the same whether or not the address has an account (and is throttled like
//! signing in); a new link replaces the member's unused ones; using one sets the password and
//! ends every session of the member. The table holds the token's hash only: `password_resets`.

use sqlx::AnyConnection;

use super::{
    new_token,
    staff::{check_new_password, hash_password},
    token_hash, Accounts, DAY_MS,
};
use crate::{
    model::Email,
    server::{
        audit::{Action, Actor},
        db::now_ms,
        error::{AppError, AppResult},
    },
};

/// How long a reset link works.
pub const RESET_VALID_MS: i64 = 30 * 60 * 1000;
/// How long an invitation's link works.
pub const INVITE_VALID_MS: i64 = 7 * DAY_MS;
/// Used and expired links are kept this long (for the audit's sake), then forgotten.
const RESET_KEPT_MS: i64 = DAY_MS;

impl Accounts {
    /// A new link that sets `user_id`'s password, working once for `valid_ms`: its token. One
    /// link at a time: it replaces the unused ones; old ones are forgotten.
    pub(super) async fn new_link(conn: &mut AnyConnection, user_id: i64, valid_ms: i64) -> AppResult<String> {
        let token = new_token();
        let now = now_ms();
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(now - RESET_KEPT_MS)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + valid_ms)
        .execute(&mut *conn)
        .await?;
        Ok(token)
    }

    /// Emails a reset link to `email` when it is an active member's and mail is set up. The
    /// same `Ok` either way: the answer tells nobody which addresses have accounts.
    pub async fn request_reset(&self, network: Option<std::net::IpAddr>, email: &str) -> AppResult<()> {
        let email = Email::parse(email).map_err(AppError::Invalid)?;
        self.sign_ins.attempt(network, email.as_str())?;
        if self.hub.peers() > 0 {
            self.sign_ins.attempt_shared(&self.db, network, email.as_str()).await?;
        }
        let member: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE kind = 'staff' AND email = $1 AND deactivated_at IS NULL")
                .bind(email.as_str())
                .fetch_optional(&self.db.read)
                .await?;
        let Some((user_id,)) = member else { return Ok(()) };
        let Some(mail) = &self.mail else {
            tracing::warn!(user_id, "a password reset was asked for, but FRONTDESK_SMTP_URL is not set: no email sent");
            return Ok(());
        };
        let mut tx = self.db.write.begin().await?;
        let token = Self::new_link(&mut tx, user_id, RESET_VALID_MS).await?;
        let action = Action { name: "staff.reset_requested", chat_id: None, detail: format!("staff {user_id}") };
        self.audit.record(&mut tx, Actor::Staff(user_id), action).await?;
        tx.commit().await?;
        mail.password_reset(email.as_str(), &token);
        Ok(())
    }

    /// Sets a new password with a reset link's token (or an invitation's): once, within its time. Every session of
    /// the member ends (on every replica).
    pub async fn reset_password(&self, token: &str, password: &str) -> AppResult<()> {
        check_new_password(password)?;
        let password = password.to_string();
        let hash = self.sign_ins.hash(move || hash_password(&password)).await??;
        let now = now_ms();
        let mut tx = self.db.write.begin().await?;
        // Taken in one statement: of two uses at once, one finds it already used.
        let claimed: Option<(i64,)> = sqlx::query_as(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             AND user_id IN (SELECT id FROM users WHERE kind = 'staff' AND deactivated_at IS NULL) RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash(token))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id,)) = claimed else {
            return Err(AppError::NotFound {
                what: "this reset link (used already, expired, or replaced by a newer one)",
            });
        };
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended = Self::delete_sessions(&mut tx, user_id, None).await?;
        let action = Action { name: "staff.password_reset", chat_id: None, detail: format!("staff {user_id}") };
        self.audit.record(&mut tx, Actor::Staff(user_id), action).await?;
        tx.commit().await?;
        self.sessions_ended(ended);
        Ok(())
    }
}
