//! Server functions of the inquiry panel: thin adapters over the inquiries, the accounts, the
//! usage report, the shop's knowledge and the assistant's contexts, which they take from the application in the Leptos context. Each one checks
//! the caller's role on the server (401 without a session, 403 for a visitor).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::client::Json;
use crate::model::{
    ApiKey, AssignmentSettings, Availability, CannedResponse, ContextSettings, CreatedApiKey, CreatedStaff,
    CustomerProfile, ErrorDetail, GivenSource, Inquiry, InquiryFilter, InquiryPage, InquiryPatch, KnowledgeItem,
    KnowledgeKind, KnowledgePage, Label, Me, Message, MessagePage, Note, Presence, Product, ProfilePatch, Satisfaction,
    StaffMember, StaffPatch, StaffRole, UsageReport, Visibility, WindowSettings,
};

/// What the panel needs once: who is signed in, the team and the catalog (for filters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    pub me: Me,
    pub staff: Vec<StaffMember>,
    pub products: Vec<Product>,
    /// Today's use of the assistant, and the allowances.
    pub usage: UsageReport,
    /// The team's labels.
    pub labels: Vec<Label>,
    /// Whether this server sends email (invitations, reset links, mentions).
    pub mail: bool,
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
        staff: app.team().await?,
        products: app.catalog.first(PRODUCT_FILTER_CHOICES).await?,
        usage: app.usage.report(Some(1)).await?,
        labels: app.labels.list().await?,
        mail: app.accounts.sends_mail(),
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

/// A page of the shop's knowledge, by id (only items whose title or id holds `q`).
#[server(prefix = "/api/fn", endpoint = "staff/list_knowledge", input = Json, output = Json)]
pub async fn list_knowledge(q: Option<String>, cursor: Option<String>) -> Result<KnowledgePage, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    let query = crate::server::knowledge::ListQuery { q, cursor, limit: Some(50) };
    Ok(app.knowledge.list(&query).await?)
}

/// Creates or replaces an article or an answer by the shop's id; the item as stored.
#[server(prefix = "/api/fn", endpoint = "staff/save_knowledge", input = Json, output = Json)]
#[allow(clippy::too_many_arguments)]
pub async fn save_knowledge(
    external_id: String,
    kind: KnowledgeKind,
    title: String,
    body: String,
    url: Option<String>,
    tags: Vec<String>,
    visibility: Visibility,
) -> Result<KnowledgeItem, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    let input = crate::server::knowledge::KnowledgeInput { kind, title, body, url, tags, visibility };
    app.knowledge.put(staff.editor(), &external_id, &input).await?;
    Ok(app.knowledge.get(&external_id).await?)
}

#[server(prefix = "/api/fn", endpoint = "staff/delete_knowledge", input = Json, output = Json)]
pub async fn delete_knowledge(external_id: String) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.knowledge.delete(staff.editor(), &external_id).await?)
}

/// Imports the page, or the sitemap's pages, at `url`: how many were created, updated and
/// unchanged, and each address not imported with the reason.
#[server(prefix = "/api/fn", endpoint = "staff/import_knowledge_url", input = Json, output = Json)]
pub async fn import_knowledge_url(url: String, visibility: Visibility) -> Result<ImportSummary, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    let import = crate::server::knowledge::UrlImport { url, visibility };
    let report = app
        .knowledge
        .import_url(staff.editor(), &import)
        .await
        .map_err(|reason| ErrorDetail { code: "invalid".into(), message: reason })?;
    Ok(ImportSummary {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        rejected: report.rejected.into_iter().map(|r| (r.file, r.reason)).collect(),
    })
}

/// What an import did, for the panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Each address not imported, with the reason.
    pub rejected: Vec<(String, String)>,
}

/// The API keys in force (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/list_api_keys", input = Json, output = Json)]
pub async fn list_api_keys() -> Result<Vec<ApiKey>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.accounts.list_keys(staff).await?)
}

/// A new API key, shown this once (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/create_api_key", input = Json, output = Json)]
pub async fn create_api_key(name: String) -> Result<CreatedApiKey, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.accounts.create_key(staff, &name).await?)
}

/// Revokes an API key: refused from now on (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/revoke_api_key", input = Json, output = Json)]
pub async fn revoke_api_key(id: i64) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.accounts.revoke_key(staff, id).await?)
}

/// The assistant's contexts, the default first (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/list_contexts", input = Json, output = Json)]
pub async fn list_contexts() -> Result<Vec<ContextSettings>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.contexts.settings(staff)?)
}

/// Creates a context (a new id) or changes one; the contexts as they are now (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/save_context", input = Json, output = Json)]
pub async fn save_context(context: ContextSettings) -> Result<Vec<ContextSettings>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.contexts.save(staff, context).await?)
}

