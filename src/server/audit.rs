//! The audit log: who changed a conversation, what, and when (never the text). Customers'
//! deletions, every change staff make to a conversation, and staff accounts created are recorded
//! in the same transaction as the change: the domains that make them hold a [`Trail`]. Admins read
//! the log (`AuditLog::read`). Table: `audit_log`.

use sqlx::AnyConnection;

use super::{
    db::{now_ms, rfc3339, Db},
    error::{AppError, AppResult},
};
use crate::model::{AuditEntry, AuditFilter, AuditPage};

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Visitor(i64),
    Staff(i64),
}

impl Actor {
    fn parts(self) -> (i64, &'static str) {
        match self {
            Actor::Visitor(id) => (id, "visitor"),
            Actor::Staff(id) => (id, "staff"),
        }
    }
}

/// What was done: an action name and what changed (ids and fields, not text).
#[derive(Debug, Clone)]
pub struct Action {
    pub name: &'static str,
    pub chat_id: Option<i64>,
    pub detail: String,
}

/// What a domain needs of the audit log: to write a line in the transaction of the change it
/// records, committed (or not) with it.
#[async_trait::async_trait]
pub trait Trail: Send + Sync {
    async fn record(&self, conn: &mut AnyConnection, actor: Actor, action: Action) -> AppResult<()>;
}

/// The audit log.
pub struct AuditLog {
    db: Db,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor_id: i64,
    actor_kind: String,
    actor_name: Option<String>,
    chat_id: Option<i64>,
    action: String,
    detail: String,
}

#[async_trait::async_trait]
impl Trail for AuditLog {
    async fn record(&self, conn: &mut AnyConnection, actor: Actor, action: Action) -> AppResult<()> {
        let (actor_id, actor_kind) = actor.parts();
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_kind, chat_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now_ms())
        .bind(actor_id)
        .bind(actor_kind)
        .bind(action.chat_id)
        .bind(action.name)
        .bind(&action.detail)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl AuditLog {
    pub fn new(db: Db) -> Self {
        AuditLog { db }
    }

    /// The log, newest first, optionally of one chat, one member and/or actions beginning with
    /// some text (`inquiry.` for every change to conversations); 1 to 200 entries a page (50 by
    /// default). The caller checked that an admin asks.
    pub async fn read(&self, filter: &AuditFilter) -> AppResult<AuditPage> {
        let AuditFilter { chat_id, actor_id, action, before, limit } = filter.clone();
        let limit = limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AppError::Invalid("limit must be between 1 and 200".into()));
        }
        let action = action.unwrap_or_default();
        if action.len() > 64 || !action.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_') {
            return Err(AppError::Invalid(
                "action is up to 64 lower-case letters, dots and underscores, like inquiry.".into(),
            ));
        }
        // A prefix for LIKE, its `_` taken literally.
        let pattern = format!("{}%", action.replace('_', "\\_"));
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT a.id, a.at, a.actor_id, a.actor_kind, \
             (SELECT u.display_name FROM users u WHERE u.id = a.actor_id AND u.kind = 'staff') AS actor_name, \
             a.chat_id, a.action, a.detail FROM audit_log a \
             WHERE ($1 = 0 OR a.chat_id = $1) AND ($4 = 0 OR a.actor_id = $4) AND a.action LIKE $5 ESCAPE '\\' \
             AND a.id < $2 ORDER BY a.id DESC LIMIT $3",
        )
        .bind(chat_id.unwrap_or(0))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .bind(actor_id.unwrap_or(0))
        .bind(pattern)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() as i64 > limit;
        let entries: Vec<AuditEntry> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| AuditEntry {
                id: r.id,
                at: rfc3339(r.at),
                actor_id: r.actor_id,
                actor_kind: r.actor_kind,
                actor_name: r.actor_name,
                chat_id: r.chat_id,
                action: r.action,
                detail: r.detail,
            })
            .collect();
        let next_before = if more { entries.last().map(|e| e.id) } else { None };
        Ok(AuditPage { entries, next_before })
    }
}
