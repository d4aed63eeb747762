//! Email to staff (lettre over SMTP): a new high-priority inquiry is announced to every staff
//! member. Sending happens in the background; a failure is logged and loses nothing. Notices are
//! throttled per conversation and overall, and what the customer wrote appears only in the body,
//! quoted and marked as theirs (never in the subject, where it would read as Frontdesk's words).

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use super::config::Config;

pub struct Notifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    /// One notice per conversation per hour, however often it becomes high priority.
    per_chat: DefaultKeyedRateLimiter<i64>,
    /// `FRONTDESK_NOTICES_PER_HOUR` notices in all.
    overall: DefaultDirectRateLimiter,
    per_hour: u32,
    suppressed: AtomicU64,
}

/// The window of the notice allowances.
pub const NOTICE_WINDOW: Duration = Duration::from_secs(3600);

/// Longest piece of customer text quoted in a notice.
const QUOTE_MAX_CHARS: usize = 500;

/// What a notice is about.
#[derive(Debug, Clone)]
pub struct InquiryNotice {
    pub chat_id: i64,
    pub title: String,
    pub product: Option<String>,
    pub last_message: Option<String>,
}

impl Notifier {
    /// A notifier when `FRONTDESK_SMTP_URL` is set.
    pub fn from_config(config: &Config) -> Result<Option<Notifier>, String> {
        let Some(url) = config.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("FRONTDESK_SMTP_URL is not usable: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let from = config.smtp_from.parse().map_err(|e| format!("FRONTDESK_SMTP_FROM: {e}"))?;
        let hour = NOTICE_WINDOW;
        let per_hour = NonZeroU32::new(config.notices_per_hour.max(1)).expect("at least one");
        Ok(Some(Notifier {
            transport,
            from,
            public_url: config.public_url.trim_end_matches('/').to_string(),
            per_chat: RateLimiter::keyed(Quota::with_period(hour).expect("an hour")),
            overall: RateLimiter::direct(
                Quota::with_period(hour / per_hour.get()).expect("a period").allow_burst(per_hour),
            ),
            per_hour: per_hour.get(),
            suppressed: AtomicU64::new(0),
        }))
    }

    /// The allowances the replicas count together in the database, as `(key, limit)` per
    /// [`NOTICE_WINDOW`]: the conversation's one notice and the notices in all.
    pub fn shared_allowances(&self, chat_id: i64) -> [(String, u32); 2] {
        [(format!("notices:chat:{chat_id}"), 1), ("notices:all".to_owned(), self.per_hour)]
    }

    /// Counts a notice that a throttle held back.
    pub fn throttled(&self, chat_id: i64) {
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(chat_id, "a staff notice was throttled");
    }

    /// Notices not sent because of the throttles (since start).
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Ordering::Relaxed)
    }

    /// Emails `to` about a new high-priority inquiry, in the background.
    pub fn high_priority(&self, to: Vec<String>, notice: InquiryNotice) {
        if to.is_empty() {
            return;
        }
        if self.per_chat.check_key(&notice.chat_id).is_err() || self.overall.check().is_err() {
            return self.throttled(notice.chat_id);
        }
        // The subject is Frontdesk's own words: the conversation number and the shop's product.
        let subject = match &notice.product {
            Some(product) => format!("High-priority inquiry #{} about {product}", notice.chat_id),
            None => format!("High-priority inquiry #{}", notice.chat_id),
        };
        let body = notice_body(&notice, &self.public_url);
        let mut builder = Message::builder().from(self.from.clone()).subject(subject).header(ContentType::TEXT_PLAIN);
        for address in &to {
            match address.parse::<Mailbox>() {
                Ok(mailbox) => builder = builder.bcc(mailbox),
                Err(e) => tracing::warn!(%address, error = %e, "skipping a staff address"),
            }
        }
        // Every recipient is in Bcc; the visible To is the sender itself.
        let message = match builder.to(self.from.clone()).body(body) {
            Ok(message) => message,
            Err(e) => return tracing::warn!(error = %e, "could not build the staff notice"),
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(chat_id = notice.chat_id, "emailed staff about a high-priority inquiry"),
                Err(e) => tracing::warn!(chat_id = notice.chat_id, error = %e, "could not email staff"),
            }
        });
    }
}

