//! Rules evaluation with 20 000 exceptions (one per token, as a large organization's accepted
//! risks end up), against the same evaluation without exceptions.
//!
//!     cargo bench --bench exceptions
//!
//! Prints the best of three runs. Not a test: timings depend on the machine.

use chrono::{TimeZone, Utc};
use pat2entra::inventory::{Coverage, Inventory, Owner};
use pat2entra::rules::RuleSet;
use pat2entra::sim::SimOrg;
use std::fmt::Write;
use std::time::Instant;

const EXCEPTIONS: usize = 20_000;

fn main() {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let org = SimOrg::generate("bench", 42, 20_000, as_of, None);
    let users: Vec<pat2entra::sim::SimUser> = org.users().collect();
    let tokens: Vec<_> = org
        .all_tokens()
        .iter()
        .enumerate()
        .flat_map(|(i, ts)| ts.iter().map(|t| t.to_inventory(&users[i].descriptor)).collect::<Vec<_>>())
        .collect();
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
    // Exceptions by token id (most), by owner and by exact name, plus a few globs.
    let mut text = String::from("extends = \"default\"\n");
    for (n, t) in tokens.iter().take(EXCEPTIONS).enumerate() {
        let key = match n % 10 {
            0 => format!("owner = \"{}\"\nrule = \"long-lived\"", users[n % users.len()].principal_name),
            1 => format!("display_name = \"{}\"\nrule = \"long-remaining\"\nowner = \"{}\"", t.display_name, t.owner),
            _ => format!("authorization_id = \"{}\"", t.authorization_id),
        };
        let _ = write!(
            text,
            "\n[[exception]]\n{key}\nreason = \"accepted {n}\"\nticket = \"SEC-{n}\"\nexpires = 2027-01-01\n"
        );
    }
    text.push_str("\n[[exception]]\ndisplay_name = \"terraform*\"\nrule = \"full-access\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n");
    let parse = Instant::now();
    let rules = RuleSet::parse(&text, "bench.toml").expect("bench rules parse");
    let parse = parse.elapsed().as_secs_f64();
    let plain = RuleSet::default_rules();
    let inventory = Inventory {
        organization: "bench".into(),
        coverage: Coverage::new(owners.len(), owners.len(), vec![]),
        owners,
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    };
    let best = |set: &RuleSet| {
        let mut best = f64::MAX;
        let mut suppressed = 0;
        for _ in 0..3 {
            let start = Instant::now();
            let evaluation = set.evaluate(&inventory, as_of);
            best = best.min(start.elapsed().as_secs_f64());
            suppressed = evaluation.findings.iter().filter(|f| f.is_suppressed()).count();
        }
        (best, suppressed)
    };
    let (without, _) = best(&plain);
    let (with, suppressed) = best(&rules);
    println!(
        "exceptions: {} tokens, {} exceptions (parsed in {parse:.3} s): evaluate {with:.3} s ({suppressed} findings suppressed), without exceptions {without:.3} s",
        inventory.tokens.len(),
        rules.exceptions.len()
    );
}
