//! Politeness: one place that decides when the next request may go. A `Retry-After` (on 429,
//! 503, or as a slow-down hint on a 200) pauses every request of the client, not just the one
//! that got it; `X-RateLimit-*` headers slow the client before the service has to block it.
//!
//! The rate-limit headers (Microsoft's docs/integrate/concepts/rate-limits.md): `Limit` is the
//! budget before delays start, `Remaining` what is left of it ("0 if already delayed or
//! blocked"), `Reset` the Unix time when usage is back to 0, and `Delay` how long the service
//! already held *this* request. So: once `Remaining` falls under half of `Limit`, requests are
//! spaced so that what remains lasts until `Reset` (before any 429); `Delay` is never added on
//! top, since the service has already imposed it.

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
    /// Requests not sent because the service asked for a wait longer than `--max-wait`, or one
    /// that would outlast `--deadline`.
    pub waits_refused: AtomicU64,
    /// Responses with a 3xx status: never followed.
    pub redirects_refused: AtomicU64,
    /// Responses dropped because their body grew past `--max-response-mb`.
    pub oversized: AtomicU64,
    /// Requests not sent because `--deadline` had passed.
    pub deadline_refused: AtomicU64,
    /// Requests held back to space them out as `X-RateLimit-Remaining` ran low.
    pub paced: AtomicU64,
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

/// Why a request may not wait for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitRefused {
    /// The service asked for a pause longer than the ceiling (`--max-wait`); `left` of it remains.
    TooLong { left: Duration, ceiling: Duration },
    /// The pause would end after the scan's deadline (or the deadline already passed).
    Deadline,
}

/// Requests spaced out while the rate-limit budget runs low: one per interval.
#[derive(Debug, Default)]
struct Spacing {
    /// Time between two requests; zero while the budget is ample.
    interval: Duration,
    /// When the next request may go.
    next: Option<Instant>,
    /// When the latest request whose answer reported the budget running low was sent: an
    /// answer to a request sent before it, processed late (many in flight, a busy machine),
    /// does not lift the spacing.
    low_since: Option<Instant>,
}

/// Spacing starts once `X-RateLimit-Remaining` falls under this share of `X-RateLimit-Limit`.
const SLOW_FROM: f64 = 0.5;
/// The budget taken for granted when the service sends `Remaining` without `Limit` (Microsoft
/// documents 200 TSTUs per five minutes).
const DEFAULT_LIMIT: f64 = 200.0;
/// The time to `Reset` assumed when the header is missing or already past.
const DEFAULT_RESET: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Pacer {
    pause_until: Mutex<Option<Instant>>,
    spacing: Mutex<Spacing>,
    /// Requests sent and not answered yet: they spend the budget before any response says so,
    /// so the spacing counts them as spent.
    in_flight: AtomicI64,
    /// The longest pause a request waits through; longer ones end the request instead.
    max_wait: Duration,
    /// Retries left for the whole run: a service that keeps failing ends in coverage gaps
    /// instead of an endless scan.
    retry_budget: AtomicI64,
    pub stats: ClientStats,
}

/// The longest pause a header is read as (about eleven days): only keeps the arithmetic of
/// instants finite; `max_wait` decides whether anyone waits.
const MAX_PAUSE: Duration = Duration::from_secs(1_000_000);

impl Pacer {
    /// `max_wait`: the longest pause the service may impose on a request (`--max-wait`).
    pub fn new(retry_budget: u32, max_wait: Duration) -> Self {
        Pacer {
            pause_until: Mutex::new(None),
            spacing: Mutex::new(Spacing::default()),
            in_flight: AtomicI64::new(0),
            max_wait,
            retry_budget: AtomicI64::new(i64::from(retry_budget)),
            stats: ClientStats::default(),
        }
    }

