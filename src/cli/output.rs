//! Output options shared by `scan`, `report` and `diff`: format, destination, redaction, colour
//! and the exit-code gate.

use super::{Failure, parse_severity};
use crate::exit::Exit;
use crate::finding::Severity;
use crate::record::ScanRecord;
use crate::redact::RedactKey;
use crate::report::{self, RenderOptions};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `--output`: the command line's names for the report formats of `pat2entra-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
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
    /// JUnit XML (a test case per credential and rule; failures at or above --fail-on), for CI.
    Junit,
}

impl From<OutputFormat> for report::Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => report::Format::Table,
            OutputFormat::Json => report::Format::Json,
            OutputFormat::Csv => report::Format::Csv,
            OutputFormat::Html => report::Format::Html,
            OutputFormat::Markdown => report::Format::Markdown,
            OutputFormat::Ocsf => report::Format::Ocsf,
            OutputFormat::Junit => report::Format::Junit,
        }
    }
}

/// `--csv-kind`: what the CSV lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvRows {
    /// One row per finding.
    Findings,
    /// One row per token: the inventory.
    Tokens,
}

impl From<CsvRows> for report::CsvKind {
    fn from(rows: CsvRows) -> Self {
        match rows {
            CsvRows::Findings => report::CsvKind::Findings,
            CsvRows::Tokens => report::CsvKind::Tokens,
        }
    }
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, ignore_case = true, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Write the output to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// With --output csv: one row per finding, or one per token (the inventory).
    #[arg(long, value_enum, ignore_case = true, default_value_t = CsvRows::Findings)]
    pub csv_kind: CsvRows,

    /// Replace owner descriptors, names, mails, token names, approvers and echoed credentials by
    /// keyed pseudonyms, so the report can be shared. The key comes from --redact-key-file or
    /// PAT2ENTRA_REDACT_KEY; without either, a random key (pseudonyms then differ between runs).
    #[arg(long)]
    pub redact: bool,

    /// With --redact: read the pseudonym key (at least 16 characters) from FILE; the same key
    /// gives the same pseudonyms in every report.
    #[arg(long, value_name = "FILE", requires = "redact")]
    pub redact_key_file: Option<PathBuf>,

    /// No colours in the table (also when NO_COLOR is set, or the output is not a terminal).
    #[arg(long)]
    pub no_color: bool,

    /// Exit 1 when an unsuppressed finding at or above this severity exists
    /// (critical, high, medium, low, info).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,

    /// Exit 0 even when some owners could not be read (they stay listed as coverage gaps).
    #[arg(long)]
    pub allow_partial: bool,

    /// Also append a short Markdown digest (under 1 MiB) to FILE, e.g. $GITHUB_STEP_SUMMARY or a
    /// file for Azure Pipelines' ##vso[task.uploadsummary].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

impl OutputArgs {
    pub fn render_options(&self) -> RenderOptions {
        let stdout = std::io::stdout();
        let to_terminal = self.out.is_none() && stdout.is_terminal();
        let color = to_terminal && !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        RenderOptions {
            terminal_width: if to_terminal { terminal_width() } else { None },
            color,
            csv_kind: self.csv_kind.into(),
            fail_on: self.fail_on,
        }
    }

    /// The key for --redact (`None` without --redact): --redact-key-file, else
    /// PAT2ENTRA_REDACT_KEY, else a random key. Called before a scan too, so a bad key fails fast.
    pub fn redaction_key(&self) -> Result<Option<RedactKey>, Failure> {
        if !self.redact {
            return Ok(None);
        }
        let key = RedactKey::from_sources(self.redact_key_file.as_deref(), std::env::var_os(crate::redact::KEY_ENV))
            .map_err(|e| Failure::error(Exit::Usage, e))?;
        Ok(Some(key))
    }

    /// Redacts (when asked) and writes the record.
    pub fn write(&self, record: ScanRecord) -> Result<ScanRecord, Failure> {
        self.write_with_trend(record, None)
    }

