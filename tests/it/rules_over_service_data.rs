//! Rules over data from the other crates: inventories the simulator generates, and tokens
//! as the Token Admin wire model reads them (pat2entra-core cannot depend on either).

use crate::common::{as_of as now, owner};
use chrono::Duration;
use pat2entra::ado::wire::SessionToken;
use pat2entra::inventory::{Coverage, Inventory, Owner, Token};
use pat2entra::rules::RuleSet;
use pat2entra::sim::SimOrg;

/// Rules of `rules` (TOML) evaluated over `tokens` of aad.alice: (rule, token id) pairs.
fn flagged(rules: &str, tokens: Vec<Token>) -> Vec<(String, String)> {
    let set = RuleSet::parse(rules, "test.toml").unwrap();
    let inventory = Inventory {
        organization: "o".into(),
        owners: vec![owner("aad.alice", "alice@contoso.com", "alice")],
        coverage: Coverage::new(1, 1, vec![]),
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    };
    let mut out: Vec<(String, String)> = set
        .evaluate(&inventory, now())
        .findings
        .into_iter()
        .filter(|f| !f.is_suppressed())
        .map(|f| (f.rule.into_owned(), f.authorization_id.to_string()))
        .collect();
    out.sort();
    out
}

fn pair(rule: &str, id: &str) -> (String, String) {
    (rule.to_string(), id.to_string())
}

/// A modest number of cases: each judges a whole inventory, and the suite runs on every commit.
fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() }
}

proptest::proptest! {
    #![proptest_config(proptest_config())]

    /// Inventories from the simulator's generator, each token bent into an edge case (no
    /// dates, no scopes, an unknown owner, expiry before creation, a long glob-like name).
    #[test]
    fn evaluation_is_deterministic_and_never_panics_on_arbitrary_inventories(
        seed in proptest::num::u64::ANY,
        users in 1usize..30,
        bends in proptest::collection::vec(0usize..7, 1..20),
    ) {
        let rules = RuleSet::shipped("strict").unwrap();
        let org = SimOrg::generate("o", seed, users, now(), None);
        let mut tokens: Vec<Token> = Vec::new();
        for (user, sim_tokens) in org.users().zip(org.all_tokens()) {
            for t in &sim_tokens {
                let mut token = t.to_inventory(&user.descriptor);
                match bends[tokens.len() % bends.len()] {
                    0 => token.valid_to = None,
                    1 => token.valid_from = None,
                    2 => token.scopes.clear(),
                    3 => token.owner = "aad.unknown-owner".into(),
                    4 => token.valid_to = token.valid_from.map(|f| f - Duration::days(5)),
                    5 => token.display_name = "ö*?[]".repeat(50),
                    _ => {}
                }
                tokens.push(token);
            }
        }
        let owners = org
            .users()
            .map(|u| Owner {
                deleted_in_origin: u.deleted_in_origin,
                ..owner(&u.descriptor, &u.principal_name, &u.display_name)
            })
            .collect();
        let inv = Inventory { organization: "o".into(), owners, coverage: Coverage::new(0, 0, vec![]), tokens, evidence: Default::default(), service: Default::default(), };
        let a = rules.evaluate(&inv, now());
        let mut shuffled = inv.clone();
        shuffled.tokens.reverse();
        proptest::prop_assert_eq!(&a, &rules.evaluate(&shuffled, now()), "evaluation depends on token order");
        proptest::prop_assert_eq!(&a, &rules.evaluate(&inv, now()));
    }
}

#[test]
fn zone_less_timestamps_from_the_service_judge_the_same() {
    let wire = |from: &str, to: &str| -> Token {
        let json = format!(
            r#"{{"authorizationId":"{to}","validFrom":"{from}","validTo":"{to}","scope":"vso.code","targetAccounts":["o"],"isValid":true}}"#
        );
        serde_json::from_str::<SessionToken>(&json).unwrap().into_token("aad.alice")
    };
    let rules = "[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_days = 90\n";
    // 90 days exactly (zone-less, as Token Admin sends), then 90 days and one second (with Z).
    let got = flagged(
        &format!("extends = \"none\"\n{rules}"),
        vec![
            wire("2026-11-01T00:00:00", "2027-01-30T00:00:00"),
            wire("2026-11-01T00:00:00Z", "2027-01-31T00:00:00.0000001Z"),
        ],
    );
    assert_eq!(got, [pair("long-lived", "2027-01-31T00:00:00.0000001Z")]);
}
