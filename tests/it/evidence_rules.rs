//! Issue 12's acceptance on the demo organization: each evidence rule fires on exactly the
//! credentials the simulator seeded for it, and a missing audit permission is said in every
//! format. Every expectation is derived from the simulator's seed (`SeededEvidence` and the
//! seeded tokens), never from the scanner.

use crate::common;

use chrono::Duration;
use common::{TestSim, as_of, run, scan_json};
use pat2entra::sim::{SimConfig, SimToken};
use pat2entra_core::evidence::Source;
use serde_json::Value;
use std::collections::BTreeSet;

const PAT: &str = "evidence-rules-2718";

/// The demo's organization (300 users, the default seed), with Token Admin answering 404 for
/// removed owners who own nothing, as `scan --demo` serves it.
fn demo_org(config: SimConfig) -> TestSim {
    TestSim::start(SimConfig {
        accepted_pat: Some(PAT.into()),
        anchor: as_of(),
        users: 300,
        removed_owners_not_found: true,
        ..config
    })
}

/// Every credential the simulator seeded: (owner descriptor, token, is an SSH key).
fn credentials(sim: &TestSim) -> Vec<(String, SimToken, bool)> {
    let org = sim.sim().org();
    let mut all = Vec::new();
    for (i, user) in org.users().enumerate() {
        if !common::SCANNED_KINDS.contains(&user.subject_type()) {
            continue;
        }
        all.extend(org.tokens_of(i).into_iter().map(|t| (user.descriptor.clone(), t, false)));
        all.extend(org.ssh_keys_of(i).into_iter().map(|t| (user.descriptor.clone(), t, true)));
    }
    all
}

fn active(t: &SimToken) -> bool {
    t.is_valid && t.valid_to > as_of()
}

/// (rule, authorization id) of every unsuppressed finding of one rule in a record.
fn fired(record: &Value, rule: &str) -> BTreeSet<String> {
    record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule && f.get("suppressed").is_none_or(Value::is_null))
        .map(|f| f["authorization_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_evidence_rule_fires_on_what_the_seed_holds_and_on_nothing_else() {
    let sim = demo_org(SimConfig::default());
    let seeded = sim.sim().org().seeded_evidence();
    let creds = credentials(&sim);
    let (run, record) = scan_json(&sim, &["--evidence", "+policies"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for source in Source::ALL {
        assert_eq!(record["evidence"]["sources"][source.as_str()]["status"], "complete", "{source}");
    }

    let ids = |keep: &dyn Fn(&str, &SimToken, bool) -> bool| -> BTreeSet<String> {
        creds.iter().filter(|(o, t, ssh)| keep(o, t, *ssh)).map(|(_, t, _)| t.authorization_id.clone()).collect()
    };
    // Owner removed from the organization, credential still valid.
    let not_member = ids(&|o, t, _| active(t) && seeded.not_members.contains(o));
    // Owner's last sign-in over 90 days ago, or never (members only: entitlements list them).
    let idle = seeded.inactive(90, as_of());
    let inactive = ids(&|o, t, _| active(t) && idle.contains(o));
    // A leak event in the audit log for a credential that still works.
    let leaked = ids(&|_, t, _| active(t) && seeded.leaked.contains(&t.authorization_id));
    // A PAT that lived through the whole 90-day window with no audited use in it.
    let window_start = as_of() - Duration::days(90);
    let unused = ids(&|_, t, ssh| {
        !ssh && active(t)
            && t.valid_from <= window_start
            && seeded.last_seen.get(&t.authorization_id).is_none_or(|seen| seen.at < window_start)
    });
    for (rule, expected) in
        [("owner-not-member", &not_member), ("owner-inactive", &inactive), ("leaked", &leaked), ("unused", &unused)]
    {
        assert!(!expected.is_empty(), "the demo seeds something for {rule}");
        assert_eq!(&fired(&record, rule), expected, "{rule}");
    }

    // Tenant policies switched off: one organization-level finding each, no token named.
    let policy_rule = |name: &str| match name {
        "TenantPolicy.RestrictGlobalPersonalAccessToken" => "policy-global-pat",
        "TenantPolicy.RestrictFullScopePersonalAccessToken" => "policy-full-scope",
        "TenantPolicy.RestrictPersonalAccessTokenLifespan" => "policy-max-lifespan",
        "TenantPolicy.EnableLeakedPersonalAccessTokenAutoRevocation" => "policy-leak-revocation",
        other => panic!("unknown policy {other}"),
    };
    let off: BTreeSet<&str> = seeded.policies_off().into_iter().map(policy_rule).collect();
    assert!(!off.is_empty());
    for rule in ["policy-global-pat", "policy-full-scope", "policy-max-lifespan", "policy-leak-revocation"] {
        let findings: Vec<&Value> =
            record["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == rule).collect();
        if off.contains(rule) {
            assert_eq!(findings.len(), 1, "{rule}");
            assert_eq!(findings[0]["scope"], "organization");
            assert_eq!(findings[0]["authorization_id"], "");
        } else {
            assert!(findings.is_empty(), "{rule} is on in the seed");
        }
    }

    // SSH keys are judged by lifetime and owner rules only, never by scope or use rules.
    let ssh: BTreeSet<String> = ids(&|_, _, ssh| ssh);
    assert_eq!(ssh, seeded.ssh_keys);
    for f in record["findings"].as_array().unwrap() {
        let id = f["authorization_id"].as_str().unwrap();
        if ssh.contains(id) {
            let rule = f["rule"].as_str().unwrap();
            assert!(
                !["full-access", "privileged-scope", "broad-scope", "unknown-scope", "all-organizations", "unused"]
                    .contains(&rule),
                "{rule} on SSH key {id}"
            );
        }
    }
}

#[test]
fn without_vso_auditlog_every_format_says_so_and_the_exit_code_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    // The same organization with the audit log readable: denying it changes no exit code.
    let full_sim = demo_org(SimConfig { users: 60, ..SimConfig::default() });
    let (full, _) = scan_json(&full_sim, &["--fail-on", "critical"], PAT);
    let sim = demo_org(SimConfig { users: 60, deny: [Source::Audit].into_iter().collect(), ..SimConfig::default() });
    let (scan, record) = scan_json(&sim, &["--fail-on", "critical"], PAT);
    assert_eq!(scan.code, full.code, "{}", scan.stderr);
    assert_eq!(record["evidence"]["sources"]["audit"]["status"], "unavailable");
    assert_eq!(record["evidence"]["sources"]["audit"]["reason"], "vso.auditlog missing");
    assert!(fired(&record, "unused").is_empty() && fired(&record, "leaked").is_empty(), "no claim without the log");

    let saved = dir.path().join("scan.json");
    std::fs::write(&saved, serde_json::to_string(&record).unwrap()).unwrap();
    let line = "evidence.audit: unavailable (vso.auditlog missing)";
    for format in ["table", "csv", "markdown", "html"] {
        let r = run(&["report", saved.to_str().unwrap(), "-o", format], &[]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(r.stdout.contains(line), "{format} does not say: {line}");
    }
    for format in ["markdown", "csv"] {
        let r = run(&["plan", saved.to_str().unwrap(), "-o", format], &[]);
        assert_eq!(r.code, 0, "plan {format}: {}", r.stderr);
        assert!(r.stdout.contains(line), "plan {format} does not say: {line}");
    }
}
