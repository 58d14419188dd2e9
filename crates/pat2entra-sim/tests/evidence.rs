//! The simulator's evidence endpoints over real HTTP: the shapes of Microsoft's examples, paging,
//! the audit window limit, the options that deny a source or switch auditing off, and the
//! seeded truth they serve.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pat2entra_sim::shape::{assert_same_shape, kind};
use pat2entra_sim::{AuditOff, Faults, SimConfig, SimHandle, Source};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ado-api");
const VERSIONS: [&str; 2] = ["7.1", "7.2"];

fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn config(users: usize) -> SimConfig {
    SimConfig { anchor: anchor(), users, ..SimConfig::default() }
}

async fn start(config: SimConfig) -> SimHandle {
    pat2entra_sim::start(config, 0).await.expect("the simulator starts on loopback")
}

/// One client for every request (building one per request costs more than the request).
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        // No pooled connections: each test has its own runtime and simulator.
        reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client")
    });
    &CLIENT
}

/// GET with the query pairs URL-encoded (as a correct client sends them).
async fn get(sim: &SimHandle, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.base_url()))
        .query(query)
        .basic_auth("", Some("any"))
        .send()
        .await
        .expect("the simulator answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The `200` body of a spec example file (which starts with a UTF-8 BOM).
fn example_body(relative: &str) -> Value {
    let path = Path::new(FIXTURES).join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let example: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    example["responses"]["200"]["body"].clone()
}

/// Every page of User Entitlements, following the body's continuation token.
async fn all_entitlements(sim: &SimHandle) -> (Vec<Value>, Vec<String>) {
    let (mut items, mut tokens) = (Vec::new(), Vec::new());
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("api-version", "7.1")];
        if let Some(t) = &token {
            query.push(("continuationToken", t));
        }
        let (status, page) = get(sim, "/fabrikam/_apis/userentitlements", &query).await;
        assert_eq!(status, 200, "{page}");
        let total = page["totalCount"].as_u64().expect("totalCount");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["continuationToken"].as_str() {
            Some(t) => {
                tokens.push(t.to_string());
                token = Some(t.to_string());
            }
            None => {
                assert_eq!(items.len() as u64, total, "totalCount counts every item");
                return (items, tokens);
            }
        }
    }
}

#[tokio::test]
async fn user_entitlements_page_with_a_token_that_needs_encoding_in_the_examples_shape() {
    let sim = start(SimConfig { entitlements_page_size: 40, ..config(300) }).await;
    let truth = sim.org().seeded_evidence();
    let (items, tokens) = all_entitlements(&sim).await;
    assert!(tokens.len() >= 7, "{} pages", tokens.len() + 1);

    let examples: Vec<Value> = VERSIONS
        .iter()
        .map(|v| {
            example_body(&format!(
                "memberEntitlementManagement/{v}/httpExamples/UserEntitlements/GET__memberEntitlementManagement_UserEntitlementById.json"
            ))
        })
        .collect();
    // `dateCreated` is in the schema (`EntitlementBase`), not in the example.
    assert_same_shape("UserEntitlement", &items, &examples, &[("dateCreated", "string")]);
    let access: Vec<Value> = items.iter().map(|i| i["accessLevel"].clone()).collect();
    let example_access: Vec<Value> = examples.iter().map(|e| e["accessLevel"].clone()).collect();
    assert_same_shape("AccessLevel", &access, &example_access, &[]);

    // Every member once, with the seeded last access; "never" as Microsoft writes it.
    let mut seen = BTreeMap::new();
    for item in &items {
        let descriptor = item["user"]["descriptor"].as_str().unwrap().to_string();
        assert!(sim.org().user_index(&descriptor).is_some(), "the Graph descriptor");
        let last = item["lastAccessedDate"].as_str().unwrap().to_string();
        assert!(seen.insert(descriptor, last).is_none(), "listed once");
    }
    assert_eq!(seen.keys().collect::<BTreeSet<_>>(), truth.last_accessed.keys().collect::<BTreeSet<_>>());
    assert!(truth.not_members.iter().all(|d| !seen.contains_key(d)), "removed owners have no entitlement");
    for d in truth.never_signed_in() {
        assert_eq!(seen[d], "0001-01-01T00:00:00Z");
    }
    for (d, at) in &truth.last_accessed {
        if let Some(t) = at.at() {
            assert_eq!(DateTime::parse_from_rfc3339(&seen[d]).unwrap(), t, "{d}");
        }
    }

    // The token carries characters a query must encode; sent raw, it is refused.
    let token = &tokens[0];
    assert!(['+', '/', '=', ':', '#'].iter().all(|c| token.contains(*c)), "{token}");
    let raw = client()
        .get(format!("{}/fabrikam/_apis/userentitlements?continuationToken={token}&api-version=7.1", sim.base_url()))
        .basic_auth("", Some("any"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400, "an unencoded token is not valid");
}

#[tokio::test]
async fn membership_states_tell_removed_owners_from_members() {
    let sim = start(config(300)).await;
    let truth = sim.org().seeded_evidence();
    assert!(truth.not_members.len() >= 2);
    let member = sim.org().users().find(|u| !truth.not_members.contains(&u.descriptor)).unwrap();
    let mut answers = Vec::new();
    for d in truth.not_members.iter().chain([&member.descriptor]) {
        let (status, body) =
            get(&sim, &format!("/fabrikam/_apis/graph/membershipstates/{d}"), &[("api-version", "7.1-preview.1")])
                .await;
        assert_eq!(status, 200);
        assert_eq!(body["active"], Value::Bool(!truth.not_members.contains(d)), "{d}");
        answers.push(body);
    }
    // `GraphMembershipState` in `graph/7.1/graph.json` (no example): `_links` and `active`.
    for body in &answers {
        let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["_links", "active"].into());
        assert!(body["_links"]["self"]["href"].is_string());
    }
    let (status, body) = get(&sim, "/fabrikam/_apis/graph/membershipstates/aad.bm9ib2R5", &[]).await;
    assert_eq!((status, body["typeKey"].as_str()), (404, Some("GraphSubjectNotFoundException")));
}

