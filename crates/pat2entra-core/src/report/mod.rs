//! Output formats, one module each, all over the same scan record.

mod csv;
mod diff;
pub(crate) mod escape;
mod html;
mod journal;
mod json;
mod junit;
mod markdown;
mod ocsf;
mod summary;
mod table;
pub mod tenant;
mod trend;

pub use csv::neutralise;
pub use diff::render as render_diff;
pub use escape::{markdown_escape, markdown_prose, safe_link, sanitize, terminal_text};
pub use journal::render as render_journal;
pub use json::write_pretty;
pub use ocsf::OCSF_VERSION;
pub use summary::{MAX_SUMMARY, render as render_summary};
pub use tenant::{render as render_tenant, render_with_trends as render_tenant_with_trends};
pub use trend::render as render_trend;

use crate::evidence::{LastAccessed, Source};
use crate::inventory::{Owner, Token};
use crate::record::ScanRecord;
use crate::tenant::{AnyRecord, OrganizationFailure, TenantRecord};
use std::io::{self, Write};

/// What the audit log says of a credential's use, in a few words: the date of its last audited
/// use, `none seen` (the audit log read in full, nothing), or `unknown` (read in part or not at
/// all). `None` when the audit log was not asked for (a bare inventory, a version-1 record).
pub fn seen_label(record: &ScanRecord, token: &Token) -> Option<String> {
    if let Some(seen) = &token.last_seen {
        return Some(seen.at.format("%Y-%m-%d").to_string());
    }
    let coverage = record.evidence.source(Source::Audit)?;
    // The audit log names PATs, not SSH keys: no claim either way.
    Some(if !token.kind.is_pat() {
        "not audited".to_string()
    } else if coverage.status == crate::evidence::Status::Complete {
        "none seen".to_string()
    } else {
        "unknown".to_string()
    })
}

/// What is known of an owner's activity, in a few words: `not a member`, `never accessed`,
/// `accessed 2026-11-20`; `None` when neither membership nor entitlements were read for them.
pub fn owner_activity(owner: &Owner) -> Option<String> {
    let access = owner.last_accessed.map(|a| match a {
        LastAccessed::Never => "never accessed".to_string(),
        LastAccessed::At(t) => format!("accessed {}", t.format("%Y-%m-%d")),
    });
    match (owner.member, access) {
        (Some(false), Some(access)) => Some(format!("not a member, {access}")),
        (Some(false), None) => Some("not a member".to_string()),
        (_, access) => access,
    }
}

/// `Evidence::lines` in Markdown: pat2entra's own words as they are, the reason a source could
/// not be read (from the service, so as hostile as any name) escaped.
pub fn evidence_lines_markdown(evidence: &crate::evidence::Evidence) -> Vec<String> {
    if evidence.sources.is_empty() {
        return evidence.lines();
    }
    evidence
        .sources
        .iter()
        .map(|(s, c)| match &c.reason {
            Some(reason) => format!("evidence.{s}: {} ({})", c.status.as_str(), markdown_escape(reason)),
            None => format!("evidence.{s}: {}", c.status.as_str()),
        })
        .collect()
}

/// `text` cut into lines of at most `width` characters at spaces (a word longer than the width
/// stays whole), for notes under the table's 80-column layout.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_with(text, width, false)
}

/// `wrap`, with a word longer than the width (an id, a URL) cut into pieces of the width.
pub(crate) fn wrap_cutting(text: &str, width: usize) -> Vec<String> {
    wrap_with(text, width, true)
}

fn wrap_with(text: &str, width: usize, cut: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        while cut && word.chars().count() > width {
            let at = word.char_indices().nth(width).map_or(word.len(), |(i, _)| i);
            lines.push(word[..at].to_string());
            word = &word[at..];
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A summary and a table of flagged tokens, for a terminal.
    Table,
    /// The canonical scan record (versioned; input of later commands).
    Json,
    /// One row per finding (or per token with --csv-kind tokens), for spreadsheets and trackers.
    Csv,
    /// One self-contained HTML page with charts, for reviewers.
    Html,
    /// Summary, findings by severity, actions per owner and guidance, for wikis and pull requests.
    Markdown,
    /// OCSF Detection Findings (class 2004), one JSON object per line, for a SIEM.
    Ocsf,
    /// JUnit XML: a test suite per organization, a test case per credential and rule, for CI.
    Junit,
}

/// What the CSV lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CsvKind {
    /// One row per finding.
    #[default]
    Findings,
    /// One row per token: the inventory.
    Tokens,
}

