//! Server functions of the chat window: thin adapters over the chats, the accounts (preferences)
//! and the catalog, which they take from the application (`server::app::Frontdesk`)
//! in the Leptos context.

use crate::components::client::{Json, TextJson, WindowClient};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Chat, ContextInfo, ErrorDetail, Message, MessagePage, Preferences, Product, WindowMode};

/// A server function error a person can read (never SQL or a stack).
impl FromServerFnError for ErrorDetail {
    type Encoder = TextJson;

    /// Failures of the call itself (not of the operation): arguments that do not parse, a network
    /// that fails, a response that cannot be read. Their inner text (serde, extractors, transport)
    /// is logged, never shown.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        tracing::warn!(error = %value, "server function call failed");
        let (code, message) = match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                ("bad_request", "the request's fields could not be read")
            }
            ServerFnErrorErr::Registration(_) | ServerFnErrorErr::UnsupportedRequestMethod(_) => {
                ("not_found", "that action does not exist")
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                ("network", "the server could not be reached; check the connection and try again")
            }
            _ => ("internal", "something went wrong on our side; nothing you sent was lost"),
        };
        #[cfg(feature = "ssr")]
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            let status = match code {
                "bad_request" => axum::http::StatusCode::BAD_REQUEST,
                "not_found" => axum::http::StatusCode::NOT_FOUND,
                _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            };
            response.set_status(status);
        }
        ErrorDetail { code: code.into(), message: message.into() }
    }
}

impl std::fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(feature = "ssr")]
impl From<crate::server::error::AppError> for ErrorDetail {
    fn from(e: crate::server::error::AppError) -> Self {
        if e.status().is_server_error() {
            tracing::error!(error = ?e, "server function failed");
        }
        // The response carries the error's status (401, 403, 404, 422…), as REST does.
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(e.status());
            if let Some(secs) = e.retry_after_secs() {
                response.insert_header(axum::http::header::RETRY_AFTER, secs.into());
            }
        }
        e.body().error
    }
}

/// What the chat window needs to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatView {
    pub chat: Chat,
    pub page: MessagePage,
    pub contexts: Vec<ContextInfo>,
    pub max_chars: usize,
    pub preferences: Preferences,
    pub product: Option<Product>,
    pub window: WindowMode,
    /// The window's title and subtitle (or, outside the team's hours, when it is back), and the
    /// welcome beside the closed window's launcher, as admins set them.
    pub title: String,
    pub subtitle: String,
    pub welcome: String,
    /// Outside the team's hours: asking for a person asks for an email first.
    pub away: bool,
    /// The customer's thumbs on the assistant's replies: `(message id, helpful)`.
    pub thumbs: Vec<(i64, bool)>,
    /// Their rating (1 to 5) of the conversation's latest resolution.
    pub rating: Option<i64>,
}

/// The chat and its newest page, once the window's draft became a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartedChat {
    pub chat: Chat,
    pub page: MessagePage,
}

#[cfg(feature = "ssr")]
fn app() -> crate::server::app::Frontdesk {
    expect_context::<crate::server::app::Frontdesk>()
}

/// Who calls: the session's user, or nobody (who owns no chat, so an action on one is a 404).
/// Creates no visitor; only `start_chat` and `save_preferences` do, once their input is checked.
#[cfg(feature = "ssr")]
fn caller_and_chats(
) -> Result<(crate::server::identity::Caller, std::sync::Arc<crate::server::chat::Chats>), ErrorDetail> {
    Ok((session()?.reader(), app().chats))
}

/// This request's session (put there by the session layer). Errors become the one error type, so
/// a database that is down reads as "unavailable", never as an extractor's debug text.
#[cfg(feature = "ssr")]
pub(crate) fn session() -> Result<crate::server::http::session::Session, ErrorDetail> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::server::http::session::Session>().cloned())
        .ok_or_else(|| crate::server::error::AppError::Internal("the session layer is missing".into()).into())
}

