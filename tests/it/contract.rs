//! Contract tests: Microsoft's published example responses parse into our wire models, and the
//! simulator answers in the same shapes (field names, JSON types, paging).

use crate::common;

use common::{TestSim, sim_config};
use pat2entra::ado::wire::{
    AuditLogPage, AuditRecord, Collection, GraphUser, SessionToken, TokenAdminPage, UserEntitlement,
    UserEntitlementsPage,
};
use pat2entra::sim::shape::assert_same_shape;
use pat2entra_core::evidence::{CredentialKind, LastAccessed};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ado-api");
const VERSIONS: [&str; 2] = ["7.1", "7.2"];

/// The `200` body of a spec example file (which starts with a UTF-8 BOM).
fn example_body(relative: &str) -> Value {
    let path = Path::new(FIXTURES).join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let example: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    example["responses"]["200"]["body"].clone()
}

#[test]
fn graph_user_examples_parse() {
    for v in VERSIONS {
        let body = example_body(&format!("graph/{v}/httpExamples/Users/GetAllUsers.json"));
        let page: Collection<GraphUser> = serde_json::from_value(body.clone()).expect("GetAllUsers parses");
        assert_eq!(page.value.len(), body["value"].as_array().unwrap().len());
        assert_eq!(page.count, Some(page.value.len() as u64));
        let owners: Vec<_> = page.value.into_iter().map(GraphUser::into_owner).collect();
        let jamal = owners.iter().find(|o| o.display_name == "Jamal Hartnett").expect("Jamal is in the example");
        assert_eq!(jamal.principal_name, "fabrikamfiber4@hotmail.com");
        assert_eq!(jamal.origin, "aad");
        assert!(jamal.descriptor.starts_with("aad."));
        assert!(!jamal.deleted_in_origin);
        // `mailAddress: ""` means no mail.
        assert!(owners.iter().any(|o| o.mail.is_none()));

        let single: GraphUser =
            serde_json::from_value(example_body(&format!("graph/{v}/httpExamples/Users/GetUserAAD.json")))
                .expect("GetUserAAD parses");
        assert!(single.descriptor.starts_with("aad."));
    }
}

#[test]
fn token_admin_examples_parse() {
    for v in VERSIONS {
        let body = example_body(&format!(
            "tokenAdmin/{v}/httpExamples/personalAccessTokens/GetPersonalAccessTokensForAUserInYourOrganization.json"
        ));
        let page: TokenAdminPage = serde_json::from_value(body).expect("Token Admin page parses");
        assert_eq!(page.value.len(), 3);
        assert_eq!(page.continuation_token, None);
        let tokens: Vec<_> = page.value.into_iter().map(|t| t.into_token("msa.owner")).collect();
        assert!(tokens[0].is_full_access(), "scope app_token is full access");
        assert_eq!(tokens[1].scopes, ["vso.dashboards", "vso.taskgroups_manage"]);
        // targetAccounts: null means valid in all organizations.
        assert!(tokens.iter().all(|t| t.all_organizations && t.target_accounts.is_empty()));
        // Zone-less timestamps are UTC.
        assert_eq!(tokens[0].valid_from.unwrap().to_rfc3339(), "2018-07-19T00:00:00+00:00");
        assert!(tokens.iter().all(|t| t.is_valid && t.owner == "msa.owner"));
    }
}

