//! Azure Boards work items for `notify --via boards`: one open work item per owner, found again by
//! a WIQL query and updated instead of duplicated.
//!
//! Shapes: `specification/wit/7.1/workItemTracking.json` (MicrosoftDocs/vsts-rest-api-specs) and
//! its examples, copied under `tests/fixtures/ado-api/wit/7.1/httpExamples/`:
//! - create: `POST https://dev.azure.com/{org}/{project}/_apis/wit/workitems/${type}?api-version=7.1`
//!   (`Work Items_Create`; `workItems/POST__wit_workitems_create.json`), a JSON Patch body sent as
//!   `application/json-patch+json` (the only content type the spec's `consumes` lists), answered
//!   200 with the work item (`id`, `rev`, `fields`);
//! - update: `PATCH …/{project}/_apis/wit/workitems/{id}?api-version=7.1` (`Work Items_Update`;
//!   `workItems/PATCH__wit_workitems__taskId_.json`; a tag is added with `add /fields/System.Tags`,
//!   which keeps the item's other tags: `PATCH__wit_workitems__taskId_9.json`; an identity field
//!   takes a name: `PATCH__wit_workitems__taskId_11.json`);
//! - find: `POST …/{project}/_apis/wit/wiql?api-version=7.1` with `{"query": "…"}`
//!   (`Wiql_Query By Wiql`; `wiql/GET__wit_get_id_workitems.json`, a POST despite its name),
//!   answered with `workItems: [{id, url}]`. The spec's path has a `{team}` segment; the
//!   service's documentation marks it optional, and a project-wide query needs none.
//!
//! Both writes need the scope `vso.work_write` (the spec's `security`); a 401/403 is
//! `AdoError::WorkItemsDenied`, a 404 `ProjectNotFound`.

use crate::client::{Api, Body};
use crate::{AdoClient, AdoError};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

const WIT_API_VERSION: &str = "7.1";
/// The JSON Patch media type `Work Items_Create` and `Work Items_Update` consume.
pub const JSON_PATCH: &str = "application/json-patch+json";
/// States in which an item counts as finished in the default processes (Agile, Scrum, CMMI,
/// Basic; `Resolved` is no Task state): a finished item is left alone and a new one created.
pub const CLOSED_STATES: [&str; 3] = ["Closed", "Done", "Removed"];
/// WIQL results read: one owner has one open item, a few at most.
const WIQL_TOP: u32 = 50;

/// What pat2entra writes into an owner's work item.
#[derive(Debug, Clone)]
pub struct WorkItemDraft<'a> {
    pub title: &'a str,
    /// HTML (`System.Description`).
    pub description: &'a str,
    /// The owner's principal name (`System.AssignedTo`).
    pub assigned_to: &'a str,
    /// `System.Tags`, `;`-separated.
    pub tags: &'a str,
    /// `System.AreaPath`, when given.
    pub area_path: Option<&'a str>,
    /// A comment for the item's history on an update (`System.History`).
    pub history: Option<&'a str>,
}

/// One operation of a JSON Patch body (`JsonPatchOperation` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOperation<'a> {
    pub op: &'static str,
    pub path: String,
    pub value: &'a str,
}

impl WorkItemDraft<'_> {
    /// The JSON Patch of a new item (`create`) or of an update: `add` for every field (for a
    /// field that has a value, `add` replaces it; for `System.Tags` it adds to the tags). An
    /// update leaves the assignment as it is (someone may have handed the item on) and adds a
    /// history comment instead.
    pub fn operations(&self, create: bool) -> Vec<PatchOperation<'_>> {
        let add = |field: &str, value| PatchOperation { op: "add", path: format!("/fields/{field}"), value };
        let mut ops = vec![add("System.Title", self.title), add("System.Description", self.description)];
        if create {
            ops.push(add("System.AssignedTo", self.assigned_to));
        }
        ops.push(add("System.Tags", self.tags));
        if let Some(area) = self.area_path {
            ops.push(add("System.AreaPath", area));
        }
        if let (false, Some(history)) = (create, self.history) {
            ops.push(add("System.History", history));
        }
        ops
    }
}

/// A WIQL string literal: quoted, a quote inside doubled (WIQL's only escape).
pub fn wiql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The query that finds an owner's open pat2entra items of `work_item_type` in the project.
pub fn open_items_query(work_item_type: &str, assigned_to: &str, tag: &str) -> String {
    let closed: Vec<String> = CLOSED_STATES.iter().map(|s| wiql_literal(s)).collect();
    format!(
        "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.WorkItemType] = {} \
         AND [System.Tags] CONTAINS {} AND [System.AssignedTo] = {} AND [System.State] NOT IN ({}) \
         ORDER BY [System.Id] ASC",
        wiql_literal(work_item_type),
        wiql_literal(tag),
        wiql_literal(assigned_to),
        closed.join(", ")
    )
}

/// The part of a work item pat2entra reads back (`WorkItem` in the spec).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkItemRef {
    pub id: u64,
    #[serde(default)]
    pub rev: Option<u64>,
}

/// `WorkItemQueryResult`: only the ids are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResult {
    #[serde(default)]
    work_items: Vec<WorkItemRef>,
}

