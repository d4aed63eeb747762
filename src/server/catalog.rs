//! The shop's catalog: the products the window can be about. Table: `products`.

use super::{
    db::Db,
    error::{AppError, AppResult},
};
use crate::model::Product;

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i64,
    name: String,
    description: String,
    price_cents: i64,
    image_path: String,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Product {
            id: r.id,
            name: r.name,
            description: r.description,
            price_cents: r.price_cents,
            image_path: r.image_path,
        }
    }
}

const PRODUCT_COLUMNS: &str = "id, name, description, price_cents, image_path";

/// The catalog.
pub struct Catalog {
    db: Db,
}

impl Catalog {
    pub fn new(db: Db) -> Self {
        Catalog { db }
    }

    pub async fn list(&self) -> AppResult<Vec<Product>> {
        let rows: Vec<ProductRow> = sqlx::query_as(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id"))
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    /// A product; one that does not exist is not found (404).
    pub async fn get(&self, id: i64) -> AppResult<Product> {
        let mut conn = self.db.read.acquire().await?;
        Self::find_in(&mut conn, id).await?.ok_or(AppError::not_found("product"))
    }

    /// A product, read on `conn` (inside a change: a reply's prompt is built in its send's).
    pub async fn find_in(conn: &mut sqlx::AnyConnection, id: i64) -> AppResult<Option<Product>> {
        Ok(sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?
            .map(Product::from))
    }
}
