//! Scan-to-scan comparison: which findings are new, resolved or unchanged, which tokens were
//! created, revoked or expired in between, and the headline numbers of both scans. Pure.

use crate::evidence::{CredentialKind, EventKind};
use crate::finding::{Finding, Severity};
use crate::inventory::TokenState;
use crate::record::ScanRecord;
use crate::text::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The note of a new finding whose owner the old scan could not read.
pub const NOT_READ_BEFORE: &str = "owner not read in the old scan";

/// Version of the diff's JSON shape (2: credential `kind`, `leaked` and `owner-not-member`
/// token changes, each scan's `evidence`).
pub const DIFF_SCHEMA_VERSION: u32 = 2;

/// The owner label of an organization's finding (a tenant policy).
pub const ORGANIZATION_LABEL: &str = "(organization)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    Resolved,
    Unchanged,
}

/// A finding and what became of it. Findings are matched by (rule, token); suppressed findings
/// count as absent, so one whose exception expired shows up as new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChange {
    pub change: Change,
    pub rule: String,
    pub severity: Severity,
    pub authorization_id: Text,
    pub owner: Text,
    pub owner_label: String,
    pub token_name: String,
    /// The newer message (the older one for resolved findings).
    pub message: Text,
    /// Why, when it is not obvious (e.g. "exception expired", "token revoked").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenChange {
    pub authorization_id: Text,
    pub owner_label: String,
    pub token_name: String,
    /// created, revoked, expired, missing (in the old scan, not in the new one), first-read (its
    /// owner was not read by the old scan), not-read (its owner was not read by the new one),
    /// leaked (a leak event the old scan did not have) or owner-not-member (its owner left the
    /// organization in between; active credentials only).
    pub change: String,
    /// A PAT or an SSH key.
    #[serde(default)]
    pub kind: CredentialKind,
}

/// One evidence source's coverage in one scan (`evidence.audit: unavailable (…)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceNote {
    /// `old` or `new`.
    pub scan: String,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headline {
    pub old: i64,
    pub new: i64,
    pub delta: i64,
}

impl Headline {
    fn of(old: usize, new: usize) -> Self {
        Headline { old: old as i64, new: new as i64, delta: new as i64 - old as i64 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanDiff {
    pub schema_version: u32,
    pub organization: String,
    pub old_as_of: DateTime<Utc>,
    pub new_as_of: DateTime<Utc>,
    /// Both scans complete (a gap in either makes "resolved" unreliable for its owners).
    pub both_complete: bool,
    /// Headline numbers: active tokens, flagged tokens, open findings per severity, ...
    pub trend: BTreeMap<String, Headline>,
    pub findings: Vec<FindingChange>,
    pub tokens: Vec<TokenChange>,
    /// Owners either scan could not read: their findings may show as resolved or new.
    pub coverage_gaps: Vec<GapNote>,
    /// Each scan's evidence coverage: a finding of a source one scan did not read may show as
    /// new or resolved.
    #[serde(default)]
    pub evidence: Vec<EvidenceNote>,
    /// The audit log's limits, when either scan asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_caveat: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapNote {
    /// `old` or `new`.
    pub scan: String,
    pub descriptor: String,
    pub owner_label: String,
    pub error: String,
}

impl ScanDiff {
    pub fn count(&self, change: Change) -> usize {
        self.findings.iter().filter(|f| f.change == change).count()
    }

    pub fn new_findings(&self) -> impl Iterator<Item = &FindingChange> {
        self.findings.iter().filter(|f| f.change == Change::New)
    }

    /// New findings that really appeared in between: those of owners the old scan could not
    /// read are not counted (they may be old). What `--fail-on` judges.
    pub fn appeared(&self) -> impl Iterator<Item = &FindingChange> {
        self.new_findings().filter(|f| f.note.as_deref() != Some(NOT_READ_BEFORE))
    }
}

fn token_name(record: &ScanRecord, owner: &str, id: &str) -> String {
    record.token(owner, id).map(|t| t.display_name.clone()).unwrap_or_default()
}

/// Compares two scans of the same organization.
pub fn diff(old: &ScanRecord, new: &ScanRecord) -> ScanDiff {
    // A token is (owner, id): two owners sharing an id never trade findings.
    type Key<'a> = (&'a str, &'a str, &'a str);
    fn key(f: &Finding) -> Key<'_> {
        (f.rule.as_ref(), f.owner.as_str(), f.authorization_id.as_str())
    }
    /// What a record's findings of one key are: whether one is open, and whether the last one
    /// listed is suppressed. One map per record (it was four, two of them for the open ones).
    #[derive(Default)]
    struct Seen {
        open: bool,
        last_suppressed: bool,
    }
    fn seen(record: &ScanRecord) -> HashMap<Key<'_>, Seen> {
        let mut seen: HashMap<Key, Seen> = HashMap::with_capacity(record.findings.len());
        for f in &record.findings {
            let entry = seen.entry(key(f)).or_default();
            entry.open |= !f.is_suppressed();
            entry.last_suppressed = f.is_suppressed();
        }
        seen
    }
    let (old_seen, new_seen) = (seen(old), seen(new));
    let open_in = |seen: &HashMap<Key, Seen>, f: &Finding| seen.get(&key(f)).is_some_and(|s| s.open);

