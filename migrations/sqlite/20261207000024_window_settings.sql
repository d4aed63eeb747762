-- How the chat window looks and when the team is in (Settings → Window): one row, read as the
-- window renders. `business_hours` is JSON (`{"enabled", "time_zone", "days"}`); the avatar is
-- the image itself (at most 256 KiB) with its media type.
CREATE TABLE window_settings (
    id             BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    brand_color    TEXT   NOT NULL DEFAULT '#4f46e5',
    title          TEXT   NOT NULL DEFAULT 'Hi there! 👋',
    subtitle       TEXT   NOT NULL DEFAULT '',
    welcome        TEXT   NOT NULL DEFAULT '',
    launcher       TEXT   NOT NULL DEFAULT 'right' CHECK (launcher IN ('right', 'left')),
    business_hours TEXT,
    avatar         BLOB,
    avatar_type    TEXT,
    updated_at     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO window_settings (id) VALUES (1);
