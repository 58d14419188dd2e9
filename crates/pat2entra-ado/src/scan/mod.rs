//! The scan: list every owner, then every token of each owner (in parallel, bounded), into an
//! inventory that says exactly what it could not read.

mod checkpoint;
mod evidence;

pub use checkpoint::{CheckpointError, CheckpointParams, CheckpointSettings, FinishedOwner, Unusable, show_age};
pub use evidence::{
    DEFAULT_AUDIT_BATCH_SIZE, DEFAULT_AUDIT_DAYS, DEFAULT_AUDIT_SLICE_DAYS, EvidenceOptions, token_event,
};

use crate::client::KINDS_WITHOUT_PATS;
use crate::{AdoClient, AdoError};
use futures::{FutureExt, StreamExt};
use pat2entra_core::evidence::{Evidence, Source};
use pat2entra_core::inventory::{Coverage, Inventory, Owner, OwnerFailure, Token, resolve_owners, resolve_tokens};

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
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { concurrency: 8, page_size: 100, checkpoint: None, evidence: EvidenceOptions::default() }
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
/// (membership, then SSH keys, at most one membership request per owner) and organization-wide
/// (entitlements, audit log, policies). A source that cannot be read is a coverage line of
/// `Inventory::evidence`; it never stops the scan, hides a token or makes it incomplete.
pub async fn scan(
    client: &AdoClient,
    options: &ScanOptions,
    on_event: &(dyn Fn(ScanEvent) + Sync),
) -> Result<Inventory, ScanError> {
    // The checkpoint first: a wrong file should not cost a long listing of owners.
    let opened = match &options.checkpoint {
        None => None,
        Some(settings) => Some(checkpoint::open(settings)?),
    };
    // An owner Graph listed twice is scanned once (the version worst for risk is kept).
    let (mut owners, mut warnings) = resolve_owners(client.list_users().await?);
    on_event(ScanEvent::OwnersListed(owners.len()));

    let ev = &options.evidence;
    let want_membership = ev.wants(Source::Membership);
    let want_ssh = ev.wants(Source::Ssh);
    let mut per_owner: Vec<Option<Vec<Token>>> = vec![None; owners.len()];
    let mut members: Vec<Option<bool>> = vec![None; owners.len()];
    // Per-owner evidence a resumed owner already has (from its checkpoint line).
    let mut had: Vec<Vec<Source>> = vec![Vec::new(); owners.len()];
    let checkpoint = match opened {
        None => None,
        Some((checkpoint, mut finished)) => {
            let mut resumed_tokens = 0;
            for (i, owner) in owners.iter().enumerate() {
                if let Some(done) = finished.remove(&owner.descriptor) {
                    resumed_tokens += done.tokens.len();
                    per_owner[i] = Some(done.tokens);
                    members[i] = done.member;
                    had[i] = done.evidence;
                }
            }
            let resumed = per_owner.iter().filter(|t| t.is_some()).count();
            if resumed > 0 {
                on_event(ScanEvent::Resumed { owners: resumed, tokens: resumed_tokens });
            }
            Some(checkpoint)
        }
    };
    // Each owner's work: its PATs unless resumed, and the per-owner evidence it lacks (a
    // resumed owner's missing evidence is read again, not left out).
    let work: Vec<Work> = (0..owners.len())
        .map(|i| Work {
            owner: i,
            pats: per_owner[i].is_none(),
            membership: want_membership && !had[i].contains(&Source::Membership),
            ssh: want_ssh && !had[i].contains(&Source::Ssh),
        })
        .filter(|w| w.pats || w.membership || w.ssh)
        .collect();
    // Resumed owners that already had a source count as read for it.
    let mut membership_tally = evidence::Tally {
        read: (0..owners.len()).filter(|i| want_membership && had[*i].contains(&Source::Membership)).count(),
        ..Default::default()
    };
    let mut ssh_tally = evidence::Tally {
        read: (0..owners.len()).filter(|i| want_ssh && had[*i].contains(&Source::Ssh)).count(),
        ..Default::default()
    };
    let membership_gate = evidence::Gate::default();
    let ssh_gate = evidence::Gate::default();

    let mut failures = Vec::new();
    let owner_list = &owners;
    let gates = (&membership_gate, &ssh_gate);
    let owners_done = async {
        let mut results = futures::stream::iter(work)
            .map(|w| async move { (w, read_owner(client, &owner_list[w.owner], w, options.page_size, gates).await) })
            .buffer_unordered(options.concurrency.max(1));
        while let Some((w, read)) = results.next().await {
            let i = w.owner;
            if let Some(member) = &read.member {
                membership_tally.count(&membership_gate, member);
                if let Ok(Some(active)) = member {
                    members[i] = Some(*active);
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
                    if let (Some(keys), Some(tokens)) = (ssh_keys, per_owner[i].as_mut()) {
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
                        tokens.extend(keys);
                        read_sources.push(Source::Ssh);
                    }
                    if let Some(checkpoint) = &checkpoint {
                        let done = FinishedOwner { tokens, member: members[i], evidence: read_sources };
                        checkpoint.record_owner(&owner_list[i].descriptor, &done)?;
                        per_owner[i] = Some(done.tokens);
                    } else {
                        per_owner[i] = Some(tokens);
                    }
                }
                Some(Err(e)) if e.is_fatal() => return Err(ScanError::from(e)),
                Some(Err(e)) => {
                    on_event(ScanEvent::OwnerFailed);
                    failures.push((i, e.to_string()));
                }
            }
        }
        Ok::<(), ScanError>(())
    };
    // The organization-wide evidence is read beside the owners; a fatal owner error drops it.
    let org_evidence = evidence::read_org_evidence(client, ev).map(Ok);
    let ((), org) = futures::future::try_join(owners_done, org_evidence).await?;

    failures.sort_by_key(|(i, _)| *i);
    let owners_failed = failures
        .into_iter()
        .map(|(i, error)| OwnerFailure { descriptor: owners[i].descriptor.clone(), error })
        .collect();
    let owners_scanned = per_owner.iter().filter(|t| t.is_some()).count();
    for (owner, member) in owners.iter_mut().zip(members) {
        owner.member = member;
    }
    // Tokens in the order of their owners, as listed: the same organization gives the same record.
    // One rule for duplicates and unreadable tokens (see `resolve_tokens`), resumed ones included.
    let (mut tokens, token_warnings) = resolve_tokens(per_owner.into_iter().flatten().flatten().collect());
    warnings.extend(token_warnings);
    let mut coverage = Coverage::new(owners.len(), owners_scanned, owners_failed);
    coverage.warnings = warnings;

    let mut evidence = Evidence::default();
    if want_membership {
        evidence.sources.insert(Source::Membership, membership_tally.coverage(&membership_gate, owners.len()));
    }
    if want_ssh {
        evidence.sources.insert(Source::Ssh, ssh_tally.coverage(&ssh_gate, owners.len()));
    }
    evidence::apply_activity(&mut owners, org.activity);
    for (source, source_coverage) in org.coverage {
        evidence.sources.insert(source, source_coverage);
    }
    if ev.wants(Source::Audit) {
        evidence.audit_window = Some(ev.audit_window());
    }
    if let Some(audit) = org.audit {
        let unmatched = evidence::apply_audit(&mut tokens, &owners, audit.records);
        if let Some(c) = evidence.sources.get_mut(&Source::Audit) {
            evidence::note_unmatched(c, unmatched);
        }
    }
    evidence.policies = org.policies;
    // The checkpoint stays until the caller has written the result (`finish_checkpoint`): a
    // failed write must not throw a long scan away.
    drop(checkpoint);
    Ok(Inventory { organization: client.organization().to_string(), coverage, owners, tokens, evidence })
}

