//! Terminal output: a summary first, then one row per flagged token, then coverage gaps.

use super::RenderOptions;
use super::escape::terminal_text;
use crate::finding::{Finding, Severity};
use crate::record::ScanRecord;
use crate::rules::ExceptionStatus;
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Write};

/// Width used when the output is not a terminal.
const FILE_WIDTH: u16 = 160;
/// Notes under the summary (the audit caveat, organization findings) wrap here: with their
/// 10-column label they fit 80 columns.
const NOTE_WIDTH: usize = 70;

pub fn render(record: &ScanRecord, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let s = &record.summary;
    let c = &record.coverage;
    writeln!(
        out,
        "Organization {} as of {}",
        cell_text(&record.organization, NAME_MAX),
        record.as_of.format("%Y-%m-%d %H:%M UTC")
    )?;
    if let Some(redaction) = &record.redaction {
        writeln!(out, "Note:     {}", redaction.notice())?;
    }
    writeln!(
        out,
        "Owners:   {} listed, {} scanned{}{}",
        c.owners_listed,
        c.owners_scanned,
        super::other_parts(record),
        if c.complete {
            " (complete)".to_string()
        } else {
            format!(", {} FAILED (scan incomplete)", c.owners_failed.len())
        }
    )?;
    if !c.warnings.is_empty() {
        writeln!(out, "Warnings: {} (duplicates resolved, tokens not fully read; listed below)", c.warnings.len())?;
    }
    writeln!(
        out,
        "Tokens:   {} ({} active, {} expired, {} revoked); {} flagged",
        s.tokens, s.active_tokens, s.expired_tokens, s.revoked_tokens, s.flagged_tokens
    )?;
    let suppressed = if s.suppressed_findings > 0 {
        format!(" ({} more accepted by exceptions)", s.suppressed_findings)
    } else {
        String::new()
    };
    writeln!(out, "Findings: {}{suppressed}", s.severity_counts())?;
    // Each evidence source's coverage, then the audit log's limits, under the same labels.
    for (i, line) in record.evidence.lines().iter().enumerate() {
        let label = if i == 0 { "Evidence:" } else { "" };
        // `Evidence: none read (…)`, not `Evidence: evidence: none read (…)`.
        let line = line.strip_prefix("evidence: ").unwrap_or(line);
        writeln!(out, "{label:<10}{}", terminal_text(line))?;
    }
    if record.evidence.shows_audit() {
        for (i, line) in super::wrap(crate::evidence::AUDIT_CAVEAT, NOTE_WIDTH).iter().enumerate() {
            writeln!(out, "{:<10}{line}", if i == 0 { "Audit:" } else { "" })?;
        }
    }
    let organization: Vec<&Finding> = record.open_findings().filter(|f| f.is_organization()).collect();
    if !organization.is_empty() {
        writeln!(out)?;
        writeln!(out, "Organization findings (tenant policies):")?;
        for f in organization {
            let text = format!("{} {}: {}", f.severity, f.rule, terminal_text(&f.message));
            for (i, line) in super::wrap(&text, NOTE_WIDTH).iter().enumerate() {
                writeln!(out, "{}{line}", if i == 0 { "  " } else { "    " })?;
            }
        }
    }

    if record.open_findings().next().is_some() {
        writeln!(out)?;
        flagged_tokens(record, options, out)?;
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
            writeln!(out, "  #{} (line {}, {}): {what}", e.exception, e.line, cell_text(&e.reason, TEXT_MAX))?;
        }
    }
    if !c.owners_failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "Coverage gaps (tokens of these owners were NOT read):")?;
        for gap in &c.owners_failed {
            writeln!(
                out,
                "  {}: {}",
                cell_text(&record.owner_label(&gap.descriptor), NAME_MAX),
                cell_text(&gap.error, TEXT_MAX * 4)
            )?;
        }
    }
    if !c.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Coverage warnings (read, but resolved or not fully readable):")?;
        for w in &c.warnings {
            writeln!(out, "  {}: {}", w.kind.as_str(), terminal_text(&w.message.replace('\n', " ")))?;
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

/// At least this wide, the table has one column per field; narrower, it stacks owner over
/// token and the finding over its action, so that names stay readable at 80 columns.
const WIDE_FROM: u16 = 150;
/// Narrower than this, everything but the severity shares one column.
const STACKED_FROM: u16 = 64;
// Column widths below count the cell's padding (one space each side): 22 shows 20 characters.

/// Longest name or text a cell shows (display columns); longer ones end in `…`. Bounds the
/// table's layout work, which grew much faster than the length of a name.
const NAME_MAX: usize = 60;
const TEXT_MAX: usize = 160;

/// `text` cut to at most `max` display columns, ending in `…` when cut. Linear in `text`.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    use unicode_width::UnicodeWidthChar;
    let mut width = 0;
    for (i, c) in text.char_indices() {
        width += c.width().unwrap_or(0);
        if width > max {
            // Back off until the ellipsis fits.
            let mut cut = String::with_capacity(i + 3);
            let mut used = 0;
            for c in text[..i].chars() {
                let w = c.width().unwrap_or(0);
                if used + w + 1 > max {
                    break;
                }
                used += w;
                cut.push(c);
            }
            cut.push('…');
            return cut.into();
        }
    }
    text.into()
}

