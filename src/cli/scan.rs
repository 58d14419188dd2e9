//! `pat2entra scan`: list, judge and report every PAT of an organization.

use super::auth::{AUTH_HELP, AuthArgs};
use super::output::OutputArgs;
use super::progress::Progress;
use super::{Failure, parse_as_of};
use crate::ado::{AdoClient, AdoError, ClientOptions, Endpoints, OrgRef};
use crate::auth::SignedIn;
use crate::exit::Exit;
use crate::record::ScanRecord;
use crate::rules::RuleSet;
use crate::scan::{CheckpointParams, CheckpointSettings, EvidenceOptions, ScanError, ScanOptions, scan};
use chrono::{DateTime, Utc};
use clap::Args;
use pat2entra_core::evidence::Source;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// `scan --help`'s closing text: authentication, then examples.
pub fn after_help() -> String {
    format!("{AUTH_HELP}\n\n{EXAMPLES}")
}

const EXAMPLES: &str = "\
Examples:
  pat2entra scan --demo                    # a simulated organization
  pat2entra scan --org contoso             # a table on the terminal
  pat2entra scan --org contoso --auth azcli --tenant contoso.onmicrosoft.com
  pat2entra scan --org contoso -o json --out scan.json    # the canonical record
  pat2entra scan --org contoso --fail-on high    # exit 1 on high or critical
  # the HTML report with the trend of a scan history (SQLite, kept across runs):
  pat2entra scan --org contoso -o html --out audit.html --history pats.db
  # every organization the identity sees, or those of the portal's export:
  pat2entra scan --all-orgs -o json --out tenant.json
  pat2entra scan --orgs-file orgs.csv -o json --out tenant.json
  # a quarter of the owners per job, then the four shards as one scan:
  pat2entra scan --org contoso --shard 1/4 -o json --out 1.json
  pat2entra merge 1.json 2.json 3.json 4.json --out scan.json";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Organization to scan: its name or URL (contoso, https://dev.azure.com/contoso). Give it
    /// several times to scan several organizations into one tenant record.
    #[cfg_attr(
        feature = "demo",
        arg(long, value_name = "ORG", required_unless_present_any = ["demo", "orgs_file", "all_orgs"])
    )]
    #[cfg_attr(
        not(feature = "demo"),
        arg(long, value_name = "ORG", required_unless_present_any = ["orgs_file", "all_orgs"])
    )]
    pub org: Vec<String>,

    /// Scan the organizations FILE names: one name or URL per line (`#` comments), or the CSV
    /// the portal exports of a tenant's organizations (see `pat2entra orgs --from-csv`).
    #[arg(long, value_name = "FILE", help_heading = "Organizations")]
    pub orgs_file: Option<PathBuf>,

    /// Scan every organization the identity belongs to (`pat2entra orgs` lists them).
    #[arg(long, help_heading = "Organizations")]
    pub all_orgs: bool,

    /// Organizations scanned in parallel (owners within each: --concurrency). Requests to
    /// every organization share one pacer: the service's rate limits are the identity's.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Organizations")]
    pub org_concurrency: u16,

    /// Send every request to URL/{org}/_apis/... instead of *.dev.azure.com (a proxy or the
    /// simulator). Plain http is accepted only for loopback.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Rules file (TOML). Default: the built-in rules/default.toml.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Judge tokens as of this date (YYYY-MM-DD or RFC 3339) instead of now, for reproducible reports.
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,

    /// Owners scanned in parallel.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Tokens asked for per Token Admin page (at most 100).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = parse_page_size)]
    pub page_size: u32,

    /// Evidence of use to read besides the tokens: a comma-separated list of entitlements
    /// (owners' last access), membership (still a member?), audit (token events, last use),
    /// ssh (SSH keys), policies (the tenant's PAT policies; undocumented API, opt-in).
    /// `none`: a bare inventory; `+policies`: the default plus policies; a plain list replaces
    /// the default. A source that cannot be read is reported as such and never fails the scan.
    #[arg(long, value_name = "LIST", default_value = "entitlements,membership,audit,ssh", value_parser = parse_evidence, help_heading = "Evidence")]
    pub evidence: EvidenceList,

    /// Days of audit log to read, ending at --as-of (or now). The audit log keeps 90 days.
    #[arg(long, value_name = "DAYS", default_value_t = pat2entra_ado::scan::DEFAULT_AUDIT_DAYS, value_parser = clap::value_parser!(u32).range(1..=90), help_heading = "Evidence")]
    pub audit_days: u32,

    /// The window of one audit request (e.g. 7d, 24h); a window the service refuses is halved,
    /// down to an hour.
    #[arg(long, value_name = "AGE", default_value = "7d", value_parser = super::parse_age, help_heading = "Evidence")]
    pub audit_slice: std::time::Duration,

    /// Audit entries asked for per page.
    #[arg(long, value_name = "N", default_value_t = pat2entra_ado::scan::DEFAULT_AUDIT_BATCH_SIZE, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Evidence")]
    pub audit_batch_size: u32,

    /// Attempts after the first for a request that was throttled, failed with a server error,
    /// lost its connection or returned a malformed body.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,

    /// Record finished owners in FILE as the scan goes; rerun with the same FILE after a crash
    /// or Ctrl-C to continue where it stopped. Removed when the scan completes.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// Refuse a checkpoint whose scan started longer ago than this (e.g. 90m, 24h, 7d): the
    /// tokens it holds may have been created or revoked since.
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = super::parse_age)]
    pub checkpoint_max_age: std::time::Duration,

    /// Read how the service behaves from FILE, written by `pat2entra whoami --probe
    /// --save-profile FILE` (does Token Admin fill targetAccounts, list revoked/expired PATs…).
    /// Without it, what the scan's data does not show stays unknown and is reported as such.
    #[arg(long, value_name = "FILE")]
    pub service_profile: Option<PathBuf>,

    /// Scan one part of a distributed scan: part I of N (e.g. 2/3). One organization is split
    /// by owner (a stable hash of the owner's descriptor); every part needs the same --as-of.
    /// Recombine the parts' JSON records with `pat2entra merge`.
    #[arg(long, value_name = "I/N", value_parser = pat2entra_core::shard::ShardSpec::parse)]
    pub shard: Option<pat2entra_core::shard::ShardSpec>,

    /// No progress display, nor the sign-in line, on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Add the scan to this history database (SQLite; created when missing), for `pat2entra
    /// trend`; with -o html the report shows each organization's trend.
    #[arg(long, value_name = "FILE.db")]
    pub history: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub limits: super::limits::LimitArgs,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[cfg(feature = "demo")]
    #[command(flatten)]
    pub demo: super::demo::DemoArgs,
}

