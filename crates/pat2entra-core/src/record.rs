//! The scan record: the canonical, versioned result of a scan (what `--output json` writes and
//! what later commands read back).

use crate::finding::{Finding, Severity};
use crate::guidance::{self, Guidance, TokenUsage};
use crate::inventory::{Coverage, Inventory, Owner, Token, TokenState};
use crate::rules::{Evaluation, ExceptionReport, RuleInfo, RuleSet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Version of the record's shape. Bump on any change a reader could notice.
/// 2: evidence of use (`evidence`; owners' `last_accessed`, `member`, `access_level`;
/// credentials' `kind`, `last_seen`, `events`, always written) and organization findings
/// (`scope`).
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest version still read. A version-1 record has no evidence: it loads with none (every
/// credential a PAT, nothing read), so no evidence rule fires on it, and is written back as the
/// current version.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

pub(crate) fn readable(version: u64) -> bool {
    (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&version)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub organization: String,
    /// The moment the rules judged the tokens against (`--as-of`, or the time of the scan).
    pub as_of: DateTime<Utc>,
    pub coverage: Coverage,
    /// What the evidence sources said about the organization, and how much of each was read.
    /// Always written (`sources` empty: no evidence was asked for, or a version-1 record).
    #[serde(default)]
    pub evidence: crate::evidence::Evidence,
    /// What the scan assumed about the service where Microsoft's documents leave it open, and
    /// where each reading came from (absent from records written before it existed).
    #[serde(default, skip_serializing_if = "crate::service::ServiceBehaviour::is_empty")]
    pub service: crate::service::ServiceBehaviour,
    pub summary: Summary,
    pub owners: Vec<Owner>,
    pub tokens: Vec<Token>,
    /// Every finding, suppressed ones included (marked `suppressed`); organization findings
    /// (`scope: organization`, tenant policies) name no owner or token.
    pub findings: Vec<Finding>,
    /// The rules that judged the tokens.
    pub rules: Vec<RuleInfo>,
    /// What became of each exception of the rules file.
    pub exceptions: Vec<ExceptionReport>,
    /// For every token: its inferred use (with confidence and evidence) and its guidance id.
    pub usage: Vec<TokenUsage>,
    /// The full text of every guidance entry the findings and usages refer to.
    pub guidance: Vec<Guidance>,
    /// Set by `--redact`: names are keyed pseudonyms, and whether they compare across runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<crate::redact::Redaction>,
    /// Set on one part of a sharded scan (`scan --shard I/N`); `merge` recombines the parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::tenant::Shard>,
    /// Lookups by id, built on first use (reports look up owners and tokens per finding).
    #[serde(skip)]
    index: Index,
}

/// Positions of owners, tokens and usages by id, and findings per token. A token is the pair
/// (owner, authorization id): one id may be listed under two owners (a coverage warning), and
/// each keeps its own findings and usage. Ids map to every position holding them; lookups pick
/// the owner's (duplicates are rare, so this stays linear).
#[derive(Debug, Default)]
struct Positions {
    owners: Lookup,
    tokens: Lookup,
    usage: Lookup,
    findings: Lookup,
    guidance: Lookup,
}

/// Positions by a hash of their id, sorted: 12 bytes a position, where a map of id strings to
/// vectors of positions took about 150 (a copy of each id, a vector, the map's slot) and was
/// most of the memory `report` needs beyond the record. The hash only narrows the search:
/// callers compare the ids themselves, so a collision costs a comparison, never a wrong answer.
/// A key is an id (`&str`) or a pair of them; `new` and `get` must be given the same kind.
#[derive(Debug, Default)]
pub(crate) struct Lookup(Vec<(u64, u32)>);

impl Lookup {
    pub(crate) fn new<K: std::hash::Hash>(keys: impl Iterator<Item = K>) -> Self {
        let mut entries: Vec<(u64, u32)> = keys.enumerate().map(|(i, key)| (key_hash(key), i as u32)).collect();
        entries.sort_unstable();
        entries.shrink_to_fit();
        Lookup(entries)
    }

    /// Positions whose key may be `key`, in ascending order.
    pub(crate) fn get<K: std::hash::Hash>(&self, key: K) -> impl Iterator<Item = usize> + '_ {
        let hash = key_hash(key);
        let from = self.0.partition_point(|(h, _)| *h < hash);
        self.0[from..].iter().take_while(move |(h, _)| *h == hash).map(|(_, i)| *i as usize)
    }
}

fn key_hash<K: std::hash::Hash>(key: K) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// A lazily built `Positions`. It is derived data: it never takes part in equality, and a clone
/// starts without one. Ids are never changed after a record is built (`--redact` changes names).
#[derive(Default)]
struct Index(OnceLock<Positions>);

impl Clone for Index {
    fn clone(&self) -> Self {
        Index::default()
    }
}

impl PartialEq for Index {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub owners: usize,
    pub tokens: usize,
    pub active_tokens: usize,
    pub expired_tokens: usize,
    pub revoked_tokens: usize,
    /// Tokens with at least one unsuppressed finding.
    pub flagged_tokens: usize,
    /// Unsuppressed finding counts by severity, every severity present.
    pub findings_by_severity: BTreeMap<Severity, usize>,
    /// Findings accepted by an exception (kept in `findings`, not counted above).
    pub suppressed_findings: usize,
    /// Unsuppressed findings about the organization as a whole (tenant policies); counted in
    /// `findings_by_severity` too, never in `flagged_tokens`.
    #[serde(default)]
    pub organization_findings: usize,
}

impl Summary {
    /// Open findings per severity, most severe first: `3 critical, 0 high, 1 medium, 0 low, 0 info`.
    pub fn severity_counts(&self) -> String {
        crate::finding::severity_counts(&self.findings_by_severity)
    }
}

impl ScanRecord {
    /// Judges an inventory: rules, then guidance. Pure: the same inputs give the same record.
    pub fn judge(inventory: Inventory, rules: &RuleSet, as_of: DateTime<Utc>) -> Self {
        let mut evaluation = rules.evaluate(&inventory, as_of);
        let usage = guidance::advise(&inventory, &mut evaluation.findings);
        let mut described = rules.describe();
        // Not a rule of the rules file, but reports explain every rule a finding names.
        if evaluation.findings.iter().any(|f| f.rule == crate::rules::UNREADABLE_TOKEN) {
            described.push(RuleInfo {
                id: crate::rules::UNREADABLE_TOKEN.into(),
                severity: crate::rules::UNREADABLE_TOKEN_SEVERITY,
                rationale: crate::rules::UNREADABLE_TOKEN_RATIONALE.into(),
                deadline: None,
            });
        }
        ScanRecord::new(inventory, evaluation, usage, described, as_of)
    }

    pub fn new(
        inventory: Inventory,
        evaluation: Evaluation,
        usage: Vec<TokenUsage>,
        rules: Vec<RuleInfo>,
        as_of: DateTime<Utc>,
    ) -> Self {
        let Evaluation { findings, exceptions } = evaluation;
        let count = |state| inventory.tokens.iter().filter(|t| t.state(as_of) == state).count();
        let open = || findings.iter().filter(|f| !f.is_suppressed());
        // A token is (owner, id): two owners sharing an id are two flagged tokens. Counted over
        // the findings' positions (4 bytes each, not a pair of references).
        let key = |i: &u32| {
            let f = &findings[*i as usize];
            (f.owner.as_str(), f.authorization_id.as_str())
        };
        let mut flagged: Vec<u32> = (0..findings.len() as u32)
            .filter(|i| !findings[*i as usize].is_suppressed() && !findings[*i as usize].is_organization())
            .collect();
        flagged.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        flagged.dedup_by(|a, b| key(a) == key(b));
        let mut by_severity: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for f in open() {
            *by_severity.entry(f.severity).or_default() += 1;
        }
        let summary = Summary {
            owners: inventory.owners.len(),
            tokens: inventory.tokens.len(),
            active_tokens: count(TokenState::Active),
            expired_tokens: count(TokenState::Expired),
            revoked_tokens: count(TokenState::Revoked),
            flagged_tokens: flagged.len(),
            findings_by_severity: by_severity,
            suppressed_findings: findings.len() - open().count(),
            organization_findings: open().filter(|f| f.is_organization()).count(),
        };
        ScanRecord {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo { name: "pat2entra".into(), version: env!("CARGO_PKG_VERSION").into() },
            organization: inventory.organization,
            as_of,
            coverage: inventory.coverage,
            evidence: inventory.evidence,
            service: inventory.service,
            summary,
            owners: inventory.owners,
            tokens: inventory.tokens,
            guidance: guidance::referenced(&findings, &usage),
            findings,
            rules,
            exceptions,
            usage,
            redaction: None,
            shard: None,
            index: Index::default(),
        }
    }

    fn positions(&self) -> &Positions {
        self.index.0.get_or_init(|| Positions {
            owners: Lookup::new(self.owners.iter().map(|o| o.descriptor.as_str())),
            tokens: Lookup::new(self.tokens.iter().map(|t| t.authorization_id.as_str())),
            usage: Lookup::new(self.usage.iter().map(|u| u.authorization_id.as_str())),
            findings: Lookup::new(self.findings.iter().map(|f| f.authorization_id.as_str())),
            guidance: Lookup::new(self.guidance.iter().map(|g| g.id.as_str())),
        })
    }

    /// Every finding (suppressed ones included) of one token: the owner's, never another
    /// owner's token with the same id.
    pub fn findings_of<'a>(&'a self, owner: &'a str, authorization_id: &str) -> impl Iterator<Item = &'a Finding> {
        self.positions()
            .findings
            .get(authorization_id)
            .map(|i| &self.findings[i])
            .filter(move |f| f.owner == owner && f.authorization_id == authorization_id)
    }

    /// Findings not accepted by an exception: what gating and summaries count.
    pub fn open_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_suppressed())
    }

    /// The guidance entry with this id, from the record itself.
    pub fn guidance(&self, id: &str) -> Option<&Guidance> {
        self.positions().guidance.get(id).map(|i| &self.guidance[i]).find(|g| g.id == id)
    }

    /// The inferred use of one token of one owner. A record written before usages named their
    /// owner matches on the id alone.
    pub fn usage(&self, owner: &str, authorization_id: &str) -> Option<&TokenUsage> {
        self.positions()
            .usage
            .get(authorization_id)
            .map(|i| &self.usage[i])
            .find(|u| u.authorization_id == authorization_id && (u.owner == owner || u.owner.is_empty()))
    }

    /// Reads a saved scan (`--output json`, at most `files::MAX_SAVED_SCAN` bytes), checking its
    /// schema version. A regular file is deserialized as it streams in, so memory holds the
    /// record only (about 1.2 times the file's size), never the file's text beside it; a file
    /// that fails is read again to say why (schema version, or line, column and JSON path).
    /// A pipe is read into memory first.
    pub fn load(path: &std::path::Path) -> Result<Self, LoadError> {
        use crate::files::{MAX_SAVED_SCAN, open_limited, read_limited};
        let name = path.display().to_string();
        let diagnose = || {
            let bytes = read_limited(path, MAX_SAVED_SCAN, "saved scan")?;
            Self::from_json(&bytes, &name)
        };
        let Some(reader) = open_limited(path, MAX_SAVED_SCAN, "saved scan")? else {
            return diagnose();
        };
        // Inside `interned`: each descriptor, id and repeated value is one allocation.
        if let Some(record) = crate::text::interned(|| Self::read_streamed(reader)) {
            return match readable(u64::from(record.schema_version)) {
                true => Ok(record.upgraded()),
                false => Err(LoadError::Version { name, found: record.schema_version.to_string() }),
            };
        }
        // Not of the usual shape: read as serde_json reads any document, which says what is wrong.
        let Some(reader) = open_limited(path, MAX_SAVED_SCAN, "saved scan")? else {
            return diagnose();
        };
        match crate::text::interned(|| serde_json::from_reader::<_, ScanRecord>(reader)) {
            Ok(record) if readable(u64::from(record.schema_version)) => Ok(record.upgraded()),
            Ok(record) => Err(LoadError::Version { name, found: record.schema_version.to_string() }),
            // The same bytes, now in memory, for a message that locates the problem.
            Err(e) => match diagnose() {
                Err(error) => Err(error),
                Ok(_) => Err(LoadError::Json { name, line: 0, column: 0, path: String::new(), message: e.to_string() }),
            },
        }
    }

    /// A saved scan read with its four large arrays (owners, tokens, findings, usage) cut
    /// into elements, each parsed from memory (`json_stream`); `None` when the file is not
    /// shaped as a record or does not parse (the caller then reads it the usual way).
    fn read_streamed(reader: impl std::io::BufRead) -> Option<ScanRecord> {
        let (mut owners, mut tokens, mut findings, mut usage) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let rest =
            crate::json_stream::split_object(reader, &["owners", "tokens", "findings", "usage"], |field, bytes| {
                match field {
                    0 => owners.push(serde_json::from_slice(bytes).ok()?),
                    1 => tokens.push(serde_json::from_slice(bytes).ok()?),
                    2 => findings.push(serde_json::from_slice(bytes).ok()?),
                    _ => usage.push(serde_json::from_slice(bytes).ok()?),
                }
                Some(())
            })?;
        let mut record: ScanRecord = serde_json::from_slice(&rest).ok()?;
        (record.owners, record.tokens, record.findings, record.usage) = (owners, tokens, findings, usage);
        Some(record)
    }

    /// Parses a saved scan from its bytes; `name` is the file name for messages.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self, LoadError> {
        // A byte-order mark (some editors add one) is not part of the JSON.
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let located = |e: serde_json::Error, what: &str| load_error(bytes, name, &e, what);
        let not_a_scan = || LoadError::NotAScan { name: name.to_string() };
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
            return Err(not_a_scan());
        }
        #[derive(Deserialize)]
        struct Probe {
            schema_version: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => not_a_scan(),
            _ => located(e, "not JSON: "),
        })?;
        match probe.schema_version {
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some_and(readable) => {}
            Some(serde_json::Value::Number(n)) => {
                return Err(LoadError::Version { name: name.to_string(), found: n.to_string() });
            }
            Some(other) => {
                return Err(LoadError::VersionType {
                    name: name.to_string(),
                    kind: json_kind(&other),
                    found: other.to_string(),
                });
            }
            None => return Err(LoadError::NoSchemaVersion { name: name.to_string() }),
        }
        crate::text::interned(|| serde_json::from_slice::<ScanRecord>(bytes))
            .map(ScanRecord::upgraded)
            .map_err(|e| located(e, ""))
    }

    /// A record of an older readable version, as the current version: the fields it lacks
    /// already read as "nothing known" (no evidence sources, every credential a PAT).
    fn upgraded(mut self) -> Self {
        self.schema_version = SCHEMA_VERSION;
        self
    }

    /// The organization's findings (tenant policies), suppressed ones included.
    pub fn organization_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_organization())
    }

    pub fn owner(&self, descriptor: &str) -> Option<&Owner> {
        self.positions().owners.get(descriptor).map(|i| &self.owners[i]).find(|o| o.descriptor == descriptor)
    }

    /// The token of this owner with this id.
    pub fn token(&self, owner: &str, authorization_id: &str) -> Option<&Token> {
        self.positions()
            .tokens
            .get(authorization_id)
            .map(|i| &self.tokens[i])
            .find(|t| t.owner == owner && t.authorization_id == authorization_id)
    }

    /// The principal name of an owner, or its descriptor when unknown.
    pub fn owner_label(&self, descriptor: &str) -> String {
        self.owner(descriptor)
            .map(|o| if o.principal_name.is_empty() { o.display_name.clone() } else { o.principal_name.to_string() })
            .unwrap_or_else(|| descriptor.to_string())
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    fn token(owner: &str, id: &str, scope: &str) -> Token {
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: format!("{owner}-{id}"),
            scopes: vec![scope.into()],
            all_organizations: false,
            target_accounts: ["o".into()].into(),
            valid_from: None,
            valid_to: None,
            is_valid: true,
            unreadable: None,
            ..Default::default()
        }
    }

    #[test]
    fn lookups_are_by_owner_and_id_and_old_usages_still_match() {
        let inventory = Inventory {
            organization: "o".into(),
            owners: vec![],
            tokens: vec![token("aad.a", "x", "app_token"), token("aad.b", "x", "vso.code")],
            coverage: Coverage::new(2, 2, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        let as_of = "2026-11-26T00:00:00Z".parse().unwrap();
        let mut record = ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of);
        assert_eq!(record.token("aad.b", "x").unwrap().display_name, "aad.b-x");
        assert_eq!(record.token("aad.a", "x").unwrap().display_name, "aad.a-x");
        assert!(record.token("aad.c", "x").is_none());
        assert!(record.findings_of("aad.a", "x").any(|f| f.rule == "full-access"));
        assert!(record.findings_of("aad.b", "x").all(|f| f.rule != "full-access" && f.owner == "aad.b"));
        assert_eq!(record.usage("aad.b", "x").unwrap().owner, "aad.b");
        assert!(record.summary.flagged_tokens >= 1);
        // A record written before usages named their owner: the id alone matches.
        for u in &mut record.usage {
            u.owner = crate::Text::default();
        }
        let reloaded: ScanRecord = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
        assert!(reloaded.usage("aad.b", "x").is_some());
    }
}

