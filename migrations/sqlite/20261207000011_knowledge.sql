-- Integrations: API keys admins create (the key itself is shown once; only its hash is kept).
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL UNIQUE,
    -- The key's first characters, to tell keys apart in a list.
    prefix       TEXT    NOT NULL,
    created_by   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- The shop's knowledge: articles (pages, policies) and answers (a question and the shop's answer),
-- by the shop's own id. Visibility: public (used and cited with its link), assistant (used, never
-- shown), staff (never given to the customer's assistant).
CREATE TABLE knowledge (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('article', 'answer', 'product')),
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    url         TEXT,
    -- JSON array of strings.
    tags        TEXT    NOT NULL DEFAULT '[]',
    visibility  TEXT    NOT NULL CHECK (visibility IN ('public', 'assistant', 'staff')),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- What retrieval finds: an article split by headings and paragraphs (an answer is one passage).
CREATE TABLE knowledge_passages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    knowledge_id BIGINT  NOT NULL REFERENCES knowledge (id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    heading      TEXT    NOT NULL,
    text         TEXT    NOT NULL
);
CREATE INDEX knowledge_passages_of ON knowledge_passages (knowledge_id, position);

-- Full text (bm25), rowid = the passage's id; written with the passage, in its transaction.
CREATE VIRTUAL TABLE knowledge_fts USING fts5 (title, text, tokenize = 'porter unicode61');

-- The sources a reply was given (JSON: number, kind, id, title, link, visibility, passage, cited).
ALTER TABLE messages ADD COLUMN sources TEXT;
