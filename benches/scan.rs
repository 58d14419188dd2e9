//! Scan throughput against the simulator (in a process of its own), over real HTTP on loopback.
//!
//!     cargo bench --bench scan
//!
//! Environment (optional): PAT2ENTRA_BENCH_USERS (default "20000,100000"),
//! PAT2ENTRA_BENCH_CONCURRENCY (default "8,32,64"), PAT2ENTRA_BENCH_LATENCY_MS (default 20).
//! Each configuration runs in its own process, and the simulator in another one, so peak memory
//! (VmHWM) and CPU time are the scanner's own (the simulator's hyper server and its generated
//! organization would otherwise count as the scanner's). For each: wall
//! time, requests, requests/s, the ideal bound (requests x latency / concurrency), the ratio to
//! it, and peak RSS. Concurrency 1 is left out of the default (20,000 users at 20 ms take about
//! 7 minutes, 100,000 about 35); add it with PAT2ENTRA_BENCH_CONCURRENCY=1,8,32,64.
//!
//! Against the least a client can do:
//!
//!     cargo bench --bench scan -- compare          # 20,000 users; PAT2ENTRA_BENCH_USERS=100000 for more
//!
//! starts one simulator process and runs against it, each in a process of its own, a bare
//! reference client (`reference` below: lists Graph users and pages Token Admin per user at the
//! same concurrency with reqwest and tokio, keeping only counts) and then the real binary
//! (`pat2entra scan -o json --out`, no evidence). It prints both wall times, their ratio, the
//! user + system CPU per 1,000 requests and the peak RSS of each (`wait4`'s rusage of the child),
//! and the load average, since the cores may be shared. Concurrency 64 and 20 ms latency by
//! default (PAT2ENTRA_BENCH_CONCURRENCY, PAT2ENTRA_BENCH_LATENCY_MS).
//!
//! PAT2ENTRA_BENCH_EVIDENCE (default "none"; "none,default" to compare) chooses the evidence
//! sources: `none` (a bare inventory, the table above) and `default` (`scan`'s default
//! `entitlements,membership,audit,ssh`). With both, a second table shows what evidence costs:
//! requests per owner and the wall and CPU time it adds to the bare scan of the same size.

mod measure;

