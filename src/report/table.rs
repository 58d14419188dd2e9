//! Terminal output: a summary first, then one row per flagged token, then coverage gaps.

use super::RenderOptions;
use super::escape::terminal_text;
use crate::finding::{Finding, Severity};
use crate::record::ScanRecord;
use crate::rules::ExceptionStatus;
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Width used when the output is not a terminal.
const FILE_WIDTH: u16 = 160;

pub fn render(record: &ScanRecord, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let s = &record.summary;
    let c = &record.coverage;
    writeln!(
        out,
        "Organization {} as of {}",
        terminal_text(&record.organization),
        record.as_of.format("%Y-%m-%d %H:%M UTC")
    )?;
    if let Some(redaction) = &record.redaction {
        writeln!(out, "Note:     {}", redaction.notice())?;
    }
    writeln!(
        out,
        "Owners:   {} listed, {} scanned{}",
        c.owners_listed,
        c.owners_scanned,
        if c.complete {
            " (complete)".to_string()
        } else {
            format!(", {} FAILED (scan incomplete)", c.owners_failed.len())
        }
    )?;
    writeln!(
        out,
        "Tokens:   {} ({} active, {} expired, {} revoked); {} flagged",
        s.tokens, s.active_tokens, s.expired_tokens, s.revoked_tokens, s.flagged_tokens
    )?;
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|sev| format!("{} {}", s.findings_by_severity.get(sev).copied().unwrap_or(0), sev))
        .collect();
    let suppressed = if s.suppressed_findings > 0 {
        format!(" ({} more accepted by exceptions)", s.suppressed_findings)
    } else {
        String::new()
    };
    writeln!(out, "Findings: {}{suppressed}", counts.join(", "))?;

    if record.open_findings().next().is_some() {
        writeln!(out)?;
        writeln!(out, "{}", flagged_tokens(record, options))?;
    }
    let attention: Vec<_> = record.exceptions.iter().filter(|e| e.status != ExceptionStatus::Active).collect();
    if !attention.is_empty() {
        writeln!(out)?;
        writeln!(out, "Exceptions to review:")?;
        for e in attention {
            let what = match e.status {
                ExceptionStatus::Expired => format!("expired on {}; its findings count again", e.expires),
                _ => "matches nothing (stale): remove or fix it".to_string(),
            };
            writeln!(out, "  #{} (line {}, {}): {what}", e.exception, e.line, terminal_text(&e.reason))?;
        }
    }
    if !c.owners_failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "Coverage gaps (tokens of these owners were NOT read):")?;
        for gap in &c.owners_failed {
            writeln!(
                out,
                "  {}: {}",
                terminal_text(&record.owner_label(&gap.descriptor)),
                terminal_text(&gap.error.replace('\n', " "))
            )?;
        }
    }
    Ok(())
}

fn colour(severity: Severity) -> Color {
    match severity {
        Severity::Critical => Color::Red,
        Severity::High => Color::Magenta,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Cyan,
        Severity::Info => Color::Grey,
    }
}

/// One row per flagged token: its worst severity, every rule it broke, the worst rule's message
/// and the short action of its guidance (`pat2entra explain ID` prints the whole guidance).
fn flagged_tokens(record: &ScanRecord, options: &RenderOptions) -> Table {
    let mut by_token: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in record.open_findings() {
        by_token.entry(&f.authorization_id).or_default().push(f);
    }
    let mut rows: Vec<(Severity, String, Vec<String>)> = by_token
        .into_values()
        .map(|findings| {
            let worst = findings.iter().max_by_key(|f| f.severity).expect("grouped findings are never empty");
            let token = record.token(&worst.authorization_id);
            let name = token.map(|t| t.display_name.as_str()).filter(|n| !n.is_empty()).unwrap_or("(no name)");
            let expires = token.and_then(|t| t.valid_to).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
            let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_ref()).collect();
            let owner = record.owner_label(&worst.owner);
            let action = worst
                .guidance
                .as_deref()
                .map(|id| match record.guidance(id) {
                    Some(g) => format!("{} [{id}]", g.action.replace('`', "")),
                    None => format!("[{id}]"),
                })
                .unwrap_or_default();
            (
                worst.severity,
                owner.clone(),
                vec![
                    worst.severity.to_string(),
                    terminal_text(&owner),
                    terminal_text(name),
                    expires,
                    rules.join(", "),
                    terminal_text(&worst.message),
                    action,
                ],
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2)));

    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Severity", "Owner", "Token", "Expires", "Rules", "Why", "Action"]);
    table.force_no_tty().set_width(options.terminal_width.unwrap_or(FILE_WIDTH));
    if options.color {
        table.enforce_styling();
    }
    let cap = |w: u16| ColumnConstraint::UpperBoundary(Width::Fixed(w));
    table.set_constraints([
        ColumnConstraint::ContentWidth,
        cap(30),
        cap(22),
        ColumnConstraint::ContentWidth,
        cap(20),
        ColumnConstraint::LowerBoundary(Width::Fixed(24)),
        ColumnConstraint::LowerBoundary(Width::Fixed(24)),
    ]);
    for (severity, _, row) in rows {
        let mut cells: Vec<Cell> = row.into_iter().map(Cell::new).collect();
        if options.color {
            cells[0] = Cell::new(severity.as_str()).fg(colour(severity));
        }
        table.add_row(cells);
    }
    table
}
