//! Errors of the Azure DevOps client. Each one names the endpoint and says what to do.

/// What went wrong talking to Azure DevOps. Messages never contain a credential.
#[derive(Debug, thiserror::Error)]
pub enum AdoError {
    #[error(
        "Azure DevOps did not accept the credential ({endpoint}: {detail}).\n  \
         Check that the token is valid, not expired, and issued for this organization's tenant."
    )]
    NotAuthenticated { endpoint: String, detail: String },

    #[error(
        "the identity may not list other users' tokens ({endpoint}: HTTP {status}).\n  \
         The Token Admin API needs a member of Project Collection Administrators of the organization, \
         using a token with the scope vso.tokenadministration (an Entra token, or a full-access PAT)."
    )]
    TokenAdminDenied { endpoint: String, status: u16 },

    #[error(
        "the identity may not read the organization's users ({endpoint}: HTTP {status}).\n  \
         Listing users needs read access to Graph (scope vso.graph); a Project Collection Administrator has it."
    )]
    GraphDenied { endpoint: String, status: u16 },

    #[error(
        "organization '{organization}' was not found ({endpoint}: HTTP 404).\n  \
         Check --org: it is the name after https://dev.azure.com/ (e.g. --org contoso)."
    )]
    OrganizationNotFound { organization: String, endpoint: String },

    #[error("could not get an Entra access token: {detail}")]
    Credential { detail: String },

    #[error("{endpoint} answered HTTP {status}: {detail}")]
    Status { endpoint: String, status: u16, detail: String },

    #[error("{endpoint} returned a body that is not the expected JSON: {detail}")]
    Malformed { endpoint: String, detail: String },

    #[error("could not reach {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },
}

impl AdoError {
    /// Errors that would repeat for every owner: the scan stops instead of recording hundreds of
    /// identical coverage gaps.
    pub fn is_fatal(&self) -> bool {
        self.is_auth() || matches!(self, AdoError::OrganizationNotFound { .. })
    }

    /// Authentication or permission problems (exit code 3).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            AdoError::NotAuthenticated { .. }
                | AdoError::TokenAdminDenied { .. }
                | AdoError::GraphDenied { .. }
                | AdoError::Credential { .. }
        )
    }
}
