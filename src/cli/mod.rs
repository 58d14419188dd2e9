//! Command-line interface: argument definitions and the wiring of each command.

mod auth;
#[cfg(feature = "demo")]
mod demo;
mod diff;
mod explain;
mod history;
mod limits;
mod logging;
mod merge;
mod notify;
mod orgs;
mod output;
mod plan;
mod progress;
mod report;
mod revoke;
mod rules;
mod scan;
#[cfg(feature = "demo")]
mod simulate;
mod tenant;
mod trend;
mod whoami;

use crate::exit::Exit;
use crate::finding::Severity;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit codes:
  0  scan complete, nothing at or above --fail-on
  1  a finding at or above --fail-on
  2  bad arguments or rules file
  3  sign-in failed or a permission is missing
  4  scan incomplete: some owners could not be read (coverage gaps)
  5  revoke, notify: some revocations or messages failed (the journal lists them; rerun to retry)

Try it without an organization:  pat2entra scan --demo
Check sign-in and permissions:   pat2entra whoami --org ORG";

/// Audit an Azure DevOps organization's personal access tokens (PATs) and plan their
/// replacement by Microsoft Entra ID tokens.
#[derive(Debug, Parser)]
#[command(name = "pat2entra", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every PAT of an organization and judge it against the rules.
    #[command(after_help = scan::after_help())]
    Scan(Box<scan::ScanArgs>),
    /// Render a saved scan in any format (no network): table, json, csv, markdown, html.
    Report(report::ReportArgs),
    /// Compare two saved scans: new, resolved and unchanged findings, token changes, trends.
    Diff(diff::DiffArgs),
    /// Recombine the parts of a sharded scan (`scan --shard I/N`) into one record.
    #[command(after_help = merge::EXAMPLES)]
    Merge(merge::MergeArgs),
    /// Plan the retirement of every PAT of a saved scan: per owner, in waves with due dates.
    Plan(plan::PlanArgs),
    /// Keep a history of scans (SQLite) for `trend`: add saved scans to it.
    #[command(subcommand)]
    History(history::HistoryCommand),
    /// Trends over a scan history: findings per scan, credentials created and revoked, time to
    /// remediate, the retirement burn-down.
    #[command(after_help = trend::EXAMPLES)]
    Trend(trend::TrendArgs),
    /// Revoke credentials chosen from a saved scan (a dry run unless --execute), with a journal.
    #[command(after_help = revoke::after_help())]
    Revoke(Box<revoke::RevokeArgs>),
    /// Tell each owner their part of the plan by work item or e-mail (a dry run unless --execute).
    #[command(after_help = notify::after_help())]
    Notify(Box<notify::NotifyArgs>),
    /// Print a rule or a guidance entry in full (ids appear in every report).
    Explain {
        /// A rule id (long-lived) or guidance id (git-credential-manager-oauth).
        id: String,
    },
    /// List the organizations the identity can see, or read the portal's export of a tenant's
    /// organizations (--from-csv): what `scan --all-orgs` and `scan --orgs-file` scan.
    Orgs(orgs::OrgsArgs),
    /// Show who pat2entra signs in as, and check the Token Admin permission before a long scan.
    #[command(after_help = auth::AUTH_HELP)]
    Whoami(whoami::WhoamiArgs),
    /// Check a rules file, or explain the rules.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    #[cfg(feature = "demo")]
    /// Serve a simulated organization on loopback (the Azure DevOps endpoints pat2entra reads).
    Simulate(simulate::SimulateArgs),
}

