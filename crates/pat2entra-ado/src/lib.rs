//! The Azure DevOps REST client: the only module that speaks HTTP or knows the service's JSON
//! field names. Everything it returns is domain data (`pat2entra_core::inventory`).

mod client;
mod connection;
mod credential;
mod endpoints;
mod error;
mod pacer;
mod timestamp;
pub mod wire;

pub use client::{
    AdoClient, ClientOptions, DEFAULT_MAX_LISTING_PAGES, DEFAULT_MAX_PAGES_PER_OWNER, DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_MAX_WAIT,
};
pub use connection::{Caller, Connection, TokenAdminProbe};
pub use credential::{Credential, TokenError, TokenSource};
pub use endpoints::{EndpointError, Endpoints, OrgRef};
pub use error::AdoError;
pub use pacer::{ClientStats, Pacer, format_duration};
pub use timestamp::{TimestampError, parse_timestamp};

pub mod auth;
pub mod scan;
