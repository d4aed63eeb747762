-- The shop writes its catalog (PUT /api/v1/admin/products/{external_id}, imports): products are
-- known by the shop's own id (a handle or a SKU), and carry a currency, a page, availability and
-- free-form attributes. The demo rows keep "1" to "4" as their ids, so their pages' addresses hold.
ALTER TABLE products ADD COLUMN external_id TEXT;
UPDATE products SET external_id = CAST(id AS TEXT);
CREATE UNIQUE INDEX products_by_external_id ON products (external_id);
ALTER TABLE products ADD COLUMN currency   TEXT   NOT NULL DEFAULT 'EUR';
ALTER TABLE products ADD COLUMN url        TEXT;
ALTER TABLE products ADD COLUMN available  BIGINT NOT NULL DEFAULT 1;
-- JSON object of strings.
ALTER TABLE products ADD COLUMN attributes TEXT   NOT NULL DEFAULT '{}';
ALTER TABLE products ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- A chat names its product by the shop's id (it outlives the product's row: a product deleted and
-- imported again is the same product). `product_id` is no longer read or written.
ALTER TABLE chats ADD COLUMN product TEXT;
UPDATE chats SET product = (SELECT external_id FROM products WHERE products.id = chats.product_id);
CREATE INDEX chats_by_product ON chats (product, last_activity_at DESC);
DROP INDEX IF EXISTS chats_product;

-- Demo rows are written by the server when FRONTDESK_DEMO is on (the default of `make run`), not
-- by a migration into every database: on one no conversation has used yet they go now (a demo
-- server writes them again as it starts); a database in use keeps what it has.
DELETE FROM products WHERE NOT EXISTS (SELECT 1 FROM chats);