/// Deletes a context: its conversations go on in the default one (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/delete_context", input = Json, output = Json)]
pub async fn delete_context(id: String) -> Result<Vec<ContextSettings>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.contexts.delete(staff, &id).await?)
}

/// Makes a context the one new conversations start in (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/make_default_context", input = Json, output = Json)]
pub async fn make_default_context(id: String) -> Result<Vec<ContextSettings>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.contexts.make_default(staff, &id).await?)
}

/// The team's canned responses matching `q` (staff).
#[server(prefix = "/api/fn", endpoint = "staff/list_canned", input = Json, output = Json)]
pub async fn list_canned(q: Option<String>) -> Result<Vec<CannedResponse>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.canned.list(staff, q.as_deref()).await?)
}

/// Creates a canned response (`id` none) or changes one (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/save_canned", input = Json, output = Json)]
pub async fn save_canned(id: Option<i64>, shortcut: String, content: String) -> Result<CannedResponse, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    let input = crate::server::canned::CannedInput { shortcut, content };
    Ok(match id {
        Some(id) => app.canned.update(staff, id, &input).await?,
        None => app.canned.create(staff, &input).await?,
    })
}

/// Deletes a canned response (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/delete_canned", input = Json, output = Json)]
pub async fn delete_canned(id: i64) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.canned.delete(staff, id).await?)
}

/// The canned responses matching `q`, filled in for conversation `chat_id` (staff).
#[server(prefix = "/api/fn", endpoint = "staff/canned_for", input = Json, output = Json)]
pub async fn canned_for(chat_id: i64, q: Option<String>) -> Result<Vec<CannedResponse>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(crate::server::http::canned::filled_for(&app, staff, chat_id, q.as_deref()).await?)
}

/// A conversation's private notes, oldest first (staff).
#[server(prefix = "/api/fn", endpoint = "staff/list_notes", input = Json, output = Json)]
pub async fn list_notes(chat_id: i64) -> Result<Vec<Note>, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.notes.list(staff, chat_id).await?)
}

/// Writes a private note on a conversation (staff).
#[server(prefix = "/api/fn", endpoint = "staff/add_note", input = Json, output = Json)]
pub async fn add_note(chat_id: i64, content: String) -> Result<Note, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.notes.add(staff, chat_id, &crate::model::NewNote { content }).await?)
}

/// The team, deactivated members too (staff).
#[server(prefix = "/api/fn", endpoint = "staff/list_team", input = Json, output = Json)]
pub async fn list_team() -> Result<Vec<StaffMember>, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    Ok(app.team().await?)
}

/// Adds a member with a generated password, shown this once, or invites them by email (admins
/// only).
#[server(prefix = "/api/fn", endpoint = "staff/add_member", input = Json, output = Json)]
pub async fn add_member(
    email: String,
    display_name: String,
    role: StaffRole,
    invite: bool,
) -> Result<CreatedStaff, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.accounts.add_staff(staff, &crate::model::NewStaff { email, display_name, role: Some(role), invite }).await?)
}

/// Changes a member's role, or deactivates them or lets them back (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/update_member", input = Json, output = Json)]
pub async fn update_member(id: i64, patch: StaffPatch) -> Result<StaffMember, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.update_member(staff, id, &patch).await?)
}

/// The customer beside a conversation.
#[server(prefix = "/api/fn", endpoint = "staff/read_customer", input = Json, output = Json)]
pub async fn read_customer(chat_id: i64) -> Result<CustomerProfile, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.customers.profile(staff, chat_id).await?)
}

/// The window's look and the team's hours.
#[server(prefix = "/api/fn", endpoint = "staff/read_window_settings", input = Json, output = Json)]
pub async fn read_window_settings() -> Result<WindowSettings, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    Ok(app.branding.settings().await?)
}

/// Changes the window's look and the team's hours (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/save_window_settings", input = Json, output = Json)]
pub async fn save_window_settings(settings: WindowSettings) -> Result<WindowSettings, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.branding.save(staff, &settings).await?)
}

/// Takes the window's avatar down (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/remove_window_avatar", input = Json, output = Json)]
pub async fn remove_window_avatar() -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.branding.remove_avatar(staff).await?)
}

/// The signed-in member says they are online or away.
#[server(prefix = "/api/fn", endpoint = "staff/set_availability", input = Json, output = Json)]
pub async fn set_availability(availability: Availability) -> Result<Presence, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.routing.set_availability(staff, availability).await?)
}

/// Auto-assignment's settings.
#[server(prefix = "/api/fn", endpoint = "staff/read_assignment_settings", input = Json, output = Json)]
pub async fn read_assignment_settings() -> Result<AssignmentSettings, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    Ok(app.routing.settings().await?)
}

