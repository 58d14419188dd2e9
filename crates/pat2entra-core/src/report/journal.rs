//! An action journal (`pat2entra report --journal FILE`) in each output format: the journal's
//! scan and runs, the count per outcome, and each target's last outcome with its reason (the
//! table, Markdown and HTML), or every line as written (CSV and JSON: the audit trail).

use super::escape::{markdown_escape as md, terminal_text};
use super::{Format, neutralise, wrap_cutting};
use crate::journal::{Entry, Journal, Outcome};
use serde::Serialize;
use std::io::{self, Write};

/// Writes the journal in `format`; the table fits `terminal_width` when one is given (a
/// file or a pipe gets one line per target, whatever its length).
pub fn render(journal: &Journal, format: Format, terminal_width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => json(journal, out),
        Format::Csv => csv(journal, out),
        Format::Markdown => markdown(journal, out),
        Format::Table => text(journal, terminal_width, out),
        Format::Html => html(journal, out),
        // The exports describe a scan's findings; the command line refuses them earlier.
        Format::Ocsf | Format::Junit => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "-o ocsf and -o junit export a scan, not a revoke journal"))
        }
    }
}

/// Each target once, with its last outcome: failed first (what needs doing), then in doubt,
/// skipped, done; by owner and name within.
fn targets(journal: &Journal) -> Vec<&Entry> {
    let rank = |o: Outcome| match o {
        Outcome::Failed => 0,
        Outcome::Planned => 1,
        Outcome::Skipped => 2,
        Outcome::Done => 3,
    };
    let mut last: Vec<&Entry> = journal.last_outcomes().into_values().collect();
    last.sort_by(|a, b| {
        (rank(a.outcome), &a.target.owner_label, &a.target.name, &a.target.id).cmp(&(
            rank(b.outcome),
            &b.target.owner_label,
            &b.target.name,
            &b.target.id,
        ))
    });
    last
}

fn title(journal: &Journal) -> String {
    format!("{} journal: {}", capitalised(journal.header.action.as_str()), journal.header.organization)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `revoked 30, skipped 2, failed 1, in doubt 0`.
fn headline(journal: &Journal) -> String {
    let summary = journal.summary();
    let action = journal.header.action;
    let mut parts: Vec<String> = [Outcome::Done, Outcome::Skipped, Outcome::Failed]
        .into_iter()
        .map(|o| format!("{} {}", o.word(action), summary.get(&o).copied().unwrap_or(0)))
        .collect();
    let doubt = summary.get(&Outcome::Planned).copied().unwrap_or(0);
    if doubt > 0 {
        parts.push(format!("in doubt {doubt} (planned, no answer recorded: rerun to settle)"));
    }
    parts.join(", ")
}

/// `scan scan.json (sha256 0123456789ab…, as of 2026-11-26)`.
fn scan_line(journal: &Journal) -> String {
    let scan = &journal.header.scan;
    format!(
        "scan {} (sha256 {}…, as of {})",
        scan.file,
        scan.sha256.chars().take(12).collect::<String>(),
        scan.as_of.format("%Y-%m-%d")
    )
}

/// One line per run: `2026-11-27 08:00 UTC by Ana <ana@…>: rule=full-access, batch-size=100`.
fn run_lines(journal: &Journal) -> Vec<String> {
    journal
        .runs
        .iter()
        .map(|run| {
            let parameters: Vec<String> = run.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{} by {}: {}",
                run.started.format("%Y-%m-%d %H:%M:%S UTC"),
                run.actor.as_deref().unwrap_or("(unknown identity)"),
                parameters.join(", ")
            )
        })
        .collect()
}

/// A target's name as the table shows it.
fn shown_name(e: &Entry) -> &str {
    if e.target.name.is_empty() { "(no name)" } else { &e.target.name }
}

/// The one-line layout's width before the reason.
const ONE_LINE: usize = 8 + 1 + 19 + 1 + 4 + 1 + 32 + 1 + 24 + 1 + 36 + 1;

fn text(journal: &Journal, terminal_width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", terminal_text(&title(journal)))?;
    writeln!(out, "{}", terminal_text(&scan_line(journal)))?;
    writeln!(out, "{}", headline(journal))?;
    if journal.torn_at.is_some() {
        writeln!(out, "note: the last line was cut short (the run stopped while writing it) and is not shown")?;
    }
    writeln!(out)?;
    writeln!(out, "Runs:")?;
    for line in run_lines(journal) {
        writeln!(out, "  {}", terminal_text(&line))?;
    }
    writeln!(out)?;
    let action = journal.header.action;
    // A terminal narrower than the one-line layout with some room for the reason: each target
    // on lines of its own (outcome, time, kind and owner; then name and id; then the reason),
    // the later ones indented and cut to the width.
    if let Some(width) = terminal_width.map(usize::from).filter(|w| *w < ONE_LINE + 30) {
        let indent = "         ";
        let room = width.saturating_sub(indent.len()).max(20);
        for e in targets(journal) {
            let TerminalRow { outcome, time, kind, owner, name, id, reason } = TerminalRow::of(e, action);
            writeln!(out, "{outcome:<8} {time} {kind:<4} {owner}")?;
            let mut lines = if name.chars().count() + 2 + id.chars().count() <= room {
                vec![format!("{name}  {id}")]
            } else {
                let mut lines = wrap_cutting(&name, room);
                lines.extend(wrap_cutting(&id, room));
                lines
            };
            lines.extend(wrap_cutting(&reason, room));
            for line in lines {
                writeln!(out, "{indent}{line}")?;
            }
        }
        return Ok(());
    }
    writeln!(out, "{:<8} {:<19} {:<4} {:<32} {:<24} {:<36} REASON", "OUTCOME", "TIME", "KIND", "OWNER", "NAME", "ID")?;
    for e in targets(journal) {
        let TerminalRow { outcome, time, kind, owner, name, id, reason } = TerminalRow::of(e, action);
        writeln!(out, "{outcome:<8} {time:<19} {kind:<4} {owner:<32} {name:<24} {id:<36} {reason}")?;
    }
    Ok(())
}

