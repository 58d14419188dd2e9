//! `pat2entra notify` end to end against the simulator (Azure Boards) and a small SMTP server on
//! loopback written here: a dry run sends nothing; boards twice creates one work item per owner,
//! then updates them, none duplicated; e-mail delivers one message per owner with a mail address,
//! with a text and an HTML part, and lists the others; a rerun with the same journal tells no one
//! twice; hostile names stay text; no secret reaches any output. Expected owners come from the
//! scan record's plan (`plan::build`), not from the tool's output.

use crate::common::{Run, TestSim, run, sim_config};
use base64::Engine as _;
use pat2entra::journal::{Action, Journal, Outcome};
use pat2entra::record::ScanRecord;
use pat2entra::sim::SimConfig;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

const PAT: &str = "notify-test-pat-7e2b91c4d05f3a68";
const PROJECT: &str = "Fabrikam-Fiber";
const SMTP_USER: &str = "pat2entra@fabrikam.example";
const SMTP_PASSWORD: &str = "smtp-password-c0ffee-91b2";

fn start() -> TestSim {
    TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), ..sim_config() })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Scans the simulator into `dir/NAME`.
fn scan(sim: &TestSim, dir: &Path, name: &str) -> PathBuf {
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
    out
}

fn record(path: &Path) -> ScanRecord {
    ScanRecord::from_json(&std::fs::read(path).unwrap(), "scan").unwrap()
}

/// The owners the plan has work for: (principal name, mail, still a member).
fn planned(record: &ScanRecord) -> Vec<(String, Option<String>, bool)> {
    pat2entra::plan::build(record)
        .owners
        .iter()
        .map(|o| {
            let owner = record.owner(&o.descriptor).unwrap();
            (owner.principal_name.to_string(), owner.mail.as_deref().map(str::to_string), owner.member != Some(false))
        })
        .collect()
}

fn boards(sim: &TestSim, scan: &Path, extra: &[&str]) -> Run {
    let base = sim.base_url();
    let mut args =
        vec!["notify", s(scan), "--org", "fabrikam", "--via", "boards", "--project", PROJECT, "--base-url", &base];
    args.extend_from_slice(extra);
    run(&args, &[("AZURE_DEVOPS_EXT_PAT", PAT), ("RUST_LOG", "trace")])
}

