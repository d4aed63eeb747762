//! Full-text retrieval on both databases: the passages that best match a question, best first.
//! SQLite: FTS5 with bm25 (the heading weighs twice the text). PostgreSQL: `websearch_to_tsquery`
//! over the GIN-indexed `tsvector`, ranked by `ts_rank_cd`. A passage need not hold every word of
//! the question: it matches on any of its words that are not common in the shop's knowledge (the
//! common ones only weigh in the ranking), or, for a question of common words alone, on all of
//! them ([`super::common`]); [`super::passages::answers`] then says whether the best holds enough
//! to be an answer.
//!
//! With an embedding model set, search is hybrid: the question's vector finds the passages nearest
//! in meaning ([`super::vectors`]), and both rankings are fused by reciprocal rank (each passage
//! scores the sum of 1 / (60 + its rank) in each), so a passage that says "parcel" answers a
//! question about a "package". Without one, or when the embedding call fails, full text alone.

use std::collections::HashMap;

use super::{common::Plan, passages, Knowledge};
use crate::{
    model::{SearchHit, SourceKind, Visibility},
    server::{db::Backend, error::AppResult},
};

/// How many passages are ranked before the filters (visibility, tags) apply: past this many
/// filtered out, fewer than asked come back.
const CANDIDATES: usize = 200;
/// How deep each ranking goes into the fusion of a hybrid search.
const FUSED_DEPTH: i64 = 30;
/// Reciprocal rank fusion's constant (the value of its paper, and of most search engines).
const RRF_K: f64 = 60.0;
/// Below this cosine similarity a passage is not near the question at all.
const MIN_SIMILARITY: f32 = 0.2;

/// What to search for, and in what.
#[derive(Debug, Clone, Default)]
pub struct Wanted<'a> {
    pub question: &'a str,
    /// What the question is about (a product's name, the customer's turn before): it weighs in
    /// the ranking, and is matched on only when the question's own words find nothing.
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
    passage_id: i64,
    kind: String,
    external_id: String,
    title: String,
    url: Option<String>,
    visibility: String,
    heading: String,
    text: String,
    score: f64,
}

impl HitRow {
    fn into_found(self, terms: &[String]) -> AppResult<(i64, Found)> {
        let passage = if self.text.is_empty() { self.heading.clone() } else { self.text };
        let answers = passages::answers(terms, &self.heading, &passage);
        let (kind, external_id) = match self.kind.as_str() {
            "answer" => (SourceKind::Answer, self.external_id),
            "product" => (SourceKind::Product, super::products::product_of(&self.external_id).to_string()),
            _ => (SourceKind::Article, self.external_id),
        };
        let visibility: Visibility = self.visibility.parse().map_err(crate::server::error::AppError::Internal)?;
        let hit =
            SearchHit { kind, external_id, title: self.title, url: self.url, visibility, passage, score: self.score };
        Ok((self.passage_id, Found { hit, answers }))
    }
}

const HIT_COLUMNS: &str = "p.id AS passage_id, k.kind, k.external_id, k.title, k.url, k.visibility, p.heading, p.text";

impl Knowledge {
    /// The passages that best match a question, best first (none for a question of stop words).
    pub async fn search(&self, wanted: &Wanted<'_>) -> AppResult<Vec<Found>> {
        let terms = passages::terms(wanted.question);
        if terms.is_empty() || wanted.limit < 1 {
            return Ok(Vec::new());
        }
        let Some(vectors) = &self.vectors else {
            return Ok(self.full_text(wanted, &terms).await?.into_iter().map(|(_, found)| found).collect());
        };
        let question = match wanted.about {
            Some(about) => format!("{}\n{about}", wanted.question),
            None => wanted.question.to_string(),
        };
        let deeper = Wanted { limit: wanted.limit.max(FUSED_DEPTH), ..wanted.clone() };
        let (text, vector) = tokio::join!(self.full_text(&deeper, &terms), vectors.of_question(&question));
        let text = text?;
        let Some(vector) = vector else {
            return Ok(text.into_iter().take(wanted.limit as usize).map(|(_, found)| found).collect());
        };
        let near: Vec<i64> = vectors
            .nearest(&self.db, &vector, FUSED_DEPTH as usize)
            .await?
            .into_iter()
            .filter(|(_, similarity)| *similarity >= MIN_SIMILARITY)
            .map(|(id, _)| id)
            .collect();
        // Reciprocal rank fusion of the two rankings, over the passages the filters let through.
        let mut fused: HashMap<i64, (f64, usize, Found)> = HashMap::new();
        for (rank, (id, found)) in text.into_iter().enumerate() {
            fused.insert(id, (1.0 / (RRF_K + rank as f64 + 1.0), rank, found));
        }
        let unseen: Vec<i64> = near.iter().copied().filter(|id| !fused.contains_key(id)).collect();
        let mut extra: HashMap<i64, Found> = self.passages(wanted, &unseen, &terms).await?.into_iter().collect();
        let mut rank = 0;
        for id in near {
            let share = 1.0 / (RRF_K + rank as f64 + 1.0);
            if let Some((score, ..)) = fused.get_mut(&id) {
                *score += share;
            } else if let Some(found) = extra.remove(&id) {
                fused.insert(id, (share, usize::MAX, found));
            } else {
                continue;
            }
            rank += 1;
        }
        let mut ranked: Vec<(f64, usize, Found)> = fused.into_values().collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(ranked
            .into_iter()
            .take(wanted.limit as usize)
            .map(|(score, _, mut found)| {
                found.hit.score = score;
                found
            })
            .collect())
    }