/// A target's fields as the terminal table shows them, in either layout (made safe for a
/// terminal).
struct TerminalRow {
    outcome: &'static str,
    time: String,
    kind: &'static str,
    owner: String,
    name: String,
    id: String,
    reason: String,
}

impl TerminalRow {
    fn of(e: &Entry, action: crate::journal::Action) -> Self {
        TerminalRow {
            outcome: e.outcome.word(action),
            time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
            kind: e.target.kind.as_str(),
            owner: terminal_text(&e.target.owner_label),
            name: terminal_text(shown_name(e)),
            id: terminal_text(&e.target.id),
            reason: terminal_text(e.reason.as_deref().unwrap_or("")),
        }
    }
}

fn csv(journal: &Journal, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "time",
        "organization",
        "actor",
        "action",
        "outcome",
        "kind",
        "authorization_id",
        "owner_principal_name",
        "token_name",
        "batch",
        "reason",
        "owner_descriptor",
    ])?;
    let action = journal.header.action;
    for e in &journal.entries {
        let row = [
            e.time.to_rfc3339(),
            e.organization.clone(),
            e.actor.clone().unwrap_or_default(),
            e.action.as_str().to_string(),
            e.outcome.word(action).to_string(),
            e.target.kind.as_str().to_string(),
            e.target.id.clone(),
            e.target.owner_label.clone(),
            e.target.name.clone(),
            e.batch.map(|b| b.to_string()).unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            e.target.owner.clone(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    w.flush()
}

fn json(journal: &Journal, out: &mut dyn Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        header: &'a crate::journal::Header,
        runs: &'a [crate::journal::Run],
        summary: std::collections::BTreeMap<Outcome, usize>,
        entries: &'a [Entry],
    }
    let document = Document {
        header: &journal.header,
        runs: &journal.runs,
        summary: journal.summary(),
        entries: &journal.entries,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

fn markdown(journal: &Journal, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# {}", md(&title(journal)))?;
    writeln!(out)?;
    writeln!(out, "{}.", md(&scan_line(journal)))?;
    writeln!(out)?;
    writeln!(out, "**{}**", md(&headline(journal)))?;
    writeln!(out)?;
    writeln!(out, "## Runs")?;
    writeln!(out)?;
    for line in run_lines(journal) {
        writeln!(out, "- {}", md(&line))?;
    }
    writeln!(out)?;
    let (heading, id) = journal.header.action.targets();
    writeln!(out, "## {heading}")?;
    writeln!(out)?;
    writeln!(out, "| outcome | time | kind | owner | name | {id} | reason |")?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |")?;
    let action = journal.header.action;
    for e in targets(journal) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            e.outcome.word(action),
            e.time.format("%Y-%m-%d %H:%M:%S"),
            e.target.kind.as_str(),
            md(&e.target.owner_label),
            md(&e.target.name),
            md(&e.target.id),
            md(e.reason.as_deref().unwrap_or(""))
        )?;
    }
    Ok(())
}

/// What `templates/journal.html` shows (on the report's shared `templates/base.html`).
#[derive(askama::Template)]
#[template(path = "journal.html")]
struct JournalPage<'a> {
    title: String,
    scan: String,
    headline: String,
    torn: bool,
    runs: Vec<String>,
    /// `Credentials` or `Owners`, and what their id is.
    targets: (&'static str, &'static str),
    rows: Vec<Row<'a>>,
}

struct Row<'a> {
    outcome: &'static str,
    time: String,
    kind: &'static str,
    entry: &'a Entry,
}

