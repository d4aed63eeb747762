//! The staff side of the chat service: staff accounts and sign-in, and inquiries, which are chats
//! seen from the staff side (not a second model). Adapters check the role; the rules live here.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use super::{
    db::now_ms,
    error::{AppError, AppResult},
    service::{ChatRow, ChatService, CHAT_COLUMNS},
    session::{Staff, StaffRole},
};
use crate::model::{ChatStatus, Message, MessagePage, MessageStatus, Priority, Role};
pub use crate::model::{Inquiry, InquiryFilter, InquiryPage, InquiryPatch, Me, StaffMember};

#[derive(sqlx::FromRow)]
struct InquiryRow {
    #[sqlx(flatten)]
    chat: ChatRow,
    product_name: Option<String>,
    message_count: i64,
    customer_message_count: i64,
    unread_count: i64,
    last_message: Option<String>,
}

impl InquiryRow {
    fn into_inquiry(self) -> AppResult<Inquiry> {
        Ok(Inquiry {
            chat: self.chat.into_chat()?,
            product_name: self.product_name,
            message_count: self.message_count,
            customer_message_count: self.customer_message_count,
            unread_count: self.unread_count,
            last_message: self.last_message,
        })
    }
}

const INQUIRY_SELECT: &str = "SELECT c.id, c.owner_id, c.title, c.context, c.product_id, c.status, c.priority, \
     c.assignee_id, c.ai_enabled, c.customer_email, c.created_at, c.updated_at, c.last_activity_at, c.last_seq, \
     c.staff_read_up_to, c.customer_read_up_to, c.staff_delivered_up_to, \
     p.name AS product_name, \
     (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS message_count, \
     (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.role = 'user') AS customer_message_count, \
     (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.role = 'user' AND m.id > c.staff_read_up_to) AS unread_count, \
     (SELECT m.content FROM messages m WHERE m.chat_id = c.id AND m.role <> 'system' AND m.status <> 'streaming' \
      ORDER BY m.id DESC LIMIT 1) AS last_message \
     FROM chats c LEFT JOIN products p ON p.id = c.product_id";

/// A chat is an inquiry once the customer wrote, left an email or asked for a person, or staff
/// acted on it: a visitor who only opened the window is not one.
const TOUCHED: &str = "(c.status <> 'pending' OR c.ai_enabled = 0 OR c.customer_email IS NOT NULL \
     OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.role = 'user'))";