    /// The passages full-text search finds, best first, with their ids: matched on the question's
    /// own words (what it is about only ranks), or, when they find nothing, on those and what it
    /// is about (a follow-up's earlier turn, a product's name).
    async fn full_text(&self, wanted: &Wanted<'_>, terms: &[String]) -> AppResult<Vec<(i64, Found)>> {
        let mut searched = terms.to_vec();
        for term in passages::terms(wanted.about.unwrap_or_default()) {
            if !searched.contains(&term) {
                searched.push(term);
            }
        }
        let common = self.common.current().await;
        let found = self.matched(wanted, terms, Plan::of(terms.to_vec(), &common), &searched).await?;
        if found.is_empty() && searched.len() > terms.len() {
            return self.matched(wanted, terms, Plan::of(searched.clone(), &common), &searched).await;
        }
        Ok(found)
    }

    /// The passages `plan` matches, ranked by all of `searched`.
    async fn matched(
        &self,
        wanted: &Wanted<'_>,
        terms: &[String],
        plan: Plan,
        searched: &[String],
    ) -> AppResult<Vec<(i64, Found)>> {
        match plan {
            Plan::Any { rare, .. } => self.ranked(wanted, terms, &Matching::Any(&rare), searched).await,
            Plan::All(all) => {
                let key = format!(
                    "{}|{}|{}|{}|{}|{}",
                    all.join(" "),
                    searched.join(" "),
                    terms.join(" "),
                    wanted.tags.join(" "),
                    wanted.for_customers,
                    wanted.limit
                );
                if let Some(found) = self.recent.get(&key) {
                    return Ok(found);
                }
                let generation = self.recent.generation();
                // All of them, then without the commonest, down to two (one, for one).
                for n in (all.len().min(2)..=all.len()).rev() {
                    let found = self.ranked(wanted, terms, &Matching::All(&all[..n]), searched).await?;
                    if !found.is_empty() || n == all.len().min(2) {
                        self.recent.put(key, generation, found.clone());
                        return Ok(found);
                    }
                }
                Ok(Vec::new())
            }
        }
    }

    /// The filters of `wanted` as SQL (visibility, tags), the tags' parameters from `first`.
    fn filters(wanted: &Wanted<'_>, first: usize) -> String {
        let mut filters = String::new();
        if wanted.for_customers {
            filters.push_str(" AND k.visibility <> 'staff'");
        }
        if !wanted.tags.is_empty() {
            let any: Vec<String> =
                (0..wanted.tags.len()).map(|i| format!("k.tags LIKE ${} ESCAPE '\\'", first + i)).collect();
            filters.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        filters
    }

    /// The tags of `wanted` as LIKE patterns.
    fn tag_patterns<'a>(wanted: &'a Wanted<'_>) -> impl Iterator<Item = String> + 'a {
        // Tags are a-z, 0-9, - and _ (checked where they are written): `_` is LIKE's only
        // wildcard among them.
        wanted.tags.iter().map(|tag| format!("%\"{}\"%", tag.to_lowercase().replace('_', "\\_")))
    }

    /// The passages of `ids` the filters of `wanted` let through.
    async fn passages(&self, wanted: &Wanted<'_>, ids: &[i64], terms: &[String]) -> AppResult<Vec<(i64, Found)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT {HIT_COLUMNS}, CAST(0 AS DOUBLE PRECISION) AS score FROM knowledge_passages p \
             JOIN knowledge k ON k.id = p.knowledge_id WHERE p.id IN ({}){}",
            list.join(", "),
            Self::filters(wanted, 1)
        );
        let mut q = sqlx::query_as::<_, HitRow>(&sql);
        for pattern in Self::tag_patterns(wanted) {
            q = q.bind(pattern);
        }
        q.fetch_all(&self.db.read).await?.into_iter().map(|row| row.into_found(terms)).collect()
    }

