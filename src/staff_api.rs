//! Server functions of the inquiry panel: thin adapters over the chat service. Each one checks
//! the caller's role on the server (401 without a session, 403 for a visitor).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::client::Json;
use crate::model::{
    ErrorDetail, Inquiry, InquiryFilter, InquiryPage, InquiryPatch, Me, Message, MessagePage, Product, StaffMember,
    UsageReport,
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
async fn staff_and_service(
) -> Result<(crate::server::auth::Staff, std::sync::Arc<crate::server::chat::ChatService>), ErrorDetail> {
    let service = expect_context::<std::sync::Arc<crate::server::chat::ChatService>>();
    let session = crate::api::session()?;
    Ok((session.staff()?, service))
}

#[cfg(feature = "ssr")]
fn set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(cookie))
    {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
}

/// The panel's data, or the reason the caller may not see it (401 / 403).
#[server(prefix = "/api/fn", endpoint = "staff/load_panel", output = Json)]
pub async fn load_panel() -> Result<PanelView, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(PanelView {
        me: service.me(staff.user_id).await?,
        staff: service.list_staff().await?,
        products: service.list_products().await?,
        usage: service.usage_report(staff, Some(1)).await?,
    })
}

/// Signs a staff member in (a new session id) and goes to `next` (an /admin path).
#[server(prefix = "/api/fn", endpoint = "staff/staff_sign_in", output = Json)]
pub async fn staff_sign_in(email: String, password: String, next: Option<String>) -> Result<(), ErrorDetail> {
    let state = expect_context::<crate::server::state::AppState>();
    let session = crate::api::session()?;
    let network = session.network();
    let (_, cookie) = crate::server::auth::sign_in(&state, &session, network, &email, &password).await?;
    set_cookie(&cookie);
    leptos_axum::redirect(crate::model::staff_return_path(next.as_deref()));
    Ok(())
}

/// Ends the session and goes to the sign-in page.
#[server(prefix = "/api/fn", endpoint = "staff/staff_sign_out", output = Json)]
pub async fn staff_sign_out() -> Result<(), ErrorDetail> {
    let service = expect_context::<std::sync::Arc<crate::server::chat::ChatService>>();
    let session = crate::api::session()?;
    let cookie = crate::server::auth::sign_out(&service, &session).await?;
    set_cookie(&cookie);
    leptos_axum::redirect("/admin/login");
    Ok(())
}

#[server(prefix = "/api/fn", endpoint = "staff/list_inquiries", input = Json, output = Json)]
pub async fn list_inquiries(filter: InquiryFilter) -> Result<InquiryPage, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.list_inquiries(staff, &filter).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/get_inquiry", output = Json)]
pub async fn get_inquiry(chat_id: i64) -> Result<Inquiry, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.get_inquiry(staff, chat_id).await?)
}

/// A page of a conversation's history: the newest page, or the one before `before` / after
/// `after`.
#[server(prefix = "/api/fn", endpoint = "staff/inquiry_messages", output = Json)]
pub async fn inquiry_messages(
    chat_id: i64,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<MessagePage, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.inquiry_messages(staff, chat_id, before, after, Some(50)).await?)
}

/// A staff reply (it takes the conversation over from the assistant).
#[server(prefix = "/api/fn", endpoint = "staff/staff_reply", output = Json)]
pub async fn staff_reply(chat_id: i64, content: String) -> Result<Message, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.staff_reply(staff, chat_id, &content).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/update_inquiry", input = Json, output = Json)]
pub async fn update_inquiry(chat_id: i64, patch: InquiryPatch) -> Result<Inquiry, ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.update_inquiry(staff, chat_id, &patch).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/staff_mark_read", output = Json)]
pub async fn staff_mark_read(chat_id: i64, up_to: i64) -> Result<(), ErrorDetail> {
    let (staff, service) = staff_and_service().await?;
    Ok(service.staff_mark_read(staff, chat_id, up_to).await?)
}
