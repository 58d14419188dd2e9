//! The evidence rules: each fires on the credentials built for it and on no other, never when
//! its source was not read; organization findings; SSH keys.

use super::*;
use crate::evidence::{
    AuditWindow, CredentialEvent, CredentialKind, EventKind, Evidence, LastAccessed, LastSeen, Source, SourceCoverage,
    TenantPolicies,
};
use crate::inventory::{Coverage, Token};
use chrono::{Duration, TimeZone};
use std::collections::BTreeSet;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn owner(descriptor: &str, member: Option<bool>, last_accessed: Option<LastAccessed>) -> Owner {
    Owner {
        descriptor: descriptor.into(),
        display_name: descriptor.into(),
        principal_name: format!("{descriptor}@contoso.com").into(),
        origin: "aad".into(),
        member,
        last_accessed,
        ..Default::default()
    }
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - Duration::days(days)
}

/// A PAT of `owner` created 200 days ago, valid 400 days, last seen `seen` days ago.
fn pat(id: &str, owner: &str, seen: Option<i64>) -> Token {
    Token {
        authorization_id: id.into(),
        owner: owner.into(),
        display_name: id.into(),
        scopes: vec!["vso.code".into()],
        target_accounts: ["org".into()].into(),
        valid_from: Some(days_ago(200)),
        valid_to: Some(days_ago(200) + Duration::days(400)),
        is_valid: true,
        last_seen: seen
            .map(|d| Box::new(LastSeen { at: days_ago(d), action: "Git.RefUpdate".into(), source: Source::Audit })),
        ..Default::default()
    }
}

fn leak(mut t: Token) -> Token {
    t.events.push(CredentialEvent {
        kind: EventKind::Leaked,
        at: days_ago(2),
        actor: None,
        action: "Token.PatPublicDiscoveryEvent".into(),
    });
    t
}

fn all_read(policies: TenantPolicies) -> Evidence {
    Evidence {
        sources: Source::ALL.into_iter().map(|s| (s, SourceCoverage::complete())).collect(),
        audit_window: Some(AuditWindow { start: days_ago(90), end: now() }),
        policies: Some(policies),
    }
}

fn all_off() -> TenantPolicies {
    TenantPolicies {
        restrict_global_pat: Some(false),
        restrict_full_scope_pat: Some(false),
        restrict_pat_lifespan: Some(false),
        max_pat_lifespan_days: None,
        leaked_pat_auto_revocation: Some(false),
    }
}

/// Owners: `active` (a member, seen 5 days ago), `left` (not a member), `idle` (last access 200
/// days ago), `never` (never accessed), `unread` (entitlements and membership not read for it).
fn inventory(evidence: Evidence) -> Inventory {
    let recent = Some(LastAccessed::At(days_ago(5)));
    let mut revoked_leak = leak(pat("leaked-revoked", "active", Some(1)));
    revoked_leak.is_valid = false;
    let mut young = pat("young", "active", None);
    young.valid_from = Some(days_ago(10));
    let mut ssh = pat("ssh", "active", None);
    ssh.kind = CredentialKind::Ssh;
    ssh.scopes = vec!["app_token".into()];
    ssh.all_organizations = true;
    ssh.target_accounts = [].into();
    Inventory {
        organization: "o".into(),
        owners: vec![
            owner("active", Some(true), recent),
            owner("left", Some(false), recent),
            owner("idle", Some(true), Some(LastAccessed::At(days_ago(200)))),
            owner("never", Some(true), Some(LastAccessed::Never)),
            owner("unread", None, None),
        ],
        tokens: vec![
            pat("used", "active", Some(3)),
            leak(pat("leaked", "active", Some(1))),
            revoked_leak,
            pat("unused", "active", None),
            pat("seen-long-ago", "active", Some(120)),
            young,
            pat("of-left", "left", Some(1)),
            pat("of-idle", "idle", Some(1)),
            pat("of-never", "never", Some(1)),
            pat("of-unread", "unread", Some(1)),
            ssh,
        ],
        coverage: Coverage::new(5, 5, vec![]),
        evidence,
        service: Default::default(),
    }
}

const EVIDENCE_RULES: [&str; 8] = [
    "owner-not-member",
    "owner-inactive",
    "leaked",
    "unused",
    "policy-global-pat",
    "policy-full-scope",
    "policy-max-lifespan",
    "policy-leak-revocation",
];