fn journal(path: &Path) -> Journal {
    Journal::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn boards_twice_creates_one_item_per_owner_then_updates_them() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let first = scan(&sim, dir.path(), "scan.json");
    let owners = planned(&record(&first));
    let members: BTreeSet<String> = owners.iter().filter(|o| o.2).map(|o| o.0.clone()).collect();
    let gone: BTreeSet<String> = owners.iter().filter(|o| !o.2).map(|o| o.0.clone()).collect();
    assert!(members.len() > 10, "the seed has owners to tell: {members:?}");
    let stats = sim.sim().stats();

    // A dry run: offline, nothing sent, no journal.
    let requests = stats.requests.load(Ordering::SeqCst);
    let r = boards(&sim, &first, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{} owners to tell by a Task in project {PROJECT}", members.len())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("--- message 1 of") && r.stdout.contains("Title: Replace "), "{}", r.stdout);
    assert!(r.stdout.contains("Dry run: nothing was sent"), "{}", r.stdout);
    for line in r.stdout.lines() {
        assert!(line.chars().count() <= 80 || !line.trim().contains(' '), "wider than 80 columns: {line:?}");
    }
    assert_eq!(stats.requests.load(Ordering::SeqCst), requests, "a dry run sends no request");
    assert!(!dir.path().join("scan.notify-boards-journal.jsonl").exists());

    // Execute: one item per member, assigned to them; those who left are skipped, not dropped.
    let r = boards(&sim, &first, &["--execute", "--yes", "--area-path", "Fabrikam-Fiber\\Security"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), members.len() as u64);
    assert_eq!(stats.work_item_updates.load(Ordering::SeqCst), 0);
    let items = sim.sim().work_items();
    let assigned: BTreeSet<String> = items.iter().filter_map(|i| i.assigned_to.clone()).collect();
    assert_eq!(assigned, members);
    assert_eq!(items.len(), members.len());
    for item in &items {
        assert_eq!(item.tags, ["pat2entra"]);
        assert_eq!(item.area_path, "Fabrikam-Fiber\\Security");
        assert_eq!(item.work_item_type, "Task");
        assert!(
            item.title.starts_with("Replace ") && item.title.contains(" with Microsoft Entra ID by 20"),
            "{}",
            item.title
        );
        assert!(
            item.description.starts_with("<div>") && item.description.contains("Your credentials"),
            "{}",
            item.description
        );
    }
    let journal_path = dir.path().join("scan.notify-boards-journal.jsonl");
    let j = journal(&journal_path);
    assert_eq!(j.header.action, Action::NotifyBoards);
    let done: BTreeSet<String> = j
        .last_outcomes()
        .values()
        .filter(|e| e.outcome == Outcome::Done)
        .map(|e| e.target.owner_label.clone())
        .collect();
    assert_eq!(done, members);
    let skipped: BTreeSet<String> = j
        .last_outcomes()
        .values()
        .filter(|e| e.outcome == Outcome::Skipped)
        .map(|e| e.target.owner_label.clone())
        .collect();
    assert_eq!(skipped, gone);
    for name in &gone {
        assert!(r.stdout.contains(name.as_str()), "{name} who left is listed:\n{}", r.stdout);
    }

    // The same command again: the journal says everyone was told.
    let r = boards(&sim, &first, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Nothing left to send"), "{}", r.stdout);
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), members.len() as u64);
    assert_eq!(stats.work_item_updates.load(Ordering::SeqCst), 0);

    // Another project with the same journal: refused, nothing sent (the journal's owners were
    // told in the first project, and would be skipped in this one).
    let base = sim.base_url();
    let other =
        ["notify", s(&first), "--org", "fabrikam", "--via", "boards", "--project", "Other", "--base-url", &base];
    let r = run(&[&other[..], &["--execute", "--yes"]].concat(), &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "records work items in project {PROJECT}, not Other: give this project a journal of its own"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), members.len() as u64);

    // A later scan: its notice updates each owner's open item, no second one.
    let second = scan(&sim, dir.path(), "scan-2.json");
    let r = boards(&sim, &second, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), members.len() as u64);
    assert_eq!(stats.work_item_updates.load(Ordering::SeqCst), members.len() as u64);
    let items = sim.sim().work_items();
    assert_eq!(items.len(), members.len(), "none duplicated");
    assert!(items.iter().all(|i| i.history.len() == 1 && i.rev == 2), "each updated once");
    assert!(dir.path().join("scan-2.notify-boards-journal.jsonl").exists());

    // The journal's report.
    for format in ["table", "markdown", "html", "csv", "json"] {
        let r = run(&["report", "--journal", s(&journal_path), "-o", format], &[]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(r.stdout.contains("notified") || format == "json", "{format}: {}", r.stdout);
    }
}

