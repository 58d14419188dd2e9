//! Azure Boards work items, as `notify --via boards` uses them: create, update, and a WIQL query
//! that finds them again. Items live in memory for the simulator's lifetime.
//!
//! Shapes: `specification/wit/7.1/workItemTracking.json` (MicrosoftDocs/vsts-rest-api-specs) and
//! its examples (copied under `tests/fixtures/ado-api/wit/7.1/httpExamples/`):
//! - `POST {org}/{project}/_apis/wit/workitems/${type}` (`POST__wit_workitems_create.json`) and
//!   `PATCH {org}/{project}/_apis/wit/workitems/{id}` (`PATCH__wit_workitems__taskId_*.json`): a
//!   JSON Patch as `application/json-patch+json` (anything else: 415, as the service answers a
//!   content type an operation does not consume), answered 200 with `{id, rev, fields, _links, url}`;
//!   identity fields come back as identity objects (`System.AssignedTo`), `add` on `System.Tags`
//!   adds to the tags (`…taskId_9.json`);
//! - `POST {org}/{project}[/{team}]/_apis/wit/wiql` (`wiql/GET__wit_get_id_workitems.json`):
//!   `{"query": "SELECT … FROM WorkItems WHERE … ORDER BY …"}` answered with the ids.
//!
//! Where Microsoft documents nothing, the simulator chooses, and says so: it understands the
//! WIQL pat2entra and simple scripts write (conditions joined by `AND` with `=`, `<>`,
//! `CONTAINS`, `IN`, `NOT IN` on a few `System.*` fields, `@project`; anything else is a 400);
//! the projects are `PROJECTS` (another name: 404 `TF200016`, the service's words); an
//! `AssignedTo` must name a member of the organization by principal name, mail or display name
//! (else 400, as the service refuses an unknown identity); new items are in state `To Do`.

use crate::http::{Reply, Request, Response};
use crate::{SimHandle, SimState, error};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// The organization's projects.
pub const PROJECTS: [&str; 2] = ["Fabrikam-Fiber", "Operations"];
/// Work item types of the projects (Agile and Basic processes).
const TYPES: [&str; 6] = ["Task", "Bug", "Issue", "Epic", "User Story", "Feature"];
/// Fields an item may be given.
const WRITABLE: [&str; 7] = [
    "System.Title",
    "System.Description",
    "System.AssignedTo",
    "System.Tags",
    "System.AreaPath",
    "System.History",
    "System.State",
];
const CREATED: &str = "2026-11-26T08:00:00Z";

/// One work item as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimWorkItem {
    pub id: u64,
    pub rev: u64,
    pub project: String,
    pub work_item_type: String,
    pub title: String,
    pub description: String,
    /// The assignee's principal name (`uniqueName`), when assigned.
    pub assigned_to: Option<String>,
    pub tags: Vec<String>,
    pub area_path: String,
    pub state: String,
    /// `System.History` comments, oldest first.
    pub history: Vec<String>,
}

/// The boards of the organization.
#[derive(Debug, Default)]
pub(crate) struct Boards {
    items: BTreeMap<u64, SimWorkItem>,
    /// Answer every work item request 401, as for a PAT without `vso.work_write`.
    denied: bool,
    /// Creations whose answer is lost (the item is created, the connection dropped).
    lose_create_answers: u32,
    /// Items that may be created before creations are throttled (`allow_work_item_creates`).
    creates_allowed: Option<usize>,
}

fn project_of(name: &str) -> Option<&'static str> {
    PROJECTS.iter().copied().find(|p| p.eq_ignore_ascii_case(name))
}

fn not_found(project: &str) -> Reply {
    Reply::Response(error(
        404,
        &format!(
            "TF200016: The following project does not exist: {project}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server."
        ),
        "ProjectDoesNotExistWithNameException",
    ))
}

fn bad(message: &str, type_key: &str) -> Reply {
    Reply::Response(error(400, message, type_key))
}

