//! The scan-to-scan diff in each output format.

use super::escape::{markdown_escape as md, terminal_text};
use super::{Format, neutralise};
use crate::diff::{Change, EvidenceNote, FindingChange, GapNote, ScanDiff, TokenChange};
use std::io::{self, Write};

/// Writes the diff in `format`.
pub fn render(diff: &ScanDiff, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => super::json::write_pretty(diff, out),
        Format::Csv => csv(diff, out),
        Format::Markdown => markdown(diff, out),
        Format::Table => text(diff, out),
        Format::Html => html(diff, out),
        // The exports describe a scan's findings; the command line refuses them earlier.
        Format::Ocsf | Format::Junit => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "-o ocsf and -o junit export a scan, not a diff"))
        }
    }
}

/// A small self-contained page: headline, trends, changed findings and tokens
/// (`templates/diff.html`, on the report's shared `templates/base.html`).
fn html(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    let sections = [(Change::New, "New findings", "new"), (Change::Resolved, "Resolved findings", "resolved")]
        .into_iter()
        .map(|(change, title, class)| DiffSection {
            title,
            class,
            findings: diff.findings.iter().filter(|f| f.change == change).collect(),
        })
        .filter(|section| !section.findings.is_empty())
        .collect();
    let page = DiffPage {
        title: format!(
            "PAT posture: {} from {} to {}",
            diff.organization,
            diff.old_as_of.format("%Y-%m-%d"),
            diff.new_as_of.format("%Y-%m-%d")
        ),
        headline: headline(diff),
        both_complete: diff.both_complete,
        trends: diff
            .trend
            .iter()
            .map(|(name, t)| Trend { name: name.replace('_', " "), old: t.old, new: t.new, delta: t.delta })
            .collect(),
        sections,
        gaps: &diff.coverage_gaps,
        tokens: &diff.tokens,
        evidence: &diff.evidence,
        audit_caveat: diff.audit_caveat.as_deref(),
    };
    super::html::write_page(&page, out)
}

/// What `templates/diff.html` shows.
#[derive(askama::Template)]
#[template(path = "diff.html")]
struct DiffPage<'a> {
    title: String,
    headline: String,
    both_complete: bool,
    trends: Vec<Trend>,
    /// New and resolved findings, each when there are any.
    sections: Vec<DiffSection<'a>>,
    gaps: &'a [GapNote],
    tokens: &'a [TokenChange],
    evidence: &'a [EvidenceNote],
    audit_caveat: Option<&'a str>,
}

/// An evidence line of a saved diff in Markdown: pat2entra's `evidence.SOURCE: status` as it
/// is, what follows (a reason from the service) escaped. The caveat is plain words.
fn evidence_markdown(line: &str) -> String {
    let (head, rest) = match line.find(" (") {
        Some(i) => line.split_at(i),
        None => (line, ""),
    };
    let safe = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || " .:,;_-".contains(c));
    let head = if safe(head) { head.to_string() } else { md(head) };
    match rest.strip_prefix(" (").and_then(|r| r.strip_suffix(')')) {
        Some(reason) => format!("{head} ({})", md(reason)),
        None if rest.is_empty() => head,
        None => format!("{head}{}", md(rest)),
    }
}

/// `name`, with ` (ssh)` for an SSH key.
fn credential_name(t: &TokenChange) -> String {
    let name = if t.token_name.is_empty() { "(no name)" } else { &t.token_name };
    if t.kind.is_pat() { name.to_string() } else { format!("{name} ({})", t.kind.as_str()) }
}

struct Trend {
    name: String,
    old: i64,
    new: i64,
    delta: i64,
}

struct DiffSection<'a> {
    title: &'static str,
    /// CSS class (colour) of the heading and rows.
    class: &'static str,
    findings: Vec<&'a FindingChange>,
}

fn headline(diff: &ScanDiff) -> String {
    format!(
        "{} new, {} resolved, {} unchanged findings",
        diff.count(Change::New),
        diff.count(Change::Resolved),
        diff.count(Change::Unchanged)
    )
}

