//! Email to staff (lettre over SMTP): a new high-priority inquiry is announced to every staff
//! member. Sending happens in the background; a failure is logged and loses nothing.

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use super::config::Config;

pub struct Notifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

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
        Ok(Some(Notifier { transport, from, public_url: config.public_url.trim_end_matches('/').to_string() }))
    }

    /// Emails `to` about a new high-priority inquiry, in the background.
    pub fn high_priority(&self, to: Vec<String>, notice: InquiryNotice) {
        if to.is_empty() {
            return;
        }
        let subject = match &notice.product {
            Some(product) => format!("High-priority inquiry about {product}"),
            None => format!("High-priority inquiry: {}", notice.title),
        };
        let body = format!(
            "A customer is waiting for a person.\n\nConversation: {}\nProduct: {}\nLast message: {}\n\nOpen it: {}/admin/inquiries/{}\n",
            notice.title,
            notice.product.as_deref().unwrap_or("none"),
            notice.last_message.as_deref().unwrap_or(""),
            self.public_url,
            notice.chat_id,
        );
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