impl SimState {
    /// `{org}/{project}/_apis/wit/…` (`rest` is what follows `wit`).
    pub(crate) fn work_items(&self, n: u64, request: &Request, project: &str, rest: &[&str]) -> Reply {
        let is = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        if self.boards().denied {
            return Reply::Response(error(
                401,
                "TF400813: The user is not authorized to access this resource.",
                "UnauthorizedRequestException",
            ));
        }
        let Some(project) = project_of(project) else { return not_found(project) };
        match (rest, request.method.as_str()) {
            ([w], "POST") if is(w, "wiql") => {
                self.stats.wiql_queries.fetch_add(1, Ordering::Relaxed);
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.wiql(request, project)
            }
            ([w, t], "POST") if is(w, "workitems") && t.starts_with('$') => {
                if let Some(reply) = self.content_type(request) {
                    return reply;
                }
                // Faults before anything is created: a 429, 503 or reset says nothing happened.
                if let Some(fault) = self.random_fault(n, None).filter(|r| !matches!(r, Reply::Truncate(_))) {
                    return fault;
                }
                self.create(request, project, &t[1..])
            }
            ([w, id], "PATCH") if is(w, "workitems") => {
                if let Some(reply) = self.content_type(request) {
                    return reply;
                }
                if let Some(fault) = self.random_fault(n, None) {
                    return fault;
                }
                self.update(request, project, id)
            }
            _ => Reply::Response(error(404, "The resource cannot be found.", "NotFoundException")),
        }
    }

    fn boards(&self) -> std::sync::MutexGuard<'_, Boards> {
        self.boards.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// 415 for a body that is not a JSON Patch.
    fn content_type(&self, request: &Request) -> Option<Reply> {
        let given = request.header("content-type").unwrap_or_default();
        let media = given.split(';').next().unwrap_or_default().trim();
        (!media.eq_ignore_ascii_case("application/json-patch+json")).then(|| {
            Reply::Response(error(
                415,
                &format!(
                    "The request indicated a Content-Type of \"{given}\" for method type \"{}\" which is not supported. Valid content types for this method are: application/json-patch+json.",
                    request.method
                ),
                "VssRequestContentTypeNotSupportedException",
            ))
        })
    }

    fn create(&self, request: &Request, project: &str, work_item_type: &str) -> Reply {
        let Some(work_item_type) = TYPES.iter().find(|t| t.eq_ignore_ascii_case(work_item_type)) else {
            return Reply::Response(error(
                404,
                &format!("VS402323: Work item type {work_item_type} does not exist."),
                "WorkItemTypeNotFoundException",
            ));
        };
        let mut item = SimWorkItem {
            id: 0,
            rev: 1,
            project: project.to_string(),
            work_item_type: work_item_type.to_string(),
            title: String::new(),
            description: String::new(),
            assigned_to: None,
            tags: Vec::new(),
            area_path: project.to_string(),
            state: "To Do".into(),
            history: Vec::new(),
        };
        if let Err(reply) = self.apply(request, &mut item) {
            return reply;
        }
        let mut boards = self.boards();
        if boards.creates_allowed.is_some_and(|n| boards.items.len() >= n) {
            return Reply::Response(
                error(
                    429,
                    "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'WorkItemTracking' in namespace 'User'.",
                    "RequestBlockedException",
                )
                .with_header("Retry-After", "60"),
            );
        }
        item.id = boards.items.keys().next_back().copied().unwrap_or(0) + 1;
        let answer = self.item_json(&item);
        boards.items.insert(item.id, item);
        self.stats.work_item_creates.fetch_add(1, Ordering::SeqCst);
        if boards.lose_create_answers > 0 {
            boards.lose_create_answers -= 1;
            return Reply::Drop;
        }
        Reply::Response(Response::json(200, &answer))
    }

