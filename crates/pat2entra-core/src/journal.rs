//! The action journal: what a command that changes the organization (`revoke`, `notify`)
//! planned, did, skipped and failed, one JSON line per event, append-only.
//!
//! A journal is bound to one saved scan (its SHA-256) and one organization by its first line, the
//! header; every run appends a `run` line (when, who acted, with which parameters), then one
//! `entry` line per target and outcome. A target is planned (written and synced before the
//! request is sent), then done, skipped or failed (written and synced after the answer). Reading
//! it back tells a rerun what is already done: a target whose last outcome is `done` or `skipped`
//! is not acted on again; `failed` ones, and `planned` ones without an outcome (the run stopped
//! between sending and recording), are. Pure: parsing, state and the lines to write; the file
//! itself is written by the binary.
//!
//! Journals never hold a secret: ids, owners, names, times, reasons (the client scrubs
//! credentials from the service's messages before they become reasons).

use crate::evidence::CredentialKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The first line's `format`.
pub const FORMAT: &str = "pat2entra-journal";
/// The shape of the lines; a journal of another version is refused.
pub const VERSION: u32 = 1;
/// A journal is read whole: 256 MiB holds millions of lines.
pub const MAX_JOURNAL: u64 = 256 * 1024 * 1024;

/// What a journal's command does to its targets: one journal serves one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Revoke a credential through Token Admin.
    Revoke,
    /// Tell an owner their part of the plan in an Azure Boards work item (`notify --via boards`).
    NotifyBoards,
    /// Tell an owner their part of the plan by e-mail (`notify --via email`).
    NotifyEmail,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Revoke => "revoke",
            Action::NotifyBoards => "notify-boards",
            Action::NotifyEmail => "notify-email",
        }
    }

    /// What the targets are, as a heading (`Credentials`, `Owners`), and what their id is.
    pub fn targets(self) -> (&'static str, &'static str) {
        match self {
            Action::Revoke => ("Credentials", "authorization id"),
            Action::NotifyBoards | Action::NotifyEmail => ("Owners", "descriptor"),
        }
    }

    /// The word for a target this action was done to (`revoked`).
    pub fn done_word(self) -> &'static str {
        match self {
            Action::Revoke => "revoked",
            Action::NotifyBoards => "notified",
            Action::NotifyEmail => "mailed",
        }
    }
}

/// What became of one target in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// About to be sent (written before the request).
    Planned,
    /// The service accepted it (for `revoke`: revoked).
    Done,
    /// Not acted on, on purpose; `reason` says why (gone, already revoked, another owner).
    Skipped,
    /// The request failed; `reason` says how. A rerun tries again.
    Failed,
}

impl Outcome {
    /// `planned`, `revoked` (the action's word), `skipped`, `failed`.
    pub fn word(self, action: Action) -> &'static str {
        match self {
            Outcome::Planned => "planned",
            Outcome::Done => action.done_word(),
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }

    /// Final: a rerun does not act on the target again.
    pub fn is_final(self) -> bool {
        matches!(self, Outcome::Done | Outcome::Skipped)
    }
}

/// The first line: which scan and organization the journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub action: Action,
    pub organization: String,
    pub scan: ScanBinding,
    pub tool_version: String,
    pub created: DateTime<Utc>,
}

/// The saved scan a journal acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanBinding {
    /// The file as named on the command line (for people; the hash is what binds).
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The scan's `as_of`.
    pub as_of: DateTime<Utc>,
}

/// One run of the command on this journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub started: DateTime<Utc>,
    /// Who acted (the signed-in identity, as the service named it), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The selection and settings of the run (`--rule`, `--batch-size`…), as given.
    pub parameters: BTreeMap<String, String>,
}

/// What kind of thing a target is: a credential (`revoke`), or an owner (`notify` tells owners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Pat,
    Ssh,
    Owner,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Pat => "pat",
            TargetKind::Ssh => "ssh",
            TargetKind::Owner => "owner",
        }
    }
}

impl From<CredentialKind> for TargetKind {
    fn from(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::Pat => TargetKind::Pat,
            CredentialKind::Ssh => TargetKind::Ssh,
        }
    }
}

/// What an entry is about: a credential (id = its authorization id, under its owner), or an
/// owner (id = the owner's descriptor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The authorization id (what Token Admin revokes by), or the owner's descriptor.
    pub id: String,
    /// The owner's descriptor.
    pub owner: String,
    /// The owner's principal name, as the scan had it.
    pub owner_label: String,
    /// The credential's display name (for an owner: their display name).
    pub name: String,
    pub kind: TargetKind,
}

impl Target {
    /// A credential is the pair (owner, id): one id may be listed under two owners.
    pub fn key(&self) -> (&str, &str) {
        (&self.owner, &self.id)
    }
}

