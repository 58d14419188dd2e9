//! The HTTP transport of every Entra token request: bounded (no redirect followed, a capped
//! body, a time limit, no long pause at the endpoint's request), and, for the simulator, routed
//! to a loopback address: the simulator serves the token endpoint over plain http on 127.0.0.1,
//! while `azure_identity` insists on an https authority. In that mode every other destination
//! that is not loopback is refused, so nothing leaves the machine.

use crate::TokenError;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use futures::StreamExt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A token answer is a few KiB; 1 MiB leaves room for any error page.
pub const MAX_TOKEN_RESPONSE_BYTES: u64 = 1024 * 1024;
/// One token request, body included.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `Retry-After` of a token endpoint that is waited for (by azure_core's retry
/// policy); a longer one fails the sign-in instead of stalling it.
pub const MAX_TOKEN_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The transport of Entra token requests: never follows a redirect (the request carries a
/// client secret or assertion), reads at most `max_body` bytes (after decompression) within
/// `timeout`, and refuses to be told to wait long.
#[derive(Debug)]
pub struct Bounded {
    inner: Arc<dyn HttpClient>,
    max_body: u64,
    timeout: Duration,
}

impl Bounded {
    pub fn new(inner: Arc<dyn HttpClient>, max_body: u64, timeout: Duration) -> Self {
        Bounded { inner, max_body, timeout }
    }

    /// The default: reqwest without redirects, bounded as documented above.
    pub fn default_client() -> Result<Arc<dyn HttpClient>, TokenError> {
        Ok(Arc::new(Bounded::new(plain_client()?, MAX_TOKEN_RESPONSE_BYTES, TOKEN_REQUEST_TIMEOUT)))
    }
}

/// A reqwest client for token requests; the same settings as azure_core's own, but with the
/// redirect policy stated here rather than trusted to a dependency's default.
fn plain_client() -> Result<Arc<dyn HttpClient>, TokenError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(TOKEN_REQUEST_TIMEOUT)
        .build()
        .map_err(|e| TokenError::HttpClient { detail: e.to_string() })?;
    Ok(Arc::new(client))
}

#[async_trait::async_trait]
impl HttpClient for Bounded {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let endpoint = shown_endpoint(request.url());
        let response =
            tokio::time::timeout_at(deadline, self.inner.execute_request(request)).await.map_err(|_| {
                Error::with_message(
                    ErrorKind::Io,
                    format!("{endpoint} did not answer within {}", crate::format_duration(self.timeout)),
                )
            })??;
        let status = u16::from(response.status());
        if (300..400).contains(&status) {
            // Not retried (kind Other): the redirect would come back the same.
            return Err(Error::with_message(
                ErrorKind::Other,
                format!("{endpoint} answered HTTP {status} (a redirect); redirects are never followed for sign-in"),
            ));
        }
        if status == 429 || status == 503 {
            let wait = response.headers().iter().find_map(|(name, value)| {
                let seconds: f64 = value.as_str().trim().parse().ok()?;
                match name.as_str() {
                    "retry-after" => Some(seconds),
                    "retry-after-ms" | "x-ms-retry-after-ms" => Some(seconds / 1000.0),
                    _ => None,
                }
            });
            if let Some(wait) = wait.filter(|w| w.is_nan() || *w > MAX_TOKEN_RETRY_AFTER.as_secs_f64()) {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    format!(
                        "{endpoint} asked to wait {wait:.0} s (HTTP {status}); sign-in waits at most {} s",
                        MAX_TOKEN_RETRY_AFTER.as_secs()
                    ),
                ));
            }
        }
        let (status, headers, body) = response.deconstruct();
        let max_body = self.max_body;
        let state = (body, 0u64, false);
        let capped = futures::stream::unfold(state, move |(mut body, read, done)| {
            let endpoint = endpoint.clone();
            async move {
                if done {
                    return None;
                }
                let next = match tokio::time::timeout_at(deadline, body.next()).await {
                    Err(_) => Err(Error::with_message(
                        ErrorKind::Io,
                        format!("{endpoint}: the answer did not complete in time"),
                    )),
                    Ok(None) => return None,
                    Ok(Some(Err(e))) => Err(e),
                    Ok(Some(Ok(chunk))) if read + chunk.len() as u64 > max_body => Err(Error::with_message(
                        ErrorKind::Other,
                        format!("response of {endpoint} exceeds {} KiB; not read further", max_body / 1024),
                    )),
                    Ok(Some(Ok(chunk))) => {
                        let read = read + chunk.len() as u64;
                        return Some((Ok(chunk), (body, read, false)));
                    }
                };
                Some((next, (body, read, true)))
            }
        });
        Ok(AsyncRawResponse::new(status, headers, Box::pin(capped)))
    }
}

