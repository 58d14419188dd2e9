use super::*;
use crate::inventory::{Coverage, Token};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn owner(descriptor: &str, upn: &str, deleted: bool) -> Owner {
    Owner {
        descriptor: descriptor.into(),
        display_name: upn.split('@').next().unwrap().into(),
        principal_name: upn.into(),
        mail: Some(upn.into()),
        origin: "aad".into(),
        deleted_in_origin: deleted,
        ..Default::default()
    }
}

/// A token created `age` days ago, valid for `lifetime` days.
fn token(id: &str, scopes: &[&str], age: i64, lifetime: i64) -> Token {
    let from = now() - Duration::days(age);
    Token {
        authorization_id: id.into(),
        owner: "aad.alice".into(),
        display_name: id.into(),
        scopes: scopes.iter().map(|s| crate::Text::from(*s)).collect(),
        all_organizations: false,
        target_accounts: ["org".into()].into(),
        valid_from: Some(from),
        valid_to: Some(from + Duration::days(lifetime)),
        is_valid: true,
        unreadable: None,
        ..Default::default()
    }
}

fn inventory(tokens: Vec<Token>) -> Inventory {
    Inventory {
        organization: "o".into(),
        owners: vec![
            owner("aad.alice", "alice@contoso.com", false),
            owner("aad.gone", "gone@contoso.com", true),
            owner("aad.svc", "svc-build@contoso.com", false),
        ],
        coverage: Coverage::new(3, 3, vec![]),
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    }
}