fn text(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "Organization {}: {} -> {}",
        terminal_text(&diff.organization),
        diff.old_as_of.format("%Y-%m-%d"),
        diff.new_as_of.format("%Y-%m-%d")
    )?;
    writeln!(out, "{}", headline(diff))?;
    if !diff.both_complete {
        writeln!(out, "warning: one of the scans is incomplete; findings of unread owners may show as resolved")?;
    }
    for e in &diff.evidence {
        writeln!(out, "{} scan: {}", e.scan, terminal_text(&e.line))?;
    }
    if let Some(caveat) = &diff.audit_caveat {
        for line in super::wrap(caveat, 78) {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{:<28} {:>8} {:>8} {:>8}", "trend", "old", "new", "change")?;
    for (name, h) in &diff.trend {
        writeln!(out, "{:<28} {:>8} {:>8} {:>+8}", name, h.old, h.new, h.delta)?;
    }
    for (change, title) in [(Change::New, "New findings"), (Change::Resolved, "Resolved findings")] {
        let list: Vec<_> = diff.findings.iter().filter(|f| f.change == change).collect();
        if list.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "{title}:")?;
        for f in list {
            let note = f.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            writeln!(
                out,
                "  {:<8} {:<18} {} / {}: {}{note}",
                f.severity.as_str(),
                terminal_text(&f.rule),
                terminal_text(&f.owner_label),
                terminal_text(if f.token_name.is_empty() { "(no name)" } else { &f.token_name }),
                terminal_text(&f.message)
            )?;
        }
    }
    if !diff.coverage_gaps.is_empty() {
        writeln!(out)?;
        writeln!(out, "Not read (coverage gaps):")?;
        for g in &diff.coverage_gaps {
            writeln!(out, "  {} scan: {}: {}", g.scan, terminal_text(&g.owner_label), terminal_text(&g.error))?;
        }
    }
    if !diff.tokens.is_empty() {
        writeln!(out)?;
        writeln!(out, "Tokens:")?;
        for t in &diff.tokens {
            writeln!(
                out,
                "  {:<8} {} / {}",
                t.change,
                terminal_text(&t.owner_label),
                terminal_text(&credential_name(t))
            )?;
        }
    }
    Ok(())
}