/// What to read for one owner.
#[derive(Debug, Clone, Copy)]
struct Work {
    owner: usize,
    pats: bool,
    membership: bool,
    ssh: bool,
}

/// What was read for one owner (`None`: not asked).
struct OwnerRead {
    pats: Option<Result<Vec<Token>, AdoError>>,
    member: Option<Result<Option<bool>, AdoError>>,
    ssh: Option<Result<Vec<Token>, AdoError>>,
}

/// One owner: membership first (so a Token Admin 404 for a removed owner is understood), then
/// PATs, then SSH keys. A 404 for an owner no longer a member, or a 400/404 for a subject kind
/// that holds no PATs (`bnd`, `svc`), is an answer ("no tokens"), not a gap.
async fn read_owner(
    client: &AdoClient,
    owner: &Owner,
    work: Work,
    page_size: u32,
    (membership_gate, ssh_gate): (&evidence::Gate, &evidence::Gate),
) -> OwnerRead {
    let descriptor = owner.descriptor.as_str();
    let member =
        if work.membership && membership_gate.open() { Some(client.membership_state(descriptor).await) } else { None };
    let not_a_member = matches!(member, Some(Ok(Some(false))));
    let kind = descriptor.split('.').next().unwrap_or_default().to_ascii_lowercase();
    let holds_none = |e: &AdoError| match e {
        AdoError::Status { status: 404, .. } if not_a_member => true,
        AdoError::Status { status: 400 | 404, .. } => KINDS_WITHOUT_PATS.contains(&kind.as_str()),
        _ => false,
    };
    let answered = |result: Result<Vec<Token>, AdoError>| match result {
        Err(e) if holds_none(&e) => {
            tracing::debug!(
                owner = descriptor,
                "Token Admin: {e}; read as no tokens (not a member, or a kind without PATs)"
            );
            Ok(Vec::new())
        }
        other => other,
    };
    let pats = if work.pats { Some(answered(client.list_pats(descriptor, page_size).await)) } else { None };
    let fatal = matches!(&pats, Some(Err(e)) if e.is_fatal());
    let ssh = if work.ssh && ssh_gate.open() && !fatal {
        Some(answered(client.list_ssh_keys(descriptor, page_size).await))
    } else {
        None
    };
    OwnerRead { pats, member, ssh }
}