/// (rule, token id) of the open findings of the evidence rules.
fn evidence_findings(inventory: &Inventory, rules: &RuleSet) -> BTreeSet<(String, String)> {
    rules
        .evaluate(inventory, now())
        .findings
        .into_iter()
        .filter(|f| !f.is_suppressed() && EVIDENCE_RULES.contains(&f.rule.as_ref()))
        .map(|f| (f.rule.into_owned(), f.authorization_id.to_string()))
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs.iter().map(|(r, id)| (r.to_string(), id.to_string())).collect()
}

#[test]
fn each_evidence_rule_fires_on_its_credentials_and_no_other() {
    let got = evidence_findings(&inventory(all_read(all_off())), &RuleSet::default_rules());
    let expected = set(&[
        ("owner-not-member", "of-left"),
        ("owner-inactive", "of-idle"),
        ("owner-inactive", "of-never"),
        ("leaked", "leaked"),
        ("unused", "unused"),
        ("unused", "seen-long-ago"),
        ("policy-global-pat", ""),
        ("policy-full-scope", ""),
        ("policy-max-lifespan", ""),
        ("policy-leak-revocation", ""),
    ]);
    assert_eq!(got, expected);
}

#[test]
fn a_source_not_read_never_fires_nor_claims_absence() {
    let rules = RuleSet::default_rules();
    // No evidence at all (a bare inventory, a version-1 record): owners and tokens carry none.
    let mut bare = inventory(Evidence::default());
    for o in &mut bare.owners {
        (o.member, o.last_accessed) = (None, None);
    }
    for t in &mut bare.tokens {
        (t.last_seen, t.events) = (None, Vec::new());
    }
    assert_eq!(evidence_findings(&bare, &rules), set(&[]));
    // The audit log read in part, or not at all: no claim of absence (`unused`).
    for coverage in [SourceCoverage::partial("page 3 failed"), SourceCoverage::unavailable("vso.auditlog missing")] {
        let mut evidence = all_read(all_off());
        evidence.sources.insert(Source::Audit, coverage);
        let got = evidence_findings(&inventory(evidence), &rules);
        assert!(got.iter().all(|(rule, _)| rule != "unused"), "{got:?}");
    }
    // Read in full, but over no known window: no claim either.
    let mut evidence = all_read(all_off());
    evidence.audit_window = None;
    let got = evidence_findings(&inventory(evidence), &rules);
    assert!(got.iter().all(|(rule, _)| rule != "unused"), "{got:?}");
    // Policies asked for but not read, or one policy unreadable: no finding for them.
    let mut evidence = all_read(all_off());
    evidence.sources.insert(Source::Policies, SourceCoverage::unavailable("not Entra-backed"));
    let got = evidence_findings(&inventory(evidence), &rules);
    assert!(got.iter().all(|(rule, _)| !rule.starts_with("policy-")), "{got:?}");
    let mut policies = all_off();
    policies.restrict_global_pat = None;
    policies.leaked_pat_auto_revocation = Some(true);
    let got = evidence_findings(&inventory(all_read(policies)), &rules);
    let policy: Vec<&str> = got.iter().filter(|(r, _)| r.starts_with("policy-")).map(|(r, _)| r.as_str()).collect();
    assert_eq!(policy, ["policy-full-scope", "policy-max-lifespan"]);
}

#[test]
fn the_unused_window_is_cut_to_what_the_audit_log_covers() {
    let mut evidence = all_read(all_off());
    evidence.audit_window = Some(AuditWindow { start: days_ago(30), end: now() });
    let findings = RuleSet::default_rules().evaluate(&inventory(evidence), now()).findings;
    let unused: Vec<&Finding> = findings.iter().filter(|f| f.rule == "unused").collect();
    let ids: BTreeSet<&str> = unused.iter().map(|f| f.authorization_id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["seen-long-ago", "unused"]));
    for f in unused {
        assert!(f.message.contains("in the last 30 days"), "{}", f.message);
        assert!(f.message.contains("Only audited actions are seen"), "{}", f.message);
        assert_eq!(f.severity, Severity::Low);
    }
}

