//! The scan history: every scan's numbers, its credentials and the lifetimes of its findings in
//! one embedded SQLite database (`scan --history FILE.db`, `history add`), read back for
//! `pat2entra trend`.
//!
//! What to store and what a scan changes is decided in `pat2entra_core::trend` (pure); this crate
//! only keeps it. The database holds no secret (records hold none) and no free text from the
//! service: no token names, scopes, finding messages or error messages; owners' principal names
//! and authorization ids only, which a trend needs to name a finding.
//!
//! The schema is versioned (`PRAGMA user_version`) and grows by migrations ([`MIGRATIONS`]), each
//! applied once, in its own transaction, when a history is opened. A migration is never edited
//! once released: a change is a new migration. A history written by a newer pat2entra (a version
//! this one does not know) is refused, never downgraded.
//!
//! A history only grows forward per organization: each scan added must be newer than the
//! organization's scans already there (finding episodes are advanced scan by scan). `history add`
//! sorts the files it is given by date.

mod schema;

pub use schema::{MIGRATIONS, SCHEMA_VERSION};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use pat2entra_core::evidence::CredentialKind;
use pat2entra_core::inventory::TokenState;
use pat2entra_core::plan::Wave;
use pat2entra_core::record::ScanRecord;
use pat2entra_core::tenant::AnyRecord;
use pat2entra_core::trend::{
    CredentialRow, Ending, FindingKey, FindingRow, HistoryRows, Observation, OpenEpisode, PlanRow, RevokedHow, ScanRow,
    advance,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a history could not be opened, read or added to. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "history {path}: not an SQLite database; give the .db file written by `scan --history`, or a new file name to start a history"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "history {path}: an SQLite database, but not a pat2entra history (it has other tables); give a new file name to start a history"
    )]
    NotAHistory { path: PathBuf },
    #[error(
        "history {path}: schema version {found} is newer than this pat2entra knows ({known}); use the pat2entra that wrote it, or a newer one"
    )]
    Newer { path: PathBuf, found: i64, known: i64 },
    #[error("history {path}: no such file; add scans first (pat2entra history add SCAN.json --history {path})")]
    Missing { path: PathBuf },
    /// An empty file: no history yet, and reading one writes nothing into it.
    #[error(
        "history {path}: an empty file, no scans yet; add scans first (pat2entra history add SCAN.json --history {path})"
    )]
    Empty { path: PathBuf },
    #[error(
        "history {path}: already holds a different scan of {organization} as of {as_of}; one scan per organization and date (scan again with another --as-of, or use another history)"
    )]
    Conflict { path: PathBuf, organization: String, as_of: String },
    #[error(
        "history {path}: already holds a later scan of {organization} ({latest}) than this one ({as_of}); a history grows forward: start a new one and add the scans oldest first (pat2entra history add *.json --history NEW.db)"
    )]
    Older { path: PathBuf, organization: String, as_of: String, latest: String },
    #[error(
        "history {path}: the scan of {organization} is part {index} of {count} of a sharded scan; merge the parts first (pat2entra merge) and add the merged record"
    )]
    Shard { path: PathBuf, organization: String, index: u32, count: u32 },
    #[error(
        "history {path}: the scan of {organization} was redacted with a random key, so its owners match no other scan; add the unredacted record, or one redacted with a fixed key (--redact-key-file)"
    )]
    RandomlyRedacted { path: PathBuf, organization: String },
    #[error("history {path}: cannot create it")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("history {path}: {what}")]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history {path}: unreadable value in table {table}: {value:?}; the file was changed by something other than pat2entra"
    )]
    Corrupt { path: PathBuf, table: &'static str, value: String },
}

/// What became of one organization's scan given to [`History::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub organization: String,
    pub as_of: DateTime<Utc>,
    /// `false`: the very same scan was already there; nothing changed.
    pub new: bool,
}

/// An open history database.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// A timestamp as stored: RFC 3339, UTC, `Z`, sub-seconds only when there are any.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn wave_str(w: Wave) -> &'static str {
    w.as_str()
}

fn parse_wave(s: &str) -> Option<Wave> {
    [Wave::RevokeNow, Wave::Now, Wave::Next, Wave::AtExpiry].into_iter().find(|w| w.as_str() == s)
}

