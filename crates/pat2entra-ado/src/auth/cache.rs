//! One token per run: the token is kept until shortly before it expires, then replaced; a token
//! the service refused is replaced at once. Concurrent requests share one acquisition.

use crate::{TokenError, TokenSource};
use futures::future::BoxFuture;
use pat2entra_core::secret::Secret;
use std::fmt;
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

/// Caches the token of one `Acquire`.
pub struct CachedTokens {
    source: Box<dyn Acquire>,
    name: String,
    held: Mutex<Option<Held>>,
}

impl fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokens").field("source", &self.name).finish_non_exhaustive()
    }
}

impl CachedTokens {
    pub fn new(name: impl Into<String>, source: Box<dyn Acquire>) -> Self {
        CachedTokens { source, name: name.into(), held: Mutex::new(None) }
    }

    /// When the token held now expires, if one is held.
    pub async fn expires_at(&self) -> Option<SystemTime> {
        self.held.lock().await.as_ref().map(|h| h.issued.expires_at)
    }

    async fn acquire_into(&self, held: &mut Option<Held>, fresh: bool) -> Result<Secret, TokenError> {
        let issued = self.source.acquire(fresh).await?;
        let now = SystemTime::now();
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
                && SystemTime::now() < h.refresh_at
            {
                return Ok(h.issued.token.clone());
            }
            if held.is_some() {
                tracing::debug!(source = %self.name, "the access token is about to expire; replacing it");
            }
            // Replacing early is a courtesy: while the held token is still valid, a failure to
            // replace it (a transient az or token endpoint error) must not stop a long scan.
            let still_valid =
                held.as_ref().filter(|h| SystemTime::now() < h.issued.expires_at).map(|h| h.issued.token.clone());
            match self.acquire_into(&mut held, false).await {
                Ok(token) => Ok(token),
                Err(error) => match still_valid {
                    Some(token) => {
                        tracing::warn!(source = %self.name, "could not replace the access token yet ({error}); using it until it expires");
                        // Try again a little later, not on every request meanwhile.
                        if let Some(h) = held.as_mut() {
                            let now = SystemTime::now();
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
                && SystemTime::now() < h.refresh_at
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out `token-1`, `token-2`, … with a fixed lifetime, and counts fresh requests.
    struct Counter {
        calls: Arc<AtomicUsize>,
        fresh_calls: Arc<AtomicUsize>,
        lifetime: Duration,
        delay: Duration,
    }

    impl Acquire for Counter {
        fn acquire(&self, fresh: bool) -> BoxFuture<'_, Result<Issued, TokenError>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if fresh {
                    self.fresh_calls.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Issued { token: Secret::new(format!("token-{n}")), expires_at: SystemTime::now() + self.lifetime })
            })
        }
    }

    fn cache(lifetime: Duration, delay: Duration) -> (Arc<CachedTokens>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let fresh_calls = Arc::new(AtomicUsize::new(0));
        let source = Counter { calls: calls.clone(), fresh_calls: fresh_calls.clone(), lifetime, delay };
        (Arc::new(CachedTokens::new("test", Box::new(source))), calls, fresh_calls)
    }

    #[tokio::test]
    async fn one_token_per_run_while_it_is_valid() {
        let (tokens, calls, _) = cache(Duration::from_secs(3600), Duration::ZERO);
        for _ in 0..50 {
            assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(tokens.expires_at().await.unwrap() > SystemTime::now() + Duration::from_secs(3500));
    }

    #[tokio::test]
    async fn concurrent_first_requests_share_one_acquisition() {
        let (tokens, calls, _) = cache(Duration::from_secs(3600), Duration::from_millis(50));
        let all = futures::future::join_all((0..16).map(|_| tokens.token())).await;
        assert!(all.iter().all(|t| t.as_ref().unwrap().expose() == "token-1"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_is_replaced_before_it_expires() {
        // A 1 s token is replaced 200 ms before its end.
        let (tokens, calls, fresh) = cache(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-1", "still well within its lifetime");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(tokens.token().await.unwrap().expose(), "token-2", "inside the refresh margin");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(fresh.load(Ordering::SeqCst), 0, "an expiry refresh may use the credential's own cache");
    }

    #[tokio::test]
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

    #[tokio::test]
    async fn an_acquisition_failure_is_reported_and_retried_next_time() {
        struct FailOnce(AtomicUsize);
        impl Acquire for FailOnce {
            fn acquire(&self, _: bool) -> BoxFuture<'_, Result<Issued, TokenError>> {
                Box::pin(async move {
                    if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(TokenError::Refused { explanation: "the Azure CLI is not signed in".to_string() })
                    } else {
                        Ok(Issued { token: Secret::new("t"), expires_at: SystemTime::now() + Duration::from_secs(60) })
                    }
                })
            }
        }
        let tokens = CachedTokens::new("flaky", Box::new(FailOnce(AtomicUsize::new(0))));
        assert_eq!(tokens.token().await.unwrap_err().to_string(), "the Azure CLI is not signed in");
        assert_eq!(tokens.token().await.unwrap().expose(), "t");
        assert!(!format!("{tokens:?}").contains("\"t\""));
    }
}
