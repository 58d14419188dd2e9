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

impl TenantSummary {
    /// Open findings per severity, most severe first: `3 critical, 0 high, 1 medium, 0 low, 0 info`.
    pub fn severity_counts(&self) -> String {
        crate::finding::severity_counts(&self.findings_by_severity)
    }
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
            let owner =
                record.owner(&token.owner).map_or_else(|| token.owner.to_string(), |o| o.principal_name.to_string());
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
    /// A record without `"kind"` near its start (a tenant record writes it second) is read as
    /// `ScanRecord::load` reads it, streaming; anything else is read whole and told apart.
    pub fn load(path: &std::path::Path) -> Result<Self, LoadError> {
        use crate::files::{MAX_SAVED_SCAN, read_limited};
        use std::io::Read;
        let mut start = Vec::new();
        // Only a regular file is peeked at: a pipe's bytes, once read, are gone.
        if std::fs::metadata(path).is_ok_and(|m| m.is_file())
            && let Ok(file) = std::fs::File::open(path)
        {
            let _ = file.take(4096).read_to_end(&mut start);
        }
        if !start.is_empty() && !start.windows(6).any(|w| w == b"\"kind\"") {
            return ScanRecord::load(path).map(|r| AnyRecord::Organization(Box::new(r)));
        }
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
                let record: TenantRecord = crate::text::interned(|| serde_json::from_slice(bytes))
                    .map_err(|e| crate::record::load_error(bytes, name, &e, ""))?;
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

    /// Which part of a sharded scan the record is, if it is one.
    pub fn shard(&self) -> Option<&Shard> {
        match self {
            AnyRecord::Organization(r) => r.shard.as_ref(),
            AnyRecord::Tenant(t) => t.shard.as_ref(),
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

/// An organization as `pat2entra orgs` lists it and `--orgs-file` names it: from the accounts
/// API, a list of names, or the portal's export of a tenant's organizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationEntry {
    pub name: String,
    /// The organization's GUID, when the source gives it.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub url: String,
    /// The portal export's owner column.
    #[serde(default)]
    pub owner: String,
    /// What the source says beside the name: the export's exception type and error message, or
    /// an account's status other than enabled.
    #[serde(default)]
    pub note: String,
}

/// The header of the CSV the Azure DevOps portal exports of the organizations connected to a
/// Microsoft Entra tenant (Organization settings > Microsoft Entra > Download), as recorded in
/// /work/shared/reference/evidence-action-tenant-apis.md; no Microsoft document spells it out,
/// so columns are found by name (any case, any order, extra columns ignored) and only
/// `Organization Name` (or, failing it, `Url`) is required.
pub const PORTAL_CSV_COLUMNS: [&str; 6] =
    ["Organization Id", "Organization Name", "Url", "Owner", "Exception Type", "Error Message"];

/// A line of an organizations file that cannot be used: `orgs.csv:7: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct OrganizationsFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Reads an organizations file: the portal's CSV export (told apart by its header, which names
/// `Organization Name` or `Url` among comma-separated columns), or one name or URL per line with
/// `#` comments. `check` turns a name or URL into the organization's name, or says why it is
/// none. Every bad line is reported, each with its line number; a name listed twice is one of
/// them (the second line names the first).
pub fn parse_organizations(
    text: &str,
    file: &str,
    check: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<OrganizationEntry>, Vec<OrganizationsFileError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let error = |line: usize, message: String| OrganizationsFileError { file: file.to_string(), line, message };
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or_default();
    let header: Vec<String> = first.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
    let is_csv =
        first.contains(',') && header.iter().any(|c| ["organization name", "name", "url"].contains(&c.as_str()));
    let mut errors = Vec::new();
    let mut entries: Vec<(usize, OrganizationEntry)> = Vec::new();
    let mut add =
        |line: usize, raw: &str, mut entry: OrganizationEntry, errors: &mut Vec<OrganizationsFileError>| match check(
            raw,
        ) {
            Err(message) => errors.push(error(line, message)),
            Ok(name) => match entries.iter().find(|(_, e)| e.name.eq_ignore_ascii_case(&name)) {
                Some((first, _)) => {
                    errors.push(error(line, format!("'{name}' is listed twice (first at line {first})")))
                }
                None => {
                    entry.name = name;
                    entries.push((line, entry));
                }
            },
        };
    if is_csv {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.to_ascii_lowercase()).collect(),
            Err(e) => return Err(vec![error(1, format!("not a CSV header: {e}"))]),
        };
        let column = |name: &str| columns.iter().position(|c| c == name);
        // `name`: what `pat2entra orgs -o csv` writes.
        let (name_at, url_at) = (column("organization name").or_else(|| column("name")), column("url"));
        let cell = |record: &csv::StringRecord, at: Option<usize>| {
            at.and_then(|i| record.get(i)).unwrap_or_default().to_string()
        };
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    errors.push(error(line, format!("not a CSV row: {e}")));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.len() != columns.len() {
                errors.push(error(
                    line,
                    format!(
                        "{} fields where the header has {} ({})",
                        record.len(),
                        columns.len(),
                        PORTAL_CSV_COLUMNS.join(", ")
                    ),
                ));
                continue;
            }
            let entry = OrganizationEntry {
                name: String::new(),
                id: cell(&record, column("organization id")),
                url: cell(&record, url_at),
                owner: cell(&record, column("owner")),
                note: [cell(&record, column("exception type")), cell(&record, column("error message"))]
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            };
            let raw = match (cell(&record, name_at), &entry.url) {
                (name, _) if !name.is_empty() => name,
                (_, url) if !url.is_empty() => url.clone(),
                _ => {
                    errors.push(error(line, "no organization name or URL in this row".into()));
                    continue;
                }
            };
            add(line, &raw, entry, &mut errors);
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let raw = line.split('#').next().unwrap_or_default().trim();
            if raw.is_empty() {
                continue;
            }
            let entry = OrganizationEntry {
                name: String::new(),
                id: String::new(),
                url: String::new(),
                owner: String::new(),
                note: String::new(),
            };
            add(i + 1, raw, entry, &mut errors);
        }
    }
    if entries.is_empty() && errors.is_empty() {
        errors.push(error(1, "no organization in it (one name per line, or the portal's CSV export)".into()));
    }
    if errors.is_empty() { Ok(entries.into_iter().map(|(_, e)| e).collect()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Coverage, Inventory, Owner, Token};
    use crate::rules::RuleSet;

    fn org(name: &str, tokens: &[(&str, bool)]) -> ScanRecord {
        let owner = Owner {
            descriptor: format!("aad.{name}").into(),
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
                target_accounts: if *global { [].into() } else { [name.into()].into() },
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

    fn check(raw: &str) -> Result<String, String> {
        let name = raw.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            Ok(name.to_string())
        } else {
            Err(format!("'{raw}' is not a valid organization name"))
        }
    }

    #[test]
    fn organizations_files_are_names_or_the_portal_export_and_bad_lines_are_located() {
        let names = parse_organizations("# ours\ncontoso\n\nfabrikam  # the old one\n", "o.txt", &check).unwrap();
        assert_eq!(names.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["contoso", "fabrikam"]);
        let csv = "\u{feff}Organization Id,Organization Name,Url,Owner,Exception Type,Error Message\n\
                   6affcbef-fe5d-44c6-8a29-439b79aaa118,contoso,https://dev.azure.com/contoso/,ada@contoso.com,,\n\
                   bf83696f-383b-4980-95b5-1f1127640a8a,,https://dev.azure.com/fabrikam/,ben@contoso.com,AccessDenied,No access\n";
        let entries = parse_organizations(csv, "orgs.csv", &check).unwrap();
        assert_eq!(entries[0].id, "6affcbef-fe5d-44c6-8a29-439b79aaa118");
        assert_eq!(entries[0].owner, "ada@contoso.com");
        assert_eq!(entries[1].name, "fabrikam", "the URL when the name is empty");
        assert_eq!(entries[1].note, "AccessDenied: No access");
        let bad = "Organization Id,Organization Name,Url,Owner,Exception Type,Error Message\n\
                   1,contoso,,,,\n\
                   2,con toso,,,,\n\
                   3,contoso,,,,\n\
                   4,northwind\n";
        let errors: Vec<String> =
            parse_organizations(bad, "orgs.csv", &check).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("orgs.csv:3: 'con toso' is not a valid"), "{errors:?}");
        assert_eq!(errors[1], "orgs.csv:4: 'contoso' is listed twice (first at line 2)");
        assert!(errors[2].starts_with("orgs.csv:5: 2 fields where the header has 6"), "{errors:?}");
        assert!(
            parse_organizations("# nothing\n", "e.txt", &check).unwrap_err()[0]
                .to_string()
                .starts_with("e.txt:1: no organization")
        );
    }
}