fn state_str(s: TokenState) -> &'static str {
    match s {
        TokenState::Active => "active",
        TokenState::Expired => "expired",
        TokenState::Revoked => "revoked",
    }
}

fn parse_kind(s: &str) -> Option<CredentialKind> {
    [CredentialKind::Pat, CredentialKind::Ssh].into_iter().find(|k| k.as_str() == s)
}

impl History {
    /// Opens the history at `path`, creating it (readable by its owner only) when there is no
    /// such file, and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        create_private(path).map_err(|source| HistoryError::Create { path: path.to_path_buf(), source })?;
        Self::open_with(path, OpenFlags::default(), MIGRATIONS.len())
    }

    /// Opens an existing history (for reading a trend): a missing file is an error, not a new
    /// empty history. An older schema is still migrated.
    pub fn open_existing(path: &Path) -> Result<Self, HistoryError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HistoryError::Missing { path: path.to_path_buf() });
            }
            // SQLite would take an empty file for a new database and write a schema into it.
            Ok(meta) if meta.is_file() && meta.len() == 0 => {
                return Err(HistoryError::Empty { path: path.to_path_buf() });
            }
            _ => {}
        }
        let flags = OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE;
        Self::open_with(path, flags, MIGRATIONS.len())
    }

    /// Opens and migrates up to `version` (tests open at an older version).
    fn open_with(path: &Path, flags: OpenFlags, version: usize) -> Result<Self, HistoryError> {
        let path_buf = path.to_path_buf();
        let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, "cannot open it", e))?;
        let mut history = History { conn, path: path_buf };
        history.configure()?;
        schema::migrate(&mut history.conn, version).map_err(|e| match e {
            schema::MigrateError::Newer { found } => {
                HistoryError::Newer { path: path.to_path_buf(), found, known: SCHEMA_VERSION }
            }
            schema::MigrateError::Foreign => HistoryError::NotAHistory { path: path.to_path_buf() },
            schema::MigrateError::Sqlite(e) => classify(path, "cannot update its schema", e),
        })?;
        Ok(history)
    }

    fn configure(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        // The first statement reads the file: a file that is not SQLite fails here.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| classify(&path, "cannot read it", e))?;
        let _ = mode;
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|e| classify(&path, "cannot configure it", e))?;
        self.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| classify(&path, "cannot configure it", e))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open history.
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.sqlite("cannot read it", e))
    }

    fn sqlite(&self, what: &'static str, e: rusqlite::Error) -> HistoryError {
        classify(&self.path, what, e)
    }

    /// Adds a saved record of either kind: every organization of a tenant record, in one
    /// transaction (all or none).
    pub fn add_any(&mut self, record: &AnyRecord) -> Result<Vec<Added>, HistoryError> {
        // A part of a scan split by organization: its organizations' records are whole, but the
        // tenant is not; merge first, as for owner parts.
        if let (AnyRecord::Tenant(t), Some(shard)) = (record, record.shard()) {
            return Err(HistoryError::Shard {
                path: self.path.clone(),
                organization: t.organizations.iter().map(|r| r.organization.as_str()).collect::<Vec<_>>().join(", "),
                index: shard.index,
                count: shard.count,
            });
        }
        self.add(record.organizations())
    }

    /// Adds scans, in one transaction (all or none). The same scan added again changes nothing
    /// (`Added::new` false); a different scan of an organization and date already there, or one
    /// older than the organization's latest, is refused.
    pub fn add(&mut self, records: &[ScanRecord]) -> Result<Vec<Added>, HistoryError> {
        let path = self.path.clone();
        for record in records {
            if let Some(shard) = &record.shard {
                return Err(HistoryError::Shard {
                    path,
                    organization: record.organization.clone(),
                    index: shard.index,
                    count: shard.count,
                });
            }
            if record.redaction.as_ref().is_some_and(|r| !r.comparable_across_runs) {
                return Err(HistoryError::RandomlyRedacted { path, organization: record.organization.clone() });
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "cannot start a transaction", e))?;
        let mut added = Vec::with_capacity(records.len());
        for record in records {
            added.push(add_one(&tx, &path, record)?);
        }
        tx.commit().map_err(|e| classify(&path, "cannot commit the scan", e))?;
        Ok(added)
    }

    /// The organizations the history holds, in name order.
    pub fn organizations(&self) -> Result<Vec<String>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM organizations ORDER BY name")
            .map_err(|e| self.sqlite("cannot read it", e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite("cannot read it", e))?;
        Ok(names)
    }

    /// Every row a trend needs, of one organization (matched ignoring case) or of all.
    pub fn rows(&self, organization: Option<&str>) -> Result<HistoryRows, HistoryError> {
        let read = |e| self.sqlite("cannot read it", e);
        let org = organization.unwrap_or("");
        let all = organization.is_none();
        let mut rows = HistoryRows::default();
        let mut scans: HashMap<i64, (String, DateTime<Utc>)> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT s.id, o.name, s.as_of, s.tool_version, s.coverage_complete, s.owners_listed, \
                     s.owners_failed, s.tokens, s.active_tokens, s.active_pats, s.critical, s.high, s.medium, \
                     s.low, s.info, s.suppressed \
                     FROM scans s JOIN organizations o ON o.id = s.organization_id \
                     WHERE ?1 OR o.name = ?2 COLLATE NOCASE ORDER BY s.as_of, o.name",
                )
                .map_err(read)?;
            let mut q = stmt.query(params![all, org]).map_err(read)?;
            while let Some(r) = q.next().map_err(read)? {
                let id: i64 = r.get(0).map_err(read)?;
                let organization: String = r.get(1).map_err(read)?;
                let as_of = self.time("scans", &r.get::<_, String>(2).map_err(read)?)?;
                let count = |i: usize| r.get::<_, i64>(i).map(|n| n.max(0) as usize);
                let scan = ScanRow {
                    organization: organization.clone(),
                    as_of,
                    tool_version: r.get(3).map_err(read)?,
                    coverage_complete: r.get(4).map_err(read)?,
                    owners_listed: count(5).map_err(read)?,
                    owners_failed: count(6).map_err(read)?,
                    tokens: count(7).map_err(read)?,
                    active_tokens: count(8).map_err(read)?,
                    active_pats: count(9).map_err(read)?,
                    open: [
                        count(10).map_err(read)?,
                        count(11).map_err(read)?,
                        count(12).map_err(read)?,
                        count(13).map_err(read)?,
                        count(14).map_err(read)?,
                    ],
                    suppressed: count(15).map_err(read)?,
                };
                scans.insert(id, (organization, as_of));
                rows.scans.push(scan);
            }
        }
        let scan_time = |id: i64| scans.get(&id).map(|(_, t)| *t);
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT o.name, w.principal_name, w.descriptor, c.authorization_id, c.kind, c.valid_from, \
                     c.valid_to, c.created_at, c.first_seen_scan, c.revoked_at, c.revoked_how \
                     FROM credentials c JOIN owners w ON w.id = c.owner_id JOIN organizations o ON o.id = w.organization_id \
                     WHERE ?1 OR o.name = ?2 COLLATE NOCASE",
                )
                .map_err(read)?;
            let mut q = stmt.query(params![all, org]).map_err(read)?;
            while let Some(r) = q.next().map_err(read)? {
                let principal: String = r.get(1).map_err(read)?;
                let descriptor: String = r.get(2).map_err(read)?;
                let kind: String = r.get(4).map_err(read)?;
                let first_seen: i64 = r.get(8).map_err(read)?;
                let revoked_how: Option<String> = r.get(10).map_err(read)?;
                rows.credentials.push(CredentialRow {
                    organization: r.get(0).map_err(read)?,
                    owner: if principal.is_empty() { descriptor } else { principal },
                    authorization_id: r.get(3).map_err(read)?,
                    kind: parse_kind(&kind).ok_or_else(|| self.corrupt("credentials", &kind))?,
                    valid_from: self.opt_time("credentials", r.get(5).map_err(read)?)?,
                    valid_to: self.opt_time("credentials", r.get(6).map_err(read)?)?,
                    created_at: self.opt_time("credentials", r.get(7).map_err(read)?)?,
                    first_seen: scan_time(first_seen).ok_or_else(|| self.corrupt("credentials", &first_seen))?,
                    revoked_at: self.opt_time("credentials", r.get(9).map_err(read)?)?,
                    revoked_how: match revoked_how {
                        Some(how) => Some(RevokedHow::parse(&how).ok_or_else(|| self.corrupt("credentials", &how))?),
                        None => None,
                    },
                });
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT o.name, w.principal_name, w.descriptor, c.authorization_id, f.rule, f.severity, \
                     f.suppressed, f.first_seen_scan, f.ended_scan, f.ending \
                     FROM findings f JOIN organizations o ON o.id = f.organization_id \
                     LEFT JOIN credentials c ON c.id = f.credential_id LEFT JOIN owners w ON w.id = c.owner_id \
                     WHERE ?1 OR o.name = ?2 COLLATE NOCASE",
                )
                .map_err(read)?;
            let mut q = stmt.query(params![all, org]).map_err(read)?;
            while let Some(r) = q.next().map_err(read)? {
                let principal: Option<String> = r.get(1).map_err(read)?;
                let descriptor: Option<String> = r.get(2).map_err(read)?;
                let severity: String = r.get(5).map_err(read)?;
                let first: i64 = r.get(7).map_err(read)?;
                let ended: Option<i64> = r.get(8).map_err(read)?;
                let ending: Option<String> = r.get(9).map_err(read)?;
                rows.findings.push(FindingRow {
                    organization: r.get(0).map_err(read)?,
                    owner: match principal {
                        Some(p) if !p.is_empty() => p,
                        _ => descriptor.unwrap_or_default(),
                    },
                    authorization_id: r.get::<_, Option<String>>(3).map_err(read)?.unwrap_or_default(),
                    rule: r.get(4).map_err(read)?,
                    severity: severity.parse().map_err(|_| self.corrupt("findings", &severity))?,
                    suppressed: r.get(6).map_err(read)?,
                    first_seen: scan_time(first).ok_or_else(|| self.corrupt("findings", &first))?,
                    ended_at: match ended {
                        Some(id) => Some(scan_time(id).ok_or_else(|| self.corrupt("findings", &id))?),
                        None => None,
                    },
                    ending: match ending {
                        Some(e) => Some(Ending::parse(&e).ok_or_else(|| self.corrupt("findings", &e))?),
                        None => None,
                    },
                });
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT p.scan_id, p.wave, p.due, p.pats FROM plan_due p \
                     JOIN scans s ON s.id = p.scan_id JOIN organizations o ON o.id = s.organization_id \
                     WHERE ?1 OR o.name = ?2 COLLATE NOCASE",
                )
                .map_err(read)?;
            let mut q = stmt.query(params![all, org]).map_err(read)?;
            while let Some(r) = q.next().map_err(read)? {
                let scan: i64 = r.get(0).map_err(read)?;
                let wave: String = r.get(1).map_err(read)?;
                let due: String = r.get(2).map_err(read)?;
                let (organization, as_of) = scans.get(&scan).cloned().ok_or_else(|| self.corrupt("plan_due", &scan))?;
                rows.plan.push(PlanRow {
                    organization,
                    as_of,
                    wave: parse_wave(&wave).ok_or_else(|| self.corrupt("plan_due", &wave))?,
                    due: NaiveDate::parse_from_str(&due, "%Y-%m-%d").map_err(|_| self.corrupt("plan_due", &due))?,
                    pats: r.get::<_, i64>(3).map_err(read)?.max(0) as usize,
                });
            }
        }
        Ok(rows)
    }

    fn corrupt(&self, table: &'static str, value: &dyn std::fmt::Display) -> HistoryError {
        HistoryError::Corrupt { path: self.path.clone(), table, value: value.to_string() }
    }

    fn time(&self, table: &'static str, text: &str) -> Result<DateTime<Utc>, HistoryError> {
        DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| self.corrupt(table, &text))
    }

    fn opt_time(&self, table: &'static str, text: Option<String>) -> Result<Option<DateTime<Utc>>, HistoryError> {
        text.map(|t| self.time(table, &t)).transpose()
    }
}

