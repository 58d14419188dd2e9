//! `pat2entra diff OLD.json NEW.json`: what changed between two scans.

use super::Failure;
use super::output::{OutputArgs, gate};
use crate::diff;
use crate::exit::Exit;
use crate::report;
use crate::tenant::AnyRecord;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older scan (`pat2entra scan -o json --out FILE`).
    pub old: PathBuf,
    /// The newer scan.
    pub new: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: DiffArgs) -> Result<Exit, Failure> {
    args.output.refuse_exports("diff")?;
    let load = |path: &PathBuf| AnyRecord::load(path).map_err(|e| Failure::error(Exit::Usage, e));
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    // A part of a sharded scan holds only some owners or organizations: the others would show
    // as resolved or new.
    for (path, record) in [(&args.old, &old), (&args.new, &new)] {
        if let Some(shard) = record.shard() {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} is part {} of {} of a sharded scan: merge the parts first (pat2entra merge PART.json… --out ALL.json) and compare the merged records",
                    crate::report::terminal_text(&path.display().to_string()),
                    shard.index,
                    shard.count
                ),
            ));
        }
    }
    let (mut old, mut new) = match (old, new) {
        (AnyRecord::Organization(old), AnyRecord::Organization(new)) => (*old, *new),
        // A tenant record on either side: organization by organization.
        (old, new) => return super::tenant::diff(&args, old, new),
    };
    if !old.organization.eq_ignore_ascii_case(&new.organization) {
        return Err(Failure::new(
            Exit::Usage,
            format!("the scans are of different organizations ('{}' and '{}')", old.organization, new.organization),
        ));
    }
    if old.as_of > new.as_of {
        let (old_path, new_path) = (args.old.display().to_string(), args.new.display().to_string());
        eprintln!(
            "note: {} is newer than {}; comparing in the order given",
            report::terminal_text(&old_path),
            report::terminal_text(&new_path)
        );
    }
    // Pseudonyms join only under one key: say so when the inputs were redacted with different ones.
    if let (Some(a), Some(b)) = (&old.redaction, &new.redaction)
        && (a.key_id.is_none() || a.key_id != b.key_id)
    {
        eprintln!(
            "note: the two scans were not redacted with the same key; their owners and token names do not match up"
        );
    }
    // One key for both scans, so their pseudonyms match each other.
    if let Some(key) = args.output.redaction_key()? {
        crate::redact::redact(&mut old, &key);
        crate::redact::redact(&mut new, &key);
        super::output::note_random_key(&key);
    }
    let diff = diff::diff(&old, &new);
    super::write_to(args.output.out.as_deref(), |w| report::render_diff(&diff, args.output.output.into(), w))?;
    if !diff.both_complete {
        eprintln!(
            "warning: {} owners were not read by one of the scans; their findings may show as new or resolved",
            diff.coverage_gaps.len()
        );
        if !args.output.allow_partial {
            return Ok(Exit::Incomplete);
        }
    }
    // Gate on what got worse: new findings at or above --fail-on.
    Ok(gate(diff.appeared().map(|f| f.severity), args.output.fail_on))
}