/// A command's failure: what to tell the user and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// Further errors of the same failure (every problem of a rules file), each shown as its
    /// own `error:`.
    pub more: Vec<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure { exit, message: message.into(), more: Vec::new() }
    }

    /// A failure from an error, shown with its causes on one line, outermost first
    /// (`saved scan a.json: cannot read it: No such file or directory (os error 2)`): the one
    /// way every command shows an error's chain.
    pub fn error(exit: Exit, error: impl std::error::Error + 'static) -> Self {
        Failure::new(exit, pat2entra_core::error::chain(&error))
    }

    /// A rules file that cannot be used (exit 2): each of its problems its own `error:`, with
    /// the line it is on.
    pub fn rules(error: crate::rules::RulesError) -> Self {
        match error.problems() {
            [first, rest @ ..] => Failure {
                exit: Exit::Usage,
                message: first.to_string(),
                more: rest.iter().map(ToString::to_string).collect(),
            },
            [] => Failure::error(Exit::Usage, error),
        }
    }
}

/// Parses the arguments, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.code() } else { Exit::Ok.code() };
        }
    };
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Usage.code();
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Scan(args) => scan::run(*args).await,
            Command::Whoami(args) => whoami::run(args).await,
            Command::Orgs(args) => orgs::run(args).await,
            #[cfg(feature = "demo")]
            Command::Simulate(args) => simulate::run(args).await,
            Command::Rules(command) => rules::run(command),
            Command::Plan(args) => plan::run(args),
            Command::Revoke(args) => revoke::run(*args).await,
            Command::Notify(args) => notify::run(*args).await,
            Command::Report(args) => report::run(args),
            Command::Diff(args) => diff::run(args),
            Command::Merge(args) => merge::run(args),
            Command::History(command) => history::run(command),
            Command::Trend(args) => trend::run(args),
            Command::Explain { id } => explain::run(&id),
        }
    });
    match result {
        Ok(exit) => exit.code(),
        Err(failure) => {
            // Messages may quote the service or a file: no control characters reach the terminal.
            for message in std::iter::once(&failure.message).chain(&failure.more) {
                let lines: Vec<String> = message.lines().map(crate::report::terminal_text).collect();
                eprintln!("error: {}", lines.join("\n"));
            }
            failure.exit.code()
        }
    }
}

/// Writes what `render` produces to `path` (privately and atomically, see `crate::files`), or
/// to standard output. A broken pipe on standard output (`| head`) is the reader having had
/// enough; a closed standard output or any other write error is an error, never a silent exit 0.
pub(crate) fn write_to(
    path: Option<&std::path::Path>,
    render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    use crate::files::WriteError;
    use std::io::Write;
    let written = match path {
        Some(path) => crate::files::Output::create(path)
            .and_then(|out| {
                let mut buffered = std::io::BufWriter::new(out);
                render(&mut buffered)?;
                buffered.into_inner().map_err(|e| e.into_error())?.commit()
            })
            .map_err(|source| WriteError::File { path: path.to_path_buf(), source }),
        None => match crate::files::stdout_problem() {
            Some(problem) => Err(WriteError::StdoutUnusable { problem }),
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                ignore_broken_pipe(render(&mut lock).and_then(|_| lock.flush())).map_err(WriteError::Stdout)
            }
        },
    };
    written.map_err(|e| Failure::error(crate::exit::Exit::Usage, e))
}

/// Checks `--out` before a long scan: its directory exists and accepts a new file (or, without
/// `--out`, standard output is open).
pub(crate) fn check_out(path: Option<&std::path::Path>) -> Result<(), Failure> {
    let problem = match path {
        Some(path) => {
            crate::files::check_writable(path).err().map(|e| format!("--out: {}", pat2entra_core::error::chain(&e)))
        }
        None => crate::files::stdout_problem()
            .map(|problem| crate::files::WriteError::StdoutUnusable { problem }.to_string()),
    };
    problem.map_or(Ok(()), |p| Err(Failure::new(crate::exit::Exit::Usage, p)))
}

