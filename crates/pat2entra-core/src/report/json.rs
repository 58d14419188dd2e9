//! JSON: the scan record as is.

use crate::record::ScanRecord;
use std::io::{self, Write};

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, record)?;
    writeln!(out)
}
