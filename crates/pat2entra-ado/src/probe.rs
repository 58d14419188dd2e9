//! `whoami --probe`: settles the service's undocumented behaviour on first contact, read-only,
//! in a handful of requests. The caller's own PATs are listed twice, through the lifecycle API
//! (which fills `targetAccounts` and filters by status) and through Token Admin, and the same
//! authorizations compared: does Token Admin fill `targetAccounts`, list revoked and expired
//! PATs, and how does it mark them. Then the largest `pageSize` Token Admin accepts (a short
//! search of one-owner calls), its status for an unknown descriptor and for a
//! service-principal one, and how it ends paging.
//!
//! The requests, in order (each documented in `whoami --help`):
//! 1. `GET vssps/{org}/_apis/tokens/pats?displayFilterOption=all&api-version=7.1-preview.1`
//!    (paged while `continuationToken` is not empty), then the same with
//!    `displayFilterOption=revoked`: Microsoft's spec specs/tokens/7.1/tokens.json and its example
//!    httpExamples/Pats/ListPats.json. A user's Entra token only.
//! 2. `GET vssps/{org}/_apis/tokenadmin/personalaccesstokens/{own descriptor}?pageSize=N&isPublic=false`
//!    with N = 1000, 500, 200, 100, 50, 20 until one is accepted, then halving the gap to the
//!    smallest refused (400): at most `MAX_PAGE_SIZE_CALLS` (12) calls (specs/tokenAdmin/7.1/tokenAdmin.json
//!    documents 400 for an invalid page size).
//! 3. The same, paged with the largest accepted size (at most 100), to compare and to see the
//!    last page's `continuationToken`.
//! 4. The same for a descriptor that exists nowhere (`aad.` and `aadsp.` forms).

use crate::client::{AdoClient, Api};
use crate::connection::Connection;
use crate::error::AdoError;
use chrono::{DateTime, Utc};
use pat2entra_core::inventory::Token;
use pat2entra_core::service::{Basis, Reading, ServiceBehaviour};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// The lifecycle API's version (specs/tokens/7.1).
const LIFECYCLE_API_VERSION: &str = "7.1-preview.1";
/// Lifecycle pages read at most (100 PATs each, the API's largest `$top`).
const MAX_LIFECYCLE_PAGES: u32 = 50;
/// Calls the `pageSize` search may make.
pub const MAX_PAGE_SIZE_CALLS: usize = 12;
/// `pageSize` values tried first, largest first.
const PAGE_SIZE_STEPS: [u32; 6] = [1000, 500, 200, 100, 50, 20];

/// One page of `GET _apis/tokens/pats` (`PagedPatTokens`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedPatTokens {
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub pat_tokens: Vec<PatToken>,
}

/// A `PatToken` of the lifecycle API. The `token` field (the secret, only on create) is not
/// declared, so it is never read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatToken {
    pub authorization_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `null`: valid in all of the user's organizations (the spec's words).
    #[serde(default)]
    pub target_accounts: Option<Vec<String>>,
    #[serde(default)]
    pub valid_to: Option<String>,
}

/// What the probe saw, for people and for the profile.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    /// The readings it settled (basis `profile` once saved and read back).
    pub behaviour: ServiceBehaviour,
    /// `(label, what was seen)`, in the order of the requests.
    pub lines: Vec<(String, String)>,
}

impl ProbeReport {
    fn say(&mut self, label: &str, text: impl Into<String>) {
        self.lines.push((label.to_string(), text.into()));
    }
}

