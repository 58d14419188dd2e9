//! Evidence of use in every output, over hand-built records: the plan's revoke-now wave and
//! last-seen notes, each source's coverage and the audit caveat in every format, SSH keys,
//! organization findings, redaction, diff, the JSON Schema and version-1 records.

use crate::common;

use common::{OwnerEvidence, RecordBuilder, TokenBuilder, evidence_read, owner};
use pat2entra::evidence::{AUDIT_CAVEAT, Evidence, Source, SourceCoverage, TenantPolicies};
use pat2entra::plan::{self, Wave};
use pat2entra::record::ScanRecord;
use pat2entra::report::{self, CsvKind, Format, RenderOptions};

fn policies() -> TenantPolicies {
    TenantPolicies {
        restrict_global_pat: Some(true),
        restrict_full_scope_pat: Some(true),
        restrict_pat_lifespan: Some(true),
        max_pat_lifespan_days: Some(90),
        leaked_pat_auto_revocation: Some(false),
    }
}

/// Ida is idle (last access 200 days ago), Leo left the organization, Bea is busy. Ida's old
/// script token shows no use; her nightly build token was used two days ago; Bea's CI token
/// leaked; Leo keeps an SSH key.
fn record(evidence: Evidence) -> ScanRecord {
    RecordBuilder::new()
        .owners(vec![
            owner("aad.idle", "ida@contoso.com", "Ida Idle").member(true).accessed_days_ago(200),
            owner("aad.left", "leo@contoso.com", "Leo Left").member(false).accessed_days_ago(10),
            owner("aad.busy", "bea@contoso.com", "Bea Busy").member(true).accessed_days_ago(1),
        ])
        .tokens(vec![
            TokenBuilder::new("idle-unused", "aad.idle").name("old script").scopes(&["vso.code"]).age_days(200).build(),
            TokenBuilder::new("idle-used", "aad.idle")
                .name("nightly build")
                .scopes(&["vso.build"])
                .age_days(200)
                .seen_days_ago(2, "Build.QueueBuild")
                .build(),
            TokenBuilder::new("leaked", "aad.busy")
                .name("ci token")
                .scopes(&["vso.code"])
                .age_days(200)
                .seen_days_ago(1, "Git.RefUpdate")
                .leaked_days_ago(3)
                .build(),
            TokenBuilder::new("left-key", "aad.left").name("laptop").age_days(200).ssh().build(),
            TokenBuilder::new("busy-full", "aad.busy")
                .name("admin")
                .scopes(&["app_token"])
                .age_days(30)
                .seen_days_ago(1, "Security.ModifyPermission")
                .build(),
        ])
        .evidence(evidence)
        .build()
}

fn audit_unavailable() -> Evidence {
    let mut evidence = evidence_read(Some(policies()));
    evidence.sources.insert(Source::Audit, SourceCoverage::unavailable("vso.auditlog missing"));
    evidence
}

