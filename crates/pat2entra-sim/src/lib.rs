//! A simulator of the Azure DevOps endpoints pat2entra reads (and of the Entra token endpoints
//! it signs in at, `entra`), serving a seeded synthetic organization over real HTTP on loopback.
//! The scanner (`pat2entra-ado`) never depends on this crate: `scan --demo`, the tests and the
//! benches start it as a library and reach it only through HTTP.
//!
//! Shapes follow Microsoft's published examples (copied under `tests/fixtures/ado-api/`, e.g.
//! `graph/7.1/httpExamples/Users/GetAllUsers.json`):
//! every field present, unset values as explicit `null`, arrays wrapped in `{"count","value"}`,
//! Graph paging in the `X-MS-ContinuationToken` header, Token Admin paging in the body.

mod behaviour;
mod entra;
mod evidence;
mod evidence_api;
mod http;
mod org;
mod orgs;
mod revocations;
mod rng;
pub mod shape;
mod throttle;
mod workitems;

pub use behaviour::{BadBehaviour, Behaviour, PagingEnd as SimPagingEnd};
pub use entra::{Principal, SimEntra, SimPipelines};
pub use evidence::{
    AUDIT_RETENTION_DAYS, SeededEvidence, SimAuditEntry, SimEntitlement, SimLicense, SimStanding, default_policies,
};
pub use org::{SimOrg, SimToken, SimUser, TimeFormat};
pub use orgs::{SeededTenant, SharedCredentialTruth, SimTenant, start_tenant, start_tenant_refusing};
pub use pat2entra_core::evidence::{Source, TenantPolicies};
pub use throttle::RateLimit;
pub use workitems::{PROJECTS, SimWorkItem};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::{Reply, Request, Response};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub organization: String,
    pub seed: u64,
    pub users: usize,
    /// "Today" for the generated tokens: same seed and anchor, same organization.
    pub anchor: DateTime<Utc>,
    /// When set (before `anchor`): the organization is generated at this date, then moves on to
    /// `anchor` (tokens revoked and created in between), to simulate a later scan of the same one.
    pub epoch: Option<DateTime<Utc>>,
    /// Added to every response.
    pub latency: Duration,
    /// Each response's latency varies by up to this much either way.
    pub latency_jitter: Duration,
    /// Rate limiting of the Azure DevOps endpoints, as the service does it.
    pub rate_limit: Option<RateLimit>,
    /// Users per Graph page (the service uses about 500).
    pub graph_page_size: usize,
    /// Largest Token Admin page, whatever `pageSize` asks for.
    pub max_token_page_size: usize,
    /// The PAT a caller must present (Basic, any user name). `None`: any Basic credential is
    /// accepted. A Bearer token is accepted only when the simulator issued it (see `entra`),
    /// for the organization's tenant, and it has not expired.
    pub accepted_pat: Option<String>,
    /// The simulated Entra tenant: token endpoints and the tokens they issue.
    pub entra: SimEntra,
    /// Answer Token Admin with 401, as for a caller who is not a token administrator.
    pub deny_token_admin: bool,
    /// Answer a bad credential with the 203 sign-in page even when the client sends
    /// `X-TFS-FedAuthRedirect: Suppress` (the service is not documented to always honour it).
    pub sign_in_page_on_bad_credential: bool,
    /// Fill the `token`/`alternateToken` fields with (fake) secrets, to prove they never leak.
    pub leak_secret_fields: bool,
    pub faults: Faults,
    /// Evidence sources whose endpoint answers 401, as for a caller without the permission or
    /// PAT scope (`ssh`: Token Admin with `isPublic=true`).
    pub deny: HashSet<Source>,
    /// Auditing switched off in the organization: how the audit endpoint answers.
    pub audit_off: Option<AuditOff>,
    /// Longest audit query window (`endTime - startTime`); longer ones get 400.
    pub audit_max_window: Duration,
    /// Largest audit page, whatever `batchSize` asks for.
    pub audit_max_batch: usize,
    /// Entries per User Entitlements page (the service's tokens hint at 100).
    pub entitlements_page_size: usize,
    /// The tenant's PAT policies; `None`: the organization's seeded ones (`default_policies`).
    pub tenant_policies: Option<TenantPolicies>,
    /// Token Admin answers 404 for an owner removed from the organization who owns no PAT (as
    /// the service may); off: 200 with no tokens, as before evidence existed. Off by default
    /// until the scanner reads membership before judging a 404.
    pub removed_owners_not_found: bool,
    /// How Token Admin answers where Microsoft's documents leave it open (`--behaviour`).
    pub behaviour: Behaviour,
}

