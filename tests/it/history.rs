//! The scan history and its trend, end to end: ten demo scans on consecutive dates (the demo
//! organization moves on from a fixed epoch, so tokens are created, revoked and expire, and
//! findings appear and resolve), each added with `scan --history`; the trend's numbers are
//! recomputed here from the saved JSON records, never from the database.

use crate::common::run;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const EPOCH: &str = "2026-11-19";
const USERS: &str = "100";

fn demo_scan(dir: &Path, day: u32, history: &Path, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join(format!("scan-{day}.json"));
    let as_of = format!("2026-11-{day:02}");
    let mut args = vec![
        "scan",
        "--demo",
        "--quiet",
        "--users",
        USERS,
        "--as-of",
        &as_of,
        "--demo-epoch",
        EPOCH,
        "--history",
        history.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"-o") {
        args.extend(["-o", "json"]);
    }
    let r = run(&args, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// A token's state, as the README defines it.
fn state(token: &Value, as_of: DateTime<Utc>) -> &'static str {
    let has = |kinds: &[&str]| {
        token["events"].as_array().unwrap().iter().any(|e| kinds.contains(&e["kind"].as_str().unwrap()))
    };
    if !token["is_valid"].as_bool().unwrap() {
        if has(&["expired"]) && !has(&["revoked", "system_revoked"]) { "expired" } else { "revoked" }
    } else if token["valid_to"].as_str().is_some_and(|to| time(&Value::from(to)) <= as_of) {
        "expired"
    } else {
        "active"
    }
}

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// The evidence each evidence rule rests on (rules/default.toml).
fn source_of(rule: &str) -> Option<&'static str> {
    match rule {
        "owner-not-member" => Some("membership"),
        "owner-inactive" => Some("entitlements"),
        "leaked" | "unused" => Some("audit"),
        r if r.starts_with("policy-") => Some("policies"),
        _ => None,
    }
}

type Key = (String, String, String);

