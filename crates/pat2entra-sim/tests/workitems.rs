//! The simulator's Azure Boards over real HTTP, and pat2entra's client against it: Microsoft's
//! example bodies accepted and answered in the examples' shape, the service's refusals (content
//! type, project, field, identity), and one open item per owner however often it is upserted,
//! also when the answer of a creation is lost or the service throttles.

use chrono::{TimeZone, Utc};
use pat2entra_ado::workitems::{Upserted, WorkItemDraft};
use pat2entra_ado::{AdoClient, AdoError, ClientOptions, Credential, Endpoints, OrgRef};
use pat2entra_core::secret::Secret;
use pat2entra_sim::{Faults, SimConfig, SimHandle, shape};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ado-api/wit/7.1/httpExamples/");

fn example(relative: &str) -> Value {
    let text = std::fs::read_to_string(format!("{EXAMPLES}{relative}")).unwrap();
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

async fn start(config: SimConfig) -> SimHandle {
    let config = SimConfig { anchor: Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap(), users: 40, ..config };
    pat2entra_sim::start(config, 0).await.expect("the simulator starts on loopback")
}

fn client(sim: &SimHandle) -> AdoClient {
    AdoClient::new(
        Endpoints::single_base(&sim.base_url()).unwrap(),
        OrgRef::parse("fabrikam").unwrap(),
        Credential::Pat(Secret::new("any")),
        ClientOptions { base_backoff: std::time::Duration::from_millis(1), ..ClientOptions::default() },
    )
    .unwrap()
}

async fn send(sim: &SimHandle, method: &str, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}/fabrikam/{path}", sim.base_url()))
        .query(&[("api-version", "7.1")])
        .basic_auth("", Some("any"))
        .header("Content-Type", content_type)
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A member of the organization (a person who is still a member).
fn member(sim: &SimHandle) -> String {
    let org = sim.org();
    org.users()
        .enumerate()
        .find(|(i, u)| u.subject_type() == "aad" && org.standing(*i).is_some_and(|s| s.member))
        .map(|(_, u)| u.principal_name)
        .unwrap()
}

#[tokio::test]
async fn microsofts_examples_are_accepted_and_answered_in_their_shape() {
    let sim = start(SimConfig::default()).await;
    let create = example("workItems/POST__wit_workitems_create.json");
    let (status, item) = send(
        &sim,
        "POST",
        "Fabrikam-Fiber/_apis/wit/workitems/$Task",
        "application/json-patch+json",
        &create["parameters"]["body"],
    )
    .await;
    assert_eq!(status, 200, "{item}");
    let theirs = &create["responses"]["200"]["body"];
    shape::assert_same_shape("WorkItem", std::slice::from_ref(&item), std::slice::from_ref(theirs), &[]);
    for (field, value) in theirs["fields"].as_object().unwrap() {
        assert_eq!(shape::kind(&item["fields"][field]), shape::kind(value), "fields.{field}");
    }
    shape::assert_same_shape(
        "IdentityRef",
        std::slice::from_ref(&item["fields"]["System.CreatedBy"]),
        std::slice::from_ref(&theirs["fields"]["System.CreatedBy"]),
        &[],
    );
    assert_eq!(item["fields"]["System.Title"], "Sample task");
    let id = item["id"].as_u64().unwrap();

    // The update examples: a tag added to the tags, an identity by display name.
    let mut tag = example("workItems/PATCH__wit_workitems__taskId_9.json")["parameters"]["body"].clone();
    tag[0]["value"] = json!(1);
    let (status, item) =
        send(&sim, "PATCH", &format!("Fabrikam-Fiber/_apis/wit/workitems/{id}"), "application/json-patch+json", &tag)
            .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["fields"]["System.Tags"], "Tag1; Tag2");
    assert_eq!(item["rev"], 2);
    let who = sim.org().users().find(|u| u.principal_name == member(&sim)).unwrap();
    let assign = json!([{"op": "add", "path": "/fields/System.AssignedTo", "value": who.display_name}]);
    let (status, item) = send(
        &sim,
        "PATCH",
        &format!("Fabrikam-Fiber/_apis/wit/workitems/{id}"),
        "application/json-patch+json",
        &assign,
    )
    .await;
    assert_eq!(status, 200, "{item}");
    let example_assignee = &example("workItems/PATCH__wit_workitems__taskId_11.json")["responses"]["200"]["body"]["fields"]
        ["System.AssignedTo"];
    shape::assert_same_shape(
        "AssignedTo",
        std::slice::from_ref(&item["fields"]["System.AssignedTo"]),
        std::slice::from_ref(example_assignee),
        &[],
    );
    assert_eq!(item["fields"]["System.AssignedTo"]["uniqueName"], who.principal_name);

    // The WIQL example's shape, for a query the simulator understands.
    let wiql = example("wiql/GET__wit_get_id_workitems.json");
    let query = json!({"query": "Select [System.Id], [System.Title], [System.State] From WorkItems Where [System.WorkItemType] = 'Task' AND [State] <> 'Closed'"});
    let (status, _) = send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/wiql", "application/json", &query).await;
    assert_eq!(status, 400, "[State] is no field the simulator knows: refused, not guessed");
    let query = json!({"query": "Select [System.Id], [System.Title], [System.State] From WorkItems Where [System.WorkItemType] = 'Task' AND [System.State] <> 'Closed' order by [System.Id] desc"});
    let (status, result) = send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/wiql", "application/json", &query).await;
    assert_eq!(status, 200, "{result}");
    let theirs = &wiql["responses"]["200"]["body"];
    for key in ["queryType", "asOf", "columns", "sortColumns", "workItems"] {
        assert_eq!(shape::kind(&result[key]), shape::kind(&theirs[key]), "{key}");
    }
    shape::assert_same_shape(
        "WorkItemReference",
        result["workItems"].as_array().unwrap(),
        theirs["workItems"].as_array().unwrap(),
        &[],
    );
    assert_eq!(result["workItems"][0]["id"], id);
    // With a team in the path too (the spec's form).
    let (status, _) =
        send(&sim, "POST", "Fabrikam-Fiber/Fabrikam-Fiber%20Team/_apis/wit/wiql", "application/json", &query).await;
    assert_eq!(status, 200);
    assert_eq!(sim.stats().work_item_creates.load(Ordering::SeqCst), 1);
    assert_eq!(sim.stats().work_item_updates.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_services_refusals() {
    let sim = start(SimConfig::default()).await;
    let body = json!([{"op": "add", "path": "/fields/System.Title", "value": "x"}]);
    let (status, e) = send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/workitems/$Task", "application/json", &body).await;
    assert_eq!(status, 415, "{e}");
    let (status, e) = send(&sim, "POST", "Nope/_apis/wit/workitems/$Task", "application/json-patch+json", &body).await;
    assert_eq!(status, 404);
    assert!(e["message"].as_str().unwrap().starts_with("TF200016: The following project does not exist: Nope."), "{e}");
    let (status, _) = send(
        &sim,
        "POST",
        "Nope/_apis/wit/wiql",
        "application/json",
        &json!({"query": "SELECT [System.Id] FROM WorkItems"}),
    )
    .await;
    assert_eq!(status, 404);
    let bad_field = json!([{"op": "add", "path": "/fields/System.Secret", "value": "x"}]);
    let (status, _) =
        send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/workitems/$Task", "application/json-patch+json", &bad_field).await;
    assert_eq!(status, 400);
    let stranger = json!([
        {"op": "add", "path": "/fields/System.Title", "value": "x"},
        {"op": "add", "path": "/fields/System.AssignedTo", "value": "eve@elsewhere.example"}
    ]);
    let (status, e) =
        send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/workitems/$Task", "application/json-patch+json", &stranger).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("unknown identity"), "{e}");
    let area = json!([
        {"op": "add", "path": "/fields/System.Title", "value": "x"},
        {"op": "add", "path": "/fields/System.AreaPath", "value": "Operations\\Security"}
    ]);
    let (status, _) =
        send(&sim, "POST", "Fabrikam-Fiber/_apis/wit/workitems/$Task", "application/json-patch+json", &area).await;
    assert_eq!(status, 400, "an area path of another project");
    assert_eq!(sim.stats().work_item_creates.load(Ordering::SeqCst), 0);
}

fn draft<'a>(assignee: &'a str, title: &'a str) -> WorkItemDraft<'a> {
    WorkItemDraft {
        title,
        description: "<p>Set up <b>Git Credential Manager</b> first.</p>",
        assigned_to: assignee,
        tags: "pat2entra",
        area_path: Some("Fabrikam-Fiber\\Security"),
        history: Some("Updated by pat2entra"),
    }
}

#[tokio::test]
async fn an_owner_has_one_open_item_however_often_it_is_upserted() {
    let sim = start(SimConfig::default()).await;
    let client = client(&sim);
    let owner = member(&sim);
    let first =
        client.upsert_work_item("Fabrikam-Fiber", "Task", "pat2entra", &draft(&owner, "Replace 2")).await.unwrap();
    let Upserted::Created(id) = first else { panic!("{first:?}") };
    let again =
        client.upsert_work_item("fabrikam-fiber", "Task", "pat2entra", &draft(&owner, "Replace 1")).await.unwrap();
    assert_eq!(again, Upserted::Updated(id));
    let items = sim.work_items();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!((item.title.as_str(), item.assigned_to.as_deref()), ("Replace 1", Some(owner.as_str())));
    assert_eq!(item.tags, ["pat2entra"]);
    assert_eq!(item.area_path, "Fabrikam-Fiber\\Security");
    assert_eq!(item.history, ["Updated by pat2entra"]);
    // Done: the next notice is a new item.
    assert!(sim.set_work_item_state(id, "Done"));
    let next =
        client.upsert_work_item("Fabrikam-Fiber", "Task", "pat2entra", &draft(&owner, "Replace 1")).await.unwrap();
    assert!(matches!(next, Upserted::Created(n) if n != id), "{next:?}");
    // Another type, another tag: not the same item.
    let bug = client.upsert_work_item("Fabrikam-Fiber", "Bug", "pat2entra", &draft(&owner, "Replace 1")).await.unwrap();
    assert!(matches!(bug, Upserted::Created(_)), "{bug:?}");
    assert_eq!(sim.stats().work_item_creates.load(Ordering::SeqCst), 3);
    assert_eq!(sim.stats().work_item_updates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_creation_whose_answer_is_lost_is_found_again_not_repeated() {
    let sim = start(SimConfig::default()).await;
    let client = client(&sim);
    let owner = member(&sim);
    sim.lose_create_answers(1);
    let result =
        client.upsert_work_item("Fabrikam-Fiber", "Task", "pat2entra", &draft(&owner, "Replace 2")).await.unwrap();
    assert!(matches!(result, Upserted::Created(1)), "{result:?}");
    assert_eq!(sim.work_items().len(), 1, "created once, not twice");
    assert_eq!(sim.stats().work_item_creates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn throttling_never_duplicates_an_item() {
    let sim = start(SimConfig {
        faults: Faults {
            throttle_rate: 0.3,
            unavailable_rate: 0.1,
            retry_after: std::time::Duration::ZERO,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let client = client(&sim);
    let org = sim.org();
    let owners: Vec<String> = org
        .users()
        .enumerate()
        .filter(|(i, u)| u.subject_type() == "aad" && org.standing(*i).is_some_and(|s| s.member))
        .map(|(_, u)| u.principal_name)
        .take(8)
        .collect();
    for round in 0..2 {
        for owner in &owners {
            // A 503 on a creation is not repeated blind: the caller's rerun settles it.
            let _ = client.upsert_work_item("Fabrikam-Fiber", "Task", "pat2entra", &draft(owner, "Replace")).await;
            let _ = round;
        }
    }
    let items = sim.work_items();
    for owner in &owners {
        let n = items.iter().filter(|i| i.assigned_to.as_deref() == Some(owner.as_str())).count();
        assert!(n <= 1, "{owner} has {n} items");
    }
    assert!(sim.stats().faults_injected.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn a_refusal_names_the_scope_and_a_missing_project_is_fatal() {
    let sim = start(SimConfig::default()).await;
    let client = client(&sim);
    let owner = member(&sim);
    sim.deny_work_items(true);
    let err = client.upsert_work_item("Fabrikam-Fiber", "Task", "pat2entra", &draft(&owner, "x")).await.unwrap_err();
    assert!(matches!(err, AdoError::WorkItemsDenied { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("vso.work_write") && !err.to_string().contains('\n'), "{err}");
    assert!(err.is_fatal());
    sim.deny_work_items(false);
    let err = client.upsert_work_item("Nope", "Task", "pat2entra", &draft(&owner, "x")).await.unwrap_err();
    assert!(matches!(err, AdoError::ProjectNotFound { .. }), "{err}");
    assert!(err.to_string().contains("--project") && err.is_fatal(), "{err}");
}
