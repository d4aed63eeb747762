//! Types both builds share: what the server stores and sends, and what the browser renders.
//! Database derives are added on the server only.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(ToSchema))]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

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
    ChatStatus { Pending => "pending", InProgress => "in_progress", Resolved => "resolved", Closed => "closed" }
);
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
    pub usage: Option<Usage>,
    /// The id the sending client gave a customer message (idempotent sends, optimistic copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A conversation between a customer and the assistant (and later staff).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Chat {
    pub id: i64,
    pub title: String,
    pub context: String,
    pub product_id: Option<i64>,
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

/// A product of the demo catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Price in cents.
    pub price_cents: i64,
    pub image_path: String,
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

/// One change in a chat, as it goes out on the event streams: `{"seq", "type", "data"}` on the
/// WebSockets, `id` / `event` / `data` on SSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ChatEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// What changed: the event's type and its data, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// A message was added (a streaming reply starts empty).
    #[serde(rename = "message.created")]
    MessageCreated(Message),
    /// Text appended to a streaming reply.
    #[serde(rename = "message.delta")]
    MessageDelta(Delta),
    /// A reply ended (complete, stopped, failed or interrupted), with its whole text.
    #[serde(rename = "message.completed")]
    MessageCompleted(Message),
    /// A message was edited, or a reply starts again.
    #[serde(rename = "message.updated")]
    MessageUpdated(Message),
    #[serde(rename = "message.deleted")]
    MessageDeleted(Deleted),
    /// The chat itself changed (title, context, status, read marks…).
    #[serde(rename = "chat.updated")]
    ChatUpdated(Chat),
}

string_enum!(
    /// What kind of change an event describes (the SSE event name and the stored kind).
    EventKind {
        MessageCreated => "message.created",
        MessageDelta => "message.delta",
        MessageCompleted => "message.completed",
        MessageUpdated => "message.updated",
        MessageDeleted => "message.deleted",
        ChatUpdated => "chat.updated",
    }
);

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::MessageCreated(_) => EventKind::MessageCreated,
            Event::MessageDelta(_) => EventKind::MessageDelta,
            Event::MessageCompleted(_) => EventKind::MessageCompleted,
            Event::MessageUpdated(_) => EventKind::MessageUpdated,
            Event::MessageDeleted(_) => EventKind::MessageDeleted,
            Event::ChatUpdated(_) => EventKind::ChatUpdated,
        }
    }

    /// The event's `data` as JSON text (what SSE sends and the event log stores).
    pub fn data_json(&self) -> String {
        let data = match self {
            Event::MessageCreated(m) | Event::MessageCompleted(m) | Event::MessageUpdated(m) => {
                serde_json::to_string(m)
            }
            Event::MessageDelta(d) => serde_json::to_string(d),
            Event::MessageDeleted(d) => serde_json::to_string(d),
            Event::ChatUpdated(c) => serde_json::to_string(c),
        };
        data.unwrap_or_default()
    }

    /// Rebuilds an event from its kind and its `data` JSON text.
    pub fn from_parts(kind: EventKind, data: &str) -> Result<Event, serde_json::Error> {
        Ok(match kind {
            EventKind::MessageCreated => Event::MessageCreated(serde_json::from_str(data)?),
            EventKind::MessageDelta => Event::MessageDelta(serde_json::from_str(data)?),
            EventKind::MessageCompleted => Event::MessageCompleted(serde_json::from_str(data)?),
            EventKind::MessageUpdated => Event::MessageUpdated(serde_json::from_str(data)?),
            EventKind::MessageDeleted => Event::MessageDeleted(serde_json::from_str(data)?),
            EventKind::ChatUpdated => Event::ChatUpdated(serde_json::from_str(data)?),
        })
    }

    /// The message this event adds or replaces, if any.
    pub fn message(&self) -> Option<&Message> {
        match self {
            Event::MessageCreated(m) | Event::MessageCompleted(m) | Event::MessageUpdated(m) => Some(m),
            _ => None,
        }
    }

    /// A customer message was added: what staff screens acknowledge as delivered.
    pub fn new_customer_message(&self) -> Option<&Message> {
        match self {
            Event::MessageCreated(m) if m.role == Role::User => Some(m),
            _ => None,
        }
    }
}

