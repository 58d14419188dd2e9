//! Several organizations: `simulate --orgs`, `pat2entra orgs`, `scan` of several organizations
//! into one tenant record, and that record in every report, plan and diff. Expectations come
//! from the simulator's seed (`SeededTenant`, `SimOrg`), never from the scanner.

use crate::common;

use common::{Run, SCANNED_KINDS, TokenBuilder, owner, record_ids_of_kind, run};
use pat2entra::ado::accounts::{Account, Profile};
use pat2entra::ado::wire::Collection;
use pat2entra::sim::shape::assert_same_shape;
use pat2entra::sim::{SimConfig, SimTenant};
use pat2entra::tenant::{AnyRecord, OrganizationFailure, TenantRecord};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const PAT: &str = "tenant-pat-5be1c07d9a";

/// A simulator of several organizations on its own runtime.
struct TestTenant {
    tenant: Option<SimTenant>,
    runtime: tokio::runtime::Runtime,
}

impl TestTenant {
    fn start(config: SimConfig, organizations: usize) -> TestTenant {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime");
        let tenant = runtime.block_on(pat2entra::sim::start_tenant(config, organizations, 0)).expect("listens");
        TestTenant { tenant: Some(tenant), runtime }
    }

    fn sim(&self) -> &SimTenant {
        self.tenant.as_ref().expect("running")
    }
}

impl TestTenant {
    /// Organizations at the positions `refusing` refuse every credential (401).
    fn refusing(config: SimConfig, organizations: usize, refusing: &[usize]) -> TestTenant {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime");
        let tenant = runtime
            .block_on(pat2entra::sim::start_tenant_refusing(config, organizations, 0, refusing))
            .expect("listens");
        TestTenant { tenant: Some(tenant), runtime }
    }
}

impl Drop for TestTenant {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        self.tenant.take();
    }
}

fn config() -> SimConfig {
    SimConfig { users: 24, accepted_pat: Some(PAT.into()), ..common::sim_config() }
}

/// `pat2entra ARGS --base-url SIM --auth pat` signed in with the simulator's PAT.
fn run_against(sim: &SimTenant, args: &[&str]) -> Run {
    let base = sim.base_url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--base-url", &base, "--auth", "pat"]);
    run(&all, &[("AZURE_DEVOPS_EXT_PAT", PAT)])
}

