//! Products in bulk: a JSON array (each item a product with its `id`), a CSV file with a header
//! row (`id`, `name`, `description`, `price`, `currency`, `url`, `image_url`, `available`; any other
//! column is an attribute), or Shopify's product export (one row per variant: the rows of a
//! handle fold into one product, priced from its cheapest variant, its options and SKUs kept as
//! attributes). CSV is read by the `csv` crate. Each row goes in or is listed with its number and
//! the reason; the same file twice changes nothing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{checked, Catalog, ProductInput};
use crate::{
    model::Price,
    server::{
        audit::{Action, Actor},
        error::{AppError, AppResult},
        identity::Editor,
        knowledge::Written,
    },
};

/// How many products one transaction writes during an import.
const BATCH: usize = 500;
/// The most rows (products in JSON, lines in CSV) one import reads.
pub const MAX_ROWS: usize = 50_000;

/// What a CSV file does not say.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// The currency of prices a file gives without one (Shopify's export never does): three
    /// capital letters; default EUR.
    #[param(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// The shop's address (http or https): a Shopify product's page is `{shop_url}/products/{handle}`.
    #[param(max_length = 2048, pattern = r"^https?://\S+$")]
    pub shop_url: Option<String>,
}

/// One product read from a file: its row (a CSV line, counting the header as 1; an item of a
/// JSON array, counting from 1), and its id and fields, or why it cannot be one.
pub struct Row {
    pub row: usize,
    pub product: Result<(String, ProductInput), String>,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ProductImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RejectedRow>,
}

/// A row that was not imported, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    pub row: usize,
    pub reason: String,
}

impl Catalog {
    /// Writes every good row, `BATCH` to a transaction; lists the others. One audit line says
    /// what the import did. A JSON import is all or nothing (the spec states each item's shape:
    /// one that breaks it is a 422, nothing written); a CSV file's rows go in one by one.
    pub async fn import(&self, editor: Editor, rows: Vec<Row>, whole: bool) -> AppResult<ProductImportReport> {
        let mut invalid = Vec::new();
        let mut checked_rows = Vec::new();
        for Row { row, product } in rows {
            match product.and_then(|(id, input)| checked(&id, &input).map_err(|e| e.public_message())) {
                Ok(product) => checked_rows.push((row, product)),
                Err(reason) => invalid.push(RejectedRow { row, reason }),
            }
        }
        if whole && !invalid.is_empty() {
            let reasons: Vec<String> =
                invalid.iter().take(10).map(|r| format!("item {}: {}", r.row, r.reason)).collect();
            let more = invalid.len().saturating_sub(10);
            let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
            return Err(AppError::Invalid(format!("nothing was imported: {}{more}", reasons.join("; "))));
        }
        let mut report = ProductImportReport { rejected: invalid, ..ProductImportReport::default() };
        // A product given twice: its last row counts (so the same file twice changes nothing),
        // and the earlier ones are listed.
        let last: HashMap<String, usize> = checked_rows.iter().map(|(row, p)| (p.id.clone(), *row)).collect();
        let mut good = Vec::new();
        for (row, product) in checked_rows {
            match last[&product.id] {
                counted if counted == row => good.push((row, product)),
                counted => report.rejected.push(RejectedRow {
                    row,
                    reason: format!("product {} comes again in row {counted}, which counts", product.id),
                }),
            }
        }
        for batch in good.chunks(BATCH) {
            let mut tx = self.db.write.begin().await?;
            for (_, product) in batch {
                match self.write(&mut tx, product).await? {
                    Written::Created => report.created += 1,
                    Written::Updated => report.updated += 1,
                    Written::Unchanged => report.unchanged += 1,
                }
            }
            tx.commit().await?;
        }
        report.rejected.sort_by_key(|r| r.row);
        if report.created + report.updated > 0 {
            let detail = format!(
                "{} created, {} updated, {} unchanged, {} rejected{}",
                report.created,
                report.updated,
                report.unchanged,
                report.rejected.len(),
                editor.via()
            );
            let mut tx = self.db.write.begin().await?;
            let action = Action { name: "products.imported", chat_id: None, detail };
            self.audit.record(&mut tx, Actor::Staff(editor.user_id), action).await?;
            tx.commit().await?;
        }
        Ok(report)
    }
}

/// The products of a JSON array; a body that is not one is a 422.
pub fn parse_json(body: &[u8]) -> AppResult<Vec<Row>> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| AppError::Invalid(format!("the body is not a JSON array of products: {e}")))?;
    if items.len() > MAX_ROWS {
        return Err(AppError::Invalid(format!("an import is at most {MAX_ROWS} products")));
    }
    Ok(items.into_iter().enumerate().map(|(i, item)| Row { row: i + 1, product: product_of(item) }).collect())
}

/// An item of a JSON import: a product with its `id`.
fn product_of(item: serde_json::Value) -> Result<(String, ProductInput), String> {
    let serde_json::Value::Object(mut fields) = item else {
        return Err("not a product: an object was expected".into());
    };
    let id = match fields.remove("id") {
        Some(serde_json::Value::String(id)) => id,
        _ => return Err("id is missing (the shop's id for the product, as text)".into()),
    };
    let product =
        serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| format!("not a product: {e}"))?;
    Ok((id, product))
}

