//! CSV: one row per finding (RFC 4180), cells that a spreadsheet would run as a formula
//! neutralised.

use crate::inventory::{Owner, Token};
use crate::record::ScanRecord;
use std::io::{self, Write};

/// A time as the CSV writes it (RFC 3339, seconds, `Z`).
fn time(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The evidence columns of a credential: `kind`, `last_seen` (a time, `none seen` when the
/// audit log was read in full and shows none, `unknown` when it was read in part or not at all,
/// empty when it was not asked for), `last_seen_action`.
fn credential_evidence(record: &ScanRecord, token: Option<&Token>) -> [String; 3] {
    let Some(t) = token else {
        return Default::default();
    };
    let seen = match &t.last_seen {
        Some(s) => time(s.at),
        None => super::seen_label(record, t).unwrap_or_default(),
    };
    [t.kind.as_str().to_string(), seen, t.last_seen.as_ref().map(|s| s.action.clone()).unwrap_or_default()]
}

/// The evidence columns of an owner: `owner_last_accessed` (a time, `never`, or empty when not
/// read) and `owner_member` (`true`, `false`, or empty when not read).
fn owner_evidence(owner: Option<&Owner>) -> [String; 2] {
    let Some(o) = owner else {
        return Default::default();
    };
    let accessed = match o.last_accessed {
        Some(crate::evidence::LastAccessed::Never) => "never".to_string(),
        Some(crate::evidence::LastAccessed::At(t)) => time(t),
        None => String::new(),
    };
    [accessed, o.member.map(|m| m.to_string()).unwrap_or_default()]
}

/// Column names, in order. Documented in the README; do not reorder (new ones go at the end).
pub const COLUMNS: [&str; 22] = [
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
    "kind",
    "last_seen",
    "last_seen_action",
    "owner_last_accessed",
    "owner_member",
    "scope",
];

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for f in &record.findings {
        let owner = record.owner(&f.owner);
        let token = record.token(&f.owner, &f.authorization_id);
        let date = |d: Option<chrono::DateTime<chrono::Utc>>| {
            d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
        };
        let [kind, last_seen, last_seen_action] = credential_evidence(record, token);
        let [owner_last_accessed, owner_member] = owner_evidence(owner);
        let row = [
            f.severity.to_string(),
            f.rule.to_string(),
            f.authorization_id.to_string(),
            token.map(|t| t.display_name.clone()).unwrap_or_default(),
            owner.map(|o| o.principal_name.to_string()).unwrap_or_default(),
            owner.map(|o| o.display_name.clone()).unwrap_or_default(),
            token.map(|t| t.scopes.join(" ")).unwrap_or_default(),
            token.map(|t| t.all_organizations.to_string()).unwrap_or_default(),
            date(token.and_then(|t| t.valid_from)),
            date(token.and_then(|t| t.valid_to)),
            f.message.to_string(),
            f.owner.to_string(),
            f.is_suppressed().to_string(),
            f.suppressed
                .as_ref()
                .map(|s| {
                    let trace = s.ticket.as_deref().or(s.approver.as_deref()).unwrap_or_default();
                    format!("#{} {trace} until {}: {}", s.exception, s.expires, s.reason)
                })
                .unwrap_or_default(),
            f.guidance.as_deref().unwrap_or_default().to_string(),
            f.guidance.as_deref().and_then(|id| record.guidance(id)).map(|g| g.action.clone()).unwrap_or_default(),
            kind,
            last_seen,
            last_seen_action,
            owner_last_accessed,
            owner_member,
            if f.is_organization() { "organization" } else { "credential" }.to_string(),
        ];
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    // Owners whose tokens could not be read: a CSV must not look complete when the scan was not.
    for gap in &record.coverage.owners_failed {
        let owner = record.owner(&gap.descriptor);
        let mut row = vec![String::new(); COLUMNS.len()];
        row[1] = "coverage-gap".into();
        row[4] = owner.map(|o| o.principal_name.to_string()).unwrap_or_default();
        row[5] = owner.map(|o| o.display_name.clone()).unwrap_or_default();
        row[10] = format!("the tokens of this owner could not be read: {}", gap.error);
        row[11] = gap.descriptor.clone();
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    // Duplicates resolved and tokens not fully read: shown, never silent.
    for w in &record.coverage.warnings {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[1] = "coverage-warning".into();
        row[10] = format!("{}: {}", w.kind.as_str(), w.message);
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    // Each evidence source's coverage and the audit log's limits: a reader of the CSV alone
    // knows what "none seen" rests on.
    for line in evidence_notes(record) {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[1] = "evidence".into();
        row[10] = line;
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    writer.flush()
}

/// The evidence lines, then the audit caveat when the audit log was asked for.
fn evidence_notes(record: &ScanRecord) -> Vec<String> {
    let mut lines = record.evidence.lines();
    if record.evidence.shows_audit() {
        lines.push(crate::evidence::AUDIT_CAVEAT.to_string());
    }
    lines
}

/// Inventory columns (`--csv-kind tokens`), in order. Documented in the README.
pub const TOKEN_COLUMNS: [&str; 21] = [
    "authorization_id",
    "token_name",
    "owner_principal_name",
    "owner_display_name",
    "state",
    "scopes",
    "all_organizations",
    "valid_from",
    "valid_to",
    "lifetime_days",
    "worst_severity",
    "rules",
    "inferred_use",
    "guidance",
    "owner_descriptor",
    "kind",
    "last_seen",
    "last_seen_action",
    "owner_last_accessed",
    "owner_member",
    "owner_access_level",
];

/// One row per token: the inventory with its verdicts.
pub fn render_tokens(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    use std::collections::HashMap;
    let mut by_token: HashMap<(&str, &str), Vec<&crate::finding::Finding>> = HashMap::new();
    for f in record.open_findings() {
        by_token.entry((f.owner.as_str(), f.authorization_id.as_str())).or_default().push(f);
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(TOKEN_COLUMNS)?;
    for t in &record.tokens {
        let owner = record.owner(&t.owner);
        let findings = by_token.get(&(t.owner.as_str(), t.authorization_id.as_str()));
        let usage = record.usage(&t.owner, &t.authorization_id);
        let date = |d: Option<chrono::DateTime<chrono::Utc>>| {
            d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
        };
        let state = serde_json::to_value(t.state(record.as_of)).ok().and_then(|v| v.as_str().map(str::to_string));
        let [kind, last_seen, last_seen_action] = credential_evidence(record, Some(t));
        let [owner_last_accessed, owner_member] = owner_evidence(owner);
        let row = [
            t.authorization_id.to_string(),
            t.display_name.clone(),
            owner.map(|o| o.principal_name.to_string()).unwrap_or_default(),
            owner.map(|o| o.display_name.clone()).unwrap_or_default(),
            state.unwrap_or_default(),
            t.scopes.join(" "),
            t.all_organizations.to_string(),
            date(t.valid_from),
            date(t.valid_to),
            t.lifetime_days().map(|d| d.to_string()).unwrap_or_default(),
            findings.and_then(|f| f.iter().map(|f| f.severity).max()).map(|s| s.to_string()).unwrap_or_default(),
            findings.map(|f| f.iter().map(|f| f.rule.as_ref()).collect::<Vec<_>>().join(" ")).unwrap_or_default(),
            usage.map(|u| u.inference.use_id.to_string()).unwrap_or_default(),
            usage.map(|u| u.guidance.to_string()).unwrap_or_default(),
            t.owner.to_string(),
            kind,
            last_seen,
            last_seen_action,
            owner_last_accessed,
            owner_member,
            owner.and_then(|o| o.access_level.as_ref()).map(|a| a.status.clone()).unwrap_or_default(),
        ];
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    // Owners whose tokens could not be read.
    for gap in &record.coverage.owners_failed {
        let owner = record.owner(&gap.descriptor);
        let mut row = vec![String::new(); TOKEN_COLUMNS.len()];
        row[2] = owner.map(|o| o.principal_name.to_string()).unwrap_or_default();
        row[3] = owner.map(|o| o.display_name.clone()).unwrap_or_default();
        row[4] = "not-read".into();
        row[11] = "coverage-gap".into();
        row[14] = gap.descriptor.clone();
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    for w in &record.coverage.warnings {
        let mut row = vec![String::new(); TOKEN_COLUMNS.len()];
        row[1] = format!("{}: {}", w.kind.as_str(), w.message);
        row[11] = "coverage-warning".into();
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    // The organization's findings (tenant policies) belong to no token: one row each.
    for f in record.open_findings().filter(|f| f.is_organization()) {
        let mut row = vec![String::new(); TOKEN_COLUMNS.len()];
        row[1] = f.message.to_string();
        row[4] = "organization".into();
        row[10] = f.severity.to_string();
        row[11] = f.rule.to_string();
        row[13] = f.guidance.as_deref().unwrap_or_default().to_string();
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    for line in evidence_notes(record) {
        let mut row = vec![String::new(); TOKEN_COLUMNS.len()];
        row[1] = line;
        row[11] = "evidence".into();
        writer.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    writer.flush()
}

/// Makes a cell safe: [`sanitize`](super::escape::sanitize)d (no control characters, escape
/// sequences or bidi overrides; one line), then, when it starts like a formula (`=`, `+`, `-`,
/// `@`, also after leading spaces, which a tab or line break became), prefixed with a single
/// quote so that a spreadsheet shows it as text instead of running it. Every CSV cell goes
/// through here.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let clean = super::escape::sanitize(cell);
    match clean.trim_start_matches(' ').chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{clean}").into(),
        _ => clean,
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
        assert_eq!(neutralise("\t=1+1"), "' =1+1");
        assert_eq!(neutralise("\r\n@x"), "'  @x");
        assert_eq!(neutralise("a\u{1b}[2J\u{202E}b"), "a\u{FFFD}[2J\u{FFFD}b");
    }
}