/// `data` of a `message.delta` event: text appended to a streaming reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Delta {
    pub message_id: i64,
    pub text: String,
}

/// `data` of a `typing` frame on the WebSockets: someone on the other side is typing (or
/// stopped). Not stored and without a sequence number: it only matters now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Typing {
    /// True when a staff member types (the customer sees it), false for the customer.
    pub staff: bool,
    /// The staff member's name.
    pub name: Option<String>,
    pub typing: bool,
}

/// `data` of a `message.deleted` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Deleted {
    pub message_id: i64,
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

// ----- the staff side ----------------------------------------------------------------------

/// A member of staff as others see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// `admin` or `agent`.
    pub role: String,
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Me {
    pub id: i64,
    /// `visitor` or `staff`.
    pub kind: String,
    pub email: Option<String>,
    pub display_name: String,
    pub role: Option<String>,
}

/// A conversation as the inquiry panel lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Inquiry {
    pub chat: Chat,
    pub product_name: Option<String>,
    pub message_count: i64,
    /// Messages the customer wrote.
    #[serde(default)]
    pub customer_message_count: i64,
    /// Customer messages staff have not read.
    pub unread_count: i64,
    pub last_message: Option<String>,
    /// False for a visitor who only opened the window: the customer wrote, left an email or
    /// asked for a person, or staff acted on it (decided on the server, in one place).
    #[serde(default = "yes")]
    pub is_inquiry: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct InquiryPage {
    pub inquiries: Vec<Inquiry>,
    /// Pass as `before` for the next page.
    pub next_cursor: Option<String>,
}

/// Filters of the inquiry list; `status` defaults to pending (`all` lists every status).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
pub struct InquiryFilter {
    pub status: Option<String>,
    pub priority: Option<Priority>,
    pub product_id: Option<i64>,
    /// A staff id, or `me`.
    pub assignee: Option<String>,
    /// Text in the messages, the title or the customer's email.
    pub q: Option<String>,
    pub before: Option<String>,
    pub limit: Option<i64>,
}

/// Changes staff make to an inquiry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InquiryPatch {
    pub status: Option<ChatStatus>,
    pub priority: Option<Priority>,
    /// A staff id; `null` unassigns.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>))]
    pub assignee_id: Option<Option<i64>>,
    /// `false`: a person takes over and the assistant stops; `true`: hand back to the assistant.
    pub ai_enabled: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// Ids at or above this are messages a client shows before the server saved them (optimistic).
pub const PENDING_ID_BASE: i64 = i64::MAX - 1_000_000;

/// The longest `client_id` a send may carry.
pub const CLIENT_ID_MAX_LEN: usize = 64;

impl ChatEvent {
    /// Applies this event to a list of messages kept in id order (what a client shows). A saved
    /// customer message replaces the optimistic copy that carries the same `client_id`.
    pub fn apply_to(&self, messages: &mut Vec<Message>) {
        match &self.event {
            Event::MessageCreated(message) | Event::MessageUpdated(message) | Event::MessageCompleted(message) => {
                if let Some(client_id) = message.client_id.as_deref() {
                    messages.retain(|m| m.id < PENDING_ID_BASE || m.client_id.as_deref() != Some(client_id));
                }
                match messages.binary_search_by_key(&message.id, |m| m.id) {
                    Ok(i) => messages[i] = message.clone(),
                    Err(i) => messages.insert(i, message.clone()),
                }
            }
            Event::MessageDelta(delta) => {
                if let Some(m) = messages.iter_mut().find(|m| m.id == delta.message_id) {
                    m.content.push_str(&delta.text);
                }
            }
            Event::MessageDeleted(deleted) => messages.retain(|m| m.id != deleted.message_id),
            Event::ChatUpdated(_) => {}
        }
    }
}

/// A frame the server sends on a chat's WebSocket: an event, a live signal, or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerFrame {
    Event(ChatEvent),
    Signal(LiveSignal),
    Error(ErrorBody),
}

/// Live-only frames: never stored, without a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum LiveSignal {
    /// Someone on the other side is typing (or stopped).
    #[serde(rename = "typing")]
    Typing(Typing),
}

/// A frame a client sends on a chat's WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClientFrame {
    /// Resume after this sequence number.
    Resume { after: i64 },
    /// The sender is typing (or stopped).
    Typing { typing: bool },
}

