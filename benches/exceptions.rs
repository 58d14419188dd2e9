//! Rules evaluation with 20 000 exceptions (one per token, as a large organization's accepted
//! risks end up), against the same evaluation without exceptions.
//!
//!     cargo bench --bench exceptions
//!
//! Prints the best of three runs. Not a test: timings depend on the machine.

mod common;

use pat2entra::rules::RuleSet;
use std::fmt::Write;
use std::time::Instant;

const EXCEPTIONS: usize = 20_000;

fn main() {
    let as_of = common::as_of();
    let common::Organization { users, tokens } = common::organization(20_000);
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
    let inventory = common::inventory(&users, tokens);
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
