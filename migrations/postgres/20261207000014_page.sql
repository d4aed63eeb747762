-- The page of the shop a conversation began on (its address and title), so the assistant and staff
-- know where the visitor is even when the page's product is not in the catalog.
ALTER TABLE chats ADD COLUMN page_url TEXT;
ALTER TABLE chats ADD COLUMN page_title TEXT;
