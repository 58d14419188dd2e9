//! OCSF: every finding as an OCSF Detection Finding (class 2004, category 2 Findings), one JSON
//! object per line (JSON Lines), for a SIEM (Sentinel, Splunk, any OCSF reader).
//!
//! Schema: OCSF 1.8.0 (github.com/ocsf/ocsf-schema, tag `1.8.0`): `events/base_event.json`,
//! `events/findings/finding.json`, `events/findings/detection_finding.json`, `dictionary.json`,
//! `objects/{finding_info,metadata,product,resource_details,user,remediation,observable,
//! analytic}.json`. The required attributes are listed, with those paths, in
//! `tests/data/ocsf-1.8.0-detection-finding-required.json`, and every line is checked against
//! it (`tests/it/exports.rs`).
//!
//! What is written:
//! - one line per finding, in the record's order (most severe first): open findings with
//!   `status_id` 1 (New) and `is_alert: true`; findings accepted by an exception with
//!   `status_id` 3 (Suppressed) and `is_alert: false`, so they stay visible in the SIEM without
//!   alerting;
//! - one line per coverage gap (`finding_info.types: ["coverage-gap"]`, severity Medium): owners
//!   whose credentials could not be read, evidence sources not read in full, organizations of a
//!   tenant scan not scanned at all. A SIEM must see a blind spot, not fewer findings.
//!
//! `finding_info.uid` is stable across runs: a hash of (organization, owner descriptor,
//! authorization id, rule), so a SIEM deduplicates the same finding from one scan to the next.
//! Every scan restates what it sees (`activity_id` 1, Create): pat2entra keeps no lifecycle.
//! Under `--redact` names and descriptors are pseudonyms, so the uid is the hash of the
//! pseudonyms: stable across runs with the same key.

use crate::evidence::CredentialKind;
use crate::finding::{Confidence, Finding, Severity};
use crate::record::ScanRecord;
use serde_json::{Map, Value, json};
use std::io::{self, Write};

use super::Records;

/// The OCSF version the lines follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";
/// Detection Finding (`events/findings/detection_finding.json`, uid 4 in category 2).
const CLASS_UID: u64 = 2004;
const CLASS_NAME: &str = "Detection Finding";
/// Findings (`categories.json`).
const CATEGORY_UID: u64 = 2;
const CATEGORY_NAME: &str = "Findings";
/// Create (`events/findings/finding.json`, `activity_id`).
const ACTIVITY_CREATE: u64 = 1;