use chrono::{TimeZone, Utc};
use measure::{load_average, measure};
use pat2entra::ado::{AdoClient, ClientOptions, Credential, Endpoints, OrgRef};
use pat2entra::evidence::{Source, Status};
use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;
use pat2entra::scan::{EvidenceOptions, ScanOptions, scan};
use pat2entra::secret::Secret;
use pat2entra::sim::{self, SimConfig};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn list(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var).unwrap_or_else(|_| default.into()).split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if let [mode, users, concurrency, latency, evidence] = args.as_slice()
        && mode == "one"
    {
        one(users.parse().unwrap(), concurrency.parse().unwrap(), latency.parse().unwrap(), evidence == "default");
        return;
    }
    if let [mode, users, latency] = args.as_slice()
        && mode == "serve"
    {
        serve(users.parse().unwrap(), latency.parse().unwrap());
        return;
    }
    if let [mode, base_url, concurrency] = args.as_slice()
        && mode == "reference"
    {
        reference(base_url, concurrency.parse().unwrap());
        return;
    }
    if args.first().is_some_and(|a| a == "compare") {
        compare();
        return;
    }
    let latency: u64 = std::env::var("PAT2ENTRA_BENCH_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    println!(
        "| users | concurrency | requests | wall (s) | requests/s | ideal (s) | wall / ideal | tokens | findings | peak RSS (MB) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let evidence_modes: Vec<String> = std::env::var("PAT2ENTRA_BENCH_EVIDENCE")
        .unwrap_or_else(|_| "none".into())
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| m == "none" || m == "default")
        .collect();
    let mut costs: Vec<Cost> = Vec::new();
    for users in list("PAT2ENTRA_BENCH_USERS", "20000,100000") {
        for concurrency in list("PAT2ENTRA_BENCH_CONCURRENCY", "8,32,64") {
            for evidence in &evidence_modes {
                let exe = std::env::current_exe().unwrap();
                let out = Command::new(exe)
                    .args(["one", &users.to_string(), &concurrency.to_string(), &latency.to_string(), evidence])
                    .output()
                    .unwrap();
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    match line.strip_prefix("cost ") {
                        Some(fields) => costs.extend(Cost::parse(fields)),
                        // The main table: bare inventories only (its figures stay comparable).
                        None if evidence == "none" => println!("{line}"),
                        None => {}
                    }
                }
                // PAT2ENTRA_BENCH_DEBUG's figures, or why the run failed.
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
    if evidence_modes.len() > 1 {
        println!();
        println!(
            "| users | concurrency | evidence | requests | requests / owner | membership requests | wall (s) | scan CPU (s) | added requests / owner | added wall (s) | added scan CPU (s) |"
        );
        println!("| ---: | ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for cost in &costs {
            let bare = costs.iter().find(|c| c.users == cost.users && c.concurrency == cost.concurrency && !c.evidence);
            let added = |f: fn(&Cost) -> f64| match bare {
                Some(bare) if cost.evidence => format!("{:+.2}", f(cost) - f(bare)),
                _ => String::new(),
            };
            println!(
                "| {} | {} | {} | {} | {:.2} | {} | {:.1} | {:.1} | {} | {} | {} |",
                cost.users,
                cost.concurrency,
                if cost.evidence { "default" } else { "none" },
                cost.requests,
                cost.per_owner(),
                cost.membership,
                cost.wall,
                cost.cpu,
                added(Cost::per_owner),
                added(|c| c.wall),
                added(|c| c.cpu),
            );
        }
    }
}

/// One run's figures for the evidence table (the line `cost …` of a run's output).
struct Cost {
    users: usize,
    concurrency: usize,
    evidence: bool,
    owners: usize,
    requests: u64,
    wall: f64,
    cpu: f64,
    /// Graph membership state requests (the simulator's count).
    membership: u64,
}

impl Cost {
    fn parse(fields: &str) -> Option<Cost> {
        let f: Vec<&str> = fields.split(' ').collect();
        let [users, concurrency, evidence, owners, requests, wall, cpu, membership] = f[..] else { return None };
        Some(Cost {
            users: users.parse().ok()?,
            concurrency: concurrency.parse().ok()?,
            evidence: evidence == "default",
            owners: owners.parse().ok()?,
            requests: requests.parse().ok()?,
            wall: wall.parse().ok()?,
            cpu: cpu.parse().ok()?,
            membership: membership.parse().ok()?,
        })
    }

    fn per_owner(&self) -> f64 {
        self.requests as f64 / self.owners.max(1) as f64
    }
}

fn simulator_config(users: usize, latency_ms: u64) -> SimConfig {
    SimConfig { users, anchor: as_of(), latency: Duration::from_millis(latency_ms), ..SimConfig::default() }
}

fn as_of() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

/// The simulator's process: prints its base URL, answers each line of its standard input with
/// the number of requests it answered so far, serves until its standard input closes, then
/// prints how many requests it answered, its peak RSS (MB), its CPU time (s) and how many of
/// the requests were membership states.
fn serve(users: usize, latency_ms: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let handle = sim::start(simulator_config(users, latency_ms), 0).await.unwrap();
        println!("{}", handle.base_url());
        std::io::stdout().flush().unwrap();
        let (lines, mut asked) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                if line.is_err() || lines.send(()).is_err() {
                    break;
                }
            }
        });
        while asked.recv().await.is_some() {
            println!("{}", handle.stats().requests.load(std::sync::atomic::Ordering::Relaxed));
            std::io::stdout().flush().unwrap();
        }
        let stats = handle.stats();
        let requests = stats.requests.load(std::sync::atomic::Ordering::Relaxed);
        let membership = stats.membership_requests.load(std::sync::atomic::Ordering::Relaxed);
        println!("{requests} {:.0} {:.1} {membership}", peak_rss_mb(), cpu_seconds());
    });
}

