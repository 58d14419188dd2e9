//! The scan record: the canonical, versioned result of a scan (what `--output json` writes and
//! what later commands read back).

use crate::finding::{Finding, Severity};
use crate::guidance::{self, Guidance, TokenUsage};
use crate::inventory::{Coverage, Inventory, Owner, Token, TokenState};
use crate::rules::{Evaluation, ExceptionReport, RuleInfo, RuleSet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Version of the record's shape. Bump on any change a reader could notice.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub organization: String,
    /// The moment the rules judged the tokens against (`--as-of`, or the time of the scan).
    pub as_of: DateTime<Utc>,
    pub coverage: Coverage,
    pub summary: Summary,
    pub owners: Vec<Owner>,
    pub tokens: Vec<Token>,
    /// Every finding, suppressed ones included (marked `suppressed`).
    pub findings: Vec<Finding>,
    /// The rules that judged the tokens.
    pub rules: Vec<RuleInfo>,
    /// What became of each exception of the rules file.
    pub exceptions: Vec<ExceptionReport>,
    /// For every token: its inferred use (with confidence and evidence) and its guidance id.
    pub usage: Vec<TokenUsage>,
    /// The full text of every guidance entry the findings and usages refer to.
    pub guidance: Vec<Guidance>,
    /// Lookups by id, built on first use (reports look up owners and tokens per finding).
    #[serde(skip)]
    index: Index,
}

/// Positions of owners, tokens and usages by id, and findings per token. A token is the pair
/// (owner, authorization id): one id may be listed under two owners (a coverage warning), and
/// each keeps its own findings and usage. Ids map to every position holding them; lookups pick
/// the owner's (duplicates are rare, so this stays linear).
#[derive(Debug, Default)]
struct Positions {
    owners: HashMap<String, usize>,
    tokens: HashMap<String, Vec<usize>>,
    usage: HashMap<String, Vec<usize>>,
    findings: HashMap<String, Vec<usize>>,
    guidance: HashMap<String, usize>,
}

/// A lazily built `Positions`. It is derived data: it never takes part in equality, and a clone
/// starts without one. Ids are never changed after a record is built (`--redact` changes names).
#[derive(Default)]
struct Index(OnceLock<Positions>);

impl Clone for Index {
    fn clone(&self) -> Self {
        Index::default()
    }
}

impl PartialEq for Index {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub owners: usize,
    pub tokens: usize,
    pub active_tokens: usize,
    pub expired_tokens: usize,
    pub revoked_tokens: usize,
    /// Tokens with at least one unsuppressed finding.
    pub flagged_tokens: usize,
    /// Unsuppressed finding counts by severity, every severity present.
    pub findings_by_severity: BTreeMap<Severity, usize>,
    /// Findings accepted by an exception (kept in `findings`, not counted above).
    pub suppressed_findings: usize,
}

impl ScanRecord {
    /// Judges an inventory: rules, then guidance. Pure: the same inputs give the same record.
    pub fn judge(inventory: Inventory, rules: &RuleSet, as_of: DateTime<Utc>) -> Self {
        let mut evaluation = rules.evaluate(&inventory, as_of);
        let usage = guidance::advise(&inventory, &mut evaluation.findings);
        let mut described = rules.describe();
        // Not a rule of the rules file, but reports explain every rule a finding names.
        if evaluation.findings.iter().any(|f| f.rule == crate::rules::UNREADABLE_TOKEN) {
            described.push(RuleInfo {
                id: crate::rules::UNREADABLE_TOKEN.into(),
                severity: crate::rules::UNREADABLE_TOKEN_SEVERITY,
                rationale: crate::rules::UNREADABLE_TOKEN_RATIONALE.into(),
                deadline: None,
            });
        }
        ScanRecord::new(inventory, evaluation, usage, described, as_of)
    }

    pub fn new(
        inventory: Inventory,
        evaluation: Evaluation,
        usage: Vec<TokenUsage>,
        rules: Vec<RuleInfo>,
        as_of: DateTime<Utc>,
    ) -> Self {
        let Evaluation { findings, exceptions } = evaluation;
        let count = |state| inventory.tokens.iter().filter(|t| t.state(as_of) == state).count();
        let open = || findings.iter().filter(|f| !f.is_suppressed());
        // A token is (owner, id): two owners sharing an id are two flagged tokens.
        let mut flagged: Vec<(&str, &str)> = open().map(|f| (f.owner.as_str(), f.authorization_id.as_str())).collect();
        flagged.sort_unstable();
        flagged.dedup();
        let mut by_severity: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for f in open() {
            *by_severity.entry(f.severity).or_default() += 1;
        }
        let summary = Summary {
            owners: inventory.owners.len(),
            tokens: inventory.tokens.len(),
            active_tokens: count(TokenState::Active),
            expired_tokens: count(TokenState::Expired),
            revoked_tokens: count(TokenState::Revoked),
            flagged_tokens: flagged.len(),
            findings_by_severity: by_severity,
            suppressed_findings: findings.len() - open().count(),
        };
        ScanRecord {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo { name: env!("CARGO_PKG_NAME").into(), version: env!("CARGO_PKG_VERSION").into() },
            organization: inventory.organization,
            as_of,
            coverage: inventory.coverage,
            summary,
            owners: inventory.owners,
            tokens: inventory.tokens,
            guidance: guidance::referenced(&findings, &usage),
            findings,
            rules,
            exceptions,
            usage,
            index: Index::default(),
        }
    }

