//! Sign-in end to end: the real binary, each `--auth` method, against the simulator's Entra
//! endpoints on loopback. The environment is given only to the spawned binary; `az` is a fake
//! script first on its `PATH`; the https authority is routed to loopback by the binary's
//! loopback transport, which refuses every other destination.

use crate::common;

use common::{
    TestSim, authority_args, expected_ids, path_without_clis, record_ids, run, scan_json_with, sim_config, write_script,
};
use pat2entra::sim::{Principal, SimConfig, SimEntra, SimPipelines};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

const CLIENT_SECRET: &str = "client-secret-Qm9zY2hlLXNpbS1zZWNyZXQ";
const ASSERTION: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2Nhbm5lciJ9.federated-sig-77";

fn entra_sim(entra: SimEntra, config: SimConfig) -> TestSim {
    TestSim::start(SimConfig { entra, ..config })
}

fn issued(sim: &TestSim) -> u64 {
    sim.sim().stats().tokens_issued.load(Ordering::Relaxed)
}

/// A fake `az` that prints what `az account get-access-token -o json` prints, and logs its
/// arguments (one line per call) to `az.calls`.
fn fake_az(dir: &Path, token: &str, expires_on: u64, tenant: &str) {
    let json = serde_json::json!({
        "accessToken": token,
        "expiresOn": "2026-11-26 06:00:00.000000",
        "expires_on": expires_on,
        "subscription": "00000000-0000-0000-0000-000000000001",
        "tenant": tenant,
        "tokenType": "Bearer",
    });
    std::fs::write(dir.join("az.json"), json.to_string()).unwrap();
    let dir = dir.display();
    write_script(Path::new(&dir.to_string()), "az", &format!("echo \"$@\" >> '{dir}/az.calls'\ncat '{dir}/az.json'"));
}

fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("az.calls")).unwrap_or_default().lines().map(str::to_string).collect()
}

fn assert_complete(run: &common::Run, record: &serde_json::Value, sim: &TestSim) {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(record["coverage"]["complete"], true, "no coverage gap");
    assert_eq!(record_ids(record), expected_ids(sim.sim()), "every token found once");
}

#[test]
fn the_azure_cli_token_scans_the_organization() {
    let sim = entra_sim(SimEntra::default(), sim_config());
    let tenant = sim.sim().tenant_id().to_string();
    let (token, expires_on) = sim.sim().issue_token(&tenant, Principal::Administrator, Duration::from_secs(3600));
    let dir = tempfile::tempdir().unwrap();
    fake_az(dir.path(), &token, expires_on, &tenant);
    let path = path_without_clis(Some(dir.path()));

    // Explicitly, with a tenant.
    let (r, record) = scan_json_with(&sim, &["--auth", "azcli", "--tenant", &tenant], &[("PATH", &path)]);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("auth: Azure CLI (az account get-access-token, tenant"), "{}", r.stderr);
    let first = calls(dir.path());
    assert_eq!(
        first.len(),
        1,
        "one token per run: az ran once for {} requests",
        sim.sim().stats().requests.load(Ordering::Relaxed)
    );
    assert_eq!(
        first[0],
        format!(
            "account get-access-token -o json --scope 499b84ac-1321-427f-aa17-267ca6975798/.default --tenant {tenant}"
        )
    );

    // And as --auth auto's choice when no service principal or managed identity is configured,
    // ahead of a PAT in the environment.
    let (r, record) = scan_json_with(&sim, &[], &[("PATH", &path), ("AZURE_DEVOPS_EXT_PAT", "a-pat-that-is-not-used")]);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("auth: Azure CLI"), "{}", r.stderr);
    assert_eq!(calls(dir.path()).len(), 2);
}