/// Rules of `rules` (TOML) evaluated over `tokens`: (rule, token id) pairs, unsuppressed.
fn flagged(rules: &str, tokens: Vec<Token>) -> Vec<(String, String)> {
    let set = standalone(rules, "test.toml").unwrap();
    let mut out: Vec<(String, String)> = set
        .evaluate(&inventory(tokens), now())
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

#[test]
fn long_lived_boundary() {
    let rules = "[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_days = 90\n";
    let mut no_end = token("no-end", &["vso.code"], 1, 30);
    no_end.valid_to = None;
    let mut no_start = token("no-start", &["vso.code"], 1, 400);
    no_start.valid_from = None;
    let got =
        flagged(rules, vec![token("at", &["vso.code"], 1, 90), token("over", &["vso.code"], 1, 91), no_end, no_start]);
    assert_eq!(got, [pair("long-lived", "no-end"), pair("long-lived", "over")]);
}

#[test]
fn long_remaining_boundary() {
    let rules = "[rules.long-remaining]\nseverity = \"medium\"\nmax_remaining_days = 60\n";
    // Created today: remaining = lifetime.
    let got = flagged(rules, vec![token("at", &["vso.code"], 0, 60), token("over", &["vso.code"], 0, 61)]);
    assert_eq!(got, [pair("long-remaining", "over")]);
}

#[test]
fn expiring_soon_boundary_and_inactive_tokens_are_not_judged() {
    let rules = "[rules.expiring-soon]\nseverity = \"info\"\nwithin_days = 14\n";
    let mut revoked = token("revoked", &["vso.code"], 20, 30);
    revoked.is_valid = false;
    let got = flagged(
        rules,
        vec![
            token("at", &["vso.code"], 16, 30),
            token("later", &["vso.code"], 15, 30),
            token("gone", &["vso.code"], 31, 30),
            revoked,
        ],
    );
    assert_eq!(got, [pair("expiring-soon", "at")]);
}

#[test]
fn all_organizations_counts_days_then_says_it_stopped() {
    let rules = "[rules.all-organizations]\nseverity = \"critical\"\nretirement_date = 2026-12-01\n";
    let mut global = token("global", &["vso.code"], 1, 30);
    global.all_organizations = true;
    let set = standalone(rules, "t.toml").unwrap();
    let inv = inventory(vec![global, token("scoped", &["vso.code"], 1, 30)]);
    let before = set.evaluate(&inv, now()).findings;
    assert_eq!(before.len(), 1);
    assert!(before[0].message.contains("in 5 days"), "{}", before[0].message);
    let on_day = set.evaluate(&inv, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()).findings;
    assert!(on_day[0].message.contains("today"), "{}", on_day[0].message);
    let after = set.evaluate(&inv, Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap()).findings;
    assert!(after[0].message.contains("no longer honoured"), "{}", after[0].message);
}

#[test]
fn scope_rules() {
    let rules = "\
[rules.full-access]\nseverity = \"high\"\n
[rules.privileged-scope]\nseverity = \"high\"\ntiers = [\"manage\", \"full\"]\ndeny = [\"vso.tokenadministration\"]\n
[rules.broad-scope]\nseverity = \"low\"\nmax_scopes = 3\nmax_areas = 2\n
[rules.unknown-scope]\nseverity = \"low\"\n";
    let got = flagged(
        rules,
        vec![
            token("full", &["app_token"], 1, 30),
            token("manage", &["vso.code_manage"], 1, 30),
            token("denied", &["vso.tokenadministration"], 1, 30),
            token("read", &["vso.code"], 1, 30),
            token("many", &["vso.code", "vso.build", "vso.work", "vso.wiki"], 1, 30),
            token("areas", &["vso.code", "vso.build", "vso.work"], 1, 30),
            token("odd", &["vso.made_up"], 1, 30),
        ],
    );
    assert_eq!(
        got,
        [
            pair("broad-scope", "areas"),
            pair("broad-scope", "many"),
            pair("full-access", "full"),
            pair("privileged-scope", "denied"),
            pair("privileged-scope", "manage"),
            pair("unknown-scope", "odd"),
        ]
    );
}

#[test]
fn owner_rules() {
    let rules = "\
[rules.owner-removed]\nseverity = \"critical\"\n
[rules.service-account]\nseverity = \"medium\"\npatterns = [\"svc-*\", \"*bot\"]\n";
    let mut gone = token("gone", &["vso.code"], 1, 30);
    gone.owner = "aad.gone".into();
    let mut svc = token("svc", &["vso.code"], 1, 30);
    svc.owner = "aad.svc".into();
    let got = flagged(rules, vec![gone, svc, token("alice", &["vso.code"], 1, 30)]);
    assert_eq!(got, [pair("owner-removed", "gone"), pair("service-account", "svc")]);
}

#[test]
fn exceptions_suppress_expire_and_go_stale() {
    let rules = "\
extends = \"default\"

[[exception]]
rule = \"full-access\"
owner = \"alice@contoso.com\"
reason = \"migration tool\"
ticket = \"SEC-1\"
expires = 2027-01-31

[[exception]]
authorization_id = \"old\"
reason = \"was accepted last year\"
approver = \"ciso@contoso.com\"
expires = 2026-06-30

[[exception]]
display_name = \"nothing matches*\"
reason = \"stale\"
ticket = \"SEC-3\"
expires = 2027-01-01
";
    let set = RuleSet::parse(rules, "t.toml").unwrap();
    let mut old = token("old", &["app_token"], 1, 30);
    old.owner = "aad.svc".into();
    let inv = inventory(vec![token("full", &["app_token"], 1, 30), old]);
    let eval = set.evaluate(&inv, now());
    let full = eval.findings.iter().find(|f| f.rule == "full-access" && f.authorization_id == "full").unwrap();
    let suppression = full.suppressed.as_ref().expect("suppressed by exception 1");
    assert_eq!((suppression.exception, suppression.reason.as_str()), (1, "migration tool"));
    let old = eval.findings.iter().find(|f| f.rule == "full-access" && f.authorization_id == "old").unwrap();
    assert!(old.suppressed.is_none(), "an expired exception no longer suppresses");
    let noted = eval.findings.iter().filter(|f| f.rule == "exception-expired").collect::<Vec<_>>();
    assert_eq!(noted.len(), 1);
    assert!(noted[0].message.contains("expired on 2026-06-30"), "{}", noted[0].message);
    let statuses: Vec<ExceptionStatus> = eval.exceptions.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [ExceptionStatus::Active, ExceptionStatus::Expired, ExceptionStatus::Stale]);
    assert_eq!(eval.exceptions[0].line, 3);
}

