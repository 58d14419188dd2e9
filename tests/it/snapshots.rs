//! Snapshots (insta) of what a user sees: every output format of a report of a small demo
//! record, the plan and the diff, `--help` of each command, and each user-facing error (stderr and
//! exit code). The snapshots live in tests/it/snapshots/; after an intended change, review the diff
//! the failing test prints, then accept all with:
//!
//!     INSTA_UPDATE=always cargo test --test it snapshots::
//!
//! (or `cargo insta review` where cargo-insta is installed). The full-size demo reports are
//! checked byte for byte by tests/it/sample_reports.rs.

use crate::common;

use common::{Run, run};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Two small demo scans (the same organization two weeks apart), made once for all tests.
struct Demo {
    /// Kept so the directory lives as long as the tests.
    _dir: tempfile::TempDir,
    scan: PathBuf,
    later: PathBuf,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let scan = dir.path().join("scan.json");
        let later = dir.path().join("later.json");
        for (path, extra) in [
            (&scan, &["--as-of", "2026-11-26"][..]),
            (&later, &["--as-of", "2026-12-10", "--demo-epoch", "2026-11-26"][..]),
        ] {
            let mut args = vec!["scan", "--demo", "--seed", "42", "--users", "6", "--quiet", "-o", "json"];
            args.extend_from_slice(extra);
            args.extend(["--out", path.to_str().unwrap()]);
            let r = run(&args, &[]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        Demo { _dir: dir, scan, later }
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a command over the demo scans (`{scan}`, `{later}`) and returns its standard output.
fn output(args: &[&str]) -> String {
    let d = demo();
    let args: Vec<String> =
        args.iter().map(|a| a.replace("{scan}", s(&d.scan)).replace("{later}", s(&d.later))).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&args, &[]);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    assert!(r.stderr.is_empty(), "{args:?}: {}", r.stderr);
    r.stdout
}

macro_rules! snapshot_output {
    ($($name:ident: [$($arg:expr),*];)*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), output(&[$($arg),*]));
        }
    )*};
}

// Standard output is not a terminal here, so the table has the fixed width of a file.
snapshot_output! {
    report_table: ["report", "{scan}", "-o", "table"];
    report_json: ["report", "{scan}", "-o", "json"];
    report_csv_findings: ["report", "{scan}", "-o", "csv"];
    report_csv_tokens: ["report", "{scan}", "-o", "csv", "--csv-kind", "tokens"];
    report_markdown: ["report", "{scan}", "-o", "markdown"];
    report_html: ["report", "{scan}", "-o", "html"];
    report_ocsf: ["report", "{scan}", "-o", "ocsf"];
    report_junit: ["report", "{scan}", "-o", "junit"];
    plan_markdown: ["plan", "{scan}", "-o", "markdown"];
    plan_csv: ["plan", "{scan}", "-o", "csv"];
    diff_table: ["diff", "{scan}", "{later}", "-o", "table"];
    diff_markdown: ["diff", "{scan}", "{later}", "-o", "markdown"];
    diff_json: ["diff", "{scan}", "{later}", "-o", "json"];
    diff_html: ["diff", "{scan}", "{later}", "-o", "html"];
}

