//! Types both builds share: what the server stores and sends, and what the browser renders.
//! Database derives are added on the server only.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[cfg_attr(feature = "ssr", derive(ToSchema))]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($text),+];
                $crate::model::variant_index(deserializer, NAMES).map(|i| $name::ALL[i])
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} '{other}'", stringify!($name))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A [`string_enum!`]'s variant read from its name: one decoder for every such enum (serde's
/// derive gave each its own, 1.3 KB of the window's WASM apiece), with serde's error for an
/// unknown name ("unknown variant `x`, expected one of …").
pub(crate) fn variant_index<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    struct Names(&'static [&'static str]);

    impl serde::de::Visitor<'_> for Names {
        type Value = usize;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("one of the known names")
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<usize, E> {
            self.0.iter().position(|n| *n == name).ok_or_else(|| E::unknown_variant(name, self.0))
        }
    }

    deserializer.deserialize_str(Names(names))
}

// After the macro: the submodules use it.
mod events;
mod knowledge;
mod satisfaction;
mod staff;
mod window;
mod workspace;

pub use events::*;
pub use knowledge::*;
pub use satisfaction::*;
pub use staff::*;
pub use window::*;
pub use workspace::*;

string_enum!(
    /// Who wrote a message.
    Role { User => "user", Assistant => "assistant", Agent => "agent", System => "system" }
);
string_enum!(
    /// Where a message is in its life: assistant replies start `streaming`.
    MessageStatus {
        Complete => "complete",
        Streaming => "streaming",
        Stopped => "stopped",
        Failed => "failed",
        Interrupted => "interrupted",
    }
);
string_enum!(
    /// Where a conversation is, seen from the staff side.
    ChatStatus {
        Pending => "pending",
        InProgress => "in_progress",
        Snoozed => "snoozed",
        Resolved => "resolved",
        Closed => "closed",
    }
);

impl ChatStatus {
    /// Waiting for a person or being handled: what the team's default view lists.
    pub fn needs_the_team(self) -> bool {
        matches!(self, ChatStatus::Pending | ChatStatus::InProgress)
    }
}
string_enum!(
    /// How urgent a conversation is.
    Priority { Low => "low", Medium => "medium", High => "high" }
);
string_enum!(
    /// Colour scheme the customer picked.
    Theme { Light => "light", Dark => "dark", System => "system" }
);
string_enum!(
    /// Which key combination sends a message.
    SendKey { ShiftEnter => "shift_enter", Enter => "enter" }
);
string_enum!(
    /// Text size in the chat window.
    TextSize { Small => "small", Medium => "medium", Large => "large" }
);

/// Tokens an assistant reply cost, as the upstream reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

/// One message in a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    pub role: Role,
    /// Who wrote it, for staff replies: the staff member's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub content: String,
    pub status: MessageStatus,
    /// Why a reply failed or stopped, in words a person can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; set when the text was edited.
    pub edited_at: Option<String>,
    /// Tokens the reply cost. The browser shows none, so its builds do not read it (the window's
    /// download has a budget).
    #[cfg_attr(not(feature = "ssr"), serde(skip_deserializing))]
    pub usage: Option<Usage>,
    /// The id the sending client gave a customer message (idempotent sends, optimistic copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// An assistant reply's sources that it cites (the shop's articles and answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// An assistant reply that found nothing to answer from and said so: the window offers a
    /// person under it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unanswered: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A conversation between a customer and the assistant (and later staff).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Chat {
    pub id: i64,
    pub title: String,
    pub context: String,
    /// The product the chat is about (the shop's id for it).
    pub product_id: Option<String>,
    pub status: ChatStatus,
    pub priority: Priority,
    pub assignee_id: Option<i64>,
    pub ai_enabled: bool,
    pub customer_email: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_activity_at: String,
    /// The sequence number of the newest event in this chat.
    pub last_seq: i64,
    /// Staff have read the customer's messages up to this message id.
    #[serde(default)]
    pub staff_read_up_to: i64,
    /// The customer has read staff replies up to this message id.
    #[serde(default)]
    pub customer_read_up_to: i64,
    /// The customer's messages up to this id reached a staff member's screen.
    #[serde(default)]
    pub staff_delivered_up_to: i64,
}

/// A page of messages, oldest to newest; `next_cursor` fetches the page before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Pass as `before` to read older messages; absent on the oldest page.
    pub next_cursor: Option<i64>,
    /// Pass as `after` to read newer messages; present only on an `after` page with more after it.
    #[serde(default)]
    pub newer_cursor: Option<i64>,
    /// Subscribe to events after this sequence number to continue from this page without a gap.
    pub last_seq: i64,
}

