//! The plan as CSV, one row per token, for trackers.

use super::Plan;
use crate::report::neutralise;
use std::io::{self, Write};

pub const COLUMNS: [&str; 12] = [
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
];

pub fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for owner in &plan.owners {
        for item in &owner.items {
            let row = [
                owner.principal_name.clone(),
                owner.display_name.clone(),
                item.authorization_id.clone(),
                item.token_name.clone(),
                item.wave.as_str().to_string(),
                item.due.to_string(),
                item.severity.map(|s| s.to_string()).unwrap_or_default(),
                item.rules.join(" "),
                item.action.replace('`', ""),
                item.guidance.clone(),
                item.use_id.clone(),
                owner.descriptor.clone(),
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
    writer.flush()
}
