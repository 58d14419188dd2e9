//! The integration tests, in one binary: one link instead of one per file. Run one module with
//! `cargo test --test it MODULE::` (e.g. `cargo test --test it sample_reports::`). No test changes
//! the process environment (each run of the binary gets its own), so they can share a process.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod auth_secrets;
mod contract;
mod duplicates;
mod evidence;
mod evidence_reports;
mod evidence_rules;
mod exports;
mod files;
mod guidance_and_plan;
mod history;
mod hostile;
mod html_report;
mod notify;
mod redaction;
mod reports;
mod resilience;
mod revoke;
mod rules_over_service_data;
mod sample_reports;
mod scan;
mod secrets;
mod service;
mod shards;
mod snapshots;
mod tenant;
mod text_and_rules;
mod whoami;
