-- The team's canned responses: saved replies under a shortcut, written by admins, used by all
-- staff from the reply box.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    shortcut   TEXT   NOT NULL UNIQUE,
    content    TEXT   NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
