//! The shop's knowledge: articles (its pages and policies) and answers (a question and the shop's
//! answer), by the shop's own ids, split into passages that full-text search finds — SQLite FTS5
//! (bm25) or PostgreSQL `tsvector` with a GIN index, in the configured text-search language — so
//! the assistant answers from them (`search`). Every change is audited and, being in the
//! database, seen by every replica at once. Tables: `knowledge`, `knowledge_passages` (and on
//! SQLite `knowledge_fts`).

mod common;
mod import;
pub mod passages;
mod products;
mod search;
mod vectors;
pub mod web;

use std::sync::Arc;

use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::{IntoParams, ToSchema};

pub use self::{
    import::{ImportFile, ImportReport, RejectedFile, UrlImport},
    search::{Found, Wanted},
};
use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, rfc3339, Backend, Db},
    error::{AppError, AppResult},
    identity::Editor,
    llm::{Contexts, Embedder},
};
use crate::model::{is_tag, KnowledgeItem, KnowledgeKind, KnowledgePage, Visibility};

/// Longest article body, in characters.
pub const BODY_MAX_CHARS: usize = 200_000;
const TITLE_MAX_CHARS: usize = 200;
const URL_MAX_CHARS: usize = 2_048;
const MAX_TAGS: usize = 20;
/// The shop's own ids: what a handle, a SKU or a slug holds.
pub const EXTERNAL_ID_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$";

/// An article or an answer as written (`PUT /api/v1/admin/knowledge/{external_id}`).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeInput {
    /// `article` (default) or `answer` (`title` is then the question).
    #[serde(default)]
    pub kind: KnowledgeKind,
    /// 1 to 200 characters.
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: String,
    /// Markdown, at most 200,000 characters.
    #[serde(default)]
    #[schema(max_length = 200000)]
    pub body: String,
    /// Where customers can read it (http or https): cited with the answer when `public`.
    #[schema(max_length = 2048, pattern = r"^https?://\S+$")]
    pub url: Option<String>,
    /// At most 20, each 1 to 40 letters, digits, `-` and `_` (kept lowercase): a context can use
    /// only the knowledge with given tags.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// `public` (default), `assistant` or `staff`.
    #[serde(default)]
    pub visibility: Visibility,
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those whose title (a product's name) or id contains this (any case).
    pub q: Option<String>,
    /// A `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// 1 to 200; default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    external_id: String,
    kind: String,
    title: String,
    body: String,
    url: Option<String>,
    tags: String,
    visibility: String,
    passages: i64,
    created_at: i64,
    updated_at: i64,
}

