//! Which words are common in the shop's knowledge, from a sample of its passages: a word found in
//! more than [`COMMON_SHARE`] of them says little about which passage answers a question, and
//! matching every passage that holds it is what makes a search slow (ranking costs for every
//! passage matched). Search then matches on a question's other words and lets the common ones only
//! weigh in the ranking; a question of common words alone matches passages holding them together
//! (Lucene's "common terms" query, Elasticsearch's `cutoff_frequency`).
//!
//! The sample is a few blocks of passages read from random places, taken again in the background
//! at most every [`REFRESH`] when searches ask: a replica sees another's writes within that time.
//! Below [`SAMPLE_FROM`] passages every search is fast and no word counts as common.
//!
//! A question of common words alone still ranks every passage that holds them all ("shipping?"
//! in a shop's knowledge): [`Recent`] keeps such searches' results for [`REFRESH`], so the many
//! customers who ask the same common words share one ranking. A write here forgets them (a search
//! that ran while the write's transaction was open may keep what it read for that time), and
//! another replica's write is seen within that time, as the sample is.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use rand::Rng;

use super::passages;
use crate::server::{db::Db, error::AppResult};

/// A word in more than this share of the sampled passages is common.
const COMMON_SHARE: f64 = 0.01;
/// Fewer passages than this: no word is common.
const SAMPLE_FROM: i64 = 2_000;
/// Blocks of consecutive passages read, and their size.
const BLOCKS: i64 = 8;
const BLOCK: i64 = 250;
/// The sample is taken again when a search finds it older than this.
const REFRESH: Duration = Duration::from_secs(10);

/// The results of searches made of common words alone, for a short while.
#[derive(Default)]
pub struct Recent<T> {
    results: Mutex<HashMap<String, (Instant, u64, T)>>,
    /// Moves on with every write of passages here: older results are forgotten.
    generation: std::sync::atomic::AtomicU64,
}

/// The most searches kept (all are forgotten when more come).
const RECENT_MAX: usize = 256;

impl<T: Clone> Recent<T> {
    pub fn get(&self, key: &str) -> Option<T> {
        let generation = self.generation.load(Ordering::Acquire);
        let results = self.results.lock().expect("recent searches");
        let (at, of, found) = results.get(key)?;
        (*of == generation && at.elapsed() < REFRESH).then(|| found.clone())
    }

    /// Where the writes are now: a search started here is kept as of it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn put(&self, key: String, generation: u64, found: T) {
        let mut results = self.results.lock().expect("recent searches");
        if results.len() >= RECENT_MAX {
            results.clear();
        }
        results.insert(key, (Instant::now(), generation, found));
    }

    /// Passages were written: what was found before is forgotten.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// The common words of the shop's knowledge, as of the newest sample.
pub struct CommonWords {
    db: Db,
    inner: Arc<Shared>,
}

/// When the sample was taken, and each common word with how many sampled passages hold it.
type Sampled = (Option<Instant>, Arc<HashMap<String, u32>>);

#[derive(Default)]
struct Shared {
    words: Mutex<Sampled>,
    sampling: AtomicBool,
}

impl CommonWords {
    pub fn new(db: Db) -> Self {
        CommonWords { db, inner: Arc::default() }
    }

    /// The common words as last sampled, starting a new sample in the background when that one is
    /// old (the first search waits for the first sample).
    pub async fn current(&self) -> Arc<HashMap<String, u32>> {
        let (taken, words) = self.inner.words.lock().expect("common words").clone();
        if taken.is_none() {
            match self.refresh().await {
                Ok(()) => return self.inner.words.lock().expect("common words").1.clone(),
                Err(e) => tracing::warn!(error = %e, "could not sample the knowledge's common words"),
            }
        }
        let stale = taken.is_none_or(|at| at.elapsed() >= REFRESH);
        if stale && !self.inner.sampling.swap(true, Ordering::AcqRel) {
            let (db, inner) = (self.db.clone(), self.inner.clone());
            tokio::spawn(async move {
                match sample(&db).await {
                    Ok(words) => *inner.words.lock().expect("common words") = (Some(Instant::now()), Arc::new(words)),
                    Err(e) => tracing::warn!(error = %e, "could not sample the knowledge's common words"),
                }
                inner.sampling.store(false, Ordering::Release);
            });
        }
        words
    }

