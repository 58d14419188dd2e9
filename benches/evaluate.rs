//! Rules evaluation over one million tokens (default rules, with exceptions).
//!
//!     cargo bench --bench evaluate
//!
//! Prints the best of five runs. Not a test: timings depend on the machine.
//! `PAT2ENTRA_BENCH_TOKENS` and `PAT2ENTRA_BENCH_RUNS` change the size and the number of runs
//! (a small single run counts instructions under `valgrind --tool=callgrind`, which the shared
//! machine's load does not sway).

mod common;

use pat2entra::rules::RuleSet;
use std::time::Instant;

fn main() {
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (tokens_wanted, runs) = (env("PAT2ENTRA_BENCH_TOKENS", 1_000_000), env("PAT2ENTRA_BENCH_RUNS", 5));
    let as_of = common::as_of();
    let org = common::organization(5_000);
    // The organization's tokens over and over, each copy with its own id.
    let tokens = (0..tokens_wanted)
        .map(|n| {
            let mut token = org.tokens[n % org.tokens.len()].clone();
            token.authorization_id = format!("{}-{n}", token.authorization_id).into();
            token
        })
        .collect();
    let inventory = common::inventory(&org.users, tokens);
    let rules = RuleSet::parse(
        "extends = \"default\"\n\n[[exception]]\nrule = \"full-access\"\ndisplay_name = \"terraform*\"\nreason = \"r\"\nticket = \"T-1\"\nexpires = 2027-01-01\n\n[[exception]]\nowner = \"svc-build@bench.com\"\nreason = \"r\"\nticket = \"T-2\"\nexpires = 2026-01-01\n",
        "bench.toml",
    )
    .expect("bench rules parse");

    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut findings = 0;
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let evaluation = rules.evaluate(&inventory, as_of);
        best = best.min(start.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
        findings = evaluation.findings.len();
        drop(evaluation);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "evaluate: {tokens_wanted} tokens, {} owners, {} rules, {findings} findings: best of {runs} = {:.3} s ({:.0} tokens/s), CPU (user + system, all threads) {best_cpu:.3} s; load average {}",
        inventory.owners.len(),
        rules.rules.len(),
        best,
        tokens_wanted as f64 / best,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
}

/// CPU time (user + system) of this process's threads so far, in seconds (`getrusage`): less
/// swayed than the wall time by other jobs on a shared machine.
fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero `rusage` is valid; `getrusage` fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a pointer to a live local.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
