//! `--redact`: a redacted report in every format (and the plan and diff of a redacted scan)
//! holds no descriptor, mail, principal name, display name, approver, ticket owner or echoed
//! credential of the input; pseudonyms are keyed (same key, same pseudonyms; different keys,
//! none shared; no key, the record says they are not comparable).

use crate::common;

use common::{RecordBuilder, TokenBuilder};
use pat2entra::inventory::{CoverageWarning, Owner, OwnerFailure, Token, WarningKind};
use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY_ENV: &str = "PAT2ENTRA_REDACT_KEY";
const KEY_A: &str = "key-A-0123456789abcdef";
const KEY_B: &str = "key-B-fedcba9876543210";

const ALICE: &str = "aad.QWxpY2VSZWFsRGVzY3JpcHRvcg";
const BOB: &str = "aad.Qm9iUmVhbERlc2NyaXB0b3Jz";
/// An owner whose tokens could not be read.
const CAROL: &str = "aad.Q2Fyb2xGYWlsZWREZXNjcmlwdG9y";
const PAT: &str = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst";
const BASIC: &str = "OnNlY3JldC1wYXQtdmFsdWU9";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJ1cG4iOiJjYXJvbCJ9.c2lnbmF0dXJlMTIz";

/// Every string of the input that must not reach a redacted output.
const SENSITIVE: &[&str] = &[
    ALICE,
    BOB,
    CAROL,
    "alice.upn@contoso.com",
    "alice.mail@contoso.com",
    "Alice Realname",
    "bob.upn@contoso.com",
    "bob.mail@contoso.com",
    "Bob Surname",
    "carol.upn@contoso.com",
    "Carol Lastname",
    "ciso.person@contoso.com",
    "ticket.owner@contoso.com",
    "alice-laptop-clone",
    PAT,
    BASIC,
    JWT,
    "hunter2pass",
];

fn owner(descriptor: &str, upn: &str, mail: &str, name: &str) -> Owner {
    Owner { mail: Some(mail.into()), deleted_in_origin: descriptor == BOB, ..common::owner(descriptor, upn, name) }
}

fn token(id: &str, owner: &str, name: &str, scopes: &[&str]) -> Token {
    TokenBuilder::new(id, owner).name(name).scopes(scopes).age_days(30).build()
}

/// A record with every kind of sensitive string: owners, an owner deleted in origin and one
/// looking like a service account (their principal names appear in finding messages), an
/// exception with an approver and a ticket naming its owner, and a coverage gap whose error
/// echoes credentials.
fn record() -> ScanRecord {
    let rules = RuleSet::parse(
        r#"extends = "default"
[[exception]]
rule = "full-access"
owner = "alice.upn@contoso.com"
reason = "Alice Realname migrates the tool; see alice.mail@contoso.com"
ticket = "SEC-42 (owner ticket.owner@contoso.com)"
approver = "ciso.person@contoso.com"
expires = 2027-01-31
"#,
        "rules.toml",
    )
    .unwrap();
    let error = format!(
        "HTTP 401 from https://vssps.dev.azure.com/org/_apis/tokenadmin/personalaccesstokens/{CAROL}?api-version=7.1: \
         the server echoed Authorization: Basic {BASIC}, pat={PAT}, Bearer {JWT}, password=hunter2pass for carol.upn@contoso.com"
    );
    let mut record = RecordBuilder::new()
        .owners(vec![
            owner(ALICE, "alice.upn@contoso.com", "alice.mail@contoso.com", "Alice Realname"),
            owner(BOB, "bob.upn@contoso.com", "bob.mail@contoso.com", "Bob Surname"),
            owner(CAROL, "carol.upn@contoso.com", "carol.upn@contoso.com", "Carol Lastname"),
        ])
        .tokens(vec![
            token("11111111-0000-0000-0000-000000000001", ALICE, "alice-laptop-clone", &["app_token"]),
            token("11111111-0000-0000-0000-000000000002", BOB, "deploy", &["vso.code_write"]),
        ])
        .coverage(3, 2, vec![OwnerFailure { descriptor: CAROL.into(), error }])
        .rules(rules)
        .build();
    // A coverage warning names owners in its message and its ids (as the scan writes them).
    let shared = "11111111-0000-0000-0000-000000000002";
    record.coverage.warnings.push(CoverageWarning {
        kind: WarningKind::SharedAuthorizationId,
        message: format!("authorization id {shared} listed under owners {ALICE} and {BOB} (bob.upn@contoso.com)"),
        ids: vec![shared.into(), ALICE.into(), BOB.into()],
    });
    record
}