/// An assistant persona the customer can pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ContextInfo {
    pub id: String,
    pub label: String,
    pub description: String,
}

/// An assistant context as admins edit it in the panel (Settings → Assistant).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContextSettings {
    /// 1 to 40 of a-z, 0-9, `-` and `_`; fixed once created.
    pub id: String,
    /// What customers pick it by: 1 to 40 characters.
    pub label: String,
    /// One line under the label: at most 200 characters.
    pub description: String,
    /// The assistant's first message in a new conversation: 1 to 1,000 characters.
    pub greeting: String,
    /// What the assistant is told to be and do (its system prompt): 1 to 8,000 characters.
    pub instructions: String,
    /// Only knowledge with one of these tags answers here (none: all of it).
    pub knowledge_tags: Vec<String>,
    /// Answers only from the shop's knowledge and the product, handing off when they do not hold it.
    pub strict: bool,
    /// The model it answers with; none: the server's `OPENAI_MODEL`.
    pub model: Option<String>,
}

/// A product of the shop's catalog, by the shop's own id (its handle or SKU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Product {
    /// The shop's id for it: what `product_id` names everywhere.
    pub id: String,
    pub name: String,
    /// Plain text (HTML descriptions are stored as their text).
    #[cfg_attr(not(any(feature = "ssr", feature = "panel")), serde(skip_deserializing))]
    pub description: String,
    #[cfg_attr(not(any(feature = "ssr", feature = "panel")), serde(skip_deserializing))]
    pub price: Price,
    /// The product's page on the shop.
    #[cfg_attr(not(any(feature = "ssr", feature = "panel")), serde(skip_deserializing))]
    pub url: Option<String>,
    /// Its picture: an http(s) address, or a path on this server.
    #[cfg_attr(not(any(feature = "ssr", feature = "panel")), serde(skip_deserializing))]
    pub image_url: Option<String>,
    /// In stock and for sale.
    #[cfg_attr(not(any(feature = "ssr", feature = "panel")), serde(skip_deserializing))]
    pub available: bool,
    /// Free-form facts (size, colour, material…), as text.
    #[cfg_attr(not(feature = "ssr"), serde(skip_deserializing))]
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

#[cfg(feature = "ssr")]
impl Product {
    /// What the assistant reads of the product: its description, then its price, stock and
    /// attributes, a line each.
    pub fn facts(&self) -> String {
        let mut text = self.description.trim().to_string();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let stock = if self.available { "In stock" } else { "Out of stock" };
        text.push_str(&format!("Price: {}. {stock}.", self.price));
        for (name, value) in &self.attributes {
            text.push_str(&format!("\n{name}: {value}"));
        }
        text
    }
}

/// The page of the shop a conversation began on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Its address (http or https).
    #[cfg_attr(feature = "ssr", schema(max_length = 2048, pattern = r"^https?://\S+$"))]
    pub url: String,
    /// Its title, as the browser shows it (at most 200 characters).
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub title: Option<String>,
}

/// A page of the catalog, by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// A price: a decimal amount with at most two places, and its ISO 4217 currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Price {
    /// "59.00": digits, and at most two after a point.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"))]
    pub amount: String,
    /// Three letters: EUR, USD, GBP… (kept in capitals).
    #[cfg_attr(feature = "ssr", schema(pattern = "^[A-Za-z]{3}$"))]
    pub currency: String,
}

impl std::fmt::Display for Price {
    /// "€59.00", "$12.50", "1500 JPY".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.currency.as_str() {
            "EUR" => write!(f, "€{}", self.amount),
            "USD" => write!(f, "${}", self.amount),
            "GBP" => write!(f, "£{}", self.amount),
            currency => write!(f, "{} {currency}", self.amount),
        }
    }
}

