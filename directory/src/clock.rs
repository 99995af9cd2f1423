//! Timestamps as stored: RFC 3339 UTC text.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, as RFC 3339 UTC text.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Parses an RFC 3339 instant or a plain `YYYY-MM-DD` date (midnight UTC) and
/// returns it as `YYYY-MM-DDThh:mm:ssZ` in UTC.
pub fn normalise_instant(text: &str) -> Option<String> {
    let instant = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{text}T00:00:00Z"), &Rfc3339))
        .ok()?
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()?;
    instant.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_normalised_to_utc_seconds() {
        assert_eq!(
            normalise_instant("2027-03-01").as_deref(),
            Some("2027-03-01T00:00:00Z")
        );
        assert_eq!(
            normalise_instant("2027-03-01T10:30:00.123+02:00").as_deref(),
            Some("2027-03-01T08:30:00Z")
        );
        assert_eq!(normalise_instant("next tuesday"), None);
    }
}
