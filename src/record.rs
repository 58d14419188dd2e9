//! The scan record: the canonical, versioned result of a scan (what `--output json` writes and
//! what later commands read back).

use crate::finding::{Finding, Severity};
use crate::inventory::{Coverage, Inventory, Owner, Token, TokenState};
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
    pub findings: Vec<Finding>,
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
    /// Tokens with at least one finding.
    pub flagged_tokens: usize,
    /// Finding counts by severity, every severity present.
    pub findings_by_severity: BTreeMap<Severity, usize>,
}

impl ScanRecord {
    pub fn new(inventory: Inventory, findings: Vec<Finding>, as_of: DateTime<Utc>) -> Self {
        let count = |state| inventory.tokens.iter().filter(|t| t.state(as_of) == state).count();
        let mut flagged: Vec<&str> = findings.iter().map(|f| f.authorization_id.as_str()).collect();
        flagged.sort_unstable();
        flagged.dedup();
        let mut by_severity: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for f in &findings {
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
        }
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
