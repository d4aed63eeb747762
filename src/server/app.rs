//! The application, [`Frontdesk`]: every domain built once from the settings, started, and handed to the
//! adapters (REST handlers and sockets take the ones they need through `FromRef`; server functions
//! through the Leptos context). Also the replica's life: draining, and shutting down.

use std::{sync::Arc, time::Duration};

use axum::extract::FromRef;
use leptos::prelude::{get_configuration, LeptosOptions};
use tokio_util::sync::CancellationToken;

use super::{
    accounts::Accounts,
    audit::{AuditLog, Trail},
    branding::Branding,
    canned::Canned,
    catalog::Catalog,
    chat::{Alerts, ChatParts, Chats, Limits, Replies, ReplySettings},
    config::Config,
    contexts::ContextStore,
    customers::Customers,
    db::{Backend, Db},
    error::AppError,
    events::{cluster, Hub},
    inquiries::{self, Inquiries, InquiryParts, Notices},
    knowledge::{Knowledge, KnowledgeSettings},
    labels::Labels,
    llm::{self, Contexts},
    notes::Notes,
    notify::Notifier,
    retention::{self, Policy, Retention},
    routing::{self, Routing},
    satisfaction::Satisfactions,
    throttle::SignInThrottle,
    usage::{Allowances, Usage},
};

#[derive(Clone, FromRef)]
pub struct Frontdesk {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Db,
    pub hub: Arc<Hub>,
    pub contexts: Arc<ContextStore>,
    pub accounts: Arc<Accounts>,
    pub audit: Arc<AuditLog>,
    pub catalog: Arc<Catalog>,
    pub canned: Arc<Canned>,
    pub knowledge: Arc<Knowledge>,
    pub usage: Arc<Usage>,
    pub chats: Arc<Chats>,
    pub replies: Arc<Replies>,
    pub inquiries: Arc<Inquiries>,
    pub notices: Arc<Notices>,
    pub notes: Arc<Notes>,
    pub labels: Arc<Labels>,
    pub retention: Arc<Retention>,
    pub routing: Arc<Routing>,
    pub customers: Arc<Customers>,
    pub branding: Arc<Branding>,
    pub satisfaction: Arc<Satisfactions>,
    /// Cancelled when this replica is told to stop: live connections close, `/readyz` fails.
    draining: CancellationToken,
}

/// Why a part of the application could not start: what failed, with the database's own words.
fn startup(what: &str, error: AppError) -> String {
    format!("{what}: {}", error.for_operator())
}

