//! Guidance on every finding, and the retirement plan built from saved scans.

use crate::common;

use common::{RecordBuilder, TestSim, TokenBuilder, owner, run, scan_json, sim_config};
use pat2entra::inventory::{Owner, Token};
use pat2entra::plan::{self, Wave};
use pat2entra::record::ScanRecord;
use pat2entra::sim::SimConfig;
use serde_json::Value;

const PAT: &str = "guidance-test-pat";

#[test]
fn every_token_and_finding_of_the_seeded_organization_has_guidance() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), users: 300, ..sim_config() });
    let (run, record) = scan_json(&sim, &[], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let guidance_ids: Vec<&str> =
        record["guidance"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    let tokens = record["tokens"].as_array().unwrap();
    let usage = record["usage"].as_array().unwrap();
    assert_eq!(usage.len(), tokens.len(), "one usage per token");
    for u in usage {
        let g = u["guidance"].as_str().unwrap();
        assert!(guidance_ids.contains(&g), "usage points at {g}, which the record does not carry");
        assert!(!u["evidence"].as_array().unwrap().is_empty(), "{u}");
        assert!(["high", "medium", "low"].contains(&u["confidence"].as_str().unwrap()));
    }
    let findings = record["findings"].as_array().unwrap();
    for f in findings {
        let g = f["guidance"].as_str().unwrap_or_else(|| panic!("finding without guidance: {f}"));
        assert!(guidance_ids.contains(&g), "{g}");
    }
    // The seeded names and scopes are recognised: most tokens get a confident use.
    let unknown = usage.iter().filter(|u| u["use"] == "unknown").count();
    assert!(unknown * 4 < usage.len(), "{unknown} of {} tokens have an unknown use", usage.len());
    for g in record["guidance"].as_array().unwrap() {
        assert!(g["learn"].as_str().unwrap().starts_with("https://learn.microsoft.com/"));
    }
}

fn token(id: &str, owner: &str, name: &str, scopes: &[&str], global: bool, days_left: i64) -> Token {
    TokenBuilder::new(id, owner).name(name).scopes(scopes).global(global).expires_in_days(days_left).build()
}

fn record() -> ScanRecord {
    let owner = |d: &str, upn: &str, name: &str| Owner { mail: None, ..owner(d, upn, name) };
    RecordBuilder::new()
        .owners(vec![
            owner("aad.a", "alice@contoso.com", "<script>alert(1)</script> | **Alice**"),
            owner("aad.b", "bob@contoso.com", "Bob"),
        ])
        .tokens(vec![
            token("global-git", "aad.a", "git clone", &["vso.code"], true, 40),
            token("full", "aad.a", "=cmd|' /C calc'!A0", &["app_token"], false, 40),
            token("feed", "aad.b", "nuget feed", &["vso.packaging"], false, 20),
            token("expired", "aad.b", "old", &["vso.code"], false, -3),
        ])
        .build()
}

#[test]
fn waves_and_due_dates_follow_severity_deadlines_and_expiry() {
    let plan = plan::build(&record());
    let item = |id: &str| plan.owners.iter().flat_map(|o| &o.items).find(|i| i.authorization_id == id).unwrap().clone();
    // Global PAT (critical): now, due on the global PAT retirement date, which comes before a week.
    let global = item("global-git");
    assert_eq!((global.wave, global.due.to_string().as_str()), (Wave::Now, "2026-12-01"));
    assert_eq!(global.guidance, "git-credential-manager-oauth");
    // Full access (high): next, within a month.
    let full = item("full");
    assert_eq!((full.wave, full.due.to_string().as_str()), (Wave::Next, "2026-12-26"));
    // Nothing worse than medium: at natural expiry.
    let feed = item("feed");
    assert_eq!((feed.wave, feed.due.to_string().as_str()), (Wave::AtExpiry, "2026-12-16"));
    assert_eq!(feed.guidance, "artifacts-credential-provider");
    assert_eq!(plan.inactive_tokens, 1, "the expired token needs nothing");
    assert_eq!(plan.owners[0].principal_name, "alice@contoso.com", "the most urgent owner comes first");
    assert_eq!(plan.owners[0].set_up_first[0], "git-credential-manager-oauth");
}

#[test]
fn plan_outputs_escape_hostile_names_and_neutralise_formulas() {
    let record = record();
    let plan = plan::build(&record);
    let mut md = Vec::new();
    plan::render_markdown(&plan, &|id| record.guidance(id).cloned(), &mut md).unwrap();
    let md = String::from_utf8(md).unwrap();
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("&lt;script&gt;"));
    assert!(
        md.contains("## &lt;script&gt;alert\\(1\\)&lt;/script&gt; \\| \\*\\*Alice\\*\\* (alice@contoso.com)"),
        "{md}"
    );
    let mut csv = Vec::new();
    plan::render_csv(&plan, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains(",'=cmd|' /C calc'!A0,"), "{csv}");
    assert!(csv.starts_with("owner_principal_name,owner_display_name,authorization_id,token_name,wave,due_date,"));
}

#[test]
fn the_plan_command_reads_a_saved_scan() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    let r = run(&["scan", "--demo", "--as-of", "2026-11-26", "-q", "-o", "json", "--out", scan.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["plan", scan.to_str().unwrap(), "-o", "csv"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let waves: Vec<&str> = r.stdout.lines().skip(1).map(|l| l.split(',').nth(4).unwrap_or_default()).collect();
    assert!(waves.contains(&"now") && waves.contains(&"next") && waves.contains(&"at-expiry"));

    let not_a_scan = dir.path().join("x.json");
    std::fs::write(&not_a_scan, "{\"hello\": 1}").unwrap();
    let r = run(&["plan", not_a_scan.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a pat2entra scan"), "{}", r.stderr);
    let r = run(&["plan", "/nonexistent/scan.json"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/scan.json: cannot read it"), "{}", r.stderr);
}

#[test]
fn explain_prints_rules_and_guidance() {
    let r = run(&["explain", "git-credential-manager-oauth"], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("credential.azReposCredentialType oauth") && r.stdout.contains("Microsoft Learn:"));
    let r = run(&["explain", "all-organizations"], &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("retirement_date"));
    let r = run(&["explain", "nonsense"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("neither a rule id nor a guidance id"));
}

#[test]
fn json_findings_carry_the_guidance_id_and_csv_the_action() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..sim_config() });
    let (_, record) = scan_json(&sim, &[], PAT);
    let f: &Value = &record["findings"][0];
    assert!(f["guidance"].is_string());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    let base = sim.base_url();
    let r = run(
        &["scan", "--org", "fabrikam", "--base-url", &base, "-o", "csv", "--out", out.to_str().unwrap()],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 0);
    let csv = std::fs::read_to_string(out).unwrap();
    assert!(csv.lines().next().unwrap().contains(",guidance,action,"));
    assert!(csv.lines().nth(1).unwrap().contains("Microsoft Entra") || csv.contains("git-credential-manager-oauth"));
}
