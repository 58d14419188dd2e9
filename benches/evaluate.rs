//! Rules evaluation over one million tokens (default rules, with exceptions).
//!
//!     cargo bench --bench evaluate
//!
//! Prints the best of five runs. Not a test: timings depend on the machine.

mod common;

use pat2entra::rules::RuleSet;
use std::time::Instant;

const TOKENS: usize = 1_000_000;

fn main() {
    let as_of = common::as_of();
    let org = common::organization(5_000);
    // The organization's tokens over and over, each copy with its own id.
    let tokens = (0..TOKENS)
        .map(|n| {
            let mut token = org.tokens[n % org.tokens.len()].clone();
            token.authorization_id = format!("{}-{n}", token.authorization_id);
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
    let mut findings = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let evaluation = rules.evaluate(&inventory, as_of);
        best = best.min(start.elapsed().as_secs_f64());
        findings = evaluation.findings.len();
    }
    println!(
        "evaluate: {TOKENS} tokens, {} owners, {} rules, {findings} findings: best of 5 = {:.3} s ({:.0} tokens/s)",
        inventory.owners.len(),
        rules.rules.len(),
        best,
        TOKENS as f64 / best
    );
}
