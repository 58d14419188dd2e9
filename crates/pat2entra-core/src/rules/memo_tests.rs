//! Remembering results (`memo`) changes nothing: on varied inventories, every rule of the strict
//! set, with exceptions, gives the same findings, messages, confidence and exception reports
//! as judging each token afresh, and as a memory that forgets every few results.

use super::*;
use crate::evidence::{
    AuditWindow, CredentialEvent, CredentialKind, EventKind, Evidence, LastAccessed, LastSeen, Source, SourceCoverage,
    TenantPolicies,
};
use crate::inventory::{Coverage, Token};
use crate::service::{Basis, Reading, ServiceBehaviour};
use chrono::{Duration, TimeZone};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

/// Owners `o0`..`o5` that differ in everything the owner rules read; `o6` has no entry.
fn owners() -> Vec<Owner> {
    let owner = |n: usize, name: &str, deleted: bool, member: Option<bool>, last: Option<LastAccessed>| Owner {
        descriptor: format!("o{n}").into(),
        display_name: name.into(),
        principal_name: format!("{name}@contoso.com").into(),
        origin: "aad".into(),
        deleted_in_origin: deleted,
        member,
        last_accessed: last,
        ..Default::default()
    };
    vec![
        owner(0, "alice", false, Some(true), Some(LastAccessed::At(now() - Duration::days(3)))),
        owner(1, "gone", true, Some(false), None),
        owner(2, "svc-build", false, Some(true), Some(LastAccessed::Never)),
        owner(3, "idle", false, None, Some(LastAccessed::At(now() - Duration::days(400)))),
        owner(4, "deploy-bot", false, Some(false), Some(LastAccessed::At(now() - Duration::days(100)))),
        owner(5, "bob", false, Some(true), Some(LastAccessed::At(now() - Duration::days(1)))),
    ]
}

const SCOPES: [&str; 10] = [
    "app_token",
    "vso.code",
    "vso.code_write",
    "VSO.Code_Manage",
    "vso.build_execute",
    "vso.project_manage",
    "vso.tokenadministration",
    "vso.no_such_scope",
    "vso.code vso.build",
    "vso.packaging_write vso.release_execute vso.work_write",
];

/// Days from `now()` a token starts and ends on.
const FROM: [i64; 5] = [-800, -400, -100, -20, -5];
const TO: [i64; 10] = [-30, -10, -1, 0, 1, 5, 10, 40, 100, 400];
/// Hours a token's dates are shifted by (some land on `now()`'s date on either side of it).
const HOURS: [i64; 4] = [0, 1, 12, 23];

const EVENTS: [EventKind; 5] =
    [EventKind::Created, EventKind::Revoked, EventKind::SystemRevoked, EventKind::Expired, EventKind::Leaked];

/// A token of owner `o{owner}`; dates in days from `now()`, shifted by some hours.
#[allow(clippy::type_complexity)]
pub(super) fn token() -> impl Strategy<Value = Token> {
    (
        (0usize..7, prop::collection::vec(0..SCOPES.len(), 0..4), any::<bool>(), any::<bool>(), any::<bool>()),
        // Few distinct days: tokens whose keys are equal are what the memory is tested on.
        (
            prop::option::of(prop::sample::select(&FROM[..])),
            prop::option::of(prop::sample::select(&TO[..])),
            prop::sample::select(&HOURS[..]),
        ),
        (prop::collection::vec((0..EVENTS.len(), 0i64..200), 0..3), prop::option::of(0i64..300), 0u8..8),
    )
        .prop_map(|((owner, scopes, global, ssh, display), (from, to, hours), (events, seen, valid))| Token {
            authorization_id: Text::default(),
            owner: format!("o{owner}").into(),
            display_name: if display { "terraform deploy".into() } else { "laptop".into() },
            scopes: scopes.into_iter().map(|i| Text::from(SCOPES[i])).collect(),
            all_organizations: global,
            target_accounts: if global { [].into() } else { ["org".into()].into() },
            valid_from: from.map(|d| now() + Duration::days(d) + Duration::hours(hours)),
            valid_to: to.map(|d| now() + Duration::days(d) - Duration::hours(hours)),
            is_valid: valid != 0,
            kind: if ssh { CredentialKind::Ssh } else { CredentialKind::Pat },
            last_seen: seen.map(|d| {
                Box::new(LastSeen {
                    at: now() - Duration::days(d),
                    action: "Git.RefUpdate".into(),
                    source: Source::Audit,
                })
            }),
            events: events
                .into_iter()
                .map(|(kind, ago)| CredentialEvent {
                    kind: EVENTS[kind],
                    at: now() - Duration::days(ago),
                    actor: None,
                    action: format!("Token.{kind}"),
                })
                .collect(),
            ..Default::default()
        })
}

