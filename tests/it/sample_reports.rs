//! `sample-reports/` holds every report of the demo organization; this test fails when they
//! drift from what the code produces. Regenerate them all with:
//!
//!     UPDATE_SAMPLES=1 cargo test --test it sample_reports::

use crate::common;

use common::run;
use std::path::Path;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-reports");

/// (file name, arguments after the shared ones). `{scan}` and `{later}` are the two demo scans.
const REPORTS: &[(&str, &[&str])] = &[
    ("demo-scan.txt", &["report", "{scan}", "-o", "table"]),
    ("demo-scan.json", &["report", "{scan}", "-o", "json"]),
    ("demo-findings.csv", &["report", "{scan}", "-o", "csv"]),
    ("demo-tokens.csv", &["report", "{scan}", "-o", "csv", "--csv-kind", "tokens"]),
    ("demo-scan.md", &["report", "{scan}", "-o", "markdown"]),
    ("demo-scan.html", &["report", "{scan}", "-o", "html"]),
    ("demo-scan-redacted.md", &["report", "{scan}", "-o", "markdown", "--redact"]),
    ("demo-scan.ocsf.jsonl", &["report", "{scan}", "-o", "ocsf"]),
    ("demo-scan.junit.xml", &["report", "{scan}", "-o", "junit"]),
    // `--summary` last: the sample is the summary file (the record goes to `{scan}.copy`).
    ("demo-summary.md", &["report", "{scan}", "-o", "json", "--out", "{scan}.copy", "--summary"]),
    ("demo-plan.md", &["plan", "{scan}", "-o", "markdown"]),
    ("demo-plan.csv", &["plan", "{scan}", "-o", "csv"]),
    ("demo-diff.txt", &["diff", "{scan}", "{later}", "-o", "table"]),
    ("demo-diff.md", &["diff", "{scan}", "{later}", "-o", "markdown"]),
    ("demo-diff.json", &["diff", "{scan}", "{later}", "-o", "json"]),
    ("demo-diff.html", &["diff", "{scan}", "{later}", "-o", "html"]),
];

#[test]
fn sample_reports_match_the_code() {
    let update = std::env::var_os("UPDATE_SAMPLES").is_some();
    let dir = tempfile::tempdir().unwrap();
    // The demo organization on 2026-11-26, and the same organization two weeks later.
    let scan = dir.path().join("scan.json");
    let later = dir.path().join("later.json");
    for (path, extra) in [
        (&scan, &["--as-of", "2026-11-26"][..]),
        (&later, &["--as-of", "2026-12-10", "--demo-epoch", "2026-11-26"][..]),
    ] {
        let mut args = vec!["scan", "--demo", "--seed", "42", "--quiet", "-o", "json"];
        args.extend_from_slice(extra);
        args.extend(["--out", path.to_str().unwrap()]);
        let r = run(&args, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut stale = Vec::new();
    let mut differences = String::new();
    for (name, args) in REPORTS {
        let out = dir.path().join(name);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{scan}", scan.to_str().unwrap()).replace("{later}", later.to_str().unwrap()))
            .collect();
        let mut args = args;
        if args.last().is_some_and(|a| a == "--summary") {
            args.push(out.to_str().unwrap().to_string());
        } else {
            args.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A fixed redaction key: with a random one the pseudonyms would change every run.
        let env: &[(&str, &str)] =
            if args.contains(&"--redact") { &[("PAT2ENTRA_REDACT_KEY", "sample-reports-key-not-secret")] } else { &[] };
        let r = run(&args, env);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let produced = std::fs::read_to_string(&out).unwrap();
        let sample_path = Path::new(SAMPLES).join(name);
        if update {
            std::fs::write(&sample_path, &produced).unwrap();
        } else {
            let sample = std::fs::read_to_string(&sample_path).unwrap_or_default();
            if sample != produced {
                stale.push(*name);
                differences.push_str(&first_differences(name, &sample, &produced));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "sample reports {stale:?} differ from what the code produces:\n{differences}\
         if the change is intended, regenerate: UPDATE_SAMPLES=1 cargo test --test it sample_reports::"
    );
}

/// The first hunks of a line diff of a sample and what the code produces (the whole diff of a
/// half-megabyte report would bury the point).
fn first_differences(name: &str, sample: &str, produced: &str) -> String {
    const MAX_LINES: usize = 40;
    let diff = similar::TextDiff::from_lines(sample, produced);
    let unified =
        diff.unified_diff().context_radius(2).header(&format!("sample-reports/{name}"), "produced").to_string();
    let total = unified.lines().count();
    let mut shown: String = unified.lines().take(MAX_LINES).flat_map(|l| [l, "\n"]).collect();
    if total > MAX_LINES {
        shown.push_str(&format!("... ({} more diff lines)\n", total - MAX_LINES));
    }
    if sample.is_empty() {
        shown = format!("--- sample-reports/{name} is missing or empty\n");
    }
    shown
}
