//! The assistant's contexts as admins keep them (Settings → Assistant): 1 to 3 personas, each with
//! its label, description, greeting, instructions, knowledge tags, strictness and model. They live
//! in the database (table `contexts`), seeded once from `FRONTDESK_CONTEXTS_FILE` (or the built-in
//! file) on a first start; every change is audited and takes effect at once: here, on every other
//! replica (told through the hub, which reloads them from the database), and in every open window
//! ([`ContextStore::watch`] feeds the customers' sockets).

use std::sync::{Arc, Weak};

use sqlx::AnyConnection;
use tokio::sync::watch;

use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, Backend, Db},
    error::{AppError, AppResult},
    events::Hub,
    identity::Staff,
    llm::{Context, Contexts},
};
use crate::model::{is_slug, is_tag, trim_spaces, ContextSettings};

/// At most this many contexts.
pub const MAX_CONTEXTS: usize = 3;
const LABEL_MAX: usize = 40;
const DESCRIPTION_MAX: usize = 200;
const GREETING_MAX: usize = 1_000;
const INSTRUCTIONS_MAX: usize = 8_000;
const MODEL_MAX: usize = 100;
const MAX_TAGS: usize = 20;

/// The contexts in force, and how they change.
pub struct ContextStore {
    db: Db,
    hub: Arc<Hub>,
    audit: Arc<dyn Trail>,
    current: watch::Sender<Arc<Contexts>>,
    /// One reload at a time: a slow one that read before a change cannot put back what it read
    /// after the change's own reload.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(sqlx::FromRow)]
struct ContextRow {
    id: String,
    label: String,
    description: String,
    greeting: String,
    instructions: String,
    knowledge_tags: String,
    strict: i64,
    model: Option<String>,
}

impl ContextRow {
    fn into_context(self) -> Context {
        Context {
            id: self.id,
            label: self.label,
            description: self.description,
            greeting: self.greeting,
            system_prompt: self.instructions,
            faq: Vec::new(),
            knowledge_tags: serde_json::from_str(&self.knowledge_tags).unwrap_or_default(),
            strict: self.strict != 0,
            model: self.model,
        }
    }
}

impl ContextStore {
    /// The stored contexts; on a first start (none stored) `seed`'s are stored first. Follows the
    /// other replicas' changes from then on.
    pub async fn open(db: Db, hub: Arc<Hub>, audit: Arc<dyn Trail>, seed: &Contexts) -> AppResult<Arc<ContextStore>> {
        let mut tx = db.write.begin().await?;
        let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contexts").fetch_one(&mut *tx).await?;
        if stored == 0 {
            for (position, context) in seed.all().iter().enumerate() {
                insert(&mut tx, context, position as i64).await?;
            }
        }
        tx.commit().await?;
        let contexts = load(&db).await?;
        let store = Arc::new(ContextStore {
            db,
            hub,
            audit,
            current: watch::Sender::new(Arc::new(contexts)),
            reloading: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(follow(Arc::downgrade(&store), store.hub.watch_contexts()));
        Ok(store)
    }

    /// The contexts in force now.
    pub fn current(&self) -> Arc<Contexts> {
        self.current.borrow().clone()
    }

    /// The contexts in force, and each change of them.
    pub fn watch(&self) -> watch::Receiver<Arc<Contexts>> {
        self.current.subscribe()
    }

    /// The contexts as admins edit them, the default first (admins only).
    pub fn settings(&self, admin: Staff) -> AppResult<Vec<ContextSettings>> {
        admin.require_admin()?;
        Ok(self.current().all().iter().map(settings_of).collect())
    }

    /// Creates a context (a new id, up to [`MAX_CONTEXTS`]) or changes one (admins only).
    pub async fn save(&self, admin: Staff, settings: ContextSettings) -> AppResult<Vec<ContextSettings>> {
        admin.require_admin()?;
        let context = checked(settings)?;
        let tags = serde_json::to_string(&context.knowledge_tags).unwrap_or_else(|_| "[]".into());
        let mut tx = self.change().await?;
        let updated = sqlx::query(
            "UPDATE contexts SET label = $2, description = $3, greeting = $4, instructions = $5, knowledge_tags = $6, \
             strict = $7, model = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(&context.id)
        .bind(&context.label)
        .bind(&context.description)
        .bind(&context.greeting)
        .bind(&context.system_prompt)
        .bind(&tags)
        .bind(i64::from(context.strict))
        .bind(context.model.as_deref())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let name = if updated == 0 {
            if !is_slug(&context.id) {
                return Err(AppError::Invalid("a new context's id must be 1 to 40 of a-z, 0-9, - and _".into()));
            }
            let (count, last): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MAX(position) FROM contexts").fetch_one(&mut *tx).await?;
            if count as usize >= MAX_CONTEXTS {
                return Err(AppError::Invalid(format!(
                    "there can be at most {MAX_CONTEXTS} contexts: change or delete one"
                )));
            }
            if insert(&mut tx, &context, last.unwrap_or(-1) + 1).await? == 0 {
                return Err(AppError::Conflict(format!("{} was created just now by another request", context.id)));
            }
            "context.created"
        } else {
            "context.updated"
        };
        self.done(tx, admin, name, &context.id).await
    }

    /// Records a change in the audit log, commits it, and puts it in force: the contexts now.
    async fn done(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        admin: Staff,
        name: &'static str,
        id: &str,
    ) -> AppResult<Vec<ContextSettings>> {
        let action = Action { name, chat_id: None, detail: format!("context {id}") };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        self.changed().await?;
        self.settings(admin)
    }

    /// Deletes a context (admins only; one always stays). Its conversations go on in the default.
    pub async fn delete(&self, admin: Staff, id: &str) -> AppResult<Vec<ContextSettings>> {
        admin.require_admin()?;
        let mut tx = self.change().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contexts").fetch_one(&mut *tx).await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM contexts WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(AppError::NotFound { what: "context" });
        }
        if count <= 1 {
            return Err(AppError::Invalid("the assistant needs at least one context".into()));
        }
        sqlx::query("DELETE FROM contexts WHERE id = $1").bind(id).execute(&mut *tx).await?;
        self.done(tx, admin, "context.deleted", id).await
    }

    /// Makes a context the default: the first, which new conversations start in (admins only).
    pub async fn make_default(&self, admin: Staff, id: &str) -> AppResult<Vec<ContextSettings>> {
        admin.require_admin()?;
        let mut tx = self.change().await?;
        let (first,): (Option<i64>,) = sqlx::query_as("SELECT MIN(position) FROM contexts").fetch_one(&mut *tx).await?;
        let moved = sqlx::query("UPDATE contexts SET position = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(first.unwrap_or(0) - 1)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Err(AppError::NotFound { what: "context" });
        }
        self.done(tx, admin, "context.made_default", id).await
    }

    /// After a change here: in force here at once, and on the other replicas when they hear.
    async fn changed(&self) -> AppResult<()> {
        self.reload().await?;
        self.hub.contexts_changed();
        Ok(())
    }

    /// A transaction for a change: on PostgreSQL the table is locked against other changes first,
    /// so two admins cannot both add a third context or both delete the second-last (SQLite has
    /// one writer).
    async fn change(&self) -> AppResult<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.db.write.begin().await?;
        if self.db.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE contexts IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    async fn reload(&self) -> AppResult<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let contexts = load(&self.db).await?;
        self.current.send_if_modified(|current| {
            let changed = current.all() != contexts.all();
            if changed {
                *current = Arc::new(contexts);
            }
            changed
        });
        Ok(())
    }
}

/// Stores a context at `position`, unless one with its id is there already (replicas starting
/// together on a new database seed once): how many were stored.
async fn insert(conn: &mut AnyConnection, context: &Context, position: i64) -> AppResult<u64> {
    Ok(sqlx::query(
        "INSERT INTO contexts (id, position, label, description, greeting, instructions, knowledge_tags, strict, \
         model, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&context.id)
    .bind(position)
    .bind(&context.label)
    .bind(&context.description)
    .bind(&context.greeting)
    .bind(&context.system_prompt)
    .bind(serde_json::to_string(&context.knowledge_tags).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(context.strict))
    .bind(context.model.as_deref())
    .bind(now_ms())
    .execute(conn)
    .await?
    .rows_affected())
}

/// Reloads the contexts each time another replica says it changed them, and every minute in case
/// a word was lost, while the store lives.
async fn follow(store: Weak<ContextStore>, mut changes: watch::Receiver<u64>) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    every_minute.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every_minute.tick().await;
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = every_minute.tick() => {}
        }
        let Some(store) = store.upgrade() else { return };
        if let Err(e) = store.reload().await {
            tracing::warn!(error = %e.for_operator(), "could not reload the contexts another replica changed");
        }
    }
}

