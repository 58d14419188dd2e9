//! Hostile text in a saved scan reaches no format raw; the table fits 80 columns; rules files say
//! what they extend; scope lists are read whatever their separator.

use crate::common;

use common::{RecordBuilder, TokenBuilder, owner, run};
use pat2entra::inventory::{OwnerFailure, Token};
use pat2entra::record::ScanRecord;
use pat2entra::report::{Format, RenderOptions};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// An all-organizations token, 10 days old, valid for 400 days.
fn token(id: &str, owner: &str, name: &str, scopes: &[&str]) -> Token {
    TokenBuilder::new(id, owner).name(name).scopes(scopes).global(true).build()
}

/// Markup, links, control characters, escape sequences (CSI, OSC 8 hyperlinks, C1 CSI) and bidi
/// overrides, in one string.
const HOSTILE: &str = "<script>alert(1)</script> [link](http://evil.example) \u{1b}[2J\u{1b}]8;;http://evil.example\u{7}x\u{9b}31m \u{202E}gnp.exe\u{2066} \r\nnext";

/// Characters that must not appear in any output (newline aside, which formats use themselves).
fn raw_controls(text: &str) -> Vec<char> {
    let bidi =
        |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
    text.replace("\r\n", "\n").chars().filter(|c| (c.is_control() && *c != '\n') || bidi(*c)).collect()
}

/// A saved scan whose names come from a hostile directory and whose guidance and rule texts
/// were edited by hand.
fn hostile_scan(dir: &std::path::Path) -> std::path::PathBuf {
    let record = RecordBuilder::new()
        .organization(&format!("org{HOSTILE}"))
        .owners(vec![
            owner("aad.eve", &format!("eve{HOSTILE}@contoso.com"), &format!("Eve {HOSTILE}")),
            owner("aad.gap", "gap@contoso.com", "Gap"),
        ])
        .coverage(2, 1, vec![OwnerFailure { descriptor: "aad.gap".into(), error: format!("HTTP 500: {HOSTILE}") }])
        .tokens(vec![
            token("t-1", "aad.eve", &format!("deploy {HOSTILE}"), &["app_token"]),
            token("t-2", "aad.eve", "npm feed", &["vso.packaging_write", "vso.code_manage"]),
        ])
        .build();
    let mut json = serde_json::to_value(&record).unwrap();
    // Hand edits that stay valid JSON: every text a report copies from the record.
    let guidance = json["guidance"].as_array_mut().expect("the scan has guidance");
    assert!(!guidance.is_empty());
    for g in guidance {
        g["title"] = Value::from(format!("Title {HOSTILE}"));
        g["action"] = Value::from(format!("Do `this` then {HOSTILE} <img src=x onerror=alert(1)>"));
        g["steps"] = serde_json::json!([format!("Step {HOSTILE}"), "run `a <b> | c`"]);
        g["caveats"] = serde_json::json!([format!("Caveat {HOSTILE}")]);
        g["learn"] = Value::from("javascript:alert(1)");
    }
    for f in json["findings"].as_array_mut().unwrap() {
        f["message"] = Value::from(format!("Why {HOSTILE}"));
    }
    for r in json["rules"].as_array_mut().unwrap() {
        r["rationale"] = Value::from(format!("Rationale {HOSTILE}"));
    }
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    path
}

#[test]
fn hostile_text_in_a_saved_scan_reaches_no_format_raw() {
    let dir = tempfile::tempdir().unwrap();
    let scan = hostile_scan(dir.path());
    let scan = scan.to_str().unwrap();
    let outputs: Vec<(&str, Vec<&str>)> = vec![
        ("table", vec!["report", scan, "-o", "table"]),
        ("csv", vec!["report", scan, "-o", "csv"]),
        ("token csv", vec!["report", scan, "-o", "csv", "--csv-kind", "tokens"]),
        ("markdown", vec!["report", scan, "-o", "markdown"]),
        ("html", vec!["report", scan, "-o", "html"]),
        ("json", vec!["report", scan, "-o", "json"]),
        ("plan csv", vec!["plan", scan, "-o", "csv"]),
        ("plan markdown", vec!["plan", scan, "-o", "markdown"]),
    ];
    for (name, args) in outputs {
        let r = run(&args, &[]);
        // Exit 4: the scan has a coverage gap, and says so.
        assert_eq!(r.code, 4, "{name}: {}", r.stderr);
        let out = &r.stdout;
        assert!(out.contains("gnp.exe"), "{name}: the text itself is still shown: {out}");
        assert_eq!(raw_controls(out), Vec::<char>::new(), "{name} carries raw control or bidi characters");
        if name.contains("markdown") {
            let lower = out.to_lowercase();
            for markup in ["<script", "<img", "](http://evil", "](javascript", "http://evil"] {
                assert!(!lower.contains(markup), "{name} carries {markup}:\n{out}");
            }
            assert!(out.contains("&lt;script&gt;"), "{name} shows the name escaped");
            if name == "markdown" {
                // The record's (edited) guidance keeps its code spans; the plan uses the built-in one.
                assert!(out.contains("Do `this` then &lt;script&gt;"), "{name}: {out}");
            }
        }
        if name == "html" {
            assert!(!out.contains("<script>alert") && !out.contains("<img src=x"), "html escapes");
        }
        if name == "json" {
            // Escaped, not replaced: the value read back is the hostile text itself.
            assert!(out.contains(r"\u202egnp.exe\u2066") && out.contains(r"x\u009b31m"), "{out}");
            let read: Value = serde_json::from_str(out).unwrap();
            let names: Vec<&str> =
                read["tokens"].as_array().unwrap().iter().filter_map(|t| t["display_name"].as_str()).collect();
            assert!(names.contains(&format!("deploy {HOSTILE}").as_str()), "{names:?}");
        }
    }
}

