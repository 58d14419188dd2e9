//! The HTTP client: authentication, paging, retries. One place for all requests.

use super::connection::{Connection, TokenAdminProbe};
use super::credential::{Authorization, Credential};
use super::endpoints::{Endpoints, OrgRef};
use super::error::AdoError;
use super::pacer::{Pacer, WaitRefused, format_duration, retry_after};
use super::wire::{Collection, ConnectionData, GraphUser, TokenAdminPage, WrappedException};
use pat2entra_core::Text;
use pat2entra_core::inventory::{Owner, Token};
use pat2entra_core::service::PagingEnd;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LOCATION};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

const GRAPH_API_VERSION: &str = "7.1-preview.1";
const TOKEN_ADMIN_API_VERSION: &str = "7.1";
const CONTINUATION_HEADER: &str = "x-ms-continuationtoken";
/// The Graph subject kinds of users that can hold PATs: Entra (`aad`), Microsoft accounts
/// (`msa`), CSP partners (`csp`), users invited but not yet signed in (`bnd`) and service
/// identities (`svc`). Microsoft's TokenAdmin C# sample (azure-devops-dotnet-samples,
/// `TokenAdminSample.cs`) scans every descriptor for which `IsUserType()` holds, not only `aad`
/// and `msa`; the kinds are the `SubjectType` constants of the Graph client library. A kind
/// that turns out to own none (Token Admin answers 400/404) is "not applicable", not a gap.
pub(crate) const USER_SUBJECT_TYPES: &str = "aad,msa,csp,bnd,svc";
/// Kinds whose Token Admin 400/404 is an answer ("this subject holds no PATs"), not a failure.
pub(crate) const KINDS_WITHOUT_PATS: [&str; 2] = ["bnd", "svc"];
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
    /// Largest response body read, counted after decompression (`--max-response-mb`).
    pub max_response_bytes: u64,
    /// Token Admin pages read for one owner before paging is given up (`--max-pages`).
    pub max_pages_per_owner: u32,
    /// Graph pages read for the user listing before it is given up (`--max-listing-pages`).
    pub max_listing_pages: u32,
    /// The longest pause the service may impose (`Retry-After`, `--max-wait`); a longer one
    /// ends the request instead of stalling the scan.
    pub max_wait: Duration,
    /// No request is sent, and none is waited for, after this instant (`--deadline`).
    pub deadline: Option<Instant>,
}

/// 64 MiB: a Token Admin page of 1000 tokens is well under a megabyte.
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 64;
pub const DEFAULT_MAX_PAGES_PER_OWNER: u32 = 1_000;
pub const DEFAULT_MAX_LISTING_PAGES: u32 = 10_000;
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(60),
            max_retries: 5,
            max_backoff: Duration::from_secs(30),
            base_backoff: Duration::from_millis(200),
            retry_budget: 10_000,
            max_response_bytes: DEFAULT_MAX_RESPONSE_MB * 1024 * 1024,
            max_pages_per_owner: DEFAULT_MAX_PAGES_PER_OWNER,
            max_listing_pages: DEFAULT_MAX_LISTING_PAGES,
            max_wait: DEFAULT_MAX_WAIT,
            deadline: None,
        }
    }
}

/// Attempts of one request that may end in a timeout: a service that does not answer costs
/// at most this many `request_timeout`s per request, not one per retry.
const MAX_TIMED_OUT_ATTEMPTS: u32 = 2;

/// Which API a request goes to; decides how statuses are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    GraphUsers,
    TokenAdmin,
    ConnectionData,
    /// An evidence source: a 401/403 means this source's permission is missing (`needs`), not
    /// that the scan cannot go on.
    Evidence {
        needs: &'static str,
    },
    /// The lifecycle API (`_apis/tokens/pats`): a refusal there says which credentials it
    /// takes, not that the credential is bad.
    Lifecycle,
    /// `POST _apis/tokenadmin/revocations`: a 401 there means the credential stopped working
    /// (the run may have revoked it), since the owners' listings had just been allowed.
    Revocations,
    /// The profile and accounts endpoints (`orgs`, `--all-orgs`): a 401 there usually means a
    /// credential bound to one organization, which cannot list organizations.
    Profile,
    /// Azure Boards (`_apis/wit/…` of one project): 401/403 mean the scope `vso.work_write` or the
    /// permission to edit work items is missing; 404 that the project does not exist.
    WorkItems,
}

/// A request with a body: its method, content type and bytes, and whether sending it twice is
/// harmless. One that is not (creating a work item) is tried again only when the service said it
/// did nothing (429): after a lost answer or a server error the caller must look before it
/// sends it again.
pub(crate) struct Body<'a> {
    pub method: reqwest::Method,
    pub content_type: &'static str,
    pub bytes: &'a [u8],
    pub idempotent: bool,
}

