//! The REST API an integration (or the panel) teaches the assistant with, under /api/v1/admin:
//! the shop's knowledge, and the API keys that write it. Thin adapters over `Knowledge` and
//! `Accounts`; `Editor` in a handler's arguments is the check (an API key, or staff signed in).

use std::sync::Arc;

use axum::{
    extract::{multipart::MultipartError, FromRequest, Multipart, Request, State},
    http::{header::CONTENT_TYPE, StatusCode},
    response::IntoResponse,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::{
    model::{ApiKey, CreatedApiKey, ErrorBody, KnowledgeItem, KnowledgePage, SearchResults, Visibility},
    server::{
        accounts::Accounts,
        app::Frontdesk,
        error::{AppError, AppResult},
        identity::{Editor, Staff},
        knowledge::{ImportFile, ImportReport, Knowledge, KnowledgeInput, ListQuery, UrlImport, Written},
    },
};

/// The shop's own id of an article or an answer (a slug, a handle).
/// (Its pattern, `knowledge::EXTERNAL_ID_PATTERN`, is added to the spec with the server's rules.)
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExternalId {
    pub external_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for (1 to 80 characters), e.g. "Shopify sync".
    #[schema(pattern = r"\S", max_length = 80)]
    pub name: String,
}

/// Creates an API key, shown this once (admins only).
#[utoipa::path(post, path = "/api/v1/admin/api-keys", tag = "admin", request_body = NewApiKey, responses(
    (status = 201, body = CreatedApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn create_api_key(
    State(accounts): State<Arc<Accounts>>,
    staff: Staff,
    Json(body): Json<NewApiKey>,
) -> AppResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(accounts.create_key(staff, &body.name).await?)))
}