fn render_table(record: &ScanRecord, width: u16) -> String {
    let options = RenderOptions { terminal_width: Some(width), ..RenderOptions::default() };
    let mut out = Vec::new();
    pat2entra::report::render(record, Format::Table, &options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_table_fits_80_columns_and_keeps_names_readable() {
    let owner_name = "oliver.sampleton@x.y"; // 20 characters
    let token_name = "nightly-release-sync"; // 20 characters
    assert_eq!((owner_name.len(), token_name.len()), (20, 20));
    let long = "n".repeat(1 << 20);
    let record = RecordBuilder::new()
        .owners(vec![
            owner("aad.o", owner_name, owner_name),
            owner("aad.l", &format!("{long}@contoso.com"), &format!("Long {long}")),
        ])
        .tokens(vec![
            token("t-1", "aad.o", token_name, &["app_token", "vso.code_manage"]),
            token("t-2", "aad.l", &format!("{long} {long}"), &["vso.code"]),
            token("t-3", "aad.o", "日本語のトークン名前", &["vso.build"]),
        ])
        .build();
    for width in [60, 80, 100, 120, 160, 200] {
        let text = render_table(&record, width);
        for line in text.lines() {
            assert!(line.width() <= usize::from(width), "{width}: {} columns: {line}", line.width());
        }
        assert!(text.contains(owner_name) && text.contains(token_name), "{width}: names whole:\n{text}");
        assert!(text.contains('…'), "{width}: the 1 MB names are cut");
        assert!(text.len() < 64 * 1024, "{width}: output is bounded, not proportional to the names");
        assert!(text.contains("full-access") && text.contains("all-organizations"), "{width}: rules:\n{text}");
    }
}

#[test]
fn a_rules_file_must_say_what_it_extends_and_check_lists_what_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, "[rules.long-lived]\nseverity = \"high\"\nmax_lifetime_days = 30\n").unwrap();
    let r = run(&["rules", "check", bare.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("bare.toml") && r.stderr.contains("no `extends`"), "{}", r.stderr);
    assert!(r.stderr.contains("extends = \"default\"") && r.stderr.contains("extends = \"none\""), "{}", r.stderr);
    let r = run(&["scan", "--demo", "--rules", bare.to_str().unwrap(), "-o", "json", "--quiet"], &[]);
    assert_eq!(r.code, 2, "a scan refuses it too: {}", r.stderr);

    let mine = dir.path().join("mine.toml");
    std::fs::write(
        &mine,
        "extends = \"default\"\n[rules.long-lived]\nmax_lifetime_days = 30\n[rules.expiring-soon]\nenabled = false\n\n[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n",
    )
    .unwrap();
    let r = run(&["rules", "check", mine.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("valid; extends \"default\"") && r.stdout.contains("1 exceptions"), "{}", r.stdout);
    let line = |id: &str| r.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{id} "))).map(str::to_string);
    assert!(line("long-lived").unwrap().ends_with("this file"), "{}", r.stdout);
    assert!(
        line("full-access").unwrap().contains("high") && line("full-access").unwrap().ends_with("built in (default)")
    );
    assert!(line("expiring-soon").is_none(), "off, so not listed as enabled: {}", r.stdout);
    assert!(r.stdout.contains("off: ") && r.stdout.contains("expiring-soon"), "{}", r.stdout);

    let alone = dir.path().join("alone.toml");
    std::fs::write(&alone, "extends = \"none\"\n[rules.full-access]\nseverity = \"critical\"\n").unwrap();
    let r = run(&["rules", "check", alone.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("stands alone")
            && r.stdout.contains(&format!("1 of {} rules enabled", pat2entra::rules::RuleId::ALL.len())),
        "{}",
        r.stdout
    );
}

#[test]
fn joined_scopes_in_a_saved_scan_are_judged_as_full_access() {
    for scopes in ["vso.code,app_token", "vso.code;app_token", "APP_TOKEN", "vso.code , App_Token"] {
        let t = TokenBuilder::new("t-1", "aad.o").name("x").build();
        let mut json = serde_json::to_value(&t).unwrap();
        json["scopes"] = serde_json::json!([scopes]);
        let t: Token = serde_json::from_value(json).unwrap();
        assert!(t.is_full_access(), "{scopes}");
        let record =
            RecordBuilder::new().organization("o").owners(vec![owner("aad.o", "o@x.y", "O")]).tokens(vec![t]).build();
        let rules: Vec<&str> = record.findings.iter().map(|f| f.rule.as_ref()).collect();
        assert!(rules.contains(&"full-access"), "{scopes}: {rules:?}");
        assert!(!rules.contains(&"unknown-scope"), "{scopes}: {rules:?}");
    }
}

#[test]
fn simulate_refuses_an_organization_name_the_scanner_would_refuse_without_echoing_it_raw() {
    let r = run(&["simulate", "--org", "fabrikam\u{202e}exe.\u{1b}[2J"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: --org: 'fabrikam\u{fffd}exe.\u{fffd}[2J' is not a valid organization name"),
        "{}",
        r.stderr
    );
    assert_eq!(raw_controls(&r.stderr), Vec::<char>::new());
    assert_eq!(r.stdout, "", "nothing served");
}
