-- Conversations can be snoozed: the status may be 'snoozed', and a snoozed conversation wakes
-- (back to pending) at `snoozed_until`, or at the customer's next message when it is NULL.
ALTER TABLE chats DROP CONSTRAINT chats_status_check;
ALTER TABLE chats ADD CONSTRAINT chats_status_check
    CHECK (status IN ('pending', 'in_progress', 'snoozed', 'resolved', 'closed'));
ALTER TABLE chats ADD COLUMN snoozed_until BIGINT;
CREATE INDEX chats_snoozed ON chats (status, snoozed_until);
