//! Output formats, one module each, all over the same scan record.

mod csv;
mod json;
mod table;

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
}

/// Writes the record in `format`.
pub fn render(record: &ScanRecord, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(record, out),
        Format::Json => json::render(record, out),
        Format::Csv => csv::render(record, out),
    }
}
