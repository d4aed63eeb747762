//! The staff side: staff members, inquiries (chats as the panel lists them), their filters parsed
//! once into a query, and the changes staff make.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

use super::{Chat, ChatStatus, Priority, Role};

string_enum!(
    /// Admins manage the team and read the audit log; agents (and admins) work conversations.
    StaffRole { Admin => "admin", Agent => "agent" }
);

/// A member of staff as others see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// `admin` or `agent`.
    pub role: String,
    /// False once an admin deactivated them: they cannot sign in.
    #[serde(default = "yes")]
    pub active: bool,
    /// What they said: `online` (the default) or `away`.
    #[serde(default = "online")]
    pub availability: String,
    /// Online and with a panel open now: the one auto-assignment gives conversations to.
    #[serde(default)]
    pub online: bool,
}

fn online() -> String {
    "online".into()
}

impl StaffMember {
    /// Whether they are on duty, as the panel feed tells it.
    pub fn presence(&self) -> super::Presence {
        super::Presence { user_id: self.id, availability: self.availability.clone(), online: self.online }
    }
}

/// An admin's change to a member of staff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StaffPatch {
    pub role: Option<StaffRole>,
    /// `false` deactivates them: their sessions and sockets end at once and their open
    /// conversations go back to the queue; `true` lets them sign in again.
    pub active: Option<bool>,
}

/// A member's change to their own account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Not blank, at most 80 characters.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S", max_length = 80))]
    pub display_name: Option<String>,
    /// A new password: their other sessions end.
    pub password: Option<PasswordChange>,
}

/// A new password, with the one it replaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now (403 when it is not right).
    #[cfg_attr(feature = "ssr", schema(max_length = 1024))]
    pub current: String,
    /// 12 to 1,024 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 12, max_length = 1024))]
    pub new: String,
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

/// One line of the audit log: who changed a conversation (or staff accounts), what, and when.
/// Never the text of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor_id: i64,
    /// `visitor` or `staff`.
    pub actor_kind: String,
    /// The staff member's name (visitors have none).
    pub actor_name: Option<String>,
    pub chat_id: Option<i64>,
    /// `message.deleted`, `chat.deleted`, `inquiry.updated`, `inquiry.replied`, `staff.created`.
    pub action: String,
    /// What changed, e.g. `status: open → closed` or `message 42 (user)`.
    pub detail: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// Which audit entries to read (each filter optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only this conversation's entries.
    pub chat_id: Option<i64>,
    /// Only what this member (or visitor) did.
    pub actor_id: Option<i64>,
    /// Only actions beginning with this (`inquiry.` for every change to conversations).
    pub action: Option<String>,
    /// Entries older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// The assistant's use on one UTC day, in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Tokens the model read and wrote (as the upstream reported them, or estimated at four
    /// characters a token when it did not).
    pub tokens: i64,
    /// Replies the model wrote (sends, edits and retries).
    pub calls: i64,
}

/// The assistant's recent use and the daily allowances in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct UsageReport {
    /// Newest first; days without a reply are left out.
    pub days: Vec<UsageDay>,
    /// Tokens allowed per day in all (`FRONTDESK_TOKENS_PER_DAY`); past it, the assistant
    /// answers no one until midnight UTC.
    pub tokens_per_day: i64,
    pub tokens_per_visitor_day: i64,
    pub tokens_per_network_day: i64,
}

/// Tokens for people: `950 tokens`, `12.3k tokens`, `20M tokens`.
pub fn tokens_label(tokens: i64) -> String {
    let short = |n: f64, unit: &str| {
        let text = format!("{n:.1}");
        format!("{}{unit} tokens", text.strip_suffix(".0").unwrap_or(&text))
    };
    match tokens {
        t if t < 1000 => format!("{t} tokens"),
        t if t < 1_000_000 => short(t as f64 / 1000.0, "k"),
        t => short(t as f64 / 1_000_000.0, "M"),
    }
}

/// A new staff account (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// An address like name@example.com (spaces around it and capitals are dropped; the spec's
    /// pattern is `EMAIL_PATTERN`).
    #[cfg_attr(feature = "ssr", schema(max_length = 254))]
    pub email: String,
    /// Not blank, at most 80 characters (kept without the spaces around it).
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S", max_length = 80))]
    pub display_name: String,
    /// `agent` when absent.
    #[serde(default)]
    pub role: Option<StaffRole>,
    /// Email them an invitation (a link that sets their password, working once for 7 days)
    /// instead of generating a password: needs mail set up (`FRONTDESK_SMTP_URL`; 409 without).
    #[serde(default)]
    pub invite: bool,
}