#[test]
fn a_signed_out_azure_cli_is_one_actionable_line() {
    let sim = entra_sim(SimEntra::default(), sim_config());
    let dir = tempfile::tempdir().unwrap();
    write_script(dir.path(), "az", "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1");
    let path = path_without_clis(Some(dir.path()));
    let base = sim.base_url();
    let r = run(&["scan", "--org", "fabrikam", "--base-url", &base, "--auth", "azcli"], &[("PATH", &path)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", r.stderr);
    assert!(
        lines[0].starts_with("error: --auth azcli: the Azure CLI is not signed in: run `az login`"),
        "{}",
        lines[0]
    );
    assert!(!r.stderr.contains("troubleshoot") && !r.stderr.contains("Backtrace"), "{}", r.stderr);
    assert_eq!(sim.sim().stats().requests.load(Ordering::Relaxed), 0, "nothing is sent without a credential");

    // auto moves on past the signed-out az (and the absent azd) to the PAT.
    let r = run(
        &["scan", "--org", "fabrikam", "--base-url", &base, "-o", "json"],
        &[("PATH", &path), ("AZURE_DEVOPS_EXT_PAT", "any-pat")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("auth: personal access token from AZURE_DEVOPS_EXT_PAT"), "{}", r.stderr);

    // With nothing else, auto says what it tried and what to do.
    let r = run(&["scan", "--org", "fabrikam", "--base-url", &base], &[("PATH", &path)]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("run `az login`") && r.stderr.contains("AZURE_DEVOPS_EXT_PAT is not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_service_principal_signs_in_with_a_client_secret_from_the_environment_or_a_file() {
    let sim = entra_sim(SimEntra { client_secret: Some(CLIENT_SECRET.into()), ..SimEntra::default() }, sim_config());
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let authority = authority_args(&sim);
    let authority: Vec<&str> = authority.iter().map(String::as_str).collect();
    let env = [("AZURE_CLIENT_ID", client_id.as_str()), ("AZURE_TENANT_ID", tenant.as_str())];

    let mut with_secret = env.to_vec();
    with_secret.push(("AZURE_CLIENT_SECRET", CLIENT_SECRET));
    let (r, record) = scan_json_with(&sim, &authority, &with_secret);
    assert_complete(&r, &record, &sim);
    assert!(
        r.stderr.contains(&format!(
            "auth: service principal {client_id} in tenant {tenant}, client secret from AZURE_CLIENT_SECRET"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(issued(&sim), 1, "one token for the whole scan");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    let mut args = authority.clone();
    args.extend(["--auth", "client-secret", "--client-secret-file", file.to_str().unwrap()]);
    let (r, record) = scan_json_with(&sim, &args, &env);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("client secret from --client-secret-file"), "{}", r.stderr);

    // A wrong secret: the service's code, turned into advice; nothing reaches Azure DevOps.
    let before = sim.sim().stats().requests.load(Ordering::Relaxed);
    let mut wrong = env.to_vec();
    wrong.push(("AZURE_CLIENT_SECRET", "not-the-secret"));
    let (r, _) = scan_json_with(&sim, &authority, &wrong);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("Entra refused the client secret (AADSTS7000215)"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(sim.sim().stats().requests.load(Ordering::Relaxed), before + 1, "only the token request was made");

    // A wrong tenant.
    let mut args = authority.clone();
    args.extend(["--tenant", "00000000-0000-0000-0000-00000000dead"]);
    let (r, _) = scan_json_with(&sim, &args, &with_secret);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("AADSTS90002"), "{}", r.stderr);
}

#[test]
fn a_client_secret_is_never_accepted_as_a_flag() {
    for flag in ["--client-secret", "--secret", "--pat", "--token"] {
        let r = run(&["scan", "--org", "contoso", flag, "abc"], &[]);
        assert_eq!(r.code, 2, "{flag} is not an option: {}", r.stderr);
        assert!(r.stderr.contains("unexpected argument"), "{}", r.stderr);
    }
}

#[test]
fn workload_identity_exchanges_the_federated_token_file() {
    let sim = entra_sim(SimEntra { federated_assertion: Some(ASSERTION.into()), ..SimEntra::default() }, sim_config());
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, ASSERTION).unwrap();
    let authority = authority_args(&sim);
    let authority: Vec<&str> = authority.iter().map(String::as_str).collect();
    let env = [
        ("AZURE_CLIENT_ID", client_id.as_str()),
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
    ];
    let (r, record) = scan_json_with(&sim, &authority, &env);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("auth: workload identity federation: application"), "{}", r.stderr);
    assert_eq!(issued(&sim), 1);

    std::fs::write(&token_file, "a-stale-assertion").unwrap();
    let (r, _) = scan_json_with(&sim, &authority, &env);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("--auth auto: "), "{}", r.stderr);
}

#[test]
fn a_managed_identity_is_used_where_its_endpoint_is_present() {
    let sim = entra_sim(
        SimEntra { identity_header: Some("identity-header-5e1".into()), ..SimEntra::default() },
        sim_config(),
    );
    let endpoint = format!("{}/msi/token", sim.base_url());
    let env = [("IDENTITY_ENDPOINT", endpoint.as_str()), ("IDENTITY_HEADER", "identity-header-5e1")];
    let (r, record) = scan_json_with(&sim, &[], &env);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("auth: managed identity (system-assigned, from IDENTITY_ENDPOINT)"), "{}", r.stderr);
    assert_eq!(issued(&sim), 1);

    let wrong = [("IDENTITY_ENDPOINT", endpoint.as_str()), ("IDENTITY_HEADER", "wrong")];
    let (r, _) = scan_json_with(&sim, &["--auth", "managed-identity"], &wrong);
    assert_eq!(r.code, 3);
    assert!(r.stderr.starts_with("error: --auth managed-identity: managed identity:"), "{}", r.stderr);
}

#[test]
fn an_azure_pipelines_service_connection_signs_in_through_oidc() {
    let pipelines =
        SimPipelines { system_access_token: "system-access-token-0c4".into(), service_connection_id: "sc-42".into() };
    let sim = entra_sim(
        SimEntra { federated_assertion: Some(ASSERTION.into()), pipelines: Some(pipelines), ..SimEntra::default() },
        sim_config(),
    );
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let oidc = format!("{}/fabrikam/proj/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/oidctoken", sim.base_url());
    let mut args = authority_args(&sim);
    args.extend(["--auth".to_string(), "azure-pipelines".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [
        ("AZURESUBSCRIPTION_CLIENT_ID", client_id.as_str()),
        ("AZURESUBSCRIPTION_TENANT_ID", tenant.as_str()),
        ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-42"),
        ("SYSTEM_ACCESSTOKEN", "system-access-token-0c4"),
        ("SYSTEM_OIDCREQUESTURI", oidc.as_str()),
    ];
    let (r, record) = scan_json_with(&sim, &args, &env);
    assert_complete(&r, &record, &sim);
    assert!(r.stderr.contains("auth: Azure Pipelines service connection sc-42"), "{}", r.stderr);

    let (r, _) = scan_json_with(&sim, &args, &env[..4]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("missing: SYSTEM_OIDCREQUESTURI"), "{}", r.stderr);
}

/// A scan of 80 users, two requests at a time, signed in with a client secret, against
/// `entra`'s tokens. The simulator refuses tokens it no longer honours, so a complete scan with
/// every token found proves the replacement.
fn long_scan(entra: SimEntra, sign_in_page: bool) -> (TestSim, common::Run, serde_json::Value) {
    let sim = entra_sim(
        SimEntra { client_secret: Some(CLIENT_SECRET.into()), ..entra },
        SimConfig { users: 80, sign_in_page_on_bad_credential: sign_in_page, ..sim_config() },
    );
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let mut args = authority_args(&sim);
    args.extend(["--concurrency".to_string(), "2".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [
        ("AZURE_CLIENT_ID", client_id.as_str()),
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
    ];
    let (r, record) = scan_json_with(&sim, &args, &env);
    (sim, r, record)
}

#[test]
fn a_token_near_its_expiry_is_replaced_before_it_expires() {
    // Every token is announced as due for replacement when it arrives (the service honours it
    // for an hour): the client replaces it before its next request instead of using it to the
    // end, and the service never has to refuse one.
    let entra = SimEntra { announced_lifetime: Some(Duration::ZERO), ..SimEntra::default() };
    let (sim, r, record) = long_scan(entra, false);
    assert_complete(&r, &record, &sim);
    let stats = sim.sim().stats();
    assert!(issued(&sim) >= 80, "a token per request or so: {} issued", issued(&sim));
    assert_eq!(stats.expired_tokens_refused.load(Ordering::Relaxed), 0, "replaced before the service refused it");
    assert_eq!(stats.unauthenticated.load(Ordering::Relaxed), 0);
}

#[test]
fn a_token_the_service_stops_accepting_is_refreshed_once_and_the_request_retried() {
    // The token says it lives an hour, but the service stops accepting it after 25 requests (as
    // after a revocation): only the refusal tells the client, as a 401 or as the 203 sign-in page.
    for sign_in_page in [false, true] {
        let entra = SimEntra { honoured_uses: Some(25), ..SimEntra::default() };
        let (sim, r, record) = long_scan(entra, sign_in_page);
        assert_complete(&r, &record, &sim);
        let refused = sim.sim().stats().expired_tokens_refused.load(Ordering::Relaxed);
        assert!(refused >= 3, "the service refused tokens mid-scan (sign-in page: {sign_in_page}): {refused}");
        assert!(issued(&sim) >= 4, "and new ones were issued: {}", issued(&sim));
        // Concurrent refusals of one token share one refresh: never more tokens than refusals + 1.
        assert!(issued(&sim) <= refused + 1, "{} issued for {refused} refusals", issued(&sim));
        assert!(!r.stderr.contains("coverage"), "{}", r.stderr);
    }
}

#[test]
fn the_demo_signs_in_at_its_simulator() {
    let r = run(&["scan", "--demo", "-o", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("auth: service principal"), "{}", r.stderr);
    let r = run(&["scan", "--demo", "--auth", "azcli"], &[]);
    assert_eq!(r.code, 2, "--demo signs in by itself: {}", r.stderr);
}
