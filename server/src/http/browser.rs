//! What browser-facing flows (sign-in, the console) answer with: redirects
//! that are never cached, and the cookie attributes of this deployment.

use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// A 303 to `location`, never cached, optionally setting a cookie.
pub fn redirect(location: &str, cookies: Vec<String>) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    let value = |text: &str| {
        HeaderValue::from_str(text).map_err(|_| ApiError::Internal(anyhow::anyhow!("bad header")))
    };
    headers.insert(LOCATION, value(location)?);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(SET_COOKIE, value(&cookie)?);
    }
    Ok(response)
}

/// `; Secure` when the service serves HTTPS itself.
pub fn secure_attribute(app: &AppState) -> &'static str {
    if app.settings.tls.is_some() {
        "; Secure"
    } else {
        ""
    }
}
