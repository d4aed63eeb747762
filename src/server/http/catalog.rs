//! The REST API an integration (or the panel) writes the shop's catalog with, under
//! /api/v1/admin/products: one product by the shop's id, or many at once (JSON, CSV, Shopify's
//! export). Thin adapters over `Catalog`; `Editor` in a handler's arguments is the check (an API
//! key, or staff signed in).

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{header::CONTENT_TYPE, HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Path, Query};
use crate::{
    model::{ErrorBody, Product, ProductPage},
    server::{
        catalog::{parse_csv, parse_json, Catalog, ImportOptions, ProductImportReport, ProductInput},
        error::{AppError, AppResult},
        identity::Editor,
        knowledge::{is_web_address, ListQuery, Written},
    },
};

/// The shop's own id of a product (a handle or a SKU).
/// (Its pattern, `knowledge::EXTERNAL_ID_PATTERN`, is added to the spec with the server's rules.)
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProductId {
    pub external_id: String,
}

/// Creates or replaces a product by the shop's id: 201 created, 200 updated or unchanged. The
/// assistant knows it at once, on every replica.
#[utoipa::path(put, path = "/api/v1/admin/products/{external_id}", tag = "catalog", params(ProductId),
    request_body = ProductInput, responses(
        (status = 201, body = Product), (status = 200, body = Product), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_product(
    State(catalog): State<Arc<Catalog>>,
    editor: Editor,
    Path(ProductId { external_id }): Path<ProductId>,
    Json(body): Json<ProductInput>,
) -> AppResult<impl IntoResponse> {
    let written = catalog.put(editor, &external_id, &body).await?;
    let status = if written == Written::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(catalog.get(&external_id).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/products/{external_id}", tag = "catalog", params(ProductId), responses(
    (status = 200, body = Product), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn get_product(
    State(catalog): State<Arc<Catalog>>,
    _editor: Editor,
    Path(ProductId { external_id }): Path<ProductId>,
) -> AppResult<Json<Product>> {
    Ok(Json(catalog.get(&external_id).await?))
}

/// Removes a product: the assistant no longer knows it; chats about it keep its id.
#[utoipa::path(delete, path = "/api/v1/admin/products/{external_id}", tag = "catalog", params(ProductId), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_product(
    State(catalog): State<Arc<Catalog>>,
    editor: Editor,
    Path(ProductId { external_id }): Path<ProductId>,
) -> AppResult<StatusCode> {
    catalog.delete(editor, &external_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The catalog, by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/products", tag = "catalog", params(ListQuery), responses(
    (status = 200, body = ProductPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn list_products(
    State(catalog): State<Arc<Catalog>>,
    _editor: Editor,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<ProductPage>> {
    Ok(Json(catalog.list(&query).await?))
}

/// The largest product import (a Shopify export of 10,000 products is about 15 MiB).
pub const PRODUCT_IMPORT_LIMIT: usize = 32 << 20;

/// A CSV file of products (its schema is text; the columns are described with the endpoint).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ProductsCsv(Vec<u8>);

/// Imports products: a JSON array of products, each with its `id` (all or nothing: an item that
/// is not a product is a 422 naming it, and nothing is written), or a CSV file (`text/csv`):
/// columns `id`, `name`, `description`, `price`, `currency`, `url`, `image_url`, `available`, any
/// other column an attribute; or Shopify's product export as it comes (variant rows folded into
/// their product), whose good rows go in while the others are listed with their line and reason.
/// The same file twice changes nothing. At most 32 MiB and 50,000 rows.
#[utoipa::path(post, path = "/api/v1/admin/products/import", tag = "catalog", params(ImportOptions),
    request_body(content((Vec<ProductInput> = "application/json"), (ProductsCsv = "text/csv"))), responses(
        (status = 200, body = ProductImportReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_products(
    State(catalog): State<Arc<Catalog>>,
    editor: Editor,
    Query(options): Query<ImportOptions>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<ProductImportReport>> {
    if let Some(currency) = &options.currency {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AppError::Invalid("currency is a three-letter code such as EUR or USD".into()));
        }
    }
    if options.shop_url.as_deref().is_some_and(|shop| !is_web_address(shop)) {
        return Err(AppError::Invalid("shop_url must be an http or https address".into()));
    }
    let media = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let csv = match media.as_str() {
        "application/json" => false,
        "text/csv" => true,
        _ => return Err(AppError::Unsupported("send the products as application/json or text/csv".into())),
    };
    let bytes = axum::body::to_bytes(body, PRODUCT_IMPORT_LIMIT).await.map_err(|_| {
        AppError::TooLarge(format!("an import is at most {} MiB; split the file", PRODUCT_IMPORT_LIMIT >> 20))
    })?;
    let rows = if csv { parse_csv(&bytes, &options)? } else { parse_json(&bytes)? };
    Ok(Json(catalog.import(editor, rows, !csv).await?))
}