/// The account created, with its password shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CreatedStaff {
    pub member: StaffMember,
    /// The generated password, shown this once; absent for an invitation (they choose theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
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
    /// Who wrote `last_message`.
    #[serde(default)]
    pub last_role: Option<Role>,
    /// The customer's newest message (their question, whatever was answered since).
    #[serde(default)]
    pub last_question: Option<String>,
    /// Tokens the assistant spent in this conversation, every reply and rewrite counted.
    #[serde(default)]
    pub tokens_used: i64,
    /// The assistant could not answer, and no person has answered since (nor resolved it).
    #[serde(default)]
    pub unanswered: bool,
    /// The shop's page the conversation began on.
    #[serde(default)]
    pub page: Option<super::Page>,
    /// False for a visitor who only opened the window: the customer wrote, left an email or
    /// asked for a person, or staff acted on it (decided on the server, in one place).
    #[serde(default = "yes")]
    pub is_inquiry: bool,
    /// When a snoozed conversation wakes (none: at the customer's next message).
    #[serde(default)]
    pub snoozed_until: Option<String>,
    /// The labels on it, by name.
    #[serde(default)]
    pub labels: Vec<super::Label>,
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

/// Filters of the inquiry list; `status` defaults to `active`: what needs the team, waiting or in
/// progress (`all` lists every status).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
pub struct InquiryFilter {
    /// A status; `active` (pending or in progress: what needs the team) when absent or empty;
    /// `all` for every status.
    #[cfg_attr(feature = "ssr", param(pattern = "^(|active|all|pending|in_progress|snoozed|resolved|closed)$"))]
    pub status: Option<String>,
    pub priority: Option<Priority>,
    /// A product's id (the shop's).
    pub product_id: Option<String>,
    /// A staff id, `me`, or `none` (unassigned); anyone's when absent or empty.
    #[cfg_attr(feature = "ssr", param(pattern = "^(|me|none|[1-9][0-9]{0,17})$"))]
    pub assignee: Option<String>,
    /// Text in the messages, the title or the customer's email.
    pub q: Option<String>,
    /// Only conversations the assistant could not answer and no person has answered since.
    pub unanswered: Option<bool>,
    /// Only conversations with this label (its id).
    #[cfg_attr(feature = "ssr", param(minimum = 1))]
    pub label: Option<i64>,
    /// The `next_cursor` of the page before.
    #[cfg_attr(feature = "ssr", param(pattern = "^(|[0-9]{1,18}\\.[0-9]{1,18})$"))]
    pub before: Option<String>,
    /// 1 to 100 (default 30).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100))]
    pub limit: Option<i64>,
}

/// How many conversations each saved view of the list holds (conversations customers began).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct InquiryCounts {
    /// Waiting for a person: pending, and the assistant paused (a person was asked for) or could
    /// not answer. The panel's tab title counts these.
    pub waiting: i64,
    /// Pending or in progress: the default view.
    pub active: i64,
    /// Pending or in progress, assigned to the member asking.
    pub mine: i64,
    /// Pending or in progress, assigned to nobody.
    pub unassigned: i64,
    pub pending: i64,
    pub in_progress: i64,
    pub snoozed: i64,
    pub resolved: i64,
    pub closed: i64,
    pub all: i64,
}

/// Changes staff make to an inquiry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InquiryPatch {
    /// `snoozed` sets it aside until `snoozed_until`, or until the customer writes again.
    pub status: Option<ChatStatus>,
    /// When it wakes (back to pending), RFC 3339: it snoozes the conversation (409 beside another
    /// status); a time already past wakes it within 15 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub snoozed_until: Option<String>,
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

/// Which conversations by status the inquiry list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// What needs the team: waiting for a person or in progress (the default).
    #[default]
    Active,
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
    /// Nobody yet.
    Nobody,
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
    pub product_id: Option<String>,
    pub assignee: AssigneeFilter,
    /// Lower-cased search text.
    pub text: Option<String>,
    pub unanswered: bool,
    pub label: Option<i64>,
    pub before: Option<InquiryCursor>,
    pub limit: i64,
}