impl AdoClient {
    /// The caller's own PATs through the lifecycle API, with `displayFilterOption` as given.
    pub async fn list_own_pats(&self, filter: &str) -> Result<Vec<PatToken>, AdoError> {
        let base = self.api_url(&self.endpoints().vssps, &["tokens", "pats"])?;
        let mut pats = Vec::new();
        let mut continuation: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..MAX_LIFECYCLE_PAGES {
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("displayFilterOption", filter);
                if let Some(c) = &continuation {
                    q.append_pair("continuationToken", c);
                }
                q.append_pair("api-version", LIFECYCLE_API_VERSION);
            }
            let (page, _) = self.get_json::<PagedPatTokens>(Api::Lifecycle, &url).await?;
            pats.extend(page.pat_tokens);
            // The example ends with "" rather than null: both end the list.
            match page.continuation_token.filter(|c| !c.trim().is_empty()) {
                None => return Ok(pats),
                Some(c) if seen.insert(c.clone()) => continuation = Some(c),
                Some(_) => {
                    let mut endpoint = base.clone();
                    endpoint.set_query(None);
                    return Err(AdoError::Malformed {
                        endpoint: format!("GET {endpoint}"),
                        detail: "a continuation token came back a second time; paging would never end".into(),
                    });
                }
            }
        }
        // More PATs than any person keeps: say so rather than compare a part.
        let mut endpoint = base.clone();
        endpoint.set_query(None);
        Err(AdoError::TooManyPages {
            endpoint: format!("GET {endpoint}"),
            pages: MAX_LIFECYCLE_PAGES,
            flag: "the probe's limit",
        })
    }

    /// The status of one Token Admin call for `descriptor` with `pageSize` (200 when it answered
    /// with a page).
    pub async fn token_admin_status(&self, descriptor: &str, page_size: u32) -> Result<u16, AdoError> {
        let mut url = self.api_url(&self.endpoints().vssps, &["tokenadmin", "personalaccesstokens", descriptor])?;
        url.query_pairs_mut()
            .append_pair("pageSize", &page_size.to_string())
            .append_pair("isPublic", "false")
            .append_pair("api-version", "7.1");
        match self.get_json::<crate::wire::TokenAdminPage>(Api::TokenAdmin, &url).await {
            Ok(_) => Ok(200),
            Err(AdoError::Status { status, .. } | AdoError::TokenAdminDenied { status, .. }) => Ok(status),
            Err(e) => Err(e),
        }
    }
}

/// Runs the probe. `user_token`: the credential is a user's Entra token (the lifecycle API
/// refuses PATs and applications).
pub async fn probe(client: &AdoClient, connection: &Connection, user_token: bool) -> ProbeReport {
    let mut report = ProbeReport::default();
    let now = Utc::now();
    let org_id = connection.instance_id.clone().filter(|i| !i.trim().is_empty());
    report.behaviour.organization_id = org_id.clone();
    report.say(
        "organization id",
        org_id.clone().unwrap_or_else(|| "unknown (connectionData named no instanceId)".into()),
    );
    let caller = &connection.caller;
    let descriptor = caller.subject_descriptor.clone();

    // 1. The lifecycle API: the truth about the caller's own PATs.
    let lifecycle = if caller.is_service_principal() {
        report.say(
            "lifecycle API",
            "not used: a service principal or managed identity cannot list PATs through it (Microsoft: \"You can't use service principals or managed identities\"); the readings that need it stay unknown; probe again signed in as a user (--auth azcli)",
        );
        None
    } else if !user_token {
        report.say(
            "lifecycle API",
            "not used: it takes a user's Microsoft Entra token only, never a PAT (Microsoft: \"users must provide a Microsoft Entra access token\"); the readings that need it stay unknown; probe again with --auth azcli",
        );
        None
    } else {
        match (client.list_own_pats("all").await, client.list_own_pats("revoked").await) {
            (Ok(all), Ok(revoked)) => {
                report.say("lifecycle API", format!("{} PATs of yours ({} revoked)", all.len(), revoked.len()));
                Some((all, revoked))
            }
            (Err(e), _) | (_, Err(e)) => {
                report.say("lifecycle API", format!("refused or failed: {e}; the readings that need it stay unknown"));
                None
            }
        }
    };

    // 2. The largest pageSize Token Admin accepts, asked for the caller's own descriptor.
    let Some(descriptor) = descriptor else {
        report.say("token admin", "not probed: the service named no subject descriptor for this identity");
        return report;
    };
    page_size_search(client, &descriptor, &mut report).await;

    // 3. Token Admin for the caller's own descriptor, in pages it accepts.
    let page_size = report.behaviour.max_page_size.get().unwrap_or(20).min(100);
    let own = match client.list_pats(&descriptor, page_size).await {
        Ok(tokens) => {
            report.say("token admin", format!("{} PATs listed for your descriptor", tokens.len()));
            if let Some((end, _)) = client.paging_ends().first() {
                report.behaviour.paging_end = Reading::known(*end, Basis::Profile);
                report.say("end of paging", format!("continuationToken {}", end_text(*end)));
            }
            Some(tokens)
        }
        Err(AdoError::Status { status: 404, .. }) => {
            report.say("token admin", "HTTP 404 for your own descriptor (an identity without PATs of its own)");
            None
        }
        Err(e) => {
            report.say("token admin", format!("could not list your PATs: {e}"));
            None
        }
    };

    if let (Some((all, revoked)), Some(own)) = (&lifecycle, &own) {
        compare(&mut report, all, revoked, own, org_id.as_deref(), now);
    }

    // 4. Descriptors that exist nowhere.
    for (label, unknown) in [
        ("unknown user", "aad.cGF0MmVudHJhLXByb2JlLTAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA"),
        ("unknown app", "aadsp.cGF0MmVudHJhLXByb2JlLTAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA"),
    ] {
        let text = match client.token_admin_status(unknown, 1).await {
            Ok(200) => "HTTP 200 (answers with a page even for a descriptor that does not exist)".to_string(),
            Ok(404) => "HTTP 404 (the permission check passed; the subject is unknown)".to_string(),
            Ok(status @ (401 | 403)) => format!("HTTP {status} (refused: not a token administrator, or checked first)"),
            Ok(status) => format!("HTTP {status}"),
            Err(e) => format!("failed: {e}"),
        };
        report.say(label, text);
    }
    report
}

