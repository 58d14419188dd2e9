//! `pat2entra revoke SCAN.json --org ORG [selectors] [--execute]`: revoke the credentials a saved
//! scan's selection names, safely. A dry run by default (offline: nothing is signed in or sent);
//! with `--execute`, a typed confirmation (or `--yes`), each owner's credentials listed again
//! (what is gone, already revoked or now another owner's is skipped), revocations in batches, and
//! a journal synced before and after each batch, so a rerun does only what is left.

use super::auth::{AuthArgs, SIGN_IN_HELP};
use super::{Failure, parse_severity};
use crate::ado::{AdoClient, AdoError, ClientOptions, Endpoints, OrgRef};
use crate::exit::Exit;
use crate::finding::Severity;
use crate::inventory::Token;
use crate::journal::{self, Action, Entry, Header, Journal, Line, Outcome, Run, ScanBinding, Target};
use crate::record::ScanRecord;
use crate::report::terminal_text;
use crate::selection::{Chosen, Selectors, select};
use crate::tenant::AnyRecord;
use chrono::Utc;
use clap::Args;
use futures::StreamExt;
use pat2entra_core::evidence::CredentialKind;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `revoke --help`'s closing text.
pub fn after_help() -> String {
    format!("{EXAMPLES}\n\n{SIGN_IN_HELP}")
}

const EXAMPLES: &str = "\
Selectors combine (each narrows the choice); one given twice accepts either value. Only active
credentials are chosen, and a finding suppressed by an exception never chooses one.

Examples:
  pat2entra revoke scan.json --org contoso --wave revoke-now                # dry run: what would go
  pat2entra revoke scan.json --org contoso --wave revoke-now --execute      # asks for the count
  pat2entra revoke scan.json --org contoso --rule all-organizations --execute --yes   # in a job
  pat2entra revoke scan.json --org contoso --owner ana@contoso.com --kind pat
  pat2entra report --journal scan.revoke-journal.jsonl -o markdown          # what was done

Rerun the same command after an interruption: the journal (default SCAN.revoke-journal.jsonl next
to the scan) says what is done, and only the rest is revoked. Revocation may take up to an hour
to reach every Azure DevOps service.

Permission: the identity must be a Project Collection Administrator; a PAT needs the scope
vso.tokenadministration (Token Administration, Read & manage).

Exit codes: 0 done (or dry run), 2 bad arguments, scan or journal, 3 sign-in failed or the
credential stopped working mid-run, 5 some revocations failed (see the journal; rerun to retry).";

/// `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Personal access tokens.
    Pat,
    /// SSH keys.
    Ssh,
}

impl From<KindArg> for CredentialKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Pat => CredentialKind::Pat,
            KindArg::Ssh => CredentialKind::Ssh,
        }
    }
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// A saved scan (`pat2entra scan -o json --out SCAN.json`): what is revoked is chosen from it.
    pub scan: PathBuf,

    /// The organization to act on (name or URL); must be the scan's.
    #[arg(long, value_name = "ORG")]
    pub org: String,

    /// Send requests to URL/{org}/_apis/... instead of *.dev.azure.com (a proxy or the simulator).
    /// Plain http is accepted only for loopback.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// The credential with this authorization id (the scan's `authorization_id`).
    #[arg(long = "id", value_name = "AUTH_ID", help_heading = "Selection")]
    pub ids: Vec<String>,

    /// Authorization ids from FILE, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE", help_heading = "Selection")]
    pub ids_file: Option<PathBuf>,

    /// Revoke. Without it, a dry run: the list of what would be revoked, nothing sent.
    #[arg(long)]
    pub execute: bool,

    /// With --execute: skip the typed confirmation (needed when no terminal is attached).
    #[arg(long, requires = "execute")]
    pub yes: bool,

    /// The journal of this revocation (JSON lines): every credential planned, revoked, skipped
    /// or failed, synced before and after each batch. Default: SCAN.revoke-journal.jsonl beside
    /// the scan. A rerun with the same journal revokes only what is not yet done.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Credentials revoked per request.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch_size: u32,

    /// Owners whose credentials are listed again at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Attempts after the first for a request that was throttled, failed with a server error or
    /// lost its connection.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,

    /// No progress lines, nor the sign-in line, on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Time allowed for one request, body included; a request that times out is tried once more.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::limits::parse_duration, help_heading = "Limits")]
    pub request_timeout: Duration,

    /// Longest pause the service may ask for (Retry-After); a batch told to wait longer fails
    /// (journaled; a rerun tries it again).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::limits::parse_duration, help_heading = "Limits")]
    pub max_wait: Duration,

    /// Send nothing this long after the start (e.g. 30m): what is left is journaled as failed
    /// ("deadline reached") for a rerun. Default: none.
    #[arg(long, value_name = "DURATION", value_parser = super::limits::parse_duration, help_heading = "Limits")]
    pub deadline: Option<Duration>,

    /// Largest response body read, in MiB, counted after decompression (an owner's listing).
    #[arg(long, value_name = "N", default_value_t = crate::ado::DEFAULT_MAX_RESPONSE_MB, value_parser = clap::value_parser!(u64).range(1..=4096), help_heading = "Limits")]
    pub max_response_mb: u64,

    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Largest `--ids-file`.
