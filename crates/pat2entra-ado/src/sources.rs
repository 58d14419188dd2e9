//! Requests of the evidence sources (User Entitlements, Graph membership state, SSH keys, the
//! audit log, tenant policies), on the client's transport: the same bounds, pacing, retries and
//! `Paging` guard as the inventory. Each source's 401/403 is `AdoError::SourceDenied` naming the
//! permission it needs; the scan turns every failure here into that source's coverage, never
//! into a failed scan.

use crate::client::{AdoClient, Api, Paging, endpoint_name};
use crate::error::AdoError;
use crate::wire::{AuditLogPage, AuditRecord, MembershipState, OwnerActivity, TenantPolicy, UserEntitlementsPage};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use pat2entra_core::evidence::TenantPolicies;
use pat2entra_core::inventory::Token;
use reqwest::header::HeaderMap;
use std::collections::HashSet;

const ENTITLEMENTS_API_VERSION: &str = "7.1";
const MEMBERSHIP_API_VERSION: &str = "7.1-preview.1";
const AUDIT_API_VERSION: &str = "7.1-preview.1";
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
            // A page with neither `items` nor `members` is not an empty page: the listing would
            // end there silently.
            if page.items.is_none() && page.members.is_none() {
                read.error = Some(AdoError::Malformed {
                    endpoint: endpoint_name(&base),
                    detail: "a page without items (not retried: the JSON is well-formed but not of the expected shape)"
                        .into(),
                });
                return read;
            }
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
        Ok(Some(state.active))
    }

    /// One owner's SSH keys: Token Admin with `isPublic=true` ("Set to false for PAT tokens and
    /// true for SSH tokens", `specification/tokenAdmin/7.1/tokenAdmin.json`), kept as tokens of
    /// kind `ssh`. The key text (`publicData`) is not read. Paging ends on a missing, empty or
    /// all-zero continuation token (Microsoft's C# sample stops at `Guid.Empty`).
    pub async fn list_ssh_keys(&self, owner_descriptor: &str, page_size: u32) -> Result<Vec<Token>, AdoError> {
        let pages =
            self.token_admin_pages(owner_descriptor, page_size, true, Api::Evidence { needs: NEEDS_SSH }).await?;
        let owner = pat2entra_core::Text::from(owner_descriptor);
        let mut keys = Vec::with_capacity(pages.iter().map(|p| p.value.len()).sum());
        keys.extend(pages.into_iter().flat_map(|p| p.value).map(|t| t.into_ssh_key(owner.clone())));
        Ok(keys)
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
        page.normalized().map_err(|detail| AdoError::Malformed {
            endpoint: endpoint_name(&url),
            detail: format!("{detail} (not retried: the JSON is well-formed but not of the expected shape)"),
        })
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
        // A policy whose `value` is not a boolean says nothing: not read as "off".
        if policy.enabled().is_none() {
            return Err(AdoError::Malformed {
                endpoint: endpoint_name(&url),
                detail: "no boolean value (not retried: the JSON is well-formed but not of the expected shape)".into(),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientOptions;
    use crate::client::tests::{client_for, http, serve};
    use std::sync::{Arc, Mutex};

    /// The query of a request head (`GET /path?query HTTP/1.1`), decoded.
    fn query(head: &str) -> HashMap<String, String> {
        let target = head.split_whitespace().nth(1).unwrap_or_default();
        let url = url::Url::parse(&format!("http://x{target}")).unwrap();
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }
    use std::collections::HashMap;

    #[tokio::test]
    async fn entitlements_follow_the_body_token_sent_back_encoded() {
        let raw = "a+b/c=d:e#f g";
        let (base, count) = serve(move |n, head| {
            let body = match n {
                0 => format!(
                    r#"{{"items":[{{"user":{{"descriptor":"aad.a"}},"lastAccessedDate":"2026-11-01T00:00:00Z","accessLevel":{{"status":"active"}}}}],"continuationToken":"{raw}","totalCount":2}}"#
                ),
                // The token must come back percent-encoded: a raw `+`, `#` or space would change it.
                _ if head.contains("continuationToken=a%2Bb%2Fc%3Dd%3Ae%23f+g") && query(head)["continuationToken"] == raw => {
                    r#"{"items":[{"user":{"descriptor":"aad.b"},"lastAccessedDate":"0001-01-01T00:00:00"}],"continuationToken":null}"#.into()
                }
                _ => return Some(http("400 Bad Request", "", r#"{"message":"bad token"}"#)),
            };
            Some(http("200 OK", "", &body))
        })
        .await;
        let client = client_for(&base, ClientOptions::default());
        let read = client.list_user_entitlements().await;
        assert!(read.error.is_none(), "{:?}", read.error);
        assert_eq!(read.pages, 2);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        let names: Vec<_> = read.entries.iter().map(|e| (e.descriptor.as_str(), e.last_accessed)).collect();
        assert_eq!(names[1], ("aad.b", Some(pat2entra_core::evidence::LastAccessed::Never)));
    }

    #[tokio::test]
    async fn ssh_keys_end_at_an_all_zero_token_and_a_denial_names_the_scope() {
        let (base, _) = serve(|n, head| {
            assert!(head.contains("isPublic=true"), "{head}");
            let token = if n == 0 { "\"11111111-0000-0000-0000-000000000000\"" } else { "\"00000000-0000-0000-0000-000000000000\"" };
            Some(http(
                "200 OK",
                "",
                &format!(r#"{{"value":[{{"authorizationId":"k{n}","publicData":"ssh-rsa AAAA","validTo":"9999-12-31T23:59:59"}}],"continuationToken":{token}}}"#),
            ))
        })
        .await;
        let client = client_for(&base, ClientOptions::default());
        let keys = client.list_ssh_keys("aad.a", 20).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.kind == pat2entra_core::evidence::CredentialKind::Ssh && k.valid_to.is_none()));
        assert!(!format!("{keys:?}").contains("AAAA"), "the key text is not kept");

        let (base, _) = serve(|_, _| Some(http("403 Forbidden", "", "{}"))).await;
        let err = client_for(&base, ClientOptions::default()).list_ssh_keys("aad.a", 20).await.unwrap_err();
        assert!(matches!(err, AdoError::SourceDenied { needs: NEEDS_SSH, .. }), "{err}");
        assert!(!err.is_fatal());
    }

    /// The windows an audit service accepted.
    type Windows = Arc<Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>>;

    /// An audit service holding `events` (timestamps), refusing windows wider than `widest`,
    /// answering `batchSize` entries per page (the continuation token is the offset), both ends
    /// of a window inclusive (so an entry on a slice boundary comes back twice), every other
    /// page nested under `value`. Records each accepted window.
    fn audit_service(
        events: Vec<DateTime<Utc>>,
        widest: Duration,
        windows: Windows,
    ) -> impl Fn(usize, &str) -> Option<Vec<u8>> + Send + Sync + 'static {
        move |n, head| {
            let q = query(head);
            let start: DateTime<Utc> = q["startTime"].parse().unwrap();
            let end: DateTime<Utc> = q["endTime"].parse().unwrap();
            if end - start > widest {
                return Some(http("400 Bad Request", "", r#"{"message":"The time range is too large."}"#));
            }
            windows.lock().unwrap().push((start, end));
            let batch: usize = q["batchSize"].parse().unwrap();
            let from: usize = q.get("continuationToken").map_or(0, |c| c.trim_start_matches("off:").parse().unwrap());
            let inside: Vec<(usize, &DateTime<Utc>)> =
                events.iter().enumerate().filter(|(_, t)| **t >= start && **t <= end).collect();
            let page: Vec<String> = inside
                .iter()
                .skip(from)
                .take(batch)
                .map(|(i, t)| {
                    format!(
                        r#"{{"id":"e{i}","actionId":"Git.RefUpdate","timestamp":"{}","authenticationMechanism":"PAT_Unscoped authorizationId:0f6f4b6c-1234-4c1d-9a3e-{i:012}"}}"#,
                        t.to_rfc3339()
                    )
                })
                .collect();
            let more = from + batch < inside.len();
            let result = format!(
                r#"{{"decoratedAuditLogEntries":[{}],"continuationToken":"off:{}","hasMore":{more}}}"#,
                page.join(","),
                from + batch
            );
            let body = if n % 2 == 0 { result } else { format!(r#"{{"value":{result}}}"#) };
            Some(http("200 OK", "", &body))
        }
    }

    #[tokio::test]
    async fn audit_slices_and_batches_find_every_event_exactly_once() {
        let end: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
        let start = end - Duration::days(90);
        // Events spread over the window, one exactly on the boundary of the accepted slice width
        // (42h = 7d halved twice), one on the window's first and last instant.
        let mut events: Vec<DateTime<Utc>> = (0..23).map(|k| start + Duration::hours(1 + 93 * k)).collect();
        events.extend([start + Duration::hours(42), start, end]);
        for batch_size in [1, 2] {
            let windows = Arc::new(Mutex::new(Vec::new()));
            let (base, _) = serve(audit_service(events.clone(), Duration::days(2), windows.clone())).await;
            let client = client_for(&base, ClientOptions::default());
            let read = client.read_audit_log(AuditQuery { start, end, slice: Duration::days(7), batch_size }).await;
            assert!(read.gaps.is_empty(), "{:?}", read.gaps);
            assert_eq!(read.slice, Duration::hours(42), "7d and 3.5d were refused");
            let mut keys: Vec<&str> = read.records.iter().map(|r| r.key.as_str()).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), events.len(), "batch {batch_size}: every event once");
            assert_eq!(read.records.len(), events.len());
            assert!(read.duplicates >= 1, "the boundary event came back in two slices and was counted once");
            assert!(read.records.iter().all(|r| r.pat_used.is_some()));
            let windows = windows.lock().unwrap();
            assert!(windows.iter().all(|(s, e)| *e - *s <= Duration::days(2)));
            assert_eq!(windows.first().unwrap().0, start);
            assert_eq!(windows.iter().map(|w| w.1).max(), Some(end));
        }
    }

    #[tokio::test]
    async fn an_audit_denial_stops_at_once_and_names_the_scope() {
        let (base, count) = serve(|_, _| Some(http("401 Unauthorized", "", r#"{"message":"no"}"#))).await;
        let client = client_for(&base, ClientOptions::default());
        let end: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
        let read = client
            .read_audit_log(AuditQuery {
                start: end - Duration::days(90),
                end,
                slice: Duration::days(7),
                batch_size: 2,
            })
            .await;
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "not asked again for every slice");
        assert_eq!(read.gaps.len(), 1);
        let err = &read.gaps[0].2;
        assert!(err.to_string().contains("permission missing (vso.auditlog)"), "{err}");
        assert!(!err.is_fatal() && !err.is_auth());
    }

    #[tokio::test]
    async fn tenant_policies_are_read_one_by_one() {
        let (base, _) = serve(|_, head| {
            let body = if head.contains("TenantPolicy.RestrictPersonalAccessTokenLifespan") {
                r#"{"name":"TenantPolicy.RestrictPersonalAccessTokenLifespan","value":true,"properties":{"MaxPatLifespanInDays":"30"}}"#
            } else if head.contains("TenantPolicy.RestrictGlobalPersonalAccessToken") {
                r#"{"name":"TenantPolicy.RestrictGlobalPersonalAccessToken","value":false,"properties":{"AllowedUsersAndGroupObjectIds":"[]"}}"#
            } else if head.contains("EnableLeaked") {
                return Some(http("500 Internal Server Error", "", "{}"));
            } else {
                r#"{"value":true}"#
            };
            Some(http("200 OK", "", body))
        })
        .await;
        let client = client_for(&base, ClientOptions { max_retries: 0, ..ClientOptions::default() });
        let (policies, errors) = client.tenant_policies().await;
        assert_eq!(policies.restrict_global_pat, Some(false));
        assert_eq!(policies.restrict_full_scope_pat, Some(true));
        assert_eq!((policies.restrict_pat_lifespan, policies.max_pat_lifespan_days), (Some(true), Some(30)));
        assert_eq!(policies.leaked_pat_auto_revocation, None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "EnableLeakedPersonalAccessTokenAutoRevocation");
    }
}
