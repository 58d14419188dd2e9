//! CSV: one row per finding (RFC 4180), cells that a spreadsheet would run as a formula
//! neutralised.

use crate::record::ScanRecord;
use std::io::{self, Write};

/// Column names, in order. Documented in the README; do not reorder.
pub const COLUMNS: [&str; 16] = [
    "severity",
    "rule",
    "authorization_id",
    "token_name",
    "owner_principal_name",
    "owner_display_name",
    "scopes",
    "all_organizations",
    "valid_from",
    "valid_to",
    "message",
    "owner_descriptor",
    "suppressed",
    "exception",
    "guidance",
    "action",
];

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for f in &record.findings {
        let owner = record.owner(&f.owner);
        let token = record.token(&f.authorization_id);
        let date = |d: Option<chrono::DateTime<chrono::Utc>>| {
            d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
        };
        let row = [
            f.severity.to_string(),
            f.rule.to_string(),
            f.authorization_id.clone(),
            token.map(|t| t.display_name.clone()).unwrap_or_default(),
            owner.map(|o| o.principal_name.clone()).unwrap_or_default(),
            owner.map(|o| o.display_name.clone()).unwrap_or_default(),
            token.map(|t| t.scopes.join(" ")).unwrap_or_default(),
            token.map(|t| t.all_organizations.to_string()).unwrap_or_default(),
            date(token.and_then(|t| t.valid_from)),
            date(token.and_then(|t| t.valid_to)),
            f.message.clone(),
            f.owner.clone(),
            f.is_suppressed().to_string(),
            f.suppressed
                .as_ref()
                .map(|s| {
                    let trace = s.ticket.as_deref().or(s.approver.as_deref()).unwrap_or_default();
                    format!("#{} {trace} until {}: {}", s.exception, s.expires, s.reason)
                })
                .unwrap_or_default(),
            f.guidance.clone().unwrap_or_default(),
            f.guidance.as_deref().and_then(|id| record.guidance(id)).map(|g| g.action.clone()).unwrap_or_default(),
        ];
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    writer.flush()
}

/// Prefixes a cell that starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return) with a
/// single quote, so a spreadsheet shows it as text instead of running it.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("nuget feed"), "nuget feed");
    }
}
