-- Conversations can be snoozed: the status may be 'snoozed' (SQLite cannot change a column's
-- CHECK, so the column is made again with the new one and its values copied), and a snoozed
-- conversation wakes (back to pending) at `snoozed_until`, or at the customer's next message
-- when it is NULL.
DROP INDEX chats_status_activity;
ALTER TABLE chats RENAME COLUMN status TO status_before;
ALTER TABLE chats ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'in_progress', 'snoozed', 'resolved', 'closed'));
UPDATE chats SET status = status_before;
ALTER TABLE chats DROP COLUMN status_before;
CREATE INDEX chats_status_activity ON chats (status, priority, last_activity_at DESC, id DESC);
ALTER TABLE chats ADD COLUMN snoozed_until BIGINT;
CREATE INDEX chats_snoozed ON chats (status, snoozed_until);