    fn update(&self, request: &Request, project: &str, id: &str) -> Reply {
        let missing = || {
            Reply::Response(error(
                404,
                &format!("TF401232: Work item {id} does not exist, or you do not have permissions to read it."),
                "WorkItemUnauthorizedAccessException",
            ))
        };
        let Ok(id) = id.parse::<u64>() else { return missing() };
        let Some(mut item) = self.boards().items.get(&id).cloned().filter(|i| i.project == project) else {
            return missing();
        };
        if let Err(reply) = self.apply(request, &mut item) {
            return reply;
        }
        item.rev += 1;
        let answer = self.item_json(&item);
        self.boards().items.insert(id, item);
        self.stats.work_item_updates.fetch_add(1, Ordering::SeqCst);
        Reply::Response(Response::json(200, &answer))
    }

    /// Applies a JSON Patch to `item`, or the service's 400.
    fn apply(&self, request: &Request, item: &mut SimWorkItem) -> Result<(), Reply> {
        let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(&request.body) else {
            return Err(bad(
                "You must pass a valid patch document in the body of the request.",
                "VssPropertyValidationException",
            ));
        };
        for op in &ops {
            let kind = op["op"].as_str().unwrap_or_default();
            let path = op["path"].as_str().unwrap_or_default();
            if path.eq_ignore_ascii_case("/rev") && kind == "test" {
                if op["value"].as_u64() != Some(item.rev) {
                    return Err(bad(
                        "TF26071: This work item has been changed by someone else since you opened it.",
                        "WorkItemRevisionMismatchException",
                    ));
                }
                continue;
            }
            let Some(field) = path.strip_prefix("/fields/") else {
                return Err(bad(
                    &format!("The path '{path}' is not valid for this operation."),
                    "PatchOperationFailedException",
                ));
            };
            let Some(field) = WRITABLE.iter().find(|f| f.eq_ignore_ascii_case(field)) else {
                return Err(bad(&format!("TF51535: Cannot find field {field}."), "WorkItemFieldInvalidException"));
            };
            if !matches!(kind, "add" | "replace" | "remove") {
                return Err(bad(&format!("The operation '{kind}' is not supported."), "PatchOperationFailedException"));
            }
            let value = if kind == "remove" { "" } else { op["value"].as_str().unwrap_or_default() };
            match *field {
                "System.Title" => item.title = value.to_string(),
                "System.Description" => item.description = value.to_string(),
                "System.History" => item.history.push(value.to_string()),
                "System.State" => item.state = value.to_string(),
                "System.AreaPath" => {
                    let under = value.eq_ignore_ascii_case(&item.project)
                        || value
                            .get(..item.project.len() + 1)
                            .is_some_and(|p| p.eq_ignore_ascii_case(&format!("{}\\", item.project)));
                    if !under {
                        return Err(bad(
                            "TF401347: Invalid tree name given for work item -1, field 'System.AreaPath'.",
                            "WorkItemFieldInvalidTreeNameException",
                        ));
                    }
                    item.area_path = value.to_string();
                }
                "System.Tags" => {
                    let tags = value.split(';').map(str::trim).filter(|t| !t.is_empty());
                    if kind != "add" {
                        item.tags.clear();
                    }
                    for tag in tags {
                        if !item.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                            item.tags.push(tag.to_string());
                        }
                    }
                }
                "System.AssignedTo" if value.is_empty() => item.assigned_to = None,
                "System.AssignedTo" => match self.member_named(value) {
                    Some(principal) => item.assigned_to = Some(principal),
                    None => {
                        return Err(bad(
                            &format!("The identity value '{value}' for field 'Assigned To' is an unknown identity."),
                            "RuleValidationException",
                        ));
                    }
                },
                _ => unreachable!("WRITABLE lists every field handled"),
            }
        }
        if item.title.trim().is_empty() || item.title.chars().count() > 255 {
            return Err(bad(
                "TF401320: Rule Error for field Title. Error code: Required, InvalidEmpty, LimitedToValues.",
                "RuleValidationException",
            ));
        }
        Ok(())
    }

    /// The principal name of the member called `name` (principal name, mail or display name).
    fn member_named(&self, name: &str) -> Option<String> {
        (0..self.org.user_count()).find_map(|i| {
            let user = self.org.user(i)?;
            let named = [&user.principal_name, &user.mail, &user.display_name]
                .iter()
                .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(name));
            (named && self.org.standing(i).is_some_and(|s| s.member)).then(|| user.principal_name.clone())
        })
    }

    fn identity(&self, principal: &str) -> Value {
        let user = self.org.users().find(|u| u.principal_name == principal);
        let (name, id, descriptor) = match &user {
            Some(u) => (u.display_name.clone(), u.id.clone(), u.descriptor.clone()),
            None => (principal.to_string(), "00000000-0000-0000-0000-000000000000".into(), String::new()),
        };
        let org = &self.org.name;
        json!({
            "displayName": name,
            "url": format!("https://vssps.dev.azure.com/{org}/_apis/Identities/{id}"),
            "_links": {"avatar": {"href": format!("https://dev.azure.com/{org}/_apis/GraphProfile/MemberAvatars/{descriptor}")}},
            "id": id,
            "uniqueName": principal,
            "imageUrl": format!("https://dev.azure.com/{org}/_api/_common/identityImage?id={id}"),
            "descriptor": descriptor,
        })
    }

    /// A work item in the examples' shape.
    fn item_json(&self, item: &SimWorkItem) -> Value {
        let org = &self.org.name;
        let admin = self.administrator().map(|a| a.principal_name).unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("System.AreaPath".into(), json!(item.area_path));
        fields.insert("System.TeamProject".into(), json!(item.project));
        fields.insert("System.IterationPath".into(), json!(item.project));
        fields.insert("System.WorkItemType".into(), json!(item.work_item_type));
        fields.insert("System.State".into(), json!(item.state));
        fields.insert("System.Reason".into(), json!("New"));
        if let Some(assignee) = &item.assigned_to {
            fields.insert("System.AssignedTo".into(), self.identity(assignee));
        }
        fields.insert("System.CreatedDate".into(), json!(CREATED));
        fields.insert("System.CreatedBy".into(), self.identity(&admin));
        fields.insert("System.ChangedDate".into(), json!(CREATED));
        fields.insert("System.ChangedBy".into(), self.identity(&admin));
        fields.insert("System.Title".into(), json!(item.title));
        if !item.description.is_empty() {
            fields.insert("System.Description".into(), json!(item.description));
        }
        if !item.tags.is_empty() {
            fields.insert("System.Tags".into(), json!(item.tags.join("; ")));
        }
        fields.insert("Microsoft.VSTS.Common.StateChangeDate".into(), json!(CREATED));
        fields.insert("Microsoft.VSTS.Common.Priority".into(), json!(2));
        let url = format!("https://dev.azure.com/{org}/_apis/wit/workItems/{}", item.id);
        json!({
            "id": item.id,
            "rev": item.rev,
            "fields": fields,
            "_links": {
                "self": {"href": url},
                "workItemUpdates": {"href": format!("{url}/updates")},
                "workItemRevisions": {"href": format!("{url}/revisions")},
                "workItemHistory": {"href": format!("{url}/history")},
                "html": {"href": format!("https://dev.azure.com/{org}/web/wi.aspx?pcguid={}&id={}", self.org.id, item.id)},
                "workItemType": {"href": format!("https://dev.azure.com/{org}/{}/_apis/wit/workItemTypes/{}", item.project, item.work_item_type)},
                "fields": {"href": format!("https://dev.azure.com/{org}/_apis/wit/fields")},
            },
            "url": url,
        })
    }

    /// `POST _apis/wit/wiql`.
    fn wiql(&self, request: &Request, project: &str) -> Reply {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(text) = body["query"].as_str() else {
            return bad("The request body must be a WIQL query ({\"query\": \"…\"}).", "ArgumentNullException");
        };
        let query = match wiql::parse(text) {
            Ok(q) => q,
            Err(why) => {
                return bad(
                    &format!("TF51006: The query statement is not valid: {why}."),
                    "WorkItemTrackingQueryException",
                );
            }
        };
        let top = match request.query("$top").map(str::parse::<usize>) {
            None => usize::MAX,
            Some(Ok(n)) => n,
            Some(Err(_)) => return bad("The value of $top is not valid.", "ArgumentException"),
        };
        let boards = self.boards();
        let mut ids: Vec<u64> = boards
            .items
            .values()
            .filter(|item| query.conditions.iter().all(|c| c.holds(&|f| self.field(item, f), project)))
            .map(|i| i.id)
            .collect();
        if query.descending {
            ids.reverse();
        }
        ids.truncate(top);
        let org = &self.org.name;
        let column = |name: &str| json!({"referenceName": name, "name": name.trim_start_matches("System."), "url": format!("https://dev.azure.com/{org}/_apis/wit/fields/{name}")});
        Reply::Response(Response::json(
            200,
            &json!({
                "queryType": "flat",
                "queryResultType": "workItem",
                "asOf": CREATED,
                "columns": query.columns.iter().map(|c| column(c)).collect::<Vec<_>>(),
                "sortColumns": [{"field": column("System.Id"), "descending": query.descending}],
                "workItems": ids.iter().map(|id| json!({"id": id, "url": format!("https://dev.azure.com/{org}/_apis/wit/workItems/{id}")})).collect::<Vec<_>>(),
            }),
        ))
    }

    /// The values a WIQL condition compares a field with (an identity: its unique and display name).
    fn field(&self, item: &SimWorkItem, field: &str) -> Vec<String> {
        match field {
            "System.Id" => vec![item.id.to_string()],
            "System.TeamProject" => vec![item.project.clone()],
            "System.WorkItemType" => vec![item.work_item_type.clone()],
            "System.State" => vec![item.state.clone()],
            "System.Title" => vec![item.title.clone()],
            "System.AreaPath" => vec![item.area_path.clone()],
            "System.Tags" => item.tags.clone(),
            "System.AssignedTo" => match &item.assigned_to {
                Some(p) => {
                    let display = self.org.users().find(|u| u.principal_name == *p).map(|u| u.display_name);
                    std::iter::once(p.clone()).chain(display).collect()
                }
                None => vec![String::new()],
            },
            _ => Vec::new(),
        }
    }
}

