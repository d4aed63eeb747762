-- Staff see unread counts; customers see read marks: how far each side has read, by message id.
ALTER TABLE chats ADD COLUMN staff_read_up_to BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN customer_read_up_to BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_kind ON users (kind);