    /// Takes a sample now and waits for it.
    async fn refresh(&self) -> AppResult<()> {
        let words = sample(&self.db).await?;
        *self.inner.words.lock().expect("common words") = (Some(Instant::now()), Arc::new(words));
        Ok(())
    }
}

async fn sample(db: &Db) -> AppResult<HashMap<String, u32>> {
    let (count, first, last): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(id), MAX(id) FROM knowledge_passages").fetch_one(&db.read).await?;
    let (Some(first), Some(last)) = (first, last) else { return Ok(HashMap::new()) };
    if count < SAMPLE_FROM {
        return Ok(HashMap::new());
    }
    let starts: Vec<i64> = {
        let mut rng = rand::rng();
        (0..BLOCKS).map(|_| rng.random_range(first..=last)).collect()
    };
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut sampled = 0u32;
    for start in starts {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT heading, text FROM knowledge_passages WHERE id >= $1 ORDER BY id LIMIT $2")
                .bind(start)
                .bind(BLOCK)
                .fetch_all(&db.read)
                .await?;
        for (heading, text) in rows {
            sampled += 1;
            let distinct: HashSet<String> = passages::words(&heading).chain(passages::words(&text)).collect();
            for word in distinct {
                *seen.entry(word).or_default() += 1;
            }
        }
    }
    let over = (f64::from(sampled) * COMMON_SHARE).max(1.0);
    Ok(seen.into_iter().filter(|(_, n)| f64::from(*n) > over).collect())
}

/// How a question's terms are matched: on its uncommon terms (any of them), the common ones
/// only ranking; or, when all are common, on all of them together (rarest first: a search that
/// finds nothing with all drops the commonest, down to two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Any { rare: Vec<String>, common: Vec<String> },
    All(Vec<String>),
}

impl Plan {
    pub fn of(terms: Vec<String>, common: &HashMap<String, u32>) -> Plan {
        let (mut common_terms, rare): (Vec<String>, Vec<String>) =
            terms.into_iter().partition(|t| common.contains_key(t));
        if rare.is_empty() {
            common_terms.sort_by_key(|t| common.get(t).copied().unwrap_or_default());
            Plan::All(common_terms)
        } else {
            Plan::Any { rare, common: common_terms }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(words: &[(&str, u32)]) -> HashMap<String, u32> {
        words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    fn terms(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_question_matches_on_its_uncommon_words_and_ranks_with_all() {
        let plan = Plan::of(terms(&["order", "warranty", "lamp"]), &counts(&[("order", 90)]));
        assert_eq!(plan, Plan::Any { rare: terms(&["warranty", "lamp"]), common: terms(&["order"]) });
    }

    #[test]
    fn a_question_of_common_words_alone_needs_them_all_rarest_first() {
        let plan = Plan::of(terms(&["order", "delivery"]), &counts(&[("order", 90), ("delivery", 30), ("shop", 99)]));
        assert_eq!(plan, Plan::All(terms(&["delivery", "order"])));
    }

    #[test]
    fn with_no_common_words_any_term_matches() {
        let plan = Plan::of(terms(&["order", "delivery"]), &HashMap::new());
        assert_eq!(plan, Plan::Any { rare: terms(&["order", "delivery"]), common: vec![] });
    }

    #[test]
    fn a_recent_search_is_forgotten_when_passages_are_written() {
        let recent: Recent<Vec<i64>> = Recent::default();
        recent.put("order delivery".into(), recent.generation(), vec![1, 2]);
        assert_eq!(recent.get("order delivery"), Some(vec![1, 2]));
        assert_eq!(recent.get("order"), None);
        recent.forget();
        assert_eq!(recent.get("order delivery"), None);
        // One that began before a write is kept as of then: forgotten too.
        let began = recent.generation();
        recent.forget();
        recent.put("order".into(), began, vec![3]);
        assert_eq!(recent.get("order"), None);
    }

    #[test]
    fn a_passage_counts_its_words_in_lowercase_without_single_letters() {
        let found: Vec<String> = passages::words("Free Returns: 30 days, a B2B order").collect();
        assert_eq!(found, terms(&["free", "returns", "30", "days", "b2b", "order"]));
    }
}
