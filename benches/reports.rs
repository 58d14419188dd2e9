//! Reports of a large scan record, through the real binary: every format, `--redact`, `plan` and
//! `diff` over a record of 100,000 users (the simulator's generated organization, judged).
//!
//!     cargo bench --bench reports          # PAT2ENTRA_BENCH_USERS=20000 for a smaller record
//!     # PAT2ENTRA_BENCH_ONLY=csv: only those commands; PAT2ENTRA_BENCH_KEEP=DIR: keep the records;
//!     # PAT2ENTRA_BENCH_BIN=PATH: measure that pat2entra binary instead
//!
//! Each command runs in a process of its own, its output to a file; printed: wall time, CPU
//! (user + system) and peak RSS of that process (`wait4`), the output's size, and the load
//! average before it, since the cores may be shared. Building the records is not measured.

mod common;
mod measure;

use pat2entra::record::ScanRecord;
use pat2entra::report::{self, Format, RenderOptions};
use pat2entra::rules::RuleSet;
use std::path::Path;
use std::process::Command;

fn main() {
    let users: usize = std::env::var("PAT2ENTRA_BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    // PAT2ENTRA_BENCH_KEEP=DIR keeps the two records there (to profile a command on them).
    let keep = std::env::var_os("PAT2ENTRA_BENCH_KEEP").map(std::path::PathBuf::from);
    let base = keep.as_deref().unwrap_or(dir.path());
    let new = base.join("new.json");
    let old = base.join("old.json");
    if let Some(users) = std::env::var("PAT2ENTRA_BENCH_BUILD").ok().and_then(|v| v.parse().ok()) {
        return build(users, &new, &old);
    }
    // The records are built by a child process (this bench again), so that this process stays
    // small: a command's peak RSS as `wait4` reports it is at least its parent's RSS when it was
    // forked (the kernel carries the high-water mark over `exec`). Built here, the records
    // added about 180 MB to every figure.
    let status = Command::new(std::env::current_exe().unwrap())
        .env("PAT2ENTRA_BENCH_BUILD", users.to_string())
        .env("PAT2ENTRA_BENCH_KEEP", base)
        .status()
        .unwrap();
    assert!(status.success(), "building the records failed");
    // PAT2ENTRA_BENCH_BIN=PATH measures another build of pat2entra (an older one, to compare).
    let binary = std::env::var_os("PAT2ENTRA_BENCH_BIN")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_pat2entra")), std::path::PathBuf::from);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6;
    println!("record: {users} users, {:.1} MB of JSON", size(&new));
    println!("| command | wall (s) | CPU (s) | peak RSS (MB) | output (MB) | load average before |");
    println!("| :--- | ---: | ---: | ---: | ---: | :--- |");
    let out = dir.path().join("out");
    let new = new.to_str().unwrap();
    let old = old.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", new, "-o", "table"],
        vec!["report", new, "-o", "json"],
        vec!["report", new, "-o", "csv"],
        vec!["report", new, "-o", "csv", "--csv-kind", "tokens"],
        vec!["report", new, "-o", "html"],
        vec!["report", new, "-o", "markdown"],
        vec!["report", new, "-o", "table", "--redact"],
        vec!["report", new, "-o", "json", "--redact"],
        vec!["report", new, "-o", "csv", "--redact"],
        vec!["report", new, "-o", "html", "--redact"],
        vec!["report", new, "-o", "markdown", "--redact"],
        vec!["plan", new],
        vec!["plan", new, "-o", "csv"],
        vec!["plan", new, "--redact"],
        vec!["diff", old, new],
        vec!["diff", old, new, "-o", "json"],
    ];
    // PAT2ENTRA_BENCH_ONLY=csv runs only the commands whose words contain it.
    let only = std::env::var("PAT2ENTRA_BENCH_ONLY").unwrap_or_default();
    // The words of the command, not the records' paths (`new.json` would match `json`).
    let words = |args: &[&str]| args.iter().filter(|a| **a != new && **a != old).copied().collect::<Vec<_>>().join(" ");
    for args in cases.into_iter().filter(|a| words(a).contains(&only)) {
        let load = measure::load_average();
        let _ = std::fs::remove_file(&out);
        let mut command = Command::new(&binary);
        command.args(&args).arg("--out").arg(&out).env("PAT2ENTRA_REDACT_KEY", "bench-key-0123456789abcdef");
        let (measure::Child { wall, cpu, peak_rss_mb: rss, status }, _) = measure::measure(&mut command);
        let shown: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == new {
                    "NEW"
                } else if *a == old {
                    "OLD"
                } else {
                    a
                }
            })
            .collect();
        println!("| {} | {wall:.2} | {cpu:.2} | {rss:.0} | {:.1} | {load} |", shown.join(" "), size(&out));
        if status != 0 {
            eprintln!("{}: exit status {status:#x}", shown.join(" "));
        }
    }
}

/// The two records: the organization judged now (`new`) and a month earlier (`old`: other
/// findings, for diff).
fn build(users: usize, new: &Path, old: &Path) {
    let org = common::organization(users);
    println!("organization: {} tokens", org.tokens.len());
    let rules = RuleSet::default_rules();
    for (path, as_of) in [(new, common::as_of()), (old, common::as_of() - chrono::Duration::days(30))] {
        let record = ScanRecord::judge(common::inventory(&org.users, org.tokens.clone()), &rules, as_of);
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        report::render(&record, Format::Json, &RenderOptions::default(), &mut file).unwrap();
    }
}