/// The error of a stand-alone rules file (`extends = "none"` is its line 1).
fn error(text: &str) -> String {
    standalone(text, "policy.toml").unwrap_err().to_string()
}

/// Parses `text` as a file that runs only the rules it lists.
fn standalone(text: &str, file: &str) -> Result<RuleSet, crate::rules::RulesError> {
    RuleSet::parse(&format!("extends = \"none\"\n{text}"), file)
}

#[test]
fn malformed_files_name_file_line_and_column() {
    let syntax = error("[rules.full-access]\nseverity = \"high\n");
    assert!(syntax.starts_with("rules file policy.toml:3:"), "{syntax}");

    let wrong_type = error("[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_days = \"ninety\"\n");
    assert!(wrong_type.starts_with("rules file policy.toml:4:21:"), "{wrong_type}");

    let unknown_key = error("[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_dayz = 5\n");
    assert!(unknown_key.starts_with("rules file policy.toml:4:1:"), "{unknown_key}");
    assert!(unknown_key.contains("did you mean `max_lifetime_days`?"), "{unknown_key}");

    let unknown_rule = error("[rules.ful-access]\nseverity = \"high\"\n");
    assert!(unknown_rule.starts_with("rules file policy.toml:2:"), "{unknown_rule}");
    assert!(unknown_rule.contains("did you mean `full-access`?"), "{unknown_rule}");

    let bad_severity = error("[rules.full-access]\nseverity = \"severe\"\n");
    assert!(bad_severity.starts_with("rules file policy.toml:3:12:"), "{bad_severity}");

    let bad_date = error("[rules.all-organizations]\nseverity = \"high\"\nretirement_date = \"2026-13-01\"\n");
    assert!(bad_date.starts_with("rules file policy.toml:4:"), "{bad_date}");
    assert!(bad_date.contains("not a date"), "{bad_date}");

    let exception = "[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n";
    let duplicate = error(&format!("{exception}\n{exception}"));
    assert!(duplicate.starts_with("rules file policy.toml:8:1:"), "{duplicate}");
    assert!(duplicate.contains("duplicates the exception on line 2"), "{duplicate}");

    let missing = error("[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nticket = \"T\"\n");
    assert!(missing.contains("expires"), "{missing}");
    let unknown_exception_rule =
        error("[[exception]]\nrule = \"full-acess\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n");
    assert!(unknown_exception_rule.contains("did you mean \"full-access\""), "{unknown_exception_rule}");
    let untraceable = error("[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nexpires = 2027-01-01\n");
    assert!(untraceable.contains("ticket` or `approver"), "{untraceable}");
    let everything = error("[[exception]]\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n");
    assert!(everything.contains("matches everything"), "{everything}");
    let no_severity = error("[rules.full-access]\nenabled = true\n");
    assert!(no_severity.contains("needs `severity`"), "{no_severity}");
    let bad_extends = RuleSet::parse("extends = \"defualt\"\n", "policy.toml").unwrap_err().to_string();
    assert!(bad_extends.contains("did you mean \"default\""), "{bad_extends}");
}

#[test]
fn extends_overrides_only_what_differs() {
    let set = RuleSet::parse("extends = \"default\"\n[rules.long-lived]\nmax_lifetime_days = 30\n", "t.toml").unwrap();
    let default = RuleSet::default_rules();
    assert_eq!(set.rules.len(), default.rules.len());
    let long = set.rule(RuleId::LongLived).unwrap();
    assert_eq!(long.severity, Severity::Medium, "severity comes from the default");
    assert!(matches!(long.check, Check::LongLived { max_lifetime_days: 30 }));
    let off = RuleSet::parse("extends = \"default\"\n[rules.full-access]\nenabled = false\n", "t.toml").unwrap();
    assert!(off.rule(RuleId::FullAccess).is_none());
}

