//! Evidence of use: what the organization's other records say about owners and credentials
//! (is the owner still a member, when did they last sign in, was a credential seen in the audit
//! log, leaked, revoked) and which tenant PAT policies are on. Plain data, read by the rules, the
//! plan and every report; the scan fills it from the sources `scan --evidence` chose.
//!
//! Every source has its own coverage (`Evidence::sources`): a source that could not be read never
//! fails a scan and never hides a token, but every report names it and why.

use crate::text::plural;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The sources of evidence a scan can read besides Graph and Token Admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// User Entitlements: each owner's last access and access level.
    Entitlements,
    /// Graph membership state: is the owner still a member of the organization.
    Membership,
    /// The audit log: token events (created, revoked, leaked…) and audited use of PATs.
    Audit,
    /// SSH keys (Token Admin with `isPublic=true`), kept as credentials of kind `ssh`.
    Ssh,
    /// The tenant's PAT policies (undocumented endpoint; opt-in).
    Policies,
}

impl Source {
    pub const ALL: [Source; 5] =
        [Source::Entitlements, Source::Membership, Source::Audit, Source::Ssh, Source::Policies];
    /// What `scan` reads when `--evidence` is not given.
    pub const DEFAULT: [Source; 4] = [Source::Entitlements, Source::Membership, Source::Audit, Source::Ssh];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Entitlements => "entitlements",
            Source::Membership => "membership",
            Source::Audit => "audit",
            Source::Ssh => "ssh",
            Source::Policies => "policies",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of one source the scan read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read in full.
    Complete,
    /// Read in part (some pages or owners failed, the deadline came): see the reason.
    Partial,
    /// Not read at all (permission missing, auditing off, not Entra-backed…): see the reason.
    Unavailable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::Unavailable => "unavailable",
        }
    }
}

/// One source's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCoverage {
    pub status: Status,
    /// Why the source is partial or unavailable, in one line (`vso.auditlog missing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SourceCoverage {
    pub fn complete() -> Self {
        SourceCoverage { status: Status::Complete, reason: None }
    }
    pub fn partial(reason: impl Into<String>) -> Self {
        SourceCoverage { status: Status::Partial, reason: Some(reason.into()) }
    }
    pub fn unavailable(reason: impl Into<String>) -> Self {
        SourceCoverage { status: Status::Unavailable, reason: Some(reason.into()) }
    }
    /// `complete`, or `partial (reason)` / `unavailable (reason)`.
    pub fn describe(&self) -> String {
        match &self.reason {
            Some(r) => format!("{} ({r})", self.status.as_str()),
            None => self.status.as_str().to_string(),
        }
    }
    /// Whether anything at all was read from the source.
    pub fn was_read(&self) -> bool {
        self.status != Status::Unavailable
    }
}

/// What every output says about the audit log, whatever it found.
pub const AUDIT_CAVEAT: &str = "Only audited actions are seen: read-only use of a PAT is not logged, \
the audit log keeps 90 days, and auditing can be off.";

/// Everything the evidence sources told the scan about the organization as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The sources the scan was asked to read, each with its coverage. Empty for a bare
    /// inventory (`--evidence none`) and for records written before evidence existed.
    #[serde(default)]
    pub sources: BTreeMap<Source, SourceCoverage>,
    /// The audit window that was requested (start, end), when the audit log was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_window: Option<AuditWindow>,
    /// The tenant's PAT policies, when read (`--evidence +policies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<TenantPolicies>,
}

