//! Rules evaluation over one million tokens (default rules, with exceptions).
//!
//!     cargo bench --bench evaluate
//!
//! Prints the best of five runs. Not a test: timings depend on the machine.

use chrono::{TimeZone, Utc};
use pat2entra::inventory::{Coverage, Inventory, Owner, Token};
use pat2entra::rules::RuleSet;
use pat2entra::sim::SimOrg;
use std::time::Instant;

const TOKENS: usize = 1_000_000;

fn main() {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let org = SimOrg::generate("bench", 42, 5_000, as_of, None);
    let all_tokens = org.all_tokens();
    let users: Vec<pat2entra::sim::SimUser> = org.users().collect();
    let owners: Vec<Owner> = users
        .iter()
        .map(|u| Owner {
            descriptor: u.descriptor.clone(),
            display_name: u.display_name.clone(),
            principal_name: u.principal_name.clone(),
            mail: Some(u.mail.clone()),
            origin: u.origin.clone(),
            deleted_in_origin: u.deleted_in_origin,
            ..Default::default()
        })
        .collect();
    let templates: Vec<(usize, &pat2entra::sim::SimToken)> =
        all_tokens.iter().enumerate().flat_map(|(i, ts)| ts.iter().map(move |t| (i, t))).collect();
    let tokens: Vec<Token> = (0..TOKENS)
        .map(|n| {
            let (owner, t) = templates[n % templates.len()];
            let mut token = t.to_inventory(&users[owner].descriptor);
            token.authorization_id = format!("{}-{n}", t.authorization_id);
            token
        })
        .collect();
    let inventory = Inventory {
        organization: "bench".into(),
        coverage: Coverage::new(owners.len(), owners.len(), vec![]),
        owners,
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    };
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
