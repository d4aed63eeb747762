//! The staff side: inquiries, which are chats seen from the staff side (not a second model):
//! the list, staff replies and triage, read and delivery marks, the panel's live feed (`panel`),
//! and the emails that tell the team a conversation needs a person (`notices`). Adapters check
//! the role; the rules live here. No table of its own: it reads chats (with their product's name)
//! and changes them through the chat's unit of work.

mod notices;
pub mod panel;

use std::sync::Arc;

pub use self::notices::Notices;
use super::{
    accounts::Accounts,
    audit::{Actor, Trail},
    chat::{
        rules::{check_content, MarkPosition},
        store::{ChatRow, NewMessage, ReadMark, TOUCHED},
        Alerts, ChatTx, Chats, Replies, STOPPED_REASON,
    },
    db::Db,
    error::{AppError, AppResult},
    events::Hub,
    identity::Staff,
    labels::Labels,
    routing::Routing,
};
use crate::model::{
    AssigneeFilter, ChatEvent, ChatLabels, ChatStatus, GivenSource, InquiryCounts, Label, Message, MessagePage,
    PanelEvent, Priority, StaffMember, StaffPatch, StatusFilter,
};
pub use crate::model::{Inquiry, InquiryFilter, InquiryPage, InquiryPatch};

/// The staff side of the conversations.
pub struct Inquiries {
    db: Db,
    hub: Arc<Hub>,
    chats: Arc<Chats>,
    replies: Arc<Replies>,
    accounts: Arc<Accounts>,
    audit: Arc<dyn Trail>,
    alerts: Arc<dyn Alerts>,
    labels: Arc<Labels>,
    routing: Arc<Routing>,
}

#[derive(sqlx::FromRow)]
struct InquiryRow {
    #[sqlx(flatten)]
    chat: ChatRow,
    product_name: Option<String>,
    message_count: i64,
    customer_message_count: i64,
    unread_count: i64,
    last_message: Option<String>,
    last_role: Option<String>,
    last_question: Option<String>,
    tokens_used: i64,
    unanswered: i64,
    is_inquiry: i64,
    snoozed_until: Option<i64>,
}

impl InquiryRow {
    fn into_inquiry(self) -> AppResult<Inquiry> {
        let page = self.chat.page();
        Ok(Inquiry {
            page,
            chat: self.chat.into_chat()?,
            product_name: self.product_name,
            message_count: self.message_count,
            customer_message_count: self.customer_message_count,
            unread_count: self.unread_count,
            last_message: self.last_message,
            last_role: self
                .last_role
                .map(|r| r.parse::<crate::model::Role>())
                .transpose()
                .map_err(AppError::Internal)?,
            last_question: self.last_question,
            tokens_used: self.tokens_used,
            unanswered: self.unanswered != 0,
            is_inquiry: self.is_inquiry != 0,
            snoozed_until: self.snoozed_until.map(crate::server::db::rfc3339),
            labels: Vec::new(),
        })
    }
}

/// The views' counts as read, in `InquiryCounts`' order.
type CountsRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn inquiry_select() -> String {
    format!(
        "SELECT c.id, c.owner_id, c.title, c.context, c.product, c.page_url, c.page_title, c.status, c.priority, \
         c.assignee_id, c.ai_enabled, c.customer_email, c.created_at, c.updated_at, c.last_activity_at, c.last_seq, \
         c.staff_read_up_to, c.customer_read_up_to, c.staff_delivered_up_to, \
         p.name AS product_name, \
         (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS message_count, \
         (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.role = 'user') AS customer_message_count, \
         (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.role = 'user' AND m.id > c.staff_read_up_to) AS unread_count, \
         (SELECT m.content FROM messages m WHERE m.chat_id = c.id AND m.role <> 'system' AND m.status <> 'streaming' \
          ORDER BY m.id DESC LIMIT 1) AS last_message, \
         (SELECT m.role FROM messages m WHERE m.chat_id = c.id AND m.role <> 'system' AND m.status <> 'streaming' \
          ORDER BY m.id DESC LIMIT 1) AS last_role, \
         (SELECT m.content FROM messages m WHERE m.chat_id = c.id AND m.role = 'user' \
          ORDER BY m.id DESC LIMIT 1) AS last_question, c.tokens_used, c.unanswered, \
         CASE WHEN {TOUCHED} THEN 1 ELSE 0 END AS is_inquiry, c.snoozed_until \
         FROM chats c LEFT JOIN products p ON p.external_id = c.product"
    )
}

