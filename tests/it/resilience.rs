//! Resilience: faults, sustained throttling and resuming from a checkpoint change nothing in the
//! result, and the client never ignores the service's Retry-After.

use crate::common;

use common::{TestSim, scan_json, sim_config};
use pat2entra::sim::{Faults, RateLimit, SimConfig};
use std::process::{Command, Stdio};
use std::time::Duration;

const PAT: &str = "resilience-pat";

fn sim(config: SimConfig) -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), users: 150, ..config })
}

#[test]
fn faults_are_retried_and_the_inventory_equals_a_fault_free_scan() {
    let clean = sim(sim_config());
    let (_, expected) = scan_json(&clean, &["--concurrency", "16"], PAT);
    let faulty = sim(SimConfig {
        faults: Faults {
            throttle_rate: 0.05,
            unavailable_rate: 0.03,
            reset_rate: 0.01,
            truncate_rate: 0.01,
            retry_after: Duration::from_millis(200),
            slow_body_rate: 0.02,
            slow_body: Duration::from_millis(100),
            ..Faults::default()
        },
        ..sim_config()
    });
    let (run, record) = scan_json(&faulty, &["--concurrency", "16"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(record["tokens"], expected["tokens"]);
    assert_eq!(record["findings"], expected["findings"]);
    assert_eq!(record["coverage"]["complete"], true);
    let injected = faulty.sim().stats().faults_injected.load(std::sync::atomic::Ordering::Relaxed);
    assert!(injected > 5, "{injected} faults injected");
    // The run shows its retries.
    let summary = run.stderr.lines().find(|l| l.starts_with("scan: ")).expect("a summary line");
    let retried: u64 = summary.split(", ").find_map(|p| p.strip_suffix(" retried")).unwrap().parse().unwrap();
    assert!(retried > 0, "{summary}");
}

#[test]
fn under_sustained_throttling_the_client_never_ignores_retry_after() {
    let sim = sim(SimConfig {
        rate_limit: Some(RateLimit {
            budget: 80,
            window: Duration::from_secs(5),
            delay_from: 0.5,
            delay: Duration::from_millis(20),
            grace: Duration::from_millis(150),
        }),
        ..sim_config()
    });
    // Delays start at 40 requests in 5 s: the scan's first burst (after Graph's one listing page,
    // 64 owners, User Entitlements and the audit log at once) meets them before any answer could
    // slow it down, even on a loaded machine where opening 64 connections takes a while (with a
    // 1 s window the burst sometimes spread past it).
    let (run, record) = scan_json(&sim, &["--concurrency", "64"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(record["coverage"]["complete"], true);
    assert_eq!(common::record_ids(&record), common::expected_ids(sim.sim()));
    let (blocked, delayed, violations) = sim.sim().throttling();
    // The client slows down as X-RateLimit-Remaining declines, so it is delayed but seldom (if
    // ever) blocked; whatever 429s come are waited out.
    assert!(delayed > 0, "the scan met the rate limit: {blocked} blocked, {delayed} delayed");
    assert_eq!(violations, 0, "requests sent while told to wait");
    assert!(run.stderr.contains("throttled"), "{}", run.stderr);
}

#[test]
fn a_scan_killed_midway_resumes_from_its_checkpoint_to_the_same_result() {
    let sim = sim(SimConfig { users: 400, latency: Duration::from_millis(5), ..sim_config() });
    let (_, uninterrupted) = scan_json(&sim, &["--concurrency", "4"], PAT);

    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("scan.checkpoint");
    let base = sim.base_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pat2entra"))
        .args(["scan", "--org", "fabrikam", "--base-url", &base, "--concurrency", "4", "-q", "-o", "json"])
        .args(["--checkpoint", checkpoint.to_str().unwrap(), "--as-of", "2026-11-26", "--auth", "pat"])
        .env_remove("AZURE_DEVOPS_EXT_PAT")
        .env("AZURE_DEVOPS_EXT_PAT", PAT)
        .env("PATH", common::path_without_clis(None))
        // One log line per owner written to the checkpoint (after its flush).
        .env("RUST_LOG", "pat2entra_ado::scan::checkpoint=trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it finish some owners, then kill it: read its log until the 60th owner is recorded
    // (or it ends).
    let log = std::io::BufReader::new(child.stderr.take().unwrap());
    let recorded = std::io::BufRead::lines(log)
        .map_while(Result::ok)
        .filter(|line| line.contains("owner recorded in the checkpoint"))
        .take(60)
        .count();
    assert_eq!(recorded, 60, "the scan recorded owners in its checkpoint");
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = std::fs::read_to_string(&checkpoint).unwrap().lines().count() - 1;
    assert!(finished > 0 && finished < 400, "killed midway: {finished} owners finished");

    let requests_before = sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed);
    let (run, resumed) = scan_json(&sim, &["--concurrency", "4", "--checkpoint", checkpoint.to_str().unwrap()], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("resuming:"), "{}", run.stderr);
    let requests = sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed) - requests_before;
    assert!((requests as usize) < 400, "the resumed run skipped finished owners ({requests} token requests)");
    assert_eq!(resumed["tokens"], uninterrupted["tokens"]);
    assert_eq!(resumed["findings"], uninterrupted["findings"]);
    assert_eq!(resumed["coverage"], uninterrupted["coverage"]);
    assert!(!checkpoint.exists(), "a completed scan removes its checkpoint");
}

#[test]
#[cfg(target_os = "linux")]
fn a_failed_write_keeps_the_checkpoint_so_nothing_is_scanned_twice() {
    let sim = sim(sim_config());
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("scan.checkpoint");
    let base = sim.base_url();
    // A device that accepts the file but fails every write (the disk filled during the scan).
    let unwritable = "/dev/full";
    let r = common::run(
        &[
            "scan",
            "--org",
            "fabrikam",
            "--base-url",
            &base,
            "--auth",
            "pat",
            "--as-of",
            "2026-11-26",
            "-q",
            "-o",
            "json",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--out",
            unwritable,
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot write"), "{}", r.stderr);
    assert!(checkpoint.exists(), "the scan's work survives a failed write");
    let before = sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed);
    let (run, record) = scan_json(&sim, &["--checkpoint", checkpoint.to_str().unwrap()], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sim.sim().stats().token_pages.load(std::sync::atomic::Ordering::Relaxed), before, "nothing asked again");
    assert_eq!(record["coverage"]["complete"], true);
    assert!(!checkpoint.exists());
}

#[test]
fn being_told_to_wait_is_not_a_failure() {
    // Half the requests are answered 429 with a short Retry-After; with no retries allowed at
    // all, every owner is still read: waiting spends neither --max-retries nor the budget.
    let sim = sim(SimConfig {
        users: 60,
        faults: Faults { throttle_rate: 0.5, retry_after: Duration::from_millis(10), ..Faults::default() },
        ..sim_config()
    });
    let (run, record) = scan_json(&sim, &["--max-retries", "0"], PAT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(record["coverage"]["complete"], true);
    assert!(sim.sim().stats().faults_injected.load(std::sync::atomic::Ordering::Relaxed) > 10);
}