/// "string", "boolean", … for messages about a value of the wrong type.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A saved scan that cannot be read back. Each message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    File(#[from] crate::files::InputError),
    #[error("{name} is not a pat2entra scan (not a JSON object); create one with `pat2entra scan -o json --out FILE`")]
    NotAScan { name: String },
    #[error("{name} is not a pat2entra scan (no schema_version); create one with `pat2entra scan -o json --out FILE`")]
    NoSchemaVersion { name: String },
    #[error(
        "{name} has schema_version {found}; this pat2entra reads versions {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}: rescan, or use the matching pat2entra"
    )]
    Version { name: String, found: String },
    #[error("{name}: schema_version {SCHEMA_VERSION} (or {OLDEST_SCHEMA_VERSION}) expected, found {kind} {found}")]
    VersionType { name: String, kind: &'static str, found: String },
    /// Not JSON, or JSON of the wrong shape: `scan.json:12:7: tokens[3].is_valid: invalid type: …`
    /// (`line` 0: no position known). `path` ends with `: ` when there is one; `message` is
    /// serde's, without its own position.
    #[error("{name}{}: {path}{message}", if *line == 0 { String::new() } else { format!(":{line}:{column}") })]
    Json { name: String, line: usize, column: usize, path: String, message: String },
}

/// `scan.json:12:7: tokens[3].is_valid: invalid type: …`: serde's message with the file, line
/// and column in front and the JSON path of the value there.
pub(crate) fn load_error(bytes: &[u8], name: &str, e: &serde_json::Error, what: &str) -> LoadError {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    let (line, column) = (e.line(), e.column());
    let json = |path: String| LoadError::Json {
        name: name.to_string(),
        line,
        column,
        path,
        message: format!("{what}{message}"),
    };
    if line == 0 {
        return json(String::new());
    }
    let path = json_path_at(bytes, line, column).filter(|p| !p.is_empty() && what.is_empty());
    json(path.map(|p| format!("{p}: ")).unwrap_or_default())
}

