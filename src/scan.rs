//! The scan: list every owner, then every token of each owner (in parallel, bounded), into an
//! inventory that says exactly what it could not read.

use crate::ado::{AdoClient, AdoError};
use crate::inventory::{Coverage, Inventory, OwnerFailure, Token};
use futures::StreamExt;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Owners scanned at the same time.
    pub concurrency: usize,
    /// `pageSize` asked of Token Admin.
    pub page_size: u32,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { concurrency: 8, page_size: 100 }
    }
}

/// Progress of a scan, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum ScanEvent {
    OwnersListed(usize),
    OwnerScanned { tokens: usize },
    OwnerFailed,
}

/// Scans the organization. An owner whose tokens cannot be read after retries becomes a
/// coverage gap; errors that would hit every owner (authentication, permission) stop the scan.
pub async fn scan(
    client: &AdoClient,
    options: &ScanOptions,
    on_event: &(dyn Fn(ScanEvent) + Sync),
) -> Result<Inventory, AdoError> {
    let owners = client.list_users().await?;
    on_event(ScanEvent::OwnersListed(owners.len()));

    let mut per_owner: Vec<Option<Vec<Token>>> = vec![None; owners.len()];
    let mut failures = Vec::new();
    let mut results = futures::stream::iter(owners.iter().enumerate())
        .map(|(i, owner)| async move { (i, client.list_pats(&owner.descriptor, options.page_size).await) })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((i, result)) = results.next().await {
        match result {
            Ok(tokens) => {
                on_event(ScanEvent::OwnerScanned { tokens: tokens.len() });
                per_owner[i] = Some(tokens);
            }
            Err(e) if e.is_fatal() => return Err(e),
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
    let tokens = per_owner.into_iter().flatten().flatten().collect();
    Ok(Inventory {
        organization: client.organization().to_string(),
        coverage: Coverage::new(owners.len(), owners_scanned, owners_failed),
        owners,
        tokens,
    })
}