/// The shop's page the window is on, as the browser's `Referer` tells it: the embed's frame
/// (`/widget`) carries the host page's address and title in its own query (`page_url`,
/// `page_title`, written by embed.js); any other page of this server is its own address. None
/// when the browser sends no referrer or the address is not http(s). (The window's download has
/// a budget: the server reads what the browser sends anyway rather than the window sending it.)
#[cfg(feature = "ssr")]
fn page_of_window() -> Option<crate::model::Page> {
    let parts = use_context::<axum::http::request::Parts>()?;
    let referer = parts.headers.get(axum::http::header::REFERER)?.to_str().ok()?;
    let address = reqwest::Url::parse(referer).ok()?;
    let page = if address.path() == "/widget" {
        let (mut url, mut title) = (None, None);
        for (name, value) in address.query_pairs() {
            match &*name {
                "page_url" => url = Some(value.into_owned()),
                "page_title" => title = Some(value.chars().take(200).collect::<String>()),
                _ => {}
            }
        }
        crate::model::Page { url: url?, title: title.filter(|t| !t.trim().is_empty()) }
    } else {
        crate::model::Page { url: referer.to_string(), title: None }
    };
    crate::server::knowledge::is_web_address(&page.url).then_some(page)
}

/// The window's browser: its User-Agent, and the time zone the host page's embed.js put in the
/// frame's address (`tz`, read from the `Referer` as the page is).
#[cfg(feature = "ssr")]
fn browser_of_window() -> (Option<String>, Option<String>) {
    let Some(parts) = use_context::<axum::http::request::Parts>() else { return (None, None) };
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let user_agent = header(axum::http::header::USER_AGENT).map(str::to_string);
    let time_zone = header(axum::http::header::REFERER)
        .and_then(|referer| reqwest::Url::parse(referer).ok())
        .filter(|address| address.path() == "/widget")
        .and_then(|address| address.query_pairs().find(|(name, _)| name == "tz").map(|(_, zone)| zone.into_owned()));
    (user_agent, time_zone)
}

#[cfg(feature = "ssr")]
async fn window_mode() -> WindowMode {
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    crate::server::http::session::cookie_value(&headers, WindowMode::COOKIE)
        .and_then(|value| WindowMode::parse(&value))
        .unwrap_or_default()
}

/// What the window opens on: the visitor's latest chat (about `product_id` when given) with its
/// newest page, or a draft with the greeting when they have none. Writes nothing.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn load_chat(product_id: Option<String>) -> Result<ChatView, ErrorDetail> {
    let reader = session()?.reader();
    let app = app();
    let product = match product_id {
        Some(id) => Some(app.catalog.get(&id).await?),
        None => None,
    };
    let (chat, page) = app.chats.opening(reader, product.as_ref()).await?;
    let look = app.branding.look().await?;
    let (thumbs, rating) = match chat.id {
        crate::model::DRAFT_CHAT_ID => (Vec::new(), None),
        id => app.satisfaction.for_window(reader, id).await?,
    };
    Ok(ChatView {
        chat,
        page,
        contexts: app.chats.contexts(),
        max_chars: app.chats.limits().message_max_chars,
        preferences: app.accounts.preferences(reader).await?,
        product,
        window: window_mode().await,
        away: look.away.is_some(),
        title: look.title,
        subtitle: look.subtitle,
        welcome: look.welcome,
        thumbs,
        rating,
    })
}

/// Makes the window's draft a conversation at the visitor's first action (a message, "talk to
/// a person", a context picked): the visitor and the chat come into being here. A first message
/// comes along (`message`, `client_id`), so it is sent in the same request.
#[server(prefix = "/api/fn", input = Json, output = Json, endpoint = "start_chat", client = WindowClient)]
pub async fn start_chat(
    product_id: Option<String>,
    context: Option<String>,
    message: Option<String>,
    client_id: Option<String>,
) -> Result<StartedChat, ErrorDetail> {
    let chats = app().chats;
    chats.check_new_chat(context.as_deref(), product_id.as_deref(), None).await?;
    let session = session()?;
    let first = message.as_deref().map(|content| crate::server::chat::Outgoing {
        content,
        context: None,
        client_id: client_id.as_deref(),
    });
    let visited = page_of_window();
    let (chat, page) =
        chats.start_chat(session.starter(), product_id.as_deref(), visited.as_ref(), context.as_deref(), first).await?;
    let (user_agent, time_zone) = browser_of_window();
    crate::server::http::rest::note_visit(&app().customers, chat.id, user_agent.as_deref(), time_zone.as_deref()).await;
    Ok(StartedChat { chat, page })
}

