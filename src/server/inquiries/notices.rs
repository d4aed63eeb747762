//! Telling the team by email (when `FRONTDESK_SMTP_URL` is set) that a conversation became high
//! priority: the chats and the staff side say so through [`Alerts`]. With other replicas alive,
//! the notice allowances are also counted with them in the database (each process alone would
//! let N times as many through).

use std::sync::Arc;

use crate::server::{
    accounts::Accounts,
    chat::Alerts,
    db::Db,
    error::AppResult,
    events::Hub,
    notify::{InquiryNotice, Notifier, NOTICE_WINDOW},
    throttle::count_shared,
};

/// The staff notices.
pub struct Notices {
    db: Db,
    hub: Arc<Hub>,
    accounts: Arc<Accounts>,
    /// None when no mail is configured: a notice is then nothing.
    notifier: Option<Arc<Notifier>>,
}

impl Notices {
    pub fn new(db: Db, hub: Arc<Hub>, accounts: Arc<Accounts>, notifier: Option<Arc<Notifier>>) -> Self {
        Notices { db, hub, accounts, notifier }
    }

    /// The mail sender, when mail is configured.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_deref()
    }

    /// Who to tell about a conversation, and what: every staff member's address, its title, its
    /// product and the customer's newest message.
    async fn notice(&self, chat_id: i64) -> AppResult<Option<(Vec<String>, InquiryNotice)>> {
        let chat: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT c.title, p.name, (SELECT m.content FROM messages m WHERE m.chat_id = c.id AND m.role = 'user' \
             ORDER BY m.id DESC LIMIT 1) FROM chats c LEFT JOIN products p ON p.external_id = c.product WHERE c.id = $1",
        )
        .bind(chat_id)
        .fetch_optional(&self.db.read)
        .await?;
        let Some((title, product, last_message)) = chat else { return Ok(None) };
        Ok(Some((self.accounts.staff_emails().await?, InquiryNotice { chat_id, title, product, last_message })))
    }
}

#[async_trait::async_trait]
impl Alerts for Notices {
    async fn high_priority(&self, chat_id: i64) {
        let Some(notifier) = &self.notifier else { return };
        if self.hub.peers() > 0 {
            let allowances = notifier.shared_allowances(chat_id);
            match count_shared(&self.db, NOTICE_WINDOW, &allowances).await {
                Ok(None) => {}
                Ok(Some(_)) => return notifier.throttled(chat_id),
                // Counting failed: this replica's own throttles still apply.
                Err(error) => tracing::warn!(?error, chat_id, "could not count the staff notice with the replicas"),
            }
        }
        match self.notice(chat_id).await {
            Ok(Some((to, notice))) => notifier.high_priority(to, notice),
            Ok(None) => {}
            Err(error) => tracing::warn!(?error, chat_id, "could not prepare the staff notice"),
        }
    }
}
