//! Signing in to Azure DevOps: Microsoft Entra tokens through `azure_identity` (Azure CLI, Azure
//! Developer CLI, service principal, workload identity, managed identity, Azure Pipelines), or a
//! PAT. `--auth auto` tries them in a fixed order without long waits (the sign-in chain, `chain`).
//! Tokens are cached for the run and refreshed before they expire (`cache`); the HTTP client asks
//! for a fresh one when the service refuses a token. Nothing here speaks to Azure DevOps itself
//! (the client, `crate::AdoClient`, does); sign-in speaks only to Entra and the tools.

mod azure;
mod cache;
mod chain;
mod claims;
mod explain;
mod transport;

pub use azure::{ADO_SCOPE, Network};
pub use cache::{Acquire, CachedTokens, Issued};
pub use chain::{Candidate, PAT_ENV, Step, chain};
pub use claims::{TokenClaims, token_claims};

use crate::{Credential, TokenError};
use pat2entra_core::files::ReadError;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Service principal, workload identity or managed identity from the environment, then the
    /// Azure CLI, the Azure Developer CLI, then AZURE_DEVOPS_EXT_PAT.
    #[default]
    Auto,
    /// The Azure CLI's signed-in account (`az login`).
    Azcli,
    /// The Azure Developer CLI's signed-in account (`azd auth login`).
    Azd,
    /// The managed identity of the Azure resource this runs on.
    ManagedIdentity,
    /// A service principal: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET or --client-secret-file.
    ClientSecret,
    /// Workload identity federation: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// An Azure Pipelines service connection with workload identity federation.
    AzurePipelines,
    /// A personal access token from AZURE_DEVOPS_EXT_PAT.
    Pat,
}

impl AuthMethod {
    /// Every way, in the order `--help` lists them.
    pub const ALL: [AuthMethod; 8] = [
        AuthMethod::Auto,
        AuthMethod::Azcli,
        AuthMethod::Azd,
        AuthMethod::ManagedIdentity,
        AuthMethod::ClientSecret,
        AuthMethod::WorkloadIdentity,
        AuthMethod::AzurePipelines,
        AuthMethod::Pat,
    ];

    /// What `--help` says of it.
    pub fn help(self) -> &'static str {
        match self {
            AuthMethod::Auto => {
                "Service principal, workload identity or managed identity from the environment, then the Azure CLI, the Azure Developer CLI, then AZURE_DEVOPS_EXT_PAT"
            }
            AuthMethod::Azcli => "The Azure CLI's signed-in account (`az login`)",
            AuthMethod::Azd => "The Azure Developer CLI's signed-in account (`azd auth login`)",
            AuthMethod::ManagedIdentity => "The managed identity of the Azure resource this runs on",
            AuthMethod::ClientSecret => {
                "A service principal: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET or --client-secret-file"
            }
            AuthMethod::WorkloadIdentity => {
                "Workload identity federation: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE"
            }
            AuthMethod::AzurePipelines => "An Azure Pipelines service connection with workload identity federation",
            AuthMethod::Pat => "A personal access token from AZURE_DEVOPS_EXT_PAT",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::Azcli => "azcli",
            AuthMethod::Azd => "azd",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::AzurePipelines => "azure-pipelines",
            AuthMethod::Pat => "pat",
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub method: AuthMethod,
    /// `--tenant`: the Entra tenant to sign in to, where the method takes one.
    pub tenant: Option<String>,
    /// `--client-secret-file`: the service principal's secret, read from a file.
    pub client_secret_file: Option<PathBuf>,
    pub network: Network,
}

/// The environment variables sign-in reads, captured once. `Debug` shows names only.
#[derive(Clone, Default)]
pub struct Environment(BTreeMap<String, String>);

impl Environment {
    pub fn from_process() -> Self {
        Environment(std::env::vars().collect())
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Environment(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// A variable's value, trimmed; unset and blank are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Sign-in failed, by cause. `Display` says what failed at this level and `source()` why (the
/// file's read error, the refused credential's `TokenError`); users see the whole chain on one
/// line (`pat2entra_core::error::Chain`): `--auth azcli: the Azure CLI is not signed in …`.
/// No variant holds a secret: only names of settings, paths and the reasons of `TokenError`.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `--client-secret-file` could not be read.
    #[error("--client-secret-file {}", path.display())]
    SecretFileUnreadable {
        path: PathBuf,
        #[source]
        reason: ReadError,
    },
    #[error("--client-secret-file {} is empty", path.display())]
    SecretFileEmpty { path: PathBuf },
    /// A secret file asks for a service principal, but its other settings are missing.
    #[error("--client-secret-file needs the service principal's {} too", missing.join(" and "))]
    SecretFileIncomplete { missing: Vec<&'static str> },
    /// The method `--auth` names lacks settings from the environment.
    #[error("--auth {}: {needs}; missing: {}", method.name(), missing.join(", "))]
    Incomplete { method: AuthMethod, needs: &'static str, missing: Vec<&'static str> },
    #[error(
        "--auth pat: set {PAT_ENV} to a personal access token of a Project Collection Administrator with the scopes vso.tokenadministration and vso.graph (secrets are never accepted as flags)"
    )]
    NoPat,
    /// The method asked for (or the one `--auth auto` found configured) yielded no token.
    #[error("--auth {}", method.name())]
    Refused {
        method: AuthMethod,
        #[source]
        reason: TokenError,
    },
    /// `--auth auto` found nothing that works; `passed_over` says why of each way it tried.
    #[error(
        "no credential for Azure DevOps (--auth auto found no service principal, workload identity or managed identity in the environment; {}). Sign in with `az login`, or see `pat2entra scan --help`; to try pat2entra without an organization: pat2entra scan --demo",
        passed_over.join("; ")
    )]
    NoCredential { passed_over: Vec<String> },
}

