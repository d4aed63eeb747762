//! Routing: who is on duty, and who gets a conversation waiting for a person.
//!
//! A member is *online* when they said so (their availability: online unless they chose away)
//! and a panel of theirs is open: each open panel socket has a row in `panel_presence`, kept
//! fresh while it is open, so a replica that stops without closing its sockets leaves nobody
//! online for long. Every change of who is online is news to every open panel, on every replica.
//!
//! Auto-assignment (off by default, `routing_settings`): each conversation waiting for a person
//! (pending, unassigned, the assistant stopped or could not answer) goes to the online member
//! whose turn it is (round-robin: the lowest `assigned_turn`) among those with fewer open
//! conversations than the cap. When nobody can take it, it waits: each replica looks again when
//! a conversation changes, someone comes online or changes availability, the settings change,
//! and every [`ROUTING_CHECK`] besides. The assignment is the chat's own change, under its lock;
//! on PostgreSQL the member's row is locked too, so two replicas cannot both fill a member's last
//! place. Tables: `staff_availability`, `panel_presence`, `routing_settings`.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Weak,
    },
    time::Duration,
};

use tokio::sync::Notify;

use super::{
    audit::{Action, Actor, Trail},
    chat::ChatTx,
    db::{now_ms, Backend, Db},
    error::{AppError, AppResult},
    events::Hub,
    identity::Staff,
};
use crate::model::{AssignmentSettings, Availability, Presence, StaffMember, TeamEvent, MAX_OPEN_PER_MEMBER};

/// How often an open panel says it is still there.
pub const PRESENCE_BEAT: Duration = Duration::from_secs(30);
/// A panel not heard of for this long is gone (its replica stopped without closing it).
const PRESENCE_FRESH_MS: i64 = 3 * 30_000;
/// How often each replica looks for waiting conversations and gone panels, besides the changes
/// that make it look at once.
pub const ROUTING_CHECK: Duration = Duration::from_secs(15);
/// The most waiting conversations one look assigns (the next look takes the rest).
const ASSIGN_BATCH: i64 = 200;

/// A member who is online (SQL on `users u LEFT JOIN staff_availability a`, the freshness cutoff
/// as `$1`): active, said online (or never said), and a panel of theirs heard of since the cutoff.
const ONLINE: &str = "u.kind = 'staff' AND u.deactivated_at IS NULL AND COALESCE(a.availability, 'online') = 'online' \
     AND EXISTS (SELECT 1 FROM panel_presence p WHERE p.user_id = u.id AND p.seen_at > $1)";
/// A conversation counted against its assignee's cap.
const OPEN: &str = "c.status IN ('pending', 'in_progress')";
/// A conversation waiting for a person and for someone to take it.
const WAITING: &str = "c.status = 'pending' AND c.assignee_id IS NULL AND (c.ai_enabled = 0 OR c.unanswered = 1)";

pub struct Routing {
    db: Db,
    hub: Arc<Hub>,
    audit: Arc<dyn Trail>,
    /// Whether auto-assignment is on, as last read: conversation changes make this replica look
    /// only then.
    auto_assign: Arc<AtomicBool>,
    /// Wakes the assigning loop (which holds these two, not the service, while it waits).
    look: Arc<Notify>,
}

/// An open panel's row in `panel_presence`.
#[derive(Debug, Clone, Copy)]
pub struct OpenPanel {
    id: i64,
    user_id: i64,
}

impl Routing {
    pub fn new(db: Db, hub: Arc<Hub>, audit: Arc<dyn Trail>) -> Self {
        Routing { db, hub, audit, auto_assign: Arc::default(), look: Arc::default() }
    }

    /// Auto-assignment's settings.
    pub async fn settings(&self) -> AppResult<AssignmentSettings> {
        let (auto_assign, max_open_per_member): (i64, i64) =
            sqlx::query_as("SELECT auto_assign, max_open_per_member FROM routing_settings WHERE id = 1")
                .fetch_one(&self.db.read)
                .await?;
        let settings = AssignmentSettings { auto_assign: auto_assign != 0, max_open_per_member };
        self.auto_assign.store(settings.auto_assign, Ordering::Relaxed);
        Ok(settings)
    }

