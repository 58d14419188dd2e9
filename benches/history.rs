//! `pat2entra trend` over a history of 100 daily scans of a 20,000-user organization.
//!
//!     cargo bench --bench history
//!
//! The scans are judged records of the shared builder's organization (no scanning), moving on
//! day by day as an organization does: each day about 0.3% of the tokens are revoked (and stay
//! revoked), 0.6% of the users create a token (which stays), and tokens expire as the dates pass,
//! so findings start and end between scans. (The simulator's `--demo-epoch` draws each date
//! afresh, so a token revoked one day may be valid the next: fine for a pair of scans, not for a
//! hundred.) Building the history
//! (judging and adding each scan) is timed apart from what is measured: opening the history,
//! reading its rows, computing the trend and writing it as JSON, best of three. Target: under
//! 2 s. Not a test: timings depend on the machine. Environment (optional):
//! PAT2ENTRA_BENCH_SCANS (default 100), PAT2ENTRA_BENCH_USERS (default 20000).

mod common;

use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
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
    let common::Organization { users: people, tokens: base } = common::organization(users);
    let mut tokens_total = 0;
    let mut findings_total = 0;
    // A stable pseudo-random number per (salt, index).
    let draw = |salt: u64, i: u64| (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) % 10_000;
    let mut created: Vec<pat2entra::inventory::Token> = Vec::new();
    for day in 0..scans {
        let as_of = epoch + chrono::Duration::days(day as i64);
        // Users who create a token today (it stays from then on).
        for (u, user) in people.iter().enumerate() {
            if day > 0 && draw(day as u64, u as u64) < 60 {
                let mut token = base[u % base.len()].clone();
                let lifetime = token.valid_to.zip(token.valid_from).map(|(to, from)| to - from);
                token.authorization_id = format!("new-{day}-{u}").into();
                token.owner = user.descriptor.as_str().into();
                token.valid_from = Some(as_of);
                token.valid_to = lifetime.map(|l| as_of + l);
                token.is_valid = true;
                created.push(token);
            }
        }
        // Tokens revoked by today: about 0.3% a day, each for good.
        let tokens = base
            .iter()
            .chain(&created)
            .enumerate()
            .map(|(i, t)| {
                let mut t = t.clone();
                if draw(0xC0FFEE, i as u64) < 30 * day as u64 {
                    t.is_valid = false;
                }
                t
            })
            .collect();
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