fn pat2entra(args: &[&str], key: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args(args).env("NO_COLOR", "1").env_remove(KEY_ENV);
    if let Some(key) = key {
        cmd.env(KEY_ENV, key);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn saved(dir: &Path, name: &str, record: &ScanRecord) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(record).unwrap()).unwrap();
    path
}

fn assert_clean(what: &str, text: &str) {
    for s in SENSITIVE {
        assert!(!text.contains(s), "{what} leaks '{s}':\n{text}");
    }
    // Case changes are no way out either.
    let lower = text.to_lowercase();
    for s in SENSITIVE {
        assert!(!lower.contains(&s.to_lowercase()), "{what} leaks '{s}' in another case");
    }
}

/// Redacted JSON of the test record under `key`.
fn redacted_json(dir: &Path, key: Option<&str>) -> Value {
    let scan = saved(dir, "scan.json", &record());
    let (code, out, err) =
        pat2entra(&["report", scan.to_str().unwrap(), "-o", "json", "--redact", "--allow-partial"], key);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Every pseudonym (`user-…`, `token-…`, `person-…`, `mail-…`) in a text.
fn pseudonyms(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["user-", "token-", "person-", "mail-"] {
        for (i, _) in text.match_indices(prefix) {
            let hex: String = text[i + prefix.len()..].chars().take_while(char::is_ascii_hexdigit).collect();
            if hex.len() == 16 {
                found.insert(format!("{prefix}{hex}"));
            }
        }
    }
    found
}

#[test]
fn the_unredacted_record_does_hold_every_sensitive_string() {
    // Otherwise the absence checks below would prove nothing.
    let json = serde_json::to_string(&record()).unwrap();
    for s in SENSITIVE {
        assert!(json.contains(s), "the test record lacks '{s}'");
    }
    assert!(record().findings.iter().any(|f| f.suppressed.as_ref().is_some_and(|s| s.approver.is_some())));
}

#[test]
fn every_format_plan_and_diff_of_a_redacted_record_hold_nothing_sensitive() {
    let dir = tempfile::tempdir().unwrap();
    let scan = saved(dir.path(), "scan.json", &record());
    let scan = scan.to_str().unwrap();
    for args in [
        &["-o", "json"][..],
        &["-o", "csv"],
        &["-o", "csv", "--csv-kind", "tokens"],
        &["-o", "table"],
        &["-o", "markdown"],
        &["-o", "html"],
    ] {
        let mut all = vec!["report", scan];
        all.extend_from_slice(args);
        all.extend(["--redact", "--allow-partial"]);
        let (code, out, err) = pat2entra(&all, Some(KEY_A));
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_clean(&format!("report {args:?}"), &out);
        assert_clean(&format!("stderr of report {args:?}"), &err);
        assert!(!pseudonyms(&out).is_empty(), "{args:?} shows pseudonyms");
    }

    // The plan of a redacted scan, in both formats.
    let (code, json, _) = pat2entra(&["report", scan, "-o", "json", "--redact", "--allow-partial"], Some(KEY_A));
    assert_eq!(code, 0);
    let redacted = dir.path().join("redacted.json");
    std::fs::write(&redacted, &json).unwrap();
    for format in ["markdown", "csv"] {
        let (code, out, err) = pat2entra(&["plan", redacted.to_str().unwrap(), "-o", format, "--allow-partial"], None);
        assert_eq!(code, 0, "{err}");
        assert_clean(&format!("plan -o {format}"), &out);
        assert!(!pseudonyms(&out).is_empty(), "plan -o {format} names owners by pseudonym");
        let (code, out, err) = pat2entra(&["plan", scan, "-o", format, "--redact", "--allow-partial"], Some(KEY_A));
        assert_eq!(code, 0, "{err}");
        assert_clean(&format!("plan --redact -o {format}"), &out);
    }

    // The diff: redacting at diff time, and diffing two redacted scans.
    for format in ["json", "markdown", "table", "html"] {
        let (code, out, err) =
            pat2entra(&["diff", scan, scan, "-o", format, "--redact", "--allow-partial"], Some(KEY_A));
        assert_eq!(code, 0, "{err}");
        assert_clean(&format!("diff --redact -o {format}"), &out);
        let r = redacted.to_str().unwrap();
        let (code, out, err) = pat2entra(&["diff", r, r, "-o", format, "--allow-partial"], None);
        assert_eq!(code, 0, "{err}");
        assert_clean(&format!("diff of redacted scans -o {format}"), &out);
    }
}

#[test]
fn joins_survive_redaction_and_credentials_become_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let json = redacted_json(dir.path(), Some(KEY_A));
    let owners: BTreeSet<&str> =
        json["owners"].as_array().unwrap().iter().map(|o| o["descriptor"].as_str().unwrap()).collect();
    assert_eq!(owners.len(), 3);
    for t in json["tokens"].as_array().unwrap() {
        assert!(owners.contains(t["owner"].as_str().unwrap()), "token owner is a listed pseudonym: {t}");
    }
    for f in json["findings"].as_array().unwrap() {
        assert!(owners.contains(f["owner"].as_str().unwrap()), "finding owner is a listed pseudonym: {f}");
    }
    let gap = &json["coverage"]["owners_failed"][0];
    assert!(owners.contains(gap["descriptor"].as_str().unwrap()));
    let error = gap["error"].as_str().unwrap();
    assert!(error.contains("<redacted>") && error.starts_with("HTTP 401 from https://vssps.dev.azure.com/"), "{error}");
    // The approver became a pseudonym, the mails in the reason and ticket too.
    let suppressed = json["findings"].as_array().unwrap().iter().find_map(|f| f.get("suppressed")).unwrap();
    assert!(suppressed["approver"].as_str().unwrap().starts_with("person-"), "{suppressed}");
    assert!(suppressed["ticket"].as_str().unwrap().starts_with("SEC-42 (owner mail-"), "{suppressed}");
    assert_eq!(json["redaction"]["comparable_across_runs"], Value::Bool(true));
    assert!(json["redaction"]["key_id"].is_string());
    assert_clean("redacted JSON", &json.to_string());
}

