//! `--checkpoint FILE`: the owners a scan has finished, written as it goes, so a scan stopped by
//! a crash or Ctrl-C continues where it stopped.
//!
//! Format (version 2), one line each: `SUM JSON`, where SUM is the SHA-256 (hex) of the previous
//! line's SUM followed by this line's JSON (the first line: of its JSON alone). The first line is
//! the header: the scan's parameters (organization, `--as-of`, rules, tool version) and when the
//! scan started; each further line is one finished owner with its tokens. A checkpoint is used
//! only by a scan with the same parameters, within `--checkpoint-max-age` of its start, and only
//! if every line checks out: a stale, mismatched or edited checkpoint is refused with the reason.
//! The chain detects edits, reordering and lines copied from elsewhere; it is an integrity check,
//! not a signature (someone who recomputes the sums can forge one). A line that is not complete
//! JSON was cut short by a crash: it is dropped and that owner is scanned again.
//!
//! Each run rewrites the file (header and the good lines) to a private temporary file renamed
//! over the target, then appends to it: an existing file never keeps a wider mode, and a symlink
//! at the path is replaced, not followed.

use chrono::{DateTime, Utc};
use pat2entra_core::evidence::Source;
use pat2entra_core::files::{AtomicFile, InputError, MAX_CHECKPOINT, read_limited, sha256_hex};
use pat2entra_core::inventory::Token;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FORMAT: &str = "pat2entra-checkpoint";
const VERSION: u32 = 2;

/// The parameters of the scan a checkpoint belongs to: only a scan with the same uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointParams {
    pub organization: String,
    /// `--as-of` when given (without it, each run judges as of its own start).
    pub as_of: Option<DateTime<Utc>>,
    /// The rules: `built-in default`, or `sha256:HEX` of the rules file's bytes.
    pub rules: String,
    /// The pat2entra version that wrote it.
    pub tool_version: String,
}

/// Where the checkpoint is, for which scan, and how old it may be.
#[derive(Debug, Clone)]
pub struct CheckpointSettings {
    pub path: PathBuf,
    pub params: CheckpointParams,
    /// A checkpoint started longer ago than this is stale: its tokens may have changed since.
    pub max_age: std::time::Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    #[serde(flatten)]
    params: CheckpointParams,
    /// When the first run of this scan started.
    started: DateTime<Utc>,
}

/// Only what recognises a checkpoint of another version.
#[derive(Debug, Deserialize)]
struct AnyHeader {
    format: String,
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Finished {
    owner: String,
    tokens: Vec<Token>,
    /// Graph membership state, when read (lines written before evidence have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member: Option<bool>,
    /// The per-owner evidence sources read for this owner (`membership`, `ssh`; SSH keys are
    /// among `tokens`). A source asked for but missing here is read again on resume, so lines
    /// written before evidence (or with other `--evidence`) stay usable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    evidence: Vec<Source>,
}

/// What a checkpoint holds for one finished owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishedOwner {
    /// PATs, and SSH keys when `evidence` has `ssh`.
    pub tokens: Vec<Token>,
    pub member: Option<bool>,
    pub evidence: Vec<Source>,
}

