//! Vectors of the shop's passages, when an embedding model is set (`OPENAI_EMBEDDING_MODEL`):
//! written in the background by [`embed_pending`] (in batches, retried with back-off, resumable:
//! what is embedded is in the database, so a restart goes on where it stopped), and searched by
//! [`Vectors::nearest`] from a copy each replica keeps in memory (new vectors read on each search,
//! the whole copy read again every ten minutes so deleted passages leave it). No vector extension
//! is needed: the comparison is a dot product of normalised vectors over every passage, which at
//! 50,000 passages of 256 dimensions takes a few milliseconds. Table: `knowledge_embeddings`.

use std::{
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use tokio::sync::{Mutex, Notify};

use crate::server::{
    db::Db,
    error::AppResult,
    llm::{Embedder, LlmErrorKind},
};

/// Passages embedded in one request.
const BATCH: i64 = 64;
/// The most of a passage that is embedded, in characters (well inside the models' 8,192 tokens).
const TEXT_MAX_CHARS: usize = 6_000;
/// How long the worker waits for new passages before it looks anyway (another replica's writes).
const IDLE: Duration = Duration::from_secs(2);
/// The longest wait between tries after the embedding service failed.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How often the worker looks over every passage again.
const RESCAN: Duration = Duration::from_secs(30);
/// The in-memory copy is read whole again after this long.
const RELOAD: Duration = Duration::from_secs(600);

/// The shop's passages as vectors, and the model that makes them.
pub struct Vectors {
    pub(super) embedder: Arc<dyn Embedder>,
    copy: Mutex<Copy>,
    /// Woken when passages were written here.
    written: Notify,
}

/// This replica's copy of the vectors: (passage id, normalised vector), and the newest row read.
#[derive(Default)]
struct Copy {
    rows: Vec<(i64, Vec<f32>)>,
    after: i64,
    loaded: Option<Instant>,
}

impl Vectors {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Vectors { embedder, copy: Mutex::default(), written: Notify::new() }
    }

    /// Says passages were written (the worker looks at once).
    pub fn written(&self) {
        self.written.notify_one();
    }

    /// The vector of a question, normalised.
    pub async fn of_question(&self, question: &str) -> Option<Vec<f32>> {
        match self.embedder.embed(&[question.to_string()]).await {
            Ok(mut vectors) => vectors.pop().map(normalised),
            Err(e) => {
                tracing::warn!(error = %e.message, "could not embed a question: searching by its words alone");
                None
            }
        }
    }

    /// The `n` passages nearest to `question` (normalised), nearest first, with their similarity.
    pub async fn nearest(&self, db: &Db, question: &[f32], n: usize) -> AppResult<Vec<(i64, f32)>> {
        let mut copy = self.copy.lock().await;
        if copy.loaded.is_none_or(|at| at.elapsed() >= RELOAD) {
            *copy = Copy { loaded: Some(Instant::now()), ..Copy::default() };
        }
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, passage_id, vector FROM knowledge_embeddings WHERE id > $1 AND model = $2 ORDER BY id",
        )
        .bind(copy.after)
        .bind(self.embedder.model())
        .fetch_all(&db.read)
        .await?;
        for (id, passage, bytes) in rows {
            copy.after = id;
            copy.rows.push((passage, normalised(from_bytes(&bytes))));
        }
        let mut best: Vec<(i64, f32)> = Vec::with_capacity(n + 1);
        for (passage, vector) in &copy.rows {
            if vector.len() != question.len() {
                continue;
            }
            let similarity = dot(vector, question);
            if best.len() < n || similarity > best[best.len() - 1].1 {
                let at = best.partition_point(|(_, s)| *s >= similarity);
                best.insert(at, (*passage, similarity));
                best.truncate(n);
            }
        }
        Ok(best)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes at a time: the compiler keeps them in vector registers.
    let mut lanes = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Embeds every passage that has no vector of the model yet, while the knowledge lives: in
/// batches, oldest first, then each new one as it is written. A failure is tried again after a
/// back-off (the service's `Retry-After` when it sends one); a batch the service refuses outright
/// is sent again a passage at a time, and the passages it still refuses are skipped until the next
/// start.
pub async fn embed_pending(knowledge: Weak<super::Knowledge>) {
    // Passages after this id are looked at; from the start again now and then, for those whose
    // transaction committed after a later one's (ids are taken in order, commits need not be).
    let mut after = 0i64;
    let mut from_start = Instant::now();
    let mut backoff = Duration::from_secs(1);
    let mut refused: std::collections::HashSet<i64> = std::collections::HashSet::new();
    loop {
        let Some(k) = knowledge.upgrade() else { return };
        let Some(vectors) = k.vectors.as_ref() else { return };
        let model = vectors.embedder.model().to_string();
        let mut batch: Vec<(i64, String, String)> = match sqlx::query_as(
            "SELECT p.id, p.heading, p.text FROM knowledge_passages p \
             LEFT JOIN knowledge_embeddings e ON e.passage_id = p.id AND e.model = $1 \
             WHERE p.id > $2 AND e.passage_id IS NULL ORDER BY p.id LIMIT $3",
        )
        .bind(&model)
        .bind(after)
        .bind(BATCH)
        .fetch_all(&k.db.read)
        .await
        {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the passages to embed");
                drop(k);
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        if batch.is_empty() {
            if after > 0 && from_start.elapsed() >= RESCAN {
                (after, from_start) = (0, Instant::now());
                continue;
            }
            let k = Arc::clone(&k);
            let woken = async { k.vectors.as_ref().expect("vectors").written.notified().await };
            let _ = tokio::time::timeout(IDLE, woken).await;
            continue;
        }
        let last = batch.last().map(|(id, ..)| *id).unwrap_or(after);
        batch.retain(|(id, ..)| !refused.contains(id));
        if batch.is_empty() {
            after = last;
            continue;
        }
        let texts: Vec<String> = batch
            .iter()
            .map(|(_, heading, text)| format!("{heading}\n{text}").chars().take(TEXT_MAX_CHARS).collect())
            .collect();
        match vectors.embedder.embed(&texts).await {
            Ok(embedded) => {
                if let Err(e) = store(&k.db, &model, &batch, &embedded).await {
                    tracing::warn!(error = %e.for_operator(), "could not store the passages' vectors");
                    drop(k);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                tracing::debug!(count = batch.len(), "passages embedded");
                crate::server::metrics::get().passages_embedded.inc_by(batch.len() as u64);
                after = last;
                backoff = Duration::from_secs(1);
            }
            Err(e) if e.kind == LlmErrorKind::Rejected && batch.len() > 1 => {
                tracing::warn!(error = %e.message, "the embedding service refused a batch: sending it a passage at a time");
                for (passage, text) in batch.iter().zip(texts) {
                    match vectors.embedder.embed(std::slice::from_ref(&text)).await {
                        Ok(one) => {
                            if store(&k.db, &model, std::slice::from_ref(passage), &one).await.is_ok() {
                                crate::server::metrics::get().passages_embedded.inc();
                            }
                        }
                        Err(e) if e.kind == LlmErrorKind::Rejected => {
                            tracing::warn!(error = %e.message, passage = passage.0, "the embedding service refused a passage: skipped");
                            refused.insert(passage.0);
                        }
                        // Tried again with the rest of the batch on the next round.
                        Err(_) => break,
                    }
                }
            }
            Err(e) if e.kind == LlmErrorKind::Rejected => {
                tracing::warn!(error = %e.message, passage = batch[0].0, "the embedding service refused a passage: skipped");
                refused.insert(batch[0].0);
            }
            Err(e) => {
                let wait = e.retry_after.unwrap_or(backoff).min(BACKOFF_MAX);
                tracing::warn!(error = %e.message, wait_ms = wait.as_millis() as u64, "embedding failed: trying again");
                backoff = (backoff * 2).min(BACKOFF_MAX);
                drop(k);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Stores a batch's vectors: a passage's vector of another model is replaced (a new row, so every
/// replica's copy reads it); a passage deleted meanwhile, or embedded by another replica, is left.
async fn store(db: &Db, model: &str, batch: &[(i64, String, String)], vectors: &[Vec<f32>]) -> AppResult<()> {
    let mut tx = db.write.begin().await?;
    for ((passage, ..), vector) in batch.iter().zip(vectors) {
        sqlx::query("DELETE FROM knowledge_embeddings WHERE passage_id = $1 AND model <> $2")
            .bind(passage)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO knowledge_embeddings (passage_id, model, vector) \
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM knowledge_passages WHERE id = $1) \
             ON CONFLICT (passage_id) DO NOTHING",
        )
        .bind(passage)
        .bind(model)
        .bind(to_bytes(vector))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_survives_its_bytes_and_normalising_keeps_its_direction() {
        let vector = vec![3.0, 4.0, 0.0, -1.5, 2.25, 0.0, 1.0, 8.0, 0.5];
        assert_eq!(from_bytes(&to_bytes(&vector)), vector);
        let unit = normalised(vec![3.0, 4.0]);
        assert_eq!(unit, vec![0.6, 0.8]);
        assert!((dot(&unit, &unit) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_dot_product_of_long_vectors_counts_every_lane_and_the_tail() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b = vec![1.0; 19];
        assert_eq!(dot(&a, &b), (0..19).sum::<i32>() as f32);
    }
}
