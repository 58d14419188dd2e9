//! The retirement plan: every active token of a scan, per owner, in waves with due dates, each
//! with the replacement to set up first. Built from a saved scan record; pure.

mod csv;
mod markdown;

pub use csv::render as render_csv;
pub use markdown::render as render_markdown;

use crate::evidence::{CredentialKind, LastSeen, Source};
use crate::finding::Severity;
use crate::inventory::{Token, TokenState};
use crate::record::ScanRecord;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;

/// When a token should be retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wave {
    /// Revoke today: a leaked credential, or one with no sign of use (the audit log read in
    /// full, nothing seen) whose owner is idle or gone: nothing to migrate.
    RevokeNow,
    /// Critical findings (global PATs before their retirement date, removed owners, …).
    Now,
    /// High findings.
    Next,
    /// Everything else: replace it when it expires instead of renewing it.
    AtExpiry,
}

impl Wave {
    pub fn as_str(self) -> &'static str {
        match self {
            Wave::RevokeNow => "revoke-now",
            Wave::Now => "now",
            Wave::Next => "next",
            Wave::AtExpiry => "at-expiry",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Wave::RevokeNow => {
                "today: leaked, or no sign of use and the owner idle or gone (revoke, nothing to migrate)"
            }
            Wave::Now => "within a week: critical findings",
            Wave::Next => "within a month: high findings",
            Wave::AtExpiry => "at natural expiry: set up the replacement instead of renewing",
        }
    }
}

/// Days from the scan's date to the due date of each wave.
const NOW_DAYS: u64 = 7;
const NEXT_DAYS: u64 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    pub authorization_id: crate::Text,
    pub token_name: String,
    pub wave: Wave,
    pub due: NaiveDate,
    /// Worst open finding, if any.
    pub severity: Option<Severity>,
    pub rules: Vec<String>,
    pub guidance: crate::Text,
    pub action: String,
    /// Inferred use and confidence.
    pub use_id: crate::Text,
    pub confidence: String,
    /// A PAT or an SSH key.
    pub kind: CredentialKind,
    /// The last audited use, when one was seen ("last seen … by …").
    pub last_seen: Option<LastSeen>,
    /// Why the item is in the `revoke-now` wave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_now: Option<String>,
}

impl PlanItem {
    /// `last seen 2026-11-20 by Git.RefUpdate`, when a use was seen.
    pub fn last_seen_text(&self) -> Option<String> {
        self.last_seen.as_ref().map(|s| format!("last seen {} by {}", s.at.format("%Y-%m-%d"), s.action))
    }
}

/// Why a leaked credential is revoked first.
pub const LEAKED_REASON: &str = "leaked: revoke immediately, then look for use since the leak";
/// Why an unused credential of an idle or departed owner is revoked first.
pub const NO_USE_REASON: &str = "no sign of use: revoke, nothing to migrate";

/// Rules that say the owner is idle or gone.
const OWNER_GONE_OR_IDLE: [&str; 3] = ["owner-removed", "owner-not-member", "owner-inactive"];

