//! The REST API under /api/v1 for visitors and integrations: thin adapters over the chats, the
//! accounts (preferences) and the catalog.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use super::session::Session;
use crate::{
    model::{Chat, ContextInfo, ErrorBody, Message, MessagePage, Page, Preferences, Product, ProductPage},
    server::{
        accounts::Accounts,
        catalog::Catalog,
        chat::{
            rules::{check_client_id, check_content},
            ChatChanges, Chats, Exchange, Outgoing,
        },
        error::AppResult,
        identity::Caller,
        knowledge::ListQuery,
    },
};

type Service = State<Arc<Chats>>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChat {
    /// A context id from GET /contexts; the caller's default when absent.
    pub context: Option<String>,
    /// The product the chat is about: the shop's id for it (404 when there is none).
    pub product_id: Option<String>,
    /// The shop's page the customer is on: the assistant and staff know where they are.
    pub page: Option<Page>,
    /// The customer's time zone, an IANA name like `Europe/Paris` (staff see their local time).
    #[schema(max_length = 64, pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")]
    pub time_zone: Option<String>,
    /// The customer's first message, sent as the chat opens (one request where two would do):
    /// the reply starts at once; follow it on `/chats/{id}/events` (without `after`, a joining
    /// client gets it from its start). Refused (413, 422), nothing is created; refused for a limit
    /// (429) once the chat exists, the chat stays.
    pub message: Option<FirstMessage>,
}

/// A chat's first message (see `POST /api/v1/chats`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstMessage {
    /// Not blank; at most `FRONTDESK_MESSAGE_MAX_CHARS` characters (413 beyond).
    #[schema(pattern = r"\S")]
    pub content: String,
    /// As on `POST /chats/{id}/messages`.
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChat {
    pub context: Option<String>,
    /// Not blank, at most 120 characters (kept without the spaces around it).
    #[schema(pattern = r"\S", max_length = 120)]
    pub title: Option<String>,
    /// Where staff can follow up: an address like name@example.com (spaces around it and
    /// capitals are dropped); an empty string removes it.
    #[schema(max_length = 254)]
    pub customer_email: Option<String>,
}

