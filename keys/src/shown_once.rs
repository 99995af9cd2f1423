//! Secrets the service hands out once: an API credential, a webhook secret,
//! a session or login secret.

use secrecy::{ExposeSecret, SecretString};

/// A secret shown once, in the answer that creates it: held as a
/// [`SecretString`] (wiped on drop, never in `Debug` or logs) and serialised
/// only there, as a plain string.
pub struct ShownOnce(SecretString);

impl ShownOnce {
    /// Wraps a freshly made secret.
    pub fn new(secret: String) -> Self {
        Self(SecretString::from(secret))
    }

    /// The secret, for the one place that must pass it on (a cookie, a CLI line).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for ShownOnce {
    fn clone(&self) -> Self {
        Self::new(self.expose().to_owned())
    }
}

impl std::fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShownOnce(…)")
    }
}

impl serde::Serialize for ShownOnce {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl utoipa::PartialSchema for ShownOnce {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}

impl utoipa::ToSchema for ShownOnce {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_in_its_answer_and_nowhere_else() {
        let secret = ShownOnce::new("hrsec_abc".into());
        assert_eq!(
            serde_json::to_string(&secret).ok().as_deref(),
            Some("\"hrsec_abc\"")
        );
        assert_eq!(format!("{secret:?}"), "ShownOnce(…)");
        assert!(!format!("{:?}", Some(&secret)).contains("abc"));
    }
}