const MAX_IDS_FILE: u64 = 16 * 1024 * 1024;

/// The selectors `revoke` and `notify` share (revoke adds `--id` and `--ids-file`).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Credentials with an open finding of this rule (e.g. all-organizations).
    #[arg(long = "rule", value_name = "ID", help_heading = "Selection")]
    pub rules: Vec<String>,

    /// Credentials with an open finding at or above this severity (critical, high, medium, low, info).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity, help_heading = "Selection")]
    pub min_severity: Option<Severity>,

    /// Credentials the retirement plan puts in this wave (revoke-now, now, next, at-expiry;
    /// `pat2entra plan SCAN.json` shows them).
    #[arg(long = "wave", value_name = "WAVE", help_heading = "Selection")]
    pub waves: Vec<String>,

    /// Credentials of this owner (principal name, mail or descriptor); may be given again.
    #[arg(long = "owner", value_name = "UPN", help_heading = "Selection")]
    pub owners: Vec<String>,

    /// Only personal access tokens, or only SSH keys.
    #[arg(long, value_enum, ignore_case = true, value_name = "KIND", help_heading = "Selection")]
    pub kind: Option<KindArg>,
}

impl SelectionArgs {
    /// The selectors, with the authorization ids chosen by id (none for `notify`).
    pub fn selectors(&self, ids: Vec<String>) -> Selectors {
        Selectors {
            rules: self.rules.clone(),
            min_severity: self.min_severity,
            waves: self.waves.clone(),
            owners: self.owners.clone(),
            ids,
            kind: self.kind.map(Into::into),
        }
    }
}