fn render(record: &ScanRecord, format: Format, options: RenderOptions) -> String {
    let mut out = Vec::new();
    report::render(record, format, &options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn plan_outputs(record: &ScanRecord) -> (String, String) {
    let plan = plan::build(record);
    let (mut md, mut csv) = (Vec::new(), Vec::new());
    plan::render_markdown(&plan, &|id| record.guidance(id).cloned(), &mut md).unwrap();
    plan::render_csv(&plan, &mut csv).unwrap();
    (String::from_utf8(md).unwrap(), String::from_utf8(csv).unwrap())
}

#[test]
fn the_plan_revokes_now_what_shows_no_use_and_what_leaked_and_keeps_what_is_used() {
    let record = record(evidence_read(Some(policies())));
    let plan = plan::build(&record);
    let item = |id: &str| plan.owners.iter().flat_map(|o| &o.items).find(|i| i.authorization_id == id).unwrap();
    let unused = item("idle-unused");
    assert_eq!((unused.wave, unused.revoke_now.as_deref()), (Wave::RevokeNow, Some(plan::NO_USE_REASON)));
    assert_eq!(unused.due, common::as_of().date_naive());
    let leaked = item("leaked");
    assert_eq!((leaked.wave, leaked.revoke_now.as_deref()), (Wave::RevokeNow, Some(plan::LEAKED_REASON)));
    assert_eq!(leaked.guidance, "revoke-leaked");
    // Used two days ago: its owner is idle, but something depends on it. Replace it first.
    let used = item("idle-used");
    assert_ne!(used.wave, Wave::RevokeNow);
    assert_eq!(used.last_seen_text().as_deref(), Some("last seen 2026-11-24 by Build.QueueBuild"));
    // An SSH key: the audit log names PATs, so no sign of use is never claimed for it.
    let key = item("left-key");
    assert_eq!((key.wave, key.kind.as_str()), (Wave::Now, "ssh"));
    assert_eq!(plan.per_wave[&Wave::RevokeNow], 2);
    // Ida has nothing to set up for the token revoked now: only the build replacement.
    let ida = plan.owners.iter().find(|o| o.descriptor == "aad.idle").unwrap();
    assert!(!ida.set_up_first.contains(&"revoke-unused".to_string()), "{:?}", ida.set_up_first);

    let (md, csv) = plan_outputs(&record);
    for text in [&md, &csv] {
        assert!(text.contains("revoke-now"), "{text}");
        assert!(text.contains("no sign of use: revoke, nothing to migrate"), "{text}");
        assert!(text.contains("evidence.audit: complete"), "{text}");
        assert!(text.contains("policy-leak-revocation"), "{text}");
    }
    assert!(md.contains("last seen 2026-11-24 by Build.QueueBuild"), "{md}");
    assert!(md.contains(AUDIT_CAVEAT), "{md}");
    assert!(csv.contains("2026-11-24T00:00:00Z,Build.QueueBuild"), "{csv}");
    // Without the audit log nothing is called unused: no revoke-now but the leak (read before).
    let blind = plan::build(&record_without_audit());
    assert_eq!(blind.per_wave[&Wave::RevokeNow], 0);
}

/// The same organization scanned without the audit log: no events, no last seen.
fn record_without_audit() -> ScanRecord {
    let mut r = record(audit_unavailable());
    for t in &mut r.tokens {
        (t.last_seen, t.events) = (None, Vec::new());
    }
    // Judged again from the inventory as a scan without the audit log would give it.
    let inventory = pat2entra::inventory::Inventory {
        organization: r.organization.clone(),
        owners: r.owners.clone(),
        tokens: r.tokens.clone(),
        coverage: r.coverage.clone(),
        evidence: r.evidence.clone(),
        service: Default::default(),
    };
    ScanRecord::judge(inventory, &pat2entra::rules::RuleSet::default_rules(), common::as_of())
}

#[test]
fn every_output_names_each_source_and_the_audit_log_that_could_not_be_read() {
    let record = record_without_audit();
    assert!(record.findings.iter().all(|f| f.rule != "unused" && f.rule != "leaked"));
    let line = "evidence.audit: unavailable (vso.auditlog missing)";
    let wide = RenderOptions::default();
    let tokens = RenderOptions { csv_kind: CsvKind::Tokens, ..wide };
    let narrow = RenderOptions { terminal_width: Some(80), ..wide };
    let outputs = [
        ("table", render(&record, Format::Table, wide)),
        ("table 80", render(&record, Format::Table, narrow)),
        ("json", render(&record, Format::Json, wide)),
        ("csv", render(&record, Format::Csv, wide)),
        ("csv tokens", render(&record, Format::Csv, tokens)),
        ("markdown", render(&record, Format::Markdown, wide)),
        ("html", render(&record, Format::Html, wide)),
        ("plan markdown", plan_outputs(&record).0),
        ("plan csv", plan_outputs(&record).1),
    ];
    for (name, text) in &outputs {
        let shown = if *name == "json" { text.contains("\"vso.auditlog missing\"") } else { text.contains(line) };
        assert!(shown, "{name} does not say the audit log was not read:\n{text}");
        if *name != "json" {
            // Asked for, so its limits are said too, and no credential claims "none seen".
            assert!(text.contains(AUDIT_CAVEAT) || name.starts_with("table"), "{name}");
            assert!(!text.contains("none seen"), "{name}");
        }
    }
    let old = record.clone();
    let diff = pat2entra::diff::diff(&old, &record);
    for format in [Format::Table, Format::Markdown, Format::Json, Format::Csv, Format::Html] {
        let mut out = Vec::new();
        report::render_diff(&diff, format, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(line), "diff {format:?}:\n{text}");
    }
}

#[test]
fn the_table_shows_last_seen_kind_and_organization_findings_within_80_columns() {
    let record = record(evidence_read(Some(policies())));
    let table = render(&record, Format::Table, RenderOptions { terminal_width: Some(80), ..Default::default() });
    for line in table.lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 80, "over 80 columns: {line}");
    }
    assert!(table.contains("seen 2026-11-24") && table.contains("laptop (ssh)"), "{table}");
    assert!(table.contains("high policy-leak-revocation"), "{table}");
    insta::assert_snapshot!("evidence_table_80", table);
    let wide = render(&record, Format::Table, RenderOptions::default());
    assert!(wide.contains("Seen") && wide.contains("none seen"), "{wide}");
}