#[test]
fn pat_list_examples_parse_as_session_tokens() {
    for v in VERSIONS {
        let body = example_body(&format!("tokens/{v}/httpExamples/Pats/ListPats.json"));
        assert_eq!(body["continuationToken"], "", "the example ends paging with an empty string");
        let items: Vec<SessionToken> = serde_json::from_value(body["patTokens"].clone()).expect("PatToken items parse");
        let tokens: Vec<_> = items.into_iter().map(|t| t.into_token("aad.x")).collect();
        let all_access = tokens.iter().find(|t| t.display_name == "all_access_token").unwrap();
        assert!(all_access.all_organizations && all_access.is_full_access());
        let work = tokens.iter().find(|t| t.display_name == "work_token").unwrap();
        assert!(!work.all_organizations);
        assert_eq!(*work.target_accounts, [pat2entra::Text::from("38aaa865-2c70-4bf7-a308-0c6539c38c1a")]);
        // Seven fractional digits.
        assert_eq!(all_access.valid_to.unwrap().to_rfc3339(), "2020-11-23T04:04:38.523333300+00:00");
    }
}

#[test]
fn audit_log_examples_parse() {
    for v in VERSIONS {
        let body = example_body(&format!("audit/{v}/httpExamples/auditLog/GET__AuditLog_QueryLog_by_date.json"));
        // The example nests the result under `value`; the same result at the top level reads alike.
        for body in [body.clone(), body["value"].clone()] {
            let page =
                serde_json::from_value::<AuditLogPage>(body).expect("QueryLog parses").normalized().expect("entries");
            assert_eq!(page.has_more, Some(false));
            assert!(page.continuation_token.as_deref().is_some_and(|c| c.contains(';')));
            let records: Vec<AuditRecord> = page
                .decorated_audit_log_entries
                .expect("entries")
                .into_iter()
                .map(|e| e.into_record().expect("every example entry reads"))
                .collect();
            assert_eq!(records.len(), 2);
            assert_eq!(records[0].action, "AuditLog.AccessLog");
            assert_eq!(records[0].at.to_rfc3339(), "2019-03-05T14:05:02.146083800+00:00");
            assert_eq!(records[0].actor.as_deref(), Some("Norman Paulk"));
            // FedAuth and an empty mechanism name no PAT.
            assert!(records.iter().all(|r| r.pat_used.is_none()));
            // "Azure DevOps Service" is the service itself: no actor.
            assert_eq!(records[1].action, "Project.CreateCompleted");
            assert_eq!(records[1].actor, None);
            assert_ne!(records[0].key, records[1].key, "entries are told apart by their id");
        }
    }
}

#[test]
fn user_entitlement_examples_parse() {
    for v in VERSIONS {
        let body = example_body(&format!(
            "memberEntitlementManagement/{v}/httpExamples/UserEntitlements/GET__memberEntitlementManagement_UserEntitlementById.json"
        ));
        let activity = serde_json::from_value::<UserEntitlement>(body.clone())
            .expect("UserEntitlement parses")
            .into_activity()
            .expect("it names its user");
        assert!(activity.descriptor.starts_with("aad."));
        // `0001-01-01T00:00:00Z` is "never signed in".
        assert_eq!(activity.last_accessed, Some(LastAccessed::Never));
        let level = activity.access_level.expect("accessLevel");
        assert_eq!((level.status.as_str(), level.license.as_deref()), ("active", Some("Stakeholder")));
        // The listing (`PagedGraphMemberList`) carries such entries under `items`.
        let page: UserEntitlementsPage = serde_json::from_value(serde_json::json!({
            "items": [body], "continuationToken": "a+b/c=", "totalCount": 1
        }))
        .expect("the listing parses");
        assert_eq!(page.continuation_token.as_deref(), Some("a+b/c="));
        assert_eq!(page.entries().len(), 1);
    }
}

#[test]
fn token_admin_examples_parse_as_ssh_keys() {
    for v in VERSIONS {
        let body = example_body(&format!(
            "tokenAdmin/{v}/httpExamples/personalAccessTokens/GetPersonalAccessTokensForAUserInYourOrganization.json"
        ));
        let page: TokenAdminPage = serde_json::from_value(body).expect("Token Admin page parses");
        let keys: Vec<_> = page.value.into_iter().map(|t| t.into_ssh_key("aad.owner")).collect();
        assert_eq!(keys.len(), 3);
        assert!(keys.iter().all(|k| k.kind == CredentialKind::Ssh && k.owner == "aad.owner"));
    }
}