#[test]
fn selectors_narrow_the_owners_and_refusals_are_one_line() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    let owners = planned(&record(&path));
    let one = owners.iter().find(|o| o.2).unwrap().0.clone();
    let r = boards(&sim, &path, &["--owner", &one, "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let items = sim.sim().work_items();
    assert_eq!(items.iter().map(|i| i.assigned_to.clone().unwrap()).collect::<Vec<_>>(), [one]);

    // Without the scope: exit 3, one line that names it, the journal intact.
    sim.sim().deny_work_items(true);
    let r = boards(&sim, &path, &["--execute", "--yes", "--journal", s(&dir.path().join("denied.jsonl"))]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(error.contains("vso.work_write"), "{}", r.stderr);
    sim.sim().deny_work_items(false);
    let denied = journal(&dir.path().join("denied.jsonl"));
    assert!(denied.entries.iter().any(|e| e.outcome == Outcome::Failed));

    // A project that does not exist; a missing --project; an unknown owner.
    let base = sim.base_url();
    let r = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "boards",
            "--project",
            "Nope",
            "--base-url",
            &base,
            "--execute",
            "--yes",
            "--journal",
            s(&dir.path().join("nope.jsonl")),
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--project") && r.stderr.contains("TF200016"), "{}", r.stderr);
    let r = run(&["notify", s(&path), "--org", "fabrikam", "--via", "boards"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--via boards needs --project"), "{}", r.stderr);
    let r = boards(&sim, &path, &["--owner", "eve@nowhere.example"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no owner 'eve@nowhere.example'"), "{}", r.stderr);
    let r = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "email",
            "--smtp-url",
            "smtp://mail.example.com",
            "--smtp-insecure",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("loopback only"), "{}", r.stderr);
}

/// Hostile names from the directory become text in the work item, never markup.
#[test]
fn hostile_names_are_escaped_in_the_html() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let rec = record(&path);
    let target = planned(&rec).into_iter().find(|o| o.2).unwrap().0;
    let descriptor = rec.owners.iter().find(|o| o.principal_name == target).unwrap().descriptor.clone();
    let hostile = "<img src=x onerror=alert(1)>\u{202e}evil";
    for owner in value["owners"].as_array_mut().unwrap() {
        if owner["descriptor"] == descriptor.as_str() {
            owner["display_name"] = hostile.into();
        }
    }
    for token in value["tokens"].as_array_mut().unwrap() {
        if token["owner"] == descriptor.as_str() {
            token["display_name"] = "<script>steal()</script>".into();
        }
    }
    let edited = dir.path().join("hostile.json");
    std::fs::write(&edited, serde_json::to_vec(&value).unwrap()).unwrap();
    let r = boards(&sim, &edited, &["--owner", &target, "--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let item = sim.sim().work_items().into_iter().next().unwrap();
    assert!(!item.description.contains("<img") && !item.description.contains("<script>"), "{}", item.description);
    assert!(item.description.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", item.description);
    assert!(item.description.contains("&lt;script&gt;steal()&lt;/script&gt;"), "{}", item.description);
    assert!(!item.description.contains('\u{202e}'));
}

// ---- e-mail ---------------------------------------------------------------------------------

/// One mail as the server received it.
#[derive(Debug, Clone, Default)]
struct Received {
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

/// A small SMTP server on loopback: EHLO, AUTH PLAIN or LOGIN (checked), MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT; one connection at a time, on its own thread, for as long as the test runs.
struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Every command's verb, in order.
    verbs: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let verbs = Arc::new(Mutex::new(Vec::new()));
        let (store, seen) = (received.clone(), verbs.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let _ = serve(stream, &store, &seen);
            }
        });
        SmtpServer { port, received, verbs }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn mails(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(stream: std::net::TcpStream, store: &Mutex<Vec<Received>>, verbs: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut say = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    say("220 localhost ESMTP test")?;
    let mut mail = Received::default();
    let mut authenticated: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        verbs.lock().unwrap().push(upper.split([' ', ':']).next().unwrap_or_default().to_string());
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME")?;
        } else if let Some(b64) = command.strip_prefix("AUTH PLAIN ") {
            let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap_or_default();
            let raw = String::from_utf8_lossy(&raw).to_string();
            let parts: Vec<&str> = raw.split('\0').collect();
            if parts.len() == 3 && parts[1] == SMTP_USER && parts[2] == SMTP_PASSWORD {
                authenticated = Some(parts[1].to_string());
                say("235 2.7.0 Authentication successful")?;
            } else {
                say("535 5.7.8 Authentication credentials invalid")?;
            }
        } else if upper.starts_with("AUTH LOGIN") {
            say("334 VXNlcm5hbWU6")?;
            let mut user = String::new();
            lines.read_line(&mut user)?;
            say("334 UGFzc3dvcmQ6")?;
            let mut password = String::new();
            lines.read_line(&mut password)?;
            let decode = |t: &str| {
                String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(t.trim()).unwrap_or_default())
                    .to_string()
            };
            if decode(&user) == SMTP_USER && decode(&password) == SMTP_PASSWORD {
                authenticated = Some(decode(&user));
                say("235 2.7.0 Authentication successful")?;
            } else {
                say("535 5.7.8 Authentication credentials invalid")?;
            }
        } else if upper.starts_with("MAIL FROM:") {
            mail = Received { auth: authenticated.clone(), from: command[10..].to_string(), ..Received::default() };
            say("250 2.1.0 Ok")?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(command[8..].trim().trim_matches(['<', '>']).to_string());
            say("250 2.1.5 Ok")?;
        } else if upper == "DATA" {
            say("354 End data with <CR><LF>.<CR><LF>")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(&l);
            }
            mail.data = data;
            store.lock().unwrap().push(std::mem::take(&mut mail));
            say("250 2.0.0 Ok: queued")?;
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 2.0.0 Ok")?;
        } else if upper == "QUIT" {
            say("221 2.0.0 Bye")?;
            return Ok(());
        } else {
            say("502 5.5.2 Command not recognized")?;
        }
    }
}

fn email(scan: &Path, server: &SmtpServer, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let url = server.url();
    let mut args = vec![
        "notify",
        s(scan),
        "--org",
        "fabrikam",
        "--via",
        "email",
        "--smtp-url",
        &url,
        "--smtp-insecure",
        "--from",
        "PAT audit <pat2entra@fabrikam.example>",
    ];
    args.extend_from_slice(extra);
    let mut all = vec![("RUST_LOG", "trace")];
    all.extend_from_slice(env);
    run(&args, &all)
}

/// The scan with the mail address of the first `n` planned owners removed.
fn without_mail(path: &Path, n: usize) -> (PathBuf, BTreeSet<String>) {
    let rec = record(path);
    let plan = pat2entra::plan::build(&rec);
    let removed: BTreeSet<String> = plan.owners.iter().take(n).map(|o| o.descriptor.clone()).collect();
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for owner in value["owners"].as_array_mut().unwrap() {
        if removed.contains(owner["descriptor"].as_str().unwrap()) {
            owner["mail"] = serde_json::Value::Null;
        }
    }
    let out = path.with_file_name("no-mail.json");
    std::fs::write(&out, serde_json::to_vec(&value).unwrap()).unwrap();
    let names = rec
        .owners
        .iter()
        .filter(|o| removed.contains(o.descriptor.as_str()))
        .map(|o| o.principal_name.to_string())
        .collect();
    (out, names)
}

#[test]
fn email_delivers_one_message_per_owner_with_a_mail_address() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let scanned = scan(&sim, dir.path(), "scan.json");
    let (path, no_mail) = without_mail(&scanned, 2);
    let owners = planned(&record(&path));
    let expected: BTreeSet<String> = owners.iter().filter_map(|o| o.1.clone()).collect();
    assert_eq!(expected.len() + no_mail.len(), owners.len());
    drop(sim);
    let server = SmtpServer::start();
    let login = [("PAT2ENTRA_SMTP_USER", SMTP_USER), ("PAT2ENTRA_SMTP_PASSWORD", SMTP_PASSWORD)];

    // A dry run lists who has no mail address and sends nothing.
    let r = email(&path, &server, &[], &login);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in &no_mail {
        assert!(r.stdout.contains(name.as_str()), "{name} is listed:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("no mail address in the scan"), "{}", r.stdout);
    assert!(r.stdout.contains("Subject: Replace "), "{}", r.stdout);
    assert!(server.mails().is_empty());

    let r = email(&path, &server, &["--execute", "--yes"], &login);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mails = server.mails();
    let to: BTreeSet<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(to, expected);
    assert_eq!(mails.len(), expected.len(), "one message per owner");
    for m in &mails {
        assert_eq!(m.auth.as_deref(), Some(SMTP_USER));
        assert!(m.from.contains("pat2entra@fabrikam.example"), "{}", m.from);
        let data = m.data.to_ascii_lowercase();
        assert!(data.contains("content-type: multipart/alternative"), "{}", m.data);
        assert!(data.contains("content-type: text/plain"), "{}", m.data);
        assert!(data.contains("content-type: text/html"), "{}", m.data);
        assert!(m.data.contains("Subject: Replace "), "{}", m.data);
    }
    let journal_path = dir.path().join("no-mail.notify-email-journal.jsonl");
    let j = journal(&journal_path);
    assert_eq!(j.header.action, Action::NotifyEmail);
    let skipped: BTreeSet<String> = j
        .last_outcomes()
        .values()
        .filter(|e| e.outcome == Outcome::Skipped && e.reason.as_deref() == Some("no mail address in the scan"))
        .map(|e| e.target.owner_label.clone())
        .collect();
    assert_eq!(skipped, no_mail);
    assert!(r.stderr.contains("skipped") && no_mail.iter().all(|n| r.stderr.contains(n.as_str())), "{}", r.stderr);

    // The same command again: no one is mailed twice.
    let r2 = email(&path, &server, &["--execute", "--yes"], &login);
    assert_eq!(r2.code, 0, "{}", r2.stderr);
    assert_eq!(server.mails().len(), mails.len());

    // No secret in any output, the journal or its report.
    let secrets = [
        SMTP_PASSWORD.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}")),
        base64::engine::general_purpose::STANDARD.encode(SMTP_PASSWORD),
    ];
    let journal_text = std::fs::read_to_string(&journal_path).unwrap();
    let report = run(&["report", "--journal", s(&journal_path), "-o", "html"], &[]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    for secret in &secrets {
        for out in [&r.stdout, &r.stderr, &r2.stdout, &r2.stderr, &journal_text, &report.stdout] {
            assert!(!out.contains(secret.as_str()), "a secret in the output");
        }
    }
    assert!(r.stderr.contains("TRACE") || r.stderr.contains("DEBUG"), "trace logs were on");
}

#[test]
fn a_refused_smtp_login_stops_the_run_and_no_secret_leaks() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    drop(sim);
    let server = SmtpServer::start();
    let wrong = "wrong-smtp-password-5150";
    let r = email(
        &path,
        &server,
        &["--execute", "--yes"],
        &[("PAT2ENTRA_SMTP_USER", SMTP_USER), ("PAT2ENTRA_SMTP_PASSWORD", wrong)],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refused the credentials"), "{}", r.stderr);
    assert!(server.mails().is_empty());
    let journal_text = std::fs::read_to_string(dir.path().join("scan.notify-email-journal.jsonl")).unwrap();
    for out in [&r.stdout, &r.stderr, &journal_text] {
        assert!(!out.contains(wrong), "the password in the output");
    }
    // Credentials from a file; the two sources together are refused; never from the URL.
    let file = dir.path().join("smtp-credentials");
    std::fs::write(&file, format!("{SMTP_USER}\n{SMTP_PASSWORD}\n")).unwrap();
    let r = email(&path, &server, &["--execute", "--yes", "--smtp-credentials", s(&file)], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!server.mails().is_empty());
    let r = email(
        &path,
        &server,
        &["--smtp-credentials", s(&file), "--execute", "--yes"],
        &[("PAT2ENTRA_SMTP_USER", SMTP_USER)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "email",
            "--smtp-url",
            &format!("smtp://u:{wrong}@127.0.0.1:{}", server.port),
            "--smtp-insecure",
            "--from",
            "a@b.example",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("credentials do not go in the URL") && !r.stderr.contains(wrong), "{}", r.stderr);
}

#[test]
fn no_secret_reaches_the_output_of_boards() {
    let sim = TestSim::start(SimConfig { accepted_pat: Some(PAT.into()), leak_secret_fields: true, ..sim_config() });
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    let mut secrets = vec![PAT.to_string(), base64::engine::general_purpose::STANDARD.encode(format!(":{PAT}"))];
    secrets.extend(sim.sim().org().all_tokens().into_iter().flatten().map(|t| t.secret));
    let runs = [boards(&sim, &path, &[]), boards(&sim, &path, &["--execute", "--yes"])];
    assert_eq!(runs[1].code, 0, "{}", runs[1].stderr);
    let refused = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "boards",
            "--project",
            PROJECT,
            "--base-url",
            &sim.base_url(),
            "--execute",
            "--yes",
            "--journal",
            s(&dir.path().join("x.jsonl")),
        ],
        &[("AZURE_DEVOPS_EXT_PAT", "wrong-pat-2718281828"), ("RUST_LOG", "trace")],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    let journal_text = std::fs::read_to_string(dir.path().join("scan.notify-boards-journal.jsonl")).unwrap();
    let descriptions: String = sim.sim().work_items().iter().map(|i| i.description.clone()).collect();
    for secret in &secrets {
        for out in [&runs[0].stdout, &runs[0].stderr, &runs[1].stdout, &runs[1].stderr, &journal_text, &descriptions] {
            assert!(!out.contains(secret.as_str()), "a secret in the output");
        }
        assert!(!refused.stderr.contains("wrong-pat-2718281828"));
    }
}

/// `smtp://` without `--smtp-insecure` must upgrade with STARTTLS: a server that does not offer
/// it gets no credentials and no mail, and the run stops with the journal saying so. (A STARTTLS
/// upgrade itself is not tested here: it needs a certificate the platform verifier trusts, and no
/// certificate generator is among the dependencies.)
#[test]
fn smtp_without_starttls_gets_nothing_not_even_the_credentials() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    drop(sim);
    let server = SmtpServer::start();
    let url = server.url();
    let r = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "email",
            "--smtp-url",
            &url,
            "--from",
            "a@fabrikam.example",
            "--execute",
            "--yes",
        ],
        &[("PAT2ENTRA_SMTP_USER", SMTP_USER), ("PAT2ENTRA_SMTP_PASSWORD", SMTP_PASSWORD)],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("STARTTLS"), "{}", r.stderr);
    let verbs = server.verbs.lock().unwrap().clone();
    assert!(verbs.iter().all(|v| v == "EHLO" || v == "QUIT"), "{verbs:?}");
    assert!(server.mails().is_empty());
    let j = journal(&dir.path().join("scan.notify-email-journal.jsonl"));
    assert_eq!(j.entries.iter().filter(|e| e.outcome == Outcome::Failed).count(), 1, "stopped at the first");
}

/// `--execute` asks for the typed number of owners on a terminal, and without one needs `--yes`.
#[cfg(unix)]
#[test]
fn execute_is_confirmed_by_typing_the_count_or_by_yes() {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    let one = planned(&record(&path)).into_iter().find(|o| o.2).unwrap().0;
    let base = sim.base_url();
    let stats = sim.sim().stats();

    // No terminal, no --yes: refused before anything is sent.
    let requests = stats.requests.load(Ordering::SeqCst);
    let r = run(
        &[
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "boards",
            "--project",
            PROJECT,
            "--base-url",
            &base,
            "--owner",
            &one,
            "--execute",
        ],
        &[("AZURE_DEVOPS_EXT_PAT", PAT)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("needs --yes"), "{}", r.stderr);
    assert_eq!(stats.requests.load(Ordering::SeqCst), requests);

    let confirm = |answer: &str| -> (i32, String) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors it opened; no name, settings or size given.
        let opened =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(opened, 0, "a pseudo-terminal");
        // SAFETY: both descriptors were just opened by openpty and are owned here alone.
        let (master, slave) = unsafe { (std::fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pat2entra"));
        cmd.args([
            "notify",
            s(&path),
            "--org",
            "fabrikam",
            "--via",
            "boards",
            "--project",
            PROJECT,
            "--base-url",
            &base,
            "--owner",
            &one,
            "--execute",
        ])
        .env("PATH", crate::common::path_without_clis(None))
        .env("AZURE_DEVOPS_EXT_PAT", PAT)
        .env("NO_COLOR", "1")
        .stdin(slave.try_clone().unwrap())
        .stderr(slave)
        .stdout(std::process::Stdio::null());
        for name in crate::common::SIGN_IN_VARIABLES.iter().filter(|n| **n != "AZURE_DEVOPS_EXT_PAT") {
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
    assert!(terminal.contains("Type 1 to confirm") && terminal.contains("not confirmed"), "{terminal}");
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), 0);
    let (code, terminal) = confirm("1");
    assert_eq!(code, 0, "{terminal}");
    assert_eq!(stats.work_item_creates.load(Ordering::SeqCst), 1);
}

/// A boards run killed midway and run again: every owner ends with exactly one work item
/// (one planned but unanswered at the kill is found by the query and updated, not duplicated).
#[test]
fn a_killed_run_and_its_rerun_leave_one_item_per_owner() {
    let sim = start();
    let dir = tempfile::tempdir().unwrap();
    let path = scan(&sim, dir.path(), "scan.json");
    let members: BTreeSet<String> = planned(&record(&path)).into_iter().filter(|o| o.2).map(|o| o.0).collect();
    let base = sim.base_url();
    // After three items, creations are throttled: the run waits there, and is killed waiting.
    sim.sim().allow_work_item_creates(Some(3));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args([
        "notify",
        s(&path),
        "--org",
        "fabrikam",
        "--via",
        "boards",
        "--project",
        PROJECT,
        "--base-url",
        &base,
        "--execute",
        "--yes",
    ])
    .env("PATH", crate::common::path_without_clis(None));
    for name in crate::common::SIGN_IN_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.env("AZURE_DEVOPS_EXT_PAT", PAT)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Killed once the fourth owner's creation is told to wait: a point in the run, not a time.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("told to wait") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(sim.sim().work_items().len(), 3, "killed midway");
    let killed = journal(&dir.path().join("scan.notify-boards-journal.jsonl"));
    let in_doubt = killed.last_outcomes().values().filter(|e| e.outcome == Outcome::Planned).count();
    assert_eq!(in_doubt, 1, "one in doubt");
    sim.sim().allow_work_item_creates(None);

    let r = boards(&sim, &path, &["--execute", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let items = sim.sim().work_items();
    let assigned: Vec<String> = items.iter().filter_map(|i| i.assigned_to.clone()).collect();
    assert_eq!(assigned.len(), members.len(), "one item per owner, none duplicated");
    assert_eq!(assigned.into_iter().collect::<BTreeSet<_>>(), members);
    let j = journal(&dir.path().join("scan.notify-boards-journal.jsonl"));
    assert_eq!(j.runs.len(), 2);
    let done = j.last_outcomes().values().filter(|e| e.outcome == Outcome::Done).count();
    assert_eq!(done, members.len());
}