/// One target's outcome in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub time: DateTime<Utc>,
    pub organization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub action: Action,
    pub target: Target,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request (batch) it went in, counted from 1 within the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    Run(Run),
    Entry(Entry),
}

/// The end of a journal's SHA-256 chain: each line ends in `"chain"`, the SHA-256 of the previous
/// line's chain value and the line without it, so an edited, removed or reordered line breaks
/// the chain. It detects edits and damage; it is not a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain(String);

/// `,"chain":"` + 64 hex digits + `"}`: how every line ends.
const CHAIN_KEY: &str = ",\"chain\":\"";
const CHAIN_SUFFIX_LEN: usize = CHAIN_KEY.len() + 64 + 2;

impl Chain {
    /// The chain value of a line whose text without it is `body`, after `self`.
    fn next(&self, body: &str) -> String {
        crate::files::sha256_hex(format!("{}\n{body}", self.0).as_bytes())
    }

    /// `line` as written after the lines so far: one JSON object ending in its chain value, and
    /// a line break. The chain moves on past it.
    pub fn line(&mut self, line: &Line) -> String {
        let body = serde_json::to_string(line).expect("journal lines serialize");
        let value = self.next(&body);
        let text = format!("{}{CHAIN_KEY}{value}\"}}\n", &body[..body.len() - 1]);
        self.0 = value;
        text
    }

    /// Checks a line as read: its body (the JSON without the chain value), and the chain moved
    /// on past it.
    fn check(&mut self, text: &str) -> Result<String, &'static str> {
        let text = text.trim_end_matches('\r');
        let split = text.len().checked_sub(CHAIN_SUFFIX_LEN).filter(|at| text.is_char_boundary(*at));
        let Some(at) = split.filter(|at| text[*at..].starts_with(CHAIN_KEY) && text.ends_with("\"}")) else {
            return Err("it does not end in its chain value");
        };
        let value = &text[at + CHAIN_KEY.len()..text.len() - 2];
        let body = format!("{}}}", &text[..at]);
        if !value.eq_ignore_ascii_case(&self.next(&body)) {
            return Err("its chain value does not match (a line was changed, removed or moved)");
        }
        self.0 = value.to_ascii_lowercase();
        Ok(body)
    }
}

/// A journal read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub header: Header,
    pub runs: Vec<Run>,
    pub entries: Vec<Entry>,
    /// The last line was cut short (the process stopped while writing it) and was ignored; the
    /// length of the whole lines before it, where appending may continue.
    pub torn_at: Option<usize>,
    /// The chain after the last whole line: where appending continues.
    pub chain: Chain,
}

/// A journal that cannot be read or used. Completes "journal FILE …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("is empty or not a pat2entra journal (its first line is not a journal header)")]
    NotAJournal,
    #[error("is a journal of version {found}; this pat2entra reads version {VERSION}: use a new --journal file")]
    Version { found: u32 },
    #[error("line {line}: {message}; the journal was edited or damaged: restore it, or use a new --journal file")]
    BadLine { line: usize, message: String },
    #[error("is a journal of '{theirs}', not of '{ours}'; use a new --journal file")]
    Action { theirs: String, ours: String },
    #[error("belongs to organization '{theirs}', not '{ours}'; use the journal of that organization's scan")]
    Organization { theirs: String, ours: String },
    #[error(
        "belongs to another scan ({theirs_file}, sha256 {theirs}), not {ours_file} (sha256 {ours}); \
         rerun with the scan it was made for, or use a new --journal file"
    )]
    Scan { theirs_file: String, theirs: String, ours_file: String, ours: String },
}

