//! The rule for duplicates and unreadable tokens, end to end: the real binary scans a loopback
//! server that serves hand-written Graph and Token Admin pages, and every output format shows
//! what was resolved.

use crate::common;

use common::{read_json, run};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const PAT: &str = "test-pat-8d1e5b02c7a9f4";
/// A secret in the `token` field of a served token: it must never reach any output.
const SERVED_SECRET: &str = "served-secret-5c2f9e71ab";

/// What the server answers: Graph pages (body, next continuation) and, per owner, Token Admin
/// pages (body; the page after `p{n}` is asked with `continuationToken=p{n}`).
#[derive(Clone, Default)]
struct Org {
    users: Vec<(Value, Option<&'static str>)>,
    tokens: HashMap<&'static str, Vec<Value>>,
}

/// A loopback HTTP/1.1 server (one request per connection) that counts requests per path.
struct Server {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(org: Org) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let org = org.clone();
                let hits = counted.clone();
                std::thread::spawn(move || answer(stream, &org, &hits));
            }
        });
        Server { base, hits }
    }

    /// Requests seen for paths ending in `suffix`.
    fn hits(&self, suffix: &str) -> usize {
        self.hits.lock().unwrap().iter().filter(|(p, _)| p.ends_with(suffix)).map(|(_, n)| n).sum()
    }
}

