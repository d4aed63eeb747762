//! The shop's catalog: its products by the shop's own ids (a handle or a SKU), written one at a
//! time (`put`) or imported in bulk (`import`: JSON, CSV, Shopify's export), and what the
//! assistant knows of each (a product is knowledge too: `Knowledge::index_product`, in the same
//! transaction). The demo catalog is written on a first start when `FRONTDESK_DEMO` is on.
//! Table: `products`.

mod import;

use std::{collections::BTreeMap, sync::Arc};

use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

pub use self::import::{parse_csv, parse_json, ImportOptions, ProductImportReport, RejectedRow, Row};
use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, Db},
    error::{AppError, AppResult},
    identity::Editor,
    knowledge::{check_external_id, is_web_address, Knowledge, ListQuery, Written},
};
use crate::model::{Price, Product, ProductPage};

const NAME_MAX_CHARS: usize = 200;
/// Longest description, in characters (of its text, once HTML is read).
pub const DESCRIPTION_MAX_CHARS: usize = 20_000;
const URL_MAX_CHARS: usize = 2_048;
const MAX_ATTRIBUTES: usize = 50;
const ATTRIBUTE_NAME_MAX_CHARS: usize = 60;
const ATTRIBUTE_VALUE_MAX_CHARS: usize = 500;
const ATTRIBUTE_ITEM_MAX_CHARS: usize = 100;
const ATTRIBUTE_LIST_MAX_ITEMS: usize = 20;

/// A product as written (`PUT /api/v1/admin/products/{external_id}`).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// 1 to 200 characters.
    #[schema(pattern = r"\S", max_length = 200)]
    pub name: String,
    /// Markdown, plain text or HTML (stored as its text), at most 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    pub price: Price,
    /// The product's page on the shop (http or https).
    #[schema(max_length = 2048, pattern = r"^https?://\S+$")]
    pub url: Option<String>,
    /// Its picture: an http(s) address, or a path on this server (`/images/…`).
    #[schema(
        max_length = 2048,
        pattern = r"^(https?://\S+|/([A-Za-z0-9._~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@/-]*)?)$"
    )]
    pub image_url: Option<String>,
    /// In stock and for sale (default true).
    #[serde(default = "in_stock")]
    pub available: bool,
    /// At most 50 facts (size, colour, material…); the spec states the rules (`attributes_schema`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

fn in_stock() -> bool {
    true
}

#[derive(Clone, sqlx::FromRow)]
struct ProductRow {
    external_id: String,
    name: String,
    description: String,
    price_cents: i64,
    currency: String,
    url: Option<String>,
    image_path: String,
    available: i64,
    attributes: String,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Product {
            id: r.external_id,
            name: r.name,
            description: r.description,
            price: Price { amount: amount(r.price_cents), currency: r.currency },
            url: r.url,
            image_url: Some(r.image_path).filter(|p| !p.is_empty()),
            available: r.available != 0,
            attributes: serde_json::from_str(&r.attributes).unwrap_or_default(),
        }
    }
}

const PRODUCT_COLUMNS: &str =
    "external_id, name, description, price_cents, currency, url, image_path, available, attributes";