/// The products of a CSV file: Shopify's export when its header says so, else the plain layout.
pub fn parse_csv(body: &[u8], options: &ImportOptions) -> AppResult<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::Invalid(format!("the CSV header could not be read: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let currency = options.currency.clone().unwrap_or_else(|| "EUR".into());
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(AppError::Invalid(format!("an import is at most {MAX_ROWS} rows")));
        }
        // The header is line 1; a record's line is where it starts (quoted text may hold lines).
        let line = i + 2;
        let record = record.map(|r| {
            let line = r.position().map_or(line, |p| p.line() as usize);
            (line, header.iter().cloned().zip(r.iter().map(str::to_string)).collect::<HashMap<_, _>>())
        });
        records.push(record.map_err(|e| (line, format!("the line could not be read: {e}"))));
    }
    let is_shopify = ["Handle", "Title", "Variant Price"].iter().all(|h| header.iter().any(|c| c == h));
    Ok(if is_shopify { shopify(records, &currency, options.shop_url.as_deref()) } else { plain(records, &currency) })
}

type Record = Result<(usize, HashMap<String, String>), (usize, String)>;

/// The plain layout: one product a row.
fn plain(records: Vec<Record>, currency: &str) -> Vec<Row> {
    const KNOWN: [&str; 8] = ["id", "name", "description", "price", "currency", "url", "image_url", "available"];
    records
        .into_iter()
        .map(|record| {
            let (line, fields) = match record {
                Ok(r) => r,
                Err((row, reason)) => return Row { row, product: Err(reason) },
            };
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            let product = (|| {
                let id = field("id").ok_or("the id column is empty")?;
                let available = match field("available").map(|a| a.to_ascii_lowercase()).as_deref() {
                    None | Some("true" | "yes" | "1") => true,
                    Some("false" | "no" | "0") => false,
                    Some(_) => return Err("available is true or false".to_string()),
                };
                let attributes = fields
                    .iter()
                    .filter(|(k, v)| !v.is_empty() && !KNOWN.iter().any(|known| k.eq_ignore_ascii_case(known)))
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                let input = ProductInput {
                    name: field("name").unwrap_or_default(),
                    description: field("description").unwrap_or_default(),
                    price: Price {
                        amount: field("price").ok_or("the price column is empty")?,
                        currency: field("currency").unwrap_or_else(|| currency.to_string()),
                    },
                    url: field("url"),
                    image_url: field("image_url"),
                    available,
                    attributes,
                };
                Ok((id, input))
            })();
            Row { row: line, product }
        })
        .collect()
}

/// Shopify's export: the rows of a handle (its first holds the title) fold into one product.
fn shopify(records: Vec<Record>, currency: &str, shop_url: Option<&str>) -> Vec<Row> {
    struct Folding {
        line: usize,
        rows: Vec<HashMap<String, String>>,
    }
    let mut order: Vec<String> = Vec::new();
    let mut products: HashMap<String, Folding> = HashMap::new();
    let mut broken = Vec::new();
    for record in records {
        match record {
            Ok((line, fields)) => {
                let handle = fields.get("Handle").cloned().unwrap_or_default();
                if handle.is_empty() {
                    broken.push(Row { row: line, product: Err("the Handle column is empty".into()) });
                    continue;
                }
                products
                    .entry(handle.clone())
                    .or_insert_with(|| {
                        order.push(handle);
                        Folding { line, rows: Vec::new() }
                    })
                    .rows
                    .push(fields);
            }
            Err((row, reason)) => broken.push(Row { row, product: Err(reason) }),
        }
    }
    let mut rows: Vec<Row> = order
        .into_iter()
        .map(|handle| {
            let folding = products.remove(&handle).expect("each handle was folded");
            Row { row: folding.line, product: fold(&handle, &folding.rows, currency, shop_url) }
        })
        .collect();
    rows.extend(broken);
    rows.sort_by_key(|r| r.row);
    rows
}

