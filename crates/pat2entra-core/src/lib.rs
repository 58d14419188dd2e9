//! pat2entra's pure part: everything between the inventory a scan produced and the reports a
//! reader gets. No async runtime, no HTTP, no command line: every stage is a function of its
//! input, testable alone.
//!
//! The flow: `inventory` (owners, credentials, coverage, and the `evidence` of use) -> `rules`
//! (`finding`s, with the `scopes` catalog) -> `guidance` (the Entra replacement per use) ->
//! `record` (the canonical, versioned scan record) -> `report` (table, JSON, CSV, Markdown, HTML
//! from the askama templates in `report/templates`), `plan` (the retirement plan per owner),
//! `diff` (scan to scan), `trend` (over a scan history), `redact` (keyed pseudonyms for
//! sharing), `selection` (credentials chosen for an action) and `journal` (what an action planned
//! and did). `files` reads and writes files safely (size limits, private atomic writes); `secret`
//! holds secrets; `error` shows an error with its causes.

pub mod diff;
pub mod error;
pub mod evidence;
pub mod files;
pub mod finding;
pub mod guidance;
pub mod inventory;
pub mod journal;
mod json_stream;
pub mod notify;
mod parallel;
pub mod plan;
pub mod record;
pub mod redact;
pub mod report;
pub mod rules;
pub mod scopes;
pub mod secret;
pub mod selection;
pub mod service;
pub mod shard;
pub mod tenant;
pub mod text;
pub mod trend;

pub use text::Text;
