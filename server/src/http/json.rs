//! A JSON body extractor whose every rejection is an [`ApiError`].

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` with precise 4xx errors: 415 without a JSON content type, 413 when too
/// large, 400 for malformed JSON or missing and mistyped fields.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

/// [`ApiJson`] for the AuthZEN API, which answers a body that is not JSON
/// with 400 as the specification has it (not 415).
pub struct AuthzenJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AuthzenJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match ApiJson::<T>::from_request(req, state).await {
            Ok(ApiJson(value)) => Ok(Self(value)),
            Err(ApiError::UnsupportedMediaType(_)) => Err(ApiError::bad_request(
                "invalid_content_type",
                "an AuthZEN request is JSON: send it with `Content-Type: application/json`",
            )),
            Err(other) => Err(other),
        }
    }
}

fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "expected a body with `Content-Type: application/json`".into(),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed_json",
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => {
            // The serde path error ("subject: missing field `id` at line 1 column 27") says it all.
            let detail =
                std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string);
            ApiError::bad_request("invalid_body", format!("invalid request body: {detail}"))
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("request body is larger than allowed".into())
        }
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// `Query<T>` whose rejection is a 400 [`ApiError`] naming the bad parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Self).map_err(|e| {
            ApiError::bad_request("invalid_query", format!("invalid query parameters: {e}"))
        })
    }
}
