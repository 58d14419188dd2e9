//! `pat2entra history add SCAN.json… --history FILE.db`, and what `scan --history` and
//! `report --history` share: adding a scan, the trend of one organization for the HTML report.

use super::Failure;
use crate::exit::Exit;
use crate::record::ScanRecord;
use clap::{Args, Subcommand};
use pat2entra_core::tenant::AnyRecord;
use pat2entra_core::trend::{self, Period, Trend};
use pat2entra_history::{Added, History};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Add saved scans (single-organization or tenant records) to a history, oldest first.
    #[command(after_help = super::trend::EXAMPLES)]
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Saved scans (`pat2entra scan -o json --out SCAN.json`), in any order: they are added by
    /// date, each in one transaction (a tenant record with all its organizations).
    #[arg(required = true, value_name = "SCAN.json")]
    pub scans: Vec<PathBuf>,

    /// The history database (SQLite); created when there is no such file.
    #[arg(long, value_name = "FILE.db")]
    pub history: PathBuf,
}

pub fn run(command: HistoryCommand) -> Result<Exit, Failure> {
    match command {
        HistoryCommand::Add(args) => add(args),
    }
}

fn add(args: AddArgs) -> Result<Exit, Failure> {
    // Every file is read before the history is touched: a bad file adds nothing.
    let mut records = Vec::with_capacity(args.scans.len());
    for path in &args.scans {
        let record = AnyRecord::load(path).map_err(|e| Failure::error(Exit::Usage, e))?;
        let as_of = record.organizations().iter().map(|r| r.as_of).min();
        records.push((as_of, path, record));
    }
    records.sort_by_key(|(as_of, _, _)| *as_of);
    let mut history = open(&args.history)?;
    for (_, path, record) in &records {
        if record.organizations().is_empty() {
            eprintln!(
                "note: {}: no organization was scanned; nothing to add",
                crate::report::terminal_text(&path.display().to_string())
            );
            continue;
        }
        let added = history.add_any(record).map_err(|e| Failure::error(Exit::Usage, e))?;
        say(&args.history, &added);
    }
    Ok(Exit::Ok)
}

/// Opens (or creates) a history, as one line naming the file when it cannot be used.
pub fn open(path: &Path) -> Result<History, Failure> {
    History::open(path).map_err(|e| Failure::error(Exit::Usage, e))
}

/// One line per organization on stderr: added, or already there.
fn say(path: &Path, added: &[Added]) {
    let file = crate::report::terminal_text(&path.display().to_string());
    for a in added {
        let org = crate::report::terminal_text(&a.organization);
        let date = a.as_of.format("%Y-%m-%d %H:%M UTC");
        if a.new {
            eprintln!("history {file}: added the scan of {org} as of {date}");
        } else {
            eprintln!("history {file}: the scan of {org} as of {date} is already there; nothing added");
        }
    }
}

/// `scan --history`: adds the scan (unredacted: the history joins owners across scans) and,
/// for the HTML report, returns the organization's trend with it. A history that cannot take the
/// scan never costs the report: the failure is returned beside it, for after the report is
/// written.
pub fn add_scan(path: &Path, record: &ScanRecord, html: bool, quiet: bool) -> (Option<Trend>, Option<Failure>) {
    let mut history = match open(path) {
        Ok(history) => history,
        Err(failure) => return (None, Some(failure)),
    };
    let failure = match history.add(std::slice::from_ref(record)) {
        Ok(added) => {
            if !quiet {
                say(path, &added);
            }
            None
        }
        Err(e) => Some(Failure::error(Exit::Usage, e)),
    };
    let trend = if html { organization_trend(&history, record).ok() } else { None };
    (trend, failure)
}

/// `scan --history` of several organizations: adds every organization's record (in one
/// transaction) and, for the HTML report, returns each organization's trend (in the record's
/// order). As for one organization, a failure is returned for after the report is written.
pub fn add_tenant(
    path: &Path,
    record: &pat2entra_core::tenant::AnyRecord,
    html: bool,
    quiet: bool,
) -> (Vec<Option<Trend>>, Option<Failure>) {
    let mut history = match open(path) {
        Ok(history) => history,
        Err(failure) => return (Vec::new(), Some(failure)),
    };
    let failure = match history.add_any(record) {
        Ok(added) => {
            if !quiet {
                say(path, &added);
            }
            None
        }
        Err(e) => Some(Failure::error(Exit::Usage, e)),
    };
    let trends = match record {
        // All or none: the tenant page takes its styles from the first organization's report.
        AnyRecord::Tenant(tenant) if html => tenant
            .organizations
            .iter()
            .map(|r| organization_trend(&history, r).map(Some))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    (trends, failure)
}

/// `report -o html --history` of a tenant record: each organization's trend, up to its record's
/// date (in the record's order).
pub fn trends_for_tenant_report(
    path: &Path,
    record: &pat2entra_core::tenant::TenantRecord,
) -> Result<Vec<Option<Trend>>, Failure> {
    let history = History::open_existing(path).map_err(|e| Failure::error(Exit::Usage, e))?;
    record.organizations.iter().map(|r| organization_trend(&history, r).map(Some)).collect()
}

/// `report -o html --history`: the trend of the record's organization, up to the record's date.
pub fn trend_for_report(path: &Path, record: &ScanRecord) -> Result<Trend, Failure> {
    let history = History::open_existing(path).map_err(|e| Failure::error(Exit::Usage, e))?;
    organization_trend(&history, record)
}

fn organization_trend(history: &History, record: &ScanRecord) -> Result<Trend, Failure> {
    let mut rows = history.rows(Some(&record.organization)).map_err(|e| Failure::error(Exit::Usage, e))?;
    // A report of an older scan shows the history up to it, and its own plan.
    rows.scans.retain(|s| s.as_of <= record.as_of);
    rows.plan.retain(|p| p.as_of <= record.as_of);
    rows.findings.retain(|f| f.first_seen <= record.as_of);
    rows.credentials.retain(|c| c.first_seen <= record.as_of);
    Ok(trend::compute(&rows, Period::Month))
}