pub async fn run(args: ScanArgs) -> Result<Exit, Failure> {
    // --deadline counts from here.
    let started_at = tokio::time::Instant::now();
    // What would fail after a long scan fails now: the output, the checkpoint beside it.
    super::check_out(args.output.out.as_deref())?;
    args.output.check_summary()?;
    if let (Some(out), Some(checkpoint)) = (&args.output.out, &args.checkpoint)
        && crate::files::same_file(out, checkpoint)
    {
        return Err(Failure::new(
            Exit::Usage,
            format!("--out and --checkpoint are the same file ({}); choose two files", out.display()),
        ));
    }
    // Every part of a sharded scan judges against one moment: `--as-of` is required rather than
    // defaulted. "Now" differs between parts started minutes or days apart (a matrix job
    // queued late, a pod restarted), and a default such as today's date breaks across
    // midnight; either would make parts of one scan disagree (their scan ids differ and merge
    // refuses them). The pipeline that starts the parts knows one date for all of them.
    if let Some(shard) = args.shard
        && args.as_of.is_none()
    {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--shard {shard} needs --as-of DATE, the same in every part (e.g. --as-of {}): parts judged at different moments cannot be merged",
                Utc::now().format("%Y-%m-%d")
            ),
        ));
    }
    // The rules, and what identifies them in a checkpoint (the file's bytes as read).
    let (rules, rules_id) = match &args.rules {
        Some(path) => {
            let text = crate::rules::read_file(path).map_err(Failure::rules)?;
            let rules = RuleSet::parse(&text, &path.display().to_string()).map_err(Failure::rules)?;
            (rules, format!("sha256:{}", crate::files::sha256_hex(text.as_bytes())))
        }
        None => (RuleSet::default_rules(), "built-in default".to_string()),
    };
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    // A bad --redact key fails now, not after the scan.
    args.output.redaction_key()?;
    // So does a history that cannot be used.
    if let Some(path) = &args.history {
        super::history::open(path)?;
    }
    // Several organizations: one tenant record (`super::tenant`).
    if args.org.len() > 1 || args.orgs_file.is_some() || args.all_orgs {
        return super::tenant::scan(&args, &rules, &rules_id, as_of, started_at).await;
    }
    let service = match &args.service_profile {
        None => Default::default(),
        Some(path) => {
            let profile = pat2entra_core::service::ServiceProfile::load(path)
                .map_err(|e| Failure::new(Exit::Usage, pat2entra_core::error::chain(&e)))?;
            if let Some(org) = args.org.first()
                && let Ok(org) = OrgRef::parse(org)
                && !org.name().eq_ignore_ascii_case(&profile.organization)
            {
                return Err(Failure::new(
                    Exit::Usage,
                    format!(
                        "--service-profile {}: probed organization '{}', not '{}'; probe this one: pat2entra whoami --org {} --probe --save-profile FILE",
                        path.display(),
                        profile.organization,
                        org.name(),
                        org.name()
                    ),
                ));
            }
            if !args.quiet {
                for (label, text) in profile.behaviour.describe() {
                    eprintln!("service: {label}: {}", crate::report::terminal_text(&text));
                }
            }
            profile.behaviour
        }
    };

    // The simulator lives as long as the scan; the scanner reaches it only over HTTP.
    let (endpoints, org, signed_in, _simulator) = if let Some(demo) = demo_target(&args, as_of).await? {
        demo
    } else {
        let org = OrgRef::parse(args.org.first().map(String::as_str).unwrap_or_default())
            .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
        let endpoints = match &args.base_url {
            Some(url) => Endpoints::single_base(url).map_err(|e| Failure::error(Exit::Usage, e))?,
            None => Endpoints::azure_devops(),
        };
        (endpoints, org, super::auth::sign_in(&args.auth).await?, None)
    };
    if !args.quiet {
        eprintln!("auth: {}", crate::report::terminal_text(&signed_in.description));
    }
    let credential = signed_in.credential;

    let client_options =
        args.limits.apply(ClientOptions { max_retries: args.max_retries, ..ClientOptions::default() }, started_at);
    let client =
        AdoClient::new(endpoints, org, credential, client_options).map_err(|e| Failure::error(Exit::Usage, e))?;
    // A profile that found a smaller page-size limit wins over --page-size (the service answers
    // 400 above it, which would cost every owner).
    let page_size = match service.max_page_size.get() {
        Some(limit) if limit < args.page_size => {
            if !args.quiet {
                eprintln!(
                    "page size: {limit} (the largest the service accepted when probed; --page-size {} is above it)",
                    args.page_size
                );
            }
            limit
        }
        _ => args.page_size,
    };
    let options = ScanOptions {
        concurrency: usize::from(args.concurrency),
        page_size,
        evidence: evidence_options(&args, as_of),
        checkpoint: args.checkpoint.clone().map(|path| CheckpointSettings {
            path,
            params: CheckpointParams {
                // A part's checkpoint is that part's: another part refuses it by this name.
                organization: match args.shard {
                    Some(shard) => format!("{} (part {shard})", client.organization()),
                    None => client.organization().to_string(),
                },
                as_of: args.as_of,
                rules: rules_id.clone(),
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            max_age: args.checkpoint_max_age,
        }),
        service,
        now: Some(as_of),
        owners: args.shard.map_or(pat2entra_core::shard::OwnerFilter::All, pat2entra_core::shard::OwnerFilter::Part),
    };
    let progress = Progress::new(args.quiet, client.pacer());
    let started = std::time::Instant::now();
    let scanned = scan(&client, &options, &|event| progress.event(event)).await;
    progress.finish(started.elapsed());
    let inventory = scanned.map_err(scan_failure)?;
    // The response bodies and per-owner buffers of the scan are freed by now; judging then
    // allocates again. Handing the freed pages back first keeps them out of the peak.
    super::limits::release_free_memory();

    let mut record = ScanRecord::judge(inventory, &rules, as_of);
    record.shard = args.shard.map(|shard| owner_part(shard, &record.organization, &rules_id, as_of, &args.evidence.0));
    // The history takes the scan unredacted; a history that cannot take it never costs the report.
    let (trend, history_failure) = match &args.history {
        Some(path) => {
            super::history::add_scan(path, &record, args.output.output == super::output::OutputFormat::Html, args.quiet)
        }
        None => (None, None),
    };
    let record = args.output.write_with_trend(record, trend.as_ref())?;
    // Written: a complete scan no longer needs its checkpoint (an incomplete one keeps it, so a
    // rerun asks only for what failed).
    if let Some(path) = &args.checkpoint
        && record.coverage.complete
    {
        crate::scan::finish_checkpoint(path).map_err(|e| Failure::error(Exit::Usage, e))?;
    }
    if let Some(failure) = history_failure {
        return Err(failure);
    }
    Ok(args.output.gate(&record))
}

