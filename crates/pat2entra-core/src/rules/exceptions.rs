//! Accepted exceptions: a matched finding stays in the record as suppressed, with the reason.

use super::glob::Glob;
use crate::finding::Finding;
use crate::inventory::{Owner, Token};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The index's tables: foldhash, seeded per process (the keys come from the rules file).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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

/// The exceptions by their most selective key, so that each finding is checked against the few
/// that could match it instead of all of them (20 000 exceptions took a minute when every
/// finding walked the whole list). Candidates are still confirmed with [`Exception::matches`].
#[derive(Debug, Default)]
pub struct ExceptionIndex {
    /// By lower-case `authorization_id`.
    by_token: Map<String, Vec<usize>>,
    /// By lower-case `owner` (a descriptor or a principal name), when no token id is set.
    by_owner: Map<String, Vec<usize>>,
    /// By lower-case `display_name` without wildcards, when neither token id nor owner is set.
    by_name: Map<String, Vec<usize>>,
    /// By `rule`, when the only other key is a `display_name` with wildcards (or none).
    by_rule: Map<String, Vec<usize>>,
    /// Only a `display_name` with wildcards: checked for every token.
    globs: Vec<usize>,
}

impl ExceptionIndex {
    pub fn new(exceptions: &[Exception]) -> Self {
        let mut index = ExceptionIndex::default();
        for (i, e) in exceptions.iter().enumerate() {
            let exact_name = e.display_name.as_ref().filter(|g| !g.as_str().contains(['*', '?']));
            if let Some(id) = &e.authorization_id {
                index.by_token.entry(id.to_ascii_lowercase()).or_default().push(i);
            } else if let Some(owner) = &e.owner {
                index.by_owner.entry(owner.to_ascii_lowercase()).or_default().push(i);
            } else if let Some(name) = exact_name {
                index.by_name.entry(name.as_str().to_lowercase()).or_default().push(i);
            } else if let Some(rule) = &e.rule {
                index.by_rule.entry(rule.clone()).or_default().push(i);
            } else {
                index.globs.push(i);
            }
        }
        index
    }

    /// Exceptions that may match some finding of a token (whatever its rule), in no order, in
    /// two parts: `for_owner`, then `for_token_alone` adds to it. This part depends on the
    /// owner only (the same for each of its tokens): those keyed by its descriptor or principal
    /// name. Replaces `out`; `scratch` holds the lower-case keys (no allocation per owner).
    pub fn for_owner(&self, descriptor: &str, owner: Option<&Owner>, out: &mut Vec<usize>, scratch: &mut String) {
        out.clear();
        if self.by_owner.is_empty() {
            return;
        }
        let lower = |text: &str, into: &mut String| {
            into.clear();
            into.push_str(text);
            into.make_ascii_lowercase();
        };
        lower(descriptor, scratch);
        if let Some(list) = self.by_owner.get(scratch.as_str()) {
            out.extend_from_slice(list);
        }
        if let Some(owner) = owner
            && !owner.principal_name.eq_ignore_ascii_case(descriptor)
        {
            lower(&owner.principal_name, scratch);
            if let Some(list) = self.by_owner.get(scratch.as_str()) {
                out.extend_from_slice(list);
            }
        }
    }

    /// The part that depends on the token itself; added to `out`, which is then in file order.
    /// Allocates only for the keys some exception uses.
    pub fn for_token_alone(&self, token: &Token, out: &mut Vec<usize>) {
        if !self.by_token.is_empty()
            && let Some(list) = self.by_token.get(&token.authorization_id.to_ascii_lowercase())
        {
            out.extend_from_slice(list);
        }
        if !self.by_name.is_empty()
            && let Some(list) = self.by_name.get(&token.display_name.to_lowercase())
        {
            out.extend_from_slice(list);
        }
        out.extend_from_slice(&self.globs);
        // In file order, which decides between several matches.
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// The exceptions keyed by a rule alone (or with a wildcard name): the candidates of each
    /// finding of that rule.
    pub fn for_rule(&self, rule: &str) -> &[usize] {
        self.by_rule.get(rule).map_or(&[], Vec::as_slice)
    }

    /// The candidates of one finding: the token's, plus those of the finding's rule
    /// (`for_rule`); sorted in file order (which decides between several matches).
    pub fn for_finding(token_candidates: &[usize], rule_candidates: &[usize], out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(token_candidates);
        out.extend_from_slice(rule_candidates);
        if !token_candidates.is_empty() && !rule_candidates.is_empty() {
            out.sort_unstable();
            out.dedup();
        }
    }
}