/// The WIQL the simulator understands.
mod wiql {
    /// Fields a query may name.
    pub const FIELDS: [&str; 8] = [
        "System.Id",
        "System.TeamProject",
        "System.WorkItemType",
        "System.State",
        "System.Title",
        "System.AreaPath",
        "System.Tags",
        "System.AssignedTo",
    ];

    #[derive(Debug, Clone, PartialEq)]
    enum Token {
        Field(String),
        Text(String),
        Macro(String),
        Word(String),
        Op(&'static str),
        Open,
        Close,
        Comma,
    }

    #[derive(Debug)]
    pub struct Query {
        pub columns: Vec<&'static str>,
        pub conditions: Vec<Condition>,
        pub descending: bool,
    }

    #[derive(Debug)]
    pub enum Value {
        Text(String),
        Project,
    }

    #[derive(Debug)]
    pub enum Condition {
        Equals(&'static str, Value, bool),
        Contains(&'static str, Value),
        In(&'static str, Vec<Value>, bool),
    }

    impl Value {
        fn text<'a>(&'a self, project: &'a str) -> &'a str {
            match self {
                Value::Text(t) => t,
                Value::Project => project,
            }
        }
    }

    impl Condition {
        /// Whether an item whose fields `field` reads meets the condition.
        pub fn holds(&self, field: &dyn Fn(&str) -> Vec<String>, project: &str) -> bool {
            let any = |f: &str, v: &Value| field(f).iter().any(|x| x.eq_ignore_ascii_case(v.text(project)));
            match self {
                Condition::Equals(f, v, negated) => any(f, v) != *negated,
                Condition::Contains(f, v) => any(f, v),
                Condition::In(f, values, negated) => values.iter().any(|v| any(f, v)) != *negated,
            }
        }
    }

    fn tokens(text: &str) -> Result<Vec<Token>, String> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => {}
                '[' => {
                    let name: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    out.push(Token::Field(name));
                }
                '\'' => {
                    let mut value = String::new();
                    loop {
                        match chars.next() {
                            Some('\'') if chars.peek() == Some(&'\'') => {
                                chars.next();
                                value.push('\'');
                            }
                            Some('\'') => break,
                            Some(c) => value.push(c),
                            None => return Err("a string is not closed".into()),
                        }
                    }
                    out.push(Token::Text(value));
                }
                '(' => out.push(Token::Open),
                ')' => out.push(Token::Close),
                ',' => out.push(Token::Comma),
                '=' => out.push(Token::Op("=")),
                '<' if chars.peek() == Some(&'>') => {
                    chars.next();
                    out.push(Token::Op("<>"));
                }
                '@' => {
                    let name: String = std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric())).collect();
                    out.push(Token::Macro(name.to_ascii_lowercase()));
                }
                c if c.is_alphanumeric() => {
                    let mut word = c.to_string();
                    word.extend(std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric())));
                    out.push(Token::Word(word.to_ascii_uppercase()));
                }
                c => return Err(format!("unexpected '{c}'")),
            }
        }
        Ok(out)
    }

    fn field(name: &str) -> Result<&'static str, String> {
        FIELDS
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("the field «{name}» does not exist or cannot be queried (TF51005)"))
    }

    pub fn parse(text: &str) -> Result<Query, String> {
        let tokens = tokens(text)?;
        let mut at = 0;
        let word = |at: usize, w: &str| matches!(tokens.get(at), Some(Token::Word(x)) if x == w);
        if !word(at, "SELECT") {
            return Err("expecting SELECT".into());
        }
        at += 1;
        let mut columns = Vec::new();
        while let Some(Token::Field(name)) = tokens.get(at) {
            columns.push(field(name)?);
            at += 1;
            if tokens.get(at) == Some(&Token::Comma) {
                at += 1;
            }
        }
        if columns.is_empty() || !word(at, "FROM") || !word(at + 1, "WORKITEMS") {
            return Err("expecting SELECT [fields] FROM WorkItems".into());
        }
        at += 2;
        let mut conditions = Vec::new();
        if word(at, "WHERE") {
            at += 1;
            loop {
                let Some(Token::Field(name)) = tokens.get(at) else { return Err("expecting a [field]".into()) };
                let f = field(name)?;
                at += 1;
                let value = |t: Option<&Token>| match t {
                    Some(Token::Text(v)) => Ok(Value::Text(v.clone())),
                    Some(Token::Macro(m)) if m == "project" => Ok(Value::Project),
                    other => Err(format!("expecting a value, found {other:?}")),
                };
                let condition = match tokens.get(at) {
                    Some(Token::Op(op)) => {
                        at += 1;
                        let v = value(tokens.get(at))?;
                        at += 1;
                        Condition::Equals(f, v, *op == "<>")
                    }
                    Some(Token::Word(w)) if w == "CONTAINS" => {
                        let v = value(tokens.get(at + 1))?;
                        at += 2;
                        Condition::Contains(f, v)
                    }
                    Some(Token::Word(w)) if w == "IN" || (w == "NOT" && word(at + 1, "IN")) => {
                        let negated = w == "NOT";
                        at += if negated { 2 } else { 1 };
                        if tokens.get(at) != Some(&Token::Open) {
                            return Err("expecting (".into());
                        }
                        at += 1;
                        let mut values = Vec::new();
                        loop {
                            values.push(value(tokens.get(at))?);
                            at += 1;
                            match tokens.get(at) {
                                Some(Token::Comma) => at += 1,
                                Some(Token::Close) => {
                                    at += 1;
                                    break;
                                }
                                _ => return Err("expecting , or )".into()),
                            }
                        }
                        Condition::In(f, values, negated)
                    }
                    other => return Err(format!("expecting an operator, found {other:?}")),
                };
                conditions.push(condition);
                if word(at, "AND") {
                    at += 1;
                } else {
                    break;
                }
            }
        }
        let mut descending = false;
        if word(at, "ORDER") && word(at + 1, "BY") {
            let Some(Token::Field(name)) = tokens.get(at + 2) else { return Err("expecting ORDER BY [field]".into()) };
            if field(name)? != "System.Id" {
                return Err("the simulator orders by [System.Id] only".into());
            }
            at += 3;
            if word(at, "DESC") || word(at, "ASC") {
                descending = word(at, "DESC");
                at += 1;
            }
        }
        if at != tokens.len() {
            return Err(format!("unexpected {:?}", tokens[at]));
        }
        Ok(Query { columns, conditions, descending })
    }
}