/// How far a reader has read, by message id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadUpTo {
    #[schema(minimum = 0)]
    pub up_to: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatList {
    pub chats: Vec<Chat>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Not blank; at most `FRONTDESK_MESSAGE_MAX_CHARS` characters (413 beyond).
    #[schema(pattern = r"\S")]
    pub content: String,
    /// Switch the chat to this context before the reply.
    pub context: Option<String>,
    /// An id the client makes for this send (a UUID fits; at most 64 visible ASCII characters).
    /// Sending again with the same id creates nothing new: the answer is the first send's, with
    /// status 200 instead of 201. The saved message carries it, so a client can match its
    /// optimistic copy.
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// Not blank; at most `FRONTDESK_MESSAGE_MAX_CHARS` characters (413 beyond).
    #[schema(pattern = r"\S")]
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeBody {
    pub message: Message,
    /// The assistant's reply that answers the message (none while a person handles the chat):
    /// `streaming` as the send returns. With `wait=true`, the answer once it has ended. A message
    /// sent while the assistant was still answering earlier ones (a burst) is answered together
    /// with them by one reply after the newest; a waiting send gets that reply, so every send of a
    /// burst ends with the same one.
    pub reply: Option<Message>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedBody {
    pub deleted_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// A `next_cursor` from an earlier page: the page before it (with `after`: the messages
    /// between the two, oldest first).
    pub before: Option<i64>,
    /// A message id: the page after it (`newer_cursor` continues).
    pub after: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WaitQuery {
    /// Answer only once the reply has ended (in a burst: the reply that answers the whole burst).
    #[serde(default)]
    pub wait: bool,
}

#[utoipa::path(get, path = "/api/v1/contexts", tag = "chat", responses((status = 200, body = Vec<ContextInfo>)))]
pub async fn list_contexts(State(service): Service) -> Json<Vec<ContextInfo>> {
    Json(service.contexts())
}

#[utoipa::path(post, path = "/api/v1/chats", tag = "chat", request_body = CreateChat, responses(
    (status = 201, body = Chat), (status = 404, body = ErrorBody, description = "No product with that id"),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_chat(
    State(service): Service,
    State(customers): State<Arc<crate::server::customers::Customers>>,
    session: Session,
    headers: axum::http::HeaderMap,
    Json(body): Json<CreateChat>,
) -> AppResult<impl IntoResponse> {
    service.check_new_chat(body.context.as_deref(), body.product_id.as_deref(), body.page.as_ref()).await?;
    if let Some(zone) = body.time_zone.as_deref().filter(|z| !crate::model::is_time_zone(z)) {
        return Err(crate::server::error::AppError::Invalid(format!(
            "time_zone '{zone}' is not a time zone's name like Europe/Paris"
        )));
    }
    if let Some(first) = &body.message {
        check_content(&first.content, service.limits().message_max_chars)?;
        first.client_id.as_deref().map(check_client_id).transpose()?;
    }
    let chat = service
        .create_chat(session.starter(), body.context.as_deref(), body.product_id.as_deref(), body.page.as_ref())
        .await?;
    let user_agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok());
    note_visit(&customers, chat.id, user_agent, body.time_zone.as_deref()).await;
    let chat = match &body.message {
        Some(first) => {
            let caller = session.caller().await?;
            let outgoing = Outgoing { content: &first.content, context: None, client_id: first.client_id.as_deref() };
            service.send_message(caller, chat.id, outgoing).await?;
            service.get_chat(caller, chat.id).await?
        }
        None => chat,
    };
    Ok((StatusCode::CREATED, Json(chat)))
}

#[utoipa::path(get, path = "/api/v1/chats", tag = "chat", responses((status = 200, body = ChatList)))]
pub async fn list_chats(State(service): Service, caller: Caller) -> AppResult<Json<ChatList>> {
    Ok(Json(ChatList { chats: service.list_chats(caller).await? }))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = "chat", params(("id" = i64, Path)), responses(
    (status = 200, body = Chat), (status = 404, body = ErrorBody)))]
pub async fn get_chat(State(service): Service, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Chat>> {
    Ok(Json(service.get_chat(caller, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/chats/{id}", tag = "chat", params(("id" = i64, Path)), request_body = UpdateChat,
    responses((status = 200, body = Chat), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_chat(
    State(service): Service,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<UpdateChat>,
) -> AppResult<Json<Chat>> {
    let changes = ChatChanges { context: body.context, title: body.title, customer_email: body.customer_email };
    Ok(Json(service.update_chat(caller, id, &changes).await?))
}

#[utoipa::path(put, path = "/api/v1/chats/{id}/read", tag = "chat", params(("id" = i64, Path)), request_body = ReadUpTo,
    responses((status = 200, body = Chat, description = "The chat with its read marks"), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn mark_read(
    State(service): Service,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ReadUpTo>,
) -> AppResult<Json<Chat>> {
    Ok(Json(service.mark_read(caller, id, body.up_to).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}", tag = "chat", params(("id" = i64, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_chat(State(service): Service, caller: Caller, Path(id): Path<i64>) -> AppResult<StatusCode> {
    service.delete_chat(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/messages", tag = "messages", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = MessagePage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_messages(
    State(service): Service,
    caller: Caller,
    Path(id): Path<i64>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<MessagePage>> {
    Ok(Json(service.list_messages(caller, id, page.before, page.after, page.limit).await?))
}

async fn settle(service: &Chats, chat_id: i64, mut exchange: Exchange, wait: bool) -> AppResult<ExchangeBody> {
    if wait {
        if let Some(reply) = &exchange.reply {
            exchange.reply = Some(service.wait_for_reply(chat_id, reply.id).await?);
        }
    }
    Ok(ExchangeBody { message: exchange.message, reply: exchange.reply })
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages", tag = "messages", params(("id" = i64, Path), WaitQuery),
    request_body = SendMessage, responses(
        (status = 201, body = ExchangeBody, description = "Saved. Sent while the assistant was still answering, the unfinished answer is removed (message.deleted) and this reply answers every message since the last answer; an earlier send of the burst that waits (wait=true) answers with this reply too"),
        (status = 200, body = ExchangeBody, description = "A repeated send (same client_id): the message the first created and the reply that answers it now"),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send_message(
    State(service): Service,
    caller: Caller,
    Path(id): Path<i64>,
    Query(wait): Query<WaitQuery>,
    Json(body): Json<SendMessage>,
) -> AppResult<impl IntoResponse> {
    let outgoing =
        Outgoing { content: &body.content, context: body.context.as_deref(), client_id: body.client_id.as_deref() };
    let exchange = service.send_message(caller, id, outgoing).await?;
    let status = if exchange.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(settle(&service, id, exchange, wait.wait).await?)))
}

#[utoipa::path(put, path = "/api/v1/chats/{id}/messages/{mid}", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path), WaitQuery), request_body = EditMessage, responses(
        (status = 200, body = ExchangeBody),
        (status = 403, body = ErrorBody, description = "Not the customer's own message (assistant and staff replies stay as they were)"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit_message(
    State(service): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
    Query(wait): Query<WaitQuery>,
    Json(body): Json<EditMessage>,
) -> AppResult<Json<ExchangeBody>> {
    let exchange = service.edit_message(caller, id, mid, &body.content).await?;
    Ok(Json(settle(&service, id, exchange, wait.wait).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/messages/{mid}", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path)), responses((status = 200, body = DeletedBody),
        (status = 403, body = ErrorBody, description = "Not the customer's own message (assistant and staff replies stay)"),
        (status = 404, body = ErrorBody)))]
pub async fn delete_message(
    State(service): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<DeletedBody>> {
    Ok(Json(DeletedBody { deleted_id: service.delete_message(caller, id, mid).await? }))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages/{mid}/stop", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path)), responses(
        (status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop_reply(
    State(service): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
) -> AppResult<Json<Message>> {
    Ok(Json(service.stop_reply(caller, id, mid).await?))
}

#[utoipa::path(get, path = "/api/v1/preferences", tag = "preferences", responses((status = 200, body = Preferences)))]
pub async fn get_preferences(State(accounts): State<Arc<Accounts>>, caller: Caller) -> AppResult<Json<Preferences>> {
    Ok(Json(accounts.preferences(caller).await?))
}

#[utoipa::path(put, path = "/api/v1/preferences", tag = "preferences", request_body = Preferences, responses(
    (status = 200, body = Preferences), (status = 422, body = ErrorBody)))]
pub async fn save_preferences(
    State(accounts): State<Arc<Accounts>>,
    session: Session,
    Json(body): Json<Preferences>,
) -> AppResult<Json<Preferences>> {
    accounts.check_preferences(&body)?;
    Ok(Json(accounts.save_preferences(session.caller().await?, &body).await?))
}

/// The catalog, by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/products", tag = "products", params(ListQuery), responses(
    (status = 200, body = ProductPage), (status = 422, body = ErrorBody)))]
pub async fn list_products(
    State(catalog): State<Arc<Catalog>>,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<ProductPage>> {
    Ok(Json(catalog.list(&query).await?))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "The shop's id for the product")), responses(
    (status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub async fn get_product(State(catalog): State<Arc<Catalog>>, Path(id): Path<String>) -> AppResult<Json<Product>> {
    Ok(Json(catalog.get(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages/{mid}/retry", tag = "messages",
    params(("id" = i64, Path), ("mid" = i64, Path), WaitQuery), responses(
        (status = 200, body = Message), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not an assistant reply, or a person handles the chat"),
        (status = 422, body = ErrorBody)))]
pub async fn retry_reply(
    State(service): Service,
    caller: Caller,
    Path((id, mid)): Path<(i64, i64)>,
    Query(wait): Query<WaitQuery>,
) -> AppResult<Json<Message>> {
    let reply = service.retry_reply(caller, id, mid).await?;
    Ok(Json(if wait.wait { service.wait_for_reply(id, reply.id).await? } else { reply }))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/handoff", tag = "chat", params(("id" = i64, Path)), responses(
    (status = 200, body = Chat), (status = 404, body = ErrorBody)))]
pub async fn handoff(State(service): Service, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Chat>> {
    Ok(Json(service.handoff(caller, id).await?))
}

/// Notes how a conversation started, for staff (see `Customers::note_visit`); a failure costs the
/// customer nothing: it is logged, and their conversation goes on.
pub(crate) async fn note_visit(
    customers: &crate::server::customers::Customers,
    chat_id: i64,
    user_agent: Option<&str>,
    time_zone: Option<&str>,
) {
    if let Err(error) = customers.note_visit(chat_id, user_agent, time_zone).await {
        tracing::warn!(?error, chat_id, "could not note how a conversation started");
    }
}