/// No sign of use: a PAT, the audit log read in full over a window the token lived through,
/// and no audited use in it. Anything less (audit partial or not read, an SSH key, a token
/// younger than the window) claims nothing.
fn no_sign_of_use(record: &ScanRecord, token: &Token) -> bool {
    token.kind == CredentialKind::Pat
        && token.last_seen.is_none()
        && record.evidence.complete(Source::Audit)
        && record.evidence.audit_window.is_some_and(|w| token.valid_from.is_none_or(|from| from <= w.start))
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnerPlan {
    pub descriptor: String,
    pub principal_name: String,
    pub display_name: String,
    pub items: Vec<PlanItem>,
    /// Guidance ids to set up before revoking, in the order the waves need them.
    pub set_up_first: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub organization: String,
    pub as_of: NaiveDate,
    pub owners: Vec<OwnerPlan>,
    pub per_wave: BTreeMap<Wave, usize>,
    /// Expired and revoked tokens: nothing to retire.
    pub inactive_tokens: usize,
    /// Owners whose tokens the scan could not read: the plan cannot cover them.
    pub coverage_gaps: Vec<Gap>,
    /// The scan's coverage warnings (duplicates resolved, tokens not fully read), as lines.
    pub coverage_warnings: Vec<String>,
    /// Each evidence source's coverage, as lines (`evidence.audit: unavailable (…)`).
    pub evidence: Vec<String>,
    /// The same lines for Markdown (the reasons escaped).
    #[serde(skip)]
    pub evidence_markdown: Vec<String>,
    /// The audit log's limits, when it was asked for (`evidence::AUDIT_CAVEAT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_caveat: Option<&'static str>,
    /// The organization's open findings (tenant policies), as lines.
    pub organization_findings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub descriptor: String,
    pub owner: String,
    pub error: String,
}

/// `date` plus `days`, or the last date there is (a saved scan may carry any date).
fn days_after(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

/// Builds the plan of a scan.
pub fn build(record: &ScanRecord) -> Plan {
    let as_of = record.as_of.date_naive();
    let deadlines: BTreeMap<&str, NaiveDate> =
        record.rules.iter().filter_map(|r| r.deadline.map(|d| (r.id.as_str(), d))).collect();
    let mut owners: BTreeMap<&str, Vec<PlanItem>> = BTreeMap::new();
    let mut inactive = 0;
    for token in &record.tokens {
        if token.state(record.as_of) != TokenState::Active {
            inactive += 1;
            continue;
        }
        let findings: Vec<_> =
            record.findings_of(&token.owner, &token.authorization_id).filter(|f| !f.is_suppressed()).collect();
        let worst = findings.iter().max_by_key(|f| f.severity);
        let severity = worst.map(|f| f.severity);
        let has = |rules: &[&str]| findings.iter().any(|f| rules.contains(&f.rule.as_ref()));
        let revoke_now = if has(&["leaked"]) {
            Some(LEAKED_REASON)
        } else if has(&OWNER_GONE_OR_IDLE) && no_sign_of_use(record, token) {
            Some(NO_USE_REASON)
        } else {
            None
        };
        let wave = match (revoke_now, severity) {
            (Some(_), _) => Wave::RevokeNow,
            (None, Some(Severity::Critical)) => Wave::Now,
            (None, Some(Severity::High)) => Wave::Next,
            _ => Wave::AtExpiry,
        };
        let expiry = token.valid_to.map(|d| d.date_naive());
        let mut due = match wave {
            Wave::RevokeNow => as_of,
            Wave::Now => days_after(as_of, NOW_DAYS),
            Wave::Next => days_after(as_of, NEXT_DAYS),
            Wave::AtExpiry => expiry.unwrap_or_else(|| days_after(as_of, 90)),
        };
        // Never later than the token's own expiry, nor than a deadline a finding carries.
        if let Some(expiry) = expiry {
            due = due.min(expiry);
        }
        for f in &findings {
            if let Some(deadline) = deadlines.get(f.rule.as_ref()).filter(|d| **d >= as_of) {
                due = due.min(*deadline);
            }
        }
        let usage = record.usage(&token.owner, &token.authorization_id);
        // Revoked first: the revocation's guidance. Otherwise the worst finding's guidance; a
        // token without findings follows its use's guidance.
        let revocation = match revoke_now {
            Some(LEAKED_REASON) => crate::guidance::for_rule("leaked"),
            Some(_) => crate::guidance::for_rule("unused"),
            None => None,
        };
        let guidance = revocation
            .map(|g| g.id.clone())
            .or_else(|| worst.and_then(|f| f.guidance.clone()))
            .or_else(|| usage.map(|u| u.guidance.clone()))
            .unwrap_or_else(|| crate::guidance::for_use("unknown").id.clone());
        // The built-in texts first: a saved scan is a file that may have been edited.
        let action = crate::guidance::by_id(&guidance)
            .or_else(|| record.guidance(&guidance))
            .map(|g| g.action.clone())
            .unwrap_or_default();
        owners.entry(token.owner.as_str()).or_default().push(PlanItem {
            authorization_id: token.authorization_id.clone(),
            token_name: token.display_name.clone(),
            wave,
            due,
            severity,
            rules: findings.iter().map(|f| f.rule.to_string()).collect(),
            guidance,
            action,
            use_id: usage.map(|u| u.inference.use_id.clone()).unwrap_or_else(|| "unknown".into()),
            confidence: usage.map(|u| format!("{:?}", u.inference.confidence).to_lowercase()).unwrap_or_default(),
            kind: token.kind,
            last_seen: token.last_seen.as_deref().cloned(),
            revoke_now: revoke_now.map(str::to_string),
        });
    }
    let mut per_wave: BTreeMap<Wave, usize> =
        [Wave::RevokeNow, Wave::Now, Wave::Next, Wave::AtExpiry].into_iter().map(|w| (w, 0)).collect();
    let mut plans: Vec<OwnerPlan> = owners
        .into_iter()
        .map(|(descriptor, mut items)| {
            items.sort_by(|a, b| (a.wave, a.due, &a.token_name).cmp(&(b.wave, b.due, &b.token_name)));
            for item in &items {
                *per_wave.entry(item.wave).or_default() += 1;
            }
            // Nothing to set up before revoking what is revoked now.
            let mut set_up_first: Vec<String> = Vec::new();
            for item in items.iter().filter(|i| i.wave != Wave::RevokeNow) {
                if !set_up_first.iter().any(|g| *g == item.guidance) {
                    set_up_first.push(item.guidance.to_string());
                }
            }
            let owner = record.owner(descriptor);
            OwnerPlan {
                descriptor: descriptor.to_string(),
                principal_name: owner.map(|o| o.principal_name.to_string()).unwrap_or_else(|| descriptor.to_string()),
                display_name: owner.map(|o| o.display_name.clone()).unwrap_or_default(),
                items,
                set_up_first,
            }
        })
        .collect();
    // Owners with the most urgent work first.
    plans.sort_by(|a, b| {
        let key = |p: &OwnerPlan| p.items.first().map(|i| (i.wave, i.due));
        key(a).cmp(&key(b)).then_with(|| a.principal_name.cmp(&b.principal_name))
    });
    let coverage_gaps = record
        .coverage
        .owners_failed
        .iter()
        .map(|g| Gap {
            descriptor: g.descriptor.clone(),
            owner: record.owner_label(&g.descriptor),
            error: g.error.clone(),
        })
        .collect();
    Plan {
        organization: record.organization.clone(),
        as_of,
        owners: plans,
        per_wave,
        inactive_tokens: inactive,
        coverage_gaps,
        coverage_warnings: record
            .coverage
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.kind.as_str(), w.message))
            .collect(),
        evidence: record.evidence.lines(),
        evidence_markdown: crate::report::evidence_lines_markdown(&record.evidence),
        audit_caveat: record.evidence.shows_audit().then_some(crate::evidence::AUDIT_CAVEAT),
        organization_findings: record
            .organization_findings()
            .filter(|f| !f.is_suppressed())
            .map(|f| format!("{} {}: {}", f.severity, f.rule, f.message))
            .collect(),
    }
}
