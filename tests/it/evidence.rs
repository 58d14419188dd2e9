//! Evidence sources end to end: the binary scans the simulator with `--evidence`, and every
//! expectation is derived from what the simulator was seeded with (`SeededEvidence`), never from
//! the scanner.

use crate::common;

use common::{TestSim, record_ids, record_ids_of_kind, scan_json, sim_config};
use pat2entra::sim::{AuditOff, Faults, SeededEvidence, SimConfig};
use pat2entra_core::evidence::{LastAccessed, Source};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const PAT: &str = "evidence-pat-3141";

fn sim(config: SimConfig) -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..config })
}

fn source<'a>(record: &'a Value, name: &str) -> &'a Value {
    &record["evidence"]["sources"][name]
}

fn describe(record: &Value, name: &str) -> String {
    let s = source(record, name);
    match s["reason"].as_str() {
        Some(reason) => format!("{} ({reason})", s["status"].as_str().unwrap_or("?")),
        None => s["status"].as_str().unwrap_or("absent").to_string(),
    }
}

fn owners(record: &Value) -> BTreeMap<String, &Value> {
    record["owners"].as_array().unwrap().iter().map(|o| (o["descriptor"].as_str().unwrap().to_string(), o)).collect()
}

fn tokens(record: &Value) -> BTreeMap<String, &Value> {
    record["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["authorization_id"].as_str().unwrap().to_string(), t))
        .collect()
}

#[test]
fn every_default_source_is_read_and_joined_as_seeded() {
    let sim = sim(sim_config());
    let seeded = sim.sim().org().seeded_evidence();
    let (run, record) = scan_json(&sim, &[], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(record["coverage"]["complete"], true, "{}", record["coverage"]);
    for name in ["entitlements", "membership", "audit", "ssh"] {
        assert_eq!(describe(&record, name).split(' ').next(), Some("complete"), "{name}: {}", describe(&record, name));
    }
    assert!(source(&record, "policies").is_null(), "policies are opt-in");
    assert_eq!(record_ids(&record), common::expected_ids(sim.sim()));

    // Owners: membership, last access, access level.
    let owners = owners(&record);
    for (descriptor, owner) in &owners {
        let removed = seeded.not_members.contains(descriptor);
        assert_eq!(owner["member"], Value::Bool(!removed), "{descriptor}");
        match seeded.last_accessed.get(descriptor) {
            Some(LastAccessed::Never) => assert_eq!(owner["last_accessed"], "never", "{descriptor}"),
            Some(LastAccessed::At(t)) => {
                let read: chrono::DateTime<chrono::Utc> = owner["last_accessed"].as_str().unwrap().parse().unwrap();
                assert_eq!(read, *t, "{descriptor}");
            }
            None => assert!(owner["last_accessed"].is_null(), "{descriptor}: no entitlement, nothing said"),
        }
        if let Some(level) = seeded.access_level.get(descriptor) {
            assert_eq!(owner["access_level"]["status"], level.status.as_str(), "{descriptor}");
        }
    }
    assert!(!seeded.not_members.is_empty() && !seeded.never_signed_in().is_empty());

    // SSH keys, of kind ssh, owned as seeded.
    let ssh: BTreeSet<String> = record_ids_of_kind(&record, "ssh").into_iter().collect();
    assert_eq!(ssh, seeded.ssh_keys);
    let tokens = tokens(&record);
    for id in &seeded.ssh_keys {
        assert_eq!(tokens[id]["owner"].as_str(), seeded.owner_of.get(id).map(String::as_str), "{id}");
    }

    // The audit log: leaks, events and last use on exactly the seeded credentials.
    let leaked: BTreeSet<String> = tokens
        .iter()
        .filter(|(_, t)| t["events"].as_array().is_some_and(|e| e.iter().any(|e| e["kind"] == "leaked")))
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(leaked, seeded.leaked);
    assert!(!leaked.is_empty());
    for (id, token) in &tokens {
        let events: Vec<(String, String)> = token["events"]
            .as_array()
            .map(|e| {
                e.iter().map(|e| (e["kind"].as_str().unwrap().into(), e["action"].as_str().unwrap().into())).collect()
            })
            .unwrap_or_default();
        let expected: Vec<(String, String)> = seeded
            .events
            .get(id)
            .map(|e| e.iter().map(|e| (e.kind.as_str().to_string(), e.action.clone())).collect())
            .unwrap_or_default();
        assert_eq!(events, expected, "events of {id}");
        match seeded.last_seen.get(id) {
            Some(seen) => {
                assert_eq!(token["last_seen"]["action"], seen.action.as_str(), "{id}");
                let at: chrono::DateTime<chrono::Utc> = token["last_seen"]["at"].as_str().unwrap().parse().unwrap();
                assert_eq!(at, seen.at, "{id}");
                assert_eq!(token["last_seen"]["source"], "audit");
            }
            None => assert!(token["last_seen"].is_null(), "{id} was not used in the window"),
        }
    }
    let window = &record["evidence"]["audit_window"];
    assert_eq!(window["end"], "2026-11-26T00:00:00Z");
    assert_eq!(window["start"], "2026-08-28T00:00:00Z");
}

#[test]
fn without_vso_auditlog_the_scan_completes_and_exits_as_before() {
    let denied = sim(SimConfig { deny: [Source::Audit].into_iter().collect(), ..sim_config() });
    let (run, record) = scan_json(&denied, &[], PAT);
    let (bare_run, bare) = scan_json(&denied, &["--evidence", "none"], PAT);
    assert_eq!(run.code, bare_run.code, "{}", run.stderr);
    assert_eq!(run.code, 0);
    assert_eq!(describe(&record, "audit"), "unavailable (vso.auditlog missing)");
    assert_eq!(record["coverage"]["complete"], true);
    // Nothing hidden: every PAT of the bare inventory is there.
    assert_eq!(record_ids(&record), record_ids(&bare));
    assert!(
        record["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["last_seen"].is_null() && t["events"].as_array().is_none_or(|e| e.is_empty()))
    );
    // A bare inventory says nothing about evidence at all.
    assert!(
        bare.get("evidence").is_none_or(|e| e["sources"].as_object().is_none_or(|s| s.is_empty())),
        "{}",
        bare["evidence"]
    );
}

#[test]
fn auditing_off_and_denied_per_owner_sources_say_why() {
    let sim = sim(SimConfig {
        audit_off: Some(AuditOff::Refuse),
        deny: [Source::Membership, Source::Policies].into_iter().collect(),
        ..sim_config()
    });
    let (run, record) = scan_json(&sim, &["--evidence", "+policies"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(describe(&record, "audit"), "unavailable (auditing is off in this organization)");
    assert!(describe(&record, "policies").starts_with("unavailable (the Azure DevOps Administrator role missing"));
    assert_eq!(describe(&record, "entitlements"), "complete");
    // Graph refused: the members User Entitlements lists are members all the same; nothing is
    // said of the others.
    let seeded = sim.sim().org().seeded_evidence();
    let entitled = entitled(&seeded);
    let owners = owners(&record);
    let absent = owners.keys().filter(|d| !entitled.contains(*d)).count();
    assert_eq!(
        describe(&record, "membership"),
        format!(
            "partial (vso.graph missing; {absent} of {} owners not read; {} inferred from User Entitlements)",
            owners.len(),
            owners.len() - absent
        )
    );
    for (descriptor, owner) in &owners {
        let expected = if entitled.contains(descriptor) { Value::Bool(true) } else { Value::Null };
        assert_eq!(owner["member"], expected, "{descriptor}");
    }
}

/// Owners User Entitlements lists as members (`active` or `pending`), as seeded.
fn entitled(seeded: &SeededEvidence) -> BTreeSet<String> {
    seeded
        .access_level
        .iter()
        .filter(|(_, level)| matches!(level.status.as_str(), "active" | "pending"))
        .map(|(descriptor, _)| descriptor.clone())
        .collect()
}

#[test]
fn membership_is_asked_only_of_owners_user_entitlements_does_not_list() {
    use std::sync::atomic::Ordering::Relaxed;
    let sim = sim(SimConfig { removed_owners_not_found: true, ..sim_config() });
    let seeded = sim.sim().org().seeded_evidence();
    let stats = sim.sim().stats();
    let counters = || {
        [&stats.requests, &stats.membership_requests, &stats.entitlement_pages, &stats.audit_pages]
            .map(|c| c.load(Relaxed) as usize)
    };
    let (run, record) = scan_json(&sim, &[], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let [requests, membership, entitlement_pages, audit_pages] = counters();
    let owners = owners(&record);
    let entitled = entitled(&seeded);
    let absent: BTreeSet<&String> = owners.keys().filter(|d| !entitled.contains(*d)).collect();
    assert!(!seeded.not_members.is_empty() && seeded.not_members.iter().all(|d| absent.contains(d)));
    // One request per owner User Entitlements does not list as a member (the removed ones
    // among them), none for the others; every removed owner is still told apart.
    assert_eq!(membership, absent.len());
    for (descriptor, owner) in &owners {
        let removed = seeded.not_members.contains(descriptor);
        assert_eq!(owner["member"], Value::Bool(!removed), "{descriptor}");
    }
    assert_eq!(
        describe(&record, "membership"),
        format!(
            "complete ({} inferred from User Entitlements, {} asked of Graph)",
            owners.len() - absent.len(),
            absent.len()
        )
    );

    // What evidence adds to a bare inventory: an SSH listing per owner (none where Token Admin
    // already answered "none": removed owners without PATs, subjects that cannot own PATs), a
    // membership request per owner not listed as a member, and the organization-wide pages.
    let (_, bare) = scan_json(&sim, &["--evidence", "none"], PAT);
    let bare_requests = counters()[0] - requests;
    let added = requests - bare_requests;
    let answered_none: BTreeSet<&String> = seeded
        .token_admin_not_found
        .iter()
        .chain(&seeded.cannot_own_tokens)
        .filter(|d| owners.contains_key(*d))
        .collect();
    let listed_absent = absent.iter().filter(|d| !answered_none.contains(**d)).count();
    assert!(
        added <= owners.len() + listed_absent + entitlement_pages + audit_pages,
        "evidence added {added} requests: {} owners, {listed_absent} listed by Token Admin but not by User Entitlements, {entitlement_pages} + {audit_pages} pages",
        owners.len()
    );
    assert!(bare["tokens"].as_array().unwrap().len() <= record["tokens"].as_array().unwrap().len());

    // Without User Entitlements nothing tells members apart: one request per owner.
    let (run, record) = scan_json(&sim, &["--evidence", "membership"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counters()[1] - membership, owners.len());
    let again = self::owners(&record);
    for descriptor in &seeded.not_members {
        assert_eq!(again[descriptor]["member"], false, "{descriptor}");
    }
    assert_eq!(
        describe(&record, "membership"),
        format!("complete ({} asked of Graph, User Entitlements not requested)", owners.len())
    );
}

#[test]
fn policies_are_read_when_asked() {
    let sim = sim(sim_config());
    let seeded = sim.sim().org().seeded_evidence();
    let (run, record) = scan_json(&sim, &["--evidence", "policies"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(describe(&record, "policies"), "complete");
    let policies = &record["evidence"]["policies"];
    assert_eq!(policies["restrict_global_pat"], seeded.policies.restrict_global_pat.map_or(Value::Null, Value::Bool));
    assert_eq!(
        policies["restrict_full_scope_pat"],
        seeded.policies.restrict_full_scope_pat.map_or(Value::Null, Value::Bool)
    );
    assert_eq!(
        policies["max_pat_lifespan_days"],
        seeded.policies.max_pat_lifespan_days.map_or(Value::Null, Value::from)
    );
    assert_eq!(
        policies["leaked_pat_auto_revocation"],
        seeded.policies.leaked_pat_auto_revocation.map_or(Value::Null, Value::Bool)
    );
    // Only the sources asked for.
    assert_eq!(record["evidence"]["sources"].as_object().unwrap().len(), 1);
}

#[test]
fn audit_pages_of_one_and_two_entries_and_wide_slices_find_every_event_once() {
    let small = SimConfig { users: 25, ..sim_config() };
    let mut seen = Vec::new();
    for extra in [
        &["--evidence", "audit", "--audit-batch-size", "1"][..],
        &["--evidence", "audit", "--audit-batch-size", "2", "--audit-slice", "90d"][..],
    ] {
        let sim = sim(small.clone());
        let seeded = sim.sim().org().seeded_evidence();
        let (run, record) = scan_json(&sim, extra, PAT);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            describe(&record, "audit").split(' ').next(),
            Some("complete"),
            "{extra:?}: {}",
            describe(&record, "audit")
        );
        let tokens = tokens(&record);
        let events: usize = tokens.values().map(|t| t["events"].as_array().map_or(0, Vec::len)).sum();
        let expected: usize =
            seeded.events.iter().filter(|(id, _)| tokens.contains_key(*id)).map(|(_, e)| e.len()).sum();
        assert_eq!(events, expected, "{extra:?}: every event exactly once");
        let last_seen: BTreeSet<&str> =
            tokens.iter().filter(|(_, t)| !t["last_seen"].is_null()).map(|(id, _)| id.as_str()).collect();
        let expected_seen: BTreeSet<&str> =
            seeded.last_seen.keys().map(String::as_str).filter(|id| tokens.contains_key(*id)).collect();
        assert_eq!(last_seen, expected_seen, "{extra:?}");
        seen.push(record["tokens"].clone());
    }
    assert_eq!(seen[0], seen[1], "slicing and page size change nothing");
}

#[test]
fn a_removed_owner_token_admin_does_not_know_is_an_answer_with_membership_and_a_gap_without() {
    let sim = sim(SimConfig { removed_owners_not_found: true, ..sim_config() });
    let seeded = sim.sim().org().seeded_evidence();
    assert!(!seeded.token_admin_not_found.is_empty(), "the seed has a removed owner without PATs");
    let (run, record) = scan_json(&sim, &["--evidence", "membership"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(record["coverage"]["complete"], true, "{}", record["coverage"]);
    let owners = owners(&record);
    for descriptor in &seeded.token_admin_not_found {
        assert_eq!(owners[descriptor]["member"], false, "{descriptor}");
    }
    // Without membership, the 404 cannot be told from a failure: a coverage gap, exit 4.
    let (run, record) = scan_json(&sim, &["--evidence", "none"], PAT);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let failed: BTreeSet<String> = record["coverage"]["owners_failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["descriptor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, seeded.token_admin_not_found);
}

#[test]
fn transient_faults_on_evidence_are_retried_and_change_nothing() {
    // Throttling, 503s, dropped connections and cut bodies: all retried. (Well-formed answers
    // of the wrong shape are not retried; they make a source partial, see the client's tests.)
    let faults = Faults {
        throttle_rate: 0.05,
        unavailable_rate: 0.03,
        reset_rate: 0.02,
        truncate_rate: 0.03,
        retry_after: std::time::Duration::ZERO,
        ..Faults::default()
    };
    let clean = sim(sim_config());
    let (_, clean_record) = scan_json(&clean, &["--evidence", "+policies"], PAT);
    let faulty = sim(SimConfig { faults, ..sim_config() });
    let (run, record) = scan_json(&faulty, &["--evidence", "+policies"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(faulty.sim().stats().faults_injected.load(std::sync::atomic::Ordering::Relaxed) > 0);
    for name in ["entitlements", "membership", "audit", "ssh", "policies"] {
        assert_eq!(describe(&record, name).split(' ').next(), Some("complete"), "{name}: {}", describe(&record, name));
    }
    assert_eq!(record["tokens"], clean_record["tokens"]);
    assert_eq!(record["owners"], clean_record["owners"]);
    assert_eq!(record["evidence"], clean_record["evidence"]);
}

#[test]
fn unknown_evidence_sources_and_oversized_pages_are_refused_with_the_valid_values() {
    let sim = sim(sim_config());
    let (run, _) = scan_json(&sim, &["--evidence", "audit,logs"], PAT);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown evidence source 'logs'"), "{}", run.stderr);
    assert!(run.stderr.contains("entitlements, membership, audit, ssh, policies, none"), "{}", run.stderr);
    let (run, _) = scan_json(&sim, &["--page-size", "1000"], PAT);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("1 to 100"), "{}", run.stderr);
}
