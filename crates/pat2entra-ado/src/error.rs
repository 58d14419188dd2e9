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

    /// The credential's token source failed (sign-in's own error, kept whole so callers can
    /// tell a refused credential from a setup problem; it holds no secret).
    #[error("could not get an Entra access token: {reason}")]
    Credential { reason: crate::TokenError },

    #[error("{endpoint} answered HTTP {status}: {detail}")]
    Status { endpoint: String, status: u16, detail: String },

    #[error("{endpoint} returned a body that is not the expected JSON: {detail}")]
    Malformed { endpoint: String, detail: String },

    #[error("could not reach {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },

    /// A 3xx: never followed (the credential would travel to wherever it points).
    #[error(
        "{endpoint} answered HTTP {status} redirecting to {location}; redirects are never followed \
         (the credential must not travel to another address).\n  \
         Check --org and --base-url: they must name the service itself, not an address that redirects."
    )]
    Redirect { endpoint: String, status: u16, location: String },

    /// The body grew past `--max-response-mb` (counted after decompression).
    #[error("response of {endpoint} exceeds {limit_mb} MiB (--max-response-mb); not read further")]
    TooLarge { endpoint: String, limit_mb: u64 },

    /// Paging went on past `--max-pages` / `--max-listing-pages`.
    #[error("{endpoint} was still returning continuation tokens after {pages} pages ({flag}); paging stopped")]
    TooManyPages { endpoint: String, pages: u32, flag: &'static str },

    /// `--deadline` passed before the request could be sent or completed.
    #[error("{endpoint} not read: deadline reached (--deadline){detail}")]
    DeadlineReached { endpoint: String, detail: String },

    /// The service asked for a pause longer than `--max-wait`.
    #[error(
        "{endpoint} not read: the service asked to wait {wait} (Retry-After), more than --max-wait {ceiling}; not retried"
    )]
    WaitTooLong { endpoint: String, wait: String, ceiling: String },

    /// A path segment (an owner descriptor) that would change the URL's path: `.`, `..`, empty.
    #[error("'{segment}' cannot be used in a request path ({what}); it would address another resource")]
    InvalidSegment { what: &'static str, segment: String },

    /// An evidence source refused the credential (401/403): that source's permission is missing.
    /// Never fatal: the scan goes on without that source and says so.
    #[error("{endpoint} answered HTTP {status}: permission missing ({needs})")]
    SourceDenied {
        endpoint: String,
        status: u16,
        needs: &'static str,
        /// The service's message (e.g. "Auditing is not enabled…": a 403 that is no permission problem).
        detail: String,
    },

    /// Azure Boards refused to query, create or update a work item (401/403). One line: the
    /// scope and the permission it needs.
    #[error(
        "Azure Boards refused the request ({endpoint}: HTTP {status}{detail}): the credential needs the scope vso.work_write \
         (Work Items, Read & write) and the identity permission to create and edit work items in the project"
    )]
    WorkItemsDenied { endpoint: String, status: u16, detail: String },

    /// Azure Boards answered 404: no such project (or no such work item) in the organization.
    #[error(
        "{endpoint} answered HTTP 404 ({detail}): check --project, the name or id of a project of organization '{organization}'"
    )]
    ProjectNotFound { organization: String, endpoint: String, detail: String },

    /// The HTTP client could not be built (TLS setup): reqwest's error with its causes on one
    /// line (its own message is only "builder error"); no secret in it.
    #[error("cannot set up the HTTP client: {detail}")]
    Setup { detail: String },
}

impl AdoError {
    /// Errors that would repeat for every owner: the scan stops instead of recording hundreds of
    /// identical coverage gaps.
    /// A redirect is fatal too: every request goes to the same base URL, so it would redirect
    /// for every owner; the base URL (or a proxy in front of it) is wrong.
    pub fn is_fatal(&self) -> bool {
        self.is_auth()
            || matches!(
                self,
                AdoError::OrganizationNotFound { .. } | AdoError::Redirect { .. } | AdoError::ProjectNotFound { .. }
            )
    }

    /// Authentication or permission problems (exit code 3).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            AdoError::NotAuthenticated { .. }
                | AdoError::TokenAdminDenied { .. }
                | AdoError::GraphDenied { .. }
                | AdoError::Credential { .. }
                | AdoError::WorkItemsDenied { .. }
        )
    }
}