    let change_of = |record: &ScanRecord, f: &Finding, change: Change, note: Option<String>| FindingChange {
        change,
        rule: f.rule.to_string(),
        severity: f.severity,
        authorization_id: f.authorization_id.clone(),
        owner: f.owner.clone(),
        owner_label: if f.is_organization() { ORGANIZATION_LABEL.to_string() } else { record.owner_label(&f.owner) },
        token_name: token_name(record, &f.owner, &f.authorization_id),
        message: f.message.clone(),
        note,
    };
    let unread_in_old: std::collections::HashSet<&str> =
        old.coverage.owners_failed.iter().map(|g| g.descriptor.as_str()).collect();
    let unread_in_new: std::collections::HashSet<&str> =
        new.coverage.owners_failed.iter().map(|g| g.descriptor.as_str()).collect();
    let mut findings = Vec::new();
    for f in new.open_findings() {
        if open_in(&old_seen, f) {
            findings.push(change_of(new, f, Change::Unchanged, None));
        } else {
            let note = if unread_in_old.contains(f.owner.as_str()) {
                Some(NOT_READ_BEFORE.to_string())
            } else {
                old_seen.get(&key(f)).filter(|s| s.last_suppressed).map(|_| "its exception expired".to_string())
            };
            findings.push(change_of(new, f, Change::New, note));
        }
    }
    for f in old.open_findings() {
        if open_in(&new_seen, f) {
            continue;
        }
        let note = match new.token(&f.owner, &f.authorization_id) {
            None if f.is_organization() => (!new.evidence.has(crate::evidence::Source::Policies))
                .then(|| "policies not read in the new scan".to_string()),
            None if new.coverage.owners_failed.iter().any(|g| g.descriptor == f.owner) => {
                Some("owner not read in the new scan (coverage gap)".to_string())
            }
            None => Some("token no longer listed".to_string()),
            Some(t) => match t.state(new.as_of) {
                TokenState::Revoked => Some("token revoked".to_string()),
                TokenState::Expired => Some("token expired".to_string()),
                TokenState::Active if new_seen.contains_key(&key(f)) => Some("accepted by an exception".to_string()),
                TokenState::Active => None,
            },
        };
        findings.push(change_of(old, f, Change::Resolved, note));
    }
    findings.sort_by(|a, b| {
        (a.change, std::cmp::Reverse(a.severity), &a.owner_label, &a.authorization_id, &a.rule).cmp(&(
            b.change,
            std::cmp::Reverse(b.severity),
            &b.owner_label,
            &b.authorization_id,
            &b.rule,
        ))
    });

