//! Hostile servers: loopback servers written here (raw HTTP/1.1 over a TcpListener) that redirect,
//! never stop sending, bomb with gzip, page forever, never answer or ask to wait for days. Every
//! scan (the real binary) ends within its bounds, stays under 300 MB of memory, sends the
//! credential to no second host, and names what it could not read.

use crate::common;

use flate2::{Compress, Compression, FlushCompress};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PAT: &str = "hostile-pat-5e7a91c3";
const ORG: &str = "fabrikam";
const MB: usize = 1024 * 1024;
/// Peak resident memory allowed to any scan of this suite.
const MAX_RSS_BYTES: u64 = 300 * 1024 * 1024;
/// Watchdog: no scan here may run longer (each is bounded far below it).
const WATCHDOG: Duration = Duration::from_secs(60);

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

/// What a server does with a request.
enum Reply {
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// A chunked body that never ends.
    EndlessChunked,
    /// A body without a length that never ends.
    EndlessUnsized,
    /// A JSON page of `bytes` bytes (a valid Token Admin page), streamed.
    HugePage { bytes: usize },
    /// Accept, read the request, never answer.
    Silent,
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A hostile server on its own runtime; records every request it receives.
struct Hostile {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Hostile {
    fn start(ip: &str, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Option<Hostile> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(TcpListener::bind((ip, 0))).ok()?;
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = seen.clone();
        runtime.spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move { connection(socket, handler, recorded).await });
            }
        });
        Some(Hostile { addr, seen, _runtime: runtime })
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn connection(mut socket: TcpStream, handler: Arc<Handler>, recorded: Arc<Mutex<Vec<Seen>>>) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let target = text.split_whitespace().nth(1).unwrap_or_default().to_string();
        let authorization = text
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
            .map(|(_, v)| v.trim().to_string());
        let seen = Seen { target, authorization };
        recorded.lock().unwrap().push(seen.clone());
        match handler(&seen) {
            Reply::Raw(bytes) => {
                if socket.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::EndlessChunked => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(b"a\r\n{\"value\":[\r\n").await;
                let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                return;
            }
            Reply::EndlessUnsized => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"value\":[";
                let _ = socket.write_all(head.as_bytes()).await;
                let spaces = vec![b' '; 0x10000];
                while socket.write_all(&spaces).await.is_ok() {}
                return;
            }
            Reply::HugePage { bytes } => {
                let token = format!("{},", token_json("huge"));
                let block = token.repeat(0x10000 / token.len());
                let (prefix, suffix) = ("{\"value\":[", format!("{}]}}", token_json("last")));
                let blocks = (bytes - prefix.len() - suffix.len()) / block.len();
                let length = prefix.len() + blocks * block.len() + suffix.len();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{prefix}"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..blocks {
                    if socket.write_all(block.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(suffix.as_bytes()).await;
                return;
            }
            Reply::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
        }
    }
}

fn token_json(id: &str) -> String {
    format!(
        r#"{{"authorizationId":"{id}","displayName":"ci","scope":"vso.code","targetAccounts":["00000000-0000-0000-0000-000000000001"],"validFrom":"2026-01-01T00:00:00Z","validTo":"2026-12-01T00:00:00Z","isValid":true,"isPublic":false}}"#
    )
}

