//! One token per run: the token is kept until shortly before it expires, then replaced; a token
//! the service refused is replaced at once. Concurrent requests share one acquisition.

use crate::{TokenError, TokenSource};
use futures::future::BoxFuture;
use pat2entra_core::secret::Secret;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The longest time before expiry a token is replaced (Entra tokens live 60 to 90 minutes).
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// An access token and when it expires.
#[derive(Clone)]
pub struct Issued {
    pub token: Secret,
    pub expires_at: SystemTime,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued").field("token", &self.token).field("expires_at", &self.expires_at).finish()
    }
}

/// Gets a new token from wherever tokens come from. `fresh`: the last token was refused, so
/// bypass any cache below this one.
pub trait Acquire: Send + Sync {
    fn acquire(&self, fresh: bool) -> BoxFuture<'_, Result<Issued, TokenError>>;
}

struct Held {
    issued: Issued,
    /// When to replace the token: before it expires by a fifth of its lifetime, at most
    /// five minutes.
    refresh_at: SystemTime,
}

/// Where the cache reads the time: the system clock, or a test's virtual one (so tests of expiry
/// need not wait in real time). Wall-clock time, because expiry times come from the token service.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Caches the token of one `Acquire`.
pub struct CachedTokens {
    source: Box<dyn Acquire>,
    name: String,
    held: Mutex<Option<Held>>,
    clock: Clock,
}

impl fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokens").field("source", &self.name).finish_non_exhaustive()
    }
}

impl CachedTokens {
    pub fn new(name: impl Into<String>, source: Box<dyn Acquire>) -> Self {
        Self::with_clock(name, source, Arc::new(SystemTime::now))
    }

