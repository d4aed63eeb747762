-- When a conversation was last resolved (unix ms; the chats domain sets it as the status becomes
-- resolved): a rating belongs to one resolution, and reports time resolutions from it.
ALTER TABLE chats ADD COLUMN resolved_at BIGINT;

-- Satisfaction (owned by the satisfaction domain): the customer's rating of a resolution, one per
-- resolution, changeable for 7 days after it was first given.
CREATE TABLE chat_ratings (
    chat_id     BIGINT  NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    resolved_at BIGINT  NOT NULL,
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (chat_id, resolved_at)
);
CREATE INDEX chat_ratings_by_time ON chat_ratings (created_at);

-- Thumbs on the assistant's replies: one from the customer (by_staff = 0) and one from staff
-- (by_staff = 1, who last marked it) per reply.
CREATE TABLE reply_feedback (
    message_id BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    chat_id    BIGINT  NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    by_staff   INTEGER NOT NULL CHECK (by_staff IN (0, 1)),
    staff_id   BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    helpful    INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (message_id, by_staff)
);
CREATE INDEX reply_feedback_by_chat ON reply_feedback (chat_id);
