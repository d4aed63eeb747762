-- The assistant's contexts, as admins keep them in the panel (Settings → Assistant): seeded from
-- FRONTDESK_CONTEXTS_FILE (or the built-in file) by the server on a first start, then edited
-- there. The first by position is the default. `instructions` is the system prompt;
-- `knowledge_tags` a JSON array of strings; `model` none for the server's OPENAI_MODEL.
CREATE TABLE contexts (
    id             TEXT    PRIMARY KEY,
    position       BIGINT  NOT NULL,
    label          TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    greeting       TEXT    NOT NULL,
    instructions   TEXT    NOT NULL,
    knowledge_tags TEXT    NOT NULL DEFAULT '[]',
    strict         BIGINT  NOT NULL DEFAULT 0,
    model          TEXT,
    updated_at     BIGINT  NOT NULL
);