#[test]
fn shipped_sets_parse_and_strict_is_stricter() {
    let default = RuleSet::default_rules();
    let strict = RuleSet::shipped("strict").unwrap();
    assert!(default.rule(RuleId::Expired).is_none() && default.rule(RuleId::Revoked).is_none());
    let lifetime = |s: &RuleSet| match s.rule(RuleId::LongLived).unwrap().check {
        Check::LongLived { max_lifetime_days } => max_lifetime_days,
        _ => unreachable!(),
    };
    assert!(lifetime(&strict) < lifetime(&default));
    assert_eq!(strict.rule(RuleId::FullAccess).unwrap().severity, Severity::Critical);
    // Every rule id is configured in the default file (enabled or not).
    for id in RuleId::ALL {
        assert!(config::SHIPPED[0].1.contains(&format!("[rules.{}]", id.as_str())), "{}", id.as_str());
    }
    assert!(explain(None).unwrap().contains("[[exception]]"));
    assert!(explain(Some("long-lived")).unwrap().contains("max_lifetime_days = 90"));
    assert!(explain(Some("long-lifed")).unwrap_err().to_string().contains("did you mean 'long-lived'"));
}

#[test]
fn large_inventories_judged_in_parallel_give_the_same_findings_as_one_thread() {
    let rules = RuleSet::default_rules();
    let template = inventory(vec![
        token("full", &["app_token"], 1, 400),
        token("manage", &["vso.code_manage", "vso.build", "vso.work", "vso.wiki"], 1, 30),
        token("fine", &["vso.code"], 1, 30),
    ]);
    let mut big = template.clone();
    big.tokens = (0..(PARALLEL_FROM + 1000))
        .map(|n| {
            let mut t = template.tokens[n % 3].clone();
            t.authorization_id = format!("{n:08}").into();
            t.owner = ["aad.alice", "aad.gone", "aad.svc"][n % 3].into();
            t
        })
        .collect();
    let parallel = rules.evaluate(&big, now());
    // The same tokens judged in slices below the parallel threshold, then merged and sorted.
    let mut sequential = Vec::new();
    for slice in big.tokens.chunks(PARALLEL_FROM / 2) {
        let mut part = big.clone();
        part.tokens = slice.to_vec();
        sequential.extend(rules.evaluate(&part, now()).findings);
    }
    super::order_tests::sort_as_reported(&mut sequential);
    assert_eq!(parallel.findings, sequential);
    assert!(parallel.findings.len() > PARALLEL_FROM);
}

#[test]
fn more_boundaries() {
    // broad-scope: exactly at the limits passes.
    let rules = "[rules.broad-scope]\nseverity = \"low\"\nmax_scopes = 2\nmax_areas = 2\n";
    let got = flagged(
        rules,
        vec![
            token("two", &["vso.code", "vso.build"], 1, 30),
            token("three", &["vso.code", "vso.code_write", "vso.build"], 1, 30),
        ],
    );
    assert_eq!(got, [pair("broad-scope", "three")]);
    // long-remaining without an expiry date.
    let mut open_ended = token("open", &["vso.code"], 1, 30);
    open_ended.valid_to = None;
    let got = flagged("[rules.long-remaining]\nseverity = \"medium\"\nmax_remaining_days = 60\n", vec![open_ended]);
    assert_eq!(got, [pair("long-remaining", "open")]);
}

#[test]
fn the_rules_readme_documents_every_rule() {
    let readme = include_str!("../../../../rules/README.md");
    for id in RuleId::ALL {
        assert!(readme.contains(&format!("`{}`", id.as_str())), "rules/README.md lacks {}", id.as_str());
    }
}