/// How the audit endpoint answers when auditing is off (Microsoft documents neither answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOff {
    /// 403 `AuditLogNotEnabledException`: "Auditing is not enabled for this organization…".
    Refuse,
    /// 200 with no entries, as an organization with nothing logged.
    Empty,
}

/// Faults injected into responses.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// Share answered 503.
    pub unavailable_rate: f64,
    /// Share whose connection is dropped without an answer.
    pub reset_rate: f64,
    /// Share whose body is cut short.
    pub truncate_rate: f64,
    /// Share answered 200 with a body that is not the expected JSON.
    pub malformed_rate: f64,
    /// `Retry-After` sent with injected 429s.
    pub retry_after: Duration,
    /// Share of responses whose body arrives slowly (half, then a pause of `slow_body`).
    pub slow_body_rate: f64,
    pub slow_body: Duration,
    /// Owners (descriptors) whose token listing always fails with HTTP 500.
    pub failing_owners: HashSet<String>,
    /// Owners whose token listing always answers malformed JSON.
    pub malformed_owners: HashSet<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            organization: "fabrikam".into(),
            seed: 42,
            users: 300,
            anchor: Utc::now(),
            epoch: None,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            rate_limit: None,
            graph_page_size: 500,
            max_token_page_size: 100,
            accepted_pat: None,
            entra: SimEntra::default(),
            deny_token_admin: false,
            sign_in_page_on_bad_credential: false,
            leak_secret_fields: false,
            faults: Faults::default(),
            deny: HashSet::new(),
            audit_off: None,
            audit_max_window: Duration::from_secs(31 * 86_400),
            audit_max_batch: 1000,
            entitlements_page_size: 100,
            tenant_policies: None,
            removed_owners_not_found: false,
            behaviour: Behaviour::default(),
        }
    }
}

/// Counters of what the simulator did.
#[derive(Debug, Default)]
pub struct SimStats {
    pub requests: AtomicU64,
    pub graph_pages: AtomicU64,
    pub token_pages: AtomicU64,
    pub faults_injected: AtomicU64,
    pub unauthenticated: AtomicU64,
    /// Access tokens issued by the token endpoints (and `SimHandle::issue_token`).
    pub tokens_issued: AtomicU64,
    /// Requests refused because their Bearer token had expired.
    pub expired_tokens_refused: AtomicU64,
    pub entitlement_pages: AtomicU64,
    pub membership_requests: AtomicU64,
    pub audit_pages: AtomicU64,
    pub policy_requests: AtomicU64,
    /// Revocation requests received (`POST _apis/tokenadmin/revocations`), whatever their answer.
    pub revocation_posts: AtomicU64,
    /// Credentials revoked (one per id per accepted request).
    pub revocations: AtomicU64,
    /// Times each authorization id was revoked.
    pub revocations_by_id: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Work items created (`POST _apis/wit/workitems/$type`, accepted).
    pub work_item_creates: AtomicU64,
    /// Work items updated (`PATCH _apis/wit/workitems/{id}`, accepted).
    pub work_item_updates: AtomicU64,
    /// WIQL queries received (`POST _apis/wit/wiql`).
    pub wiql_queries: AtomicU64,
}

struct SimState {
    config: SimConfig,
    org: SimOrg,
    stats: SimStats,
    /// Shared by the organizations of one tenant (`start_tenant`): a token issued by the
    /// tenant's token endpoint is good for each of them.
    tokens: Arc<entra::TokenStore>,
    limiter: Option<throttle::Limiter>,
    /// The audit log, generated on first query.
    audit: std::sync::OnceLock<Vec<SimAuditEntry>>,
    /// User Entitlements' `totalCount`, counted on first query.
    members: std::sync::OnceLock<usize>,
    /// Revocations, replaced and moved credentials since the organization was generated.
    changes: std::sync::RwLock<revocations::Changes>,
    /// Revocations recorded before the service starts failing (`SimHandle::allow_revocations`).
    revocations_allowed: AtomicU64,
    /// The authorization id of `accepted_pat` (`SimHandle::bind_pat`): once it is revoked, the
    /// PAT stops working.
    pat_authorization_id: std::sync::Mutex<Option<String>>,
    /// Azure Boards' work items (`workitems`).
    boards: std::sync::Mutex<workitems::Boards>,
}

