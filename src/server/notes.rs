//! Private notes: what staff write on a conversation for each other. A note lives in its own
//! table, apart from the messages, so no path that serves the customer or the assistant (the
//! window, the chat API, its SSE and WebSocket, the model's prompt, customer email) can reach
//! it; staff read notes beside the history, and open panels get each new one live (on every
//! replica). `@name` mentions a member: their panel tells them, and so does an email (which says
//! who mentioned them where, not what the note says). Every note is audited. Table: `notes`.

use std::sync::Arc;

use super::{
    accounts::Accounts,
    audit::{Action, Actor, Trail},
    db::{now_ms, rfc3339, Db},
    error::{AppError, AppResult},
    events::Hub,
    identity::Staff,
    notify::Notifier,
};
use crate::model::{mentions, trim_spaces, NewNote, Note, TeamEvent, NOTE_MAX_CHARS};

/// The notes.
pub struct Notes {
    db: Db,
    hub: Arc<Hub>,
    accounts: Arc<Accounts>,
    audit: Arc<dyn Trail>,
    /// Mentions are emailed when mail is configured.
    mail: Option<Arc<Notifier>>,
}

type NoteRow = (i64, i64, Option<i64>, Option<String>, String, String, i64, i64);

fn into_note((id, chat_id, author_id, author, content, mentions, after_message_id, created_at): NoteRow) -> Note {
    Note {
        id,
        chat_id,
        author_id,
        author: author.unwrap_or_else(|| "A former member".into()),
        content,
        mentions: serde_json::from_str(&mentions).unwrap_or_default(),
        after_message_id,
        created_at: rfc3339(created_at),
    }
}

const SELECT: &str = "SELECT n.id, n.chat_id, n.author_id, u.display_name, n.content, n.mentions, n.after_message_id, \
                      n.created_at FROM notes n LEFT JOIN users u ON u.id = n.author_id";

impl Notes {
    pub fn new(
        db: Db,
        hub: Arc<Hub>,
        accounts: Arc<Accounts>,
        audit: Arc<dyn Trail>,
        mail: Option<Arc<Notifier>>,
    ) -> Self {
        Notes { db, hub, accounts, audit, mail }
    }

    /// Writes a note on a conversation; open panels get it, and the members it mentions are told.
    pub async fn add(&self, staff: Staff, chat_id: i64, new: &NewNote) -> AppResult<Note> {
        let content = trim_spaces(&new.content);
        if content.is_empty() {
            return Err(AppError::Invalid("the note is empty".into()));
        }
        let len = new.content.chars().count();
        if len > NOTE_MAX_CHARS {
            return Err(AppError::TooLong { what: "note", len, max: NOTE_MAX_CHARS });
        }
        let team = self.accounts.active_staff().await?;
        let mentioned: Vec<i64> =
            mentions(content, team.iter().map(|m| (m.id, m.display_name.as_str(), m.email.as_str())))
                .into_iter()
                .filter(|id| *id != staff.user_id)
                .collect();
        let mut tx = self.db.write.begin().await?;
        // Written only while the conversation exists; one deleted meanwhile fails the foreign key
        // (PostgreSQL checks it after the deletion commits): 404 either way.
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO notes (chat_id, author_id, content, mentions, after_message_id, created_at) \
             SELECT c.id, $2, $3, $4, COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.chat_id = c.id), 0), $5 \
             FROM chats c WHERE c.id = $1 RETURNING id",
        )
        .bind(chat_id)
        .bind(staff.user_id)
        .bind(content)
        .bind(serde_json::to_string(&mentioned).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| AppError::gone_meanwhile(e, AppError::not_found("inquiry")))?;
        let (id,) = id.ok_or(AppError::not_found("inquiry"))?;
        let detail = format!("note {id}; mentions {}", mentioned.len());
        self.audit
            .record(&mut tx, Actor::Staff(staff.user_id), Action { name: "note.added", chat_id: Some(chat_id), detail })
            .await?;
        tx.commit().await?;
        let note = self.one(id).await?;
        self.hub.send_to_team(TeamEvent::NoteCreated(note.clone()));
        if let Some(mail) = &self.mail {
            for member in team.iter().filter(|m| mentioned.contains(&m.id)) {
                mail.mentioned(&member.email, &note.author, chat_id);
            }
        }
        Ok(note)
    }

    /// A conversation's notes, oldest first.
    pub async fn list(&self, _staff: Staff, chat_id: i64) -> AppResult<Vec<Note>> {
        let (exists,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM chats WHERE id = $1").bind(chat_id).fetch_one(&self.db.read).await?;
        if exists == 0 {
            return Err(AppError::not_found("inquiry"));
        }
        let rows: Vec<NoteRow> = sqlx::query_as(&format!("{SELECT} WHERE n.chat_id = $1 ORDER BY n.id"))
            .bind(chat_id)
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows.into_iter().map(into_note).collect())
    }

    async fn one(&self, id: i64) -> AppResult<Note> {
        let row: NoteRow =
            sqlx::query_as(&format!("{SELECT} WHERE n.id = $1")).bind(id).fetch_one(&self.db.write).await?;
        Ok(into_note(row))
    }
}