/// Creates `path` readable and writable by its owner only when there is no such file (the
/// history names owners); an existing file keeps its permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// An SQLite error, told apart: a file that is not a database gets its own message.
fn classify(path: &Path, what: &'static str, e: rusqlite::Error) -> HistoryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => HistoryError::NotADatabase { path: path.to_path_buf() },
        _ => HistoryError::Sqlite { path: path.to_path_buf(), what, source: e },
    }
}

/// Adds one organization's scan inside the caller's transaction.
fn add_one(tx: &Transaction<'_>, path: &Path, record: &ScanRecord) -> Result<Added, HistoryError> {
    let sql = |what: &'static str| move |e: rusqlite::Error| classify(path, what, e);
    let write = sql("cannot add the scan");
    let as_of = ts(record.as_of);
    let digest = {
        // A record always serializes (it was read from or written as JSON).
        let json = serde_json::to_vec(record).unwrap_or_default();
        format!("sha256:{}", pat2entra_core::files::sha256_hex(&json))
    };
    tx.execute("INSERT OR IGNORE INTO organizations (name) VALUES (?1)", [&record.organization]).map_err(write)?;
    let org_id: i64 = tx
        .query_row("SELECT id FROM organizations WHERE name = ?1", [&record.organization], |r| r.get(0))
        .map_err(write)?;
    let same: Option<String> = tx
        .query_row("SELECT digest FROM scans WHERE organization_id = ?1 AND as_of = ?2", params![org_id, as_of], |r| {
            r.get(0)
        })
        .optional()
        .map_err(write)?;
    match same {
        Some(d) if d == digest => {
            return Ok(Added { organization: record.organization.clone(), as_of: record.as_of, new: false });
        }
        Some(_) => {
            return Err(HistoryError::Conflict {
                path: path.to_path_buf(),
                organization: record.organization.clone(),
                as_of,
            });
        }
        None => {}
    }
    let latest: Option<String> = tx
        .query_row("SELECT max(as_of) FROM scans WHERE organization_id = ?1", [org_id], |r| r.get(0))
        .map_err(write)?;
    if let Some(latest) = latest {
        let latest_time = DateTime::parse_from_rfc3339(&latest).map(|t| t.with_timezone(&Utc)).ok();
        if latest_time.is_none_or(|t| t > record.as_of) {
            return Err(HistoryError::Older {
                path: path.to_path_buf(),
                organization: record.organization.clone(),
                as_of,
                latest,
            });
        }
    }

    let observation = Observation::new(record);
    let s = &observation.scan;
    tx.execute(
        "INSERT INTO scans (organization_id, as_of, digest, tool_version, coverage_complete, owners_listed, \
         owners_failed, tokens, active_tokens, active_pats, critical, high, medium, low, info, suppressed, added_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            org_id,
            as_of,
            digest,
            s.tool_version,
            s.coverage_complete,
            s.owners_listed as i64,
            s.owners_failed as i64,
            s.tokens as i64,
            s.active_tokens as i64,
            s.active_pats as i64,
            s.open[0] as i64,
            s.open[1] as i64,
            s.open[2] as i64,
            s.open[3] as i64,
            s.open[4] as i64,
            s.suppressed as i64,
            ts(Utc::now()),
        ],
    )
    .map_err(write)?;
    let scan_id = tx.last_insert_rowid();

    // Owners: descriptor -> id, the principal name kept current.
    let mut owners: HashMap<String, (i64, String)> = HashMap::new();
    {
        let mut stmt = tx
            .prepare_cached("SELECT id, descriptor, principal_name FROM owners WHERE organization_id = ?1")
            .map_err(write)?;
        let mut q = stmt.query([org_id]).map_err(write)?;
        while let Some(r) = q.next().map_err(write)? {
            owners.insert(r.get(1).map_err(write)?, (r.get(0).map_err(write)?, r.get(2).map_err(write)?));
        }
    }
    {
        let mut insert = tx
            .prepare_cached("INSERT INTO owners (organization_id, descriptor, principal_name) VALUES (?1, ?2, ?3)")
            .map_err(write)?;
        let mut rename = tx.prepare_cached("UPDATE owners SET principal_name = ?2 WHERE id = ?1").map_err(write)?;
        let mut ensure = |descriptor: &str, principal: &str| -> Result<(), rusqlite::Error> {
            match owners.get_mut(descriptor) {
                Some((id, name)) => {
                    if name != principal && !principal.is_empty() {
                        rename.execute(params![*id, principal])?;
                        *name = principal.to_string();
                    }
                }
                None => {
                    insert.execute(params![org_id, descriptor, principal])?;
                    owners.insert(descriptor.to_string(), (tx.last_insert_rowid(), principal.to_string()));
                }
            }
            Ok(())
        };
        for (descriptor, principal) in &observation.owners {
            ensure(descriptor, principal).map_err(write)?;
        }
        // Tokens and findings of an owner the record does not list (it should not happen).
        for descriptor in observation
            .credentials
            .iter()
            .map(|c| &c.owner)
            .chain(observation.findings.iter().map(|f| &f.key.owner).filter(|o| !o.is_empty()))
        {
            ensure(descriptor, "").map_err(write)?;
        }
    }

    // Credentials: (owner id, authorization id) -> what is stored.
    struct Stored {
        id: i64,
        valid_to: Option<String>,
        created_at: Option<String>,
        state: String,
        revoked_how: Option<String>,
    }
    let mut credentials: HashMap<(i64, String), Stored> = HashMap::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT c.id, c.owner_id, c.authorization_id, c.valid_to, c.created_at, c.state, c.revoked_how \
                 FROM credentials c JOIN owners w ON w.id = c.owner_id WHERE w.organization_id = ?1",
            )
            .map_err(write)?;
        let mut q = stmt.query([org_id]).map_err(write)?;
        while let Some(r) = q.next().map_err(write)? {
            credentials.insert(
                (r.get(1).map_err(write)?, r.get(2).map_err(write)?),
                Stored {
                    id: r.get(0).map_err(write)?,
                    valid_to: r.get(3).map_err(write)?,
                    created_at: r.get(4).map_err(write)?,
                    state: r.get(5).map_err(write)?,
                    revoked_how: r.get(6).map_err(write)?,
                },
            );
        }
    }
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO credentials (owner_id, authorization_id, kind, valid_from, valid_to, created_at, \
                 first_seen_scan, state, revoked_at, revoked_how) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(write)?;
        let mut update = tx
            .prepare_cached("UPDATE credentials SET valid_to = ?2, created_at = ?3, state = ?4 WHERE id = ?1")
            .map_err(write)?;
        let mut revoke = tx
            .prepare_cached("UPDATE credentials SET revoked_at = ?2, revoked_how = ?3 WHERE id = ?1")
            .map_err(write)?;
        for c in &observation.credentials {
            let owner_id = owners[&c.owner].0;
            let valid_to = c.valid_to.map(ts);
            let created_at = c.created_at.map(ts);
            let state = state_str(c.state);
            match credentials.get_mut(&(owner_id, c.authorization_id.clone())) {
                None => {
                    let (revoked_at, how) = match (c.revoked_event, c.state) {
                        (Some(at), _) => (Some(ts(at)), Some(RevokedHow::Audit)),
                        (None, TokenState::Revoked) => (None, Some(RevokedHow::BeforeFirstSeen)),
                        (None, _) => (None, None),
                    };
                    insert
                        .execute(params![
                            owner_id,
                            c.authorization_id,
                            c.kind.as_str(),
                            c.valid_from.map(ts),
                            valid_to,
                            created_at,
                            scan_id,
                            state,
                            revoked_at,
                            how.map(RevokedHow::as_str),
                        ])
                        .map_err(write)?;
                    credentials.insert(
                        (owner_id, c.authorization_id.clone()),
                        Stored {
                            id: tx.last_insert_rowid(),
                            valid_to,
                            created_at,
                            state: state.to_string(),
                            revoked_how: how.map(|h| h.as_str().to_string()),
                        },
                    );
                }
                Some(stored) => {
                    // An event the earlier scans' audit window did not hold is kept once read.
                    let created_at = stored.created_at.clone().or(created_at);
                    if stored.valid_to != valid_to || stored.created_at != created_at || stored.state != state {
                        update.execute(params![stored.id, valid_to, created_at, state]).map_err(write)?;
                        stored.valid_to = valid_to;
                        stored.created_at = created_at;
                        stored.state = state.to_string();
                    }
                    let audit = Some(RevokedHow::Audit.as_str());
                    let revocation = match (c.revoked_event, c.state) {
                        (Some(at), _) if stored.revoked_how.as_deref() != audit => {
                            Some((Some(ts(at)), RevokedHow::Audit))
                        }
                        (None, TokenState::Revoked) if stored.revoked_how.is_none() => {
                            Some((Some(as_of.clone()), RevokedHow::Observed))
                        }
                        _ => None,
                    };
                    if let Some((at, how)) = revocation {
                        revoke.execute(params![stored.id, at, how.as_str()]).map_err(write)?;
                        stored.revoked_how = Some(how.as_str().to_string());
                    }
                }
            }
        }
    }

    // Findings: the open episodes of the organization, advanced by this scan.
    let by_id: HashMap<i64, String> = owners.iter().map(|(d, (id, _))| (*id, d.clone())).collect();
    let mut open: Vec<OpenEpisode> = Vec::new();
    let mut open_rows: Vec<(i64, String)> = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT f.id, c.owner_id, c.authorization_id, f.rule, f.suppressed, f.severity, c.kind FROM findings f \
                 LEFT JOIN credentials c ON c.id = f.credential_id \
                 WHERE f.organization_id = ?1 AND f.ended_scan IS NULL",
            )
            .map_err(write)?;
        let mut q = stmt.query([org_id]).map_err(write)?;
        while let Some(r) = q.next().map_err(write)? {
            let owner_id: Option<i64> = r.get(1).map_err(write)?;
            open.push(OpenEpisode {
                key: FindingKey {
                    owner: owner_id.and_then(|id| by_id.get(&id).cloned()).unwrap_or_default(),
                    authorization_id: r.get::<_, Option<String>>(2).map_err(write)?.unwrap_or_default(),
                    rule: r.get(3).map_err(write)?,
                },
                suppressed: r.get(4).map_err(write)?,
                ssh: r.get::<_, Option<String>>(6).map_err(write)?.as_deref().and_then(parse_kind)
                    == Some(CredentialKind::Ssh),
            });
            open_rows.push((r.get(0).map_err(write)?, r.get(5).map_err(write)?));
        }
    }
    let changes = advance(&open, &observation);
    {
        let mut end =
            tx.prepare_cached("UPDATE findings SET ended_scan = ?2, ending = ?3 WHERE id = ?1").map_err(write)?;
        for (i, how) in &changes.ended {
            end.execute(params![open_rows[*i].0, scan_id, how.as_str()]).map_err(write)?;
        }
        let mut reseverity = tx.prepare_cached("UPDATE findings SET severity = ?2 WHERE id = ?1").map_err(write)?;
        for (i, severity) in &changes.continued {
            if open_rows[*i].1 != severity.as_str() {
                reseverity.execute(params![open_rows[*i].0, severity.as_str()]).map_err(write)?;
            }
        }
        let mut start = tx
            .prepare_cached(
                "INSERT INTO findings (organization_id, credential_id, rule, severity, suppressed, first_seen_scan) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(write)?;
        let mut orphan = tx
            .prepare_cached(
                "INSERT INTO credentials (owner_id, authorization_id, kind, first_seen_scan, state) \
                 VALUES (?1, ?2, 'pat', ?3, 'active')",
            )
            .map_err(write)?;
        for i in &changes.started {
            let f = &observation.findings[*i];
            let credential = if f.key.owner.is_empty() && f.key.authorization_id.is_empty() {
                None
            } else {
                let owner_id = owners[&f.key.owner].0;
                match credentials.get(&(owner_id, f.key.authorization_id.clone())) {
                    Some(stored) => Some(stored.id),
                    // A finding about a token the record does not list (it should not happen):
                    // kept, under a credential of its own.
                    None => {
                        orphan.execute(params![owner_id, f.key.authorization_id, scan_id]).map_err(write)?;
                        let id = tx.last_insert_rowid();
                        credentials.insert(
                            (owner_id, f.key.authorization_id.clone()),
                            Stored { id, valid_to: None, created_at: None, state: "active".into(), revoked_how: None },
                        );
                        Some(id)
                    }
                }
            };
            start
                .execute(params![org_id, credential, f.key.rule, f.severity.as_str(), f.suppressed, scan_id])
                .map_err(write)?;
        }
    }
    {
        let mut plan = tx
            .prepare_cached("INSERT INTO plan_due (scan_id, wave, due, pats) VALUES (?1, ?2, ?3, ?4)")
            .map_err(write)?;
        for (wave, due, n) in &observation.plan {
            plan.execute(params![scan_id, wave_str(*wave), due.format("%Y-%m-%d").to_string(), *n as i64])
                .map_err(write)?;
        }
    }
    Ok(Added { organization: record.organization.clone(), as_of: record.as_of, new: true })
}

#[cfg(test)]
mod tests;