/// What a part of an owner-sharded scan says about itself (`merge` checks it).
fn owner_part(
    shard: pat2entra_core::shard::ShardSpec,
    organization: &str,
    rules_id: &str,
    as_of: DateTime<Utc>,
    evidence: &BTreeSet<Source>,
) -> pat2entra_core::tenant::Shard {
    let organizations = [organization.to_string()];
    pat2entra_core::tenant::Shard {
        index: shard.index,
        count: shard.count,
        by: pat2entra_core::tenant::ShardBy::Owners,
        scan_id: pat2entra_core::shard::scan_id(&organizations, shard.count, rules_id, as_of, evidence),
    }
}

/// Where `scan --demo` sends its requests, and the simulator that must live as long as the scan.
type DemoTarget = (Endpoints, OrgRef, SignedIn, Option<Box<dyn std::any::Any + Send>>);

/// What the evidence sources read, and the audit window ending at `as_of` (one organization or
/// each of a tenant's).
pub(super) fn evidence_options(args: &ScanArgs, as_of: DateTime<Utc>) -> EvidenceOptions {
    EvidenceOptions {
        sources: args.evidence.0.clone(),
        audit_end: as_of,
        audit_days: args.audit_days,
        audit_slice: chrono::Duration::from_std(args.audit_slice)
            .unwrap_or(chrono::Duration::days(pat2entra_ado::scan::DEFAULT_AUDIT_SLICE_DAYS)),
        audit_batch_size: args.audit_batch_size,
    }
}