pub async fn run(args: RevokeArgs) -> Result<Exit, Failure> {
    let started_at = tokio::time::Instant::now();
    let org = OrgRef::parse(&args.org)
        .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
    let (record, binding) = load_scan_for_action(
        &args.scan,
        &org,
        "revoke",
        "its owners are pseudonyms that Azure DevOps does not know; revoke from the scan as written, without --redact",
    )?;
    let scan_name = binding.file.clone();
    if !record.coverage.complete {
        eprintln!(
            "note: the scan could not read the credentials of {} of {} owners; none of theirs can be chosen",
            record.coverage.owners_failed.len(),
            record.coverage.owners_listed
        );
    }
    let selectors = selectors(&args)?;
    let selection = select(&record, &selectors).map_err(|e| Failure::error(Exit::Usage, e))?;
    for note in &selection.notes {
        eprintln!("note: {}", terminal_text(note));
    }

    let journal_path = args.journal.clone().unwrap_or_else(|| default_journal(&args.scan));
    // One run at a time writes a journal; held until the process ends.
    let _lock = if args.execute { Some(lock_journal(&journal_path, "revoke")?) } else { None };
    let existing = read_journal(&journal_path, Action::Revoke, &record.organization, &binding)?;
    let finished = existing.as_ref().map(Journal::finished).unwrap_or_default();
    // Sent by a run that stopped before it could record the answer.
    let in_doubt: std::collections::HashSet<(String, String)> = existing
        .as_ref()
        .map(|j| {
            j.last_outcomes()
                .into_iter()
                .filter(|(_, e)| e.outcome == Outcome::Planned)
                .map(|((owner, id), _)| (owner.to_string(), id.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let (done, to_do): (Vec<Chosen>, Vec<Chosen>) = selection
        .chosen
        .into_iter()
        .partition(|c| finished.contains_key(&(c.owner.clone(), c.authorization_id.clone())));

    let mut stdout = std::io::stdout().lock();
    show_choice(&mut stdout, &record, &scan_name, &to_do, &done, &journal_path, &finished).map_err(stdout_failure)?;
    if to_do.is_empty() {
        writeln!(stdout, "Nothing left to revoke.").map_err(stdout_failure)?;
        return Ok(Exit::Ok);
    }
    if !args.execute {
        writeln!(
            stdout,
            "\nDry run: nothing was sent. To revoke these {} credentials,\nrun the same command with --execute.",
            to_do.len()
        )
        .map_err(stdout_failure)?;
        return Ok(Exit::Ok);
    }
    drop(stdout);
    // What would fail after the confirmation fails before it.
    let endpoints = match &args.base_url {
        Some(url) => Endpoints::single_base(url).map_err(|e| Failure::error(Exit::Usage, e))?,
        None => Endpoints::azure_devops(),
    };
    if existing.is_none() {
        crate::files::check_writable(&journal_path)
            .map_err(|e| Failure::new(Exit::Usage, format!("--journal: {}", pat2entra_core::error::chain(&e))))?;
    }
    confirm(&args, org.name(), to_do.len())?;

    let signed_in = super::auth::sign_in(&args.auth).await?;
    if !args.quiet {
        eprintln!("auth: {}", terminal_text(&signed_in.description));
    }
    let options = ClientOptions {
        max_retries: args.max_retries,
        request_timeout: args.request_timeout,
        max_wait: args.max_wait,
        deadline: args.deadline.map(|d| started_at + d),
        max_response_bytes: args.max_response_mb * 1024 * 1024,
        ..ClientOptions::default()
    };
    let client = AdoClient::new(endpoints, org.clone(), signed_in.credential, options)
        .map_err(|e| Failure::error(Exit::Usage, e))?;

    // Who acts, for the journal; and the caller's own credentials go last (a PAT may revoke itself).
    let connection = client.connection_data().await.map_err(|e| match e {
        AdoError::OrganizationNotFound { .. } => Failure::new(Exit::Usage, e.to_string()),
        e if e.is_auth() => Failure::new(Exit::Auth, format!("{e}\n  nothing was revoked")),
        e => Failure::new(Exit::Auth, format!("could not tell who is signed in ({e}); nothing was revoked")),
    })?;
    let caller = &connection.caller;
    let actor = Some(match (&caller.account, &caller.subject_descriptor) {
        (Some(account), Some(d)) => format!("{} <{account}> ({d})", caller.display_name),
        (Some(account), None) => format!("{} <{account}>", caller.display_name),
        (None, Some(d)) => format!("{} ({d})", caller.display_name),
        (None, None) => caller.display_name.clone(),
    });
    let own = |c: &Chosen| caller.subject_descriptor.as_deref() == Some(c.owner.as_str());
    let own_count = to_do.iter().filter(|c| own(c)).count();
    if own_count > 0 {
        eprintln!(
            "note: {own_count} of the credentials belong to the signed-in identity; they are revoked last (if one of them is the credential in use, the run stops there)"
        );
    }

    let mut writer = JournalWriter::open(&journal_path, Action::Revoke, existing.as_ref(), &record, &binding)
        .map_err(|e| journal_failure(&journal_path, e))?;
    let mut parameters: BTreeMap<String, String> = selectors.describe().into_iter().collect();
    parameters.insert("batch-size".into(), args.batch_size.to_string());
    parameters.insert("scan".into(), scan_name.clone());
    writer
        .write(&[Line::Run(Run { started: Utc::now(), actor: actor.clone(), parameters })])
        .map_err(|e| journal_failure(&journal_path, e))?;
    let mut log = Log { writer, path: journal_path.clone(), organization: record.organization.clone(), actor };

    // Listed again: what the scan saw may have changed.
    let mut groups: Vec<(String, CredentialKind)> = to_do.iter().map(|c| (c.owner.clone(), c.kind)).collect();
    groups.sort();
    groups.dedup();
    if !args.quiet {
        eprintln!("revoke: listing the credentials of {} owners again", groups.len());
    }
    let client_ref = &client;
    let mut listings: HashMap<(String, CredentialKind), Result<Vec<Token>, AdoError>> = HashMap::new();
    let mut stream = futures::stream::iter(groups)
        .map(|(owner, kind)| async move {
            let listed = client_ref.list_credentials(&owner, kind, 100).await;
            ((owner, kind), listed)
        })
        .buffer_unordered(usize::from(args.concurrency));
    while let Some((key, listed)) = stream.next().await {
        if let Err(e) = &listed
            && e.is_fatal()
        {
            let exit = if e.is_auth() { Exit::Auth } else { Exit::Usage };
            return Err(Failure::new(
                exit,
                format!("{e}\n  nothing was revoked; the journal {} is intact", journal_path.display()),
            ));
        }
        listings.insert(key, listed);
    }
    drop(stream);

    let now = Utc::now();
    let mut ready: Vec<&Chosen> = Vec::new();
    let mut checked = Vec::new();
    for chosen in &to_do {
        match recheck(chosen, &listings, now) {
            Ok(()) => ready.push(chosen),
            Err((outcome, mut reason)) => {
                if outcome == Outcome::Skipped
                    && reason.starts_with("already revoked")
                    && in_doubt.contains(&(chosen.owner.clone(), chosen.authorization_id.clone()))
                {
                    reason.push_str("; an earlier run sent its revocation and stopped before recording the answer");
                }
                checked.push(log.entry(chosen, outcome, Some(reason), None))
            }
        }
    }
    log.write(&checked)?;
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for line in &checked {
        if let Line::Entry(e) = line {
            *counts.entry(e.outcome).or_default() += 1;
            eprintln!(
                "{:<8} {} / {} ({}): {}",
                e.outcome.word(Action::Revoke),
                terminal_text(&e.target.owner_label),
                terminal_text(&e.target.name),
                e.target.id,
                terminal_text(e.reason.as_deref().unwrap_or_default())
            );
        }
    }

    // Batches: one kind per request (isPublic); the signed-in identity's own credentials last of
    // all, so that a PAT revoking itself ends the run only when nothing else is left.
    let mut batches: Vec<(CredentialKind, Vec<&Chosen>)> = Vec::new();
    for mine in [false, true] {
        for kind in [CredentialKind::Pat, CredentialKind::Ssh] {
            let part: Vec<&Chosen> = ready.iter().copied().filter(|c| c.kind == kind && own(c) == mine).collect();
            for chunk in part.chunks(args.batch_size as usize) {
                batches.push((kind, chunk.to_vec()));
            }
        }
    }
    let total = batches.len();
    let mut stopped: Option<Failure> = None;
    for (n, (kind, batch)) in batches.into_iter().enumerate() {
        let number = Some(n as u32 + 1);
        let planned: Vec<Line> = batch.iter().map(|c| log.entry(c, Outcome::Planned, None, number)).collect();
        log.write(&planned)?;
        let ids: Vec<&str> = batch.iter().map(|c| c.authorization_id.as_str()).collect();
        tracing::info!(batch = n + 1, of = total, count = ids.len(), kind = kind.as_str(), "sending a revocation");
        let result = client.revoke(kind, &ids).await;
        let (outcome, reason) = match &result {
            Ok(()) => (Outcome::Done, None),
            Err(e) => (Outcome::Failed, Some(e.to_string().lines().next().unwrap_or_default().to_string())),
        };
        let lines: Vec<Line> = batch.iter().map(|c| log.entry(c, outcome, reason.clone(), number)).collect();
        log.write(&lines)?;
        *counts.entry(outcome).or_default() += batch.len();
        if !args.quiet {
            let what = match &reason {
                None => format!("{} revoked", batch.len()),
                Some(r) => format!("{} failed: {}", batch.len(), terminal_text(r)),
            };
            eprintln!("revoke: batch {}/{total} ({}): {what}", n + 1, kind.as_str());
        }
        if let Err(e) = result
            && e.is_fatal()
        {
            let exit = if e.is_auth() { Exit::Auth } else { Exit::Usage };
            stopped = Some(Failure::new(
                exit,
                format!(
                    "{e}\n  stopped after batch {} of {total}; the journal {} says what was done: fix the cause and rerun the same command to revoke the rest",
                    n + 1,
                    journal_path.display()
                ),
            ));
            break;
        }
    }

    let count = |o: Outcome| counts.get(&o).copied().unwrap_or(0);
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "\nrevoked {}, skipped {}, failed {} of {} chosen ({} done before); journal: {}",
        count(Outcome::Done),
        count(Outcome::Skipped),
        count(Outcome::Failed),
        to_do.len(),
        done.len(),
        terminal_text(&journal_path.display().to_string())
    )
    .map_err(stdout_failure)?;
    if let Some(failure) = stopped {
        return Err(failure);
    }
    if count(Outcome::Failed) > 0 {
        eprintln!("warning: {} revocations failed; rerun the same command to try them again", count(Outcome::Failed));
        return Ok(Exit::PartlyFailed);
    }
    Ok(Exit::Ok)
}

/// The selectors of the command line (and `--ids-file`).
fn selectors(args: &RevokeArgs) -> Result<Selectors, Failure> {
    let mut ids = args.ids.clone();
    if let Some(path) = &args.ids_file {
        let text = crate::files::read_text_limited(path, MAX_IDS_FILE, "ids file").map_err(|e| {
            Failure::new(Exit::Usage, format!("--ids-file {}: {}", path.display(), pat2entra_core::error::chain(&e)))
        })?;
        let before = ids.len();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            ids.extend(line.split([',', ';', ' ', '\t']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
        }
        if ids.len() == before {
            return Err(Failure::new(
                Exit::Usage,
                format!("--ids-file {}: no authorization id in it (one per line)", path.display()),
            ));
        }
    }
    Ok(args.selection.selectors(ids))
}

/// `scan.json` -> `scan.revoke-journal.jsonl`, beside it.
pub fn default_journal(scan: &Path) -> PathBuf {
    let stem = scan.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scan".into());
    scan.with_file_name(format!("{stem}.revoke-journal.jsonl"))
}

/// `JOURNAL.lock`, locked (`flock`, exclusive) while a run may write the journal: a second run on
/// the same journal is refused instead of interleaving its lines. The lock goes with the process
/// (also when it is killed); the small file stays beside the journal.
pub(super) struct JournalLock {
    _file: std::fs::File,
}

pub(super) fn lock_journal(journal: &Path, command: &str) -> Result<JournalLock, Failure> {
    let mut name = journal.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .map_err(|e| Failure::new(Exit::Usage, format!("--journal: cannot create the lock {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "journal {} is in use by another pat2entra {command} (lock {}); let it finish, then rerun",
                    journal.display(),
                    path.display()
                ),
            ));
        }
    }
    Ok(JournalLock { _file: file })
}

/// The journal at `path`, when there is one: it must belong to this scan and organization.
pub(super) fn read_journal(
    path: &Path,
    action: Action,
    organization: &str,
    binding: &ScanBinding,
) -> Result<Option<Journal>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::files::read_text_limited(path, journal::MAX_JOURNAL, "journal").map_err(|e| {
        Failure::new(Exit::Usage, format!("journal {}: {}", path.display(), pat2entra_core::error::chain(&e)))
    })?;
    let journal = Journal::parse(&text).map_err(|e| journal_problem(path, e))?;
    journal.check(action, organization, binding).map_err(|e| journal_problem(path, e))?;
    if journal.torn_at.is_some() {
        eprintln!(
            "note: journal {}: its last line was cut short (the run stopped while writing it); ignored",
            path.display()
        );
    }
    Ok(Some(journal))
}

fn journal_problem(path: &Path, e: journal::JournalError) -> Failure {
    Failure::new(Exit::Usage, format!("journal {} {e}", terminal_text(&path.display().to_string())))
}

pub(super) fn journal_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(Exit::Usage, format!("cannot write journal {}: {e}; nothing more was sent", path.display()))
}

