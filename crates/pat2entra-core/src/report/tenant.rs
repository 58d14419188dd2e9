//! Tenant records (several organizations) in every format: the tenant's summary first
//! (organizations, those not scanned, credentials shared across organizations counted once),
//! then each organization as the single-organization renderer writes it. Nothing is re-rendered
//! here: [`compose`] puts per-organization outputs together (report, plan and diff alike), so a
//! tenant's organization reads exactly as its own report would.

use super::escape::{markdown_escape as md, sanitize, terminal_text};
use super::{Format, RenderOptions, neutralise};
use crate::tenant::TenantRecord;
use std::io::{self, Write};

/// Writes one organization's part in the chosen format.
pub type RenderPart<'a> = Box<dyn Fn(&mut dyn Write) -> io::Result<()> + 'a>;

/// One organization's part of a tenant output: its name and how to write it in the format.
pub struct Part<'a> {
    pub organization: &'a str,
    pub render: RenderPart<'a>,
}

/// What comes before the organizations: a title, the summary lines, the organizations not
/// scanned (coverage gaps, in every format) and other lists.
#[derive(Debug, Default)]
pub struct Preamble {
    pub title: String,
    pub summary: Vec<String>,
    /// (organization, why it was not scanned).
    pub not_scanned: Vec<(String, String)>,
    /// Further sections: a heading and its lines.
    pub sections: Vec<(String, Vec<String>)>,
}

/// Writes a tenant record in `format`: JSON is the record itself; every other format is the
/// tenant summary, then each organization's own report.
pub fn render(record: &TenantRecord, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    render_with_trends(record, format, options, &[], out)
}

/// `render`, each organization's HTML report with the trend charts of its scan history
/// (`trends`: by organization, in the record's order; one without, or past the end, has none).
/// The page takes its styles from the first organization's report: give every organization a
/// trend (one with no scan says so), or none.
pub fn render_with_trends(
    record: &TenantRecord,
    format: Format,
    options: &RenderOptions,
    trends: &[Option<crate::trend::Trend>],
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => return super::json::write_pretty(record, out),
        // The exports name the organization in every line and test case themselves.
        Format::Ocsf | Format::Junit => {
            return super::render_export(super::Records::Tenant(record), format, options, out);
        }
        _ => {}
    }
    let parts: Vec<Part> = record
        .organizations
        .iter()
        .enumerate()
        .map(|(n, org)| {
            let trend = trends.get(n).and_then(Option::as_ref).filter(|_| format == Format::Html);
            Part {
                organization: &org.organization,
                render: Box::new(move |w: &mut dyn Write| match trend {
                    Some(trend) => super::render_html_with_trend(org, trend, w),
                    None => super::render(org, format, options, w),
                }),
            }
        })
        .collect();
    compose(format, &preamble(record), &parts, out)
}

/// The tenant summary of a record, in pat2entra's words (escaped per format by `compose`).
pub fn preamble(record: &TenantRecord) -> Preamble {
    let s = &record.summary;
    let mut summary = vec![
        format!(
            "Organizations: {} scanned, {} not scanned, {} incomplete",
            s.organizations, s.organizations_failed, s.organizations_incomplete
        ),
        format!(
            "Credentials: {} ({} active, {} flagged), {} listed by several organizations and counted once; {} owners",
            s.credentials, s.active_credentials, s.flagged_credentials, s.shared_credentials, s.owners
        ),
        format!(
            "Open findings: {} (a shared credential's finding counted once); {} suppressed",
            s.severity_counts(),
            s.suppressed_findings
        ),
    ];
    if let Some(shard) = &record.shard {
        summary.push(format!("Shard {} of {} (by {:?}), scan {}", shard.index, shard.count, shard.by, shard.scan_id));
    }
    summary.insert(0, format!("As of {}", record.as_of.format("%Y-%m-%d %H:%M UTC")));
    let shared = record
        .shared
        .iter()
        .map(|c| format!("{} (owner {}): {}", c.authorization_id, c.owner, c.organizations.join(", ")))
        .collect::<Vec<_>>();
    let mut sections = Vec::new();
    if !shared.is_empty() {
        sections.push(("Credentials listed by several organizations (one credential each)".to_string(), shared));
    }
    Preamble {
        title: format!(
            "PAT audit of {}",
            crate::text::plural(record.organizations.len() + record.failed.len(), "organization")
        ),
        summary,
        not_scanned: record.failed.iter().map(|f| (f.organization.clone(), f.reason.clone())).collect(),
        sections,
    }
}

