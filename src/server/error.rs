//! The one error type of the server. Every failure becomes a status and a JSON body a person can
//! read; causes (SQL, upstream bodies) are logged, never sent.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

use crate::model::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{what} was not found")]
    NotFound { what: &'static str },
    /// 404 with the reason (something a request names, by its id).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the {what} is {len} characters long; the limit is {max}")]
    TooLong { what: &'static str, len: usize, max: usize },
    /// A request body over its size limit: 413 with the limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Invalid(String),
    /// A body of a type the endpoint does not read: 415 with the types it does.
    #[error("{0}")]
    Unsupported(String),
    #[error("sign in to continue")]
    Unauthorized,
    #[error("the email or the password is wrong")]
    BadCredentials,
    #[error("you are not allowed to do that")]
    Forbidden,
    /// 403 with the reason.
    #[error("{0}")]
    NotAllowed(String),
    /// Over a budget or a limit: 429 with `Retry-After`.
    #[error("{reason}; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited { reason: String, retry_after: std::time::Duration },
    #[error("the assistant service failed: {0}")]
    Upstream(String),
    #[error("the service is unavailable; try again shortly")]
    Unavailable,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// `error`, but `instead` when the database refused a row naming one that is gone (a
    /// foreign key): what a request named was deleted meanwhile.
    pub fn gone_meanwhile(error: sqlx::Error, instead: AppError) -> AppError {
        match error.as_database_error().is_some_and(|d| d.is_foreign_key_violation()) {
            true => instead,
            false => error.into(),
        }
    }

    pub fn not_found(what: &'static str) -> Self {
        AppError::NotFound { what }
    }

    /// 429: `reason` says which limit, `retry_after` when it allows again.
    pub fn rate_limited(reason: impl Into<String>, retry_after: std::time::Duration) -> Self {
        AppError::RateLimited { reason: reason.into(), retry_after }
    }

    /// Seconds until a refused request may be tried again (the `Retry-After` header).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after, .. } => Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            AppError::Unavailable => Some(5),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound { .. } | AppError::Missing(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLong { .. } | AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unauthorized | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::NotAllowed(_) => StatusCode::FORBIDDEN,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::NotFound { .. } | AppError::Missing(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::TooLong { .. } | AppError::TooLarge(_) => "too_long",
            AppError::Invalid(_) => "invalid",
            AppError::Unsupported(_) => "unsupported_media_type",
            AppError::Unauthorized => "unauthorized",
            AppError::BadCredentials => "bad_credentials",
            AppError::Forbidden | AppError::NotAllowed(_) => "forbidden",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Upstream(_) => "upstream_error",
            AppError::Unavailable => "unavailable",
            AppError::Database(e) if is_unavailable(e) => "unavailable",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    /// The cause in full, with the database's own words: for an operator (why the server could not
    /// start), never for a client.
    pub fn for_operator(&self) -> String {
        match self {
            AppError::Database(e) => e.to_string(),
            other => other.to_string(),
        }
    }

    /// The sentence a client sees: for server faults a generic one, never the cause.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Database(e) if is_unavailable(e) => AppError::Unavailable.to_string(),
            AppError::Database(_) | AppError::Internal(_) => {
                "something went wrong on our side; nothing you sent was lost".into()
            }
            other => other.to_string(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code().into(), message: self.public_message() } }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_))
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
