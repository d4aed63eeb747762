-- A staff reply shows who wrote it: the name as it was when they wrote.
ALTER TABLE messages ADD COLUMN author_name TEXT;
-- "Delivered": how far the customer's messages reached a staff member's screen, by message id.
ALTER TABLE chats ADD COLUMN staff_delivered_up_to BIGINT NOT NULL DEFAULT 0;