impl InquiryFilter {
    /// Checks the filters; the error is a sentence for the person who sent them.
    pub fn parse(&self) -> Result<InquiryQuery, String> {
        let status = match self.status.as_deref() {
            None | Some("") | Some("active") => StatusFilter::Active,
            Some("all") => StatusFilter::All,
            Some(s) => StatusFilter::Only(s.parse::<ChatStatus>()?),
        };
        let assignee = match self.assignee.as_deref() {
            None | Some("") => AssigneeFilter::Anyone,
            Some("me") => AssigneeFilter::Me,
            Some("none") => AssigneeFilter::Nobody,
            Some(id) => AssigneeFilter::Staff(
                digits(id).filter(|_| !id.starts_with('0')).ok_or("assignee is a staff id, 'me' or 'none'")?,
            ),
        };
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(
                cursor
                    .split_once('.')
                    .and_then(|(at, id)| Some(InquiryCursor { last_activity_ms: digits(at)?, chat_id: digits(id)? }))
                    .ok_or_else(|| "before is a cursor from an earlier page".to_string())?,
            ),
        };
        let limit = self.limit.unwrap_or(30);
        if !(1..=100).contains(&limit) {
            return Err("limit must be between 1 and 100".into());
        }
        let text = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase);
        let product_id = self.product_id.clone().filter(|p| !p.is_empty());
        let unanswered = self.unanswered.unwrap_or(false);
        if self.label.is_some_and(|l| l < 1) {
            return Err("label is a label's id".into());
        }
        let label = self.label;
        Ok(InquiryQuery {
            status,
            priority: self.priority,
            product_id,
            assignee,
            text,
            unanswered,
            label,
            before,
            limit,
        })
    }
}

/// A number of 1 to 18 plain digits (no sign, no spaces), as the filters' patterns in the spec say.
fn digits(text: &str) -> Option<i64> {
    (1..=18).contains(&text.len()).then_some(())?;
    text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse().ok())?
}

impl InquiryQuery {
    /// Whether an inquiry belongs in the list this query describes, but for the text search
    /// (which only the server does); `me` is the staff member asking.
    pub fn matches(&self, inquiry: &Inquiry, me: i64) -> bool {
        let chat = &inquiry.chat;
        let status = match self.status {
            StatusFilter::Active => chat.status.needs_the_team(),
            StatusFilter::All => true,
            StatusFilter::Only(status) => chat.status == status,
        };
        let assignee = match self.assignee {
            AssigneeFilter::Anyone => true,
            AssigneeFilter::Me => chat.assignee_id == Some(me),
            AssigneeFilter::Nobody => chat.assignee_id.is_none(),
            AssigneeFilter::Staff(id) => chat.assignee_id == Some(id),
        };
        inquiry.is_inquiry
            && status
            && assignee
            && self.priority.is_none_or(|p| chat.priority == p)
            && self.product_id.as_ref().is_none_or(|p| chat.product_id.as_ref() == Some(p))
            && (!self.unanswered || inquiry.unanswered)
            && self.label.is_none_or(|label| inquiry.labels.iter().any(|l| l.id == label))
    }
}

impl InquiryCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_activity_ms, self.chat_id)
    }
}

/// The line a customer's window shows when they ask for a person.
pub const HANDOFF_LINE: &str = "You asked for a person. Someone from our team will reply here.";
/// How every line of a customer's request for a person begins.
const ASKED: &str = "You asked for a person.";
/// How an after-hours request's line ends when the customer left no email.
const LEAVE_EMAIL: &str = "Leave your email so the team can write to you.";

/// The line a request for a person leaves outside the team's hours: when the team is back
/// (`away`), and an ask for an email when the customer left none.
pub fn after_hours_line(away: &str, email_known: bool) -> String {
    let then = if email_known { "Someone from our team will reply here then." } else { LEAVE_EMAIL };
    format!("{ASKED} {away} {then}")
}
/// How the line of a customer's switch of context begins.
const SWITCHED_TO: &str = "Switched to ";

/// The line a customer's switch to another context leaves in the conversation.
pub fn switched_line(label: &str) -> String {
    format!("{SWITCHED_TO}{label}")
}