/// "59.00" from 5900.
fn amount(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The catalog.
pub struct Catalog {
    db: Db,
    audit: Arc<dyn Trail>,
    knowledge: Arc<Knowledge>,
}

impl Catalog {
    pub fn new(db: Db, audit: Arc<dyn Trail>, knowledge: Arc<Knowledge>) -> Self {
        Catalog { db, audit, knowledge }
    }

    /// A page of products by id, optionally only those whose name or id holds `q`.
    pub async fn list(&self, query: &ListQuery) -> AppResult<ProductPage> {
        let limit = query.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AppError::Invalid("limit must be 1 to 200".into()));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let pattern = q.map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE external_id > $1 \
             AND ($2 IS NULL OR LOWER(name) LIKE $2 OR LOWER(external_id) LIKE $2) ORDER BY external_id LIMIT $3"
        ))
        .bind(query.cursor.clone().unwrap_or_default())
        .bind(pattern)
        .bind(limit + 1)
        .fetch_all(&self.db.read)
        .await?;
        let more = rows.len() as i64 > limit;
        let products: Vec<Product> = rows.into_iter().take(limit as usize).map(Product::from).collect();
        let next_cursor = more.then(|| products.last().map(|p| p.id.clone())).flatten();
        Ok(ProductPage { products, next_cursor })
    }

    /// The first `limit` products by id (the storefront's, the panel's filter's).
    pub async fn first(&self, limit: i64) -> AppResult<Vec<Product>> {
        Ok(self.list(&ListQuery { q: None, cursor: None, limit: Some(limit) }).await?.products)
    }

    /// A product; one that does not exist is not found (404).
    pub async fn get(&self, external_id: &str) -> AppResult<Product> {
        let mut conn = self.db.read.acquire().await?;
        Self::find_in(&mut conn, external_id).await?.ok_or(AppError::not_found("product"))
    }

    /// A product, read on `conn` (inside a change: a reply's prompt is built in its send's).
    pub async fn find_in(conn: &mut AnyConnection, external_id: &str) -> AppResult<Option<Product>> {
        Ok(sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE external_id = $1"))
            .bind(external_id)
            .fetch_optional(conn)
            .await?
            .map(Product::from))
    }

    /// Creates or replaces a product by the shop's id, and what the assistant knows of it.
    pub async fn put(&self, editor: Editor, external_id: &str, input: &ProductInput) -> AppResult<Written> {
        let product = checked(external_id, input)?;
        let mut tx = self.db.write.begin().await?;
        let written = self.write(&mut tx, &product).await?;
        if written != Written::Unchanged {
            let name = if written == Written::Created { "product.created" } else { "product.updated" };
            let detail = format!("{external_id}{}", editor.via());
            self.audit.record(&mut tx, Actor::Staff(editor.user_id), Action { name, chat_id: None, detail }).await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Removes a product (chats about it keep its id; the assistant no longer knows it).
    pub async fn delete(&self, editor: Editor, external_id: &str) -> AppResult<()> {
        let mut tx = self.db.write.begin().await?;
        let deleted = sqlx::query("DELETE FROM products WHERE external_id = $1")
            .bind(external_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(AppError::not_found("product"));
        }
        self.knowledge.forget_product(&mut tx, external_id).await?;
        let action =
            Action { name: "product.deleted", chat_id: None, detail: format!("{external_id}{}", editor.via()) };
        self.audit.record(&mut tx, Actor::Staff(editor.user_id), action).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a checked product on `conn`, unless it is stored as it is.
    async fn write(&self, conn: &mut AnyConnection, product: &Product) -> AppResult<Written> {
        let existing = Self::find_in(conn, &product.id).await?;
        if existing.as_ref() == Some(product) {
            return Ok(Written::Unchanged);
        }
        let cents = cents(&product.price.amount).unwrap_or_default();
        let attributes = serde_json::to_string(&product.attributes).unwrap_or_else(|_| "{}".into());
        let now = now_ms();
        // One statement whether it is new or not: a write of the same id that began meanwhile
        // is waited for, then written over (the last write wins, as with two PUTs in turn).
        sqlx::query(
            "INSERT INTO products (external_id, name, description, price_cents, currency, url, image_path, \
             available, attributes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (external_id) DO UPDATE SET name = $2, description = $3, price_cents = $4, currency = $5, \
             url = $6, image_path = $7, available = $8, attributes = $9, updated_at = $10",
        )
        .bind(&product.id)
        .bind(&product.name)
        .bind(&product.description)
        .bind(cents)
        .bind(&product.price.currency)
        .bind(&product.url)
        .bind(product.image_url.clone().unwrap_or_default())
        .bind(i64::from(product.available))
        .bind(&attributes)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let written = if existing.is_some() { Written::Updated } else { Written::Created };
        self.knowledge.index_product(conn, product).await?;
        Ok(written)
    }

    /// On a first start with the demo on (no products, and none ever written), the demo catalog
    /// the storefront shows; how many products.
    pub async fn seed_demo(&self) -> AppResult<usize> {
        let (products,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM products").fetch_one(&self.db.read).await?;
        let (written,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'product%'")
            .fetch_one(&self.db.read)
            .await?;
        if products > 0 || written > 0 {
            return Ok(0);
        }
        let mut tx = self.db.write.begin().await?;
        let mut count = 0;
        for product in demo_products() {
            // Replicas starting together on a new database: the second waits for the first's
            // rows and writes the same over them.
            if self.write(&mut tx, &product).await? == Written::Created {
                count += 1;
            }
        }
        tx.commit().await?;
        Ok(count)
    }
}

impl Catalog {
    /// Products the assistant does not know yet (written before products were knowledge): each
    /// is indexed now; how many.
    pub async fn index_unindexed(&self) -> AppResult<usize> {
        let missing: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p WHERE NOT EXISTS \
             (SELECT 1 FROM knowledge k WHERE k.kind = 'product' AND k.external_id = 'product/' || p.external_id)"
        ))
        .fetch_all(&self.db.read)
        .await?;
        let mut tx = self.db.write.begin().await?;
        for row in &missing {
            self.knowledge.index_product(&mut tx, &Product::from(row.clone())).await?;
        }
        tx.commit().await?;
        Ok(missing.len())
    }
}

/// A price's amount in hundredths: "59" and "59.00" are 5900.
fn cents(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 9 || fraction.len() > 2 || (amount.contains('.') && !digits(fraction)) {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?)
}

/// The product a write stores: trimmed, its HTML read as text, its price and attributes in one
/// form (so the same input twice is unchanged); or a 422 naming the rule broken.
pub fn checked(external_id: &str, input: &ProductInput) -> AppResult<Product> {
    check_external_id(external_id)?;
    let name = crate::model::trim_spaces(&input.name).to_string();
    if name.is_empty() || input.name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::Invalid(format!("name must be 1 to {NAME_MAX_CHARS} characters")));
    }
    let description = text_of(&input.description)?;
    let len = description.chars().count();
    if len > DESCRIPTION_MAX_CHARS {
        return Err(AppError::TooLong { what: "description", len, max: DESCRIPTION_MAX_CHARS });
    }
    let cents = cents(&input.price.amount)
        .ok_or_else(|| AppError::Invalid("price.amount is a number like 59.00 (at most two decimals)".into()))?;
    let currency = input.price.currency.to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AppError::Invalid("price.currency is a three-letter code such as EUR or USD".into()));
    }
    let url = input.url.as_deref();
    if let Some(url) = url {
        if !is_web_address(url) {
            return Err(AppError::Invalid("url must be an http or https address".into()));
        }
    }
    let image_url = input.image_url.as_deref();
    if let Some(image) = image_url {
        // A path: what a URI's path may hold, escapes aside (as the spec's pattern says).
        let path = image.starts_with('/')
            && !image.starts_with("//")
            && image.chars().all(|c| c.is_ascii_alphanumeric() || "/._~!$&'()*+,;=:@-".contains(c))
            && image.len() <= URL_MAX_CHARS;
        if !path && !is_web_address(image) {
            return Err(AppError::Invalid("image_url must be an http or https address or a path".into()));
        }
    }
    if input.attributes.len() > MAX_ATTRIBUTES {
        return Err(AppError::Invalid(format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    let mut attributes = BTreeMap::new();
    for (key, value) in &input.attributes {
        if key.is_empty() || key.chars().count() > ATTRIBUTE_NAME_MAX_CHARS {
            return Err(AppError::Invalid(format!(
                "an attribute's name is 1 to {ATTRIBUTE_NAME_MAX_CHARS} characters"
            )));
        }
        let value = attribute_text(value).ok_or_else(|| {
            AppError::Invalid(format!(
                "attribute {key}: a value is text (at most {ATTRIBUTE_VALUE_MAX_CHARS} characters), a number, \
                 true/false, or a list of at most {ATTRIBUTE_LIST_MAX_ITEMS} of them (at most \
                 {ATTRIBUTE_ITEM_MAX_CHARS} characters each)"
            ))
        })?;
        if !value.is_empty() {
            attributes.insert(key.clone(), value);
        }
    }
    Ok(Product {
        id: external_id.to_string(),
        name,
        description,
        price: Price { amount: amount(cents), currency },
        url: url.map(str::to_string),
        image_url: image_url.map(str::to_string),
        available: input.available,
        attributes,
    })
}

/// A description's text: HTML read as plain text (html2text, undecorated: paragraphs and lists
/// kept, no emphasis marks, scripts and styles dropped), anything else as written.
fn text_of(description: &str) -> AppResult<String> {
    let trimmed = description.trim();
    let looks_like_html = ["</", "<br", "<p", "<ul", "<div", "<script", "<style", "<img"]
        .iter()
        .any(|tag| trimmed.to_ascii_lowercase().contains(tag));
    if !looks_like_html {
        return Ok(trimmed.to_string());
    }
    let text = html2text::config::plain_no_decorate()
        .string_from_read(trimmed.as_bytes(), 10_000)
        .map_err(|_| AppError::Invalid("the description's HTML could not be read".into()))?;
    Ok(text.trim().to_string())
}

/// An attribute's value as text (lists joined with commas): text of at most 500 characters, a
/// number, true/false, nothing, or a list of at most 20 of them (text of at most 100 characters
/// each); none for anything else (what the spec states for `attributes`).
fn attribute_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let scalar = |v: &Value, longest: usize| match v {
        Value::String(s) => (s.chars().count() <= longest).then(|| s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) if items.len() <= ATTRIBUTE_LIST_MAX_ITEMS => Some(
            items.iter().map(|item| scalar(item, ATTRIBUTE_ITEM_MAX_CHARS)).collect::<Option<Vec<_>>>()?.join(", "),
        ),
        Value::Array(_) => None,
        Value::Null => Some(String::new()),
        other => scalar(other, ATTRIBUTE_VALUE_MAX_CHARS),
    }
}

/// The rules of `attributes` above, as the spec states them (an attribute takes only literals).
pub fn attributes_schema() -> serde_json::Value {
    let scalar = |longest: usize| serde_json::json!([{"type": "string", "maxLength": longest}, {"type": "number"}, {"type": "boolean"}]);
    let mut value = scalar(ATTRIBUTE_VALUE_MAX_CHARS);
    let items = scalar(ATTRIBUTE_ITEM_MAX_CHARS);
    value.as_array_mut().expect("a list").extend([
        serde_json::json!({"type": "null"}),
        serde_json::json!({"type": "array", "maxItems": ATTRIBUTE_LIST_MAX_ITEMS, "items": {"anyOf": items}}),
    ]);
    serde_json::json!({
        "type": "object",
        "maxProperties": MAX_ATTRIBUTES,
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": ATTRIBUTE_NAME_MAX_CHARS},
        "additionalProperties": {"anyOf": value},
        "description": "At most 50 facts (size, colour, material…): names of 1 to 60 characters; values text \
            (at most 500 characters), numbers, true/false, null, or lists of at most 20 of them (text of at \
            most 100 characters each).",
    })
}

/// The demo catalog: what the demo storefront sells, by the ids its pages have always had.
fn demo_products() -> Vec<Product> {
    let product = |id: &str, name: &str, description: &str, cents: i64, image: &str| Product {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        price: Price { amount: amount(cents), currency: "USD".into() },
        url: None,
        image_url: Some(format!("/images/products/{image}.svg")),
        available: true,
        attributes: BTreeMap::new(),
    };
    vec![
        product(
            "1",
            "Aurora Desk Lamp",
            "A dimmable LED desk lamp with a warm-to-cool colour range (2700K-6500K), a USB-C charging port in \
             the base and a 5-year warranty. Ships in 2 business days.",
            5900,
            "lamp",
        ),
        product(
            "2",
            "Nimbus Office Chair",
            "An ergonomic mesh chair with adjustable lumbar support, 4D armrests and a 120 kg capacity. Assembly \
             takes about 15 minutes; free returns within 30 days.",
            34900,
            "chair",
        ),
        product(
            "3",
            "Drift Noise-Cancelling Headphones",
            "Over-ear wireless headphones with 40 hours of battery, active noise cancelling and multipoint \
             Bluetooth 5.3. Includes a travel case.",
            19900,
            "headphones",
        ),
        product(
            "4",
            "Terra Standing Desk",
            "An electric sit-stand desk (120x70 cm) with dual motors, 4 height presets and a bamboo top. Height \
             range 62-127 cm; 7-year frame warranty.",
            49900,
            "desk",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_is_read_in_hundredths_and_anything_else_is_refused() {
        assert_eq!(cents("59"), Some(5900));
        assert_eq!(cents("59.5"), Some(5950));
        assert_eq!(cents("0.05"), Some(5));
        for bad in ["", ".5", "59.", "59.123", "-1", "1e3", "5 9", "1234567890"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_product_written_twice_the_same_way_is_stored_the_same_way() {
        let input = ProductInput {
            name: " Lamp ".into(),
            description: "<p>Warm <b>light</b>.</p><script>alert(1)</script>".into(),
            price: Price { amount: "59".into(), currency: "eur".into() },
            url: Some("https://shop.example/products/lamp".into()),
            image_url: None,
            available: true,
            attributes: [("Colour".to_string(), serde_json::json!(["red", "blue"])), ("Watts".into(), 9.into())].into(),
        };
        let product = checked("lamp", &input).unwrap();
        assert_eq!(product.name, "Lamp");
        assert_eq!(product.price, Price { amount: "59.00".into(), currency: "EUR".into() });
        assert!(
            product.description.contains("Warm") && !product.description.contains("alert"),
            "{}",
            product.description
        );
        assert_eq!(product.attributes["Colour"], "red, blue");
        assert_eq!(product.attributes["Watts"], "9");
        let again = ProductInput { price: product.price.clone(), ..input.clone() };
        assert_eq!(checked("lamp", &again).unwrap(), product);
    }
}