impl Frontdesk {
    /// Connects the database, applies migrations, builds every domain, recovers interrupted
    /// replies and starts the background work (the replicas' link and heartbeat, the panel feed,
    /// retention).
    pub async fn build(config: Config) -> Result<Frontdesk, String> {
        config.validate()?;
        let seed = Contexts::load(config.contexts_file.as_deref())?;
        let assistant = llm::from_config(&config)?;
        let db = Db::connect(&config.database_url, config.db_connections)
            .await
            .map_err(|e| startup("cannot open the database", e))?;
        db.migrate().await.map_err(|e| startup("cannot apply the migrations", e))?;
        let notifier = Notifier::from_config(&config)?.map(Arc::new);
        let hub = Arc::new(Hub::default());
        let audit = Arc::new(AuditLog::new(db.clone()));
        let trail: Arc<dyn Trail> = audit.clone();
        let branding = Arc::new(Branding::new(db.clone(), trail.clone()));
        let satisfaction = Arc::new(Satisfactions::new(db.clone()));
        let contexts = ContextStore::open(db.clone(), hub.clone(), trail.clone(), &seed)
            .await
            .map_err(|e| startup("cannot read the assistant's contexts", e))?;
        let sign_ins = SignInThrottle::new(config.sign_ins_per_account, config.sign_ins_per_network);
        let accounts = Arc::new(Accounts::new(
            db.clone(),
            hub.clone(),
            sign_ins,
            trail.clone(),
            contexts.clone(),
            config.staff_idle(),
            notifier.clone(),
        ));
        let knowledge_settings = KnowledgeSettings {
            embedder: llm::embedder_from_config(&config)?,
            ..KnowledgeSettings::from_config(&config)
        };
        let knowledge = Arc::new(Knowledge::new(db.clone(), trail.clone(), knowledge_settings));
        knowledge.check_language().await?;
        knowledge.start_embedding();
        let seeded = knowledge.seed_answers(&seed).await.map_err(|e| startup("cannot seed the knowledge base", e))?;
        if seeded > 0 {
            tracing::info!(seeded, "the contexts' FAQ entries are answers in the knowledge base now");
        }
        let catalog = Arc::new(Catalog::new(db.clone(), trail.clone(), knowledge.clone()));
        if config.demo {
            let seeded = catalog.seed_demo().await.map_err(|e| startup("cannot write the demo catalog", e))?;
            if seeded > 0 {
                tracing::info!(seeded, "the demo catalog is written (FRONTDESK_DEMO=false starts without it)");
            }
        }
        let indexed = catalog.index_unindexed().await.map_err(|e| startup("cannot index the catalog", e))?;
        if indexed > 0 {
            tracing::info!(indexed, "products the assistant did not know yet are in its knowledge now");
        }
        let canned = Arc::new(Canned::new(db.clone(), trail.clone()));
        let usage = Arc::new(Usage::new(db.clone(), hub.clone(), Allowances::from_config(&config)));
        let replies = Arc::new(Replies::new(
            db.clone(),
            hub.clone(),
            assistant,
            contexts.clone(),
            ReplySettings::from_config(&config),
            usage.clone(),
            knowledge.clone(),
        ));
        let notes = Arc::new(Notes::new(db.clone(), hub.clone(), accounts.clone(), trail.clone(), notifier.clone()));
        let notices = Arc::new(Notices::new(db.clone(), hub.clone(), accounts.clone(), notifier));
        let alerts: Arc<dyn Alerts> = notices.clone();
        let chats = Arc::new(Chats::new(ChatParts {
            db: db.clone(),
            hub: hub.clone(),
            contexts: contexts.clone(),
            limits: Limits::from_config(&config),
            replies: replies.clone(),
            usage: usage.clone(),
            catalog: catalog.clone(),
            accounts: accounts.clone(),
            audit: trail.clone(),
            alerts: alerts.clone(),
            branding: branding.clone(),
        }));
        let labels = Arc::new(Labels::new(db.clone(), hub.clone(), trail.clone()));
        let routing = Arc::new(Routing::new(db.clone(), hub.clone(), trail.clone()));
        let customers = Arc::new(Customers::new(db.clone()));
        let inquiries = Arc::new(Inquiries::new(InquiryParts {
            db: db.clone(),
            hub: hub.clone(),
            chats: chats.clone(),
            replies: replies.clone(),
            accounts: accounts.clone(),
            audit: trail,
            alerts,
            labels: labels.clone(),
            routing: routing.clone(),
        }));
        let retention = Arc::new(Retention::new(db.clone(), accounts.clone(), chats.clone(), usage.clone()));
        match db.backend {
            Backend::Postgres => {
                cluster::join(&replies, &config.database_url)
                    .await
                    .map_err(|e| format!("cannot listen for other replicas: {e}"))?;
                replies.keep_lease().await.map_err(|e| startup("cannot join the replicas", e))?;
            }
            Backend::Sqlite => {
                tracing::info!("SQLite: one process serves this database; use PostgreSQL for several replicas");
                replies.recover_interrupted().await.map_err(|e| startup("cannot end interrupted replies", e))?;
                routing.forget_all_panels().await.map_err(|e| startup("cannot forget the panels of before", e))?;
            }
        }
        tokio::spawn(inquiries::wake_snoozed_forever(Arc::downgrade(&inquiries)));
        if let Some(queue) = hub.take_panel_queue() {
            tokio::spawn(inquiries::panel::run(Arc::downgrade(&inquiries), queue));
        }
        tokio::spawn(routing::run(Arc::downgrade(&routing)));
        tokio::spawn(retention::run(Arc::downgrade(&retention), Policy::from_config(&config)));
        let mut leptos_options =
            get_configuration(None).map_err(|e| format!("leptos configuration: {e}"))?.leptos_options;
        leptos_options.site_addr = config.addr;
        Ok(Frontdesk {
            leptos_options,
            config: Arc::new(config),
            db,
            hub,
            contexts,
            accounts,
            audit,
            catalog,
            canned,
            knowledge,
            usage,
            chats,
            replies,
            inquiries,
            notices,
            notes,
            labels,
            retention,
            routing,
            customers,
            branding,
            satisfaction,
            draining: CancellationToken::new(),
        })
    }

    /// An admin changes a member (see `Inquiries::update_member`): the member as they are now,
    /// with whether they are on duty.
    pub async fn update_member(
        &self,
        admin: super::identity::Staff,
        member_id: i64,
        patch: &crate::model::StaffPatch,
    ) -> Result<crate::model::StaffMember, AppError> {
        let mut member = self.inquiries.update_member(admin, member_id, patch).await?;
        self.routing.with_presence(std::slice::from_mut(&mut member)).await?;
        Ok(member)
    }

    /// The team, deactivated members too, each with whether they are on duty.
    pub async fn team(&self) -> Result<Vec<crate::model::StaffMember>, AppError> {
        let mut members = self.accounts.list_staff().await?;
        self.routing.with_presence(&mut members).await?;
        Ok(members)
    }

    /// Starts shutting this replica down: live connections close (their clients reconnect to
    /// another replica) and `/readyz` answers 503. See [`Frontdesk::shut_down`].
    pub fn drain(&self) {
        self.draining.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves once the replica is told to stop.
    pub fn draining(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.draining.clone().cancelled_owned()
    }

    /// Shuts this replica down: drains, lets the replies it writes finish for up to `grace`, ends
    /// the rest as interrupted (their text kept), and leaves the replicas' list.
    pub async fn shut_down(&self, grace: Duration) {
        self.drain();
        self.replies.finish_all(grace).await;
        self.replies.leave().await;
    }
}
