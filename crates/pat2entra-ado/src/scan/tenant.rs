//! Many organizations in one run: each scanned by the single-organization [`scan`], a few at a
//! time, with one client per organization sharing the identity's pacer and connections
//! (`AdoClient::for_organization`).

use super::{ScanError, ScanEvent, ScanOptions, scan};
use crate::{AdoClient, OrgRef};
use futures::StreamExt;
use pat2entra_core::inventory::Inventory;

/// One organization's outcome: its inventory, or why it could not be scanned at all.
#[derive(Debug)]
pub struct OrganizationScan {
    pub organization: String,
    pub result: Result<Inventory, ScanError>,
}

/// Scans `organizations`, `org_concurrency` at a time (owners within each as `options` says),
/// through clients made from `base` (which only lends its connections, credential and pacer).
/// An organization that fails (not found, refused, the owners not listable) is an `Err` of its
/// own; the others go on. Events name their organization. Outcomes come back in the order given.
pub async fn scan_organizations(
    base: &AdoClient,
    organizations: &[OrgRef],
    options: &ScanOptions,
    org_concurrency: usize,
    on_event: &(dyn Fn(&str, ScanEvent) + Sync),
) -> Vec<OrganizationScan> {
    let mut outcomes: Vec<(usize, OrganizationScan)> = futures::stream::iter(organizations.iter().enumerate())
        .map(|(i, org)| async move {
            let client = base.for_organization(org.clone());
            let name = org.name().to_string();
            let result = scan(&client, options, &|event| on_event(&name, event)).await;
            (i, OrganizationScan { organization: name, result })
        })
        .buffer_unordered(org_concurrency.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}