fn one(users: usize, concurrency: usize, latency_ms: u64, evidence: bool) {
    let mut simulator = Command::new(std::env::current_exe().unwrap())
        .args(["serve", &users.to_string(), &latency_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut answers = BufReader::new(simulator.stdout.take().unwrap()).lines();
    let base_url = answers.next().unwrap().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let as_of = as_of();
        let latency = Duration::from_millis(latency_ms);
        let client = AdoClient::new(
            Endpoints::single_base(&base_url).unwrap(),
            OrgRef::parse("fabrikam").unwrap(),
            Credential::Pat(Secret::new("bench")),
            ClientOptions::default(),
        )
        .unwrap();
        let sources = if evidence { Source::DEFAULT.into_iter().collect() } else { Default::default() };
        let evidence_options = EvidenceOptions { sources, audit_end: as_of, ..EvidenceOptions::default() };
        let options = ScanOptions { concurrency, evidence: evidence_options, ..ScanOptions::default() };
        let start = Instant::now();
        let cpu_before = cpu_seconds();
        let debug = std::env::var_os("PAT2ENTRA_BENCH_DEBUG").is_some();
        if debug {
            eprintln!("peak RSS with the client built {:.0} MB", peak_rss_mb());
        }
        let inventory = scan(&client, &options, &|event| {
            if debug && matches!(event, pat2entra::scan::ScanEvent::OwnersListed(_)) {
                eprintln!("peak RSS with the owners listed {:.0} MB", peak_rss_mb());
            }
        })
        .await
        .unwrap();
        let wall = start.elapsed().as_secs_f64();
        let scan_cpu = cpu_seconds() - cpu_before;
        assert!(inventory.coverage.complete);
        for (source, coverage) in &inventory.evidence.sources {
            assert!(coverage.status == Status::Complete, "evidence.{source}: {}", coverage.describe());
            if std::env::var_os("PAT2ENTRA_BENCH_DEBUG").is_some() {
                eprintln!("evidence.{source}: {}", coverage.describe());
            }
        }
        let owners = inventory.owners.len();
        let tokens = inventory.tokens.len();
        let after_scan = peak_rss_mb();
        let record = ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of);
        // Closing its input stops the simulator, which answers with its request count.
        drop(simulator.stdin.take());
        let last = answers.next().unwrap().unwrap();
        let [requests, simulator_rss, simulator_cpu, membership] = last.split(' ').collect::<Vec<_>>()[..] else {
            panic!("the simulator answered {last:?}")
        };
        let requests: u64 = requests.parse().unwrap();
        simulator.wait().unwrap();
        if std::env::var_os("PAT2ENTRA_BENCH_DEBUG").is_some() {
            eprintln!(
                "peak RSS after the scan {after_scan:.0} MB, after judging {:.0} MB; the simulator's process {simulator_rss} MB; CPU (user + system) {scan_cpu:.1} s for the scan, {simulator_cpu} s for the simulator",
                peak_rss_mb()
            );
        }
        let ideal = requests as f64 * latency.as_secs_f64() / concurrency as f64;
        println!(
            "| {users} | {concurrency} | {requests} | {wall:.1} | {:.0} | {ideal:.1} | {:.2} | {tokens} | {} | {:.0} |",
            requests as f64 / wall,
            wall / ideal,
            record.findings.len(),
            peak_rss_mb()
        );
        println!(
            "cost {users} {concurrency} {} {owners} {requests} {wall:.2} {scan_cpu:.2} {membership}",
            if evidence { "default" } else { "none" }
        );
    });
}

