//! `pat2entra trend` over a history of 100 daily scans of a 20,000-user organization.
//!
//!     cargo bench --bench history
//!
//! The scans are judged records of the simulator's generated organization (no scanning): day 0
//! is the organization as generated, each later day the same organization moved on from day 0
//! (tokens revoked and created), so findings start and end between scans. Building the history
//! (judging and adding each scan) is timed apart from what is measured: opening the history,
//! reading its rows, computing the trend and writing it as JSON, best of three. Target: under
//! 2 s. Not a test: timings depend on the machine. Environment (optional):
//! PAT2ENTRA_BENCH_SCANS (default 100), PAT2ENTRA_BENCH_USERS (default 20000).

mod common;

use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
use pat2entra::sim::SimOrg;
use pat2entra_core::trend::{self, Period};
use pat2entra_history::History;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let scans = env("PAT2ENTRA_BENCH_SCANS", 100);
    let users = env("PAT2ENTRA_BENCH_USERS", 20_000);
    let epoch = common::as_of();
    let rules = RuleSet::default_rules();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("history.db");
    let mut history = History::open(&path).expect("a new history");

    let built = Instant::now();
    // Day 0: the shared builder's organization; each later day, the same users' tokens as the
    // organization moved on from day 0.
    let common::Organization { users: people, tokens } = common::organization(users);
    let mut tokens_total = 0;
    let mut findings_total = 0;
    for day in 0..scans {
        let as_of = epoch + chrono::Duration::days(day as i64);
        let tokens = if day == 0 {
            tokens.clone()
        } else {
            let org = SimOrg::generate("bench", 42, users, as_of, Some(epoch));
            org.all_tokens()
                .iter()
                .enumerate()
                .flat_map(|(i, ts)| ts.iter().map(|t| t.to_inventory(&people[i].descriptor)).collect::<Vec<_>>())
                .collect()
        };
        let record = ScanRecord::judge(common::inventory(&people, tokens), &rules, as_of);
        tokens_total += record.tokens.len();
        findings_total += record.findings.len();
        history.add(std::slice::from_ref(&record)).expect("the scan is added");
    }
    drop(history);
    let build_seconds = built.elapsed().as_secs_f64();
    let size_mb = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / 1e6;

    let mut best = f64::MAX;
    let mut episodes = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let history = History::open_existing(&path).expect("the history opens");
        let rows = history.rows(None).expect("the rows are read");
        let trend = trend::compute(&rows, Period::Month);
        pat2entra::report::render_trend(&trend, pat2entra::report::Format::Json, &mut std::io::sink())
            .expect("the trend renders");
        best = best.min(start.elapsed().as_secs_f64());
        episodes = trend.findings.len();
    }
    println!(
        "history: {scans} scans of {} owners ({} tokens, {} findings per scan on average), built in {build_seconds:.1} s, \
         {size_mb:.1} MB; trend ({episodes} finding episodes): best of 3 = {best:.3} s (target 2 s)",
        people.len(),
        tokens_total / scans.max(1),
        findings_total / scans.max(1),
    );
}
