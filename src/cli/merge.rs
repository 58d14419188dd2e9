//! `pat2entra merge PART.json… --out ALL.json`: the parts of a sharded scan (`scan --shard I/N`)
//! recombined into the record one unsharded scan writes, for `report`, `plan`, `diff`, `revoke`.

use super::Failure;
use crate::exit::Exit;
use crate::rules::RuleSet;
use clap::Args;
use pat2entra_core::shard::{MergeRules, Part, merge};
use pat2entra_core::tenant::AnyRecord;
use std::path::PathBuf;

pub const EXAMPLES: &str = "\
Examples:
  # one part on each of three machines, every part with the same --as-of:
  pat2entra scan --org corp --as-of 2026-12-06 --shard 1/3 -o json --out 1.json
  pat2entra scan --org corp --as-of 2026-12-06 --shard 2/3 -o json --out 2.json
  pat2entra scan --org corp --as-of 2026-12-06 --shard 3/3 -o json --out 3.json
  # then, with the three files in one place:
  pat2entra merge 1.json 2.json 3.json --out scan.json
  pat2entra report scan.json -o html --out scan.html";

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The parts, in any order: the JSON records of `scan --shard I/N -o json --out PART.json`.
    #[arg(required = true, value_name = "PART.json")]
    pub parts: Vec<PathBuf>,

    /// Where to write the merged record (JSON, as `scan -o json` writes it).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Replace --out when it exists.
    #[arg(long)]
    pub force: bool,

    /// The rules file the scan used (its --rules); the parts of one organization are judged
    /// again with it. Default: the built-in rules. Another file than the scan's is refused.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Exit 0 even when the merged scan is incomplete (its gaps stay listed).
    #[arg(long)]
    pub allow_partial: bool,
}

pub fn run(args: MergeArgs) -> Result<Exit, Failure> {
    if std::fs::metadata(&args.out).is_ok_and(|m| m.is_file()) && !args.force {
        return Err(Failure::new(
            Exit::Usage,
            format!("--out {} exists; pass --force to replace it, or choose another file", args.out.display()),
        ));
    }
    if let Some(part) = args.parts.iter().find(|p| crate::files::same_file(p, &args.out)) {
        return Err(Failure::new(
            Exit::Usage,
            format!("--out {} is one of the parts; write the merged record to another file", part.display()),
        ));
    }
    super::check_out(Some(&args.out))?;
    let (rules, rules_id) = match &args.rules {
        Some(path) => {
            let text = crate::rules::read_file(path).map_err(Failure::rules)?;
            let rules = RuleSet::parse(&text, &path.display().to_string()).map_err(Failure::rules)?;
            (rules, format!("sha256:{}", crate::files::sha256_hex(text.as_bytes())))
        }
        None => (RuleSet::default_rules(), "built-in default".to_string()),
    };
    let mut parts = Vec::with_capacity(args.parts.len());
    for path in &args.parts {
        let record = AnyRecord::load(path).map_err(|e| Failure::error(Exit::Usage, e))?;
        parts.push(Part { name: path.display().to_string(), record });
    }
    let merged = merge(parts, MergeRules { rules: &rules, id: &rules_id })
        .map_err(|e| Failure::new(Exit::Usage, format!("merge: {e}")))?;
    let complete = match &merged {
        AnyRecord::Organization(record) => {
            let options = crate::report::RenderOptions::default();
            super::write_to(Some(&args.out), |w| {
                crate::report::render(record, crate::report::Format::Json, &options, w)
            })?;
            record.coverage.complete
        }
        AnyRecord::Tenant(tenant) => {
            super::write_to(Some(&args.out), |w| crate::report::write_pretty(tenant.as_ref(), w))?;
            tenant.is_complete()
        }
    };
    if !complete {
        eprintln!(
            "warning: the merged scan is incomplete: some owners or organizations could not be read (listed under coverage gaps)"
        );
        if !args.allow_partial {
            return Ok(Exit::Incomplete);
        }
    }
    Ok(Exit::Ok)
}