pub(super) fn stdout_failure(e: std::io::Error) -> Failure {
    Failure::error(Exit::Usage, crate::files::WriteError::Stdout(e))
}

/// The saved scan an action (`revoke`, `notify`) works from: read once, bound to its bytes
/// (the journal names their SHA-256), of the organization asked (`--org`), and not redacted
/// (`redacted` says why that matters to this action).
pub(super) fn load_scan_for_action(
    path: &Path,
    org: &OrgRef,
    action: &str,
    redacted: &str,
) -> Result<(ScanRecord, ScanBinding), Failure> {
    let scan_name = path.display().to_string();
    let bytes = crate::files::read_limited(path, crate::files::MAX_SAVED_SCAN, "saved scan")
        .map_err(|e| Failure::error(Exit::Usage, e))?;
    let sha256 = crate::files::sha256_hex(&bytes);
    let record = match AnyRecord::from_json(&bytes, &scan_name).map_err(|e| Failure::error(Exit::Usage, e))? {
        AnyRecord::Organization(record) => *record,
        AnyRecord::Tenant(_) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} is a tenant record (several organizations); {action} acts on one organization's scan: scan it with --org {} -o json --out FILE",
                    terminal_text(&scan_name),
                    org.name()
                ),
            ));
        }
    };
    drop(bytes);
    if !record.organization.eq_ignore_ascii_case(org.name()) {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--org {}: the scan {} is of organization '{}'; {action} acts only on the organization its scan read",
                org.name(),
                terminal_text(&scan_name),
                terminal_text(&record.organization)
            ),
        ));
    }
    if record.redaction.is_some() {
        return Err(Failure::new(
            Exit::Usage,
            format!("the scan {} is redacted (--redact): {redacted}", terminal_text(&scan_name)),
        ));
    }
    let binding = ScanBinding { file: scan_name, sha256, as_of: record.as_of };
    Ok((record, binding))
}

