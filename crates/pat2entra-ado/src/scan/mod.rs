//! The scan: list every owner, then every token of each owner (in parallel, bounded), into an
//! inventory that says exactly what it could not read.

mod checkpoint;
mod evidence;
mod tenant;

pub use checkpoint::{CheckpointError, CheckpointParams, CheckpointSettings, FinishedOwner, Unusable, show_age};
pub use evidence::{
    DEFAULT_AUDIT_BATCH_SIZE, DEFAULT_AUDIT_DAYS, DEFAULT_AUDIT_SLICE_DAYS, EvidenceOptions, token_event,
};
pub use tenant::{OrganizationScan, scan_organizations};

use crate::client::KINDS_WITHOUT_PATS;
use crate::{AdoClient, AdoError};
use futures::{FutureExt, StreamExt};
use pat2entra_core::evidence::{Evidence, Source};
use pat2entra_core::inventory::{
    Coverage, CoverageWarning, Inventory, Owner, OwnerFailure, OwnerResolver, Token, organization_id_unread_warning,
    other_organizations_warning, resolve_tokens,
};
use pat2entra_core::service::{Observations, ServiceBehaviour};
use pat2entra_core::shard::{AuditJoin, OwnerFilter, PartCoverage};
use std::cell::RefCell;
use std::collections::HashMap;

/// Added to a Token Admin 404 when membership was not read.
const NOT_FOUND_HINT: &str =
    " (an owner removed from the organization answers 404: add membership to --evidence to tell)";

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Owners scanned at the same time.
    pub concurrency: usize,
    /// `pageSize` asked of Token Admin.
    pub page_size: u32,
    /// Record finished owners here, and skip those an earlier run finished.
    pub checkpoint: Option<CheckpointSettings>,
    /// The evidence sources to read (`scan --evidence`); none by default.
    pub evidence: EvidenceOptions,
    /// What is known about the service before the scan (`--service-profile`); readings left
    /// unknown are inferred from the scan's data where it shows them.
    pub service: ServiceBehaviour,
    /// The service's "now", for reading which listed tokens had expired (default: the clock).
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// The owners whose tokens and per-owner evidence are read: all, or one part's
    /// (`scan --shard I/N`; the others are listed, left to other parts, and not gaps).
    pub owners: OwnerFilter,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            concurrency: 8,
            page_size: 100,
            checkpoint: None,
            evidence: EvidenceOptions::default(),
            service: ServiceBehaviour::default(),
            now: None,
            owners: OwnerFilter::All,
        }
    }
}

