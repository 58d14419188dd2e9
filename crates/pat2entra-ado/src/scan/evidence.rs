//! The evidence part of a scan (`scan --evidence`): which sources to read, reading the
//! organization-wide ones (User Entitlements, the audit log, tenant policies), tallying the
//! per-owner ones (membership, SSH keys), and joining what they said to owners and tokens.
//! Every failure here becomes that source's coverage; none fails the scan or hides a token.

use crate::sources::POLICY_NAMES;
use crate::wire::{AuditRecord, OwnerActivity};
use crate::{AdoClient, AdoError, AuditQuery, AuditRead, EntitlementsRead};
use chrono::{DateTime, Duration, Utc};
use pat2entra_core::evidence::{
    AuditWindow, CredentialEvent, CredentialKind, EventKind, LastSeen, OwnerTally, Source, SourceCoverage,
    TenantPolicies,
};
use pat2entra_core::inventory::{Owner, Token};
use pat2entra_core::text::plural;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

pub const DEFAULT_AUDIT_DAYS: u32 = 90;
/// Audit slices of a week: 13 requests (plus pages) cover the 90 days the log keeps. A service
/// refusing that width (400) gets half of it, down to an hour.
pub const DEFAULT_AUDIT_SLICE_DAYS: i64 = 7;
pub const DEFAULT_AUDIT_BATCH_SIZE: u32 = 500;

/// What `scan --evidence` asked for, and how to read the audit log.
#[derive(Debug, Clone)]
pub struct EvidenceOptions {
    pub sources: BTreeSet<Source>,
    /// The end of the audit window (the scan's `--as-of`, or its start).
    pub audit_end: DateTime<Utc>,
    /// The audit window's length (`--audit-days`).
    pub audit_days: u32,
    /// The width of one audit request's window (`--audit-slice`).
    pub audit_slice: Duration,
    /// Entries asked for per audit page (`--audit-batch-size`).
    pub audit_batch_size: u32,
}

impl Default for EvidenceOptions {
    /// No evidence: a bare inventory (the CLI's default list is `Source::DEFAULT`).
    fn default() -> Self {
        EvidenceOptions {
            sources: BTreeSet::new(),
            audit_end: Utc::now(),
            audit_days: DEFAULT_AUDIT_DAYS,
            audit_slice: Duration::days(DEFAULT_AUDIT_SLICE_DAYS),
            audit_batch_size: DEFAULT_AUDIT_BATCH_SIZE,
        }
    }
}

impl EvidenceOptions {
    pub fn wants(&self, source: Source) -> bool {
        self.sources.contains(&source)
    }

    pub fn audit_window(&self) -> AuditWindow {
        AuditWindow { start: self.audit_end - Duration::days(i64::from(self.audit_days)), end: self.audit_end }
    }
}

/// A per-owner source that stops being asked once the service denied it (every other owner
/// would be denied too).
#[derive(Debug, Default)]
pub(super) struct Gate {
    denied: OnceLock<String>,
}

impl Gate {
    pub(super) fn open(&self) -> bool {
        self.denied.get().is_none()
    }
}

/// How a per-owner source went over all owners.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub read: usize,
    pub deadline: usize,
    pub failed: usize,
    pub first_error: Option<String>,
}