#[cfg(feature = "demo")]
async fn demo_target(args: &ScanArgs, as_of: DateTime<Utc>) -> Result<Option<DemoTarget>, Failure> {
    if !args.demo.demo {
        return Ok(None);
    }
    let (endpoints, org, signed_in, handle) = super::demo::start(&args.demo, as_of, args.quiet).await?;
    Ok(Some((endpoints, org, signed_in, Some(Box::new(handle)))))
}

#[cfg(not(feature = "demo"))]
async fn demo_target(_: &ScanArgs, _: DateTime<Utc>) -> Result<Option<DemoTarget>, Failure> {
    Ok(None)
}

/// The most tokens Token Admin is asked for per page. Microsoft's TokenAdmin sample leaves the
/// page size to the server ("you will receive an error if you pass too high a value") and its
/// PowerShell sample asks for 20; 100 is the PAT lifecycle API's documented maximum.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A `--page-size` that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageSizeError {
    #[error("'{0}' is not a whole number")]
    NotANumber(String),
    #[error("{0} is out of range: 1 to {MAX_PAGE_SIZE} (the service refuses larger pages)")]
    OutOfRange(u64),
}

fn parse_page_size(s: &str) -> Result<u32, PageSizeError> {
    let n: u64 = s.trim().parse().map_err(|_| PageSizeError::NotANumber(s.to_string()))?;
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(PageSizeError::OutOfRange(n)),
    }
}

