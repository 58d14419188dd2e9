//! `sample-reports/` holds the demo organization's reports; this test fails when they drift from
//! what the code produces. Regenerate them with:
//!
//!     UPDATE_SAMPLES=1 cargo test --test sample_reports

mod common;

use common::run;
use std::path::Path;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-reports");

#[test]
fn sample_reports_match_the_code() {
    let update = std::env::var_os("UPDATE_SAMPLES").is_some();
    let dir = tempfile::tempdir().unwrap();
    let mut stale = Vec::new();
    for (format, name) in [("table", "demo-scan.txt"), ("json", "demo-scan.json"), ("csv", "demo-scan.csv")] {
        let out = dir.path().join(name);
        let r = run(
            &[
                "scan",
                "--demo",
                "--seed",
                "42",
                "--as-of",
                "2026-11-26",
                "--quiet",
                "-o",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let produced = std::fs::read_to_string(&out).unwrap();
        let sample_path = Path::new(SAMPLES).join(name);
        if update {
            std::fs::write(&sample_path, &produced).unwrap();
        } else if std::fs::read_to_string(&sample_path).ok().as_deref() != Some(produced.as_str()) {
            stale.push(name);
        }
    }
    // The retirement plan of the demo scan.
    let scan = dir.path().join("demo-scan.json");
    for (format, name) in [("markdown", "demo-plan.md"), ("csv", "demo-plan.csv")] {
        let out = dir.path().join(name);
        let r = run(&["plan", scan.to_str().unwrap(), "-o", format, "--out", out.to_str().unwrap()], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let produced = std::fs::read_to_string(&out).unwrap();
        let sample_path = Path::new(SAMPLES).join(name);
        if update {
            std::fs::write(&sample_path, &produced).unwrap();
        } else if std::fs::read_to_string(&sample_path).ok().as_deref() != Some(produced.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "sample reports {stale:?} differ from what the code produces; regenerate: UPDATE_SAMPLES=1 cargo test --test sample_reports"
    );
}