impl Evidence {
    /// Nothing asked for and nothing read (a bare inventory, or a record from before evidence).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.audit_window.is_none() && self.policies.is_none()
    }
    /// The coverage of one source; `None` when it was not asked for.
    pub fn source(&self, source: Source) -> Option<&SourceCoverage> {
        self.sources.get(&source)
    }
    /// Whether the source was asked for and at least partly read.
    pub fn has(&self, source: Source) -> bool {
        self.source(source).is_some_and(SourceCoverage::was_read)
    }
    /// Whether the source was asked for and read in full (what a claim of absence needs: "no
    /// audited use" only holds when every audit page was read).
    pub fn complete(&self, source: Source) -> bool {
        self.source(source).is_some_and(|c| c.status == Status::Complete)
    }
    /// One line per source asked for, `evidence.audit: unavailable (vso.auditlog missing)`; a
    /// single `evidence: none read` line for a bare inventory or a record from before evidence.
    pub fn lines(&self) -> Vec<String> {
        if self.sources.is_empty() {
            return vec!["evidence: none read (none asked for, or an older record)".into()];
        }
        self.sources.iter().map(|(s, c)| format!("evidence.{s}: {}", c.describe())).collect()
    }
    /// Whether the audit caveat belongs beside the data (the audit log was asked for).
    pub fn shows_audit(&self) -> bool {
        self.sources.contains_key(&Source::Audit)
    }
    /// Sources asked for but not read in full, for the coverage lines of every report.
    pub fn gaps(&self) -> impl Iterator<Item = (Source, &SourceCoverage)> {
        self.sources.iter().filter(|(_, c)| c.status != Status::Complete).map(|(s, c)| (*s, c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The tenant's PAT policies (Microsoft Entra ID > Azure DevOps policies). `None` in a field: that
/// policy could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicies {
    /// `TenantPolicy.RestrictGlobalPersonalAccessToken`
    pub restrict_global_pat: Option<bool>,
    /// `TenantPolicy.RestrictFullScopePersonalAccessToken`
    pub restrict_full_scope_pat: Option<bool>,
    /// `TenantPolicy.RestrictPersonalAccessTokenLifespan`
    pub restrict_pat_lifespan: Option<bool>,
    /// `properties.MaxPatLifespanInDays` of the lifespan policy.
    pub max_pat_lifespan_days: Option<u32>,
    /// `TenantPolicy.EnableLeakedPersonalAccessTokenAutoRevocation`
    pub leaked_pat_auto_revocation: Option<bool>,
}

/// When an owner last signed in to the organization (User Entitlements' `lastAccessedDate`;
/// `0001-01-01T00:00:00` is Microsoft's "never"). Written as `"never"` or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LastAccessed {
    Never,
    At(DateTime<Utc>),
}

impl LastAccessed {
    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            LastAccessed::Never => None,
            LastAccessed::At(t) => Some(t),
        }
    }
}

impl Serialize for LastAccessed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LastAccessed::Never => s.serialize_str("never"),
            LastAccessed::At(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for LastAccessed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "never" {
            return Ok(LastAccessed::Never);
        }
        DateTime::parse_from_rfc3339(&text)
            .map(|t| LastAccessed::At(t.with_timezone(&Utc)))
            .map_err(|_| serde::de::Error::custom(format!("expected \"never\" or an RFC 3339 time, found {text:?}")))
    }
}

/// An owner's access level in the organization (User Entitlements' `accessLevel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLevel {
    /// `accessLevel.status`: none, active, disabled, deleted, pending, expired, pendingDisabled.
    pub status: String,
    /// The license shown to people (`accessLevel.licenseDisplayName`, e.g. "Basic").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// What kind of credential a Token Admin entry is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A personal access token (`isPublic=false`).
    #[default]
    Pat,
    /// An SSH public key (`isPublic=true`).
    Ssh,
}

impl CredentialKind {
    pub fn is_pat(&self) -> bool {
        *self == CredentialKind::Pat
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Pat => "pat",
            CredentialKind::Ssh => "ssh",
        }
    }
}

/// The last audited action taken with a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSeen {
    pub at: DateTime<Utc>,
    /// The audit action id (`Git.RefUpdatePoliciesBypassed`, `Release.ReleaseCreated`…).
    pub action: String,
    /// Where it was seen (`audit`).
    pub source: Source,
}

/// What happened to a credential, from the audit log's `Token.*` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Updated,
    Revoked,
    /// Revoked by the service (a policy or Microsoft), not by a person.
    SystemRevoked,
    Expired,
    /// Found in a public place (`Token.PatPublicDiscoveryEvent`).
    Leaked,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::Revoked => "revoked",
            EventKind::SystemRevoked => "system_revoked",
            EventKind::Expired => "expired",
            EventKind::Leaked => "leaked",
        }
    }
}

/// One audit-log event about a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// Who acted (the audit entry's actor display name or UPN); `None` for the service itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The audit action id as logged (`Token.PatRevokeEvent`…).
    pub action: String,
}