/// How the output will be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Width of the terminal the output goes to; `None` for a file or a pipe (fixed width, so
    /// the same scan always renders the same text).
    pub terminal_width: Option<u16>,
    /// Colour the table (only ever on a terminal, never with `--no-color` or `NO_COLOR`).
    pub color: bool,
    pub csv_kind: CsvKind,
    /// The `--fail-on` threshold: JUnit fails the cases of open findings at or above it (every
    /// open finding when `None`, see `junit`).
    pub fail_on: Option<crate::finding::Severity>,
}

/// A record of either kind, borrowed: what the exports (OCSF, JUnit, the summary) read. A
/// single organization is a tenant of one with no failed organizations.
#[derive(Debug, Clone, Copy)]
pub enum Records<'a> {
    Organization(&'a ScanRecord),
    Tenant(&'a TenantRecord),
}

impl<'a> Records<'a> {
    /// The organizations' records: one for a single-organization record.
    pub fn organizations(&self) -> &'a [ScanRecord] {
        match *self {
            Records::Organization(r) => std::slice::from_ref(r),
            Records::Tenant(t) => &t.organizations,
        }
    }

    /// Organizations asked for but not scanned at all (tenant records only).
    pub fn failed(&self) -> &'a [OrganizationFailure] {
        match *self {
            Records::Organization(_) => &[],
            Records::Tenant(t) => &t.failed,
        }
    }

    pub fn is_tenant(&self) -> bool {
        matches!(self, Records::Tenant(_))
    }

    pub fn as_of(&self) -> chrono::DateTime<chrono::Utc> {
        match *self {
            Records::Organization(r) => r.as_of,
            Records::Tenant(t) => t.as_of,
        }
    }

    /// The tool that wrote the record.
    pub fn tool(&self) -> &'a crate::record::ToolInfo {
        match *self {
            Records::Organization(r) => &r.tool,
            Records::Tenant(t) => &t.tool,
        }
    }

    /// How the names were redacted, when they were (any organization's record says).
    pub fn redaction(&self) -> Option<&'a crate::redact::Redaction> {
        self.organizations().iter().find_map(|r| r.redaction.as_ref())
    }
}

impl<'a> From<&'a AnyRecord> for Records<'a> {
    fn from(record: &'a AnyRecord) -> Self {
        match record {
            AnyRecord::Organization(r) => Records::Organization(r),
            AnyRecord::Tenant(t) => Records::Tenant(t),
        }
    }
}

/// `, 198 in other parts (part 2/3 of a sharded scan)` for one part of an owner-sharded scan,
/// whose owners of other parts are neither scanned nor gaps; empty otherwise.
pub(crate) fn other_parts(record: &ScanRecord) -> String {
    match (record.coverage.owners_in_other_parts(), &record.shard) {
        (0, _) => String::new(),
        (n, Some(shard)) => format!(", {n} in other parts (part {}/{} of a sharded scan)", shard.index, shard.count),
        (n, None) => format!(", {n} in other parts of a sharded scan"),
    }
}

/// The HTML report of a record with the trend charts of its scan history (`--history`).
pub fn render_html_with_trend(record: &ScanRecord, trend: &crate::trend::Trend, out: &mut dyn Write) -> io::Result<()> {
    html::render_with_trend(record, trend, out)
}

/// Writes the record in `format`.
pub fn render(record: &ScanRecord, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(record, options, out),
        Format::Json => json::render(record, out),
        Format::Csv => match options.csv_kind {
            CsvKind::Findings => csv::render(record, out),
            CsvKind::Tokens => csv::render_tokens(record, out),
        },
        Format::Markdown => markdown::render(record, out),
        Format::Html => html::render(record, out),
        Format::Ocsf | Format::Junit => render_export(Records::Organization(record), format, options, out),
    }
}

/// Writes an export (`Ocsf`, `Junit`) of a record of either kind. The other formats of a tenant
/// record are not exports: an `InvalidInput` error names the format.
pub fn render_export(
    records: Records<'_>,
    format: Format,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match (format, records) {
        (Format::Ocsf, _) => ocsf::render(records, out),
        (Format::Junit, _) => junit::render(records, options.fail_on, out),
        (_, Records::Organization(record)) => render(record, format, options, out),
        (_, Records::Tenant(_)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{format:?} is not an export of a tenant record (exports: ocsf, junit)"),
        )),
    }
}