async fn load(db: &Db) -> AppResult<Contexts> {
    let rows: Vec<ContextRow> = sqlx::query_as(
        "SELECT id, label, description, greeting, instructions, knowledge_tags, strict, model FROM contexts \
         ORDER BY position, id",
    )
    .fetch_all(&db.read)
    .await?;
    Contexts::new(rows.into_iter().map(ContextRow::into_context).collect())
        .map_err(|e| AppError::Internal(format!("the stored contexts: {e}")))
}

fn settings_of(context: &Context) -> ContextSettings {
    ContextSettings {
        id: context.id.clone(),
        label: context.label.clone(),
        description: context.description.clone(),
        greeting: context.greeting.clone(),
        instructions: context.system_prompt.clone(),
        knowledge_tags: context.knowledge_tags.clone(),
        strict: context.strict,
        model: context.model.clone(),
    }
}

/// A model's name as OpenAI-compatible servers spell them (`gpt-4o-mini`, `llama3.1:8b`,
/// `org/model`).
fn is_model_name(name: &str) -> bool {
    (1..=MODEL_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Settings as a context, or a 422 that says what is wrong.
fn checked(settings: ContextSettings) -> AppResult<Context> {
    fn text(value: &str, what: &str, min: usize, max: usize) -> AppResult<String> {
        let value = trim_spaces(value);
        let chars = value.chars().count();
        if chars < min || chars > max {
            let least = if min == 0 { "at most".to_string() } else { format!("{min} to") };
            return Err(AppError::Invalid(format!("the {what} must be {least} {max} characters")));
        }
        Ok(value.to_string())
    }
    let label = text(&settings.label, "label", 1, LABEL_MAX)?;
    let description = text(&settings.description, "description", 0, DESCRIPTION_MAX)?;
    let greeting = text(&settings.greeting, "greeting", 1, GREETING_MAX)?;
    let instructions = text(&settings.instructions, "instructions", 1, INSTRUCTIONS_MAX)?;
    if settings.knowledge_tags.len() > MAX_TAGS {
        return Err(AppError::Invalid(format!("at most {MAX_TAGS} knowledge tags")));
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in &settings.knowledge_tags {
        let tag = tag.trim().to_lowercase();
        if !is_tag(&tag) {
            return Err(AppError::Invalid(format!("the knowledge tag '{tag}' is not 1 to 40 of a-z, 0-9, - and _")));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let model = match settings.model.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) if is_model_name(name) => Some(name.to_string()),
        Some(_) => {
            return Err(AppError::Invalid(format!(
                "the model must be a model's name (letters, digits and . _ : / -, at most {MODEL_MAX}); empty for the \
                 server's"
            )))
        }
    };
    Ok(Context {
        id: settings.id.trim().to_string(),
        label,
        description,
        greeting,
        system_prompt: instructions,
        faq: Vec::new(),
        knowledge_tags: tags,
        strict: settings.strict,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ContextSettings {
        ContextSettings {
            id: "billing".into(),
            label: " Billing ".into(),
            description: "Invoices and payments".into(),
            greeting: "Hi! Questions about an invoice?".into(),
            instructions: "You answer billing questions.".into(),
            knowledge_tags: vec!["Billing".into(), "billing".into()],
            strict: true,
            model: Some(" ".into()),
        }
    }

    #[test]
    fn settings_are_kept_trimmed_with_tags_lowercase_once_and_a_blank_model_as_the_servers() {
        let context = checked(settings()).unwrap();
        assert_eq!(context.label, "Billing");
        assert_eq!(context.knowledge_tags, vec!["billing".to_string()]);
        assert_eq!(context.model, None);
        assert!(context.strict);
    }

    #[test]
    fn a_blank_label_a_long_greeting_a_bad_tag_or_model_are_refused_with_the_reason() {
        for (change, says) in [
            (Box::new(|s: &mut ContextSettings| s.label = "  ".into()) as Box<dyn Fn(&mut ContextSettings)>, "label"),
            (Box::new(|s: &mut ContextSettings| s.greeting = "x".repeat(1_001)), "greeting"),
            (Box::new(|s: &mut ContextSettings| s.knowledge_tags = vec!["two words".into()]), "tag"),
            (Box::new(|s: &mut ContextSettings| s.model = Some("gpt 4".into())), "model"),
        ] {
            let mut bad = settings();
            change(&mut bad);
            match checked(bad) {
                Err(AppError::Invalid(reason)) => assert!(reason.contains(says), "{reason}"),
                other => panic!("{says}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_label_of_a_character_the_spec_does_not_count_as_space_is_kept_and_loads_again() {
        let mut odd = settings();
        odd.label = "\u{85}".into();
        let context = checked(odd).unwrap();
        assert_eq!(context.label, "\u{85}");
        assert!(Contexts::new(vec![context]).is_ok(), "what a save keeps, a load reads");
    }

    #[test]
    fn a_new_contexts_id_is_a_lowercase_slug_and_a_model_name_is_as_servers_spell_them() {
        assert!(is_slug("after-sales_2"));
        assert!(!is_slug("Sales"));
        assert!(!is_slug("-sales"));
        assert!(!is_slug(""));
        assert!(is_model_name("llama3.1:8b"));
        assert!(is_model_name("openai/gpt-4o-mini"));
        assert!(!is_model_name("gpt 4"));
    }
}
