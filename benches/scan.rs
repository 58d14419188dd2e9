//! Scan throughput against the simulator (in the same process), over real HTTP on loopback.
//!
//!     cargo bench --bench scan
//!
//! Environment (optional): PAT2ENTRA_BENCH_USERS (default "20000,100000"),
//! PAT2ENTRA_BENCH_CONCURRENCY (default "8,32,64"), PAT2ENTRA_BENCH_LATENCY_MS (default 20).
//! Each configuration runs in its own process, so peak memory (VmHWM) is its own. For each: wall
//! time, requests, requests/s, the ideal bound (requests x latency / concurrency), the ratio to
//! it, and peak RSS. Concurrency 1 is left out of the default (20,000 users at 20 ms take about
//! 7 minutes, 100,000 about 35); add it with PAT2ENTRA_BENCH_CONCURRENCY=1,8,32,64.

use chrono::{TimeZone, Utc};
use pat2entra::ado::{AdoClient, ClientOptions, Credential, Endpoints, OrgRef};
use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
use pat2entra::scan::{ScanOptions, scan};
use pat2entra::secret::Secret;
use pat2entra::sim::{self, SimConfig};
use std::process::Command;
use std::time::{Duration, Instant};

fn list(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var).unwrap_or_else(|_| default.into()).split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if let [mode, users, concurrency, latency] = args.as_slice()
        && mode == "one"
    {
        one(users.parse().unwrap(), concurrency.parse().unwrap(), latency.parse().unwrap());
        return;
    }
    let latency: u64 = std::env::var("PAT2ENTRA_BENCH_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    println!(
        "| users | concurrency | requests | wall (s) | requests/s | ideal (s) | wall / ideal | tokens | findings | peak RSS (MB) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for users in list("PAT2ENTRA_BENCH_USERS", "20000,100000") {
        for concurrency in list("PAT2ENTRA_BENCH_CONCURRENCY", "8,32,64") {
            let exe = std::env::current_exe().unwrap();
            let out = Command::new(exe)
                .args(["one", &users.to_string(), &concurrency.to_string(), &latency.to_string()])
                .output()
                .unwrap();
            print!("{}", String::from_utf8_lossy(&out.stdout));
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

fn one(users: usize, concurrency: usize, latency_ms: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let latency = Duration::from_millis(latency_ms);
        let config = SimConfig { users, anchor: as_of, latency, ..SimConfig::default() };
        let handle = sim::start(config, 0).await.unwrap();
        if std::env::var_os("PAT2ENTRA_BENCH_DEBUG").is_some() {
            eprintln!("peak RSS with the simulator started {:.0} MB", peak_rss_mb());
        }
        let client = AdoClient::new(
            Endpoints::single_base(&handle.base_url()).unwrap(),
            OrgRef::parse("fabrikam").unwrap(),
            Credential::Pat(Secret::new("bench")),
            ClientOptions::default(),
        )
        .unwrap();
        let options = ScanOptions { concurrency, ..ScanOptions::default() };
        let start = Instant::now();
        let inventory = scan(&client, &options, &|_| {}).await.unwrap();
        let wall = start.elapsed().as_secs_f64();
        assert!(inventory.coverage.complete);
        let tokens = inventory.tokens.len();
        let after_scan = peak_rss_mb();
        let record = ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of);
        if std::env::var_os("PAT2ENTRA_BENCH_DEBUG").is_some() {
            eprintln!("peak RSS after the scan {after_scan:.0} MB, after judging {:.0} MB", peak_rss_mb());
        }
        let requests = handle.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
        let ideal = requests as f64 * latency.as_secs_f64() / concurrency as f64;
        println!(
            "| {users} | {concurrency} | {requests} | {wall:.1} | {:.0} | {ideal:.1} | {:.2} | {tokens} | {} | {:.0} |",
            requests as f64 / wall,
            wall / ideal,
            record.findings.len(),
            peak_rss_mb()
        );
    });
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}