/// A checkpoint that cannot be read, used or written. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Read(#[from] InputError),
    /// The file is there but this scan may not use it: `checkpoint X was edited: …`.
    #[error("checkpoint {} {reason}", path.display())]
    Unusable { path: PathBuf, reason: Unusable },
    #[error("cannot write checkpoint {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove checkpoint {}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a checkpoint may not be used; completes "checkpoint FILE …" and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error(
        "was written by an older pat2entra (checkpoint version {version}, without the scan's parameters or checksums); {START_OVER}"
    )]
    Older { version: u32 },
    #[error("is not a pat2entra checkpoint; choose another --checkpoint file")]
    NotACheckpoint,
    #[error("has version {version}, this pat2entra reads version {VERSION}; {START_OVER}")]
    OtherVersion { version: u32 },
    #[error("has a damaged header ({detail}); {START_OVER}")]
    DamagedHeader { detail: String },
    #[error("was edited: its header does not match its checksum; {START_OVER}")]
    EditedHeader,
    #[error("was edited: line {number} does not match its checksum; {START_OVER}")]
    EditedLine { number: usize },
    #[error("was edited: line {number} records an owner a second time; {START_OVER}")]
    OwnerTwice { number: usize },
    #[error("belongs to organization '{theirs}', not '{ours}'; delete it or choose another --checkpoint file")]
    OtherOrganization { theirs: String, ours: String },
    /// `--as-of` differs (each shown as `no --as-of` or `--as-of DATE`).
    #[error("was started with {theirs}, this scan has {ours}; pass the same --as-of, {OR_DELETE}")]
    OtherAsOf { theirs: String, ours: String },
    #[error("was started with other rules ({theirs}; this scan: {ours}); pass the same --rules, {OR_DELETE}")]
    OtherRules { theirs: String, ours: String },
    #[error("was written by pat2entra {theirs}, this is {ours}; {OR_DELETE}")]
    OtherTool { theirs: String, ours: String },
    #[error(
        "was started {} ago ({started}), more than --checkpoint-max-age {}: tokens may have been created or \
         revoked since; delete it to scan afresh, or pass a longer --checkpoint-max-age to use it anyway",
        show_age(*age), show_age(*max_age)
    )]
    TooOld { age: std::time::Duration, started: String, max_age: std::time::Duration },
}

const START_OVER: &str = "delete it to start the scan over";
const OR_DELETE: &str = "or delete it to start the scan over";

/// An open checkpoint: the file new owners are appended to, and the end of its chain.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    /// The SUM of the last line.
    last: String,
    /// Owners recorded: an owner is written once (an owner listed twice is not recorded twice).
    owners: HashSet<String>,
}

/// Opens (or creates) the checkpoint; returns it with the owners it holds.
pub fn open(settings: &CheckpointSettings) -> Result<(Checkpoint, HashMap<String, FinishedOwner>), CheckpointError> {
    open_at(settings, Utc::now())
}

/// `open`, with the current time given.
fn open_at(
    settings: &CheckpointSettings,
    now: DateTime<Utc>,
) -> Result<(Checkpoint, HashMap<String, FinishedOwner>), CheckpointError> {
    let path = &settings.path;
    let existing = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let bytes = if existing { read_limited(path, MAX_CHECKPOINT, "checkpoint")? } else { Vec::new() };
    let (header_line, lines, finished) = if existing {
        pat2entra_core::text::interned(|| read(&bytes, settings, now))
            .map_err(|reason| CheckpointError::Unusable { path: path.clone(), reason })?
    } else {
        let header = Header { format: FORMAT.into(), version: VERSION, params: settings.params.clone(), started: now };
        let json = serde_json::to_string(&header).expect("headers serialize");
        (format!("{} {json}", sha256_hex(json.as_bytes())).into_bytes(), Vec::new(), HashMap::new())
    };
    let cannot_write = |source: std::io::Error| CheckpointError::Write { path: path.clone(), source };
    let mut file = AtomicFile::create(path).map_err(cannot_write)?;
    let mut last = &header_line[..64];
    for line in std::iter::once(header_line.as_slice()).chain(lines.iter().copied()) {
        file.write_all(line).and_then(|_| file.write_all(b"\n")).map_err(cannot_write)?;
        last = &line[..64];
    }
    let last = String::from_utf8_lossy(last).into_owned();
    let file = file.commit_keep_open().map_err(cannot_write)?;
    let owners = finished.keys().cloned().collect();
    let checkpoint = Checkpoint { path: path.clone(), state: Mutex::new(State { file, last, owners }) };
    Ok((checkpoint, finished))
}