/// A frame of the staff panel's feed: a change in any conversation with that conversation's
/// summary as it stands after the change (computed once on the server for every open panel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct PanelEvent {
    pub chat_id: i64,
    #[serde(flatten)]
    pub event: ChatEvent,
    /// The conversation as the list shows it; absent when it was deleted.
    #[serde(default)]
    pub inquiry: Option<Inquiry>,
}

/// An email address, checked once where it enters (trimmed, lower-cased); the same rule in the
/// window and on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const INVALID: &'static str = "give an email address like name@example.com";

    pub fn parse(text: &str) -> Result<Email, String> {
        let email = text.trim().to_lowercase();
        let well_formed = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'))
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    // RFC 5322 "atext": no quotes, colons, brackets or parentheses.
                    && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
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

/// Which conversations by status the inquiry list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Waiting for staff (the default).
    #[default]
    Pending,
    /// Every status.
    All,
    Only(ChatStatus),
}

/// Whose conversations the inquiry list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    Anyone,
    /// The staff member asking.
    Me,
    Staff(i64),
}

/// A position in the inquiry list: the last activity and id of the last row of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InquiryCursor {
    pub last_activity_ms: i64,
    pub chat_id: i64,
}

/// [`InquiryFilter`] parsed once: every field checked, every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct InquiryQuery {
    pub status: StatusFilter,
    pub priority: Option<Priority>,
    pub product_id: Option<i64>,
    pub assignee: AssigneeFilter,
    /// Lower-cased search text.
    pub text: Option<String>,
    pub before: Option<InquiryCursor>,
    pub limit: i64,
}

impl InquiryFilter {
    /// Checks the filters; the error is a sentence for the person who sent them.
    pub fn parse(&self) -> Result<InquiryQuery, String> {
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => StatusFilter::Pending,
            Some("all") => StatusFilter::All,
            Some(s) => StatusFilter::Only(s.parse::<ChatStatus>()?),
        };
        let assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("") => AssigneeFilter::Anyone,
            Some("me") => AssigneeFilter::Me,
            Some(id) => AssigneeFilter::Staff(id.parse().map_err(|_| "assignee is a staff id or 'me'".to_string())?),
        };
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(
                cursor
                    .split_once('.')
                    .and_then(|(at, id)| {
                        Some(InquiryCursor { last_activity_ms: at.parse().ok()?, chat_id: id.parse().ok()? })
                    })
                    .ok_or_else(|| "before is a cursor from an earlier page".to_string())?,
            ),
        };
        let limit = self.limit.unwrap_or(30);
        if !(1..=100).contains(&limit) {
            return Err("limit must be between 1 and 100".into());
        }
        let text = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase);
        Ok(InquiryQuery { status, priority: self.priority, product_id: self.product_id, assignee, text, before, limit })
    }
}

impl InquiryQuery {
    /// Whether an inquiry belongs in the list this query describes, but for the text search
    /// (which only the server does); `me` is the staff member asking.
    pub fn matches(&self, inquiry: &Inquiry, me: i64) -> bool {
        let chat = &inquiry.chat;
        let status = match self.status {
            StatusFilter::Pending => chat.status == ChatStatus::Pending,
            StatusFilter::All => true,
            StatusFilter::Only(status) => chat.status == status,
        };
        let assignee = match self.assignee {
            AssigneeFilter::Anyone => true,
            AssigneeFilter::Me => chat.assignee_id == Some(me),
            AssigneeFilter::Staff(id) => chat.assignee_id == Some(id),
        };
        inquiry.is_inquiry
            && status
            && assignee
            && self.priority.is_none_or(|p| chat.priority == p)
            && self.product_id.is_none_or(|p| chat.product_id == Some(p))
    }
}