/// `POST https://host/path` without query (errors must not echo request parameters).
fn shown_endpoint(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Why a request of sign-in may not go where it asks, with the authority routed to loopback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RouteError {
    #[error("cannot switch the authority to http")]
    Scheme,
    #[error("cannot route the authority")]
    Route,
    #[error("the authority is routed to loopback, so '{host}' is not contacted")]
    NotContacted { host: String },
}

/// Sends requests for `authority_host` to `target` over plain http.
#[derive(Debug)]
pub struct LoopbackAuthority {
    authority_host: String,
    target: SocketAddr,
    inner: Arc<dyn HttpClient>,
}

impl LoopbackAuthority {
    /// `target` must be a loopback address.
    pub fn new(authority: &Url, target: SocketAddr) -> Result<Self, TokenError> {
        if !target.ip().is_loopback() {
            return Err(TokenError::NotLoopback { target });
        }
        let authority_host = authority
            .host_str()
            .ok_or_else(|| TokenError::NoHost { authority: authority.to_string() })?
            .to_ascii_lowercase();
        Ok(LoopbackAuthority { authority_host, target, inner: plain_client()? })
    }

    /// Where a request for `url` goes, or why it may not go anywhere.
    fn route(&self, url: &Url) -> Result<Url, RouteError> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host == self.authority_host {
            let mut routed = url.clone();
            routed.set_scheme("http").map_err(|_| RouteError::Scheme)?;
            routed.set_ip_host(self.target.ip()).map_err(|_| RouteError::Route)?;
            routed.set_port(Some(self.target.port())).map_err(|_| RouteError::Route)?;
            return Ok(routed);
        }
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if loopback { Ok(url.clone()) } else { Err(RouteError::NotContacted { host }) }
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackAuthority {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let routed =
            self.route(request.url()).map_err(|e| Error::with_message(ErrorKind::Connection, e.to_string()))?;
        let mut request = request.clone();
        *request.url_mut() = routed;
        self.inner.execute_request(&request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_authority_and_refuses_other_hosts() {
        let authority = Url::parse("https://login.sim.invalid").unwrap();
        let t = LoopbackAuthority::new(&authority, "127.0.0.1:4567".parse().unwrap()).unwrap();
        let token = Url::parse("https://login.sim.invalid/tenant/oauth2/v2.0/token?x=1").unwrap();
        assert_eq!(t.route(&token).unwrap().as_str(), "http://127.0.0.1:4567/tenant/oauth2/v2.0/token?x=1");
        let msi = Url::parse("http://127.0.0.1:9/msi/token").unwrap();
        assert_eq!(t.route(&msi).unwrap(), msi);
        for outside in ["http://169.254.169.254/metadata/identity/oauth2/token", "https://login.microsoftonline.com/t"]
        {
            assert!(
                t.route(&Url::parse(outside).unwrap()).unwrap_err().to_string().contains("not contacted"),
                "{outside}"
            );
        }
        assert!(LoopbackAuthority::new(&authority, "10.0.0.1:80".parse().unwrap()).is_err());
    }

    /// A loopback server that answers every request with `answer` and counts the requests.
    async fn serve(answer: Vec<u8>) -> (Url, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/tenant/oauth2/v2.0/token?secret=s3", listener.local_addr().unwrap()))
            .unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(&answer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (url, count)
    }

    async fn fetch(answer: &str, max_body: u64) -> (azure_core::Result<Vec<u8>>, usize) {
        let (url, count) = serve(answer.as_bytes().to_vec()).await;
        let client = Bounded::new(plain_client().unwrap(), max_body, Duration::from_secs(5));
        let request = Request::new(url, azure_core::http::Method::Post);
        let result = match client.execute_request(&request).await {
            Ok(response) => response.into_body().collect().await.map(|b| b.to_vec()),
            Err(e) => Err(e),
        };
        (result, count.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test]
    async fn token_requests_follow_no_redirect_read_a_bounded_body_and_wait_little() {
        let (result, requests) = fetch(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:1/steal\r\nContent-Length: 0\r\n\r\n",
            1024,
        )
        .await;
        let err = result.unwrap_err().to_string();
        assert!(err.contains("HTTP 307") && err.contains("never followed"), "{err}");
        assert!(!err.contains("s3"), "the query is not echoed: {err}");
        assert_eq!(requests, 1);

        let big = format!("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{}", "x".repeat(5000));
        let err = fetch(&big, 1024).await.0.unwrap_err().to_string();
        assert!(err.contains("exceeds 1 KiB"), "{err}");
        let fine = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(fetch(fine, 1024).await.0.unwrap(), b"{}");

        let err = fetch("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 999999\r\nContent-Length: 0\r\n\r\n", 1024)
            .await
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("asked to wait 999999 s"), "{err}");
    }

    // Paused time: the deadline passes as soon as the client waits for the silent server.
    #[tokio::test(start_paused = true)]
    async fn a_silent_token_endpoint_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
        let _held = tokio::spawn(async move {
            let _socket = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let client = Bounded::new(plain_client().unwrap(), 1024, Duration::from_millis(300));
        let err = client.execute_request(&Request::new(url, azure_core::http::Method::Post)).await.unwrap_err();
        assert!(err.to_string().contains("did not answer within"), "{err}");
    }
}