fn end_text(end: pat2entra_core::service::PagingEnd) -> &'static str {
    match end {
        pat2entra_core::service::PagingEnd::Null => "null (or absent)",
        pat2entra_core::service::PagingEnd::Empty => "\"\" (empty string)",
        pat2entra_core::service::PagingEnd::ZeroGuid => "00000000-0000-0000-0000-000000000000 (zero GUID)",
    }
}

/// Compares the same authorizations as the lifecycle API and Token Admin show them.
fn compare(
    report: &mut ProbeReport,
    all: &[PatToken],
    revoked: &[PatToken],
    own: &[Token],
    org_id: Option<&str>,
    now: DateTime<Utc>,
) {
    let by_id: HashMap<String, &Token> = own.iter().map(|t| (t.authorization_id.to_ascii_lowercase(), t)).collect();
    let revoked_ids: HashSet<String> = revoked.iter().map(|p| p.authorization_id.to_ascii_lowercase()).collect();
    let listed = |p: &PatToken| by_id.get(&p.authorization_id.to_ascii_lowercase()).copied();
    let b = &mut report.behaviour;

    // targetAccounts: organization-scoped PATs (the lifecycle API fills the field) as Token Admin shows them.
    let scoped: Vec<(&PatToken, &Token)> = all
        .iter()
        .filter(|p| p.target_accounts.as_ref().is_some_and(|t| !t.is_empty()))
        .filter_map(|p| listed(p).map(|t| (p, t)))
        .collect();
    let filled = scoped.iter().filter(|(_, t)| !t.target_accounts.is_empty()).count();
    let text = if scoped.is_empty() {
        "unknown: none of your organization-scoped PATs is listed by Token Admin; create one for this organization, then probe again".to_string()
    } else if filled == scoped.len() {
        b.fills_target_accounts = Reading::known(true, Basis::Profile);
        format!("filled on all {} of your organization-scoped PATs: an empty one means all organizations", scoped.len())
    } else {
        b.fills_target_accounts = Reading::known(false, Basis::Profile);
        format!(
            "left empty on {} of your {} organization-scoped PATs: an empty one does not prove a global PAT",
            scoped.len() - filled,
            scoped.len()
        )
    };
    report.lines.push(("targetAccounts".into(), text));
    if let Some(org_id) = org_id {
        let here = all
            .iter()
            .filter(|p| p.target_accounts.as_ref().is_some_and(|t| t.iter().any(|a| a.eq_ignore_ascii_case(org_id))))
            .count();
        if here > 0 {
            report.lines.push((
                "organization id".into(),
                format!("confirmed: {here} of your PATs list this organization's id in targetAccounts"),
            ));
        }
    }

    // Revoked PATs not yet past their expiry (one past it could be hidden for expiring):
    // listed or hidden, and how they are marked.
    let past = |p: &PatToken| {
        p.valid_to.as_deref().and_then(|v| crate::timestamp::parse_timestamp(v).ok()).is_some_and(|to| to <= now)
    };
    let revoked_pats: Vec<&PatToken> = all
        .iter()
        .filter(|p| revoked_ids.contains(&p.authorization_id.to_ascii_lowercase()))
        .filter(|p| !past(p))
        .collect();
    let revoked_listed: Vec<&Token> = revoked_pats.iter().filter_map(|p| listed(p)).collect();
    let text = match (revoked_pats.len(), revoked_listed.len()) {
        (0, _) => "unknown: you have no revoked PATs (before their expiry) to compare".to_string(),
        (n, 0) => {
            b.lists_revoked = Reading::known(false, Basis::Profile);
            format!("hidden: none of your {n} revoked PATs is listed by Token Admin")
        }
        (n, k) => {
            b.lists_revoked = Reading::known(true, Basis::Profile);
            let marked = revoked_listed.iter().filter(|t| !t.is_valid).count();
            format!("listed ({k} of {n}); marked isValid: false on {marked} of them")
        }
    };
    report.lines.push(("revoked PATs".into(), text));

    // Expired PATs (not revoked): listed or hidden, and whether isValid is cleared.
    let expired: Vec<&PatToken> =
        all.iter().filter(|p| past(p) && !revoked_ids.contains(&p.authorization_id.to_ascii_lowercase())).collect();
    let expired_listed: Vec<&Token> = expired.iter().filter_map(|p| listed(p)).collect();
    let text = match (expired.len(), expired_listed.len()) {
        (0, _) => "unknown: you have no expired PATs to compare".to_string(),
        (n, 0) => {
            b.lists_expired = Reading::known(false, Basis::Profile);
            format!("hidden: none of your {n} expired PATs is listed by Token Admin")
        }
        (n, k) => {
            b.lists_expired = Reading::known(true, Basis::Profile);
            let invalid = expired_listed.iter().filter(|t| !t.is_valid).count();
            b.expired_marked_invalid = Reading::known(invalid > 0, Basis::Profile);
            format!(
                "listed ({k} of {n}); marked {}",
                if invalid > 0 {
                    "isValid: false, like revoked ones"
                } else {
                    "isValid: true (only the date says expired)"
                }
            )
        }
    };
    report.lines.push(("expired PATs".into(), text));
}

