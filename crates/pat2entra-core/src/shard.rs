//! Shards of a distributed scan (`scan --shard I/N`) and their merge (`pat2entra merge`).
//!
//! A scan of several organizations is split by organization: part I scans the organizations
//! `orgs_of_shard` gives it (round-robin over the sorted names: parts differ by at most one
//! organization). A scan of one organization is split by owner: every part lists every Graph
//! user (one paged listing, cheap) and reads the organization-wide evidence (User Entitlements,
//! the audit log, policies), but asks Token Admin and the per-owner evidence (membership, SSH
//! keys) only for the owners of its partition (`owner_in_shard`): the expensive part, one or more
//! requests per owner. Owners are assigned by a hash of their descriptor, not by position, so a
//! part's partition does not depend on the order (or the completeness) of the listing it saw.
//!
//! `merge` recombines the parts into what one unsharded scan writes. Organization parts: every
//! organization's record as its part wrote it, put together by `TenantRecord::new`. Owner parts:
//! the organization's inventory is rebuilt exactly (owners in listing order, each owner's tokens
//! from its own part, coverage and evidence lines recounted from the counts each part records in
//! `Coverage::part`) and judged again with the scan's rules, so findings, usage, guidance and
//! the summary are those of an unsharded scan.

use crate::evidence::{MembershipBasis, OwnerTally, Source, SourceCoverage, Status};
use crate::inventory::{
    Coverage, CoverageWarning, Inventory, Owner, OwnerFailure, Token, WarningKind, organization_id_unread_warning,
    other_organizations_warning, resolve_tokens,
};
use crate::record::ScanRecord;
use crate::rules::RuleSet;
use crate::service::{Observations, PagingEnd};
use crate::tenant::{AnyRecord, OrganizationFailure, Shard, ShardBy, TenantRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// The most parts a scan may be split into: more than an Azure Pipelines matrix runs (256 jobs)
/// and far more than one identity's rate limit makes useful.
pub const MAX_SHARDS: u32 = 1000;

/// `--shard I/N`: part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

/// A `--shard` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a shard: expected I/N with 1 <= I <= N <= {MAX_SHARDS} (e.g. 2/3, the second of three parts)")]
pub struct ShardSpecError(pub String);

impl ShardSpec {
    pub fn parse(s: &str) -> Result<Self, ShardSpecError> {
        let bad = || ShardSpecError(s.to_string());
        let (index, count) = s.trim().split_once('/').ok_or_else(bad)?;
        let number = |t: &str| -> Result<u32, ShardSpecError> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse().map_err(|_| bad())
        };
        let (index, count) = (number(index)?, number(count)?);
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::str::FromStr for ShardSpec {
    type Err = ShardSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShardSpec::parse(s)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The stable hash owners are partitioned by: the first 8 bytes (big-endian) of the SHA-256 of
/// the descriptor in ASCII lower case. Fixed by this definition, the same on every machine, in
/// every version and every run (Rust's own hasher is seeded at random per process, and would put
/// an owner in a different part in every job).
pub fn owner_hash(descriptor: &str) -> u64 {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, descriptor.trim().to_ascii_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// The part (1-based) of `count` an owner belongs to.
pub fn shard_of_owner(descriptor: &str, count: u32) -> u32 {
    (owner_hash(descriptor) % u64::from(count.max(1))) as u32 + 1
}

/// Whether the owner is scanned by this part.
pub fn owner_in_shard(descriptor: &str, shard: ShardSpec) -> bool {
    shard_of_owner(descriptor, shard.count) == shard.index
}

/// The organizations part `shard` scans, of `organizations` (sorted by the caller, as the
/// scan sorts them; sorted here again to be sure): round-robin, the i-th name (0-based) to part
/// `i % N + 1`, so parts differ by at most one organization. A part may get none when there are
/// fewer organizations than parts: it then writes an empty part, and `merge` still needs it.
pub fn orgs_of_shard(organizations: &[String], shard: ShardSpec) -> Vec<String> {
    let mut sorted: Vec<&String> = organizations.iter().collect();
    sorted.sort_by_key(|o| o.to_ascii_lowercase());
    sorted.dedup_by_key(|o| o.to_ascii_lowercase());
    sorted
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (*i as u64) % u64::from(shard.count) + 1 == u64::from(shard.index))
        .map(|(_, o)| o.clone())
        .collect()
}

/// One part of a scan split by organization: the organizations it scans (`orgs_of_shard` of
/// every organization asked for, those that could not even be listed included, so that each
/// belongs to exactly one part) and the `shard` its tenant record carries.
pub fn organizations_part(
    shard: ShardSpec,
    organizations: &[String],
    rules: &str,
    as_of: DateTime<Utc>,
    evidence: &BTreeSet<Source>,
) -> (Vec<String>, Shard) {
    let mine = orgs_of_shard(organizations, shard);
    let scan_id = scan_id(organizations, shard.count, rules, as_of, evidence);
    (mine, Shard { index: shard.index, count: shard.count, by: ShardBy::Organizations, scan_id })
}

/// Which owners a scan reads tokens and per-owner evidence for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnerFilter {
    /// Every owner Graph lists (a whole scan).
    #[default]
    All,
    /// Only the owners of one part of an owner-sharded scan.
    Part(ShardSpec),
}

impl OwnerFilter {
    pub fn includes(&self, descriptor: &str) -> bool {
        match self {
            OwnerFilter::All => true,
            OwnerFilter::Part(shard) => owner_in_shard(descriptor, *shard),
        }
    }

    pub fn is_part(&self) -> bool {
        matches!(self, OwnerFilter::Part(_))
    }
}

/// What a scan was asked, the parts of one scan agree on: the organizations (sorted, in lower
/// case), the number of parts, the rules (`sha256:…` of the rules file, or `built-in default`),
/// `--as-of` and the evidence sources. Another scan differs in one of them.
pub fn scan_id(
    organizations: &[String],
    count: u32,
    rules: &str,
    as_of: DateTime<Utc>,
    evidence: &BTreeSet<Source>,
) -> String {
    let mut orgs: Vec<String> = organizations.iter().map(|o| o.trim().to_ascii_lowercase()).collect();
    orgs.sort();
    orgs.dedup();
    let evidence: Vec<&str> = evidence.iter().map(|s| s.as_str()).collect();
    let text = format!(
        "pat2entra sharded scan v1\norganizations: {}\nparts: {count}\nrules: {rules}\nas_of: {}\nevidence: {}\n",
        orgs.join(","),
        as_of.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        evidence.join(",")
    );
    let hex = crate::files::sha256_hex(text.as_bytes());
    format!("sha256:{}", &hex[..16])
}

/// What one part of an owner-sharded scan records beside its coverage, so that `merge` gives
/// the organization's lines exactly as an unsharded scan writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartCoverage {
    /// Owners Graph listed that belong to other parts: not scanned here, and not gaps.
    pub owners_in_other_parts: usize,
    /// The per-owner sources (membership, SSH keys) over this part's owners.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<Source, OwnerTally>,
    /// Where this part's owners' membership came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipBasis>,
    /// The audit log's token events read, and those naming no credential of this part (a part
    /// holds only its owners' credentials: its audit line leaves the count out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditJoin>,
    /// How this part's Token Admin listings ended (the service reading `paging_end`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paging_ends: Vec<(PagingEnd, u64)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditJoin {
    pub token_events: usize,
    pub unmatched: usize,
}

/// A saved part, with its file name for messages.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub record: AnyRecord,
}

