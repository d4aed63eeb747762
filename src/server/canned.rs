//! Canned responses: the team's saved replies, each under a shortcut (`/returns` in the reply
//! box), with placeholders filled for the conversation they go into (`{{customer.email}}`,
//! `{{product.name}}`, `{{agent.name}}`). Admins write them; all staff use them. Every change is
//! audited. Table: `canned_responses`.

use std::sync::Arc;

use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, rfc3339, Db},
    error::{AppError, AppResult},
    identity::Staff,
};
use crate::model::{is_slug, trim_spaces, CannedResponse};

/// A shortcut: 1 to 40 of a-z, 0-9, `-` and `_` (what follows `/` in the reply box).
pub const SHORTCUT_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,39}$";
/// Longest content, in characters.
pub const CONTENT_MAX_CHARS: usize = 4_000;
/// The most canned responses a team keeps.
const MAX_RESPONSES: i64 = 500;

/// A canned response as written.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    /// 1 to 40 of a-z, 0-9, `-` and `_`, starting with a letter or digit; one response each.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,39}$")]
    pub shortcut: String,
    /// Markdown, 1 to 4,000 characters; `{{customer.email}}`, `{{product.name}}` and
    /// `{{agent.name}}` are filled in for the conversation it goes into.
    #[schema(pattern = r"\S", max_length = 4000)]
    pub content: String,
}

/// What the placeholders of a response stand for in one conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placeholders {
    pub customer_email: Option<String>,
    pub product_name: Option<String>,
    pub agent_name: String,
}