impl Journal {
    /// Parses a journal's text. A last line without its line break is a write the process did
    /// not finish: ignored (see `torn_at`). Any other line that does not parse is an error: a
    /// journal is only trusted whole.
    pub fn parse(text: &str) -> Result<Journal, JournalError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (whole, torn_at) = match text.rfind('\n') {
            Some(end) if end + 1 < text.len() => (&text[..=end], Some(end + 1)),
            Some(_) => (text, None),
            None if text.trim().is_empty() => return Err(JournalError::NotAJournal),
            // One line, cut short: not even the header was finished.
            None => return Err(JournalError::NotAJournal),
        };
        let mut chain = Chain::default();
        let mut lines = whole.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let first = lines.next().map(|(_, l)| l).unwrap_or_default();
        let header = match chain.check(first).map(|body| serde_json::from_str::<Line>(&body)) {
            Ok(Ok(Line::Header(h))) if h.format == FORMAT && h.version == VERSION => h,
            problem => {
                // Say what the first line is: another version's header, a damaged one, or not one.
                let probe: Option<serde_json::Value> = serde_json::from_str(first).ok();
                return Err(match probe.filter(|p| p["format"] == FORMAT) {
                    Some(p) if p["version"].as_u64().is_some_and(|v| v != u64::from(VERSION)) => {
                        JournalError::Version { found: p["version"].as_u64().unwrap_or_default() as u32 }
                    }
                    Some(_) => JournalError::BadLine {
                        line: 1,
                        message: match problem {
                            Err(why) => why.to_string(),
                            Ok(_) => "not a valid journal header".to_string(),
                        },
                    },
                    None => JournalError::NotAJournal,
                });
            }
        };
        let mut journal = Journal { header, runs: Vec::new(), entries: Vec::new(), torn_at, chain: Chain::default() };
        for (i, text) in lines {
            let line = i + 1;
            let body = chain.check(text).map_err(|why| JournalError::BadLine { line, message: why.to_string() })?;
            match serde_json::from_str::<Line>(&body) {
                Ok(Line::Run(run)) => journal.runs.push(run),
                Ok(Line::Entry(entry)) => journal.entries.push(entry),
                Ok(Line::Header(_)) => {
                    return Err(JournalError::BadLine { line, message: "a second header".into() });
                }
                Err(e) => {
                    return Err(JournalError::BadLine { line, message: format!("not a journal line ({e})") });
                }
            }
        }
        journal.chain = chain;
        Ok(journal)
    }

    /// Refuses a journal of another action, organization or scan.
    pub fn check(&self, action: Action, organization: &str, scan: &ScanBinding) -> Result<(), JournalError> {
        let h = &self.header;
        if h.action != action {
            return Err(JournalError::Action { theirs: h.action.as_str().into(), ours: action.as_str().into() });
        }
        if !h.organization.eq_ignore_ascii_case(organization) {
            return Err(JournalError::Organization { theirs: h.organization.clone(), ours: organization.into() });
        }
        if !h.scan.sha256.eq_ignore_ascii_case(&scan.sha256) {
            return Err(JournalError::Scan {
                theirs_file: h.scan.file.clone(),
                theirs: short(&h.scan.sha256),
                ours_file: scan.file.clone(),
                ours: short(&scan.sha256),
            });
        }
        Ok(())
    }

    /// Each target's last entry, by (owner, id).
    pub fn last_outcomes(&self) -> HashMap<(&str, &str), &Entry> {
        let mut last = HashMap::new();
        for entry in &self.entries {
            last.insert(entry.target.key(), entry);
        }
        last
    }

    /// Targets a rerun must not act on again: their last outcome is done or skipped.
    pub fn finished(&self) -> HashMap<(String, String), Outcome> {
        self.last_outcomes()
            .into_iter()
            .filter(|(_, e)| e.outcome.is_final())
            .map(|((owner, id), e)| ((owner.to_string(), id.to_string()), e.outcome))
            .collect()
    }

    /// How many targets ended in each outcome (their last entry).
    pub fn summary(&self) -> BTreeMap<Outcome, usize> {
        let mut counts: BTreeMap<Outcome, usize> =
            [Outcome::Done, Outcome::Skipped, Outcome::Failed, Outcome::Planned].into_iter().map(|o| (o, 0)).collect();
        for entry in self.last_outcomes().values() {
            *counts.entry(entry.outcome).or_default() += 1;
        }
        counts
    }
}

