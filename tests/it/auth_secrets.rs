//! No sign-in secret reaches any output or log line: not the client secret, the federated
//! assertion, the pipeline's access token, the managed identity header, the PAT, nor any access
//! token the simulator issued; with `RUST_LOG=trace` and `RUST_BACKTRACE=1`, on success and on
//! every failure path (refused secret, refused token mid-scan, denied permission).

use crate::common;

use base64::Engine as _;
use common::{TestSim, authority_args, path_without_clis, run, sim_config, write_script};
use pat2entra::sim::{Principal, SimConfig, SimEntra, SimPipelines};
use std::time::Duration;

const CLIENT_SECRET: &str = "cs-7Hq2-secret-value-for-leak-test";
const ASSERTION: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsZWFrLXRlc3QifQ.assertion-sig-leak-test";
const SYSTEM_TOKEN: &str = "system-access-token-leak-test-31";
const IDENTITY_HEADER: &str = "identity-header-leak-test-88";
const PAT: &str = "pat-value-leak-test-4f2e";

/// A sign-in way: its name, the binary's environment, its extra arguments.
type Method<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);

struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, what: &str, r: &common::Run, dir: &std::path::Path) {
        self.0.push((format!("{what}: stdout"), r.stdout.clone()));
        self.0.push((format!("{what}: stderr"), r.stderr.clone()));
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                self.0.push((format!("{what}: {}", entry.path().display()), text));
            }
        }
    }
}

#[test]
fn no_sign_in_secret_appears_in_any_output_or_log_line() {
    let sim = TestSim::start(SimConfig {
        accepted_pat: Some(PAT.into()),
        entra: SimEntra {
            client_secret: Some(CLIENT_SECRET.into()),
            federated_assertion: Some(ASSERTION.into()),
            identity_header: Some(IDENTITY_HEADER.into()),
            pipelines: Some(SimPipelines {
                system_access_token: SYSTEM_TOKEN.into(),
                service_connection_id: "sc-1".into(),
            }),
            // Tokens are refused after 10 requests, so the refresh path runs and logs too.
            honoured_uses: Some(10),
            ..SimEntra::default()
        },
        users: 30,
        leak_secret_fields: true,
        ..sim_config()
    });
    let base = sim.base_url();
    let tenant = sim.sim().tenant_id().to_string();
    let client_id = sim.sim().config().entra.client_id.clone();
    let authority = authority_args(&sim);
    let work = tempfile::tempdir().unwrap();
    let token_file = work.path().join("federated-token");
    std::fs::write(&token_file, ASSERTION).unwrap();
    let (az_token, az_expiry) = sim.sim().issue_token(&tenant, Principal::Administrator, Duration::from_secs(3600));
    let az_dir = tempfile::tempdir().unwrap();
    let az_json = serde_json::json!({"accessToken": az_token, "expires_on": az_expiry, "tokenType": "Bearer"});
    std::fs::write(az_dir.path().join("az.json"), az_json.to_string()).unwrap();
    write_script(az_dir.path(), "az", &format!("cat '{}/az.json'", az_dir.path().display()));
    let az_path = path_without_clis(Some(az_dir.path()));
    let msi = format!("{base}/msi/token");
    let oidc = format!("{base}/fabrikam/p/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken");
    let sp = [("AZURE_CLIENT_ID", client_id.as_str()), ("AZURE_TENANT_ID", tenant.as_str())];

    let methods: Vec<Method> = vec![
        ("client secret", vec![sp[0], sp[1], ("AZURE_CLIENT_SECRET", CLIENT_SECRET)], vec![]),
        ("wrong client secret", vec![sp[0], sp[1], ("AZURE_CLIENT_SECRET", "wrong-secret-leak-test")], vec![]),
        ("workload identity", vec![sp[0], sp[1], ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap())], vec![]),
        ("managed identity", vec![("IDENTITY_ENDPOINT", msi.as_str()), ("IDENTITY_HEADER", IDENTITY_HEADER)], vec![]),
        (
            "azure pipelines",
            vec![
                ("AZURESUBSCRIPTION_CLIENT_ID", client_id.as_str()),
                ("AZURESUBSCRIPTION_TENANT_ID", tenant.as_str()),
                ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-1"),
                ("SYSTEM_ACCESSTOKEN", SYSTEM_TOKEN),
                ("SYSTEM_OIDCREQUESTURI", oidc.as_str()),
            ],
            vec!["--auth", "azure-pipelines"],
        ),
        ("azure cli", vec![("PATH", az_path.as_str())], vec!["--auth", "azcli"]),
        ("pat", vec![("AZURE_DEVOPS_EXT_PAT", PAT)], vec!["--auth", "pat"]),
        ("wrong pat", vec![("AZURE_DEVOPS_EXT_PAT", "wrong-pat-leak-test")], vec!["--auth", "pat"]),
    ];

    let mut outputs = Outputs(Vec::new());
    let mut scanned_with_refresh = 0;
    for (what, env, extra) in &methods {
        let mut env = env.clone();
        env.extend([("RUST_LOG", "trace"), ("RUST_BACKTRACE", "1")]);
        for command in ["scan", "whoami"] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("scan.json");
            let mut args = vec![command, "--org", "fabrikam", "--base-url", &base, "--concurrency", "2"];
            if command == "whoami" {
                args.truncate(5);
            } else {
                args.extend(["-o", "json", "--out", out.to_str().unwrap()]);
            }
            args.extend(authority.iter().map(String::as_str));
            args.extend(extra.iter().copied());
            let r = run(&args, &env);
            assert!(r.stderr.contains(" TRACE ") || r.stderr.contains(" DEBUG "), "{what}: logs were written");
            let refused_before = r.stderr.contains("refreshing it once");
            if command == "scan" && r.code == 0 && refused_before {
                scanned_with_refresh += 1;
            }
            outputs.add(&format!("{what} {command}"), &r, dir.path());
        }
    }
    assert!(scanned_with_refresh >= 1, "a scan went through a refused token and its refresh");

    let mut secrets = vec![
        CLIENT_SECRET.to_string(),
        "wrong-secret-leak-test".into(),
        ASSERTION.to_string(),
        // The assertion's signature alone, in case only a part were printed.
        "assertion-sig-leak-test".into(),
        SYSTEM_TOKEN.into(),
        IDENTITY_HEADER.into(),
        PAT.into(),
        "wrong-pat-leak-test".into(),
        base64::engine::general_purpose::STANDARD.encode(format!(":{PAT}")),
    ];
    let issued = sim.sim().issued_tokens();
    assert!(issued.len() >= 6, "every Entra method was issued tokens: {}", issued.len());
    for token in &issued {
        secrets.push(token.clone());
        // The signature part: unique to the token, and what makes it a secret.
        secrets.push(token.rsplit('.').next().unwrap().to_string());
    }
    for token in sim.sim().org().all_tokens().iter().flatten() {
        secrets.push(token.secret.clone());
    }
    for (what, text) in &outputs.0 {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{what} contains a secret ({} characters)", secret.len());
        }
    }
}
