//! The Azure DevOps REST client: the only module that speaks HTTP or knows the service's JSON
//! field names. Everything it returns is domain data (`crate::inventory`).

mod client;
mod connection;
mod credential;
mod endpoints;
mod error;
mod pacer;
mod timestamp;
pub mod wire;

pub use client::{AdoClient, ClientOptions};
pub use connection::{Caller, Connection, TokenAdminProbe};
pub use credential::{Credential, TokenSource};
pub use endpoints::{Endpoints, OrgRef};
pub use error::AdoError;
pub use pacer::{ClientStats, Pacer};
pub use timestamp::parse_timestamp;