/// Text from the record for a cell: sanitised, then clipped.
fn cell_text(text: &str, max: usize) -> String {
    clip(&terminal_text(text), max).into_owned()
}

/// One flagged token's cells, before layout.
struct Row {
    severity: Severity,
    owner: String,
    token: String,
    expires: String,
    /// Last audited use (`seen_label`); empty when the audit log was not asked for.
    seen: String,
    rules: Vec<String>,
    why: String,
    action: String,
}

/// One row per flagged token: its worst severity, every rule it broke, the worst rule's message
/// and the short action of its guidance (`pat2entra explain ID` prints the whole guidance).
///
/// Written in chunks of rows, not as one table: comfy-table holds every cell and every formatted
/// line of a table until it is printed, several times the record for 100,000 flagged tokens.
/// The column widths of the whole table come first, from a table of each column's distinct
/// lines (comfy-table's layout looks only at the longest line and at how lines split, so it
/// lays that table out exactly as the whole one), then every chunk is rendered at those widths.
fn flagged_tokens(record: &ScanRecord, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let shows_seen = record.evidence.shows_audit();
    let rows = sorted_rows(record);
    let width = options.terminal_width.unwrap_or(FILE_WIDTH);
    let (header, constraints) = columns(width, shows_seen);

    // First pass: each column's distinct lines, as comfy-table splits a cell's text. A line of
    // printable ASCII without a space is one word that comfy-table splits by width alone, so all
    // such lines of one length lay out alike: their lengths stand for them (ids, descriptors,
    // principal names and every pseudonym of `--redact` would otherwise each be a line).
    let mut distinct: Vec<HashSet<String>> = vec![HashSet::new(); header.len()];
    let mut words: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); header.len()];
    for (_, row) in &rows {
        for ((column, lengths), text) in distinct.iter_mut().zip(&mut words).zip(cells(row, width, shows_seen)) {
            for line in text.split('\n') {
                if !line.is_empty() && line.bytes().all(|b| b.is_ascii_graphic()) {
                    lengths.insert(line.len());
                } else if !column.contains(line) {
                    column.insert(line.to_string());
                }
            }
        }
    }
    let mut probe = new_table(width, false);
    probe.set_header(header.clone()).set_constraints(constraints);
    let mut distinct: Vec<Vec<String>> = distinct
        .into_iter()
        .zip(words)
        .map(|(set, lengths)| set.into_iter().chain(lengths.into_iter().map(|n| "x".repeat(n))).collect())
        .collect();
    let longest = distinct.iter().map(Vec::len).max().unwrap_or(0);
    for _ in 0..longest {
        probe.add_row(distinct.iter_mut().map(|lines| lines.pop().unwrap_or_default()).collect::<Vec<_>>());
    }
    drop(distinct);
    // The top border shows each column's width with its padding: `┌──────┬───…┐`.
    let top = probe.lines().next().unwrap_or_default();
    drop(probe);
    let horizontal = top.chars().nth(1).unwrap_or('─');
    let widths: Vec<u16> =
        top.split(|c| c != horizontal).filter(|run| !run.is_empty()).map(|run| run.chars().count() as u16).collect();
    debug_assert_eq!(widths.len(), header.len());

    // Second pass: chunks at those widths; the borders between chunks left out. The chunks are
    // laid out on the cores, a few at a time (so memory holds a few chunks' lines), and written
    // in order.
    let chunks: Vec<&[(String, Row)]> = if rows.is_empty() { vec![&[]] } else { rows.chunks(CHUNK_ROWS).collect() };
    let last = chunks.len() - 1;
    // A chunk's lines come back as one text: the lines are freed on the thread that made them.
    let render = |n: usize, chunk: &[(String, Row)]| -> String {
        let mut table = new_table(width, options.color);
        if n == 0 {
            table.set_header(header.clone());
        }
        for (_, row) in chunk {
            let mut texts = cells(row, width, shows_seen).into_iter();
            texts.next();
            let severity = if options.color {
                Cell::new(row.severity.as_str()).fg(colour(row.severity))
            } else {
                Cell::new(row.severity.to_string())
            };
            let mut row_cells = vec![severity];
            row_cells.extend(texts.map(Cell::new_owned));
            table.add_row(row_cells);
        }
        // After the rows: a table without a header has no columns to constrain before them.
        table.set_constraints(widths.iter().map(|w| ColumnConstraint::Absolute(Width::Fixed(*w))));
        let lines: Vec<String> = table.lines().collect();
        let from = usize::from(n > 0);
        let to = if n == last { lines.len() } else { lines.len().saturating_sub(1) };
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in &lines[from.min(to)..to] {
            text.push_str(line);
            text.push('\n');
        }
        text
    };
    let threads = crate::parallel::cores();
    for (group, batch) in chunks.chunks(threads).enumerate() {
        let first = group * threads;
        let render = &render;
        let rendered =
            crate::parallel::all(batch.iter().enumerate().map(|(i, chunk)| move || render(first + i, chunk)).collect());
        for text in &rendered {
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// One row per flagged token, in the table's order: worst severity first, then owner, token.
fn sorted_rows(record: &ScanRecord) -> Vec<(String, Row)> {
    let mut by_token: BTreeMap<(&str, &str), Vec<&Finding>> = BTreeMap::new();
    for f in record.open_findings().filter(|f| !f.is_organization()) {
        by_token.entry((&f.owner, &f.authorization_id)).or_default().push(f);
    }
    let mut rows: Vec<(String, Row)> = by_token
        .into_values()
        .map(|findings| {
            let worst = findings.iter().max_by_key(|f| f.severity).expect("grouped findings are never empty");
            let token = record.token(&worst.owner, &worst.authorization_id);
            let name = token.map(|t| t.display_name.as_str()).filter(|n| !n.is_empty()).unwrap_or("(no name)");
            // An SSH key says so; a PAT is the usual case.
            let name = match token.filter(|t| !t.kind.is_pat()) {
                Some(t) => format!("{} ({})", clip(&terminal_text(name), NAME_MAX - 6), t.kind.as_str()),
                None => cell_text(name, NAME_MAX),
            };
            let seen = token.and_then(|t| super::seen_label(record, t)).unwrap_or_default();
            let expires = token.and_then(|t| t.valid_to).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
            let owner = record.owner_label(&worst.owner);
            let action = worst
                .guidance
                .as_deref()
                .map(|id| match record.guidance(id) {
                    Some(g) => format!("{} [{id}]", g.action.replace('`', "")),
                    None => format!("[{id}]"),
                })
                .unwrap_or_default();
            let row = Row {
                severity: worst.severity,
                owner: cell_text(&owner, NAME_MAX),
                token: name,
                expires,
                seen,
                rules: findings.iter().map(|f| cell_text(&f.rule, NAME_MAX)).collect(),
                why: cell_text(&worst.message, TEXT_MAX),
                action: cell_text(&action, TEXT_MAX),
            };
            (owner, row)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.1.severity.cmp(&a.1.severity).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.token.cmp(&b.1.token))
    });

    rows
}

/// Rows rendered at a time: bounds the table's memory, not its bytes.
const CHUNK_ROWS: usize = 1024;

fn new_table(width: u16, color: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.force_no_tty().set_width(width);
    if color {
        table.enforce_styling();
    }
    table
}

/// The header and column constraints of the layout for `width`.
fn columns(width: u16, shows_seen: bool) -> (Vec<&'static str>, Vec<ColumnConstraint>) {
    let fixed = |w: u16| Width::Fixed(w);
    let between = |lower: u16, upper: u16| ColumnConstraint::Boundaries { lower: fixed(lower), upper: fixed(upper) };
    if width >= WIDE_FROM && shows_seen {
        (
            vec!["Severity", "Owner", "Token", "Expires", "Seen", "Rules", "Why", "Action"],
            vec![
                ColumnConstraint::ContentWidth,
                between(22, 32),
                between(22, 26),
                ColumnConstraint::ContentWidth,
                between(12, 12),
                between(19, 22),
                ColumnConstraint::LowerBoundary(fixed(22)),
                ColumnConstraint::LowerBoundary(fixed(22)),
            ],
        )
    } else if width >= WIDE_FROM {
        (
            vec!["Severity", "Owner", "Token", "Expires", "Rules", "Why", "Action"],
            vec![
                ColumnConstraint::ContentWidth,
                between(22, 32),
                between(22, 26),
                ColumnConstraint::ContentWidth,
                between(19, 22),
                ColumnConstraint::LowerBoundary(fixed(26)),
                ColumnConstraint::LowerBoundary(fixed(26)),
            ],
        )
    } else if width >= STACKED_FROM {
        (
            vec!["Severity", "Owner / Token", "Rules", "Why / Action"],
            vec![
                ColumnConstraint::ContentWidth,
                between(24, 34),
                between(19, 19),
                ColumnConstraint::LowerBoundary(fixed(18)),
            ],
        )
    } else {
        (vec!["Severity", "Token"], vec![ColumnConstraint::ContentWidth, ColumnConstraint::LowerBoundary(fixed(24))])
    }
}

/// The text of each cell of `row` in the layout for `width`, the severity first.
fn cells(row: &Row, width: u16, shows_seen: bool) -> Vec<String> {
    let severity = row.severity.to_string();
    let expires = if row.expires.is_empty() { String::new() } else { format!("\nexpires {}", row.expires) };
    // Stacked layouts: the last audited use under the expiry (`seen 2026-11-20`).
    let seen = match row.seen.as_str() {
        "" => String::new(),
        "none seen" => "\nnone seen".to_string(),
        date if date.starts_with(|c: char| c.is_ascii_digit()) => format!("\nseen {date}"),
        other => format!("\nuse {other}"),
    };
    let action = if row.action.is_empty() { String::new() } else { format!("\n→ {}", row.action) };
    if width >= WIDE_FROM {
        let mut cells = vec![severity, row.owner.clone(), row.token.clone(), row.expires.clone()];
        if shows_seen {
            cells.push(row.seen.clone());
        }
        cells.extend([row.rules.join("\n"), row.why.clone(), row.action.clone()]);
        cells
    } else if width >= STACKED_FROM {
        vec![
            severity,
            format!("{}\n{}{expires}{seen}", row.owner, row.token),
            row.rules.join("\n"),
            format!("{}{action}", row.why),
        ]
    } else {
        vec![
            severity,
            format!("{}\n{}{expires}{seen}\n{}\n{}{action}", row.owner, row.token, row.rules.join(", "), row.why),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    /// Chunks print the same bytes as one comfy-table of every row would, across chunk
    /// boundaries and in every layout, with rows of distinct widths.
    #[test]
    fn chunked_table_matches_one_whole_table() {
        use super::*;
        use crate::inventory::{Coverage, Inventory, Token};
        use crate::rules::RuleSet;
        let tokens: Vec<Token> = (0..CHUNK_ROWS + 300)
            .map(|i| Token {
                authorization_id: format!("id-{i}").into(),
                // Single words of many lengths, some longer than their column (split by width).
                owner: format!("aad.{}-{}", "q".repeat(i % 700 % 47), i % 700).into(),
                display_name: format!("token {} {i}", "x".repeat(i % 37)),
                scopes: vec!["app_token".into()],
                target_accounts: ["o".into()].into(),
                is_valid: true,
                ..Default::default()
            })
            .collect();
        let inventory = Inventory {
            organization: "o".into(),
            owners: vec![],
            tokens,
            coverage: Coverage::new(700, 700, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        let record = ScanRecord::judge(inventory, &RuleSet::default_rules(), "2026-11-26T00:00:00Z".parse().unwrap());
        let shows_seen = record.evidence.shows_audit();
        for width in [200u16, 100, 50] {
            let options = RenderOptions { terminal_width: Some(width), ..Default::default() };
            let mut chunked = Vec::new();
            flagged_tokens(&record, &options, &mut chunked).unwrap();
            let chunked = String::from_utf8(chunked).unwrap();
            assert!(chunked.lines().count() > CHUNK_ROWS + 2, "{width}: the test spans chunks");

            // The same rows in one table, as the renderer printed them before chunks.
            let (header, constraints) = columns(width, shows_seen);
            let mut whole = new_table(width, false);
            whole.set_header(header).set_constraints(constraints);
            for (_, row) in sorted_rows(&record) {
                whole.add_row(cells(&row, width, shows_seen));
            }
            let whole = format!("{whole}\n");
            let first = chunked.lines().zip(whole.lines()).position(|(a, b)| a != b);
            if let Some(n) = first {
                panic!("{width}: line {n}:\n{}\n{}", chunked.lines().nth(n).unwrap(), whole.lines().nth(n).unwrap());
            }
            assert_eq!(chunked, whole, "{width}");
        }
    }

    #[test]
    fn clip_cuts_by_display_width_and_marks_the_cut() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("elevenchars", 10), "elevencha…");
        // Wide characters take two columns: 4 of them and the ellipsis fit in 9.
        assert_eq!(clip("日本語のトークン", 9), "日本語の…");
        assert!(matches!(clip("kept", 60), std::borrow::Cow::Borrowed(_)));
    }
}