/// Turns auto-assignment on or off and sets its cap (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/save_assignment_settings", input = Json, output = Json)]
pub async fn save_assignment_settings(settings: AssignmentSettings) -> Result<AssignmentSettings, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.routing.set_settings(staff, &settings).await?)
}

/// Changes the signed-in member's own name or password.
#[server(prefix = "/api/fn", endpoint = "staff/update_profile", input = Json, output = Json)]
pub async fn update_profile(patch: ProfilePatch) -> Result<Me, ErrorDetail> {
    let app = expect_context::<crate::server::app::Frontdesk>();
    let session = crate::api::session()?;
    let staff = session.staff()?;
    Ok(app.accounts.update_profile(staff, session.network(), session.token(), &patch).await?)
}

/// Emails a password reset link when the address is an active member's (the same answer either
/// way; throttled like signing in).
#[server(prefix = "/api/fn", endpoint = "staff/request_password_reset", input = Json, output = Json)]
pub async fn request_password_reset(email: String) -> Result<(), ErrorDetail> {
    let app = expect_context::<crate::server::app::Frontdesk>();
    let session = crate::api::session()?;
    Ok(app.accounts.request_reset(session.network(), &email).await?)
}

/// Sets a new password with a reset link's token (once, within 30 minutes).
#[server(prefix = "/api/fn", endpoint = "staff/reset_password", input = Json, output = Json)]
pub async fn reset_password(token: String, password: String) -> Result<(), ErrorDetail> {
    let app = expect_context::<crate::server::app::Frontdesk>();
    Ok(app.accounts.reset_password(&token, &password).await?)
}

/// The team's labels (staff).
#[server(prefix = "/api/fn", endpoint = "staff/list_labels", input = Json, output = Json)]
pub async fn list_labels() -> Result<Vec<Label>, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    Ok(app.labels.list().await?)
}

/// Creates a label (`id` none) or changes one (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/save_label", input = Json, output = Json)]
pub async fn save_label(id: Option<i64>, name: String, color: String) -> Result<Label, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    let input = crate::model::LabelInput { name, color };
    Ok(match id {
        Some(id) => app.labels.update(staff, id, &input).await?,
        None => app.labels.create(staff, &input).await?,
    })
}

/// Deletes a label (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/delete_label", input = Json, output = Json)]
pub async fn delete_label(id: i64) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.labels.delete(staff, id).await?)
}

/// Puts exactly these labels on a conversation (staff).
#[server(prefix = "/api/fn", endpoint = "staff/set_chat_labels", input = Json, output = Json)]
pub async fn set_chat_labels(chat_id: i64, label_ids: Vec<i64>) -> Result<Inquiry, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.set_labels(staff, chat_id, &crate::model::ChatLabels { label_ids }).await?)
}

/// How many conversations each saved view holds (staff).
#[server(prefix = "/api/fn", endpoint = "staff/inquiry_counts", input = Json, output = Json)]
pub async fn inquiry_counts() -> Result<crate::model::InquiryCounts, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.inquiries.counts(staff).await?)
}

/// What the conversation's customer thought: ratings and thumbs.
#[server(prefix = "/api/fn", endpoint = "staff/read_satisfaction", input = Json, output = Json)]
pub async fn read_satisfaction(chat_id: i64) -> Result<Satisfaction, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    Ok(app.satisfaction.for_staff(staff, chat_id).await?)
}

/// Marks one of the assistant's replies right (`Some(true)`) or wrong, or takes the mark off.
#[server(prefix = "/api/fn", endpoint = "staff/mark_reply", input = Json, output = Json)]
pub async fn mark_reply(chat_id: i64, message_id: i64, helpful: Option<bool>) -> Result<(), ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    let rater = crate::server::satisfaction::Rater::Staff(staff);
    Ok(app.satisfaction.thumb(rater, chat_id, message_id, helpful).await?)
}

/// The audit log, newest first, filtered (admins only).
#[server(prefix = "/api/fn", endpoint = "staff/read_audit", input = Json, output = Json)]
pub async fn read_audit(filter: crate::model::AuditFilter) -> Result<crate::model::AuditPage, ErrorDetail> {
    let (staff, app) = staff_and_app().await?;
    staff.require_admin()?;
    Ok(app.audit.read(&filter).await?)
}

/// The assistant's use over the last `days` days (1 to 90) and the allowances in force.
#[server(prefix = "/api/fn", endpoint = "staff/read_usage", input = Json, output = Json)]
pub async fn read_usage(days: u32) -> Result<UsageReport, ErrorDetail> {
    let (_staff, app) = staff_and_app().await?;
    Ok(app.usage.report(Some(days)).await?)
}
