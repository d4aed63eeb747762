//! Live events: what changes in a chat and how it travels (the event log, SSE and WebSocket
//! frames, the staff panel's feed), and how a client applies it to what it shows.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

use super::{Chat, ErrorBody, Inquiry, Message, Role, PENDING_ID_BASE};

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
    /// The chat was deleted with everything in it: the last event of its stream, sent live and
    /// not stored (its event log went with it).
    #[serde(rename = "chat.deleted")]
    ChatDeleted(ChatDeleted),
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
        ChatDeleted => "chat.deleted",
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
            Event::ChatDeleted(_) => EventKind::ChatDeleted,
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
            Event::ChatDeleted(d) => serde_json::to_string(d),
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
            EventKind::ChatDeleted => Event::ChatDeleted(serde_json::from_str(data)?),
        })
    }

    /// The message this event adds or replaces, if any.
    pub fn message(&self) -> Option<&Message> {
        match self {
            Event::MessageCreated(m) | Event::MessageCompleted(m) | Event::MessageUpdated(m) => Some(m),
            _ => None,
        }
    }

    /// The chat's last event (`chat.deleted`): its streams end after it.
    pub fn ends_the_stream(&self) -> bool {
        matches!(self, Event::ChatDeleted(_))
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

/// `data` of a `chat.deleted` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ChatDeleted {
    pub chat_id: i64,
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
            Event::ChatUpdated(_) | Event::ChatDeleted(_) => {}
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

impl ServerFrame {
    /// Reads a frame's JSON text as the browser does: its `type` names the shape of its `data`,
    /// read straight into that type (the derived reading tries each shape in turn from a buffered
    /// copy, which costs the window's bundle a second reader of every type). None for what does
    /// not parse.
    pub fn parse(text: &str) -> Option<ServerFrame> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(default)]
            seq: Option<i64>,
            #[serde(rename = "type", default)]
            kind: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow, default)]
            data: Option<&'a serde_json::value::RawValue>,
            #[serde(default)]
            error: Option<super::ErrorDetail>,
        }
        let raw: Raw = serde_json::from_str(text).ok()?;
        if let Some(error) = raw.error {
            return Some(ServerFrame::Error(ErrorBody { error }));
        }
        let (kind, data) = (raw.kind?, raw.data?.get());
        if kind == "typing" {
            return serde_json::from_str(data).ok().map(|typing| ServerFrame::Signal(LiveSignal::Typing(typing)));
        }
        if kind == "contexts" {
            return serde_json::from_str(data).ok().map(|all| ServerFrame::Signal(LiveSignal::Contexts(all)));
        }
        let event = Event::from_parts(kind.parse().ok()?, data).ok()?;
        Some(ServerFrame::Event(ChatEvent { seq: raw.seq?, event }))
    }
}

/// A frame's sequence number, read without the rest of it (frames without one have none).
pub fn frame_seq(text: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Seq {
        #[serde(default)]
        seq: Option<i64>,
    }
    serde_json::from_str::<Seq>(text).ok()?.seq
}

/// Live-only frames: never stored, without a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum LiveSignal {
    /// Someone on the other side is typing (or stopped).
    #[serde(rename = "typing")]
    Typing(Typing),
    /// The assistant's contexts changed (an admin edited them): the ones a customer picks from now.
    #[serde(rename = "contexts")]
    Contexts(Vec<super::ContextInfo>),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatStatus, MessageStatus};

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
            sources: Vec::new(),
            unanswered: false,
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
    fn the_browsers_reading_of_a_frame_agrees_with_the_derived_one() {
        let message = message(3, "hi \"there\" \u{e9}", MessageStatus::Complete);
        let frames = [
            ServerFrame::Event(ChatEvent { seq: 7, event: Event::MessageCreated(message.clone()) }),
            ServerFrame::Event(ChatEvent {
                seq: 8,
                event: Event::MessageDelta(Delta { message_id: 3, text: "\n".into() }),
            }),
            ServerFrame::Event(ChatEvent { seq: 9, event: Event::MessageDeleted(Deleted { message_id: 3 }) }),
            ServerFrame::Event(ChatEvent { seq: 10, event: Event::ChatDeleted(ChatDeleted { chat_id: 1 }) }),
            ServerFrame::Signal(LiveSignal::Typing(Typing { staff: true, name: Some("Ann".into()), typing: true })),
            ServerFrame::Error(ErrorBody {
                error: crate::model::ErrorDetail { code: "not_found".into(), message: "chat was not found".into() },
            }),
        ];
        for frame in frames {
            let text = serde_json::to_string(&frame).unwrap();
            assert_eq!(ServerFrame::parse(&text), Some(serde_json::from_str::<ServerFrame>(&text).unwrap()), "{text}");
            let seq = match &frame {
                ServerFrame::Event(event) => Some(event.seq),
                _ => None,
            };
            assert_eq!(frame_seq(&text), seq, "{text}");
        }
        for broken in [
            "",
            "{",
            r#"{"seq":1,"type":"message.nope","data":{}}"#,
            r#"{"seq":1,"type":"message.delta","data":{"text":1}}"#,
        ] {
            assert_eq!(ServerFrame::parse(broken), None, "{broken}");
        }
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