impl SimHandle {
    /// Every work item, by id.
    pub fn work_items(&self) -> Vec<SimWorkItem> {
        self.state.boards().items.values().cloned().collect()
    }

    /// Answer every work item request 401 (`true`), as for a PAT without `vso.work_write`.
    pub fn deny_work_items(&self, denied: bool) {
        self.state.boards().denied = denied;
    }

    /// The next `n` creations happen but their answers are lost (the connection drops).
    pub fn lose_create_answers(&self, n: u32) {
        self.state.boards().lose_create_answers = n;
    }

    /// From now on, once `n` items exist, a creation is throttled (429, `Retry-After: 60`) and
    /// nothing is created (`None`: no limit): a point where a run waits, for tests that stop it.
    pub fn allow_work_item_creates(&self, n: Option<usize>) {
        self.state.boards().creates_allowed = n;
    }

    /// Sets an item's state (`Done`, `Closed`), as its assignee would.
    pub fn set_work_item_state(&self, id: u64, state: &str) -> bool {
        match self.state.boards().items.get_mut(&id) {
            Some(item) => {
                item.state = state.to_string();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wiql::parse;

    #[test]
    fn pat2entras_query_parses_and_bad_ones_do_not() {
        let q = parse(
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.WorkItemType] = 'Task' \
             AND [System.Tags] CONTAINS 'pat2entra' AND [System.AssignedTo] = 'o''brien@x.com' \
             AND [System.State] NOT IN ('Closed', 'Done', 'Removed') ORDER BY [System.Id] ASC",
        )
        .unwrap();
        assert_eq!(q.conditions.len(), 5);
        let item = |f: &str| match f {
            "System.TeamProject" => vec!["P".to_string()],
            "System.WorkItemType" => vec!["Task".into()],
            "System.Tags" => vec!["other".into(), "PAT2ENTRA".into()],
            "System.AssignedTo" => vec!["O'Brien@x.com".into(), "O Brien".into()],
            "System.State" => vec!["To Do".into()],
            _ => vec![],
        };
        assert!(q.conditions.iter().all(|c| c.holds(&item, "p")));
        let done = |f: &str| if f == "System.State" { vec!["Done".to_string()] } else { item(f) };
        assert!(!q.conditions.iter().all(|c| c.holds(&done, "p")));
        for bad in [
            "SELECT [System.Id] FROM WorkItems WHERE [System.Secret] = 'x'",
            "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = 'unclosed",
            "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = 'x' OR [System.Id] = '1'",
            "DELETE FROM WorkItems",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
