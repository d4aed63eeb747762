//! The shop's catalog (products the window can be about) and each visitor's preferences.

use super::{
    chat::{Caller, ChatService},
    db::now_ms,
    error::{AppError, AppResult},
};
use crate::model::{Preferences, Product, SendKey, TextSize, Theme};

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

impl ChatService {
    pub async fn list_products(&self) -> AppResult<Vec<Product>> {
        let rows: Vec<ProductRow> =
            sqlx::query_as("SELECT id, name, description, price_cents, image_path FROM products ORDER BY id")
                .fetch_all(&self.db.read)
                .await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    pub async fn get_product(&self, id: i64) -> AppResult<Product> {
        let mut conn = self.db.read.acquire().await?;
        product_in(&mut conn, id).await?.ok_or(AppError::not_found("product"))
    }

    pub async fn get_preferences(&self, caller: Caller) -> AppResult<Preferences> {
        let row: Option<(String, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT theme, send_key, sound, text_size, default_context FROM preferences WHERE user_id = $1",
        )
        .bind(caller.user_id)
        .fetch_optional(&self.db.read)
        .await?;
        Ok(match row {
            None => Preferences::default(),
            Some((theme, send_key, sound, text_size, default_context)) => Preferences {
                theme: theme.parse::<Theme>().unwrap_or(Theme::System),
                send_key: send_key.parse::<SendKey>().unwrap_or(SendKey::ShiftEnter),
                sound: sound != 0,
                text_size: text_size.parse::<TextSize>().unwrap_or(TextSize::Medium),
                default_context,
            },
        })
    }

    /// Preferences that [`ChatService::save_preferences`] would refuse (checked before a visitor is
    /// created for them).
    pub fn check_preferences(&self, prefs: &Preferences) -> AppResult<()> {
        if let Some(id) = &prefs.default_context {
            self.context(id)?;
        }
        Ok(())
    }

    pub async fn save_preferences(&self, caller: Caller, prefs: &Preferences) -> AppResult<Preferences> {
        self.check_preferences(prefs)?;
        sqlx::query(
            "INSERT INTO preferences (user_id, theme, send_key, sound, text_size, default_context, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET theme = excluded.theme, send_key = excluded.send_key, \
             sound = excluded.sound, text_size = excluded.text_size, default_context = excluded.default_context, \
             updated_at = excluded.updated_at",
        )
        .bind(caller.user_id)
        .bind(prefs.theme.as_str())
        .bind(prefs.send_key.as_str())
        .bind(prefs.sound as i64)
        .bind(prefs.text_size.as_str())
        .bind(prefs.default_context.as_deref())
        .bind(now_ms())
        .execute(&self.db.write)
        .await?;
        self.get_preferences(caller).await
    }
}

/// A product, read on `conn` (inside a change, for a reply's prompt).
pub(crate) async fn product_in(conn: &mut sqlx::AnyConnection, id: i64) -> AppResult<Option<Product>> {
    Ok(sqlx::query_as::<_, ProductRow>(
        "SELECT id, name, description, price_cents, image_path FROM products WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(Product::from))
}
