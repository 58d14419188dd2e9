//! The HTTP client: authentication, paging, retries. One place for all requests.

use super::connection::{Connection, TokenAdminProbe};
use super::credential::{Authorization, Credential};
use super::endpoints::{Endpoints, OrgRef};
use super::error::AdoError;
use super::pacer::{Pacer, retry_after};
use super::wire::{Collection, ConnectionData, GraphUser, TokenAdminPage, WrappedException};
use crate::inventory::{Owner, Token};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const GRAPH_API_VERSION: &str = "7.1-preview.1";
const TOKEN_ADMIN_API_VERSION: &str = "7.1";
const CONTINUATION_HEADER: &str = "x-ms-continuationtoken";
/// Times one request may be told to wait (429/503 with Retry-After) before it is given up.
const MAX_THROTTLED_ATTEMPTS: u32 = 100;

/// Tuning of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time allowed for one request, body included.
    pub request_timeout: Duration,
    /// Retries of one request after a throttle, a server error, a dropped connection or a
    /// malformed body.
    pub max_retries: u32,
    /// Upper bound of the exponential backoff (a server's `Retry-After` is always honoured).
    pub max_backoff: Duration,
    /// First backoff step.
    pub base_backoff: Duration,
    /// Retries allowed for the whole run; once spent, failing requests become coverage gaps.
    pub retry_budget: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(60),
            max_retries: 5,
            max_backoff: Duration::from_secs(30),
            base_backoff: Duration::from_millis(200),
            retry_budget: 10_000,
        }
    }
}

/// Which API a request goes to; decides how statuses are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    GraphUsers,
    TokenAdmin,
    ConnectionData,
}

/// Client for the Azure DevOps endpoints pat2entra uses.
pub struct AdoClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    org: OrgRef,
    credential: Credential,
    options: ClientOptions,
    pacer: Arc<Pacer>,
}

impl fmt::Debug for AdoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdoClient")
            .field("endpoints", &self.endpoints)
            .field("org", &self.org)
            .field("credential", &self.credential)
            .finish()
    }
}

