//! The sign-in chain: which credentials to try, in which order, decided from `--auth`, `--tenant`
//! and the environment alone. Nothing here runs a tool or sends a request, so it is tested directly.

use super::{AuthConfig, AuthError, AuthMethod, Environment};
use pat2entra_core::secret::Secret;
use std::path::PathBuf;

pub const PAT_ENV: &str = "AZURE_DEVOPS_EXT_PAT";
const CLIENT_ID: &str = "AZURE_CLIENT_ID";
const TENANT_ID: &str = "AZURE_TENANT_ID";
const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
const FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// Set by the AzureCLI@2 / AzurePowerShell@5 tasks for a service connection with workload
/// identity federation; `SYSTEM_ACCESSTOKEN` must be mapped into the step's environment.
const PIPELINES_CLIENT_ID: &str = "AZURESUBSCRIPTION_CLIENT_ID";
const PIPELINES_TENANT_ID: &str = "AZURESUBSCRIPTION_TENANT_ID";
const PIPELINES_CONNECTION_ID: &str = "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID";
const SYSTEM_ACCESS_TOKEN: &str = "SYSTEM_ACCESSTOKEN";
const OIDC_REQUEST_URI: &str = "SYSTEM_OIDCREQUESTURI";

/// One way to get a credential, with everything it needs. (`Debug` is safe: `Secret` redacts.)
#[derive(Debug, Clone)]
pub enum Candidate {
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: Secret,
        secret_from: String,
    },
    WorkloadIdentity {
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    /// App Service / Functions / Container Apps (`IDENTITY_ENDPOINT`), or the VM's instance
    /// metadata service when chosen explicitly without those variables.
    ManagedIdentity {
        client_id: Option<String>,
        instance_metadata: bool,
    },
    AzureCli {
        tenant: Option<String>,
    },
    AzureDeveloperCli {
        tenant: Option<String>,
    },
    AzurePipelines {
        tenant: String,
        client_id: String,
        service_connection_id: String,
        system_access_token: Secret,
    },
    Pat(Secret),
}

/// A candidate and whether its failure ends the search (it was asked for, or its environment
/// says it is meant to be used) or only moves on to the next one.
#[derive(Debug, Clone)]
pub struct Step {
    pub candidate: Candidate,
    pub decisive: bool,
}

impl Candidate {
    /// A short name, for messages.
    pub fn label(&self) -> &'static str {
        match self {
            Candidate::ClientSecret { .. } => "service principal (client secret)",
            Candidate::WorkloadIdentity { .. } => "workload identity",
            Candidate::ManagedIdentity { .. } => "managed identity",
            Candidate::AzureCli { .. } => "Azure CLI",
            Candidate::AzureDeveloperCli { .. } => "Azure Developer CLI",
            Candidate::AzurePipelines { .. } => "Azure Pipelines service connection",
            Candidate::Pat(_) => "personal access token",
        }
    }

    /// What is used, said on stderr before a scan. Names no secret.
    pub fn describe(&self) -> String {
        let tenant_of = |t: &Option<String>| t.as_ref().map(|t| format!(", tenant {t}")).unwrap_or_default();
        match self {
            Candidate::ClientSecret { tenant, client_id, secret_from, .. } => {
                format!("service principal {client_id} in tenant {tenant}, client secret from {secret_from}")
            }
            Candidate::WorkloadIdentity { tenant, client_id, token_file } => format!(
                "workload identity federation: application {client_id} in tenant {tenant}, token file {}",
                token_file.display()
            ),
            Candidate::ManagedIdentity { client_id, instance_metadata } => {
                let which =
                    client_id.as_ref().map(|c| format!("user-assigned {c}")).unwrap_or("system-assigned".into());
                let source = if *instance_metadata { "instance metadata service" } else { IDENTITY_ENDPOINT };
                format!("managed identity ({which}, from {source})")
            }
            Candidate::AzureCli { tenant } => format!("Azure CLI (az account get-access-token{})", tenant_of(tenant)),
            Candidate::AzureDeveloperCli { tenant } => {
                format!("Azure Developer CLI (azd auth token{})", tenant_of(tenant))
            }
            Candidate::AzurePipelines { tenant, client_id, service_connection_id, .. } => format!(
                "Azure Pipelines service connection {service_connection_id} (application {client_id} in tenant {tenant}, workload identity federation)"
            ),
            Candidate::Pat(_) => format!("personal access token from {PAT_ENV}"),
        }
    }
}