fn get(sim: &TestSim, path_and_query: &str) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let url = format!("{}{}", sim.base_url(), path_and_query);
    sim.block_on(async {
        let r = reqwest::Client::new().get(&url).basic_auth("", Some("any")).send().await.expect("simulator answers");
        let status = r.status();
        let headers = r.headers().clone();
        let body: Value = r.json().await.expect("JSON body");
        (status, headers, body)
    })
}

#[test]
fn simulator_answers_in_the_examples_shapes() {
    let sim = TestSim::start(pat2entra::sim::SimConfig { graph_page_size: 10, ..sim_config() });

    let (status, headers, users) =
        get(&sim, "/fabrikam/_apis/graph/users?subjectTypes=aad,msa&api-version=7.1-preview.1");
    assert_eq!(status, 200);
    assert!(headers.get("x-ms-continuationtoken").is_some(), "Graph pages through the X-MS-ContinuationToken header");
    assert_eq!(users["count"].as_u64(), Some(10));
    let example_users: Vec<Value> = VERSIONS
        .iter()
        .flat_map(|v| {
            example_body(&format!("graph/{v}/httpExamples/Users/GetAllUsers.json"))["value"].as_array().unwrap().clone()
        })
        .collect();
    let sim_users = users["value"].as_array().unwrap();
    assert_same_shape("GraphUser", sim_users, &example_users, &[("isDeletedInOrigin", "bool")]);
    let link_keys = |u: &Value| u["_links"].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(link_keys(&sim_users[0]), link_keys(&example_users[1]));

    // Token Admin for every owner on the first page: same fields as the examples, paging in the body.
    let example_tokens: Vec<Value> = VERSIONS
        .iter()
        .flat_map(|v| {
            example_body(&format!(
                "tokenAdmin/{v}/httpExamples/personalAccessTokens/GetPersonalAccessTokensForAUserInYourOrganization.json"
            ))["value"]
                .as_array()
                .unwrap()
                .clone()
        })
        .chain(VERSIONS.iter().flat_map(|v| {
            example_body(&format!("tokens/{v}/httpExamples/Pats/ListPats.json"))["patTokens"].as_array().unwrap().clone()
        }))
        .collect();
    let mut sim_tokens = Vec::new();
    for user in sim_users {
        let descriptor = user["descriptor"].as_str().unwrap();
        let (status, _, page) = get(
            &sim,
            &format!("/fabrikam/_apis/tokenadmin/personalaccesstokens/{descriptor}?isPublic=false&api-version=7.1"),
        );
        assert_eq!(status, 200);
        assert!(
            page.as_object().unwrap().contains_key("continuationToken"),
            "the body always carries continuationToken"
        );
        sim_tokens.extend(page["value"].as_array().unwrap().iter().cloned());
    }
    assert!(!sim_tokens.is_empty());
    assert_same_shape("SessionToken", &sim_tokens, &example_tokens, &[]);
}

#[test]
fn simulator_paths_are_case_insensitive_and_any_api_version_is_accepted() {
    let sim = TestSim::start(sim_config());
    for path in [
        "/Fabrikam/_apis/Graph/Users?api-version=7.2-preview.1",
        "/fabrikam/_APIS/graph/users?api-version=7.1-preview",
        "/FABRIKAM/_apis/graph/users?subjectTypes=aad,msa&api-version=5.0-preview.1",
    ] {
        let (status, _, body) = get(&sim, path);
        assert_eq!(status, 200, "{path}");
        assert!(body["count"].as_u64().unwrap() > 0, "{path}");
    }
    let (status, _, body) = get(&sim, "/nosuchorg/_apis/graph/users?api-version=7.1");
    assert_eq!(status, 404);
    assert!(body["message"].as_str().unwrap().contains("nosuchorg"));
}
