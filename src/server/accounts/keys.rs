//! API keys: how an integration writes the shop's catalog and knowledge. Admins create them (the
//! key is shown once; its SHA-256 is kept, as sessions' tokens are) and revoke them; both are
//! audited. A key acts for the admin who created it. Table: `api_keys`.

use super::{new_token, token_hash, Accounts};
use crate::{
    model::{ApiKey, CreatedApiKey},
    server::{
        audit::{Action, Actor},
        db::{now_ms, rfc3339},
        error::{AppError, AppResult},
        identity::{Editor, Staff},
    },
};

/// Every key starts so, which tells it from a session token in a log or a secret scanner.
const KEY_PREFIX: &str = "fdk_";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl Accounts {
    /// A new key named `name` (1 to 80 characters), shown this once (admins only).
    pub async fn create_key(&self, admin: Staff, name: &str) -> AppResult<CreatedApiKey> {
        admin.require_admin()?;
        if crate::model::trim_spaces(name).is_empty() || name.chars().count() > 80 {
            return Err(AppError::Invalid("the name must be 1 to 80 characters".into()));
        }
        let key = format!("{KEY_PREFIX}{}", new_token());
        let mut tx = self.db.write.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_keys (name, key_hash, prefix, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(name.trim())
        .bind(token_hash(&key))
        .bind(&key[..KEY_PREFIX.len() + 6])
        .bind(admin.user_id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let action = Action { name: "api_key.created", chat_id: None, detail: format!("API key {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        Ok(CreatedApiKey { id, name: name.trim().to_string(), key })
    }

    /// The keys in force, newest first (admins only).
    pub async fn list_keys(&self, admin: Staff) -> AppResult<Vec<ApiKey>> {
        admin.require_admin()?;
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, name, prefix, created_at, last_used_at FROM api_keys WHERE revoked_at IS NULL ORDER BY id DESC",
        )
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ApiKey {
                id: r.id,
                name: r.name,
                prefix: r.prefix,
                created_at: rfc3339(r.created_at),
                last_used_at: r.last_used_at.map(rfc3339),
            })
            .collect())
    }

    /// Revokes a key: from now on it is refused (admins only).
    pub async fn revoke_key(&self, admin: Staff, id: i64) -> AppResult<()> {
        admin.require_admin()?;
        let mut tx = self.db.write.begin().await?;
        let revoked = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if revoked == 0 {
            return Err(AppError::not_found("API key"));
        }
        let action = Action { name: "api_key.revoked", chat_id: None, detail: format!("API key {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who a key writes as: the admin who created it, while the key is in force and they are
    /// still an active admin; 401 otherwise. Notes when it was last used (at most once a minute).
    pub async fn key_editor(&self, key: &str) -> AppResult<Editor> {
        if !key.starts_with(KEY_PREFIX) {
            return Err(AppError::Unauthorized);
        }
        let found: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT k.id, k.created_by, k.last_used_at FROM api_keys k JOIN users u ON u.id = k.created_by \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.kind = 'staff' AND u.role = 'admin' \
             AND u.deactivated_at IS NULL",
        )
        .bind(token_hash(key))
        .fetch_optional(&self.db.read)
        .await?;
        let (id, user_id, last_used) = found.ok_or(AppError::Unauthorized)?;
        let now = now_ms();
        if last_used.is_none_or(|at| now - at > 60_000) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.db.write)
                .await?;
        }
        Ok(Editor { user_id, key_id: Some(id) })
    }
}
