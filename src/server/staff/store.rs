//! The writes staff make to a chat, in its [`ChatTx`] (taking over, triage, handing back); the
//! chat's own writes are in `chat::store`.

use crate::{
    model::{ChatStatus, Priority},
    server::{db::now_ms, error::AppResult, events::ChatTx},
};

impl ChatTx<'_> {
    /// A staff member replies: the assistant stops, the chat is in progress and assigned (when it
    /// was not), and what staff sent, staff have read.
    pub async fn staff_replied(&mut self, staff_id: i64, message_id: i64) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query(
            "UPDATE chats SET ai_enabled = 0, status = CASE WHEN status = 'pending' THEN 'in_progress' ELSE status END, \
             assignee_id = COALESCE(assignee_id, $1), staff_read_up_to = $2 WHERE id = $3",
        )
        .bind(staff_id)
        .bind(message_id)
        .bind(chat_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Status, priority and assignee (`None` leaves each as it is; `Some(None)` unassigns).
    pub async fn set_triage(
        &mut self,
        status: Option<ChatStatus>,
        priority: Option<Priority>,
        assignee: Option<Option<i64>>,
    ) -> AppResult<()> {
        let chat_id = self.chat_id();
        let (set_assignee, assignee) = match assignee {
            Some(assignee) => (1i64, assignee),
            None => (0, None),
        };
        sqlx::query(
            "UPDATE chats SET status = COALESCE($1, status), priority = COALESCE($2, priority), \
             assignee_id = CASE WHEN $3 = 1 THEN $4 ELSE assignee_id END, updated_at = $5 WHERE id = $6",
        )
        .bind(status.map(|s| s.as_str()))
        .bind(priority.map(|p| p.as_str()))
        .bind(set_assignee)
        .bind(assignee)
        .bind(now_ms())
        .bind(chat_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn set_ai_enabled(&mut self, enabled: bool) -> AppResult<()> {
        let chat_id = self.chat_id();
        sqlx::query("UPDATE chats SET ai_enabled = $1 WHERE id = $2")
            .bind(enabled as i64)
            .bind(chat_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
