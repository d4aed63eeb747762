//! Server functions of the inquiry panel: thin adapters over the inquiries, the accounts and the
//! usage report, which they take from the application in the Leptos context. Each one checks
//! the caller's role on the server (401 without a session, 403 for a visitor).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::client::Json;
use crate::model::{
    ErrorDetail, GivenSource, Inquiry, InquiryFilter, InquiryPage, InquiryPatch, Me, Message, MessagePage, Product,
    StaffMember, UsageReport,
};

/// What the panel needs once: who is signed in, the team and the catalog (for filters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    pub me: Me,
    pub staff: Vec<StaffMember>,
    pub products: Vec<Product>,
    /// Today's use of the assistant, and the allowances.
    pub usage: UsageReport,
}

#[cfg(feature = "ssr")]
async fn staff_and_app() -> Result<(crate::server::identity::Staff, crate::server::app::Frontdesk), ErrorDetail> {
    let app = expect_context::<crate::server::app::Frontdesk>();
    let session = crate::api::session()?;
    Ok((session.staff()?, app))
}

#[cfg(feature = "ssr")]
fn set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(cookie))
    {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
}

/// How many products the inquiry list's product filter offers.
#[cfg(feature = "ssr")]
const PRODUCT_FILTER_CHOICES: i64 = 200;

/// The panel's data, or the reason the caller may not see it (401 / 403).
#[server(prefix = "/api/fn", endpoint = "staff/load_panel", output = Json)]
pub async fn load_panel() -> Result<PanelView, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(PanelView {
        me: app.accounts.me(staff.user_id).await?,
        staff: app.accounts.list_staff().await?,
        products: app.catalog.first(PRODUCT_FILTER_CHOICES).await?,
        usage: app.usage.report(Some(1)).await?,
    })
}

/// Signs a staff member in (a new session id) and goes to `next` (an /admin path).
#[server(prefix = "/api/fn", endpoint = "staff/staff_sign_in", output = Json)]
pub async fn staff_sign_in(email: String, password: String, next: Option<String>) -> Result<(), ErrorDetail> {
    let session = crate::api::session()?;
    let (_, cookie) = session.sign_in(&email, &password).await?;
    set_cookie(&cookie);
    leptos_axum::redirect(crate::model::staff_return_path(next.as_deref()));
    Ok(())
}

/// Ends the session and goes to the sign-in page.
#[server(prefix = "/api/fn", endpoint = "staff/staff_sign_out", output = Json)]
pub async fn staff_sign_out() -> Result<(), ErrorDetail> {
    let session = crate::api::session()?;
    let cookie = session.sign_out().await?;
    set_cookie(&cookie);
    leptos_axum::redirect("/admin/login");
    Ok(())
}

#[server(prefix = "/api/fn", endpoint = "staff/list_inquiries", input = Json, output = Json)]
pub async fn list_inquiries(filter: InquiryFilter) -> Result<InquiryPage, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.list(staff, &filter).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/get_inquiry", output = Json)]
pub async fn get_inquiry(chat_id: i64) -> Result<Inquiry, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.get(staff, chat_id).await?)
}

/// A page of a conversation's history: the newest page, or the one before `before` / after
/// `after`.
#[server(prefix = "/api/fn", endpoint = "staff/inquiry_messages", output = Json)]
pub async fn inquiry_messages(
    chat_id: i64,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<MessagePage, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.messages(staff, chat_id, before, after, Some(50)).await?)
}

/// Every passage an assistant reply was given, with whether it cited it.
#[server(prefix = "/api/fn", endpoint = "staff/message_sources", output = Json)]
pub async fn message_sources(chat_id: i64, message_id: i64) -> Result<Vec<GivenSource>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.sources(staff, chat_id, message_id).await?)
}

/// A staff reply (it takes the conversation over from the assistant).
#[server(prefix = "/api/fn", endpoint = "staff/staff_reply", output = Json)]
pub async fn staff_reply(chat_id: i64, content: String) -> Result<Message, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.reply(staff, chat_id, &content).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/update_inquiry", input = Json, output = Json)]
pub async fn update_inquiry(chat_id: i64, patch: InquiryPatch) -> Result<Inquiry, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.update(staff, chat_id, &patch).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/staff_mark_read", output = Json)]
pub async fn staff_mark_read(chat_id: i64, up_to: i64) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.mark_read(staff, chat_id, up_to).await?)
}