    let mut tokens = Vec::new();
    let old_tokens: HashMap<(&str, &str), _> =
        old.tokens.iter().map(|t| ((t.owner.as_str(), t.authorization_id.as_str()), t)).collect();
    let leaked = |t: &crate::inventory::Token| t.events.iter().any(|e| e.kind == EventKind::Leaked);
    let left = |r: &ScanRecord, owner: &str| r.owner(owner).is_some_and(|o| o.member == Some(false));
    // What the evidence says changed about credentials both scans list.
    for t in &new.tokens {
        let Some(o) = old_tokens.get(&(t.owner.as_str(), t.authorization_id.as_str())) else {
            continue;
        };
        let change = if leaked(t) && !leaked(o) {
            "leaked"
        } else if t.state(new.as_of) == TokenState::Active && left(new, &t.owner) && !left(old, &t.owner) {
            "owner-not-member"
        } else {
            continue;
        };
        tokens.push(TokenChange {
            authorization_id: t.authorization_id.clone(),
            owner_label: new.owner_label(&t.owner),
            token_name: t.display_name.clone(),
            change: change.to_string(),
            kind: t.kind,
        });
    }
    for t in &new.tokens {
        let now = t.state(new.as_of);
        let change = match old_tokens.get(&(t.owner.as_str(), t.authorization_id.as_str())) {
            // Not in the old scan because its owner was not read then: not necessarily new.
            None if unread_in_old.contains(t.owner.as_str()) => "first-read",
            None => "created",
            Some(o) => match (o.state(old.as_of), now) {
                (TokenState::Revoked, _) => continue,
                (_, TokenState::Revoked) => "revoked",
                (TokenState::Active, TokenState::Expired) => "expired",
                _ => continue,
            },
        };
        tokens.push(TokenChange {
            authorization_id: t.authorization_id.clone(),
            owner_label: new.owner_label(&t.owner),
            token_name: t.display_name.clone(),
            change: change.to_string(),
            kind: t.kind,
        });
    }
    let new_ids: HashMap<(&str, &str), ()> =
        new.tokens.iter().map(|t| ((t.owner.as_str(), t.authorization_id.as_str()), ())).collect();
    for t in &old.tokens {
        if !new_ids.contains_key(&(t.owner.as_str(), t.authorization_id.as_str()))
            && t.state(old.as_of) == TokenState::Active
        {
            tokens.push(TokenChange {
                authorization_id: t.authorization_id.clone(),
                owner_label: old.owner_label(&t.owner),
                token_name: t.display_name.clone(),
                change: if unread_in_new.contains(t.owner.as_str()) { "not-read" } else { "missing" }.to_string(),
                kind: t.kind,
            });
        }
    }
    tokens.sort_by(|a, b| {
        (&a.change, &a.owner_label, &a.authorization_id).cmp(&(&b.change, &b.owner_label, &b.authorization_id))
    });

    let mut trend = BTreeMap::new();
    let count_state = |r: &ScanRecord, s: TokenState| r.tokens.iter().filter(|t| t.state(r.as_of) == s).count();
    trend.insert(
        "active_tokens".into(),
        Headline::of(count_state(old, TokenState::Active), count_state(new, TokenState::Active)),
    );
    trend.insert("flagged_tokens".into(), Headline::of(old.summary.flagged_tokens, new.summary.flagged_tokens));
    let global = |r: &ScanRecord| {
        r.tokens.iter().filter(|t| t.all_organizations && t.state(r.as_of) == TokenState::Active).count()
    };
    trend.insert("active_global_tokens".into(), Headline::of(global(old), global(new)));
    let full = |r: &ScanRecord| {
        r.tokens.iter().filter(|t| t.is_full_access() && t.state(r.as_of) == TokenState::Active).count()
    };
    trend.insert("active_full_access_tokens".into(), Headline::of(full(old), full(new)));
    for severity in Severity::ALL {
        let n = |r: &ScanRecord| r.open_findings().filter(|f| f.severity == severity).count();
        trend.insert(format!("{severity}_findings"), Headline::of(n(old), n(new)));
    }

    let coverage_gaps = [("old", old), ("new", new)]
        .into_iter()
        .flat_map(|(scan, r)| {
            r.coverage.owners_failed.iter().map(move |g| GapNote {
                scan: scan.to_string(),
                descriptor: g.descriptor.clone(),
                owner_label: r.owner_label(&g.descriptor),
                error: g.error.clone(),
            })
        })
        .collect();
    let evidence = [("old", old), ("new", new)]
        .into_iter()
        .flat_map(|(scan, r)| r.evidence.lines().into_iter().map(move |line| EvidenceNote { scan: scan.into(), line }))
        .collect();
    ScanDiff {
        coverage_gaps,
        evidence,
        audit_caveat: (old.evidence.shows_audit() || new.evidence.shows_audit())
            .then(|| crate::evidence::AUDIT_CAVEAT.to_string()),
        schema_version: DIFF_SCHEMA_VERSION,
        organization: new.organization.clone(),
        old_as_of: old.as_of,
        new_as_of: new.as_of,
        both_complete: old.coverage.complete && new.coverage.complete,
        trend,
        findings,
        tokens,
    }
}
