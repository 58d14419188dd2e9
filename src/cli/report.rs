//! `pat2entra report SCAN.json`: any output format from a saved scan, without network; or with
//! `--journal FILE`, the journal of a `revoke` run.

use super::Failure;
use super::output::OutputArgs;
use crate::exit::Exit;
use clap::Args;
use pat2entra_core::tenant::AnyRecord;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved scan (`pat2entra scan -o json --out SCAN.json`).
    #[arg(required_unless_present = "journal")]
    pub scan: Option<PathBuf>,

    /// Render a journal of `revoke` or `notify` instead (`SCAN.revoke-journal.jsonl`,
    /// `SCAN.notify-boards-journal.jsonl`, `SCAN.notify-email-journal.jsonl`): each
    /// credential's or owner's last outcome and why (table, Markdown, HTML), or every line (CSV,
    /// JSON). Exit 5 while some failed or are in doubt.
    #[arg(long, value_name = "FILE", conflicts_with = "scan")]
    pub journal: Option<PathBuf>,

    /// With -o html: show the organization's trend (each organization's, for a tenant record)
    /// from this scan history (`scan --history`) up to the scan's date.
    #[arg(long, value_name = "FILE.db", conflicts_with = "journal")]
    pub history: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: ReportArgs) -> Result<Exit, Failure> {
    if let Some(path) = &args.journal {
        return journal(path, &args.output);
    }
    let scan = args.scan.as_deref().expect("clap requires a scan without --journal");
    // A single organization's record or a tenant's (`scan` of several organizations).
    // A summary file that cannot be written fails before the report is printed.
    args.output.check_summary()?;
    let record = match AnyRecord::load(scan).map_err(|e| Failure::error(Exit::Usage, e))? {
        AnyRecord::Organization(record) => *record,
        tenant => {
            let trends = match (&args.history, &tenant) {
                (Some(_), _) if args.output.output != super::output::OutputFormat::Html => {
                    return Err(history_not_html());
                }
                (Some(path), AnyRecord::Tenant(t)) => super::history::trends_for_tenant_report(path, t)?,
                _ => Vec::new(),
            };
            let record = super::tenant::write(&args.output, tenant, &trends)?;
            return Ok(super::tenant::gate_any(&args.output, &record));
        }
    };
    let trend = match &args.history {
        Some(_) if args.output.output != super::output::OutputFormat::Html => return Err(history_not_html()),
        Some(path) => Some(super::history::trend_for_report(path, &record)?),
        None => None,
    };
    let record = args.output.write_with_trend(record, trend.as_ref())?;
    Ok(args.output.gate(&record))
}

/// `report --journal FILE`: the journal in the chosen format. Exit 5 while credentials or owners
/// are failed or in doubt (a rerun of the revoke or notify is due), as those commands exit.
fn journal(path: &std::path::Path, output: &OutputArgs) -> Result<Exit, Failure> {
    output.refuse_exports("--journal")?;
    let scan_only = [
        (output.redact, "--redact"),
        (output.fail_on.is_some(), "--fail-on"),
        (output.csv_kind != super::output::CsvRows::Findings, "--csv-kind"),
    ];
    if let Some((_, flag)) = scan_only.iter().find(|(given, _)| *given) {
        return Err(Failure::new(Exit::Usage, format!("{flag} applies to scans, not to --journal")));
    }
    let text = crate::files::read_text_limited(path, crate::journal::MAX_JOURNAL, "journal").map_err(|e| {
        Failure::new(Exit::Usage, format!("journal {}: {}", path.display(), pat2entra_core::error::chain(&e)))
    })?;
    let journal = crate::journal::Journal::parse(&text)
        .map_err(|e| Failure::new(Exit::Usage, format!("journal {} {e}", path.display())))?;
    let width = output.render_options().terminal_width;
    super::write_to(output.out.as_deref(), |w| {
        crate::report::render_journal(&journal, output.output.into(), width, w)
    })?;
    let summary = journal.summary();
    let open = [crate::journal::Outcome::Failed, crate::journal::Outcome::Planned]
        .iter()
        .map(|o| summary.get(o).copied().unwrap_or(0))
        .sum::<usize>();
    if open > 0 {
        let (targets, command) = match journal.header.action {
            crate::journal::Action::Revoke => ("credentials", "revoke"),
            _ => ("owners", "notify"),
        };
        eprintln!("warning: {open} {targets} failed or are in doubt; rerun the same {command} command to settle them");
        return Ok(Exit::PartlyFailed);
    }
    Ok(Exit::Ok)
}

/// `--history` without `-o html`: the trend is part of the HTML report only.
fn history_not_html() -> Failure {
    Failure::new(
        Exit::Usage,
        "--history shows the trend in the HTML report (-o html); for the trend itself: pat2entra trend --history FILE.db",
    )
}