/// What became of an owner's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created(u64),
    Updated(u64),
}

impl AdoClient {
    /// `https://dev.azure.com/{org}/{project}/_apis/wit/{segments…}`, every segment encoded.
    fn wit_url(&self, project: &str, segments: &[&str]) -> Result<Url, AdoError> {
        for s in std::iter::once(&project).chain(segments) {
            if s.is_empty() || *s == "." || *s == ".." {
                return Err(AdoError::InvalidSegment { what: "a project or work item type", segment: s.to_string() });
            }
        }
        let mut url = self.endpoints().dev.clone();
        {
            let mut path = url.path_segments_mut().expect("service URLs are hierarchical");
            path.pop_if_empty();
            path.push(self.organization());
            path.push(project);
            path.push("_apis");
            path.push("wit");
            path.extend(segments);
        }
        url.query_pairs_mut().append_pair("api-version", WIT_API_VERSION);
        Ok(url)
    }

    /// The ids of the owner's open items (oldest first).
    pub async fn find_open_work_items(
        &self,
        project: &str,
        work_item_type: &str,
        assigned_to: &str,
        tag: &str,
    ) -> Result<Vec<u64>, AdoError> {
        let mut url = self.wit_url(project, &["wiql"])?;
        url.query_pairs_mut().append_pair("$top", &WIQL_TOP.to_string());
        let body =
            serde_json::to_vec(&serde_json::json!({ "query": open_items_query(work_item_type, assigned_to, tag) }))
                .expect("a query serializes");
        let request =
            Body { method: reqwest::Method::POST, content_type: "application/json", bytes: &body, idempotent: true };
        let (result, _): (QueryResult, HeaderMap) = self.exchange_body(Api::WorkItems, &url, Some(&request)).await?;
        let mut ids: Vec<u64> = result.work_items.into_iter().map(|w| w.id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Creates a work item. Not repeated after a lost answer or a server error (it may have been
    /// created): `upsert_work_item` looks again first.
    pub async fn create_work_item(
        &self,
        project: &str,
        work_item_type: &str,
        draft: &WorkItemDraft<'_>,
    ) -> Result<WorkItemRef, AdoError> {
        let url = self.wit_url(project, &["workitems", &format!("${work_item_type}")])?;
        let body = serde_json::to_vec(&draft.operations(true)).expect("a patch serializes");
        let request = Body { method: reqwest::Method::POST, content_type: JSON_PATCH, bytes: &body, idempotent: false };
        let (item, _): (WorkItemRef, HeaderMap) = self.exchange_body(Api::WorkItems, &url, Some(&request)).await?;
        Ok(item)
    }

    /// Updates work item `id` (the same patch twice gives the same item: retried as any request).
    pub async fn update_work_item(
        &self,
        project: &str,
        id: u64,
        draft: &WorkItemDraft<'_>,
    ) -> Result<WorkItemRef, AdoError> {
        let url = self.wit_url(project, &["workitems", &id.to_string()])?;
        let body = serde_json::to_vec(&draft.operations(false)).expect("a patch serializes");
        let request = Body { method: reqwest::Method::PATCH, content_type: JSON_PATCH, bytes: &body, idempotent: true };
        match self.exchange_body::<WorkItemRef>(Api::WorkItems, &url, Some(&request)).await {
            Ok((item, _)) => Ok(item),
            // The item is gone (deleted since the query, `TF401232`), not the project: this
            // owner's failure, which a rerun settles.
            Err(AdoError::ProjectNotFound { endpoint, detail, .. }) if detail.contains("TF401232") => {
                Err(AdoError::Status { endpoint, status: 404, detail })
            }
            Err(e) => Err(e),
        }
    }

    /// The owner's open item updated, or a new one created. A create whose answer was lost (a
    /// dropped connection, a server error) is not sent again blind: the query runs once more, and
    /// an item it finds now is the one just created (updated, so it holds the draft).
    pub async fn upsert_work_item(
        &self,
        project: &str,
        work_item_type: &str,
        tag: &str,
        draft: &WorkItemDraft<'_>,
    ) -> Result<Upserted, AdoError> {
        let open = self.find_open_work_items(project, work_item_type, draft.assigned_to, tag).await?;
        if let Some(id) = open.first() {
            let item = self.update_work_item(project, *id, draft).await?;
            return Ok(Upserted::Updated(item.id));
        }
        match self.create_work_item(project, work_item_type, draft).await {
            Ok(item) => Ok(Upserted::Created(item.id)),
            Err(e)
                if matches!(e, AdoError::Transport { .. } | AdoError::Malformed { .. })
                    || matches!(e, AdoError::Status { status, .. } if status >= 500) =>
            {
                tracing::info!(error = %e, "a work item's creation may or may not have happened; looking again");
                let open = self.find_open_work_items(project, work_item_type, draft.assigned_to, tag).await?;
                match open.first() {
                    Some(id) => {
                        let item = self.update_work_item(project, *id, draft).await?;
                        Ok(Upserted::Created(item.id))
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(relative: &str) -> serde_json::Value {
        let path =
            format!("{}/../../tests/fixtures/ado-api/wit/7.1/httpExamples/{relative}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
    }

    fn draft() -> WorkItemDraft<'static> {
        WorkItemDraft {
            title: "Replace 2 personal access tokens with Microsoft Entra ID by 2026-12-03",
            description: "<p>x</p>",
            assigned_to: "ana@fabrikam.com",
            tags: "pat2entra",
            area_path: Some("Fabrikam-Fiber-Git\\Website"),
            history: Some("Updated from the scan of 2026-11-26"),
        }
    }

    /// Our patches have the operations' shape in Microsoft's examples: `op`, `path`, `value`.
    #[test]
    fn patches_match_microsofts_examples() {
        for file in [
            "workItems/POST__wit_workitems_create.json",
            "workItems/PATCH__wit_workitems__taskId_.json",
            "workItems/PATCH__wit_workitems__taskId_9.json",
            "workItems/PATCH__wit_workitems__taskId_11.json",
        ] {
            let example = example(file);
            let theirs: Vec<&serde_json::Value> = example["parameters"]["body"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|op| op["path"].as_str().is_some_and(|p| p.starts_with("/fields/")))
                .collect();
            assert!(!theirs.is_empty(), "{file}");
            for ours in [draft().operations(true), draft().operations(false)] {
                let ours = serde_json::to_value(&ours).unwrap();
                for op in ours.as_array().unwrap() {
                    assert_eq!(op["op"], "add");
                    assert!(theirs.iter().any(|t| t["op"] == "add"), "{file}");
                    for key in op.as_object().unwrap().keys() {
                        assert!(theirs[0].get(key).is_some(), "{file}: the example's operations have no '{key}'");
                    }
                }
            }
        }
        let d = draft();
        let ours = d.operations(true);
        let paths: Vec<&str> = ours.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/fields/System.Title",
                "/fields/System.Description",
                "/fields/System.AssignedTo",
                "/fields/System.Tags",
                "/fields/System.AreaPath"
            ]
        );
        let update = d.operations(false);
        assert!(update.iter().all(|o| o.path != "/fields/System.AssignedTo"));
        assert!(update.iter().any(|o| o.path == "/fields/System.History"));
    }

    /// The examples' answers parse: a created or updated item, a query's ids.
    #[test]
    fn answers_of_microsofts_examples_parse() {
        let created: WorkItemRef = serde_json::from_value(
            example("workItems/POST__wit_workitems_create.json")["responses"]["200"]["body"].clone(),
        )
        .unwrap();
        assert_eq!((created.id, created.rev), (131489, Some(1)));
        let updated: WorkItemRef = serde_json::from_value(
            example("workItems/PATCH__wit_workitems__taskId_.json")["responses"]["200"]["body"].clone(),
        )
        .unwrap();
        assert_eq!(updated.id, 299);
        let wiql = example("wiql/GET__wit_get_id_workitems.json");
        assert!(wiql["parameters"]["body"]["query"].is_string(), "the query is sent as {{\"query\": …}}");
        let result: QueryResult = serde_json::from_value(wiql["responses"]["200"]["body"].clone()).unwrap();
        assert_eq!(result.work_items.first().map(|w| w.id), Some(300));
    }

    /// A creation is sent again only after a 429; after a 503 (even with Retry-After) the caller
    /// must look first. Sent as a JSON Patch.
    #[tokio::test]
    async fn a_creation_is_repeated_only_after_a_429() {
        use crate::ClientOptions;
        use crate::client::tests::{client_for, http, serve};
        let options =
            || ClientOptions { base_backoff: std::time::Duration::from_millis(1), ..ClientOptions::default() };
        let (base, count) = serve(|_, head| {
            assert!(head.starts_with("POST /contoso/P%20Q/_apis/wit/workitems/$Task?api-version=7.1 "), "{head}");
            assert!(head.to_ascii_lowercase().contains("content-type: application/json-patch+json"), "{head}");
            Some(http("503 Service Unavailable", "Retry-After: 1\r\n", "{}"))
        })
        .await;
        let err = client_for(&base, options()).create_work_item("P Q", "Task", &draft()).await.unwrap_err();
        assert!(matches!(err, AdoError::Status { status: 503, .. }), "{err}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);

        let (base, count) = serve(|n, _| {
            Some(if n == 0 {
                http("429 Too Many Requests", "Retry-After: 0\r\n", "{}")
            } else {
                http("200 OK", "", r#"{"id":7,"rev":1,"fields":{}}"#)
            })
        })
        .await;
        let item = client_for(&base, options()).create_work_item("P Q", "Task", &draft()).await.unwrap();
        assert_eq!(item.id, 7);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn wiql_literals_double_quotes() {
        assert_eq!(wiql_literal("o'brien@x.com"), "'o''brien@x.com'");
        let q = open_items_query("Task", "x' OR [System.Id] > 0 OR 'a", "pat2entra");
        assert!(q.contains("[System.AssignedTo] = 'x'' OR [System.Id] > 0 OR ''a'"), "{q}");
        assert!(q.contains("NOT IN ('Closed', 'Done', 'Removed')"), "{q}");
    }
}
