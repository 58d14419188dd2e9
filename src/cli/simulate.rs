//! `pat2entra simulate`: serve a simulated organization until Ctrl-C.

use super::{Failure, parse_as_of};
use crate::exit::Exit;
use crate::sim::{self, AuditOff, Faults, RateLimit, SimConfig, Source};
use chrono::{DateTime, Utc};
use clap::Args;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Loopback port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Organization name served.
    #[arg(long, default_value = "fabrikam")]
    pub org: String,

    /// Serve N organizations of one tenant (the first named by --org), with people and
    /// all-organizations PATs shared between them, and the profile and accounts endpoints
    /// (`pat2entra orgs`, `scan --all-orgs`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=50))]
    pub orgs: Option<u16>,

    /// Number of users (of each organization).
    #[arg(long, default_value_t = 300)]
    pub users: usize,

    /// Seed: same seed, same organization.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// "Today" for the generated tokens (YYYY-MM-DD); default now.
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,

    /// Latency added to every response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Each response's latency varies by up to this much either way, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_jitter_ms: u64,

    /// Rate limit like the service's: REQUESTS/WINDOW (e.g. 200/5s or 1000/300s); delays past
    /// 80% of the budget, then 429 with Retry-After.
    #[arg(long, value_name = "N/WINDOW", value_parser = parse_rate_limit)]
    pub rate_limit: Option<RateLimit>,

    /// Users per Graph page.
    #[arg(long, default_value_t = 500)]
    pub graph_page_size: usize,

    /// How Token Admin answers where Microsoft's documents leave it open, as a comma-separated
    /// list: target-accounts=filled|empty (empty: null on every token, as in Microsoft's Token
    /// Admin example), revoked=listed|hidden, expired=listed|hidden|invalid (invalid: listed
    /// with isValid false), end=null|empty|zero-guid (the last page's continuationToken),
    /// page-size-limit=N (400 above it). Default: target-accounts=filled,revoked=listed,
    /// expired=listed,end=null. Check the real service's with `pat2entra whoami --probe`.
    #[arg(long, value_name = "LIST", default_value = "")]
    pub behaviour: sim::Behaviour,

    /// Share of requests answered 429 with Retry-After (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub throttle_rate: f64,

    /// Share of requests answered 503.
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub unavailable_rate: f64,

    /// Share of connections dropped without an answer.
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub reset_rate: f64,

    /// Share of responses whose body is cut short.
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub truncate_rate: f64,

    /// Share of responses with a malformed JSON body.
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub malformed_rate: f64,

    /// Share of responses whose body arrives slowly (half, a pause of a second, the rest).
    #[arg(long, default_value_t = 0.0, help_heading = "Faults")]
    pub slow_body_rate: f64,

    /// Answer these evidence sources with 401, as for a caller without the permission or PAT
    /// scope: comma-separated entitlements, membership, audit, ssh, policies.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_source, help_heading = "Evidence")]
    pub deny: Vec<Source>,

    /// Auditing is off: the audit log answers 403 "Auditing is not enabled" (refuse, the
    /// default) or 200 with no entries (empty).
    #[arg(long, value_name = "HOW", num_args = 0..=1, default_missing_value = "refuse", value_parser = parse_audit_off, help_heading = "Evidence")]
    pub no_audit: Option<AuditOff>,

    /// Longest audit query window in days (endTime - startTime); longer ones get 400.
    #[arg(long, value_name = "DAYS", default_value_t = 31, value_parser = clap::value_parser!(u64).range(1..=3650), help_heading = "Evidence")]
    pub audit_max_window_days: u64,

    /// Largest audit page, whatever batchSize asks for.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000), help_heading = "Evidence")]
    pub audit_max_batch_size: u64,

    /// Token Admin answers 404 for owners removed from the organization who own no PAT.
    #[arg(long, help_heading = "Evidence")]
    pub removed_owners_not_found: bool,
}

/// One name of `--deny audit,entitlements`: an evidence source.
pub(super) fn parse_source(text: &str) -> Result<Source, String> {
    Source::parse(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
        format!("'{}' is not an evidence source (one of {})", text.trim(), names.join(", "))
    })
}

/// `--no-audit[=refuse|empty]`.
pub(super) fn parse_audit_off(text: &str) -> Result<AuditOff, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "refuse" => Ok(AuditOff::Refuse),
        "empty" => Ok(AuditOff::Empty),
        other => Err(format!("'{other}' is not a way to answer with auditing off (refuse or empty)")),
    }
}

