//! `pat2entra revoke` end to end against the simulator: the dry run sends nothing, `--execute`
//! revokes exactly the chosen set (a later scan shows it), an interrupted run and its rerun revoke
//! each credential exactly once, changed credentials are skipped and journaled, the credential
//! in use revoking itself stops the run cleanly, and no secret reaches any output. Expected sets
//! come from the simulator's seed (the scan only says which owners it listed).

use crate::common::{self, Run, TestSim, as_of, run, sim_config};
use pat2entra::journal::{Journal, Outcome};
use pat2entra::sim::{SimConfig, SimToken};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

const PAT: &str = "revoke-test-pat-5d1c0a9e7b3f71c2";

fn start() -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..sim_config() })
}

/// Scans the simulator into `dir/NAME` and returns its path and record.
fn scan(sim: &TestSim, dir: &Path, name: &str) -> (PathBuf, serde_json::Value) {
    let out = dir.join(name);
    let base = sim.base_url();
    let r = run(
        &[
            "scan",
            "--org",
            "fabrikam",
            "--base-url",
            &base,
            "--as-of",
            "2026-11-26",
            "-q",
            "-o",
            "json",
            "--out",
            s(&out),
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let record = common::read_json(&out);
    (out, record)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn revoke(sim: &TestSim, scan: &Path, extra: &[&str]) -> Run {
    let base = sim.base_url();
    let mut args = vec!["revoke", s(scan), "--org", "fabrikam", "--base-url", &base, "--max-retries", "0"];
    args.extend_from_slice(extra);
    run(&args, &[("AZURE_DEVOPS_EXT_PAT", PAT)])
}

/// Every simulated credential of the owners the scan listed, by id, with its owner.
fn seeded(sim: &TestSim, record: &serde_json::Value) -> Vec<(String, SimToken)> {
    let listed: BTreeSet<&str> =
        record["owners"].as_array().unwrap().iter().map(|o| o["descriptor"].as_str().unwrap()).collect();
    let org = sim.sim().org();
    org.users()
        .zip(org.all_tokens())
        .filter(|(u, _)| listed.contains(u.descriptor.as_str()))
        .flat_map(|(u, tokens)| tokens.into_iter().map(move |t| (u.descriptor.clone(), t)))
        .collect()
}

/// Active as of the scan: what a selection may choose.
fn active(t: &SimToken) -> bool {
    t.is_valid && t.valid_to > as_of()
}

/// Of `chosen`, the ids still valid now (the simulator's tokens are dated around the scan's
/// `--as-of`; the ones expired since then are skipped, not revoked).
fn unexpired(sim: &TestSim, record: &serde_json::Value, chosen: &BTreeSet<String>) -> BTreeSet<String> {
    let now = chrono::Utc::now();
    seeded(sim, record)
        .into_iter()
        .filter(|(_, t)| chosen.contains(&t.authorization_id) && t.valid_to > now)
        .map(|(_, t)| t.authorization_id)
        .collect()
}

/// The ids `--rule full-access` chooses: active PATs with the scope `app_token`.
fn full_access(sim: &TestSim, record: &serde_json::Value) -> BTreeSet<String> {
    seeded(sim, record)
        .into_iter()
        .filter(|(_, t)| active(t) && t.public_data.is_none() && t.scope.split_whitespace().any(|s| s == "app_token"))
        .map(|(_, t)| t.authorization_id)
        .collect()
}

/// The ids `--kind pat` chooses: every active PAT.
fn pats(sim: &TestSim, record: &serde_json::Value) -> BTreeSet<String> {
    seeded(sim, record)
        .into_iter()
        .filter(|(_, t)| active(t) && t.public_data.is_none())
        .map(|(_, t)| t.authorization_id)
        .collect()
}

fn journal(path: &Path) -> Journal {
    Journal::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Each target's last outcome in the journal, by id.
fn outcomes(journal: &Journal) -> BTreeMap<String, (Outcome, Option<String>)> {
    journal.entries.iter().map(|e| (e.target.id.clone(), (e.outcome, e.reason.clone()))).collect()
}

fn is_valid(record: &serde_json::Value) -> BTreeMap<String, bool> {
    record["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["authorization_id"].as_str().unwrap().to_string(), t["is_valid"].as_bool().unwrap()))
        .collect()
}

#[test]
fn a_dry_run_lists_the_choice_and_sends_nothing() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let expected = full_access(&sim, &record);
    assert!(expected.len() >= 3, "the seed has full-access PATs: {expected:?}");
    let r = revoke(&sim, &path, &["--rule", "full-access"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("{} credentials to revoke", expected.len())), "{}", r.stdout);
    for id in &expected {
        assert!(r.stdout.contains(id.as_str()), "{id} not listed:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("Dry run: nothing was sent"), "{}", r.stdout);
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), 0);
    assert!(!dir.path().join("scan.revoke-journal.jsonl").exists(), "a dry run writes no journal");
    // Offline: no credential needed.
    let r = run(&["revoke", s(&path), "--org", "fabrikam", "--rule", "full-access"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `--wave revoke-now` chooses what the plan puts in that wave (leaked credentials and unused
/// ones of idle or departed owners, seeded by the simulator).
#[test]
fn the_revoke_now_wave_chooses_what_the_plan_puts_there() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = scan(&sim, dir.path(), "scan.json");
    let plan = run(&["plan", s(&path), "-o", "csv"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let mut rows = csv::Reader::from_reader(plan.stdout.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (wave, id) = (column("wave"), column("authorization_id"));
    let planned: BTreeSet<String> =
        rows.records().map(|r| r.unwrap()).filter(|r| &r[wave] == "revoke-now").map(|r| r[id].to_string()).collect();
    assert!(!planned.is_empty(), "the seed has credentials to revoke now");
    let r = revoke(&sim, &path, &["--wave", "revoke-now"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: BTreeSet<String> = r
        .stdout
        .lines()
        // The id opens the second line of each credential.
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 36 && w.matches('-').count() == 4)
        .map(str::to_string)
        .collect();
    assert_eq!(listed, planned);
}

#[test]
fn execute_revokes_exactly_the_choice_and_a_later_scan_shows_it() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = scan(&sim, dir.path(), "scan.json");
    let chosen = full_access(&sim, &before);
    let expected = unexpired(&sim, &before, &chosen);
    let expired = chosen.len() - expected.len();
    let r = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes", "--batch-size", "2"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("revoked {}, skipped {expired}, failed 0", expected.len())), "{}", r.stdout);
    let counts = sim.sim().revocations_by_id();
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    // Batches of two; the signed-in identity's own credentials in batches of their own, last.
    let admin = sim.sim().administrator().unwrap().descriptor;
    let own =
        seeded(&sim, &before).iter().filter(|(o, t)| *o == admin && expected.contains(&t.authorization_id)).count();
    let posts = (expected.len() - own).div_ceil(2) + own.div_ceil(2);
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), posts as u64);

    let journal = journal(&dir.path().join("scan.revoke-journal.jsonl"));
    assert_eq!(journal.header.organization, "fabrikam");
    assert_eq!(journal.runs.len(), 1);
    assert!(journal.runs[0].actor.is_some(), "the acting identity is journaled");
    assert!(journal.entries.iter().all(|e| e.actor == journal.runs[0].actor && e.organization == "fabrikam"));
    let last = outcomes(&journal);
    assert_eq!(last.keys().cloned().collect::<BTreeSet<_>>(), chosen);
    for (id, (outcome, why)) in &last {
        if expected.contains(id) {
            assert_eq!(*outcome, Outcome::Done, "{id}");
        } else {
            assert_eq!((*outcome, why.as_deref()), (Outcome::Skipped, Some("expired since the scan")), "{id}");
        }
    }
    // Planned before, done after: two lines per revoked credential, one per skipped one.
    assert_eq!(journal.entries.len(), 2 * expected.len() + expired);

    let (_, after) = scan(&sim, dir.path(), "after.json");
    let (was, now) = (is_valid(&before), is_valid(&after));
    for (id, valid) in &now {
        let want = if expected.contains(id) { false } else { was[id] };
        assert_eq!(*valid, want, "{id}");
    }
    // The same command again: nothing left.
    let r = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Nothing left to revoke"), "{}", r.stdout);
    assert_eq!(sim.sim().revocations_by_id(), counts);
}

#[test]
fn a_run_failing_midway_and_its_rerun_revoke_each_credential_once() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let expected = unexpired(&sim, &record, &pats(&sim, &record));
    assert!(expected.len() > 12, "{}", expected.len());
    let journal_path = dir.path().join("j.jsonl");
    let args = ["--kind", "pat", "--execute", "--yes", "--batch-size", "4", "--journal", s(&journal_path)];
    // The service fails once 8 credentials are revoked.
    sim.sim().allow_revocations(Some(8));
    let r = revoke(&sim, &path, &args);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("revoked 8,"), "{}", r.stdout);
    let report = run(&["report", "--journal", s(&journal_path), "-o", "markdown"], &[]);
    assert_eq!(report.code, 5, "failures left: {}", report.stderr);
    assert!(report.stdout.contains("| failed |"), "{}", report.stdout);
    let first = outcomes(&journal(&journal_path));
    assert_eq!(first.values().filter(|(o, _)| *o == Outcome::Done).count(), 8);
    assert!(
        first.values().filter(|(o, _)| *o == Outcome::Failed).all(|(_, why)| why.as_deref().unwrap().contains("500"))
    );

    sim.sim().allow_revocations(None);
    let r = revoke(&sim, &path, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("per the journal") && r.stdout.contains("(8 revoked,"), "{}", r.stdout);
    let counts = sim.sim().revocations_by_id();
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let journal = journal(&journal_path);
    assert_eq!(journal.runs.len(), 2);
    let last = outcomes(&journal);
    assert!(expected.iter().all(|id| last[id].0 == Outcome::Done), "{last:?}");
    let r = run(&["report", "--journal", s(&journal_path)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("revoked {}", expected.len())), "{}", r.stdout);
}

#[test]
fn a_killed_run_and_its_rerun_revoke_each_credential_once() {
    use std::io::BufRead;
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let expected = unexpired(&sim, &record, &pats(&sim, &record));
    let base = sim.base_url();
    let args = ["revoke", s(&path), "--org", "fabrikam", "--base-url", &base, "--kind", "pat", "--execute", "--yes"];
    // From the fourth credential on, the service fails (and is retried with backoff), so the
    // kill lands while the fourth is planned but not answered.
    sim.sim().allow_revocations(Some(3));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args(args).args(["--batch-size", "1"]).env("PATH", common::path_without_clis(None));
    for name in common::SIGN_IN_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.env("AZURE_DEVOPS_EXT_PAT", PAT)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Killed once the fourth request is being retried: a point in the run, not a time.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("retrying after") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(sim.sim().revocations_by_id().len(), 3);
    let killed = journal(&dir.path().join("scan.revoke-journal.jsonl"));
    assert_eq!(outcomes(&killed).values().filter(|(o, _)| *o == Outcome::Planned).count(), 1, "one in doubt");
    sim.sim().allow_revocations(None);

    let r = revoke(&sim, &path, &["--kind", "pat", "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let counts = sim.sim().revocations_by_id();
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[test]
fn credentials_changed_since_the_scan_are_skipped_and_journaled() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    // Three active PATs of three owners: one replaced, one moved to the third's owner.
    let mut picks: Vec<(String, SimToken)> = Vec::new();
    for (owner, t) in seeded(&sim, &record) {
        if active(&t) && t.public_data.is_none() && !picks.iter().any(|(o, _)| *o == owner) {
            picks.push((owner, t));
        }
        if picks.len() == 3 {
            break;
        }
    }
    let [(_, replaced), (_, moved), (kept_owner, kept)] = &picks[..] else { panic!("three owners with PATs") };
    let new_id = sim.sim().replace_token(&replaced.authorization_id).unwrap();
    assert!(sim.sim().move_token(&moved.authorization_id, kept_owner));
    let ids = [&replaced.authorization_id, &moved.authorization_id, &kept.authorization_id];
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, format!("# chosen by hand\n{}\n{}\n\n{}\n", ids[0], ids[1], ids[2])).unwrap();
    let r = revoke(&sim, &path, &["--ids-file", s(&ids_file), "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("revoked 1, skipped 2, failed 0"), "{}", r.stdout);
    assert_eq!(sim.sim().revocations_by_id().keys().collect::<Vec<_>>(), [&kept.authorization_id]);
    assert!(!sim.sim().revocations_by_id().contains_key(&new_id), "the replacement is not touched");
    let last = outcomes(&journal(&dir.path().join("scan.revoke-journal.jsonl")));
    let (outcome, why) = &last[&replaced.authorization_id];
    assert_eq!(*outcome, Outcome::Skipped);
    assert!(why.as_deref().unwrap().contains("no longer listed under its owner"), "{why:?}");
    let (outcome, why) = &last[&moved.authorization_id];
    assert_eq!(*outcome, Outcome::Skipped);
    assert!(why.as_deref().unwrap().contains(&format!("now listed under another owner ({kept_owner})")), "{why:?}");
    assert_eq!(last[&kept.authorization_id].0, Outcome::Done);
    assert!(r.stderr.contains("skipped"), "{}", r.stderr);
}

#[test]
fn a_credential_that_revokes_itself_stops_the_run_with_the_journal_intact() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let expected = unexpired(&sim, &record, &pats(&sim, &record));
    // The PAT in use is the second credential revoked: the order the dry run shows, except that
    // the signed-in identity's own credentials go last.
    let admin = sim.sim().administrator().unwrap().descriptor;
    let own: BTreeSet<String> =
        seeded(&sim, &record).into_iter().filter(|(o, _)| *o == admin).map(|(_, t)| t.authorization_id).collect();
    let chosen_order: Vec<String> = {
        let r = revoke(&sim, &path, &["--kind", "pat"]);
        r.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next().filter(|w| expected.contains(*w) && !own.contains(*w)))
            .map(str::to_string)
            .collect()
    };
    assert!(chosen_order.len() >= 3, "{chosen_order:?}");
    sim.sim().bind_pat(&chosen_order[1]);
    let r = revoke(&sim, &path, &["--kind", "pat", "--execute", "--yes", "--batch-size", "1"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("stopped working"), "{}", r.stderr);
    assert!(r.stderr.contains("stopped after batch 3 of"), "{}", r.stderr);
    let journal = journal(&dir.path().join("scan.revoke-journal.jsonl"));
    let sent: BTreeMap<String, (Outcome, Option<String>)> =
        outcomes(&journal).into_iter().filter(|(_, (o, _))| *o != Outcome::Skipped).collect();
    assert_eq!(sent[&chosen_order[0]].0, Outcome::Done);
    assert_eq!(sent[&chosen_order[1]].0, Outcome::Done);
    assert_eq!(sent[&chosen_order[2]].0, Outcome::Failed);
    assert!(sent.len() == 3, "nothing after the stop is journaled: {sent:?}");
    assert_eq!(sim.sim().revocations_by_id().len(), 2);
}

#[test]
fn bad_choices_are_refused_before_anything_is_sent() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = scan(&sim, dir.path(), "scan.json");
    let cases: &[(&[&str], &str)] = &[
        (&[], "no selector given"),
        (&["--id", "00000000-dead-beef-0000-000000000000"], "is not in the scan"),
        (&["--owner", "nobody@fabrikam.com"], "no owner 'nobody@fabrikam.com'"),
        (&["--rule", "ful-access"], "rule 'ful-access' is not among the scan's rules"),
        (&["--wave", "someday"], "wave 'someday' is not a wave of the retirement plan"),
        (&["--rule", "full-access", "--execute"], "--execute without a terminal needs --yes"),
    ];
    for (extra, message) in cases {
        let r = revoke(&sim, &path, extra);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{extra:?}: {}", r.stderr);
    }
    let base = sim.base_url();
    let r = run(
        &["revoke", s(&path), "--org", "contoso", "--base-url", &base, "--rule", "full-access"],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is of organization 'fabrikam'"), "{}", r.stderr);
    // A journal of another scan.
    let (other, _) = scan(&sim, dir.path(), "other.json");
    let mut text = std::fs::read_to_string(&other).unwrap();
    text = text.replacen('{', "{\n", 1);
    std::fs::write(&other, text).unwrap();
    let journal_path = dir.path().join("j.jsonl");
    let ok = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes", "--journal", s(&journal_path)]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let r = revoke(&sim, &other, &["--rule", "full-access", "--journal", s(&journal_path)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("belongs to another scan"), "{}", r.stderr);
    // An edited journal (a failure made a success) is refused, by revoke and by report.
    let edited = dir.path().join("edited.jsonl");
    let text = std::fs::read_to_string(&journal_path).unwrap();
    std::fs::write(&edited, text.replacen("\"outcome\":\"done\"", "\"outcome\":\"failed\"", 1)).unwrap();
    let r = revoke(&sim, &path, &["--rule", "full-access", "--journal", s(&edited)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("chain value does not match"), "{}", r.stderr);
    let r = run(&["report", "--journal", s(&journal_path), "--fail-on", "high"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--fail-on applies to scans"), "{}", r.stderr);
    let r = run(&["report", "--journal", s(&edited)], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("was edited or damaged"), "{}", r.stderr);
    let posts = sim.sim().stats().revocation_posts.load(Ordering::SeqCst);
    assert!(posts > 0);
    // A redacted scan names owners by pseudonyms: nothing can be acted on.
    let redacted = dir.path().join("redacted.json");
    let r = run(
        &["report", s(&path), "-o", "json", "--redact", "--out", s(&redacted)],
        &[("PAT2ENTRA_REDACT_KEY", "a-test-key-of-enough-length")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = revoke(&sim, &redacted, &["--rule", "full-access"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is redacted"), "{}", r.stderr);
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), posts);
}

#[test]
fn no_secret_reaches_stdout_stderr_the_journal_or_trace_logs() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), leak_secret_fields: true, ..sim_config() });
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    use base64::Engine as _;
    let mut secrets = vec![PAT.to_string(), base64::engine::general_purpose::STANDARD.encode(format!(":{PAT}"))];
    secrets.extend(seeded(&sim, &record).into_iter().map(|(_, t)| t.secret));
    let base = sim.base_url();
    let env = [("AZURE_DEVOPS_EXT_PAT", PAT), ("RUST_LOG", "trace")];
    let args = ["revoke", s(&path), "--org", "fabrikam", "--base-url", &base, "--rule", "full-access"];
    let mut runs = vec![run(&args, &env)];
    let mut execute = args.to_vec();
    execute.extend(["--execute", "--yes", "--batch-size", "2"]);
    runs.push(run(&execute, &env));
    // A refused credential.
    runs.push(run(
        &[&args[..], &["--id", "x"]].concat(),
        &[("AZURE_DEVOPS_EXT_PAT", "wrong-pat-3141592653"), ("RUST_LOG", "trace")],
    ));
    let mut wrong = execute.clone();
    wrong.retain(|a| *a != "--rule" && *a != "full-access");
    wrong.extend(["--min-severity", "critical"]);
    let refused = run(&wrong, &[("AZURE_DEVOPS_EXT_PAT", "wrong-pat-3141592653"), ("RUST_LOG", "trace")]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(!refused.stderr.contains("wrong-pat-3141592653"));
    runs.push(refused);
    assert_eq!(runs[1].code, 0, "{}", runs[1].stderr);
    let journal = std::fs::read_to_string(dir.path().join("scan.revoke-journal.jsonl")).unwrap();
    for secret in &secrets {
        for (i, r) in runs.iter().enumerate() {
            assert!(!r.stdout.contains(secret.as_str()), "run {i}: stdout holds a secret");
            assert!(!r.stderr.contains(secret.as_str()), "run {i}: stderr holds a secret");
        }
        assert!(!journal.contains(secret.as_str()), "the journal holds a secret");
    }
    assert!(runs[1].stderr.contains("TRACE") || runs[1].stderr.contains("DEBUG"), "trace logs were written");
    // The journal's report in every format.
    for format in ["table", "csv", "markdown", "html", "json"] {
        let r = run(&["report", "--journal", s(&dir.path().join("scan.revoke-journal.jsonl")), "-o", format], &[]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        for secret in &secrets {
            assert!(!r.stdout.contains(secret.as_str()), "{format} report holds a secret");
        }
    }
}

/// A second run on a journal in use is refused (the first holds its lock).
#[cfg(unix)]
#[test]
fn one_run_at_a_time_writes_a_journal() {
    use std::os::fd::AsRawFd;
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = scan(&sim, dir.path(), "scan.json");
    let lock = std::fs::File::create(dir.path().join("scan.revoke-journal.jsonl.lock")).unwrap();
    // SAFETY: flock on a descriptor `lock` owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let r = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is in use by another pat2entra revoke"), "{}", r.stderr);
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), 0);
    // A dry run only reads.
    assert_eq!(revoke(&sim, &path, &["--rule", "full-access"]).code, 0);
    drop(lock);
    let r = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn the_journal_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = scan(&sim, dir.path(), "scan.json");
    let r = revoke(&sim, &path, &["--rule", "full-access", "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mode = std::fs::metadata(dir.path().join("scan.revoke-journal.jsonl")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn selectors_combine_and_suppressed_findings_never_choose() {
    use common::{RecordBuilder, TokenBuilder, owner};
    use pat2entra::rules::RuleSet;
    use pat2entra::selection::{SelectError, Selectors, select};
    let rules = RuleSet::parse(
        "extends = \"default\"\n[[exception]]\nrule = \"full-access\"\nauthorization_id = \"t2\"\nreason = \"accepted\"\nticket = \"SEC-1\"\nexpires = 2099-01-01\n",
        "r.toml",
    )
    .unwrap();
    let record = RecordBuilder::new()
        .owners(vec![owner("aad.a", "a@contoso.com", "A"), owner("aad.b", "b@contoso.com", "B")])
        .tokens(vec![
            TokenBuilder::new("t1", "aad.a").scopes(&["app_token"]).build(),
            TokenBuilder::new("t2", "aad.a").scopes(&["app_token"]).build(),
            TokenBuilder::new("t3", "aad.b").scopes(&["app_token"]).build(),
            TokenBuilder::new("t4", "aad.b").scopes(&["vso.code"]).build(),
            TokenBuilder::new("t5", "aad.b").scopes(&["app_token"]).revoked().build(),
        ])
        .rules(rules)
        .build();
    let chosen = |selectors: Selectors| -> Vec<String> {
        select(&record, &selectors).unwrap().chosen.into_iter().map(|c| c.authorization_id).collect()
    };
    let rule = || vec!["full-access".to_string()];
    assert_eq!(chosen(Selectors { rules: rule(), ..Default::default() }), ["t1", "t3"], "t2's is suppressed");
    assert_eq!(
        chosen(Selectors { min_severity: Some(pat2entra::finding::Severity::High), ..Default::default() }),
        ["t1", "t3"]
    );
    assert_eq!(chosen(Selectors { waves: vec!["next".into()], ..Default::default() }), ["t1", "t3"]);
    assert_eq!(
        chosen(Selectors { rules: rule(), owners: vec!["B@contoso.com".into()], ..Default::default() }),
        ["t3"],
        "selectors combine"
    );
    assert_eq!(chosen(Selectors { owners: vec!["aad.b".into()], ..Default::default() }), ["t3", "t4"], "t5 is revoked");
    assert_eq!(chosen(Selectors { ids: vec!["T2".into(), "t4".into()], ..Default::default() }), ["t2", "t4"]);
    assert!(
        chosen(Selectors { kind: Some(pat2entra_core::evidence::CredentialKind::Ssh), ..Default::default() })
            .is_empty()
    );
    let revoked = select(&record, &Selectors { ids: vec!["t5".into()], ..Default::default() }).unwrap();
    assert!(revoked.chosen.is_empty());
    assert!(revoked.notes[0].contains("already revoked in the scan"), "{:?}", revoked.notes);
    assert_eq!(select(&record, &Selectors::default()).unwrap_err(), SelectError::NoSelector);
}

#[test]
fn ssh_keys_are_revoked_with_is_public_true() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    // The seed's SSH keys of the owners listed, as the scan reads them (`--evidence` reads ssh).
    let org = sim.sim().org();
    let now = chrono::Utc::now();
    let mut keys = BTreeSet::new();
    for owner in record["owners"].as_array().unwrap() {
        let descriptor = owner["descriptor"].as_str().unwrap();
        let i = org.user_index(descriptor).unwrap();
        keys.extend(
            org.ssh_keys_of(i)
                .into_iter()
                .filter(|k| k.is_valid && k.valid_to > as_of() && k.valid_to > now)
                .map(|k| k.authorization_id),
        );
    }
    assert!(!keys.is_empty(), "the seed has SSH keys");
    let in_scan = record["tokens"].as_array().unwrap().iter().filter(|t| t["kind"] == "ssh").count();
    assert!(in_scan >= keys.len(), "the scan read the SSH keys");
    let r = revoke(&sim, &path, &["--kind", "ssh", "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sim.sim().revocations_by_id().keys().cloned().collect::<BTreeSet<_>>(), keys);
    // A later scan lists them as revoked; no PAT was touched.
    let (_, after) = scan(&sim, dir.path(), "after.json");
    let (was, now) = (is_valid(&record), is_valid(&after));
    for (id, valid) in &now {
        let want = if keys.contains(id) { false } else { was[id] };
        assert_eq!(*valid, want, "{id}");
    }
}

/// On a terminal, `--execute` asks for the count: a wrong answer revokes nothing, the count
/// revokes. The terminal is a real pseudo-terminal (stdin and stderr of the child).
#[cfg(unix)]
#[test]
fn on_a_terminal_the_typed_count_confirms() {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let chosen = full_access(&sim, &record);
    let base = sim.base_url();
    let confirm = |answer: &str| -> (i32, String) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors it opened; no name, settings or size given.
        let opened =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(opened, 0, "a pseudo-terminal");
        // SAFETY: both descriptors were just opened by openpty and are owned here alone.
        let (master, slave) = unsafe { (std::fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pat2entra"));
        cmd.args(["revoke", s(&path), "--org", "fabrikam", "--base-url", &base, "--rule", "full-access", "--execute"])
            .env("PATH", common::path_without_clis(None))
            .env("AZURE_DEVOPS_EXT_PAT", PAT)
            .env("NO_COLOR", "1")
            .stdin(slave.try_clone().unwrap())
            .stderr(slave)
            .stdout(std::process::Stdio::null());
        for name in common::SIGN_IN_VARIABLES.iter().filter(|n| **n != "AZURE_DEVOPS_EXT_PAT") {
            cmd.env_remove(name);
        }
        let mut child = cmd.spawn().unwrap();
        drop(cmd); // the parent's copies of the terminal's descriptors
        let mut master = master;
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("to confirm: ") {
            let n = master.read(&mut chunk).unwrap();
            assert!(n > 0, "the prompt: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
        master.write_all(format!("{answer}\n").as_bytes()).unwrap();
        // Read on until the child closes the terminal (EIO), so it never blocks on a full one.
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&chunk[..n]);
        }
        (child.wait().unwrap().code().unwrap_or(-1), String::from_utf8_lossy(&seen).into_owned())
    };
    let (code, terminal) = confirm("yes");
    assert_eq!(code, 2, "{terminal}");
    assert!(terminal.contains(&format!("Type {} to confirm", chosen.len())), "{terminal}");
    assert!(terminal.contains("not confirmed"), "{terminal}");
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), 0);
    let (code, terminal) = confirm(&chosen.len().to_string());
    assert_eq!(code, 0, "{terminal}");
    assert!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst) > 0);
}

/// An owner Token Admin no longer knows (404, as for one removed from the organization) leaves
/// nothing to revoke: skipped with the reason, not failed (a rerun would not change it). An
/// owner whose listing fails is not revoked blind: failed, for a rerun.
#[test]
fn owners_that_cannot_be_listed_again_are_not_revoked_blind() {
    let config = || SimConfig { accepted_pat: Some(PAT.into()), removed_owners_not_found: true, ..sim_config() };
    let sim = TestSim::start(config());
    let org = sim.sim().org();
    let dir = tempfile::tempdir().unwrap();
    let (path, mut record) = scan(&sim, dir.path(), "scan.json");
    let listed = |i: usize| {
        let d = org.user(i).unwrap().descriptor;
        record["owners"].as_array().unwrap().iter().any(|o| o["descriptor"] == d.as_str())
    };
    let gone = (0..org.user_count())
        .find(|i| {
            !org.is_member(*i)
                && org.tokens_of(*i).is_empty()
                && org.user(*i).unwrap().subject_type() != "svc"
                && listed(*i)
        })
        .map(|i| org.user(i).unwrap().descriptor)
        .expect("a removed owner without PATs");
    // A PAT of an owner who fails to list, and one the scan saw under the removed owner (before
    // the removal).
    let (failing, failing_id) = seeded(&sim, &record)
        .into_iter()
        .find(|(_, t)| active(t) && t.public_data.is_none() && t.valid_to > chrono::Utc::now())
        .map(|(o, t)| (o, t.authorization_id))
        .unwrap();
    let mut ghost = record["tokens"].as_array().unwrap().iter().find(|t| t["kind"] != "ssh").unwrap().clone();
    ghost["authorization_id"] = "0000dead-0000-4000-8000-000000000001".into();
    ghost["owner"] = gone.clone().into();
    ghost["is_valid"] = true.into();
    ghost["valid_to"] = "2099-01-01T00:00:00Z".into();
    record["tokens"].as_array_mut().unwrap().push(ghost);
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
    drop(sim);
    // The same organization, where the first owner's listing now fails.
    let sim = TestSim::start(SimConfig {
        faults: pat2entra::sim::Faults { failing_owners: [failing].into(), ..Default::default() },
        ..config()
    });
    let r = revoke(
        &sim,
        &path,
        &["--id", "0000dead-0000-4000-8000-000000000001", "--id", &failing_id, "--execute", "--yes"],
    );
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("revoked 0, skipped 1, failed 1"), "{}", r.stdout);
    assert!(r.stderr.contains("no longer known to Token Admin"), "{}", r.stderr);
    assert!(r.stderr.contains("could not list the owner's credentials again, so not revoked"), "{}", r.stderr);
    assert_eq!(sim.sim().stats().revocation_posts.load(Ordering::SeqCst), 0);
}

/// The signed-in identity's own credentials are revoked last: when the PAT in use is the last of
/// them, everything else is revoked before it stops working.
#[test]
fn the_signed_in_identitys_own_credentials_go_last() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let (path, record) = scan(&sim, dir.path(), "scan.json");
    let expected = unexpired(&sim, &record, &pats(&sim, &record));
    let admin = sim.sim().administrator().unwrap().descriptor;
    let mut own: Vec<(String, String)> = seeded(&sim, &record)
        .into_iter()
        .filter(|(o, t)| *o == admin && expected.contains(&t.authorization_id))
        .map(|(_, t)| (t.display_name.unwrap_or_default(), t.authorization_id))
        .collect();
    own.sort();
    let (_, in_use) = own.last().expect("the signed-in identity owns PATs").clone();
    sim.sim().bind_pat(&in_use);
    let r = revoke(&sim, &path, &["--kind", "pat", "--execute", "--yes", "--batch-size", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("belong to the signed-in identity; they are revoked last"), "{}", r.stderr);
    assert_eq!(sim.sim().revocations_by_id().keys().cloned().collect::<BTreeSet<_>>(), expected);
    // Its PAT was revoked: it no longer signs in.
    let again = revoke(&sim, &path, &["--owner", &admin, "--execute", "--yes"]);
    assert_eq!(again.code, 0, "nothing left to do needs no sign-in: {}", again.stderr);
}