/// The API keys in force (admins only).
#[utoipa::path(get, path = "/api/v1/admin/api-keys", tag = "admin", responses(
    (status = 200, body = Vec<ApiKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_api_keys(State(accounts): State<Arc<Accounts>>, staff: Staff) -> AppResult<Json<Vec<ApiKey>>> {
    Ok(Json(accounts.list_keys(staff).await?))
}

/// Revokes an API key: it is refused from now on (admins only).
#[utoipa::path(delete, path = "/api/v1/admin/api-keys/{id}", tag = "admin", params(("id" = i64, Path)), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_api_key(
    State(accounts): State<Arc<Accounts>>,
    staff: Staff,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    accounts.revoke_key(staff, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or replaces an article or an answer by the shop's id: 201 created, 200 updated or
/// unchanged. Its passages are searchable at once, on every replica.
#[utoipa::path(put, path = "/api/v1/admin/knowledge/{external_id}", tag = "knowledge",
    params(ExternalId),
    request_body = KnowledgeInput, responses(
        (status = 201, body = KnowledgeItem), (status = 200, body = KnowledgeItem),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_knowledge(
    State(knowledge): State<Arc<Knowledge>>,
    editor: Editor,
    Path(ExternalId { external_id }): Path<ExternalId>,
    Json(body): Json<KnowledgeInput>,
) -> AppResult<impl IntoResponse> {
    let written = knowledge.put(editor, &external_id, &body).await?;
    let status = if written == Written::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(knowledge.get(&external_id).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/knowledge/{external_id}", tag = "knowledge",
    params(ExternalId), responses(
        (status = 200, body = KnowledgeItem), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_knowledge(
    State(knowledge): State<Arc<Knowledge>>,
    _editor: Editor,
    Path(ExternalId { external_id }): Path<ExternalId>,
) -> AppResult<Json<KnowledgeItem>> {
    Ok(Json(knowledge.get(&external_id).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/knowledge/{external_id}", tag = "knowledge",
    params(ExternalId), responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_knowledge(
    State(knowledge): State<Arc<Knowledge>>,
    editor: Editor,
    Path(ExternalId { external_id }): Path<ExternalId>,
) -> AppResult<StatusCode> {
    knowledge.delete(editor, &external_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The knowledge, by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/knowledge", tag = "knowledge", params(ListQuery), responses(
    (status = 200, body = KnowledgePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
pub async fn list_knowledge(
    State(knowledge): State<Arc<Knowledge>>,
    _editor: Editor,
    Query(query): Query<ListQuery>,
) -> AppResult<Json<KnowledgePage>> {
    Ok(Json(knowledge.list(&query).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The customer's question.
    #[param(max_length = 2000)]
    pub q: String,
    /// A context id: only the knowledge it may use (its tags).
    pub context: Option<String>,
    /// A product's id (the shop's): the question is about it, as on its page.
    pub product: Option<String>,
}

/// Exactly the passages the assistant would be given for this question, best first.
#[utoipa::path(get, path = "/api/v1/admin/knowledge/search", tag = "knowledge", params(SearchQuery), responses(
    (status = 200, body = SearchResults), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn search_knowledge(
    State(app): State<Frontdesk>,
    _editor: Editor,
    Query(query): Query<SearchQuery>,
) -> AppResult<Json<SearchResults>> {
    if query.q.chars().count() > 2000 {
        return Err(AppError::Invalid("q is at most 2000 characters".into()));
    }
    let contexts = app.contexts.current();
    let context = match query.context.as_deref() {
        Some(id) => contexts.check(id)?,
        None => contexts.default_context(),
    };
    let product = match query.product {
        Some(id) => Some(app.catalog.get(&id).await?),
        None => None,
    };
    let found = app.replies.sources_for(&query.q, context, product.as_ref(), "").await?;
    Ok(Json(SearchResults { results: found.into_iter().map(|f| f.hit).collect() }))
}

/// The largest import request: axum's limit on every request body.
const IMPORT_LIMIT: usize = 2 << 20;

/// The form of an import: one or more files, and who may see what they hold. (Read part by part
/// in the handler; the type states the form for the spec.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ImportForm {
    /// Markdown (.md, .markdown), plain text (.txt) or HTML (.html, .htm) files, each an article
    /// named by its file (`returns-policy.md` → `returns-policy`); a file imported again updates
    /// its article.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1)]
    files: Vec<String>,
    /// `public` (default), `assistant` or `staff`.
    #[serde(default)]
    visibility: Visibility,
}

/// Imports articles: files (multipart), or the page or sitemap at a web address (JSON `{url,
/// visibility?}`: fetched by the server, never from a private or local address unless the
/// operator allows it). Each file or page goes in or is listed with the reason it did not; a page
/// imported again updates its article.
#[utoipa::path(post, path = "/api/v1/admin/knowledge/import", tag = "knowledge",
    request_body(content((ImportForm = "multipart/form-data"), (UrlImport = "application/json"))), responses(
        (status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_knowledge(
    State(knowledge): State<Arc<Knowledge>>,
    editor: Editor,
    request: Request,
) -> AppResult<Json<ImportReport>> {
    let json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if json {
        let Json(import) = Json::<UrlImport>::from_request(request, &()).await?;
        return Ok(Json(knowledge.import_url(editor, &import).await.map_err(AppError::Invalid)?));
    }
    let form = Multipart::from_request(request, &()).await;
    let mut form = form.map_err(|_| AppError::BadRequest("send the files as multipart/form-data".into()))?;
    let unreadable = |error: MultipartError| match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge(format!("an import is at most {} MiB; send fewer files at a time", IMPORT_LIMIT >> 20))
        }
        _ => AppError::BadRequest("the form could not be read: send the files as multipart/form-data".into()),
    };
    let mut files = Vec::new();
    let mut visibility = Visibility::Public;
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("visibility") => {
                let text = field.text().await.map_err(unreadable)?;
                visibility =
                    text.parse().map_err(|_| AppError::Invalid("visibility is public, assistant or staff".into()))?;
            }
            Some("files") => {
                let Some(name) = field.file_name().map(str::to_string) else {
                    return Err(AppError::Invalid("each part named files must be a file (with a file name)".into()));
                };
                let bytes = field.bytes().await.map_err(unreadable)?.to_vec();
                files.push(ImportFile { name, bytes });
            }
            Some(other) => return Err(AppError::Invalid(format!("unknown field {other}: send files and visibility"))),
            None => return Err(AppError::Invalid("every part needs a name: files or visibility".into())),
        }
    }
    if files.is_empty() {
        return Err(AppError::Invalid("send at least one file in the files field".into()));
    }
    Ok(Json(knowledge.import_files(editor, files, visibility).await))
}