/// A system line as staff read it: the lines written to the customer ("You asked for a
/// person…") say what happened ("The customer asked for a person"); the rest read the same.
pub fn system_line_for_staff(line: &str) -> std::borrow::Cow<'_, str> {
    if line == HANDOFF_LINE {
        return "The customer asked for a person".into();
    }
    if line.starts_with(ASKED) {
        let email = if line.ends_with(LEAVE_EMAIL) { ", asked to leave an email" } else { "" };
        return format!("The customer asked for a person after hours{email}").into();
    }
    match line.strip_prefix(SWITCHED_TO) {
        Some(label) => format!("The customer switched the topic to {label}").into(),
        None => line.into(),
    }
}

/// Where the sign-in form may go afterwards: a path of this site's staff panel, never the sign-in
/// page itself, another site (`//host`, `/\host`) or a script (`javascript:`). Anything else
/// becomes `/admin`. One rule, used by the form (client) and by the server's redirect.
pub fn staff_return_path(next: Option<&str>) -> &str {
    let Some(next) = next else { return "/admin" };
    let rest = match next.strip_prefix("/admin") {
        Some(rest) => rest,
        None => return "/admin",
    };
    let boundary = rest.is_empty() || rest.starts_with(['/', '?', '#']);
    let plain = next.chars().all(|c| c.is_ascii_graphic()) && !next.contains('\\') && !next.contains("//");
    let login =
        rest == "/login" || rest.starts_with("/login/") || rest.starts_with("/login?") || rest.starts_with("/login#");
    if boundary && plain && !login {
        next
    } else {
        "/admin"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_read_as_people_say_them() {
        assert_eq!(tokens_label(950), "950 tokens");
        assert_eq!(tokens_label(12_345), "12.3k tokens");
        assert_eq!(tokens_label(2_000), "2k tokens");
        assert_eq!(tokens_label(20_000_000), "20M tokens");
    }

    #[test]
    fn only_staff_panel_paths_are_followed_after_sign_in() {
        for good in ["/admin", "/admin/", "/admin/inquiries/12", "/admin?status=open", "/admin/inquiries/3#m-9"] {
            assert_eq!(staff_return_path(Some(good)), good);
        }
        for bad in [
            "javascript:alert(document.cookie)",
            "//other.site/",
            "https://other.site/admin",
            "/adminx",
            "/admin//other.site",
            "/admin/\\other.site",
            "/admin/login",
            "/admin/login?next=/admin",
            "/admin/\tjavascript:x",
            " /admin",
            "",
        ] {
            assert_eq!(staff_return_path(Some(bad)), "/admin", "{bad:?} must not be followed");
        }
        assert_eq!(staff_return_path(None), "/admin");
    }

    #[test]
    fn system_lines_written_to_the_customer_read_as_what_happened_for_staff() {
        assert_eq!(system_line_for_staff(HANDOFF_LINE), "The customer asked for a person");
        let away = "We're away now: back tomorrow at 09:00 (UTC time).";
        assert_eq!(
            system_line_for_staff(&after_hours_line(away, false)),
            "The customer asked for a person after hours, asked to leave an email"
        );
        assert_eq!(system_line_for_staff(&after_hours_line(away, true)), "The customer asked for a person after hours");
        assert_eq!(system_line_for_staff(&switched_line("Returns")), "The customer switched the topic to Returns");
        assert_eq!(system_line_for_staff("Alice joined the conversation"), "Alice joined the conversation");
    }

    #[test]
    fn the_default_view_lists_what_needs_the_team_and_none_means_unassigned() {
        let query = InquiryFilter::default().parse().unwrap();
        assert_eq!(query.status, StatusFilter::Active);
        assert!(ChatStatus::InProgress.needs_the_team() && ChatStatus::Pending.needs_the_team());
        assert!(!ChatStatus::Resolved.needs_the_team() && !ChatStatus::Closed.needs_the_team());
        let unassigned = InquiryFilter { assignee: Some("none".into()), ..Default::default() }.parse().unwrap();
        assert_eq!(unassigned.assignee, AssigneeFilter::Nobody);
    }

    #[test]
    fn inquiry_filters_are_parsed_once_with_their_defaults() {
        let query = InquiryFilter::default().parse().unwrap();
        assert_eq!((query.status, query.assignee, query.limit), (StatusFilter::Active, AssigneeFilter::Anyone, 30));
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

/// A saved reply of the team, under its shortcut (`/shortcut` in the reply box). Listed for a
/// conversation, its placeholders are filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CannedResponse {
    pub id: i64,
    pub shortcut: String,
    /// Markdown; may hold `{{customer.email}}`, `{{product.name}}` and `{{agent.name}}`.
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
}
