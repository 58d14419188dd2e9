//! Builds the `azure_identity` credential of a candidate and asks it for Azure DevOps tokens.

use super::cache::{Acquire, Issued};
use super::chain::Candidate;
use super::explain::explain;
use super::transport::{Bounded, LoopbackAuthority};
use crate::TokenError;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport, Url};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential, AzureDeveloperCliCredentialOptions,
    AzurePipelinesCredential, AzurePipelinesCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use futures::future::BoxFuture;
use pat2entra_core::secret::Secret;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The Entra scope of Azure DevOps.
pub const ADO_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/// Where the credentials' own HTTP requests go.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// The Entra authority host (default: `AZURE_AUTHORITY_HOST`, else the public cloud).
    pub authority_host: Option<Url>,
    /// Send requests for the authority to this loopback address (the simulator).
    pub authority_loopback: Option<SocketAddr>,
}

impl Network {
    fn client_options(&self) -> Result<ClientOptions, TokenError> {
        let mut options = ClientOptions {
            // Token endpoints answer fast or not at all: a couple of quick retries, never a
            // minute of waiting.
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: azure_core::time::Duration::milliseconds(200),
                max_retries: 2,
                max_total_elapsed: azure_core::time::Duration::seconds(10),
                max_delay: azure_core::time::Duration::seconds(2),
            }),
            ..ClientOptions::default()
        };
        if let Some(host) = &self.authority_host {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.as_str().trim_end_matches('/').to_string();
            options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
        }
        // Every token request goes through the bounded transport (no redirects, capped body).
        options.transport = Some(Transport::new(Bounded::default_client()?));
        if let Some(target) = self.authority_loopback {
            let authority = self.authority_host.clone().ok_or(TokenError::NoAuthorityHost)?;
            let routed = Arc::new(LoopbackAuthority::new(&authority, target)?);
            options.transport = Some(Transport::new(Arc::new(Bounded::new(
                routed,
                super::transport::MAX_TOKEN_RESPONSE_BYTES,
                super::transport::TOKEN_REQUEST_TIMEOUT,
            ))));
        }
        Ok(options)
    }
}

/// Builds the credential of `candidate` (never `Pat`).
fn build(candidate: &Candidate, network: &Network) -> Result<Arc<dyn TokenCredential>, TokenError> {
    let client_options = network.client_options()?;
    let credential: azure_core::Result<Arc<dyn TokenCredential>> = match candidate {
        Candidate::ClientSecret { tenant, client_id, secret, .. } => ClientSecretCredential::new(
            tenant,
            client_id.clone(),
            azure_core::credentials::Secret::new(secret.expose().to_string()),
            Some(ClientSecretCredentialOptions { client_options }),
        )
        .map(|c| c as Arc<dyn TokenCredential>),
        Candidate::WorkloadIdentity { tenant, client_id, token_file } => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions { client_options },
                client_id: Some(client_id.clone()),
                tenant_id: Some(tenant.clone()),
                token_file_path: Some(token_file.clone()),
            }))
            .map(|c| c as Arc<dyn TokenCredential>)
        }
        Candidate::ManagedIdentity { client_id, .. } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            };
            ManagedIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        Candidate::AzureCli { tenant } => {
            let options =
                AzureCliCredentialOptions { tenant_id: tenant.clone(), ..AzureCliCredentialOptions::default() };
            AzureCliCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        Candidate::AzureDeveloperCli { tenant } => {
            let options = AzureDeveloperCliCredentialOptions {
                tenant_id: tenant.clone(),
                ..AzureDeveloperCliCredentialOptions::default()
            };
            AzureDeveloperCliCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        Candidate::AzurePipelines { tenant, client_id, service_connection_id, system_access_token } => {
            AzurePipelinesCredential::new(
                tenant.clone(),
                client_id.clone(),
                service_connection_id,
                azure_core::credentials::Secret::new(system_access_token.expose().to_string()),
                Some(AzurePipelinesCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions { client_options },
                }),
            )
            .map(|c| c as Arc<dyn TokenCredential>)
        }
        Candidate::Pat(_) => return Err(TokenError::NotEntra),
    };
    credential.map_err(|e| TokenError::Refused { explanation: explain(candidate, &e) })
}

/// Tokens of one `azure_identity` credential. A fresh token (after a refusal) comes from a new
/// credential: the SDK's own cache would hand back the refused token until five minutes before
/// its expiry.
pub struct AzureTokens {
    candidate: Candidate,
    network: Network,
    credential: Mutex<Arc<dyn TokenCredential>>,
}

impl AzureTokens {
    pub fn new(candidate: Candidate, network: Network) -> Result<Self, TokenError> {
        let credential = build(&candidate, &network)?;
        Ok(AzureTokens { candidate, network, credential: Mutex::new(credential) })
    }
}

impl Acquire for AzureTokens {
    fn acquire(&self, fresh: bool) -> BoxFuture<'_, Result<Issued, TokenError>> {
        Box::pin(async move {
            let credential = {
                let mut current = self.credential.lock().unwrap_or_else(|p| p.into_inner());
                if fresh {
                    *current = build(&self.candidate, &self.network)?;
                }
                current.clone()
            };
            let token = credential
                .get_token(&[ADO_SCOPE], None)
                .await
                .map_err(|e| TokenError::Refused { explanation: explain(&self.candidate, &e) })?;
            Ok(Issued { token: Secret::new(token.token.secret()), expires_at: SystemTime::from(token.expires_on) })
        })
    }
}
