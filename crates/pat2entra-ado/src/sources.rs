//! Requests of the evidence sources (User Entitlements, Graph membership state, SSH keys, the
//! audit log, tenant policies), on the client's transport: the same bounds, pacing, retries and
//! `Paging` guard as the inventory. Each source's 401/403 is `AdoError::SourceDenied` naming the
//! permission it needs; the scan turns every failure here into that source's coverage, never
//! into a failed scan.

use crate::client::{AdoClient, Api, Paging, endpoint_name};
use crate::error::AdoError;
use crate::wire::{
    AuditLogPage, AuditRecord, MembershipState, OwnerActivity, TenantPolicy, TokenAdminPage, UserEntitlementsPage,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use pat2entra_core::evidence::TenantPolicies;
use pat2entra_core::inventory::Token;
use reqwest::header::HeaderMap;
use std::collections::HashSet;

const ENTITLEMENTS_API_VERSION: &str = "7.1";
const MEMBERSHIP_API_VERSION: &str = "7.1-preview.1";
const AUDIT_API_VERSION: &str = "7.1-preview.1";
const TOKEN_ADMIN_API_VERSION: &str = "7.1";
/// The tenant policy endpoint is undocumented; ADOPS sends no api-version, the service's own
/// clients use this one.
const TENANT_POLICY_API_VERSION: &str = "7.1-preview.1";

pub const NEEDS_ENTITLEMENTS: &str = "vso.memberentitlementmanagement";
pub const NEEDS_MEMBERSHIP: &str = "vso.graph";
pub const NEEDS_SSH: &str = "vso.tokenadministration";
pub const NEEDS_AUDIT: &str = "vso.auditlog";
/// The tenant policies are managed by the Entra role "Azure DevOps Administrator".
pub const NEEDS_POLICIES: &str = "the Azure DevOps Administrator role";

/// The shortest audit slice: a 400 for a narrower window is not about its width.
pub const MIN_AUDIT_SLICE: Duration = Duration::hours(1);

/// What the entitlement listing read: every entry of the pages that came back, and the error
/// that stopped it (after `pages` pages) if any.
#[derive(Debug)]
pub struct EntitlementsRead {
    pub entries: Vec<OwnerActivity>,
    pub pages: u32,
    pub error: Option<AdoError>,
}

/// What the audit log read over a window: every entry once (deduplicated by id across slices
/// and pages), the windows that could not be read, and why.
#[derive(Debug, Default)]
pub struct AuditRead {
    pub records: Vec<AuditRecord>,
    /// Requests answered.
    pub pages: u32,
    /// Entries that could not be read (no action, no time): counted, never guessed at.
    pub unreadable: usize,
    /// Entries returned a second time (overlapping slices, repeated pages): counted once.
    pub duplicates: usize,
    /// Windows not read, with the error that stopped each (the first slice's error first).
    pub gaps: Vec<(DateTime<Utc>, DateTime<Utc>, AdoError)>,
    /// The slice width the service finally accepted (after halving on 400).
    pub slice: Duration,
}

/// The audit query: a window read in slices of `slice` (halved down to `MIN_AUDIT_SLICE` when
/// the service refuses one with 400), `batch_size` entries per page.
#[derive(Debug, Clone, Copy)]
pub struct AuditQuery {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub slice: Duration,
    pub batch_size: u32,
}

fn is_zero_guid(token: &str) -> bool {
    let t = token.trim();
    !t.is_empty() && t.chars().all(|c| c == '0' || c == '-')
}

fn audit_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl AdoClient {
    /// `GET https://vsaex.dev.azure.com/{org}/_apis/userentitlements?api-version=7.1`, every page.
    /// The continuation token comes in the body and can hold `+ / # = :`; it is sent back
    /// percent-encoded (vsts-rest-api-specs#442). A failing page ends the listing with what
    /// was read so far.
    pub async fn list_user_entitlements(&self) -> EntitlementsRead {
        let mut read = EntitlementsRead { entries: Vec::new(), pages: 0, error: None };
        let base = match self.api_url(&self.endpoints().vsaex, &["userentitlements"]) {
            Ok(url) => url,
            Err(e) => {
                read.error = Some(e);
                return read;
            }
        };
        let mut paging = Paging::new(&base, self.options().max_listing_pages, "--max-listing-pages");
        let mut continuation: Option<String> = None;
        loop {
            if let Err(e) = paging.start_page() {
                read.error = Some(e);
                return read;
            }
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", ENTITLEMENTS_API_VERSION);
            }
            let page: UserEntitlementsPage =
                match self.get_json(Api::Evidence { needs: NEEDS_ENTITLEMENTS }, &url).await {
                    Ok((page, _)) => page,
                    Err(e) => {
                        read.error = Some(e);
                        return read;
                    }
                };
            read.pages += 1;
            let next = page.continuation_token.clone().filter(|c| !c.trim().is_empty());
            let entries = page.entries();
            let empty = entries.is_empty();
            read.entries.extend(entries.into_iter().filter_map(|e| e.into_activity()));
            // An empty page ends the listing even if it carries a token (some services repeat it).
            continuation = match paging.follow(next.filter(|_| !empty)) {
                Ok(next) => next,
                Err(e) => {
                    read.error = Some(e);
                    return read;
                }
            };
            if continuation.is_none() {
                return read;
            }
        }
    }

    /// `GET https://vssps.dev.azure.com/{org}/_apis/graph/membershipstates/{descriptor}`
    /// (`api-version=7.1-preview.1`): is the owner still a member of the organization. One
    /// request per owner; `None` when the answer carries no readable `active`.
    pub async fn membership_state(&self, descriptor: &str) -> Result<Option<bool>, AdoError> {
        let mut url = self.api_url(&self.endpoints().vssps, &["graph", "membershipstates", descriptor])?;
        url.query_pairs_mut().append_pair("api-version", MEMBERSHIP_API_VERSION);
        let (state, _): (MembershipState, HeaderMap) =
            self.get_json(Api::Evidence { needs: NEEDS_MEMBERSHIP }, &url).await?;
        Ok(state.active.ok())
    }

    /// One owner's SSH keys: Token Admin with `isPublic=true` ("Set to false for PAT tokens and
    /// true for SSH tokens", `specification/tokenAdmin/7.1/tokenAdmin.json`), kept as tokens of
    /// kind `ssh`. The key text (`publicData`) is not read. Paging ends on a missing, empty or
    /// all-zero continuation token (Microsoft's C# sample stops at `Guid.Empty`).
    pub async fn list_ssh_keys(&self, owner_descriptor: &str, page_size: u32) -> Result<Vec<Token>, AdoError> {
        let base = self.api_url(&self.endpoints().vssps, &["tokenadmin", "personalaccesstokens", owner_descriptor])?;
        let mut keys = Vec::new();
        let mut paging = Paging::new(&base, self.options().max_pages_per_owner, "--max-pages");
        let mut continuation: Option<String> = None;
        loop {
            paging.start_page()?;
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("pageSize", &page_size.to_string());
                q.append_pair("isPublic", "true");
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", TOKEN_ADMIN_API_VERSION);
            }
            let (page, _): (TokenAdminPage, HeaderMap) =
                self.get_json(Api::Evidence { needs: NEEDS_SSH }, &url).await?;
            keys.extend(page.value.into_iter().map(|t| t.into_ssh_key(owner_descriptor)));
            let next = page.continuation_token.filter(|c| !c.trim().is_empty() && !is_zero_guid(c));
            continuation = paging.follow(next)?;
            if continuation.is_none() {
                return Ok(keys);
            }
        }
    }

    /// One page of `GET https://auditservice.dev.azure.com/{org}/_apis/audit/auditlog`
    /// (`startTime`, `endTime`, `batchSize`, `continuationToken`, `api-version=7.1-preview.1`).
    async fn audit_page(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        batch_size: u32,
        continuation: Option<&str>,
    ) -> Result<AuditLogPage, AdoError> {
        let mut url = self.api_url(&self.endpoints().audit, &["audit", "auditlog"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("startTime", &audit_time(start));
            q.append_pair("endTime", &audit_time(end));
            q.append_pair("batchSize", &batch_size.to_string());
            if let Some(c) = continuation {
                q.append_pair("continuationToken", c);
            }
            q.append_pair("api-version", AUDIT_API_VERSION);
        }
        let (page, _): (AuditLogPage, HeaderMap) = self.get_json(Api::Evidence { needs: NEEDS_AUDIT }, &url).await?;
        Ok(page.normalized())
    }

    /// The audit log over `query`'s window, in slices oldest first, each paged while `hasMore`.
    /// A slice refused with 400 is asked again at half the width (down to `MIN_AUDIT_SLICE`);
    /// the narrower width is kept for the slices after it. A denial (401/403) ends the reading:
    /// every later slice would be refused too. Any other failure is a gap for that slice only.
    pub async fn read_audit_log(&self, query: AuditQuery) -> AuditRead {
        let mut read = AuditRead { slice: query.slice.max(MIN_AUDIT_SLICE), ..AuditRead::default() };
        let mut seen: HashSet<String> = HashSet::new();
        let mut from = query.start;
        while from < query.end {
            let to = (from + read.slice).min(query.end);
            match self.audit_slice(from, to, query.batch_size, &mut seen, &mut read).await {
                Ok(()) => from = to,
                Err(AdoError::Status { status: 400, .. }) if read.slice / 2 >= MIN_AUDIT_SLICE => {
                    // Too wide for the service: the same window, narrower.
                    read.slice = read.slice / 2;
                }
                Err(e) => {
                    let stop =
                        matches!(e, AdoError::SourceDenied { .. } | AdoError::DeadlineReached { .. }) || e.is_fatal();
                    if stop {
                        read.gaps.push((from, query.end, e));
                        return read;
                    }
                    read.gaps.push((from, to, e));
                    from = to;
                }
            }
        }
        read
    }

    /// One slice, every page. Entries already seen (by id) are counted once.
    async fn audit_slice(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        batch_size: u32,
        seen: &mut HashSet<String>,
        read: &mut AuditRead,
    ) -> Result<(), AdoError> {
        let base = self.api_url(&self.endpoints().audit, &["audit", "auditlog"])?;
        let mut paging = Paging::new(&base, self.options().max_listing_pages, "--max-listing-pages");
        let mut continuation: Option<String> = None;
        loop {
            paging.start_page()?;
            let page = self.audit_page(from, to, batch_size, continuation.as_deref()).await?;
            read.pages += 1;
            for entry in page.decorated_audit_log_entries.unwrap_or_default() {
                match entry.into_record() {
                    Ok(record) if seen.insert(record.key.clone()) => read.records.push(record),
                    Ok(_) => read.duplicates += 1,
                    Err(_) => read.unreadable += 1,
                }
            }
            let next = page.continuation_token.filter(|c| !c.trim().is_empty());
            if page.has_more != Some(true) {
                return Ok(());
            }
            // `hasMore` without a token to go on with would ask for the first page again.
            let Some(next) = next else {
                return Err(AdoError::Malformed {
                    endpoint: endpoint_name(&base),
                    detail: "hasMore is true but no continuationToken came with it".into(),
                });
            };
            continuation = paging.follow(Some(next))?;
        }
    }

    /// `GET https://vssps.dev.azure.com/{org}/_apis/TenantPolicy/Policies/TenantPolicy.{name}`.
    pub async fn tenant_policy(&self, name: &str) -> Result<TenantPolicy, AdoError> {
        let segment = format!("TenantPolicy.{name}");
        let mut url = self.api_url(&self.endpoints().vssps, &["TenantPolicy", "Policies", &segment])?;
        url.query_pairs_mut().append_pair("api-version", TENANT_POLICY_API_VERSION);
        let (policy, _): (TenantPolicy, HeaderMap) =
            self.get_json(Api::Evidence { needs: NEEDS_POLICIES }, &url).await?;
        Ok(policy)
    }

    /// The four PAT policies of the tenant. Each one read separately: one that cannot be read
    /// is `None` in the result and its error is returned beside it.
    pub async fn tenant_policies(&self) -> (TenantPolicies, Vec<(&'static str, AdoError)>) {
        let mut policies = TenantPolicies::default();
        let mut errors = Vec::new();
        for name in POLICY_NAMES {
            match self.tenant_policy(name).await {
                Ok(p) => match name {
                    "RestrictGlobalPersonalAccessToken" => policies.restrict_global_pat = p.enabled(),
                    "RestrictFullScopePersonalAccessToken" => policies.restrict_full_scope_pat = p.enabled(),
                    "RestrictPersonalAccessTokenLifespan" => {
                        policies.restrict_pat_lifespan = p.enabled();
                        policies.max_pat_lifespan_days = p.max_pat_lifespan_days();
                    }
                    _ => policies.leaked_pat_auto_revocation = p.enabled(),
                },
                Err(e) => errors.push((name, e)),
            }
        }
        (policies, errors)
    }
}

pub const POLICY_NAMES: [&str; 4] = [
    "RestrictGlobalPersonalAccessToken",
    "RestrictFullScopePersonalAccessToken",
    "RestrictPersonalAccessTokenLifespan",
    "EnableLeakedPersonalAccessTokenAutoRevocation",
];