impl Placeholders {
    /// `content` with its placeholders filled (an unknown one, or one without a value here — a
    /// customer who left no email — reads as nothing).
    pub fn fill(&self, content: &str) -> String {
        let mut out = String::with_capacity(content.len());
        let mut rest = content;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = rest[start + 2..start + end].trim();
            match name {
                "customer.email" => out.push_str(self.customer_email.as_deref().unwrap_or("")),
                "product.name" => out.push_str(self.product_name.as_deref().unwrap_or("")),
                "agent.name" => out.push_str(&self.agent_name),
                _ => {}
            }
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// The team's canned responses.
pub struct Canned {
    db: Db,
    audit: Arc<dyn Trail>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    shortcut: String,
    content: String,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_response(self) -> CannedResponse {
        CannedResponse {
            id: self.id,
            shortcut: self.shortcut,
            content: self.content,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// The input with its content trimmed, or a 422 that says what is wrong.
fn checked(input: &CannedInput) -> AppResult<CannedInput> {
    let shortcut = input.shortcut.clone();
    if !is_slug(&shortcut) {
        return Err(AppError::Invalid("the shortcut must be 1 to 40 of a-z, 0-9, - and _".into()));
    }
    let content = trim_spaces(&input.content);
    if content.is_empty() || content.chars().count() > CONTENT_MAX_CHARS {
        return Err(AppError::Invalid(format!("the content must be 1 to {CONTENT_MAX_CHARS} characters")));
    }
    Ok(CannedInput { shortcut, content: content.to_string() })
}

impl Canned {
    pub fn new(db: Db, audit: Arc<dyn Trail>) -> Self {
        Canned { db, audit }
    }

    /// The responses whose shortcut or content holds `q` (any case; all without), by shortcut.
    pub async fn list(&self, _staff: Staff, q: Option<&str>) -> AppResult<Vec<CannedResponse>> {
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(AppError::Invalid("q is at most 200 characters".into()));
        }
        let pattern = q.map(|q| format!("%{}%", q.trim().to_lowercase().replace(['%', '_', '\\'], "")));
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, shortcut, content, created_at, updated_at FROM canned_responses \
             WHERE $1 IS NULL OR shortcut LIKE $1 OR LOWER(content) LIKE $1 ORDER BY shortcut LIMIT 200",
        )
        .bind(pattern)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.into_iter().map(Row::into_response).collect())
    }

    pub async fn get(&self, _staff: Staff, id: i64) -> AppResult<CannedResponse> {
        let row: Option<Row> =
            sqlx::query_as("SELECT id, shortcut, content, created_at, updated_at FROM canned_responses WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.db.read)
                .await?;
        row.map(Row::into_response).ok_or(AppError::not_found("canned response"))
    }

    /// A new response (admins); a shortcut in use is a 409.
    pub async fn create(&self, admin: Staff, input: &CannedInput) -> AppResult<CannedResponse> {
        admin.require_admin()?;
        let input = checked(input)?;
        let mut tx = self.db.write.begin().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM canned_responses").fetch_one(&mut *tx).await?;
        if count >= MAX_RESPONSES {
            return Err(AppError::Invalid(format!("a team keeps at most {MAX_RESPONSES} canned responses")));
        }
        let now = now_ms();
        let created: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO canned_responses (shortcut, content, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (shortcut) DO NOTHING RETURNING id",
        )
        .bind(&input.shortcut)
        .bind(&input.content)
        .bind(admin.user_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (id,) = created.ok_or_else(|| in_use(&input.shortcut))?;
        let action = Action { name: "canned.created", chat_id: None, detail: format!("/{}", input.shortcut) };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        Ok(CannedResponse {
            id,
            shortcut: input.shortcut,
            content: input.content,
            created_at: rfc3339(now),
            updated_at: rfc3339(now),
        })
    }

    /// Changes a response (admins); a shortcut another response has is a 409.
    pub async fn update(&self, admin: Staff, id: i64, input: &CannedInput) -> AppResult<CannedResponse> {
        admin.require_admin()?;
        let input = checked(input)?;
        let mut tx = self.db.write.begin().await?;
        let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM canned_responses WHERE shortcut = $1 AND id <> $2")
            .bind(&input.shortcut)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(in_use(&input.shortcut));
        }
        let updated =
            sqlx::query("UPDATE canned_responses SET shortcut = $1, content = $2, updated_at = $3 WHERE id = $4")
                .bind(&input.shortcut)
                .bind(&input.content)
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(AppError::not_found("canned response"));
        }
        let action = Action { name: "canned.updated", chat_id: None, detail: format!("/{}", input.shortcut) };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        self.get(admin, id).await
    }

    /// Deletes a response (admins).
    pub async fn delete(&self, admin: Staff, id: i64) -> AppResult<()> {
        admin.require_admin()?;
        let mut tx = self.db.write.begin().await?;
        let gone: Option<(String,)> = sqlx::query_as("DELETE FROM canned_responses WHERE id = $1 RETURNING shortcut")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let (shortcut,) = gone.ok_or(AppError::not_found("canned response"))?;
        let action = Action { name: "canned.deleted", chat_id: None, detail: format!("/{shortcut}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn in_use(shortcut: &str) -> AppError {
    AppError::Conflict(format!("/{shortcut} is taken by another canned response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_a_missing_or_unknown_one_reads_as_nothing() {
        let here = Placeholders {
            customer_email: Some("ann@example.com".into()),
            product_name: Some("Oak Chair".into()),
            agent_name: "Alice".into(),
        };
        let text = "Hi! {{ agent.name }} here about the {{product.name}}: we wrote to {{customer.email}}.{{x}}";
        assert_eq!(here.fill(text), "Hi! Alice here about the Oak Chair: we wrote to ann@example.com.");
        let nothing = Placeholders { agent_name: "Bo".into(), ..Placeholders::default() };
        assert_eq!(nothing.fill("{{customer.email}}|{{product.name}}|{{agent.name}}"), "||Bo");
        assert_eq!(nothing.fill("an {{unclosed"), "an {{unclosed");
    }

    #[test]
    fn a_shortcut_is_lowercase_letters_digits_dashes_and_underscores() {
        assert!(is_slug("returns-30_days"));
        assert!(!is_slug("-returns"));
        assert!(!is_slug("Returns"));
        assert!(!is_slug(""));
        let input = CannedInput { shortcut: "refund".into(), content: " We refund within 5 days. ".into() };
        assert_eq!(
            checked(&input).unwrap(),
            CannedInput { shortcut: "refund".into(), content: "We refund within 5 days.".into() }
        );
    }
}