/// What would be revoked, and what the journal says is done already.
fn show_choice(
    out: &mut dyn Write,
    record: &ScanRecord,
    scan_name: &str,
    to_do: &[Chosen],
    done: &[Chosen],
    journal_path: &Path,
    finished: &HashMap<(String, String), Outcome>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Organization {}, scan {} (as of {}): {} credentials to revoke",
        terminal_text(&record.organization),
        terminal_text(scan_name),
        record.as_of.format("%Y-%m-%d"),
        to_do.len()
    )?;
    if !to_do.is_empty() {
        writeln!(out)?;
        // Two lines per credential, within 80 columns: who, what and until when; then the id to
        // revoke it by and every rule (wrapped, never cut: they are why it is chosen).
        writeln!(out, "{:<34} {:<4} {:<27} EXPIRES", "OWNER", "KIND", "NAME")?;
        writeln!(out, "  {:<36}   RULES", "AUTHORIZATION ID")?;
        for c in to_do {
            writeln!(
                out,
                "{:<34} {:<4} {:<27} {}",
                clip(&c.owner_label, 34),
                c.kind.as_str(),
                clip(if c.name.is_empty() { "(no name)" } else { &c.name }, 27),
                c.valid_to.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into()),
            )?;
            let rules = if c.rules.is_empty() { vec!["-".to_string()] } else { c.rules.clone() };
            for (i, line) in wrap_list(&rules, 80 - 41).iter().enumerate() {
                let id = if i == 0 { clip(&c.authorization_id, 36) } else { String::new() };
                writeln!(out, "  {id:<36}   {line}")?;
            }
        }
    }
    if !done.is_empty() {
        let revoked = done
            .iter()
            .filter(|c| finished.get(&(c.owner.clone(), c.authorization_id.clone())) == Some(&Outcome::Done))
            .count();
        writeln!(
            out,
            "\n{} more chosen are done already per the journal {} ({revoked} revoked, {} skipped)",
            done.len(),
            terminal_text(&journal_path.display().to_string()),
            done.len() - revoked
        )?;
    }
    Ok(())
}