/// The evidence sources `--evidence` chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceList(pub BTreeSet<Source>);

/// An `--evidence` list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error(
        "unknown evidence source '{0}'; valid: entitlements, membership, audit, ssh, policies, none \
         (+NAME adds to the default)"
    )]
    Unknown(String),
    #[error("'none' cannot be combined with other sources")]
    NoneWithOthers,
}

/// `default`, `none`, `a,b` (replaces the default), `+a,+b` (added to the default).
pub fn parse_evidence(s: &str) -> Result<EvidenceList, EvidenceError> {
    let items: Vec<&str> = s.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
    if items.iter().any(|i| i.eq_ignore_ascii_case("none")) {
        return if items.len() == 1 { Ok(EvidenceList(BTreeSet::new())) } else { Err(EvidenceError::NoneWithOthers) };
    }
    let adds_only = items.iter().all(|i| i.starts_with('+') || i.eq_ignore_ascii_case("default"));
    let mut sources: BTreeSet<Source> = if adds_only { Source::DEFAULT.into_iter().collect() } else { BTreeSet::new() };
    for item in items {
        if item.eq_ignore_ascii_case("default") {
            sources.extend(Source::DEFAULT);
            continue;
        }
        let name = item.trim_start_matches('+').trim();
        sources.insert(Source::parse(name).ok_or_else(|| EvidenceError::Unknown(name.to_string()))?);
    }
    Ok(EvidenceList(sources))
}

pub(super) fn scan_failure(e: ScanError) -> Failure {
    let e = match e {
        ScanError::Checkpoint(e) => return Failure::error(Exit::Usage, e),
        ScanError::Service(e) => e,
    };
    let exit = if e.is_auth() {
        Exit::Auth
    } else if matches!(e, AdoError::OrganizationNotFound { .. }) {
        Exit::Usage
    } else {
        // The owners themselves could not be listed: nothing was scanned.
        Exit::Incomplete
    };
    Failure::new(exit, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<&'static str> {
        parse_evidence(s).unwrap().0.into_iter().map(Source::as_str).collect()
    }

    #[test]
    fn evidence_lists() {
        assert_eq!(names("default"), ["entitlements", "membership", "audit", "ssh"]);
        assert_eq!(names("+policies"), ["entitlements", "membership", "audit", "ssh", "policies"]);
        assert_eq!(names("audit, ssh"), ["audit", "ssh"]);
        assert_eq!(names("Audit,+policies"), ["audit", "policies"]);
        assert!(names("none").is_empty());
        let e = parse_evidence("audit,logs").unwrap_err().to_string();
        assert!(e.contains("unknown evidence source 'logs'") && e.contains("entitlements, membership"), "{e}");
        assert!(parse_evidence("none,audit").is_err());
    }

    #[test]
    fn page_size_is_capped_with_a_reason() {
        assert_eq!(parse_page_size("20"), Ok(20));
        assert_eq!(parse_page_size("100"), Ok(100));
        for bad in ["0", "101", "99999999999"] {
            let e = parse_page_size(bad).unwrap_err().to_string();
            assert!(e.contains("1 to 100 (the service refuses larger pages)"), "{e}");
        }
        assert!(parse_page_size("ten").is_err());
    }
}