/// What the staff side is built from.
pub struct InquiryParts {
    pub db: Db,
    pub hub: Arc<Hub>,
    pub chats: Arc<Chats>,
    pub replies: Arc<Replies>,
    pub accounts: Arc<Accounts>,
    pub audit: Arc<dyn Trail>,
    pub alerts: Arc<dyn Alerts>,
    pub labels: Arc<Labels>,
    pub routing: Arc<Routing>,
}

impl Inquiries {
    pub fn new(parts: InquiryParts) -> Self {
        let InquiryParts { db, hub, chats, replies, accounts, audit, alerts, labels, routing } = parts;
        Inquiries { db, hub, chats, replies, accounts, audit, alerts, labels, routing }
    }

    /// The inquiry list: newest activity first, filtered, in cursor pages.
    pub async fn list(&self, staff: Staff, filter: &InquiryFilter) -> AppResult<InquiryPage> {
        let query = filter.parse().map_err(AppError::Invalid)?;
        let statuses = match query.status {
            StatusFilter::Active => [ChatStatus::Pending.as_str(), ChatStatus::InProgress.as_str()],
            StatusFilter::All => ["", ""],
            StatusFilter::Only(status) => [status.as_str(); 2],
        };
        // 0: anyone's; -1: nobody's.
        let assignee = match query.assignee {
            AssigneeFilter::Anyone => 0,
            AssigneeFilter::Nobody => -1,
            AssigneeFilter::Me => staff.user_id,
            AssigneeFilter::Staff(id) => id,
        };
        let (before_at, before_id) =
            query.before.map_or((i64::MAX, i64::MAX), |cursor| (cursor.last_activity_ms, cursor.chat_id));
        let text = query.text.as_deref().map(|q| {
            let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let rows: Vec<InquiryRow> = sqlx::query_as(&format!(
            "{} WHERE {TOUCHED} AND ($1 = '' OR c.status = $1 OR c.status = $10) AND ($2 = '' OR c.priority = $2) \
             AND ($3 = '' OR c.product = $3) \
             AND ($4 = 0 OR c.assignee_id = $4 OR ($4 = -1 AND c.assignee_id IS NULL)) \
             AND ($5 = '' OR LOWER(c.title) LIKE $5 ESCAPE '\\' OR LOWER(COALESCE(c.customer_email, '')) LIKE $5 ESCAPE '\\' \
                  OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND LOWER(m.content) LIKE $5 ESCAPE '\\')) \
             AND (c.last_activity_at < $6 OR (c.last_activity_at = $6 AND c.id < $7)) \
             AND ($9 = 0 OR c.unanswered = 1) \
             AND ($11 = 0 OR EXISTS (SELECT 1 FROM chat_labels cl WHERE cl.chat_id = c.id AND cl.label_id = $11)) \
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $8",
            inquiry_select()
        ))
        .bind(statuses[0])
        .bind(query.priority.map_or("", |p| p.as_str()))
        .bind(query.product_id.clone().unwrap_or_default())
        .bind(assignee)
        .bind(text.unwrap_or_default())
        .bind(before_at)
        .bind(before_id)
        .bind(query.limit + 1)
        .bind(i64::from(query.unanswered))
        .bind(statuses[1])
        .bind(query.label.unwrap_or(0))
        .fetch_all(&self.db.read)
        .await?;
        let limit = query.limit as usize;
        let more = rows.len() > limit;
        let cursor = rows.get(limit - 1).map(|r| {
            crate::model::InquiryCursor { last_activity_ms: r.chat.last_activity_at, chat_id: r.chat.id }.encode()
        });
        let mut inquiries =
            rows.into_iter().take(limit).map(InquiryRow::into_inquiry).collect::<AppResult<Vec<_>>>()?;
        self.with_labels(&mut inquiries).await?;
        Ok(InquiryPage { inquiries, next_cursor: if more { cursor } else { None } })
    }

    /// How many conversations each saved view holds, for the member asking.
    pub async fn counts(&self, staff: Staff) -> AppResult<InquiryCounts> {
        let active = "c.status IN ('pending', 'in_progress')";
        let row: CountsRow = sqlx::query_as(&format!(
            "SELECT \
             COALESCE(SUM(CASE WHEN c.status = 'pending' AND (c.ai_enabled = 0 OR c.unanswered = 1) THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {active} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {active} AND c.assignee_id = $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {active} AND c.assignee_id IS NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN c.status = 'pending' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN c.status = 'in_progress' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN c.status = 'snoozed' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN c.status = 'closed' THEN 1 ELSE 0 END), 0), \
             COUNT(*) FROM chats c WHERE {TOUCHED}"
        ))
        .bind(staff.user_id)
        .fetch_one(&self.db.read)
        .await?;
        let (waiting, active, mine, unassigned, pending, in_progress, snoozed, resolved, closed, all) = row;
        Ok(InquiryCounts { waiting, active, mine, unassigned, pending, in_progress, snoozed, resolved, closed, all })
    }

    pub async fn get(&self, _staff: Staff, chat_id: i64) -> AppResult<Inquiry> {
        self.summary(chat_id).await?.ok_or(AppError::not_found("inquiry"))
    }

    /// A conversation as the panel lists it (what the panel feed carries).
    async fn summary(&self, chat_id: i64) -> AppResult<Option<Inquiry>> {
        let found = sqlx::query_as::<_, InquiryRow>(&format!("{} WHERE c.id = $1", inquiry_select()))
            .bind(chat_id)
            .fetch_optional(&self.db.read)
            .await?
            .map(InquiryRow::into_inquiry)
            .transpose()?;
        let mut found: Vec<Inquiry> = found.into_iter().collect();
        self.with_labels(&mut found).await?;
        Ok(found.pop())
    }

    /// Fills in the labels of conversations (read from the labels' tables, in one query).
    async fn with_labels(&self, inquiries: &mut [Inquiry]) -> AppResult<()> {
        if inquiries.is_empty() {
            return Ok(());
        }
        let marks: Vec<String> = (1..=inquiries.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT cl.chat_id, l.id, l.name, l.color FROM chat_labels cl JOIN labels l ON l.id = cl.label_id \
             WHERE cl.chat_id IN ({}) ORDER BY l.name_key",
            marks.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String, String)>(&sql);
        for inquiry in inquiries.iter() {
            query = query.bind(inquiry.chat.id);
        }
        for (chat_id, id, name, color) in query.fetch_all(&self.db.read).await? {
            if let Some(inquiry) = inquiries.iter_mut().find(|i| i.chat.id == chat_id) {
                inquiry.labels.push(Label { id, name, color });
            }
        }
        Ok(())
    }

    /// Puts exactly these labels on a conversation: open panels see it at once. An unknown
    /// label is refused (404) and changes nothing.
    pub async fn set_labels(&self, staff: Staff, chat_id: i64, labels: &ChatLabels) -> AppResult<Inquiry> {
        self.any_chat(chat_id).await?;
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        let changes = self.labels.put_on(tx.conn(), chat_id, &labels.label_ids).await?;
        if !changes.is_empty() {
            tx.audit(&*self.audit, Actor::Staff(staff.user_id), "inquiry.labelled", format!("labels {changes}"))
                .await?;
            tx.chat_updated().await?;
        }
        tx.commit().await?;
        self.get(staff, chat_id).await
    }

    /// Every passage an assistant reply was given, with whether it cited it.
    pub async fn sources(&self, _staff: Staff, chat_id: i64, message_id: i64) -> AppResult<Vec<GivenSource>> {
        self.any_chat(chat_id).await?;
        self.replies.given_sources(chat_id, message_id).await
    }

    /// A page of a conversation's history.
    pub async fn messages(
        &self,
        _staff: Staff,
        chat_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<MessagePage> {
        self.any_chat(chat_id).await?;
        self.chats.page_of(chat_id, before, after, limit).await
    }

    /// A conversation's events after `after`, for staff (the same events the customer gets).
    pub async fn follow(
        &self,
        _staff: Staff,
        chat_id: i64,
        after: Option<i64>,
    ) -> AppResult<futures::stream::BoxStream<'static, AppResult<ChatEvent>>> {
        let chat = self.any_chat(chat_id).await?;
        self.chats.follow_chat(&chat, after).await
    }

    async fn any_chat(&self, chat_id: i64) -> AppResult<ChatRow> {
        super::chat::store::chat_row(&self.db, chat_id).await?.ok_or(AppError::not_found("inquiry"))
    }

    async fn staff_name(&self, staff: Staff) -> AppResult<String> {
        Ok(self.accounts.me(staff.user_id).await?.display_name)
    }

    /// A staff reply. Replying takes the conversation over: the assistant stops, the customer sees
    /// that a person joined, and the inquiry is in progress and assigned (if it was not).
    pub async fn reply(&self, staff: Staff, chat_id: i64, content: &str) -> AppResult<Message> {
        check_content(content, self.chats.limits().message_max_chars)?;
        let chat = self.any_chat(chat_id).await?;
        let name = self.staff_name(staff).await?;
        self.replies.stop_chat(chat_id);
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        tx.stop_replies_written_elsewhere(STOPPED_REASON).await?;
        if chat.ai_enabled() {
            tx.insert_message(NewMessage::system(&format!("{name} joined the conversation"))).await?;
        }
        let message = tx.insert_message(NewMessage::from_staff(staff.user_id, content)).await?;
        tx.staff_replied(staff.user_id, message.id).await?;
        let took_over = if chat.ai_enabled() { "; took over from the assistant" } else { "" };
        let detail = format!("message {}{took_over}", message.id);
        tx.audit(&*self.audit, Actor::Staff(staff.user_id), "inquiry.replied", detail).await?;
        tx.chat_updated().await?;
        tx.commit().await?;
        Ok(message)
    }

    /// Status, priority, assignee, and taking over from / handing back to the assistant.
    pub async fn update(&self, staff: Staff, chat_id: i64, patch: &InquiryPatch) -> AppResult<Inquiry> {
        let chat = self.any_chat(chat_id).await?;
        let snooze_until = snooze_time(patch)?;
        // A time alone snoozes.
        let patch = &InquiryPatch {
            status: patch.status.or(patch.snoozed_until.as_ref().map(|_| ChatStatus::Snoozed)),
            ..patch.clone()
        };
        if let Some(Some(assignee)) = patch.assignee_id {
            if !self.accounts.is_staff(assignee).await? {
                return Err(AppError::not_found("staff member"));
            }
        }
        let name = self.staff_name(staff).await?;
        let taking_over = patch.ai_enabled == Some(false) && chat.ai_enabled();
        let handing_back = patch.ai_enabled == Some(true) && !chat.ai_enabled();
        if taking_over {
            self.replies.stop_chat(chat_id);
        }
        let changes = describe_patch(&chat, patch, taking_over, handing_back);
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        tx.set_triage(patch.status, patch.priority, patch.assignee_id).await?;
        if patch.status == Some(ChatStatus::Snoozed) {
            tx.set_snooze(snooze_until).await?;
        }
        if !changes.is_empty() {
            tx.audit(&*self.audit, Actor::Staff(staff.user_id), "inquiry.updated", changes).await?;
        }
        if taking_over {
            tx.stop_replies_written_elsewhere(STOPPED_REASON).await?;
        }
        if taking_over || handing_back {
            tx.set_ai_enabled(handing_back).await?;
            let line = if taking_over {
                format!("{name} joined the conversation")
            } else {
                "The assistant is answering again".to_string()
            };
            tx.insert_message(NewMessage::system(&line)).await?;
        }
        tx.chat_updated().await?;
        tx.commit().await?;
        if patch.priority == Some(Priority::High) && !chat.is_high_priority() {
            self.alerts.high_priority(chat_id).await;
        }
        self.get(staff, chat_id).await
    }

    /// An admin changes a member (see `Accounts::update_staff`). A deactivated member hands back
    /// every conversation still open (or snoozed) in their name: each goes back to the queue (pending,
    /// unassigned; the customer sees nothing of it), audited, and open panels see it move.
    pub async fn update_member(&self, admin: Staff, member_id: i64, patch: &StaffPatch) -> AppResult<StaffMember> {
        let (member, _deactivated_now) = self.accounts.update_staff(admin, member_id, patch).await?;
        // Whenever they are inactive: a deactivation whose hand-back failed half way finishes
        // when it is sent again.
        if !member.active {
            // A conversation being given to them right now is given (and handed back below) or not.
            self.routing.settle(member_id).await?;
            let open: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, status FROM chats WHERE assignee_id = $1 \
                 AND status IN ('pending', 'in_progress', 'snoozed') ORDER BY id",
            )
            .bind(member_id)
            .fetch_all(&self.db.read)
            .await?;
            for (chat_id, status) in open {
                let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
                // A snoozed one sleeps on, unassigned; the others wait for the team.
                let back = (status != ChatStatus::Snoozed.as_str()).then_some(ChatStatus::Pending);
                tx.set_triage(back, None, Some(None)).await?;
                let detail = format!("assignee: staff {member_id} → nobody (deactivated)");
                tx.audit(&*self.audit, Actor::Staff(admin.user_id), "inquiry.updated", detail).await?;
                tx.chat_updated().await?;
                tx.commit().await?;
            }
        }
        Ok(member)
    }

    /// A customer message reached a staff member's screen (the panel or the conversation feed).
    /// However many staff screens acknowledge it, the mark is written once.
    pub async fn received(&self, chat_id: i64, message_id: i64) -> AppResult<()> {
        if self.hub.claim_delivery(chat_id, message_id) {
            self.chats.move_read_mark(chat_id, ReadMark::Delivered, MarkPosition::new(message_id)?).await?;
        }
        Ok(())
    }

    /// Staff have read the conversation up to message `up_to`; the customer sees the read mark.
    pub async fn mark_read(&self, _staff: Staff, chat_id: i64, up_to: i64) -> AppResult<()> {
        let up_to = MarkPosition::new(up_to)?;
        self.any_chat(chat_id).await?;
        self.chats.move_read_mark(chat_id, ReadMark::Staff, up_to).await?;
        Ok(())
    }

    /// Every conversation's changes as open panels get them (see `panel`), from now on.
    pub fn watch_panel(&self) -> tokio::sync::broadcast::Receiver<PanelEvent> {
        self.hub.watch_panel()
    }

    /// Changes when open panels must reload: this replica may have missed changes.
    pub fn watch_panel_resets(&self) -> tokio::sync::watch::Receiver<u64> {
        self.hub.watch_panel_resets()
    }
}

/// When a patch's snooze ends (unix ms; none: at the customer's next message), or why it cannot:
/// 409 beside another status. A time already past wakes it at the next look (within
/// [`SNOOZE_CHECK`]).
fn snooze_time(patch: &InquiryPatch) -> AppResult<Option<i64>> {
    let Some(until) = patch.snoozed_until.as_deref() else { return Ok(None) };
    if patch.status.is_some_and(|s| s != ChatStatus::Snoozed) {
        return Err(AppError::Conflict(format!(
            "snoozed_until snoozes the conversation: it cannot go with status {}",
            patch.status.map_or("", |s| s.as_str())
        )));
    }
    let at = time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
        .map_err(|_| AppError::Invalid(format!("snoozed_until '{until}' is not a time like 2026-12-24T09:00:00Z")))?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map(Some)
        .map_err(|_| AppError::Invalid("snoozed_until is out of range".into()))
}

impl Inquiries {
    /// Wakes the snoozed conversations whose time came, each in its own change (open panels see
    /// them come back): how many woke.
    pub async fn wake_snoozed(&self, now: i64) -> AppResult<usize> {
        let due: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM chats WHERE status = 'snoozed' AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT 500",
        )
        .bind(now)
        .fetch_all(&self.db.read)
        .await?;
        let mut woke = 0;
        for (chat_id,) in due {
            let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
            // Another replica may have woken it first: then nothing changes here.
            if tx.wake(now).await? {
                tx.chat_updated().await?;
                woke += 1;
            }
            tx.commit().await?;
        }
        Ok(woke)
    }
}