impl Notifier {
    /// Emails a member the link that sets a new password, in the background. Not throttled here:
    /// asking for one is throttled like signing in.
    pub fn password_reset(&self, to: &str, token: &str) {
        let Ok(mailbox) = to.parse::<Mailbox>() else {
            return tracing::warn!(%to, "skipping a staff address");
        };
        let body = format!(
            "Someone (we hope you) asked to set a new password for your Frontdesk account.\n\n\
             The link works once, for 30 minutes:\n{}/admin/reset-password?token={token}\n\n\
             If you did not ask, ignore this email: your password stays as it is.\n",
            self.public_url
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject("Set a new Frontdesk password")
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        self.send_later(message, "a password reset link");
    }

    /// Invites a new member: a link that sets their password, working once for 7 days.
    pub fn invitation(&self, to: &str, inviter: &str, token: &str) {
        let Ok(mailbox) = to.parse::<Mailbox>() else {
            return tracing::warn!(%to, "skipping a staff address");
        };
        let inviter: String = inviter.chars().filter(|c| !c.is_control()).take(80).collect();
        let body = format!(
            "{inviter} invited you to answer customers with the team on Frontdesk ({url}).\n\n\
             Choose your password to join; the link works once, for 7 days:\n\
             {url}/admin/reset-password?token={token}\n\n\
             Then sign in at {url}/admin/login with this address.\n",
            url = self.public_url
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(format!("{inviter} invited you to Frontdesk"))
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        self.send_later(message, "an invitation");
    }

    /// Sends a built email in the background; a failure is logged (`what` says which email).
    fn send_later(&self, message: Result<Message, lettre::error::Error>, what: &'static str) {
        let message = match message {
            Ok(message) => message,
            Err(e) => return tracing::warn!(error = %e, what, "could not build an email"),
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(what, "emailed"),
                Err(e) => tracing::warn!(error = %e, what, "could not send an email"),
            }
        });
    }

    /// Emails a member that `by` mentioned them in a note on a conversation, in the background:
    /// who and where, never what the note says (notes stay in the panel). Counted in the hour's
    /// notices in all.
    pub fn mentioned(&self, to: &str, by: &str, chat_id: i64) {
        let Ok(mailbox) = to.parse::<Mailbox>() else {
            return tracing::warn!(%to, "skipping a staff address");
        };
        if self.overall.check().is_err() {
            return self.throttled(chat_id);
        }
        let by: String = by.chars().filter(|c| !c.is_control()).take(80).collect();
        let body = format!(
            "{by} mentioned you in a private note on conversation #{chat_id}.\n\n\
             Open the conversation: {}/admin/inquiries/{chat_id}\n",
            self.public_url
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(format!("{by} mentioned you on conversation #{chat_id}"))
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        self.send_later(message, "a mention");
    }
}

/// The notice's text: Frontdesk's lines, then the customer's words quoted and marked as theirs.
fn notice_body(notice: &InquiryNotice, public_url: &str) -> String {
    let quote = |text: &str| {
        let mut cut: String = text.chars().take(QUOTE_MAX_CHARS).collect();
        if text.chars().count() > QUOTE_MAX_CHARS {
            cut.push('…');
        }
        cut.lines().map(|line| format!("> {line}")).collect::<Vec<_>>().join("\n")
    };
    format!(
        "A customer is waiting for a person.\n\nOpen the conversation: {public_url}/admin/inquiries/{}\nProduct: {}\n\n\
         Written by the customer, not by Frontdesk (do not follow links or instructions in it):\n\n\
         Title:\n{}\n\nLast message:\n{}\n",
        notice.chat_id,
        notice.product.as_deref().unwrap_or("none"),
        quote(&notice.title),
        quote(notice.last_message.as_deref().unwrap_or("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_text_is_only_in_the_body_quoted_and_cut() {
        let notice = InquiryNotice {
            chat_id: 7,
            title: "URGENT: reset your password at evil.example".into(),
            product: None,
            last_message: Some(format!("line one\nline two {}", "x".repeat(600))),
        };
        let body = notice_body(&notice, "https://desk.example");
        assert!(body.contains("Written by the customer, not by Frontdesk"));
        assert!(body.contains("> URGENT: reset your password at evil.example"));
        assert!(body.contains("> line one\n> line two"));
        assert!(body.contains('…') && body.len() < 1200, "long text is cut");
        assert!(body.contains("https://desk.example/admin/inquiries/7"));
    }
}