    /// The passages `matching` finds, ranked by all of `ranked`, best first.
    async fn ranked(
        &self,
        wanted: &Wanted<'_>,
        terms: &[String],
        matching: &Matching<'_>,
        ranked: &[String],
    ) -> AppResult<Vec<(i64, Found)>> {
        // Parameters after the query's own: the limit, then one per tag.
        let filters = Self::filters(wanted, 3 + 2 * usize::from(self.db.backend == Backend::Postgres));
        let sql = match self.db.backend {
            // The best candidates by rank alone first, then their articles and the filters: a
            // common word matches thousands of passages, and joining each costs more than ranking.
            Backend::Sqlite => format!(
                "SELECT {HIT_COLUMNS}, -f.rank AS score \
                 FROM (SELECT rowid AS id, bm25(knowledge_fts, 2.0, 1.0) AS rank FROM knowledge_fts \
                       WHERE knowledge_fts MATCH $1 ORDER BY rank LIMIT {CANDIDATES}) f \
                 JOIN knowledge_passages p ON p.id = f.id JOIN knowledge k ON k.id = p.knowledge_id \
                 WHERE 1 = 1{filters} ORDER BY f.rank, p.id LIMIT $2"
            ),
            // Matched by one query, ranked by another (which holds the common words too).
            Backend::Postgres => format!(
                "SELECT {HIT_COLUMNS}, f.score \
                 FROM (SELECT p.id, CAST(ts_rank_cd(p.tsv, r) AS DOUBLE PRECISION) AS score \
                       FROM knowledge_passages p, websearch_to_tsquery(CAST($3 AS regconfig), $1) q, \
                            websearch_to_tsquery(CAST($3 AS regconfig), $4) r \
                       WHERE p.tsv @@ q ORDER BY score DESC, p.id LIMIT {CANDIDATES}) f \
                 JOIN knowledge_passages p ON p.id = f.id JOIN knowledge k ON k.id = p.knowledge_id \
                 WHERE 1 = 1{filters} ORDER BY f.score DESC, p.id LIMIT $2"
            ),
        };
        // Terms are letters and digits only, so quoting them is the whole of the escaping.
        let query = match self.db.backend {
            Backend::Sqlite => {
                let quoted =
                    |terms: &[String], by: &str| terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(by);
                let matched = match matching {
                    Matching::Any(terms) => quoted(terms, " OR "),
                    Matching::All(terms) => quoted(terms, " AND "),
                };
                // bm25 weighs every phrase of the query: the ones only ranking join it as an
                // alternative that the match already holds.
                if ranked.len() > matching.terms().len() {
                    format!("({matched}) AND ({})", quoted(ranked, " OR "))
                } else {
                    matched
                }
            }
            Backend::Postgres => match matching {
                Matching::Any(terms) => terms.join(" or "),
                Matching::All(terms) => terms.join(" "),
            },
        };
        let mut q = sqlx::query_as::<_, HitRow>(&sql).bind(query).bind(wanted.limit);
        if self.db.backend == Backend::Postgres {
            q = q.bind(&self.language).bind(ranked.join(" or "));
        }
        for pattern in Self::tag_patterns(wanted) {
            q = q.bind(pattern);
        }
        q.fetch_all(&self.db.read).await?.into_iter().map(|row| row.into_found(terms)).collect()
    }
}

/// Which passages a search matches: those holding any of the terms, or all of them.
enum Matching<'a> {
    Any(&'a [String]),
    All(&'a [String]),
}

impl Matching<'_> {
    fn terms(&self) -> &[String] {
        match self {
            Matching::Any(terms) | Matching::All(terms) => terms,
        }
    }
}
