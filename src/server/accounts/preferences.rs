//! A visitor's preferences: theme, send key, sound, text size and the context new chats start in.

use super::Accounts;
use crate::{
    model::{Preferences, SendKey, TextSize, Theme},
    server::{db::now_ms, error::AppResult, identity::Caller},
};

impl Accounts {
    /// The caller's preferences; the defaults for a visitor who saved none (or nobody).
    pub async fn preferences(&self, caller: Caller) -> AppResult<Preferences> {
        let row: Option<(String, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT theme, send_key, sound, text_size, default_context FROM preferences WHERE user_id = $1",
        )
        .bind(caller.user_id)
        .fetch_optional(&self.db.read)
        .await?;
        Ok(match row {
            None => Preferences::default(),
            Some((theme, send_key, sound, text_size, default_context)) => Preferences {
                theme: theme.parse::<Theme>().unwrap_or(Theme::System),
                send_key: send_key.parse::<SendKey>().unwrap_or(SendKey::ShiftEnter),
                sound: sound != 0,
                text_size: text_size.parse::<TextSize>().unwrap_or(TextSize::Medium),
                default_context,
            },
        })
    }

    /// Preferences that [`Accounts::save_preferences`] would refuse (checked before a visitor is
    /// created for them): a context that does not exist.
    pub fn check_preferences(&self, prefs: &Preferences) -> AppResult<()> {
        if let Some(id) = &prefs.default_context {
            self.contexts.current().check(id)?;
        }
        Ok(())
    }

    pub async fn save_preferences(&self, caller: Caller, prefs: &Preferences) -> AppResult<Preferences> {
        self.check_preferences(prefs)?;
        sqlx::query(
            "INSERT INTO preferences (user_id, theme, send_key, sound, text_size, default_context, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET theme = excluded.theme, send_key = excluded.send_key, \
             sound = excluded.sound, text_size = excluded.text_size, default_context = excluded.default_context, \
             updated_at = excluded.updated_at",
        )
        .bind(caller.user_id)
        .bind(prefs.theme.as_str())
        .bind(prefs.send_key.as_str())
        .bind(prefs.sound as i64)
        .bind(prefs.text_size.as_str())
        .bind(prefs.default_context.as_deref())
        .bind(now_ms())
        .execute(&self.db.write)
        .await?;
        self.preferences(caller).await
    }
}