#[test]
fn markdown_csv_and_html_carry_last_seen_kind_and_owner_activity() {
    let record = record(evidence_read(Some(policies())));
    let md = render(&record, Format::Markdown, RenderOptions::default());
    assert!(md.contains("| Owner | Owner activity | Token | Kind | Last seen | Rule | Finding | Action |"), "{md}");
    assert!(md.contains("not a member, accessed 2026-11-16"), "{md}");
    assert!(md.contains("(organization)"), "{md}");
    let csv = render(&record, Format::Csv, RenderOptions { csv_kind: CsvKind::Tokens, ..Default::default() });
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let row = |id: &str| rows.iter().find(|r| &r[0] == id).unwrap();
    assert_eq!(&row("left-key")[col("kind")], "ssh");
    assert_eq!(&row("left-key")[col("owner_member")], "false");
    assert_eq!(&row("idle-unused")[col("last_seen")], "none seen");
    assert_eq!(&row("idle-used")[col("last_seen_action")], "Build.QueueBuild");
    assert!(rows.iter().any(|r| &r[col("rules")] == "policy-leak-revocation" && &r[col("state")] == "organization"));
    let html = render(&record, Format::Html, RenderOptions::default());
    assert!(html.contains("<th scope=\"col\">Last seen</th>"), "last-seen column");
    assert!(html.contains("id=\"chart-owner-activity\""), "owner-activity chart");
    assert!(html.contains("<span class=\"tag\">SSH key</span>"));
    assert!(html.contains("organization (tenant policy)"));
    assert!(html.contains("evidence.entitlements: complete"));
}

#[test]
fn records_with_evidence_validate_and_say_not_read_apart_from_none_seen() {
    let with = serde_json::to_value(record(evidence_read(Some(policies())))).unwrap();
    assert_eq!(crate::reports::schema_errors(&with), Vec::<String>::new());
    assert_eq!(with["schema_version"], 2);
    let bare = serde_json::to_value(RecordBuilder::new().tokens(vec![TokenBuilder::new("t", "aad.x").build()]).build())
        .unwrap();
    assert_eq!(crate::reports::schema_errors(&bare), Vec::<String>::new());
    // Always written: a reader looks at evidence.sources to know what null means.
    assert_eq!(bare["tokens"][0]["kind"], "pat");
    assert!(bare["tokens"][0]["last_seen"].is_null());
    assert!(bare["evidence"]["sources"].as_object().unwrap().is_empty());
    let unused = with["tokens"].as_array().unwrap().iter().find(|t| t["authorization_id"] == "idle-unused").unwrap();
    assert!(unused["last_seen"].is_null());
    assert_eq!(with["evidence"]["sources"]["audit"]["status"], "complete");
}

