-- Private notes: staff write them on a conversation for each other; they never reach the
-- customer or the assistant. `after_message_id` is the conversation's newest message when the
-- note was written, where it sits in the history.
CREATE TABLE notes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id          BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    author_id        BIGINT REFERENCES users(id) ON DELETE SET NULL,
    content          TEXT   NOT NULL,
    mentions         TEXT   NOT NULL DEFAULT '[]',
    after_message_id BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);
CREATE INDEX notes_by_chat ON notes (chat_id, id);

-- A staff member an admin deactivated: they cannot sign in; their sessions ended then.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