fn answer(stream: TcpStream, org: &Org, hits: &Mutex<HashMap<String, usize>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string));
    *hits.lock().unwrap().entry(path.to_string()).or_default() += 1;
    let (status, headers, body) = if path.ends_with("/_apis/graph/users") {
        let page = param("continuationToken").and_then(|c| c.strip_prefix('g').and_then(|n| n.parse().ok()));
        let (body, next) = &org.users[page.unwrap_or(0)];
        let next = next.map(|n| format!("x-ms-continuationtoken: {n}\r\n")).unwrap_or_default();
        (200, next, body.to_string())
    } else if let Some(owner) = path.split("/_apis/tokenadmin/personalaccesstokens/").nth(1) {
        let page: usize = param("continuationToken").and_then(|c| c.trim_start_matches('p').parse().ok()).unwrap_or(0);
        match org.tokens.get(owner).and_then(|pages| pages.get(page)) {
            Some(body) => (200, String::new(), body.to_string()),
            None => (404, String::new(), r#"{"message":"no such owner"}"#.to_string()),
        }
    } else {
        (404, String::new(), r#"{"message":"not served"}"#.to_string())
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
}

fn user(descriptor: &str, deleted: bool) -> Value {
    json!({
        "descriptor": descriptor,
        "displayName": descriptor.trim_start_matches("aad."),
        "principalName": format!("{}@contoso.com", descriptor.trim_start_matches("aad.")),
        "origin": "aad",
        "subjectKind": "user",
        "isDeletedInOrigin": deleted,
    })
}

fn token(id: &str, scope: &str, valid_to: &str, target_accounts: Value) -> Value {
    json!({
        "authorizationId": id,
        "displayName": format!("name-{id}"),
        "scope": scope,
        "targetAccounts": target_accounts,
        "validFrom": "2026-11-01T00:00:00Z",
        "validTo": valid_to,
        "isValid": true,
        "isPublic": false,
        "token": SERVED_SECRET,
    })
}

fn page(tokens: Vec<Value>, next: Option<&str>) -> Value {
    json!({ "value": tokens, "continuationToken": next })
}

/// The organization: every case of the rule at once.
/// - `shared-1` is listed under alice (full access, every organization) and bob (narrow).
/// - alice lists `twice-1` on two pages: narrow first, full access on the second page.
/// - carol is listed twice by Graph; the second time deleted in origin.
/// - dave has one good token and three unreadable ones.
fn organization() -> Org {
    let mut org = Org {
        users: vec![
            (
                json!({"count": 3, "value": [user("aad.alice", false), user("aad.bob", false), user("aad.carol", false)]}),
                Some("g1"),
            ),
            (json!({"count": 2, "value": [user("aad.carol", true), user("aad.dave", false)]}), None),
        ],
        tokens: HashMap::new(),
    };
    org.tokens.insert(
        "aad.alice",
        vec![
            page(
                vec![
                    token("shared-1", "app_token", "2027-01-15T00:00:00Z", Value::Null),
                    token("twice-1", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"])),
                ],
                Some("p1"),
            ),
            page(vec![token("twice-1", "app_token", "2027-01-20T00:00:00Z", json!(["org-1"]))], None),
        ],
    );
    org.tokens.insert(
        "aad.bob",
        vec![page(vec![token("shared-1", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"]))], None)],
    );
    org.tokens.insert(
        "aad.carol",
        vec![page(vec![token("carol-1", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"]))], None)],
    );
    let mut far = token("far-1", "vso.code", "10000-01-01T00:00:00Z", json!(["org-1"]));
    far["token"] = json!(SERVED_SECRET);
    let mut text_bool = token("text-bool-1", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"]));
    text_bool["isValid"] = json!("false");
    let mut number_id = token("x", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"]));
    number_id["authorizationId"] = json!(12);
    org.tokens.insert(
        "aad.dave",
        vec![page(
            vec![token("dave-1", "vso.code", "2026-12-20T00:00:00Z", json!(["org-1"])), far, text_bool, number_id],
            None,
        )],
    );
    org
}

struct Scanned {
    server: Server,
    record: Value,
    dir: tempfile::TempDir,
    stderr: String,
}

fn scan() -> Scanned {
    let server = Server::start(organization());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let args = [
        "scan",
        "--org",
        "fabrikam",
        "--base-url",
        &server.base,
        "--as-of",
        "2026-11-26",
        // This server answers the inventory's endpoints only.
        "--evidence",
        "none",
        "-o",
        "json",
        "--out",
        out.to_str().unwrap(),
    ];
    let done = run(&args, &[("AZURE_DEVOPS_EXT_PAT", PAT)]);
    assert_eq!(done.code, 0, "stderr: {}", done.stderr);
    let record = read_json(&out);
    Scanned { server, record, dir, stderr: done.stderr }
}

impl Scanned {
    /// The saved scan rendered in `format` by `pat2entra report`.
    fn report(&self, format: &str, extra: &[&str]) -> String {
        let saved = self.dir.path().join("scan.json");
        let mut args = vec!["report", saved.to_str().unwrap(), "-o", format];
        args.extend_from_slice(extra);
        let done = run(&args, &[]);
        assert_eq!(done.code, 0, "report -o {format}: {}", done.stderr);
        if format == "markdown" {
            // Markdown escapes `_`, `(`, …; the messages hold no backslash of their own.
            return done.stdout.replace('\\', "");
        }
        done.stdout
    }

    fn tokens(&self, owner: &str, id: &str) -> Vec<&Value> {
        self.record["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["owner"] == owner && t["authorization_id"] == id)
            .collect()
    }

    fn rules_of(&self, owner: &str, id: &str) -> Vec<String> {
        let mut rules: Vec<String> = self.record["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["owner"] == owner && f["authorization_id"] == id)
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        rules.sort();
        rules
    }

    fn warnings(&self, kind: &str) -> Vec<&Value> {
        self.record["coverage"]["warnings"].as_array().unwrap().iter().filter(|w| w["kind"] == kind).collect()
    }

    /// The message of the only warning of `kind`, and the text outputs all show it.
    fn shown_everywhere(&self, kind: &str) -> String {
        let warnings = self.warnings(kind);
        assert_eq!(warnings.len(), 1, "{kind}: {warnings:?}");
        let message = warnings[0]["message"].as_str().unwrap().to_string();
        for (format, extra) in [("table", &[][..]), ("markdown", &[]), ("csv", &[]), ("csv", &["--csv-kind", "tokens"])]
        {
            let text = self.report(format, extra);
            assert!(text.contains(&message), "-o {format} {extra:?} lacks '{message}':\n{text}");
            assert!(text.contains(kind), "-o {format} {extra:?} lacks the kind {kind}");
        }
        let html = self.report("html", &[]);
        assert!(html.contains("Coverage warnings") && html.contains(kind), "HTML lacks the warning");
        message
    }
}

#[test]
fn one_authorization_id_under_two_owners_keeps_each_owner_its_own_findings() {
    let scan = scan();
    let c = &scan.record["coverage"];
    assert_eq!(c["complete"], true, "warnings do not make a scan incomplete");
    assert_eq!(scan.tokens("aad.alice", "shared-1").len(), 1);
    assert_eq!(scan.tokens("aad.bob", "shared-1").len(), 1);
    assert_eq!(scan.tokens("aad.alice", "shared-1")[0]["scopes"], json!(["app_token"]));
    assert_eq!(scan.tokens("aad.bob", "shared-1")[0]["scopes"], json!(["vso.code"]));
    // Alice's token is full access in every organization; Bob's is not, and must not say so.
    let alice = scan.rules_of("aad.alice", "shared-1");
    assert!(alice.contains(&"full-access".into()) && alice.contains(&"all-organizations".into()), "{alice:?}");
    let bob = scan.rules_of("aad.bob", "shared-1");
    assert!(!bob.contains(&"full-access".into()) && !bob.contains(&"all-organizations".into()), "{bob:?}");
    // Each owner's usage is its own.
    let usage: Vec<&Value> =
        scan.record["usage"].as_array().unwrap().iter().filter(|u| u["authorization_id"] == "shared-1").collect();
    let mut owners: Vec<&str> = usage.iter().map(|u| u["owner"].as_str().unwrap()).collect();
    owners.sort();
    assert_eq!(owners, ["aad.alice", "aad.bob"]);
    // Two flagged tokens, not one.
    let flagged = scan.record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["owner"].as_str().unwrap(), f["authorization_id"].as_str().unwrap()))
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(scan.record["summary"]["flagged_tokens"], flagged.len());
    let message = scan.shown_everywhere("shared_authorization_id");
    assert!(message.starts_with("authorization id shared-1 listed under owners aad.alice and aad.bob"), "{message}");
    assert_eq!(scan.warnings("shared_authorization_id")[0]["ids"], json!(["shared-1", "aad.alice", "aad.bob"]));
    // The inventory CSV: each owner's row carries its own findings and inferred use.
    let tokens_csv = scan.report("csv", &["--csv-kind", "tokens"]);
    let mut reader = csv::Reader::from_reader(tokens_csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> =
        reader.records().map(Result::unwrap).filter(|r| &r[column("authorization_id")] == "shared-1").collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let full = row[column("rules")].contains("full-access");
        match &row[column("owner_descriptor")] {
            "aad.alice" => assert!(full && &row[column("scopes")] == "app_token"),
            "aad.bob" => assert!(!full && &row[column("scopes")] == "vso.code", "{row:?}"),
            other => panic!("unexpected owner {other}"),
        }
    }
    // The Markdown findings show each owner's token by its own name.
    let markdown = scan.report("markdown", &[]);
    assert!(markdown.contains("name-shared-1"));
    assert!(scan.stderr.contains("coverage warnings"), "{}", scan.stderr);
}

#[test]
fn two_versions_of_one_token_keep_the_worst_for_risk_and_say_so() {
    let scan = scan();
    let kept = scan.tokens("aad.alice", "twice-1");
    assert_eq!(kept.len(), 1, "one token, not two");
    assert_eq!(kept[0]["scopes"], json!(["app_token"]), "the full-access version on the second page wins");
    assert_eq!(kept[0]["valid_to"], "2027-01-20T00:00:00Z");
    assert!(scan.rules_of("aad.alice", "twice-1").contains(&"full-access".into()));
    let message = scan.shown_everywhere("duplicate_token");
    assert_eq!(
        message,
        "token twice-1 of owner aad.alice listed 2 times with different contents; kept one, the version worst for risk"
    );
    assert_eq!(scan.server.hits("/personalaccesstokens/aad.alice"), 2, "two pages, each asked once");
}

#[test]
fn an_owner_listed_twice_is_scanned_once_as_deleted_in_origin() {
    let scan = scan();
    let owners: Vec<&Value> =
        scan.record["owners"].as_array().unwrap().iter().filter(|o| o["descriptor"] == "aad.carol").collect();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0]["deleted_in_origin"], true, "the later version says deleted in origin: it wins");
    assert_eq!(scan.record["coverage"]["owners_listed"], 4);
    assert_eq!(scan.server.hits("/personalaccesstokens/aad.carol"), 1);
    assert_eq!(scan.tokens("aad.carol", "carol-1").len(), 1);
    assert!(scan.rules_of("aad.carol", "carol-1").contains(&"owner-removed".into()));
    let message = scan.shown_everywhere("duplicate_owner");
    assert!(message.starts_with("owner aad.carol listed 2 times by Graph"), "{message}");
}

#[test]
fn an_unreadable_field_costs_one_token_not_the_page_and_is_not_retried() {
    let scan = scan();
    let c = &scan.record["coverage"];
    assert_eq!(c["owners_failed"], json!([]), "dave's page was read");
    assert_eq!(scan.server.hits("/personalaccesstokens/aad.dave"), 1, "nothing to retry");
    assert_eq!(scan.tokens("aad.dave", "dave-1")[0].get("unreadable"), None);
    assert_eq!(scan.rules_of("aad.dave", "dave-1"), Vec::<String>::new());
    let reason = |id: &str| scan.tokens("aad.dave", id)[0]["unreadable"].as_str().unwrap().to_string();
    assert!(reason("far-1").starts_with("validTo: '10000-01-01T00:00:00Z' is not a timestamp"), "{}", reason("far-1"));
    assert_eq!(reason("text-bool-1"), "isValid: expected true or false, got a string");
    assert_eq!(reason("unreadable-1"), "authorizationId: expected a string, got a number");
    for id in ["far-1", "text-bool-1", "unreadable-1"] {
        assert_eq!(scan.rules_of("aad.dave", id), ["unreadable-token"], "{id} is judged as unknown, not guessed");
    }
    let high: Vec<&Value> =
        scan.record["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "unreadable-token").collect();
    assert!(high.iter().all(|f| f["severity"] == "high"));
    let rules = scan.record["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "unreadable-token"), "reports can explain the finding");
    let warnings = scan.warnings("unreadable_token");
    assert_eq!(warnings.len(), 3);
    let table = scan.report("table", &[]);
    let csv = scan.report("csv", &[]);
    let markdown = scan.report("markdown", &[]);
    for w in &warnings {
        let message = w["message"].as_str().unwrap();
        assert!(message.contains("of owner aad.dave could not be read"), "{message}");
        assert!(table.contains(message) && csv.contains(message) && markdown.contains(message), "{message}");
    }
    let explained = run(&["explain", "unreadable-token"], &[]);
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    assert!(explained.stdout.contains("could not be read"), "{}", explained.stdout);
    // A --fail-on high gate sees the unknown tokens.
    let saved = scan.dir.path().join("scan.json");
    let gated = run(&["report", saved.to_str().unwrap(), "--fail-on", "high"], &[]);
    assert_eq!(gated.code, 1);
    // The served secret never reached the record or any report.
    let record = std::fs::read_to_string(&saved).unwrap();
    assert!(!record.contains(SERVED_SECRET));
    for format in ["table", "markdown", "csv", "html"] {
        assert!(!scan.report(format, &[]).contains(SERVED_SECRET), "{format}");
    }
    assert!(!scan.stderr.contains(SERVED_SECRET));
}