/// A running simulator. Dropping it shuts the server down gracefully: it stops accepting
/// connections, and each open connection finishes the answer it is sending, then closes.
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    /// Dropped with the handle: the server's signal to shut down.
    _shutdown: tokio::sync::watch::Sender<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, for `--base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn org(&self) -> &SimOrg {
        &self.state.org
    }

    pub fn stats(&self) -> &SimStats {
        &self.state.stats
    }

    /// Rate limiting counters: (blocked with 429, delayed, requests that ignored a Retry-After).
    pub fn throttling(&self) -> (u64, u64, u64) {
        self.state.limiter.as_ref().map_or((0, 0, 0), |l| {
            (l.blocked.load(Ordering::Relaxed), l.delayed.load(Ordering::Relaxed), l.violations.load(Ordering::Relaxed))
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// The organization's Entra tenant id (what `--tenant` and the token endpoint take).
    pub fn tenant_id(&self) -> &str {
        &self.state.org.tenant_id
    }

    /// Issues an access token for `principal` in `tenant_id`, as a signed-in tool (`az`, `azd`)
    /// would have obtained it; valid for `lifetime`. Returns the token and its expiry (Unix
    /// seconds). Counted in `tokens_issued`.
    pub fn issue_token(&self, tenant_id: &str, principal: Principal, lifetime: Duration) -> (String, u64) {
        self.state.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
        self.state.tokens.issue(tenant_id, principal, lifetime, lifetime, None)
    }

    /// Every access token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens.all()
    }

    /// Generates now what the evidence endpoints otherwise generate on their first request (the
    /// audit log, the member count), so that a benchmark does not time the simulator.
    pub fn warm_up(&self) {
        let state = &self.state;
        state.audit.get_or_init(|| state.org.audit_log());
        state.members.get_or_init(|| state.member_count());
    }

    /// The user `connectionData` reports for a PAT or a user's token: the organization's first
    /// Entra (aad) member, if it has one.
    pub fn administrator(&self) -> Option<SimUser> {
        self.state.administrator()
    }
}

/// Generates the organization and serves it on `127.0.0.1:port` (0 picks a free port).
pub async fn start(config: SimConfig, port: u16) -> io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let org = SimOrg::generate(&config.organization, config.seed, config.users, config.anchor, config.epoch);
    let state = SimState::new(config, org, Arc::default());
    let (shutdown, shutdown_signal) = tokio::sync::watch::channel(());
    let served = state.clone();
    tokio::spawn(http::serve(
        listener,
        move |request| {
            let state = served.clone();
            async move { state.handle(request).await }
        },
        shutdown_signal,
    ));
    Ok(SimHandle { addr, state, _shutdown: shutdown })
}

impl SimState {
    /// The state of one served organization (`org`, generated from `config`).
    fn new(config: SimConfig, mut org: SimOrg, tokens: Arc<entra::TokenStore>) -> Arc<SimState> {
        if let Some(policies) = &config.tenant_policies {
            org.policies = policies.clone();
        }
        org.removed_owners_not_found = config.removed_owners_not_found;
        // A 429 leaves after the simulated latency: requests sent before the caller could see it
        // are not violations.
        let limiter = config.rate_limit.clone().map(|mut limit| {
            limit.grace += config.latency + config.latency_jitter;
            throttle::Limiter::new(limit)
        });
        Arc::new(SimState {
            config,
            org,
            stats: SimStats::default(),
            tokens,
            limiter,
            audit: Default::default(),
            members: Default::default(),
            changes: Default::default(),
            revocations_allowed: AtomicU64::new(u64::MAX),
            pat_authorization_id: Default::default(),
            boards: Default::default(),
        })
    }
}

impl SimState {
    async fn handle(&self, request: Request) -> Reply {
        let n = self.stats.requests.fetch_add(1, Ordering::Relaxed);
        // `{org}/_apis/…`, or Azure Boards' `{org}/{project}[/{team}]/_apis/wit/…`.
        let at = |i: usize, want: &str| request.segments.get(i).is_some_and(|s| s.eq_ignore_ascii_case(want));
        let is_api = at(1, "_apis") || (at(2, "_apis") && at(3, "wit")) || (at(3, "_apis") && at(4, "wit"));
        // Rate limiting judges a request when it arrives.
        let mut rate_headers = Vec::new();
        if let (true, Some(limiter)) = (is_api, &self.limiter) {
            match limiter.check(tokio::time::Instant::now()) {
                throttle::Verdict::Block { retry_after, headers } => {
                    self.sleep_latency(n).await;
                    let mut response = error(
                        429,
                        "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'TokenAdmin' in namespace 'User'.",
                        "RequestBlockedException",
                    )
                    .with_header("Retry-After", throttle::retry_after_value(retry_after));
                    response.headers.extend(headers);
                    return Reply::Response(response);
                }
                throttle::Verdict::Serve { delay, headers } => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    rate_headers = headers;
                }
            }
        }
        self.sleep_latency(n).await;
        let f = &self.config.faults;
        let slow = is_api
            && f.slow_body_rate > 0.0
            && rng::Rng::new(rng::mix(self.config.seed ^ 0x510, n)).chance(f.slow_body_rate);
        let mut reply = match self.respond(n, &request).await {
            Reply::Response(r) if slow => {
                self.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
                Reply::Slow(r, f.slow_body)
            }
            other => other,
        };
        if let Reply::Response(r) | Reply::Truncate(r) | Reply::Slow(r, _) = &mut reply {
            r.headers.extend(rate_headers);
        }
        reply
    }

    /// The configured latency, varied by up to the jitter either way.
    async fn sleep_latency(&self, n: u64) {
        let (base, jitter) = (self.config.latency, self.config.latency_jitter);
        if base.is_zero() && jitter.is_zero() {
            return;
        }
        let swing = rng::Rng::new(rng::mix(self.config.seed ^ 0x1A7E, n)).unit() * 2.0 - 1.0;
        let wait =
            if swing >= 0.0 { base + jitter.mul_f64(swing) } else { base.saturating_sub(jitter.mul_f64(-swing)) };
        tokio::time::sleep(wait).await;
    }

    async fn respond(&self, n: u64, request: &Request) -> Reply {
        let request = request.clone();
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        if let Some(reply) = self.token_endpoints(&segments, &request) {
            return reply;
        }
        let principal = match self.authenticate(&request) {
            Ok(principal) => principal,
            Err(reply) => {
                self.stats.unauthenticated.fetch_add(1, Ordering::Relaxed);
                return reply;
            }
        };
        // Azure Boards: `{org}/{project}[/{team}]/_apis/wit/…` (`workitems`).
        let is = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        let boards = match segments.as_slice() {
            [org, project, apis, wit, rest @ ..] if is(apis, "_apis") && is(wit, "wit") => Some((*org, *project, rest)),
            [org, project, _team, apis, wit, rest @ ..]
                if is(apis, "_apis") && is(wit, "wit") && rest.len() == 1 && is(rest[0], "wiql") =>
            {
                Some((*org, *project, rest))
            }
            _ => None,
        };
        if let Some((org, project, rest)) = boards {
            if !org.eq_ignore_ascii_case(&self.config.organization) {
                return Reply::Response(error(
                    404,
                    &format!("VS800075: The organization '{org}' does not exist."),
                    "HostNotFoundException",
                ));
            }
            return self.work_items(n, &request, project, rest);
        }
        let route = match segments.as_slice() {
            [org, apis, rest @ ..] if apis.eq_ignore_ascii_case("_apis") => Some((*org, rest)),
            _ => None,
        };
        let Some((org, rest)) = route else {
            return Reply::Response(error(404, "The resource cannot be found.", "NotFoundException"));
        };
        if !org.eq_ignore_ascii_case(&self.config.organization) {
            return Reply::Response(error(
                404,
                &format!("VS800075: The organization '{org}' does not exist."),
                "HostNotFoundException",
            ));
        }
        match rest {
            [c] if is(c, "connectionData") && request.method == "GET" => self.connection_data(&principal),
            [t, p] if is(t, "tokens") && is(p, "pats") && request.method == "GET" => {
                let user_bearer = matches!(principal, Principal::Administrator)
                    && request.header("authorization").is_some_and(|a| a.starts_with("Bearer "));
                let own = self
                    .administrator()
                    .and_then(|admin| self.org.user_index(&admin.descriptor))
                    .map(|i| self.org.tokens_of(i))
                    .unwrap_or_default();
                behaviour::lifecycle_list(&request, &own, self.config.anchor, user_bearer)
            }
            [g, u] if is(g, "graph") && is(u, "users") && request.method == "GET" => {
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.graph_users(&request)
            }
            [t, p, descriptor] if is(t, "tokenadmin") && is(p, "personalaccesstokens") && request.method == "GET" => {
                if self.config.deny_token_admin {
                    return Reply::Response(error(
                        401,
                        "TF400813: The user is not authorized to administrate tokens.",
                        "UnauthorizedRequestException",
                    ));
                }
                if let Some(fault) = self.random_fault(n, Some(descriptor)) {
                    return fault;
                }
                self.personal_access_tokens(&request, descriptor)
            }
            [t, r] if is(t, "tokenadmin") && is(r, "revocations") && request.method == "POST" => {
                self.stats.revocation_posts.fetch_add(1, Ordering::Relaxed);
                if self.config.deny_token_admin {
                    return Reply::Response(error(
                        401,
                        "TF400813: The user is not authorized to administrate tokens.",
                        "UnauthorizedRequestException",
                    ));
                }
                // A 204 has no body to cut short or garble: throttling, 503 and resets only.
                if let Some(fault) = self
                    .random_fault(n, None)
                    .filter(|r| matches!(r, Reply::Drop) || matches!(r, Reply::Response(r) if r.status != 200))
                {
                    return fault;
                }
                self.revocations(&request)
            }
            // Evidence sources (`evidence_api`): vsaex, vssps and auditservice share the base URL.
            [u] if is(u, "userentitlements") && request.method == "GET" => {
                if self.denies(Source::Entitlements) {
                    return evidence_api::denied();
                }
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.user_entitlements(&request)
            }
            [g, m, descriptor] if is(g, "graph") && is(m, "membershipstates") && request.method == "GET" => {
                self.stats.membership_requests.fetch_add(1, Ordering::Relaxed);
                if self.denies(Source::Membership) {
                    return evidence_api::denied();
                }
                if let Some(fault) = self.random_fault(n, Some(descriptor)) {
                    return fault;
                }
                self.membership_state(descriptor)
            }
            [a, l] if is(a, "audit") && is(l, "auditlog") && request.method == "GET" => {
                if self.denies(Source::Audit) {
                    return evidence_api::denied();
                }
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.audit_log(&request)
            }
            [t, p, name] if is(t, "TenantPolicy") && is(p, "Policies") && request.method == "GET" => {
                self.stats.policy_requests.fetch_add(1, Ordering::Relaxed);
                if self.denies(Source::Policies) {
                    return evidence_api::denied();
                }
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.tenant_policy(name)
            }
            _ => Reply::Response(error(404, "The resource cannot be found.", "NotFoundException")),
        }
    }

    /// The Entra endpoints, served outside any organization: the v2 token endpoint, the managed
    /// identity endpoint and Azure Pipelines' OIDC endpoint. `None`: not one of them.
    fn token_endpoints(&self, segments: &[&str], request: &Request) -> Option<Reply> {
        let endpoints =
            entra::Endpoints { config: &self.config.entra, tenant_id: &self.org.tenant_id, store: &self.tokens };
        let is = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        let answer = match segments {
            [tenant, o, v, t] if is(o, "oauth2") && is(v, "v2.0") && is(t, "token") && request.method == "POST" => {
                endpoints.token(tenant, request)
            }
            [m, t] if is(m, "msi") && is(t, "token") && request.method == "GET" => endpoints.managed_identity(request),
            [_, _, apis, .., last] if is(apis, "_apis") && is(last, "oidctoken") && request.method == "POST" => {
                endpoints.pipelines_oidc(request)
            }
            _ => return None,
        };
        if answer.issued {
            self.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
        }
        Some(answer.reply)
    }

    /// Who the caller is, or the service's answer to a bad credential: 401 when the client
    /// suppresses the sign-in redirect, else 203 with an HTML sign-in page.
    fn authenticate(&self, request: &Request) -> Result<Principal, Reply> {
        let presented = request.header("authorization").unwrap_or_default();
        let refusal = if let Some(token) = presented.strip_prefix("Bearer ") {
            match self.tokens.check(token.trim(), &self.org.tenant_id) {
                Ok(principal) => return Ok(principal),
                Err(entra::TokenRefusal::Expired) => {
                    self.stats.expired_tokens_refused.fetch_add(1, Ordering::Relaxed);
                    "TF400813: The user '' is not authorized to access this resource. The access token has expired."
                        .to_string()
                }
                Err(entra::TokenRefusal::OtherTenant(tenant)) => format!(
                    "TF400813: The user is not authorized to access this resource. The token was issued by tenant '{tenant}', which is not the tenant of this organization."
                ),
                Err(entra::TokenRefusal::Unknown) => {
                    "TF400813: The user '' is not authorized to access this resource.".to_string()
                }
            }
        } else {
            let accepted = match &self.config.accepted_pat {
                None => !presented.trim().is_empty(),
                Some(pat) => presented
                    .strip_prefix("Basic ")
                    .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .and_then(|userpass| userpass.split_once(':').map(|(_, p)| p == pat))
                    .unwrap_or(false),
            };
            if accepted && !self.pat_revoked() {
                return Ok(Principal::Administrator);
            }
            "TF400813: The user '' is not authorized to access this resource.".to_string()
        };
        let suppressed = !self.config.sign_in_page_on_bad_credential
            && request.header("x-tfs-fedauthredirect").is_some_and(|v| v.eq_ignore_ascii_case("suppress"));
        Err(Reply::Response(if suppressed {
            error(401, &refusal, "UnauthorizedRequestException")
                .with_header("WWW-Authenticate", "Bearer authorization_uri=https://login.microsoftonline.com/common")
                .with_header("WWW-Authenticate", "Basic realm=\"https://sim.dev.azure.com/\"")
        } else {
            Response {
                status: 203,
                headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                body: b"<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>Sign in</body></html>".to_vec(),
            }
        }))
    }

    fn administrator(&self) -> Option<SimUser> {
        self.org.users().find(|u| u.subject_type() == "aad")
    }

    /// `GET _apis/connectionData`: who the caller is, and which organization answers.
    fn connection_data(&self, principal: &Principal) -> Reply {
        let administrator = self.administrator();
        let identity = entra::identity_json(principal, &self.org.tenant_id, administrator.as_ref());
        Reply::Response(Response::json(
            200,
            &json!({
                "authenticatedUser": identity,
                "authorizedUser": identity,
                "instanceId": self.org.id,
                "deploymentId": "00000000-0000-0000-0000-000000000000",
                "deploymentType": "hosted",
                "locationServiceData": {
                    "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
                    "defaultAccessMappingMoniker": "PublicAccessMapping",
                    "lastChangeId": 1,
                    "lastChangeId64": 1,
                },
            }),
        ))
    }

    fn random_fault(&self, n: u64, owner: Option<&str>) -> Option<Reply> {
        let f = &self.config.faults;
        if let Some(owner) = owner {
            if f.failing_owners.contains(owner) {
                return Some(Reply::Response(error(
                    500,
                    "Simulated permanent failure for this owner.",
                    "SimulatedFault",
                )));
            }
            if f.malformed_owners.contains(owner) {
                return Some(malformed(n));
            }
        }
        let mut rng = rng::Rng::new(rng::mix(self.config.seed, n));
        let roll = rng.unit();
        let mut edge = 0.0;
        let mut hit = |rate: f64| {
            edge += rate;
            roll < edge
        };
        let reply = if hit(f.throttle_rate) {
            Reply::Response(
                error(
                    429,
                    "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'TokenAdmin' in namespace 'User'.",
                    "RequestBlockedException",
                )
                .with_header("Retry-After", throttle::retry_after_value(f.retry_after))
                .with_header("X-RateLimit-Resource", "Simulator")
                .with_header("X-RateLimit-Limit", "200")
                .with_header("X-RateLimit-Remaining", "0"),
            )
        } else if hit(f.unavailable_rate) {
            Reply::Response(error(503, "The service is temporarily unavailable.", "ServiceUnavailableException"))
        } else if hit(f.reset_rate) {
            Reply::Drop
        } else if hit(f.truncate_rate) {
            Reply::Truncate(Response::json(
                200,
                &json!({"count": 1, "value": [{"descriptor": "aad.truncated", "padding": "x".repeat(64)}]}),
            ))
        } else if hit(f.malformed_rate) {
            malformed(n)
        } else {
            return None;
        };
        self.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        Some(reply)
    }

    fn graph_users(&self, request: &Request) -> Reply {
        self.stats.graph_pages.fetch_add(1, Ordering::Relaxed);
        let wanted: Option<Vec<String>> =
            request.query("subjectTypes").map(|s| s.split(',').map(|t| t.trim().to_ascii_lowercase()).collect());
        let matches = |u: &SimUser| wanted.as_ref().is_none_or(|w| w.iter().any(|t| t == u.subject_type()));
        let count = self.org.user_count();
        // The continuation token carries the position to go on from.
        let start = match continuation_start(request, count, decode_graph_continuation) {
            Ok(start) => start,
            Err(reply) => return reply,
        };
        let page_size = self.config.graph_page_size.max(1);
        let mut page = Vec::with_capacity(page_size.min(count));
        let mut next = start;
        while next < count && page.len() < page_size {
            if let Some(user) = self.org.user(next).filter(|u| matches(u)) {
                page.push(self.graph_user_json(&user));
            }
            next += 1;
        }
        // More to come only if a matching user is left.
        let more = (next..count).any(|i| self.org.user(i).is_some_and(|u| matches(&u)));
        let mut response = Response::json(200, &json!({"count": page.len(), "value": page}));
        if more {
            response = response.with_header("X-MS-ContinuationToken", encode_graph_continuation(next));
        }
        Reply::Response(response)
    }

    fn graph_user_json(&self, u: &SimUser) -> Value {
        let base = format!("https://vssps.dev.azure.com/{}/_apis/Graph", self.org.name);
        let link = |kind: &str| json!({"href": format!("{base}/{kind}/{}", u.descriptor)});
        let mut user = json!({
            "subjectKind": "user",
            "domain": u.domain,
            "principalName": u.principal_name,
            "mailAddress": u.mail,
            "origin": u.origin,
            "originId": u.origin_id,
            "displayName": u.display_name,
            "_links": {
                "self": link("Users"),
                "memberships": link("Memberships"),
                "membershipState": link("MembershipStates"),
                "storageKey": link("StorageKeys"),
                "avatar": {"href": format!("https://dev.azure.com/{}/_apis/GraphProfile/MemberAvatars/{}", self.org.name, u.descriptor)},
            },
            "url": format!("{base}/Users/{}", u.descriptor),
            "descriptor": u.descriptor,
        });
        if let Some(meta) = &u.meta_type {
            user["metaType"] = json!(meta);
        }
        if u.deleted_in_origin {
            user["isDeletedInOrigin"] = json!(true);
        }
        user
    }

    fn personal_access_tokens(&self, request: &Request, descriptor: &str) -> Reply {
        self.stats.token_pages.fetch_add(1, Ordering::Relaxed);
        let Some(index) = self.org.user_index(descriptor) else {
            return Reply::Response(error(
                404,
                &format!("The user '{descriptor}' could not be found."),
                "UserNotFoundException",
            ));
        };
        let Some(user) = self.org.user(index) else {
            return Reply::Response(error(404, "The user could not be found.", "UserNotFoundException"));
        };
        let user = &user;
        // Service identities cannot own PATs; an owner removed from the organization who owns
        // none is not found (spec: 400 for an invalid subject descriptor, 404 user not found).
        if user.subject_type() == "svc" {
            return Reply::Response(error(
                400,
                &format!("The subject descriptor '{descriptor}' is not of a user type that can own tokens."),
                "InvalidSubjectTypeException",
            ));
        }
        if self.org.token_admin_not_found(index) {
            return Reply::Response(error(
                404,
                &format!("The user '{descriptor}' could not be found."),
                "UserNotFoundException",
            ));
        }
        // isPublic=true lists SSH keys, else PATs.
        let is_public = request.query("isPublic").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let tokens: Vec<SimToken> = if is_public {
            if self.denies(Source::Ssh) {
                return evidence_api::denied();
            }
            self.org.ssh_keys_of(index)
        } else {
            let b = &self.config.behaviour;
            self.org.tokens_of(index).into_iter().filter(|t| b.lists(t, self.config.anchor)).collect()
        };
        let tokens = self.as_changed(descriptor, is_public, tokens);
        let page_size = match request.query("pageSize").map(str::parse::<usize>) {
            None => 20,
            Some(Ok(n)) if self.config.behaviour.refuses_page_size(n) => {
                return Reply::Response(error(
                    400,
                    "The page size is larger than the maximum allowed.",
                    "ArgumentOutOfRangeException",
                ));
            }
            Some(Ok(n)) if n > 0 => n.min(self.config.max_token_page_size),
            Some(_) => {
                return Reply::Response(error(400, "The page size is not valid.", "ArgumentException"));
            }
        };
        let start = match continuation_start(request, tokens.len(), |t| decode_token_continuation(t, descriptor)) {
            Ok(start) => start,
            Err(reply) => return reply,
        };
        let end = (start + page_size).min(tokens.len());
        let value: Vec<Value> = tokens[start..end].iter().map(|t| self.session_token_json(user, t)).collect();
        let continuation = match end < tokens.len() {
            true => json!(encode_token_continuation(end, descriptor)),
            false => self.config.behaviour.end_value(),
        };
        Reply::Response(Response::json(200, &json!({"value": value, "continuationToken": continuation})))
    }

    fn session_token_json(&self, user: &SimUser, t: &SimToken) -> Value {
        let leak = self.config.leak_secret_fields;
        let (target_accounts, is_valid) = self.config.behaviour.shown(t, self.config.anchor);
        json!({
            "clientId": "00000000-0000-0000-0000-000000000000",
            "accessId": "00000000-0000-0000-0000-000000000000",
            "authorizationId": t.authorization_id,
            "hostAuthorizationId": "00000000-0000-0000-0000-000000000000",
            "userId": user.id,
            "validFrom": t.time_format.format(t.valid_from),
            "validTo": t.time_format.format(t.valid_to),
            "displayName": t.display_name,
            "scope": t.scope,
            "targetAccounts": target_accounts,
            "token": (leak && t.public_data.is_none()).then(|| t.secret.clone()),
            "alternateToken": (leak && t.public_data.is_none()).then(|| format!("alt-{}", t.secret)),
            "isValid": is_valid,
            "isPublic": t.public_data.is_some(),
            "publicData": t.public_data,
            "source": null,
        })
    }
}

/// The service's error body (`WrappedException`).
fn error(status: u16, message: &str, type_key: &str) -> Response {
    Response::json(
        status,
        &json!({
            "$id": "1",
            "innerException": null,
            "message": message,
            "typeName": format!("Microsoft.VisualStudio.Services.{type_key}, Microsoft.VisualStudio.Services.WebApi"),
            "typeKey": type_key,
            "errorCode": 0,
            "eventId": 3000,
        }),
    )
}

/// A 200 whose body is not the JSON the endpoint promises.
fn malformed(n: u64) -> Reply {
    let body: &[u8] =
        if n.is_multiple_of(2) { b"{\"value\": [{\"authorizationId\": " } else { b"{\"value\": \"not a list\"}" };
    Reply::Response(Response {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: body.to_vec(),
    })
}

fn encode_graph_continuation(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("sim-users;{offset}"))
}

fn decode_graph_continuation(token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("sim-users;")?.parse().ok()
}

/// Token Admin continuation tokens are GUIDs; ours carry the owner and the offset.
fn encode_token_continuation(offset: usize, descriptor: &str) -> String {
    let tag = rng::mix(0, descriptor.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    format!("{:08x}-{:04x}-4000-8000-{:012x}", tag >> 32, tag & 0xffff, offset)
}

fn decode_token_continuation(token: &str, descriptor: &str) -> Option<usize> {
    let expected = encode_token_continuation(0, descriptor);
    // Bytes, not characters: a hostile token must not split a character.
    let token = token.as_bytes();
    if token.len() != 36 || token[..24] != expected.as_bytes()[..24] {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(&token[24..]).ok()?, 16).ok()
}

/// Where a paged listing of `count` items goes on from: 0 without a `continuationToken`, else
/// the position `decode` reads from it; a token that does not decode to a position inside the
/// listing is the service's 400.
pub(crate) fn continuation_start(
    request: &Request,
    count: usize,
    decode: impl FnOnce(&str) -> Option<usize>,
) -> Result<usize, Reply> {
    match request.query("continuationToken") {
        None => Ok(0),
        Some(token) => match decode(token) {
            Some(start) if start < count => Ok(start),
            _ => Err(bad_continuation()),
        },
    }
}

/// The service's answer to a continuation token it did not issue.
pub(crate) fn bad_continuation() -> Reply {
    Reply::Response(error(400, "The continuation token is not valid.", "InvalidContinuationTokenException"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_and_are_bound_to_their_owner() {
        assert_eq!(decode_graph_continuation(&encode_graph_continuation(500)), Some(500));
        assert_eq!(decode_graph_continuation("garbage"), None);
        let t = encode_token_continuation(7, "aad.x");
        assert_eq!(decode_token_continuation(&t, "aad.x"), Some(7));
        assert_eq!(decode_token_continuation(&t, "aad.y"), None);
        // 23 bytes, a two-byte character across byte 24, 11 more: refused, no panic.
        assert_eq!(decode_token_continuation(&format!("{}é{}", "a".repeat(23), "0".repeat(11)), "aad.x"), None);
    }
}
