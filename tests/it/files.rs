//! Files pat2entra reads and writes, through the binary: private atomic outputs, checks before a
//! scan, input size limits, saved-scan messages, checkpoints and a closed standard output.

use crate::common;

use common::run;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-reports/demo-scan.json")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A small demo scan, judged as of a fixed date.
fn demo(extra: &[&str]) -> common::Run {
    let mut args = vec!["scan", "--demo", "--users", "30", "--as-of", "2026-11-26", "-q", "-o", "json"];
    args.extend_from_slice(extra);
    run(&args, &[])
}

#[cfg(unix)]
#[test]
fn outputs_are_private_replace_symlinks_and_leave_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "not yours").unwrap();
    let out = dir.path().join("report.md");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let r = run(&["report", s(&sample()), "-o", "markdown", "--out", s(&out)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not yours", "the symlink is not followed");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file(), "the symlink is replaced by the report");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // An existing world-readable file ends up private.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(&["plan", s(&sample()), "--out", s(&out)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&out).unwrap().contains('#'), "the plan was written");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn out_is_checked_before_the_scan_and_is_never_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("scan.checkpoint");
    let missing = dir.path().join("no-such-dir/scan.json");
    let r = demo(&["--out", s(&missing), "--checkpoint", s(&checkpoint)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out: cannot write") && r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!checkpoint.exists(), "nothing was scanned");

    // The same file, named two ways.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let same = dir.path().join("sub/../scan.checkpoint");
    let r = demo(&["--out", s(&same), "--checkpoint", s(&checkpoint)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out and --checkpoint are the same file"), "{}", r.stderr);
    #[cfg(unix)]
    {
        let report = dir.path().join("scan.json");
        std::fs::write(&report, "").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&report, &link).unwrap();
        let r = demo(&["--out", s(&report), "--checkpoint", s(&link)]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("the same file"), "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "", "the report is untouched");
    }

    // Two files: the scan completes, writes its report and removes its checkpoint.
    let out = dir.path().join("out.json");
    let r = demo(&["--out", s(&out), "--checkpoint", s(&checkpoint)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(record["coverage"]["complete"], true);
    assert!(!checkpoint.exists());
}

#[test]
fn checkpoints_that_are_stale_old_or_mismatched_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("scan.checkpoint");
    let out = dir.path().join("out.json");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a = vec!["--out".to_string(), s(&out).into(), "--checkpoint".into(), s(&checkpoint).into()];
        a.extend(extra.iter().map(|e| e.to_string()));
        a
    };
    let demo_with = |extra: &[&'static str]| {
        let a = args(extra);
        demo(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // A checkpoint of this very scan, started two weeks ago.
    std::fs::write(&checkpoint, common::stale_demo_checkpoint().1).unwrap();
    let r = demo_with(&[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("was started 14d ago") && r.stderr.contains("--checkpoint-max-age"), "{}", r.stderr);
    assert!(!out.exists());
    // Other rules than the scan that started it.
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "extends = \"default\"\n").unwrap();
    let mut with_rules = args(&["--checkpoint-max-age", "30d", "--rules"]);
    with_rules.push(s(&rules).into());
    let r = demo(&with_rules.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("other rules (built-in default; this scan: sha256:"), "{}", r.stderr);
    // A longer age accepts it.
    let r = demo_with(&["--checkpoint-max-age", "30d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!checkpoint.exists());

    // The version before parameters and checksums.
    std::fs::write(&checkpoint, "{\"format\":\"pat2entra-checkpoint\",\"version\":1,\"organization\":\"fabrikam\"}\n")
        .unwrap();
    let r = demo_with(&[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("older pat2entra") && r.stderr.contains("delete it"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn inputs_have_a_size_limit_and_dev_zero_fails_fast() {
    let r = run(&["report", "/dev/zero"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("saved scan /dev/zero: larger than 256 MiB"), "{}", r.stderr);
    let r = run(&["rules", "check", "/dev/zero"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("rules file /dev/zero: larger than 4 MiB"), "{}", r.stderr);
    let r = demo(&["--rules", "/dev/zero"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("rules file /dev/zero: larger than 4 MiB"), "{}", r.stderr);

    // A regular file over the limit is refused from its size, before reading.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::File::create(&big).unwrap().set_len(300 * 1024 * 1024).unwrap();
    let r = run(&["plan", s(&big)], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("big.json: larger than 256 MiB, the limit for a saved scan"), "{}", r.stderr);
}

#[test]
fn saved_scans_accept_a_bom_and_errors_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(sample()).unwrap();
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, format!("\u{feff}{text}")).unwrap();
    let r = run(&["report", s(&bom), "-o", "JSON"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap(), original);

    let version = dir.path().join("version.json");
    std::fs::write(&version, text.replacen("\"schema_version\": 2", "\"schema_version\": \"1\"", 1)).unwrap();
    let r = run(&["report", s(&version)], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("version.json: schema_version 2 (or 1) expected, found string \"1\""), "{}", r.stderr);

    let typed = dir.path().join("typed.json");
    let at = text.find("\"deleted_in_origin\": false").expect("the sample has owners");
    let line = text[..at].matches('\n').count() + 1;
    std::fs::write(&typed, text.replacen("\"deleted_in_origin\": false", "\"deleted_in_origin\": \"no\"", 1)).unwrap();
    let r = run(&["diff", s(&sample()), s(&typed)], &[]);
    assert_eq!(r.code, 2);
    let expected = format!("typed.json:{line}:");
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert!(
        r.stderr.contains(": owners[0].deleted_in_origin: invalid type: string \"no\", expected a boolean"),
        "{}",
        r.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_closed_standard_output_is_an_error_and_dev_null_is_not() {
    let sh = |redirect: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$0\" report \"$1\" -o csv {redirect}"))
            .arg(env!("CARGO_BIN_EXE_pat2entra"))
            .arg(sample())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = sh(">&-");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("standard output is closed") && stderr.contains("--out"), "{stderr}");
    let (code, stderr) = sh(">/dev/null");
    assert_eq!(code, Some(0), "{stderr}");
    #[cfg(target_os = "linux")]
    {
        let (code, stderr) = sh(">/dev/full");
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("cannot write the output"), "{stderr}");
    }
    // A reader that had enough (`| head`) is not an error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pat2entra"))
        .args(["report", s(&sample()), "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(target_os = "linux")]
#[test]
fn out_to_dev_stdout_writes_through_to_a_redirected_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redirected.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_pat2entra"))
        .args(["report", s(&sample()), "-o", "csv", "--out", "/dev/stdout"])
        .stdout(std::fs::File::create(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&file).unwrap().lines().count() > 1);
    assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink(), "/dev/stdout stays");
}
