-- Labels admins create (a name and a colour) and staff put on conversations.
CREATE TABLE labels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT   NOT NULL,
    name_key   TEXT   NOT NULL UNIQUE,
    color      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE chat_labels (
    chat_id  BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    label_id BIGINT NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, label_id)
);
CREATE INDEX chat_labels_by_label ON chat_labels (label_id, chat_id);