/// `scan … -o json --out FILE`, its run and its JSON.
fn scan(sim: &SimTenant, dir: &Path, name: &str, args: &[&str]) -> (Run, Value) {
    let out = dir.join(name);
    let mut all = vec!["scan", "--as-of", "2026-11-26", "--quiet", "-o", "json", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let r = run_against(sim, &all);
    (r, common::read_json(&out))
}

/// Authorization ids of the PATs the simulator holds in organization `k` for the owners a scan
/// sees.
fn seeded_pat_ids(sim: &SimTenant, k: usize) -> BTreeSet<String> {
    let org = sim.org(k);
    org.users()
        .zip(org.all_tokens())
        .filter(|(u, _)| SCANNED_KINDS.contains(&u.subject_type()))
        .flat_map(|(_, tokens)| tokens.into_iter().map(|t| t.authorization_id))
        .collect()
}

#[test]
fn a_tenant_scan_equals_the_single_scans_and_counts_shared_credentials_once() {
    let tenant = TestTenant::start(config(), 5);
    let sim = tenant.sim();
    let dir = tempfile::tempdir().unwrap();
    let (r, record) = scan(sim, dir.path(), "tenant.json", &["--all-orgs", "--org-concurrency", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(record["kind"], "tenant");
    let orgs = record["organizations"].as_array().unwrap();
    let mut seeded: Vec<String> = sim.organizations().to_vec();
    seeded.sort();
    let names: Vec<&str> = orgs.iter().map(|o| o["organization"].as_str().unwrap()).collect();
    assert_eq!(names, seeded, "every organization the identity belongs to, in name order");
    assert_eq!(record["failed"].as_array().unwrap().len(), 0);

    // Each organization's part is exactly what a scan of that organization alone writes.
    let mut per_org_credentials = 0;
    for (k, name) in sim.organizations().iter().enumerate() {
        let (r, single) = scan(sim, dir.path(), &format!("{name}.json"), &["--org", name]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(single.get("kind").is_none(), "one organization writes a plain scan record");
        let part = orgs.iter().find(|o| o["organization"] == name.as_str()).unwrap();
        assert_eq!(part, &single, "{name}: the tenant's part differs from the single scan");
        let pats: BTreeSet<String> = record_ids_of_kind(&single, "pat").into_iter().collect();
        assert_eq!(pats, seeded_pat_ids(sim, k), "{name}: the seeded PATs");
        per_org_credentials += single["tokens"].as_array().unwrap().len();
    }

    // Shared all-organizations PATs: the seed's, each once, with every organization listing it.
    let truth = &sim.truth().shared;
    assert!(!truth.is_empty(), "the seed shares PATs across organizations");
    let shared: BTreeMap<String, (String, Vec<String>)> = record["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let orgs = c["organizations"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string());
            (
                c["authorization_id"].as_str().unwrap().to_string(),
                (c["owner"].as_str().unwrap().to_string(), orgs.collect()),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, Vec<String>)> =
        truth.iter().map(|(id, t)| (id.clone(), (t.owner.clone(), t.organizations.clone()))).collect();
    assert_eq!(shared, expected);
    let summary = &record["summary"];
    assert_eq!(summary["organizations"], 5);
    assert_eq!(summary["shared_credentials"], truth.len());
    // Counted once: every listing, less the extra listings of each shared credential.
    let extra: usize = truth.values().map(|t| t.organizations.len() - 1).sum();
    assert_eq!(summary["credentials"], per_org_credentials - extra);
    let seeded_pats: BTreeSet<String> = (0..5).flat_map(|k| seeded_pat_ids(sim, k)).collect();
    let ssh: usize = orgs.iter().map(|o| record_ids_of_kind(o, "ssh").len()).sum();
    assert_eq!(summary["credentials"], seeded_pats.len() + ssh);

    // Redacted, the shared credentials' owners are pseudonyms too (the tenant's view is
    // worked out again from the redacted organizations).
    let saved = dir.path().join("tenant.json");
    let redacted = run(&["report", saved.to_str().unwrap(), "--redact", "-o", "json"], &[]);
    assert_eq!(redacted.code, 0, "{}", redacted.stderr);
    let redacted_record: Value = serde_json::from_str(&redacted.stdout).unwrap();
    assert_eq!(redacted_record["shared"].as_array().unwrap().len(), truth.len());
    for t in truth.values() {
        assert!(!redacted.stdout.contains(&t.owner), "{} is not redacted", t.owner);
    }

    // One HTML page: every id once, and every link to a fragment goes to an id of the page
    // (each organization's "Findings" link to its own findings, not the first organization's).
    let html = run(&["report", saved.to_str().unwrap(), "-o", "html"], &[]);
    assert_eq!(html.code, 0, "{}", html.stderr);
    let attribute = |name: &str| -> Vec<String> {
        html.stdout
            .split(&format!(" {name}=\""))
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_string())
            .collect()
    };
    let ids = attribute("id");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate ids");
    let links: Vec<String> =
        attribute("href").into_iter().filter_map(|h| h.strip_prefix('#').map(String::from)).collect();
    assert!(links.len() > 5 * 4, "{links:?}");
    for link in &links {
        assert!(unique.contains(link), "#{link} goes nowhere");
    }
    for n in 1..=5 {
        assert!(links.contains(&format!("org{n}-findings")), "org{n}'s table of contents");
        assert!(links.contains(&format!("org{n}")), "the tenant's list of organizations");
    }

    // The same organizations named one by one, and from a file, give the same record.
    let list = dir.path().join("orgs.txt");
    std::fs::write(&list, format!("# the tenant\n{}\n", sim.organizations().join("\n"))).unwrap();
    let (r, from_file) = scan(sim, dir.path(), "from-file.json", &["--orgs-file", list.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(from_file, record);
}

#[test]
fn orgs_lists_exactly_the_seeded_organizations() {
    let tenant = TestTenant::start(config(), 3);
    let sim = tenant.sim();
    let r = run_against(sim, &["orgs", "-o", "json", "--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    let mut seeded: Vec<String> = sim.organizations().to_vec();
    seeded.sort();
    assert_eq!(names, seeded);
    for (k, org) in sim.organizations().iter().enumerate() {
        let entry = listed.as_array().unwrap().iter().find(|o| o["name"] == org.as_str()).unwrap();
        assert_eq!(entry["id"], sim.org(k).id.as_str());
    }
    let table = run_against(sim, &["orgs", "--quiet"]);
    assert!(table.stdout.ends_with("3 organizations\n"), "{}", table.stdout);
    // A wrong credential: exit 3 and what to do.
    let base = sim.base_url();
    let refused = run(&["orgs", "--base-url", &base, "--auth", "pat"], &[("AZURE_DEVOPS_EXT_PAT", "not-the-pat-0000")]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("listing organizations"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("not-the-pat-0000"));
}

#[test]
fn the_portal_export_is_read_and_a_bad_line_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("orgs.csv");
    std::fs::write(
        &good,
        "\u{feff}Organization Id,Organization Name,Url,Owner,Exception Type,Error Message\n\
         6affcbef-fe5d-44c6-8a29-439b79aaa118,contoso,https://dev.azure.com/contoso/,ada@contoso.com,,\n\
         bf83696f-383b-4980-95b5-1f1127640a8a,fabrikam,https://dev.azure.com/fabrikam/,ben@contoso.com,,\n",
    )
    .unwrap();
    let r = run(&["orgs", "--from-csv", good.to_str().unwrap(), "-o", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed[0]["name"], "contoso");
    assert_eq!(listed[0]["owner"], "ada@contoso.com");
    assert_eq!(listed[1]["id"], "bf83696f-383b-4980-95b5-1f1127640a8a");

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Organization Id,Organization Name,Url,Owner,Exception Type,Error Message\n\
         1,contoso,,,,\n\
         2,user:secret@host,,,,\n",
    )
    .unwrap();
    let r = run(&["orgs", "--from-csv", bad.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let expected = format!("error: {}:3: ", bad.display());
    assert!(r.stderr.starts_with(&expected), "{}", r.stderr);
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);
    // The same file as --orgs-file: refused before any sign-in.
    let r = run(&["scan", "--orgs-file", bad.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{}:3: ", bad.display())), "{}", r.stderr);
}

#[test]
fn an_organization_that_cannot_be_scanned_is_a_gap_in_every_output_and_exit_4() {
    let tenant = TestTenant::start(SimConfig { leak_secret_fields: true, ..config() }, 2);
    let sim = tenant.sim();
    let dir = tempfile::tempdir().unwrap();
    let first = sim.organizations()[0].clone();
    let (r, record) = scan(sim, dir.path(), "t.json", &["--org", &first, "--org", "no-such-org"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("tenant scan incomplete"), "{}", r.stderr);
    assert_eq!(record["failed"][0]["organization"], "no-such-org");
    assert!(record["failed"][0]["reason"].as_str().unwrap().contains("was not found"));
    assert_eq!(record["organizations"].as_array().unwrap().len(), 1);
    let saved = dir.path().join("t.json");
    let saved = saved.to_str().unwrap();
    let secrets: Vec<String> =
        (0..2).flat_map(|k| sim.org(k).all_tokens().into_iter().flatten().map(|t| t.secret)).collect();
    let mut outputs = vec![std::fs::read_to_string(saved).unwrap()];
    for format in ["table", "markdown", "csv", "html", "json"] {
        let r = run(&["report", saved, "-o", format], &[]);
        assert_eq!(r.code, 4, "{format}: {}", r.stderr);
        assert!(r.stdout.contains("no-such-org"), "{format}: the gap is shown");
        if format == "html" {
            assert_eq!(r.stdout.matches("<!DOCTYPE html>").count(), 1, "one page");
            assert_eq!(r.stdout.matches("</html>").count(), 1, "one page");
            assert_eq!(r.stdout.matches("<body>").count(), 1, "one page");
        }
        outputs.push(r.stdout);
    }
    let r = run(&["report", saved, "--allow-partial", "--fail-on", "critical", "-o", "csv"], &[]);
    assert_eq!(r.code, 1, "findings at or above --fail-on in the scanned organization: {}", r.stderr);
    assert!(r.stdout.lines().next().unwrap().ends_with(",organization"), "CSV gets an organization column");
    assert!(r.stdout.contains("organization-not-scanned"));
    let plan = run(&["plan", saved], &[]);
    assert_eq!(plan.code, 4, "{}", plan.stderr);
    assert!(plan.stdout.contains("no-such-org"));
    let diff = run(&["diff", saved, saved, "-o", "markdown"], &[]);
    assert_eq!(diff.code, 4, "{}", diff.stderr);
    assert!(diff.stdout.contains("no-such-org") && diff.stdout.contains(&first));
    outputs.extend([plan.stdout, diff.stdout, r.stdout]);
    for output in &outputs {
        for secret in &secrets {
            assert!(!output.contains(secret.as_str()), "a token's secret reached an output");
        }
        assert!(!output.contains(PAT));
    }
}

#[test]
fn a_single_organization_record_still_loads_and_a_tenant_table_renders() {
    let shared = TokenBuilder::new("g-1", "aad.ada").scopes(&["app_token"]).global(true).build();
    let org = |name: &str, own: &str| {
        common::RecordBuilder::new()
            .organization(name)
            .owners(vec![owner("aad.ada", "ada@contoso.com", "Ada")])
            .tokens(vec![shared.clone(), TokenBuilder::new(own, "aad.ada").scopes(&["vso.code"]).build()])
            .build()
    };
    let failed = vec![OrganizationFailure { organization: "gamma".into(), reason: "HTTP 401".into() }];
    let tenant = TenantRecord::new(vec![org("beta", "b-1"), org("alpha", "a-1")], failed, common::as_of(), None);
    assert_eq!(tenant.summary.credentials, 3);
    assert_eq!(tenant.summary.shared_credentials, 1);
    let mut table = Vec::new();
    pat2entra::report::render_tenant(
        &tenant,
        pat2entra::report::Format::Table,
        &pat2entra::report::RenderOptions::default(),
        &mut table,
    )
    .unwrap();
    insta::assert_snapshot!("tenant_table", String::from_utf8(table).unwrap());
    // Each organization's part is its own table, byte for byte.
    let mut alone = Vec::new();
    pat2entra::report::render(
        &tenant.organizations[0],
        pat2entra::report::Format::Table,
        &Default::default(),
        &mut alone,
    )
    .unwrap();
    let mut table = Vec::new();
    pat2entra::report::render_tenant(&tenant, pat2entra::report::Format::Table, &Default::default(), &mut table)
        .unwrap();
    assert!(String::from_utf8(table).unwrap().contains(&String::from_utf8(alone).unwrap()));
    // A single organization's record reads as one.
    let single = serde_json::to_vec(&tenant.organizations[0]).unwrap();
    assert!(matches!(AnyRecord::from_json(&single, "one.json").unwrap(), AnyRecord::Organization(_)));
}

#[test]
fn the_simulators_profile_and_accounts_have_the_shapes_of_microsofts_examples() {
    let example = |relative: &str| -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ado-api").join(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')).unwrap()["responses"]["200"]["body"].clone()
    };
    let profile_example = example("profile/5.0/httpExamples/profiles/GET__profile_profiles_me.json");
    let accounts_example = example("account/5.0/httpExamples/accounts/GET__Accounts_memberId-_userId_.json");
    let profile: Profile = serde_json::from_value(profile_example.clone()).unwrap();
    assert_eq!(profile.id, "d6245f20-2af8-44f4-9451-8107cb2767db");
    assert_eq!(profile.display_name.as_deref(), Some("Normal Paulk"));
    let accounts: Collection<Account> = serde_json::from_value(accounts_example.clone()).unwrap();
    assert_eq!(accounts.count, Some(2));
    assert_eq!(accounts.value[0].account_name, "Fabrikam-Fiber-Inc");

    let tenant = TestTenant::start(config(), 2);
    let sim = tenant.sim();
    let get = |path: &str| -> Value {
        let url = format!("{}/{path}", sim.base_url());
        tenant.runtime.block_on(async {
            reqwest::Client::new().get(url).basic_auth("", Some(PAT)).send().await.unwrap().json().await.unwrap()
        })
    };
    let me = get("_apis/profile/profiles/me?api-version=7.1-preview.3");
    assert_same_shape("profile", std::slice::from_ref(&me), std::slice::from_ref(&profile_example), &[]);
    let id = me["id"].as_str().unwrap();
    let mine = get(&format!("_apis/accounts?memberId={id}&api-version=7.1-preview.1"));
    assert_same_shape(
        "accounts",
        mine["value"].as_array().unwrap(),
        accounts_example["value"].as_array().unwrap(),
        &[],
    );
    assert_eq!(mine["count"], 2);
    let others = get("_apis/accounts?memberId=00000000-0000-0000-0000-000000000001&api-version=7.1-preview.1");
    assert_eq!(others["count"], 0, "another member belongs to none of them");
}

#[test]
fn an_organization_refusing_the_credential_is_not_scanned_and_all_refusing_is_exit_3() {
    let tenant = TestTenant::refusing(config(), 3, &[1]);
    let sim = tenant.sim();
    let refused = sim.organizations()[1].clone();
    let dir = tempfile::tempdir().unwrap();
    let (r, record) = scan(sim, dir.path(), "t.json", &["--all-orgs"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let failed = record["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["organization"], refused.as_str());
    assert!(failed[0]["reason"].as_str().unwrap().contains("did not accept the credential"), "{failed:?}");
    assert_eq!(record["summary"]["organizations"], 2, "the others are scanned");
    assert!(!r.stderr.contains(PAT) && !std::fs::read_to_string(dir.path().join("t.json")).unwrap().contains(PAT));
    // Refused by every organization asked: the credential is the problem (exit 3, no record).
    let (r, _) = scan(sim, dir.path(), "none.json", &["--org", &refused, "--org", "also-refused"]);
    assert_eq!(r.code, 4, "a missing organization is no refusal: {}", r.stderr);
    let all = TestTenant::refusing(config(), 2, &[0, 1]);
    let (r, none) = scan(
        all.sim(),
        dir.path(),
        "none2.json",
        &["--org", &all.sim().organizations()[0], "--org", &all.sim().organizations()[1]],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no organization accepted the credential"), "{}", r.stderr);
    assert!(none.is_null(), "nothing written");
}

#[test]
fn organization_shards_merge_into_the_unsharded_tenant_scan() {
    let t = TestTenant::start(config(), 3);
    let sim = t.sim();
    let dir = tempfile::tempdir().unwrap();
    let (r, whole) = scan(sim, dir.path(), "whole.json", &["--all-orgs"]);
    assert_eq!(r.code, 0, "complete: {}", r.stderr);
    let mut parts = Vec::new();
    let mut scanned = BTreeSet::new();
    for i in 1..=3 {
        let name = format!("part{i}.json");
        let (r, part) = scan(sim, dir.path(), &name, &["--all-orgs", "--shard", &format!("{i}/3")]);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        assert_eq!(part["shard"]["by"], "organizations");
        assert_eq!(part["organizations"].as_array().unwrap().len(), 1, "three organizations in three parts");
        for org in part["organizations"].as_array().unwrap() {
            // Each organization is scanned by exactly one part.
            assert!(scanned.insert(org["organization"].as_str().unwrap().to_string()), "scanned twice: {org}");
        }
        parts.push(dir.path().join(name).to_str().unwrap().to_string());
    }
    assert_eq!(scanned.len(), 3, "every organization in some part");
    let merged = dir.path().join("merged.json");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    let r = run(&args, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let merged = common::read_json(&merged);
    // A merged record is whole again: no shard, so diff and history take it.
    assert!(merged.get("shard").is_none(), "{}", merged["shard"]);
    assert_eq!(merged, whole);
    // A part is no whole scan: diff and history refuse it with what to do instead.
    let whole_path = dir.path().join("whole.json");
    let r = run(&["diff", whole_path.to_str().unwrap(), &parts[0]], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("part 1 of 3 of a sharded scan") && r.stderr.contains("pat2entra merge"), "{}", r.stderr);
    let db = dir.path().join("h.db");
    let r = run(&["history", "add", &parts[0], "--history", db.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("merge the parts first"), "{}", r.stderr);
    // Acting needs one organization's scan: a tenant record gets one line saying so.
    let org = scanned.iter().next().unwrap();
    let r = run(&["revoke", whole_path.to_str().unwrap(), "--org", org, "--wave", "now"], &[]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("is a tenant record") && r.stderr.contains(&format!("--org {org}")), "{}", r.stderr);
}

#[test]
fn a_tenant_scan_adds_every_organization_to_the_history() {
    let t = TestTenant::start(config(), 3);
    let sim = t.sim();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (r, whole) = scan(sim, dir.path(), "tenant.json", &["--all-orgs", "--history", db.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let organizations: BTreeSet<&str> =
        whole["organizations"].as_array().unwrap().iter().map(|o| o["organization"].as_str().unwrap()).collect();
    assert_eq!(organizations.len(), 3);
    for org in &organizations {
        let trend = run(&["trend", "--history", db.to_str().unwrap(), "--org", org, "-o", "json"], &[]);
        assert_eq!(trend.code, 0, "{}", trend.stderr);
        let trend: Value = serde_json::from_str(&trend.stdout).unwrap();
        assert_eq!(trend["scans"], 1, "{org}");
        assert_eq!(trend["organizations"], serde_json::json!([org]));
        // The numbers are that organization's own record's.
        let record = whole["organizations"].as_array().unwrap().iter().find(|o| o["organization"] == *org).unwrap();
        assert_eq!(trend["points"][0]["tokens"], record["summary"]["tokens"], "{org}");
    }
    // The same record again adds nothing.
    let again = run(
        &["history", "add", dir.path().join("tenant.json").to_str().unwrap(), "--history", db.to_str().unwrap()],
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stderr.matches("already there").count(), 3, "{}", again.stderr);

    // The HTML report shows each organization's trend, in its own section: from a scan, and
    // from a saved tenant record.
    let (db, record) = (db.to_str().unwrap(), dir.path().join("tenant.json"));
    let html = dir.path().join("tenant.html");
    let html = html.to_str().unwrap();
    let r = run_against(
        sim,
        &["scan", "--as-of", "2026-11-27", "--quiet", "--all-orgs", "-o", "html", "--out", html, "--history", db],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let from_report = dir.path().join("report.html");
    let r = run(
        &["report", record.to_str().unwrap(), "-o", "html", "--out", from_report.to_str().unwrap(), "--history", db],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [html, from_report.to_str().unwrap()] {
        let page = std::fs::read_to_string(page).unwrap();
        for n in 1..=3 {
            assert!(page.contains(&format!("<h3 id=\"org{n}-trend\">")), "{page}: organization {n} has no trend");
        }
    }
    // The trend is part of the HTML report only.
    let r = run(&["report", record.to_str().unwrap(), "--history", db], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("-o html"), "{}", r.stderr);
}
