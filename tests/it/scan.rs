//! End-to-end scans: the real binary against the simulator over loopback HTTP.

use crate::common;

use common::{TestSim, expected_ids, record_ids, run, scan_json, sim_config};
use pat2entra::sim::{Faults, SimConfig};

const PAT: &str = "test-pat-3f9c2a71e4b8d6";

fn sim_with_pat(config: SimConfig) -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..config })
}

#[test]
fn a_scan_finds_every_token_once_with_the_required_record_fields() {
    let sim = sim_with_pat(sim_config());
    let (run, record) = scan_json(&sim, &[], PAT);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(record_ids(&record), expected_ids(sim.sim()));
    assert_eq!(record["schema_version"], pat2entra::record::SCHEMA_VERSION);
    assert_eq!(record["organization"], "fabrikam");
    assert_eq!(record["as_of"], "2026-11-26T00:00:00Z");
    let coverage = &record["coverage"];
    assert_eq!(coverage["complete"], true);
    assert_eq!(coverage["owners_listed"], coverage["owners_scanned"]);
    assert_eq!(coverage["owners_failed"].as_array().unwrap().len(), 0);
    // Every kind of user that can own a PAT is listed (aad, msa, csp, bnd, svc): the seeded
    // 60 people and service accounts plus the partner, invited and service identities.
    let kinds = |k: &str| sim.sim().org().users().filter(|u| u.subject_type() == k).count();
    assert_eq!(coverage["owners_listed"], common::SCANNED_KINDS.iter().map(|k| kinds(k)).sum::<usize>());
    assert!(kinds("svc") > 0, "the seed has service identities: Token Admin's 400 for them is no gap");
    let token = &record["tokens"][0];
    for field in [
        "authorization_id",
        "owner",
        "display_name",
        "scopes",
        "all_organizations",
        "valid_from",
        "valid_to",
        "is_valid",
    ] {
        assert!(token.get(field).is_some(), "token lacks {field}");
    }
    let findings = record["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for field in ["rule", "severity", "authorization_id", "owner", "message"] {
        assert!(findings[0].get(field).is_some(), "finding lacks {field}");
    }
    let rules: std::collections::BTreeSet<&str> = findings.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    for rule in
        ["all-organizations", "full-access", "long-lived", "privileged-scope", "owner-removed", "service-account"]
    {
        assert!(rules.contains(rule), "the seeded organization triggers {rule}: {rules:?}");
    }
    assert!(!rules.contains("expired") && !rules.contains("revoked"), "inactive tokens are counted, not reported");
}

#[test]
fn paging_with_tiny_pages_finds_every_token_exactly_once() {
    for graph_page_size in [1, 2] {
        for page_size in ["1", "2"] {
            let sim = sim_with_pat(SimConfig { users: 25, graph_page_size, ..sim_config() });
            let (run, record) = scan_json(&sim, &["--page-size", page_size], PAT);
            assert_eq!(run.code, 0, "stderr: {}", run.stderr);
            let ids = record_ids(&record);
            let expected = expected_ids(sim.sim());
            assert_eq!(ids, expected, "graph page {graph_page_size}, token page {page_size}");
            let owners = record["owners"].as_array().unwrap();
            let listed = sim.sim().org().users().filter(|u| common::SCANNED_KINDS.contains(&u.subject_type())).count();
            assert_eq!(owners.len(), listed, "every user listed once");
            // More token pages than owners proves the body's continuation token was followed.
            let token_pages = sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed);
            assert!(token_pages as usize >= expected.len() / page_size.parse::<usize>().unwrap());
        }
    }
}

