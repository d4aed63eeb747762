//! Live events over Server-Sent Events and WebSocket: the same sequence-numbered events, resumable.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::{
        ws::{rejection::WebSocketUpgradeRejection, Message as WsMessage, WebSocket, WebSocketUpgrade},
        State,
    },
    http::HeaderMap,
    response::{
        sse::{Event, KeepAlive, Sse},
        Response,
    },
};
use futures::{stream::BoxStream, Stream, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Path, Query};
use crate::{
    model::ChatEvent,
    server::{
        error::{AppError, AppResult},
        service::{Caller, ChatService},
    },
};

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResumeQuery {
    /// Resume after this sequence number (SSE clients may send `Last-Event-ID` instead).
    pub after: Option<i64>,
}

/// Ends the stream at the first error (logged); the client reconnects and resumes.
fn until_error(events: BoxStream<'static, AppResult<ChatEvent>>) -> impl Stream<Item = ChatEvent> + Send {
    events.scan((), |_, item| {
        futures::future::ready(match item {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::warn!(?error, "an event stream ended on an error");
                None
            }
        })
    })
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/events", tag = "events", params(("id" = i64, Path), ResumeQuery),
    responses((status = 200, description = "text/event-stream: `id` is the sequence number, `event` the type, `data` JSON",
        content_type = "text/event-stream"), (status = 404, body = crate::model::ErrorBody)))]
pub async fn sse(
    State(service): State<Arc<ChatService>>,
    caller: Caller,
    Path(chat_id): Path<i64>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last_event_id = match headers.get("last-event-id").map(|v| v.to_str().map(str::parse::<i64>)) {
        None => None,
        Some(Ok(Ok(seq))) => Some(seq),
        Some(_) => return Err(AppError::BadRequest("Last-Event-ID must be a sequence number".into())),
    };
    let events = service.subscribe(caller, chat_id, last_event_id.or(query.after)).await?;
    let events = until_error(events).map(|event| {
        Ok(Event::default().id(event.seq.to_string()).event(event.kind.as_str()).data(event.data.to_string()))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(Debug, Deserialize)]
struct Resume {
    after: i64,
}

/// WebSocket close code for a chat that does not exist (or is not the caller's).
pub const CLOSE_NOT_FOUND: u16 = 4004;

#[utoipa::path(get, path = "/api/v1/chats/{id}/ws", tag = "events", params(("id" = i64, Path), ResumeQuery),
    responses((status = 101, description = "WebSocket: server sends `{\"seq\",\"type\",\"data\"}`; send `{\"after\": seq}` to resume"),
        (status = 404, body = crate::model::ErrorBody)))]
pub async fn ws(
    State(service): State<Arc<ChatService>>,
    caller: Caller,
    Path(chat_id): Path<i64>,
    Query(query): Query<ResumeQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    service.chat(caller, chat_id).await?;
    let upgrade =
        upgrade.map_err(|_| AppError::BadRequest("this endpoint speaks WebSocket: send an upgrade request".into()))?;
    // Small buffers: thousands of mostly idle sockets must not cost 128 KiB each.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| run_socket(socket, service, caller, chat_id, query.after)))
}

async fn run_socket(
    mut socket: WebSocket,
    service: Arc<ChatService>,
    caller: Caller,
    chat_id: i64,
    after: Option<i64>,
) {
    let mut events = match service.subscribe(caller, chat_id, after).await {
        Ok(events) => events,
        Err(_) => return close(socket, CLOSE_NOT_FOUND, "chat not found").await,
    };
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => {
                    let text = serde_json::to_string(&event).unwrap_or_default();
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(?error, "a WebSocket event stream failed");
                    return close(socket, 1011, "try again").await;
                }
                None => return close(socket, 1001, "going away").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<Resume>(&text) {
                    Ok(resume) => match service.subscribe(caller, chat_id, Some(resume.after)).await {
                        Ok(resumed) => events = resumed,
                        Err(_) => return close(socket, CLOSE_NOT_FOUND, "chat not found").await,
                    },
                    Err(_) => {
                        let error = serde_json::json!({"error": {"code": "bad_request", "message": "send {\"after\": <seq>} to resume"}});
                        if socket.send(WsMessage::Text(error.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                },
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = axum::extract::ws::CloseFrame { code, reason: reason.into() };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}