/// The JSON path (`tokens[3].is_valid`) of the value being read at a 1-based line and column, by
/// a light scan of the text up to there (keys, indices, strings; no values are built).
fn json_path_at(bytes: &[u8], line: usize, column: usize) -> Option<String> {
    enum Frame {
        Object { key: Option<String>, reading_key: bool },
        Array { index: usize },
    }
    let line_start =
        if line <= 1 { 0 } else { bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(line - 2)?.0 + 1 };
    let end = (line_start + column).min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(Frame::Object { key, reading_key: reading @ true }) = stack.last_mut() {
                    let raw = &bytes[start..i.min(bytes.len())];
                    *key = Some(
                        serde_json::from_slice::<String>(&[b"\"", raw, b"\""].concat())
                            .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned()),
                    );
                    *reading = false;
                }
            }
            b'{' => stack.push(Frame::Object { key: None, reading_key: true }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { reading_key, .. }) => *reading_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(key), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    Some(path)
}

#[cfg(test)]
mod load_tests {
    use super::*;

    fn sample() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sample-reports/demo-scan.json")).unwrap()
    }

    /// Loading a file cuts its large arrays into elements (`json_stream`): the record is the
    /// one parsed whole. A file of another shape (here a key written with an escape, which
    /// the cutting does not read) is read the usual way, to the same record; a broken one still
    /// gets its located message.
    #[test]
    fn a_file_loads_as_the_record_parsed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let whole = ScanRecord::from_json(sample().as_bytes(), "scan.json").unwrap();
        assert!(!whole.tokens.is_empty() && !whole.findings.is_empty() && !whole.usage.is_empty());
        let path = dir.path().join("scan.json");
        std::fs::write(&path, sample()).unwrap();
        assert_eq!(ScanRecord::load(&path).unwrap(), whole);
        // Compact (no whitespace), and with each member on a line of its own.
        let value: serde_json::Value = serde_json::from_str(&sample()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        assert_eq!(ScanRecord::load(&path).unwrap(), whole);
        let escaped = sample().replacen("\"owners\": [", "\"\\u006fwners\": [", 1);
        assert_ne!(escaped, sample());
        assert!(crate::text::interned(|| ScanRecord::read_streamed(escaped.as_bytes())).is_none());
        std::fs::write(&path, &escaped).unwrap();
        assert_eq!(ScanRecord::load(&path).unwrap(), whole);
        let broken = sample().replacen("\"tokens\": [", "\"tokens\": [7, ", 1);
        std::fs::write(&path, &broken).unwrap();
        let e = ScanRecord::load(&path).unwrap_err().to_string();
        assert!(e.contains("tokens[0]"), "{e}");
    }

    /// Deep nesting inside an element (an unknown member of a usage entry, which serde
    /// buffers whole) meets serde_json's recursion limit when the file is parsed whole: a
    /// file loads to the same verdict.
    #[test]
    fn load_agrees_with_the_whole_parse_on_deep_nesting() {
        let nested = format!("{}{}", "[".repeat(125), "]".repeat(125));
        let edited = sample().replacen("\"use\": \"", &format!("\"zz\": {nested}, \"use\": \""), 1);
        assert_ne!(edited, sample());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.json");
        std::fs::write(&path, &edited).unwrap();
        let name = path.display().to_string();
        let whole = ScanRecord::from_json(edited.as_bytes(), &name).map(|_| ()).map_err(|e| e.to_string());
        assert!(whole.as_ref().is_err_and(|e| e.contains("recursion limit exceeded")), "{whole:?}");
        let loaded = ScanRecord::load(&path).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(loaded, whole);
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let text = format!("\u{feff}{}", sample());
        let record = ScanRecord::from_json(text.as_bytes(), "scan.json").unwrap();
        assert_eq!(record, ScanRecord::from_json(sample().as_bytes(), "scan.json").unwrap());
    }

    #[test]
    fn schema_version_of_the_wrong_type_or_value_is_named() {
        let sample = sample();
        let current = format!("\"schema_version\": {SCHEMA_VERSION}");
        let text = sample.replacen(&current, "\"schema_version\": \"1\"", 1);
        assert_ne!(text, sample, "the sample starts with a schema_version");
        let e = ScanRecord::from_json(text.as_bytes(), "scan.json").unwrap_err().to_string();
        assert_eq!(e, "scan.json: schema_version 2 (or 1) expected, found string \"1\"");
        let text = sample.replacen(&current, "\"schema_version\": 7", 1);
        let e = ScanRecord::from_json(text.as_bytes(), "scan.json").unwrap_err().to_string();
        assert!(e.contains("has schema_version 7; this pat2entra reads versions 1 to 2"), "{e}");
        let e = ScanRecord::from_json(b"[1, 2]", "scan.json").unwrap_err().to_string();
        assert!(e.contains("not a pat2entra scan"), "{e}");
        let e = ScanRecord::from_json(b"{\"a\": 1}", "scan.json").unwrap_err().to_string();
        assert!(e.contains("no schema_version"), "{e}");
    }

    #[test]
    fn type_errors_name_line_column_and_path() {
        let original = sample();
        // The third token's is_valid, as a string.
        let mut at = 0;
        for _ in 0..3 {
            at += original[at..].find("\"is_valid\": ").unwrap() + 1;
        }
        let at = at - 1;
        let value_start = at + "\"is_valid\": ".len();
        let value_len = if original[value_start..].starts_with("true") { 4 } else { 5 };
        let text = format!("{}\"false\"{}", &original[..value_start], &original[value_start + value_len..]);
        let line = text[..at].matches('\n').count() + 1;
        let e = ScanRecord::from_json(text.as_bytes(), "scan.json").unwrap_err().to_string();
        assert!(e.starts_with(&format!("scan.json:{line}:")), "{e}");
        assert!(e.contains(": tokens[2].is_valid: invalid type: string \"false\", expected a boolean"), "{e}");
        let e = ScanRecord::from_json(b"{\"schema_version\": 1,\n \"tool\": 3}", "scan.json").unwrap_err().to_string();
        assert!(e.starts_with("scan.json:2:10: tool: invalid type: integer `3`"), "{e}");
        let e = ScanRecord::from_json(b"{\"schema_version\": 1", "scan.json").unwrap_err().to_string();
        assert!(e.starts_with("scan.json:1:20: not JSON: EOF"), "{e}");
    }
}