fn csv(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["change", "severity", "rule", "authorization_id", "token_name", "owner", "message", "note"])?;
    for f in &diff.findings {
        let change =
            serde_json::to_value(f.change).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let row = [
            change,
            f.severity.to_string(),
            f.rule.clone(),
            f.authorization_id.to_string(),
            f.token_name.clone(),
            f.owner_label.clone(),
            f.message.to_string(),
            f.note.clone().unwrap_or_default(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    for g in &diff.coverage_gaps {
        let row = [
            "not-read".to_string(),
            String::new(),
            "coverage-gap".to_string(),
            String::new(),
            String::new(),
            g.owner_label.clone(),
            format!("{} scan could not read this owner: {}", g.scan, g.error),
            String::new(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    for t in &diff.tokens {
        let row = [
            t.change.clone(),
            String::new(),
            format!("credential-{}", t.kind.as_str()),
            t.authorization_id.to_string(),
            t.token_name.clone(),
            t.owner_label.clone(),
            String::new(),
            String::new(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    for e in &diff.evidence {
        let row = [
            "evidence".to_string(),
            String::new(),
            "evidence".to_string(),
            String::new(),
            String::new(),
            String::new(),
            e.line.clone(),
            format!("{} scan", e.scan),
        ];
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    if let Some(caveat) = &diff.audit_caveat {
        let mut row = vec![String::new(); 8];
        row[0] = "evidence".into();
        row[2] = "evidence".into();
        row[6] = caveat.clone();
        w.write_record(row.iter().map(|c| neutralise(c).into_owned()))?;
    }
    w.flush()
}

fn markdown(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "# PAT posture: {} from {} to {}",
        md(&diff.organization),
        diff.old_as_of.format("%Y-%m-%d"),
        diff.new_as_of.format("%Y-%m-%d")
    )?;
    writeln!(out)?;
    writeln!(out, "{}.", headline(diff))?;
    if !diff.both_complete {
        writeln!(out)?;
        writeln!(out, "**Warning:** one of the scans is incomplete; findings of unread owners may show as resolved.")?;
    }
    if !diff.evidence.is_empty() {
        writeln!(out)?;
        for e in &diff.evidence {
            writeln!(out, "- {} scan: {}", e.scan, evidence_markdown(&e.line))?;
        }
    }
    if let Some(caveat) = &diff.audit_caveat {
        writeln!(out)?;
        writeln!(out, "_{}_", evidence_markdown(caveat))?;
    }
    writeln!(out)?;
    writeln!(out, "| | old | new | change |")?;
    writeln!(out, "| --- | ---: | ---: | ---: |")?;
    for (name, h) in &diff.trend {
        writeln!(out, "| {} | {} | {} | {:+} |", name.replace('_', " "), h.old, h.new, h.delta)?;
    }
    for (change, title) in [(Change::New, "New findings"), (Change::Resolved, "Resolved findings")] {
        let list: Vec<_> = diff.findings.iter().filter(|f| f.change == change).collect();
        if list.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "## {title} ({})", list.len())?;
        writeln!(out)?;
        writeln!(out, "| Severity | Rule | Owner | Token | Finding |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for f in list {
            let note = f.note.as_deref().map(|n| format!(" ({})", md(n))).unwrap_or_default();
            writeln!(
                out,
                "| {} | {} | {} | {} | {}{note} |",
                f.severity,
                md(&f.rule),
                md(&f.owner_label),
                md(&f.token_name),
                md(&f.message)
            )?;
        }
    }
    if !diff.coverage_gaps.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Not read ({})", diff.coverage_gaps.len())?;
        writeln!(out)?;
        for g in &diff.coverage_gaps {
            writeln!(out, "- {} scan: {}: {}", g.scan, md(&g.owner_label), md(&g.error))?;
        }
    }
    if !diff.tokens.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Tokens ({})", diff.tokens.len())?;
        writeln!(out)?;
        writeln!(out, "| Change | Owner | Token |")?;
        writeln!(out, "| --- | --- | --- |")?;
        for t in &diff.tokens {
            writeln!(out, "| {} | {} | {} |", t.change, md(&t.owner_label), md(&credential_name(t)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{DIFF_SCHEMA_VERSION, Headline};
    use crate::finding::Severity;
    use chrono::{TimeZone, Utc};

    const HOSTILE: &str = "<img src=x onerror='alert(1)'>\u{202E}&";
    const ESCAPED: &str = "&lt;img src=x onerror=&#39;alert(1)&#39;&gt;\u{FFFD}&amp;";

    #[test]
    fn the_html_diff_escapes_every_text_and_lays_out_each_part() {
        let diff = ScanDiff {
            schema_version: DIFF_SCHEMA_VERSION,
            organization: HOSTILE.into(),
            old_as_of: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            new_as_of: Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap(),
            both_complete: false,
            trend: [("open_findings".to_string(), Headline { old: 3, new: 1, delta: -2 })].into(),
            findings: vec![FindingChange {
                change: Change::New,
                rule: "full-access".into(),
                severity: Severity::High,
                authorization_id: HOSTILE.into(),
                owner: "aad.x".into(),
                owner_label: HOSTILE.into(),
                token_name: HOSTILE.into(),
                message: HOSTILE.into(),
                note: Some(HOSTILE.into()),
            }],
            tokens: vec![TokenChange {
                authorization_id: "t".into(),
                owner_label: HOSTILE.into(),
                token_name: HOSTILE.into(),
                change: "created".into(),
                kind: Default::default(),
            }],
            coverage_gaps: vec![GapNote {
                scan: "new".into(),
                descriptor: "aad.y".into(),
                owner_label: HOSTILE.into(),
                error: HOSTILE.into(),
            }],
            evidence: vec![EvidenceNote { scan: "new".into(), line: HOSTILE.into() }],
            audit_caveat: None,
        };
        let mut out = Vec::new();
        render(&diff, Format::Html, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(!html.contains("<img") && !html.contains('\u{202E}'), "{html}");
        assert!(html.contains(&format!("<title>PAT posture: {ESCAPED} from 2026-11-01 to 2026-11-15</title>")));
        assert!(html.contains(
            "<tr><td>open findings</td><td class=\"num\">3</td><td class=\"num\">1</td><td class=\"num\">-2</td></tr>"
        ));
        assert!(html.contains(&format!(
            "<tr class=\"finding new\" data-token=\"{ESCAPED}\"><td>high</td><td>full-access</td><td>{ESCAPED}</td><td>{ESCAPED}</td><td>{ESCAPED} ({ESCAPED})</td></tr>"
        )));
        assert!(html.contains(&format!("<li>new scan: {ESCAPED}: {ESCAPED}</li>")));
        assert!(html.contains(&format!("<tr><td>created</td><td>{ESCAPED}</td><td>{ESCAPED}</td></tr>")));
        assert!(html.contains("<p><strong>Warning:</strong> one of the scans is incomplete"));
        assert!(!html.contains("Resolved findings"), "an empty section is left out");
        assert!(html.ends_with("</body></html>\n"));
    }
}