fn hash_password(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A readable random password (for the first admin).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

impl ChatService {
    /// Creates a staff account; the password is hashed off the async worker threads.
    pub async fn create_staff(
        &self,
        email: &str,
        display_name: &str,
        role: StaffRole,
        password: &str,
    ) -> AppResult<i64> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') || email.len() > 254 {
            return Err(AppError::Invalid("give a valid email address".into()));
        }
        if password.chars().count() < 12 {
            return Err(AppError::Invalid("the password must be at least 12 characters".into()));
        }
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let role = match role {
            StaffRole::Admin => "admin",
            StaffRole::Agent => "agent",
        };
        let created: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO users (kind, email, display_name, password_hash, role, created_at) \
             VALUES ('staff', $1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(&email)
        .bind(display_name.trim())
        .bind(hash)
        .bind(role)
        .bind(now_ms())
        .fetch_optional(&self.db.write)
        .await?;
        created.map(|(id,)| id).ok_or_else(|| AppError::Conflict(format!("{email} already has an account")))
    }

    /// On a first start with no staff, creates an admin with `password` (or a generated one) and
    /// returns its email and password (to be printed once when generated).
    pub async fn ensure_first_admin(&self, email: &str, password: Option<&str>) -> AppResult<Option<(String, String)>> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'staff'").fetch_one(&self.db.read).await?;
        if count > 0 {
            return Ok(None);
        }
        let password = password.map(str::to_string).filter(|p| !p.is_empty()).unwrap_or_else(generate_password);
        self.create_staff(email, "Admin", StaffRole::Admin, &password).await?;
        Ok(Some((email.trim().to_lowercase(), password)))
    }

    /// Checks a staff member's email and password; the same answer for an unknown email and a
    /// wrong password.
    pub async fn check_password(&self, email: &str, password: &str) -> AppResult<i64> {
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE kind = 'staff' AND email = $1")
                .bind(email.trim().to_lowercase())
                .fetch_optional(&self.db.read)
                .await?;
        let (id, hash) = match row {
            Some((id, Some(hash))) => (Some(id), hash),
            // Verify against a throwaway hash so an unknown email takes as long as a known one.
            _ => (
                None,
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8Jb9p0n3l9l3Jb0bQGq3XbqkcX3l5m4vJb0bQGq3Xbo"
                    .into(),
            ),
        };
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        match (id, ok) {
            (Some(id), true) => Ok(id),
            _ => Err(AppError::Unauthorized),
        }
    }

    pub async fn me(&self, user_id: i64) -> AppResult<Me> {
        let (id, kind, email, display_name, role): (i64, String, Option<String>, String, Option<String>) =
            sqlx::query_as("SELECT id, kind, email, display_name, role FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.read)
                .await?
                .ok_or(AppError::Unauthorized)?;
        Ok(Me { id, kind, email, display_name, role })
    }

    pub async fn list_staff(&self) -> AppResult<Vec<StaffMember>> {
        let rows: Vec<(i64, Option<String>, String, Option<String>)> = sqlx::query_as(
            "SELECT id, email, display_name, role FROM users WHERE kind = 'staff' ORDER BY display_name, id",
        )
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, email, display_name, role)| StaffMember {
                id,
                email: email.unwrap_or_default(),
                display_name,
                role: role.unwrap_or_else(|| "agent".into()),
            })
            .collect())
    }

    /// The inquiry list: newest activity first, filtered, in cursor pages.
    pub async fn inquiries(&self, staff: Staff, filter: &InquiryFilter) -> AppResult<InquiryPage> {
        let limit = filter.limit.unwrap_or(30);
        if !(1..=100).contains(&limit) {
            return Err(AppError::Invalid("limit must be between 1 and 100".into()));
        }
        let status = match filter.status.as_deref() {
            None | Some("") => "pending".to_string(),
            Some("all") => String::new(),
            Some(s) => s.parse::<ChatStatus>().map_err(AppError::Invalid)?.as_str().to_string(),
        };
        let assignee = match filter.assignee.as_deref() {
            None | Some("") => 0,
            Some("me") => staff.user_id,
            Some(id) => id.parse::<i64>().map_err(|_| AppError::Invalid("assignee is a staff id or 'me'".into()))?,
        };
        let (before_at, before_id) = match filter.before.as_deref() {
            None => (i64::MAX, i64::MAX),
            Some(cursor) => cursor
                .split_once('.')
                .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| AppError::Invalid("before is a cursor from an earlier page".into()))?,
        };
        let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(|q| {
            let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let rows: Vec<InquiryRow> = sqlx::query_as(&format!(
            "{INQUIRY_SELECT} WHERE {TOUCHED} AND ($1 = '' OR c.status = $1) AND ($2 = '' OR c.priority = $2) \
             AND ($3 = 0 OR c.product_id = $3) AND ($4 = 0 OR c.assignee_id = $4) \
             AND ($5 = '' OR LOWER(c.title) LIKE $5 ESCAPE '\\' OR LOWER(COALESCE(c.customer_email, '')) LIKE $5 ESCAPE '\\' \
                  OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND LOWER(m.content) LIKE $5 ESCAPE '\\')) \
             AND (c.last_activity_at < $6 OR (c.last_activity_at = $6 AND c.id < $7)) \
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $8"
        ))
        .bind(&status)
        .bind(filter.priority.map_or("", |p| p.as_str()))
        .bind(filter.product_id.unwrap_or(0))
        .bind(assignee)
        .bind(q.unwrap_or_default())
        .bind(before_at)
        .bind(before_id)
        .bind(limit + 1)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() as i64 > limit;
        let cursor = rows.get(limit as usize - 1).map(|r| format!("{}.{}", r.chat.last_activity_at, r.chat.id));
        let inquiries =
            rows.into_iter().take(limit as usize).map(InquiryRow::into_inquiry).collect::<AppResult<Vec<_>>>()?;
        Ok(InquiryPage { inquiries, next_cursor: if more { cursor } else { None } })
    }

    pub async fn inquiry(&self, _staff: Staff, chat_id: i64) -> AppResult<Inquiry> {
        sqlx::query_as::<_, InquiryRow>(&format!("{INQUIRY_SELECT} WHERE c.id = $1"))
            .bind(chat_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(AppError::not_found("inquiry"))?
            .into_inquiry()
    }

    pub async fn inquiry_messages(
        &self,
        _staff: Staff,
        chat_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        self.any_chat(chat_id).await?;
        self.page_of(chat_id, before, after, limit).await
    }

    /// A conversation's events after `after`, for staff (the same events the customer gets).
    pub async fn follow_inquiry(
        &self,
        _staff: Staff,
        chat_id: i64,
        after: Option<i64>,
    ) -> AppResult<futures::stream::BoxStream<'static, AppResult<crate::model::ChatEvent>>> {
        let chat = self.any_chat(chat_id).await?;
        self.follow_chat(&chat, after).await
    }

    async fn any_chat(&self, chat_id: i64) -> AppResult<ChatRow> {
        sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1"))
            .bind(chat_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(AppError::not_found("inquiry"))
    }

    async fn staff_name(&self, staff: Staff) -> AppResult<String> {
        Ok(self.me(staff.user_id).await?.display_name)
    }

    /// A staff reply. Replying takes the conversation over: the assistant stops, the customer sees
    /// that a person joined, and the inquiry is in progress and assigned (if it was not).
    pub async fn staff_reply(&self, staff: Staff, chat_id: i64, content: &str) -> AppResult<Message> {
        self.check_staff_content(content)?;
        let chat = self.any_chat(chat_id).await?;
        let name = self.staff_name(staff).await?;
        self.cancel_replies_of(chat_id);
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        if chat.ai_enabled != 0 {
            self.insert_message(
                &mut tx,
                &mut writer,
                None,
                Role::System,
                &format!("{name} joined the conversation"),
                MessageStatus::Complete,
            )
            .await?;
        }
        sqlx::query(
            "UPDATE chats SET ai_enabled = 0, status = CASE WHEN status = 'pending' THEN 'in_progress' ELSE status END, \
             assignee_id = COALESCE(assignee_id, $1) WHERE id = $2",
        )
        .bind(staff.user_id)
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
        let message = self
            .insert_message(&mut tx, &mut writer, Some(staff.user_id), Role::Agent, content, MessageStatus::Complete)
            .await?;
        // What staff sent, staff have read.
        sqlx::query("UPDATE chats SET staff_read_up_to = $1 WHERE id = $2")
            .bind(message.id)
            .bind(chat_id)
            .execute(&mut *tx)
            .await?;
        self.record_chat_updated(&mut tx, &mut writer).await?;
        tx.commit().await?;
        writer.publish();
        Ok(message)
    }

    /// Status, priority, assignee, and taking over from / handing back to the assistant.
    pub async fn update_inquiry(&self, staff: Staff, chat_id: i64, patch: &InquiryPatch) -> AppResult<Inquiry> {
        let chat = self.any_chat(chat_id).await?;
        if let Some(Some(assignee)) = patch.assignee_id {
            let (is_staff,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE id = $1 AND kind = 'staff'")
                .bind(assignee)
                .fetch_one(&self.db.read)
                .await?;
            if is_staff == 0 {
                return Err(AppError::Invalid(format!("there is no staff member with id {assignee}")));
            }
        }
        let name = self.staff_name(staff).await?;
        let taking_over = patch.ai_enabled == Some(false) && chat.ai_enabled != 0;
        let handing_back = patch.ai_enabled == Some(true) && chat.ai_enabled == 0;
        if taking_over {
            self.cancel_replies_of(chat_id);
        }
        let mut writer = self.hub.writer(chat_id).await;
        let mut tx = self.db.write.begin().await?;
        // One statement for the plain fields: NULL leaves a field as it is.
        let (set_assignee, assignee) = match patch.assignee_id {
            Some(assignee) => (1i64, assignee),
            None => (0, None),
        };
        sqlx::query(
            "UPDATE chats SET status = COALESCE($1, status), priority = COALESCE($2, priority), \
             assignee_id = CASE WHEN $3 = 1 THEN $4 ELSE assignee_id END, updated_at = $5 WHERE id = $6",
        )
        .bind(patch.status.map(|s| s.as_str()))
        .bind(patch.priority.map(|p| p.as_str()))
        .bind(set_assignee)
        .bind(assignee)
        .bind(now_ms())
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
        if taking_over || handing_back {
            sqlx::query("UPDATE chats SET ai_enabled = $1 WHERE id = $2")
                .bind(if handing_back { 1i64 } else { 0 })
                .bind(chat_id)
                .execute(&mut *tx)
                .await?;
            let line = if taking_over {
                format!("{name} joined the conversation")
            } else {
                "The assistant is answering again".to_string()
            };
            self.insert_message(&mut tx, &mut writer, None, Role::System, &line, MessageStatus::Complete).await?;
        }
        self.record_chat_updated(&mut tx, &mut writer).await?;
        tx.commit().await?;
        writer.publish();
        drop(writer);
        if patch.priority == Some(Priority::High) && chat.priority != "high" {
            self.notify_high_priority(chat_id).await;
        }
        self.inquiry(staff, chat_id).await
    }

    /// A customer message reached a staff member's screen (the panel or the conversation feed).
    pub async fn staff_received(&self, chat_id: i64, message_id: i64) -> AppResult<()> {
        self.record_read(chat_id, "staff_delivered_up_to", message_id).await?;
        Ok(())
    }

    /// Staff have read the conversation up to message `up_to`; the customer sees the read mark.
    pub async fn staff_read(&self, _staff: Staff, chat_id: i64, up_to: i64) -> AppResult<()> {
        self.any_chat(chat_id).await?;
        self.record_read(chat_id, "staff_read_up_to", up_to).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify_and_a_wrong_one_fails() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