    /// An admin changes auto-assignment (audited); turned on, waiting conversations are given
    /// out at once.
    pub async fn set_settings(&self, admin: Staff, settings: &AssignmentSettings) -> AppResult<AssignmentSettings> {
        admin.require_admin()?;
        if !(1..=MAX_OPEN_PER_MEMBER).contains(&settings.max_open_per_member) {
            return Err(AppError::Invalid(format!(
                "max_open_per_member must be 1 to {MAX_OPEN_PER_MEMBER}, not {}",
                settings.max_open_per_member
            )));
        }
        let mut tx = self.db.write.begin().await?;
        sqlx::query("UPDATE routing_settings SET auto_assign = $1, max_open_per_member = $2 WHERE id = 1")
            .bind(i64::from(settings.auto_assign))
            .bind(settings.max_open_per_member)
            .execute(&mut *tx)
            .await?;
        let detail = format!(
            "auto-assignment {}, at most {} open each",
            if settings.auto_assign { "on" } else { "off" },
            settings.max_open_per_member
        );
        self.audit
            .record(&mut tx, Actor::Staff(admin.user_id), Action { name: "routing.updated", chat_id: None, detail })
            .await?;
        tx.commit().await?;
        self.auto_assign.store(settings.auto_assign, Ordering::Relaxed);
        self.look.notify_one();
        Ok(*settings)
    }