/// Puts the preamble and the organizations' parts together in `format`.
pub fn compose(format: Format, preamble: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table(preamble, parts, out),
        Format::Markdown => markdown(preamble, parts, out),
        Format::Csv => csv(preamble, parts, out),
        Format::Html => html(preamble, parts, out),
        Format::Json => json(preamble, parts, out),
        // Plans and diffs refuse the exports before rendering; a tenant record's exports are
        // written by `render_export` (see `render`).
        Format::Ocsf | Format::Junit => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "-o ocsf and -o junit describe a scan's findings"))
        }
    }
}

fn table(p: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", terminal_text(&p.title))?;
    for line in &p.summary {
        writeln!(out, "  {}", terminal_text(line))?;
    }
    if !p.not_scanned.is_empty() {
        writeln!(out, "NOT SCANNED (coverage gaps): {}", p.not_scanned.len())?;
        for (org, reason) in &p.not_scanned {
            writeln!(out, "  - {}: {}", terminal_text(org), terminal_text(reason))?;
        }
    }
    for (heading, lines) in &p.sections {
        writeln!(out, "{}:", terminal_text(heading))?;
        for line in lines {
            writeln!(out, "  - {}", terminal_text(line))?;
        }
    }
    for (i, part) in parts.iter().enumerate() {
        writeln!(out)?;
        writeln!(out, "==== Organization {} of {}: {} ====", i + 1, parts.len(), terminal_text(part.organization))?;
        (part.render)(out)?;
    }
    Ok(())
}

