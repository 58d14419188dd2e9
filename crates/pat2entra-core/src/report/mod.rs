//! Output formats, one module each, all over the same scan record.

mod csv;
mod diff;
mod escape;
mod html;
mod journal;
mod json;
mod markdown;
mod table;

pub use csv::neutralise;
pub use diff::render as render_diff;
pub use escape::{markdown_escape, markdown_prose, safe_link, sanitize, terminal_text};
pub use journal::render as render_journal;

use crate::record::ScanRecord;
use std::io::{self, Write};

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
    }
}