/// One Shopify product from its rows.
fn fold(
    handle: &str,
    rows: &[HashMap<String, String>],
    currency: &str,
    shop_url: Option<&str>,
) -> Result<(String, ProductInput), String> {
    let get = |row: &HashMap<String, String>, column: &str| row.get(column).cloned().filter(|v| !v.is_empty());
    let main = rows.iter().find(|r| get(r, "Title").is_some()).ok_or("no row of this handle has a Title")?;
    let first = |column: &str| rows.iter().find_map(|r| get(r, column));
    let prices: Vec<(i64, String)> =
        rows.iter().filter_map(|r| get(r, "Variant Price")).filter_map(|p| super::cents(&p).map(|c| (c, p))).collect();
    let price = prices.iter().min_by_key(|(c, _)| *c).map(|(_, p)| p.clone()).ok_or("no variant has a price")?;
    let mut attributes = BTreeMap::new();
    for (column, name) in [("Vendor", "Vendor"), ("Type", "Type"), ("Tags", "Tags")] {
        if let Some(value) = get(main, column) {
            attributes.insert(name.to_string(), serde_json::Value::String(value));
        }
    }
    // Options: their names are on the first row, their values on every variant's.
    for n in 1..=3 {
        let Some(name) = first(&format!("Option{n} Name")).filter(|n| n != "Title") else { continue };
        let mut values: Vec<String> = Vec::new();
        for value in rows.iter().filter_map(|r| get(r, &format!("Option{n} Value"))) {
            if !values.contains(&value) {
                values.push(value);
            }
        }
        if !values.is_empty() {
            attributes.insert(name, serde_json::Value::String(values.join(", ")));
        }
    }
    let skus: Vec<String> = rows.iter().filter_map(|r| get(r, "Variant SKU")).collect();
    if !skus.is_empty() {
        attributes.insert("SKU".into(), serde_json::Value::String(skus.join(", ")));
    }
    // For sale: active (newer exports) or published (older ones), and in stock when tracked.
    let active = match get(main, "Status") {
        Some(status) => status.eq_ignore_ascii_case("active"),
        None => get(main, "Published").is_none_or(|p| p.eq_ignore_ascii_case("true")),
    };
    let tracked: Vec<i64> = rows
        .iter()
        .filter(|r| get(r, "Variant Inventory Tracker").is_some())
        .filter_map(|r| get(r, "Variant Inventory Qty")?.parse().ok())
        .collect();
    let in_stock = tracked.is_empty() || tracked.iter().any(|q| *q > 0);
    let input = ProductInput {
        name: get(main, "Title").unwrap_or_default(),
        description: get(main, "Body (HTML)").unwrap_or_default(),
        price: Price { amount: price, currency: currency.to_string() },
        url: shop_url.map(|shop| format!("{}/products/{handle}", shop.trim_end_matches('/'))),
        image_url: first("Image Src"),
        available: active && in_stock,
        attributes,
    };
    Ok((handle.to_string(), input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ImportOptions {
        ImportOptions { currency: Some("USD".into()), shop_url: Some("https://shop.example/".into()) }
    }

    #[test]
    fn a_shopify_export_folds_its_variant_rows_into_one_product_priced_from_the_cheapest() {
        let csv = "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,\
                   Variant Inventory Tracker,Variant Inventory Qty,Variant Price,Image Src,Status\n\
                   oak-chair,Oak Chair,<p>Solid <b>oak</b>.</p>,Woodworks,Chairs,\"oak, chair\",true,Colour,Natural,\
                   OAK-N,shopify,3,149.00,https://cdn.example/oak.jpg,active\n\
                   oak-chair,,,,,,,,Black,OAK-B,shopify,0,139.00,,\n\
                   lamp,Lamp,,,,,true,Title,Default Title,L-1,,,20,,draft\n";
        let rows = parse_csv(csv.as_bytes(), &options()).unwrap();
        assert_eq!(rows.len(), 2);
        let (id, chair) = rows[0].product.clone().unwrap();
        assert_eq!((rows[0].row, id.as_str()), (2, "oak-chair"));
        assert_eq!(chair.name, "Oak Chair");
        assert_eq!(chair.price, Price { amount: "139.00".into(), currency: "USD".into() });
        assert_eq!(chair.url.as_deref(), Some("https://shop.example/products/oak-chair"));
        assert_eq!(chair.image_url.as_deref(), Some("https://cdn.example/oak.jpg"));
        assert!(chair.available, "one variant is in stock");
        assert_eq!(chair.attributes["Colour"], "Natural, Black");
        assert_eq!(chair.attributes["SKU"], "OAK-N, OAK-B");
        assert_eq!(chair.attributes["Vendor"], "Woodworks");
        let (_, lamp) = rows[1].product.clone().unwrap();
        assert!(!lamp.available, "a draft is not for sale");
        assert!(!lamp.attributes.contains_key("Title"), "Shopify's placeholder option is no attribute");
    }

    #[test]
    fn a_plain_csv_keeps_its_other_columns_as_attributes_and_names_its_broken_rows() {
        let csv = "id,name,price,colour,available\nmug,Mug,9.5,blue,yes\n,No id,1,,\ncup,Cup,,,\nbowl,Bowl,3,,maybe\n";
        let rows = parse_csv(csv.as_bytes(), &options()).unwrap();
        let (id, mug) = rows[0].product.clone().unwrap();
        assert_eq!(id, "mug");
        assert_eq!(mug.attributes["colour"], "blue");
        assert_eq!(mug.price.currency, "USD");
        let broken: Vec<(usize, String)> =
            rows[1..].iter().map(|r| (r.row, r.product.clone().err().unwrap())).collect();
        assert_eq!(broken[0], (3, "the id column is empty".into()));
        assert_eq!(broken[1], (4, "the price column is empty".into()));
        assert_eq!(broken[2], (5, "available is true or false".into()));
    }
}