impl AdoClient {
    pub fn new(
        endpoints: Endpoints,
        org: OrgRef,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("pat2entra/", env!("CARGO_PKG_VERSION")))
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let pacer = Arc::new(Pacer::new(options.retry_budget));
        Ok(AdoClient { http, endpoints, org, credential, options, pacer })
    }

    /// What the client did so far (requests, retries, throttling), shared with progress displays.
    pub fn pacer(&self) -> Arc<Pacer> {
        self.pacer.clone()
    }

    pub fn organization(&self) -> &str {
        self.org.name()
    }

    /// Every user (`aad` and `msa`) of the organization, following `X-MS-ContinuationToken`.
    pub async fn list_users(&self) -> Result<Vec<Owner>, AdoError> {
        let base = self.api_url(&self.endpoints.vssps, &["graph", "users"]);
        let mut owners = Vec::new();
        let mut continuation: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("subjectTypes", "aad,msa");
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", GRAPH_API_VERSION);
            }
            let (page, headers): (Collection<GraphUser>, HeaderMap) = self.get_json(Api::GraphUsers, &url).await?;
            // An owner listed twice (the directory changed while paging) is resolved by the scan
            // (`inventory::resolve_owners`), which keeps the version worst for risk and says so.
            owners.extend(page.value.into_iter().map(GraphUser::into_owner));
            let next = headers
                .get(CONTINUATION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            match next {
                None => break,
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(AdoError::Malformed {
                        endpoint: endpoint_name(&base),
                        detail: "a continuation token came back a second time; paging would never end".into(),
                    });
                }
                Some(next) => continuation = Some(next),
            }
        }
        Ok(owners)
    }

    /// Every personal access token of one owner, following the body's `continuationToken`.
    pub async fn list_pats(&self, owner_descriptor: &str, page_size: u32) -> Result<Vec<Token>, AdoError> {
        let base = self.api_url(&self.endpoints.vssps, &["tokenadmin", "personalaccesstokens", owner_descriptor]);
        let mut tokens = Vec::new();
        let mut continuation: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("pageSize", &page_size.to_string());
                q.append_pair("isPublic", "false");
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", TOKEN_ADMIN_API_VERSION);
            }
            let (page, _): (TokenAdminPage, HeaderMap) = self.get_json(Api::TokenAdmin, &url).await?;
            // Two versions of one token are resolved by the scan (`inventory::resolve_tokens`).
            tokens.extend(page.value.into_iter().map(|t| t.into_token(owner_descriptor)));
            match page.continuation_token.filter(|c| !c.trim().is_empty()) {
                None => break,
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(AdoError::Malformed {
                        endpoint: endpoint_name(&base),
                        detail: "a continuation token came back a second time; paging would never end".into(),
                    });
                }
                Some(next) => continuation = Some(next),
            }
        }
        Ok(tokens)
    }

    /// `GET https://dev.azure.com/{org}/_apis/connectionData`: who the credential belongs to,
    /// and which organization answered.
    pub async fn connection_data(&self) -> Result<Connection, AdoError> {
        let url = self.api_url(&self.endpoints.dev, &["connectionData"]);
        let (data, _): (ConnectionData, HeaderMap) = self.get_json(Api::ConnectionData, &url).await?;
        Connection::from_wire(data).map_err(|detail| AdoError::Malformed { endpoint: endpoint_name(&url), detail })
    }

    /// One Token Admin request for `descriptor` with `pageSize=1`: the cheapest proof that the
    /// caller may list other users' tokens (401/403 come back as `TokenAdminDenied`).
    pub async fn probe_token_admin(&self, descriptor: &str) -> Result<TokenAdminProbe, AdoError> {
        let mut url = self.api_url(&self.endpoints.vssps, &["tokenadmin", "personalaccesstokens", descriptor]);
        url.query_pairs_mut()
            .append_pair("pageSize", "1")
            .append_pair("isPublic", "false")
            .append_pair("api-version", TOKEN_ADMIN_API_VERSION);
        match self.get_json::<TokenAdminPage>(Api::TokenAdmin, &url).await {
            Ok((page, _)) => Ok(TokenAdminProbe::Allowed { tokens_on_first_page: page.value.len() }),
            // Authorized, but the identity is not a user with tokens (a service principal).
            Err(AdoError::Status { status: 404, .. }) => Ok(TokenAdminProbe::AllowedSubjectUnknown),
            Err(e) => Err(e),
        }
    }

    /// `{host}/{org}/_apis/{segments…}`, each segment percent-encoded.
    fn api_url(&self, host: &Url, segments: &[&str]) -> Url {
        let mut url = host.clone();
        {
            let mut path = url.path_segments_mut().expect("service URLs are hierarchical");
            path.pop_if_empty();
            path.push(self.org.name());
            path.push("_apis");
            path.extend(segments);
        }
        url
    }

    /// GET with retries; returns the parsed body and the response headers. A throttle, server
    /// error, dropped connection or malformed body is retried; a page is never half-parsed. A
    /// refused Entra token (401, or the 203 sign-in page) is refreshed once and the request sent
    /// again: tokens expire during long scans.
    async fn get_json<T: DeserializeOwned>(&self, api: Api, url: &Url) -> Result<(T, HeaderMap), AdoError> {
        let endpoint = endpoint_name(url);
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let mut throttled: u32 = 0;
        loop {
            attempt += 1;
            let authorization = self.credential.authorize().await?;
            self.pacer.wait_turn().await;
            let sent = self.send(url, &authorization).await;
            if let Ok((status, headers, _)) = &sent {
                self.pacer.observe(*status, headers);
            }
            let failure = match sent {
                Err(e) => Retryable::Transport(describe_transport(&e)),
                Ok((status, headers, body))
                    if !refreshed
                        && refused_credential(status, &headers, &body)
                        && authorization.refreshable.is_some() =>
                {
                    refreshed = true;
                    // A refresh is not one of the retries.
                    attempt -= 1;
                    tracing::debug!(%endpoint, status, "the service refused the access token; refreshing it once");
                    if let Some(rejected) = &authorization.refreshable {
                        self.credential.refresh(rejected).await?;
                    }
                    continue;
                }
                Ok((status, headers, _)) if status == 429 || status >= 500 => {
                    Retryable::Status { status, wait: retry_after(&headers) }
                }
                Ok((status, headers, body)) => {
                    self.check_status(api, &endpoint, status, &headers, &body)?;
                    match serde_json::from_slice::<T>(&body) {
                        Ok(value) => return Ok((value, headers)),
                        Err(e) => Retryable::Malformed(e.to_string()),
                    }
                }
            };
            // The service asking us to wait (429/503 with Retry-After) is not a failure: the pacer
            // already paused every request; waiting politely must not turn owners into gaps or
            // spend the retry budget. Only a service that never lets up ends the request.
            if failure.server_wait().is_some_and(|w| !w.is_zero()) {
                attempt -= 1;
                throttled += 1;
                if throttled <= MAX_THROTTLED_ATTEMPTS {
                    continue;
                }
                return Err(failure.into_error(endpoint, attempt + throttled));
            }
            if attempt > self.options.max_retries || !self.pacer.take_retry() {
                return Err(failure.into_error(endpoint, attempt));
            }
            // A server's Retry-After already paused every request (the pacer); otherwise back off.
            let wait = if failure.server_wait().is_some_and(|w| !w.is_zero()) {
                Duration::ZERO
            } else {
                self.backoff(attempt)
            };
            tracing::debug!(%endpoint, attempt, wait_ms = wait.as_millis() as u64, "retrying after {}", failure.label());
            tokio::time::sleep(wait).await;
        }
    }

    async fn send(
        &self,
        url: &Url,
        authorization: &Authorization,
    ) -> Result<(u16, HeaderMap, Vec<u8>), reqwest::Error> {
        let response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, authorization.header.clone())
            .header(ACCEPT, "application/json")
            // Ask for 401 instead of a 203 sign-in page, as Microsoft's own clients do.
            .header("X-TFS-FedAuthRedirect", "Suppress")
            .header("X-VSS-ForceMsaPassThrough", "true")
            .send()
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        tracing::trace!(%url, status, bytes = body.len(), "response");
        Ok((status, headers, body))
    }

    /// Turns a final (non-retryable) status into an error; `Ok` means a JSON body to parse.
    fn check_status(
        &self,
        api: Api,
        endpoint: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), AdoError> {
        let endpoint = endpoint.to_string();
        match status {
            203 => Err(AdoError::NotAuthenticated { endpoint, detail: "HTTP 203 with a sign-in page".into() }),
            200..=299 if looks_like_html(headers, body) => Err(AdoError::NotAuthenticated {
                endpoint,
                detail: format!("HTTP {status} with an HTML sign-in page instead of JSON"),
            }),
            200..=299 => Ok(()),
            401 if api == Api::TokenAdmin => Err(AdoError::TokenAdminDenied { endpoint, status }),
            401 => Err(AdoError::NotAuthenticated { endpoint, detail: format!("HTTP 401{}", error_message(body)) }),
            403 if api == Api::TokenAdmin => Err(AdoError::TokenAdminDenied { endpoint, status }),
            403 => Err(AdoError::GraphDenied { endpoint, status }),
            404 if matches!(api, Api::GraphUsers | Api::ConnectionData) => {
                Err(AdoError::OrganizationNotFound { organization: self.org.name().to_string(), endpoint })
            }
            _ => Err(AdoError::Status {
                endpoint,
                status,
                detail: error_message(body).trim_start_matches(": ").to_string(),
            }),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.options.base_backoff.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.options.max_backoff);
        // Full jitter: anywhere between half and all of the step, so parallel owners spread out.
        let half = capped / 2;
        half + half.mul_f64(jitter_fraction())
    }
}

