-- Replicas on one PostgreSQL database (SQLite has one process and never fills it): each says it
-- is alive every few seconds, and a streaming reply names the replica writing it. A reply whose
-- replica stopped saying so is marked interrupted by a surviving replica.
CREATE TABLE replicas (
    id         TEXT   PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
ALTER TABLE messages ADD COLUMN writer TEXT;