/// The chain for `config`: its steps, in order.
pub fn chain(config: &AuthConfig, env: &Environment) -> Result<Vec<Step>, AuthError> {
    let decisive = |candidate| Step { candidate, decisive: true };
    let explicit = |missing: Vec<&'static str>, needs: &'static str| AuthError::Incomplete {
        method: config.method,
        needs,
        missing,
    };
    let tenant = config.tenant.clone().or_else(|| env.get(TENANT_ID).map(str::to_string));
    let cli_tenant = config.tenant.clone();
    match config.method {
        AuthMethod::Auto => auto(config, env, tenant),
        AuthMethod::ClientSecret => client_secret(config, env, tenant.clone())?
            .map(decisive)
            .map(|s| vec![s])
            .ok_or_else(|| {
                explicit(
                    missing(env, tenant.is_some(), &[CLIENT_ID], config.client_secret_file.is_some() || env.get(CLIENT_SECRET).is_some()),
                    "a service principal needs AZURE_CLIENT_ID, a tenant (--tenant or AZURE_TENANT_ID) and its secret (AZURE_CLIENT_SECRET or --client-secret-file; never a flag)",
                )
            }),
        AuthMethod::WorkloadIdentity => workload_identity(env, tenant.clone()).map(|c| vec![decisive(c)]).ok_or_else(|| {
            let mut gaps = missing(env, tenant.is_some(), &[CLIENT_ID], true);
            if env.get(FEDERATED_TOKEN_FILE).is_none() {
                gaps.push(FEDERATED_TOKEN_FILE);
            }
            explicit(gaps, "workload identity needs AZURE_CLIENT_ID, a tenant (--tenant or AZURE_TENANT_ID) and AZURE_FEDERATED_TOKEN_FILE")
        }),
        AuthMethod::ManagedIdentity => {
            let from_env = managed_identity_present(env);
            Ok(vec![decisive(Candidate::ManagedIdentity {
                client_id: env.get(CLIENT_ID).map(str::to_string),
                instance_metadata: !from_env,
            })])
        }
        AuthMethod::Azcli => Ok(vec![decisive(Candidate::AzureCli { tenant: cli_tenant })]),
        AuthMethod::Azd => Ok(vec![decisive(Candidate::AzureDeveloperCli { tenant: cli_tenant })]),
        AuthMethod::AzurePipelines => azure_pipelines(config, env).map(|c| vec![decisive(c)]),
        AuthMethod::Pat => pat(env).map(|c| vec![decisive(c)]).ok_or(AuthError::NoPat),
    }
}

/// `--auth auto`: configured service principal, workload identity, managed identity (only where
/// its environment says it is present: no probe of the instance metadata service, no long
/// waits), then the Azure CLI, the Azure Developer CLI, then a PAT.
fn auto(config: &AuthConfig, env: &Environment, tenant: Option<String>) -> Result<Vec<Step>, AuthError> {
    let mut steps = Vec::new();
    let decisive = |candidate| Step { candidate, decisive: true };
    if let Some(sp) = client_secret(config, env, tenant.clone())? {
        steps.push(decisive(sp));
    } else if let Some(wi) = workload_identity(env, tenant) {
        steps.push(decisive(wi));
    } else if managed_identity_present(env) {
        steps.push(decisive(Candidate::ManagedIdentity {
            client_id: env.get(CLIENT_ID).map(str::to_string),
            instance_metadata: false,
        }));
    }
    if steps.is_empty() {
        steps.push(Step { candidate: Candidate::AzureCli { tenant: config.tenant.clone() }, decisive: false });
        steps.push(Step { candidate: Candidate::AzureDeveloperCli { tenant: config.tenant.clone() }, decisive: false });
        if let Some(pat) = pat(env) {
            steps.push(decisive(pat));
        }
    }
    Ok(steps)
}