#[test]
fn a_version_1_record_still_loads_and_reports_no_evidence() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scan-v1.json");
    let text = std::fs::read(path).unwrap();
    assert!(String::from_utf8_lossy(&text).contains("\"schema_version\": 1"));
    for record in [ScanRecord::from_json(&text, "scan-v1.json").unwrap(), ScanRecord::load(path.as_ref()).unwrap()] {
        assert_eq!(record.schema_version, 2, "read as the current version");
        assert!(record.evidence.sources.is_empty());
        assert!(record.tokens.iter().all(|t| t.kind.is_pat() && t.last_seen.is_none()));
        let table = render(&record, Format::Table, RenderOptions::default());
        assert!(table.contains("Evidence: none read"), "{table}");
        assert!(!table.contains("Audit:"), "no caveat without the audit log");
        // Saved again, it is a valid version-2 record.
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(crate::reports::schema_errors(&value), Vec::<String>::new());
    }
}

#[test]
fn redaction_pseudonymises_event_actors_and_scrubs_actions_and_reasons() {
    let mut evidence = evidence_read(Some(policies()));
    evidence.sources.insert(Source::Membership, SourceCoverage::partial("ida@contoso.com could not be read"));
    let mut record = record(evidence);
    for t in &mut record.tokens {
        for e in &mut t.events {
            e.actor = Some("Mallory Mallet".into());
        }
        if let Some(seen) = &mut t.last_seen {
            seen.action = format!("{} by bea@contoso.com", seen.action);
        }
    }
    let key = pat2entra::redact::RedactKey::random();
    pat2entra::redact::redact(&mut record, &key);
    let json = serde_json::to_string(&record).unwrap();
    for name in ["Mallory", "bea@contoso.com", "ida@contoso.com", "Ida Idle", "Leo"] {
        assert!(!json.contains(name), "{name} survived redaction");
    }
    // Organization findings name no owner, before and after.
    assert!(record.findings.iter().filter(|f| f.is_organization()).all(|f| f.owner.is_empty()));
}

#[test]
fn diff_shows_new_ssh_keys_new_leaks_and_owners_who_left() {
    let mut old = record(evidence_read(Some(policies())));
    old.owners.iter_mut().find(|o| o.descriptor == "aad.left").unwrap().member = Some(true);
    old.tokens.retain(|t| t.authorization_id != "left-key");
    old.tokens.push(TokenBuilder::new("left-pat", "aad.left").name("left pat").scopes(&["vso.code"]).build());
    for t in &mut old.tokens {
        t.events.clear();
    }
    let old = ScanRecord::judge(
        pat2entra::inventory::Inventory {
            organization: old.organization.clone(),
            owners: old.owners.clone(),
            tokens: old.tokens.clone(),
            coverage: old.coverage.clone(),
            evidence: old.evidence.clone(),
            service: Default::default(),
        },
        &pat2entra::rules::RuleSet::default_rules(),
        common::as_of(),
    );
    let mut new = record(evidence_read(Some(policies())));
    new.tokens.push(TokenBuilder::new("left-pat", "aad.left").name("left pat").scopes(&["vso.code"]).build());
    let new = ScanRecord::judge(
        pat2entra::inventory::Inventory {
            organization: new.organization.clone(),
            owners: new.owners.clone(),
            tokens: new.tokens.clone(),
            coverage: new.coverage.clone(),
            evidence: new.evidence.clone(),
            service: Default::default(),
        },
        &pat2entra::rules::RuleSet::default_rules(),
        common::as_of(),
    );
    let diff = pat2entra::diff::diff(&old, &new);
    let change = |id: &str| {
        diff.tokens.iter().filter(|t| t.authorization_id == id).map(|t| t.change.as_str()).collect::<Vec<_>>()
    };
    assert_eq!(change("leaked"), ["leaked"]);
    assert_eq!(change("left-key"), ["created"]);
    assert_eq!(diff.tokens.iter().find(|t| t.authorization_id == "left-key").unwrap().kind.as_str(), "ssh");
    assert_eq!(change("left-pat"), ["owner-not-member"]);
    let appeared: Vec<(&str, &str)> = diff.appeared().map(|f| (f.rule.as_str(), f.authorization_id.as_str())).collect();
    assert!(appeared.contains(&("leaked", "leaked")), "{appeared:?}");
    assert!(appeared.contains(&("owner-not-member", "left-pat")), "{appeared:?}");
    let mut out = Vec::new();
    report::render_diff(&diff, Format::Table, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("laptop (ssh)") && text.contains("leaked"), "{text}");
}