    /// Waits until the service's last request to pause has passed; counts the request that
    /// then goes. A pause longer than `max_wait`, or one that would end after `deadline`, is not
    /// waited through: the request is refused at once (it would otherwise stall the scan).
    pub async fn wait_turn(&self, deadline: Option<Instant>) -> Result<(), WaitRefused> {
        loop {
            let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                self.stats.deadline_refused.fetch_add(1, Ordering::Relaxed);
                return Err(WaitRefused::Deadline);
            }
            match until {
                Some(until) if until > now => {
                    let left = until - now;
                    if left > self.max_wait {
                        self.stats.waits_refused.fetch_add(1, Ordering::Relaxed);
                        return Err(WaitRefused::TooLong { left, ceiling: self.max_wait });
                    }
                    if deadline.is_some_and(|d| d < until) {
                        self.stats.waits_refused.fetch_add(1, Ordering::Relaxed);
                        return Err(WaitRefused::Deadline);
                    }
                    tokio::time::sleep_until(until).await
                }
                _ => break,
            }
        }
        // While the budget runs low, one request goes per interval: a request waits for the
        // next free moment and claims it only when it comes, so a spacing that is lifted or
        // changed holds no one back longer than one interval (no queue of far-off slots).
        let mut waited = false;
        loop {
            let wait_until = {
                let mut spacing = self.spacing.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match spacing.next {
                    _ if spacing.interval.is_zero() => None,
                    Some(next) if next > now => Some(next),
                    _ => {
                        spacing.next = Some(now + spacing.interval);
                        None
                    }
                }
            };
            let Some(until) = wait_until else { break };
            if deadline.is_some_and(|d| d < until) {
                self.stats.waits_refused.fetch_add(1, Ordering::Relaxed);
                return Err(WaitRefused::Deadline);
            }
            if !waited {
                waited = true;
                self.stats.paced.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep_until(until).await;
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The request let through by `wait_turn` ended (answered or not).
    pub fn done(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The spacing between requests in force (zero: none).
    pub fn spacing(&self) -> Duration {
        self.spacing.lock().unwrap_or_else(|p| p.into_inner()).interval
    }

    /// Spaces requests so that `remaining` units (less the requests still in flight) last until
    /// `reset_in`, once that is under `SLOW_FROM` of `limit`; lifts the spacing when the budget is ample again. One unit per
    /// request is assumed (a request costs at most about one TSTU), so the spacing errs slow.
    fn set_spacing(&self, remaining: f64, limit: Option<f64>, reset_in: Option<Duration>, sent: Instant) {
        let limit = limit.filter(|l| *l > 0.0).unwrap_or(DEFAULT_LIMIT);
        // This response's own request is answered; the others in flight will spend the budget.
        let others = (self.in_flight.load(Ordering::Relaxed) - 1).max(0) as f64;
        let remaining = remaining - others;
        let interval = if remaining >= limit * SLOW_FROM {
            Duration::ZERO
        } else {
            let reset_in = reset_in.filter(|r| !r.is_zero()).unwrap_or(DEFAULT_RESET);
            reset_in.div_f64(remaining.max(0.0) + 1.0).min(self.max_wait)
        };
        let mut spacing = self.spacing.lock().unwrap_or_else(|p| p.into_inner());
        if interval.is_zero() {
            if spacing.low_since.is_none_or(|low| sent >= low) {
                *spacing = Spacing::default();
            }
        } else {
            if spacing.interval.is_zero() {
                tracing::debug!(interval = %format_duration(interval), remaining, "rate-limit budget running low; spacing requests");
            }
            spacing.interval = interval;
            spacing.low_since = Some(spacing.low_since.map_or(sent, |low| low.max(sent)));
        }
    }

    /// The ceiling of a pause a request waits through (`--max-wait`).
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// How much longer requests wait at the service's request, if they do.
    pub fn paused_for(&self) -> Option<Duration> {
        let until = (*self.pause_until.lock().unwrap_or_else(|p| p.into_inner()))?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Pauses every request for `wait` (or keeps a longer pause already in force). A pause
    /// above `max_wait` is kept too, so that requests are refused rather than sent into it; it
    /// is not counted as time waited.
    pub fn pause(&self, wait: Duration) {
        let now = Instant::now();
        let until = now + wait.min(MAX_PAUSE);
        let mut current = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none_or(|c| c < until) {
            let from = current.filter(|c| *c > now).unwrap_or(now);
            if wait <= self.max_wait {
                self.stats.waited_ms.fetch_add((until - from).as_millis() as u64, Ordering::Relaxed);
                tracing::info!(wait = %format_duration(wait), "the service asked to wait; pausing every request");
            } else {
                tracing::info!(
                    wait = %format_duration(wait),
                    max_wait = %format_duration(self.max_wait),
                    "the service asked to wait longer than --max-wait; requests until then are not sent"
                );
            }
            *current = Some(until);
        }
    }

    /// Reads the politeness headers of any response: `Retry-After` pauses everyone;
    /// `X-RateLimit-Remaining` running low spaces requests out (see `set_spacing`). A
    /// `X-RateLimit-Delay` is counted as a throttle but not waited again: the service already
    /// held this request that long, and the spacing slows the ones that follow.
    pub fn observe(&self, status: u16, headers: &HeaderMap) {
        self.observe_sent(status, headers, Instant::now());
    }

    /// `observe` of the answer to a request sent at `sent`.
    pub fn observe_sent(&self, status: u16, headers: &HeaderMap, sent: Instant) {
        let told_to_wait = retry_after(headers);
        match header_f64(headers, "x-ratelimit-remaining").filter(|r| r.is_finite()) {
            // A Retry-After is the service's own pause: spacing on top of it would wait twice.
            Some(_) if told_to_wait.is_some() => {}
            Some(remaining) => {
                let reset_in = header_f64(headers, "x-ratelimit-reset").filter(|r| r.is_finite()).and_then(|epoch| {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
                    (epoch > now).then(|| Duration::from_secs_f64((epoch - now).min(MAX_PAUSE.as_secs_f64())))
                });
                self.set_spacing(remaining, header_f64(headers, "x-ratelimit-limit"), reset_in, sent);
            }
            // The service sends the rate-limit headers only while a caller is near or over its
            // limit: an answer without them says the budget is ample again.
            None if (200..300).contains(&status) => self.set_spacing(f64::INFINITY, None, None, sent),
            None => {}
        }
        if let Some(wait) = told_to_wait {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            self.pause(wait);
            return;
        }
        if status == 429 || status == 503 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if header_f64(headers, "x-ratelimit-delay").is_some_and(|d| d > 0.0) {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
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

/// `2h05m`, `5m`, `1m30s`, `42s`, `0.25s`: short and exact enough for messages.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.as_millis();
        return if ms == 0 { "0s".into() } else { format!("{:.2}s", d.as_secs_f64()) };
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_pauses_every_request() {
        let pacer = Pacer::new(10, Duration::from_secs(300));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        pacer.observe(429, &h);
        let start = Instant::now();
        pacer.wait_turn(None).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(2));
        // A shorter pause never cuts a longer one short.
        pacer.pause(Duration::from_secs(5));
        pacer.pause(Duration::from_secs(1));
        let start = Instant::now();
        pacer.wait_turn(None).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert_eq!(pacer.stats.throttled.load(Ordering::Relaxed), 1);
    }

    fn rate_headers(remaining: &str, limit: &str, reset_in_secs: Option<u64>, delay: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_str(remaining).unwrap());
        h.insert("x-ratelimit-limit", HeaderValue::from_str(limit).unwrap());
        if let Some(secs) = reset_in_secs {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            h.insert("x-ratelimit-reset", HeaderValue::from_str(&(now + secs).to_string()).unwrap());
        }
        if let Some(delay) = delay {
            h.insert("x-ratelimit-delay", HeaderValue::from_str(delay).unwrap());
        }
        h
    }

    /// Time `n` requests take to be let through.
    async fn time_for(pacer: &Pacer, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            pacer.wait_turn(None).await.unwrap();
            pacer.done();
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_delay_the_service_already_imposed_is_not_added_again() {
        let pacer = Pacer::new(2, Duration::from_secs(300));
        // Ample budget left, but this one request was held 0.25 s by the service.
        pacer.observe(200, &rate_headers("150", "200", Some(60), Some("0.250")));
        assert_eq!(time_for(&pacer, 3).await, Duration::ZERO, "no pause on top of the service's delay");
        assert_eq!(pacer.stats.throttled.load(Ordering::Relaxed), 1, "still counted as a throttle");
        assert!(pacer.take_retry() && pacer.take_retry());
        assert!(!pacer.take_retry(), "the budget is spent");
        let mut h = HeaderMap::new();
        // An HTTP date in the past: go now.
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_is_not_doubled_by_spacing_and_an_answer_without_limits_lifts_it() {
        let pacer = Pacer::new(10, Duration::from_secs(300));
        // A 429 with Retry-After and nothing left: the pause is the service's, no spacing on top.
        let mut h = rate_headers("0", "200", None, None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        pacer.observe(429, &h);
        assert_eq!(pacer.spacing(), Duration::ZERO);
        assert_eq!(time_for(&pacer, 3).await, Duration::from_secs(2), "the pause, once");
        // Running low spaces requests; an answer without rate-limit headers (the service sends
        // them only near the limit) lifts the spacing.
        pacer.observe(200, &rate_headers("4", "200", Some(10), None));
        assert!(pacer.spacing() > Duration::ZERO);
        pacer.observe(200, &HeaderMap::new());
        assert_eq!(pacer.spacing(), Duration::ZERO);
        // An error without the headers says nothing about the budget.
        pacer.observe(200, &rate_headers("4", "200", Some(10), None));
        pacer.observe(500, &HeaderMap::new());
        assert!(pacer.spacing() > Duration::ZERO);
        // An answer without the headers to a request sent before the one that reported the
        // budget running low (processed late) says nothing of the budget now; one sent after
        // it lifts the spacing.
        let (before, low) = (Instant::now(), Instant::now() + Duration::from_millis(5));
        pacer.observe_sent(200, &rate_headers("4", "200", Some(10), None), low);
        pacer.observe_sent(200, &HeaderMap::new(), before);
        assert!(pacer.spacing() > Duration::ZERO, "a stale answer lifted the spacing");
        pacer.observe_sent(200, &HeaderMap::new(), low + Duration::from_millis(1));
        assert_eq!(pacer.spacing(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_slow_down_as_the_remaining_budget_approaches_zero() {
        let pacer = Pacer::new(10, Duration::from_secs(300));
        // Above half of the limit: no spacing.
        pacer.observe(200, &rate_headers("120", "200", Some(10), None));
        assert_eq!(time_for(&pacer, 10).await, Duration::ZERO);
        // 49 left, 10 s to the reset: about one request per 0.2 s.
        pacer.observe(200, &rate_headers("49", "200", Some(10), None));
        let at_49 = pacer.spacing();
        assert!(at_49 > Duration::from_millis(150) && at_49 <= Duration::from_millis(200), "{at_49:?}");
        let spaced = time_for(&pacer, 5).await;
        assert!(spaced >= at_49 * 4, "{spaced:?}");
        // Fewer left: slower still; none left (already delayed): one request per reset period.
        pacer.observe(200, &rate_headers("4", "200", Some(10), None));
        let at_4 = pacer.spacing();
        assert!(at_4 > at_49 * 5, "{at_4:?} vs {at_49:?}");
        pacer.observe(200, &rate_headers("0", "200", Some(10), Some("0.5")));
        assert!(pacer.spacing() > at_4 * 4);
        assert!(pacer.spacing() <= Duration::from_secs(10));
        assert!(pacer.stats.paced.load(Ordering::Relaxed) > 0);
        // The window clears: the budget is ample again and requests go at once.
        pacer.observe(200, &rate_headers("200", "200", Some(10), None));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(time_for(&pacer, 10).await, Duration::ZERO);
        // The spacing never exceeds the ceiling of a wait, and a missing Reset is read as 1 s.
        let pacer = Pacer::new(10, Duration::from_secs(2));
        pacer.observe(200, &rate_headers("0", "200", Some(3600), None));
        assert_eq!(pacer.spacing(), Duration::from_secs(2));
        pacer.observe(200, &rate_headers("9", "200", None, None));
        assert_eq!(pacer.spacing(), Duration::from_millis(100));
        // Requests in flight spend the budget before any answer says so: 9 left with 4 others
        // on their way is 5 left.
        for _ in 0..5 {
            pacer.wait_turn(None).await.unwrap();
        }
        pacer.observe(200, &rate_headers("9", "200", None, None));
        assert_eq!(pacer.spacing(), Duration::from_secs(1).div_f64(6.0));
    }

    #[tokio::test(start_paused = true)]
    async fn many_waiting_requests_are_released_within_one_interval_when_the_budget_recovers() {
        let pacer = Arc::new(Pacer::new(10, Duration::from_secs(300)));
        pacer.observe(200, &rate_headers("0", "200", None, None));
        assert_eq!(pacer.spacing(), Duration::from_secs(1));
        let start = Instant::now();
        let waiting: Vec<_> = (0..64)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait_turn(None).await.unwrap();
                    pacer.done();
                    Instant::now()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        pacer.observe(200, &rate_headers("150", "200", None, None));
        let mut last = start;
        for w in waiting {
            last = last.max(w.await.unwrap());
        }
        // Three went at 0 s, 1 s and 2 s; the other 61 at 3 s, not 63 s.
        assert_eq!(last - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_above_the_ceiling_or_past_the_deadline_is_refused_without_sleeping() {
        let pacer = Pacer::new(10, Duration::from_secs(300));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        pacer.observe(429, &h);
        let start = Instant::now();
        match pacer.wait_turn(None).await {
            Err(WaitRefused::TooLong { left, ceiling }) => {
                assert!(left > Duration::from_secs(999_000), "{left:?}");
                assert_eq!(ceiling, Duration::from_secs(300));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "refused at once, not slept");
        assert_eq!(pacer.stats.waited_ms.load(Ordering::Relaxed), 0, "nobody waited");
        assert_eq!(pacer.stats.requests.load(Ordering::Relaxed), 0, "nothing sent");

        // A pause under the ceiling that would end after the deadline is refused too.
        let pacer = Pacer::new(10, Duration::from_secs(300));
        pacer.pause(Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(pacer.wait_turn(Some(deadline)).await, Err(WaitRefused::Deadline));
        assert_eq!(start.elapsed(), Duration::ZERO);
        // A deadline already passed refuses even without a pause.
        let pacer = Pacer::new(10, Duration::from_secs(300));
        assert_eq!(pacer.wait_turn(Some(Instant::now())).await, Err(WaitRefused::Deadline));
        assert!(pacer.wait_turn(Some(Instant::now() + Duration::from_secs(1))).await.is_ok());
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(130)), "2m10s");
        assert_eq!(format_duration(Duration::from_secs(999_999)), "277h46m39s");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_millis(250)), "0.25s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
