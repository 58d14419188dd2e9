//! The scan: list every owner, then every token of each owner (in parallel, bounded), into an
//! inventory that says exactly what it could not read.

mod checkpoint;

pub use checkpoint::{CheckpointError, CheckpointParams, CheckpointSettings, Unusable, show_age};

use crate::{AdoClient, AdoError};
use futures::StreamExt;
use pat2entra_core::inventory::{
    Coverage, CoverageWarning, Inventory, OwnerFailure, Token, WarningKind, resolve_owners, resolve_tokens,
};
use pat2entra_core::service::{Observations, ServiceBehaviour};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Owners scanned at the same time.
    pub concurrency: usize,
    /// `pageSize` asked of Token Admin.
    pub page_size: u32,
    /// Record finished owners here, and skip those an earlier run finished.
    pub checkpoint: Option<CheckpointSettings>,
    /// What is known about the service before the scan (`--service-profile`); readings left
    /// unknown are inferred from the scan's data where it shows them.
    pub service: ServiceBehaviour,
    /// The service's "now", for reading which listed tokens had expired (default: the clock).
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            concurrency: 8,
            page_size: 100,
            checkpoint: None,
            service: ServiceBehaviour::default(),
            now: None,
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
    let (owners, mut warnings) = resolve_owners(client.list_users().await?);
    on_event(ScanEvent::OwnersListed(owners.len()));

    let mut per_owner: Vec<Option<Vec<Token>>> = vec![None; owners.len()];
    let checkpoint = match opened {
        None => None,
        Some((checkpoint, mut finished)) => {
            let mut resumed_tokens = 0;
            for (i, owner) in owners.iter().enumerate() {
                if let Some(tokens) = finished.remove(&owner.descriptor) {
                    resumed_tokens += tokens.len();
                    per_owner[i] = Some(tokens);
                }
            }
            let resumed = per_owner.iter().filter(|t| t.is_some()).count();
            if resumed > 0 {
                on_event(ScanEvent::Resumed { owners: resumed, tokens: resumed_tokens });
            }
            Some(checkpoint)
        }
    };
    let to_scan: Vec<usize> = (0..owners.len()).filter(|i| per_owner[*i].is_none()).collect();

    let mut failures = Vec::new();
    let owner_list = &owners;
    let mut results = futures::stream::iter(to_scan)
        .map(|i| async move { (i, client.list_pats(&owner_list[i].descriptor, options.page_size).await) })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((i, result)) = results.next().await {
        match result {
            Ok(tokens) => {
                on_event(ScanEvent::OwnerScanned { tokens: tokens.len() });
                if let Some(checkpoint) = &checkpoint {
                    checkpoint.record(&owners[i].descriptor, &tokens)?;
                }
                per_owner[i] = Some(tokens);
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                on_event(ScanEvent::OwnerFailed);
                failures.push((i, e.to_string()));
            }
        }
    }
    drop(results);

    failures.sort_by_key(|(i, _)| *i);
    let owners_failed = failures
        .into_iter()
        .map(|(i, error)| OwnerFailure { descriptor: owners[i].descriptor.clone(), error })
        .collect();
    let owners_scanned = per_owner.iter().filter(|t| t.is_some()).count();
    // Tokens in the order of their owners, as listed: the same organization gives the same record.
    // One rule for duplicates and unreadable tokens (see `resolve_tokens`), resumed ones included.
    let (tokens, token_warnings) = resolve_tokens(per_owner.into_iter().flatten().flatten().collect());
    warnings.extend(token_warnings);
    let service = read_service(client, options, &tokens, &mut warnings).await;
    let mut coverage = Coverage::new(owners.len(), owners_scanned, owners_failed);
    coverage.warnings = warnings;
    // The checkpoint stays until the caller has written the result (`finish_checkpoint`): a
    // failed write must not throw a long scan away.
    drop(checkpoint);
    Ok(Inventory {
        organization: client.organization().to_string(),
        coverage,
        owners,
        tokens,
        evidence: Default::default(),
        service,
    })
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
    let past = |t: &Token| t.valid_to.is_some_and(|to| to <= as_of);
    let seen = Observations {
        filled_target_accounts: tokens.iter().filter(|t| !t.target_accounts.is_empty()).count(),
        invalid: tokens.iter().filter(|t| !t.is_valid).count(),
        invalid_past_valid_to: tokens.iter().filter(|t| !t.is_valid && past(t)).count(),
        valid_past_valid_to: tokens.iter().filter(|t| t.is_valid && past(t)).count(),
        paging_ends: client.paging_ends(),
    };
    service.infer(&seen);
    if seen.filled_target_accounts > 0 && service.organization_id.is_none() {
        match client.connection_data().await {
            Ok(connection) => service.organization_id = connection.instance_id.filter(|i| !i.trim().is_empty()),
            Err(e) => tracing::warn!(error = %e, "could not read this organization's id (connectionData)"),
        }
        if service.organization_id.is_none() {
            warnings.push(CoverageWarning {
                kind: WarningKind::OtherOrganizations,
                message: "this organization's id could not be read (connectionData): tokens limited to organizations \
                          were not checked against it"
                    .into(),
                ids: Vec::new(),
            });
        }
    }
    if let Some(org_id) = service.organization_id.as_deref() {
        let others: Vec<&Token> = tokens
            .iter()
            .filter(|t| !t.target_accounts.is_empty())
            .filter(|t| !t.target_accounts.iter().any(|a| a.trim().eq_ignore_ascii_case(org_id)))
            .collect();
        if !others.is_empty() {
            warnings.push(CoverageWarning {
                kind: WarningKind::OtherOrganizations,
                message: format!(
                    "{} token{} limited to other organizations only (targetAccounts without this organization's id {org_id}): listed by Token Admin here, usable only there",
                    others.len(),
                    if others.len() == 1 { " is" } else { "s are" }
                ),
                ids: others.iter().flat_map(|t| [t.authorization_id.clone(), t.owner.clone()]).collect(),
            });
        }
    }
    service
}
