use super::*;
use pat2entra_core::inventory::{Coverage, Inventory, Owner, OwnerFailure, Token};
use pat2entra_core::rules::RuleSet;
use pat2entra_core::trend::{self, Period};

fn at(day: u32) -> DateTime<Utc> {
    format!("2026-11-{day:02}T00:00:00Z").parse().unwrap()
}

fn owner(name: &str) -> Owner {
    Owner {
        descriptor: format!("aad.{name}").into(),
        principal_name: format!("{name}@contoso.com").into(),
        display_name: name.into(),
        origin: "aad".into(),
        ..Default::default()
    }
}

/// A token of `owner`: full access (a high finding) when `full`, valid for 30 days from day 1.
fn token(owner: &str, id: &str, full: bool, valid: bool) -> Token {
    Token {
        authorization_id: id.into(),
        owner: format!("aad.{owner}").into(),
        display_name: format!("token {id}"),
        scopes: vec![if full { "app_token" } else { "vso.code" }.into()],
        target_accounts: ["contoso".into()].into(),
        valid_from: Some(at(1)),
        valid_to: Some(at(1) + chrono::Duration::days(30)),
        is_valid: valid,
        ..Default::default()
    }
}

/// A scan of contoso on `day` with owners ada and bob; `failed` owners were not read.
fn scan(day: u32, tokens: Vec<Token>, failed: &[&str]) -> ScanRecord {
    let owners = vec![owner("ada"), owner("bob")];
    let failures: Vec<OwnerFailure> = failed
        .iter()
        .map(|name| OwnerFailure { descriptor: format!("aad.{name}"), error: "HTTP 500".into() })
        .collect();
    let inventory = Inventory {
        organization: "contoso".into(),
        coverage: Coverage::new(owners.len(), owners.len() - failures.len(), failures),
        owners,
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    };
    ScanRecord::judge(inventory, &RuleSet::default_rules(), at(day))
}

/// (credential, first seen, ended, how)
type Life = (String, DateTime<Utc>, Option<DateTime<Utc>>, Option<Ending>);

fn full_access_lives(rows: &HistoryRows) -> Vec<Life> {
    let mut lives: Vec<_> = rows
        .findings
        .iter()
        .filter(|f| f.rule == "full-access")
        .map(|f| (f.authorization_id.clone(), f.first_seen, f.ended_at, f.ending))
        .collect();
    lives.sort();
    lives
}

#[test]
fn findings_resolve_only_in_a_scan_that_read_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut history = History::open(&path).unwrap();
    // Day 2: ada's a1 and bob's b1 are full access. Day 3: bob was not read, ada's a1 now
    // scoped. Day 4: bob read again, b1 gone (revoked).
    history.add(&[scan(2, vec![token("ada", "a1", true, true), token("bob", "b1", true, true)], &[])]).unwrap();
    history.add(&[scan(3, vec![token("ada", "a1", false, true)], &["bob"])]).unwrap();
    let rows = history.rows(None).unwrap();
    assert_eq!(
        full_access_lives(&rows),
        [("a1".into(), at(2), Some(at(3)), Some(Ending::Resolved)), ("b1".into(), at(2), None, None)],
        "b1's owner was not read on day 3: still open"
    );
    history.add(&[scan(4, vec![token("ada", "a1", false, true), token("bob", "b1", true, false)], &[])]).unwrap();
    let rows = history.rows(None).unwrap();
    assert_eq!(full_access_lives(&rows)[1], ("b1".into(), at(2), Some(at(4)), Some(Ending::Resolved)));
    let b1 = rows.credentials.iter().find(|c| c.authorization_id == "b1").unwrap();
    assert_eq!((b1.revoked_how, b1.revoked_at), (Some(RevokedHow::Observed), Some(at(4))));
    assert_eq!(b1.owner, "bob@contoso.com");
    // The trend: three points, each with what its scan saw (day 3 did not read bob: marked
    // incomplete), and b1's finding open from day 2 to day 4.
    let t = trend::compute(&rows, Period::Week);
    let high: Vec<usize> = t.points.iter().map(|p| p.open[1]).collect();
    assert_eq!(high, [2, 0, 0]);
    assert_eq!(t.points.iter().map(|p| p.complete).collect::<Vec<_>>(), [true, false, true]);
    let high_ttr = t.remediation.iter().find(|r| r.severity == pat2entra_core::finding::Severity::High).unwrap();
    assert_eq!((high_ttr.resolved, high_ttr.median_days), (2, Some(1.5)));
}