fn client_secret(
    config: &AuthConfig,
    env: &Environment,
    tenant: Option<String>,
) -> Result<Option<Candidate>, AuthError> {
    let secret = match &config.client_secret_file {
        Some(path) => {
            // Bounded: a wrong path (`/dev/zero`) fails at once.
            let text = pat2entra_core::files::read_text_limited(path, pat2entra_core::files::MAX_SECRET, "secret file")
                .map_err(|reason| AuthError::SecretFileUnreadable { path: path.clone(), reason })?;
            if text.trim().is_empty() {
                return Err(AuthError::SecretFileEmpty { path: path.clone() });
            }
            Some((Secret::new(text.trim()), format!("--client-secret-file {}", path.display())))
        }
        None => env.get(CLIENT_SECRET).map(|s| (Secret::new(s), CLIENT_SECRET.to_string())),
    };
    Ok(match (env.get(CLIENT_ID), tenant, secret) {
        (Some(client_id), Some(tenant), Some((secret, secret_from))) => {
            Some(Candidate::ClientSecret { tenant, client_id: client_id.to_string(), secret, secret_from })
        }
        // A secret file asks for a service principal: say what else it needs rather than
        // quietly signing in as someone else.
        (client_id, tenant, Some(_)) if config.client_secret_file.is_some() => {
            let mut missing = Vec::new();
            if client_id.is_none() {
                missing.push(CLIENT_ID);
            }
            if tenant.is_none() {
                missing.push("AZURE_TENANT_ID (or --tenant)");
            }
            return Err(AuthError::SecretFileIncomplete { missing });
        }
        _ => None,
    })
}

fn workload_identity(env: &Environment, tenant: Option<String>) -> Option<Candidate> {
    Some(Candidate::WorkloadIdentity {
        tenant: tenant?,
        client_id: env.get(CLIENT_ID)?.to_string(),
        token_file: PathBuf::from(env.get(FEDERATED_TOKEN_FILE)?),
    })
}

/// The variables App Service, Functions and Container Apps set. (`MSI_ENDPOINT` alone is Cloud
/// Shell, which `azure_identity` does not support.)
fn managed_identity_present(env: &Environment) -> bool {
    env.get(IDENTITY_ENDPOINT).is_some() && env.get(IDENTITY_HEADER).is_some()
}

fn azure_pipelines(config: &AuthConfig, env: &Environment) -> Result<Candidate, AuthError> {
    let client_id = env.get(PIPELINES_CLIENT_ID).or_else(|| env.get(CLIENT_ID));
    let tenant = config.tenant.as_deref().or_else(|| env.get(PIPELINES_TENANT_ID)).or_else(|| env.get(TENANT_ID));
    let connection = env.get(PIPELINES_CONNECTION_ID);
    let access_token = env.get(SYSTEM_ACCESS_TOKEN);
    match (client_id, tenant, connection, access_token, env.get(OIDC_REQUEST_URI)) {
        (Some(client_id), Some(tenant), Some(connection), Some(access_token), Some(_)) => {
            Ok(Candidate::AzurePipelines {
                tenant: tenant.to_string(),
                client_id: client_id.to_string(),
                service_connection_id: connection.to_string(),
                system_access_token: Secret::new(access_token),
            })
        }
        (client_id, tenant, connection, access_token, oidc) => {
            let mut gaps = Vec::new();
            for (present, name) in [
                (client_id.is_some(), PIPELINES_CLIENT_ID),
                (tenant.is_some(), PIPELINES_TENANT_ID),
                (connection.is_some(), PIPELINES_CONNECTION_ID),
                (access_token.is_some(), SYSTEM_ACCESS_TOKEN),
                (oidc.is_some(), OIDC_REQUEST_URI),
            ] {
                if !present {
                    gaps.push(name);
                }
            }
            Err(AuthError::Incomplete {
                method: AuthMethod::AzurePipelines,
                needs: "run it in an AzureCLI@2 task with a workload-identity service connection and map SYSTEM_ACCESSTOKEN: $(System.AccessToken) into its env",
                missing: gaps,
            })
        }
    }
}

