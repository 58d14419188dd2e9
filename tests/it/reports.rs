//! Reports from saved scans: the JSON schema, every format, redaction, CSV injection, the diff
//! and the exit codes of report and diff.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{RecordBuilder, TokenBuilder, as_of, owner, run};
use pat2entra::diff::{Change, diff};
use pat2entra::inventory::Token;
use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
use serde_json::Value;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// A small JSON Schema validator for the keywords crates/pat2entra-core/src/record.schema.json uses. It refuses
// keywords it does not know, so the schema cannot silently outgrow it.

fn validate(schema: &Value, root: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else { return };
    for key in obj.keys() {
        let known = [
            "$schema",
            "$id",
            "title",
            "description",
            "type",
            "required",
            "properties",
            "items",
            "enum",
            "const",
            "minimum",
            "minItems",
            "minLength",
            "pattern",
            "format",
            "$ref",
            "$defs",
        ];
        assert!(known.contains(&key.as_str()), "validator does not support keyword {key}");
    }
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/$defs/").expect("local $defs references only");
        return validate(&root["$defs"][name], root, value, path, errors);
    }
    if let Some(t) = obj.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type"),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !allowed.iter().any(|a| *a == actual || (*a == "number" && actual == "integer")) {
            errors.push(format!("{path}: {actual} is not {allowed:?}"));
            return;
        }
    }
    if let Some(c) = obj.get("const")
        && value != c
    {
        errors.push(format!("{path}: {value} is not {c}"));
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{path}: {value} not in enum"));
    }
    if let (Some(min), Some(n)) = (obj.get("minimum").and_then(Value::as_f64), value.as_f64())
        && n < min
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if let (Some(min), Some(a)) = (obj.get("minItems").and_then(Value::as_u64), value.as_array())
        && (a.len() as u64) < min
    {
        errors.push(format!("{path}: fewer than {min} items"));
    }
    if let Some(s) = value.as_str() {
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && (s.chars().count() as u64) < min
        {
            errors.push(format!("{path}: shorter than {min}"));
        }
        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
            let prefix = p.strip_prefix('^').expect("only anchored literal patterns").replace("\\.", ".");
            assert!(!prefix.contains(['*', '+', '?', '(', '[', '\\']), "unsupported pattern {p}");
            if !s.starts_with(&prefix) {
                errors.push(format!("{path}: '{s}' does not match {p}"));
            }
        }
        match obj.get("format").and_then(Value::as_str) {
            Some("date-time") if DateTime::parse_from_rfc3339(s).is_err() => {
                errors.push(format!("{path}: not a date-time"))
            }
            Some("date") if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() => {
                errors.push(format!("{path}: not a date"))
            }
            _ => {}
        }
    }
    if let (Some(required), Some(o)) = (obj.get("required").and_then(Value::as_array), value.as_object()) {
        for r in required.iter().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                errors.push(format!("{path}: missing {r}"));
            }
        }
    }
    if let (Some(props), Some(o)) = (obj.get("properties").and_then(Value::as_object), value.as_object()) {
        for (k, sub) in props {
            if let Some(v) = o.get(k) {
                validate(sub, root, v, &format!("{path}.{k}"), errors);
            }
        }
    }
    if let (Some(items), Some(a)) = (obj.get("items"), value.as_array()) {
        for (i, v) in a.iter().enumerate() {
            validate(items, root, v, &format!("{path}[{i}]"), errors);
        }
    }
}

pub(crate) fn schema_errors(record: &Value) -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/pat2entra-core/src/record.schema.json"))
            .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, record, "$", &mut errors);
    errors
}

