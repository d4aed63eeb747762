-- How a customer came to a conversation: the browser that started it (its User-Agent, parsed when
-- read) and the time zone the embedded window's page said. Staff see them beside the conversation.
CREATE TABLE chat_visits (
    chat_id    BIGINT NOT NULL PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    user_agent TEXT,
    time_zone  TEXT
);