impl Tally {
    /// Counts one owner's answer; a denial closes the gate.
    pub(super) fn count<T>(&mut self, gate: &Gate, result: &Result<T, AdoError>) {
        match result {
            Ok(_) => self.read += 1,
            Err(e) => {
                if let Some(reason) = denial(e) {
                    let _ = gate.denied.set(reason);
                } else if matches!(e, AdoError::DeadlineReached { .. }) {
                    self.deadline += 1;
                } else {
                    self.failed += 1;
                    self.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// The source's coverage over `owners` owners (one wording, `OwnerTally::coverage`).
    pub(super) fn coverage(&self, gate: &Gate, owners: usize) -> SourceCoverage {
        self.counts(gate).coverage(owners)
    }

    /// The counts as plain data (what one part of a sharded scan records for `merge`).
    pub(super) fn counts(&self, gate: &Gate) -> OwnerTally {
        OwnerTally {
            read: self.read,
            deadline: self.deadline,
            failed: self.failed,
            first_error: self.first_error.clone(),
            denied: gate.denied.get().cloned(),
        }
    }
}

/// `vso.auditlog missing` for a denied source (the status is in the log at info); `None` for other errors. A refusal
/// whose message says auditing is off (the service answers 403 `AuditLogNotEnabledException`
/// when "Log Audit Events" is off) says that instead.
fn denial(e: &AdoError) -> Option<String> {
    if matches!(e, AdoError::SourceDenied { .. }) {
        // The reports say what is missing; the status and the service's words go to the log.
        tracing::info!(error = %e, "evidence source refused");
    }
    match e {
        AdoError::SourceDenied { detail, .. } if says_auditing_off(detail) => {
            Some("auditing is off in this organization".to_string())
        }
        AdoError::SourceDenied { needs, .. } => Some(format!("{needs} missing")),
        _ => None,
    }
}

fn says_auditing_off(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("audit")
        && (lower.contains("not enabled") || lower.contains("disabled") || lower.contains("turned off"))
}

/// One line for an organization-wide source that failed: the permission it needs, auditing
/// off, the deadline, or the error itself.
fn reason(source: Source, e: &AdoError) -> String {
    if let Some(denied) = denial(e) {
        return denied;
    }
    if let AdoError::Status { status, detail, .. } = e {
        let lower = detail.to_ascii_lowercase();
        if source == Source::Audit {
            if says_auditing_off(&lower) {
                return "auditing is off in this organization".to_string();
            }
            if lower.contains("azure active directory") || lower.contains("entra") || lower.contains("aad") {
                return format!(
                    "the organization is not Entra-backed: the audit log needs Microsoft Entra ID (HTTP {status})"
                );
            }
            if *status == 404 {
                return "no audit log (HTTP 404): auditing is off, or the organization is not Entra-backed".into();
            }
        }
        if source == Source::Policies && *status == 404 {
            return "no tenant policies (HTTP 404): the organization is not Entra-backed, or the endpoint changed"
                .into();
        }
    }
    if matches!(e, AdoError::DeadlineReached { .. }) {
        return "deadline reached (--deadline)".into();
    }
    e.to_string()
}

/// What the organization-wide sources said.
#[derive(Debug, Default)]
pub(super) struct OrgEvidence {
    pub coverage: Vec<(Source, SourceCoverage)>,
    pub activity: Vec<OwnerActivity>,
    pub audit: Option<AuditRead>,
    pub policies: Option<TenantPolicies>,
}

/// Reads the organization-wide sources asked for, one after the other (the owner scan runs
/// beside them).
pub(super) async fn read_org_evidence(client: &AdoClient, options: &EvidenceOptions) -> OrgEvidence {
    let mut org = OrgEvidence::default();
    if options.wants(Source::Entitlements) {
        let read = client.list_user_entitlements().await;
        org.coverage.push((Source::Entitlements, entitlements_coverage(&read)));
        org.activity = read.entries;
    }
    if options.wants(Source::Audit) {
        let window = options.audit_window();
        let read = client
            .read_audit_log(AuditQuery {
                start: window.start,
                end: window.end,
                slice: options.audit_slice,
                batch_size: options.audit_batch_size,
            })
            .await;
        org.coverage.push((Source::Audit, audit_coverage(&read)));
        org.audit = Some(read);
    }
    if options.wants(Source::Policies) {
        let (policies, errors) = client.tenant_policies().await;
        let coverage = if errors.is_empty() {
            SourceCoverage::complete()
        } else if errors.len() == POLICY_NAMES.len() {
            SourceCoverage::unavailable(reason(Source::Policies, &errors[0].1))
        } else {
            let names: Vec<&str> = errors.iter().map(|(n, _)| *n).collect();
            SourceCoverage::partial(format!(
                "{} of {} policies not read ({}): {}",
                errors.len(),
                POLICY_NAMES.len(),
                names.join(", "),
                reason(Source::Policies, &errors[0].1)
            ))
        };
        if errors.len() < POLICY_NAMES.len() {
            org.policies = Some(policies);
        }
        org.coverage.push((Source::Policies, coverage));
    }
    org
}

fn entitlements_coverage(read: &EntitlementsRead) -> SourceCoverage {
    match &read.error {
        None => SourceCoverage::complete(),
        Some(e) if read.pages == 0 => SourceCoverage::unavailable(reason(Source::Entitlements, e)),
        Some(e) => SourceCoverage::partial(format!(
            "listing stopped after {}: {}",
            plural(read.pages as usize, "page"),
            reason(Source::Entitlements, e)
        )),
    }
}

fn audit_coverage(read: &AuditRead) -> SourceCoverage {
    let Some((_, _, first)) = read.gaps.first() else {
        return if read.unreadable > 0 {
            SourceCoverage::partial(format!("{} could not be read", plural(read.unreadable, "entry")))
        } else {
            SourceCoverage::complete()
        };
    };
    if read.pages == 0 {
        return SourceCoverage::unavailable(reason(Source::Audit, first));
    }
    let shown: Vec<String> = read
        .gaps
        .iter()
        .take(3)
        .map(|(from, to, e)| {
            format!(
                "{} to {}: {}",
                from.format("%Y-%m-%d %H:%M"),
                to.format("%Y-%m-%d %H:%M"),
                reason(Source::Audit, e)
            )
        })
        .collect();
    let more = read.gaps.len().saturating_sub(shown.len());
    let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
    SourceCoverage::partial(format!("not read: {}{more}", shown.join("; ")))
}

/// `accessLevel.status` values that make an owner listed by User Entitlements a member without
/// asking Graph: `active` ("has signed in at least once") and `pending` ("invited … but has not
/// signed up/signed in yet"). Every other value (`deleted`: "removed from the account",
/// `disabled`, `expired`, `pendingDisabled`, `none`) or none at all is asked
/// (`membershipstates`): the listing alone does not say the owner is still there. Values and
/// words: `AccountUserStatus` in `specification/memberEntitlementManagement/7.1/memberEntitlementManagement.json`.
const MEMBER_STATUSES: [&str; 2] = ["active", "pending"];

/// Descriptors (lowercase) of the owners User Entitlements lists as members.
pub(super) fn entitled_members(activity: &[OwnerActivity]) -> HashSet<String> {
    activity
        .iter()
        .filter(|a| {
            a.access_level.as_ref().is_some_and(|l| MEMBER_STATUSES.iter().any(|s| l.status.eq_ignore_ascii_case(s)))
        })
        .map(|a| a.descriptor.to_ascii_lowercase())
        .collect()
}

/// Where the owners' membership came from (plain data in core: the parts of a sharded scan
/// add theirs up).
pub(super) use pat2entra_core::evidence::MembershipBasis;

/// Sets `last_accessed` and `access_level` on the owners User Entitlements lists.
pub(super) fn apply_activity(owners: &mut [Owner], activity: Vec<OwnerActivity>) {
    let by_descriptor: HashMap<String, OwnerActivity> =
        activity.into_iter().map(|a| (a.descriptor.to_ascii_lowercase(), a)).collect();
    for owner in owners {
        if let Some(a) = by_descriptor.get(&owner.descriptor.to_ascii_lowercase()) {
            owner.last_accessed = a.last_accessed;
            owner.access_level = a.access_level.clone().map(Box::new);
        }
    }
}

/// The credential kind and event of a `Token.*` audit action (`Token.PatRevokeEvent`…; the
/// names of Azure DevOps' `TokenAuditEventName` and the auditing events list on Microsoft
/// Learn). `None` for every other action.
pub fn token_event(action: &str) -> Option<(CredentialKind, EventKind)> {
    let rest = action.get(..6).filter(|p| p.eq_ignore_ascii_case("token.")).map(|_| &action[6..])?;
    let (kind, rest) = if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("pat")) {
        (CredentialKind::Pat, &rest[3..])
    } else if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ssh")) {
        (CredentialKind::Ssh, &rest[3..])
    } else {
        return None;
    };
    let event = match rest.to_ascii_lowercase().as_str() {
        "createevent" => EventKind::Created,
        "updateevent" => EventKind::Updated,
        "revokeevent" | "removeevent" => EventKind::Revoked,
        "systemrevokeevent" => EventKind::SystemRevoked,
        "expiredevent" | "expireevent" => EventKind::Expired,
        "publicdiscoveryevent" => EventKind::Leaked,
        _ => return None,
    };
    Some((kind, event))
}

/// Joins the audit log to the tokens: each `Token.*` event goes to the credential it names
/// (by authorization id; else by display name, narrowed by owner, when exactly one credential
/// fits), and every action taken with a PAT sets that PAT's `last_seen` to the latest.
/// Returns the number of token events that named no credential of the inventory.
pub(super) fn apply_audit(tokens: &mut [Token], owners: &[Owner], mut records: Vec<AuditRecord>) -> usize {
    records.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        by_id.entry(t.authorization_id.to_ascii_lowercase()).or_default().push(i);
    }
    let owner_names: HashMap<&str, (&str, &str)> =
        owners.iter().map(|o| (o.descriptor.as_str(), (o.principal_name.as_str(), o.display_name.as_str()))).collect();
    let owned_by = |t: &Token, name: &str| {
        owner_names
            .get(t.owner.as_str())
            .is_some_and(|(upn, display)| upn.eq_ignore_ascii_case(name) || display.eq_ignore_ascii_case(name))
    };
    let mut unmatched = 0;
    for record in records {
        if let Some((kind, event)) = token_event(&record.action) {
            let targets: Vec<usize> = match &record.data.authorization_id {
                Some(id) => by_id.get(&id.trim().to_ascii_lowercase()).cloned().unwrap_or_default(),
                None => {
                    let mut fits: Vec<usize> = match &record.data.display_name {
                        Some(name) => (0..tokens.len())
                            .filter(|i| tokens[*i].kind == kind && tokens[*i].display_name == *name)
                            .collect(),
                        None => Vec::new(),
                    };
                    if fits.len() > 1
                        && let Some(owner) = &record.data.owner_name
                    {
                        fits.retain(|i| owned_by(&tokens[*i], owner));
                    }
                    if fits.len() > 1
                        && let Some(actor) = &record.actor
                    {
                        let by_actor: Vec<usize> =
                            fits.iter().copied().filter(|i| owned_by(&tokens[*i], actor)).collect();
                        if by_actor.len() == 1 {
                            fits = by_actor;
                        }
                    }
                    if fits.len() == 1 { fits } else { Vec::new() }
                }
            };
            if targets.is_empty() {
                unmatched += 1;
            }
            for i in targets {
                tokens[i].events.push(CredentialEvent {
                    kind: event,
                    at: record.at,
                    actor: record.actor.clone(),
                    action: record.action.clone(),
                });
            }
        }
        if let Some(id) = &record.pat_used {
            for i in by_id.get(id).into_iter().flatten() {
                let token = &mut tokens[*i];
                if token.kind == CredentialKind::Pat && token.last_seen.as_ref().is_none_or(|s| s.at <= record.at) {
                    token.last_seen = Some(Box::new(LastSeen {
                        at: record.at,
                        action: record.action.clone(),
                        source: Source::Audit,
                    }));
                }
            }
        }
    }
    unmatched
}

/// The audit coverage after the join (one wording, in core: `merge` notes it too).
pub(super) use pat2entra_core::evidence::note_unmatched;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AuditData;

