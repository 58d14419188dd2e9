//! Truth to the live service: every reading Microsoft's documents leave open, run both ways
//! against the simulator's `--behaviour` variants. The expected results come from the
//! simulator's seed and the variant's definition, never from the scanner.

use crate::common;

use chrono::{DateTime, Utc};
use common::{TestSim, as_of, path_without_clis, read_json, run, scan_json, sim_config, write_script};
use pat2entra::sim::{Behaviour, Principal, RateLimit, SimConfig, SimOrg, SimToken};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const PAT: &str = "service-pat";

/// Every variant the acceptance asks for.
const VARIANTS: [&str; 7] = [
    "",
    "target-accounts=empty",
    "revoked=hidden,expired=hidden",
    "expired=invalid",
    "end=zero-guid",
    "end=empty,target-accounts=empty",
    "page-size-limit=50",
];

fn sim(config: SimConfig, behaviour: &str) -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), behaviour: behaviour.parse().unwrap(), ..config })
}

/// `(owner, token)` for every token of the seed, whether listed or not.
fn seeded(org: &SimOrg) -> Vec<(String, SimToken)> {
    org.users()
        .zip(org.all_tokens())
        .filter(|(u, _)| common::SCANNED_KINDS.contains(&u.subject_type()))
        .flat_map(|(u, tokens)| tokens.into_iter().map(move |t| (u.descriptor.clone(), t)))
        .collect()
}

/// Whether the variant's Token Admin lists the token, from the variant's definition.
fn listed(b: &Behaviour, t: &SimToken, now: DateTime<Utc>) -> bool {
    (t.is_valid || b.lists_revoked) && (t.valid_to > now || b.lists_expired)
}

fn active(t: &SimToken, now: DateTime<Utc>) -> bool {
    t.is_valid && t.valid_to > now
}

fn ids<'a>(it: impl Iterator<Item = &'a SimToken>) -> BTreeSet<String> {
    it.map(|t| t.authorization_id.clone()).collect()
}

/// All-organizations findings of the record: (high-confidence ids, low-confidence ids).
fn global_findings(record: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut high, mut low) = (BTreeSet::new(), BTreeSet::new());
    for f in record["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "all-organizations") {
        let id = f["authorization_id"].as_str().unwrap().to_string();
        let message = f["message"].as_str().unwrap();
        if f["confidence"] == "low" {
            assert!(message.contains("not confirmed: Token Admin left targetAccounts empty"), "{message}");
            low.insert(id);
        } else {
            assert!(f.get("confidence").is_none() && !message.contains("not confirmed"), "{f}");
            high.insert(id);
        }
    }
    (high, low)
}