/// The scan's rules, for judging merged owner parts again.
#[derive(Debug, Clone, Copy)]
pub struct MergeRules<'a> {
    pub rules: &'a RuleSet,
    /// `sha256:…` of the rules file, or `built-in default` (as `scan` names them).
    pub id: &'a str,
}

/// Why parts cannot be merged. One line each, naming the files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no parts to merge: give every PART.json a sharded scan wrote (`scan --shard I/N`)")]
    NoParts,
    #[error(
        "{name} is not a part of a sharded scan (no shard in it); merge takes what `scan --shard I/N -o json` wrote"
    )]
    NotAPart { name: String },
    #[error(
        "{name} names its part but lacks the part's counts (coverage.part): scan that part again with this pat2entra"
    )]
    NoPartCounts { name: String },
    #[error("{name} and {other} are parts of different scans ({why}); merge the parts of one scan")]
    DifferentScans { name: String, other: String, why: String },
    #[error("{name} and {other} are both part {index}/{count}; give each part once")]
    Duplicate { name: String, other: String, index: u32, count: u32 },
    #[error("{} of {count} missing ({} given): merge needs every part; scan the missing one{} and merge again", missing_list(.missing), .count - .missing.len() as u32, if .missing.len() == 1 { "" } else { "s" })]
    Missing { missing: Vec<u32>, count: u32 },
    #[error(
        "{name}: the parts were scanned with other rules, organization, --as-of or --evidence than this merge was given (scan id {found}, expected {expected}); pass merge the scan's --rules file"
    )]
    Rules { name: String, found: String, expected: String },
    #[error("{name} is redacted: merge the unredacted parts, then redact the result (`report ALL.json --redact`)")]
    Redacted { name: String },
    #[error(
        "{name} holds tokens of owner {owner}, who belongs to part {belongs}: not a part pat2entra wrote for this scan"
    )]
    Foreign { name: String, owner: String, belongs: u32 },
    #[error("{name} and {other} both hold organization {organization}; each organization belongs to one part")]
    DuplicateOrganization { name: String, other: String, organization: String },
}

fn missing_list(missing: &[u32]) -> String {
    let names: Vec<String> = missing.iter().map(u32::to_string).collect();
    if names.len() == 1 { format!("part {}", names[0]) } else { format!("parts {}", names.join(", ")) }
}

fn shard_of(record: &AnyRecord) -> Option<&Shard> {
    match record {
        AnyRecord::Organization(r) => r.shard.as_ref(),
        AnyRecord::Tenant(t) => t.shard.as_ref(),
    }
}

fn kind_of(record: &AnyRecord) -> &'static str {
    match record {
        AnyRecord::Organization(_) => "one organization's record",
        AnyRecord::Tenant(_) => "a tenant record",
    }
}

