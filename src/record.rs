//! The scan record: the canonical, versioned result of a scan (what `--output json` writes and
//! what later commands read back).

use crate::finding::{Finding, Severity};
use crate::inventory::{Coverage, Inventory, Owner, Token, TokenState};
use crate::rules::{Evaluation, ExceptionReport, RuleInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub fn new(inventory: Inventory, evaluation: Evaluation, rules: Vec<RuleInfo>, as_of: DateTime<Utc>) -> Self {
        let Evaluation { findings, exceptions } = evaluation;
        let count = |state| inventory.tokens.iter().filter(|t| t.state(as_of) == state).count();
        let open = || findings.iter().filter(|f| !f.is_suppressed());
        let mut flagged: Vec<&str> = open().map(|f| f.authorization_id.as_str()).collect();
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
            findings,
            rules,
            exceptions,
        }
    }

    /// Findings not accepted by an exception: what gating and summaries count.
    pub fn open_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_suppressed())
    }

    pub fn owner(&self, descriptor: &str) -> Option<&Owner> {
        self.owners.iter().find(|o| o.descriptor == descriptor)
    }

    pub fn token(&self, authorization_id: &str) -> Option<&Token> {
        self.tokens.iter().find(|t| t.authorization_id == authorization_id)
    }

    /// The principal name of an owner, or its descriptor when unknown.
    pub fn owner_label(&self, descriptor: &str) -> String {
        self.owner(descriptor)
            .map(|o| if o.principal_name.is_empty() { o.display_name.clone() } else { o.principal_name.clone() })
            .unwrap_or_else(|| descriptor.to_string())
    }
}