#[test]
fn an_owner_that_cannot_be_read_is_a_coverage_gap_and_exit_4() {
    let probe = TestSim::start(sim_config());
    let broken = probe.sim().org().user(3).unwrap().descriptor.clone();
    drop(probe);
    let sim = sim_with_pat(SimConfig {
        faults: Faults { failing_owners: [broken.clone()].into(), ..Faults::default() },
        ..sim_config()
    });
    let (run, record) = scan_json(&sim, &["--max-retries", "1"], PAT);
    assert_eq!(run.code, 4, "stderr: {}", run.stderr);
    assert!(run.stderr.contains("scan incomplete"), "{}", run.stderr);
    let coverage = &record["coverage"];
    assert_eq!(coverage["complete"], false);
    assert_eq!(coverage["owners_failed"][0]["descriptor"], broken.as_str());
    let error = coverage["owners_failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("HTTP 500") && error.contains("tokenadmin/personalaccesstokens"), "{error}");
    assert_eq!(coverage["owners_scanned"].as_u64().unwrap() + 1, coverage["owners_listed"].as_u64().unwrap());
    // Everyone else's tokens are all there.
    let broken_index = sim.sim().org().user_index(&broken).unwrap();
    let mut expected = expected_ids(sim.sim());
    expected.retain(|id| !sim.sim().org().tokens_of(broken_index).iter().any(|t| &t.authorization_id == id));
    assert_eq!(record_ids(&record), expected);

    // --allow-partial keeps the gap but exits 0.
    let (run, record) = scan_json(&sim, &["--allow-partial", "--max-retries", "0"], PAT);
    assert_eq!(run.code, 0);
    assert_eq!(record["coverage"]["complete"], false);
}

#[test]
fn malformed_token_pages_are_gaps_that_name_the_endpoint() {
    let probe = TestSim::start(sim_config());
    let broken = probe.sim().org().user(5).unwrap().descriptor.clone();
    drop(probe);
    let sim = sim_with_pat(SimConfig {
        faults: Faults { malformed_owners: [broken.clone()].into(), ..Faults::default() },
        ..sim_config()
    });
    let (run, record) = scan_json(&sim, &["--max-retries", "1"], PAT);
    assert_eq!(run.code, 4);
    let error = record["coverage"]["owners_failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("GET http://127.0.0.1:"), "{error}");
    assert!(error.contains("/fabrikam/_apis/tokenadmin/personalaccesstokens/"), "{error}");
    assert!(error.contains("not the expected JSON"), "{error}");
}

#[test]
fn a_malformed_user_listing_is_a_clear_error() {
    let sim = sim_with_pat(SimConfig { faults: Faults { malformed_rate: 1.0, ..Faults::default() }, ..sim_config() });
    let (run, record) = scan_json(&sim, &["--max-retries", "1"], PAT);
    assert_eq!(run.code, 4, "{}", run.stderr);
    // The simulator alternates a truncated body (retried) and well-formed JSON of the wrong
    // shape (not retried: it would come back the same).
    assert!(run.stderr.contains("not retried: the JSON is well-formed"), "{}", run.stderr);
    assert!(record.is_null(), "no record is written when the owners cannot be listed");
    assert!(run.stderr.contains("_apis/graph/users returned a body that is not the expected JSON"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn transient_faults_are_retried_and_change_nothing() {
    // The inventory only: a wrong-shape answer to an evidence source is not retried and makes
    // that source partial (tests/it/evidence.rs), which this exact comparison would not allow.
    let clean = sim_with_pat(sim_config());
    let (_, clean_record) = scan_json(&clean, &["--evidence", "none"], PAT);
    let faulty = sim_with_pat(SimConfig {
        faults: Faults {
            throttle_rate: 0.05,
            unavailable_rate: 0.03,
            reset_rate: 0.02,
            truncate_rate: 0.02,
            malformed_rate: 0.02,
            retry_after: std::time::Duration::ZERO,
            ..Faults::default()
        },
        ..sim_config()
    });
    let (run, record) = scan_json(&faulty, &["--evidence", "none"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(faulty.sim().stats().faults_injected.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(record["tokens"], clean_record["tokens"]);
    assert_eq!(record["findings"], clean_record["findings"]);
    assert_eq!(record["coverage"]["complete"], true);
}

#[test]
fn unknown_organization_is_a_usage_error() {
    let sim = sim_with_pat(sim_config());
    let base = sim.base_url();
    let run = run(&["scan", "--org", "nosuchorg", "--base-url", &base], &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("organization 'nosuchorg' was not found"), "{}", run.stderr);
    assert!(run.stderr.contains("Check --org"), "{}", run.stderr);
}

#[test]
fn bad_credentials_are_an_auth_error_for_401_and_203() {
    for sign_in_page in [false, true] {
        let sim = sim_with_pat(SimConfig { sign_in_page_on_bad_credential: sign_in_page, ..sim_config() });
        let base = sim.base_url();
        let run =
            run(&["scan", "--org", "fabrikam", "--base-url", &base], &[("AZURE_DEVOPS_EXT_PAT", "wrong-pat-value")]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(run.stderr.contains("did not accept the credential"), "{}", run.stderr);
        let detail = if sign_in_page { "HTTP 203" } else { "HTTP 401" };
        assert!(run.stderr.contains(detail), "{}", run.stderr);
        assert!(!run.stderr.contains("wrong-pat-value"));
    }
}

#[test]
fn missing_token_admin_permission_names_the_role_and_scope() {
    let sim = sim_with_pat(SimConfig { deny_token_admin: true, ..sim_config() });
    let base = sim.base_url();
    let run = run(&["scan", "--org", "fabrikam", "--base-url", &base], &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("Project Collection Administrators"), "{}", run.stderr);
    assert!(run.stderr.contains("vso.tokenadministration"), "{}", run.stderr);
    // Stopped at the first refusal instead of asking for every owner.
    assert!(sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed) == 0);
}

#[test]
fn no_pat_in_the_environment_explains_what_to_set() {
    let run = run(&["scan", "--org", "contoso"], &[]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("AZURE_DEVOPS_EXT_PAT"), "{}", run.stderr);
    assert!(run.stderr.contains("--demo"));
}

#[test]
fn a_pat_is_never_accepted_as_a_flag() {
    for flag in ["--pat", "--token", "--password"] {
        let run = run(&["scan", "--org", "contoso", flag, "abc"], &[]);
        assert_eq!(run.code, 2, "{flag} must not exist");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let run = run(
        &["scan", "--org", "contoso", "--base-url", "http://ado-proxy.example.com"],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("clear text"), "{}", run.stderr);
}

#[test]
fn a_bad_rules_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my-rules.toml");
    std::fs::write(&path, "[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_days = \"ninety\"\n").unwrap();
    let run = run(&["scan", "--demo", "--rules", path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2);
    // Every problem, each its own `error:`, the bad value underlined.
    assert!(run.stderr.contains("my-rules.toml:3:21: [rules.long-lived] invalid type"), "{}", run.stderr);
    assert!(
        run.stderr.contains("\n3 | max_lifetime_days = \"ninety\"\n  |                     ^^^^^^^^\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("error: rules file ") && run.stderr.contains("my-rules.toml: no `extends`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("error: ").count(), 2, "{}", run.stderr);
}

#[test]
fn fail_on_gates_on_severity() {
    let sim = sim_with_pat(sim_config());
    let (run, _) = scan_json(&sim, &["--fail-on", "critical"], PAT);
    assert_eq!(run.code, 1, "the demo organization has global PATs (critical)");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("only-long-lived.toml");
    std::fs::write(&rules, "extends = \"none\"\n[rules.long-lived]\nseverity = \"low\"\nmax_lifetime_days = 90\n")
        .unwrap();
    let (run, record) = scan_json(&sim, &["--fail-on", "medium", "--rules", rules.to_str().unwrap()], PAT);
    assert_eq!(run.code, 0, "only low findings: {}", record["summary"]);
}

#[test]
fn the_demo_prints_a_summary_and_flagged_tokens() {
    let run = run(&["scan", "--demo", "--as-of", "2026-11-26"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("Organization fabrikam as of 2026-11-26"), "{}", run.stdout);
    // 300 people and service accounts, plus the partner, invited and service identities.
    let owners = run.stdout.lines().find(|l| l.starts_with("Owners:")).unwrap_or_default();
    let numbers: Vec<&str> = owners.split_whitespace().filter(|w| w.parse::<u32>().is_ok()).collect();
    assert!(numbers.len() == 2 && numbers[0] == numbers[1] && numbers[0].parse::<u32>().unwrap() > 300, "{owners}");
    assert!(owners.ends_with("scanned (complete)"), "{owners}");
    assert!(run.stdout.contains("critical ┆"), "{}", run.stdout);
    assert!(run.stderr.contains("no real tenant is contacted"));
}

#[test]
fn rules_check_validates_without_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "extends = \"default\"\n[rules.long-lived]\nmax_lifetime_days = 30\n").unwrap();
    let r = run(&["rules", "check", good.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("valid"), "{}", r.stdout);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[rules.ful-access]\nseverity = \"high\"\n").unwrap();
    let r = run(&["rules", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.toml:1:") && r.stderr.contains("did you mean `full-access`?"), "{}", r.stderr);
    for shipped in ["default.toml", "strict.toml"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/").to_string() + shipped;
        assert_eq!(run(&["rules", "check", &path], &[]).code, 0, "{shipped}");
    }
    let r = run(&["rules", "explain", "long-lived"], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("max_lifetime_days"));
}

#[test]
fn exceptions_keep_findings_as_suppressed_in_json_and_csv() {
    let sim = sim_with_pat(sim_config());
    let (_, first) = scan_json(&sim, &[], PAT);
    let target = first["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "full-access").unwrap().clone();
    let id = target["authorization_id"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "extends = \"default\"\n\n[[exception]]\nrule = \"full-access\"\nauthorization_id = \"{id}\"\nreason = \"migration in progress\"\nticket = \"SEC-42\"\nexpires = 2027-01-31\n\n[[exception]]\nowner = \"nobody@nowhere.example\"\nreason = \"left over\"\nticket = \"SEC-7\"\nexpires = 2027-01-31\n"
        ),
    )
    .unwrap();
    let rules_arg = rules.to_str().unwrap();
    let (_, record) = scan_json(&sim, &["--rules", rules_arg], PAT);
    let finding = record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "full-access" && f["authorization_id"] == id)
        .expect("the suppressed finding stays in the record");
    assert_eq!(finding["suppressed"]["reason"], "migration in progress");
    assert_eq!(finding["suppressed"]["ticket"], "SEC-42");
    assert_eq!(record["summary"]["suppressed_findings"], 1);
    assert_eq!(record["exceptions"][0]["status"], "active");
    assert_eq!(record["exceptions"][1]["status"], "stale");

    let csv_path = dir.path().join("f.csv");
    let base = sim.base_url();
    let r = run(
        &[
            "scan",
            "--org",
            "fabrikam",
            "--base-url",
            &base,
            "--rules",
            rules_arg,
            "-o",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let row = csv.lines().find(|l| l.contains(id) && l.contains("full-access")).unwrap();
    assert!(row.contains(",true,#1 SEC-42 until 2027-01-31: migration in progress"), "{row}");
}