#[test]
fn extends_strict_builds_on_default_and_keeps_strict_values() {
    let set = RuleSet::parse("extends = \"strict\"\n[rules.long-lived]\nmax_lifetime_days = 14\n", "t.toml").unwrap();
    assert!(set.rule(RuleId::AllOrganizations).is_some() && set.rule(RuleId::OwnerRemoved).is_some());
    assert_eq!(set.rule(RuleId::FullAccess).unwrap().severity, Severity::Critical, "from strict");
    let long = set.rule(RuleId::LongLived).unwrap();
    assert_eq!(long.severity, Severity::High, "from strict");
    assert!(matches!(long.check, Check::LongLived { max_lifetime_days: 14 }), "from the file");
    let err =
        RuleSet::parse("extends = \"strict\"\n[rules.long-lived]\nmax_lifetime_days = 0\n", "mine.toml").unwrap_err();
    // The problem is at the value.
    assert!(err.to_string().starts_with("rules file mine.toml:3:21:"), "{err}");
}

/// Glob metacharacters, multi-byte and control characters, and pieces of scope names.
const ALPHABET: &[char] = &[
    'a', 'b', 'c', '_', '.', '-', '*', '?', '[', ']', 'ö', '漢', ' ', '\u{0}', '\u{1b}', 'p', 't', 'o', 'k', 'e', 'n',
    'v', 's',
];

fn arbitrary_text(max_len: usize) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(proptest::sample::select(ALPHABET), 0..max_len).prop_map(|c| c.into_iter().collect())
}

/// Arbitrary scopes, names, owners and dates (far past, far future, missing, reversed).
fn arbitrary_token() -> impl proptest::strategy::Strategy<Value = Token> {
    use proptest::prelude::*;
    let known =
        prop::sample::select(&["app_token", "vso.code_manage", "vso.tokenadministration"][..]).prop_map(String::from);
    let scope = prop_oneof![3 => arbitrary_text(14), 1 => known];
    let day = (-100_000i64..100_000).prop_map(|d| now() + Duration::days(d));
    (
        prop::collection::vec(scope, 0..9),
        arbitrary_text(20),
        prop::sample::select(&["aad.alice", "aad.gone", "aad.svc", "aad.nobody", ""][..]),
        prop::option::weighted(0.8, day.clone()),
        prop::option::weighted(0.8, day),
        prop::bool::weighted(6.0 / 7.0),
        any::<bool>(),
    )
        .prop_map(|(scopes, name, owner, from, to, is_valid, global)| {
            let mut t = token("", &[], 0, 0);
            t.scopes = scopes.into_iter().map(crate::Text::from).collect();
            t.display_name = name;
            t.owner = owner.into();
            t.valid_from = from;
            t.valid_to = to;
            t.is_valid = is_valid;
            t.all_organizations = global;
            t
        })
}

/// A modest number of cases: each judges a whole inventory, and the suite runs on every commit.
fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() }
}

proptest::proptest! {
    #![proptest_config(proptest_config())]

    /// Every rule enabled, with exceptions that match some tokens (one of them expired).
    #[test]
    fn arbitrary_tokens_never_panic_and_judge_the_same_in_any_order(
        tokens in proptest::collection::vec(arbitrary_token(), 0..150),
    ) {
        let rules = RuleSet::parse(
            "extends = \"strict\"\n[rules.expired]\nenabled = true\n[rules.revoked]\nenabled = true\n\n[[exception]]\ndisplay_name = \"*a*\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2026-12-01\n\n[[exception]]\nrule = \"broad-scope\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2020-01-01\n",
            "t.toml",
        )
        .unwrap();
        let tokens = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| Token { authorization_id: format!("t{i}").into(), ..t })
            .collect();
        let inv = inventory(tokens);
        let a = rules.evaluate(&inv, now());
        let mut reversed = inv.clone();
        reversed.tokens.reverse();
        proptest::prop_assert_eq!(&a, &rules.evaluate(&reversed, now()));
        proptest::prop_assert_eq!(a.exceptions.len(), 2);
    }
}

