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

/// One change in a chat, as it goes out on the event streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ChatEvent {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub data: serde_json::Value,
}

string_enum!(
    /// What kind of change an event describes.
    EventKind {
        MessageCreated => "message.created",
        MessageDelta => "message.delta",
        MessageCompleted => "message.completed",
        MessageUpdated => "message.updated",
        MessageDeleted => "message.deleted",
        ChatUpdated => "chat.updated",
    }
);

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

impl ChatEvent {
    /// Applies this event to a list of messages kept in id order (what a client shows). A saved
    /// customer message replaces the optimistic copy of the same text.
    pub fn apply_to(&self, messages: &mut Vec<Message>) {
        match self.kind {
            EventKind::MessageCreated | EventKind::MessageUpdated | EventKind::MessageCompleted => {
                if let Ok(message) = serde_json::from_value::<Message>(self.data.clone()) {
                    if self.kind == EventKind::MessageCreated && message.role == Role::User {
                        if let Some(i) =
                            messages.iter().position(|m| m.id >= PENDING_ID_BASE && m.content == message.content)
                        {
                            messages.remove(i);
                        }
                    }
                    match messages.binary_search_by_key(&message.id, |m| m.id) {
                        Ok(i) => messages[i] = message,
                        Err(i) => messages.insert(i, message),
                    }
                }
            }
            EventKind::MessageDelta => {
                if let Ok(delta) = serde_json::from_value::<Delta>(self.data.clone()) {
                    if let Some(m) = messages.iter_mut().find(|m| m.id == delta.message_id) {
                        m.content.push_str(&delta.text);
                    }
                }
            }
            EventKind::MessageDeleted => {
                if let Ok(deleted) = serde_json::from_value::<Deleted>(self.data.clone()) {
                    messages.retain(|m| m.id != deleted.message_id);
                }
            }
            EventKind::ChatUpdated => {}
        }
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
        }
    }

    fn event(kind: EventKind, data: impl Serialize) -> ChatEvent {
        ChatEvent { seq: 1, kind, data: serde_json::to_value(data).unwrap() }
    }

    #[test]
    fn events_build_the_same_list_a_reload_would_show() {
        let mut list = vec![message(1, "Hi", MessageStatus::Complete)];
        event(EventKind::MessageCreated, message(3, "", MessageStatus::Streaming)).apply_to(&mut list);
        event(EventKind::MessageCreated, message(2, "question", MessageStatus::Complete)).apply_to(&mut list);
        event(EventKind::MessageDelta, Delta { message_id: 3, text: "Hel".into() }).apply_to(&mut list);
        event(EventKind::MessageDelta, Delta { message_id: 3, text: "lo".into() }).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(list[2].content, "Hello");
        event(EventKind::MessageCompleted, message(3, "Hello", MessageStatus::Complete)).apply_to(&mut list);
        assert_eq!(list[2].status, MessageStatus::Complete);
        event(EventKind::MessageDeleted, Deleted { message_id: 2 }).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn a_saved_message_replaces_its_optimistic_copy() {
        let mut pending = message(PENDING_ID_BASE, "hello", MessageStatus::Complete);
        pending.role = Role::User;
        let mut list = vec![message(1, "Hi", MessageStatus::Complete), pending];
        let mut saved = message(2, "hello", MessageStatus::Complete);
        saved.role = Role::User;
        event(EventKind::MessageCreated, saved).apply_to(&mut list);
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
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
}