#[tokio::test]
async fn token_admin_answers_for_removed_owners_service_identities_and_ssh_keys() {
    let sim = start(SimConfig { leak_secret_fields: true, removed_owners_not_found: true, ..config(300) }).await;
    let org = sim.org();
    let truth = org.seeded_evidence();
    let path = |d: &str| format!("/fabrikam/_apis/tokenadmin/personalaccesstokens/{d}");
    assert!(!truth.token_admin_not_found.is_empty());
    for d in &truth.token_admin_not_found {
        assert_eq!(get(&sim, &path(d), &[]).await.0, 404, "{d}");
    }
    let removed_with_tokens = truth.not_members.difference(&truth.token_admin_not_found).next().expect("one");
    let (status, page) = get(&sim, &path(removed_with_tokens), &[("isPublic", "false")]).await;
    assert_eq!(status, 200);
    assert!(!page["value"].as_array().unwrap().is_empty(), "a removed owner's PATs are listed");
    for d in &truth.cannot_own_tokens {
        assert_eq!(get(&sim, &path(d), &[]).await.0, 400, "{d}");
    }

    // SSH keys: kind ssh, the public key in publicData, never a secret.
    assert!(truth.ssh_keys.len() >= 10, "{}", truth.ssh_keys.len());
    let mut keys = Vec::new();
    for owner in truth.ssh_keys.iter().map(|id| &truth.owner_of[id]).collect::<BTreeSet<_>>() {
        let (status, page) = get(&sim, &path(owner), &[("isPublic", "true"), ("pageSize", "100")]).await;
        assert_eq!(status, 200);
        keys.extend(page["value"].as_array().unwrap().iter().cloned());
    }
    let ids: BTreeSet<String> = keys.iter().map(|k| k["authorizationId"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, truth.ssh_keys);
    for k in &keys {
        assert_eq!(k["isPublic"], true);
        assert!(k["publicData"].as_str().unwrap().starts_with("ssh-"));
        assert!(k["token"].is_null() && k["alternateToken"].is_null(), "no secret for an SSH key");
    }
    let long_lived = keys.iter().filter(|k| {
        let from = DateTime::parse_from_rfc3339(k["validFrom"].as_str().unwrap()).unwrap();
        let to = DateTime::parse_from_rfc3339(k["validTo"].as_str().unwrap()).unwrap();
        to - from > Duration::days(365 * 2)
    });
    assert!(long_lived.count() > 0, "some keys are long-lived");
    let examples: Vec<Value> = VERSIONS
        .iter()
        .flat_map(|v| {
            example_body(&format!(
                "tokenAdmin/{v}/httpExamples/personalAccessTokens/GetPersonalAccessTokensForAUserInYourOrganization.json"
            ))["value"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    assert_same_shape("SessionToken (ssh)", &keys, &examples, &[]);
    // PATs stay as they were: isPublic false, no publicData.
    let (_, pats) = get(&sim, &path(&org.user(0).unwrap().descriptor), &[]).await;
    assert!(pats["value"].as_array().unwrap().iter().all(|t| t["isPublic"] == false && t["publicData"].is_null()));
}

/// Every audit entry in [start, end), sliced into windows of `slice_days`, `batch` a page.
async fn read_audit(
    sim: &SimHandle,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    slice_days: i64,
    batch: usize,
) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut slice_end = end;
    while slice_end > start {
        let slice_start = (slice_end - Duration::days(slice_days)).max(start);
        let mut token: Option<String> = None;
        loop {
            let (s, e, b) = (slice_start.to_rfc3339(), slice_end.to_rfc3339(), batch.to_string());
            let mut query = vec![("startTime", s.as_str()), ("endTime", e.as_str()), ("batchSize", b.as_str())];
            if let Some(t) = &token {
                query.push(("continuationToken", t.as_str()));
            }
            query.push(("api-version", "7.1-preview.1"));
            let (status, page) = get(sim, "/fabrikam/_apis/audit/auditlog", &query).await;
            assert_eq!(status, 200, "{page}");
            let got = page["decoratedAuditLogEntries"].as_array().unwrap();
            assert!(got.len() <= batch);
            entries.extend(got.iter().cloned());
            if page["hasMore"] != true {
                break;
            }
            token = Some(page["continuationToken"].as_str().expect("a token while hasMore").to_string());
        }
        slice_end = slice_start;
    }
    entries
}

#[tokio::test]
async fn audit_pages_of_one_and_two_return_every_event_exactly_once() {
    let sim = start(config(20)).await;
    let log = sim.org().audit_log();
    let (start, end) = (anchor() - Duration::days(90), anchor());
    let expected: Vec<&str> = log.iter().map(|e| e.id.as_str()).collect();
    assert!(expected.len() > 30, "{} entries", expected.len());
    for batch in [1, 2] {
        let entries = read_audit(&sim, start, end, 30, batch).await;
        let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected, "batch {batch}: every event once, newest first");
    }
    // A slice in the middle returns exactly the entries of its window.
    let (from, to) = (anchor() - Duration::days(45), anchor() - Duration::days(20));
    let entries = read_audit(&sim, from, to, 25, 7).await;
    let want: Vec<&str> =
        log.iter().filter(|e| e.timestamp >= from && e.timestamp < to).map(|e| e.id.as_str()).collect();
    assert_eq!(entries.iter().map(|e| e["id"].as_str().unwrap()).collect::<Vec<_>>(), want);
}

#[tokio::test]
async fn audit_windows_over_the_limit_and_bad_arguments_are_refused() {
    let sim = start(config(20)).await;
    let q = |days: i64| ((anchor() - Duration::days(days)).to_rfc3339(), anchor().to_rfc3339());
    let path = "/fabrikam/_apis/audit/auditlog";
    let (s, e) = q(90);
    let (status, body) = get(&sim, path, &[("startTime", &s), ("endTime", &e)]).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("31 days"), "{body}");
    let (s, e) = q(31);
    assert_eq!(get(&sim, path, &[("startTime", &s), ("endTime", &e)]).await.0, 200, "31 days are accepted");
    assert_eq!(get(&sim, path, &[("startTime", &e), ("endTime", &s)]).await.0, 400, "start after end");
    assert_eq!(get(&sim, path, &[("batchSize", "0")]).await.0, 400);
    assert_eq!(get(&sim, path, &[("continuationToken", "nonsense")]).await.0, 400);
    // An unencoded '+' in the offset arrives as a space: not a time.
    let raw = format!("{}{path}?startTime=2026-11-01T00:00:00+00:00", sim.base_url());
    let r = client().get(raw).basic_auth("", Some("any")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The batch size is capped.
    let sim = start(SimConfig {
        audit_max_batch: 3,
        audit_max_window: std::time::Duration::from_secs(95 * 86_400),
        ..config(40)
    })
    .await;
    let (s, e) = q(90);
    let (_, page) = get(&sim, path, &[("startTime", &s), ("endTime", &e), ("batchSize", "500")]).await;
    assert_eq!(page["decoratedAuditLogEntries"].as_array().unwrap().len(), 3);
    assert_eq!(page["hasMore"], true);
}

#[tokio::test]
async fn audit_entries_have_the_examples_shape_and_name_the_tokens() {
    let sim = start(config(300)).await;
    let truth = sim.org().seeded_evidence();
    let entries = read_audit(&sim, anchor() - Duration::days(90), anchor(), 31, 1000).await;
    let examples: Vec<Value> = VERSIONS
        .iter()
        .flat_map(|v| {
            example_body(&format!("audit/{v}/httpExamples/auditLog/GET__AuditLog_QueryLog_by_date.json"))["value"]
                ["decoratedAuditLogEntries"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    // `actorUPN`, `projectId` and `projectName` are in the schema (`DecoratedAuditLogEntry`).
    assert_same_shape(
        "DecoratedAuditLogEntry",
        &entries,
        &examples,
        &[("actorUPN", "string|null"), ("projectId", "string"), ("projectName", "string|null")],
    );
    let example_page =
        example_body("audit/7.1/httpExamples/auditLog/GET__AuditLog_QueryLog_by_date.json")["value"].clone();
    let (_, page) = get(&sim, "/fabrikam/_apis/audit/auditlog", &[("batchSize", "1")]).await;
    let keys = |v: &Value| v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), kind(v))).collect::<BTreeMap<_, _>>();
    assert_eq!(keys(&page), keys(&example_page), "the page's fields at the top level");

    let actions: BTreeSet<&str> = entries.iter().map(|e| e["actionId"].as_str().unwrap()).collect();
    for action in [
        "Token.PatCreateEvent",
        "Token.PatUpdateEvent",
        "Token.PatRevokeEvent",
        "Token.PatExpiredEvent",
        "Token.PatSystemRevokeEvent",
        "Token.PatPublicDiscoveryEvent",
        "Token.SshCreateEvent",
        "Token.SshRevokeEvent",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions:?}");
    }
    // Leaks name the token in `data`; uses name it in `authenticationMechanism`.
    let leaked: BTreeSet<String> = entries
        .iter()
        .filter(|e| e["actionId"] == "Token.PatPublicDiscoveryEvent")
        .map(|e| e["data"]["AuthorizationId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(leaked, truth.leaked);
    let mut last_use: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for e in &entries {
        let mechanism = e["authenticationMechanism"].as_str().unwrap();
        if let Some((_, id)) = mechanism.split_once("authorizationId:") {
            assert!(mechanism.starts_with("PAT_Unscoped "));
            let at = DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap().with_timezone(&Utc);
            let slot = last_use.entry(id.trim().to_string()).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
    assert_eq!(
        last_use,
        truth.last_seen.iter().map(|(id, s)| (id.clone(), s.at)).collect(),
        "last seen = last audited use"
    );
}

#[tokio::test]
async fn tenant_policies_answer_in_the_shape_adops_reads() {
    let sim = start(config(20)).await;
    let truth = sim.org().seeded_evidence();
    let p = &truth.policies;
    for (name, value) in [
        ("RestrictGlobalPersonalAccessToken", p.restrict_global_pat),
        ("RestrictFullScopePersonalAccessToken", p.restrict_full_scope_pat),
        ("RestrictPersonalAccessTokenLifespan", p.restrict_pat_lifespan),
        ("EnableLeakedPersonalAccessTokenAutoRevocation", p.leaked_pat_auto_revocation),
    ] {
        let (status, body) =
            get(&sim, &format!("/fabrikam/_apis/TenantPolicy/Policies/TenantPolicy.{name}"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(body["name"], format!("TenantPolicy.{name}"));
        assert_eq!(body["value"].as_bool(), value);
        assert!(body["properties"].is_object());
        if name == "RestrictPersonalAccessTokenLifespan" {
            assert_eq!(body["properties"]["MaxPatLifespanInDays"].as_u64(), p.max_pat_lifespan_days.map(u64::from));
        }
    }
    assert!(!truth.policies_off().is_empty(), "some policies are off");
    assert_eq!(get(&sim, "/fabrikam/_apis/TenantPolicy/Policies/TenantPolicy.Nope", &[]).await.0, 404);
}

#[tokio::test]
async fn denied_sources_answer_401_and_auditing_off_answers_as_documented() {
    let deny: std::collections::HashSet<Source> = Source::ALL.into_iter().collect();
    let sim = start(SimConfig { deny, ..config(60) }).await;
    let owner = sim.org().seeded_evidence().ssh_keys.first().map(|id| sim.org().seeded_evidence().owner_of[id].clone());
    let owner = owner.expect("an owner of SSH keys");
    for (path, query) in [
        ("/fabrikam/_apis/userentitlements".to_string(), vec![]),
        (format!("/fabrikam/_apis/graph/membershipstates/{owner}"), vec![]),
        ("/fabrikam/_apis/audit/auditlog".to_string(), vec![]),
        ("/fabrikam/_apis/TenantPolicy/Policies/TenantPolicy.RestrictGlobalPersonalAccessToken".to_string(), vec![]),
        (format!("/fabrikam/_apis/tokenadmin/personalaccesstokens/{owner}"), vec![("isPublic", "true")]),
    ] {
        let (status, body) = get(&sim, &path, &query).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["typeKey"], "UnauthorizedRequestException");
        for key in ["$id", "innerException", "message", "typeName", "errorCode", "eventId"] {
            assert!(body.get(key).is_some(), "{path}: {key}");
        }
    }
    // PATs are still listed.
    let (status, _) = get(&sim, &format!("/fabrikam/_apis/tokenadmin/personalaccesstokens/{owner}"), &[]).await;
    assert_eq!(status, 200);

    let sim = start(SimConfig { audit_off: Some(AuditOff::Refuse), ..config(20) }).await;
    let (status, body) = get(&sim, "/fabrikam/_apis/audit/auditlog", &[]).await;
    assert_eq!((status, body["typeKey"].as_str()), (403, Some("AuditLogNotEnabledException")));
    let sim = start(SimConfig { audit_off: Some(AuditOff::Empty), ..config(20) }).await;
    let (status, body) = get(&sim, "/fabrikam/_apis/audit/auditlog", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["decoratedAuditLogEntries"], serde_json::json!([]));
    assert_eq!(body["hasMore"], false);
}

#[tokio::test]
async fn faults_reach_the_evidence_endpoints() {
    let sim = start(SimConfig {
        faults: Faults { throttle_rate: 1.0, retry_after: std::time::Duration::from_secs(1), ..Faults::default() },
        ..config(20)
    })
    .await;
    let member = sim.org().user(1).unwrap().descriptor;
    for path in [
        "/fabrikam/_apis/userentitlements".to_string(),
        format!("/fabrikam/_apis/graph/membershipstates/{member}"),
        "/fabrikam/_apis/audit/auditlog".to_string(),
        "/fabrikam/_apis/TenantPolicy/Policies/TenantPolicy.RestrictGlobalPersonalAccessToken".to_string(),
    ] {
        assert_eq!(get(&sim, &path, &[]).await.0, 429, "{path}");
    }
    let sim = start(SimConfig { faults: Faults { reset_rate: 1.0, ..Faults::default() }, ..config(20) }).await;
    let dropped = client()
        .get(format!("{}/fabrikam/_apis/audit/auditlog", sim.base_url()))
        .basic_auth("", Some("any"))
        .send()
        .await;
    assert!(dropped.is_err(), "the connection is dropped");
}

#[test]
fn the_seed_holds_every_kind_of_evidence() {
    for users in [20, 60, 300] {
        let mut org = pat2entra_sim::SimOrg::generate("fabrikam", 42, users, anchor(), None);
        assert!(org.seeded_evidence().token_admin_not_found.is_empty(), "404s only when asked for");
        org.removed_owners_not_found = true;
        let t = org.seeded_evidence();
        assert!(t.not_members.len() >= 2, "{users}: removed owners");
        assert!(!t.token_admin_not_found.is_empty(), "{users}: a removed owner Token Admin does not find");
        assert!(
            t.not_members.iter().any(|d| !t.token_admin_not_found.contains(d)),
            "{users}: a removed owner with PATs"
        );
        assert!(!t.never_signed_in().is_empty(), "{users}: never signed in");
        let idle = t.inactive(90, anchor());
        assert!(idle.len() > t.never_signed_in().len(), "{users}: idle owners");
        let with_tokens: BTreeSet<&String> = t.owner_of.values().collect();
        assert!(idle.iter().any(|d| with_tokens.contains(&d.to_string())), "{users}: an idle owner owns a PAT");
        assert!(!t.leaked.is_empty(), "{users}: a leaked PAT");
        assert!(!t.last_seen.is_empty(), "{users}: PATs seen in use");
        let pats = t.owner_of.keys().filter(|id| !t.ssh_keys.contains(*id));
        assert!(pats.filter(|id| !t.last_seen.contains_key(*id)).count() > 0, "{users}: PATs never seen");
        assert!(!t.cannot_own_tokens.is_empty());
        assert_eq!(t.policies_off().len(), 2);
    }
    let org = pat2entra_sim::SimOrg::generate("fabrikam", 42, 300, anchor(), None);
    let kinds: BTreeSet<String> = org.users().map(|u| u.subject_type().to_string()).collect();
    assert_eq!(kinds, ["aad", "bnd", "csp", "msa", "svc"].map(String::from).into());
    for u in org.users().filter(|u| matches!(u.subject_type(), "csp" | "bnd")) {
        assert!(!org.tokens_of(org.user_index(&u.descriptor).unwrap()).is_empty(), "csp/bnd users own PATs");
    }
    assert_eq!(org.seeded_evidence(), org.seeded_evidence(), "same seed, same evidence");
}