/// A failure worth another attempt.
enum Retryable {
    Status { status: u16, wait: Option<Duration> },
    Transport(String),
    Malformed(String),
}

impl Retryable {
    /// How long the server asked us to wait (`Retry-After`), if it did.
    fn server_wait(&self) -> Option<Duration> {
        match self {
            Retryable::Status { wait, .. } => *wait,
            _ => None,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Retryable::Status { .. } => "a throttle or server error",
            Retryable::Transport(_) => "a connection failure",
            Retryable::Malformed(_) => "a malformed body",
        }
    }

    fn into_error(self, endpoint: String, attempts: u32) -> AdoError {
        let gave_up = format!("gave up after {attempts} attempts");
        match self {
            Retryable::Status { status, .. } => {
                AdoError::Status { endpoint, status, detail: format!("server error or throttling ({gave_up})") }
            }
            Retryable::Transport(detail) => AdoError::Transport { endpoint, detail: format!("{detail} ({gave_up})") },
            Retryable::Malformed(detail) => AdoError::Malformed { endpoint, detail: format!("{detail} ({gave_up})") },
        }
    }
}

/// `GET https://host/org/_apis/…` without the query string (names the endpoint in errors).
fn endpoint_name(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    format!("GET {shown}")
}

/// The service's ways of refusing a credential: 401, or a sign-in page (203 or HTML).
fn refused_credential(status: u16, headers: &HeaderMap, body: &[u8]) -> bool {
    status == 401 || status == 203 || ((200..300).contains(&status) && looks_like_html(headers, body))
}

fn looks_like_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    content_type.contains("html") || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// `: <message>` from a `WrappedException` body, or nothing.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<WrappedException>(body)
        .ok()
        .and_then(|e| e.message)
        .map(|m| format!(": {}", m.chars().take(300).collect::<String>()))
        .unwrap_or_default()
}

fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the body".into()
    } else {
        "connection closed or reset".into()
    }
}

/// A number in [0, 1) that differs between calls; no cryptographic strength needed.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn debug_output_hides_the_credential() {
        let client = AdoClient::new(
            Endpoints::azure_devops(),
            OrgRef::parse("contoso").unwrap(),
            Credential::Pat(Secret::new("pat-value-123")),
            ClientOptions::default(),
        )
        .unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("pat-value-123"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn urls_encode_descriptors_and_collapse_slashes() {
        let client = AdoClient::new(
            Endpoints::single_base("http://127.0.0.1:9/prefix").unwrap(),
            OrgRef::parse("contoso").unwrap(),
            Credential::Pat(Secret::new("x")),
            ClientOptions::default(),
        )
        .unwrap();
        let url = client.api_url(&client.endpoints.vssps, &["tokenadmin", "personalaccesstokens", "aad.a/b+c="]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/contoso/_apis/tokenadmin/personalaccesstokens/aad.a%2Fb+c="
        );
    }
}
