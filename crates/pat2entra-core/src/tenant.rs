//! Many organizations in one file, and the parts of a sharded scan.
//!
//! A tenant record holds one full [`ScanRecord`] per organization (each with its own coverage,
//! evidence, findings and guidance, exactly what a single scan of that organization writes) plus
//! what only the tenant view knows: an all-organizations PAT that several organizations list is
//! one credential (`shared`), counted once in the tenant summary; organizations asked for but not
//! scanned at all are coverage gaps (`failed`); a sharded scan's part says which part it is
//! (`shard`).
//!
//! A single-organization record stays a `ScanRecord` (no `kind` field); [`AnyRecord::load`] reads
//! either.

use crate::finding::Severity;
use crate::inventory::TokenState;
use crate::record::{LoadError, SCHEMA_VERSION, ScanRecord, ToolInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The `kind` of a tenant record (single-organization records have no `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    #[default]
    Tenant,
}

/// Which part of a sharded scan a record is. Parts of one scan share `scan_id` and `count`;
/// `merge` refuses parts of different scans and reports a missing part by its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based: `--shard 2/3` is index 2 of count 3.
    pub index: u32,
    pub count: u32,
    /// What was partitioned: organizations (several asked for) or the owners of one.
    pub by: ShardBy,
    /// The same for every part of one scan (derived from what was asked: organizations, shard
    /// count, rules, `--as-of`), different for another scan.
    pub scan_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardBy {
    Organizations,
    Owners,
}

/// An organization that was asked for but could not be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationFailure {
    pub organization: String,
    /// One line: what failed and what to do.
    pub reason: String,
}

/// One credential (authorization id) listed by more than one organization: an all-organizations
/// PAT seen through each organization its owner belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedCredential {
    pub authorization_id: String,
    /// The owner's principal name as the first organization listed it (descriptors may differ
    /// between organizations; the authorization id does not).
    pub owner: String,
    /// Every organization that lists it, in name order.
    pub organizations: Vec<String>,
}

/// The tenant's numbers. Credentials are distinct authorization ids: a shared credential counts
/// once. Finding counts add the organizations' open findings, counting a credential's finding by
/// the same rule once however many organizations list the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub organizations: usize,
    pub organizations_failed: usize,
    /// Organizations whose own coverage is incomplete (failed ones not included).
    pub organizations_incomplete: usize,
    /// Distinct owners by principal name.
    pub owners: usize,
    pub credentials: usize,
    pub active_credentials: usize,
    pub flagged_credentials: usize,
    pub shared_credentials: usize,
    /// Open findings per severity, every severity present.
    pub findings_by_severity: BTreeMap<Severity, usize>,
    pub suppressed_findings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub schema_version: u32,
    pub kind: RecordKind,
    pub tool: ToolInfo,
    /// The moment every organization was judged against.
    pub as_of: DateTime<Utc>,
    pub summary: TenantSummary,
    /// One record per organization scanned, in name order.
    pub organizations: Vec<ScanRecord>,
    /// Organizations asked for but not scanned, in name order.
    #[serde(default)]
    pub failed: Vec<OrganizationFailure>,
    /// Credentials listed by more than one organization, by authorization id.
    #[serde(default)]
    pub shared: Vec<SharedCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

impl TenantRecord {
    /// Puts organizations' records together (sorted by name) and works out the shared
    /// credentials and the tenant summary. Pure.
    pub fn new(
        mut organizations: Vec<ScanRecord>,
        mut failed: Vec<OrganizationFailure>,
        as_of: DateTime<Utc>,
        shard: Option<Shard>,
    ) -> Self {
        organizations.sort_by(|a, b| a.organization.cmp(&b.organization));
        failed.sort_by(|a, b| a.organization.cmp(&b.organization));
        let shared = shared_credentials(&organizations);
        let summary = summarize(&organizations, &failed, shared.len());
        TenantRecord {
            schema_version: SCHEMA_VERSION,
            kind: RecordKind::Tenant,
            tool: ToolInfo { name: "pat2entra".into(), version: env!("CARGO_PKG_VERSION").into() },
            as_of,
            summary,
            organizations,
            failed,
            shared,
            shard,
        }
    }

    /// Every organization's coverage is complete and none failed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.organizations.iter().all(|r| r.coverage.complete)
    }
}

fn shared_credentials(organizations: &[ScanRecord]) -> Vec<SharedCredential> {
    let mut seen: BTreeMap<&str, (String, BTreeSet<&str>)> = BTreeMap::new();
    for record in organizations {
        for token in &record.tokens {
            let owner = record.owner(&token.owner).map_or_else(|| token.owner.clone(), |o| o.principal_name.clone());
            seen.entry(&token.authorization_id)
                .or_insert_with(|| (owner, BTreeSet::new()))
                .1
                .insert(&record.organization);
        }
    }
    seen.into_iter()
        .filter(|(_, (_, orgs))| orgs.len() > 1)
        .map(|(id, (owner, orgs))| SharedCredential {
            authorization_id: id.to_string(),
            owner,
            organizations: orgs.into_iter().map(str::to_string).collect(),
        })
        .collect()
}

fn summarize(organizations: &[ScanRecord], failed: &[OrganizationFailure], shared: usize) -> TenantSummary {
    let mut owners = BTreeSet::new();
    let mut credentials = BTreeSet::new();
    let mut active = BTreeSet::new();
    let mut flagged = BTreeSet::new();
    // (credential, rule) for credential findings; organization findings are each their own.
    let mut counted: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut by_severity: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    let mut suppressed = 0;
    for record in organizations {
        owners.extend(record.owners.iter().map(|o| o.principal_name.as_str()));
        for token in &record.tokens {
            credentials.insert(token.authorization_id.as_str());
            if token.state(record.as_of) == TokenState::Active {
                active.insert(token.authorization_id.as_str());
            }
        }
        for finding in &record.findings {
            if finding.is_suppressed() {
                suppressed += 1;
                continue;
            }
            if finding.is_organization() || counted.insert((finding.authorization_id.as_str(), &finding.rule)) {
                *by_severity.entry(finding.severity).or_default() += 1;
            }
            if !finding.is_organization() {
                flagged.insert(finding.authorization_id.as_str());
            }
        }
    }
    TenantSummary {
        organizations: organizations.len(),
        organizations_failed: failed.len(),
        organizations_incomplete: organizations.iter().filter(|r| !r.coverage.complete).count(),
        owners: owners.len(),
        credentials: credentials.len(),
        active_credentials: active.len(),
        flagged_credentials: flagged.len(),
        shared_credentials: shared,
        findings_by_severity: by_severity,
        suppressed_findings: suppressed,
    }
}

/// A saved record of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyRecord {
    Organization(Box<ScanRecord>),
    Tenant(Box<TenantRecord>),
}

impl AnyRecord {
    /// Reads a saved record, single-organization or tenant (told apart by `"kind": "tenant"`).
    pub fn load(path: &std::path::Path) -> Result<Self, LoadError> {
        use crate::files::{MAX_SAVED_SCAN, read_limited};
        let bytes = read_limited(path, MAX_SAVED_SCAN, "saved scan")?;
        Self::from_json(&bytes, &path.display().to_string())
    }

    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self, LoadError> {
        #[derive(Deserialize)]
        struct Probe {
            kind: Option<RecordKind>,
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        match serde_json::from_slice::<Probe>(bytes) {
            Ok(Probe { kind: Some(RecordKind::Tenant) }) => {
                let record: TenantRecord =
                    serde_json::from_slice(bytes).map_err(|e| crate::record::load_error(bytes, name, &e, ""))?;
                if !crate::record::readable(u64::from(record.schema_version)) {
                    return Err(LoadError::Version {
                        name: name.to_string(),
                        found: record.schema_version.to_string(),
                    });
                }
                Ok(AnyRecord::Tenant(Box::new(record)))
            }
            _ => ScanRecord::from_json(bytes, name).map(|r| AnyRecord::Organization(Box::new(r))),
        }
    }

    /// The organizations' records: one for a single-organization record.
    pub fn organizations(&self) -> &[ScanRecord] {
        match self {
            AnyRecord::Organization(r) => std::slice::from_ref(r),
            AnyRecord::Tenant(t) => &t.organizations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Coverage, Inventory, Owner, Token};
    use crate::rules::RuleSet;

    fn org(name: &str, tokens: &[(&str, bool)]) -> ScanRecord {
        let owner = Owner {
            descriptor: format!("aad.{name}"),
            principal_name: "ada@contoso.com".into(),
            display_name: "Ada".into(),
            origin: "aad".into(),
            ..Default::default()
        };
        let tokens = tokens
            .iter()
            .map(|(id, global)| Token {
                authorization_id: (*id).into(),
                owner: owner.descriptor.clone(),
                display_name: format!("token {id}"),
                scopes: vec!["app_token".into()],
                all_organizations: *global,
                target_accounts: if *global { vec![] } else { vec![name.into()] },
                is_valid: true,
                ..Default::default()
            })
            .collect();
        let inventory = Inventory {
            organization: name.into(),
            owners: vec![owner],
            tokens,
            coverage: Coverage::new(1, 1, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        ScanRecord::judge(inventory, &RuleSet::default_rules(), "2026-11-26T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn a_credential_listed_by_two_organizations_counts_once() {
        let a = org("alpha", &[("g", true), ("a1", false)]);
        let b = org("beta", &[("g", true), ("b1", false)]);
        let per_org_high: usize = [&a, &b].iter().map(|r| r.summary.findings_by_severity[&Severity::Critical]).sum();
        let failed = vec![OrganizationFailure { organization: "gamma".into(), reason: "401".into() }];
        let tenant = TenantRecord::new(vec![b, a], failed, "2026-11-26T00:00:00Z".parse().unwrap(), None);
        assert_eq!(tenant.organizations[0].organization, "alpha", "sorted by name");
        assert_eq!(tenant.shared.len(), 1);
        assert_eq!(tenant.shared[0].authorization_id, "g");
        assert_eq!(tenant.shared[0].organizations, ["alpha", "beta"]);
        assert_eq!(tenant.summary.credentials, 3);
        assert_eq!(tenant.summary.owners, 1);
        assert_eq!(tenant.summary.organizations_failed, 1);
        assert!(!tenant.is_complete());
        // The shared credential's findings are counted once, the others per organization.
        let critical = tenant.summary.findings_by_severity[&Severity::Critical];
        assert!(critical > 0 && critical < per_org_high, "{critical} of {per_org_high}");
        let json = serde_json::to_vec(&tenant).unwrap();
        match AnyRecord::from_json(&json, "t.json").unwrap() {
            AnyRecord::Tenant(t) => assert_eq!(*t, tenant),
            AnyRecord::Organization(_) => panic!("a tenant record read as one organization"),
        }
        let single = serde_json::to_vec(&tenant.organizations[1]).unwrap();
        assert!(matches!(AnyRecord::from_json(&single, "s.json").unwrap(), AnyRecord::Organization(_)));
    }
}
