//! `pat2entra plan SCAN.json`: the retirement plan of a saved scan.

use super::Failure;
use crate::exit::Exit;
use crate::plan;
use crate::tenant::AnyRecord;
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
    #[arg(long, short = 'o', value_enum, ignore_case = true, default_value_t = PlanFormat::Markdown)]
    pub output: PlanFormat,

    /// Write the plan to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 even when the scan could not read some owners (the plan lists them as not read).
    #[arg(long)]
    pub allow_partial: bool,

    /// Replace owners, mails, token names, approvers and echoed credentials by keyed pseudonyms
    /// (key: --redact-key-file or PAT2ENTRA_REDACT_KEY, else random per run).
    #[arg(long)]
    pub redact: bool,

    /// With --redact: read the pseudonym key (at least 16 characters) from FILE.
    #[arg(long, value_name = "FILE", requires = "redact")]
    pub redact_key_file: Option<PathBuf>,
}

pub fn run(args: PlanArgs) -> Result<Exit, Failure> {
    let record = match AnyRecord::load(&args.scan).map_err(|e| Failure::error(Exit::Usage, e))? {
        AnyRecord::Organization(record) => *record,
        AnyRecord::Tenant(tenant) => return super::tenant::plan(&args, *tenant),
    };
    let mut record = record;
    if args.redact {
        let key = crate::redact::RedactKey::from_sources(
            args.redact_key_file.as_deref(),
            std::env::var_os(crate::redact::KEY_ENV),
        )
        .map_err(|e| Failure::error(Exit::Usage, e))?;
        crate::redact::redact(&mut record, &key);
        super::output::note_random_key(&key);
    }
    let plan = plan::build(&record);
    // The built-in texts first: a saved scan is a file that may have been edited.
    let guide = |id: &str| crate::guidance::by_id(id).cloned().or_else(|| record.guidance(id).cloned());
    let render = |out: &mut dyn Write| match args.output {
        PlanFormat::Markdown => plan::render_markdown(&plan, &guide, out),
        PlanFormat::Csv => plan::render_csv(&plan, out),
    };
    super::write_to(args.out.as_deref(), render)?;
    if !plan.coverage_gaps.is_empty() {
        eprintln!(
            "warning: the scan could not read {} owners; the plan lists them as not read and does not cover their tokens",
            plan.coverage_gaps.len()
        );
        if !args.allow_partial {
            return Ok(Exit::Incomplete);
        }
    }
    Ok(Exit::Ok)
}
