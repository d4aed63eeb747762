-- Routing: who is on duty, and who gets a conversation waiting for a person.
-- What each member says of themselves (online unless they chose away), and their place in the
-- round: auto-assignment gives the next conversation to the online member with the lowest turn.
CREATE TABLE staff_availability (
    user_id       BIGINT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    availability  TEXT   NOT NULL DEFAULT 'online' CHECK (availability IN ('online', 'away')),
    assigned_turn BIGINT NOT NULL DEFAULT 0
);
-- One row per open panel socket, kept fresh while it is open: a replica that stops without
-- closing its sockets leaves nobody online for long.
CREATE TABLE panel_presence (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seen_at BIGINT NOT NULL
);
CREATE INDEX panel_presence_by_user ON panel_presence (user_id, seen_at);
-- Auto-assignment, one row: off by default.
CREATE TABLE routing_settings (
    id                  BIGINT  NOT NULL PRIMARY KEY CHECK (id = 1),
    auto_assign         BIGINT  NOT NULL DEFAULT 0,
    max_open_per_member BIGINT  NOT NULL DEFAULT 10
);
INSERT INTO routing_settings (id) VALUES (1);