/// The header line, the good owner lines (as written) and the owners they hold; or why the
/// checkpoint cannot be used.
#[allow(clippy::type_complexity)]
fn read<'a>(
    bytes: &'a [u8],
    settings: &CheckpointSettings,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<&'a [u8]>, HashMap<String, FinishedOwner>), Unusable> {
    let mut lines = bytes.split(|b| *b == b'\n').enumerate();
    let (_, first) = lines.next().unwrap_or((0, b""));
    let Some((sum, json)) = split_line(first) else {
        return Err(match serde_json::from_slice::<AnyHeader>(first) {
            Ok(h) if h.format == FORMAT => Unusable::Older { version: h.version },
            _ => Unusable::NotACheckpoint,
        });
    };
    let header = match serde_json::from_slice::<AnyHeader>(json) {
        Ok(h) if h.format == FORMAT && h.version != VERSION => {
            return Err(Unusable::OtherVersion { version: h.version });
        }
        Ok(h) if h.format == FORMAT => {
            serde_json::from_slice::<Header>(json).map_err(|e| Unusable::DamagedHeader { detail: e.to_string() })?
        }
        _ => return Err(Unusable::NotACheckpoint),
    };
    if sum != sha256_hex(json) {
        return Err(Unusable::EditedHeader);
    }
    check_params(&header, settings, now)?;

    let mut last = sum.to_string();
    let mut kept = Vec::new();
    let mut finished: HashMap<String, FinishedOwner> = HashMap::new();
    for (i, line) in lines {
        if line.is_empty() {
            continue;
        }
        // Not a complete line: cut short by a crash. That owner is scanned again.
        let Some((sum, json)) = split_line(line) else { continue };
        let Ok(done) = serde_json::from_slice::<Finished>(json) else { continue };
        let number = i + 1;
        if sum != chain(&last, json) {
            return Err(Unusable::EditedLine { number });
        }
        if finished.contains_key(&done.owner) {
            return Err(Unusable::OwnerTwice { number });
        }
        last = sum.to_string();
        kept.push(line);
        finished
            .insert(done.owner, FinishedOwner { tokens: done.tokens, member: done.member, evidence: done.evidence });
    }
    Ok((first.to_vec(), kept, finished))
}

/// The scan's parameters and age against the checkpoint's.
fn check_params(header: &Header, settings: &CheckpointSettings, now: DateTime<Utc>) -> Result<(), Unusable> {
    let (theirs, ours) = (&header.params, &settings.params);
    if !theirs.organization.eq_ignore_ascii_case(&ours.organization) {
        return Err(Unusable::OtherOrganization {
            theirs: theirs.organization.clone(),
            ours: ours.organization.clone(),
        });
    }
    if theirs.as_of != ours.as_of {
        let show =
            |a: &Option<DateTime<Utc>>| a.map_or("no --as-of".to_string(), |d| format!("--as-of {}", d.to_rfc3339()));
        return Err(Unusable::OtherAsOf { theirs: show(&theirs.as_of), ours: show(&ours.as_of) });
    }
    if theirs.rules != ours.rules {
        return Err(Unusable::OtherRules { theirs: theirs.rules.clone(), ours: ours.rules.clone() });
    }
    if theirs.tool_version != ours.tool_version {
        return Err(Unusable::OtherTool { theirs: theirs.tool_version.clone(), ours: ours.tool_version.clone() });
    }
    let age = (now - header.started).to_std().unwrap_or_default();
    if age > settings.max_age {
        return Err(Unusable::TooOld { age, started: header.started.to_rfc3339(), max_age: settings.max_age });
    }
    Ok(())
}

/// `3d 4h`, `25h`, `90m`: an age, to the minute.
pub fn show_age(age: std::time::Duration) -> String {
    let minutes = age.as_secs() / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, minutes) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// `SUM JSON` -> (SUM, JSON), when SUM is 64 hex digits and JSON at least starts like an object.
fn split_line(line: &[u8]) -> Option<(&str, &[u8])> {
    let (sum, rest) = (line.get(..64)?, line.get(64..)?);
    let json = rest.strip_prefix(b" ")?;
    let sum = std::str::from_utf8(sum).ok().filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))?;
    json.starts_with(b"{").then_some((sum, json))
}

/// The SUM of a line after the line whose SUM is `previous`.
fn chain(previous: &str, json: &[u8]) -> String {
    let mut input = Vec::with_capacity(previous.len() + json.len());
    input.extend_from_slice(previous.as_bytes());
    input.extend_from_slice(json);
    sha256_hex(&input)
}