fn html(journal: &Journal, out: &mut dyn Write) -> io::Result<()> {
    let action = journal.header.action;
    let page = JournalPage {
        title: title(journal),
        scan: scan_line(journal),
        headline: headline(journal),
        torn: journal.torn_at.is_some(),
        runs: run_lines(journal),
        targets: action.targets(),
        rows: targets(journal)
            .into_iter()
            .map(|entry| Row {
                outcome: entry.outcome.word(action),
                time: entry.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                kind: entry.target.kind.as_str(),
                entry,
            })
            .collect(),
    };
    super::html::write_page(&page, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Action, Header, Line, Run, ScanBinding, Target};

    fn journal(name: &str) -> Journal {
        let entry = |id: &str, outcome: Outcome, reason: Option<&str>| {
            Line::Entry(Entry {
                time: "2026-11-27T08:00:01Z".parse().unwrap(),
                organization: "fabrikam".into(),
                actor: Some("Admin <admin@fabrikam.com>".into()),
                action: Action::Revoke,
                target: Target {
                    id: id.into(),
                    owner: "aad.x".into(),
                    owner_label: "x@fabrikam.com".into(),
                    name: name.into(),
                    kind: crate::journal::TargetKind::Pat,
                },
                outcome,
                reason: reason.map(str::to_string),
                batch: Some(1),
            })
        };
        let lines = [
            Line::Header(Header {
                format: crate::journal::FORMAT.into(),
                version: crate::journal::VERSION,
                action: Action::Revoke,
                organization: "fabrikam".into(),
                scan: ScanBinding {
                    file: "scan.json".into(),
                    sha256: "0123456789abcdef".into(),
                    as_of: "2026-11-26T00:00:00Z".parse().unwrap(),
                },
                tool_version: "0.1.0".into(),
                created: "2026-11-27T08:00:00Z".parse().unwrap(),
            }),
            Line::Run(Run {
                started: "2026-11-27T08:00:00Z".parse().unwrap(),
                actor: Some("Admin <admin@fabrikam.com>".into()),
                parameters: [("rule".to_string(), "full-access".to_string())].into(),
            }),
            entry("a1", Outcome::Planned, None),
            entry("a1", Outcome::Done, None),
            entry("b2", Outcome::Failed, Some("HTTP 500")),
            entry("c3", Outcome::Skipped, Some("no longer listed under its owner")),
        ];
        let mut chain = crate::journal::Chain::default();
        Journal::parse(&lines.iter().map(|l| chain.line(l)).collect::<String>()).unwrap()
    }

    fn rendered(journal: &Journal, format: Format) -> String {
        let mut out = Vec::new();
        render(journal, format, None, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// On an 80-column terminal each target takes lines of its own, none wider than the
    /// terminal, and says everything the one-line layout says.
    #[test]
    fn the_table_fits_a_narrow_terminal() {
        // A name too long for one line with its id.
        let journal = journal("Build Agent Pool Owner of the release pipelines of every product team");
        let mut out = Vec::new();
        render(&journal, Format::Table, Some(80), &mut out).unwrap();
        let narrow = String::from_utf8(out).unwrap();
        let table = narrow.split("\n\n").last().unwrap();
        for line in table.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        let wide = rendered(&journal, Format::Table);
        assert!(wide.lines().any(|l| l.chars().count() > 80), "the one-line layout is wider");
        for e in targets(&journal) {
            assert!(table.contains(&e.target.owner_label) && table.contains(&e.target.id), "{table}");
            for word in e.reason.as_deref().unwrap_or("").split(' ').filter(|w| w.len() < 40) {
                assert!(table.contains(word), "{word} of the reason: {table}");
            }
        }
        assert_eq!(wrap_cutting("aaaa bb cccccccccc d", 4), ["aaaa", "bb", "cccc", "cccc", "cc d"]);
    }

    #[test]
    fn every_format_shows_each_target_and_the_counts() {
        let j = journal("ci token");
        let table = rendered(&j, Format::Table);
        assert!(table.contains("revoked 1, skipped 1, failed 1"), "{table}");
        let failed = table.find("failed   ").unwrap();
        assert!(failed < table.find("revoked  ").unwrap(), "failed first:\n{table}");
        assert!(table.contains("no longer listed under its owner"), "{table}");
        let csv = rendered(&j, Format::Csv);
        assert_eq!(csv.lines().count(), 5, "the header and every entry:\n{csv}");
        let markdown = rendered(&j, Format::Markdown);
        assert!(markdown.contains("| failed |"), "{markdown}");
        let json: serde_json::Value = serde_json::from_str(&rendered(&j, Format::Json)).unwrap();
        assert_eq!(json["summary"]["done"], 1);
        assert_eq!(json["entries"].as_array().unwrap().len(), 4);
        let html = rendered(&j, Format::Html);
        assert!(html.contains("Content-Security-Policy") && html.contains("b2"), "{html}");
    }

    #[test]
    fn hostile_names_are_escaped_in_every_format() {
        let j = journal("<script>alert(1)</script>\u{1b}[31m=cmd|' /C calc'!A0");
        let html = rendered(&j, Format::Html);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        for format in [Format::Table, Format::Markdown, Format::Html, Format::Csv] {
            assert!(!rendered(&j, format).contains('\u{1b}'), "{format:?}");
        }
        assert!(!rendered(&j, Format::Markdown).contains("<script>"));
        let formula = rendered(&journal("=HYPERLINK(\"http://x\")"), Format::Csv);
        assert!(formula.contains("'=HYPERLINK"), "{formula}");
    }
}
