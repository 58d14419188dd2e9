//! Accepted exceptions: a matched finding stays in the record as suppressed, with the reason.

use super::glob::Glob;
use crate::finding::Finding;
use crate::inventory::{Owner, Token};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One `[[exception]]` of a rules file.
#[derive(Debug, Clone)]
pub struct Exception {
    /// 1-based position among the file's exceptions.
    pub number: usize,
    /// Line of the rules file it was declared on.
    pub line: usize,
    pub rule: Option<String>,
    pub authorization_id: Option<String>,
    /// Principal name or descriptor of the token's owner.
    pub owner: Option<String>,
    pub display_name: Option<Glob>,
    pub reason: String,
    pub ticket: Option<String>,
    pub approver: Option<String>,
    pub expires: NaiveDate,
}

/// How a finding was suppressed (kept in the record, never dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub exception: usize,
    pub reason: String,
    #[serde(default)]
    pub ticket: Option<String>,
    #[serde(default)]
    pub approver: Option<String>,
    pub expires: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    /// Suppressing findings.
    Active,
    /// Past its `expires` date: no longer suppresses.
    Expired,
    /// Matches no finding: remove it or fix it.
    Stale,
}

/// What became of each exception in a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionReport {
    pub exception: usize,
    pub line: usize,
    pub reason: String,
    #[serde(default)]
    pub ticket: Option<String>,
    pub expires: NaiveDate,
    pub status: ExceptionStatus,
    pub matched_findings: usize,
}

impl Exception {
    pub fn is_expired(&self, as_of: DateTime<Utc>) -> bool {
        as_of.date_naive() > self.expires
    }

    /// Every key the exception sets must match.
    pub fn matches(&self, finding: &Finding, token: &Token, owner: Option<&Owner>) -> bool {
        self.rule.as_deref().is_none_or(|r| r == finding.rule)
            && self.authorization_id.as_deref().is_none_or(|id| id.eq_ignore_ascii_case(&token.authorization_id))
            && self.owner.as_deref().is_none_or(|o| {
                o == token.owner || owner.is_some_and(|owner| owner.principal_name.eq_ignore_ascii_case(o))
            })
            && self.display_name.as_ref().is_none_or(|g| g.matches(&token.display_name))
    }

    pub fn suppression(&self) -> Suppression {
        Suppression {
            exception: self.number,
            reason: self.reason.clone(),
            ticket: self.ticket.clone(),
            approver: self.approver.clone(),
            expires: self.expires,
        }
    }

    /// The keys that decide what it matches (two exceptions with the same keys are duplicates).
    pub fn match_key(&self) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
        (
            self.rule.clone(),
            self.authorization_id.as_ref().map(|s| s.to_ascii_lowercase()),
            self.owner.as_ref().map(|s| s.to_ascii_lowercase()),
            self.display_name.as_ref().map(|g| g.as_str().to_ascii_lowercase()),
        )
    }
}
