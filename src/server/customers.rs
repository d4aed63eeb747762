//! Customers as staff see them beside a conversation: who they are (email, first seen), what they
//! did before (their conversations, products and pages, the tokens spent on them), and how they
//! came (browser and system from the User-Agent that started the conversation, read with the
//! `woothee` parser; the time zone the embedded window's page said). Reads the chats and the
//! catalog; owns `chat_visits` (one row per conversation, written as it starts).

use super::{
    chat::store::TOUCHED,
    db::{rfc3339, Db},
    error::{AppError, AppResult},
    identity::Staff,
};
use crate::model::{is_time_zone, CustomerConversation, CustomerProduct, CustomerProfile, Page};

/// The longest User-Agent kept.
const USER_AGENT_MAX: usize = 512;

pub struct Customers {
    db: Db,
}

/// A browser's own name for itself, made readable: (browser, system).
fn read_user_agent(user_agent: &str) -> (Option<String>, Option<String>) {
    let Some(found) = woothee::parser::Parser::new().parse(user_agent) else { return (None, None) };
    let known = |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_string());
    let with_version = |name: &str, version: &str| {
        known(name).map(|name| match known(version) {
            Some(version) => format!("{name} {version}"),
            None => name,
        })
    };
    (with_version(found.name, found.version), with_version(found.os, &found.os_version))
}

impl Customers {
    pub fn new(db: Db) -> Self {
        Customers { db }
    }

    /// Notes how a conversation started: the browser's User-Agent and, when it is a time zone's
    /// name, the time zone (anything else is left out). Written once per conversation.
    pub async fn note_visit(&self, chat_id: i64, user_agent: Option<&str>, time_zone: Option<&str>) -> AppResult<()> {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX).collect::<String>())
            .filter(|ua| !ua.trim().is_empty());
        let time_zone = time_zone.filter(|tz| is_time_zone(tz));
        if user_agent.is_none() && time_zone.is_none() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO chat_visits (chat_id, user_agent, time_zone) VALUES ($1, $2, $3) \
             ON CONFLICT (chat_id) DO NOTHING",
        )
        .bind(chat_id)
        .bind(user_agent)
        .bind(time_zone)
        .execute(&self.db.write)
        .await?;
        Ok(())
    }

    /// The customer of conversation `chat_id`, as the panel shows them beside it.
    pub async fn profile(&self, _staff: Staff, chat_id: i64) -> AppResult<CustomerProfile> {
        let read = &self.db.read;
        let found: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT owner_id, customer_email FROM chats WHERE id = $1")
                .bind(chat_id)
                .fetch_optional(read)
                .await?;
        let (owner, email_here) = found.ok_or(AppError::not_found("inquiry"))?;
        let (first_seen,): (i64,) =
            sqlx::query_as("SELECT created_at FROM users WHERE id = $1").bind(owner).fetch_one(read).await?;
        let email = match email_here {
            Some(email) => Some(email),
            None => sqlx::query_as::<_, (String,)>(
                "SELECT customer_email FROM chats WHERE owner_id = $1 AND customer_email IS NOT NULL \
                 ORDER BY last_activity_at DESC LIMIT 1",
            )
            .bind(owner)
            .fetch_optional(read)
            .await?
            .map(|(email,)| email),
        };
        let conversations: Vec<(i64, String, String, i64)> = sqlx::query_as(&format!(
            "SELECT c.id, c.title, c.status, c.last_activity_at FROM chats c WHERE c.owner_id = $1 \
             AND ({TOUCHED} OR c.id = $2) ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 20"
        ))
        .bind(owner)
        .bind(chat_id)
        .fetch_all(read)
        .await?;
        let products: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT c.product, MAX(p.name) FROM chats c LEFT JOIN products p ON p.external_id = c.product \
             WHERE c.owner_id = $1 AND c.product IS NOT NULL GROUP BY c.product \
             ORDER BY MAX(c.last_activity_at) DESC LIMIT 20",
        )
        .bind(owner)
        .fetch_all(read)
        .await?;
        let pages: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT c.page_url, MAX(c.page_title) FROM chats c WHERE c.owner_id = $1 AND c.page_url IS NOT NULL \
             GROUP BY c.page_url ORDER BY MAX(c.last_activity_at) DESC LIMIT 10",
        )
        .bind(owner)
        .fetch_all(read)
        .await?;
        let (tokens_used,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(SUM(tokens_used), 0) AS BIGINT) FROM chats WHERE owner_id = $1")
                .bind(owner)
                .fetch_one(read)
                .await?;
        // This conversation's visit, or else their newest that was noted.
        let visit: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT v.user_agent, v.time_zone FROM chat_visits v JOIN chats c ON c.id = v.chat_id \
             WHERE c.owner_id = $1 ORDER BY CASE WHEN v.chat_id = $2 THEN 0 ELSE 1 END, v.chat_id DESC LIMIT 1",
        )
        .bind(owner)
        .bind(chat_id)
        .fetch_optional(read)
        .await?;
        let (user_agent, time_zone) = visit.unwrap_or_default();
        let (browser, system) = user_agent.as_deref().map(read_user_agent).unwrap_or_default();
        Ok(CustomerProfile {
            customer_id: owner,
            email,
            first_seen: rfc3339(first_seen),
            conversations: conversations
                .into_iter()
                .map(|(id, title, status, at)| CustomerConversation {
                    id,
                    title,
                    status,
                    last_activity_at: rfc3339(at),
                })
                .collect(),
            products: products.into_iter().map(|(id, name)| CustomerProduct { id, name }).collect(),
            pages: pages.into_iter().map(|(url, title)| Page { url, title }).collect(),
            tokens_used,
            browser,
            system,
            time_zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::read_user_agent;

    #[test]
    fn a_user_agent_reads_as_a_browser_and_a_system() {
        let chrome_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";
        let (browser, system) = read_user_agent(chrome_mac);
        assert!(browser.as_deref().is_some_and(|b| b.starts_with("Chrome 131")), "{browser:?}");
        assert!(system.as_deref().is_some_and(|s| s.starts_with("Mac OSX")), "{system:?}");
        let firefox_windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let (browser, system) = read_user_agent(firefox_windows);
        assert!(browser.as_deref().is_some_and(|b| b.starts_with("Firefox 133")), "{browser:?}");
        assert!(system.as_deref().is_some_and(|s| s.starts_with("Windows")), "{system:?}");
        assert_eq!(read_user_agent("curl-ish nonsense"), (None, None));
    }
}