/// A customer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Preferences {
    pub theme: Theme,
    pub send_key: SendKey,
    pub sound: bool,
    pub text_size: TextSize,
    /// The context new chats start with.
    pub default_context: Option<String>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            theme: Theme::System,
            send_key: SendKey::ShiftEnter,
            sound: false,
            text_size: TextSize::Medium,
            default_context: None,
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`, `too_long`.
    pub code: String,
    /// A sentence a person can read.
    pub message: String,
}

/// The id of the chat a window shows before the visitor's first action: it exists only on the
/// page (with the greeting), and becomes a real chat when they send, ask for a person or pick a
/// context. Page views write nothing.
pub const DRAFT_CHAT_ID: i64 = 0;

/// Ids at or above this are messages a client shows before the server saved them (optimistic).
pub const PENDING_ID_BASE: i64 = i64::MAX - 1_000_000;

/// The header a window embedded on another site sends its visitor's token in (browsers withhold
/// cookies from third-party frames). Empty: no visitor yet; a visitor the request creates comes
/// back in the same response header instead of a cookie.
pub const TOKEN_HEADER: &str = "x-frontdesk-token";
/// The WebSocket subprotocol an embedded window offers (the server picks it), beside a second one,
/// this prefix and the token, that carries its token: a browser cannot set headers on a socket.
pub const WS_PROTOCOL: &str = "frontdesk";
pub const WS_TOKEN_PROTOCOL_PREFIX: &str = "frontdesk.token.";

/// A session token as the server issues them (URL-safe base64, at most 128 characters): what
/// either side accepts from a header, a subprotocol, an address fragment or another window.
pub fn is_well_formed_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The white space of the spec's `\S` patterns (ECMAScript's `\s`), which Rust's `trim` does not
/// match exactly (it also counts U+0085 as space): what "not blank" means wherever a pattern
/// says `\S`, so the server and its spec agree.
pub fn is_pattern_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// `text` without the white space around it, as [`is_pattern_space`] counts it.
pub fn trim_spaces(text: &str) -> &str {
    text.trim_matches(is_pattern_space)
}

/// The longest `client_id` a send may carry.
pub const CLIENT_ID_MAX_LEN: usize = 64;

/// A `client_id` as the API's spec states it: 1 to [`CLIENT_ID_MAX_LEN`] visible ASCII characters.
pub const CLIENT_ID_PATTERN: &str = "^[!-~]{1,64}$";

/// [`Email::parse`]'s rule as the API's spec states it (ECMA-262; with `maxLength` 254): spaces
/// around the address allowed, a local part of RFC 5322 "atext" and dots (not at either end), and a
/// domain of letters, digits and hyphens with at least one dot between labels.
pub const EMAIL_PATTERN: &str = concat!(
    r"^\s*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-](?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-])?",
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\s*$"
);

/// An email, or the empty string that removes one.
pub const EMAIL_OR_EMPTY_PATTERN: &str = concat!(
    r"^$|^\s*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-](?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-])?",
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\s*$"
);

/// An email address, checked once where it enters (trimmed, lower-cased); the same rule in the
/// window and on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const INVALID: &'static str = "give an email address like name@example.com";

    /// The form addresses are stored and compared in (trimmed, lower case): what `parse` checks
    /// and what a sign-in looks up (which takes any text and answers the same for a bad one).
    pub fn normalized(text: &str) -> String {
        text.trim().to_lowercase()
    }

    pub fn parse(text: &str) -> Result<Email, String> {
        let email = Email::normalized(text);
        let well_formed = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'))
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    // RFC 5322 "atext": no quotes, colons, brackets or parentheses.
                    && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            });
        if well_formed {
            Ok(Email(email))
        } else {
            Err(Email::INVALID.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_checked_once_with_one_rule() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "javascript:alert(1)//@example.com",
            "ann@exa mple.com",
            "ann@.example.com",
            "ann@example..com",
            "<ann@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} is refused");
        }
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_specs_email_pattern_says_what_the_email_rule_accepts() {
        let pattern = regex::Regex::new(EMAIL_PATTERN).unwrap();
        let or_empty = regex::Regex::new(EMAIL_OR_EMPTY_PATTERN).unwrap();
        for text in [
            "ann@example.com",
            "  Ann@Example.COM ",
            "a.b+tag@sub.example.co",
            "o'neil@x-y.example",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            ".ann@example.com",
            "ann.@example.com",
            "a..b@example.com",
            "ann@.example.com",
            "ann@example.com.",
            "ann@example..com",
            "<ann@example.com>",
            "ann@exa_mple.com",
            "jöhn@example.com",
            "ann@@example.com",
        ] {
            let accepted = Email::parse(text).is_ok();
            assert_eq!(pattern.is_match(text), accepted, "{text:?}: the rule says {accepted}");
            assert_eq!(or_empty.is_match(text), accepted, "{text:?}");
        }
        assert!(or_empty.is_match("") && !pattern.is_match(""));
    }

    #[test]
    fn a_named_value_reads_from_its_name_and_an_unknown_name_is_refused_with_the_known_ones() {
        for role in Role::ALL {
            assert_eq!(serde_json::from_str::<Role>(&serde_json::to_string(role).unwrap()).unwrap(), *role);
        }
        assert_eq!(serde_json::from_str::<MessageStatus>("\"interrupted\"").unwrap(), MessageStatus::Interrupted);
        let error = serde_json::from_str::<Priority>("\"urgent\"").unwrap_err().to_string();
        assert!(error.contains("unknown variant `urgent`, expected one of `low`, `medium`, `high`"), "{error}");
        assert!(serde_json::from_str::<Priority>("3").is_err());
    }
}
