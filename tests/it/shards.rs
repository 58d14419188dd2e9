//! Shards and merge end to end: the binary scans the simulator whole and in parts
//! (`scan --shard I/N`), `merge` recombines the parts, and the merged record must be the
//! unsharded one: both are produced by running the binary, never written by the test.

use crate::common;

use common::{TestSim, read_json, run, sim_config};
use pat2entra::sim::{Behaviour, Faults, SimConfig};
use pat2entra_core::evidence::Source;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PAT: &str = "shards-pat-2718";

fn sim(config: SimConfig) -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..config })
}

/// Runs `scan` against the simulator into `out` (JSON) and returns the exit code and stderr.
fn scan(sim: &TestSim, out: &Path, extra: &[&str]) -> (i32, String) {
    let base = sim.base_url();
    let org = sim.sim().config().organization.clone();
    let out = out.to_str().unwrap();
    let mut args = vec!["scan", "--org", &org, "--base-url", &base, "-q", "-o", "json", "--out", out];
    args.extend_from_slice(extra);
    let run = run(&args, &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    (run.code, run.stderr)
}

fn merge(parts: &[&Path], out: &Path, extra: &[&str]) -> common::Run {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    run(&args, &[])
}

/// Scans whole and in `count` parts with the same arguments; returns the whole record's path
/// and the parts' paths.
fn whole_and_parts(sim: &TestSim, dir: &Path, count: u32, extra: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let whole = dir.join("whole.json");
    let mut args = vec!["--as-of", "2026-11-26"];
    args.extend_from_slice(extra);
    let (code, stderr) = scan(sim, &whole, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    let parts: Vec<PathBuf> = (1..=count)
        .map(|i| {
            let path = dir.join(format!("part{i}.json"));
            let shard = format!("{i}/{count}");
            let mut args = args.clone();
            args.extend(["--shard", shard.as_str()]);
            let (code, stderr) = scan(sim, &path, &args);
            assert_eq!(code, 0, "part {shard}: {stderr}");
            path
        })
        .collect();
    (whole, parts)
}

/// The record with the example error of a partly read per-owner source (`…, first: GET …
/// answered HTTP 500`) cut off: a scan quotes whichever owner failed first in time, which is
/// not the same from run to run, sharded or not. The only part of a record that may differ.
fn without_example_errors(mut record: Value) -> Value {
    if let Some(sources) = record["evidence"]["sources"].as_object_mut() {
        for source in sources.values_mut() {
            if let Some(reason) = source["reason"].as_str()
                && let Some(at) = reason.find(", first: ")
            {
                source["reason"] = Value::String(reason[..at].to_string());
            }
        }
    }
    record
}

fn ids(record: &Value, key: &str, field: &str) -> Vec<String> {
    record[key].as_array().unwrap().iter().map(|t| t[field].as_str().unwrap().to_string()).collect()
}

#[test]
fn three_owner_parts_merge_into_the_unsharded_scan() {
    // All evidence sources read in full; then with per-owner sources refused (their coverage
    // lines must add up over the parts just the same).
    let denied = SimConfig { deny: [Source::Ssh, Source::Membership].into_iter().collect(), ..sim_config() };
    // Two owners whose tokens cannot be read (gaps, in two parts or one), owners removed from
    // the organization answering 404, and a Token Admin that leaves targetAccounts empty (the
    // service readings each part infers from its own tokens must recombine).
    let probe = TestSim::start(sim_config());
    let broken: Vec<String> = [3, 10].iter().map(|i| probe.sim().org().user(*i).unwrap().descriptor.clone()).collect();
    drop(probe);
    let degraded = SimConfig {
        faults: Faults { failing_owners: broken.into_iter().collect(), ..Faults::default() },
        removed_owners_not_found: true,
        behaviour: Behaviour { fills_target_accounts: false, ..Behaviour::default() },
        ..sim_config()
    };
    let cases = [
        (sim_config(), vec!["--evidence", "+policies"]),
        (denied, vec![]),
        (degraded, vec!["--max-retries", "0", "--allow-partial"]),
    ];
    for (config, extra) in cases {
        let sim = sim(config);
        let dir = tempfile::tempdir().unwrap();
        let (whole, parts) = whole_and_parts(&sim, dir.path(), 3, &extra);
        let whole = read_json(&whole);
        let records: Vec<Value> = parts.iter().map(|p| read_json(p)).collect();

        // Each part: every owner listed, only its own scanned, and no gap for the others.
        let owners = whole["owners"].as_array().unwrap().len();
        let gaps = whole["coverage"]["owners_failed"].as_array().unwrap().len();
        let mut seen_tokens = BTreeSet::new();
        for (i, part) in records.iter().enumerate() {
            let coverage = &part["coverage"];
            let failed = coverage["owners_failed"].as_array().unwrap().len();
            assert_eq!(coverage["complete"], failed == 0, "part {}: {coverage}", i + 1);
            assert_eq!(coverage["owners_listed"].as_u64(), Some(owners as u64));
            let others = coverage["part"]["owners_in_other_parts"].as_u64().unwrap();
            let scanned = coverage["owners_scanned"].as_u64().unwrap();
            assert_eq!(scanned + failed as u64 + others, owners as u64);
            assert!(others > 0 && others < owners as u64, "part {} holds some owners: {others}", i + 1);
            assert_eq!(part["shard"]["index"].as_u64(), Some(i as u64 + 1));
            assert_eq!(part["shard"]["by"], "owners");
            assert_eq!(part["shard"]["scan_id"], records[0]["shard"]["scan_id"]);
            assert_eq!(crate::reports::schema_errors(part), Vec::<String>::new(), "part {}", i + 1);
            let table = run(&["report", parts[i].to_str().unwrap()], &[]);
            let says = format!("{others} in other parts (part {}/3 of a sharded scan)", i + 1);
            assert!(table.stdout.contains(&says), "{}", table.stdout);
            for id in ids(part, "tokens", "authorization_id") {
                assert!(seen_tokens.insert(id.clone()), "token {id} in two parts");
            }
        }
        let whole_tokens: BTreeSet<String> = ids(&whole, "tokens", "authorization_id").into_iter().collect();
        assert_eq!(seen_tokens, whole_tokens, "the parts hold every token once");

        // Merged, in any order of the parts: the unsharded record, field for field.
        let merged = dir.path().join("merged.json");
        let order = [parts[2].as_path(), parts[0].as_path(), parts[1].as_path()];
        let out = merge(&order, &merged, &[]);
        assert_eq!(out.code, if gaps == 0 { 0 } else { 4 }, "{}", out.stderr);
        let (merged, whole) = (without_example_errors(read_json(&merged)), without_example_errors(whole));
        for key in ["owners", "tokens", "coverage", "evidence", "service", "summary", "findings", "usage", "guidance"] {
            assert_eq!(merged[key], whole[key], "{key} differs ({extra:?})");
        }
        assert_eq!(merged, whole, "the whole record");
        assert!(merged.get("shard").is_none());

        // Every report works on it.
        for format in ["table", "html"] {
            let report = run(&["report", dir.path().join("merged.json").to_str().unwrap(), "-o", format], &[]);
            assert_eq!(report.code, if gaps == 0 { 0 } else { 4 }, "{format}: {}", report.stderr);
        }
    }
}

#[test]
fn merge_refuses_a_missing_a_duplicate_and_a_foreign_part() {
    let sim = sim(sim_config());
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = whole_and_parts(&sim, dir.path(), 3, &["--evidence", "none"]);
    let args = ["--as-of", "2026-11-26", "--evidence", "none"];
    let out = dir.path().join("merged.json");
    let p = |i: usize| parts[i].as_path();
    let refused = |given: &[&Path], extra: &[&str], expected: &str| {
        let run = merge(given, &out, extra);
        assert_eq!(run.code, 2, "{expected}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "expected {expected:?} in {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert!(!out.exists(), "nothing written");
    };
    refused(&[p(0), p(2)], &[], "merge: part 2 of 3 missing (2 given): merge needs every part");
    refused(&[p(1)], &[], "parts 1, 3 of 3 missing (1 given)");
    refused(&[p(0), p(1), p(2), p(1)], &[], "are both part 2/3; give each part once");
    refused(&[p(0), p(1), p(2), whole.as_path()], &[], "is not a part of a sharded scan");

    // A part of another scan: another number of parts, another --as-of.
    let halves = dir.path().join("half1.json");
    let (code, stderr) = scan(&sim, &halves, &[&args[..], &["--shard", "1/2"]].concat());
    assert_eq!(code, 0, "{stderr}");
    refused(&[&halves, p(1), p(2)], &[], "are parts of different scans");
    let later = dir.path().join("later1.json");
    let (code, stderr) = scan(&sim, &later, &["--as-of", "2026-11-27", "--evidence", "none", "--shard", "1/3"]);
    assert_eq!(code, 0, "{stderr}");
    refused(&[&later, p(1), p(2)], &[], "are parts of different scans");

    // Other rules than the scan's.
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "extends = \"default\"\n").unwrap();
    refused(&[p(0), p(1), p(2)], &["--rules", rules.to_str().unwrap()], "were scanned with other rules");

    // An existing output is kept unless --force.
    let run = merge(&[p(0), p(1), p(2)], &out, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = merge(&[p(0), p(1), p(2)], &out, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("exists; pass --force to replace it"), "{}", run.stderr);
    let run = merge(&[p(0), p(1), p(2)], &out, &["--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read_json(&out), read_json(&whole));
    let run = merge(&[p(0), p(1), p(2)], p(0), &["--force"]);
    assert!(run.stderr.contains("is one of the parts"), "{}", run.stderr);
}

#[test]
fn a_shard_needs_one_as_of_for_every_part_and_a_valid_index() {
    let sim = sim(sim_config());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("part.json");
    let (code, stderr) = scan(&sim, &out, &["--shard", "1/3"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--shard 1/3 needs --as-of DATE, the same in every part"), "{stderr}");
    for bad in ["0/3", "4/3", "3"] {
        let (code, stderr) = scan(&sim, &out, &["--as-of", "2026-11-26", "--shard", bad]);
        assert_eq!(code, 2);
        assert!(stderr.contains("is not a shard: expected I/N with 1 <= I <= N"), "{stderr}");
    }
    assert!(!out.exists());
}

#[test]
fn a_part_keeps_its_own_checkpoint() {
    // One owner of part 1 cannot be read: part 1 is incomplete and keeps its checkpoint.
    let probe = TestSim::start(sim_config());
    let org = probe.sim().org();
    let broken = (0..60)
        .filter_map(|i| org.user(i).map(|u| u.descriptor.clone()))
        .find(|d| pat2entra_core::shard::shard_of_owner(d, 3) == 1)
        .expect("an owner of part 1");
    drop(probe);
    let sim = sim(SimConfig {
        faults: Faults { failing_owners: [broken.clone()].into(), ..Faults::default() },
        ..sim_config()
    });
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("scan.checkpoint");
    let checkpoint = checkpoint.to_str().unwrap();
    let args = ["--as-of", "2026-11-26", "--evidence", "none", "--max-retries", "0", "--checkpoint", checkpoint];
    let (code, stderr) = scan(&sim, &dir.path().join("part1.json"), &[&args[..], &["--shard", "1/3"]].concat());
    assert_eq!(code, 4, "{stderr}");
    let part = read_json(&dir.path().join("part1.json"));
    assert_eq!(part["coverage"]["owners_failed"][0]["descriptor"], broken.as_str());
    assert!(Path::new(checkpoint).exists(), "an incomplete part keeps its checkpoint");
    // Another part refuses it rather than resume (or delete) part 1's.
    let (code, stderr) = scan(&sim, &dir.path().join("part2.json"), &[&args[..], &["--shard", "2/3"]].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("belongs to organization 'fabrikam (part 1/3)', not 'fabrikam (part 2/3)'"), "{stderr}");
    assert!(Path::new(checkpoint).exists());
}
