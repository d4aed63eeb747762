//! Extractors whose rejections are the app's JSON errors, not axum's plain text.

use axum::extract::{
    rejection::{JsonRejection, PathRejection, QueryRejection},
    FromRequest, FromRequestParts,
};

use crate::server::error::AppError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                AppError::Invalid(format!("the request body does not fit: {}", e.body_text()))
            }
            JsonRejection::JsonSyntaxError(_) => AppError::BadRequest("the request body is not valid JSON".into()),
            JsonRejection::MissingJsonContentType(_) => {
                AppError::BadRequest("send JSON with the header Content-Type: application/json".into())
            }
            other => AppError::BadRequest(format!("the request body could not be read: {}", other.body_text())),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::BadRequest("an id in the path is not a number".into())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(format!("the query string is not valid: {}", rejection.body_text()))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}
