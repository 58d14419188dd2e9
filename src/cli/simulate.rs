//! `pat2entra simulate`: serve a simulated organization until Ctrl-C.

use super::{Failure, parse_as_of};
use crate::exit::Exit;
use crate::sim::{self, Faults, RateLimit, SimConfig};
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

    /// Number of users.
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
    let config = SimConfig {
        organization: args.org,
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
        ..SimConfig::default()
    };
    let handle = sim::start(config, args.port)
        .await
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let org = handle.org();
    println!(
        "simulating organization '{}' ({} users, {} tokens, seed {}) at {}",
        org.name,
        args.users,
        org.token_count(),
        args.seed,
        handle.base_url()
    );
    println!("service behaviour: {}", args.behaviour);
    println!("scan it with:");
    println!(
        "  AZURE_DEVOPS_EXT_PAT=any-value pat2entra scan --org {} --base-url {} --auth pat",
        org.name,
        handle.base_url()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(|e| Failure::new(Exit::Usage, format!("cannot wait for Ctrl-C: {e}")))?;
    Ok(Exit::Ok)
}