fn demo_scan(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join(format!("scan-{}.json", extra.join("-").replace(['/', ' '], "_")));
    let mut args = vec!["scan", "--demo", "--as-of", "2026-11-26", "-q", "-o", "json", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = run(&args, &[]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    out
}

#[test]
fn the_demo_scan_validates_against_the_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(demo_scan(dir.path(), &[])).unwrap()).unwrap();
    assert_eq!(schema_errors(&record), Vec::<String>::new());
    // The validator does catch violations.
    let mut broken = record.clone();
    broken["findings"][0]["severity"] = Value::from("severe");
    broken["coverage"].as_object_mut().unwrap().remove("complete");
    let errors = schema_errors(&broken);
    assert!(errors.iter().any(|e| e.contains("findings[0].severity")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("missing complete")), "{errors:?}");
}

// ---------------------------------------------------------------------------------------------

fn token(id: &str, owner: &str, name: &str, scopes: &[&str], age: i64, lifetime: i64) -> Token {
    TokenBuilder::new(id, owner).name(name).scopes(scopes).age_days(age).lifetime_days(lifetime).build()
}

fn record_of(tokens: Vec<Token>, rules: &RuleSet, at: DateTime<Utc>) -> ScanRecord {
    RecordBuilder::new()
        .owners(vec![
            owner("aad.alice", "alice.real@contoso.com", "Alice Realname"),
            owner("aad.bob", "bob.real@contoso.com", "=HYPERLINK(\"http://evil\")"),
        ])
        .tokens(tokens)
        .rules(rules.clone())
        .at(at)
        .build()
}

#[test]
fn diff_of_constructed_scans() {
    let rules = RuleSet::parse(
        "extends = \"default\"\n[[exception]]\nrule = \"full-access\"\nauthorization_id = \"accepted\"\nreason = \"tool migration\"\nticket = \"SEC-9\"\nexpires = 2026-12-01\n",
        "r.toml",
    )
    .unwrap();
    let old = record_of(
        vec![
            token("kept", "aad.alice", "git clone", &["app_token"], 10, 60),
            token("accepted", "aad.alice", "deploy", &["app_token"], 10, 60),
            token("to-revoke", "aad.bob", "old script", &["app_token"], 10, 60),
            token("to-expire", "aad.bob", "nuget feed", &["vso.packaging"], 80, 90),
        ],
        &rules,
        as_of(),
    );
    let later = as_of() + Duration::days(14);
    let mut revoked = token("to-revoke", "aad.bob", "old script", &["app_token"], 10, 60);
    revoked.is_valid = false;
    let new = record_of(
        vec![
            token("kept", "aad.alice", "git clone", &["app_token"], 10, 60),
            token("accepted", "aad.alice", "deploy", &["app_token"], 10, 60),
            revoked,
            token("to-expire", "aad.bob", "nuget feed", &["vso.packaging"], 80, 90),
            token("created", "aad.bob", "npm publish", &["vso.packaging_write"], -7, 365),
        ],
        &rules,
        later,
    );
    let d = diff(&old, &new);
    let find = |change: Change, rule: &str, id: &str| {
        d.findings.iter().find(|f| f.change == change && f.rule == rule && f.authorization_id == id).cloned()
    };
    assert!(find(Change::Unchanged, "full-access", "kept").is_some());
    let expired_exception =
        find(Change::New, "full-access", "accepted").expect("suppressed, then its exception expired");
    assert_eq!(expired_exception.note.as_deref(), Some("its exception expired"));
    let revoked = find(Change::Resolved, "full-access", "to-revoke").expect("revoked token resolves its findings");
    assert_eq!(revoked.note.as_deref(), Some("token revoked"));
    assert!(find(Change::New, "long-lived", "created").is_some(), "{:#?}", d.findings);
    let token_changes: Vec<(&str, &str)> =
        d.tokens.iter().map(|t| (t.change.as_str(), t.authorization_id.as_str())).collect();
    assert!(token_changes.contains(&("created", "created")));
    assert!(token_changes.contains(&("revoked", "to-revoke")));
    assert!(token_changes.contains(&("expired", "to-expire")), "{token_changes:?}");
    assert_eq!(d.trend["active_full_access_tokens"].old, 3);
    assert_eq!(d.trend["active_full_access_tokens"].new, 2);
    assert_eq!(d.trend["active_full_access_tokens"].delta, -1);
}

