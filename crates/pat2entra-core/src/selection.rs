//! Choosing credentials from a saved scan for an action (`revoke`): selectors that combine, and
//! nothing chosen by accident. Pure.
//!
//! Every selector narrows the choice (they combine with AND); a selector given several times
//! (`--rule a --rule b`) accepts any of its values. Only active credentials (neither expired nor
//! revoked as of the scan) are chosen. A finding suppressed by an exception never selects: the
//! rule, severity and wave selectors read open findings only (the plan's waves too). An owner or
//! an id selects a credential whatever its findings: naming it is the choice.

use crate::evidence::CredentialKind;
use crate::finding::Severity;
use crate::inventory::TokenState;
use crate::record::ScanRecord;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};

/// What to choose. Empty: nothing is chosen (`select` refuses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectors {
    /// Credentials with an open finding of one of these rules.
    pub rules: Vec<String>,
    /// Credentials with an open finding at or above this severity.
    pub min_severity: Option<Severity>,
    /// Credentials the retirement plan puts in one of these waves (`revoke-now`, `now`, …).
    pub waves: Vec<String>,
    /// Credentials of these owners (principal name, mail or descriptor; case-insensitive).
    pub owners: Vec<String>,
    /// Credentials with these authorization ids (`--id`, `--ids-file`).
    pub ids: Vec<String>,
    pub kind: Option<CredentialKind>,
}

impl Selectors {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.min_severity.is_none()
            && self.waves.is_empty()
            && self.owners.is_empty()
            && self.ids.is_empty()
            && self.kind.is_none()
    }

    /// The selectors as `name = value` pairs, for a journal's run line.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |name: &str, values: &[String]| {
            if !values.is_empty() {
                out.push((name.to_string(), values.join(",")));
            }
        };
        add("rule", &self.rules);
        add("wave", &self.waves);
        add("owner", &self.owners);
        add("id", &self.ids);
        if let Some(s) = self.min_severity {
            out.push(("min-severity".into(), s.as_str().into()));
        }
        if let Some(k) = self.kind {
            out.push(("kind".into(), k.as_str().into()));
        }
        out
    }
}

/// One chosen credential, with what a person needs to confirm the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub authorization_id: String,
    pub owner: String,
    /// Principal name (or display name, or descriptor).
    pub owner_label: String,
    pub name: String,
    pub kind: CredentialKind,
    /// The rules of its open findings, worst first.
    pub rules: Vec<String>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// Why nothing can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "no selector given: choose what to act on with --rule, --min-severity, --wave, --owner, --id, --ids-file or --kind \
         (nothing is revoked \"all at once\" by accident)"
    )]
    NoSelector,
    #[error("authorization id {0} is not in the scan; check the id (or rescan: it may be newer than the scan)")]
    UnknownId(String),
    #[error("no owner '{0}' in the scan (give a principal name, mail or descriptor as the scan lists it)")]
    UnknownOwner(String),
    #[error("rule '{rule}' is not among the scan's rules ({known})")]
    UnknownRule { rule: String, known: String },
    #[error("wave '{wave}' is not a wave of the retirement plan ({known})")]
    UnknownWave { wave: String, known: String },
}

/// The chosen credentials, and notes on named credentials that were not chosen (an `--id` of a
/// credential already expired or revoked in the scan).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub chosen: Vec<Chosen>,
    pub notes: Vec<String>,
}

