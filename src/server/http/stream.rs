//! Live events over Server-Sent Events and WebSocket: the same sequence-numbered events, resumable.

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

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
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::{
    extract::{Path, Query},
    session::{origin_allowed, Session, WS_PROTOCOL},
};
use crate::{
    model::{ChatEvent, ClientFrame, ErrorBody, ErrorDetail, LiveSignal, PanelEvent, ServerFrame, Typing},
    server::{
        app::Frontdesk,
        chat::rules::check_resume,
        error::{AppError, AppResult},
        events::StreamSlot,
        identity::{Caller, Staff},
        inquiries::Inquiries,
        metrics::{self, ConnectionGuard},
    },
};

/// How long a frame may wait on a client that does not read before its socket is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// What clients send on a socket is small (a resume, a typing signal; messages go over HTTP).
const MAX_CLIENT_FRAME: usize = 1024;
/// A socket may ask to resume (reload from the database) once a second.
const RESUME_INTERVAL: Duration = Duration::from_secs(1);
/// Typing signals: a change passes at once; the same state again at most every 3 s.
const TYPING_REPEAT: Duration = Duration::from_secs(3);
/// How often a staff socket checks that its session has not expired (sign-out closes it at once).
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// A slot for one more live connection of `user_id`, or 429 when they hold their share.
fn stream_slot(app: &Frontdesk, user_id: i64, staff: bool) -> AppResult<StreamSlot> {
    let max = app.config.streams_per_visitor as usize * if staff { 4 } else { 1 };
    app.hub.open_stream(user_id, max).ok_or_else(|| {
        AppError::rate_limited("too many live connections are open; close another tab", Duration::from_secs(5))
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResumeQuery {
    /// Resume after this sequence number (SSE clients may send `Last-Event-ID` instead).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The headers of a WebSocket handshake (RFC 6455), as the server checks them: a plain GET of a
/// WebSocket endpoint is refused (400).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Handshake {
    /// `websocket`, in any case.
    #[param(rename = "Upgrade", pattern = "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$")]
    pub upgrade: String,
    /// Names `upgrade` (in any case) among its comma-separated tokens.
    #[param(rename = "Connection", pattern = "^(.*,)?[ \\t]*[Uu][Pp][Gg][Rr][Aa][Dd][Ee][ \\t]*(,.*)?$")]
    pub connection: String,
    #[param(rename = "Sec-WebSocket-Version", pattern = "^13$")]
    pub version: String,
    /// The client's nonce: 16 random bytes in base64.
    #[param(rename = "Sec-WebSocket-Key")]
    pub key: String,
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
    State(app): State<Frontdesk>,
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
    // Whose chat first: a caller it is not for gets 404 without taking a connection slot.
    let events = app.chats.subscribe(caller, chat_id, last_event_id.or(query.after)).await?;
    let slot = stream_slot(&app, caller.user_id, false)?;
    let counted = metrics::get().connection("sse");
    // A replica shutting down ends the stream: the browser reconnects (to another replica).
    let events = until_error(events).take_until(app.draining()).map(move |event| {
        let _open = (&slot, &counted);
        Ok(Event::default().id(event.seq.to_string()).event(event.event.kind().as_str()).data(event.event.data_json()))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// WebSocket close code: sign in first.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// WebSocket close code: signed in, but not allowed (a visitor on a staff feed).
pub const CLOSE_FORBIDDEN: u16 = 4003;
/// WebSocket close code for a chat that does not exist (or is not the caller's).
pub const CLOSE_NOT_FOUND: u16 = 4004;
/// WebSocket close code when the replica shuts down (Service Restart): reconnect at once, to
/// another replica.
pub const CLOSE_RESTART: u16 = 1012;

/// Who follows a conversation: its customer, or staff.
#[derive(Clone, Copy)]
enum Follower {
    Customer(Caller),
    Staff(Staff),
}

impl Follower {
    fn is_staff(self) -> bool {
        matches!(self, Follower::Staff(_))
    }

    async fn follow(
        self,
        app: &Frontdesk,
        chat_id: i64,
        after: Option<i64>,
    ) -> AppResult<BoxStream<'static, AppResult<ChatEvent>>> {
        match self {
            Follower::Customer(caller) => app.chats.subscribe(caller, chat_id, after).await,
            Follower::Staff(staff) => app.inquiries.follow(staff, chat_id, after).await,
        }
    }
}

/// The WebSocket upgrade, after the Origin check; small buffers so thousands of mostly idle
/// sockets do not cost 128 KiB each.
fn upgrade(
    app: &Frontdesk,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<WebSocketUpgrade> {
    if !origin_allowed(headers, &app.config) {
        return Err(AppError::Forbidden);
    }
    let upgrade =
        upgrade.map_err(|_| AppError::BadRequest("this endpoint speaks WebSocket: send an upgrade request".into()))?;
    Ok(upgrade
        // An embedded window offers this protocol (beside the one carrying its token); a browser
        // drops a socket whose server picks none of the offered ones.
        .protocols([WS_PROTOCOL])
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/ws", tag = "events", params(("id" = i64, Path), ResumeQuery, Handshake),
    responses((status = 101, description = "WebSocket: server sends `{\"seq\",\"type\",\"data\"}`; send `{\"after\": seq}` to resume and `{\"typing\": true|false}` while typing (the other side gets `{\"type\": \"typing\", \"data\": Typing}`, without seq); when admins change the assistant's contexts, `{\"type\": \"contexts\", \"data\": [ContextInfo]}`. Closes with 4004 for a chat that is not the caller's."),
        (status = 403, body = crate::model::ErrorBody, description = "Another site's Origin"),
        (status = 404, body = crate::model::ErrorBody)))]
pub async fn ws(
    State(app): State<Frontdesk>,
    caller: Caller,
    Path(chat_id): Path<i64>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let after = check_resume(query.after)?;
    app.chats.get_chat(caller, chat_id).await?;
    let slot = stream_slot(&app, caller.user_id, false)?;
    let follower = Follower::Customer(caller);
    let upgrade = upgrade(&app, &headers, ws)?;
    let socket = Live { app, _slot: Some(slot), session: None, _counted: metrics::get().connection("chat_ws") };
    // The contexts are followed from the handshake on, as the panel feed is: a change made just
    // after the client saw the socket open is on it.
    let contexts = Some(socket.app.contexts.watch());
    Ok(upgrade.on_upgrade(move |ws| run_socket(ws, socket, Ok(follower), chat_id, after, contexts)))
}

#[utoipa::path(get, path = "/api/v1/admin/inquiries/{id}/ws", tag = "admin", params(("id" = i64, Path), ResumeQuery, Handshake),
    responses((status = 101, description = "WebSocket: the conversation's events, as on /chats/{id}/ws. Closes with 4001 without a session, 4003 for a visitor, 4004 for an unknown inquiry."),
        (status = 403, body = crate::model::ErrorBody, description = "Another site's Origin")))]
pub async fn staff_ws(
    State(app): State<Frontdesk>,
    session: Session,
    Path(chat_id): Path<i64>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let after = check_resume(query.after)?;
    let staff = session.staff();
    let slot = staff.as_ref().ok().map(|s| stream_slot(&app, s.user_id, true)).transpose()?;
    let follower = staff.map(Follower::Staff);
    let upgrade = upgrade(&app, &headers, ws)?;
    let socket = Live { app, _slot: slot, session: Some(session), _counted: metrics::get().connection("staff_ws") };
    Ok(upgrade.on_upgrade(move |ws| run_socket(ws, socket, follower, chat_id, after, None)))
}

#[utoipa::path(get, path = "/api/v1/admin/ws", tag = "admin", params(Handshake),
    responses((status = 101, description = "WebSocket: every conversation's events but token deltas, as `{\"chat_id\",\"seq\",\"type\",\"data\"}`, and the team's private notes as `{\"type\":\"note.created\",\"data\":Note}` (or, for a long one written on another replica, `{\"type\":\"note.written\",\"data\":{\"chat_id\",\"note_id\",\"mentions\"}}`: read the conversation's notes), `{\"type\":\"labels.changed\"}` and who is on duty as `{\"type\":\"presence.changed\",\"data\":Presence}`, from the moment of connecting (reload the list on connect). Closes with 4001 without a session, 4003 for a visitor, 1013 when the panel fell behind or this server lost touch with the other replicas for a while (reconnect and reload)."),
        (status = 403, body = crate::model::ErrorBody, description = "Another site's Origin")))]
pub async fn panel_ws(
    State(app): State<Frontdesk>,
    session: Session,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let staff = session.staff();
    let slot = staff.as_ref().ok().map(|s| stream_slot(&app, s.user_id, true)).transpose()?;
    let upgrade = upgrade(&app, &headers, ws)?;
    // The feed starts as the handshake is answered, not when the socket's task first runs: a
    // change made just after the client saw the socket open is on it.
    let feed = staff
        .map(|s| (s.user_id, (app.inquiries.watch_panel(), app.inquiries.watch_panel_resets(), app.hub.watch_team())));
    let socket = Live { app, _slot: slot, session: Some(session), _counted: metrics::get().connection("panel_ws") };
    Ok(upgrade.on_upgrade(move |ws| run_panel(ws, socket, feed)))
}

/// What a panel socket follows: every conversation's changes, the feed's resets, and the team's
/// staff-only news (notes, labels, presence).
type PanelReceivers = (
    tokio::sync::broadcast::Receiver<PanelEvent>,
    tokio::sync::watch::Receiver<u64>,
    tokio::sync::broadcast::Receiver<crate::model::TeamEvent>,
);

/// Whose panel it is, and what it follows.
type PanelFeed = (i64, PanelReceivers);

/// Closes a socket whose caller may not follow it.
async fn refuse(socket: WebSocket, error: AppError) {
    match error {
        AppError::Unauthorized => close(socket, CLOSE_UNAUTHORIZED, "sign in").await,
        AppError::Forbidden => close(socket, CLOSE_FORBIDDEN, "staff only").await,
        _ => close(socket, CLOSE_NOT_FOUND, "chat not found").await,
    }
}

/// What a socket holds while it is open: the application, its place in the caller's share of live
/// connections, and (for staff) the session whose end closes it.
struct Live {
    app: Frontdesk,
    _slot: Option<StreamSlot>,
    session: Option<Session>,
    _counted: ConnectionGuard,
}

impl Live {
    /// Resolves when a staff socket's session ends; never for a customer's socket.
    async fn session_ended(&self) {
        match &self.session {
            Some(session) => session.ended(SESSION_CHECK).await,
            None => std::future::pending().await,
        }
    }
}

async fn run_panel(socket: WebSocket, live: Live, feed: AppResult<PanelFeed>) {
    let (user_id, receivers) = match feed {
        Ok(feed) => feed,
        Err(error) => return refuse(socket, error).await,
    };
    // An open panel makes its member online (when they did not say they are away).
    let routing = live.app.routing.clone();
    let mut open = match routing.panel_opened(user_id).await {
        Ok(open) => Some(open),
        Err(error) => {
            tracing::warn!(?error, user_id, "could not note an open panel");
            None
        }
    };
    follow_panel(socket, live, receivers, &mut open).await;
    if let Some(open) = open {
        if let Err(error) = routing.panel_closed(open).await {
            tracing::warn!(?error, user_id, "could not note a closed panel");
        }
    }
}

async fn follow_panel(
    mut socket: WebSocket,
    live: Live,
    (mut events, mut resets, mut team): PanelReceivers,
    open: &mut Option<crate::server::routing::OpenPanel>,
) {
    let app = live.app.clone();
    let ended = live.session_ended();
    tokio::pin!(ended);
    let draining = app.draining();
    tokio::pin!(draining);
    let mut beat = tokio::time::interval(crate::server::routing::PRESENCE_BEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        tokio::select! {
            _ = &mut ended => return close(socket, CLOSE_UNAUTHORIZED, "signed out").await,
            _ = &mut draining => return close(socket, CLOSE_RESTART, "the server restarts: reconnect").await,
            _ = resets.changed() => return close(socket, 1013, "changes may be missing: reload").await,
            _ = beat.tick() => {
                if let Some(seen) = *open {
                    match app.routing.panel_seen(seen).await {
                        Ok(seen) => *open = Some(seen),
                        Err(error) => tracing::warn!(?error, "could not note a panel still open"),
                    }
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    if send(&mut socket, &event).await.is_err() {
                        return;
                    }
                    delivered_to_staff(&app.inquiries, event.chat_id, &event.event).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    return close(socket, 1013, "fell behind: reload").await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return close(socket, 1001, "going away").await,
            },
            news = team.recv() => match news {
                Ok(news) => {
                    if send(&mut socket, &news).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    return close(socket, 1013, "fell behind: reload").await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return close(socket, 1001, "going away").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn run_socket(
    mut socket: WebSocket,
    live: Live,
    follower: AppResult<Follower>,
    chat_id: i64,
    after: Option<i64>,
    contexts: Option<tokio::sync::watch::Receiver<std::sync::Arc<crate::server::llm::Contexts>>>,
) {
    let app = live.app.clone();
    let follower = match follower {
        Ok(follower) => follower,
        Err(error) => return refuse(socket, error).await,
    };
    let mut events = match follower.follow(&app, chat_id, after).await {
        Ok(events) => events,
        Err(error) => return refuse(socket, error).await,
    };
    let mut typing = app.hub.watch_typing(chat_id);
    // A customer's window hears when admins change the contexts it offers.
    let mut contexts_open = contexts.is_some();
    let mut contexts = contexts.unwrap_or_else(|| app.contexts.watch());
    let name = match follower {
        Follower::Staff(staff) => app.accounts.me(staff.user_id).await.ok().map(|me| me.display_name),
        Follower::Customer(_) => None,
    };
    let ended = live.session_ended();
    tokio::pin!(ended);
    let mut last_resume: Option<Instant> = None;
    let mut last_typing: Option<(bool, Instant)> = None;
    let mut deleted = false;
    let draining = app.draining();
    tokio::pin!(draining);
    loop {
        tokio::select! {
            _ = &mut ended => return close(socket, CLOSE_UNAUTHORIZED, "signed out").await,
            _ = &mut draining => return close(socket, CLOSE_RESTART, "the server restarts: reconnect").await,
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if send(&mut socket, &event).await.is_err() {
                        return;
                    }
                    deleted = event.event.ends_the_stream();
                    if follower.is_staff() {
                        delivered_to_staff(&app.inquiries, chat_id, &event).await;
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(?error, "a WebSocket event stream failed");
                    return close(socket, 1011, "try again").await;
                }
                // After `chat.deleted` the chat is gone for good: no point reconnecting.
                None if deleted => return close(socket, CLOSE_NOT_FOUND, "the chat was deleted").await,
                None => return close(socket, 1001, "going away").await,
            },
            // The other side's typing indicator (never one's own).
            signal = typing.rx.recv() => {
                if let Ok(signal) = signal.map_err(drop).and_then(|s| if s.staff != follower.is_staff() { Ok(s) } else { Err(()) }) {
                    if send(&mut socket, &ServerFrame::Signal(LiveSignal::Typing(signal))).await.is_err() {
                        return;
                    }
                }
            }
            changed = contexts.changed(), if contexts_open => {
                if changed.is_err() {
                    contexts_open = false;
                    continue;
                }
                let infos = contexts.borrow_and_update().infos();
                if send(&mut socket, &ServerFrame::Signal(LiveSignal::Contexts(infos))).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(ClientFrame::Resume { after }) => {
                        if last_resume.is_some_and(|t| t.elapsed() < RESUME_INTERVAL) {
                            let error = ErrorBody { error: ErrorDetail {
                                code: "rate_limited".into(),
                                message: "resume at most once a second; the events keep coming meanwhile".into(),
                            } };
                            if send(&mut socket, &ServerFrame::Error(error)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        last_resume = Some(Instant::now());
                        match follower.follow(&app, chat_id, Some(after)).await {
                            Ok(resumed) => events = resumed,
                            Err(error) => return refuse(socket, error).await,
                        }
                    }
                    Ok(ClientFrame::Typing { typing }) => {
                        let repeat = last_typing.is_some_and(|(was, t)| was == typing && t.elapsed() < TYPING_REPEAT);
                        if !repeat {
                            last_typing = Some((typing, Instant::now()));
                            app.hub.typing(chat_id, Typing { staff: follower.is_staff(), name: name.clone(), typing });
                        }
                    }
                    Err(_) => {
                        let error = ErrorBody { error: ErrorDetail {
                            code: "bad_request".into(),
                            message: r#"send {"after": <seq>} to resume or {"typing": true} while typing"#.into(),
                        } };
                        if send(&mut socket, &ServerFrame::Error(error)).await.is_err() {
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

/// Sends one JSON frame; a client that has not taken it within [`SEND_TIMEOUT`] is given up on.
async fn send(socket: &mut WebSocket, frame: &impl Serialize) -> Result<(), ()> {
    let text = serde_json::to_string(frame).unwrap_or_default();
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(WsMessage::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// A customer message sent to a staff member's socket is delivered: the customer sees it.
async fn delivered_to_staff(inquiries: &Inquiries, chat_id: i64, event: &ChatEvent) {
    if let Some(message) = event.event.new_customer_message() {
        if let Err(error) = inquiries.received(chat_id, message.id).await {
            tracing::warn!(?error, chat_id, "could not record a delivery");
        }
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = axum::extract::ws::CloseFrame { code, reason: reason.into() };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}