/// A page of messages: before a message, after one, or (neither) the newest.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn list_messages(chat_id: i64, before: Option<i64>, after: Option<i64>) -> Result<MessagePage, ErrorDetail> {
    let (reader, chats) = caller_and_chats()?;
    Ok(chats.list_messages(reader, chat_id, before, after, Some(30)).await?)
}

/// Sends a message; the reply arrives on the chat's event stream. `client_id` makes a retried
/// send harmless and names the optimistic copy the saved message replaces.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn send_message(
    chat_id: i64,
    content: String,
    context: Option<String>,
    client_id: Option<String>,
) -> Result<Message, ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    let outgoing = crate::server::chat::Outgoing {
        content: &content,
        context: context.as_deref(),
        client_id: client_id.as_deref(),
    };
    Ok(chats.send_message(caller, chat_id, outgoing).await?.message)
}

/// Edits a customer's message; the reply after it is written again.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn edit_message(chat_id: i64, message_id: i64, content: String) -> Result<(), ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    chats.edit_message(caller, chat_id, message_id, &content).await?;
    Ok(())
}

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn delete_message(chat_id: i64, message_id: i64) -> Result<(), ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    chats.delete_message(caller, chat_id, message_id).await?;
    Ok(())
}

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn stop_reply(chat_id: i64, message_id: i64) -> Result<(), ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    chats.stop_reply(caller, chat_id, message_id).await?;
    Ok(())
}

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn retry_reply(chat_id: i64, message_id: i64) -> Result<(), ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    chats.retry_reply(caller, chat_id, message_id).await?;
    Ok(())
}

/// Switches the context (it shows in the transcript), renames, and/or saves the email staff can
/// follow up on (an empty one removes it); `None` leaves a field as it is.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn update_chat(
    chat_id: i64,
    context: Option<String>,
    title: Option<String>,
    customer_email: Option<String>,
) -> Result<Chat, ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    let changes = crate::server::chat::ChatChanges { context, title, customer_email };
    Ok(chats.update_chat(caller, chat_id, &changes).await?)
}

/// The customer has read the conversation up to message `up_to`.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn mark_read(chat_id: i64, up_to: i64) -> Result<(), ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    chats.mark_read(caller, chat_id, up_to).await?;
    Ok(())
}

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn save_preferences(preferences: Preferences) -> Result<Preferences, ErrorDetail> {
    let accounts = app().accounts;
    accounts.check_preferences(&preferences)?;
    Ok(accounts.save_preferences(session()?.caller().await?, &preferences).await?)
}

/// "Talk to a person": the chat waits for staff and the assistant pauses.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn handoff(chat_id: i64) -> Result<Chat, ErrorDetail> {
    let (caller, chats) = caller_and_chats()?;
    Ok(chats.handoff(caller, chat_id).await?)
}

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn list_products() -> Result<Vec<Product>, ErrorDetail> {
    Ok(app().catalog.first(STOREFRONT_PRODUCTS).await?)
}

/// How many products the storefront lists.
#[cfg(feature = "ssr")]
const STOREFRONT_PRODUCTS: i64 = 60;

#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn get_product(id: String) -> Result<Product, ErrorDetail> {
    Ok(app().catalog.get(&id).await?)
}

/// Rates the conversation's latest resolution (1 to 5, an optional comment); rating it again
/// changes the rating for 7 days.
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn rate_chat(chat_id: i64, score: i64, comment: Option<String>) -> Result<(), ErrorDetail> {
    let caller = session()?.reader();
    app().satisfaction.rate(caller, chat_id, &crate::model::RatingInput { score, comment }).await?;
    Ok(())
}

/// Thumbs up (`Some(true)`) or down on one of the assistant's replies, or off (`None`).
#[server(prefix = "/api/fn", input = Json, output = Json, client = WindowClient)]
pub async fn thumb_reply(chat_id: i64, message_id: i64, helpful: Option<bool>) -> Result<(), ErrorDetail> {
    let caller = session()?.reader();
    let rater = crate::server::satisfaction::Rater::Customer(caller);
    app().satisfaction.thumb(rater, chat_id, message_id, helpful).await?;
    Ok(())
}