/// Chooses from `record` as `selectors` say; sorted by owner, name and id.
pub fn select(record: &ScanRecord, selectors: &Selectors) -> Result<Selection, SelectError> {
    if selectors.is_empty() {
        return Err(SelectError::NoSelector);
    }
    // Every named thing must exist: a typo must not quietly choose nothing (or less).
    for id in &selectors.ids {
        if !record.tokens.iter().any(|t| t.authorization_id.eq_ignore_ascii_case(id)) {
            return Err(SelectError::UnknownId(id.clone()));
        }
    }
    let owner_matches = |descriptor: &str, wanted: &str| {
        record.owner(descriptor).is_some_and(|o| {
            o.principal_name.eq_ignore_ascii_case(wanted)
                || o.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(wanted))
                || o.descriptor == wanted
        }) || descriptor == wanted
    };
    for wanted in &selectors.owners {
        if !record.owners.iter().any(|o| owner_matches(&o.descriptor, wanted))
            && !record.tokens.iter().any(|t| t.owner == *wanted)
        {
            return Err(SelectError::UnknownOwner(wanted.clone()));
        }
    }
    let known_rules: BTreeSet<&str> = record.rules.iter().map(|r| r.id.as_str()).collect();
    for rule in &selectors.rules {
        if !known_rules.contains(rule.as_str()) && !record.findings.iter().any(|f| f.rule == *rule) {
            let known = known_rules.iter().copied().collect::<Vec<_>>().join(", ");
            return Err(SelectError::UnknownRule { rule: rule.clone(), known });
        }
    }
    // Waves come from the plan module, whatever waves it defines.
    let waves: HashMap<(String, String), &'static str> = if selectors.waves.is_empty() {
        HashMap::new()
    } else {
        let plan = crate::plan::build(record);
        let known: Vec<&'static str> = plan.per_wave.keys().map(|w| w.as_str()).collect();
        for wave in &selectors.waves {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(wave)) {
                return Err(SelectError::UnknownWave { wave: wave.clone(), known: known.join(", ") });
            }
        }
        plan.owners
            .iter()
            .flat_map(|o| {
                o.items.iter().map(|i| ((o.descriptor.clone(), i.authorization_id.to_string()), i.wave.as_str()))
            })
            .collect()
    };
    let ids: HashSet<String> = selectors.ids.iter().map(|i| i.to_ascii_lowercase()).collect();

    let mut selection = Selection::default();
    for token in &record.tokens {
        let named = ids.contains(&token.authorization_id.to_ascii_lowercase());
        if !selectors.ids.is_empty() && !named {
            continue;
        }
        if selectors.kind.is_some_and(|k| k != token.kind) {
            continue;
        }
        if !selectors.owners.is_empty() && !selectors.owners.iter().any(|w| owner_matches(&token.owner, w)) {
            continue;
        }
        let state = token.state(record.as_of);
        if state != TokenState::Active {
            if named {
                let state = if state == TokenState::Revoked { "revoked" } else { "expired" };
                selection.notes.push(format!(
                    "{} ({}) is already {state} in the scan: not chosen",
                    token.authorization_id,
                    record.owner_label(&token.owner)
                ));
            }
            continue;
        }
        let mut open: Vec<_> =
            record.findings_of(&token.owner, &token.authorization_id).filter(|f| !f.is_suppressed()).collect();
        open.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule.cmp(&b.rule)));
        if !selectors.rules.is_empty() && !open.iter().any(|f| selectors.rules.iter().any(|r| f.rule == *r)) {
            continue;
        }
        if let Some(min) = selectors.min_severity
            && !open.iter().any(|f| f.severity >= min)
        {
            continue;
        }
        if !selectors.waves.is_empty() {
            let wave = waves.get(&(token.owner.to_string(), token.authorization_id.to_string()));
            if !wave.is_some_and(|w| selectors.waves.iter().any(|s| s.eq_ignore_ascii_case(w))) {
                continue;
            }
        }
        let mut rules: Vec<String> = Vec::new();
        for f in &open {
            if !rules.iter().any(|r| *r == f.rule) {
                rules.push(f.rule.to_string());
            }
        }
        selection.chosen.push(Chosen {
            authorization_id: token.authorization_id.to_string(),
            owner: token.owner.to_string(),
            owner_label: record.owner_label(&token.owner),
            name: token.display_name.clone(),
            kind: token.kind,
            rules,
            valid_to: token.valid_to,
        });
    }
    // One id under two owners (a coverage warning of the scan): Token Admin revokes by id, so
    // revoking one revokes both.
    let mut owners_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &record.tokens {
        owners_of.entry(t.authorization_id.as_str()).or_default().push(t.owner.as_str());
    }
    for c in &selection.chosen {
        if let Some(owners) = owners_of.get(c.authorization_id.as_str()).filter(|o| o.len() > 1) {
            let labels: Vec<String> = owners.iter().map(|o| record.owner_label(o)).collect();
            selection.notes.push(format!(
                "{} is listed under {} owners in the scan ({}); revoking it revokes it for all of them",
                c.authorization_id,
                owners.len(),
                labels.join(", ")
            ));
        }
    }
    selection.chosen.sort_by(|a, b| {
        (&a.owner_label, &a.name, &a.authorization_id).cmp(&(&b.owner_label, &b.name, &b.authorization_id))
    });
    Ok(selection)
}