/// Treats a closed pipe (`pat2entra … | head`) as the reader having had enough, not an error.
fn ignore_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A command-line value that does not parse (the value parsers below). clap shows it as
/// `error: invalid value 'X' for '--flag <VALUE>': MESSAGE`, with the usage line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueError {
    #[error("'{0}' is not a date (expected YYYY-MM-DD or an RFC 3339 timestamp)")]
    Date(String),
    #[error("'{0}' is not an age (a number and a unit: 90m, 24h, 7d)")]
    Age(String),
    #[error("'{0}' is too long an age")]
    AgeTooLong(String),
    #[error("'{0}' is not a duration (e.g. 90s, 30m, 2h, 1h30m)")]
    Duration(String),
    #[cfg(feature = "demo")]
    #[error("'{0}' is not a rate limit; expected REQUESTS/WINDOW such as 200/5s")]
    RateLimit(String),
}

/// `--as-of`: a date (midnight UTC) or an RFC 3339 timestamp.
pub(crate) fn parse_as_of(s: &str) -> Result<DateTime<Utc>, ValueError> {
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|_| ValueError::Date(s.to_string()))
}

/// `--checkpoint-max-age`: a number with a unit (`s`, `m`, `h`, `d`, `w`): `90m`, `24h`, `7d`.
pub(crate) fn parse_age(s: &str) -> Result<std::time::Duration, ValueError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(ValueError::Age(s.to_string())),
    };
    let number: u64 = number.parse().map_err(|_| ValueError::Age(s.to_string()))?;
    number.checked_mul(seconds).map(std::time::Duration::from_secs).ok_or_else(|| ValueError::AgeTooLong(s.to_string()))
}

pub(crate) fn parse_severity(s: &str) -> Result<Severity, crate::finding::UnknownSeverity> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn as_of_accepts_dates_and_timestamps() {
        assert_eq!(parse_as_of("2026-11-26").unwrap().to_rfc3339(), "2026-11-26T00:00:00+00:00");
        assert_eq!(parse_as_of("2026-11-26T10:00:00+01:00").unwrap().to_rfc3339(), "2026-11-26T09:00:00+00:00");
        assert!(parse_as_of("tomorrow").is_err());
    }

    #[test]
    fn a_failure_shows_the_whole_chain_on_one_line() {
        let missing = std::path::Path::new("/nonexistent/scan.json");
        let e = crate::record::ScanRecord::load(missing).unwrap_err();
        let failure = Failure::error(Exit::Usage, e);
        assert!(
            failure.message.starts_with("saved scan /nonexistent/scan.json: cannot read it: "),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains('\n'), "{}", failure.message);
        // A rules file: each problem its own message, with its snippet.
        let e =
            crate::rules::RuleSet::parse("extends = \"none\"\n[rules.revokd]\n[rules.expird]\n", "r.toml").unwrap_err();
        let failure = Failure::rules(e);
        assert!(failure.message.starts_with("rules file r.toml:2:8: unknown rule id `revokd`"), "{}", failure.message);
        assert!(failure.message.ends_with("\n2 | [rules.revokd]\n  |        ^^^^^^"), "{}", failure.message);
        assert_eq!(failure.more.len(), 1);
        assert!(failure.more[0].starts_with("rules file r.toml:3:8: unknown rule id `expird`"), "{}", failure.more[0]);
    }

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(parse_age("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_age("90m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_age("7d").unwrap().as_secs(), 604_800);
        assert!(parse_age("24").is_err());
        assert!(parse_age("h").is_err());
        assert!(parse_age("99999999999999999999w").is_err());
    }

    #[test]
    fn value_enums_ignore_case() {
        let cli =
            Cli::try_parse_from(["pat2entra", "report", "scan.json", "-o", "JSON", "--csv-kind", "Tokens"]).unwrap();
        let Command::Report(args) = cli.command else { panic!("report") };
        assert_eq!(args.output.output, output::OutputFormat::Json);
        let cli = Cli::try_parse_from(["pat2entra", "plan", "scan.json", "-o", "CSV"]).unwrap();
        assert!(matches!(cli.command, Command::Plan(_)));
    }
}