/// `200/5s`: a request budget per window.
fn parse_rate_limit(text: &str) -> Result<RateLimit, super::ValueError> {
    let bad = || super::ValueError::RateLimit(text.to_string());
    let (budget, window) = text.split_once('/').ok_or_else(bad)?;
    let budget: u32 = budget.trim().parse().map_err(|_| bad())?;
    let seconds: f64 = window.trim().trim_end_matches('s').parse().map_err(|_| bad())?;
    if budget == 0 || !(seconds > 0.0 && seconds.is_finite()) {
        return Err(bad());
    }
    Ok(RateLimit { budget, window: std::time::Duration::from_secs_f64(seconds), ..RateLimit::default() })
}

pub async fn run(args: SimulateArgs) -> Result<Exit, Failure> {
    let rates = [
        args.throttle_rate,
        args.unavailable_rate,
        args.reset_rate,
        args.truncate_rate,
        args.malformed_rate,
        args.slow_body_rate,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 {
        return Err(Failure::new(Exit::Usage, "fault rates must be between 0 and 1 and add up to at most 1"));
    }
    // A name the scanner accepts (and so plain ASCII, nothing to sanitise when it is echoed).
    let organization = crate::ado::OrgRef::parse(&args.org)
        .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
    let config = SimConfig {
        organization: organization.name().to_string(),
        seed: args.seed,
        users: args.users,
        anchor: args.as_of.unwrap_or_else(Utc::now),
        latency: std::time::Duration::from_millis(args.latency_ms),
        latency_jitter: std::time::Duration::from_millis(args.latency_jitter_ms),
        rate_limit: args.rate_limit,
        graph_page_size: args.graph_page_size.max(1),
        behaviour: args.behaviour.clone(),
        faults: Faults {
            throttle_rate: args.throttle_rate,
            unavailable_rate: args.unavailable_rate,
            reset_rate: args.reset_rate,
            truncate_rate: args.truncate_rate,
            malformed_rate: args.malformed_rate,
            retry_after: std::time::Duration::from_secs(1),
            slow_body_rate: args.slow_body_rate,
            slow_body: std::time::Duration::from_secs(1),
            ..Faults::default()
        },
        deny: args.deny.into_iter().collect(),
        audit_off: args.no_audit,
        audit_max_window: std::time::Duration::from_secs(args.audit_max_window_days * 86_400),
        audit_max_batch: usize::try_from(args.audit_max_batch_size).unwrap_or(usize::MAX),
        removed_owners_not_found: args.removed_owners_not_found,
        ..SimConfig::default()
    };
    if let Some(n) = args.orgs {
        return serve_tenant(config, usize::from(n), args.port).await;
    }
    let handle = sim::start(config, args.port)
        .await
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let org = handle.org();
    let name = crate::report::terminal_text(&org.name);
    println!(
        "simulating organization '{name}' ({} users, {} tokens, seed {}) at {}",
        args.users,
        org.token_count(),
        args.seed,
        handle.base_url()
    );
    let served = handle.config();
    if !served.deny.is_empty() || served.audit_off.is_some() {
        let mut denied: Vec<&str> = served.deny.iter().map(|s| s.as_str()).collect();
        denied.sort_unstable();
        println!(
            "evidence: denied (401): {}; auditing: {}",
            if denied.is_empty() { "none".to_string() } else { denied.join(", ") },
            match served.audit_off {
                None => "on",
                Some(AuditOff::Refuse) => "off (403)",
                Some(AuditOff::Empty) => "off (empty log)",
            }
        );
    }
    println!("service behaviour: {}", args.behaviour);
    println!("scan it with:");
    println!(
        "  AZURE_DEVOPS_EXT_PAT=any-value pat2entra scan --org {name} --base-url {} --auth pat",
        handle.base_url()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(|e| Failure::new(Exit::Usage, format!("cannot wait for Ctrl-C: {e}")))?;
    Ok(Exit::Ok)
}

/// `simulate --orgs N`: several organizations on one address.
async fn serve_tenant(config: SimConfig, organizations: usize, port: u16) -> Result<Exit, Failure> {
    let tenant = sim::start_tenant(config, organizations, port)
        .await
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    println!(
        "simulating {} organizations of one tenant ({} credentials shared across them) at {}",
        tenant.organizations().len(),
        tenant.truth().shared.len(),
        tenant.base_url()
    );
    for (k, name) in tenant.organizations().iter().enumerate() {
        println!(
            "  {} ({} users, {} tokens)",
            crate::report::terminal_text(name),
            tenant.config().users,
            tenant.org(k).token_count()
        );
    }
    println!("list them, then scan them all:");
    println!("  AZURE_DEVOPS_EXT_PAT=any-value pat2entra orgs --base-url {} --auth pat", tenant.base_url());
    println!(
        "  AZURE_DEVOPS_EXT_PAT=any-value pat2entra scan --all-orgs --base-url {} --auth pat -o json --out tenant.json",
        tenant.base_url()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(|e| Failure::new(Exit::Usage, format!("cannot wait for Ctrl-C: {e}")))?;
    Ok(Exit::Ok)
}
