//! pat2entra: audit an Azure DevOps organization's personal access tokens (PATs) and plan their
//! retirement in favour of Microsoft Entra ID tokens.
//!
//! The flow runs one way, one module per stage:
//! `ado` (HTTP client + wire models) -> `scan` (builds the `inventory`) -> `rules` (findings)
//! -> `record` (the canonical scan record) -> `report` (table, JSON, CSV).
//! `sim` is a simulator of the Azure DevOps endpoints, reached only over HTTP.

pub mod ado;
pub mod auth;
pub mod cli;
pub mod diff;
pub mod exit;
pub mod files;
pub mod finding;
pub mod guidance;
pub mod inventory;
pub mod plan;
pub mod record;
pub mod redact;
pub mod report;
pub mod rules;
pub mod scan;
pub mod scopes;
pub mod secret;
pub mod sim;