#[test]
fn ssh_keys_are_judged_by_lifetime_owner_and_leak_rules_only() {
    let findings = RuleSet::default_rules().evaluate(&inventory(all_read(all_off())), now()).findings;
    let rules: BTreeSet<&str> =
        findings.iter().filter(|f| f.authorization_id == "ssh").map(|f| f.rule.as_ref()).collect();
    // A full-access, all-organizations "SSH key" would be flagged by both rules were it a PAT.
    assert_eq!(rules, BTreeSet::from(["long-lived", "long-remaining"]));
}

#[test]
fn organization_findings_count_and_are_accepted_by_rule_id_alone() {
    let rules = RuleSet::parse(
        "extends = \"default\"\n\
         [[exception]]\nrule = \"policy-global-pat\"\nreason = \"rolling out\"\nticket = \"SEC-1\"\nexpires = 2099-01-01\n\
         [[exception]]\nrule = \"policy-full-scope\"\nowner = \"active\"\nreason = \"wrong\"\nticket = \"SEC-2\"\nexpires = 2099-01-01\n",
        "t.toml",
    )
    .unwrap();
    let evaluation = rules.evaluate(&inventory(all_read(all_off())), now());
    let org: Vec<&Finding> = evaluation.findings.iter().filter(|f| f.is_organization()).collect();
    assert_eq!(org.len(), 4);
    assert!(org.iter().all(|f| f.owner.is_empty() && f.authorization_id.is_empty()));
    let global = org.iter().find(|f| f.rule == "policy-global-pat").unwrap();
    assert!(global.is_suppressed());
    assert!(!org.iter().find(|f| f.rule == "policy-full-scope").unwrap().is_suppressed(), "an owner key never matches");
    assert_eq!(evaluation.exceptions[0].status, ExceptionStatus::Active);
    assert_eq!(evaluation.exceptions[1].status, ExceptionStatus::Stale);
    let record = crate::record::ScanRecord::judge(inventory(all_read(all_off())), &rules, now());
    assert_eq!(record.summary.organization_findings, 3);
    assert!(record.summary.findings_by_severity[&Severity::High] >= 1, "policy-leak-revocation counts");
    // Flagged tokens are tokens: an organization finding is none.
    let mut flagged: Vec<(&str, &str)> = record
        .open_findings()
        .filter(|f| !f.is_organization())
        .map(|f| (f.owner.as_str(), f.authorization_id.as_str()))
        .collect();
    flagged.sort();
    flagged.dedup();
    assert_eq!(record.summary.flagged_tokens, flagged.len());
    // Organization findings come first among their severity, the same in every run.
    assert_eq!(
        record.findings,
        crate::record::ScanRecord::judge(inventory(all_read(all_off())), &rules, now()).findings
    );
}

#[test]
fn owner_removed_says_what_is_known() {
    let mut inv = inventory(all_read(all_off()));
    inv.owners[0].deleted_in_origin = true;
    let findings = RuleSet::default_rules().evaluate(&inv, now()).findings;
    let f = findings.iter().find(|f| f.rule == "owner-removed" && f.authorization_id == "used").unwrap();
    assert!(!f.message.contains("still works"), "{}", f.message);
    assert!(f.message.contains("still listed as valid"), "{}", f.message);
    let ssh = findings.iter().find(|f| f.rule == "owner-removed" && f.authorization_id == "ssh").unwrap();
    assert!(ssh.message.contains("SSH key"), "{}", ssh.message);
}

#[test]
fn evidence_rules_judge_the_same_on_many_threads() {
    // Over the parallel threshold: the same findings as a small inventory's, token for token.
    let base = inventory(all_read(all_off()));
    let mut big = base.clone();
    big.tokens = (0..PARALLEL_FROM / base.tokens.len() + 1)
        .flat_map(|i| {
            base.tokens.iter().map(move |t| {
                let mut t = t.clone();
                t.authorization_id = format!("{}-{i}", t.authorization_id).into();
                t
            })
        })
        .collect();
    let rules = RuleSet::default_rules();
    let first = rules.evaluate(&big, now());
    assert_eq!(first, rules.evaluate(&big, now()));
    let small = evidence_findings(&base, &rules).len() - 4;
    let org = first.findings.iter().filter(|f| f.is_organization()).count();
    let per_copy = first
        .findings
        .iter()
        .filter(|f| f.authorization_id.ends_with("-0") && EVIDENCE_RULES.contains(&f.rule.as_ref()))
        .count();
    assert_eq!((org, per_copy), (4, small));
}
