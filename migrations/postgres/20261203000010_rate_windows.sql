-- Allowances the replicas of one PostgreSQL database share (calls per minute, sign-in attempts):
-- attempts counted per key in fixed windows. One process (SQLite) counts in memory and never
-- fills it.
CREATE TABLE rate_windows (
    key          TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