/// Client for the Azure DevOps endpoints pat2entra uses.
pub struct AdoClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    org: OrgRef,
    credential: Credential,
    options: ClientOptions,
    pacer: Arc<Pacer>,
    /// Token Admin answered at least once: a later 401 means the credential stopped working,
    /// not that the identity is no token administrator.
    token_admin_accepted: std::sync::atomic::AtomicBool,
    /// How each finished Token Admin listing ended (`null`, `""`, zero GUID), for the record's
    /// `service.paging_end`.
    paging_ends: Mutex<BTreeMap<PagingEnd, u64>>,
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
    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub fn new(
        endpoints: Endpoints,
        org: OrgRef,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, AdoError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("pat2entra/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the credential to wherever it points: never followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| AdoError::Setup { detail: pat2entra_core::error::chain(&e) })?;
        let pacer = Arc::new(Pacer::new(options.retry_budget, options.max_wait));
        Ok(AdoClient {
            http,
            endpoints,
            org,
            credential,
            options,
            pacer,
            token_admin_accepted: Default::default(),
            paging_ends: Mutex::default(),
        })
    }

    /// A client for another organization that shares this one's HTTP connections, credential
    /// (and its token cache), options and pacer. Rate limits are the identity's (Microsoft's
    /// docs/integrate/concepts/rate-limits.md: "limits the resources each user can consume"),
    /// so a `Retry-After` one organization sends pauses the requests to every organization, and
    /// the retry budget is the run's, not each organization's.
    pub fn for_organization(&self, org: OrgRef) -> AdoClient {
        AdoClient {
            http: self.http.clone(),
            endpoints: self.endpoints.clone(),
            org,
            credential: self.credential.clone(),
            options: self.options.clone(),
            pacer: self.pacer.clone(),
            token_admin_accepted: Default::default(),
            paging_ends: Mutex::default(),
        }
    }

    /// What the client did so far (requests, retries, throttling), shared with progress displays.
    pub fn pacer(&self) -> Arc<Pacer> {
        self.pacer.clone()
    }

    pub fn organization(&self) -> &str {
        self.org.name()
    }

    /// How the Token Admin listings so far ended, with how many ended each way.
    pub fn paging_ends(&self) -> Vec<(PagingEnd, u64)> {
        self.paging_ends.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(e, n)| (*e, *n)).collect()
    }

    /// Every user of the organization of a kind that can own a PAT (`USER_SUBJECT_TYPES`),
    /// following `X-MS-ContinuationToken`.
    pub async fn list_users(&self) -> Result<Vec<Owner>, AdoError> {
        let mut pages = self.user_pages()?;
        let mut owners = Vec::new();
        while let Some(page) = pages.next_page().await? {
            owners.extend(page);
        }
        Ok(owners)
    }

    /// The users of `list_users`, one Graph page at a time: the scan starts on an owner's tokens
    /// as soon as its page arrives.
    pub fn user_pages(&self) -> Result<UserPages<'_>, AdoError> {
        let base = self.api_url(&self.endpoints.vssps, &["graph", "users"])?;
        let paging = Paging::new(&base, self.options.max_listing_pages, "--max-listing-pages");
        Ok(UserPages { client: self, base, paging, continuation: None, done: false })
    }

    /// Every personal access token of one owner, following the body's `continuationToken`.
    /// Pass the owner's own `Text` for `owner_descriptor`: its tokens then share it.
    pub async fn list_pats(&self, owner_descriptor: impl Into<Text>, page_size: u32) -> Result<Vec<Token>, AdoError> {
        let owner: Text = owner_descriptor.into();
        let pages = self.token_admin_pages(&owner, page_size, false, Api::TokenAdmin).await?;
        // Two versions of one token are resolved by the scan (`inventory::resolve_tokens`).
        // Collected at their exact count: most owners hold one or two tokens, and a vector
        // collected from pages starts at four (about 200 bytes each) and grows by doubling.
        // Inside `interned`, one owner's tokens share the values they repeat.
        let mut tokens = Vec::with_capacity(pages.iter().map(|p| p.value.len()).sum());
        pat2entra_core::text::interned(|| {
            tokens.extend(pages.into_iter().flat_map(|p| p.value).map(|t| t.into_token(owner.clone())));
        });
        Ok(tokens)
    }

    /// Every Token Admin page of one owner's PATs (`is_public` false) or SSH keys (true),
    /// following the body's `continuationToken` under the `Paging` guard; how a PAT listing ended
    /// (`null`, `""`, zero GUID) is counted for the record's `service.paging_end` (the probe and
    /// the simulator's behaviours concern PAT listings).
    pub(crate) async fn token_admin_pages(
        &self,
        owner_descriptor: &str,
        page_size: u32,
        is_public: bool,
        api: Api,
    ) -> Result<Vec<TokenAdminPage>, AdoError> {
        let base = self.api_url(&self.endpoints.vssps, &["tokenadmin", "personalaccesstokens", owner_descriptor])?;
        let mut pages = Vec::new();
        let mut paging = Paging::new(&base, self.options.max_pages_per_owner, "--max-pages");
        let mut continuation: Option<String> = None;
        loop {
            paging.start_page()?;
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("pageSize", &page_size.to_string());
                q.append_pair("isPublic", if is_public { "true" } else { "false" });
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", TOKEN_ADMIN_API_VERSION);
            }
            let (mut page, _): (TokenAdminPage, HeaderMap) = self.get_json(api, &url).await?;
            continuation = paging.follow(page.continuation_token.take())?;
            pages.push(page);
            if continuation.is_none() {
                break;
            }
        }
        if let Some(end) = paging.end.filter(|_| !is_public) {
            *self.paging_ends.lock().unwrap_or_else(|p| p.into_inner()).entry(end).or_default() += 1;
        }
        Ok(pages)
    }

    /// `GET https://dev.azure.com/{org}/_apis/connectionData`: who the credential belongs to,
    /// and which organization answered.
    pub async fn connection_data(&self) -> Result<Connection, AdoError> {
        let url = self.api_url(&self.endpoints.dev, &["connectionData"])?;
        let (data, _): (ConnectionData, HeaderMap) = self.get_json(Api::ConnectionData, &url).await?;
        Connection::from_wire(data)
            .map_err(|e| AdoError::Malformed { endpoint: endpoint_name(&url), detail: e.to_string() })
    }

    /// One Token Admin request for `descriptor` with `pageSize=1`: the cheapest proof that the
    /// caller may list other users' tokens (401/403 come back as `TokenAdminDenied`).
    pub async fn probe_token_admin(&self, descriptor: &str) -> Result<TokenAdminProbe, AdoError> {
        let mut url = self.api_url(&self.endpoints.vssps, &["tokenadmin", "personalaccesstokens", descriptor])?;
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

    /// `{host}/{org}/_apis/{segments…}`, each segment percent-encoded. A segment that is empty,
    /// `.` or `..` would silently address another resource (the URL parser resolves dots), so
    /// it is refused: an owner with such a descriptor becomes a coverage gap.
    pub(crate) fn api_url(&self, host: &Url, segments: &[&str]) -> Result<Url, AdoError> {
        // A client made for the tenant-level endpoints only (`AdoClient::for_tenant`).
        if self.org.name().is_empty() {
            return Err(AdoError::InvalidSegment { what: "an organization", segment: String::new() });
        }
        if let Some(bad) = segments.iter().find(|s| s.is_empty() || **s == "." || **s == "..") {
            return Err(AdoError::InvalidSegment { what: "an owner descriptor", segment: bad.to_string() });
        }
        let mut url = host.clone();
        {
            let mut path = url.path_segments_mut().expect("service URLs are hierarchical");
            path.pop_if_empty();
            path.push(self.org.name());
            path.push("_apis");
            path.extend(segments);
        }
        Ok(url)
    }

    /// GET with retries; returns the parsed body and the response headers. A throttle, server
    /// error, dropped connection or truncated body is retried; a page is never half-parsed. A
    /// refused Entra token (401, or the 203 sign-in page) is refreshed once and the request sent
    /// again: tokens expire during long scans. Never retried, because the answer would be the
    /// same: a redirect, a body over the size limit, well-formed JSON of the wrong shape, a
    /// pause longer than `max_wait`. Nothing is sent, or waited for, after the deadline.
    ///
    /// Bounds of one request: at most `max_retries + 1` attempts, of which at most
    /// `MAX_TIMED_OUT_ATTEMPTS` time out (each after `request_timeout`), with backoffs of at
    /// most `max_backoff` between them; plus at most `MAX_THROTTLED_ATTEMPTS` pauses the
    /// service asked for, each at most `max_wait`; all of it cut short by the deadline.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, api: Api, url: &Url) -> Result<(T, HeaderMap), AdoError> {
        self.exchange(api, url, None).await
    }

    /// `get_json`, or with `post` a POST of that JSON body: the same retries, pacing, bounds and
    /// refresh. A 204 (no content), and any 2xx of a revocation, reads as JSON `null`, so
    /// `T = ()` takes it.
    pub(crate) async fn exchange<T: DeserializeOwned>(
        &self,
        api: Api,
        url: &Url,
        post: Option<&[u8]>,
    ) -> Result<(T, HeaderMap), AdoError> {
        let body = post.map(|bytes| Body {
            method: reqwest::Method::POST,
            content_type: "application/json",
            bytes,
            idempotent: true,
        });
        self.exchange_body(api, url, body.as_ref()).await
    }

    /// `exchange` with any method and content type (`Body`).
    pub(crate) async fn exchange_body<T: DeserializeOwned>(
        &self,
        api: Api,
        url: &Url,
        post: Option<&Body<'_>>,
    ) -> Result<(T, HeaderMap), AdoError> {
        let endpoint = match post {
            Some(body) => method_endpoint_name(body.method.as_str(), url),
            None => endpoint_name(url),
        };
        let deadline = self.options.deadline;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let mut throttled: u32 = 0;
        let mut timed_out: u32 = 0;
        loop {
            attempt += 1;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.pacer.stats.deadline_refused.fetch_add(1, Ordering::Relaxed);
                return Err(AdoError::DeadlineReached { endpoint, detail: String::new() });
            }
            let authorization = match deadline {
                Some(d) => tokio::time::timeout_at(d, self.credential.authorize()).await.map_err(|_| {
                    AdoError::DeadlineReached {
                        endpoint: endpoint.clone(),
                        detail: " while getting an access token".into(),
                    }
                })??,
                None => self.credential.authorize().await?,
            };
            self.pacer.wait_turn(deadline).await.map_err(|refused| match refused {
                WaitRefused::TooLong { left, ceiling } => AdoError::WaitTooLong {
                    endpoint: endpoint.clone(),
                    wait: format_duration(left),
                    ceiling: format_duration(ceiling),
                },
                WaitRefused::Deadline => AdoError::DeadlineReached {
                    endpoint: endpoint.clone(),
                    detail: " (the service asked to wait past it)".into(),
                },
            })?;
            let sent_at = Instant::now();
            let sent = self.send(url, post, &authorization).await;
            if let Ok((status, headers, _)) = &sent {
                self.pacer.observe_sent(*status, headers, sent_at);
            }
            self.pacer.done();
            let failure = match sent {
                Err(SendError::TooLarge) => {
                    self.pacer.stats.oversized.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%endpoint, "response over the size limit; not retried");
                    return Err(AdoError::TooLarge {
                        endpoint,
                        limit_mb: self.options.max_response_bytes.div_ceil(1024 * 1024),
                    });
                }
                Err(SendError::Deadline) => {
                    self.pacer.stats.deadline_refused.fetch_add(1, Ordering::Relaxed);
                    return Err(AdoError::DeadlineReached { endpoint, detail: " while waiting for the answer".into() });
                }
                Err(SendError::Transport { detail, timeout }) => {
                    if timeout {
                        timed_out += 1;
                        if timed_out >= MAX_TIMED_OUT_ATTEMPTS {
                            return Err(AdoError::Transport {
                                endpoint,
                                detail: format!(
                                    "no complete answer within {} (--request-timeout), {timed_out} times",
                                    format_duration(self.options.request_timeout)
                                ),
                            });
                        }
                    }
                    Retryable::Transport(detail)
                }
                Ok((status, headers, _)) if (300..400).contains(&status) => {
                    self.pacer.stats.redirects_refused.fetch_add(1, Ordering::Relaxed);
                    let location = shown_location(url, &headers);
                    tracing::warn!(%endpoint, status, %location, "redirect refused");
                    return Err(AdoError::Redirect { endpoint, status, location });
                }
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
                    // A revocation is done on any 2xx: its body, if any, says nothing more.
                    let body: &[u8] = if status == 204 || api == Api::Revocations { b"null" } else { &body };
                    match serde_json::from_slice::<T>(body) {
                        Ok(value) => return Ok((value, headers)),
                        // Well-formed JSON of the wrong shape: the same bytes would come back.
                        Err(e) if e.classify() == serde_json::error::Category::Data => {
                            return Err(AdoError::Malformed {
                                endpoint,
                                detail: format!(
                                    "{e} (not retried: the JSON is well-formed but not of the expected shape)"
                                ),
                            });
                        }
                        // Truncated or garbled: possibly a dropped connection, worth another try.
                        Err(e) => Retryable::Malformed(e.to_string()),
                    }
                }
            };
            // The service asking us to wait (429/503 with Retry-After) is not a failure: the pacer
            // already paused every request; waiting politely must not turn owners into gaps or
            // spend the retry budget. Only a service that never lets up ends the request, or
            // one asking for more than `max_wait`.
            // Not idempotent: only a 429 says for certain that nothing was done.
            let unsafe_to_repeat = post.is_some_and(|b| !b.idempotent) && failure.status() != Some(429);
            if let Some(wait) = failure.server_wait().filter(|w| !w.is_zero() && !unsafe_to_repeat) {
                if wait > self.options.max_wait {
                    return Err(AdoError::WaitTooLong {
                        endpoint,
                        wait: format_duration(wait),
                        ceiling: format_duration(self.options.max_wait),
                    });
                }
                attempt -= 1;
                throttled += 1;
                if throttled <= MAX_THROTTLED_ATTEMPTS {
                    tracing::info!(%endpoint, wait = %format_duration(wait), "told to wait (HTTP {}); asking again after the pause", failure.status().unwrap_or_default());
                    continue;
                }
                return Err(failure.into_error(endpoint, attempt + throttled));
            }
            if unsafe_to_repeat || attempt > self.options.max_retries || !self.pacer.take_retry() {
                return Err(failure.into_error(endpoint, attempt));
            }
            let wait = self.backoff(attempt);
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                self.pacer.stats.deadline_refused.fetch_add(1, Ordering::Relaxed);
                return Err(AdoError::DeadlineReached {
                    endpoint,
                    detail: format!(" before a retry (last attempt: {})", failure.detail()),
                });
            }
            tracing::info!(%endpoint, attempt, wait = %format_duration(wait), "retrying after {}", failure.label());
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, bounded by `request_timeout` and the deadline. The body is read as a
    /// stream and dropped as soon as it passes `max_response_bytes` (counted after
    /// decompression: reqwest decodes gzip in the stream), so no answer can exhaust memory. A
    /// redirect's body is not read.
    async fn send(
        &self,
        url: &Url,
        post: Option<&Body<'_>>,
        authorization: &Authorization,
    ) -> Result<(u16, HeaderMap, Vec<u8>), SendError> {
        let timeout_at = Instant::now() + self.options.request_timeout;
        let (until, by_deadline) = match self.options.deadline {
            Some(d) if d < timeout_at => (d, true),
            _ => (timeout_at, false),
        };
        match tokio::time::timeout_at(until, self.send_unbounded(url, post, authorization)).await {
            Ok(result) => result,
            Err(_) if by_deadline => Err(SendError::Deadline),
            Err(_) => Err(SendError::Transport { detail: "request timed out".into(), timeout: true }),
        }
    }

    async fn send_unbounded(
        &self,
        url: &Url,
        post: Option<&Body<'_>>,
        authorization: &Authorization,
    ) -> Result<(u16, HeaderMap, Vec<u8>), SendError> {
        let request = match post {
            Some(body) => self
                .http
                .request(body.method.clone(), url.clone())
                .header(CONTENT_TYPE, body.content_type)
                .body(body.bytes.to_vec()),
            None => self.http.get(url.clone()),
        };
        let mut response = request
            .header(AUTHORIZATION, authorization.header.clone())
            .header(ACCEPT, "application/json")
            // Ask for 401 instead of a 203 sign-in page, as Microsoft's own clients do.
            .header("X-TFS-FedAuthRedirect", "Suppress")
            .header("X-VSS-ForceMsaPassThrough", "true")
            .send()
            .await
            .map_err(SendError::transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if (300..400).contains(&status) {
            return Ok((status, headers, Vec::new()));
        }
        let limit = self.options.max_response_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(SendError::transport)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(SendError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
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
            200..=299 => {
                if api == Api::TokenAdmin {
                    self.token_admin_accepted.store(true, Ordering::Relaxed);
                }
                Ok(())
            }
            401 | 403 if matches!(api, Api::Evidence { .. }) => {
                let Api::Evidence { needs } = api else { unreachable!() };
                let detail = self.credential.scrub(error_message(body).trim_start_matches(": "));
                Err(AdoError::SourceDenied { endpoint, status, needs, detail })
            }
            401 if api == Api::TokenAdmin && self.token_admin_accepted.load(Ordering::Relaxed) => {
                Err(AdoError::NotAuthenticated {
                    endpoint,
                    detail: format!(
                        "HTTP 401 after Token Admin had answered earlier requests: the credential stopped working during the scan (expired, revoked, or its sign-in ended){}",
                        self.credential.scrub(&error_message(body))
                    ),
                })
            }
            401 if api == Api::TokenAdmin => Err(AdoError::TokenAdminDenied { endpoint, status }),
            401 | 403 if api == Api::Profile => Err(AdoError::NotAuthenticated {
                endpoint,
                detail: format!(
                    "HTTP {status}{}; listing organizations needs a credential that is not bound to one organization (an Entra token, or a PAT for 'All accessible organizations' with scope vso.profile); or name them with --org or --orgs-file",
                    self.credential.scrub(&error_message(body))
                ),
            }),
            401 | 403 if api == Api::Lifecycle => Err(AdoError::Status {
                endpoint,
                status,
                detail: self.credential.scrub(error_message(body).trim_start_matches(": ")),
            }),
            401 if api == Api::Revocations => Err(AdoError::NotAuthenticated {
                endpoint,
                detail: format!(
                    "HTTP 401 on a revocation after the owners' listings were allowed: the credential pat2entra signs in with stopped working (expired, or revoked, possibly by this run){}",
                    self.credential.scrub(&error_message(body))
                ),
            }),
            403 if api == Api::Revocations => Err(AdoError::TokenAdminDenied { endpoint, status }),
            401 | 403 if api == Api::WorkItems => Err(AdoError::WorkItemsDenied {
                endpoint,
                status,
                detail: self.credential.scrub(error_message(body).trim_start_matches(": ")),
            }),
            404 if api == Api::WorkItems => Err(AdoError::ProjectNotFound {
                organization: self.org.name().to_string(),
                endpoint,
                detail: self.credential.scrub(error_message(body).trim_start_matches(": ")),
            }),
            401 => Err(AdoError::NotAuthenticated {
                endpoint,
                detail: format!("HTTP 401{}", self.credential.scrub(&error_message(body))),
            }),
            403 if api == Api::TokenAdmin => Err(AdoError::TokenAdminDenied { endpoint, status }),
            403 => Err(AdoError::GraphDenied { endpoint, status }),
            404 if matches!(api, Api::GraphUsers | Api::ConnectionData) => {
                Err(AdoError::OrganizationNotFound { organization: self.org.name().to_string(), endpoint })
            }
            _ => Err(AdoError::Status {
                endpoint,
                status,
                detail: self.credential.scrub(error_message(body).trim_start_matches(": ")),
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

/// Why one attempt got no answer to look at.
enum SendError {
    Transport {
        detail: String,
        timeout: bool,
    },
    /// The body passed `max_response_bytes`.
    TooLarge,
    /// The deadline passed while the attempt was under way.
    Deadline,
}

impl SendError {
    fn transport(e: reqwest::Error) -> Self {
        SendError::Transport { detail: describe_transport(&e), timeout: e.is_timeout() }
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

    fn status(&self) -> Option<u16> {
        match self {
            Retryable::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the last attempt ended in, for messages.
    fn detail(&self) -> String {
        match self {
            Retryable::Status { status, .. } => format!("HTTP {status}"),
            Retryable::Transport(detail) | Retryable::Malformed(detail) => detail.clone(),
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

/// Graph's user listing, page by page (`AdoClient::user_pages`), under the `Paging` guard.
pub struct UserPages<'a> {
    client: &'a AdoClient,
    base: Url,
    paging: Paging,
    continuation: Option<String>,
    done: bool,
}

impl UserPages<'_> {
    /// The next page's owners, or `None` once the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Owner>>, AdoError> {
        if self.done {
            return Ok(None);
        }
        self.paging.start_page()?;
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("subjectTypes", USER_SUBJECT_TYPES);
            if let Some(c) = &self.continuation {
                q.append_pair("continuationToken", c);
            }
            q.append_pair("api-version", GRAPH_API_VERSION);
        }
        let (page, headers): (Collection<GraphUser>, HeaderMap) = self.client.get_json(Api::GraphUsers, &url).await?;
        // An owner listed twice (the directory changed while paging) is resolved by the scan
        // (`inventory::resolve_owners`), which keeps the version worst for risk and says so.
        let owners = pat2entra_core::text::interned(|| page.value.into_iter().map(GraphUser::into_owner).collect());
        let next = headers.get(CONTINUATION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        self.continuation = self.paging.follow(next)?;
        self.done = self.continuation.is_none();
        Ok(Some(owners))
    }
}

/// `GET https://host/org/_apis/…` without the query string (names the endpoint in errors).
/// Where a paged listing stands: a cap on its pages (endless fresh continuation tokens) and the
/// tokens already followed (a token that comes back would page forever). One rule for the Graph
/// listing and for every owner's Token Admin pages.
pub(crate) struct Paging {
    endpoint: String,
    max_pages: u32,
    flag: &'static str,
    pages: u32,
    seen: HashSet<String>,
    /// How the listing ended, once it has.
    end: Option<PagingEnd>,
}

impl Paging {
    pub(crate) fn new(base: &Url, max_pages: u32, flag: &'static str) -> Self {
        Paging { endpoint: endpoint_name(base), max_pages, flag, pages: 0, seen: HashSet::new(), end: None }
    }

    /// Counts the page about to be asked for, or refuses it past the cap.
    pub(crate) fn start_page(&mut self) -> Result<(), AdoError> {
        if self.pages >= self.max_pages {
            return Err(AdoError::TooManyPages { endpoint: self.endpoint.clone(), pages: self.pages, flag: self.flag });
        }
        self.pages += 1;
        Ok(())
    }

    /// The continuation token to send next (`None`: the listing is complete), or an error when
    /// the service returned one it had returned before. `null`, `""` and an all-zero GUID all end
    /// the listing: the spec documents `null`, the lifecycle API's example ends with `""`, and
    /// Microsoft's C# sample also stops on `Guid.Empty` (the field is declared `format: uuid`).
    /// Which one ended it is kept in `end`.
    pub(crate) fn follow(&mut self, next: Option<String>) -> Result<Option<String>, AdoError> {
        if let Some(end) = PagingEnd::of(next.as_deref()) {
            self.end = Some(end);
            return Ok(None);
        }
        match next {
            Some(next) if !self.seen.insert(next.clone()) => Err(AdoError::Malformed {
                endpoint: self.endpoint.clone(),
                detail: "a continuation token came back a second time; paging would never end".into(),
            }),
            next => Ok(next),
        }
    }
}

pub(crate) fn endpoint_name(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    format!("GET {shown}")
}

/// `POST https://host/org/_apis/…`, without the query string.
fn method_endpoint_name(method: &str, url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    format!("{method} {shown}")
}

/// Where a redirect pointed, for the error: resolved against the request, without user
/// name, password, query or fragment (any of which may hold a credential), ASCII only.
fn shown_location(request: &Url, headers: &HeaderMap) -> String {
    let Some(raw) = headers.get(LOCATION) else {
        return "(no Location header)".into();
    };
    let parsed = raw.to_str().ok().and_then(|text| request.join(text.trim()).ok());
    let Some(mut location) = parsed else {
        return "(an unreadable Location header)".into();
    };
    let _ = location.set_username("");
    let _ = location.set_password(None);
    location.set_query(None);
    location.set_fragment(None);
    let shown: String = location.as_str().chars().take(300).collect();
    if shown.len() < location.as_str().len() { format!("{shown}…") } else { shown }
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
pub(crate) mod tests {
    use super::*;
    use pat2entra_core::secret::Secret;

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
        let url =
            client.api_url(&client.endpoints.vssps, &["tokenadmin", "personalaccesstokens", "aad.a/b+c="]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/contoso/_apis/tokenadmin/personalaccesstokens/aad.a%2Fb+c="
        );
        // Dots would be resolved away (`.../personalaccesstokens/..` is `.../tokenadmin/`).
        for bad in [".", "..", ""] {
            let err =
                client.api_url(&client.endpoints.vssps, &["tokenadmin", "personalaccesstokens", bad]).unwrap_err();
            assert!(matches!(err, AdoError::InvalidSegment { .. }), "{bad:?}: {err}");
            assert!(!err.is_fatal());
        }
        for fine in ["...", ".a", "%2e%2e", "a..b"] {
            let url = client.api_url(&client.endpoints.vssps, &["x", fine]).unwrap();
            assert!(url.path().starts_with("/prefix/contoso/_apis/x/"), "{fine}: {url}");
        }
    }

    /// A loopback server answering each request with `answer(n, request head)` (n counts from
    /// 0); `None` keeps the connection open without answering.
    pub(crate) async fn serve(
        answer: impl Fn(usize, &str) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let counter = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let answer = answer.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    match answer(n, &String::from_utf8_lossy(&head)) {
                        Some(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                });
            }
        });
        (base, count)
    }

    pub(crate) fn http(status: &str, headers: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    pub(crate) fn client_for(base: &str, options: ClientOptions) -> AdoClient {
        AdoClient::new(
            Endpoints::single_base(base).unwrap(),
            OrgRef::parse("contoso").unwrap(),
            Credential::Pat(Secret::new("pat-secret-777")),
            ClientOptions { base_backoff: Duration::from_millis(1), ..options },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_redirect_is_refused_once_and_names_a_cleaned_location() {
        let (base, count) = serve(|_, _| {
            Some(http("302 Found", "Location: http://user:pw@127.0.0.2:1/elsewhere?sig=secret#frag\r\n", ""))
        })
        .await;
        let client = client_for(&base, ClientOptions::default());
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, AdoError::Redirect { status: 302, .. }), "{text}");
        assert!(err.is_fatal());
        assert!(text.contains("http://127.0.0.2:1/elsewhere"), "{text}");
        for hidden in ["user", "pw", "sig=", "secret", "frag", "pat-secret-777"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "a redirect is not retried");
        assert_eq!(client.pacer().stats.redirects_refused.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_dropped_and_not_retried() {
        let big = format!("{{\"value\": [], \"pad\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
        let (base, count) = serve(move |_, _| Some(http("200 OK", "", &big))).await;
        let client = client_for(&base, ClientOptions { max_response_bytes: 1024 * 1024, ..ClientOptions::default() });
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::TooLarge { limit_mb: 1, .. }), "{err}");
        assert!(err.to_string().contains("exceeds 1 MiB"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn well_formed_json_of_the_wrong_shape_is_not_retried_but_a_truncated_body_is() {
        let (base, count) = serve(|_, _| Some(http("200 OK", "", r#"{"value": "not a list"}"#))).await;
        let client = client_for(&base, ClientOptions::default());
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(err.to_string().contains("not retried"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (base, count) = serve(|_, _| Some(http("200 OK", "", r#"{"value": [{"authoriz"#))).await;
        let client = client_for(&base, ClientOptions { max_retries: 2, ..ClientOptions::default() });
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::Malformed { .. }), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 3, "a truncated body is retried");
    }

    #[tokio::test]
    async fn endless_fresh_continuation_tokens_stop_at_the_page_limit() {
        let (base, count) =
            serve(|n, _| Some(http("200 OK", "", &format!(r#"{{"value": [], "continuationToken": "t{n}"}}"#)))).await;
        let client = client_for(&base, ClientOptions { max_pages_per_owner: 7, ..ClientOptions::default() });
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::TooManyPages { pages: 7, .. }), "{err}");
        assert!(err.to_string().contains("--max-pages"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 7);

        let (base, count) = serve(|n, _| {
            Some(http("200 OK", &format!("X-MS-ContinuationToken: c{n}\r\n"), r#"{"count": 0, "value": []}"#))
        })
        .await;
        let client = client_for(&base, ClientOptions { max_listing_pages: 5, ..ClientOptions::default() });
        let err = client.list_users().await.unwrap_err();
        assert!(err.to_string().contains("after 5 pages (--max-listing-pages)"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_zero_guid_ends_paging_like_null_and_the_end_marker_is_kept() {
        let (base, count) = serve(|n, _| {
            let next = if n == 0 {
                "\"5f0c1d2e-0000-4000-8000-000000000001\""
            } else {
                "\"00000000-0000-0000-0000-000000000000\""
            };
            Some(http(
                "200 OK",
                "",
                &format!(r#"{{"value": [{{"authorizationId": "t{n}"}}], "continuationToken": {next}}}"#),
            ))
        })
        .await;
        let client = client_for(&base, ClientOptions::default());
        let tokens = client.list_pats("aad.x", 1).await.unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(count.load(Ordering::SeqCst), 2, "the zero GUID was not sent back");
        // Twice more: once ending on "", once on null.
        let (base, _) = serve(|n, _| {
            let next = if n == 0 { "\"\"" } else { "null" };
            Some(http("200 OK", "", &format!(r#"{{"value": [], "continuationToken": {next}}}"#)))
        })
        .await;
        let other = client_for(&base, ClientOptions::default());
        other.list_pats("aad.y", 1).await.unwrap();
        other.list_pats("aad.z", 1).await.unwrap();
        assert_eq!(client.paging_ends(), [(PagingEnd::ZeroGuid, 1)]);
        assert_eq!(other.paging_ends(), [(PagingEnd::Null, 1), (PagingEnd::Empty, 1)]);
    }

    #[tokio::test]
    async fn a_retry_after_above_the_ceiling_ends_the_request_and_refuses_the_next() {
        let (base, count) = serve(|_, _| Some(http("429 Too Many Requests", "Retry-After: 999999\r\n", "{}"))).await;
        let client = client_for(&base, ClientOptions::default());
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::WaitTooLong { .. }), "{err}");
        assert!(err.to_string().contains("more than --max-wait 5m"), "{err}");
        // The pause stands: the next request is refused without being sent.
        let err = client.list_pats("aad.y", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::WaitTooLong { .. }), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(client.pacer().stats.waits_refused.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_pause_that_would_outlast_the_deadline_is_not_waited_for() {
        let (base, count) = serve(|_, _| Some(http("429 Too Many Requests", "Retry-After: 30\r\n", "{}"))).await;
        let client = client_for(
            &base,
            ClientOptions { deadline: Some(Instant::now() + Duration::from_secs(5)), ..ClientOptions::default() },
        );
        let started = std::time::Instant::now();
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(err.to_string().contains("deadline reached (--deadline) (the service asked to wait past it)"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4), "not slept until the deadline");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_silent_server_costs_two_timeouts_and_a_deadline_ends_everything() {
        let (base, count) = serve(|_, _| None).await;
        let client = client_for(
            &base,
            ClientOptions { request_timeout: Duration::from_millis(200), max_retries: 5, ..ClientOptions::default() },
        );
        let started = std::time::Instant::now();
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(err.to_string().contains("no complete answer within 0.20s (--request-timeout), 2 times"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), MAX_TIMED_OUT_ATTEMPTS as usize);
        assert!(started.elapsed() < Duration::from_secs(5));

        let client = client_for(
            &base,
            ClientOptions {
                request_timeout: Duration::from_secs(60),
                deadline: Some(Instant::now() + Duration::from_millis(300)),
                ..ClientOptions::default()
            },
        );
        let err = client.list_pats("aad.x", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::DeadlineReached { .. }), "{err}");
        assert!(err.to_string().contains("deadline reached"), "{err}");
        let sent = count.load(Ordering::SeqCst);
        // After the deadline nothing is sent.
        let err = client.list_pats("aad.y", 10).await.unwrap_err();
        assert!(matches!(err, AdoError::DeadlineReached { .. }), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), sent);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
