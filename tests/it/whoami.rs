//! `pat2entra whoami`: identity, organization and the Token Admin permission, before a scan.

use crate::common;

use common::{TestSim, authority_args, path_without_clis, run, sim_config, write_script};
use pat2entra::sim::{Principal, SimConfig, SimEntra};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

const PAT: &str = "whoami-pat-51c0ffee";
const SECRET: &str = "whoami-client-secret-9d";

fn whoami(sim: &TestSim, extra: &[&str], env: &[(&str, &str)]) -> common::Run {
    let base = sim.base_url();
    let mut args = vec!["whoami", "--org", "fabrikam", "--base-url", &base];
    args.extend_from_slice(extra);
    run(&args, env)
}

#[test]
fn an_administrator_is_shown_with_the_organization_and_token_admin_allowed() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..sim_config() });
    let admin = sim.sim().administrator().expect("the organization has an Entra user").clone();
    let r = whoami(&sim, &["--auth", "pat"], &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("credential    personal access token from AZURE_DEVOPS_EXT_PAT"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("organization  fabrikam ({}/fabrikam", sim.base_url())), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("instance {}", sim.sim().org().id)), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "signed in as  {} <{}>, a user ({})",
            admin.display_name, admin.principal_name, admin.descriptor
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("token admin   allowed"), "{}", r.stdout);
    assert!(r.stdout.contains("next          pat2entra scan --org fabrikam --auth pat"), "{}", r.stdout);
    // Two requests: connectionData, then one Token Admin page of size 1.
    let stats = sim.sim().stats();
    assert_eq!(stats.requests.load(Ordering::Relaxed), 2);
    assert_eq!(stats.token_pages.load(Ordering::Relaxed), 1);
}

#[test]
fn a_missing_token_admin_permission_names_the_role_and_the_scope() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), deny_token_admin: true, ..sim_config() });
    let r = whoami(&sim, &["--auth", "pat"], &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains("token admin   DENIED (HTTP 401)"), "{}", r.stdout);
    assert!(r.stderr.contains("Project Collection Administrators"), "{}", r.stderr);
    assert!(r.stderr.contains("vso.tokenadministration"), "{}", r.stderr);
}

#[test]
fn a_service_principal_without_the_role_is_told_to_join_the_organization() {
    let sim = TestSim::start(SimConfig {
        entra: SimEntra { client_secret: Some(SECRET.into()), ..SimEntra::default() },
        deny_token_admin: true,
        ..sim_config()
    });
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let authority = authority_args(&sim);
    let authority: Vec<&str> = authority.iter().map(String::as_str).collect();
    let env = [
        ("AZURE_CLIENT_ID", client_id.as_str()),
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_SECRET", SECRET),
    ];
    let r = whoami(&sim, &authority, &env);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("token from tenant {tenant}, expires in 60 min")), "{}", r.stdout);
    assert!(r.stdout.contains(", a service principal (aadsp."), "{}", r.stdout);
    assert!(r.stderr.contains("add the service principal 'pat2entra scanner' to the organization"), "{}", r.stderr);
    assert!(r.stderr.contains("only the role is missing"), "{}", r.stderr);

    // Allowed: a service principal has no tokens of its own, which is fine.
    let sim = TestSim::start(SimConfig {
        entra: SimEntra { client_secret: Some(SECRET.into()), ..SimEntra::default() },
        ..sim_config()
    });
    let tenant = sim.sim().tenant_id().to_string();
    let authority = authority_args(&sim);
    let authority: Vec<&str> = authority.iter().map(String::as_str).collect();
    let env = [
        ("AZURE_CLIENT_ID", client_id.as_str()),
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_SECRET", SECRET),
    ];
    let r = whoami(&sim, &authority, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("allowed: this identity may list every user's PATs (this identity has no PATs of its own)"),
        "{}",
        r.stdout
    );
}

fn fake_az(dir: &Path, token: &str, expires_on: u64) {
    let json = serde_json::json!({"accessToken": token, "expires_on": expires_on, "tokenType": "Bearer"});
    std::fs::write(dir.join("az.json"), json.to_string()).unwrap();
    write_script(dir, "az", &format!("cat '{}/az.json'", dir.display()));
}

#[test]
fn a_token_from_another_tenant_is_explained() {
    let sim = TestSim::start(sim_config());
    let other = "0ther000-0000-0000-0000-000000000000";
    let (token, expires_on) = sim.sim().issue_token(other, Principal::Administrator, Duration::from_secs(3600));
    let dir = tempfile::tempdir().unwrap();
    fake_az(dir.path(), &token, expires_on);
    let path = path_without_clis(Some(dir.path()));
    let r = whoami(&sim, &[], &[("PATH", &path)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains("credential    Azure CLI"), "{}", r.stdout);
    assert!(r.stderr.contains("did not accept the credential"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("the token was issued by tenant {other}")), "{}", r.stderr);
    assert!(r.stderr.contains("--tenant"), "{}", r.stderr);

    // The right tenant works.
    let tenant = sim.sim().tenant_id().to_string();
    let (token, expires_on) = sim.sim().issue_token(&tenant, Principal::Administrator, Duration::from_secs(3600));
    fake_az(dir.path(), &token, expires_on);
    let r = whoami(&sim, &[], &[("PATH", &path)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("token admin   allowed"), "{}", r.stdout);
}

#[test]
fn an_unknown_organization_is_a_usage_error() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..sim_config() });
    let base = sim.base_url();
    let r =
        run(&["whoami", "--org", "nosuchorg", "--base-url", &base, "--auth", "pat"], &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("organization 'nosuchorg' was not found"), "{}", r.stderr);
}
