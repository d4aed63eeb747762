-- A reply that did not answer (nothing the shop wrote held the answer, and it said so), and a
-- conversation with one that no person has answered since: staff filter by it.
ALTER TABLE messages ADD COLUMN unanswered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN unanswered BIGINT NOT NULL DEFAULT 0;
