//! RFC 3339 text for unix microseconds, covering every `i64` value.
//!
//! Times are written in UTC with six fractional digits and `Z`. Years outside
//! 0000–9999 (which RFC 3339 cannot express) are written with a sign and at
//! least four digits, as ISO 8601 expanded years, so that every value still
//! reads back to itself.

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
const EPOCH_SHIFT_DAYS: i64 = 719_468;
const DAYS_PER_400_YEARS: i64 = 146_097;
/// More year digits than this cannot be a representable time.
const MAX_YEAR_DIGITS: usize = 9;

/// Formats unix microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn format(micros: i64) -> String {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:06}Z")
}

/// Parses an RFC 3339 date-time with any offset into unix microseconds,
/// truncating fractional digits below the microsecond.
pub(crate) fn parse(text: &str) -> Result<i64, &'static str> {
    let mut cursor = Cursor::new(text);
    let year = cursor.year()?;
    cursor.expect(b"-")?;
    let month = cursor.number(2)?;
    cursor.expect(b"-")?;
    let day = cursor.number(2)?;
    cursor.expect(b"Tt")?;
    let hour = cursor.number(2)?;
    cursor.expect(b":")?;
    let minute = cursor.number(2)?;
    cursor.expect(b":")?;
    let second = cursor.number(2)?;
    let fraction = cursor.fraction()?;
    let offset = cursor.offset()?;
    if !cursor.at_end() {
        return Err("unexpected text after the offset");
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("no such time of day (leap seconds are not accepted)");
    }
    let seconds = days_from_civil(year, month, day)
        .checked_mul(SECONDS_PER_DAY)
        .and_then(|s| s.checked_add(hour * 3600 + minute * 60 + second - offset));
    seconds
        .map(|s| i128::from(s) * i128::from(MICROS_PER_SECOND) + i128::from(fraction))
        .and_then(|micros| i64::try_from(micros).ok())
        .ok_or("out of the representable range")
}

/// (year, month, day) of a day counted from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + EPOCH_SHIFT_DAYS;
    let era = shifted.div_euclid(DAYS_PER_400_YEARS);
    let day_of_era = shifted.rem_euclid(DAYS_PER_400_YEARS);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a (year, month, day) date; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_400_YEARS + day_of_era - EPOCH_SHIFT_DAYS
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads the text left to right.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// Consumes one byte that must be one of `allowed`.
    fn expect(&mut self, allowed: &[u8]) -> Result<u8, &'static str> {
        match self.peek() {
            Some(byte) if allowed.contains(&byte) => {
                self.position += 1;
                Ok(byte)
            }
            _ => Err("not of the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"),
        }
    }

    fn digit_run(&self) -> usize {
        self.bytes.get(self.position..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    }

    /// Consumes exactly `count` digits.
    fn number(&mut self, count: usize) -> Result<i64, &'static str> {
        if self.digit_run() < count {
            return Err("a field has too few digits");
        }
        Ok(self.take_digits(count))
    }

    fn take_digits(&mut self, count: usize) -> i64 {
        let digits = self
            .bytes
            .get(self.position..self.position + count)
            .unwrap_or(&[]);
        self.position += count;
        digits
            .iter()
            .fold(0, |value, digit| value * 10 + i64::from(digit - b'0'))
    }

    /// Four digits, or a sign and four or more digits (an expanded year).
    fn year(&mut self) -> Result<i64, &'static str> {
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return self.number(4),
        };
        self.position += 1;
        let count = self.digit_run();
        if !(4..=MAX_YEAR_DIGITS).contains(&count) {
            return Err("an expanded year needs 4 to 9 digits");
        }
        Ok(sign * self.take_digits(count))
    }

    /// An optional `.` and one or more digits, as microseconds (extra digits dropped).
    fn fraction(&mut self) -> Result<i64, &'static str> {
        if self.peek() != Some(b'.') {
            return Ok(0);
        }
        self.position += 1;
        let count = self.digit_run();
        if count == 0 {
            return Err("a decimal point without digits");
        }
        let kept = count.min(6);
        let micros = self.take_digits(kept) * 10_i64.pow((6 - kept) as u32);
        self.position += count - kept;
        Ok(micros)
    }

    /// `Z` or `±HH:MM`, as seconds east of UTC.
    fn offset(&mut self) -> Result<i64, &'static str> {
        let sign = match self.expect(b"Zz+-")? {
            b'+' => 1,
            b'-' => -1,
            _ => return Ok(0),
        };
        let hours = self.number(2)?;
        self.expect(b":")?;
        let minutes = self.number(2)?;
        if hours > 23 || minutes > 59 {
            return Err("no such offset");
        }
        Ok(sign * (hours * 3600 + minutes * 60))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn formats_with_six_fractional_digits_and_z() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format(1_795_464_902_123_456), "2026-11-23T20:15:02.123456Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(format(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn every_i64_formats_and_reads_back() {
        for micros in [
            i64::MIN,
            i64::MAX,
            -62_167_219_200_000_001,
            253_402_300_800_000_000,
        ] {
            let text = format(micros);
            assert_eq!(parse(&text), Ok(micros), "{text}");
        }
        assert_eq!(format(i64::MIN), "-290308-12-21T19:59:05.224192Z");
        assert!(parse("-290308-12-21T19:59:05.224191Z").is_err());
        assert_eq!(
            format(-62_167_219_200_000_001),
            "-0001-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn agrees_with_the_time_crate_across_the_rfc3339_range() {
        let mut micros: i64 = -62_135_596_800_000_000; // 0001-01-01
        let step = 7_919_876_543_211; // about 92 days, and never a whole second
        while micros < 253_402_300_799_000_000 {
            let expected = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .unwrap()
                .format(&Rfc3339)
                .unwrap();
            let mine = format(micros);
            assert_eq!(mine[..19], expected[..19]);
            assert_eq!(parse(&mine), Ok(micros), "{mine}");
            assert_eq!(parse(&expected), Ok(micros), "{expected}");
            micros += step;
        }
    }

    #[test]
    fn accepts_any_offset_and_truncates_below_microseconds() {
        assert_eq!(parse("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse("1969-12-31t19:30:00.5-04:30"), Ok(500_000));
        assert_eq!(parse("1970-01-01T00:00:00.123456789z"), Ok(123_456));
        assert_eq!(parse("1970-01-01T00:00:00.1Z"), Ok(100_000));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "1970-01-01",
            "1970-01-01T00:00:00",
            "1970-01-01 00:00:00Z",
            "1970-13-01T00:00:00Z",
            "1970-02-29T00:00:00Z",
            "1970-01-00T00:00:00Z",
            "1970-01-01T24:00:00Z",
            "1970-01-01T23:59:60Z",
            "1970-01-01T00:00:00.Z",
            "1970-01-01T00:00:00Z ",
            "1970-01-01T00:00:00+24:00",
            "1970-01-01T00:00:00+0100",
            "+1970-1-01T00:00:00Z",
            "+999999999-12-31T23:59:59Z",
            "+1234567890-01-01T00:00:00Z",
            "19٧0-01-01T00:00:00Z",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
