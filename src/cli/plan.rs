//! `pat2entra plan SCAN.json`: the retirement plan of a saved scan.

use super::Failure;
use crate::exit::Exit;
use crate::plan;
use crate::record::ScanRecord;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// One section per owner, ready to send.
    Markdown,
    /// One row per token, for trackers.
    Csv,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A saved scan (`pat2entra scan -o json --out SCAN.json`).
    pub scan: PathBuf,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PlanFormat::Markdown)]
    pub output: PlanFormat,

    /// Write the plan to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: PlanArgs) -> Result<Exit, Failure> {
    let record = ScanRecord::load(&args.scan).map_err(|e| Failure::new(Exit::Usage, e))?;
    let plan = plan::build(&record);
    let guide = |id: &str| record.guidance(id).cloned().or_else(|| crate::guidance::by_id(id).cloned());
    let render = |out: &mut dyn Write| match args.output {
        PlanFormat::Markdown => plan::render_markdown(&plan, &guide, out),
        PlanFormat::Csv => plan::render_csv(&plan, out),
    };
    super::write_to(args.out.as_deref(), render)?;
    Ok(Exit::Ok)
}