#[test]
fn for_every_variant_the_scan_judges_what_the_seed_holds() {
    let now = as_of();
    for variant in VARIANTS {
        let sim = sim(sim_config(), variant);
        let b = &sim.sim().config().behaviour;
        let seed = seeded(sim.sim().org());
        let extra: &[&str] = if b.page_size_limit.is_some() { &["--page-size", "50"] } else { &[] };
        let (r, record) = scan_json(&sim, extra, PAT);
        assert_eq!(r.code, 0, "{variant}: {}", r.stderr);
        assert_eq!(record["coverage"]["complete"], true, "{variant}");

        // Exactly the tokens the variant lists: none lost at a zero GUID or an empty end.
        let expected = ids(seed.iter().map(|(_, t)| t).filter(|t| listed(b, t, now)));
        let got: BTreeSet<String> = record["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "pat")
            .map(|t| t["authorization_id"].as_str().unwrap().into())
            .collect();
        assert_eq!(got, expected, "{variant}");

        // Global PATs: confirmed exactly when Token Admin fills the field; never confirmed when
        // it leaves it empty, yet none missed.
        let truly_global = ids(seed.iter().map(|(_, t)| t).filter(|t| active(t, now) && t.target_accounts.is_none()));
        let active_ids = ids(seed.iter().map(|(_, t)| t).filter(|t| active(t, now)));
        let (high, low) = global_findings(&record);
        let service = &record["service"];
        if b.fills_target_accounts {
            assert_eq!(high, truly_global, "{variant}");
            assert!(low.is_empty(), "{variant}");
            assert_eq!(service["fills_target_accounts"], serde_json::json!({"value": true, "basis": "inferred"}));
        } else {
            assert!(high.is_empty(), "{variant}: no PAT judged global on an empty targetAccounts");
            assert!(low.is_superset(&truly_global), "{variant}: no global PAT missed");
            assert_eq!(low, active_ids, "{variant}");
            assert_eq!(service["fills_target_accounts"], serde_json::json!({"value": null, "basis": "unknown"}));
        }
        assert_eq!(service["organization_id"].as_str(), b.fills_target_accounts.then_some(sim.sim().org().id.as_str()));

        // What the data shows about listing and the end of paging.
        let revoked_seen = seed.iter().any(|(_, t)| !t.is_valid && listed(b, t, now));
        assert_eq!(
            service["lists_revoked"]["value"],
            if revoked_seen { Value::Bool(true) } else { Value::Null },
            "{variant}"
        );
        let end = match b.paging_end {
            pat2entra::sim::SimPagingEnd::Null => "null",
            pat2entra::sim::SimPagingEnd::Empty => "empty",
            pat2entra::sim::SimPagingEnd::ZeroGuid => "zero_guid",
        };
        assert_eq!(service["paging_end"], serde_json::json!({"value": end, "basis": "inferred"}), "{variant}");
    }
}

/// A seed whose administrator (the first Entra user, whom a user token signs in as) owns an
/// organization-scoped PAT, a global one, a revoked one and an expired one: what the probe
/// compares.
fn probe_seed() -> u64 {
    let now = as_of();
    (1..500)
        .find(|seed| {
            let org = SimOrg::generate("fabrikam", *seed, 60, now, None);
            let Some(i) = org.users().position(|u| u.subject_type() == "aad") else { return false };
            let tokens = org.tokens_of(i);
            tokens.iter().any(|t| t.target_accounts.is_some())
                && tokens.iter().any(|t| !t.is_valid && t.valid_to > now)
                && tokens.iter().any(|t| t.is_valid && t.valid_to <= now)
        })
        .expect("a seed whose administrator has organization-scoped, revoked and expired PATs")
}

/// `whoami --probe --save-profile` as the administrator with a user's Entra token (`az`).
fn probe(sim: &TestSim, dir: &std::path::Path) -> (common::Run, std::path::PathBuf) {
    let tenant = sim.sim().tenant_id().to_string();
    let (token, expires_on) = sim.sim().issue_token(&tenant, Principal::Administrator, Duration::from_secs(3600));
    let json = serde_json::json!({"accessToken": token, "expires_on": expires_on, "tokenType": "Bearer"});
    std::fs::write(dir.join("az.json"), json.to_string()).unwrap();
    write_script(dir, "az", &format!("cat '{}/az.json'", dir.display()));
    let path = path_without_clis(Some(dir));
    let profile = dir.join("profile.json");
    let base = sim.base_url();
    let r = run(
        &["whoami", "--org", "fabrikam", "--base-url", &base, "--probe", "--save-profile", profile.to_str().unwrap()],
        &[("PATH", &path)],
    );
    (r, profile)
}

#[test]
fn whoami_probe_reports_each_variant_exactly_and_a_scan_given_the_profile_follows_it() {
    let seed = probe_seed();
    for variant in [
        "",
        "target-accounts=empty,end=zero-guid",
        "revoked=hidden,expired=invalid,page-size-limit=73",
        "expired=hidden,end=empty",
    ] {
        let sim = sim(SimConfig { seed, ..sim_config() }, variant);
        let b = sim.sim().config().behaviour.clone();
        let dir = tempfile::tempdir().unwrap();
        let (r, path) = probe(&sim, dir.path());
        assert_eq!(r.code, 0, "{variant}: {}\n{}", r.stderr, r.stdout);
        assert!(r.stdout.contains("service behaviour (whoami --probe):"), "{}", r.stdout);
        let profile = read_json(&path);
        let s = &profile["behaviour"];
        assert_eq!(profile["version"], 1);
        assert_eq!(s["organization_id"], sim.sim().org().id.as_str(), "{variant}");
        assert_eq!(s["fills_target_accounts"]["value"], b.fills_target_accounts, "{variant}: {}", r.stdout);
        assert_eq!(s["lists_revoked"]["value"], b.lists_revoked, "{variant}: {}", r.stdout);
        assert_eq!(s["lists_expired"]["value"], b.lists_expired, "{variant}: {}", r.stdout);
        if b.lists_expired {
            assert_eq!(s["expired_marked_invalid"]["value"], b.expired_marked_invalid, "{variant}: {}", r.stdout);
        }
        let end = match b.paging_end {
            pat2entra::sim::SimPagingEnd::Null => "null",
            pat2entra::sim::SimPagingEnd::Empty => "empty",
            pat2entra::sim::SimPagingEnd::ZeroGuid => "zero_guid",
        };
        assert_eq!(s["paging_end"]["value"], end, "{variant}");
        // Without a limit the largest size tried is accepted (the simulator clamps it).
        assert_eq!(s["max_page_size"]["value"], b.page_size_limit.unwrap_or(1000), "{variant}: {}", r.stdout);
        assert!(r.stdout.contains("  unknown user      HTTP 404 (the permission check passed"), "{}", r.stdout);
        assert!(r.stdout.contains("  unknown app       HTTP 404 (the permission check passed"), "{}", r.stdout);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "a private file");
        }

        // The scan given the profile assumes it, says so, and judges accordingly.
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, "extends = \"default\"\n[rules.revoked]\nenabled = true\n").unwrap();
        let (r, record) =
            // Without the audit log: its expiry events would settle revoked-or-expired by themselves.
            scan_json(
                &sim,
                &["--service-profile", path.to_str().unwrap(), "--rules", rules.to_str().unwrap(), "--evidence", "none"],
                PAT,
            );
        assert_eq!(r.code, 0, "{variant}: {}", r.stderr);
        assert_eq!(record["coverage"]["complete"], true, "{variant}: the profile's page-size limit is kept");
        let service = &record["service"];
        assert!(service["profile"].as_str().unwrap().contains("profile.json"), "{service}");
        assert_eq!(service["fills_target_accounts"]["basis"], "profile");
        let (high, low) = global_findings(&record);
        if b.fills_target_accounts {
            assert!(low.is_empty() && !high.is_empty(), "{variant}");
        } else {
            assert!(high.is_empty() && !low.is_empty(), "{variant}");
            let f = record["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "all-organizations").unwrap();
            assert!(f["message"].as_str().unwrap().contains("known to leave it empty"), "{f}");
        }
        if b.expired_marked_invalid {
            let now = as_of();
            let expired_as_invalid = seeded(sim.sim().org())
                .into_iter()
                .filter(|(_, t)| t.is_valid && t.valid_to <= now)
                .map(|(_, t)| t.authorization_id)
                .collect::<BTreeSet<_>>();
            let told = record["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| {
                    f["rule"] == "revoked" && f["message"].as_str().unwrap().contains("expired, revoked or both")
                })
                .map(|f| f["authorization_id"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>();
            assert!(!expired_as_invalid.is_empty());
            assert_eq!(told, expired_as_invalid, "{variant}: expired PATs are not called revoked");
        }
    }
}

