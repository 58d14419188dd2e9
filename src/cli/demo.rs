//! `scan --demo` (only with the default cargo feature `demo`): a simulated organization served
//! on loopback, scanned over real HTTP after signing in at the simulator's own Entra token
//! endpoint. The scanner reaches the simulator only through HTTP.

use super::Failure;
use super::parse_as_of;
use crate::ado::{Endpoints, OrgRef};
use crate::auth::{self, AuthConfig, AuthMethod, Environment, Network, SignedIn};
use crate::exit::Exit;
use crate::sim::{self, SimConfig, SimEntra};
use chrono::{DateTime, Utc};
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scan a simulated organization served on loopback: no account or network needed (it signs
    /// in to the simulator's own Entra token endpoint).
    #[arg(long, help_heading = "Demo", conflicts_with_all = ["org", "base_url", "method", "tenant", "client_secret_file", "authority_host"])]
    pub demo: bool,

    /// Demo: seed of the simulated organization (same seed, same organization).
    #[arg(long, value_name = "N", default_value_t = 42, requires = "demo", help_heading = "Demo")]
    pub seed: u64,

    /// Demo: number of users in the simulated organization.
    #[arg(long, value_name = "N", default_value_t = 300, requires = "demo", help_heading = "Demo")]
    pub users: usize,

    /// Demo: the date the simulated organization was created; with a later --as-of, tokens are
    /// created, revoked and expire in between (two such scans make a realistic diff).
    #[arg(long, value_name = "DATE", value_parser = parse_as_of, requires = "demo", help_heading = "Demo")]
    pub demo_epoch: Option<DateTime<Utc>>,

    /// Demo: evidence sources the simulator answers with 401 (missing permission), e.g. audit.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = super::simulate::parse_source, requires = "demo", help_heading = "Demo")]
    pub demo_deny: Vec<sim::Source>,

    /// Demo: auditing is off in the simulated organization (the audit log answers 403).
    #[arg(long, requires = "demo", help_heading = "Demo")]
    pub demo_no_audit: bool,

    /// Demo: latency the simulator adds to every response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "demo", help_heading = "Demo")]
    pub latency_ms: u64,
}

/// Starts the simulator and signs in to it; the handle must live as long as the scan.
pub async fn start(
    args: &DemoArgs,
    as_of: DateTime<Utc>,
    quiet: bool,
) -> Result<(Endpoints, OrgRef, SignedIn, sim::SimHandle), Failure> {
    let demo_secret = random_secret();
    let config = SimConfig {
        seed: args.seed,
        users: args.users,
        anchor: as_of,
        epoch: args.demo_epoch,
        latency: std::time::Duration::from_millis(args.latency_ms),
        entra: SimEntra { client_secret: Some(demo_secret.clone()), ..SimEntra::default() },
        deny: args.demo_deny.iter().copied().collect(),
        audit_off: args.demo_no_audit.then_some(sim::AuditOff::Refuse),
        // As the service may: Token Admin does not know a removed owner who owns no PAT. The
        // scan tells this from a gap by reading membership.
        removed_owners_not_found: true,
        ..SimConfig::default()
    };
    let org = OrgRef::parse(&config.organization).map_err(|e| Failure::error(Exit::Usage, e))?;
    let handle = sim::start(config, 0)
        .await
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot start the demo simulator on loopback: {e}")))?;
    if !quiet {
        eprintln!(
            "demo: scanning the simulated organization '{}' ({} users, seed {}) at {}; no real tenant is contacted",
            org.name(),
            args.users,
            args.seed,
            handle.base_url()
        );
    }
    let endpoints = Endpoints::single_base(&handle.base_url()).map_err(|e| Failure::error(Exit::Usage, e))?;
    let mut signed_in = sign_in(&handle, &demo_secret).await?;
    signed_in.description = format!("{} (demo: the simulator's token endpoint)", signed_in.candidate.label());
    Ok((endpoints, org, signed_in, handle))
}

/// The demo signs in like a service principal would, at the simulator's Entra token endpoint:
/// an https authority routed to the simulator on loopback.
async fn sign_in(handle: &sim::SimHandle, secret: &str) -> Result<SignedIn, Failure> {
    let authority = url::Url::parse("https://login.demo.invalid").expect("static URL");
    let config = AuthConfig {
        method: AuthMethod::ClientSecret,
        tenant: Some(handle.tenant_id().to_string()),
        client_secret_file: None,
        network: Network { authority_host: Some(authority), authority_loopback: Some(handle.addr()) },
    };
    let env = Environment::from_pairs(&[
        ("AZURE_CLIENT_ID", handle.config().entra.client_id.as_str()),
        ("AZURE_CLIENT_SECRET", secret),
    ]);
    auth::sign_in(&config, &env).await.map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!("the demo could not sign in to its simulator: {}", pat2entra_core::error::Chain(&e)),
        )
    })
}

/// A random credential for the demo simulator (it only has to be unguessable for one run).
fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..4)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}