    fn token(id: &str, owner: &str, name: &str, kind: CredentialKind) -> Token {
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: name.into(),
            is_valid: true,
            kind,
            ..Default::default()
        }
    }

    fn record(key: &str, action: &str, at: &str, pat_used: Option<&str>, data: AuditData) -> AuditRecord {
        AuditRecord {
            key: key.into(),
            action: action.into(),
            at: at.parse().unwrap(),
            pat_used: pat_used.map(str::to_string),
            actor: Some("admin@contoso.com".into()),
            data,
        }
    }

    #[test]
    fn token_actions_map_to_events() {
        assert_eq!(token_event("Token.PatPublicDiscoveryEvent"), Some((CredentialKind::Pat, EventKind::Leaked)));
        assert_eq!(token_event("Token.PatSystemRevokeEvent"), Some((CredentialKind::Pat, EventKind::SystemRevoked)));
        assert_eq!(token_event("token.sshcreateevent"), Some((CredentialKind::Ssh, EventKind::Created)));
        assert_eq!(token_event("Token.SshExpireEvent"), Some((CredentialKind::Ssh, EventKind::Expired)));
        assert_eq!(token_event("Token.PatExpiringEvent"), None);
        assert_eq!(token_event("Git.RefUpdate"), None);
        assert_eq!(token_event("Tok"), None);
    }

    #[test]
    fn events_and_last_seen_join_by_id_or_by_unique_name() {
        let id = "0f6f4b6c-1234-4c1d-9a3e-abcdefabcdef";
        let owners = vec![
            Owner { descriptor: "aad.a".into(), principal_name: "a@contoso.com".into(), ..Default::default() },
            Owner { descriptor: "aad.b".into(), principal_name: "b@contoso.com".into(), ..Default::default() },
        ];
        let mut tokens = vec![
            token(&id.to_uppercase(), "aad.a", "ci", CredentialKind::Pat),
            token("2", "aad.a", "deploy", CredentialKind::Pat),
            token("3", "aad.b", "deploy", CredentialKind::Pat),
            token("4", "aad.b", "laptop", CredentialKind::Ssh),
        ];
        let by_id = AuditData { authorization_id: Some(id.into()), ..Default::default() };
        let named = |name: &str, owner: Option<&str>| AuditData {
            display_name: Some(name.into()),
            owner_name: owner.map(str::to_string),
            ..Default::default()
        };
        let records = vec![
            record("e3", "Git.RefUpdate", "2026-11-20T00:00:00Z", Some(id), AuditData::default()),
            record("e1", "Token.PatPublicDiscoveryEvent", "2026-11-01T00:00:00Z", None, by_id),
            record("e2", "Release.ReleaseCreated", "2026-11-10T00:00:00Z", Some(id), AuditData::default()),
            record("e4", "Token.PatRevokeEvent", "2026-11-02T00:00:00Z", None, named("deploy", Some("b@contoso.com"))),
            record("e5", "Token.PatRevokeEvent", "2026-11-03T00:00:00Z", None, named("deploy", None)),
            record("e6", "Token.SshCreateEvent", "2026-11-04T00:00:00Z", None, named("laptop", None)),
            record("e7", "Token.PatCreateEvent", "2026-11-05T00:00:00Z", None, named("laptop", None)),
        ];
        let unmatched = apply_audit(&mut tokens, &owners, records);
        assert_eq!(tokens[0].events.len(), 1);
        assert_eq!(tokens[0].events[0].kind, EventKind::Leaked);
        let seen = tokens[0].last_seen.as_ref().unwrap();
        assert_eq!(
            (seen.action.as_str(), seen.at.to_rfc3339().as_str()),
            ("Git.RefUpdate", "2026-11-20T00:00:00+00:00")
        );
        assert!(tokens[1].events.is_empty(), "an ambiguous name without an owner names nothing");
        assert_eq!(tokens[2].events.len(), 1, "the owner narrows a shared name");
        assert_eq!(tokens[3].events[0].kind, EventKind::Created);
        assert!(tokens[3].last_seen.is_none());
        // e5 (ambiguous) and e7 (a PAT event naming an SSH key's name).
        assert_eq!(unmatched, 2);
    }

    #[test]
    fn a_denied_per_owner_source_closes_its_gate() {
        let gate = Gate::default();
        let mut tally = Tally::default();
        tally.count::<()>(&gate, &Ok(()));
        let denied: Result<(), AdoError> = Err(AdoError::SourceDenied {
            endpoint: "GET x".into(),
            status: 403,
            needs: "vso.graph",
            detail: String::new(),
        });
        tally.count(&gate, &denied);
        assert!(!gate.open());
        assert_eq!(tally.coverage(&gate, 3).describe(), "partial (vso.graph missing; 2 of 3 owners not read)");
        let gate = Gate::default();
        let mut tally = Tally::default();
        tally.count(&gate, &denied);
        assert_eq!(tally.coverage(&gate, 3).describe(), "unavailable (vso.graph missing)");
        let gate = Gate::default();
        assert_eq!(Tally { read: 3, ..Default::default() }.coverage(&gate, 3).describe(), "complete");
    }

    #[test]
    fn the_deadline_and_failures_make_a_source_partial_and_say_which() {
        let gate = Gate::default();
        let mut tally = Tally::default();
        tally.count::<()>(&gate, &Ok(()));
        tally.count::<()>(&gate, &Err(AdoError::DeadlineReached { endpoint: "GET x".into(), detail: String::new() }));
        tally.count::<()>(
            &gate,
            &Err(AdoError::Status { endpoint: "GET y".into(), status: 500, detail: "boom".into() }),
        );
        assert!(gate.open(), "only a denial closes the gate");
        assert_eq!(
            tally.coverage(&gate, 4).describe(),
            "partial (3 of 4 owners not read (deadline reached (--deadline) for 1 owner; 1 owner failed, first: \
             GET y answered HTTP 500: boom))"
        );
        let read = AuditRead {
            pages: 3,
            gaps: vec![(
                "2026-11-01T00:00:00Z".parse().unwrap(),
                "2026-11-26T00:00:00Z".parse().unwrap(),
                AdoError::DeadlineReached { endpoint: "GET a".into(), detail: String::new() },
            )],
            ..AuditRead::default()
        };
        assert_eq!(
            audit_coverage(&read).describe(),
            "partial (not read: 2026-11-01 00:00 to 2026-11-26 00:00: deadline reached (--deadline))"
        );
        let off = AdoError::SourceDenied {
            endpoint: "GET a".into(),
            status: 403,
            needs: "vso.auditlog",
            detail: "Auditing is not enabled for this organization.".into(),
        };
        assert_eq!(reason(Source::Audit, &off), "auditing is off in this organization");
        let gone = AdoError::Status { endpoint: "GET a".into(), status: 404, detail: String::new() };
        assert!(reason(Source::Audit, &gone).contains("not Entra-backed"));
    }
}
