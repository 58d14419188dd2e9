//! The rules: a TOML file that security teams own (`rules/default.toml` ships), turned into
//! findings. Evaluation is pure: inventory + rules + as-of date -> findings, no I/O, one order.

mod checks;
mod config;
mod docs;
mod exceptions;
mod glob;
mod suggest;

pub use checks::RuleId;
pub use docs::explain;
pub use exceptions::{Exception, ExceptionReport, ExceptionStatus, Suppression};

use crate::finding::{Finding, Severity};
use crate::inventory::{Inventory, Owner};
use checks::{Check, Subject};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// A rules file that cannot be used: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules file {}", self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message.trim_end())
    }
}

impl std::error::Error for RulesError {}

/// One enabled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub severity: Severity,
    pub rationale: String,
    check: Check,
}

/// A rule as the scan record describes it (so reports can show the rationale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    pub rationale: String,
}

/// The enabled rules and the exceptions of a rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub exceptions: Vec<Exception>,
}

/// The result of judging an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Every finding, suppressed ones included; most severe first.
    pub findings: Vec<Finding>,
    pub exceptions: Vec<ExceptionReport>,
}

impl RuleSet {
    /// The built-in `rules/default.toml`.
    pub fn default_rules() -> Self {
        RuleSet::shipped("default").expect("the built-in rule sets are valid")
    }

    /// A rule set that ships with pat2entra (`default`, `strict`).
    pub fn shipped(name: &str) -> Result<Self, RulesError> {
        let (_, text) = config::SHIPPED.iter().find(|(n, _)| *n == name).ok_or_else(|| RulesError {
            file: name.to_string(),
            line: None,
            column: None,
            message: "no such built-in rule set (default, strict)".into(),
        })?;
        RuleSet::parse(text, &format!("rules/{name}.toml (built in)"))
    }

    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot read it: {e}"),
        })?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, RulesError> {
        config::parse(&config::Source { name: file, text })
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn describe(&self) -> Vec<RuleInfo> {
        self.rules
            .iter()
            .map(|r| RuleInfo { id: r.id.as_str().to_string(), severity: r.severity, rationale: r.rationale.clone() })
            .collect()
    }

    /// Judges every token. Pure and deterministic.
    pub fn evaluate(&self, inventory: &Inventory, as_of: DateTime<Utc>) -> Evaluation {
        let owners: HashMap<&str, &Owner> = inventory.owners.iter().map(|o| (o.descriptor.as_str(), o)).collect();
        let mut findings = Vec::new();
        let mut matched = vec![0usize; self.exceptions.len()];
        let mut expired_noted: HashSet<(usize, &str)> = HashSet::new();
        let exception_expired = self.rule(RuleId::ExceptionExpired);

        for token in &inventory.tokens {
            let subject =
                Subject { token, owner: owners.get(token.owner.as_str()).copied(), state: token.state(as_of), as_of };
            for rule in self.rules.iter().filter(|r| r.check.applies_to(subject.state)) {
                let Some(message) = rule.check.evaluate(&subject) else {
                    continue;
                };
                let mut finding = Finding {
                    rule: rule.id.as_str().to_string(),
                    severity: rule.severity,
                    authorization_id: token.authorization_id.clone(),
                    owner: token.owner.clone(),
                    message,
                    suppressed: None,
                };
                // An exception still in force wins over one that has expired.
                let mut matching =
                    self.exceptions.iter().enumerate().filter(|(_, e)| e.matches(&finding, token, subject.owner));
                let first = matching.next();
                let chosen = match first {
                    Some((_, e)) if e.is_expired(as_of) => matching.find(|(_, e)| !e.is_expired(as_of)).or(first),
                    other => other,
                };
                if let Some((i, exception)) = chosen {
                    matched[i] += 1;
                    if !exception.is_expired(as_of) {
                        finding.suppressed = Some(exception.suppression());
                    } else if let Some(rule) = exception_expired
                        && expired_noted.insert((i, token.authorization_id.as_str()))
                    {
                        findings.push(Finding {
                            rule: rule.id.as_str().to_string(),
                            severity: rule.severity,
                            authorization_id: token.authorization_id.clone(),
                            owner: token.owner.clone(),
                            message: format!(
                                "exception #{} (line {}: {}) expired on {}; its findings count again",
                                exception.number, exception.line, exception.reason, exception.expires
                            ),
                            suppressed: None,
                        });
                    }
                }
                findings.push(finding);
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.owner.cmp(&b.owner))
                .then_with(|| a.authorization_id.cmp(&b.authorization_id))
                .then_with(|| a.rule.cmp(&b.rule))
        });
        let exceptions = self
            .exceptions
            .iter()
            .zip(matched)
            .map(|(e, matched_findings)| ExceptionReport {
                exception: e.number,
                line: e.line,
                reason: e.reason.clone(),
                ticket: e.ticket.clone(),
                expires: e.expires,
                status: if matched_findings == 0 {
                    ExceptionStatus::Stale
                } else if e.is_expired(as_of) {
                    ExceptionStatus::Expired
                } else {
                    ExceptionStatus::Active
                },
                matched_findings,
            })
            .collect();
        Evaluation { findings, exceptions }
    }
}

#[cfg(test)]
mod tests;
