//! Staff accounts: creating them (an admin's creation is audited), the first admin, passwords
//! (Argon2, hashed off the async workers, bounded), signing in and out, and who is signed in.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use super::Accounts;
use crate::{
    model::{CreatedStaff, Email, Me, NewStaff, ProfilePatch, StaffMember, StaffPatch},
    server::{
        audit::{Action, Actor},
        db::{now_ms, Backend},
        error::{AppError, AppResult},
        identity::{Staff, StaffRole},
    },
};

pub(super) fn hash_password(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A new password a member chose: 12 to 1,024 characters, or a 422 that says so.
pub(super) fn check_new_password(password: &str) -> AppResult<()> {
    if !(12..=1024).contains(&password.chars().count()) {
        return Err(AppError::Invalid("the new password must be 12 to 1,024 characters".into()));
    }
    Ok(())
}

/// A readable random password (for the first admin).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// A member as read: id, email, name, role, when deactivated.
type MemberRow = (i64, Option<String>, String, Option<String>, Option<i64>);

impl Accounts {
    /// Creates a staff account; the password is hashed off the async worker threads.
    pub async fn create_staff(
        &self,
        email: &str,
        display_name: &str,
        role: StaffRole,
        password: &str,
    ) -> AppResult<i64> {
        Ok(self.insert_staff(email, display_name, role, password, None).await?.id)
    }

    /// Whether this server sends email (invitations, reset links, mentions).
    pub fn sends_mail(&self) -> bool {
        self.mail.is_some()
    }

    /// A new staff account with a generated password, shown once, or invited by email (admins
    /// only).
    pub async fn add_staff(&self, admin: Staff, new: &NewStaff) -> AppResult<CreatedStaff> {
        admin.require_admin()?;
        let role = new.role.unwrap_or(StaffRole::Agent);
        let name = crate::model::trim_spaces(&new.display_name);
        if name.is_empty() || new.display_name.chars().count() > 80 {
            return Err(AppError::Invalid("the display name must be 1 to 80 characters".into()));
        }
        let mail = match (new.invite, &self.mail) {
            (false, _) => None,
            (true, Some(mail)) => Some(mail.clone()),
            (true, None) => {
                return Err(AppError::Conflict(
                    "invitations are emailed, and mail is not set up (FRONTDESK_SMTP_URL): add the member \
                     with a generated password instead"
                        .into(),
                ))
            }
        };
        let inviter = match mail {
            Some(_) => self.me(admin.user_id).await?.display_name,
            None => String::new(),
        };
        let password = generate_password();
        let member = self.insert_staff(&new.email, name, role, &password, Some(admin)).await?;
        let Some(mail) = mail else { return Ok(CreatedStaff { member, password: Some(password) }) };
        // Nobody ever sees the generated password: the invitation's link sets theirs. (Should
        // the link not be written, "Forgot password?" with their address sends them one.)
        let mut tx = self.db.write.begin().await?;
        let token = Self::new_link(&mut tx, member.id, super::reset::INVITE_VALID_MS).await?;
        tx.commit().await?;
        mail.invitation(&member.email, &inviter, &token);
        Ok(CreatedStaff { member, password: None })
    }

    /// Creates a staff account and, when an admin made it, records that in the audit log in the
    /// same transaction.
    async fn insert_staff(
        &self,
        email: &str,
        display_name: &str,
        role: StaffRole,
        password: &str,
        created_by: Option<Staff>,
    ) -> AppResult<StaffMember> {
        let email = Email::parse(email).map_err(AppError::Invalid)?;
        if password.chars().count() < 12 {
            return Err(AppError::Invalid("the password must be at least 12 characters".into()));
        }
        let password = password.to_string();
        let hash = self.sign_ins.hash(move || hash_password(&password)).await??;
        let display_name = display_name.trim();
        let mut tx = self.db.write.begin().await?;
        let created: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO users (kind, email, display_name, password_hash, role, created_at) \
             VALUES ('staff', $1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email.as_str())
        .bind(display_name)
        .bind(hash)
        .bind(role.as_str())
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let (id,) = created.ok_or_else(|| AppError::Conflict(format!("{email} already has an account")))?;
        if let Some(admin) = created_by {
            let detail = format!("staff {id} ({})", role.as_str());
            let action = Action { name: "staff.created", chat_id: None, detail };
            self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        }
        tx.commit().await?;
        Ok(StaffMember {
            id,
            email: email.as_str().to_string(),
            display_name: display_name.to_string(),
            role: role.as_str().to_string(),
            active: true,
            availability: "online".into(),
            online: false,
        })
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
        match self.create_staff(email, "Admin", StaffRole::Admin, &password).await {
            Ok(_) => Ok(Some((Email::normalized(email), password))),
            // Another replica starting at the same moment created it first.
            Err(AppError::Conflict(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Signs a staff member in with a new session (the one of `old_token`, if any, ends), within
    /// the sign-in allowances of the account and the network (counted with the other replicas
    /// while there are some): who signed in, and the new session's token.
    pub async fn sign_in(
        &self,
        network: Option<std::net::IpAddr>,
        email: &str,
        password: &str,
        old_token: Option<&str>,
    ) -> AppResult<(Me, String)> {
        self.sign_ins.attempt(network, email)?;
        if self.hub.peers() > 0 {
            self.sign_ins.attempt_shared(&self.db, network, email).await?;
        }
        let user_id = self.check_password(email, password).await.map_err(|e| match e {
            AppError::Unauthorized => AppError::BadCredentials,
            other => other,
        })?;
        if let Some(old) = old_token {
            self.end_session(old).await?;
        }
        let token = self.start_session(user_id).await?;
        Ok((self.me(user_id).await?, token))
    }

    /// Checks a staff member's email and password; the same answer for an unknown email and a
    /// wrong password.
    async fn check_password(&self, email: &str, password: &str) -> AppResult<i64> {
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, password_hash FROM users WHERE kind = 'staff' AND email = $1 AND deactivated_at IS NULL",
        )
        .bind(Email::normalized(email))
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
        let ok = self.sign_ins.hash(move || verify_password(&password, &hash)).await?;
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

    /// True when `user_id` is an active member of staff.
    pub async fn is_staff(&self, user_id: i64) -> AppResult<bool> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE id = $1 AND kind = 'staff' AND deactivated_at IS NULL")
                .bind(user_id)
                .fetch_one(&self.db.read)
                .await?;
        Ok(count > 0)
    }

    /// Every staff member's email address (for notices).
    pub async fn staff_emails(&self) -> AppResult<Vec<String>> {
        let rows: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT email FROM users WHERE kind = 'staff' AND email IS NOT NULL AND deactivated_at IS NULL",
        )
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.into_iter().filter_map(|(email,)| email).collect())
    }

    /// Every member of staff, deactivated ones too.
    pub async fn list_staff(&self) -> AppResult<Vec<StaffMember>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT id, email, display_name, role, deactivated_at FROM users WHERE kind = 'staff' ORDER BY display_name, id",
        )
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, email, display_name, role, deactivated_at)| StaffMember {
                id,
                email: email.unwrap_or_default(),
                display_name,
                role: role.unwrap_or_else(|| "agent".into()),
                active: deactivated_at.is_none(),
                availability: "online".into(),
                online: false,
            })
            .collect())
    }

    /// The members who may sign in.
    pub async fn active_staff(&self) -> AppResult<Vec<StaffMember>> {
        Ok(self.list_staff().await?.into_iter().filter(|m| m.active).collect())
    }

    async fn member(&self, id: i64) -> AppResult<StaffMember> {
        self.list_staff().await?.into_iter().find(|m| m.id == id).ok_or(AppError::not_found("staff member"))
    }

    /// An admin changes a member's role or deactivates them (or lets them back). The team keeps
    /// an active admin: the last one can be neither demoted nor deactivated. A deactivated
    /// member's sessions end at once, on every replica, and with them their sockets. Whether they
    /// were deactivated now (their conversations then go back to the queue: see
    /// `Inquiries::update_member`).
    pub async fn update_staff(&self, admin: Staff, id: i64, patch: &StaffPatch) -> AppResult<(StaffMember, bool)> {
        admin.require_admin()?;
        let before = self.member(id).await?;
        let demoted = patch.role == Some(StaffRole::Agent) && before.role == "admin";
        let deactivated = patch.active == Some(false) && before.active;
        let reactivated = patch.active == Some(true) && !before.active;
        let mut tx = self.db.write.begin().await?;
        if (demoted || deactivated) && before.role == "admin" && before.active {
            // The active admins' rows are locked (on PostgreSQL): two admins demoting each other
            // at once cannot leave none (the second one counts again after the first commits).
            let lock = if self.db.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
            let admins: Vec<(i64,)> = sqlx::query_as(&format!(
                "SELECT id FROM users WHERE kind = 'staff' AND role = 'admin' AND deactivated_at IS NULL{lock}"
            ))
            .fetch_all(&mut *tx)
            .await?;
            if admins.len() <= 1 {
                return Err(AppError::Conflict(
                    "the team needs an active admin: make someone else an admin first".into(),
                ));
            }
        }
        if let Some(role) = patch.role {
            sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if deactivated || reactivated {
            let at = deactivated.then(now_ms);
            sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let ended = if deactivated { Self::delete_sessions(&mut tx, id, None).await? } else { Vec::new() };
        let mut changes = Vec::new();
        if let Some(role) = patch.role.filter(|r| r.as_str() != before.role) {
            changes.push(format!("role: {} → {}", before.role, role.as_str()));
        }
        if deactivated {
            changes.push("deactivated".into());
        }
        if reactivated {
            changes.push("reactivated".into());
        }
        if !changes.is_empty() {
            let action =
                Action { name: "staff.updated", chat_id: None, detail: format!("staff {id}: {}", changes.join("; ")) };
            self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        }
        tx.commit().await?;
        self.sessions_ended(ended);
        Ok((self.member(id).await?, deactivated))
    }

    /// A member changes their own name, or their password (with the current one); a new
    /// password ends their other sessions.
    pub async fn update_profile(
        &self,
        staff: Staff,
        network: Option<std::net::IpAddr>,
        keep_token: Option<&str>,
        patch: &ProfilePatch,
    ) -> AppResult<Me> {
        let name = match &patch.display_name {
            Some(name) => {
                let trimmed = crate::model::trim_spaces(name);
                if trimmed.is_empty() || name.chars().count() > 80 {
                    return Err(AppError::Invalid("the display name must be 1 to 80 characters".into()));
                }
                Some(trimmed.to_string())
            }
            None => None,
        };
        let hash = match &patch.password {
            Some(change) => {
                check_new_password(&change.new)?;
                if change.current.chars().count() > 1024 {
                    return Err(AppError::Invalid("the current password is at most 1,024 characters".into()));
                }
                let email = self.me(staff.user_id).await?.email.unwrap_or_default();
                // Guessing the current password is throttled like signing in (with the replicas).
                self.sign_ins.attempt(network, &email)?;
                if self.hub.peers() > 0 {
                    self.sign_ins.attempt_shared(&self.db, network, &email).await?;
                }
                self.check_password(&email, &change.current).await.map_err(|e| match e {
                    AppError::Unauthorized => AppError::NotAllowed("the current password is not right".into()),
                    other => other,
                })?;
                let new = change.new.clone();
                Some(self.sign_ins.hash(move || hash_password(&new)).await??)
            }
            None => None,
        };
        let mut tx = self.db.write.begin().await?;
        if let Some(name) = &name {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(name)
                .bind(staff.user_id)
                .execute(&mut *tx)
                .await?;
        }
        let mut ended = Vec::new();
        if let Some(hash) = hash {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(staff.user_id)
                .execute(&mut *tx)
                .await?;
            ended = Self::delete_sessions(&mut tx, staff.user_id, keep_token).await?;
            let action =
                Action { name: "staff.password_changed", chat_id: None, detail: format!("staff {}", staff.user_id) };
            self.audit.record(&mut tx, Actor::Staff(staff.user_id), action).await?;
        }
        tx.commit().await?;
        self.sessions_ended(ended);
        self.me(staff.user_id).await
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