#[test]
fn the_same_scan_twice_is_added_once_and_a_different_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut history = History::open(&path).unwrap();
    let first = scan(2, vec![token("ada", "a1", true, true)], &[]);
    assert!(history.add(std::slice::from_ref(&first)).unwrap()[0].new);
    let again = History::open(&path).unwrap().add(std::slice::from_ref(&first)).unwrap();
    assert!(!again[0].new, "already there");
    assert_eq!(history.rows(None).unwrap().scans.len(), 1);
    assert_eq!(history.rows(None).unwrap().findings.len(), first.findings.len());
    // Another scan of the same organization and date.
    let other = scan(2, vec![token("ada", "a2", true, true)], &[]);
    let e = history.add(&[other]).unwrap_err().to_string();
    assert!(e.contains("already holds a different scan of contoso as of 2026-11-02T00:00:00Z"), "{e}");
    assert!(e.starts_with(&format!("history {}: ", path.display())), "{e}");
    // Older than the latest: refused, nothing written (one transaction).
    history.add(&[scan(5, vec![], &[])]).unwrap();
    let e = history.add(&[scan(6, vec![], &[]), scan(3, vec![], &[])]).unwrap_err().to_string();
    assert!(e.contains("already holds a later scan of contoso"), "{e}");
    assert_eq!(history.rows(None).unwrap().scans.len(), 2, "the day-6 scan of the failed add was rolled back");
    // Organization names ignore case, as Azure DevOps does.
    let mut shouted = scan(7, vec![], &[]);
    shouted.organization = "CONTOSO".into();
    history.add(&[shouted]).unwrap();
    assert_eq!(history.organizations().unwrap(), ["contoso"]);
    assert_eq!(history.rows(Some("Contoso")).unwrap().scans.len(), 3);
}

#[test]
fn a_shard_or_a_randomly_redacted_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("h.db")).unwrap();
    let mut part = scan(2, vec![], &[]);
    part.shard = Some(pat2entra_core::tenant::Shard {
        index: 1,
        count: 3,
        by: pat2entra_core::tenant::ShardBy::Owners,
        scan_id: "x".into(),
    });
    assert!(history.add(&[part]).unwrap_err().to_string().contains("part 1 of 3 of a sharded scan"));
    let mut redacted = scan(2, vec![], &[]);
    redacted.redaction = Some(pat2entra_core::redact::Redaction { comparable_across_runs: false, key_id: None });
    assert!(history.add(&[redacted]).unwrap_err().to_string().contains("redacted with a random key"));
}

/// The schema of version 1 exactly as released: a history written then must open now.
const FROZEN_V1: &str = include_str!("../tests/schema-v1.sql");

