//! Outbound signed webhooks: a JSON body posted with `X-HMS-Timestamp` and an
//! HMAC `X-HMS-Signature` over timestamp and body, the way HR signs its own.

use std::sync::OnceLock;
use std::time::Duration;

use hms_scim::hr::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::Value;
use time::OffsetDateTime;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Posts `body` to `url` signed with `secret`; whether the receiver accepted
/// it. Failures are logged.
pub async fn deliver_signed(url: &str, secret: &[u8], body: &Value) -> bool {
    let body = body.to_string();
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let signed = signature::sign(secret, timestamp, body.as_bytes());
    let sent = client()
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signed)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(status = %response.status(), "notification refused");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "notification failed");
            false
        }
    }
}

/// Sends `body` without waiting for it; best effort, a failure is logged as `what`.
pub fn send_in_background(url: String, secret: Vec<u8>, body: Value, what: &'static str) {
    tokio::spawn(async move {
        if !deliver_signed(&url, &secret, &body).await {
            tracing::warn!(what, "not delivered");
        }
    });
}
