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

/// A passage found, with whether it holds enough of the question to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub hit: SearchHit,
    pub answers: bool,
}

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
            let any: Vec<String> = (0..wanted.tags.len()).map(|i| format!("k.tags LIKE ${}", first_tag + i)).collect();
            filters.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        let sql = match self.db.backend {
            Backend::Sqlite => format!(
                "SELECT k.kind, k.external_id, k.title, k.url, k.visibility, p.heading, p.text, \
                 -bm25(knowledge_fts, 2.0, 1.0) AS score \
                 FROM knowledge_fts JOIN knowledge_passages p ON p.id = knowledge_fts.rowid \
                 JOIN knowledge k ON k.id = p.knowledge_id \
                 WHERE knowledge_fts MATCH $1{filters} ORDER BY bm25(knowledge_fts, 2.0, 1.0) LIMIT $2"
            ),
            Backend::Postgres => format!(
                "SELECT k.kind, k.external_id, k.title, k.url, k.visibility, p.heading, p.text, \
                 CAST(ts_rank_cd(p.tsv, q) AS DOUBLE PRECISION) AS score \
                 FROM knowledge_passages p JOIN knowledge k ON k.id = p.knowledge_id, \
                 websearch_to_tsquery(CAST($3 AS regconfig), $1) q \
                 WHERE p.tsv @@ q{filters} ORDER BY score DESC, p.id LIMIT $2"
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
            q = q.bind(format!("%\"{tag}\"%"));
        }
        let rows = q.fetch_all(&self.db.read).await?;
        rows.into_iter()
            .map(|row| {
                let passage = if row.text.is_empty() { row.heading.clone() } else { row.text };
                let answers = passages::answers(&terms, &row.heading, &passage);
                let kind = match row.kind.as_str() {
                    "answer" => SourceKind::Answer,
                    _ => SourceKind::Article,
                };
                let visibility: Visibility =
                    row.visibility.parse().map_err(crate::server::error::AppError::Internal)?;
                let hit = SearchHit {
                    kind,
                    external_id: row.external_id,
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