    /// A cache that reads the time from `clock`.
    pub fn with_clock(name: impl Into<String>, source: Box<dyn Acquire>, clock: Clock) -> Self {
        CachedTokens { source, name: name.into(), held: Mutex::new(None), clock }
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// When the token held now expires, if one is held.
    pub async fn expires_at(&self) -> Option<SystemTime> {
        self.held.lock().await.as_ref().map(|h| h.issued.expires_at)
    }

    async fn acquire_into(&self, held: &mut Option<Held>, fresh: bool) -> Result<Secret, TokenError> {
        let issued = self.source.acquire(fresh).await?;
        let now = self.now();
        let lifetime = issued.expires_at.duration_since(now).unwrap_or_default();
        let margin = (lifetime / 5).min(MAX_REFRESH_MARGIN);
        let refresh_at = issued.expires_at.checked_sub(margin).unwrap_or(now);
        tracing::debug!(
            source = %self.name,
            lifetime_s = lifetime.as_secs(),
            refresh_in_s = refresh_at.duration_since(now).unwrap_or_default().as_secs(),
            fresh,
            "acquired an Entra access token"
        );
        let token = issued.token.clone();
        *held = Some(Held { issued, refresh_at });
        Ok(token)
    }
}

impl TokenSource for CachedTokens {
    fn token(&self) -> BoxFuture<'_, Result<Secret, TokenError>> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            if let Some(h) = held.as_ref()
                && self.now() < h.refresh_at
            {
                return Ok(h.issued.token.clone());
            }
            if held.is_some() {
                tracing::debug!(source = %self.name, "the access token is about to expire; replacing it");
            }
            // Replacing early is a courtesy: while the held token is still valid, a failure to
            // replace it (a transient az or token endpoint error) must not stop a long scan.
            let still_valid =
                held.as_ref().filter(|h| self.now() < h.issued.expires_at).map(|h| h.issued.token.clone());
            match self.acquire_into(&mut held, false).await {
                Ok(token) => Ok(token),
                Err(error) => match still_valid {
                    Some(token) => {
                        tracing::warn!(source = %self.name, "could not replace the access token yet ({error}); using it until it expires");
                        // Try again a little later, not on every request meanwhile.
                        if let Some(h) = held.as_mut() {
                            let now = self.now();
                            let left = h.issued.expires_at.duration_since(now).unwrap_or_default();
                            h.refresh_at = now + (left / 2).min(std::time::Duration::from_secs(30));
                        }
                        Ok(token)
                    }
                    None => Err(error),
                },
            }
        })
    }

    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, TokenError>> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            // Another request already replaced the refused token: use the new one.
            if let Some(h) = held.as_ref()
                && h.issued.token != *rejected
                && self.now() < h.refresh_at
            {
                return Ok(h.issued.token.clone());
            }
            self.acquire_into(&mut held, true).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A wall clock that follows tokio's paused time: tests advance it instead of waiting.
    fn virtual_clock() -> Clock {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let start = tokio::time::Instant::now();
        Arc::new(move || base + start.elapsed())
    }

    /// Hands out `token-1`, `token-2`, … with a fixed lifetime, and counts fresh requests.
    struct Counter {
        calls: Arc<AtomicUsize>,
        fresh_calls: Arc<AtomicUsize>,
        lifetime: Duration,
        delay: Duration,
        clock: Clock,
    }

    impl Acquire for Counter {
        fn acquire(&self, fresh: bool) -> BoxFuture<'_, Result<Issued, TokenError>> {
            Box::pin(async move {
                // Virtual time (the tests run paused): lets concurrent requests pile up.
                tokio::time::sleep(self.delay).await;
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if fresh {
                    self.fresh_calls.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Issued { token: Secret::new(format!("token-{n}")), expires_at: (self.clock)() + self.lifetime })
            })
        }
    }

    fn cache(lifetime: Duration, delay: Duration) -> (Arc<CachedTokens>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let fresh_calls = Arc::new(AtomicUsize::new(0));
        let clock = virtual_clock();
        let source =
            Counter { calls: calls.clone(), fresh_calls: fresh_calls.clone(), lifetime, delay, clock: clock.clone() };
        (Arc::new(CachedTokens::with_clock("test", Box::new(source), clock)), calls, fresh_calls)
    }

    #[tokio::test(start_paused = true)]
    async fn one_token_per_run_while_it_is_valid() {
        let (tokens, calls, _) = cache(Duration::from_secs(3600), Duration::ZERO);
        for _ in 0..50 {
            assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(tokens.expires_at().await.unwrap() > tokens.now() + Duration::from_secs(3500));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_first_requests_share_one_acquisition() {
        let (tokens, calls, _) = cache(Duration::from_secs(3600), Duration::from_millis(50));
        let all = futures::future::join_all((0..16).map(|_| tokens.token())).await;
        assert!(all.iter().all(|t| t.as_ref().unwrap().expose() == "token-1"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_replaced_before_it_expires() {
        // A one-hour token is replaced five minutes (the largest margin) before its end.
        let (tokens, calls, fresh) = cache(Duration::from_secs(3600), Duration::ZERO);
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
        tokio::time::advance(Duration::from_secs(3600 - 301)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1", "just before the refresh margin");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-2", "inside the refresh margin");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(fresh.load(Ordering::SeqCst), 0, "an expiry refresh may use the credential's own cache");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_token_is_replaced_a_fifth_of_its_lifetime_before_it_expires() {
        // A 1 s token is replaced 200 ms before its end.
        let (tokens, calls, _) = cache(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
        tokio::time::advance(Duration::from_millis(790)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1", "still within its lifetime");
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-2", "inside the refresh margin");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn many_refusals_of_one_token_cause_one_fresh_acquisition() {
        let (tokens, calls, fresh) = cache(Duration::from_secs(3600), Duration::from_millis(20));
        let first = tokens.token().await.unwrap();
        let refreshed = futures::future::join_all((0..8).map(|_| tokens.refresh(&first))).await;
        assert!(refreshed.iter().all(|t| t.as_ref().unwrap().expose() == "token-2"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(fresh.load(Ordering::SeqCst), 1);
        // The new token is refused too: one more.
        assert_eq!(tokens.refresh(&Secret::new("token-2")).await.unwrap().expose(), "token-3");
        assert_eq!(tokens.token().await.unwrap().expose(), "token-3");
    }

    /// Succeeds on the calls whose number (from 0) is in `ok`, with a 60 s token each time.
    struct Scripted {
        calls: AtomicUsize,
        ok: &'static [usize],
        clock: Clock,
    }

    impl Acquire for Scripted {
        fn acquire(&self, _: bool) -> BoxFuture<'_, Result<Issued, TokenError>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if self.ok.contains(&n) {
                    Ok(Issued {
                        token: Secret::new(format!("t{n}")),
                        expires_at: (self.clock)() + Duration::from_secs(60),
                    })
                } else {
                    Err(TokenError::Refused { explanation: "the Azure CLI is not signed in".to_string() })
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_acquisition_failure_is_reported_and_retried_next_time() {
        let clock = virtual_clock();
        let source = Scripted { calls: AtomicUsize::new(0), ok: &[1], clock: clock.clone() };
        let tokens = CachedTokens::with_clock("flaky", Box::new(source), clock);
        assert_eq!(tokens.token().await.unwrap_err().to_string(), "the Azure CLI is not signed in");
        assert_eq!(tokens.token().await.unwrap().expose(), "t1");
        assert!(!format!("{tokens:?}").contains("\"t1\""));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_replacement_keeps_the_valid_token_and_retries_later() {
        // A 60 s token: refresh margin 12 s. The replacement fails once, then succeeds.
        let clock = virtual_clock();
        let source = Scripted { calls: AtomicUsize::new(0), ok: &[0, 2], clock: clock.clone() };
        let tokens = CachedTokens::with_clock("flaky", Box::new(source), clock);
        assert_eq!(tokens.token().await.unwrap().expose(), "t0");
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "t0", "still valid: used although replacing it failed");
        // The next try waits half of what is left (5 s), not every request meanwhile.
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "t0");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "t2");
    }
}
