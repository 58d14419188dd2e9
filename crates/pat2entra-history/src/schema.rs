//! The history's schema and its migrations.
//!
//! `PRAGMA user_version` is the number of migrations applied. Opening a history applies the ones
//! it lacks, each in its own transaction with the version bump, so a history is always at one
//! version or the next. Never edit a migration once released (histories out there ran it): add
//! one. Times are RFC 3339 text in UTC (`…Z`), dates `YYYY-MM-DD`, severities, states, kinds,
//! waves and endings the lowercase names the JSON record uses.

use rusqlite::Connection;

/// Version 1: the tables.
const V1: &str = "
-- Azure DevOps organization names ignore case.
CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
-- One scan of one organization: its numbers, as its record's summary has them.
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    as_of TEXT NOT NULL,
    -- sha256 of the record's JSON: the same scan added twice is recognised.
    digest TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    coverage_complete INTEGER NOT NULL,
    owners_listed INTEGER NOT NULL,
    owners_failed INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    active_tokens INTEGER NOT NULL,
    active_pats INTEGER NOT NULL,
    -- Open (unsuppressed) findings per severity, and the suppressed ones.
    critical INTEGER NOT NULL,
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    info INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    UNIQUE (organization_id, as_of)
);
CREATE TABLE owners (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    descriptor TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    UNIQUE (organization_id, descriptor)
);
-- One credential (PAT or SSH key) of one owner, as the latest scan listing it saw it.
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    authorization_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    -- The audit log's creation event.
    created_at TEXT,
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    state TEXT NOT NULL,
    -- audit (the event's time), observed (the first scan showing it revoked), before_first_seen.
    revoked_at TEXT,
    revoked_how TEXT,
    UNIQUE (owner_id, authorization_id)
);
-- One episode of one finding: first scan reporting it to the scan that ended it (NULL: open).
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    -- NULL for the organization's own finding (a tenant policy).
    credential_id INTEGER REFERENCES credentials(id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    suppressed INTEGER NOT NULL,
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    ended_scan INTEGER REFERENCES scans(id),
    -- resolved, suppressed, unsuppressed
    ending TEXT
);
-- The scan's retirement plan: active PATs per wave and due date.
CREATE TABLE plan_due (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    wave TEXT NOT NULL,
    due TEXT NOT NULL,
    pats INTEGER NOT NULL,
    PRIMARY KEY (scan_id, wave, due)
);
";

/// Version 2: when each scan was added (NULL for scans added by version 1), and an index of the
/// open episodes, which every added scan reads.
const V2: &str = "
ALTER TABLE scans ADD COLUMN added_at TEXT;
CREATE INDEX findings_open ON findings (organization_id) WHERE ended_scan IS NULL;
";

/// Every migration, in order: `MIGRATIONS[n]` takes a history from version n to n + 1.
pub const MIGRATIONS: &[&str] = &[V1, V2];

/// The version this pat2entra writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) enum MigrateError {
    /// Written by a newer pat2entra.
    Newer {
        found: i64,
    },
    /// Version 0 but with tables: some other program's database.
    Foreign,
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Applies the migrations the history lacks, up to `target` of them.
pub(crate) fn migrate(conn: &mut Connection, target: usize) -> Result<(), MigrateError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(MigrateError::Newer { found });
    }
    if found == 0 {
        let tables: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(MigrateError::Foreign);
        }
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().take(target).skip(found.max(0) as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated it meanwhile.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > version as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
