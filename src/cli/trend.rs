//! `pat2entra trend --history FILE.db`: findings per scan, credentials created and revoked per
//! period, time to remediate and the retirement burn-down, from a scan history.

use super::Failure;
use crate::exit::Exit;
use clap::{Args, ValueEnum};
use pat2entra_core::trend::{self, Period};
use pat2entra_history::History;
use std::path::PathBuf;

/// `trend --help`'s closing text.
pub const EXAMPLES: &str = "\
Examples:
  # saved scans into a history (in any order), or each scan as it runs:
  pat2entra history add jan.json feb.json mar.json --history pats.db
  pat2entra scan --org contoso -o json --out apr.json --history pats.db
  # every organization by month; one organization by week, charted in HTML:
  pat2entra trend --history pats.db
  pat2entra trend --history pats.db --org contoso --period week -o html > t.html";

/// `--period`: how credentials created and revoked are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    /// ISO weeks (Monday to Sunday).
    Week,
    /// Calendar months.
    Month,
}

impl From<PeriodArg> for Period {
    fn from(p: PeriodArg) -> Self {
        match p {
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
        }
    }
}

/// `--output` of `trend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrendFormat {
    /// Numbers per scan and period, time to remediate, the plan's waves; 80 columns.
    Table,
    /// Everything, every finding's first-seen and resolved dates included.
    Json,
    /// One row per date: findings by severity and active PATs, for a spreadsheet chart.
    Csv,
    /// One self-contained page with the charts (inline SVG, no script).
    Html,
    /// The table's sections, for wikis and pull requests.
    Markdown,
}

impl From<TrendFormat> for crate::report::Format {
    fn from(f: TrendFormat) -> Self {
        use crate::report::Format;
        match f {
            TrendFormat::Table => Format::Table,
            TrendFormat::Json => Format::Json,
            TrendFormat::Csv => Format::Csv,
            TrendFormat::Html => Format::Html,
            TrendFormat::Markdown => Format::Markdown,
        }
    }
}

#[derive(Debug, Args)]
pub struct TrendArgs {
    /// The history database (`scan --history FILE.db`, `history add … --history FILE.db`).
    #[arg(long, value_name = "FILE.db")]
    pub history: PathBuf,

    /// Only this organization (default: every organization of the history; each date then
    /// counts every organization's latest scan).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,

    /// Group credentials created and revoked by week or by month.
    #[arg(long, value_enum, ignore_case = true, default_value_t = PeriodArg::Month)]
    pub period: PeriodArg,

    /// Output format.
    #[arg(long, short = 'o', value_enum, ignore_case = true, default_value_t = TrendFormat::Table)]
    pub output: TrendFormat,

    /// Write the output to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: TrendArgs) -> Result<Exit, Failure> {
    let history = History::open_existing(&args.history).map_err(|e| Failure::error(Exit::Usage, e))?;
    if let Some(org) = &args.org {
        let known = history.organizations().map_err(|e| Failure::error(Exit::Usage, e))?;
        if !known.iter().any(|k| k.eq_ignore_ascii_case(org)) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "history {}: no scan of '{org}'; it holds {}",
                    args.history.display(),
                    if known.is_empty() { "no scan yet".to_string() } else { known.join(", ") }
                ),
            ));
        }
    }
    let rows = history.rows(args.org.as_deref()).map_err(|e| Failure::error(Exit::Usage, e))?;
    let trend = trend::compute(&rows, args.period.into());
    super::write_to(args.out.as_deref(), |w| crate::report::render_trend(&trend, args.output.into(), w))?;
    if trend.incomplete_points() > 0 {
        eprintln!(
            "warning: {} dates count a scan with coverage gaps; their numbers miss the owners not read",
            trend.incomplete_points()
        );
    }
    Ok(Exit::Ok)
}
