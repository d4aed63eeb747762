//! The catalog's products as knowledge: each product is an item of kind `product` (public, no
//! tags) whose passages hold its description, price, stock and attributes, so retrieval finds a
//! product as it finds an article. The catalog writes them in its own transactions, so a product
//! and what the assistant knows of it change together. Their ids are `product/{the shop's id}`:
//! `/` is in no id the knowledge API accepts, so they never meet an article's.

use sqlx::AnyConnection;

use super::{passages, Knowledge};
use crate::{
    model::Product,
    server::{db::now_ms, error::AppResult},
};

/// The knowledge id of a product's item.
fn item_id(product: &str) -> String {
    format!("product/{product}")
}

/// The shop's id of a product from its item's knowledge id.
pub(super) fn product_of(item: &str) -> &str {
    item.strip_prefix("product/").unwrap_or(item)
}

impl Knowledge {
    /// Writes (or rewrites) a product's item and passages, on the catalog's transaction.
    pub async fn index_product(&self, conn: &mut AnyConnection, product: &Product) -> AppResult<()> {
        let external_id = item_id(&product.id);
        let body = product.facts();
        let now = now_ms();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO knowledge (external_id, kind, title, body, url, tags, visibility, created_at, updated_at) \
             VALUES ($1, 'product', $2, $3, $4, '[]', 'public', $5, $5) \
             ON CONFLICT (external_id) DO UPDATE SET title = $2, body = $3, url = $4, updated_at = $5 RETURNING id",
        )
        .bind(&external_id)
        .bind(&product.name)
        .bind(&body)
        .bind(&product.url)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        self.forget_passages(conn, id).await?;
        self.write_split(conn, id, &product.name, &passages::split(&product.name, &body)).await
    }

    /// Removes a product's item and passages, on the catalog's transaction.
    pub async fn forget_product(&self, conn: &mut AnyConnection, product: &str) -> AppResult<()> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM knowledge WHERE external_id = $1 AND kind = 'product'")
                .bind(item_id(product))
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((id,)) = found {
            self.forget_passages(conn, id).await?;
            sqlx::query("DELETE FROM knowledge WHERE id = $1").bind(id).execute(&mut *conn).await?;
        }
        Ok(())
    }
}