fn json(status: &str, extra_headers: &str, body: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn users(descriptors: &[&str]) -> Reply {
    let value: Vec<String> = descriptors
        .iter()
        .map(|d| {
            format!(r#"{{"descriptor":"{d}","displayName":"{d}","principalName":"{d}@example.com","origin":"aad"}}"#)
        })
        .collect();
    json("200 OK", "", &format!(r#"{{"count":{},"value":[{}]}}"#, value.len(), value.join(",")))
}

fn good_page(owner: &str) -> Reply {
    json("200 OK", "", &format!(r#"{{"value":[{}],"continuationToken":null}}"#, token_json(&format!("tok-{owner}"))))
}

fn is_listing(seen: &Seen) -> bool {
    seen.target.starts_with(&format!("/{ORG}/_apis/graph/users"))
}

fn is_owner(seen: &Seen, descriptor: &str) -> bool {
    seen.target.starts_with(&format!("/{ORG}/_apis/tokenadmin/personalaccesstokens/{descriptor}?"))
}

/// An organization of two owners: `aad.good` answers normally, `aad.bad` as `bad` says.
fn one_bad_owner(bad: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Hostile {
    Hostile::start("127.0.0.1", move |seen| {
        if is_listing(seen) {
            users(&["aad.good", "aad.bad"])
        } else if is_owner(seen, "aad.good") {
            good_page("good")
        } else if is_owner(seen, "aad.bad") {
            bad(seen)
        } else {
            json("404 Not Found", "", "{}")
        }
    })
    .unwrap()
}

struct Scan {
    code: i32,
    stderr: String,
    record: Option<serde_json::Value>,
    max_rss: u64,
    elapsed: Duration,
}

impl Scan {
    fn record(&self) -> &serde_json::Value {
        self.record.as_ref().unwrap_or_else(|| panic!("a record was written; stderr: {}", self.stderr))
    }

    /// The coverage gap of `descriptor`, and its reason.
    fn gap(&self, descriptor: &str) -> String {
        let failed = self.record()["coverage"]["owners_failed"].as_array().unwrap();
        let gap = failed
            .iter()
            .find(|f| f["descriptor"] == descriptor)
            .unwrap_or_else(|| panic!("{descriptor} is a coverage gap: {failed:?}"));
        gap["error"].as_str().unwrap().to_string()
    }

    /// What every scan of the suite must satisfy.
    fn assert_bounded(&self, within: Duration) {
        assert!(self.max_rss < MAX_RSS_BYTES, "peak memory {} MiB; stderr: {}", self.max_rss / MB as u64, self.stderr);
        assert!(self.elapsed < within, "took {:?} (bound {within:?}); stderr: {}", self.elapsed, self.stderr);
        assert!(!self.stderr.contains(PAT), "the credential reached stderr: {}", self.stderr);
        if let Some(record) = &self.record {
            assert!(!record.to_string().contains(PAT), "the credential reached the record");
        }
    }

    /// The good owner was read in full.
    fn assert_good_owner_read(&self) {
        let ids: Vec<&str> = self.record()["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["authorization_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["tok-good"], "stderr: {}", self.stderr);
        assert_eq!(self.record()["coverage"]["complete"], false);
    }
}

/// Runs `pat2entra scan --auth pat` against `base` as a child process and measures its peak
/// memory.
fn scan(base: &str, extra: &[&str]) -> Scan {
    // These servers answer the inventory's endpoints only: no evidence sources.
    let mut args =
        vec!["scan", "--org", ORG, "--base-url", base, "--auth", "pat", "--as-of", "2026-11-26", "--evidence", "none"];
    args.extend_from_slice(extra);
    run_binary(&args, &[("AZURE_DEVOPS_EXT_PAT", PAT)])
}

/// Runs the binary with `args` (plus `-o json --out FILE` for a scan) and the sign-in
/// environment `env` only.
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> Scan {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let stderr_path = dir.path().join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args(args);
    if args.first() == Some(&"scan") {
        cmd.args(["-o", "json"]).arg("--out").arg(&out);
    }
    cmd.env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env("PATH", common::path_without_clis(None))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for name in common::SIGN_IN_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let started = Instant::now();
    // Reaped below by wait4 (which also reports its peak memory), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("the binary runs");
    let pid = child.id() as libc::pid_t;
    // The watchdog kills the binary if it outlives WATCHDOG; closing `exited` stops it at once.
    let (exited, watch) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(WATCHDOG) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: the child is not reaped before this thread ends (see below), so the pid
            // is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    // Blocks until the child exits, without reaping it (WNOWAIT): no polling.
    loop {
        // SAFETY: siginfo_t is plain data, filled in by waitid; waits for our own child only.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if waited == 0 {
            break;
        }
        assert_eq!(std::io::Error::last_os_error().kind(), std::io::ErrorKind::Interrupted, "waitid failed");
    }
    drop(exited);
    watchdog.join().unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by wait4, which reaps the exited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let elapsed = started.elapsed();
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let record = std::fs::read_to_string(&out).ok().map(|t| serde_json::from_str(&t).unwrap());
    // ru_maxrss is in KiB on Linux.
    eprintln!("{args:?}: exit {code}, peak {} MiB, {elapsed:?}", usage.ru_maxrss / 1024);
    Scan { code, stderr, record, max_rss: usage.ru_maxrss as u64 * 1024, elapsed }
}

#[test]
fn redirects_are_never_followed_and_the_credential_reaches_no_second_host() {
    // The second host records every request and, if ever reached, redirects on to a third.
    let mut targets = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.2"] {
        if let Some(second) = Hostile::start(ip, |_| json("302 Found", "Location: http://127.0.0.1:9/third\r\n", "")) {
            targets.push(second);
        }
    }
    assert!(!targets.is_empty());
    for second in &targets {
        let port = second.addr.port();
        let ip = second.addr.ip().to_string();
        for location in [
            format!("http://{ip}:{port}/{ORG}/_apis/graph/users"),
            format!("http://localhost:{port}/{ORG}/_apis/graph/users?token=leak"),
            format!("https://{ip}:{port}/{ORG}/_apis/graph/users"),
            format!("http://user:pw@{ip}:{port}/x#frag"),
        ] {
            for status in ["302 Found", "307 Temporary Redirect"] {
                for at_owner in [false, true] {
                    let header = format!("Location: {location}\r\n");
                    let first = Hostile::start("127.0.0.1", move |seen| {
                        if is_listing(seen) && at_owner { users(&["aad.one"]) } else { json(status, &header, "") }
                    })
                    .unwrap();
                    let run = scan(&first.base(), &["--max-retries", "3"]);
                    run.assert_bounded(Duration::from_secs(20));
                    assert_eq!(run.code, 4, "{}", run.stderr);
                    assert!(run.stderr.contains("redirects are never followed"), "{}", run.stderr);
                    assert!(run.stderr.contains(&format!(":{port}/")), "the Location is named: {}", run.stderr);
                    for hidden in ["token=leak", "user:pw", "#frag"] {
                        assert!(!run.stderr.contains(hidden), "{hidden} in {}", run.stderr);
                    }
                    // One request per redirect: never retried.
                    let seen = first.seen();
                    assert_eq!(seen.len(), if at_owner { 2 } else { 1 }, "{seen:?}");
                    assert_eq!(seen[0].authorization.as_deref().map(|a| a.starts_with("Basic ")), Some(true));
                }
            }
        }
        let reached = second.seen();
        assert!(reached.iter().all(|s| s.authorization.is_none()), "the credential reached a second host");
        assert!(reached.is_empty(), "a redirect was followed: {reached:?}");
    }
}

#[test]
fn an_endless_chunked_body_is_cut_at_the_size_limit() {
    let server = one_bad_owner(|_| Reply::EndlessChunked);
    let run = scan(&server.base(), &["--max-response-mb", "8", "--concurrency", "1"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    let gap = run.gap("aad.bad");
    assert!(gap.contains("exceeds 8 MiB") && gap.contains("tokenadmin/personalaccesstokens/aad.bad"), "{gap}");
    assert!(run.stderr.contains("1 responses over --max-response-mb"), "{}", run.stderr);
    // Not retried: the bad owner was asked once.
    assert_eq!(server.seen().iter().filter(|s| is_owner(s, "aad.bad")).count(), 1);
}

#[test]
fn an_endless_body_without_length_is_cut_at_the_size_limit() {
    let server = one_bad_owner(|_| Reply::EndlessUnsized);
    let run = scan(&server.base(), &["--max-response-mb", "8"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    assert!(run.gap("aad.bad").contains("exceeds 8 MiB"));
}

/// A gzip body that unpacks to `mib` MiB of zeros, built in a few hundred KiB: one MiB of
/// zeros deflated with a full flush (byte-aligned, no back-references) repeated `mib` times.
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; MB];
    let mut deflate = Compress::new(Compression::fast(), false);
    let mut block = Vec::with_capacity(64 * 1024);
    deflate.compress_vec(&zeros, &mut block, FlushCompress::Full).unwrap();
    assert_eq!(deflate.total_in() as usize, MB, "one call deflates the whole MiB");
    let mut crc = flate2::Crc::new();
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..mib {
        gz.extend_from_slice(&block);
        crc.update(&zeros);
    }
    // The last block: final, fixed Huffman, empty.
    gz.extend_from_slice(&[0x03, 0x00]);
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&((mib * MB) as u32).to_le_bytes());
    gz
}

#[test]
fn a_gzip_bomb_is_cut_after_decompression() {
    let bomb = gzip_bomb(200);
    assert!(bomb.len() < 2 * MB, "{} bytes on the wire", bomb.len());
    // The bomb is a valid gzip stream (a small one decodes to its size).
    let small = gzip_bomb(3);
    let mut decoded = Vec::new();
    std::io::copy(&mut flate2::read::GzDecoder::new(&small[..]), &mut decoded).unwrap();
    assert_eq!(decoded.len(), 3 * MB);

    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        bomb.len()
    )
    .into_bytes();
    head.extend_from_slice(&bomb);
    let reply = Arc::new(head);
    let answer = reply.clone();
    let server = one_bad_owner(move |_| Reply::Raw(answer.to_vec()));
    let run = scan(&server.base(), &["--max-response-mb", "8"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    assert!(run.gap("aad.bad").contains("exceeds 8 MiB"));

    // The default limit (64 MiB) holds too.
    let answer = reply.clone();
    let server = one_bad_owner(move |_| Reply::Raw(answer.to_vec()));
    let run = scan(&server.base(), &["--concurrency", "1"]);
    run.assert_bounded(Duration::from_secs(30));
    assert!(run.gap("aad.bad").contains("exceeds 64 MiB"), "{}", run.stderr);
}

#[test]
fn a_multi_hundred_mib_json_page_is_cut_at_the_size_limit() {
    let server = one_bad_owner(|_| Reply::HugePage { bytes: 400 * MB });
    let run = scan(&server.base(), &["--max-response-mb", "8"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    assert!(run.gap("aad.bad").contains("exceeds 8 MiB"));
    // The same page under the limit is read: the limit, not the shape, refused it.
    let server = one_bad_owner(|_| Reply::HugePage { bytes: MB });
    let run = scan(&server.base(), &["--max-response-mb", "8"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.record()["coverage"]["owners_failed"].as_array().unwrap().len(), 0, "{}", run.stderr);
}

#[test]
fn endless_paging_with_fresh_tokens_ends_at_the_page_limit() {
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    let server = one_bad_owner(move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        json(
            "200 OK",
            "",
            &format!(r#"{{"value":[{}],"continuationToken":"fresh-{n}"}}"#, token_json(&format!("t{n}"))),
        )
    });
    let run = scan(&server.base(), &["--max-pages", "40"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    let gap = run.gap("aad.bad");
    assert!(gap.contains("after 40 pages (--max-pages)"), "{gap}");
    assert_eq!(pages.load(Ordering::SeqCst), 40);

    // The user listing paging forever is an error naming the flag.
    let fresh = Arc::new(AtomicUsize::new(0));
    let counter = fresh.clone();
    let listing_fresh = Hostile::start("127.0.0.1", move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        json("200 OK", &format!("X-MS-ContinuationToken: c{n}\r\n"), r#"{"count":0,"value":[]}"#)
    })
    .unwrap();
    let run = scan(&listing_fresh.base(), &["--max-listing-pages", "25"]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("after 25 pages (--max-listing-pages)"), "{}", run.stderr);
    assert_eq!(fresh.load(Ordering::SeqCst), 25);
}

#[test]
fn a_silent_server_costs_two_request_timeouts() {
    let server = one_bad_owner(|_| Reply::Silent);
    let run = scan(&server.base(), &["--request-timeout", "1s", "--max-retries", "5"]);
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    let gap = run.gap("aad.bad");
    assert!(gap.contains("no complete answer within 1s (--request-timeout), 2 times"), "{gap}");
    assert_eq!(server.seen().iter().filter(|s| is_owner(s, "aad.bad")).count(), 2);
}

#[test]
fn after_the_deadline_nothing_is_sent_and_the_record_names_every_owner_not_read() {
    // Every owner is silent; the request timeout alone would take minutes.
    let owners: Vec<String> = (0..6).map(|i| format!("aad.silent{i}")).collect();
    let listed = owners.clone();
    let server = Hostile::start("127.0.0.1", move |seen| {
        if is_listing(seen) { users(&listed.iter().map(String::as_str).collect::<Vec<_>>()) } else { Reply::Silent }
    })
    .unwrap();
    let run = scan(&server.base(), &["--deadline", "2s", "--concurrency", "2"]);
    run.assert_bounded(Duration::from_secs(15));
    assert!(run.elapsed >= Duration::from_secs(2));
    assert_eq!(run.code, 4, "{}", run.stderr);
    for owner in &owners {
        assert!(run.gap(owner).contains("deadline reached"), "{owner}: {}", run.gap(owner));
    }
    // Only the owners under way when the deadline struck were ever asked.
    let asked = server.seen().iter().filter(|s| !is_listing(s)).count();
    assert_eq!(asked, 2, "{:?}", server.seen());
    assert!(run.stderr.contains("--deadline"), "the summary says so: {}", run.stderr);
}

#[test]
fn a_retry_after_of_days_ends_the_request_at_once() {
    let server = one_bad_owner(|_| json("429 Too Many Requests", "Retry-After: 999999\r\n", "{}"));
    // One owner at a time: the good owner is read first, then the bad one is told to wait.
    let run = scan(&server.base(), &["--concurrency", "1"]);
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    let gap = run.gap("aad.bad");
    assert!(gap.contains("asked to wait 277h46m39s (Retry-After), more than --max-wait 5m"), "{gap}");
    assert_eq!(server.seen().iter().filter(|s| is_owner(s, "aad.bad")).count(), 1);
    // The wait shows in the info log even without a terminal.
    assert!(run.stderr.contains("longer than --max-wait"), "{}", run.stderr);

    // The same on the user listing: an error at once, naming the wait.
    let listing =
        Hostile::start("127.0.0.1", |_| json("503 Service Unavailable", "Retry-After: 999999\r\n", "{}")).unwrap();
    let run = scan(&listing.base(), &["--max-wait", "30s"]);
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("more than --max-wait 30s"), "{}", run.stderr);
}

#[test]
fn waits_and_retries_show_in_the_summary_and_log_without_a_terminal() {
    let tries = Arc::new(AtomicUsize::new(0));
    let counter = tries.clone();
    let server = one_bad_owner(move |seen| {
        // First a short throttle, then a server error, then the page.
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => json("429 Too Many Requests", "Retry-After: 1\r\n", "{}"),
            1 => json("500 Internal Server Error", "", "{}"),
            _ => {
                let owner = seen.target.split('/').nth(5).unwrap_or_default().split('?').next().unwrap_or_default();
                good_page(owner.trim_start_matches("aad."))
            }
        }
    });
    let run = scan(&server.base(), &["--concurrency", "1"]);
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.stderr.lines().find(|l| l.starts_with("scan: ")).expect("a summary line");
    assert!(
        summary.contains(", 1 retried, throttled 1x (waited 1s at the service's request), 0 redirects refused"),
        "{summary}"
    );
    assert!(run.stderr.contains("retrying after a throttle or server error"), "{}", run.stderr);
    assert!(run.stderr.contains("the service asked to wait"), "{}", run.stderr);
}

#[test]
fn dot_segments_never_leave_the_path() {
    // An owner whose descriptor is `..` would address `tokenadmin/` itself.
    let server = Hostile::start("127.0.0.1", |seen| {
        if is_listing(seen) {
            users(&["aad.good", "..", "."])
        } else if is_owner(seen, "aad.good") {
            good_page("good")
        } else {
            json("200 OK", "", r#"{"value":[],"continuationToken":null}"#)
        }
    })
    .unwrap();
    let run = scan(&server.base(), &[]);
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 4, "{}", run.stderr);
    run.assert_good_owner_read();
    for dots in ["..", "."] {
        assert!(run.gap(dots).contains("cannot be used in a request path"), "{}", run.gap(dots));
    }
    // Besides the listing and the good owner, only connectionData (this organization's id, read
    // because a token came with targetAccounts).
    assert!(
        server
            .seen()
            .iter()
            .all(|s| is_listing(s) || is_owner(s, "aad.good") || s.target.contains("/_apis/connectionData")),
        "{:?}",
        server.seen()
    );
    // As an organization: an argument error before anything is sent.
    for org in [".", ".."] {
        let r = common::run(
            &["scan", "--org", org, "--base-url", &server.base(), "--auth", "pat"],
            &[("AZURE_DEVOPS_EXT_PAT", PAT)],
        );
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("drop out of the URL"), "{}", r.stderr);
    }
}

#[test]
fn sign_in_follows_no_redirect_and_reads_a_bounded_answer() {
    const SECRET: &str = "client-secret-hostile-4411";
    let second =
        Hostile::start("127.0.0.1", |_| json("200 OK", "", r#"{"access_token":"x","expires_in":3600}"#)).unwrap();
    let location = format!("Location: http://localhost:{}/steal\r\n", second.addr.port());
    for reply in ["307", "302", "endless"] {
        let location = location.clone();
        let token_endpoint = Hostile::start("127.0.0.1", move |_| match reply {
            "endless" => Reply::EndlessUnsized,
            status => json(&format!("{status} Redirect"), &location, ""),
        })
        .unwrap();
        let loopback = token_endpoint.addr.to_string();
        let run = run_binary(
            &[
                "scan",
                "--org",
                ORG,
                "--base-url",
                &token_endpoint.base(),
                "--authority-host",
                "https://login.sim.invalid",
                "--authority-loopback",
                &loopback,
            ],
            &[
                ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000c1d0"),
                ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000071d0"),
                ("AZURE_CLIENT_SECRET", SECRET),
            ],
        );
        run.assert_bounded(Duration::from_secs(45));
        assert_ne!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains(SECRET), "{}", run.stderr);
        assert!(!token_endpoint.seen().is_empty(), "the token endpoint was asked");
        let expected = if reply == "endless" { "exceeds 1024 KiB" } else { "redirects are never followed for sign-in" };
        assert!(run.stderr.lines().any(|l| l.starts_with("error:") && l.contains(expected)), "{}", run.stderr);
    }
    assert!(second.seen().is_empty(), "a sign-in redirect was followed: {:?}", second.seen());
}

#[test]
fn whoami_reads_a_bounded_answer() {
    let server = Hostile::start("127.0.0.1", |_| Reply::EndlessChunked).unwrap();
    let run = run_binary(
        &["whoami", "--org", ORG, "--base-url", &server.base(), "--auth", "pat", "--max-response-mb", "2"],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    run.assert_bounded(Duration::from_secs(20));
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("_apis/connectionData exceeds 2 MiB"), "{}", run.stderr);
}

#[test]
fn a_server_that_echoes_the_credential_puts_it_in_no_output() {
    // The error message quotes the request's Authorization header (Basic ":PAT") and the PAT.
    let server = one_bad_owner(|seen| {
        let echoed = format!("denied for {} (pat {PAT})", seen.authorization.clone().unwrap_or_default());
        json("400 Bad Request", "", &serde_json::json!({ "message": echoed }).to_string())
    });
    let run = scan(&server.base(), &[]);
    run.assert_bounded(Duration::from_secs(30));
    assert_eq!(run.code, 4, "{}", run.stderr);
    let gap = run.gap("aad.bad");
    assert!(gap.contains("denied for") && gap.contains("<redacted>"), "{gap}");
    let basic = server.seen().iter().find_map(|s| s.authorization.clone()).expect("the server saw the credential");
    let encoded = basic.trim_start_matches("Basic ").to_string();
    for secret in [PAT, encoded.as_str()] {
        assert!(!gap.contains(secret) && !run.stderr.contains(secret), "{gap}");
        assert!(!run.record().to_string().contains(secret));
    }
}

#[test]
fn whoami_shows_hostile_names_without_escape_sequences_or_bidi_controls() {
    // connectionData names the caller with a terminal title and screen-clear sequence, a
    // right-to-left override and a bell: printed, they would rewrite what the reader sees.
    let server = Hostile::start("127.0.0.1", |seen| {
        if seen.target.starts_with(&format!("/{ORG}/_apis/connectionData")) {
            let identity = serde_json::json!({
                "id": "00000000-0000-0000-0000-00000000000a",
                "descriptor": "Microsoft.IdentityModel.Claims.ClaimsIdentity;t\\mallory@contoso.com",
                "subjectDescriptor": "aad.mallory",
                "providerDisplayName": "Mallory\u{1b}]0;pwned\u{7}\u{1b}[2J",
                "properties": {"Account": {"$type": "System.String", "$value": "mallory\u{202e}exe.@contoso.com"}},
            });
            let body = serde_json::json!({"authenticatedUser": identity, "instanceId": "org\u{1b}[31m-id"});
            json("200 OK", "", &body.to_string())
        } else if is_owner(seen, "aad.mallory") {
            good_page("mallory")
        } else {
            json("404 Not Found", "", "{}")
        }
    })
    .unwrap();
    let r = common::run(
        &["whoami", "--org", ORG, "--base-url", &server.base(), "--auth", "pat"],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
    }
    assert!(
        r.stdout.contains("signed in as  Mallory\u{fffd}]0;pwned\u{fffd}\u{fffd}[2J <mallory\u{fffd}exe.@contoso.com>"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("instance org\u{fffd}[31m-id"), "{}", r.stdout);
}