/// Removes the checkpoint of a scan that completed and whose result was written.
pub fn finish_checkpoint(path: &std::path::Path) -> Result<(), CheckpointError> {
    checkpoint::remove(path)
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The service refused or failed in a way that would hit every owner.
    #[error(transparent)]
    Service(#[from] AdoError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Progress of a scan, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum ScanEvent {
    OwnersListed(usize),
    /// Owners an earlier run finished (from the checkpoint).
    Resumed {
        owners: usize,
        tokens: usize,
    },
    OwnerScanned {
        tokens: usize,
    },
    OwnerFailed,
}

/// Scans the organization. An owner whose tokens cannot be read after retries becomes a
/// coverage gap; errors that would hit every owner (authentication, permission) stop the scan.
/// The evidence sources asked for (`options.evidence`) are read beside the owners: per owner
/// (SSH keys) and organization-wide (entitlements, audit log, policies). Membership costs at
/// most one request per owner, and with User Entitlements far fewer: an owner it lists as
/// active (or pending) is a member without a request; only owners it does not list (or lists
/// as deleted, disabled…) are asked, in a short pass once both listings are done, and an owner
/// whose Token Admin listing answers 404 is asked on the spot (so a removed owner's 404 is
/// understood). Without entitlements (not asked for) every owner is asked before its PATs;
/// with entitlements unreadable, every owner it did not list is asked in that pass. A source
/// that cannot be read is a coverage line of `Inventory::evidence`; it never stops the scan,
/// hides a token or makes it incomplete.
pub async fn scan(
    client: &AdoClient,
    options: &ScanOptions,
    on_event: &(dyn Fn(ScanEvent) + Sync),
) -> Result<Inventory, ScanError> {
    // The checkpoint first: a wrong file should not cost a long listing of owners.
    let (checkpoint, finished) = match &options.checkpoint {
        None => (None, HashMap::new()),
        Some(settings) => {
            let (checkpoint, finished) = checkpoint::open(settings)?;
            (Some(checkpoint), finished)
        }
    };

    let ev = &options.evidence;
    let want_membership = ev.wants(Source::Membership);
    let want_ssh = ev.wants(Source::Ssh);
    // Without User Entitlements nothing tells members apart: ask each owner before its PATs.
    let membership_first = want_membership && !ev.wants(Source::Entitlements);
    // The owners as Graph lists them, page by page: each new owner's work starts as soon as its
    // page arrives, so Graph paging and Token Admin paging overlap.
    // A part of a sharded scan reads only its owners (`options.owners`); every owner is listed.
    let listing = RefCell::new(Listing { finished, filter: options.owners, ..Listing::default() });
    // Graph is paged on its own, not when the owners' work asks for more: the next page is on
    // its way while the owners of this one are read, and a full set of owners in flight never
    // holds the listing back. Pages wait in the channel (the owners are all kept anyway); the
    // listing stops at the next page once the scan has stopped (the receiver is gone).
    let mut user_pages = client.user_pages()?;
    let (sender, pages) = futures::channel::mpsc::unbounded();
    let graph = async move {
        loop {
            let page = user_pages.next_page().await.transpose();
            let last = !matches!(page, Some(Ok(_)));
            if page.is_none_or(|page| sender.unbounded_send(page).is_err()) || last {
                break;
            }
        }
    };
    let work = pages
        .map(|page| {
            let mut listing = listing.borrow_mut();
            let work = match page {
                Ok(page) => listing.add(page, want_membership, want_ssh, membership_first),
                // A listing cut short stops the scan (`listing.error`, read as owners finish).
                Err(e) => {
                    listing.error = Some(e);
                    Vec::new()
                }
            };
            futures::stream::iter(work)
        })
        .flatten()
        .chain(
            futures::stream::once(async {
                // Every owner is listed: the count, and what the checkpoint already had.
                let listing = listing.borrow();
                if listing.error.is_none() {
                    on_event(ScanEvent::OwnersListed(listing.per_owner.len()));
                    if listing.resumed_owners > 0 {
                        on_event(ScanEvent::Resumed { owners: listing.resumed_owners, tokens: listing.resumed_tokens });
                    }
                }
            })
            .filter_map(|()| async { None::<Work> }),
        );

    // Owners whose membership was asked (whatever the answer): not asked again.
    let mut membership_asked: Vec<bool> = Vec::new();
    let mut membership_tally = evidence::Tally::default();
    let mut ssh_tally = evidence::Tally::default();
    let membership_gate = evidence::Gate::default();
    let ssh_gate = evidence::Gate::default();

    let mut failures = Vec::new();
    let gates = (&membership_gate, &ssh_gate);
    let owners_done = async {
        let mut results = std::pin::pin!(
            work.map(|w| async move {
                let read = read_owner(client, &w.descriptor, &w, options.page_size, gates).await;
                (w, read)
            })
            .buffer_unordered(options.concurrency.max(1))
        );
        while let Some((w, read)) = results.next().await {
            let mut listing = listing.borrow_mut();
            if let Some(e) = listing.error.take() {
                return Err(ScanError::from(e));
            }
            let i = w.owner;
            if let Some(member) = &read.member {
                if membership_asked.len() <= i {
                    membership_asked.resize(i + 1, false);
                }
                membership_asked[i] = true;
                membership_tally.count(&membership_gate, member);
                if let Ok(Some(active)) = member {
                    listing.members[i] = Some(*active);
                }
            }
            let ssh_keys = match read.ssh {
                Some(result) => {
                    ssh_tally.count(&ssh_gate, &result);
                    result.ok()
                }
                None => None,
            };
            match read.pats {
                None => {
                    // A resumed owner: only its missing evidence was read.
                    if let (Some(keys), Some(tokens)) = (ssh_keys, listing.per_owner[i].as_mut()) {
                        tokens.reserve_exact(keys.len());
                        tokens.extend(keys);
                    }
                }
                Some(Ok(mut tokens)) => {
                    on_event(ScanEvent::OwnerScanned { tokens: tokens.len() });
                    let mut read_sources = Vec::new();
                    if matches!(read.member, Some(Ok(_))) {
                        read_sources.push(Source::Membership);
                    }
                    if let Some(keys) = ssh_keys {
                        tokens.reserve_exact(keys.len());
                        tokens.extend(keys);
                        read_sources.push(Source::Ssh);
                    }
                    if let Some(checkpoint) = &checkpoint {
                        let done = FinishedOwner { tokens, member: listing.members[i], evidence: read_sources };
                        checkpoint.record_owner(&w.descriptor, &done)?;
                        listing.per_owner[i] = Some(done.tokens);
                    } else {
                        listing.per_owner[i] = Some(tokens);
                    }
                }
                Some(Err(e)) if e.is_fatal() => return Err(ScanError::from(e)),
                Some(Err(e)) => {
                    on_event(ScanEvent::OwnerFailed);
                    // Token Admin may not know an owner removed from the organization: only
                    // their membership tells that from a gap.
                    let hint = matches!(e, AdoError::Status { status: 404, .. }) && !want_membership;
                    let hint = if hint { NOT_FOUND_HINT } else { "" };
                    failures.push((i, format!("{e}{hint}")));
                }
            }
        }
        // The listing failed with no owner in flight.
        match listing.borrow_mut().error.take() {
            Some(e) => Err(ScanError::from(e)),
            None => Ok(()),
        }
    };
    // The organization-wide evidence is read beside the owners; a fatal owner error drops it.
    let org_evidence = evidence::read_org_evidence(client, ev).map(Ok);
    let owners_done = async {
        let ((), done) = futures::join!(graph, owners_done);
        done
    };
    let ((), org) = futures::future::try_join(owners_done, org_evidence).await?;
    let Listing { owners, per_owner, mut members, had, needs_membership, part_owners, .. } = listing.into_inner();
    // An owner Graph listed twice is scanned once (the version worst for risk is kept); owners
    // keep the order of their first listing, the order their work was numbered in.
    let (mut owners, mut warnings) = owners.finish();
    debug_assert_eq!(owners.len(), per_owner.len());
    membership_asked.resize(owners.len(), false);
    // Resumed owners that already had a source count as read for it.
    let resumed_membership = had.iter().filter(|h| want_membership && h.contains(&Source::Membership)).count();
    membership_tally.read += resumed_membership;
    ssh_tally.read += had.iter().filter(|h| want_ssh && h.contains(&Source::Ssh)).count();

    // Membership of the owners not asked yet: from User Entitlements where it lists them as
    // members, asked (concurrently) for the few it does not.
    let mut membership_basis = evidence::MembershipBasis {
        resumed: resumed_membership,
        entitlements: org.coverage.iter().find(|(s, _)| *s == Source::Entitlements).map(|(_, c)| c.status),
        ..Default::default()
    };
    if want_membership {
        let entitled = evidence::entitled_members(&org.activity);
        let mut absent = Vec::new();
        for (i, owner) in owners.iter().enumerate() {
            if !needs_membership[i] || membership_asked[i] {
                continue;
            }
            if entitled.contains(&owner.descriptor.to_ascii_lowercase()) {
                members[i] = Some(true);
                membership_tally.read += 1;
                membership_basis.inferred += 1;
            } else {
                absent.push(i);
            }
        }
        let gate = &membership_gate;
        let owner_list = &owners;
        let mut asked = futures::stream::iter(absent)
            .map(|i| async move {
                let read =
                    if gate.open() { Some(client.membership_state(&owner_list[i].descriptor).await) } else { None };
                (i, read)
            })
            .buffer_unordered(options.concurrency.max(1));
        while let Some((i, read)) = asked.next().await {
            if let Some(read) = read {
                membership_asked[i] = true;
                membership_tally.count(&membership_gate, &read);
                if let Ok(Some(active)) = read {
                    members[i] = Some(active);
                }
            }
        }
    }
    membership_basis.asked = membership_asked.iter().filter(|a| **a).count();
    membership_basis.denied = !membership_gate.open();

    failures.sort_by_key(|(i, _)| *i);
    let owners_failed = failures
        .into_iter()
        .map(|(i, error)| OwnerFailure { descriptor: owners[i].descriptor.to_string(), error })
        .collect();
    let owners_scanned = per_owner.iter().filter(|t| t.is_some()).count();
    for (owner, member) in owners.iter_mut().zip(members) {
        owner.member = member;
    }
    // Tokens in the order of their owners, as listed: the same organization gives the same record.
    // One rule for duplicates and unreadable tokens (see `resolve_tokens`), resumed ones included.
    // Collected at their exact count: a vector grown by doubling would hold up to twice the
    // inventory while it is copied.
    let mut all = Vec::with_capacity(per_owner.iter().flatten().map(Vec::len).sum());
    for tokens in per_owner.into_iter().flatten() {
        all.extend(tokens);
    }
    let (mut tokens, token_warnings) = resolve_tokens(all);
    warnings.extend(token_warnings);
    let service = read_service(client, options, &tokens, &mut warnings).await;
    let mut coverage = if options.owners.is_part() {
        let part = PartCoverage {
            owners_in_other_parts: owners.len() - part_owners,
            sources: [
                (Source::Membership, want_membership, &membership_tally, &membership_gate),
                (Source::Ssh, want_ssh, &ssh_tally, &ssh_gate),
            ]
            .into_iter()
            .filter(|(_, wanted, _, _)| *wanted)
            .map(|(source, _, tally, gate)| (source, tally.counts(gate)))
            .collect(),
            membership: want_membership.then(|| membership_basis.clone()),
            audit: None,
            paging_ends: client.paging_ends(),
        };
        Coverage::of_part(owners.len(), owners_scanned, owners_failed, part)
    } else {
        Coverage::new(owners.len(), owners_scanned, owners_failed)
    };
    coverage.warnings = warnings;

    let mut evidence = Evidence::default();
    if want_membership {
        evidence.sources.insert(
            Source::Membership,
            membership_basis.note(membership_tally.coverage(&membership_gate, part_owners)),
        );
    }
    if want_ssh {
        evidence.sources.insert(Source::Ssh, ssh_tally.coverage(&ssh_gate, part_owners));
    }
    evidence::apply_activity(&mut owners, org.activity);
    for (source, source_coverage) in org.coverage {
        evidence.sources.insert(source, source_coverage);
    }
    if ev.wants(Source::Audit) {
        evidence.audit_window = Some(ev.audit_window());
    }
    if let Some(audit) = org.audit {
        let token_events = audit.records.iter().filter(|r| token_event(&r.action).is_some()).count();
        let unmatched = evidence::apply_audit(&mut tokens, &owners, audit.records);
        match coverage.part.as_mut() {
            // A part holds its owners' credentials only: `merge` counts what no part matched.
            Some(part) => part.audit = Some(AuditJoin { token_events, unmatched }),
            None => {
                if let Some(c) = evidence.sources.get_mut(&Source::Audit) {
                    evidence::note_unmatched(c, unmatched);
                }
            }
        }
    }
    evidence.policies = org.policies;
    // The checkpoint stays until the caller has written the result (`finish_checkpoint`): a
    // failed write must not throw a long scan away.
    drop(checkpoint);
    Ok(Inventory { organization: client.organization().to_string(), coverage, owners, tokens, evidence, service })
}

/// What to read for one owner.
#[derive(Debug, Clone)]
struct Work {
    owner: usize,
    descriptor: pat2entra_core::Text,
    pats: bool,
    /// Ask membership before the PATs (no User Entitlements to infer it from).
    membership_first: bool,
    /// Ask membership if Token Admin answers 404 and it is not known yet.
    membership_on_404: bool,
    ssh: bool,
}

/// The owners listed so far, numbered in the order Graph first listed them, with what the
/// checkpoint had for each and what the scan read.
#[derive(Default)]
struct Listing {
    /// The owners as Graph listed them, each once (`resolve_owners`' rule, page by page).
    owners: OwnerResolver,
    /// The checkpoint's finished owners not listed yet.
    finished: HashMap<String, FinishedOwner>,
    per_owner: Vec<Option<Vec<Token>>>,
    members: Vec<Option<bool>>,
    /// Per-owner evidence a resumed owner already has (from its checkpoint line).
    had: Vec<Vec<Source>>,
    needs_membership: Vec<bool>,
    resumed_owners: usize,
    resumed_tokens: usize,
    /// Why the listing stopped short.
    error: Option<AdoError>,
    /// Whose tokens and per-owner evidence this scan reads (one part's owners, or all).
    filter: OwnerFilter,
    /// Listed owners of this part (all of them for a whole scan).
    part_owners: usize,
}

impl Listing {
    /// Numbers the page's new owners and returns their work: PATs unless resumed, and the
    /// per-owner evidence a resumed owner lacks (read again, not left out; its missing
    /// membership is derived again from this scan's entitlements, or asked).
    fn add(&mut self, page: Vec<Owner>, want_membership: bool, want_ssh: bool, membership_first: bool) -> Vec<Work> {
        let mut work = Vec::new();
        for owner in page {
            let descriptor = owner.descriptor.clone();
            let (i, new) = self.owners.add(owner);
            if !new {
                continue;
            }
            // An owner of another part is listed only: not resumed, nothing read.
            let mine = self.filter.includes(&descriptor);
            self.part_owners += usize::from(mine);
            let resumed = if mine { self.finished.remove(&*descriptor) } else { None };
            let (tokens, member, had) = match resumed {
                Some(done) => {
                    self.resumed_owners += 1;
                    self.resumed_tokens += done.tokens.len();
                    (Some(done.tokens), done.member, done.evidence)
                }
                None => (None, None, Vec::new()),
            };
            let needs_membership = mine && want_membership && !had.contains(&Source::Membership);
            let w = Work {
                owner: i,
                descriptor,
                pats: mine && tokens.is_none(),
                membership_first: membership_first && needs_membership,
                membership_on_404: needs_membership,
                ssh: mine && want_ssh && !had.contains(&Source::Ssh),
            };
            if w.pats || w.membership_first || w.ssh {
                work.push(w);
            }
            self.per_owner.push(tokens);
            self.members.push(member);
            self.had.push(had);
            self.needs_membership.push(needs_membership);
        }
        work
    }
}

/// What was read for one owner (`None`: not asked).
struct OwnerRead {
    pats: Option<Result<Vec<Token>, AdoError>>,
    member: Option<Result<Option<bool>, AdoError>>,
    ssh: Option<Result<Vec<Token>, AdoError>>,
}

/// One owner: membership first when nothing else will tell it, then PATs (a 404 with the
/// membership unknown asks it then, so a removed owner's 404 is understood), then SSH keys. A
/// 404 for an owner no longer a member, or a 400/404 for a subject kind that holds no PATs
/// (`bnd`, `svc`), is an answer ("no tokens"), not a gap.
async fn read_owner(
    client: &AdoClient,
    descriptor: &pat2entra_core::Text,
    work: &Work,
    page_size: u32,
    (membership_gate, ssh_gate): (&evidence::Gate, &evidence::Gate),
) -> OwnerRead {
    let mut member = if work.membership_first && membership_gate.open() {
        Some(client.membership_state(descriptor).await)
    } else {
        None
    };
    let kind = descriptor.split('.').next().unwrap_or_default().to_ascii_lowercase();
    let pats = if work.pats { Some(client.list_pats(descriptor.clone(), page_size).await) } else { None };
    if member.is_none()
        && work.membership_on_404
        && matches!(pats, Some(Err(AdoError::Status { status: 404, .. })))
        && !KINDS_WITHOUT_PATS.contains(&kind.as_str())
        && membership_gate.open()
    {
        member = Some(client.membership_state(descriptor).await);
    }
    let not_a_member = matches!(member, Some(Ok(Some(false))));
    let holds_none = |e: &AdoError| match e {
        AdoError::Status { status: 404, .. } if not_a_member => true,
        AdoError::Status { status: 400 | 404, .. } => KINDS_WITHOUT_PATS.contains(&kind.as_str()),
        _ => false,
    };
    let answered = |result: Result<Vec<Token>, AdoError>| match result {
        Err(e) if holds_none(&e) => {
            tracing::debug!(
                owner = descriptor.as_str(),
                "Token Admin: {e}; read as no tokens (not a member, or a kind without PATs)"
            );
            Ok(Vec::new())
        }
        other => other,
    };
    // The SSH listing is the same endpoint: an owner it answered "holds none" for (removed,
    // or a kind without PATs) holds no SSH keys either, and is not asked again.
    let holds_nothing = matches!(&pats, Some(Err(e)) if holds_none(e));
    let pats = pats.map(answered);
    let fatal = matches!(&pats, Some(Err(e)) if e.is_fatal());
    let ssh = if work.ssh && holds_nothing {
        Some(Ok(Vec::new()))
    } else if work.ssh && ssh_gate.open() && !fatal {
        Some(answered(client.list_ssh_keys(descriptor, page_size).await))
    } else {
        None
    };
    OwnerRead { pats, member, ssh }
}

/// What the scan assumes about the service: the profile's readings, the rest inferred from the
/// tokens and the ends of paging this scan saw (see `ServiceBehaviour::infer`). When a token is
/// limited to organizations (`targetAccounts` filled), this organization's id is needed to tell
/// "this one" from "others only": it comes from `connectionData`'s `instanceId` (one request,
/// only then; the profile's id when it has one). Microsoft's Python client documents
/// `instanceId` as "the instance id for this host" (azure-devops-python-api,
/// `azure/devops/v7_1/location/models.py`, `ConnectionData`); the lifecycle API's example lists
/// such ids in `targetAccounts` (specs/tokens/7.1/httpExamples/Pats/ListPats.json). A token
/// limited to other organizations only becomes a coverage warning: Token Admin listed it here,
/// yet it cannot be used here.
async fn read_service(
    client: &AdoClient,
    options: &ScanOptions,
    tokens: &[Token],
    warnings: &mut Vec<CoverageWarning>,
) -> ServiceBehaviour {
    let mut service = options.service.clone();
    let as_of = options.now.unwrap_or_else(chrono::Utc::now);
    // What Token Admin does with PATs (SSH keys, isPublic=true, are another listing).
    let seen = Observations::of(tokens, as_of, client.paging_ends());
    service.infer(&seen);
    if seen.filled_target_accounts > 0 && service.organization_id.is_none() {
        match client.connection_data().await {
            Ok(connection) => service.organization_id = connection.instance_id.filter(|i| !i.trim().is_empty()),
            Err(e) => tracing::warn!(error = %e, "could not read this organization's id (connectionData)"),
        }
        if service.organization_id.is_none() {
            warnings.push(organization_id_unread_warning());
        }
    }
    if let Some(org_id) = service.organization_id.as_deref() {
        warnings.extend(other_organizations_warning(tokens, org_id));
    }
    service
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientOptions;
    use crate::client::tests::{client_for, http, serve};
    use pat2entra_core::evidence::{CredentialKind, EventKind, LastAccessed, Status};
    use std::sync::{Arc, Mutex};

    const ALICE_PAT: &str = "0f6f4b6c-1234-4c1d-9a3e-000000000001";
    const BOB_PAT: &str = "0f6f4b6c-1234-4c1d-9a3e-000000000002";

    /// A small organization: alice (member, a PAT and an SSH key), bob (an MSA member, a PAT),
    /// gone (removed from the organization: Token Admin answers 404), pending (`bnd`, invited,
    /// never signed in: Token Admin answers 404). `audit` answers the audit log.
    async fn organization(audit: fn(&str) -> Vec<u8>, log: Arc<Mutex<Vec<String>>>) -> String {
        let (base, _) = serve(move |_, head| {
            let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
            log.lock().unwrap().push(target.clone());
            let path = target.split('?').next().unwrap_or_default();
            let ok = |body: String| Some(http("200 OK", "", &body));
            let not_found = || Some(http("404 Not Found", "", r#"{"message":"not found"}"#));
            if path.ends_with("/graph/users") {
                let users: Vec<String> = ["aad.alice", "msa.bob", "aad.gone", "bnd.pending"]
                    .iter()
                    .map(|d| format!(r#"{{"descriptor":"{d}","principalName":"{}@contoso.com"}}"#, &d[4..]))
                    .collect();
                return ok(format!(r#"{{"count":4,"value":[{}]}}"#, users.join(",")));
            }
            if let Some(d) = path.split("/membershipstates/").nth(1) {
                return ok(format!(r#"{{"active":{}}}"#, d != "aad.gone"));
            }
            if let Some(d) = path.split("/personalaccesstokens/").nth(1) {
                let ssh = target.contains("isPublic=true");
                return match (d, ssh) {
                    ("aad.gone" | "bnd.pending", _) => not_found(),
                    ("aad.alice", false) => ok(format!(
                        r#"{{"value":[{{"authorizationId":"{ALICE_PAT}","displayName":"ci","scope":"vso.code","validFrom":"0001-01-01T00:00:00","validTo":"9999-12-31T23:59:59.997","isValid":true}}],"continuationToken":null}}"#
                    )),
                    ("aad.alice", true) => ok(
                        r#"{"value":[{"authorizationId":"key-1","displayName":"laptop","isPublic":true,"publicData":"ssh-rsa AAAA"}]}"#.into(),
                    ),
                    ("msa.bob", false) => ok(format!(
                        r#"{{"value":[{{"authorizationId":"{BOB_PAT}","displayName":"old","scope":"app_token"}}]}}"#
                    )),
                    _ => ok(r#"{"value":[]}"#.into()),
                };
            }
            if path.ends_with("/userentitlements") {
                return ok(r#"{"items":[
                    {"user":{"descriptor":"aad.alice"},"accessLevel":{"status":"active","licenseDisplayName":"Basic"},"lastAccessedDate":"2026-11-01T08:00:00Z"},
                    {"user":{"descriptor":"msa.bob"},"accessLevel":{"status":"active"},"lastAccessedDate":"0001-01-01T00:00:00Z"}
                ]}"#.into());
            }
            if path.ends_with("/audit/auditlog") {
                return Some(audit(&target));
            }
            not_found()
        })
        .await;
        base
    }

    fn audit_denied(_: &str) -> Vec<u8> {
        http("401 Unauthorized", "", r#"{"message":"TF400813"}"#)
    }

    fn audit_events(_: &str) -> Vec<u8> {
        let body = format!(
            r#"{{"value":{{"decoratedAuditLogEntries":[
                {{"id":"1","actionId":"Git.RefUpdate","timestamp":"2026-11-20T10:00:00Z","authenticationMechanism":"PAT_Unscoped authorizationId:{ALICE_PAT}","actorUPN":"alice@contoso.com"}},
                {{"id":"2","actionId":"Token.PatPublicDiscoveryEvent","timestamp":"2026-11-02T10:00:00Z","actorUserId":"00000002-0000-8888-8000-000000000000","data":{{"AuthorizationId":"{BOB_PAT}","DisplayName":"old"}}}},
                {{"id":"3","actionId":"Token.SshCreateEvent","timestamp":"2026-11-03T10:00:00Z","actorUPN":"alice@contoso.com","data":{{"DisplayName":"laptop"}}}}
            ],"continuationToken":"x","hasMore":false}}}}"#
        );
        http("200 OK", "", &body)
    }

    fn options(sources: &[Source]) -> ScanOptions {
        ScanOptions {
            concurrency: 2,
            evidence: EvidenceOptions {
                sources: sources.iter().copied().collect(),
                audit_end: "2026-12-01T00:00:00Z".parse().unwrap(),
                ..EvidenceOptions::default()
            },
            ..ScanOptions::default()
        }
    }

    /// Token Admin is asked as soon as Graph's first page arrives: here Graph answers its second
    /// page (503 until then, retried) only once a Token Admin request has come in, which a scan
    /// that listed every owner first would never send. The record is as if listed first: owners
    /// in Graph's order, an owner listed twice scanned once (its version worst for risk kept).
    #[tokio::test]
    async fn token_requests_start_with_the_first_graph_page() {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = log.clone();
        let (base, _) = serve(move |_, head| {
            let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
            seen.lock().unwrap().push(target.clone());
            let user = |d: &str, deleted: bool| {
                format!(r#"{{"descriptor":"{d}","principalName":"{d}@contoso.com","isDeletedInOrigin":{deleted}}}"#)
            };
            if target.contains("/graph/users") && !target.contains("continuationToken=") {
                let body = format!(r#"{{"value":[{},{}]}}"#, user("aad.a1", false), user("aad.a2", false));
                return Some(http("200 OK", "X-MS-ContinuationToken: p2\r\n", &body));
            }
            if target.contains("/graph/users") {
                let tokens_asked = seen.lock().unwrap().iter().any(|t| t.contains("/personalaccesstokens/"));
                if !tokens_asked {
                    return Some(http("503 Service Unavailable", "", "{}"));
                }
                let body = format!(r#"{{"value":[{},{}]}}"#, user("aad.b1", false), user("aad.a1", true));
                return Some(http("200 OK", "", &body));
            }
            let owner = target.split("/personalaccesstokens/").nth(1)?.split('?').next()?.to_string();
            Some(http(
                "200 OK",
                "",
                &format!(r#"{{"value":[{{"authorizationId":"id-{owner}","displayName":"t","scope":"vso.code"}}]}}"#),
            ))
        })
        .await;
        let client = client_for(&base, ClientOptions { max_retries: 20, ..ClientOptions::default() });
        let inventory =
            scan(&client, &ScanOptions { concurrency: 4, ..ScanOptions::default() }, &|_| {}).await.unwrap();
        assert!(inventory.coverage.complete, "{:?}", inventory.coverage);
        let owners: Vec<(&str, bool)> =
            inventory.owners.iter().map(|o| (o.descriptor.as_str(), o.deleted_in_origin)).collect();
        assert_eq!(owners, [("aad.a1", true), ("aad.a2", false), ("aad.b1", false)]);
        let tokens: Vec<&str> = inventory.tokens.iter().map(|t| t.authorization_id.as_str()).collect();
        assert_eq!(tokens, ["id-aad.a1", "id-aad.a2", "id-aad.b1"]);
        assert!(
            inventory
                .coverage
                .warnings
                .iter()
                .any(|w| w.kind == pat2entra_core::inventory::WarningKind::DuplicateOwner)
        );
        let log = log.lock().unwrap();
        assert_eq!(log.iter().filter(|t| t.contains("/personalaccesstokens/aad.a1")).count(), 1, "{log:?}");
        let first_token = log.iter().position(|t| t.contains("/personalaccesstokens/")).unwrap();
        let last_graph = log.iter().rposition(|t| t.contains("/graph/users")).unwrap();
        assert!(first_token < last_graph, "{log:?}");
    }

    #[tokio::test]
    async fn without_vso_auditlog_the_scan_completes_and_says_so() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = organization(audit_denied, log.clone()).await;
        let client = client_for(&base, ClientOptions::default());
        let inventory = scan(&client, &options(&Source::DEFAULT), &|_| {}).await.unwrap();
        // Removed and invited owners hold no tokens: answers, not gaps.
        assert!(inventory.coverage.complete, "{:?}", inventory.coverage.owners_failed);
        let audit = inventory.evidence.source(Source::Audit).unwrap();
        assert_eq!(audit.describe(), "unavailable (vso.auditlog missing)");
        for source in [Source::Entitlements, Source::Membership, Source::Ssh] {
            assert_eq!(inventory.evidence.source(source).unwrap().status, Status::Complete, "{source}");
        }
        let window = inventory.evidence.audit_window.unwrap();
        assert_eq!((window.end - window.start).num_days(), 90);
        let owner = |d: &str| inventory.owner(d).unwrap();
        assert_eq!(owner("aad.gone").member, Some(false));
        assert_eq!(owner("aad.alice").member, Some(true));
        assert_eq!(owner("msa.bob").last_accessed, Some(LastAccessed::Never));
        assert_eq!(owner("aad.alice").access_level.as_ref().unwrap().license.as_deref(), Some("Basic"));
        assert_eq!(owner("aad.gone").last_accessed, None);
        // Tokens are all there; the sentinel dates are unset.
        let kinds: Vec<(&str, CredentialKind)> =
            inventory.tokens.iter().map(|t| (t.authorization_id.as_str(), t.kind)).collect();
        assert_eq!(
            kinds,
            [(ALICE_PAT, CredentialKind::Pat), ("key-1", CredentialKind::Ssh), (BOB_PAT, CredentialKind::Pat)]
        );
        assert_eq!((inventory.tokens[0].valid_from, inventory.tokens[0].valid_to), (None, None));
        // Membership: alice and bob are listed by User Entitlements (no request); the removed
        // owner is asked when Token Admin answers 404, the invited `bnd` owner because User
        // Entitlements does not list it. Neither is asked for SSH keys: the same listing
        // already answered "none" for them.
        let log = log.lock().unwrap();
        let asked = |what: &str| -> Vec<&str> {
            let mut d: Vec<&str> = log
                .iter()
                .filter_map(|t| t.split(what).nth(1))
                .map(|rest| rest.split(['?', '/']).next().unwrap_or_default())
                .collect();
            d.sort_unstable();
            d
        };
        assert_eq!(asked("/membershipstates/"), ["aad.gone", "bnd.pending"]);
        let ssh: Vec<&String> = log.iter().filter(|t| t.contains("isPublic=true")).collect();
        assert_eq!(ssh.len(), 2, "{ssh:?}");
        assert_eq!(log.iter().filter(|t| t.contains("/audit/auditlog")).count(), 1);
        // Evidence adds at most one request per owner on top of Token Admin's PAT listings,
        // plus the organization-wide pages (Graph users, entitlements, audit).
        let owners = inventory.owners.len();
        let pat_listings = log.iter().filter(|t| t.contains("isPublic=false")).count();
        let org_pages = ["/graph/users", "/userentitlements", "/audit/auditlog"]
            .iter()
            .map(|p| log.iter().filter(|t| t.contains(p)).count())
            .sum::<usize>();
        assert!(log.len() <= pat_listings + owners + org_pages, "{log:?}");
        let membership = inventory.evidence.source(Source::Membership).unwrap();
        assert_eq!(membership.reason.as_deref(), Some("2 inferred from User Entitlements, 2 asked of Graph"));
    }

    #[tokio::test]
    async fn audit_events_and_use_reach_their_tokens() {
        let base = organization(audit_events, Default::default()).await;
        let client = client_for(&base, ClientOptions::default());
        let inventory = scan(&client, &options(&[Source::Audit, Source::Ssh]), &|_| {}).await.unwrap();
        assert_eq!(inventory.evidence.source(Source::Audit).unwrap().status, Status::Complete);
        let token = |id: &str| inventory.tokens.iter().find(|t| t.authorization_id == id).unwrap();
        let seen = token(ALICE_PAT).last_seen.as_ref().unwrap();
        assert_eq!((seen.action.as_str(), seen.source), ("Git.RefUpdate", Source::Audit));
        let leaked = &token(BOB_PAT).events[0];
        assert_eq!((leaked.kind, leaked.actor.as_deref()), (EventKind::Leaked, None));
        assert_eq!(token("key-1").events[0].kind, EventKind::Created);
        // Membership was not asked for: nothing is said about it.
        assert!(inventory.evidence.source(Source::Membership).is_none());
        assert!(inventory.owners.iter().all(|o| o.member.is_none()));
    }

    #[tokio::test]
    async fn per_owner_evidence_survives_a_resume_or_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let settings = CheckpointSettings {
            path: dir.path().join("scan.checkpoint"),
            params: CheckpointParams {
                organization: "contoso".into(),
                as_of: None,
                rules: "built-in default".into(),
                tool_version: "test".into(),
            },
            max_age: std::time::Duration::from_secs(3600),
        };
        let with_checkpoint =
            |sources: &[Source]| ScanOptions { checkpoint: Some(settings.clone()), ..options(sources) };
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = organization(audit_denied, log.clone()).await;
        let client = client_for(&base, ClientOptions::default());
        let count =
            |log: &Mutex<Vec<String>>, what: &str| log.lock().unwrap().iter().filter(|t| t.contains(what)).count();

        // A bare inventory first; then with membership and SSH keys: only those are asked.
        let bare = scan(&client, &with_checkpoint(&[]), &|_| {}).await.unwrap();
        assert_eq!(bare.tokens.len(), 2);
        // Without membership, a Token Admin 404 is not understood: a gap, asked again on resume.
        let failed: Vec<&str> = bare.coverage.owners_failed.iter().map(|f| f.descriptor.as_str()).collect();
        assert_eq!(failed, ["aad.gone"]);
        let error = &bare.coverage.owners_failed[0].error;
        assert!(error.contains("HTTP 404") && error.ends_with(NOT_FOUND_HINT), "the gap says how to tell: {error}");
        log.lock().unwrap().clear();
        let resumed = scan(&client, &with_checkpoint(&[Source::Membership, Source::Ssh]), &|_| {}).await.unwrap();
        assert_eq!(count(&log, "isPublic=false"), 1, "PATs come from the checkpoint, but for the gap");
        assert!(resumed.coverage.complete, "the removed owner is understood now");
        assert_eq!(count(&log, "/membershipstates/"), 4);
        assert_eq!(resumed.tokens.len(), 3, "the SSH key read again joins the resumed tokens");
        assert_eq!(resumed.owner("aad.gone").unwrap().member, Some(false));
        assert_eq!(resumed.evidence.source(Source::Membership).unwrap().status, Status::Complete);

        // A scan recorded with its evidence resumes with it: nothing per owner is asked again.
        std::fs::remove_file(&settings.path).unwrap();
        scan(&client, &with_checkpoint(&[Source::Membership, Source::Ssh]), &|_| {}).await.unwrap();
        log.lock().unwrap().clear();
        let again = scan(&client, &with_checkpoint(&[Source::Membership, Source::Ssh]), &|_| {}).await.unwrap();
        assert_eq!(
            count(&log, "/personalaccesstokens/") + count(&log, "/membershipstates/"),
            0,
            "{:?}",
            log.lock().unwrap()
        );
        assert_eq!(again.tokens, resumed.tokens);
        assert_eq!(again.owners, resumed.owners);
        assert_eq!(again.evidence.sources[&Source::Ssh], resumed.evidence.sources[&Source::Ssh]);
        let membership = &again.evidence.sources[&Source::Membership];
        assert_eq!(
            (membership.status, membership.reason.as_deref()),
            (Status::Complete, Some("4 from the checkpoint"))
        );

        // With User Entitlements, members are inferred and not recorded per owner: a resumed
        // scan derives them again from the entitlements it reads, asking only the others.
        std::fs::remove_file(&settings.path).unwrap();
        let both = [Source::Entitlements, Source::Membership, Source::Ssh];
        let first = scan(&client, &with_checkpoint(&both), &|_| {}).await.unwrap();
        assert_eq!(first.owner("aad.gone").unwrap().member, Some(false));
        log.lock().unwrap().clear();
        let again = scan(&client, &with_checkpoint(&both), &|_| {}).await.unwrap();
        assert_eq!(count(&log, "/personalaccesstokens/"), 0, "{:?}", log.lock().unwrap());
        // The removed owner's answer was recorded; the invited one (not listed) is asked again.
        assert_eq!(count(&log, "/membershipstates/"), 1, "{:?}", log.lock().unwrap());
        assert_eq!(count(&log, "/membershipstates/bnd.pending"), 1);
        assert_eq!(again.owners, first.owners);
        assert_eq!(again.tokens, first.tokens);
        let membership = &again.evidence.sources[&Source::Membership];
        assert_eq!(membership.status, Status::Complete);
        assert_eq!(
            membership.reason.as_deref(),
            Some("2 inferred from User Entitlements, 1 asked of Graph, 1 from the checkpoint")
        );
    }

    #[tokio::test]
    async fn without_entitlements_membership_is_asked_once_per_owner() {
        for (sources, entitlements) in [
            (vec![Source::Membership, Source::Ssh], "not requested"),
            (vec![Source::Entitlements, Source::Membership, Source::Ssh], "unavailable"),
        ] {
            let log = Arc::new(Mutex::new(Vec::new()));
            let base = organization(audit_denied, log.clone()).await;
            let mut client = client_for(&base, ClientOptions::default());
            // User Entitlements on another host that refuses: the fallback asks every owner.
            if entitlements == "unavailable" {
                let (denied, _) = serve(|_, _| Some(http("401 Unauthorized", "", r#"{"message":"TF400813"}"#))).await;
                let mut endpoints = crate::Endpoints::single_base(&base).unwrap();
                endpoints.vsaex = crate::Endpoints::single_base(&denied).unwrap().vsaex;
                client = AdoClient::new(
                    endpoints,
                    crate::OrgRef::parse("contoso").unwrap(),
                    crate::Credential::Pat(pat2entra_core::secret::Secret::new("pat-secret-777")),
                    ClientOptions { base_backoff: std::time::Duration::from_millis(1), ..ClientOptions::default() },
                )
                .unwrap();
            }
            let inventory = scan(&client, &options(&sources), &|_| {}).await.unwrap();
            let log = log.lock().unwrap();
            assert_eq!(log.iter().filter(|t| t.contains("/membershipstates/")).count(), 4, "{entitlements}");
            assert_eq!(inventory.owner("aad.gone").unwrap().member, Some(false));
            assert_eq!(inventory.owner("aad.alice").unwrap().member, Some(true));
            let membership = inventory.evidence.source(Source::Membership).unwrap();
            assert_eq!(membership.describe(), format!("complete (4 asked of Graph, User Entitlements {entitlements})"),);
        }
    }

    #[test]
    fn only_active_and_pending_entitlements_make_members() {
        use crate::wire::OwnerActivity;
        use pat2entra_core::evidence::AccessLevel;
        let entry = |d: &str, status: Option<&str>| OwnerActivity {
            descriptor: d.into(),
            last_accessed: None,
            access_level: status.map(|s| AccessLevel { status: s.into(), license: None }),
        };
        let listed = [
            entry("aad.A", Some("active")),
            entry("aad.b", Some("Pending")),
            entry("aad.c", Some("deleted")),
            entry("aad.d", Some("disabled")),
            entry("aad.e", Some("expired")),
            entry("aad.f", Some("pendingDisabled")),
            entry("aad.g", Some("none")),
            entry("aad.h", None),
        ];
        let members = evidence::entitled_members(&listed);
        let mut members: Vec<&str> = members.iter().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["aad.a", "aad.b"]);
    }

    #[tokio::test]
    async fn a_401_after_token_admin_answered_says_the_credential_stopped_working() {
        let (base, _) = serve(|_, head| {
            let target = head.split_whitespace().nth(1).unwrap_or_default();
            Some(if target.contains("/graph/users") {
                http("200 OK", "", r#"{"value":[{"descriptor":"aad.a"},{"descriptor":"aad.b"}]}"#)
            } else if target.contains("/aad.a") {
                http("200 OK", "", r#"{"value":[]}"#)
            } else {
                http("401 Unauthorized", "", "{}")
            })
        })
        .await;
        let client = client_for(&base, ClientOptions::default());
        let err = scan(&client, &ScanOptions { concurrency: 1, ..ScanOptions::default() }, &|_| {}).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the credential stopped working during the scan"), "{text}");
        assert!(!text.contains("may not list other users' tokens"), "{text}");

        // The very first Token Admin request refused: the identity is no token administrator.
        let (base, _) = serve(|_, head| {
            Some(if head.contains("/graph/users") {
                http("200 OK", "", r#"{"value":[{"descriptor":"aad.a"}]}"#)
            } else {
                http("401 Unauthorized", "", "{}")
            })
        })
        .await;
        let err =
            scan(&client_for(&base, ClientOptions::default()), &ScanOptions::default(), &|_| {}).await.unwrap_err();
        assert!(err.to_string().contains("may not list other users' tokens"), "{err}");
    }
}