/// How a per-owner source (membership, SSH keys) went over a scan's owners: owners read, owners
/// the deadline stopped, owners that failed (with the first error), and the refusal that closed
/// the source (401/403: not asked again). Plain counts, so the parts of a sharded scan
/// (`scan --shard`) add up to the tally of the whole organization (`shard::merge`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerTally {
    pub read: usize,
    #[serde(default)]
    pub deadline: usize,
    #[serde(default)]
    pub failed: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Why the service refused the source (`vso.graph missing`), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<String>,
}

impl OwnerTally {
    /// The source's coverage over `owners` owners.
    pub fn coverage(&self, owners: usize) -> SourceCoverage {
        let missing = owners.saturating_sub(self.read);
        if let Some(denied) = &self.denied {
            return if self.read == 0 {
                SourceCoverage::unavailable(denied.clone())
            } else {
                SourceCoverage::partial(format!("{denied}; {missing} of {owners} owners not read"))
            };
        }
        if missing == 0 {
            return SourceCoverage::complete();
        }
        let mut why = Vec::new();
        if self.deadline > 0 {
            why.push(format!("deadline reached (--deadline) for {}", plural(self.deadline, "owner")));
        }
        if let Some(first) = &self.first_error {
            why.push(format!("{} failed, first: {first}", plural(self.failed, "owner")));
        }
        if why.is_empty() {
            why.push("their tokens could not be listed".into());
        }
        let text = format!("{missing} of {owners} owners not read ({})", why.join("; "));
        if self.read == 0 { SourceCoverage::unavailable(text) } else { SourceCoverage::partial(text) }
    }

    /// The tally of two sets of owners (two parts of a sharded scan).
    pub fn add(&mut self, other: &OwnerTally) {
        self.read += other.read;
        self.deadline += other.deadline;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        if self.denied.is_none() {
            self.denied.clone_from(&other.denied);
        }
    }
}

/// Where the owners' membership came from, said in `evidence.membership`'s reason (also when
/// complete): inferred from User Entitlements, asked of Graph, or from the checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipBasis {
    /// Owners whose membership came from the checkpoint.
    #[serde(default)]
    pub resumed: usize,
    /// Owners User Entitlements lists as members: no request.
    #[serde(default)]
    pub inferred: usize,
    /// Owners asked (`membershipstates`), whatever the answer: those User Entitlements does not
    /// list as members, those whose Token Admin listing answered 404, every owner without
    /// entitlements.
    #[serde(default)]
    pub asked: usize,
    /// User Entitlements' coverage; `None`: not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlements: Option<Status>,
    /// Graph refused: how many were asked before the refusal was seen depends on timing, so it
    /// is not said (the reason stays the same from run to run).
    #[serde(default)]
    pub denied: bool,
}

impl MembershipBasis {
    pub fn note(&self, mut coverage: SourceCoverage) -> SourceCoverage {
        let mut parts = Vec::new();
        if self.inferred > 0 {
            parts.push(format!("{} inferred from User Entitlements", self.inferred));
        }
        if self.asked > 0 && !self.denied {
            parts.push(format!("{} asked of Graph", self.asked));
        }
        match self.entitlements {
            None if self.asked > 0 => parts.push("User Entitlements not requested".into()),
            Some(Status::Unavailable) => parts.push("User Entitlements unavailable".into()),
            Some(Status::Partial) => parts.push("User Entitlements partial".into()),
            _ => {}
        }
        if self.resumed > 0 {
            parts.push(format!("{} from the checkpoint", self.resumed));
        }
        if parts.is_empty() {
            return coverage;
        }
        let basis = parts.join(", ");
        coverage.reason = Some(match coverage.reason.take() {
            Some(reason) => format!("{reason}; {basis}"),
            None => basis,
        });
        coverage
    }

    /// The basis of two sets of owners (two parts of a sharded scan); `entitlements` is the
    /// caller's (one organization-wide reading).
    pub fn add(&mut self, other: &MembershipBasis) {
        self.resumed += other.resumed;
        self.inferred += other.inferred;
        self.asked += other.asked;
        self.denied |= other.denied;
    }
}

/// The audit coverage after the join: a complete read notes the token events that named no
/// credential of the inventory (credentials deleted since, or another organization's).
pub fn note_unmatched(coverage: &mut SourceCoverage, unmatched: usize) {
    if unmatched > 0 && coverage.reason.is_none() {
        coverage.reason = Some(format!(
            "{} named no credential of this inventory (deleted since, or not listed)",
            plural(unmatched, "token event")
        ));
    }
}