/// Whether `scan` would have reported a finding of `key`: owner read, rule run, evidence read.
fn judged(scan: &Value, key: &Key) -> bool {
    let (owner, _, rule) = key;
    let failed: BTreeSet<&str> = scan["coverage"]["owners_failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["descriptor"].as_str().unwrap())
        .collect();
    let listed = scan["owners"].as_array().unwrap().iter().any(|o| o["descriptor"] == owner.as_str());
    let read = owner.is_empty() || (listed && !failed.contains(owner.as_str()));
    let ran = scan["rules"].as_array().unwrap().iter().any(|r| r["id"] == rule.as_str());
    let evidence = source_of(rule).is_none_or(|s| scan["evidence"]["sources"][s]["status"] == "complete");
    read && ran && evidence
}

/// (owner principal, credential, rule, first seen, ended, ending, severity)
type Episode = (String, String, String, NaiveDate, Option<NaiveDate>, Option<String>, String);

fn episodes(scans: &[Value]) -> Vec<Episode> {
    let mut principal: HashMap<String, String> = HashMap::new();
    let mut keys: BTreeSet<Key> = BTreeSet::new();
    for scan in scans {
        for o in scan["owners"].as_array().unwrap() {
            principal.insert(o["descriptor"].as_str().unwrap().into(), o["principal_name"].as_str().unwrap().into());
        }
        for f in scan["findings"].as_array().unwrap() {
            keys.insert((
                f["owner"].as_str().unwrap().into(),
                f["authorization_id"].as_str().unwrap().into(),
                f["rule"].as_str().unwrap().into(),
            ));
        }
    }
    let mut out = Vec::new();
    for key in keys {
        let mut current: Option<(NaiveDate, bool, String)> = None;
        for scan in scans {
            let day = time(&scan["as_of"]).date_naive();
            let found = scan["findings"].as_array().unwrap().iter().find(|f| {
                f["owner"] == key.0.as_str() && f["authorization_id"] == key.1.as_str() && f["rule"] == key.2.as_str()
            });
            let name = principal.get(&key.0).cloned().unwrap_or_default();
            let episode = |first: NaiveDate, ended: Option<NaiveDate>, how: Option<&str>, severity: &str| {
                (name.clone(), key.1.clone(), key.2.clone(), first, ended, how.map(String::from), severity.to_string())
            };
            match (found, current.take()) {
                (Some(f), None) => {
                    current = Some((day, !f["suppressed"].is_null(), f["severity"].as_str().unwrap().into()))
                }
                (Some(f), Some((first, suppressed, _))) => {
                    let now_suppressed = !f["suppressed"].is_null();
                    let severity = f["severity"].as_str().unwrap().to_string();
                    if now_suppressed == suppressed {
                        current = Some((first, suppressed, severity));
                    } else {
                        let how = if now_suppressed { "suppressed" } else { "unsuppressed" };
                        let (_, _, old) = (first, suppressed, &severity);
                        out.push(episode(first, Some(day), Some(how), old));
                        current = Some((day, now_suppressed, severity));
                    }
                }
                (None, Some((first, suppressed, severity))) => {
                    if judged(scan, &key) {
                        out.push(episode(first, Some(day), Some("resolved"), &severity));
                    } else {
                        current = Some((first, suppressed, severity));
                    }
                }
                (None, None) => {}
            }
        }
        if let Some((first, _, severity)) = current {
            let name = principal.get(&key.0).cloned().unwrap_or_default();
            out.push((name, key.1.clone(), key.2.clone(), first, None, None, severity));
        }
    }
    out.sort();
    out
}

fn median(mut v: Vec<i64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort();
    let m = v.len() / 2;
    let x = if v.len().is_multiple_of(2) { (v[m - 1] + v[m]) as f64 / 2.0 } else { v[m] as f64 };
    serde_json::json!(x)
}

#[test]
fn ten_demo_scans_give_the_trend_their_records_give() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.db");
    let paths: Vec<_> = (20..30).map(|day| demo_scan(dir.path(), day, &history, &[])).collect();
    let scans: Vec<Value> =
        paths.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect();
    let r = run(&["trend", "--history", history.to_str().unwrap(), "-o", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let trend: Value = serde_json::from_str(&r.stdout).unwrap();

    // Findings by severity, accepted findings, active PATs: per scan, from its findings and tokens.
    let points = trend["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    for (point, scan) in points.iter().zip(&scans) {
        let as_of = time(&scan["as_of"]);
        assert_eq!(time(&point["as_of"]), as_of);
        let findings = scan["findings"].as_array().unwrap();
        for severity in SEVERITIES {
            let open = findings.iter().filter(|f| f["severity"] == severity && f["suppressed"].is_null()).count();
            assert_eq!(point["open"][severity], open, "{as_of} {severity}");
        }
        assert_eq!(point["suppressed"], findings.iter().filter(|f| !f["suppressed"].is_null()).count());
        let tokens = scan["tokens"].as_array().unwrap();
        let active_pats = tokens.iter().filter(|t| t["kind"] == "pat" && state(t, as_of) == "active").count();
        assert_eq!(point["active_pats"], active_pats, "{as_of}");
        assert_eq!(point["complete"], scan["coverage"]["complete"]);
    }
    assert_ne!(points[0]["open"], points[9]["open"], "the demo organization moved on");

    // Every finding's first-seen and resolved dates.
    let expected = episodes(&scans);
    let mut got: Vec<Episode> = trend["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let date = |v: &Value| v.as_str().map(|s| s.parse::<NaiveDate>().unwrap());
            (
                f["owner"].as_str().unwrap().into(),
                f["authorization_id"].as_str().unwrap().into(),
                f["rule"].as_str().unwrap().into(),
                date(&f["first_seen"]).unwrap(),
                date(&f["ended"]),
                f["ending"].as_str().map(String::from),
                f["severity"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    let first_day = time(&scans[0]["as_of"]).date_naive();
    assert!(expected.iter().any(|e| e.5.as_deref() == Some("resolved")), "findings resolve");
    assert!(expected.iter().any(|e| e.3 > first_day), "findings appear");

    // Median days to remediate per severity.
    for (i, severity) in SEVERITIES.iter().enumerate() {
        let days: Vec<i64> = expected
            .iter()
            .filter(|e| e.6 == *severity && e.5.as_deref() == Some("resolved"))
            .map(|e| (e.4.unwrap() - e.3).num_days())
            .collect();
        let row = &trend["remediation"][i];
        assert_eq!(row["severity"], *severity);
        assert_eq!(row["resolved"], days.len());
        assert_eq!(row["median_days"], median(days), "{severity}");
    }

    // Credentials created and revoked per month (all ten scans are in November 2026).
    let window = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let (mut created, mut revoked, mut created_before, mut revoked_before) = (0, 0, 0, 0);
    // (owner, id) -> (created, (revoked at, how))
    type Revocation = Option<(Option<DateTime<Utc>>, &'static str)>;
    type Seen = (Option<DateTime<Utc>>, Revocation);
    let mut seen: BTreeMap<(String, String), Seen> = BTreeMap::new();
    for scan in &scans {
        let as_of = time(&scan["as_of"]);
        for t in scan["tokens"].as_array().unwrap() {
            let events = |kinds: &[&str]| {
                t["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| kinds.contains(&e["kind"].as_str().unwrap()))
                    .map(|e| time(&e["at"]))
                    .min()
            };
            let key = (t["owner"].as_str().unwrap().to_string(), t["authorization_id"].as_str().unwrap().to_string());
            let first = !seen.contains_key(&key);
            let from = t["valid_from"].as_str().map(|v| time(&Value::from(v)));
            let entry = seen.entry(key).or_insert((None, None));
            // Creation: the audit log's event when one was read (the first scan holding one), else valid_from.
            if first {
                entry.0 = events(&["created"]).or(from);
            } else if let Some(event) = events(&["created"]).filter(|_| entry.0 == from) {
                entry.0 = Some(event);
            }
            let revoked_event = events(&["revoked", "system_revoked"]);
            let is_revoked = state(t, as_of) == "revoked";
            entry.1 = match (entry.1, revoked_event) {
                (Some((_, "audit")), _) => entry.1,
                (_, Some(at)) => Some((Some(at), "audit")),
                (None, None) if is_revoked && first => Some((None, "before_first_seen")),
                (None, None) if is_revoked => Some((Some(as_of), "observed")),
                (other, None) => other,
            };
        }
    }
    for (when, revocation) in seen.values() {
        match when {
            Some(at) if at.date_naive() >= window => created += 1,
            _ => created_before += 1,
        }
        match revocation {
            Some((Some(at), _)) if at.date_naive() >= window => revoked += 1,
            Some(_) => revoked_before += 1,
            None => {}
        }
    }
    assert_eq!(trend["periods"].as_array().unwrap().len(), 1);
    assert_eq!(trend["periods"][0]["label"], "2026-11");
    assert_eq!(trend["periods"][0]["created"], created);
    assert_eq!(trend["periods"][0]["revoked"], revoked);
    assert_eq!(trend["created_before"], created_before);
    assert_eq!(trend["revoked_before"], revoked_before);
    assert!(created > 0 && revoked > 0, "tokens were created and revoked in November: {created}, {revoked}");

    // The burn-down: the latest scan's plan (as `plan -o csv` gives it), PATs only.
    let plan = run(&["plan", paths[9].to_str().unwrap(), "-o", "csv"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let mut reader = csv::Reader::from_reader(plan.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (due, kind) = (column("due_date"), column("kind"));
    let mut by_due: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        if &row[kind] == "pat" {
            *by_due.entry(row[due].parse().unwrap()).or_default() += 1;
        }
    }
    let total: usize = by_due.values().sum();
    assert_eq!(total, points[9]["active_pats"].as_u64().unwrap() as usize);
    let latest = time(&scans[9]["as_of"]).date_naive();
    let mut target = vec![(latest, total)];
    let mut left = total;
    for (date, n) in by_due {
        left -= n;
        match target.last_mut() {
            Some(last) if last.0 == date => last.1 = left,
            _ => target.push((date, left)),
        }
    }
    let got: Vec<(NaiveDate, usize)> = trend["burndown"]["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["date"].as_str().unwrap().parse().unwrap(), t["pats"].as_u64().unwrap() as usize))
        .collect();
    assert_eq!(got, target);

    // The other formats of the same trend: the table fits 80 columns, CSV has a row per scan.
    let table = run(&["trend", "--history", history.to_str().unwrap(), "--period", "week"], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("Trend of fabrikam: 10 scans, 2026-11-20 to 2026-11-29"), "{}", table.stdout);
    assert!(table.stdout.contains("2026-W48"), "{}", table.stdout);
    for line in table.stdout.lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 80, "{line}");
    }
    let csv_out = run(&["trend", "--history", history.to_str().unwrap(), "-o", "csv"], &[]);
    assert_eq!(csv_out.stdout.lines().count(), 11);

    // The same scans added again: nothing changes.
    let mut args = vec!["history", "add"];
    args.extend(paths.iter().rev().map(|p| p.to_str().unwrap()));
    args.extend(["--history", history.to_str().unwrap()]);
    let again = run(&args, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stderr.matches("is already there; nothing added").count(), 10, "{}", again.stderr);
    let after = run(&["trend", "--history", history.to_str().unwrap(), "-o", "json"], &[]);
    assert_eq!(after.stdout, r.stdout);

    // `history add` builds the same history from the saved files, whatever their order.
    let rebuilt = dir.path().join("rebuilt.db");
    let mut args = vec!["history", "add"];
    args.extend(paths.iter().rev().map(|p| p.to_str().unwrap()));
    args.extend(["--history", rebuilt.to_str().unwrap()]);
    assert_eq!(run(&args, &[]).code, 0);
    let rebuilt_trend = run(&["trend", "--history", rebuilt.to_str().unwrap(), "-o", "json"], &[]);
    assert_eq!(rebuilt_trend.stdout, r.stdout);
}

#[test]
fn the_html_report_shows_the_trend_with_history_only() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.db");
    let first = demo_scan(dir.path(), 20, &history, &[]);
    // `scan -o html --history`: the report of the second scan has the trend of both.
    let html = demo_scan(dir.path(), 21, &history, &["-o", "html"]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h3 id=\"trend\">Trend, from the scan history</h3>"), "trend section");
    assert!(page.contains("id=\"trend-findings\"") && page.contains("id=\"trend-burndown\""));
    assert_eq!(page.matches("<circle class=\"dot\"").count(), 2, "one dot per scan");
    // `report -o html --history` of the first scan: the history up to it.
    let out = dir.path().join("first.html");
    let r = run(
        &[
            "report",
            first.to_str().unwrap(),
            "-o",
            "html",
            "--history",
            history.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<circle class=\"dot\"").count(), 1);
    // Without --history: no trend.
    let plain = run(&["report", first.to_str().unwrap(), "-o", "html"], &[]);
    assert!(!plain.stdout.contains("trend"), "no trend without --history");
    // The trend page itself: both charts, no script, a print stylesheet.
    let t = run(&["trend", "--history", history.to_str().unwrap(), "-o", "html"], &[]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t.stdout.starts_with("<!DOCTYPE html>") && t.stdout.ends_with("</html>\n"));
    assert!(t.stdout.contains("id=\"trend-findings\"") && t.stdout.contains("<polyline class=\"target\""));
    assert!(!t.stdout.contains("<script") && t.stdout.contains("@media print"));
    assert!(!t.stdout.contains("http://") && !t.stdout.contains("src="), "nothing from elsewhere");
    // --history with another format is refused, with what to do.
    let r = run(&["report", first.to_str().unwrap(), "--history", history.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--history shows the trend in the HTML report (-o html)"), "{}", r.stderr);
}

#[test]
fn a_file_that_is_no_history_fails_with_one_line_before_any_scan() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.db");
    std::fs::write(&notes, "these are notes, not a database; long enough for SQLite to look at the header").unwrap();
    let shown = notes.display().to_string();
    for args in
        [vec!["trend", "--history", &shown], vec!["scan", "--demo", "--quiet", "--users", "5", "--history", &shown]]
    {
        let r = run(&args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            format!(
                "error: history {shown}: not an SQLite database; give the .db file written by `scan --history`, or a new file name to start a history\n"
            ),
            "{args:?}"
        );
    }
    let missing = dir.path().join("none.db");
    let r = run(&["trend", "--history", missing.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no such file; add scans first (pat2entra history add SCAN.json"), "{}", r.stderr);
    assert!(!missing.exists());
}
