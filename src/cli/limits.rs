//! Bounds of a scan's conversation with the service: response size, pages, waits, time.

use crate::ado::{ClientOptions, DEFAULT_MAX_LISTING_PAGES, DEFAULT_MAX_PAGES_PER_OWNER, DEFAULT_MAX_RESPONSE_MB};
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest response body read, in MiB, counted after decompression; a larger answer makes
    /// that owner a coverage gap (the user listing: an error). Not retried.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RESPONSE_MB, value_parser = clap::value_parser!(u64).range(1..=4096), help_heading = "Limits")]
    pub max_response_mb: u64,

    /// Token Admin pages read for one owner; an owner still paging after N pages is a coverage gap.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PAGES_PER_OWNER, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Limits")]
    pub max_pages: u32,

    /// Graph pages read when listing the organization's users; more is an error.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LISTING_PAGES, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Limits")]
    pub max_listing_pages: u32,

    /// Stop sending requests this long after the start (e.g. 90s, 30m, 2h); owners not read by
    /// then are coverage gaps "deadline reached" and the result is still written. Default: none.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Limits")]
    pub deadline: Option<Duration>,

    /// Longest pause the service may ask for (Retry-After); a request told to wait longer is
    /// not retried and its owner is a coverage gap.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, help_heading = "Limits")]
    pub max_wait: Duration,

    /// Time allowed for one request, body included. A request that times out is tried once
    /// more, then given up.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "Limits")]
    pub request_timeout: Duration,
}

impl LimitArgs {
    /// The client options these flags set; `started` is when the command started (the
    /// deadline counts from it).
    pub fn apply(&self, options: ClientOptions, started: tokio::time::Instant) -> ClientOptions {
        ClientOptions {
            max_response_bytes: self.max_response_mb * 1024 * 1024,
            max_pages_per_owner: self.max_pages,
            max_listing_pages: self.max_listing_pages,
            deadline: self.deadline.map(|d| started + d),
            max_wait: self.max_wait,
            request_timeout: self.request_timeout,
            ..options
        }
    }
}

/// `90s`, `30m`, `2h`, `1h30m`, `500ms`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, super::ValueError> {
    let text = text.trim();
    let invalid = || super::ValueError::Duration(text.to_string());
    if text.is_empty() {
        return Err(invalid());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total = unit
            .checked_mul(u32::try_from(value).map_err(|_| invalid())?)
            .ok_or_else(invalid)?
            .checked_add(total)
            .ok_or_else(invalid)?;
    }
    Ok(total)
}

/// Returns the heap's free pages to the system (glibc keeps them, fragmented between live
/// allocations, after a phase that allocated and freed much). A no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes any padding and only releases memory no allocation holds.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_the_usual_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "m", "5x", "-5s", "1.5h", "s5", "99999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_deadline_counts_from_the_start() {
        let started = tokio::time::Instant::now();
        let args = LimitArgs {
            max_response_mb: 8,
            max_pages: 3,
            max_listing_pages: 4,
            deadline: Some(Duration::from_secs(90)),
            max_wait: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
        };
        let o = args.apply(ClientOptions::default(), started);
        assert_eq!(o.max_response_bytes, 8 * 1024 * 1024);
        assert_eq!((o.max_pages_per_owner, o.max_listing_pages), (3, 4));
        assert_eq!(o.deadline, Some(started + Duration::from_secs(90)));
        assert_eq!((o.max_wait, o.request_timeout), (Duration::from_secs(10), Duration::from_secs(5)));
    }
}