#[test]
fn the_same_key_gives_the_same_pseudonyms_and_different_keys_share_none() {
    let dir = tempfile::tempdir().unwrap();
    let a1 = redacted_json(dir.path(), Some(KEY_A));
    let a2 = redacted_json(dir.path(), Some(KEY_A));
    let b = redacted_json(dir.path(), Some(KEY_B));
    assert_eq!(a1, a2, "the same key redacts the same record identically");
    let (pa, pb) = (pseudonyms(&a1.to_string()), pseudonyms(&b.to_string()));
    assert!(pa.len() >= 6, "{pa:?}");
    assert!(pa.is_disjoint(&pb), "shared pseudonyms: {:?}", pa.intersection(&pb).collect::<Vec<_>>());
    assert_ne!(a1["redaction"]["key_id"], b["redaction"]["key_id"]);
    // The key file works like the environment variable (surrounding whitespace ignored).
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY_A}\n")).unwrap();
    let scan = saved(dir.path(), "scan.json", &record());
    let (code, out, err) = pat2entra(
        &[
            "report",
            scan.to_str().unwrap(),
            "-o",
            "json",
            "--redact",
            "--redact-key-file",
            key_file.to_str().unwrap(),
            "--allow-partial",
        ],
        Some(KEY_B),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), a1, "--redact-key-file wins over {KEY_ENV}");
}

#[test]
fn without_a_key_the_report_says_pseudonyms_are_not_comparable() {
    let dir = tempfile::tempdir().unwrap();
    let first = redacted_json(dir.path(), None);
    let second = redacted_json(dir.path(), None);
    assert_eq!(first["redaction"]["comparable_across_runs"], Value::Bool(false));
    assert!(first["redaction"]["key_id"].is_null());
    assert!(pseudonyms(&first.to_string()).is_disjoint(&pseudonyms(&second.to_string())), "a fresh key per run");
    let scan = saved(dir.path(), "scan.json", &record());
    for format in ["table", "markdown", "html"] {
        let (code, out, err) =
            pat2entra(&["report", scan.to_str().unwrap(), "-o", format, "--redact", "--allow-partial"], None);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("pseudonyms are not comparable across runs (random key)"), "{format}:\n{out}");
        assert!(err.contains("random key"), "{err}");
    }
}

#[test]
fn bad_keys_are_refused_before_anything_is_written_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let scan = saved(dir.path(), "scan.json", &record());
    let scan = scan.to_str().unwrap();
    let (code, out, err) = pat2entra(&["report", scan, "--redact"], Some("short-key"));
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains(KEY_ENV) && err.contains("too short") && !err.contains("short-key"), "{err}");
    let (code, _, err) = pat2entra(&["report", scan, "--redact"], Some("   "));
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "tiny-secret\n").unwrap();
    let (code, _, err) =
        pat2entra(&["report", scan, "--redact", "--redact-key-file", key_file.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains(key_file.to_str().unwrap()) && !err.contains("tiny-secret"), "{err}");
    // The key file only makes sense with --redact.
    let (code, _, err) = pat2entra(&["report", scan, "--redact-key-file", key_file.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains("--redact"), "{err}");
    // A scan with a bad key fails before it starts, not after.
    let (code, _, err) = pat2entra(&["scan", "--demo", "--users", "3", "-q", "--redact"], Some("short"));
    assert_eq!(code, 2);
    assert!(err.contains("too short") && !err.contains("demo:"), "{err}");
}
