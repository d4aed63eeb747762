-- Frontdesk schema (SQLite). Timestamps are unix milliseconds; booleans are 0/1.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('visitor', 'staff')),
    email         TEXT    UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT,
    role          TEXT    CHECK (role IN ('admin', 'agent')),
    created_at    BIGINT  NOT NULL
);

CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    price_cents BIGINT  NOT NULL,
    image_path  TEXT    NOT NULL
);

CREATE TABLE chats (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title            TEXT    NOT NULL,
    context          TEXT    NOT NULL,
    product_id       BIGINT  REFERENCES products (id) ON DELETE SET NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_progress', 'resolved', 'closed')),
    priority         TEXT    NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
    assignee_id      BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    ai_enabled       BIGINT  NOT NULL DEFAULT 1,
    customer_email   TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    last_activity_at BIGINT  NOT NULL,
    last_seq         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX chats_owner_activity ON chats (owner_id, last_activity_at DESC, id DESC);
CREATE INDEX chats_status_activity ON chats (status, priority, last_activity_at DESC, id DESC);
CREATE INDEX chats_product ON chats (product_id, last_activity_at DESC);
CREATE INDEX chats_assignee ON chats (assignee_id, last_activity_at DESC);

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id           BIGINT  NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    author_id         BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    role              TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'agent', 'system')),
    content           TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'failed', 'interrupted')),
    reason            TEXT,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    created_seq       BIGINT  NOT NULL,
    created_at        BIGINT  NOT NULL,
    edited_at         BIGINT,
    read_at           BIGINT
);
CREATE INDEX messages_chat_page ON messages (chat_id, id DESC);
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE TABLE message_versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX message_versions_message ON message_versions (message_id, id);

CREATE TABLE chat_events (
    chat_id    BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    data       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

CREATE TABLE preferences (
    user_id         BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    theme           TEXT    NOT NULL DEFAULT 'system',
    send_key        TEXT    NOT NULL DEFAULT 'shift_enter',
    sound           BIGINT  NOT NULL DEFAULT 0,
    text_size       TEXT    NOT NULL DEFAULT 'medium',
    default_context TEXT,
    updated_at      BIGINT  NOT NULL
);