impl Checkpoint {
    /// Records a finished owner (one line, flushed, so a crash loses at most that line). An
    /// owner already recorded is not written again.
    #[cfg(test)]
    pub fn record(&self, owner: &str, tokens: &[Token]) -> Result<(), CheckpointError> {
        self.record_owner(owner, &FinishedOwner { tokens: tokens.to_vec(), ..FinishedOwner::default() })
    }

    /// Records a finished owner with the per-owner evidence read for it.
    pub fn record_owner(&self, owner: &str, done: &FinishedOwner) -> Result<(), CheckpointError> {
        let json = serde_json::to_string(&Finished {
            owner: owner.to_string(),
            tokens: done.tokens.clone(),
            member: done.member,
            evidence: done.evidence.clone(),
        })
        .expect("tokens serialize");
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.owners.insert(owner.to_string()) {
            return Ok(());
        }
        let sum = chain(&state.last, json.as_bytes());
        let State { file, .. } = &mut *state;
        writeln!(file, "{sum} {json}")
            .and_then(|_| file.flush())
            .map_err(|source| CheckpointError::Write { path: self.path.clone(), source })?;
        state.last = sum;
        // After the flush: a test that kills the scan midway waits for this line.
        tracing::trace!(owners = state.owners.len(), "owner recorded in the checkpoint");
        Ok(())
    }
}

