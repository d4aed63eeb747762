//! Full-text retrieval on both databases: the passages that best match a question, best first.
//! SQLite: FTS5 with bm25 (the heading weighs twice the text). PostgreSQL: `websearch_to_tsquery`
//! over the GIN-indexed `tsvector`, ranked by `ts_rank_cd`. The question's terms are joined with
//! OR, so a passage need not hold every word of it; [`super::passages::answers`] then says
//! whether the best holds enough to be an answer.

use super::{passages, Knowledge};
use crate::{
    model::{SearchHit, SourceKind, Visibility},
    server::{db::Backend, error::AppResult},
};

/// How many passages are ranked before the filters (visibility, tags) apply: past this many
/// filtered out, fewer than asked come back.
const CANDIDATES: usize = 200;

/// What to search for, and in what.
#[derive(Debug, Clone, Default)]
pub struct Wanted<'a> {
    pub question: &'a str,
    /// What the question is about (a product's name): searched for too, but a passage need not
    /// hold it to answer the question.
    pub about: Option<&'a str>,
    /// Only knowledge with one of these tags (none: all).
    pub tags: &'a [String],
    /// For a customer's assistant: `staff` knowledge is left out.
    pub for_customers: bool,
    pub limit: i64,
}

/// A passage found, with whether it holds enough of the question to answer it: what a prompt is
/// given as a source.
pub use crate::server::llm::PromptSource as Found;

#[derive(sqlx::FromRow)]
struct HitRow {
    kind: String,
    external_id: String,
    title: String,
    url: Option<String>,
    visibility: String,
    heading: String,
    text: String,
    score: f64,
}

impl Knowledge {
    /// The passages that best match a question, best first (none for a question of stop words).
    pub async fn search(&self, wanted: &Wanted<'_>) -> AppResult<Vec<Found>> {
        let terms = passages::terms(wanted.question);
        if terms.is_empty() || wanted.limit < 1 {
            return Ok(Vec::new());
        }
        let mut searched = terms.clone();
        for term in passages::terms(wanted.about.unwrap_or_default()) {
            if !searched.contains(&term) {
                searched.push(term);
            }
        }
        let mut filters = String::new();
        if wanted.for_customers {
            filters.push_str(" AND k.visibility <> 'staff'");
        }
        // Parameters after the query's own: the limit, then one per tag.
        let first_tag = 3 + usize::from(self.db.backend == Backend::Postgres);
        if !wanted.tags.is_empty() {
            let any: Vec<String> =
                (0..wanted.tags.len()).map(|i| format!("k.tags LIKE ${} ESCAPE '\\'", first_tag + i)).collect();
            filters.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        let sql = match self.db.backend {
            // The best candidates by rank alone first, then their articles and the filters: a
            // common word matches thousands of passages, and joining each costs more than ranking.
            Backend::Sqlite => format!(
                "SELECT k.kind, k.external_id, k.title, k.url, k.visibility, p.heading, p.text, -f.rank AS score \
                 FROM (SELECT rowid AS id, bm25(knowledge_fts, 2.0, 1.0) AS rank FROM knowledge_fts \
                       WHERE knowledge_fts MATCH $1 ORDER BY rank LIMIT {CANDIDATES}) f \
                 JOIN knowledge_passages p ON p.id = f.id JOIN knowledge k ON k.id = p.knowledge_id \
                 WHERE 1 = 1{filters} ORDER BY f.rank, p.id LIMIT $2"
            ),
            Backend::Postgres => format!(
                "SELECT k.kind, k.external_id, k.title, k.url, k.visibility, p.heading, p.text, f.score \
                 FROM (SELECT p.id, CAST(ts_rank_cd(p.tsv, q) AS DOUBLE PRECISION) AS score \
                       FROM knowledge_passages p, websearch_to_tsquery(CAST($3 AS regconfig), $1) q \
                       WHERE p.tsv @@ q ORDER BY score DESC, p.id LIMIT {CANDIDATES}) f \
                 JOIN knowledge_passages p ON p.id = f.id JOIN knowledge k ON k.id = p.knowledge_id \
                 WHERE 1 = 1{filters} ORDER BY f.score DESC, p.id LIMIT $2"
            ),
        };
        let query = match self.db.backend {
            // Terms are letters and digits only, so quoting them is the whole of the escaping.
            Backend::Sqlite => searched.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR "),
            Backend::Postgres => searched.join(" or "),
        };
        let mut q = sqlx::query_as::<_, HitRow>(&sql).bind(query).bind(wanted.limit);
        if self.db.backend == Backend::Postgres {
            q = q.bind(&self.language);
        }
        for tag in wanted.tags {
            // Tags are a-z, 0-9, - and _ (checked where they are written): `_` is LIKE's only
            // wildcard among them.
            q = q.bind(format!("%\"{}\"%", tag.to_lowercase().replace('_', "\\_")));
        }
        let rows = q.fetch_all(&self.db.read).await?;
        rows.into_iter()
            .map(|row| {
                let passage = if row.text.is_empty() { row.heading.clone() } else { row.text };
                let answers = passages::answers(&terms, &row.heading, &passage);
                let (kind, external_id) = match row.kind.as_str() {
                    "answer" => (SourceKind::Answer, row.external_id),
                    "product" => (SourceKind::Product, super::products::product_of(&row.external_id).to_string()),
                    _ => (SourceKind::Article, row.external_id),
                };
                let visibility: Visibility =
                    row.visibility.parse().map_err(crate::server::error::AppError::Internal)?;
                let hit = SearchHit {
                    kind,
                    external_id,
                    title: row.title,
                    url: row.url,
                    visibility,
                    passage,
                    score: row.score,
                };
                Ok(Found { hit, answers })
            })
            .collect()
    }
}