/// Recombines the parts of one sharded scan into the record an unsharded scan writes: a
/// single-organization record for owner parts, a tenant record for organization parts. Refuses
/// parts of different scans, a part given twice, a missing part and a record that is no part.
/// Pure: the same parts give the same record.
pub fn merge(parts: Vec<Part>, rules: MergeRules<'_>) -> Result<AnyRecord, MergeError> {
    let Some(first) = parts.first() else {
        return Err(MergeError::NoParts);
    };
    let lead = shard_of(&first.record).ok_or_else(|| MergeError::NotAPart { name: first.name.clone() })?.clone();
    let mut by_index: BTreeMap<u32, &Part> = BTreeMap::new();
    for part in &parts {
        let shard = shard_of(&part.record).ok_or_else(|| MergeError::NotAPart { name: part.name.clone() })?;
        let different =
            |why: String| MergeError::DifferentScans { name: part.name.clone(), other: first.name.clone(), why };
        if shard.scan_id != lead.scan_id {
            return Err(different(format!("scan id {} and {}", shard.scan_id, lead.scan_id)));
        }
        if shard.count != lead.count || shard.by != lead.by {
            return Err(different(format!(
                "{} parts by {:?} and {} by {:?}",
                shard.count, shard.by, lead.count, lead.by
            )));
        }
        if std::mem::discriminant(&part.record) != std::mem::discriminant(&first.record) && lead.by == ShardBy::Owners {
            return Err(different(format!("{} and {}", kind_of(&part.record), kind_of(&first.record))));
        }
        if shard.index == 0 || shard.index > shard.count {
            return Err(MergeError::NotAPart { name: part.name.clone() });
        }
        if let Some(other) = by_index.insert(shard.index, part) {
            return Err(MergeError::Duplicate {
                name: part.name.clone(),
                other: other.name.clone(),
                index: shard.index,
                count: shard.count,
            });
        }
    }
    let missing: Vec<u32> = (1..=lead.count).filter(|i| !by_index.contains_key(i)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count: lead.count });
    }
    let ordered: Vec<&Part> = by_index.into_values().collect();
    match lead.by {
        ShardBy::Organizations => merge_organizations(&ordered).map(|t| AnyRecord::Tenant(Box::new(t))),
        ShardBy::Owners => {
            let records: Vec<(&str, &ScanRecord)> = ordered
                .iter()
                .map(|p| match &p.record {
                    AnyRecord::Organization(r) => (p.name.as_str(), r.as_ref()),
                    AnyRecord::Tenant(_) => unreachable!("kinds checked above"),
                })
                .collect();
            merge_owners(&records, lead.count, rules).map(|r| AnyRecord::Organization(Box::new(r)))
        }
    }
}

/// Organization parts: every organization's record as its part wrote it, and every failed
/// organization, in one tenant record.
fn merge_organizations(parts: &[&Part]) -> Result<TenantRecord, MergeError> {
    let mut organizations: Vec<ScanRecord> = Vec::new();
    let mut failed: Vec<OrganizationFailure> = Vec::new();
    let mut holder: HashMap<String, &str> = HashMap::new();
    let as_of = match &parts[0].record {
        AnyRecord::Organization(r) => r.as_of,
        AnyRecord::Tenant(t) => t.as_of,
    };
    for part in parts {
        let (records, failures): (Vec<ScanRecord>, Vec<OrganizationFailure>) = match &part.record {
            AnyRecord::Organization(r) => (vec![r.as_ref().clone()], Vec::new()),
            AnyRecord::Tenant(t) => (t.organizations.clone(), t.failed.clone()),
        };
        let names =
            records.iter().map(|r| r.organization.clone()).chain(failures.iter().map(|f| f.organization.clone()));
        for name in names {
            if let Some(other) = holder.insert(name.to_ascii_lowercase(), &part.name) {
                return Err(MergeError::DuplicateOrganization {
                    name: part.name.clone(),
                    other: other.to_string(),
                    organization: name,
                });
            }
        }
        organizations.extend(records.into_iter().map(|mut r| {
            r.shard = None;
            r
        }));
        failed.extend(failures);
    }
    Ok(TenantRecord::new(organizations, failed, as_of, None))
}

/// How bad a source's coverage is, for choosing among parts' readings of one organization-wide
/// source (they normally agree; when they do not, the worst is the honest line).
fn badness(c: &SourceCoverage) -> u8 {
    match c.status {
        Status::Complete => 0,
        Status::Partial => 1,
        Status::Unavailable => 2,
    }
}