#[test]
fn a_file_without_extends_is_an_error_that_says_how_to_fix_it() {
    let err = RuleSet::parse("[rules.long-lived]\nseverity = \"high\"\nmax_lifetime_days = 30\n", "mine.toml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("rules file mine.toml: no `extends`"), "{err}");
    assert!(err.contains("extends = \"default\"") && err.contains("extends = \"none\""), "{err}");
    // Even an empty file: it would otherwise turn every rule off.
    assert!(RuleSet::parse("", "empty.toml").unwrap_err().to_string().contains("no `extends`"));

    let alone = RuleSet::parse("extends = \"none\"\n[rules.revoked]\nseverity = \"low\"\n", "a.toml").unwrap();
    assert_eq!(alone.rules.iter().map(|r| r.id).collect::<Vec<_>>(), [RuleId::Revoked]);
    assert_eq!(alone.extends, None);
    assert!(alone.rules[0].from_file);

    let over = RuleSet::parse("extends = \"strict\"\n[rules.expired]\nenabled = true\nseverity = \"low\"\n", "s.toml")
        .unwrap();
    assert_eq!(over.extends.as_deref(), Some("strict"));
    assert!(over.rule(RuleId::Expired).unwrap().from_file);
    assert!(!over.rule(RuleId::FullAccess).unwrap().from_file, "from strict, not from the file");
    assert_eq!(RuleSet::default_rules().rules.len(), RuleSet::shipped("default").unwrap().rules.len());
}

#[test]
fn full_access_is_seen_whatever_the_separator_or_case() {
    let rules = "[rules.full-access]\nseverity = \"high\"\n[rules.privileged-scope]\nseverity = \"high\"\ntiers = [\"manage\", \"full\"]\n[rules.unknown-scope]\nseverity = \"low\"\n";
    let got = flagged(
        rules,
        vec![
            token("comma", &["vso.code,app_token"], 1, 30),
            token("semicolon", &["vso.code;app_token"], 1, 30),
            token("upper", &["APP_TOKEN"], 1, 30),
            token("manage", &["VSO.CODE_MANAGE"], 1, 30),
            token("plain", &["vso.code", "vso.build"], 1, 30),
        ],
    );
    assert_eq!(
        got,
        [
            pair("full-access", "comma"),
            pair("full-access", "semicolon"),
            pair("full-access", "upper"),
            pair("privileged-scope", "manage"),
        ],
        "no unknown-scope for a joined list, no privileged-scope for app_token itself"
    );
}

/// The indexed exception matching chooses exactly what checking every exception would.
#[test]
fn indexed_exceptions_choose_what_a_full_scan_would() {
    let keys = |i: usize| -> String {
        let rule = ["full-access", "long-lived", "privileged-scope"][i % 3];
        let expires = if i.is_multiple_of(5) { "2020-01-01" } else { "2027-01-01" };
        let key = match i % 7 {
            0 => format!("authorization_id = \"T{}\"", i % 40),
            1 => format!("owner = \"{}\"", ["aad.alice", "SVC-BUILD@contoso.com", "aad.gone"][i % 3]),
            2 => format!("display_name = \"t{}\"", i % 40),
            3 => format!("display_name = \"t{}*\"", i % 4),
            4 => format!("rule = \"{rule}\"\nauthorization_id = \"t{}\"", i % 40),
            5 => format!("rule = \"{rule}\"\ndisplay_name = \"*{}\"", i % 10),
            _ => format!("rule = \"{rule}\"\nowner = \"alice@CONTOSO.com\"\ndisplay_name = \"t{}\"", i % 40),
        };
        format!("[[exception]]\n{key}\nreason = \"r{i}\"\nticket = \"T-{i}\"\nexpires = {expires}\n\n")
    };
    let mut text = String::from("extends = \"strict\"\n\n");
    let mut seen = std::collections::HashSet::new();
    for i in 0..400 {
        let entry = keys(i);
        let key: String = entry.lines().filter(|l| !l.starts_with("reason") && !l.starts_with("ticket")).collect();
        let key = key.split("expires").next().unwrap().to_ascii_lowercase();
        if seen.insert(key) {
            text.push_str(&entry);
        }
    }
    let set = RuleSet::parse(&text, "many.toml").unwrap();
    let owners = ["aad.alice", "aad.svc", "aad.gone"];
    let tokens: Vec<Token> = (0..40)
        .map(|i| {
            let mut t = token(&format!("t{i}"), &["app_token", "vso.code_manage"], 400, 500);
            t.owner = owners[i % 3].into();
            t
        })
        .collect();
    let inv = inventory(tokens);
    let evaluation = set.evaluate(&inv, now());
    let mut suppressed = 0;
    for f in evaluation.findings.iter().filter(|f| f.rule != "exception-expired") {
        let token = inv.tokens.iter().find(|t| t.authorization_id == f.authorization_id).unwrap();
        let owner = inv.owners.iter().find(|o| o.descriptor == token.owner);
        let mut matching = set.exceptions.iter().filter(|e| e.matches(f, token, owner));
        let first = matching.next();
        let want = match first {
            Some(e) if e.is_expired(now()) => matching.find(|e| !e.is_expired(now())).or(first),
            other => other,
        };
        let want = want.filter(|e| !e.is_expired(now())).map(|e| e.number);
        assert_eq!(f.suppressed.as_ref().map(|s| s.exception), want, "{f:?}");
        suppressed += usize::from(want.is_some());
    }
    assert!(suppressed > 20, "the test exercises suppression: {suppressed}");
    let total: usize = evaluation.exceptions.iter().map(|e| e.matched_findings).sum();
    assert!(total >= suppressed);
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let text = "extends = \"default\"\n\n[rules.long-lifed]\nseverity = \"high\"\n\n[rules.long-lived]\nmax_lifetime_dayz = 3\nseverity = \"severe\"\n\n[rules.broad-scope]\nmax_scopes = 0\nmax_areas = -1\n\n[[exception]]\nrule = \"full-acess\"\nreason = \"\"\nexpires = 2027-01-01\n\n[[exception]]\nrule = \"full-access\"\nticket = 3\nexpires = \"2027-13-01\"\n\n[[exception]]\nrule = \"full-access\"\nticket = \"T\"\nreason = \"ok\"\nexpires = 2027-01-01\nfoo = 1\n\n[rules.privileged-scope]\ntiers = [\"read\", \"wrte\"]\n";
    let err = RuleSet::parse(text, "r.toml").unwrap_err();
    let found: Vec<(usize, usize, &str)> =
        err.problems().iter().map(|p| (p.line.unwrap(), p.column.unwrap(), p.message.as_str())).collect();
    let expected: [(usize, usize, &str); 12] = [
        (3, 8, "unknown rule id `long-lifed`; did you mean `long-lived`?"),
        (7, 1, "[rules.long-lived] unknown field `max_lifetime_dayz`"),
        (8, 12, "[rules.long-lived] unknown variant `severe`"),
        (11, 14, "[rules.broad-scope] max_scopes must be at least 1, not 0"),
        (12, 13, "[rules.broad-scope] max_areas must be at least 1, not -1"),
        (14, 1, "[[exception]] #1: needs `ticket` or `approver`"),
        (15, 8, "[[exception]] #1: rule = \"full-acess\" is not a rule id; did you mean \"full-access\"?"),
        (16, 10, "[[exception]] #1: `reason` must say why"),
        (21, 10, "[[exception]] #2: invalid type: integer `3`, expected a string"),
        (22, 11, "[[exception]] #2: '2027-13-01' is not a date"),
        (29, 1, "[[exception]] #3: unknown field `foo`"),
        (32, 18, "[rules.privileged-scope] tiers: 'wrte' is not a tier"),
    ];
    assert_eq!(found.len(), expected.len(), "{err}");
    for ((line, column, message), (want_line, want_column, want)) in found.iter().zip(expected) {
        assert_eq!((*line, *column), (want_line, want_column), "{message}");
        assert!(message.starts_with(want), "{message} does not start with {want}");
    }
    // Display shows them all, each with its place.
    let shown = err.to_string();
    assert_eq!(shown.matches("rules file r.toml:").count(), 12, "{shown}");
}

#[test]
fn a_problem_quotes_its_line_and_underlines_the_bad_value() {
    let text = "extends = \"default\"\n\n[rules.long-lifed]\nseverity = \"high\"\n";
    let err = RuleSet::parse(text, "rules.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "rules file rules.toml:3:8: unknown rule id `long-lifed`; did you mean `long-lived`?\n  \
         |\n\
         3 | [rules.long-lifed]\n  \
         |        ^^^^^^^^^^"
    );
    // The gutter grows with the line number; the line is shown sanitized (a tab as a space, a
    // bidi override defused) with the marks still under the value; wide characters count twice.
    let text = format!("extends = \"none\"{}\n[rules.revoked]\nseverity =\t\"sé\u{202E}vère\"\n", "\n".repeat(8));
    let problem = &RuleSet::parse(&text, "r.toml").unwrap_err().problems()[0].clone();
    assert_eq!((problem.line, problem.column), (Some(11), Some(12)));
    assert_eq!(problem.snippet, "   |\n11 | severity = \"sé\u{FFFD}vère\"\n   |            ^^^^^^^^^");
    let text = "extends = \"none\"\n[rules.revoked]\nseverity = \"low\"\nrationale = \"漢字\"\nenabled = \"漢字\"\n";
    let problem = &RuleSet::parse(text, "r.toml").unwrap_err().problems()[0].clone();
    assert_eq!(problem.snippet, "  |\n5 | enabled = \"漢字\"\n  |           ^^^^^^");
    // A file that is not a rules file (a secret file given by mistake) is never quoted, nor a
    // line holding something that looks like a credential.
    let secret = "AZURE_DEVOPS_EXT_PAT = \"not-a-rules-file-secret\"\n";
    let err = RuleSet::parse(secret, "r.toml").unwrap_err();
    assert!(err.problems().iter().all(|p| p.snippet.is_empty()), "{err}");
    assert!(!err.to_string().contains("not-a-rules-file-secret"), "{err}");
    let pat = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst";
    let err =
        RuleSet::parse(&format!("extends = \"none\"\n[rules.revoked]\nseverity = \"{pat}\"\n"), "r.toml").unwrap_err();
    assert_eq!(err.problems()[0].line, Some(3));
    assert_eq!(err.problems()[0].snippet, "");
    assert!(!err.to_string().contains(pat), "{err}");
    // A problem with no place has no snippet.
    let err = RuleSet::parse("[rules.revoked]\nseverity = \"low\"\n", "r.toml").unwrap_err();
    assert_eq!(err.problems()[0].snippet, "");
    assert!(err.problems()[0].message.starts_with("no `extends`"));
}

#[test]
fn thousands_of_bad_exceptions_are_each_located() {
    let bad = "[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nexpires = 2027-01-01\n\n";
    let text = format!("extends = \"none\"\n\n{}", bad.repeat(3000));
    let err = RuleSet::parse(&text, "r.toml").unwrap_err();
    assert_eq!(err.problems().len(), 3000);
    let last = err.problems().last().unwrap();
    assert_eq!((last.line, last.column), (Some(3 + 2999 * 5), Some(1)));
    assert!(last.message.starts_with("[[exception]] #3000: needs `ticket` or `approver`"), "{}", last.message);
}

#[test]
fn syntax_errors_alone_are_reported() {
    // After a syntax error the rest is a guess: no problem is made up from it.
    let err = RuleSet::parse("extends = \"none\"\n[rules.full-access\nseverity = 3\n", "r.toml").unwrap_err();
    assert!(!err.problems().is_empty());
    assert!(err.problems().iter().all(|p| !p.message.contains("severity")), "{err}");
}
