//! Labels: admins create them (a name and a `#rrggbb` colour); any member puts them on
//! conversations, inside the conversation's own change (so open panels see it at once, on every
//! replica). Deleting a label takes it off every conversation; a label created, changed or
//! deleted is news to every open panel, which reads the labels again. Audited. Tables: `labels`,
//! `chat_labels`.

use std::sync::Arc;

use sqlx::AnyConnection;

use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, Db},
    error::{AppError, AppResult},
    events::Hub,
    identity::Staff,
};
use crate::model::{is_hex_color, trim_spaces, Label, LabelInput, TeamEvent};

/// The most labels a team keeps, and on one conversation.
const MAX_LABELS: i64 = 100;
pub const MAX_PER_CHAT: usize = 20;

pub struct Labels {
    db: Db,
    hub: Arc<Hub>,
    audit: Arc<dyn Trail>,
}

/// The input trimmed, or a 422 that says what is wrong.
fn checked(input: &LabelInput) -> AppResult<(String, String)> {
    let name = trim_spaces(&input.name);
    if name.is_empty() || input.name.chars().count() > 40 {
        return Err(AppError::Invalid("the name must be 1 to 40 characters".into()));
    }
    if !is_hex_color(&input.color) {
        return Err(AppError::Invalid(format!("the colour '{}' is not a colour as #rrggbb", input.color)));
    }
    Ok((name.to_string(), input.color.to_lowercase()))
}

/// A unique-name conflict, read from the database's refusal.
fn name_taken(error: sqlx::Error, name: &str) -> AppError {
    match error.as_database_error().is_some_and(|d| d.is_unique_violation()) {
        true => AppError::Conflict(format!("a label named '{name}' exists already")),
        false => error.into(),
    }
}

/// A label that does not exist, named in a conversation's labels: 404 with its id.
fn no_label(id: i64) -> AppError {
    AppError::Missing(format!("there is no label {id}"))
}

impl Labels {
    pub fn new(db: Db, hub: Arc<Hub>, audit: Arc<dyn Trail>) -> Self {
        Labels { db, hub, audit }
    }

    /// Every label, by name.
    pub async fn list(&self) -> AppResult<Vec<Label>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, name, color FROM labels ORDER BY name_key").fetch_all(&self.db.read).await?;
        Ok(rows.into_iter().map(|(id, name, color)| Label { id, name, color }).collect())
    }

    pub async fn create(&self, admin: Staff, input: &LabelInput) -> AppResult<Label> {
        admin.require_admin()?;
        let (name, color) = checked(input)?;
        let mut tx = self.db.write.begin().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM labels").fetch_one(&mut *tx).await?;
        if count >= MAX_LABELS {
            return Err(AppError::Conflict(format!("a team keeps at most {MAX_LABELS} labels")));
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO labels (name, name_key, color, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(&color)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| name_taken(e, &name))?;
        let action = Action { name: "label.created", chat_id: None, detail: format!("label {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        self.hub.send_to_team(TeamEvent::LabelsChanged);
        Ok(Label { id, name, color })
    }

    pub async fn update(&self, admin: Staff, id: i64, input: &LabelInput) -> AppResult<Label> {
        admin.require_admin()?;
        let (name, color) = checked(input)?;
        let mut tx = self.db.write.begin().await?;
        let changed = sqlx::query("UPDATE labels SET name = $1, name_key = $2, color = $3 WHERE id = $4")
            .bind(&name)
            .bind(name.to_lowercase())
            .bind(&color)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(e, &name))?
            .rows_affected();
        if changed == 0 {
            return Err(AppError::not_found("label"));
        }
        let action = Action { name: "label.updated", chat_id: None, detail: format!("label {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        self.hub.send_to_team(TeamEvent::LabelsChanged);
        Ok(Label { id, name, color })
    }

    /// Deletes a label; it comes off every conversation.
    pub async fn delete(&self, admin: Staff, id: i64) -> AppResult<()> {
        admin.require_admin()?;
        let mut tx = self.db.write.begin().await?;
        if sqlx::query("DELETE FROM labels WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(AppError::not_found("label"));
        }
        let action = Action { name: "label.deleted", chat_id: None, detail: format!("label {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        self.hub.send_to_team(TeamEvent::LabelsChanged);
        Ok(())
    }

    /// Puts exactly `label_ids` on a conversation, in the transaction of the conversation's
    /// change (`conn`): what changed, for the audit log (`+2 -5`), or nothing. An unknown label
    /// is refused (404 with its id) and changes nothing.
    pub async fn put_on(&self, conn: &mut AnyConnection, chat_id: i64, label_ids: &[i64]) -> AppResult<String> {
        let mut wanted = label_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.len() > MAX_PER_CHAT {
            return Err(AppError::Invalid(format!("a conversation has at most {MAX_PER_CHAT} labels")));
        }
        let known: Vec<(i64,)> = sqlx::query_as("SELECT id FROM labels").fetch_all(&mut *conn).await?;
        if let Some(unknown) = wanted.iter().find(|id| !known.iter().any(|(k,)| k == *id)) {
            return Err(no_label(*unknown));
        }
        let had: Vec<(i64,)> = sqlx::query_as("SELECT label_id FROM chat_labels WHERE chat_id = $1 ORDER BY label_id")
            .bind(chat_id)
            .fetch_all(&mut *conn)
            .await?;
        let had: Vec<i64> = had.into_iter().map(|(id,)| id).collect();
        let mut changes = Vec::new();
        for id in had.iter().filter(|id| !wanted.contains(id)) {
            sqlx::query("DELETE FROM chat_labels WHERE chat_id = $1 AND label_id = $2")
                .bind(chat_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            changes.push(format!("-{id}"));
        }
        for id in wanted.iter().filter(|id| !had.contains(id)) {
            // A label deleted meanwhile fails the foreign key: refused as unknown.
            sqlx::query("INSERT INTO chat_labels (chat_id, label_id) VALUES ($1, $2)")
                .bind(chat_id)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(|e| AppError::gone_meanwhile(e, no_label(*id)))?;
            changes.push(format!("+{id}"));
        }
        Ok(changes.join(" "))
    }
}
