-- What the assistant costs. A chat's tokens, every reply and rewrite counted (staff see it), and
-- each UTC day's tokens and replies per scope: `visitor:<id>`, `network:<address>` and `all`.
-- The budgets read today's rows before each call to the model; the transaction that ends a reply
-- adds to them, so every replica sees the same totals.
ALTER TABLE chats ADD COLUMN tokens_used BIGINT NOT NULL DEFAULT 0;

CREATE TABLE usage_daily (
    day     TEXT   NOT NULL,
    scope   TEXT   NOT NULL,
    tokens  BIGINT NOT NULL DEFAULT 0,
    calls   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, scope)
);