#[test]
fn report_markdown_redacted() {
    let d = demo();
    let r = run(
        &["report", s(&d.scan), "-o", "markdown", "--redact"],
        &[("PAT2ENTRA_REDACT_KEY", "snapshot-key-not-secret")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("report_markdown_redacted", r.stdout);
}

#[test]
fn report_summary() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let r = run(
        &["report", s(&d.scan), "-o", "json", "--out", s(&dir.path().join("x.json")), "--summary", s(&summary)],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("report_summary", std::fs::read_to_string(&summary).unwrap());
}

/// `--help` of every command, at a fixed width (clap reads `COLUMNS` when it is not a terminal).
#[test]
fn help_of_every_command() {
    let commands: &[&[&str]] = &[
        &[],
        &["scan"],
        &["report"],
        &["diff"],
        &["plan"],
        &["revoke"],
        &["notify"],
        &["explain"],
        &["whoami"],
        &["rules"],
        &["rules", "check"],
        &["rules", "explain"],
        &["simulate"],
        &["history"],
        &["history", "add"],
        &["trend"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let r = run(&args, &[("COLUMNS", "100")]);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let name = if command.is_empty() { "help".to_string() } else { format!("help_{}", command.join("_")) };
        insta::assert_snapshot!(name, r.stdout);
    }
}

/// What a user sees on a failed run: exit code, stderr (the temporary directory shown as
/// `[TMP]`), and stdout if anything reached it.
fn failure(args: &[&str], r: &Run, tmp: &Path) -> String {
    let mut text = format!("$ pat2entra {}\nexit code: {}\n--- stderr\n{}", args.join(" "), r.code, r.stderr);
    if !r.stdout.is_empty() {
        text.push_str(&format!("--- stdout\n{}", r.stdout));
    }
    text.replace(s(tmp), "[TMP]")
}

/// Runs the binary in `dir` (so relative paths in messages stay short) with `args` and extra
/// environment variables; no sign-in variable, no Azure CLI, no redaction key is inherited.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1").env("PATH", common::path_without_clis(None));
    for name in common::SIGN_IN_VARIABLES.iter().chain(&["PAT2ENTRA_REDACT_KEY"]) {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn user_facing_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path();
    let write = |name: &str, text: &str| std::fs::write(tmp.join(name), text).unwrap();
    write("extends-missing.toml", "extends = \"base.toml\"\n");
    write("unknown-parameter.toml", "extends = \"default\"\n[rules.long-lived]\nmax_days = 90\n");
    write("unknown-key.toml", "extends = \"default\"\nbogus = 1\n");
    write("not-toml.toml", "extends = [\n");
    write("bad-severity.toml", "extends = \"default\"\n[rules.full-access]\nseverity = \"urgent\"\n");
    write("empty-object.json", "{}\n");
    write("not-json.json", "not json\n");
    write("future.json", "{\"schema_version\": 99}\n");
    let sample = std::fs::read_to_string(&demo().scan).unwrap();
    write("typed.json", &sample.replacen("\"deleted_in_origin\": false", "\"deleted_in_origin\": \"no\"", 1));
    let other_org = sample.replacen("\"organization\": \"fabrikam\"", "\"organization\": \"contoso\"", 1);
    assert_ne!(other_org, sample);
    write("contoso.json", &other_org);
    std::fs::copy(&demo().scan, tmp.join("fabrikam.json")).unwrap();
    write("old.checkpoint", "{\"format\":\"pat2entra-checkpoint\",\"version\":1,\"organization\":\"fabrikam\"}\n");
    // A checkpoint of the demo scan, started two weeks ago.
    let (started, stale) = common::stale_demo_checkpoint();
    write("stale.checkpoint", &stale);

    let demo = ["scan", "--demo", "--seed", "42", "--users", "6", "--quiet"];
    let with_demo = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = demo.to_vec();
        a.extend_from_slice(extra);
        a
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Organization argument forms.
        ("org_with_a_project", vec!["scan", "--org", "contoso/project"]),
        ("org_with_a_space", vec!["scan", "--org", "con toso"]),
        ("org_url_without_a_path", vec!["scan", "--org", "https://dev.azure.com/"]),
        ("org_dots", vec!["scan", "--org", ".."]),
        ("org_with_a_credential", vec!["scan", "--org", "user:secret@contoso"]),
        ("org_url_with_a_credential", vec!["scan", "--org", "https://user:secret@dev.azure.com/contoso"]),
        ("org_url_not_a_url", vec!["scan", "--org", "https://[dev.azure.com/contoso"]),
        ("org_too_long", vec!["scan", "--org", "a123456789b123456789c123456789d123456789e123456789f"]),
        ("base_url_plain_http", vec!["scan", "--org", "contoso", "--base-url", "http://example.com"]),
        ("base_url_other_scheme", vec!["scan", "--org", "contoso", "--base-url", "ftp://example.com"]),
        // Rules files.
        ("rules_extends_missing", vec!["rules", "check", "extends-missing.toml"]),
        ("rules_unknown_parameter", vec!["rules", "check", "unknown-parameter.toml"]),
        ("rules_unknown_key", vec!["rules", "check", "unknown-key.toml"]),
        ("rules_not_toml", vec!["rules", "check", "not-toml.toml"]),
        ("rules_bad_severity", vec!["rules", "check", "bad-severity.toml"]),
        ("rules_file_missing", vec!["rules", "check", "missing.toml"]),
        ("scan_rules_file_missing", with_demo(&["--rules", "missing.toml"])),
        // Saved scans.
        ("saved_scan_missing", vec!["report", "missing.json"]),
        ("saved_scan_empty_object", vec!["report", "empty-object.json"]),
        ("saved_scan_not_json", vec!["plan", "not-json.json"]),
        ("saved_scan_future_version", vec!["report", "future.json"]),
        ("saved_scan_wrong_type", vec!["report", "typed.json"]),
        // Checkpoints.
        (
            "checkpoint_stale",
            with_demo(&["--as-of", "2026-11-26", "--checkpoint", "stale.checkpoint", "--out", "out.json"]),
        ),
        (
            "checkpoint_older_format",
            with_demo(&["--as-of", "2026-11-26", "--checkpoint", "old.checkpoint", "--out", "out.json"]),
        ),
        ("checkpoint_same_as_out", with_demo(&["--checkpoint", "same.json", "--out", "same.json"])),
        // Output.
        ("out_into_a_missing_directory", with_demo(&["--out", "missing/out.json"])),
        ("unknown_output_format", vec!["report", "empty-object.json", "-o", "pdf"]),
        // Arguments.
        ("as_of_not_a_date", with_demo(&["--as-of", "2026-13-01"])),
        ("checkpoint_max_age_without_unit", with_demo(&["--checkpoint-max-age", "3"])),
        ("explain_unknown_id", vec!["explain", "long-livd"]),
        ("scan_without_org", vec!["scan"]),
        ("rules_explain_unknown_id", vec!["rules", "explain", "long-livd"]),
        ("demo_with_org", vec!["scan", "--demo", "--org", "contoso"]),
        ("unknown_auth_method", vec!["scan", "--org", "contoso", "--auth", "nope"]),
        // Sign-in: nothing configured, and a secret file that is not there.
        ("no_credential", vec!["scan", "--org", "contoso", "--quiet"]),
        (
            "client_secret_file_missing",
            vec![
                "scan",
                "--org",
                "contoso",
                "--auth",
                "client-secret",
                "--tenant",
                "t",
                "--client-secret-file",
                "nofile",
            ],
        ),
        ("authority_host_plain_http", vec!["whoami", "--org", "contoso", "--authority-host", "http://login.example"]),
        // Diff and redaction.
        ("diff_of_different_organizations", vec!["diff", "fabrikam.json", "contoso.json"]),
        ("redact_key_file_missing", vec!["report", "fabrikam.json", "--redact", "--redact-key-file", "nokey"]),
        ("redact_key_too_short", vec!["report", "fabrikam.json", "--redact"]),
    ];
    for (name, args) in cases {
        let env: &[(&str, &str)] =
            if name == "redact_key_too_short" { &[("PAT2ENTRA_REDACT_KEY", "short")] } else { &[] };
        let r = run_in(tmp, &args, env);
        assert_ne!(r.code, 0, "{name}: {args:?} succeeded");
        // The stale checkpoint names when it started: two weeks before today.
        let shown = failure(&args, &r, tmp).replace(&started, "[STARTED]");
        insta::assert_snapshot!(format!("error_{name}"), shown);
    }
}