impl ItemRow {
    fn into_item(self) -> AppResult<KnowledgeItem> {
        Ok(KnowledgeItem {
            external_id: self.external_id,
            kind: self.kind.parse().map_err(AppError::Internal)?,
            title: self.title,
            body: self.body,
            url: self.url,
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            visibility: self.visibility.parse().map_err(AppError::Internal)?,
            passages: self.passages,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }

    fn same_as(&self, input: &KnowledgeInput, tags: &str) -> bool {
        self.kind == input.kind.as_str()
            && self.title == input.title
            && self.body == input.body
            && self.url == input.url
            && self.tags == tags
            && self.visibility == input.visibility.as_str()
    }
}

const ITEM_COLUMNS: &str = "k.id, k.external_id, k.kind, k.title, k.body, k.url, k.tags, k.visibility, \
     (SELECT COUNT(*) FROM knowledge_passages p WHERE p.knowledge_id = k.id) AS passages, k.created_at, k.updated_at";

/// How knowledge is read and fetched.
#[derive(Clone)]
pub struct KnowledgeSettings {
    /// PostgreSQL's text-search configuration (`english`, `simple`, …).
    pub language: String,
    /// How pages are fetched for an import by URL.
    pub web: web::Web,
    /// The most pages one import by URL (a sitemap) fetches.
    pub max_pages: usize,
    /// Embeds passages for hybrid search (`OPENAI_EMBEDDING_MODEL`); none: full text alone.
    pub embedder: Option<Arc<dyn Embedder>>,
}

impl KnowledgeSettings {
    pub fn from_config(config: &super::config::Config) -> Self {
        KnowledgeSettings {
            language: config.search_language.clone(),
            web: web::Web { allow_private: config.import_private_urls },
            max_pages: config.import_max_pages as usize,
            embedder: None,
        }
    }
}

/// The shop's knowledge.
pub struct Knowledge {
    db: Db,
    audit: Arc<dyn Trail>,
    /// PostgreSQL's text-search configuration (`english`, `simple`, …).
    language: String,
    web: web::Web,
    max_pages: usize,
    common: common::CommonWords,
    /// Searches of common words alone, for a short while.
    recent: common::Recent<Vec<(i64, Found)>>,
    /// The passages' vectors, with an embedding model.
    vectors: Option<vectors::Vectors>,
}

impl Knowledge {
    pub fn new(db: Db, audit: Arc<dyn Trail>, settings: KnowledgeSettings) -> Self {
        let KnowledgeSettings { language, web, max_pages, embedder } = settings;
        let (common, vectors) = (common::CommonWords::new(db.clone()), embedder.map(vectors::Vectors::new));
        Knowledge { common, recent: common::Recent::default(), vectors, db, audit, language, web, max_pages }
    }

    /// With an embedding model, starts embedding the passages that have no vector yet (in the
    /// background, for as long as the knowledge lives).
    pub fn start_embedding(self: &Arc<Self>) {
        if self.vectors.is_some() {
            tokio::spawn(vectors::embed_pending(Arc::downgrade(self)));
        }
    }

    /// On PostgreSQL, that the text-search language exists (a typo would fail every write).
    pub async fn check_language(&self) -> Result<(), String> {
        if self.db.backend == Backend::Postgres {
            sqlx::query("SELECT CAST(CAST($1 AS TEXT) AS regconfig)::text")
                .bind(&self.language)
                .execute(&self.db.read)
                .await
                .map_err(|_| {
                    format!(
                        "FRONTDESK_SEARCH_LANGUAGE={} is not a PostgreSQL text-search configuration \
                         (english, simple, german, french… see \\dF in psql)",
                        self.language
                    )
                })?;
        }
        Ok(())
    }

    /// Creates or replaces an item by the shop's id, its passages with it, in one transaction.
    pub async fn put(&self, editor: Editor, external_id: &str, input: &KnowledgeInput) -> AppResult<Written> {
        check_external_id(external_id)?;
        let input = checked(input)?;
        let tags = serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into());
        let mut tx = self.db.write.begin().await?;
        let existing =
            sqlx::query_as::<_, ItemRow>(&format!("SELECT {ITEM_COLUMNS} FROM knowledge k WHERE k.external_id = $1"))
                .bind(external_id)
                .fetch_optional(&mut *tx)
                .await?;
        let now = now_ms();
        let (id, written) = match existing {
            Some(row) if row.same_as(&input, &tags) => return Ok(Written::Unchanged),
            Some(row) => {
                sqlx::query(
                    "UPDATE knowledge SET kind = $1, title = $2, body = $3, url = $4, tags = $5, visibility = $6, \
                     updated_at = $7 WHERE id = $8",
                )
                .bind(input.kind.as_str())
                .bind(&input.title)
                .bind(&input.body)
                .bind(&input.url)
                .bind(&tags)
                .bind(input.visibility.as_str())
                .bind(now)
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                self.forget_passages(&mut tx, row.id).await?;
                (row.id, Written::Updated)
            }
            None => {
                // Another write of the same id that began meanwhile: this one waits for it and
                // inserts nothing; the client is told to write again.
                let created: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO knowledge (external_id, kind, title, body, url, tags, visibility, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     ON CONFLICT (external_id) DO NOTHING RETURNING id",
                )
                .bind(external_id)
                .bind(input.kind.as_str())
                .bind(&input.title)
                .bind(&input.body)
                .bind(&input.url)
                .bind(&tags)
                .bind(input.visibility.as_str())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let (id,) = created.ok_or_else(|| {
                    AppError::Conflict(format!("{external_id} was written by another request just now; send it again"))
                })?;
                (id, Written::Created)
            }
        };
        self.write_passages(&mut tx, id, &input).await?;
        let name = if written == Written::Created { "knowledge.created" } else { "knowledge.updated" };
        let detail = format!("{} {external_id}{}", input.kind, editor.via());
        self.audit.record(&mut tx, Actor::Staff(editor.user_id), Action { name, chat_id: None, detail }).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Removes an item and its passages.
    pub async fn delete(&self, editor: Editor, external_id: &str) -> AppResult<()> {
        let mut tx = self.db.write.begin().await?;
        let found: Option<(i64, String)> =
            sqlx::query_as("SELECT id, kind FROM knowledge WHERE external_id = $1 AND kind <> 'product'")
                .bind(external_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((id, kind)) = found else { return Err(AppError::not_found("knowledge item")) };
        self.forget_passages(&mut tx, id).await?;
        sqlx::query("DELETE FROM knowledge WHERE id = $1").bind(id).execute(&mut *tx).await?;
        let detail = format!("{kind} {external_id}{}", editor.via());
        let action = Action { name: "knowledge.deleted", chat_id: None, detail };
        self.audit.record(&mut tx, Actor::Staff(editor.user_id), action).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get(&self, external_id: &str) -> AppResult<KnowledgeItem> {
        sqlx::query_as::<_, ItemRow>(&format!(
            "SELECT {ITEM_COLUMNS} FROM knowledge k WHERE k.external_id = $1 AND k.kind <> 'product'"
        ))
        .bind(external_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(AppError::not_found("knowledge item"))?
        .into_item()
    }

    /// A page of items by id, optionally only those whose title or id holds `q`.
    pub async fn list(&self, query: &ListQuery) -> AppResult<KnowledgePage> {
        let limit = query.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AppError::Invalid("limit must be 1 to 200".into()));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let pattern = q.map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
        let rows = sqlx::query_as::<_, ItemRow>(&format!(
            "SELECT {ITEM_COLUMNS} FROM knowledge k WHERE k.external_id > $1 AND k.kind <> 'product' \
             AND ($2 IS NULL OR LOWER(k.title) LIKE $2 OR LOWER(k.external_id) LIKE $2) \
             ORDER BY k.external_id LIMIT $3"
        ))
        .bind(query.cursor.as_deref().unwrap_or(""))
        .bind(pattern)
        .bind(limit + 1)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() as i64 > limit;
        let items = rows.into_iter().take(limit as usize).map(ItemRow::into_item).collect::<AppResult<Vec<_>>>()?;
        let next_cursor = more.then(|| items.last().map(|i| i.external_id.clone())).flatten();
        Ok(KnowledgePage { items, next_cursor })
    }

    /// On a first start (no knowledge, and none ever written), the contexts' FAQ entries become
    /// answers, tagged with their context, that only the assistant sees; how many.
    pub async fn seed_answers(&self, contexts: &Contexts) -> AppResult<usize> {
        let (items,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM knowledge WHERE kind <> 'product'").fetch_one(&self.db.read).await?;
        let (written,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'knowledge.%'")
            .fetch_one(&self.db.read)
            .await?;
        if items > 0 || written > 0 {
            return Ok(0);
        }
        let mut tx = self.db.write.begin().await?;
        let mut count = 0;
        for context in contexts.all() {
            for (i, entry) in context.faq.iter().enumerate() {
                let input = KnowledgeInput {
                    kind: KnowledgeKind::Answer,
                    title: format!("{}: {}", context.label, entry.keywords.join(", ")),
                    body: entry.answer.clone(),
                    url: None,
                    tags: vec![context.id.to_lowercase()],
                    visibility: Visibility::Assistant,
                };
                // Replicas starting together on a new database seed once: the second finds the
                // first's rows (waiting for its commit) and writes nothing.
                let created: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO knowledge (external_id, kind, title, body, url, tags, visibility, created_at, \
                     updated_at) VALUES ($1, 'answer', $2, $3, NULL, $4, 'assistant', $5, $5) \
                     ON CONFLICT (external_id) DO NOTHING RETURNING id",
                )
                .bind(format!("faq-{}-{}", context.id, i + 1))
                .bind(&input.title)
                .bind(&input.body)
                .bind(serde_json::to_string(&input.tags).unwrap_or_default())
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id,)) = created {
                    self.write_passages(&mut tx, id, &input).await?;
                    count += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn write_passages(&self, conn: &mut AnyConnection, id: i64, input: &KnowledgeInput) -> AppResult<()> {
        let passages = match input.kind {
            // An answer is one passage: the question and its answer.
            KnowledgeKind::Answer => {
                vec![passages::Passage { heading: input.title.clone(), text: input.body.trim().to_string() }]
            }
            KnowledgeKind::Article => passages::split(&input.title, &input.body),
        };
        self.write_split(conn, id, &input.title, &passages).await
    }

    /// Stores an item's passages, each with its heading under the item's title, and indexes them.
    async fn write_split(
        &self,
        conn: &mut AnyConnection,
        id: i64,
        title: &str,
        passages: &[passages::Passage],
    ) -> AppResult<()> {
        for (position, passage) in passages.iter().enumerate() {
            let heading =
                if passage.heading == title { title.to_string() } else { format!("{title} — {}", passage.heading) };
            match self.db.backend {
                Backend::Sqlite => {
                    let (passage_id,): (i64,) = sqlx::query_as(
                        "INSERT INTO knowledge_passages (knowledge_id, position, heading, text) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(id)
                    .bind(position as i64)
                    .bind(&heading)
                    .bind(&passage.text)
                    .fetch_one(&mut *conn)
                    .await?;
                    sqlx::query("INSERT INTO knowledge_fts (rowid, title, text) VALUES ($1, $2, $3)")
                        .bind(passage_id)
                        .bind(&heading)
                        .bind(&passage.text)
                        .execute(&mut *conn)
                        .await?;
                }
                Backend::Postgres => {
                    // The title weighs more than the text, as bm25's weights do on SQLite.
                    sqlx::query(
                        "INSERT INTO knowledge_passages (knowledge_id, position, heading, text, tsv) \
                         VALUES ($1, $2, $3, $4, setweight(to_tsvector(CAST($5 AS regconfig), $3), 'A') \
                         || to_tsvector(CAST($5 AS regconfig), $4))",
                    )
                    .bind(id)
                    .bind(position as i64)
                    .bind(&heading)
                    .bind(&passage.text)
                    .bind(&self.language)
                    .execute(&mut *conn)
                    .await?;
                }
            }
        }
        if let Some(vectors) = &self.vectors {
            vectors.written();
        }
        self.recent.forget();
        Ok(())
    }

    async fn forget_passages(&self, conn: &mut AnyConnection, id: i64) -> AppResult<()> {
        if self.db.backend == Backend::Sqlite {
            sqlx::query(
                "DELETE FROM knowledge_fts WHERE rowid IN (SELECT id FROM knowledge_passages WHERE knowledge_id = $1)",
            )
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query("DELETE FROM knowledge_passages WHERE knowledge_id = $1").bind(id).execute(&mut *conn).await?;
        self.recent.forget();
        Ok(())
    }
}

/// An absolute http or https address of at most 2,048 characters, without spaces, that parses as
/// a URL (what the spec states as `format: uri` with its pattern).
pub fn is_web_address(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or_default();
    !rest.is_empty()
        && url.chars().count() <= URL_MAX_CHARS
        && !rest.chars().any(char::is_whitespace)
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

/// 422 unless `id` is a usable id of the shop's.
pub fn check_external_id(id: &str) -> AppResult<()> {
    // The knowledge API's own paths under /knowledge/.
    let reserved = ["search", "import"].contains(&id);
    let ok = !reserved
        && !id.is_empty()
        && id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid(
            "an id is 1 to 128 letters, digits and . _ : - (starting with a letter or digit; not search or import)"
                .into(),
        ))
    }
}

/// The input with spaces trimmed, or a 422 (413 for a body over the limit) naming the rule broken.
fn checked(input: &KnowledgeInput) -> AppResult<KnowledgeInput> {
    let mut input = input.clone();
    let title_chars = input.title.chars().count();
    input.title = crate::model::trim_spaces(&input.title).to_string();
    if input.title.is_empty() || title_chars > TITLE_MAX_CHARS {
        return Err(AppError::Invalid(format!("title must be 1 to {TITLE_MAX_CHARS} characters")));
    }
    let len = input.body.chars().count();
    if len > BODY_MAX_CHARS {
        return Err(AppError::TooLong { what: "body", len, max: BODY_MAX_CHARS });
    }
    if let Some(url) = &input.url {
        if !is_web_address(url) {
            return Err(AppError::Invalid("url must be an http or https address".into()));
        }
    }
    if input.tags.len() > MAX_TAGS {
        return Err(AppError::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    for tag in &mut input.tags {
        if !is_tag(tag) {
            return Err(AppError::Invalid("a tag is 1 to 40 of a-z, 0-9, - and _".into()));
        }
        *tag = tag.to_lowercase();
    }
    input.tags.sort();
    input.tags.dedup();
    Ok(input)
}
