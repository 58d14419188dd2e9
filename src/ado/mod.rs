//! The Azure DevOps REST client: the only module that speaks HTTP or knows the service's JSON
//! field names. Everything it returns is domain data (`crate::inventory`).

mod client;
mod endpoints;
mod error;
mod timestamp;
pub mod wire;

pub use client::{AdoClient, ClientOptions, Credential};
pub use endpoints::{Endpoints, OrgRef};
pub use error::AdoError;
pub use timestamp::parse_timestamp;