    fn positions(&self) -> &Positions {
        self.index.0.get_or_init(|| {
            let by_id = |ids: Vec<&str>| ids.into_iter().enumerate().map(|(i, id)| (id.to_string(), i)).rev().collect();
            let all_by_id = |ids: &mut dyn Iterator<Item = &str>| {
                let mut map: HashMap<String, Vec<usize>> = HashMap::new();
                for (i, id) in ids.enumerate() {
                    map.entry(id.to_string()).or_default().push(i);
                }
                map
            };
            Positions {
                owners: by_id(self.owners.iter().map(|o| o.descriptor.as_str()).collect()),
                tokens: all_by_id(&mut self.tokens.iter().map(|t| t.authorization_id.as_str())),
                usage: all_by_id(&mut self.usage.iter().map(|u| u.authorization_id.as_str())),
                findings: all_by_id(&mut self.findings.iter().map(|f| f.authorization_id.as_str())),
                guidance: by_id(self.guidance.iter().map(|g| g.id.as_str()).collect()),
            }
        })
    }

    /// Every finding (suppressed ones included) of one token: the owner's, never another
    /// owner's token with the same id.
    pub fn findings_of<'a>(&'a self, owner: &'a str, authorization_id: &str) -> impl Iterator<Item = &'a Finding> {
        self.positions()
            .findings
            .get(authorization_id)
            .into_iter()
            .flatten()
            .map(|i| &self.findings[*i])
            .filter(move |f| f.owner == owner)
    }

    /// Findings not accepted by an exception: what gating and summaries count.
    pub fn open_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_suppressed())
    }

    /// The guidance entry with this id, from the record itself.
    pub fn guidance(&self, id: &str) -> Option<&Guidance> {
        self.positions().guidance.get(id).map(|i| &self.guidance[*i])
    }

    /// The inferred use of one token of one owner. A record written before usages named their
    /// owner matches on the id alone.
    pub fn usage(&self, owner: &str, authorization_id: &str) -> Option<&TokenUsage> {
        let positions = self.positions().usage.get(authorization_id)?;
        positions.iter().map(|i| &self.usage[*i]).find(|u| u.owner == owner || u.owner.is_empty())
    }

    /// Reads a saved scan (`--output json`), checking its schema version.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let version: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        match version.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "{} has schema_version {v}; this pat2entra reads version {SCHEMA_VERSION}: rescan, or use the matching pat2entra",
                    path.display()
                ));
            }
            None => {
                return Err(format!(
                    "{} is not a pat2entra scan (no schema_version); create one with `pat2entra scan -o json --out FILE`",
                    path.display()
                ));
            }
        }
        serde_json::from_value(version).map_err(|e| format!("{} is not a valid pat2entra scan: {e}", path.display()))
    }

    pub fn owner(&self, descriptor: &str) -> Option<&Owner> {
        self.positions().owners.get(descriptor).map(|i| &self.owners[*i])
    }

    /// The token of this owner with this id.
    pub fn token(&self, owner: &str, authorization_id: &str) -> Option<&Token> {
        let positions = self.positions().tokens.get(authorization_id)?;
        positions.iter().map(|i| &self.tokens[*i]).find(|t| t.owner == owner)
    }

    /// The principal name of an owner, or its descriptor when unknown.
    pub fn owner_label(&self, descriptor: &str) -> String {
        self.owner(descriptor)
            .map(|o| if o.principal_name.is_empty() { o.display_name.clone() } else { o.principal_name.clone() })
            .unwrap_or_else(|| descriptor.to_string())
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    fn token(owner: &str, id: &str, scope: &str) -> Token {
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: format!("{owner}-{id}"),
            scopes: vec![scope.into()],
            all_organizations: false,
            target_accounts: vec!["o".into()],
            valid_from: None,
            valid_to: None,
            is_valid: true,
            unreadable: None,
        }
    }

    #[test]
    fn lookups_are_by_owner_and_id_and_old_usages_still_match() {
        let inventory = Inventory {
            organization: "o".into(),
            owners: vec![],
            tokens: vec![token("aad.a", "x", "app_token"), token("aad.b", "x", "vso.code")],
            coverage: Coverage::new(2, 2, vec![]),
        };
        let as_of = "2026-11-26T00:00:00Z".parse().unwrap();
        let mut record = ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of);
        assert_eq!(record.token("aad.b", "x").unwrap().display_name, "aad.b-x");
        assert_eq!(record.token("aad.a", "x").unwrap().display_name, "aad.a-x");
        assert!(record.token("aad.c", "x").is_none());
        assert!(record.findings_of("aad.a", "x").any(|f| f.rule == "full-access"));
        assert!(record.findings_of("aad.b", "x").all(|f| f.rule != "full-access" && f.owner == "aad.b"));
        assert_eq!(record.usage("aad.b", "x").unwrap().owner, "aad.b");
        assert!(record.summary.flagged_tokens >= 1);
        // A record written before usages named their owner: the id alone matches.
        for u in &mut record.usage {
            u.owner.clear();
        }
        let reloaded: ScanRecord = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
        assert!(reloaded.usage("aad.b", "x").is_some());
    }
}
