//! pat2entra's only code that speaks to Azure DevOps or Microsoft Entra: everything with a
//! network, an async runtime or the service's JSON field names. It returns domain data
//! (`pat2entra_core::inventory`) and never formats a report.
//!
//! The flow: `auth` signs in (the sign-in chain of `--auth`, `azure_identity` credentials, a
//! token cache that refreshes) and yields a `Credential` -> `AdoClient` sends every request
//! (paging, retries, the `Pacer` that honours `Retry-After` and rate-limit headers, response
//! bounds; failures are `AdoError`s that name the endpoint) and reads the `wire` models, which
//! never declare a token's secret fields -> `scan` lists every owner, then each owner's tokens
//! (bounded parallelism, `--checkpoint`), into an `Inventory` whose coverage names what could
//! not be read. `Connection` (`connectionData`, the Token Admin probe) answers `whoami`.

pub mod accounts;
mod client;
mod connection;
mod credential;
mod endpoints;
mod error;
mod pacer;
pub mod probe;
mod revoke;
mod sources;
mod timestamp;
pub mod wire;
pub mod workitems;

pub use client::{
    AdoClient, ClientOptions, DEFAULT_MAX_LISTING_PAGES, DEFAULT_MAX_PAGES_PER_OWNER, DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_MAX_WAIT,
};
pub use connection::{Caller, Connection, TokenAdminProbe};
pub use credential::{Credential, TokenError, TokenSource};
pub use endpoints::{EndpointError, Endpoints, OrgRef};
pub use error::AdoError;
pub use pacer::{ClientStats, Pacer, format_duration};
pub use revoke::{TokenAdminRevocation, revocation_body};
pub use sources::{AuditQuery, AuditRead, EntitlementsRead, MIN_AUDIT_SLICE};
pub use timestamp::{TimestampError, parse_timestamp};

pub mod auth;
pub mod scan;