fn markdown(p: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# {}", md(&p.title))?;
    writeln!(out)?;
    for line in &p.summary {
        writeln!(out, "- {}", md(line))?;
    }
    writeln!(out)?;
    if !p.not_scanned.is_empty() {
        writeln!(out, "## Not scanned (coverage gaps)")?;
        writeln!(out)?;
        for (org, reason) in &p.not_scanned {
            writeln!(out, "- **{}**: {}", md(org), md(reason))?;
        }
        writeln!(out)?;
    }
    for (heading, lines) in &p.sections {
        writeln!(out, "## {}", md(heading))?;
        writeln!(out)?;
        for line in lines {
            writeln!(out, "- {}", md(line))?;
        }
        writeln!(out)?;
    }
    for part in parts {
        (part.render)(out)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Each part's CSV with an `organization` column at the end (columns are only ever added at
/// the end); an organization not scanned is a row too, so the CSV never looks complete when the
/// tenant scan was not.
fn csv(p: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Option<Vec<String>> = None;
    for part in parts {
        let mut buffer = Vec::new();
        (part.render)(&mut buffer)?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(buffer.as_slice());
        if header.is_none() {
            let mut columns: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
            columns.push("organization".into());
            writer.write_record(&columns)?;
            header = Some(columns);
        }
        let organization = neutralise(part.organization).into_owned();
        for row in reader.records() {
            let row = row?;
            // The cells are the renderer's, already neutralised.
            writer.write_record(row.iter().chain(std::iter::once(organization.as_str())))?;
        }
    }
    let columns = match header {
        Some(columns) => columns,
        None => {
            let columns = vec!["rule".to_string(), "message".to_string(), "organization".to_string()];
            writer.write_record(&columns)?;
            columns
        }
    };
    let at = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
    let rule_at = at(&["rule", "rules", "change", "status"]).unwrap_or(0);
    let message_at =
        at(&["message", "note", "detail"]).unwrap_or(if rule_at == 1 { 0 } else { 1 }.min(columns.len() - 1));
    for (org, reason) in &p.not_scanned {
        let mut row = vec![String::new(); columns.len()];
        row[rule_at] = "organization-not-scanned".into();
        row[message_at] = neutralise(reason).into_owned();
        *row.last_mut().expect("the organization column") = neutralise(org).into_owned();
        writer.write_record(&row)?;
    }
    writer.flush()
}

/// One page: the first organization's page head (styles, Content-Security-Policy) with the
/// tenant's title, the tenant summary, then each organization's page body in a section.
fn html(p: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    let mut pages = Vec::new();
    for part in parts {
        let mut buffer = Vec::new();
        (part.render)(&mut buffer)?;
        pages.push(String::from_utf8(buffer).map_err(io::Error::other)?);
    }
    let head = pages.first().and_then(|page| page.find("<body>").map(|at| page[..at + "<body>".len()].to_string()));
    let head = head.unwrap_or_else(|| {
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<title></title>\n</head>\n<body>".to_string()
    });
    let title = format!("<title>{}</title>", html_escape(&p.title));
    let head = match (head.find("<title>"), head.find("</title>")) {
        (Some(a), Some(b)) if a < b => format!("{}{title}{}", &head[..a], &head[b + "</title>".len()..]),
        _ => head,
    };
    writeln!(out, "{head}")?;
    // The tenant's part in a `main` of its own: the page's margins and width, as each
    // organization's part has.
    writeln!(out, "<main id=\"tenant\">\n<header><h1>{}</h1><ul>", html_escape(&p.title))?;
    for line in &p.summary {
        writeln!(out, "<li>{}</li>", html_escape(line))?;
    }
    writeln!(out, "</ul></header>")?;
    if !parts.is_empty() {
        write!(out, "<nav class=\"toc\" aria-label=\"Organizations\">")?;
        for (n, part) in parts.iter().enumerate() {
            write!(out, "<a href=\"#org{}\">{}</a> ", n + 1, html_escape(part.organization))?;
        }
        writeln!(out, "</nav>")?;
    }
    if !p.not_scanned.is_empty() {
        writeln!(
            out,
            "<section class=\"alert\" id=\"not-scanned\" role=\"alert\"><h2>Not scanned (coverage gaps)</h2><ul>"
        )?;
        for (org, reason) in &p.not_scanned {
            writeln!(out, "<li><strong>{}</strong>: {}</li>", html_escape(org), html_escape(reason))?;
        }
        writeln!(out, "</ul></section>")?;
    }
    for (heading, lines) in &p.sections {
        writeln!(out, "<section><h2>{}</h2><ul>", html_escape(heading))?;
        for line in lines {
            writeln!(out, "<li>{}</li>", html_escape(line))?;
        }
        writeln!(out, "</ul></section>")?;
    }
    writeln!(out, "</main>")?;
    for (n, (part, page)) in parts.iter().zip(&pages).enumerate() {
        let body = match (page.find("<body>"), page.rfind("</body>")) {
            (Some(a), Some(b)) if a < b => &page[a + "<body>".len()..b],
            _ => page.as_str(),
        };
        // Every organization's page has the same ids (`findings`, `rules`…): each gets a prefix
        // of its own, and its links to them follow, so that a link goes to its own
        // organization's section (the page's script finds the prefix on the section). Text
        // from the record is escaped, so `id="` and `href="#` only come from the templates.
        let prefix = format!("org{}-", n + 1);
        let body =
            body.replace(" id=\"", &format!(" id=\"{prefix}")).replace(" href=\"#", &format!(" href=\"#{prefix}"));
        writeln!(
            out,
            "<section class=\"organization\" id=\"org{}\" data-id-prefix=\"{prefix}\"><main><h1>Organization {}</h1></main>",
            n + 1,
            html_escape(part.organization)
        )?;
        writeln!(out, "{body}")?;
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body>\n</html>")
}

/// `{"title", "summary", "not_scanned", "organizations": [{"organization", "output"}]}`, each
/// part's own JSON as `output` (for diffs; a tenant record's JSON is the record).
fn json(p: &Preamble, parts: &[Part], out: &mut dyn Write) -> io::Result<()> {
    let mut organizations = Vec::new();
    for part in parts {
        let mut buffer = Vec::new();
        (part.render)(&mut buffer)?;
        let output: serde_json::Value = serde_json::from_slice(&buffer).map_err(io::Error::other)?;
        organizations.push(serde_json::json!({"organization": part.organization, "output": output}));
    }
    let not_scanned: Vec<serde_json::Value> =
        p.not_scanned.iter().map(|(o, r)| serde_json::json!({"organization": o, "reason": r})).collect();
    let value = serde_json::json!({
        "title": p.title,
        "summary": p.summary,
        "not_scanned": not_scanned,
        "organizations": organizations,
    });
    super::json::write_pretty(&value, out)
}

fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in sanitize(text).chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
