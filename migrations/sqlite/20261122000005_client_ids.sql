-- Sends carry an id the client made: a retried send finds the message it already created
-- (idempotent sends), and the window matches its optimistic copy by it.
ALTER TABLE messages ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, client_id) WHERE client_id IS NOT NULL;
