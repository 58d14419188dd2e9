//! Output formats, one module each, all over the same scan record.

mod csv;
mod escape;
mod html;
mod json;
mod table;

pub use csv::neutralise;
pub use escape::markdown_escape;

use crate::record::ScanRecord;
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A summary and a table of flagged tokens, for a terminal.
    Table,
    /// The canonical scan record (versioned; input of later commands).
    Json,
    /// One row per finding, for spreadsheets and trackers.
    Csv,
    /// One self-contained HTML page with charts, for reviewers.
    Html,
}

/// How the output will be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Width of the terminal the output goes to; `None` for a file or a pipe (fixed width, so
    /// the same scan always renders the same text).
    pub terminal_width: Option<u16>,
}

/// Writes the record in `format`.
pub fn render(record: &ScanRecord, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(record, options, out),
        Format::Json => json::render(record, out),
        Format::Csv => csv::render(record, out),
        Format::Html => html::render(record, out),
    }
}