/// Text cut to `width` characters (with `…`), safe for a terminal.
/// Items joined by ", " into lines of at most `width` characters (an item longer than that is a
/// line of its own).
fn wrap_list(items: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        let item = terminal_text(item);
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + item.chars().count() < width => {
                line.push_str(", ");
                line.push_str(&item);
            }
            Some(line) => {
                line.push(',');
                lines.push(item);
            }
            None => lines.push(item),
        }
    }
    lines
}

pub(super) fn clip(text: &str, width: usize) -> String {
    let text = terminal_text(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// The typed confirmation: on a terminal, the number of credentials; without one, `--yes`.
fn confirm(args: &RevokeArgs, org: &str, count: usize) -> Result<(), Failure> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Failure::new(
            Exit::Usage,
            "--execute without a terminal needs --yes (no one can type the confirmation); nothing was revoked",
        ));
    }
    eprint!("Revoke {count} credentials in organization {org}? This cannot be undone. Type {count} to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(Exit::Usage, format!("no confirmation: {e}")))?;
    if answer.trim() != count.to_string() {
        return Err(Failure::new(Exit::Usage, format!("not confirmed (expected {count}); nothing was revoked")));
    }
    Ok(())
}

/// Whether a chosen credential is still there to revoke, from its owner's listing now.
fn recheck(
    chosen: &Chosen,
    listings: &HashMap<(String, CredentialKind), Result<Vec<Token>, AdoError>>,
    now: chrono::DateTime<Utc>,
) -> Result<(), (Outcome, String)> {
    let listed = match listings.get(&(chosen.owner.clone(), chosen.kind)) {
        Some(Ok(listed)) => listed,
        // Token Admin no longer knows the owner (removed from the organization): nothing is listed
        // under it, so there is nothing to check or revoke; a rerun would not change that.
        Some(Err(AdoError::Status { status: 404, .. })) => {
            return Err((
                Outcome::Skipped,
                "its owner is no longer known to Token Admin (HTTP 404): nothing is listed under it to revoke".into(),
            ));
        }
        Some(Err(e)) => {
            return Err((
                Outcome::Failed,
                format!(
                    "could not list the owner's credentials again, so not revoked: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            ));
        }
        None => return Err((Outcome::Failed, "the owner's credentials were not listed again".into())),
    };
    match listed.iter().find(|t| t.authorization_id.eq_ignore_ascii_case(&chosen.authorization_id)) {
        Some(t) if !t.is_valid => Err((Outcome::Skipped, "already revoked (listed as invalid)".into())),
        Some(t) if t.valid_to.is_some_and(|to| to <= now) => Err((Outcome::Skipped, "expired since the scan".into())),
        Some(_) => Ok(()),
        None => {
            let elsewhere = listings.iter().find_map(|((owner, kind), listed)| {
                let listed = listed.as_ref().ok()?;
                (*kind == chosen.kind
                    && *owner != chosen.owner
                    && listed.iter().any(|t| t.authorization_id.eq_ignore_ascii_case(&chosen.authorization_id)))
                .then(|| owner.clone())
            });
            Err((
                Outcome::Skipped,
                match elsewhere {
                    Some(other) => format!(
                        "now listed under another owner ({other}), not {}: not revoked; rescan before choosing it again",
                        chosen.owner
                    ),
                    None => "no longer listed under its owner (deleted or replaced since the scan)".into(),
                },
            ))
        }
    }
}

/// The journal being written, and what every entry of this run shares.
struct Log {
    writer: JournalWriter,
    path: PathBuf,
    organization: String,
    actor: Option<String>,
}

impl Log {
    fn entry(&self, chosen: &Chosen, outcome: Outcome, reason: Option<String>, batch: Option<u32>) -> Line {
        Line::Entry(Entry {
            time: Utc::now(),
            organization: self.organization.clone(),
            actor: self.actor.clone(),
            action: Action::Revoke,
            target: Target {
                id: chosen.authorization_id.clone(),
                owner: chosen.owner.clone(),
                owner_label: chosen.owner_label.clone(),
                name: chosen.name.clone(),
                kind: chosen.kind.into(),
            },
            outcome,
            reason,
            batch,
        })
    }

    fn write(&mut self, lines: &[Line]) -> Result<(), Failure> {
        self.writer.write(lines).map_err(|e| journal_failure(&self.path, e))
    }
}

/// The journal file: created privately (0600) with its header, or reopened for appending (a
/// torn last line cut off first), its lines chained on from the last one. Every write is synced
/// before it returns.
pub(super) struct JournalWriter {
    file: std::fs::File,
    chain: journal::Chain,
}

impl JournalWriter {
    pub(super) fn open(
        path: &Path,
        action: Action,
        existing: Option<&Journal>,
        record: &ScanRecord,
        binding: &ScanBinding,
    ) -> std::io::Result<Self> {
        match existing {
            Some(journal) => {
                let file = std::fs::OpenOptions::new().append(true).open(path)?;
                if let Some(whole) = journal.torn_at {
                    file.set_len(whole as u64)?;
                }
                Ok(JournalWriter { file, chain: journal.chain.clone() })
            }
            None => {
                let header = Line::Header(Header {
                    format: journal::FORMAT.into(),
                    version: journal::VERSION,
                    action,
                    organization: record.organization.clone(),
                    scan: binding.clone(),
                    tool_version: env!("CARGO_PKG_VERSION").into(),
                    created: Utc::now(),
                });
                let mut chain = journal::Chain::default();
                let mut file = crate::files::AtomicFile::create(path)?;
                file.write_all(chain.line(&header).as_bytes())?;
                Ok(JournalWriter { file: file.commit_keep_open()?, chain })
            }
        }
    }

    pub(super) fn write(&mut self, lines: &[Line]) -> std::io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let text: String = lines.iter().map(|line| self.chain.line(line)).collect();
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }
}