impl InquiryCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_activity_ms, self.chat_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, content: &str, status: MessageStatus) -> Message {
        Message {
            id,
            chat_id: 1,
            role: Role::Assistant,
            author: None,
            content: content.into(),
            status,
            reason: None,
            created_at: String::new(),
            edited_at: None,
            usage: None,
            client_id: None,
        }
    }

    fn event(event: Event) -> ChatEvent {
        ChatEvent { seq: 1, event }
    }

    #[test]
    fn events_build_the_same_list_a_reload_would_show() {
        let mut list = vec![message(1, "Hi", MessageStatus::Complete)];
        event(Event::MessageCreated(message(3, "", MessageStatus::Streaming))).apply_to(&mut list);
        event(Event::MessageCreated(message(2, "question", MessageStatus::Complete))).apply_to(&mut list);
        event(Event::MessageDelta(Delta { message_id: 3, text: "Hel".into() })).apply_to(&mut list);
        event(Event::MessageDelta(Delta { message_id: 3, text: "lo".into() })).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(list[2].content, "Hello");
        event(Event::MessageCompleted(message(3, "Hello", MessageStatus::Complete))).apply_to(&mut list);
        assert_eq!(list[2].status, MessageStatus::Complete);
        event(Event::MessageDeleted(Deleted { message_id: 2 })).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn a_saved_message_replaces_its_optimistic_copy_by_client_id_not_by_text() {
        let optimistic = |id: i64, client_id: &str| Message {
            role: Role::User,
            client_id: Some(client_id.into()),
            ..message(id, "hello", MessageStatus::Complete)
        };
        // Two identical texts sent in a row: each saved copy replaces its own optimistic one.
        let mut list = vec![
            message(1, "Hi", MessageStatus::Complete),
            optimistic(PENDING_ID_BASE, "a"),
            optimistic(PENDING_ID_BASE + 1, "b"),
        ];
        let mut saved = optimistic(2, "b");
        saved.client_id = Some("b".into());
        event(Event::MessageCreated(saved)).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, PENDING_ID_BASE]);
        assert_eq!(list[2].client_id.as_deref(), Some("a"));
    }

    #[test]
    fn events_keep_their_wire_shape_and_round_trip() {
        let created = event(Event::MessageCreated(message(3, "x", MessageStatus::Streaming)));
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["seq"], 1);
        assert_eq!(json["type"], "message.created");
        assert_eq!(json["data"]["id"], 3);
        assert_eq!(serde_json::from_value::<ChatEvent>(json).unwrap(), created);
        // The stored form (kind + data text) rebuilds the same event.
        let delta = Event::MessageDelta(Delta { message_id: 3, text: "hi".into() });
        assert_eq!(Event::from_parts(delta.kind(), &delta.data_json()).unwrap(), delta);
        // A typing frame and an event frame are told apart on the way in.
        let typing = ServerFrame::Signal(LiveSignal::Typing(Typing { staff: true, name: None, typing: true }));
        let text = serde_json::to_string(&typing).unwrap();
        assert!(text.contains(r#""type":"typing""#), "{text}");
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), typing);
        let frame: ServerFrame = serde_json::from_value(serde_json::to_value(&created).unwrap()).unwrap();
        assert_eq!(frame, ServerFrame::Event(created));
    }

    #[test]
    fn enums_round_trip_through_their_text() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), *kind);
            // JSON (WebSocket frames) and SSE event names use the same text.
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(serde_json::to_string(&ChatStatus::InProgress).unwrap(), "\"in_progress\"");
        assert!("nope".parse::<Role>().is_err());
    }

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

    #[test]
    fn inquiry_filters_are_parsed_once_with_their_defaults() {
        let query = InquiryFilter::default().parse().unwrap();
        assert_eq!((query.status, query.assignee, query.limit), (StatusFilter::Pending, AssigneeFilter::Anyone, 30));
        let filter = InquiryFilter {
            status: Some("all".into()),
            assignee: Some("me".into()),
            q: Some("  Lamp ".into()),
            before: Some("17.4".into()),
            ..Default::default()
        };
        let query = filter.parse().unwrap();
        assert_eq!(query.status, StatusFilter::All);
        assert_eq!(query.assignee, AssigneeFilter::Me);
        assert_eq!(query.text.as_deref(), Some("lamp"));
        assert_eq!(query.before, Some(InquiryCursor { last_activity_ms: 17, chat_id: 4 }));
        assert!(InquiryFilter { status: Some("nope".into()), ..Default::default() }.parse().is_err());
        assert!(InquiryFilter { assignee: Some("bob".into()), ..Default::default() }.parse().is_err());
        assert!(InquiryFilter { before: Some("x".into()), ..Default::default() }.parse().is_err());
        assert!(InquiryFilter { limit: Some(0), ..Default::default() }.parse().is_err());
    }
}