/// How often each replica looks for snoozed conversations to wake.
pub const SNOOZE_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// Wakes snoozed conversations as their time comes, until the application is gone.
pub async fn wake_snoozed_forever(service: std::sync::Weak<Inquiries>) {
    let mut tick = tokio::time::interval(SNOOZE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(service) = service.upgrade() else { return };
        if let Err(error) = service.wake_snoozed(crate::server::db::now_ms()).await {
            tracing::warn!(?error, "could not wake the snoozed conversations");
        }
    }
}

/// What a patch changes, for the audit log: `status: pending → open; priority: normal → high`.
fn describe_patch(chat: &ChatRow, patch: &InquiryPatch, taking_over: bool, handing_back: bool) -> String {
    let mut changes = Vec::new();
    if let Some(status) = patch.status.filter(|s| s.as_str() != chat.status) {
        changes.push(format!("status: {} → {}", chat.status, status.as_str()));
    }
    if patch.status == Some(ChatStatus::Snoozed) {
        changes.push(format!("snoozed until {}", patch.snoozed_until.as_deref().unwrap_or("the customer writes")));
    }
    if let Some(priority) = patch.priority.filter(|p| p.as_str() != chat.priority) {
        changes.push(format!("priority: {} → {}", chat.priority, priority.as_str()));
    }
    if let Some(assignee) = patch.assignee_id.filter(|a| *a != chat.assignee_id) {
        let who = |a: Option<i64>| a.map_or("nobody".to_string(), |id| format!("staff {id}"));
        changes.push(format!("assignee: {} → {}", who(chat.assignee_id), who(assignee)));
    }
    if taking_over {
        changes.push("took over from the assistant".into());
    }
    if handing_back {
        changes.push("handed back to the assistant".into());
    }
    changes.join("; ")
}
