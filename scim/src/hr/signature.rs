//! HR webhook signatures: HMAC-SHA256 over `{timestamp}.{body}` with the
//! tenant's secret, sent as `X-HMS-Signature: v1=<hex>` with `X-HMS-Timestamp`
//! (Unix seconds). Deliveries outside the time window are refused as replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying one or more comma-separated `v1=<hex>` signatures.
pub const SIGNATURE_HEADER: &str = "x-hms-signature";
/// Header carrying the Unix time the sender signed at.
pub const TIMESTAMP_HEADER: &str = "x-hms-timestamp";
/// How far the signing time may be from now, either way, in seconds.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing.
    #[error("missing `{0}` header")]
    Missing(&'static str),
    /// The timestamp is not an integer.
    #[error("`x-hms-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    /// Signed too long ago or in the future: a replay or a skewed clock.
    #[error(
        "the delivery was signed {0} seconds from now; at most {TOLERANCE_SECONDS} are accepted"
    )]
    Stale(i64),
    /// No signature matches any current secret.
    #[error("the signature does not match")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

/// The MAC of a delivery; `None` never happens (HMAC takes keys of any length).
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `X-HMS-Signature` value for a body signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("v1={digest}")
}

/// Checks a delivery: the timestamp within the window and one of the `v1`
/// signatures valid under one of `secrets` (several during a rotation).
/// Comparison is constant-time.
pub fn verify(
    secrets: &[Vec<u8>],
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?;
    let signature = signature.ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = timestamp.saturating_sub(now);
    if skew.abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(skew));
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    let valid = secrets.iter().any(|secret| {
        candidates.iter().any(|candidate| {
            mac(secret, timestamp, body).is_some_and(|m| m.verify_slice(candidate).is_ok())
        })
    });
    if valid {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_within_the_window_only() {
        let secret = b"hrsec_test".to_vec();
        let body = br#"{"id":"evt-1"}"#;
        let header = sign(&secret, 1_000, body);
        let ok = verify(
            std::slice::from_ref(&secret),
            Some(&header),
            Some("1000"),
            body,
            1_100,
        );
        assert_eq!(ok, Ok(()));
        let stale = verify(
            std::slice::from_ref(&secret),
            Some(&header),
            Some("1000"),
            body,
            2_000,
        );
        assert_eq!(stale, Err(SignatureError::Stale(-1000)));
        let tampered = verify(
            std::slice::from_ref(&secret),
            Some(&header),
            Some("1000"),
            b"{}",
            1_000,
        );
        assert_eq!(tampered, Err(SignatureError::Mismatch));
        let other = verify(
            &[b"other".to_vec()],
            Some(&header),
            Some("1000"),
            body,
            1_000,
        );
        assert_eq!(other, Err(SignatureError::Mismatch));
        let rotated = verify(
            &[b"new".to_vec(), secret],
            Some(&format!("v1=00, {header}")),
            Some("1000"),
            body,
            1_000,
        );
        assert_eq!(rotated, Ok(()));
        assert_eq!(
            verify(&[], None, Some("1"), body, 1),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
    }
}