/// OCSF `severity_id` (`dictionary.json`): 1 Informational … 5 Critical.
pub(crate) fn severity_id(severity: Severity) -> (u64, &'static str) {
    match severity {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

pub fn render(records: Records<'_>, out: &mut dyn Write) -> io::Result<()> {
    let tool = records.tool();
    for record in records.organizations() {
        for finding in &record.findings {
            super::json::write_line(&finding_event(record, finding), out)?;
        }
        for gap in gaps(record) {
            super::json::write_line(&gap.event(&record.organization, record.as_of, &tool.version), out)?;
        }
    }
    for failed in records.failed() {
        let gap = Gap {
            kind: "organization-not-scanned",
            title: format!("Organization {} was not scanned", failed.organization),
            message: failed.reason.clone(),
            detail: json!({ "reason": failed.reason }),
        };
        super::json::write_line(&gap.event(&failed.organization, records.as_of(), &tool.version), out)?;
    }
    Ok(())
}

/// A stable id: `pat2entra-` and 32 hex digits of the SHA-256 of the parts, each preceded by
/// its length (so `("ab", "c")` and `("a", "bc")` differ).
fn stable_uid(parts: &[&str]) -> String {
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    format!("pat2entra-{}", &crate::files::sha256_hex(&bytes)[..32])
}

/// `finding_info.uid` of a finding: the same finding (organization, owner, credential, rule)
/// gets the same uid in every scan.
pub fn finding_uid(organization: &str, finding: &Finding) -> String {
    stable_uid(&[organization, &finding.owner, &finding.authorization_id, &finding.rule])
}

fn millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The common part of every line: class, category, activity, type, severity, time, metadata.
fn base(severity: Severity, time: chrono::DateTime<chrono::Utc>, version: &str) -> Map<String, Value> {
    let (severity_id, severity_name) = severity_id(severity);
    let event = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": format!("{CLASS_NAME}: Create"),
        "severity_id": severity_id,
        "severity": severity_name,
        "time": millis(time),
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "pat2entra", "vendor_name": "pat2entra", "version": version },
            "log_name": "pat2entra scan",
        },
    });
    match event {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn finding_event(record: &ScanRecord, finding: &Finding) -> Value {
    let mut event = base(finding.severity, record.as_of, &record.tool.version);
    let suppressed = finding.suppressed.as_deref();
    let (status_id, status) = if suppressed.is_some() { (3, "Suppressed") } else { (1, "New") };
    event.insert("status_id".into(), json!(status_id));
    event.insert("status".into(), json!(status));
    event.insert("is_alert".into(), json!(suppressed.is_none()));
    let (confidence_id, confidence) = match finding.confidence {
        Confidence::High => (3, "High"),
        Confidence::Low => (1, "Low"),
    };
    event.insert("confidence_id".into(), json!(confidence_id));
    event.insert("confidence".into(), json!(confidence));
    event.insert("message".into(), json!(finding.message));

    let token = record.token(&finding.owner, &finding.authorization_id);
    let owner = record.owner(&finding.owner);
    let subject = if finding.is_organization() {
        format!("organization {}", record.organization)
    } else {
        let kind = token.map_or("credential", |t| kind_name(t.kind));
        let name = token.map_or(finding.authorization_id.as_str(), |t| t.display_name.as_str());
        format!("{kind} '{name}' of {}", record.owner_label(&finding.owner))
    };
    event.insert(
        "finding_info".into(),
        json!({
            "uid": finding_uid(&record.organization, finding),
            "title": format!("{}: {subject}", finding.rule),
            "desc": finding.message,
            "types": [finding.rule],
            "analytic": { "uid": finding.rule, "name": finding.rule, "type_id": 1, "type": "Rule" },
        }),
    );

    let resource = if finding.is_organization() {
        json!({
            "uid": record.organization,
            "name": record.organization,
            "type": "Azure DevOps organization",
            "provider": "Azure DevOps",
        })
    } else {
        let mut resource = json!({
            "uid": finding.authorization_id,
            "type": token.map_or("Credential", |t| kind_name(t.kind)),
            "provider": "Azure DevOps",
            "owner": owner.map_or_else(
                || json!({ "uid": finding.owner }),
                |o| {
                    let mut user = json!({ "uid": o.descriptor, "name": o.principal_name, "display_name": o.display_name });
                    if let Some(mail) = o.mail.as_deref().filter(|m| !m.is_empty()) {
                        user["email_addr"] = json!(mail);
                    }
                    user
                },
            ),
        });
        if let Some(t) = token {
            resource["name"] = json!(t.display_name);
            let mut data = json!({
                "organization": record.organization,
                "kind": t.kind.as_str(),
                "all_organizations": t.all_organizations,
                "is_valid": t.is_valid,
            });
            if t.kind.is_pat() {
                data["scopes"] = json!(t.scopes);
            }
            if let Some(from) = t.valid_from {
                data["valid_from"] = json!(from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            if let Some(to) = t.valid_to {
                data["valid_to"] = json!(to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            resource["data"] = data;
        }
        resource
    };
    event.insert("resources".into(), json!([resource]));

    let guidance = finding.guidance.as_deref().and_then(|id| record.guidance(id));
    if let Some(g) = guidance {
        let mut references = vec![g.learn.clone()];
        references.extend(g.see_also.iter().cloned());
        event.insert(
            "remediation".into(),
            json!({ "desc": format!("{}: {}", g.title, g.action), "references": references }),
        );
    }

    let mut observables = Vec::new();
    if !finding.is_organization() {
        if let Some(o) = owner {
            observables.push(json!({ "name": "resources[0].owner.name", "type_id": 4, "type": "User Name", "value": o.principal_name }));
        }
        observables.push(json!({ "name": "resources[0].uid", "type_id": 10, "type": "Resource UID", "value": finding.authorization_id }));
    }
    if !observables.is_empty() {
        event.insert("observables".into(), Value::Array(observables));
    }

    let mut unmapped = json!({
        "organization": record.organization,
        "rule": finding.rule,
        "scope": if finding.is_organization() { "organization" } else { "credential" },
        "scan_complete": record.coverage.complete,
    });
    if let Some(id) = &finding.guidance {
        unmapped["guidance"] = json!(id);
    }
    if let Some(s) = suppressed {
        unmapped["suppression"] = json!({
            "reason": s.reason,
            "ticket": s.ticket,
            "approver": s.approver,
            "expires": s.expires.to_string(),
        });
    }
    event.insert("unmapped".into(), unmapped);
    Value::Object(event)
}

fn kind_name(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Pat => "Personal access token",
        CredentialKind::Ssh => "SSH key",
    }
}

/// Something the scan could not read, as a line of its own.
struct Gap {
    kind: &'static str,
    title: String,
    message: String,
    detail: Value,
}

impl Gap {
    fn event(&self, organization: &str, as_of: chrono::DateTime<chrono::Utc>, version: &str) -> Value {
        let mut event = base(Severity::Medium, as_of, version);
        event.insert("status_id".into(), json!(1));
        event.insert("status".into(), json!("New"));
        event.insert("is_alert".into(), json!(true));
        event.insert("message".into(), json!(self.message));
        event.insert(
            "finding_info".into(),
            json!({
                "uid": stable_uid(&[organization, "coverage-gap", self.kind]),
                "title": self.title,
                "desc": self.message,
                "types": ["coverage-gap"],
                "analytic": { "uid": "coverage-gap", "name": "coverage-gap", "type_id": 1, "type": "Rule" },
            }),
        );
        event.insert(
            "resources".into(),
            json!([{ "uid": organization, "name": organization, "type": "Azure DevOps organization", "provider": "Azure DevOps" }]),
        );
        event.insert(
            "unmapped".into(),
            json!({ "organization": organization, "rule": "coverage-gap", "gap": self.kind, "detail": self.detail }),
        );
        Value::Object(event)
    }
}

/// Owners not read (one line for all of them) and evidence sources not read in full (one each).
fn gaps(record: &ScanRecord) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let c = &record.coverage;
    if !c.owners_failed.is_empty() || c.owners_scanned < c.owners_listed {
        let owners: Vec<Value> = c
            .owners_failed
            .iter()
            .map(
                |f| json!({ "owner": record.owner_label(&f.descriptor), "descriptor": f.descriptor, "error": f.error }),
            )
            .collect();
        gaps.push(Gap {
            kind: "owners-not-read",
            title: format!(
                "The credentials of {} of {} owners of {} could not be read",
                c.owners_failed.len(),
                c.owners_listed,
                record.organization
            ),
            message: format!(
                "{} of {} owners scanned; the findings of the others are unknown",
                c.owners_scanned, c.owners_listed
            ),
            detail: json!({ "owners_listed": c.owners_listed, "owners_scanned": c.owners_scanned, "owners_failed": owners }),
        });
    }
    for (source, coverage) in record.evidence.gaps() {
        gaps.push(Gap {
            kind: source.as_str(),
            title: format!(
                "Evidence source {} of {}: {}",
                source.as_str(),
                record.organization,
                coverage.status.as_str()
            ),
            message: format!("evidence.{}: {}", source.as_str(), coverage.describe()),
            detail: json!({ "source": source.as_str(), "status": coverage.status.as_str(), "reason": coverage.reason }),
        });
    }
    gaps
}