/// CPU time (user + system) this process used so far, in seconds (/proc/self/stat, in clock
/// ticks of 1/100 s on Linux): unlike the wall time, hardly changed by other jobs on the machine.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses and may hold spaces.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `compare`: the reference client and `pat2entra scan` against one simulator process.
fn compare() {
    let latency: u64 = std::env::var("PAT2ENTRA_BENCH_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let concurrency = list("PAT2ENTRA_BENCH_CONCURRENCY", "64").first().copied().unwrap_or(64);
    println!(
        "| users | client | requests | wall (s) | wall / reference | CPU (s) | CPU per 1,000 requests (s) | peak RSS (MB) | load average before |"
    );
    println!("| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |");
    for users in list("PAT2ENTRA_BENCH_USERS", "20000") {
        let mut simulator = Command::new(std::env::current_exe().unwrap())
            .args(["serve", &users.to_string(), &latency.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ask = simulator.stdin.take().unwrap();
        let mut answers = BufReader::new(simulator.stdout.take().unwrap()).lines();
        let base_url = answers.next().unwrap().unwrap();
        let mut requests_so_far = || {
            writeln!(ask, "requests").unwrap();
            ask.flush().unwrap();
            answers.next().unwrap().unwrap().parse::<u64>().unwrap()
        };
        let out = std::env::temp_dir().join(format!("pat2entra-bench-{}-{users}.json", std::process::id()));
        let mut reference_wall = None;
        for client in ["reference", "pat2entra scan"] {
            let load = load_average();
            let before = requests_so_far();
            let mut command = if client == "reference" {
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.args(["reference", &base_url, &concurrency.to_string()]);
                c
            } else {
                let mut c = Command::new(env!("CARGO_BIN_EXE_pat2entra"));
                c.args(["scan", "--org", "fabrikam", "--base-url", &base_url, "--auth", "pat"])
                    .args(["--concurrency", &concurrency.to_string(), "--evidence", "none"])
                    .args(["--as-of", "2026-11-26", "-o", "json", "--out"])
                    .arg(&out)
                    .arg("-q")
                    .env("AZURE_DEVOPS_EXT_PAT", "bench");
                c
            };
            let (child, stdout) = measure(&mut command);
            let requests = requests_so_far() - before;
            let reference = *reference_wall.get_or_insert(child.wall);
            println!(
                "| {users} | {client} | {requests} | {:.2} | {:.2} | {:.2} | {:.3} | {:.0} | {load} |",
                child.wall,
                child.wall / reference,
                child.cpu,
                child.cpu * 1000.0 / requests.max(1) as f64,
                child.peak_rss_mb,
            );
            if child.status != 0 {
                eprintln!("{client} exited with status {:#x}: {}", child.status, stdout.trim());
            } else if !stdout.trim().is_empty() {
                eprintln!("{client}: {}", stdout.trim());
            }
        }
        let _ = std::fs::remove_file(&out);
        drop(ask);
        simulator.wait().unwrap();
    }
}

/// The reference client: the least work a scan must do. Lists Graph users (following
/// `X-MS-ContinuationToken`) and, as each page arrives, pages Token Admin for each user at
/// `concurrency` (following the body's `continuationToken`), keeping only counts. Prints
/// "users tokens requests".
fn reference(base_url: &str, concurrency: usize) {
    use futures::StreamExt;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Users {
        value: Vec<User>,
    }
    #[derive(Deserialize)]
    struct User {
        descriptor: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Tokens {
        value: Vec<serde::de::IgnoredAny>,
        continuation_token: Option<String>,
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let base = format!("{}/fabrikam/_apis", base_url.trim_end_matches('/'));
        let authorization = "Basic OmJlbmNo"; // ":bench"
        let (found, descriptors) = tokio::sync::mpsc::unbounded_channel::<String>();
        let requests = std::sync::atomic::AtomicU64::new(0);
        let requests = &requests;
        let (http, base) = (&http, base.as_str());
        let listing = async move {
            let mut continuation: Option<String> = None;
            let mut users = 0usize;
            loop {
                let mut request = http
                    .get(format!("{base}/graph/users"))
                    .query(&[("subjectTypes", "aad,msa,csp,bnd,svc"), ("api-version", "7.1-preview.1")])
                    .header("Authorization", authorization);
                if let Some(c) = &continuation {
                    request = request.query(&[("continuationToken", c)]);
                }
                let response = request.send().await.unwrap();
                requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continuation = response
                    .headers()
                    .get("x-ms-continuationtoken")
                    .and_then(|v| v.to_str().ok())
                    .filter(|c| !c.is_empty())
                    .map(str::to_string);
                let page: Users = response.json().await.unwrap();
                users += page.value.len();
                for user in page.value {
                    found.send(user.descriptor).unwrap();
                }
                if continuation.is_none() {
                    return users;
                }
            }
        };
        let owners = futures::stream::unfold(descriptors, |mut d| async move { d.recv().await.map(|x| (x, d)) });
        let tokens = owners
            .map(|descriptor| async move {
                let mut continuation: Option<String> = None;
                let mut tokens = 0usize;
                loop {
                    let mut request = http
                        .get(format!("{base}/tokenadmin/personalaccesstokens/{descriptor}"))
                        .query(&[("pageSize", "100"), ("isPublic", "false"), ("api-version", "7.1")])
                        .header("Authorization", authorization);
                    if let Some(c) = &continuation {
                        request = request.query(&[("continuationToken", c)]);
                    }
                    let response = request.send().await.unwrap();
                    requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !response.status().is_success() {
                        let _ = response.bytes().await;
                        return tokens;
                    }
                    let page: Tokens = response.json().await.unwrap();
                    tokens += page.value.len();
                    continuation = page
                        .continuation_token
                        .filter(|c| !c.is_empty() && c != "00000000-0000-0000-0000-000000000000");
                    if continuation.is_none() {
                        return tokens;
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .fold(0usize, |sum, n| async move { sum + n });
        let (users, tokens) = futures::join!(listing, tokens);
        println!("{users} users {tokens} tokens {} requests", requests.load(std::sync::atomic::Ordering::Relaxed));
    });
}
