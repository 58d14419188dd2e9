//! The sign-in options shared by `scan` and `whoami`, and turning them into a credential.

use super::Failure;
use crate::auth::{self, AuthConfig, AuthMethod, Environment, Network, SignedIn};
use crate::exit::Exit;
use clap::Args;

use std::path::PathBuf;
use url::Url;

/// How `--auth` signs in: the closing help every command that signs in shares.
macro_rules! sign_in_help {
    () => {
        "\
Authentication (--auth, default auto):
  auto tries, in order: a service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET),
  workload identity (AZURE_FEDERATED_TOKEN_FILE), a managed identity where IDENTITY_ENDPOINT and
  IDENTITY_HEADER say one is present, the Azure CLI (az login), the Azure Developer CLI
  (azd auth login), then a PAT in AZURE_DEVOPS_EXT_PAT. It says on stderr which one it used.
  Secrets are never taken as flags."
    };
}

/// `scan` and `whoami`: sign-in, and the permission reading every user's tokens needs.
pub const AUTH_HELP: &str = concat!(
    sign_in_help!(),
    "
  The identity must be a Project Collection Administrator of the organization; PATs need the
  scopes vso.tokenadministration and vso.graph.
  Check sign-in and permissions first with: pat2entra whoami --org ORG"
);

/// Commands that say their own permission (`revoke`, `notify`): sign-in only.
pub const SIGN_IN_HELP: &str = sign_in_help!();

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// How to sign in (see Authentication below).
    #[arg(long = "auth", value_parser = auth_method_parser(), ignore_case = true, default_value = "auto", value_name = "METHOD", help_heading = "Authentication")]
    pub method: AuthMethod,

    /// Microsoft Entra tenant (id or domain) to sign in to: the tenant the organization is
    /// connected to. Overrides AZURE_TENANT_ID.
    #[arg(long, value_name = "TENANT", help_heading = "Authentication")]
    pub tenant: Option<String>,

    /// File holding a service principal's client secret (instead of AZURE_CLIENT_SECRET).
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub client_secret_file: Option<PathBuf>,

    /// Entra authority for national clouds (default: AZURE_AUTHORITY_HOST, else
    /// https://login.microsoftonline.com). Must be https.
    #[arg(long, value_name = "URL", help_heading = "Authentication")]
    pub authority_host: Option<Url>,

    /// For the simulator and tests: send the authority's requests to this loopback address over
    /// plain http, and contact nothing that is not loopback.
    #[cfg(feature = "demo")]
    #[arg(long, value_name = "ADDR", hide = true, requires = "authority_host")]
    pub authority_loopback: Option<std::net::SocketAddr>,
}

impl AuthArgs {
    pub fn config(&self) -> Result<AuthConfig, Failure> {
        if let Some(host) = &self.authority_host
            && host.scheme() != "https"
        {
            return Err(Failure::new(
                Exit::Usage,
                format!("--authority-host {host}: the Entra authority must use https"),
            ));
        }
        #[cfg(feature = "demo")]
        let authority_loopback = self.authority_loopback;
        #[cfg(not(feature = "demo"))]
        let authority_loopback: Option<std::net::SocketAddr> = None;
        if let Some(addr) = authority_loopback
            && !addr.ip().is_loopback()
        {
            return Err(Failure::new(Exit::Usage, format!("--authority-loopback {addr} is not a loopback address")));
        }
        Ok(AuthConfig {
            method: self.method,
            tenant: self.tenant.clone().filter(|t| !t.trim().is_empty()),
            client_secret_file: self.client_secret_file.clone(),
            network: Network { authority_host: self.authority_host.clone(), authority_loopback },
        })
    }
}

/// Signs in as `args` say, reading the process environment.
pub async fn sign_in(args: &AuthArgs) -> Result<SignedIn, Failure> {
    let config = args.config()?;
    auth::sign_in(&config, &Environment::from_process()).await.map_err(failure)
}

pub fn failure(e: auth::AuthError) -> Failure {
    Failure::new(if e.is_usage() { Exit::Usage } else { Exit::Auth }, pat2entra_core::error::chain(&e))
}

/// `--auth`'s values: the sign-in crate's methods under their command-line names (the crate
/// itself knows nothing of clap).
fn auth_method_parser() -> impl clap::builder::TypedValueParser<Value = AuthMethod> {
    use clap::builder::TypedValueParser as _;
    let values = AuthMethod::ALL.map(|m| clap::builder::PossibleValue::new(m.name()).help(m.help()));
    clap::builder::PossibleValuesParser::new(values)
        .map(|name| AuthMethod::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(&name)).expect("a listed value"))
}
