//! The simulator's rate limiting, after Azure DevOps': a sliding-window budget per caller that
//! first slows responses down (`X-RateLimit-Delay`), then blocks with 429 and `Retry-After`.
//! It records every request that arrives while the caller was told to wait: a polite client
//! causes none.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
// tokio's clock: under a paused test clock, windows pass in virtual time.
use tokio::time::Instant;

/// A sliding-window request budget.
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Requests allowed per window before blocking.
    pub budget: u32,
    pub window: Duration,
    /// Share of the budget after which responses are delayed.
    pub delay_from: f64,
    /// Delay added to responses past `delay_from`.
    pub delay: Duration,
    /// Requests arriving this soon after a 429 was sent were already on their way: not
    /// violations.
    pub grace: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            budget: 200,
            window: Duration::from_secs(5),
            delay_from: 0.8,
            delay: Duration::from_millis(50),
            grace: Duration::from_millis(150),
        }
    }
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Serve it, after `delay`, with these `X-RateLimit-*` headers.
    Serve { delay: Duration, headers: Vec<(String, String)> },
    /// Answer 429.
    Block { retry_after: Duration, headers: Vec<(String, String)> },
}

#[derive(Debug, Default)]
struct Window {
    recent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    blocked_at: Option<Instant>,
}

#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    window: Mutex<Window>,
    pub blocked: AtomicU64,
    pub delayed: AtomicU64,
    /// Requests that arrived while the caller had been told to wait (after the grace).
    pub violations: AtomicU64,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            window: Mutex::new(Window::default()),
            blocked: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            violations: AtomicU64::new(0),
        }
    }

    pub fn check(&self, now: Instant) -> Verdict {
        let l = &self.limit;
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        while w.recent.front().is_some_and(|t| now.duration_since(*t) >= l.window) {
            w.recent.pop_front();
        }
        let reset = |w: &Window| {
            let clears = w.recent.front().map_or(Duration::ZERO, |t| l.window.saturating_sub(now.duration_since(*t)));
            (SystemTime::now() + clears).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() + 1)
        };
        // `X-RateLimit-Limit` is the budget before delays start and `X-RateLimit-Remaining` what
        // is left of it, declining with every request of the window (Microsoft's
        // docs/integrate/concepts/rate-limits.md); blocking comes later, at `budget`.
        let delay_threshold = (f64::from(l.budget) * l.delay_from) as u64;
        let base = |remaining: u64, w: &Window| {
            vec![
                ("X-RateLimit-Resource".to_string(), "Simulator/TokenAdmin".to_string()),
                ("X-RateLimit-Limit".to_string(), delay_threshold.to_string()),
                ("X-RateLimit-Remaining".to_string(), remaining.to_string()),
                ("X-RateLimit-Reset".to_string(), reset(w).to_string()),
            ]
        };
        if let Some(until) = w.blocked_until {
            if now < until {
                if w.blocked_at.is_some_and(|at| now.duration_since(at) > l.grace) {
                    self.violations.fetch_add(1, Ordering::Relaxed);
                }
                self.blocked.fetch_add(1, Ordering::Relaxed);
                return Verdict::Block { retry_after: until - now, headers: base(0, &w) };
            }
            w.blocked_until = None;
            w.blocked_at = None;
        }
        let used = w.recent.len() as u64;
        if used >= u64::from(l.budget) {
            let oldest = w.recent.front().copied().unwrap_or(now);
            let retry_after = l.window.saturating_sub(now.duration_since(oldest)).max(Duration::from_millis(100));
            w.blocked_until = Some(now + retry_after);
            w.blocked_at = Some(now);
            self.blocked.fetch_add(1, Ordering::Relaxed);
            return Verdict::Block { retry_after, headers: base(0, &w) };
        }
        w.recent.push_back(now);
        if used >= delay_threshold {
            self.delayed.fetch_add(1, Ordering::Relaxed);
            let mut headers = base(0, &w);
            headers.push(("X-RateLimit-Delay".to_string(), format!("{:.3}", l.delay.as_secs_f64())));
            return Verdict::Serve { delay: l.delay, headers };
        }
        Verdict::Serve { delay: Duration::ZERO, headers: base(delay_threshold - used, &w) }
    }
}

/// `Retry-After` as the service writes it: whole seconds, rounded up (fractions are kept only
/// below one second, so tests can throttle without slowing down).
pub fn retry_after_value(wait: Duration) -> String {
    if wait < Duration::from_secs(1) {
        // Rounded up to the millisecond: never shorter than the real wait.
        format!("{:.3}", (wait.as_secs_f64() * 1000.0).ceil() / 1000.0)
    } else {
        wait.as_secs_f64().ceil().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_then_blocks_then_recovers_and_counts_violations() {
        let limiter = Limiter::new(RateLimit {
            budget: 10,
            window: Duration::from_secs(1),
            delay_from: 0.5,
            delay: Duration::from_millis(10),
            grace: Duration::from_millis(100),
        });
        let t0 = Instant::now();
        for i in 0..10 {
            match limiter.check(t0) {
                Verdict::Serve { delay, .. } => assert_eq!(delay.is_zero(), i < 5, "request {i}"),
                other => panic!("request {i}: {other:?}"),
            }
        }
        let Verdict::Block { retry_after, .. } = limiter.check(t0) else { panic!("over budget") };
        assert!(retry_after <= Duration::from_secs(1));
        // Within the grace: already on its way, not a violation.
        assert!(matches!(limiter.check(t0 + Duration::from_millis(50)), Verdict::Block { .. }));
        assert_eq!(limiter.violations.load(Ordering::Relaxed), 0);
        // After the grace, before Retry-After: a violation.
        assert!(matches!(limiter.check(t0 + Duration::from_millis(500)), Verdict::Block { .. }));
        assert_eq!(limiter.violations.load(Ordering::Relaxed), 1);
        // After the window: served again.
        assert!(matches!(limiter.check(t0 + Duration::from_millis(1100)), Verdict::Serve { .. }));
        assert_eq!(retry_after_value(Duration::from_millis(1200)), "2");
        assert_eq!(retry_after_value(Duration::from_millis(200)), "0.200");
    }

    #[test]
    fn remaining_declines_with_sustained_load_before_any_delay() {
        let limiter = Limiter::new(RateLimit { budget: 10, delay_from: 0.5, ..RateLimit::default() });
        let t0 = Instant::now();
        let header = |v: &Verdict, name: &str| match v {
            Verdict::Serve { headers, .. } | Verdict::Block { headers, .. } => {
                headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.parse::<u64>().unwrap())
            }
        };
        let remaining: Vec<u64> =
            (0..6).map(|_| header(&limiter.check(t0), "X-RateLimit-Remaining").unwrap()).collect();
        assert_eq!(remaining, [5, 4, 3, 2, 1, 0]);
        assert_eq!(header(&limiter.check(t0), "X-RateLimit-Limit"), Some(5), "the budget before delays start");
    }
}