fn reading(value: u8) -> Reading<bool> {
    match value {
        0 => Reading::default(),
        v => Reading::known(v == 1, Basis::Inferred),
    }
}

pub(super) fn inventory(tokens: Vec<Token>, fills_target_accounts: u8, expired_marked_invalid: u8) -> Inventory {
    let tokens =
        tokens.into_iter().enumerate().map(|(i, t)| Token { authorization_id: format!("t{i}").into(), ..t }).collect();
    Inventory {
        organization: "o".into(),
        owners: owners(),
        coverage: Coverage::new(6, 6, vec![]),
        tokens,
        evidence: Evidence {
            sources: Source::ALL.into_iter().map(|s| (s, SourceCoverage::complete())).collect(),
            audit_window: Some(AuditWindow { start: now() - Duration::days(90), end: now() }),
            policies: Some(TenantPolicies {
                restrict_global_pat: Some(false),
                restrict_full_scope_pat: Some(false),
                restrict_pat_lifespan: Some(false),
                max_pat_lifespan_days: None,
                leaked_pat_auto_revocation: Some(false),
            }),
        },
        service: ServiceBehaviour {
            fills_target_accounts: reading(fills_target_accounts),
            expired_marked_invalid: reading(expired_marked_invalid),
            ..Default::default()
        },
    }
}

pub(super) fn rules() -> RuleSet {
    RuleSet::parse(RULES, "memo.toml").expect("test rules parse")
}

pub(super) const RULES: &str = r#"extends = "strict"
[rules.owner-not-member]
[rules.owner-inactive]
[rules.leaked]
[rules.unused]
[rules.expired]
enabled = true
[rules.revoked]
enabled = true
[[exception]]
rule = "full-access"
display_name = "terraform*"
reason = "pipeline"
ticket = "T-1"
expires = 2027-01-01
[[exception]]
owner = "svc-build@contoso.com"
reason = "old"
ticket = "T-2"
expires = 2026-01-01
[[exception]]
rule = "long-lived"
reason = "accepted for now"
ticket = "T-3"
expires = 2027-06-01
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn remembered_results_are_the_results(
        tokens in prop::collection::vec(token(), 1..160),
        fills in 0u8..3,
        marked in 0u8..3,
    ) {
        let (rules, inventory) = (rules(), inventory(tokens, fills, marked));
        let afresh = rules.evaluate_with(&inventory, now(), || memo::Memo::off(rules.rules.len()));
        prop_assert_eq!(&rules.evaluate(&inventory, now()), &afresh);
        prop_assert_eq!(&rules.evaluate_with(&inventory, now(), || memo::Memo::with_limit(rules.rules.len(), 3)), &afresh);
    }
}

/// The inventories above reach every rule (a rule no token fires would be compared vacuously).
#[test]
fn the_compared_inventories_reach_every_rule() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let tokens = prop::collection::vec(token(), 400).new_tree(&mut runner).unwrap().current();
    let rules = rules();
    let findings = rules.evaluate(&inventory(tokens, 2, 1), now()).findings;
    let fired: std::collections::BTreeSet<&str> = findings.iter().map(|f| f.rule.as_ref()).collect();
    let silent: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).filter(|id| !fired.contains(id)).collect();
    assert!(silent.is_empty(), "rules no generated token fires: {silent:?}");
}

/// Two revoked tokens that end on the day of `as_of`, one at midnight (past its expiry: the
/// service may have marked it invalid for that) and one an hour later (revoked): one date, two
/// messages. Too rare a pair for the generated inventories to meet often.
#[test]
fn a_revoked_token_past_its_expiry_on_the_day_is_told_apart() {
    let revoked = |hours: i64| Token {
        owner: "o0".into(),
        scopes: vec!["vso.code".into()],
        target_accounts: ["org".into()].into(),
        valid_from: Some(now() - Duration::days(20)),
        valid_to: Some(now() + Duration::hours(hours)),
        is_valid: false,
        ..Default::default()
    };
    let (rules, inventory) = (rules(), inventory(vec![revoked(0), revoked(1), revoked(0)], 1, 1));
    let evaluation = rules.evaluate(&inventory, now());
    let mut messages: Vec<(&str, &str)> = evaluation
        .findings
        .iter()
        .filter(|f| f.rule == "revoked")
        .map(|f| (f.authorization_id.as_str(), f.message.as_str()))
        .collect();
    messages.sort_unstable();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].1.starts_with("not valid (isValid false) and past its expiry on 2026-11-26"), "{messages:?}");
    assert_eq!(messages[1], ("t1", "revoked"));
    assert_eq!(messages[2].1, messages[0].1);
}