/// The largest `pageSize` Token Admin accepts: the steps from the largest down until one is
/// accepted, then halving the gap to the smallest refused; at most `MAX_PAGE_SIZE_CALLS`.
async fn page_size_search(client: &AdoClient, descriptor: &str, report: &mut ProbeReport) {
    let mut calls = 0;
    let mut accepted: Option<u32> = None;
    let mut refused: Option<u32> = None;
    let mut failed = None;
    for step in PAGE_SIZE_STEPS {
        calls += 1;
        match client.token_admin_status(descriptor, step).await {
            Ok(200) => {
                accepted = Some(step);
                break;
            }
            Ok(400) => refused = Some(step),
            Ok(other) => {
                failed = Some(format!("HTTP {other} at pageSize {step}"));
                break;
            }
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (accepted, refused) {
        while hi - lo > 1 && calls < MAX_PAGE_SIZE_CALLS {
            let mid = lo + (hi - lo) / 2;
            calls += 1;
            match client.token_admin_status(descriptor, mid).await {
                Ok(200) => lo = mid,
                Ok(400) => hi = mid,
                _ => break,
            }
        }
        accepted = Some(lo);
        refused = Some(hi);
    }
    let text = match (accepted, refused, failed) {
        (_, _, Some(why)) => format!("not settled: {why}"),
        (Some(n), None, _) => {
            report.behaviour.max_page_size = Reading::known(n, Basis::Profile);
            format!("{n} accepted (the largest tried; a larger one may be clamped silently)")
        }
        (Some(n), Some(m), _) if m == n + 1 => {
            report.behaviour.max_page_size = Reading::known(n, Basis::Profile);
            format!("{n} (HTTP 400 from {m}; {calls} calls)")
        }
        (Some(n), Some(m), _) => {
            report.behaviour.max_page_size = Reading::known(n, Basis::Profile);
            format!("at least {n}, less than {m} ({calls} calls)")
        }
        (None, _, _) => "not settled: every size tried was refused".to_string(),
    };
    report.say("max pageSize", text);
}
