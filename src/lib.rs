//! pat2entra, the binary: command-line definitions and wiring over the workspace's crates.
//!
//! The flow runs one way, a crate per concern:
//! `pat2entra-ado` (the HTTP client, Entra sign-in, the scan that builds the inventory) ->
//! `pat2entra-core` (rules -> findings, guidance, the canonical scan record, reports, plan,
//! diff, redaction; pure) -> this crate's `cli` (arguments, progress, output files, exit codes
//! decided in one place: `exit`). `pat2entra-sim` serves a simulated organization on loopback
//! (only with the `demo` feature), reached only over HTTP. The crates' modules are re-exported
//! here under their old paths for the end-to-end tests.

pub mod cli;
pub mod exit;

pub use pat2entra_ado::{self as ado, auth, scan};
pub use pat2entra_core::{
    Text, diff, evidence, files, finding, guidance, inventory, journal, notify, plan, record, redact, report, rules,
    scopes, secret, selection, tenant, text,
};
#[cfg(feature = "demo")]
pub use pat2entra_sim as sim;