#[test]
fn a_pat_or_a_service_principal_cannot_use_the_lifecycle_api_and_is_told_so() {
    let sim = sim(sim_config(), "");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let base = sim.base_url();
    let r = run(
        &[
            "whoami",
            "--org",
            "fabrikam",
            "--base-url",
            &base,
            "--auth",
            "pat",
            "--probe",
            "--save-profile",
            profile.to_str().unwrap(),
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("it takes a user's Microsoft Entra token only, never a PAT"), "{}", r.stdout);
    let saved = read_json(&profile);
    assert_eq!(saved["behaviour"]["fills_target_accounts"]["value"], Value::Null, "unknown, not guessed");
    assert_eq!(saved["behaviour"]["paging_end"]["value"], "null", "what Token Admin alone shows is still read");

    // A service principal: told the same, and nothing of its own to compare.
    let sp = TestSim::start(SimConfig {
        entra: pat2entra::sim::SimEntra { client_secret: Some("probe-secret".into()), ..Default::default() },
        ..sim_config()
    });
    let tenant = sp.sim().tenant_id().to_string();
    let client_id = sp.sim().config().entra.client_id.clone();
    let mut args = vec![
        "whoami".to_string(),
        "--org".into(),
        "fabrikam".into(),
        "--base-url".into(),
        sp.base_url(),
        "--probe".into(),
    ];
    args.extend(common::authority_args(&sp));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(
        &args,
        &[("AZURE_CLIENT_ID", &client_id), ("AZURE_TENANT_ID", &tenant), ("AZURE_CLIENT_SECRET", "probe-secret")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("a service principal or managed identity cannot list PATs through it"), "{}", r.stdout);
    assert!(!r.stdout.contains("probe-secret") && !r.stderr.contains("probe-secret"));

    // --save-profile without --probe is refused by the parser.
    let r = run(&["whoami", "--org", "fabrikam", "--save-profile", "x.json"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A profile of another organization is refused before scanning.
    let r = run(
        &["scan", "--org", "contoso", "--base-url", &base, "--service-profile", profile.to_str().unwrap()],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("probed organization 'fabrikam', not 'contoso'"), "{}", r.stderr);
}

#[test]
fn under_sustained_rate_limit_decline_a_scan_at_concurrency_64_gets_no_429() {
    let sim = sim(
        SimConfig {
            users: 400,
            rate_limit: Some(RateLimit {
                budget: 200,
                window: Duration::from_secs(1),
                delay_from: 0.8,
                delay: Duration::from_millis(10),
                ..RateLimit::default()
            }),
            ..sim_config()
        },
        "",
    );
    let (r, record) = scan_json(&sim, &["--concurrency", "64"], PAT);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(record["coverage"]["complete"], true);
    let (blocked, _delayed, violations) = sim.sim().throttling();
    assert_eq!(blocked, 0, "no request was blocked with 429");
    assert_eq!(violations, 0);
    let served = sim.sim().stats().requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(served > 400, "sustained load: {served} requests");
}

/// Microsoft's example of the lifecycle API parses into the probe's wire model, and the
/// simulator answers with the same fields and JSON types.
#[test]
fn the_lifecycle_api_example_parses_and_the_simulator_answers_in_its_shape() {
    use pat2entra::ado::probe::PagedPatTokens;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ado-api/tokens");
    for v in ["7.1", "7.2"] {
        let path = format!("{fixtures}/{v}/httpExamples/Pats/ListPats.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let example: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
        let body = &example["responses"]["200"]["body"];
        let page: PagedPatTokens = serde_json::from_value(body.clone()).expect("ListPats parses");
        assert_eq!(page.pat_tokens.len(), 4);
        assert_eq!(page.continuation_token.as_deref(), Some(""), "the example ends with an empty string");
        assert!(page.pat_tokens[0].target_accounts.is_none(), "a global PAT: null");
        assert_eq!(page.pat_tokens[1].target_accounts.as_deref().unwrap().len(), 1);

        // The simulator's answer: same keys, same JSON types.
        let sim = TestSim::start(sim_config());
        let tenant = sim.sim().tenant_id().to_string();
        let (token, _) = sim.sim().issue_token(&tenant, Principal::Administrator, Duration::from_secs(600));
        let url =
            format!("{}/fabrikam/_apis/tokens/pats?displayFilterOption=all&api-version=7.1-preview.1", sim.base_url());
        let answer: Value = sim.block_on(async {
            reqwest::Client::new().get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap()
        });
        let kinds = |v: &Value| -> std::collections::BTreeMap<String, &'static str> {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let kind = match v {
                        Value::Null => "null",
                        Value::String(_) => "string",
                        Value::Array(_) => "array",
                        Value::Bool(_) => "bool",
                        Value::Number(_) => "number",
                        Value::Object(_) => "object",
                    };
                    (k.clone(), kind)
                })
                .collect()
        };
        assert_eq!(kinds(&answer), kinds(body));
        let pats = answer["patTokens"].as_array().unwrap();
        assert!(!pats.is_empty());
        let scoped = body["patTokens"][1].clone();
        let ours = pats.iter().find(|p| p["targetAccounts"].is_array()).expect("an organization-scoped PAT");
        assert_eq!(kinds(ours), kinds(&scoped));
        // A PAT is refused: the lifecycle API takes a user's Entra token only.
        let status = sim.block_on(async {
            reqwest::Client::new().get(&url).basic_auth("", Some("any")).send().await.unwrap().status().as_u16()
        });
        assert_eq!(status, 401);
    }
}