/// The scan completed and its result is written: the checkpoint is no longer needed.
pub fn remove(path: &Path) -> Result<(), CheckpointError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CheckpointError::Remove { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::time::Duration;

    fn token(id: &str) -> Token {
        Token {
            authorization_id: id.into(),
            owner: "aad.a".into(),
            display_name: "t".into(),
            scopes: vec!["vso.code".into()],
            all_organizations: false,
            target_accounts: [].into(),
            valid_from: None,
            valid_to: None,
            is_valid: true,
            unreadable: None,
            ..Default::default()
        }
    }

    fn settings(path: &Path, organization: &str) -> CheckpointSettings {
        CheckpointSettings {
            path: path.to_path_buf(),
            params: CheckpointParams {
                organization: organization.into(),
                as_of: None,
                rules: "built-in default".into(),
                tool_version: "0.1.0".into(),
            },
            max_age: Duration::from_secs(24 * 3600),
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    #[test]
    fn records_survive_a_crash_mid_line_and_refuse_another_organization() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.checkpoint");
        let (cp, done) = open(&settings(&path, "fabrikam")).unwrap();
        assert!(done.is_empty());
        cp.record("aad.a", &[token("1"), token("2")]).unwrap();
        cp.record("aad.b", &[]).unwrap();
        cp.record("aad.b", &[token("9")]).unwrap();
        drop(cp);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3, "an owner is written once");
        // A crash while writing the next line.
        append(&path, b"0123456789012345678901234567890123456789012345678901234567890123 {\"owner\":\"aad.c\",\"tok");
        let (cp, done) = open(&settings(&path, "Fabrikam")).unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done["aad.a"].tokens.len(), 2);
        cp.record("aad.c", &[token("3")]).unwrap();
        drop(cp);
        let (cp, done) = open(&settings(&path, "fabrikam")).unwrap();
        assert_eq!(done.len(), 3, "the owner after the cut line is read");
        drop(cp);
        let e = open(&settings(&path, "contoso")).unwrap_err().to_string();
        assert!(e.contains("belongs to organization 'fabrikam'"), "{e}");
        // A line cut inside a multi-byte character hides nothing after it.
        append(&path, b"{\"owner\":\"aad.\xc3");
        let (cp, _) = open(&settings(&path, "fabrikam")).unwrap();
        cp.record("aad.d", &[]).unwrap();
        drop(cp);
        let (_, done) = open(&settings(&path, "fabrikam")).unwrap();
        assert!(done.contains_key("aad.d"), "{:?}", done.keys());
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
        std::fs::write(&path, "hello\n").unwrap();
        assert!(open(&settings(&path, "fabrikam")).unwrap_err().to_string().contains("not a pat2entra checkpoint"));
    }

    #[test]
    fn edits_duplicates_and_old_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.checkpoint");
        let (cp, _) = open(&settings(&path, "fabrikam")).unwrap();
        cp.record("aad.a", &[token("1")]).unwrap();
        cp.record("aad.b", &[token("2")]).unwrap();
        drop(cp);
        let good = std::fs::read_to_string(&path).unwrap();

        // A hand edit that stays valid JSON.
        std::fs::write(&path, good.replace("\"is_valid\":true", "\"is_valid\":false")).unwrap();
        let e = open(&settings(&path, "fabrikam")).unwrap_err().to_string();
        assert!(e.contains("was edited: line 2 does not match its checksum"), "{e}");
        // The header's parameters edited.
        std::fs::write(&path, good.replace("\"0.1.0\"", "\"0.1.1\"")).unwrap();
        assert!(open(&settings(&path, "fabrikam")).unwrap_err().to_string().contains("its header does not match"));
        // A line removed from the middle breaks the chain.
        let lines: Vec<&str> = good.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(open(&settings(&path, "fabrikam")).unwrap_err().to_string().contains("line 2 does not match"));
        // A second line for an owner, with a valid checksum: still an edit, not an override.
        let json = lines[1].split_once(' ').unwrap().1;
        let again = format!("{} {json}", chain(&lines[2][..64], json.as_bytes()));
        std::fs::write(&path, format!("{good}{again}\n")).unwrap();
        let e = open(&settings(&path, "fabrikam")).unwrap_err().to_string();
        assert!(e.contains("line 4 records an owner a second time"), "{e}");
        // The format before parameters and checksums.
        std::fs::write(&path, "{\"format\":\"pat2entra-checkpoint\",\"version\":1,\"organization\":\"fabrikam\"}\n")
            .unwrap();
        let e = open(&settings(&path, "fabrikam")).unwrap_err().to_string();
        assert!(e.contains("older pat2entra (checkpoint version 1") && e.contains("delete it"), "{e}");
    }

    #[test]
    fn stale_or_mismatched_checkpoints_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.checkpoint");
        let start = Utc::now() - chrono::Duration::days(14);
        let (cp, _) = open_at(&settings(&path, "fabrikam"), start).unwrap();
        cp.record("aad.a", &[token("1")]).unwrap();
        drop(cp);
        let e = open(&settings(&path, "fabrikam")).unwrap_err().to_string();
        assert!(e.contains("was started 14d ago") && e.contains("--checkpoint-max-age 1d"), "{e}");
        let mut longer = settings(&path, "fabrikam");
        longer.max_age = Duration::from_secs(30 * 24 * 3600);
        let (_, done) = open(&longer).unwrap();
        assert_eq!(done.len(), 1, "a longer --checkpoint-max-age accepts it");

        let mut other = longer.clone();
        other.params.rules = "sha256:00".into();
        let e = open(&other).unwrap_err().to_string();
        assert!(e.contains("other rules (built-in default; this scan: sha256:00)"), "{e}");
        let mut other = longer.clone();
        other.params.as_of = Some("2026-11-26T00:00:00Z".parse().unwrap());
        let e = open(&other).unwrap_err().to_string();
        assert!(e.contains("was started with no --as-of, this scan has --as-of 2026-11-26T00:00:00+00:00"), "{e}");
        let mut other = longer.clone();
        other.params.tool_version = "9.9.9".into();
        assert!(open(&other).unwrap_err().to_string().contains("written by pat2entra 0.1.0, this is 9.9.9"));
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_checkpoint_becomes_private_and_a_symlink_is_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.checkpoint");
        let (cp, _) = open(&settings(&path, "fabrikam")).unwrap();
        cp.record("aad.a", &[token("1")]).unwrap();
        drop(cp);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, done) = open(&settings(&path, "fabrikam")).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "").unwrap();
        let link = dir.path().join("link.checkpoint");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let (cp, _) = open(&settings(&link, "fabrikam")).unwrap();
        cp.record("aad.a", &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "", "the symlink's target is untouched");
        assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    }
}