/// The first 12 hex digits of a hash, for messages.
fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(sha: &str) -> ScanBinding {
        ScanBinding { file: "scan.json".into(), sha256: sha.into(), as_of: "2026-11-26T00:00:00Z".parse().unwrap() }
    }

    fn header() -> Line {
        Line::Header(Header {
            format: FORMAT.into(),
            version: VERSION,
            action: Action::Revoke,
            organization: "fabrikam".into(),
            scan: binding("ab12"),
            tool_version: "0.1.0".into(),
            created: "2026-11-27T08:00:00Z".parse().unwrap(),
        })
    }

    fn entry(id: &str, outcome: Outcome) -> Line {
        Line::Entry(Entry {
            time: "2026-11-27T08:00:01Z".parse().unwrap(),
            organization: "fabrikam".into(),
            actor: Some("admin@fabrikam.com".into()),
            action: Action::Revoke,
            target: Target {
                id: id.into(),
                owner: "aad.x".into(),
                owner_label: "x@fabrikam.com".into(),
                name: "ci".into(),
                kind: TargetKind::Pat,
            },
            outcome,
            reason: (outcome == Outcome::Failed).then(|| "HTTP 500".into()),
            batch: Some(1),
        })
    }

    fn text(lines: &[Line]) -> String {
        let mut chain = Chain::default();
        lines.iter().map(|l| chain.line(l)).collect()
    }

    #[test]
    fn lines_round_trip_and_a_rerun_knows_what_is_finished() {
        let run = Line::Run(Run {
            started: "2026-11-27T08:00:00Z".parse().unwrap(),
            actor: None,
            parameters: [("rule".to_string(), "full-access".to_string())].into(),
        });
        let lines = [
            header(),
            run,
            entry("a", Outcome::Planned),
            entry("b", Outcome::Planned),
            entry("c", Outcome::Planned),
            entry("a", Outcome::Done),
            entry("b", Outcome::Failed),
            entry("d", Outcome::Skipped),
        ];
        let journal = Journal::parse(&text(&lines)).unwrap();
        assert_eq!(journal.runs.len(), 1);
        assert_eq!(journal.entries.len(), 6);
        assert_eq!(journal.torn_at, None);
        let finished = journal.finished();
        assert_eq!(finished.len(), 2, "{finished:?}");
        assert!(finished.contains_key(&("aad.x".to_string(), "a".to_string())));
        assert!(finished.contains_key(&("aad.x".to_string(), "d".to_string())));
        let summary = journal.summary();
        assert_eq!(
            (
                summary[&Outcome::Done],
                summary[&Outcome::Failed],
                summary[&Outcome::Skipped],
                summary[&Outcome::Planned]
            ),
            (1, 1, 1, 1)
        );
        assert!(text(&lines).contains(r#""line":"entry""#));
        assert_eq!(Outcome::Done.word(Action::Revoke), "revoked");
    }

    #[test]
    fn a_cut_last_line_is_ignored_and_its_place_kept() {
        let whole = text(&[header(), entry("a", Outcome::Planned)]);
        let cut = format!("{whole}{{\"line\":\"entry\",\"ti");
        let journal = Journal::parse(&cut).unwrap();
        assert_eq!(journal.entries.len(), 1);
        assert_eq!(journal.torn_at, Some(whole.len()));
    }

    #[test]
    fn damage_and_foreign_files_are_refused() {
        assert_eq!(Journal::parse(""), Err(JournalError::NotAJournal));
        assert_eq!(Journal::parse("{\"schema_version\": 1}\n"), Err(JournalError::NotAJournal));
        let future = text(&[header()]).replace("\"version\":1", "\"version\":9");
        assert_eq!(Journal::parse(&future), Err(JournalError::Version { found: 9 }));
        let edited = format!("{}not json\n", text(&[header()]));
        let err = Journal::parse(&edited).unwrap_err();
        assert!(matches!(err, JournalError::BadLine { line: 2, .. }), "{err}");
        let twice = text(&[header(), header()]);
        assert!(matches!(Journal::parse(&twice), Err(JournalError::BadLine { line: 2, .. })));
        // A failure edited into a success, a line removed, two lines swapped: the chain breaks.
        let lines = [header(), entry("a", Outcome::Planned), entry("a", Outcome::Failed), entry("b", Outcome::Planned)];
        let whole = text(&lines);
        let forged = whole.replacen("\"outcome\":\"failed\"", "\"outcome\":\"done\"", 1);
        let err = Journal::parse(&forged).unwrap_err();
        assert!(err.to_string().contains("line 3: its chain value does not match"), "{err}");
        let rows: Vec<&str> = whole.lines().collect();
        let removed = format!("{}\n{}\n{}\n", rows[0], rows[1], rows[3]);
        assert!(matches!(Journal::parse(&removed), Err(JournalError::BadLine { line: 3, .. })));
        let swapped = format!("{}\n{}\n{}\n{}\n", rows[0], rows[2], rows[1], rows[3]);
        assert!(matches!(Journal::parse(&swapped), Err(JournalError::BadLine { line: 2, .. })));
        // Appending continues the chain.
        let mut journal = Journal::parse(&whole).unwrap();
        let more = journal.chain.line(&entry("b", Outcome::Done));
        assert_eq!(Journal::parse(&format!("{whole}{more}")).unwrap().entries.len(), 4);
    }

    #[test]
    fn a_journal_serves_only_its_scan_and_organization() {
        let journal = Journal::parse(&text(&[header()])).unwrap();
        assert!(journal.check(Action::Revoke, "FABRIKAM", &binding("AB12")).is_ok());
        let err = journal.check(Action::Revoke, "contoso", &binding("ab12")).unwrap_err();
        assert!(err.to_string().contains("organization 'fabrikam', not 'contoso'"), "{err}");
        let err = journal.check(Action::Revoke, "fabrikam", &binding("cd34")).unwrap_err();
        assert!(err.to_string().contains("belongs to another scan"), "{err}");
    }
}