/// Owner parts of one organization: the inventory an unsharded scan would have built, judged
/// again with the scan's rules.
fn merge_owners(parts: &[(&str, &ScanRecord)], count: u32, rules: MergeRules<'_>) -> Result<ScanRecord, MergeError> {
    let (first_name, first) = parts[0];
    for (name, record) in parts {
        if record.redaction.is_some() {
            return Err(MergeError::Redacted { name: name.to_string() });
        }
        if record.coverage.part.is_none() {
            return Err(MergeError::NoPartCounts { name: name.to_string() });
        }
        if !record.organization.eq_ignore_ascii_case(&first.organization) || record.as_of != first.as_of {
            return Err(MergeError::DifferentScans {
                name: name.to_string(),
                other: first_name.to_string(),
                why: format!(
                    "{} as of {} and {} as of {}",
                    record.organization, record.as_of, first.organization, first.as_of
                ),
            });
        }
    }
    let asked: BTreeSet<Source> = parts.iter().flat_map(|(_, r)| r.evidence.sources.keys().copied()).collect();
    let expected = scan_id(std::slice::from_ref(&first.organization), count, rules.id, first.as_of, &asked);
    let found = &first.shard.as_ref().expect("checked by merge").scan_id;
    if *found != expected {
        return Err(MergeError::Rules { name: first_name.to_string(), found: found.clone(), expected });
    }
    let as_of = first.as_of;
    let part_of = |descriptor: &str| shard_of_owner(descriptor, count) as usize - 1;

    // Owners in listing order (every part lists them all; one listed by some parts only, when
    // the directory changed between parts, comes after), each from its own part.
    let mut order: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (_, record) in parts {
        for owner in &record.owners {
            if seen.insert(owner.descriptor.as_str()) {
                order.push(owner.descriptor.as_str());
            }
        }
    }
    let mut owners: Vec<Owner> = Vec::with_capacity(order.len());
    let mut unread: Vec<OwnerFailure> = Vec::new();
    for descriptor in &order {
        let k = part_of(descriptor);
        match parts[k].1.owner(descriptor) {
            Some(owner) => owners.push(owner.clone()),
            None => {
                let (lister, owner) = parts
                    .iter()
                    .find_map(|(name, r)| r.owner(descriptor).map(|o| (*name, o)))
                    .expect("listed by some part");
                owners.push(owner.clone());
                unread.push(OwnerFailure {
                    descriptor: descriptor.to_string(),
                    error: format!(
                        "listed by {lister} but not by part {}/{count} ({}), whose Graph listing came before or after the change: its tokens were not read; scan that part again and merge",
                        k + 1,
                        parts[k].0
                    ),
                });
            }
        }
    }
    let position: HashMap<&str, usize> = owners.iter().enumerate().map(|(i, o)| (o.descriptor.as_str(), i)).collect();

    // Each owner's tokens, from its own part, in the order that part listed them.
    let mut by_owner: HashMap<&str, Vec<&Token>> = HashMap::new();
    for (k, (name, record)) in parts.iter().enumerate() {
        for token in &record.tokens {
            let belongs = part_of(&token.owner);
            if belongs != k {
                return Err(MergeError::Foreign {
                    name: name.to_string(),
                    owner: token.owner.to_string(),
                    belongs: belongs as u32 + 1,
                });
            }
            by_owner.entry(token.owner.as_str()).or_default().push(token);
        }
    }
    let mut tokens: Vec<Token> = Vec::with_capacity(by_owner.values().map(Vec::len).sum());
    for owner in &owners {
        if let Some(listed) = by_owner.remove(owner.descriptor.as_str()) {
            tokens.extend(listed.into_iter().cloned());
        }
    }

    // Coverage: each part scanned its own owners; gaps in listing order.
    let owners_scanned = parts.iter().map(|(_, r)| r.coverage.owners_scanned).sum();
    let mut failed: Vec<OwnerFailure> =
        parts.iter().flat_map(|(_, r)| r.coverage.owners_failed.iter().cloned()).chain(unread).collect();
    failed.sort_by_key(|f| position.get(f.descriptor.as_str()).copied().unwrap_or(usize::MAX));
    let mut coverage = Coverage::new(owners.len(), owners_scanned, failed);

    // Warnings in the order a whole scan gives them: owners listed twice, then per token
    // (listed twice, one id under several owners, unreadable), then the service's.
    let mut owner_warnings: Vec<(usize, CoverageWarning)> = Vec::new();
    let mut twice: HashMap<(String, String), CoverageWarning> = HashMap::new();
    for (k, (_, record)) in parts.iter().enumerate() {
        for w in &record.coverage.warnings {
            match w.kind {
                WarningKind::DuplicateOwner => {
                    let at = w.ids.first().and_then(|d| position.get(d.as_str())).copied().unwrap_or(usize::MAX);
                    if !owner_warnings.iter().any(|(_, seen)| seen == w) {
                        owner_warnings.push((at, w.clone()));
                    }
                }
                WarningKind::DuplicateToken => {
                    if let [id, owner, ..] = w.ids.as_slice()
                        && part_of(owner) == k
                    {
                        twice.insert((owner.clone(), id.clone()), w.clone());
                    }
                }
                // Worked out again over every part's tokens below.
                WarningKind::SharedAuthorizationId | WarningKind::UnreadableToken | WarningKind::OtherOrganizations => {
                }
            }
        }
    }
    owner_warnings.sort_by_key(|(at, _)| *at);
    let (tokens, recomputed) = resolve_tokens(tokens);
    let mut at_token: HashMap<(&str, &str), usize> = HashMap::new();
    let mut first_with_id: HashMap<&str, usize> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        at_token.entry((t.owner.as_str(), t.authorization_id.as_str())).or_insert(i);
        first_with_id.entry(t.authorization_id.as_str()).or_insert(i);
    }
    let mut token_warnings: Vec<(usize, u8, CoverageWarning)> = Vec::new();
    for ((owner, id), w) in twice {
        let at = at_token.get(&(owner.as_str(), id.as_str())).copied().unwrap_or(usize::MAX);
        token_warnings.push((at, 0, w));
    }
    for w in recomputed {
        let (at, rank) = match (w.kind, w.ids.as_slice()) {
            (WarningKind::SharedAuthorizationId, [id, ..]) => (first_with_id.get(id.as_str()).copied(), 1),
            (WarningKind::UnreadableToken, [id, owner, ..]) => {
                (at_token.get(&(owner.as_str(), id.as_str())).copied(), 2)
            }
            _ => (None, 3),
        };
        token_warnings.push((at.unwrap_or(usize::MAX), rank, w));
    }
    token_warnings.sort_by_key(|(at, rank, _)| (*at, *rank));

    // The service: what was known before the scan, and what every part's tokens show.
    let mut service = first.service.without_inferred();
    service.organization_id = parts.iter().find_map(|(_, r)| r.service.organization_id.clone());
    let mut ends: BTreeMap<PagingEnd, u64> = BTreeMap::new();
    for (_, record) in parts {
        for (end, n) in record.coverage.part.iter().flat_map(|p| &p.paging_ends) {
            *ends.entry(*end).or_default() += n;
        }
    }
    let seen = Observations::of(&tokens, as_of, ends.into_iter().collect());
    service.infer(&seen);
    let mut service_warnings = Vec::new();
    if seen.filled_target_accounts > 0 && service.organization_id.is_none() {
        service_warnings.push(organization_id_unread_warning());
    }
    if let Some(id) = service.organization_id.as_deref() {
        service_warnings.extend(other_organizations_warning(&tokens, id));
    }
    coverage.warnings = owner_warnings
        .into_iter()
        .map(|(_, w)| w)
        .chain(token_warnings.into_iter().map(|(_, _, w)| w))
        .chain(service_warnings)
        .collect();

    // Evidence: organization-wide sources as the parts read them (the worst reading when they
    // differ), per-owner sources added up over the parts' owners.
    let mut evidence = crate::evidence::Evidence { audit_window: first.evidence.audit_window, ..Default::default() };
    for source in &asked {
        let readings = parts.iter().filter_map(|(_, r)| r.evidence.sources.get(source).map(|c| (c, r)));
        match source {
            Source::Entitlements | Source::Audit | Source::Policies => {
                let mut worst: Option<(&SourceCoverage, &ScanRecord)> = None;
                for (c, r) in readings {
                    if worst.is_none_or(|(w, _)| badness(c) > badness(w)) {
                        worst = Some((c, r));
                    }
                }
                let Some((c, r)) = worst else { continue };
                let mut c = c.clone();
                if *source == Source::Audit {
                    let joins: Vec<AuditJoin> =
                        parts.iter().filter_map(|(_, r)| r.coverage.part.as_ref().and_then(|p| p.audit)).collect();
                    // Each token event names the credentials of one part at most: those no part
                    // matched are the events an unsharded scan matches to nothing.
                    let events = joins.iter().map(|j| j.token_events).max().unwrap_or(0);
                    let matched: usize = joins.iter().map(|j| j.token_events.saturating_sub(j.unmatched)).sum();
                    crate::evidence::note_unmatched(&mut c, events.saturating_sub(matched));
                }
                if *source == Source::Policies {
                    evidence.policies = r.evidence.policies.clone();
                }
                evidence.sources.insert(*source, c);
            }
            Source::Membership | Source::Ssh => {
                let mut tally = OwnerTally::default();
                let mut basis = MembershipBasis::default();
                for (_, record) in parts {
                    let Some(part) = &record.coverage.part else { continue };
                    if let Some(t) = part.sources.get(source) {
                        tally.add(t);
                    }
                    if let Some(b) = &part.membership {
                        basis.add(b);
                    }
                }
                let mut c = tally.coverage(owners.len());
                if *source == Source::Membership {
                    basis.entitlements = evidence.sources.get(&Source::Entitlements).map(|c| c.status);
                    c = basis.note(c);
                }
                evidence.sources.insert(*source, c);
            }
        }
    }
    if asked.contains(&Source::Policies) && evidence.policies.is_none() {
        evidence.policies = parts.iter().find_map(|(_, r)| r.evidence.policies.clone());
    }

    let inventory = Inventory { organization: first.organization.clone(), owners, tokens, coverage, evidence, service };
    Ok(ScanRecord::judge(inventory, rules.rules, as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_values_parse_or_say_what_is_expected() {
        assert_eq!(ShardSpec::parse("2/3"), Ok(ShardSpec { index: 2, count: 3 }));
        assert_eq!(ShardSpec::parse(" 1 / 1 "), Ok(ShardSpec { index: 1, count: 1 }));
        assert_eq!("1000/1000".parse::<ShardSpec>().map(|s| s.to_string()), Ok("1000/1000".into()));
        for bad in ["0/3", "4/3", "3", "a/b", "1/1001", "-1/3", "+1/3", "1/", "/3", "1/3/5", ""] {
            let e = ShardSpec::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("'{bad}' is not a shard: expected I/N with 1 <= I <= N <= 1000")), "{e}");
        }
    }

    /// The partition is defined by SHA-256, not by this code: these values come from Python's
    /// `int.from_bytes(hashlib.sha256(d.lower().encode()).digest()[:8], "big")`.
    #[test]
    fn the_partition_is_a_fixed_function_of_the_descriptor() {
        let vectors: [(&str, u64, [u32; 4]); 4] = [
            ("aad.alice", 0xae36_b218_9568_8a0b, [2, 2, 2, 12]),
            ("msa.Bob", 0x6cdf_b927_bf73_31a8, [1, 2, 7, 9]),
            ("aad.ZjU3YmU5OTgtZDk2Ny03ZmQ0LWE2ZDgtNjRiNGVhNzIwMmU1", 0x651e_7585_925b_2a9d, [2, 2, 6, 14]),
            ("svc.AbC", 0x5446_7bd2_669e_77a3, [2, 1, 2, 4]),
        ];
        for (descriptor, hash, parts) in vectors {
            assert_eq!(owner_hash(descriptor), hash, "{descriptor}");
            for (count, part) in [2, 3, 7, 16].into_iter().zip(parts) {
                assert_eq!(shard_of_owner(descriptor, count), part, "{descriptor} of {count}");
                assert!(owner_in_shard(descriptor, ShardSpec { index: part, count }));
            }
        }
        // Case and surrounding space do not move an owner.
        assert_eq!(owner_hash("AAD.ALICE "), owner_hash("aad.alice"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Every owner is in exactly one part, and parts of many owners are about the same size.
        #[test]
        fn parts_cover_every_owner_once_and_are_balanced(seed in 0u64..1_000_000, count in 1u32..=16) {
            let owners: Vec<String> = (0..2_000u64).map(|i| format!("aad.{:x}", seed.wrapping_mul(7919) ^ (i * 2_654_435_761))).collect();
            let mut sizes = vec![0usize; count as usize];
            for owner in &owners {
                let homes: Vec<u32> = (1..=count).filter(|i| owner_in_shard(owner, ShardSpec { index: *i, count })).collect();
                proptest::prop_assert_eq!(homes.len(), 1);
                sizes[homes[0] as usize - 1] += 1;
            }
            let mean = owners.len() as f64 / f64::from(count);
            for size in sizes {
                // Binomial spread: far inside 6 standard deviations for any fair split.
                let sd = (mean * (1.0 - 1.0 / f64::from(count))).sqrt();
                proptest::prop_assert!((size as f64 - mean).abs() <= 6.0 * sd + 1.0, "{size} vs {mean}");
            }
        }
    }

    #[test]
    fn organizations_go_round_robin_over_the_sorted_names() {
        let orgs: Vec<String> = ["delta", "alpha", "Charlie", "bravo", "echo"].iter().map(|s| s.to_string()).collect();
        let part = |i| orgs_of_shard(&orgs, ShardSpec { index: i, count: 2 });
        assert_eq!(part(1), ["alpha", "Charlie", "echo"]);
        assert_eq!(part(2), ["bravo", "delta"]);
        let many = ShardSpec { index: 7, count: 7 };
        assert!(orgs_of_shard(&orgs, many).is_empty(), "more parts than organizations: an empty part");
        // The parts of one scan: every organization once, one scan id.
        let as_of = "2026-11-26T00:00:00Z".parse().unwrap();
        let evidence = BTreeSet::new();
        let parts: Vec<(Vec<String>, Shard)> = (1..=3)
            .map(|index| organizations_part(ShardSpec { index, count: 3 }, &orgs, "built-in default", as_of, &evidence))
            .collect();
        let mut all: Vec<String> = parts.iter().flat_map(|(mine, _)| mine.clone()).collect();
        all.sort_by_key(|o| o.to_ascii_lowercase());
        assert_eq!(all, ["alpha", "bravo", "Charlie", "delta", "echo"]);
        assert!(parts.iter().all(|(mine, _)| (1..=2).contains(&mine.len())));
        assert!(parts.iter().all(|(_, s)| s.scan_id == parts[0].1.scan_id && s.by == ShardBy::Organizations));
    }

    #[test]
    fn parts_of_one_scan_share_an_id_and_another_scan_differs() {
        let as_of: DateTime<Utc> = "2026-11-26T00:00:00Z".parse().unwrap();
        let evidence: BTreeSet<Source> = Source::DEFAULT.into_iter().collect();
        let id = |orgs: &[&str], n, rules: &str, at: DateTime<Utc>, ev: &BTreeSet<Source>| {
            scan_id(&orgs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), n, rules, at, ev)
        };
        let base = id(&["b", "a"], 3, "built-in default", as_of, &evidence);
        assert!(base.starts_with("sha256:") && base.len() == 23, "{base}");
        assert_eq!(base, id(&["A", "b"], 3, "built-in default", as_of, &evidence), "order and case do not matter");
        for other in [
            id(&["a"], 3, "built-in default", as_of, &evidence),
            id(&["a", "b"], 4, "built-in default", as_of, &evidence),
            id(&["a", "b"], 3, "sha256:00", as_of, &evidence),
            id(&["a", "b"], 3, "built-in default", as_of + chrono::Duration::seconds(1), &evidence),
            id(&["a", "b"], 3, "built-in default", as_of, &BTreeSet::new()),
        ] {
            assert_ne!(base, other);
        }
    }

    fn org(name: &str, ids: &[(&str, bool)], shard: Option<Shard>) -> ScanRecord {
        use crate::inventory::Coverage;
        let owner = Owner {
            descriptor: format!("aad.{name}").into(),
            principal_name: "ada@contoso.com".into(),
            display_name: "Ada".into(),
            origin: "aad".into(),
            ..Default::default()
        };
        let tokens = ids
            .iter()
            .map(|(id, global)| Token {
                authorization_id: (*id).into(),
                owner: owner.descriptor.clone(),
                display_name: format!("token {id}"),
                scopes: vec!["app_token".into()],
                all_organizations: *global,
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
        let mut record =
            ScanRecord::judge(inventory, &RuleSet::default_rules(), "2026-11-26T00:00:00Z".parse().unwrap());
        record.shard = shard;
        record
    }

    fn tenant_part(index: u32, orgs: Vec<ScanRecord>, failed: Vec<OrganizationFailure>, scan: &str) -> Part {
        let shard = Shard { index, count: 2, by: ShardBy::Organizations, scan_id: scan.into() };
        let as_of = "2026-11-26T00:00:00Z".parse().unwrap();
        Part {
            name: format!("part{index}.json"),
            record: AnyRecord::Tenant(Box::new(TenantRecord::new(orgs, failed, as_of, Some(shard)))),
        }
    }

    #[test]
    fn organization_parts_merge_into_the_tenant_record_of_all_organizations() {
        let rules = RuleSet::default_rules();
        let rules = MergeRules { rules: &rules, id: "built-in default" };
        let (alpha, beta, gamma) = (
            org("alpha", &[("g", true), ("a1", false)], None),
            org("beta", &[("g", true)], None),
            org("gamma", &[("c1", false)], None),
        );
        let lost = OrganizationFailure { organization: "delta".into(), reason: "HTTP 401".into() };
        let parts = vec![
            tenant_part(2, vec![beta.clone()], vec![lost.clone()], "sha256:1"),
            tenant_part(1, vec![gamma.clone(), alpha.clone()], vec![], "sha256:1"),
        ];
        let AnyRecord::Tenant(merged) = merge(parts.clone(), rules).unwrap() else { panic!("a tenant record") };
        let whole = TenantRecord::new(vec![alpha, beta, gamma], vec![lost], merged.as_of, None);
        assert_eq!(*merged, whole);
        assert_eq!(merged.shared.len(), 1, "the global PAT of two parts is one credential");

        // One part alone, one given twice, one of another scan, an organization in two parts.
        let e = merge(parts[..1].to_vec(), rules).unwrap_err();
        assert_eq!(e, MergeError::Missing { missing: vec![1], count: 2 });
        assert!(e.to_string().starts_with("part 1 of 2 missing (1 given): merge needs every part"), "{e}");
        let e = merge(vec![parts[0].clone(), parts[0].clone()], rules).unwrap_err().to_string();
        assert!(e.contains("are both part 2/2"), "{e}");
        let other = tenant_part(1, vec![org("gamma", &[], None)], vec![], "sha256:2");
        let e = merge(vec![parts[0].clone(), other], rules).unwrap_err().to_string();
        assert!(e.contains("are parts of different scans (scan id sha256:2 and sha256:1)"), "{e}");
        let twice = tenant_part(1, vec![org("beta", &[], None)], vec![], "sha256:1");
        let e = merge(vec![parts[0].clone(), twice], rules).unwrap_err().to_string();
        assert!(e.contains("both hold organization beta"), "{e}");
        let whole = Part { name: "all.json".into(), record: AnyRecord::Organization(Box::new(org("x", &[], None))) };
        let e = merge(vec![whole], rules).unwrap_err().to_string();
        assert!(e.starts_with("all.json is not a part of a sharded scan"), "{e}");
        assert_eq!(merge(vec![], rules).unwrap_err(), MergeError::NoParts);
    }

    /// What the scan builds for the owners `filter` holds, with the scan's own pure steps
    /// (`resolve_owners`, `resolve_tokens`, the service readings and their warnings): the whole
    /// organization, or one part of it.
    fn assemble(raw_owners: &[Owner], raw_tokens: &[Token], filter: OwnerFilter, audit: AuditJoin) -> ScanRecord {
        use crate::evidence::Evidence;
        use crate::inventory::resolve_owners;
        let as_of: DateTime<Utc> = "2026-11-26T00:00:00Z".parse().unwrap();
        let (owners, mut warnings) = resolve_owners(raw_owners.to_vec());
        let mine: Vec<&Owner> = owners.iter().filter(|o| filter.includes(&o.descriptor)).collect();
        let listed: Vec<Token> =
            mine.iter().flat_map(|o| raw_tokens.iter().filter(|t| t.owner == o.descriptor).cloned()).collect();
        let (tokens, token_warnings) = resolve_tokens(listed);
        warnings.extend(token_warnings);
        let mut service = crate::service::ServiceBehaviour::default();
        let seen = Observations::of(&tokens, as_of, vec![(PagingEnd::Empty, mine.len() as u64)]);
        service.infer(&seen);
        if seen.filled_target_accounts > 0 {
            service.organization_id = Some("0rg-1d".into());
        }
        if let Some(id) = service.organization_id.as_deref() {
            warnings.extend(other_organizations_warning(&tokens, id));
        }
        // SSH keys: the owner "aad.c" could not be read.
        let failed_ssh = mine.iter().filter(|o| o.descriptor == "aad.c").count();
        let ssh = OwnerTally {
            read: mine.len() - failed_ssh,
            failed: failed_ssh,
            first_error: (failed_ssh > 0).then(|| "HTTP 500".to_string()),
            ..Default::default()
        };
        let mut evidence = Evidence::default();
        evidence.sources.insert(Source::Ssh, ssh.coverage(mine.len()));
        let mut audit_coverage = SourceCoverage::complete();
        let part = filter.is_part().then(|| PartCoverage {
            owners_in_other_parts: owners.len() - mine.len(),
            sources: [(Source::Ssh, ssh.clone())].into_iter().collect(),
            membership: None,
            audit: Some(audit),
            paging_ends: seen.paging_ends.clone(),
        });
        if part.is_none() {
            crate::evidence::note_unmatched(&mut audit_coverage, audit.unmatched);
        }
        evidence.sources.insert(Source::Audit, audit_coverage);
        let scanned = mine.len();
        let mut coverage = match part {
            Some(part) => Coverage::of_part(owners.len(), scanned, vec![], part),
            None => Coverage::new(owners.len(), scanned, vec![]),
        };
        coverage.warnings = warnings;
        let inventory = Inventory { organization: "contoso".into(), owners, tokens, coverage, evidence, service };
        let mut record = ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of);
        if let OwnerFilter::Part(spec) = filter {
            let evidence: BTreeSet<Source> = [Source::Audit, Source::Ssh].into_iter().collect();
            let scan_id = scan_id(&["contoso".to_string()], spec.count, "built-in default", as_of, &evidence);
            record.shard = Some(Shard { index: spec.index, count: spec.count, by: ShardBy::Owners, scan_id });
        }
        record
    }

    #[test]
    fn owner_parts_merge_into_the_whole_with_every_warning_in_its_place() {
        let person = |d: &str| Owner {
            descriptor: d.into(),
            principal_name: format!("{d}@contoso.com").into(),
            ..Default::default()
        };
        let descriptors = ["aad.a", "aad.b", "aad.c", "aad.d", "aad.e", "aad.f", "aad.g", "aad.h"];
        let mut raw_owners: Vec<Owner> = descriptors.iter().map(|d| person(d)).collect();
        raw_owners.push(person("aad.e")); // Graph listed it twice
        let part_of = |d: &str| shard_of_owner(d, 2);
        assert!(descriptors.iter().any(|d| part_of(d) == 1) && descriptors.iter().any(|d| part_of(d) == 2));
        let token = |owner: &str, id: &str| Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: format!("{owner} {id}"),
            scopes: vec!["vso.code".into()],
            is_valid: true,
            target_accounts: ["0rg-1d".into()].into(),
            ..Default::default()
        };
        // An id shared by owners of both parts.
        let (one, two) = (
            descriptors.iter().find(|d| part_of(d) == 1).unwrap(),
            descriptors.iter().find(|d| part_of(d) == 2).unwrap(),
        );
        let mut raw_tokens: Vec<Token> = descriptors.iter().map(|d| token(d, &format!("{d}-1"))).collect();
        raw_tokens.push(token(one, "shared"));
        raw_tokens.push(token(two, "shared"));
        // Two versions of one token, the second worse for risk.
        let mut worse = token("aad.b", "aad.b-1");
        worse.scopes = vec!["app_token".into()];
        raw_tokens.push(worse);
        // Unreadable, limited to another organization, global.
        raw_tokens.push(Token { unreadable: Some("validTo: bad".into()), ..token("aad.d", "aad.d-2") });
        raw_tokens.push(Token { target_accounts: ["other".into()].into(), ..token("aad.f", "aad.f-2") });
        raw_tokens.push(Token { target_accounts: [].into(), all_organizations: true, ..token("aad.h", "aad.h-2") });

        let whole = assemble(&raw_owners, &raw_tokens, OwnerFilter::All, AuditJoin { token_events: 20, unmatched: 3 });
        let kinds: HashSet<WarningKind> = whole.coverage.warnings.iter().map(|w| w.kind).collect();
        assert_eq!(kinds.len(), 5, "every kind of warning is exercised: {:?}", whole.coverage.warnings);
        assert!(whole.evidence.sources[&Source::Audit].reason.as_deref().unwrap().starts_with("3 token events"));
        // Of the 17 events the whole matched, part 1 matched 8 and part 2 the other 9.
        let parts: Vec<Part> = [(1, 12), (2, 11)]
            .into_iter()
            .map(|(index, unmatched)| {
                let filter = OwnerFilter::Part(ShardSpec { index, count: 2 });
                let record = assemble(&raw_owners, &raw_tokens, filter, AuditJoin { token_events: 20, unmatched });
                assert!(record.coverage.owners_in_other_parts() > 0);
                Part { name: format!("part{index}.json"), record: AnyRecord::Organization(Box::new(record)) }
            })
            .collect();
        let rules = RuleSet::default_rules();
        let rules = MergeRules { rules: &rules, id: "built-in default" };
        let AnyRecord::Organization(merged) = merge(parts.clone(), rules).unwrap() else { panic!("one organization") };
        assert_eq!(merged.coverage, whole.coverage);
        assert_eq!(merged.evidence, whole.evidence);
        assert_eq!(merged.service, whole.service);
        assert_eq!(*merged, whole);

        // A part's token outside its partition: not a part pat2entra wrote.
        let mut foreign = parts.clone();
        if let AnyRecord::Organization(r) = &mut foreign[0].record {
            r.tokens.push(token(two, "stray"));
        }
        let e = merge(foreign, rules).unwrap_err().to_string();
        assert!(e.contains(&format!("part1.json holds tokens of owner {two}, who belongs to part 2")), "{e}");
    }
}
