//! The scan-to-scan diff in each output format.

use super::escape::{markdown_escape as esc, terminal_text};
use super::{Format, neutralise};
use crate::diff::{Change, ScanDiff};
use std::io::{self, Write};

/// Writes the diff in `format`.
pub fn render(diff: &ScanDiff, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, diff)?;
            writeln!(out)
        }
        Format::Csv => csv(diff, out),
        Format::Markdown => markdown(diff, out),
        Format::Table => text(diff, out),
        Format::Html => html(diff, out),
    }
}

/// A small self-contained page: headline, trends, changed findings and tokens.
fn html(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    use super::escape::html_escape as h;
    let title = format!(
        "PAT posture: {} from {} to {}",
        diff.organization,
        diff.old_as_of.format("%Y-%m-%d"),
        diff.new_as_of.format("%Y-%m-%d")
    );
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<title>{}</title>",
        h(&title)
    )?;
    writeln!(
        out,
        "<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse;margin:1rem 0}}\
         td,th{{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}}th{{background:#f6f8fa}}\
         .new{{color:#b42318}}.resolved{{color:#1a7f37}}.num{{text-align:right}}</style></head><body>"
    )?;
    writeln!(out, "<h1>{}</h1>\n<p>{}.</p>", h(&title), h(&headline(diff)))?;
    if !diff.both_complete {
        writeln!(
            out,
            "<p><strong>Warning:</strong> one of the scans is incomplete; findings of unread owners may show as resolved.</p>"
        )?;
    }
    writeln!(out, "<table><tr><th>trend</th><th>old</th><th>new</th><th>change</th></tr>")?;
    for (name, t) in &diff.trend {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:+}</td></tr>",
            h(&name.replace('_', " ")),
            t.old,
            t.new,
            t.delta
        )?;
    }
    writeln!(out, "</table>")?;
    for (change, title, class) in
        [(Change::New, "New findings", "new"), (Change::Resolved, "Resolved findings", "resolved")]
    {
        let list: Vec<_> = diff.findings.iter().filter(|f| f.change == change).collect();
        if list.is_empty() {
            continue;
        }
        writeln!(out, "<h2 class=\"{class}\">{title} ({})</h2>", list.len())?;
        writeln!(out, "<table><tr><th>Severity</th><th>Rule</th><th>Owner</th><th>Token</th><th>Finding</th></tr>")?;
        for f in list {
            let note = f.note.as_deref().map(|n| format!(" ({})", h(n))).unwrap_or_default();
            writeln!(
                out,
                "<tr class=\"finding {class}\" data-token=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{note}</td></tr>",
                h(&f.authorization_id),
                f.severity,
                h(&f.rule),
                h(&f.owner_label),
                h(&f.token_name),
                h(&f.message)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    if !diff.coverage_gaps.is_empty() {
        writeln!(out, "<h2 class=\"new\">Not read ({})</h2><ul>", diff.coverage_gaps.len())?;
        for g in &diff.coverage_gaps {
            writeln!(out, "<li>{} scan: {}: {}</li>", h(&g.scan), h(&g.owner_label), h(&g.error))?;
        }
        writeln!(out, "</ul>")?;
    }
    if !diff.tokens.is_empty() {
        writeln!(out, "<h2>Tokens ({})</h2>", diff.tokens.len())?;
        writeln!(out, "<table><tr><th>Change</th><th>Owner</th><th>Token</th></tr>")?;
        for t in &diff.tokens {
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                h(&t.change),
                h(&t.owner_label),
                h(&t.token_name)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</body></html>")
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
            writeln!(out, "  {:<8} {} / {}", t.change, terminal_text(&t.owner_label), terminal_text(&t.token_name))?;
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
            f.authorization_id.clone(),
            f.token_name.clone(),
            f.owner_label.clone(),
            f.message.clone(),
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
    w.flush()
}

fn markdown(diff: &ScanDiff, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "# PAT posture: {} from {} to {}",
        esc(&diff.organization),
        diff.old_as_of.format("%Y-%m-%d"),
        diff.new_as_of.format("%Y-%m-%d")
    )?;
    writeln!(out)?;
    writeln!(out, "{}.", headline(diff))?;
    if !diff.both_complete {
        writeln!(out)?;
        writeln!(out, "**Warning:** one of the scans is incomplete; findings of unread owners may show as resolved.")?;
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
            let note = f.note.as_deref().map(|n| format!(" ({})", esc(n))).unwrap_or_default();
            writeln!(
                out,
                "| {} | {} | {} | {} | {}{note} |",
                f.severity,
                esc(&f.rule),
                esc(&f.owner_label),
                esc(&f.token_name),
                esc(&f.message)
            )?;
        }
    }
    if !diff.coverage_gaps.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Not read ({})", diff.coverage_gaps.len())?;
        writeln!(out)?;
        for g in &diff.coverage_gaps {
            writeln!(out, "- {} scan: {}: {}", g.scan, esc(&g.owner_label), esc(&g.error))?;
        }
    }
    if !diff.tokens.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Tokens ({})", diff.tokens.len())?;
        writeln!(out)?;
        writeln!(out, "| Change | Owner | Token |")?;
        writeln!(out, "| --- | --- | --- |")?;
        for t in &diff.tokens {
            writeln!(out, "| {} | {} | {} |", t.change, esc(&t.owner_label), esc(&t.token_name))?;
        }
    }
    Ok(())
}
