//! Secrets never reach output: not the PAT given in the environment, not any `token` or
//! `alternateToken` value the API returns, in no format, on no path (success, gap, failure).

use crate::common;

use base64::Engine as _;
use common::{TestSim, run, sim_config};
use pat2entra::sim::{Faults, SimConfig};

const PAT: &str = "secret-pat-9a7d5c3b1e0f2468ace";

fn forbidden(sim: &TestSim) -> Vec<String> {
    let mut secrets = vec![PAT.to_string(), base64::engine::general_purpose::STANDARD.encode(format!(":{PAT}"))];
    for token in sim.sim().org().all_tokens().iter().flatten() {
        secrets.push(token.secret.clone());
    }
    secrets
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what} contains a secret");
    }
}

#[test]
fn no_secret_appears_in_any_output() {
    let probe = TestSim::start(sim_config());
    let failing = probe.sim().org().user(2).unwrap().descriptor.clone();
    drop(probe);
    let sim = TestSim::start(SimConfig {
        accepted_pat: Some(PAT.into()),
        leak_secret_fields: true,
        faults: Faults { failing_owners: [failing].into(), ..Faults::default() },
        ..sim_config()
    });
    let secrets = forbidden(&sim);
    assert!(secrets.len() > 50, "the simulator served secret values to leak");
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let env = [("AZURE_DEVOPS_EXT_PAT", PAT), ("RUST_LOG", "trace"), ("RUST_BACKTRACE", "1")];

    let mut scanned_tokens = 0;
    for format in ["table", "json", "csv"] {
        let out = dir.path().join(format!("scan.{format}"));
        let r = run(
            &[
                "scan",
                "--org",
                "fabrikam",
                "--base-url",
                &base,
                "--max-retries",
                "1",
                "-o",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(r.code, 4, "one owner fails: {}", r.stderr);
        let file = std::fs::read_to_string(&out).unwrap();
        assert!(!file.is_empty());
        assert_clean(&format!("{format} file"), &file, &secrets);
        assert_clean("stdout", &r.stdout, &secrets);
        assert_clean("stderr", &r.stderr, &secrets);
        if format == "json" {
            let record: serde_json::Value = serde_json::from_str(&file).unwrap();
            scanned_tokens = record["tokens"].as_array().unwrap().len();
        }
    }
    assert!(scanned_tokens > 0);

    // To stdout, and on the failure paths: a wrong credential and a refused permission.
    let r = run(&["scan", "--org", "fabrikam", "--base-url", &base, "--max-retries", "0", "-o", "json"], &env);
    assert_clean("json on stdout", &r.stdout, &secrets);
    let r = run(
        &["scan", "--org", "fabrikam", "--base-url", &base],
        &[("AZURE_DEVOPS_EXT_PAT", "not-the-right-one-77"), ("RUST_LOG", "trace")],
    );
    assert_eq!(r.code, 3);
    assert!(!r.stderr.contains("not-the-right-one-77"));
    assert_clean("stderr on a bad credential", &r.stderr, &secrets);
}

#[test]
fn the_demo_credential_never_shows() {
    // The demo's random credential is unknown to the test, so look for anything shaped like it:
    // 64 hex digits in a row.
    let r = run(&["scan", "--demo", "-o", "json"], &[("RUST_LOG", "trace")]);
    assert_eq!(r.code, 0);
    for text in [&r.stdout, &r.stderr] {
        let longest_hex_run = text.split(|c: char| !c.is_ascii_hexdigit()).map(str::len).max().unwrap_or(0);
        assert!(longest_hex_run < 64, "a 64-hex-digit credential-like value appears in the output");
    }
}

#[cfg(unix)]
#[test]
fn reports_are_written_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let r = run(&["scan", "--demo", "-q", "-o", "json", "--out", out.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}
