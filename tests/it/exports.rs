//! The exports: `-o ocsf` against the OCSF 1.8.0 required attributes of a Detection Finding
//! (tests/data/ocsf-1.8.0-detection-finding-required.json), `-o junit` against the Jenkins JUnit
//! schema (tests/data/junit-10.xsd, read by a validator of the XSD subset it uses), and
//! `--summary FILE` (size bound, appending). Single-organization and tenant records.

use crate::common::{self, OwnerEvidence, RecordBuilder, TokenBuilder, owner, run};
use pat2entra::finding::Severity;
use pat2entra::inventory::OwnerFailure;
use pat2entra::record::ScanRecord;
use pat2entra::report::{self, Format, Records, RenderOptions};
use pat2entra_core::tenant::{OrganizationFailure, TenantRecord};
use serde_json::Value;
use std::collections::BTreeSet;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// A token name that tries every trick: XML's CDATA end, markup, entities, quotes, control
/// characters (NUL, ESC, DEL, C1), a bidi override, the two non-characters XML 1.0 forbids.
const HOSTILE: &str = "deploy ]]> <script>&amp;\"'\u{0}\u{1b}[2J\u{7f}\u{9b}\u{202e}\u{fffe}\u{ffff}\tend";

/// An organization with something of everything: open findings of every severity, a finding
/// accepted by an exception, an SSH key, an owner whose tokens could not be read, a partial
/// audit log, and a hostile token name.
fn record(organization: &str) -> ScanRecord {
    let rules = pat2entra::rules::RuleSet::parse(
        r#"extends = "default"
[[exception]]
rule = "long-lived"
owner = "bob@contoso.com"
reason = "migrating <soon> & \"then\" some"
ticket = "SEC-1"
expires = 2027-03-31
"#,
        "rules.toml",
    )
    .unwrap();
    let mut evidence = common::evidence_read(None);
    evidence.sources.insert(
        pat2entra::evidence::Source::Audit,
        pat2entra::evidence::SourceCoverage::partial("page 3 of the audit log failed (HTTP 500)"),
    );
    RecordBuilder::new()
        .organization(organization)
        .owners(vec![
            owner("aad.ada", "ada@contoso.com", "Ada").member(true).accessed_days_ago(3),
            owner("aad.bob", "bob@contoso.com", "Bob <b>").member(true).accessed_days_ago(200),
            owner("aad.svc", "svc-build@contoso.com", "Build").member(false).never_accessed(),
        ])
        .tokens(vec![
            TokenBuilder::new("11111111-0000-0000-0000-000000000001", "aad.ada")
                .name("ci")
                .scopes(&["app_token"])
                .global(true)
                .build(),
            TokenBuilder::new("11111111-0000-0000-0000-000000000002", "aad.ada")
                .name("read")
                .scopes(&["vso.code"])
                .lifetime_days(30)
                .build(),
            TokenBuilder::new("11111111-0000-0000-0000-000000000003", "aad.bob")
                .name(HOSTILE)
                .scopes(&["vso.code"])
                .lifetime_days(400)
                .build(),
            TokenBuilder::new("11111111-0000-0000-0000-000000000004", "aad.svc")
                .name("key")
                .ssh()
                .lifetime_days(400)
                .build(),
            TokenBuilder::new("11111111-0000-0000-0000-000000000005", "aad.bob").name("old").revoked().build(),
        ])
        .coverage(4, 3, vec![OwnerFailure { descriptor: "aad.eve".into(), error: "HTTP 500 <boom>".into() }])
        .evidence(evidence)
        .rules(rules)
        .build()
}

fn tenant() -> TenantRecord {
    let failed = vec![OrganizationFailure { organization: "gamma".into(), reason: "401: no access & no luck".into() }];
    TenantRecord::new(vec![record("beta"), record("alpha")], failed, common::as_of(), None)
}