#[test]
fn a_history_of_schema_version_1_is_migrated_with_its_data() {
    assert_eq!(MIGRATIONS[0].trim(), FROZEN_V1.trim(), "a released migration is never edited: add one instead");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(FROZEN_V1).unwrap();
        conn.execute_batch(
            "INSERT INTO organizations (id, name) VALUES (1, 'contoso');
             INSERT INTO scans VALUES (1, 1, '2026-11-02T00:00:00Z', 'sha256:aa', '0.1.0', 1, 2, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0);
             INSERT INTO owners VALUES (1, 1, 'aad.ada', 'ada@contoso.com');
             INSERT INTO credentials VALUES (1, 1, 'a1', 'pat', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', NULL, 1, 'active', NULL, NULL);
             INSERT INTO findings VALUES (1, 1, 1, 'full-access', 'high', 0, 1, NULL, NULL);
             INSERT INTO plan_due VALUES (1, 'next', '2026-12-01', 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut history = History::open_existing(&path).unwrap();
    assert_eq!(history.schema_version().unwrap(), SCHEMA_VERSION);
    let rows = history.rows(None).unwrap();
    assert_eq!(rows.scans.len(), 1);
    assert_eq!(rows.scans[0].open, [0, 1, 0, 0, 0]);
    assert_eq!(rows.credentials[0].owner, "ada@contoso.com");
    assert_eq!(rows.findings[0].rule, "full-access");
    assert_eq!(rows.plan[0].due.to_string(), "2026-12-01");
    let added_at: Option<String> = history.conn.query_row("SELECT added_at FROM scans", [], |r| r.get(0)).unwrap();
    assert_eq!(added_at, None, "version 1 did not record it");
    let index: i64 = history
        .conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'findings_open'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(index, 1);
    // The migrated history goes on: the next scan ends the day-2 finding of a1 (now scoped).
    history.add(&[scan(3, vec![token("ada", "a1", false, true)], &["bob"])]).unwrap();
    let rows = history.rows(None).unwrap();
    assert_eq!(full_access_lives(&rows), [("a1".into(), at(2), Some(at(3)), Some(Ending::Resolved))]);
}

#[test]
fn a_file_that_is_no_history_gets_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "this is not a database, just some text that is long enough to have a header").unwrap();
    let e = History::open(&text).err().unwrap();
    assert!(matches!(e, HistoryError::NotADatabase { .. }), "{e:?}");
    assert_eq!(
        pat2entra_core::error::chain(&e),
        format!(
            "history {}: not an SQLite database; give the .db file written by `scan --history`, or a new file name to start a history",
            text.display()
        )
    );
    let newer = dir.path().join("newer.db");
    Connection::open(&newer).unwrap().execute_batch("PRAGMA user_version = 99;").unwrap();
    let e = History::open_existing(&newer).err().unwrap().to_string();
    assert!(e.contains("schema version 99 is newer than this pat2entra knows (2)"), "{e}");
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x);").unwrap();
    assert!(History::open(&foreign).err().unwrap().to_string().contains("not a pat2entra history"));
    let e = History::open_existing(&dir.path().join("none.db")).err().unwrap().to_string();
    assert!(e.contains("no such file; add scans first"), "{e}");
    assert!(!dir.path().join("none.db").exists(), "reading a trend creates nothing");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let e = History::open_existing(&empty).err().unwrap().to_string();
    assert!(e.contains("an empty file, no scans yet; add scans first"), "{e}");
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0, "reading a trend writes nothing into an empty file");
    assert!(History::open(&empty).is_ok(), "adding to an empty file starts a history in it");
}

#[cfg(unix)]
#[test]
fn a_new_history_is_private_and_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let history = History::open(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let mode: String = history.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = history.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn a_tenant_record_adds_every_organization_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("h.db")).unwrap();
    let mut fabrikam = scan(2, vec![token("bob", "f1", true, true)], &[]);
    fabrikam.organization = "fabrikam".into();
    let contoso = scan(2, vec![token("ada", "c1", true, true)], &[]);
    let tenant = pat2entra_core::tenant::TenantRecord::new(vec![fabrikam, contoso], vec![], at(2), None);
    let added = history.add_any(&AnyRecord::Tenant(Box::new(tenant))).unwrap();
    assert_eq!(added.iter().map(|a| a.organization.as_str()).collect::<Vec<_>>(), ["contoso", "fabrikam"]);
    // A later scan of contoso alone: the date counts fabrikam's older scan too.
    history.add(&[scan(3, vec![token("ada", "c1", false, true)], &[])]).unwrap();
    let t = trend::compute(&history.rows(None).unwrap(), Period::Month);
    assert_eq!(t.organizations, ["contoso", "fabrikam"]);
    assert_eq!(t.points.iter().map(|p| (p.scanned, p.carried, p.open[1])).collect::<Vec<_>>(), [(2, 0, 2), (1, 1, 1)]);
    let only = trend::compute(&history.rows(Some("fabrikam")).unwrap(), Period::Month);
    assert_eq!(only.points.len(), 1);
}
