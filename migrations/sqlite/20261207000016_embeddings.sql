-- Passages as vectors, when an embedding model is set (OPENAI_EMBEDDING_MODEL): little-endian
-- 32-bit floats. A passage has at most one, of the model that made it; every replica reads the
-- rows after the newest it has (by id).
CREATE TABLE knowledge_embeddings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id BIGINT  NOT NULL UNIQUE REFERENCES knowledge_passages (id) ON DELETE CASCADE,
    model      TEXT    NOT NULL,
    vector     BLOB    NOT NULL
);