    /// Waits for any conversation being given to `user_id` right now (on any replica) to be
    /// given or not: after this, a member just deactivated or away is given nothing more, and
    /// what they were given is in the database.
    pub async fn settle(&self, user_id: i64) -> AppResult<()> {
        let mut tx = self.db.write.begin().await?;
        member_row(&mut tx, user_id).await?;
        if self.db.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM staff_availability WHERE user_id = $1 FOR UPDATE")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether each active member is on duty.
    pub async fn presence(&self) -> AppResult<Vec<Presence>> {
        self.presence_where(None).await
    }

    /// Whether one member is on duty (offline once deactivated).
    async fn presence_of(&self, user_id: i64) -> AppResult<Presence> {
        Ok(self.presence_where(Some(user_id)).await?.pop().unwrap_or(Presence {
            user_id,
            availability: Availability::Online.as_str().into(),
            online: false,
        }))
    }

    /// Whether the active members (or only `only`) are on duty.
    async fn presence_where(&self, only: Option<i64>) -> AppResult<Vec<Presence>> {
        let rows: Vec<(i64, Option<String>, i64)> = sqlx::query_as(&format!(
            "SELECT u.id, a.availability, CASE WHEN {ONLINE} THEN 1 ELSE 0 END \
             FROM users u LEFT JOIN staff_availability a ON a.user_id = u.id \
             WHERE u.kind = 'staff' AND u.deactivated_at IS NULL AND ($2 = 0 OR u.id = $2) ORDER BY u.id"
        ))
        .bind(now_ms() - PRESENCE_FRESH_MS)
        .bind(only.unwrap_or(0))
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, availability, online)| Presence {
                user_id,
                availability: availability.unwrap_or_else(|| Availability::Online.as_str().into()),
                online: online != 0,
            })
            .collect())
    }

    /// Fills in each member's availability and whether they are online.
    pub async fn with_presence(&self, members: &mut [StaffMember]) -> AppResult<()> {
        let presence = self.presence().await?;
        for member in members.iter_mut() {
            if let Some(p) = presence.iter().find(|p| p.user_id == member.id) {
                member.availability.clone_from(&p.availability);
                member.online = p.online;
            }
        }
        Ok(())
    }

    /// Tells every open panel whether `user_id` is on duty now.
    async fn announce(&self, user_id: i64) -> AppResult<Presence> {
        let presence = self.presence_of(user_id).await?;
        self.hub.send_to_team(TeamEvent::Presence(presence.clone()));
        Ok(presence)
    }

    /// A member says they are online or away: open panels see it, and an online member may be
    /// given waiting conversations at once.
    pub async fn set_availability(&self, staff: Staff, availability: Availability) -> AppResult<Presence> {
        sqlx::query(
            "INSERT INTO staff_availability (user_id, availability) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET availability = $2",
        )
        .bind(staff.user_id)
        .bind(availability.as_str())
        .execute(&self.db.write)
        .await?;
        self.look.notify_one();
        self.announce(staff.user_id).await
    }

    /// A panel socket of `user_id` opened.
    pub async fn panel_opened(&self, user_id: i64) -> AppResult<OpenPanel> {
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO panel_presence (user_id, seen_at) VALUES ($1, $2) RETURNING id")
                .bind(user_id)
                .bind(now_ms())
                .fetch_one(&self.db.write)
                .await?;
        self.look.notify_one();
        if let Err(error) = self.announce(user_id).await {
            tracing::warn!(?error, user_id, "could not tell the panels of a member online");
        }
        Ok(OpenPanel { id, user_id })
    }

    /// An open panel is still there. Its row forgotten meanwhile (a beat came late), it is
    /// written again: the panel to keep is the one returned.
    pub async fn panel_seen(&self, panel: OpenPanel) -> AppResult<OpenPanel> {
        let seen = sqlx::query("UPDATE panel_presence SET seen_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(panel.id)
            .execute(&self.db.write)
            .await?;
        if seen.rows_affected() > 0 {
            return Ok(panel);
        }
        self.panel_opened(panel.user_id).await
    }

    /// Forgets every open panel: on SQLite at start, when no panel of a process before can be open.
    pub async fn forget_all_panels(&self) -> AppResult<()> {
        sqlx::query("DELETE FROM panel_presence").execute(&self.db.write).await?;
        Ok(())
    }

    /// A panel socket closed.
    pub async fn panel_closed(&self, panel: OpenPanel) -> AppResult<()> {
        sqlx::query("DELETE FROM panel_presence WHERE id = $1").bind(panel.id).execute(&self.db.write).await?;
        self.announce(panel.user_id).await?;
        Ok(())
    }

    /// Forgets the panels not heard of for a while (their replica stopped): their members may be
    /// offline now.
    async fn forget_gone_panels(&self) -> AppResult<()> {
        let gone: Vec<(i64,)> = sqlx::query_as("DELETE FROM panel_presence WHERE seen_at <= $1 RETURNING user_id")
            .bind(now_ms() - PRESENCE_FRESH_MS)
            .fetch_all(&self.db.write)
            .await?;
        let mut gone: Vec<i64> = gone.into_iter().map(|(user_id,)| user_id).collect();
        gone.sort_unstable();
        gone.dedup();
        for user_id in gone {
            self.announce(user_id).await?;
        }
        Ok(())
    }

    /// The members who may be given a conversation now, whose turn comes first first.
    async fn free_members(&self, cap: i64) -> AppResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT u.id FROM users u LEFT JOIN staff_availability a ON a.user_id = u.id WHERE {ONLINE} \
             AND (SELECT COUNT(*) FROM chats c WHERE c.assignee_id = u.id AND {OPEN}) < $2 \
             ORDER BY COALESCE(a.assigned_turn, 0), u.id"
        ))
        .bind(now_ms() - PRESENCE_FRESH_MS)
        .bind(cap)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Gives each waiting conversation to the member whose turn it is, while anyone has room:
    /// how many were given.
    pub async fn assign_waiting(&self) -> AppResult<usize> {
        let settings = self.settings().await?;
        if !settings.auto_assign {
            return Ok(0);
        }
        let waiting: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT c.id FROM chats c WHERE {WAITING} ORDER BY c.last_activity_at, c.id LIMIT {ASSIGN_BATCH}"
        ))
        .fetch_all(&self.db.read)
        .await?;
        let mut given = 0;
        for (chat_id,) in waiting {
            let members = self.free_members(settings.max_open_per_member).await?;
            if members.is_empty() {
                break;
            }
            if self.give(chat_id, &members, settings.max_open_per_member).await? {
                given += 1;
            }
        }
        Ok(given)
    }

    /// Gives one conversation to the first of `members` with room, in the chat's own change:
    /// whether it was given (it may have been taken meanwhile).
    async fn give(&self, chat_id: i64, members: &[i64], cap: i64) -> AppResult<bool> {
        let mut tx = ChatTx::begin(&self.hub, &self.db, chat_id).await?;
        // Locked on PostgreSQL even while this replica knows of no other: one starting now
        // cannot give it too.
        let lock = if tx.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let still_waiting: Option<(i64,)> =
            sqlx::query_as(&format!("SELECT c.id FROM chats c WHERE c.id = $1 AND {WAITING}{lock}"))
                .bind(chat_id)
                .fetch_optional(tx.conn())
                .await?;
        if still_waiting.is_none() {
            tx.commit().await?;
            return Ok(false);
        }
        for &member in members {
            member_row(tx.conn(), member).await?;
            if tx.backend() == Backend::Postgres {
                // The member's row, held until the change ends: another replica giving them a
                // conversation meanwhile skips them (never waits, so two replicas never wait on
                // each other), and a deactivation waits (see `settle`).
                let held: Option<(i64,)> =
                    sqlx::query_as("SELECT user_id FROM staff_availability WHERE user_id = $1 FOR UPDATE SKIP LOCKED")
                        .bind(member)
                        .fetch_optional(tx.conn())
                        .await?;
                if held.is_none() {
                    continue;
                }
            }
            // Read again inside the change: still active, online with a panel open, and with room.
            let (free,): (i64,) = sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM users u LEFT JOIN staff_availability a ON a.user_id = u.id \
                 WHERE u.id = $2 AND {ONLINE} AND (SELECT COUNT(*) FROM chats c WHERE c.assignee_id = u.id AND {OPEN}) < $3"
            ))
            .bind(now_ms() - PRESENCE_FRESH_MS)
            .bind(member)
            .bind(cap)
            .fetch_one(tx.conn())
            .await?;
            if free == 0 {
                continue;
            }
            tx.set_triage(None, None, Some(Some(member))).await?;
            sqlx::query(
                "UPDATE staff_availability SET assigned_turn = \
                 (SELECT COALESCE(MAX(assigned_turn), 0) + 1 FROM staff_availability) WHERE user_id = $1",
            )
            .bind(member)
            .execute(tx.conn())
            .await?;
            let detail = format!("assignee: nobody → staff {member} (auto-assigned)");
            tx.audit(&*self.audit, Actor::Staff(member), "inquiry.updated", detail).await?;
            tx.chat_updated().await?;
            tx.commit().await?;
            return Ok(true);
        }
        tx.commit().await?;
        Ok(false)
    }
}

