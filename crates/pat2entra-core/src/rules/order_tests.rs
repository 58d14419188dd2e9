//! The findings' order does not depend on how the work is split: on any number of threads and
//! bands of owners it is one stable sort (most severe first, then owner, token id and rule) of
//! the findings as found token by token in the inventory's order, the organization's first.
//!
//! The inventories repeat owners and token ids (a token id twice under one owner, a token with no
//! id, an owner with no descriptor, listed or not, an owner the inventory does not list, one it
//! lists twice with different facts) and have unreadable tokens: the cases where the order of
//! the work could show through.

use super::memo_tests::{RULES, inventory, now, token};
use super::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const OWNERS: [&str; 5] = ["o0", "o1", "o2", "", "o6"];
const IDS: [&str; 4] = ["a", "b", "", "c"];

fn with_keys() -> impl Strategy<Value = (crate::inventory::Token, usize, usize)> {
    (token(), 0..OWNERS.len(), 0..IDS.len())
}

/// The rules of `memo_tests`, and exceptions that have expired: one of a tenant policy's
/// finding and one of any token's, so that both the organization and a token have an
/// `exception-expired` finding.
fn rules() -> RuleSet {
    let expired = |rule: &str| {
        format!("[[exception]]\nrule = \"{rule}\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2026-01-01\n")
    };
    let text = format!("{RULES}{}{}", expired("policy-global-pat"), expired("unknown-scope"));
    RuleSet::parse(&text, "order.toml").expect("test rules parse")
}

/// The reference: each token judged alone (its findings are then in rule order within a
/// severity, equal rules as found), the organization's findings judged with no token; all of
/// them in that order, then one stable sort.
fn reference(rules: &RuleSet, inventory: &Inventory) -> Vec<Finding> {
    let judge = |tokens: Vec<crate::inventory::Token>| {
        let alone = Inventory { tokens, ..inventory.clone() };
        rules.evaluate_on(&alone, now(), || memo::Memo::off(rules.rules.len()), 1, 1).findings
    };
    let mut findings = judge(vec![]);
    assert!(findings.iter().all(|f| f.scope == FindingScope::Organization));
    for token in &inventory.tokens {
        findings.extend(judge(vec![token.clone()]).into_iter().filter(|f| f.scope == FindingScope::Credential));
    }
    sort_as_reported(&mut findings);
    findings
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_order_is_one_sort_whatever_the_split(
        tokens in prop::collection::vec((with_keys(), prop::bool::weighted(0.05)), 0..120),
        fills in 0u8..3,
        listed_twice in any::<bool>(),
    ) {
        let rules = rules();
        let mut inventory = inventory(tokens.iter().map(|((t, _, _), _)| t.clone()).collect(), fills, 1);
        for (token, ((_, owner, id), unreadable)) in inventory.tokens.iter_mut().zip(&tokens) {
            token.owner = OWNERS[*owner].into();
            token.authorization_id = IDS[*id].into();
            token.unreadable = unreadable.then(|| "validTo: 'x' is not a timestamp".into());
        }
        if listed_twice {
            // o0 listed again, deleted and not a member (the later entry is the one judged), and
            // an owner listed with no descriptor.
            let again = Owner { deleted_in_origin: true, member: Some(false), ..inventory.owners[0].clone() };
            let nameless = Owner { descriptor: Text::default(), ..inventory.owners[1].clone() };
            inventory.owners.extend([again, nameless]);
        }
        let expected = reference(&rules, &inventory);
        let one = rules.evaluate_on(&inventory, now(), || memo::Memo::new(rules.rules.len()), 1, 1);
        prop_assert_eq!(&one.findings, &expected);
        for (threads, bands) in [(2, 1), (1, 2), (3, 3), (8, 7), (64, 64)] {
            let split = rules.evaluate_on(&inventory, now(), || memo::Memo::new(rules.rules.len()), threads, bands);
            prop_assert_eq!(&split, &one, "{} threads, {} bands", threads, bands);
        }
    }
}

/// The organization's findings come before a token's of the same severity, except a token's
/// with no owner and no id whose rule sorts first (a value a hostile server could send).
#[test]
fn organization_findings_merge_with_a_token_of_no_owner_and_no_id() {
    let rules = rules();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let tokens = prop::collection::vec(token(), 300).new_tree(&mut runner).unwrap().current();
    let mut inventory = inventory(tokens, 1, 1);
    for token in &mut inventory.tokens[..100] {
        token.owner = Text::default();
        token.authorization_id = Text::default();
    }
    let evaluation = rules.evaluate_on(&inventory, now(), || memo::Memo::new(rules.rules.len()), 2, 3);
    assert_eq!(evaluation.findings, reference(&rules, &inventory));
    // The case is met: within one severity, an organization's finding between two of a token.
    let interleaved = evaluation.findings.windows(3).any(|w| {
        w[0].scope == FindingScope::Credential
            && w[1].scope == FindingScope::Organization
            && w[2].scope == FindingScope::Credential
            && w.iter().all(|f| f.severity == w[0].severity)
    });
    assert!(interleaved, "no organization finding between two of a token with no owner and no id");
}

/// The findings' documented order, by one stable sort: most severe first, then owner, token id
/// and rule.
pub(super) fn sort_as_reported(findings: &mut [Finding]) {
    fn key(f: &Finding) -> (std::cmp::Reverse<Severity>, &str, &str, &str) {
        (std::cmp::Reverse(f.severity), &f.owner, &f.authorization_id, &f.rule)
    }
    findings.sort_by(|a, b| key(a).cmp(&key(b)));
}
