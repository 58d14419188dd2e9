//! The plan as CSV, one row per token, for trackers.

use super::Plan;
use crate::report::neutralise;
use std::io::{self, Write};

/// Column names, in order; new columns are added at the end.
pub const COLUMNS: [&str; 15] = [
    "owner_principal_name",
    "owner_display_name",
    "authorization_id",
    "token_name",
    "wave",
    "due_date",
    "severity",
    "rules",
    "action",
    "guidance",
    "inferred_use",
    "owner_descriptor",
    "kind",
    "last_seen",
    "last_seen_action",
];

pub fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for owner in &plan.owners {
        for item in &owner.items {
            let row = [
                owner.principal_name.clone(),
                owner.display_name.clone(),
                item.authorization_id.to_string(),
                item.token_name.clone(),
                item.wave.as_str().to_string(),
                item.due.to_string(),
                item.severity.map(|s| s.to_string()).unwrap_or_default(),
                item.rules.join(" "),
                item.revoke_now.clone().unwrap_or_else(|| item.action.replace('`', "")),
                item.guidance.to_string(),
                item.use_id.to_string(),
                owner.descriptor.clone(),
                item.kind.as_str().to_string(),
                item.last_seen
                    .as_ref()
                    .map(|s| s.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                item.last_seen.as_ref().map(|s| s.action.clone()).unwrap_or_default(),
            ];
            writer.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
        }
    }
    // Owners the scan could not read: the plan does not cover their tokens.
    for gap in &plan.coverage_gaps {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[0] = gap.owner.clone();
        row[4] = "not-read".into();
        row[7] = "coverage-gap".into();
        row[8] = format!("rescan: the tokens of this owner could not be read ({})", gap.error);
        row[11] = gap.descriptor.clone();
        writer.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    for w in &plan.coverage_warnings {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[7] = "coverage-warning".into();
        row[8] = w.clone();
        writer.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    // Organization findings (tenant policies): no token, but work to do.
    for line in &plan.organization_findings {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[7] = "organization".into();
        row[8] = line.clone();
        writer.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    // Each evidence source's coverage, and the audit log's limits.
    for line in plan.evidence.iter().map(String::as_str).chain(plan.audit_caveat) {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[7] = "evidence".into();
        row[8] = line.to_string();
        writer.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    writer.flush()
}
