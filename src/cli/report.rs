//! `pat2entra report SCAN.json`: any output format from a saved scan, without network.

use super::Failure;
use super::output::OutputArgs;
use crate::exit::Exit;
use crate::record::ScanRecord;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved scan (`pat2entra scan -o json --out SCAN.json`).
    pub scan: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: ReportArgs) -> Result<Exit, Failure> {
    let record = ScanRecord::load(&args.scan).map_err(|e| Failure::error(Exit::Usage, e))?;
    let record = args.output.write(record)?;
    Ok(args.output.gate(&record))
}