/// Makes sure `user_id` has a row in `staff_availability` (online, first in the round), the one
/// an assignment and a deactivation lock.
async fn member_row(conn: &mut sqlx::AnyConnection, user_id: i64) -> AppResult<()> {
    sqlx::query("INSERT INTO staff_availability (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Assigns waiting conversations as changes come (see the module documentation), and forgets
/// gone panels, until the application is gone.
pub async fn run(routing: Weak<Routing>) {
    let Some(service) = routing.upgrade() else { return };
    let mut team = service.hub.watch_team();
    let (look, auto_assign) = (service.look.clone(), service.auto_assign.clone());
    drop(service);
    // Conversation changes, followed only while auto-assignment is on: following them makes this
    // replica summarise every change for the panel feed, which it otherwise does only while a
    // panel is open here.
    let mut changes: Option<tokio::sync::broadcast::Receiver<crate::model::PanelEvent>> = None;
    let mut tick = tokio::time::interval(ROUTING_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        match (auto_assign.load(Ordering::Relaxed), changes.is_some()) {
            (true, false) => changes = routing.upgrade().map(|s| s.hub.watch_panel()),
            (false, true) => changes = None,
            _ => {}
        }
        let mut sweep = false;
        tokio::select! {
            _ = tick.tick() => sweep = true,
            _ = look.notified() => {}
            event = async {
                match changes.as_mut() {
                    Some(changes) => changes.recv().await,
                    None => std::future::pending().await,
                }
            } => match event {
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                _ => {
                    // Many changes at once make one look.
                    while changes.as_mut().is_some_and(|c| c.try_recv().is_ok()) {}
                }
            },
            news = team.recv() => match news {
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                // Someone came online on another replica.
                Ok(TeamEvent::Presence(p)) if p.online => {}
                _ => continue,
            },
        }
        let Some(service) = routing.upgrade() else { return };
        if sweep {
            if let Err(error) = service.forget_gone_panels().await {
                tracing::warn!(?error, "could not forget the panels gone");
            }
        }
        if let Err(error) = service.assign_waiting().await {
            tracing::warn!(?error, "could not assign the waiting conversations");
        }
    }
}
