//! Timestamps as Azure DevOps sends them: `2020-10-24T03:04:57.52Z`, `…+00:00`, and zone-less
//! `2018-07-19T00:00:00` (read as UTC), with zero to seven fractional digits.

use chrono::{DateTime, NaiveDateTime, Utc};

/// A service timestamp that is not one (the value shown cut to 40 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not a timestamp (expected e.g. 2020-10-24T03:04:57.52Z)")]
pub struct TimestampError {
    shown: String,
}

/// Parses one service timestamp. Zone-less values are UTC.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, TimestampError> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .map_err(|_| TimestampError { shown: shown(s) })
}

/// At most 40 characters of a value that failed to parse: enough to recognise it, and a hostile
/// service cannot fill a report through one field.
fn shown(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn parses_every_shape_the_service_sends() {
        let z = parse_timestamp("2020-10-24T03:04:57.52Z").unwrap();
        assert_eq!(z.nanosecond(), 520_000_000);
        let seven = parse_timestamp("2020-11-23T04:04:38.5233333Z").unwrap();
        assert_eq!(seven.nanosecond(), 523_333_300);
        let zoneless = parse_timestamp("2018-07-19T00:00:00").unwrap();
        assert_eq!(zoneless, Utc.with_ymd_and_hms(2018, 7, 19, 0, 0, 0).unwrap());
        let zoneless_frac = parse_timestamp("2018-07-19T00:00:00.1234567").unwrap();
        assert_eq!(zoneless_frac.nanosecond(), 123_456_700);
        let offset = parse_timestamp("2019-03-05T14:05:02.1460838+02:00").unwrap();
        assert_eq!(offset.hour(), 12);
        assert!(parse_timestamp("yesterday").unwrap_err().to_string().contains("'yesterday'"));
    }

    #[test]
    fn a_year_past_9999_is_an_error_and_long_values_are_cut() {
        assert!(parse_timestamp("10000-01-01T00:00:00Z").unwrap_err().to_string().contains("'10000-01-01T00:00:00Z'"));
        assert!(parse_timestamp("9999-12-31T23:59:59Z").is_ok());
        let long = "9".repeat(10_000);
        let e = parse_timestamp(&long).unwrap_err().to_string();
        assert!(e.len() < 200 && e.contains('…'), "{e}");
    }
}