impl AuthError {
    /// A usage mistake (a secret file that cannot be used) rather than a refused or missing
    /// credential.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            AuthError::SecretFileUnreadable { .. }
                | AuthError::SecretFileEmpty { .. }
                | AuthError::SecretFileIncomplete { .. }
        )
    }
}

/// A working credential and what it is.
pub struct SignedIn {
    pub credential: Credential,
    /// Names the method and identity settings, never a secret.
    pub description: String,
    /// The method that worked.
    pub candidate: Candidate,
    /// When the first token expires (Entra methods).
    pub expires_at: Option<SystemTime>,
}

/// Tries the steps of `config` in order and returns the first credential that yields a token.
/// A decisive step's failure is the answer; others are noted and the next step is tried.
pub async fn sign_in(config: &AuthConfig, env: &Environment) -> Result<SignedIn, AuthError> {
    let steps = chain(config, env)?;
    let mut passed_over = Vec::new();
    for step in steps {
        let candidate = step.candidate;
        if let Candidate::Pat(pat) = &candidate {
            return Ok(SignedIn {
                credential: Credential::Pat(pat.clone()),
                description: candidate.describe(),
                candidate,
                expires_at: None,
            });
        }
        let attempt = match azure::AzureTokens::new(candidate.clone(), config.network.clone()) {
            Ok(source) => {
                let tokens = Arc::new(CachedTokens::new(candidate.label(), Box::new(source)));
                match crate::TokenSource::token(tokens.as_ref()).await {
                    Ok(_) => Ok(tokens),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match attempt {
            Ok(tokens) => {
                let expires_at = tokens.expires_at().await;
                tracing::info!(method = candidate.label(), "signed in");
                return Ok(SignedIn {
                    credential: Credential::Entra(tokens),
                    description: candidate.describe(),
                    candidate,
                    expires_at,
                });
            }
            Err(reason) if step.decisive => {
                return Err(AuthError::Refused { method: config.method, reason });
            }
            Err(reason) => {
                tracing::debug!(method = candidate.label(), %reason, "not usable; trying the next method");
                passed_over.push(reason.to_string().trim_end_matches(", or choose another --auth").to_string());
            }
        }
    }
    passed_over.push(format!("{PAT_ENV} is not set"));
    Err(AuthError::NoCredential { passed_over })
}
