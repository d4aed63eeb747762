//! Extractors whose rejections are the app's JSON errors, not axum's plain text.

use axum::extract::{
    rejection::{JsonRejection, PathRejection, QueryRejection},
    FromRequest, FromRequestParts, Request,
};
use serde::de::DeserializeOwned;

use crate::server::error::AppError;

/// A JSON request body: an object, read into `T` (serde would also read a struct from an array
/// of its fields, which no client means and the spec does not allow).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(body) = axum::Json::<Box<serde_json::value::RawValue>>::from_request(request, state).await?;
        if !body.get().starts_with('{') {
            return Err(AppError::Invalid("the request body must be a JSON object".into()));
        }
        match axum::Json::<T>::from_bytes(body.get().as_bytes()) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            // JSON Schema counts `3.0` as an integer, and so do generated clients: a whole number
            // written with a fraction is read again as one.
            Err(JsonRejection::JsonDataError(error)) => {
                let mut value: serde_json::Value = serde_json::from_str(body.get()).map_err(|_| error_of(&error))?;
                if !as_integers(&mut value) {
                    return Err(error_of(&error));
                }
                serde_json::from_value(value).map(Json).map_err(|_| error_of(&error))
            }
            Err(other) => Err(other.into()),
        }
    }
}

fn error_of(error: &axum::extract::rejection::JsonDataError) -> AppError {
    AppError::Invalid(format!("the request body does not fit: {}", error.body_text()))
}

/// Writes every whole number in `value` that has a fraction (`3.0`) as an integer; whether any was.
fn as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |any, item| as_integers(item) | any),
        Value::Object(fields) => fields.values_mut().fold(false, |any, field| as_integers(field) | any),
        _ => false,
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => error_of(&e),
            JsonRejection::JsonSyntaxError(_) => AppError::BadRequest("the request body is not valid JSON".into()),
            JsonRejection::MissingJsonContentType(_) => {
                AppError::BadRequest("send JSON with the header Content-Type: application/json".into())
            }
            other => AppError::BadRequest(format!("the request body could not be read: {}", other.body_text())),
        }
    }
}

/// A path whose id is not a number names nothing: 404, as for an id that names nothing (the
/// storefront's pages answer the same).
impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::not_found("what this address names (its id is not a number)")
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
