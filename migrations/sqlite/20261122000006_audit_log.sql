-- Who changed a conversation, what, and when (never the text): customers' deletions, every change
-- staff make, and staff accounts created. Admins read it. No foreign keys: the record outlives
-- the chat or the account it names.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT  NOT NULL,
    actor_id    BIGINT  NOT NULL,
    actor_kind  TEXT    NOT NULL CHECK (actor_kind IN ('visitor', 'staff')),
    chat_id     BIGINT,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_chat ON audit_log (chat_id, id);
