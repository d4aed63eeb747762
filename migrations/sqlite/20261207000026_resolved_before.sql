-- Conversations resolved (or closed) before resolutions were recorded count as resolved when they
-- last changed, so their customers can rate them.
UPDATE chats SET resolved_at = updated_at WHERE resolved_at IS NULL AND status IN ('resolved', 'closed');