    /// `write`, the HTML report with the trend charts of a scan history (`--history`).
    pub fn write_with_trend(
        &self,
        mut record: ScanRecord,
        trend: Option<&pat2entra_core::trend::Trend>,
    ) -> Result<ScanRecord, Failure> {
        if let Some(key) = self.redaction_key()? {
            crate::redact::redact(&mut record, &key);
            note_random_key(&key);
        }
        let options = self.render_options();
        super::write_to(self.out.as_deref(), |w| match (self.output, trend) {
            (OutputFormat::Html, Some(trend)) => report::render_html_with_trend(&record, trend, w),
            _ => report::render(&record, self.output.into(), &options, w),
        })?;
        self.write_summary(report::Records::Organization(&record))?;
        Ok(record)
    }

    /// With `--summary FILE`: appends the digest of an (already redacted) record to FILE,
    /// created when missing. Appended, as GitHub's step summary file is: other steps' text
    /// stays. The digest fits in what is left of 1 MiB after the file's current content.
    pub fn write_summary(&self, records: report::Records<'_>) -> Result<(), Failure> {
        let Some(path) = &self.summary else {
            return Ok(());
        };
        let fail = |e: std::io::Error| {
            Failure::new(
                Exit::Usage,
                format!("summary file {}: {e}", crate::report::terminal_text(&path.display().to_string())),
            )
        };
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
        let existing = file.metadata().map_err(fail)?.len();
        let existing = usize::try_from(existing).unwrap_or(usize::MAX);
        // Another step's text may already be there; never ask for less than a readable digest.
        let budget = report::MAX_SUMMARY.saturating_sub(existing).max(16 * 1024);
        let mut text = report::render_summary(records, budget);
        if existing > 0 {
            text.insert(0, '\n');
        }
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(fail)
    }

    /// Checks `--summary FILE` before a long scan: it can be opened for appending (created
    /// empty when missing, as the digest would create it).
    pub fn check_summary(&self) -> Result<(), Failure> {
        let Some(path) = &self.summary else {
            return Ok(());
        };
        std::fs::OpenOptions::new().create(true).append(true).open(path).map(drop).map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!(
                    "summary file {}: {e} (give a file in an existing, writable directory)",
                    crate::report::terminal_text(&path.display().to_string())
                ),
            )
        })
    }

    /// The flags that describe a scan's findings, refused where there is no scan (`diff`,
    /// `report --journal`): `-o ocsf`, `-o junit`, `--summary`.
    pub fn refuse_exports(&self, what: &str) -> Result<(), Failure> {
        let flag = match self.output {
            OutputFormat::Ocsf => Some("-o ocsf"),
            OutputFormat::Junit => Some("-o junit"),
            _ if self.summary.is_some() => Some("--summary"),
            _ => None,
        };
        match flag {
            Some(flag) => Err(Failure::new(Exit::Usage, format!("{flag} applies to scans, not to {what}"))),
            None => Ok(()),
        }
    }

    /// The exit code for a record: 4 when incomplete (unless --allow-partial), then 1 when a
    /// finding reaches --fail-on, else 0.
    pub fn gate(&self, record: &ScanRecord) -> Exit {
        if !record.coverage.complete {
            eprintln!(
                "warning: scan incomplete: the tokens of {} of {} owners could not be read (listed under coverage gaps)",
                record.coverage.owners_failed.len(),
                record.coverage.owners_listed
            );
            if !self.allow_partial {
                return Exit::Incomplete;
            }
        }
        if !record.coverage.warnings.is_empty() {
            eprintln!(
                "warning: {} coverage warnings (duplicates resolved, tokens not fully read; listed in the report)",
                record.coverage.warnings.len()
            );
        }
        gate(record.open_findings().map(|f| f.severity), self.fail_on)
    }
}

/// Says on stderr when pseudonyms will not match another run's (CSV has no room for the note).
pub fn note_random_key(key: &RedactKey) {
    if !key.redaction().comparable_across_runs {
        eprintln!(
            "note: redacted with a random key: pseudonyms are not comparable across runs (set {} or --redact-key-file for stable ones)",
            crate::redact::KEY_ENV
        );
    }
}

/// Exit 1 when a severity at or above `fail_on` is among `severities`.
pub fn gate(mut severities: impl Iterator<Item = Severity>, fail_on: Option<Severity>) -> Exit {
    match fail_on {
        Some(threshold) if severities.any(|s| s >= threshold) => Exit::Findings,
        _ => Exit::Ok,
    }
}

/// The width of the terminal standard output goes to.
fn terminal_width() -> Option<u16> {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    columns.or_else(|| comfy_table::Table::new().width()).or(Some(120))
}