fn pat(env: &Environment) -> Option<Candidate> {
    env.get(PAT_ENV).map(|p| Candidate::Pat(Secret::new(p)))
}

/// The names of the service-principal settings that are missing.
fn missing<'a>(env: &Environment, has_tenant: bool, names: &[&'a str], has_secret: bool) -> Vec<&'a str> {
    let mut gaps: Vec<&str> = names.iter().copied().filter(|n| env.get(n).is_none()).collect();
    if !has_tenant {
        gaps.push("a tenant (--tenant or AZURE_TENANT_ID)");
    }
    if !has_secret {
        gaps.push("AZURE_CLIENT_SECRET or --client-secret-file");
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSI_ENDPOINT: &str = "MSI_ENDPOINT";

    fn config(method: AuthMethod) -> AuthConfig {
        AuthConfig { method, ..AuthConfig::default() }
    }

    fn labels(steps: &[Step]) -> Vec<(&'static str, bool)> {
        steps.iter().map(|s| (s.candidate.label(), s.decisive)).collect()
    }

    #[test]
    fn auto_with_an_empty_environment_tries_the_clis_then_gives_up() {
        let steps = chain(&config(AuthMethod::Auto), &Environment::default()).unwrap();
        assert_eq!(labels(&steps), [("Azure CLI", false), ("Azure Developer CLI", false)]);
        let with_pat = Environment::from_pairs(&[(PAT_ENV, "p")]);
        let steps = chain(&config(AuthMethod::Auto), &with_pat).unwrap();
        assert_eq!(labels(&steps).last(), Some(&("personal access token", true)));
    }

    #[test]
    fn auto_prefers_a_configured_service_principal_then_workload_then_managed_identity() {
        let sp = Environment::from_pairs(&[
            (CLIENT_ID, "app"),
            (TENANT_ID, "t"),
            (CLIENT_SECRET, "s"),
            (FEDERATED_TOKEN_FILE, "/f"),
            (IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi"),
            (IDENTITY_HEADER, "h"),
            (PAT_ENV, "p"),
        ]);
        let steps = chain(&config(AuthMethod::Auto), &sp).unwrap();
        assert_eq!(labels(&steps), [("service principal (client secret)", true)]);
        assert!(steps[0].candidate.describe().contains("client secret from AZURE_CLIENT_SECRET"));

        let wi = Environment::from_pairs(&[(CLIENT_ID, "app"), (TENANT_ID, "t"), (FEDERATED_TOKEN_FILE, "/f")]);
        assert_eq!(labels(&chain(&config(AuthMethod::Auto), &wi).unwrap()), [("workload identity", true)]);

        let mi = Environment::from_pairs(&[(IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi"), (IDENTITY_HEADER, "h")]);
        let steps = chain(&config(AuthMethod::Auto), &mi).unwrap();
        assert_eq!(labels(&steps), [("managed identity", true)]);
        assert!(matches!(steps[0].candidate, Candidate::ManagedIdentity { instance_metadata: false, .. }));
    }

    #[test]
    fn auto_never_chooses_the_instance_metadata_service() {
        // Half a managed identity environment, or none: never a managed identity step (it would
        // probe 169.254.169.254 and wait).
        for env in [
            Environment::default(),
            Environment::from_pairs(&[(IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi")]),
            Environment::from_pairs(&[(MSI_ENDPOINT, "http://127.0.0.1:1/msi")]),
            Environment::from_pairs(&[(CLIENT_ID, "app")]),
        ] {
            let steps = chain(&config(AuthMethod::Auto), &env).unwrap();
            assert!(steps.iter().all(|s| !matches!(s.candidate, Candidate::ManagedIdentity { .. })), "{env:?}");
        }
    }

    #[test]
    fn tenant_flag_wins_and_reaches_the_clis() {
        let env = Environment::from_pairs(&[(CLIENT_ID, "app"), (TENANT_ID, "env-tenant"), (CLIENT_SECRET, "s")]);
        let cfg = AuthConfig { tenant: Some("flag-tenant".into()), ..config(AuthMethod::ClientSecret) };
        match &chain(&cfg, &env).unwrap()[0].candidate {
            Candidate::ClientSecret { tenant, .. } => assert_eq!(tenant, "flag-tenant"),
            _ => panic!("a client secret step"),
        }
        let cfg = AuthConfig { tenant: Some("flag-tenant".into()), ..config(AuthMethod::Azcli) };
        assert!(chain(&cfg, &Environment::default()).unwrap()[0].candidate.describe().contains("tenant flag-tenant"));
    }

    #[test]
    fn explicit_methods_name_what_is_missing() {
        let err = chain(&config(AuthMethod::ClientSecret), &Environment::from_pairs(&[(CLIENT_ID, "a")])).unwrap_err();
        assert!(
            err.to_string().starts_with("--auth client-secret: a service principal needs AZURE_CLIENT_ID")
                && err.to_string().ends_with(
                    "; missing: a tenant (--tenant or AZURE_TENANT_ID), AZURE_CLIENT_SECRET or --client-secret-file"
                ),
            "{err}"
        );
        assert!(!err.is_usage());
        let err = chain(&config(AuthMethod::WorkloadIdentity), &Environment::default()).unwrap_err();
        assert!(err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"), "{err}");
        let err = chain(&config(AuthMethod::AzurePipelines), &Environment::default()).unwrap_err();
        assert!(err.to_string().starts_with("--auth azure-pipelines: run it in an AzureCLI@2 task"), "{err}");
        assert!(err.to_string().contains("SYSTEM_ACCESSTOKEN"), "{err}");
        let err = chain(&config(AuthMethod::Pat), &Environment::default()).unwrap_err();
        assert!(matches!(err, AuthError::NoPat) && err.to_string().contains(PAT_ENV));
    }

    #[test]
    fn the_client_secret_comes_from_a_file_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-the-file\n").unwrap();
        let env = Environment::from_pairs(&[(CLIENT_ID, "app"), (TENANT_ID, "t"), (CLIENT_SECRET, "from-env")]);
        let cfg = AuthConfig { client_secret_file: Some(file.clone()), ..config(AuthMethod::Auto) };
        match &chain(&cfg, &env).unwrap()[0].candidate {
            Candidate::ClientSecret { secret, secret_from, .. } => {
                assert_eq!(secret.expose(), "from-the-file");
                assert!(secret_from.starts_with("--client-secret-file"));
            }
            _ => panic!("a client secret step"),
        }
        let cfg = AuthConfig { client_secret_file: Some(dir.path().join("absent")), ..config(AuthMethod::Auto) };
        let err = chain(&cfg, &env).unwrap_err();
        let shown = pat2entra_core::error::chain(&err);
        assert!(shown.starts_with("--client-secret-file ") && shown.contains(": cannot read it: "), "{shown}");
        assert!(err.is_usage());
        std::fs::write(&file, " \n").unwrap();
        let cfg = AuthConfig { client_secret_file: Some(file.clone()), ..config(AuthMethod::Auto) };
        let err = chain(&cfg, &env).unwrap_err();
        assert!(matches!(err, AuthError::SecretFileEmpty { .. }) && err.is_usage(), "{err}");
        let cfg = AuthConfig { client_secret_file: Some(file.clone()), ..config(AuthMethod::Auto) };
        std::fs::write(&file, "s").unwrap();
        let err = chain(&cfg, &Environment::from_pairs(&[(CLIENT_ID, "app")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--client-secret-file needs the service principal's AZURE_TENANT_ID (or --tenant) too"
        );
    }

    #[test]
    fn explicit_managed_identity_without_its_variables_means_instance_metadata() {
        let steps = chain(&config(AuthMethod::ManagedIdentity), &Environment::default()).unwrap();
        assert!(matches!(steps[0].candidate, Candidate::ManagedIdentity { instance_metadata: true, .. }));
        assert!(steps[0].candidate.describe().contains("instance metadata service"));
    }
}