fn render(records: Records<'_>, format: Format, fail_on: Option<Severity>) -> String {
    let options = RenderOptions { fail_on, ..Default::default() };
    let mut out = Vec::new();
    report::render_export(records, format, &options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// OCSF

/// The required-attribute list, checked in with the schema files it comes from.
fn ocsf_required() -> Value {
    let text = std::fs::read_to_string(format!("{DATA}/ocsf-1.8.0-detection-finding-required.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The values at `path` (`a.b`, `a[].b`: every element of the array `a`); `None` for a missing
/// step, so a caller tells "absent" from "present".
fn values_at<'a>(event: &'a Value, path: &str) -> Vec<Option<&'a Value>> {
    let mut current = vec![Some(event)];
    for step in path.split('.') {
        let (name, each) = match step.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (step, false),
        };
        let mut next = Vec::new();
        for v in current {
            let child = v.and_then(|v| v.get(name));
            match (each, child) {
                (true, Some(Value::Array(items))) => next.extend(items.iter().map(Some)),
                (true, Some(_)) => panic!("{path}: {name} is not an array"),
                (_, child) => next.push(child),
            }
        }
        current = next;
    }
    current
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "integer" => value.is_i64() || value.is_u64(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        t if t.starts_with("array of ") => value.as_array().is_some_and(|a| a.iter().all(|v| has_type(v, &t[9..]))),
        other => panic!("the required-attribute list names a type this test does not know: {other}"),
    }
}

/// Every problem of one OCSF line against the required-attribute list.
fn ocsf_problems(event: &Value, required: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for attr in required["required"].as_array().unwrap() {
        let (path, ty) = (attr["path"].as_str().unwrap(), attr["type"].as_str().unwrap());
        for v in values_at(event, path) {
            match v {
                None => problems.push(format!("{path} missing (required by {})", attr["file"])),
                Some(v) if !has_type(v, ty) => problems.push(format!("{path}: {v} is not {ty}")),
                Some(_) => {}
            }
        }
    }
    for attr in required["required_when_present"].as_array().unwrap() {
        let path = attr["path"].as_str().unwrap();
        let (parent, name) = path.rsplit_once('.').unwrap();
        for p in values_at(event, parent).into_iter().flatten() {
            match p.get(name) {
                None => problems.push(format!("{path} missing (required by {})", attr["file"])),
                Some(v) if !has_type(v, attr["type"].as_str().unwrap()) => {
                    problems.push(format!("{path}: {v} wrong type"))
                }
                Some(_) => {}
            }
        }
    }
    for c in required["constraints"].as_array().unwrap() {
        let path = c["path"].as_str().unwrap();
        let any: Vec<&str> = c["at_least_one"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for p in values_at(event, path).into_iter().flatten() {
            if !any.iter().any(|k| p.get(*k).is_some()) {
                problems.push(format!("{path}: none of {any:?} ({})", c["file"]));
            }
        }
    }
    for (name, e) in required["enums"].as_object().unwrap() {
        if let Some(v) = event.get(name) {
            let allowed: Vec<u64> = e["values"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            if !v.as_u64().is_some_and(|v| allowed.contains(&v)) {
                problems.push(format!("{name}: {v} not in {allowed:?}"));
            }
        }
    }
    let class = &required["class"];
    if event["class_uid"] != class["uid"] || event["category_uid"] != class["category_uid"] {
        problems.push("not a Detection Finding of the Findings category".into());
    }
    let type_uid = event["class_uid"].as_u64().unwrap_or(0) * 100 + event["activity_id"].as_u64().unwrap_or(0);
    if event["type_uid"].as_u64() != Some(type_uid) {
        problems.push(format!("type_uid {} is not class_uid * 100 + activity_id", event["type_uid"]));
    }
    if event["metadata"]["version"] != required["ocsf_version"] {
        problems.push("metadata.version is not the schema's version".into());
    }
    problems
}

fn lines(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n'), "JSON Lines end with a newline");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn every_ocsf_line_has_the_required_attributes_one_per_finding() {
    let required = ocsf_required();
    let record = record("contoso");
    let text = render(Records::Organization(&record), Format::Ocsf, None);
    let events = lines(&text);
    for event in &events {
        let problems = ocsf_problems(event, &required);
        assert!(problems.is_empty(), "{problems:#?}\n{event:#}");
    }
    // One line per finding (open: New and alerting; accepted: Suppressed, not alerting) plus
    // one per coverage gap (the unread owner, the partial audit log).
    let findings: Vec<&Value> = events.iter().filter(|e| e["finding_info"]["types"][0] != "coverage-gap").collect();
    assert_eq!(findings.len(), record.findings.len());
    let open = findings.iter().filter(|e| e["status_id"] == 1 && e["is_alert"] == true).count();
    assert_eq!(open, record.open_findings().count());
    let suppressed: Vec<&&Value> = findings.iter().filter(|e| e["status_id"] == 3).collect();
    assert_eq!(suppressed.len(), record.summary.suppressed_findings);
    assert!(suppressed.len() == 1 && suppressed[0]["is_alert"] == false);
    assert_eq!(suppressed[0]["unmapped"]["suppression"]["ticket"], "SEC-1");
    for (event, finding) in findings.iter().zip(&record.findings) {
        let expected = match finding.severity {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        };
        assert_eq!(event["severity_id"], expected, "{event}");
        assert_eq!(event["time"], record.as_of.timestamp_millis());
        assert_eq!(event["unmapped"]["rule"], finding.rule.as_ref());
        if !finding.is_organization() {
            assert_eq!(event["resources"][0]["uid"], finding.authorization_id.as_str());
            assert_eq!(event["resources"][0]["owner"]["uid"], finding.owner.as_str());
        }
    }
    let gaps: Vec<&str> = events
        .iter()
        .filter(|e| e["finding_info"]["types"][0] == "coverage-gap")
        .map(|e| e["unmapped"]["gap"].as_str().unwrap())
        .collect();
    assert_eq!(gaps, ["owners-not-read", "audit"]);
    // The hostile name is the same string once parsed, and no raw control or bidi character
    // reaches the line.
    assert!(!text.contains(['\u{0}', '\u{1b}', '\u{9b}', '\u{202e}']), "raw control characters");
    assert!(events.iter().any(|e| e["resources"][0]["name"] == HOSTILE));
    // Deterministic.
    assert_eq!(text, render(Records::Organization(&record), Format::Ocsf, None));
}

#[test]
fn ocsf_finding_uids_are_unique_and_stable_across_scans() {
    let uids = |record: &ScanRecord| -> Vec<String> {
        lines(&render(Records::Organization(record), Format::Ocsf, None))
            .iter()
            .map(|e| e["finding_info"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    let first = uids(&record("contoso"));
    assert_eq!(first.iter().collect::<BTreeSet<_>>().len(), first.len(), "unique: {first:?}");
    // A later scan of the same organization: the same findings keep their uids.
    let mut again = record("contoso");
    again.as_of += chrono::Duration::days(1);
    assert_eq!(uids(&again), first);
    // Another organization's findings are other findings.
    let other = uids(&record("fabrikam"));
    assert!(other.iter().all(|u| !first.contains(u)));
}

#[test]
fn ocsf_of_a_tenant_names_the_organization_of_each_line() {
    let required = ocsf_required();
    let tenant = tenant();
    let events = lines(&render(Records::Tenant(&tenant), Format::Ocsf, None));
    for event in &events {
        let problems = ocsf_problems(event, &required);
        assert!(problems.is_empty(), "{problems:#?}\n{event:#}");
    }
    let orgs: BTreeSet<&str> = events.iter().map(|e| e["unmapped"]["organization"].as_str().unwrap()).collect();
    assert_eq!(orgs, BTreeSet::from(["alpha", "beta", "gamma"]));
    let per_org = events.iter().filter(|e| e["unmapped"]["organization"] == "alpha").count();
    assert_eq!(per_org, render(Records::Organization(&tenant.organizations[0]), Format::Ocsf, None).lines().count());
    let not_scanned: Vec<&Value> =
        events.iter().filter(|e| e["unmapped"]["gap"] == "organization-not-scanned").collect();
    assert_eq!(not_scanned.len(), 1);
    assert_eq!(not_scanned[0]["resources"][0]["uid"], "gamma");
}

// ---------------------------------------------------------------------------------------------
// JUnit

/// A validator for the XSD subset the JUnit schema uses: global elements and named types;
/// `complexType` (`mixed`) with `sequence`/`choice` (nested, `minOccurs`/`maxOccurs`),
/// `element` (`name`+`type` or `ref`) and `attribute` (`use`); `simpleType` as a `restriction` of
/// `xs:string` by `pattern`; the built-in type `xs:string`. Anything else in the schema (another
/// construct, attribute, or built-in type) is refused, so a schema it does not understand can
/// never pass a document by accident.
mod xsd {
    use regex_automata::meta::Regex;
    use std::collections::HashMap;

    const XS: &str = "http://www.w3.org/2001/XMLSchema";

    #[derive(Debug)]
    pub struct Schema {
        elements: HashMap<String, Element>,
        complex: HashMap<String, Complex>,
        simple: HashMap<String, Simple>,
    }

    #[derive(Debug, Clone)]
    struct Element {
        name: String,
        ty: Type,
    }

    #[derive(Debug, Clone)]
    enum Type {
        /// `xs:string` or a named simple type: text only, no attributes, no children.
        Simple(Option<String>),
        Complex(Box<Complex>),
        /// A named type, complex or simple, resolved when used.
        Named(String),
    }

    #[derive(Debug, Clone)]
    struct Complex {
        mixed: bool,
        particle: Option<Particle>,
        attributes: Vec<Attribute>,
    }

    #[derive(Debug, Clone)]
    struct Attribute {
        name: String,
        required: bool,
        ty: Option<String>,
    }

    #[derive(Debug, Clone)]
    struct Particle {
        min: usize,
        max: Option<usize>,
        term: Term,
    }

    #[derive(Debug, Clone)]
    enum Term {
        Element(Element),
        Ref(String),
        Sequence(Vec<Particle>),
        Choice(Vec<Particle>),
    }

    #[derive(Debug)]
    struct Simple {
        pattern: Regex,
    }

    fn is_xs(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
        node.is_element() && node.tag_name().namespace() == Some(XS) && node.tag_name().name() == name
    }

    type Parsed<T> = Result<T, String>;

    fn refuse<T>(node: roxmltree::Node<'_, '_>, what: &str) -> Parsed<T> {
        Err(format!(
            "XSD construct not supported by this validator: {what} <{}> at byte {}",
            node.tag_name().name(),
            node.range().start
        ))
    }

    /// Refuses any attribute of an XSD element outside `allowed`.
    fn only(node: roxmltree::Node<'_, '_>, allowed: &[&str]) -> Parsed<()> {
        match node.attributes().find(|a| a.namespace().is_some() || !allowed.contains(&a.name())) {
            Some(a) => refuse(node, &format!("attribute {}", a.name())),
            None => Ok(()),
        }
    }

    /// The element children of an XSD element (text other than white space is refused).
    fn children<'a, 'i>(node: roxmltree::Node<'a, 'i>) -> Parsed<Vec<roxmltree::Node<'a, 'i>>> {
        if node.children().any(|c| c.is_text() && !c.text().unwrap_or("").trim().is_empty()) {
            return refuse(node, "text inside");
        }
        Ok(node.children().filter(|c| c.is_element()).collect())
    }

    fn occurs(node: roxmltree::Node<'_, '_>) -> Parsed<(usize, Option<usize>)> {
        let number = |v: &str| v.parse::<usize>().map_err(|_| format!("bad occurrence count {v}"));
        let min = node.attribute("minOccurs").map_or(Ok(1), number)?;
        let max = match node.attribute("maxOccurs") {
            None => Some(1),
            Some("unbounded") => None,
            Some(v) => Some(number(v)?),
        };
        Ok((min, max))
    }

    fn type_name(value: &str) -> Parsed<Type> {
        match value {
            "xs:string" => Ok(Type::Simple(None)),
            v if v.starts_with("xs:") => Err(format!("XSD built-in type not supported by this validator: {v}")),
            v => Ok(Type::Named(v.to_string())),
        }
    }

    fn element(node: roxmltree::Node<'_, '_>) -> Parsed<Element> {
        only(node, &["name", "type", "minOccurs", "maxOccurs"])?;
        let name = node.attribute("name").ok_or("an element without a name")?.to_string();
        let kids = children(node)?;
        let ty = match (node.attribute("type"), kids.as_slice()) {
            (Some(t), []) => type_name(t)?,
            (None, [c]) if is_xs(*c, "complexType") => Type::Complex(Box::new(complex(*c)?)),
            _ => return refuse(node, "element content"),
        };
        Ok(Element { name, ty })
    }

    fn particle(node: roxmltree::Node<'_, '_>) -> Parsed<Particle> {
        let (min, max) = occurs(node)?;
        let term = if is_xs(node, "element") {
            if let Some(r) = node.attribute("ref") {
                only(node, &["ref", "minOccurs", "maxOccurs"])?;
                Term::Ref(r.to_string())
            } else {
                Term::Element(element(node)?)
            }
        } else if is_xs(node, "sequence") || is_xs(node, "choice") {
            only(node, &["minOccurs", "maxOccurs"])?;
            let items = children(node)?.into_iter().map(particle).collect::<Parsed<Vec<_>>>()?;
            if is_xs(node, "sequence") { Term::Sequence(items) } else { Term::Choice(items) }
        } else {
            return refuse(node, "particle");
        };
        Ok(Particle { min, max, term })
    }

    fn complex(node: roxmltree::Node<'_, '_>) -> Parsed<Complex> {
        only(node, &["name", "mixed"])?;
        let mixed = match node.attribute("mixed") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return refuse(node, "mixed value"),
        };
        let mut out = Complex { mixed, particle: None, attributes: Vec::new() };
        for c in children(node)? {
            if is_xs(c, "attribute") {
                only(c, &["name", "type", "use"])?;
                let ty = match c.attribute("type") {
                    None | Some("xs:string") => None,
                    Some(t) if t.starts_with("xs:") => return Err(format!("XSD built-in type not supported: {t}")),
                    Some(t) => Some(t.to_string()),
                };
                let required = match c.attribute("use") {
                    None | Some("optional") => false,
                    Some("required") => true,
                    Some(_) => return refuse(c, "use value"),
                };
                let name = c.attribute("name").ok_or("an attribute without a name")?.to_string();
                out.attributes.push(Attribute { name, required, ty });
            } else if (is_xs(c, "sequence") || is_xs(c, "choice"))
                && out.particle.is_none()
                && out.attributes.is_empty()
            {
                out.particle = Some(particle(c)?);
            } else {
                return refuse(c, "complexType content");
            }
        }
        Ok(out)
    }

    fn simple(node: roxmltree::Node<'_, '_>) -> Parsed<Simple> {
        only(node, &["name"])?;
        let kids = children(node)?;
        let [restriction] = kids.as_slice() else { return refuse(node, "simpleType content") };
        if !is_xs(*restriction, "restriction") || restriction.attribute("base") != Some("xs:string") {
            return refuse(*restriction, "simpleType derivation");
        }
        only(*restriction, &["base"])?;
        let facets = children(*restriction)?;
        let [pattern] = facets.as_slice() else { return refuse(*restriction, "facets") };
        if !is_xs(*pattern, "pattern") {
            return refuse(*pattern, "facet");
        }
        only(*pattern, &["value"])?;
        let value = pattern.attribute("value").ok_or("a pattern without a value")?;
        // XSD-only regular expression syntax (name classes, class subtraction, blocks).
        if let Some(xsd_only) = ["\\i", "\\I", "\\c", "\\C", "-[", "\\p{Is"].iter().find(|s| value.contains(*s)) {
            return Err(format!("XSD pattern syntax not supported: {xsd_only} in {value}"));
        }
        // XSD patterns match the whole value.
        let pattern = Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("pattern {value}: {e}"))?;
        Ok(Simple { pattern })
    }

    impl Schema {
        /// The schema, or why this validator refuses it.
        pub fn parse(text: &str) -> Result<Schema, String> {
            let doc = roxmltree::Document::parse(text).map_err(|e| format!("the XSD is not well-formed: {e}"))?;
            let root = doc.root_element();
            if !is_xs(root, "schema") {
                return Err("not an XSD".into());
            }
            only(root, &[])?;
            let mut schema = Schema { elements: HashMap::new(), complex: HashMap::new(), simple: HashMap::new() };
            for c in children(root)? {
                let name = c.attribute("name").ok_or("a global declaration without a name")?.to_string();
                if is_xs(c, "element") {
                    schema.elements.insert(name, element(c)?);
                } else if is_xs(c, "complexType") {
                    schema.complex.insert(name, complex(c)?);
                } else if is_xs(c, "simpleType") {
                    schema.simple.insert(name, simple(c)?);
                } else {
                    return refuse(c, "top-level declaration");
                }
            }
            schema.check_references()?;
            Ok(schema)
        }

        /// Every `ref` names a global element and every type name a declared type.
        fn check_references(&self) -> Result<(), String> {
            fn particle_refs<'a>(p: &'a Particle, refs: &mut Vec<&'a str>, types: &mut Vec<&'a Type>) {
                match &p.term {
                    Term::Ref(r) => refs.push(r),
                    Term::Element(e) => collect(&e.ty, refs, types),
                    Term::Sequence(items) | Term::Choice(items) => {
                        items.iter().for_each(|i| particle_refs(i, refs, types))
                    }
                }
            }
            fn collect<'a>(ty: &'a Type, refs: &mut Vec<&'a str>, types: &mut Vec<&'a Type>) {
                types.push(ty);
                if let Type::Complex(c) = ty {
                    c.particle.iter().for_each(|p| particle_refs(p, refs, types));
                }
            }
            let (mut refs, mut types) = (Vec::new(), Vec::new());
            self.elements.values().for_each(|e| collect(&e.ty, &mut refs, &mut types));
            for c in self.complex.values() {
                c.particle.iter().for_each(|p| particle_refs(p, &mut refs, &mut types));
            }
            if let Some(r) = refs.iter().find(|r| !self.elements.contains_key(**r)) {
                return Err(format!("ref to an undeclared element {r}"));
            }
            let attribute_types = self
                .elements
                .values()
                .filter_map(|e| if let Type::Complex(c) = &e.ty { Some(c.as_ref()) } else { None })
                .chain(self.complex.values())
                .flat_map(|c| c.attributes.iter().filter_map(|a| a.ty.as_deref()));
            for name in attribute_types {
                if !self.simple.contains_key(name) {
                    return Err(format!("attribute of an undeclared simple type {name}"));
                }
            }
            for ty in types {
                if let Type::Named(n) = ty
                    && !self.simple.contains_key(n)
                    && !self.complex.contains_key(n)
                {
                    return Err(format!("undeclared type {n}"));
                }
            }
            Ok(())
        }

        /// Every violation of the document (empty: valid).
        pub fn validate(&self, xml: &str) -> Vec<String> {
            let doc = match roxmltree::Document::parse(xml) {
                Ok(doc) => doc,
                Err(e) => return vec![format!("not well-formed: {e}")],
            };
            let root = doc.root_element();
            let mut problems = Vec::new();
            match self.elements.get(root.tag_name().name()) {
                Some(decl) => self.element(root, decl, &mut problems),
                None => problems.push(format!("no global element <{}>", root.tag_name().name())),
            }
            problems
        }

        fn resolve<'s>(&'s self, particle: &'s Particle, name: &str) -> Option<&'s Element> {
            match &particle.term {
                Term::Element(e) => (e.name == name).then_some(e),
                Term::Ref(r) => (r == name).then(|| &self.elements[r]),
                Term::Sequence(items) | Term::Choice(items) => items.iter().find_map(|p| self.resolve(p, name)),
            }
        }

        fn element(&self, node: roxmltree::Node<'_, '_>, decl: &Element, problems: &mut Vec<String>) {
            let at = format!("<{}> at byte {}", decl.name, node.range().start);
            if node.tag_name().namespace().is_some() {
                problems.push(format!("{at}: in a namespace"));
            }
            let ty = match &decl.ty {
                Type::Named(n) if self.simple.contains_key(n) => Type::Simple(Some(n.clone())),
                Type::Named(n) => {
                    Type::Complex(Box::new(self.complex.get(n).unwrap_or_else(|| panic!("no type {n}")).clone()))
                }
                t => t.clone(),
            };
            let kids: Vec<_> = node.children().filter(|c| c.is_element()).collect();
            match ty {
                Type::Simple(name) => {
                    if node.attributes().len() > 0 {
                        problems.push(format!("{at}: attributes on a simple-typed element"));
                    }
                    if !kids.is_empty() {
                        problems.push(format!("{at}: child elements in a simple-typed element"));
                    }
                    if let Some(n) = name {
                        let text: String = node.children().filter_map(|c| c.text()).collect();
                        self.check_simple(&n, &text, &at, problems);
                    }
                }
                Type::Complex(c) => {
                    for a in node.attributes() {
                        match c.attributes.iter().find(|d| d.name == a.name() && a.namespace().is_none()) {
                            None => problems.push(format!("{at}: undeclared attribute {}", a.name())),
                            Some(d) => {
                                if let Some(t) = &d.ty {
                                    self.check_simple(t, a.value(), &format!("{at} @{}", a.name()), problems);
                                }
                            }
                        }
                    }
                    for d in c.attributes.iter().filter(|d| d.required) {
                        if node.attribute(d.name.as_str()).is_none() {
                            problems.push(format!("{at}: required attribute {} missing", d.name));
                        }
                    }
                    if !c.mixed && node.children().any(|t| t.is_text() && !t.text().unwrap_or("").trim().is_empty()) {
                        problems.push(format!("{at}: text in element-only content"));
                    }
                    let names: Vec<&str> = kids.iter().map(|k| k.tag_name().name()).collect();
                    let matched = match &c.particle {
                        None => names.is_empty(),
                        Some(p) => self.ends(p, &names, 0).contains(&names.len()),
                    };
                    if !matched {
                        problems.push(format!("{at}: children {names:?} do not match the content model"));
                        return;
                    }
                    for kid in kids {
                        let decl =
                            c.particle.as_ref().and_then(|p| self.resolve(p, kid.tag_name().name())).expect("matched");
                        self.element(kid, decl, problems);
                    }
                }
                Type::Named(_) => unreachable!("resolved above"),
            }
        }

        fn check_simple(&self, name: &str, value: &str, at: &str, problems: &mut Vec<String>) {
            let t = self.simple.get(name).unwrap_or_else(|| panic!("no simple type {name}"));
            if !t.pattern.is_match(value) {
                problems.push(format!("{at}: '{value}' does not match the pattern of {name}"));
            }
        }

        /// Every position the particle can end at, starting at `pos` of `names`.
        fn ends(&self, p: &Particle, names: &[&str], pos: usize) -> Vec<usize> {
            let mut reached = vec![pos];
            let mut frontier = vec![pos];
            let mut count = 0;
            let mut result = if p.min == 0 { vec![pos] } else { Vec::new() };
            while !frontier.is_empty() && p.max.is_none_or(|m| count < m) {
                count += 1;
                let mut next = Vec::new();
                for &at in &frontier {
                    for end in self.term_ends(&p.term, names, at) {
                        // A repetition that consumed nothing adds nothing (and would loop).
                        if end != at && !reached.contains(&end) {
                            reached.push(end);
                            next.push(end);
                        }
                        if count >= p.min && !result.contains(&end) {
                            result.push(end);
                        }
                    }
                }
                frontier = next;
            }
            result
        }

        fn term_ends(&self, term: &Term, names: &[&str], pos: usize) -> Vec<usize> {
            match term {
                Term::Element(e) => {
                    if names.get(pos) == Some(&e.name.as_str()) {
                        vec![pos + 1]
                    } else {
                        vec![]
                    }
                }
                Term::Ref(r) => {
                    if names.get(pos) == Some(&r.as_str()) {
                        vec![pos + 1]
                    } else {
                        vec![]
                    }
                }
                Term::Choice(items) => {
                    let mut all: Vec<usize> = items.iter().flat_map(|p| self.ends(p, names, pos)).collect();
                    all.sort_unstable();
                    all.dedup();
                    all
                }
                Term::Sequence(items) => {
                    let mut at = vec![pos];
                    for p in items {
                        let mut next: Vec<usize> = at.iter().flat_map(|&a| self.ends(p, names, a)).collect();
                        next.sort_unstable();
                        next.dedup();
                        at = next;
                    }
                    at
                }
            }
        }
    }
}

fn junit_schema() -> xsd::Schema {
    xsd::Schema::parse(&std::fs::read_to_string(format!("{DATA}/junit-10.xsd")).unwrap()).unwrap()
}

#[test]
fn the_xsd_validator_rejects_what_the_schema_forbids_and_refuses_what_it_does_not_know() {
    let schema = junit_schema();
    let ok = r#"<testsuites><testsuite name="a" tests="1" failures="0" errors="0" time="1,234.5"><testcase name="x"><failure message="m">text</failure><system-out>o</system-out></testcase></testsuite></testsuites>"#;
    assert_eq!(schema.validate(ok), Vec::<String>::new());
    for (bad, why) in [
        (r#"<testsuites><testsuite name="a" tests="1" errors="0"/></testsuites>"#, "required attribute failures"),
        (
            r#"<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><bogus/></testsuite></testsuites>"#,
            "do not match",
        ),
        (
            r#"<testsuites><testsuite name="a" tests="1" failures="0" errors="0" skipped="1" time="soon"/></testsuites>"#,
            "pattern",
        ),
        (r#"<testsuites skipped="1"/>"#, "undeclared attribute skipped"),
        (
            r#"<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="x">text</testcase></testsuite></testsuites>"#,
            "text in element-only",
        ),
        (r#"<testsuites><testcase name="x"/></testsuites>"#, "do not match"),
        (
            r#"<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><properties><property name="n"/></properties></testsuite></testsuites>"#,
            "required attribute value",
        ),
        (
            r#"<testsuite name="a" tests="1" failures="0" errors="0"><system-out><b/></system-out></testsuite>"#,
            "child elements",
        ),
        ("<testsuites>]]></testsuites>", ""),
        ("<testsuites>\u{1}</testsuites>", "not well-formed"),
    ] {
        let problems = schema.validate(bad);
        assert!(problems.iter().any(|p| p.contains(why)), "{bad}: {problems:?}");
    }
    // A schema construct the validator does not implement is refused, not ignored.
    for unknown in [
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:group name="g"/></xs:schema>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e"><xs:complexType><xs:sequence><xs:any/></xs:sequence></xs:complexType></xs:element></xs:schema>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e" type="xs:int"/></xs:schema>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e" nillable="true" type="xs:string"/></xs:schema>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified"/>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e" type="nowhere"/></xs:schema>"#,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e"><xs:complexType><xs:sequence><xs:element ref="f"/></xs:sequence></xs:complexType></xs:element></xs:schema>"#,
    ] {
        let refused = xsd::Schema::parse(unknown);
        assert!(refused.is_err(), "accepted an unknown construct: {unknown}");
    }
}

/// (tests, failures, errors, skipped) of a `<testsuite>` as written and as counted.
fn suite_counts(suite: roxmltree::Node<'_, '_>) -> [(usize, usize); 4] {
    let cases: Vec<_> = suite.children().filter(|c| c.has_tag_name("testcase")).collect();
    let with = |name: &str| cases.iter().filter(|c| c.children().any(|k| k.has_tag_name(name))).count();
    let attr = |name: &str| suite.attribute(name).unwrap().parse::<usize>().unwrap();
    [
        (attr("tests"), cases.len()),
        (attr("failures"), with("failure")),
        (attr("errors"), with("error")),
        (attr("skipped"), with("skipped")),
    ]
}

#[test]
fn junit_is_valid_and_fails_the_open_findings_at_or_above_fail_on() {
    let schema = junit_schema();
    let record = record("contoso");
    for fail_on in [None, Some(Severity::High), Some(Severity::Critical)] {
        let xml = render(Records::Organization(&record), Format::Junit, fail_on);
        assert_eq!(schema.validate(&xml), Vec::<String>::new(), "{fail_on:?}\n{xml}");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suites: Vec<_> = doc.root_element().children().filter(|c| c.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 1);
        assert_eq!(suites[0].attribute("name"), Some("contoso"));
        for (written, counted) in suite_counts(suites[0]) {
            assert_eq!(written, counted);
        }
        let threshold = fail_on.unwrap_or(Severity::Info);
        let failing = record.open_findings().filter(|f| f.severity >= threshold).count();
        let [_, (failures, _), (errors, _), (skipped, _)] = suite_counts(suites[0]);
        assert_eq!(failures, failing, "{fail_on:?}");
        assert_eq!(skipped, record.summary.suppressed_findings);
        assert_eq!(errors, record.coverage.owners_failed.len(), "an unread owner is an error case");
        // Each finding is a case; below the threshold it passes and shows the finding.
        let cases: Vec<_> = suites[0].children().filter(|c| c.has_tag_name("testcase")).collect();
        let below = cases.iter().filter(|c| c.children().any(|k| k.has_tag_name("system-out"))).count();
        assert_eq!(below, record.open_findings().filter(|f| f.severity < threshold).count());
        let properties: Vec<(&str, &str)> = suites[0]
            .descendants()
            .filter(|p| p.has_tag_name("property"))
            .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
            .collect();
        assert!(properties.iter().any(|(n, v)| *n == "coverage" && v.starts_with("INCOMPLETE")));
        assert!(properties.iter().any(|(n, v)| *n == "coverage.owner_not_read" && v.contains("HTTP 500 <boom>")));
        // The partial audit log: `unused` and `leaked` judged nothing, so no passing case claims it.
        assert!(properties.iter().any(|(n, _)| *n == "not_judged.unused"), "{properties:?}");
        assert!(!cases.iter().any(|c| c.attribute("name").unwrap().starts_with("unused:")));
    }
}

#[test]
fn junit_cases_are_every_applicable_rule_of_every_active_credential() {
    let record = RecordBuilder::new()
        .owners(vec![owner("aad.ada", "ada@contoso.com", "Ada").member(true).accessed_days_ago(3)])
        .tokens(vec![
            TokenBuilder::new("pat-1", "aad.ada").name("clean").scopes(&["vso.code"]).lifetime_days(30).build(),
            TokenBuilder::new("ssh-1", "aad.ada").name("key").ssh().lifetime_days(30).build(),
            TokenBuilder::new("old-1", "aad.ada").name("gone").revoked().build(),
        ])
        .evidence(common::evidence_read(None))
        .build();
    assert_eq!(record.open_findings().count(), 0, "{:?}", record.findings);
    let xml = render(Records::Organization(&record), Format::Junit, None);
    assert_eq!(junit_schema().validate(&xml), Vec::<String>::new());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let names = |id: &str| -> BTreeSet<String> {
        doc.descendants()
            .filter(|c| c.has_tag_name("testcase"))
            .filter_map(|c| c.attribute("name"))
            .filter(|n| n.ends_with(&format!("({id})")))
            .map(|n| n.split(':').next().unwrap().to_string())
            .collect()
    };
    let enabled: BTreeSet<String> = record.rules.iter().map(|r| r.id.clone()).collect();
    let pat = names("pat-1");
    // Every enabled credential rule judged the clean PAT and passed.
    let counters = ["expired", "revoked", "exception-expired"];
    let expected: BTreeSet<String> =
        enabled.iter().filter(|r| !r.starts_with("policy-") && !counters.contains(&r.as_str())).cloned().collect();
    assert_eq!(pat, expected);
    // An SSH key is judged by the lifetime, owner and leak rules only.
    let ssh = names("ssh-1");
    assert!(ssh.contains("long-lived") && ssh.contains("owner-inactive") && ssh.contains("leaked"), "{ssh:?}");
    assert!(!ssh.contains("full-access") && !ssh.contains("unused") && !ssh.contains("all-organizations"), "{ssh:?}");
    // A revoked credential is not judged (the `revoked` rule is off by default): no case.
    assert!(names("old-1").is_empty());
    assert!(!xml.contains("<failure"));
}

#[test]
fn junit_of_a_tenant_has_a_suite_per_organization_and_an_error_for_one_not_scanned() {
    let tenant = tenant();
    let xml = render(Records::Tenant(&tenant), Format::Junit, Some(Severity::High));
    assert_eq!(junit_schema().validate(&xml), Vec::<String>::new());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc.root_element().children().filter(|c| c.has_tag_name("testsuite")).collect();
    let names: Vec<&str> = suites.iter().map(|s| s.attribute("name").unwrap()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    for s in &suites {
        let org = s.attribute("name").unwrap();
        for c in s.children().filter(|c| c.has_tag_name("testcase")) {
            assert!(c.attribute("classname").unwrap().starts_with(org), "each case names its organization");
        }
    }
    let gamma = suite_counts(suites[2]);
    assert_eq!(gamma[0], (1, 1));
    assert_eq!(gamma[2], (1, 1));
    let total: usize = suites.iter().map(|s| suite_counts(*s)[0].1).sum();
    assert_eq!(doc.root_element().attribute("tests").unwrap().parse::<usize>().unwrap(), total);
}

#[test]
fn hostile_names_yield_well_formed_xml_with_the_name_readable() {
    let record = record("contoso");
    let xml = render(Records::Organization(&record), Format::Junit, None);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    assert!(!xml.contains("<![CDATA["));
    assert!(!xml.contains(['\u{0}', '\u{1b}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{fffe}', '\u{ffff}']));
    let names: Vec<&str> =
        doc.descendants().filter(|c| c.has_tag_name("testcase")).filter_map(|c| c.attribute("name")).collect();
    // `]]>`, markup and quotes survive as text; controls become U+FFFD, the tab a space.
    let expected = "deploy ]]> <script>&amp;\"'\u{fffd}\u{fffd}[2J\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd} end";
    assert!(names.iter().any(|n| n.contains(expected)), "{names:?}");
    // An organization name, an error message and an exception reason from a hostile source too.
    let tenant = TenantRecord::new(
        vec![record.clone()],
        vec![OrganizationFailure { organization: "]]><x>\u{1}".into(), reason: "a\u{0}b".into() }],
        common::as_of(),
        None,
    );
    let xml = render(Records::Tenant(&tenant), Format::Junit, None);
    assert_eq!(junit_schema().validate(&xml), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Summary

#[test]
fn the_summary_of_a_huge_tenant_stays_under_1_mib_and_shows_every_kind_of_gap() {
    // 300 organizations with long hostile names, 30 unread owners each with a long error, and a
    // generated organization of 1,000 users: written out in full, several megabytes. (Small in
    // memory: the tests share a process, and the hostile-server tests measure the peak memory of
    // the binaries it starts, which includes what a fork inherits.)
    let long = format!("{}<x>|", "n".repeat(600));
    let org = pat2entra::sim::SimOrg::generate("big", 42, 1_000, common::as_of(), None);
    let users: Vec<pat2entra::sim::SimUser> = org.users().collect();
    let tokens = org
        .all_tokens()
        .iter()
        .enumerate()
        .flat_map(|(i, ts)| ts.iter().map(|t| t.to_inventory(&users[i].descriptor)).collect::<Vec<_>>())
        .collect();
    let owners = users.iter().map(|u| owner(&u.descriptor, &u.principal_name, &u.display_name)).collect();
    let big = RecordBuilder::new().organization("big").owners(owners).tokens(tokens).build();
    assert!(big.open_findings().count() > 500);
    let mut organizations = vec![big];
    for i in 0..300 {
        let failed =
            (0..30).map(|j| OwnerFailure { descriptor: format!("aad.{i}.{j}"), error: long.clone() }).collect();
        organizations.push(RecordBuilder::new().organization(&format!("{long}{i}")).coverage(60, 30, failed).build());
    }
    let failed =
        (0..50).map(|i| OrganizationFailure { organization: format!("failed{i}"), reason: long.clone() }).collect();
    let tenant = TenantRecord::new(organizations, failed, common::as_of(), None);
    let text = report::render_summary(Records::Tenant(&tenant), report::MAX_SUMMARY);
    assert!(text.len() <= report::MAX_SUMMARY && text.len() <= 1024 * 1024, "{} bytes", text.len());
    assert!(text.contains("### Coverage gaps") && text.contains("more organizations with coverage gaps"));
    assert!(text.contains("30 of 60 owners not read"));
    assert!(text.contains("not scanned"));
    assert!(text.contains("more open findings"));
    assert!(!text.contains("<x>"), "names are escaped");
    // A small budget (another step already wrote most of the file) is kept too.
    let small = report::render_summary(Records::Tenant(&tenant), 20_000);
    assert!(small.len() <= 20_000 && small.ends_with("see the full report._\n"), "{}", small.len());
}

#[test]
fn summary_is_appended_and_exports_are_redacted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    std::fs::write(&scan, serde_json::to_vec(&record("contoso")).unwrap()).unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# Earlier step\n").unwrap();
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let out = dir.path().join("out.xml");
    let r = run(&["report", &p(&scan), "-o", "junit", "--out", &p(&out), "--summary", &p(&summary)], &[]);
    assert_eq!(r.code, 4, "incomplete coverage: {}", r.stderr);
    let r = run(&["report", &p(&scan), "-o", "ocsf", "--summary", &p(&summary), "--allow-partial"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("# Earlier step\n\n## PAT audit: contoso"), "{text}");
    assert_eq!(text.matches("## PAT audit: contoso").count(), 2, "appended, not replaced");
    assert!(text.contains("### Coverage gaps") && text.contains("evidence.audit: partial"));
    assert_eq!(junit_schema().validate(&std::fs::read_to_string(&out).unwrap()), Vec::<String>::new());

    // --redact: no principal name, display name or token name reaches any export.
    let key = [("PAT2ENTRA_REDACT_KEY", "exports-test-key-not-secret")];
    let redacted_summary = dir.path().join("redacted.md");
    for format in ["ocsf", "junit"] {
        let r = run(
            &["report", &p(&scan), "-o", format, "--redact", "--allow-partial", "--summary", &p(&redacted_summary)],
            &key,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        for name in [
            "ada@contoso.com",
            "bob@contoso.com",
            "svc-build",
            "<script>",
            "&lt;script&gt;",
            "Bob <b>",
            "Bob &lt;b&gt;",
        ] {
            assert!(!r.stdout.contains(name), "{format}: {name} not redacted");
        }
    }
    let text = std::fs::read_to_string(&redacted_summary).unwrap();
    assert!(!text.contains("ada@contoso") && !text.contains("svc-build") && text.contains("redacted"), "{text}");
}

#[test]
fn exports_are_refused_where_there_is_no_scan() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    std::fs::write(&scan, serde_json::to_vec(&record("contoso")).unwrap()).unwrap();
    let s = scan.to_str().unwrap();
    for (args, flag) in [
        (vec!["diff", s, s, "-o", "ocsf"], "-o ocsf"),
        (vec!["diff", s, s, "-o", "junit"], "-o junit"),
        (vec!["diff", s, s, "--summary", "x.md"], "--summary"),
    ] {
        let r = run(&args, &[]);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(&format!("{flag} applies to scans, not to diff")), "{}", r.stderr);
    }
}

#[test]
fn report_exports_a_saved_tenant_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    std::fs::write(&path, serde_json::to_vec(&tenant()).unwrap()).unwrap();
    let t = path.to_str().unwrap();
    let r = run(&["report", t, "-o", "junit"], &[]);
    assert_eq!(r.code, 4, "an organization not scanned: incomplete; {}", r.stderr);
    assert!(r.stderr.contains("1 organizations not scanned"), "{}", r.stderr);
    assert_eq!(junit_schema().validate(&r.stdout), Vec::<String>::new());
    assert_eq!(r.stdout.matches("<testsuite ").count(), 3);
    let summary = dir.path().join("summary.md");
    let r = run(
        &[
            "report",
            t,
            "-o",
            "ocsf",
            "--allow-partial",
            "--fail-on",
            "critical",
            "--redact",
            "--summary",
            summary.to_str().unwrap(),
        ],
        &[("PAT2ENTRA_REDACT_KEY", "exports-test-key-not-secret")],
    );
    assert_eq!(r.code, 1, "critical findings: {}", r.stderr);
    let events = lines(&r.stdout);
    assert!(events.iter().any(|e| e["unmapped"]["organization"] == "alpha"));
    assert!(!r.stdout.contains("ada@contoso.com") && !r.stdout.contains("<script>"));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("## PAT audit: 3 organizations") && text.contains("| Organization |"), "{text}");
    assert!(!text.contains("ada@contoso.com"), "{text}");
    // The summary file gets a tenant's other formats' digest too (appended after the first).
    let r = run(&["report", t, "-o", "table", "--allow-partial", "--summary", summary.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("==== Organization 1 of 2: alpha ===="), "{}", r.stdout);
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(appended.matches("## PAT audit: 3 organizations").count(), 2, "{appended}");
}

/// The demo organization's exports in sample-reports/ (kept equal to what the code writes by
/// tests/it/sample_reports.rs): every rule the demo fires, every line checked.
#[test]
fn the_sample_exports_are_valid() {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-reports");
    let required = ocsf_required();
    let text = std::fs::read_to_string(format!("{samples}/demo-scan.ocsf.jsonl")).unwrap();
    let events = lines(&text);
    assert!(events.len() > 500);
    for event in &events {
        let problems = ocsf_problems(event, &required);
        assert!(problems.is_empty(), "{problems:#?}\n{event:#}");
    }
    let xml = std::fs::read_to_string(format!("{samples}/demo-scan.junit.xml")).unwrap();
    assert_eq!(junit_schema().validate(&xml), Vec::<String>::new());
    let summary = std::fs::read_to_string(format!("{samples}/demo-summary.md")).unwrap();
    assert!(summary.len() < report::MAX_SUMMARY && summary.contains("### Top findings"));
}

#[test]
fn scan_appends_its_summary_and_checks_the_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let out = dir.path().join("scan.xml");
    let args = ["scan", "--demo", "--users", "4", "--quiet", "--as-of", "2026-11-26", "-o", "junit"];
    let mut with = args.to_vec();
    with.extend(["--out", out.to_str().unwrap(), "--summary", summary.to_str().unwrap()]);
    let r = run(&with, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&summary).unwrap().starts_with("## PAT audit: "));
    assert_eq!(junit_schema().validate(&std::fs::read_to_string(&out).unwrap()), Vec::<String>::new());
    // A summary file that cannot be written fails before the scan, with the file named.
    let mut bad = args.to_vec();
    let missing = dir.path().join("no-such-dir").join("summary.md");
    bad.extend(["--summary", missing.to_str().unwrap()]);
    let r = run(&bad, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("summary file") && r.stderr.contains("no-such-dir"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing scanned: {}", r.stdout);
}

fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config { cases: 48, failure_persistence: None, ..Default::default() }
}

proptest::proptest! {
    #![proptest_config(proptest_config())]

    /// Any names at all (every Unicode scalar value, controls and non-characters included):
    /// the JUnit report stays valid, each OCSF line parses back to the exact name, and the
    /// summary stays one escaped table row per finding.
    #[test]
    fn any_names_keep_every_export_well_formed(
        token_name in "\\PC{0,12}[\\x00-\\x1f\\x7f-\\x9f\\u{202e}\\u{fffe}\\u{ffff}\\]<>&\"']{1,6}\\PC{0,12}",
        owner_name in proptest::collection::vec(proptest::char::any(), 0..24),
        organization in "[\\x00-\\x7f]{1,16}",
    ) {
        let owner_name: String = owner_name.into_iter().collect();
        let record = RecordBuilder::new()
            .organization(&organization)
            .owners(vec![owner("aad.x", &owner_name, &owner_name)])
            .tokens(vec![TokenBuilder::new("tok-1", "aad.x").name(&token_name).scopes(&["app_token"]).global(true).build()])
            .build();
        let records = Records::Organization(&record);
        let xml = render(records, Format::Junit, None);
        let problems = junit_schema().validate(&xml);
        proptest::prop_assert!(problems.is_empty(), "{:?}", problems);
        let events = lines(&render(records, Format::Ocsf, None));
        proptest::prop_assert_eq!(events.len(), record.findings.len());
        for e in &events {
            proptest::prop_assert_eq!(e["resources"][0]["name"].as_str(), Some(token_name.as_str()));
            proptest::prop_assert_eq!(e["unmapped"]["organization"].as_str(), Some(organization.as_str()));
        }
        let summary = report::render_summary(records, report::MAX_SUMMARY);
        let rows = summary.lines().filter(|l| l.starts_with("| **") || l.starts_with("| medium") || l.starts_with("| low") || l.starts_with("| info")).count();
        proptest::prop_assert_eq!(rows, record.open_findings().count().min(25), "{}", summary);
    }
}