#[test]
fn report_renders_every_format_from_a_saved_scan_and_redacts_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let scan = demo_scan(dir.path(), &[]);
    let record = ScanRecord::load(&scan).unwrap();
    let names: Vec<String> = record
        .owners
        .iter()
        .flat_map(|o| [o.principal_name.to_string(), o.display_name.clone()])
        .chain(record.tokens.iter().map(|t| t.display_name.clone()).filter(|n| n.len() > 12))
        // A token named like one of pat2entra's own use descriptions ("self-hosted agent
        // registration") is not a leak when that description appears.
        .filter(|n| !pat2entra::guidance::USES.iter().any(|(_, description)| description == n))
        .collect();
    // One pass over each output for all names (a `contains` per name is slow on the HTML page).
    let leaks = aho_corasick::AhoCorasick::new(&names).unwrap();
    let leaked = |text: &str| leaks.find(text).map(|m| names[m.pattern().as_usize()].as_str());
    // An owner every format shows: the owner of a flagged credential, with a name short enough
    // not to be wrapped in the table's owner column.
    let shown = record
        .findings
        .iter()
        .filter(|f| !f.is_suppressed() && !f.owner.is_empty())
        .filter_map(|f| record.owners.iter().find(|o| o.descriptor == f.owner))
        .find(|o| o.principal_name.len() <= 20)
        .expect("a flagged owner with a short name");
    for format in ["table", "json", "csv", "markdown", "html"] {
        let r = run(&["report", scan.to_str().unwrap(), "-o", format], &[]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(
            r.stdout.contains(shown.principal_name.as_str()) || r.stdout.contains(&shown.display_name),
            "{format} shows names without --redact"
        );
        let r = run(&["report", scan.to_str().unwrap(), "-o", format, "--redact"], &[]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert_eq!(leaked(&r.stdout), None, "{format} --redact leaks a name");
        assert!(r.stdout.contains("user-"), "{format}: pseudonyms present");
    }
    let r = run(&["report", scan.to_str().unwrap(), "-o", "csv", "--csv-kind", "tokens", "--redact"], &[]);
    // The header, one row per token, one row per evidence line, and the audit caveat.
    let caveat = usize::from(record.evidence.shows_audit());
    assert_eq!(r.stdout.lines().count(), record.tokens.len() + 1 + record.evidence.lines().len() + caveat);
    assert_eq!(leaked(&r.stdout), None, "token CSV --redact leaks a name");
}

#[test]
fn csv_cells_that_look_like_formulas_are_neutralised() {
    let rules = RuleSet::default_rules();
    let record = record_of(vec![token("t1", "aad.bob", "+cmd|' /C calc'!A0", &["app_token"], 1, 400)], &rules, as_of());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.json");
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
    for kind in ["findings", "tokens"] {
        let r = run(&["report", path.to_str().unwrap(), "-o", "csv", "--csv-kind", kind], &[]);
        assert_eq!(r.code, 0);
        let mut reader = csv::Reader::from_reader(r.stdout.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert!(!rows.is_empty());
        for row in &rows {
            for cell in row.iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{kind}: formula cell {cell}");
            }
        }
        assert!(r.stdout.contains("'+cmd|' /C calc'!A0") && r.stdout.contains("'=HYPERLINK"), "{kind}: {}", r.stdout);
    }
}

#[test]
fn exit_codes_of_report_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let scan = demo_scan(dir.path(), &[]);
    let s = scan.to_str().unwrap();
    assert_eq!(run(&["report", s, "-o", "json"], &[]).code, 0);
    assert_eq!(run(&["report", s, "-o", "json", "--fail-on", "critical"], &[]).code, 1);
    assert_eq!(run(&["report", s, "--fail-on", "severe"], &[]).code, 2);
    assert_eq!(run(&["report", "/no/such/scan.json"], &[]).code, 2);
    // An incomplete scan: 4, or 0 with --allow-partial.
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(&scan).unwrap()).unwrap();
    record["coverage"]["complete"] = Value::Bool(false);
    record["coverage"]["owners_failed"] = serde_json::json!([{"descriptor": "aad.x", "error": "HTTP 500"}]);
    let partial = dir.path().join("partial.json");
    std::fs::write(&partial, record.to_string()).unwrap();
    assert_eq!(run(&["report", partial.to_str().unwrap(), "-o", "json"], &[]).code, 4);
    assert_eq!(run(&["report", partial.to_str().unwrap(), "-o", "json", "--allow-partial"], &[]).code, 0);
    // The gap is in every output, never dropped: CSV (both kinds), the plan, the diff.
    let p = partial.to_str().unwrap();
    for kind in ["findings", "tokens"] {
        let r = run(&["report", p, "-o", "csv", "--csv-kind", kind], &[]);
        assert_eq!(r.code, 4);
        let gap_row =
            r.stdout.lines().find(|l| l.contains("coverage-gap")).unwrap_or_else(|| panic!("{kind}: no gap row"));
        assert!(gap_row.contains("aad.x"), "{gap_row}");
    }
    let r = run(&["plan", p], &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.contains("## Not read: 1 owners"), "{}", r.stdout);
    assert_eq!(run(&["plan", p, "--allow-partial", "-o", "csv"], &[]).code, 0);
    let r = run(&["diff", s, p, "-o", "markdown"], &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.contains("## Not read (1)"), "{}", r.stdout);
    assert_eq!(run(&["diff", s, p, "--allow-partial"], &[]).code, 0);

    // Diff of a scan with itself: nothing new, so --fail-on passes.
    let r = run(&["diff", s, s, "--fail-on", "info"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("0 new, 0 resolved"), "{}", r.stdout);
    // Two weeks later, the same organization has new findings.
    let later = dir.path().join("later.json");
    let r = run(
        &[
            "scan",
            "--demo",
            "--as-of",
            "2026-12-10",
            "--demo-epoch",
            "2026-11-26",
            "-q",
            "-o",
            "json",
            "--out",
            later.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0);
    let r = run(&["diff", s, later.to_str().unwrap(), "--fail-on", "high", "-o", "json"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let d: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(d["findings"].as_array().unwrap().iter().any(|f| f["change"] == "new"));
    assert!(d["tokens"].as_array().unwrap().iter().any(|t| t["change"] == "created"));
    assert!(d["tokens"].as_array().unwrap().iter().any(|t| t["change"] == "revoked"));
}

#[test]
fn diff_does_not_call_findings_of_owners_the_old_scan_missed_new() {
    let rules = RuleSet::default_rules();
    let all = vec![
        token("alice-full", "aad.alice", "git clone", &["app_token"], 10, 60),
        token("bob-full", "aad.bob", "deploy", &["app_token"], 10, 60),
    ];
    let mut old = record_of(all.clone(), &rules, as_of());
    // The old scan could not read bob: none of his tokens are in it.
    old.tokens.retain(|t| t.owner != "aad.bob");
    old.findings.retain(|f| f.owner != "aad.bob");
    old.coverage = pat2entra::inventory::Coverage::new(
        2,
        1,
        vec![pat2entra::inventory::OwnerFailure { descriptor: "aad.bob".into(), error: "HTTP 500".into() }],
    );
    let new = record_of(all, &rules, as_of() + Duration::days(1));
    let d = diff(&old, &new);
    let bob: Vec<_> = d.new_findings().filter(|f| f.owner == "aad.bob").collect();
    assert!(!bob.is_empty());
    assert!(bob.iter().all(|f| f.note.as_deref() == Some(pat2entra::diff::NOT_READ_BEFORE)));
    assert!(d.appeared().all(|f| f.owner != "aad.bob"), "not counted for --fail-on");
    assert!(d.tokens.iter().any(|t| t.authorization_id == "bob-full" && t.change == "first-read"));
    assert!(!d.both_complete && d.coverage_gaps.len() == 1);
}
