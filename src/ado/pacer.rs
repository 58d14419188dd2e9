//! Politeness: one place that decides when the next request may go. A `Retry-After` (on 429,
//! 503, or as a slow-down hint on a 200) pauses every request of the client, not just the one
//! that got it; `X-RateLimit-*` headers slow the client before the service has to block it.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// What the client did, for progress displays and summaries.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    /// Requests sent again after a throttle, server error, dropped connection or bad body.
    pub retries: AtomicU64,
    /// Responses that asked the client to wait (429, 503, `Retry-After`, rate-limit delay).
    pub throttled: AtomicU64,
    /// Time the scan was paused at the service's request, in milliseconds (counted once per
    /// pause, however many requests waited through it).
    pub waited_ms: AtomicU64,
}

impl ClientStats {
    pub fn snapshot(&self) -> (u64, u64, u64, Duration) {
        (
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            Duration::from_millis(self.waited_ms.load(Ordering::Relaxed)),
        )
    }
}

#[derive(Debug)]
pub struct Pacer {
    pause_until: Mutex<Option<Instant>>,
    /// Retries left for the whole run: a service that keeps failing ends in coverage gaps
    /// instead of an endless scan.
    retry_budget: AtomicI64,
    pub stats: ClientStats,
}

/// The longest pause a header can impose at once: an hour, the service's longest window (a
/// malformed header must not stall a scan for days).
const MAX_PAUSE: Duration = Duration::from_secs(3600);

impl Pacer {
    pub fn new(retry_budget: u32) -> Self {
        Pacer {
            pause_until: Mutex::new(None),
            retry_budget: AtomicI64::new(i64::from(retry_budget)),
            stats: ClientStats::default(),
        }
    }

    /// Waits until the service's last request to pause has passed.
    pub async fn wait_turn(&self) {
        loop {
            let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// How much longer requests wait at the service's request, if they do.
    pub fn paused_for(&self) -> Option<Duration> {
        let until = (*self.pause_until.lock().unwrap_or_else(|p| p.into_inner()))?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Pauses every request for `wait` (or keeps a longer pause already in force).
    pub fn pause(&self, wait: Duration) {
        let now = Instant::now();
        let until = now + wait.min(MAX_PAUSE);
        let mut current = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none_or(|c| c < until) {
            let from = current.filter(|c| *c > now).unwrap_or(now);
            self.stats.waited_ms.fetch_add((until - from).as_millis() as u64, Ordering::Relaxed);
            *current = Some(until);
        }
    }

    /// Reads the politeness headers of any response: `Retry-After` pauses everyone; a
    /// rate-limit delay (`X-RateLimit-Remaining: 0` with `X-RateLimit-Delay`) slows everyone
    /// down by the delay the service applied.
    pub fn observe(&self, status: u16, headers: &HeaderMap) {
        if let Some(wait) = retry_after(headers) {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            self.pause(wait);
            return;
        }
        if status == 429 || status == 503 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        if let (Some(remaining), Some(delay)) = (remaining, header_f64(headers, "x-ratelimit-delay"))
            && remaining <= 0.0
            && delay > 0.0
        {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            self.pause(Duration::from_secs_f64(delay.min(MAX_PAUSE.as_secs_f64())));
        }
    }

    /// Takes one retry from the run's budget; `false` when it is spent.
    pub fn take_retry(&self) -> bool {
        let left = self.retry_budget.fetch_sub(1, Ordering::Relaxed);
        if left > 0 {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

/// `Retry-After` in seconds (fractions accepted) or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(value) = text.parse::<f64>() {
        return (value.is_finite() && value >= 0.0)
            .then(|| Duration::from_secs_f64(value.min(MAX_PAUSE.as_secs_f64())));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_PAUSE))
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_pauses_every_request() {
        let pacer = Pacer::new(10);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        pacer.observe(429, &h);
        let start = Instant::now();
        pacer.wait_turn().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        // A shorter pause never cuts a longer one short.
        pacer.pause(Duration::from_secs(5));
        pacer.pause(Duration::from_secs(1));
        let start = Instant::now();
        pacer.wait_turn().await;
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert_eq!(pacer.stats.throttled.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_delay_slows_down_and_the_budget_runs_out() {
        let pacer = Pacer::new(2);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-delay", HeaderValue::from_static("0.250"));
        pacer.observe(200, &h);
        let start = Instant::now();
        pacer.wait_turn().await;
        assert!(start.elapsed() >= Duration::from_millis(250));
        assert!(pacer.take_retry() && pacer.take_retry());
        assert!(!pacer.take_retry(), "the budget is spent");
        let mut h = HeaderMap::new();
        // An HTTP date in the past: go now.
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
