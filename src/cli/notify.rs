//! `pat2entra notify SCAN.json --org ORG --via boards|email [--execute]`: each owner's part of the
//! retirement plan, one message per owner, as an Azure Boards work item (created, or the owner's
//! open one updated) or an e-mail. A dry run by default (offline: nothing is signed in or sent);
//! with `--execute`, a typed confirmation (or `--yes`) and a journal synced before and after each
//! owner, so a rerun tells only the owners not yet told.

mod mail;

use super::Failure;
use super::auth::{AuthArgs, SIGN_IN_HELP};
use super::revoke::{JournalWriter, SelectionArgs, clip, journal_failure, lock_journal, read_journal, stdout_failure};
use crate::ado::workitems::{Upserted, WorkItemDraft};
use crate::ado::{AdoClient, AdoError, ClientOptions, Endpoints, OrgRef};
use crate::exit::Exit;
use crate::journal::{Action, Entry, Line, Outcome, Run, Target, TargetKind};
use crate::notify::{Message, Notification, TAG};
use crate::record::ScanRecord;
use crate::report::terminal_text;
use chrono::Utc;
use clap::Args;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `notify --help`'s closing text.
pub fn after_help() -> String {
    format!("{EXAMPLES}\n\n{SIGN_IN_HELP}")
}

const EXAMPLES: &str = "\
Each owner gets one message: the Entra replacements to set up first (with their steps), then
their credentials by wave and due date, then the commands the steps use. Without a selector,
every owner with an active credential in the plan; selectors narrow it as for revoke. A finding
suppressed by an exception is never shown.

Examples:
  # what would be sent (a dry run), then send it:
  pat2entra notify scan.json --org contoso --via boards --project Security
  pat2entra notify scan.json --org contoso --via boards --project Security \\
      --execute
  # in a job: an area path, one wave, no question asked
  pat2entra notify scan.json --org contoso --via boards --project Security \\
      --area-path 'Security\\PAT' --wave now --execute --yes
  pat2entra notify scan.json --org contoso --via email \\
      --smtp-url smtps://smtp.contoso.com \\
      --from 'PAT audit <pat2entra@contoso.com>' \\
      --smtp-credentials /run/secrets/smtp --execute
  # who was told:
  pat2entra report --journal scan.notify-boards-journal.jsonl -o markdown

Boards: one work item per owner, of --work-item-type (Task), tagged pat2entra and assigned to the
owner. The owner's open one (tag pat2entra, not Closed, Done or Removed) is updated instead of a
second created, so a later scan's notice updates it. Needs the scope vso.work_write (Work Items,
Read & write) and permission to create work items in the project (a PAT needs no other scope
here). Owners the scan says left the organization are skipped and listed: revoke theirs instead.

E-mail: plain text and HTML, to the mail address the scan read; owners without one are listed and
journaled as skipped, never dropped silently. smtps:// is TLS from the start (port 465),
smtp:// must upgrade with STARTTLS (port 587) or nothing is sent. Credentials only from
PAT2ENTRA_SMTP_USER and PAT2ENTRA_SMTP_PASSWORD, or --smtp-credentials FILE (user on the first
line, password on the second); never from a flag. --smtp-insecure (no TLS) is for a relay on
loopback only.

Rerun the same command after an interruption: the journal (default
SCAN.notify-boards-journal.jsonl or SCAN.notify-email-journal.jsonl beside the scan) says who was
told, and only the others are. A new scan has a journal of its own.

Exit codes: 0 done (or dry run), 2 bad arguments, scan or journal, 3 sign-in failed, a permission
is missing or the mail server refused the credentials, 5 some owners could not be told (see the
journal; rerun to retry).";

/// `--via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// An Azure Boards work item per owner (created, or the owner's open one updated).
    Boards,
    /// An e-mail per owner, through an SMTP server.
    Email,
}

impl Via {
    fn action(self) -> Action {
        match self {
            Via::Boards => Action::NotifyBoards,
            Via::Email => Action::NotifyEmail,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Via::Boards => "boards",
            Via::Email => "email",
        }
    }
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// A saved scan (`pat2entra scan -o json --out SCAN.json`): the messages come from its plan.
    pub scan: PathBuf,

    /// The organization (name or URL); must be the scan's.
    #[arg(long, value_name = "ORG")]
    pub org: String,

    /// How owners are told: an Azure Boards work item, or an e-mail.
    #[arg(long, value_enum, ignore_case = true, value_name = "CHANNEL")]
    pub via: Via,

    /// Send requests to URL/{org}/... instead of dev.azure.com (a proxy or the simulator). Plain
    /// http is accepted only for loopback.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// The project the work items go to (name or id).
    #[arg(long, value_name = "PROJECT", help_heading = "Azure Boards")]
    pub project: Option<String>,

    /// The type of the work items.
    #[arg(long, value_name = "TYPE", default_value = "Task", help_heading = "Azure Boards")]
    pub work_item_type: String,

    /// The area path of new and updated items (e.g. 'Security\PAT retirement'); default: the
    /// project's.
    #[arg(long, value_name = "PATH", help_heading = "Azure Boards")]
    pub area_path: Option<String>,

    /// The SMTP server: smtps://HOST[:465] (TLS) or smtp://HOST[:587] (STARTTLS, required).
    #[arg(long, value_name = "URL", help_heading = "E-mail")]
    pub smtp_url: Option<String>,

    /// The sender: an address, or 'Name <address>'.
    #[arg(long, value_name = "ADDR", help_heading = "E-mail")]
    pub from: Option<String>,

    /// A file with the SMTP user on its first line and the password on its second (instead of
    /// PAT2ENTRA_SMTP_USER and PAT2ENTRA_SMTP_PASSWORD).
    #[arg(long, value_name = "FILE", help_heading = "E-mail")]
    pub smtp_credentials: Option<PathBuf>,

    /// Allow smtp:// without TLS, to a relay on loopback only (127.0.0.1, ::1, localhost).
    #[arg(long, help_heading = "E-mail")]
    pub smtp_insecure: bool,

    /// Send. Without it, a dry run: who would be told, and the first message; nothing sent.
    #[arg(long)]
    pub execute: bool,

    /// With --execute: skip the typed confirmation (needed when no terminal is attached).
    #[arg(long, requires = "execute")]
    pub yes: bool,

    /// In a dry run, print every message instead of the first.
    #[arg(long)]
    pub show_all: bool,

    /// The journal (JSON lines): every owner planned, notified, skipped or failed. Default:
    /// SCAN.notify-boards-journal.jsonl or SCAN.notify-email-journal.jsonl beside the scan.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Attempts after the first for a request that was throttled, failed with a server error or
    /// lost its connection (a work item's creation is repeated only after a throttle).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: u32,

    /// No progress lines, nor the sign-in line, on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Time allowed for one request (or one SMTP command).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::limits::parse_duration, help_heading = "Limits")]
    pub request_timeout: Duration,

    /// Longest pause the service may ask for (Retry-After).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::limits::parse_duration, help_heading = "Limits")]
    pub max_wait: Duration,

    #[command(flatten)]
    pub auth: AuthArgs,
}

/// `scan.json` -> `scan.notify-boards-journal.jsonl`, beside it.
pub fn default_journal(scan: &Path, via: Via) -> PathBuf {
    let stem = scan.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scan".into());
    scan.with_file_name(format!("{stem}.notify-{}-journal.jsonl", via.as_str()))
}

/// Why an owner is not sent a message before anything is sent.
fn not_reachable(via: Via, message: &Message, record: &ScanRecord) -> Option<String> {
    match via {
        Via::Email if message.mail.is_none() => Some("no mail address in the scan".into()),
        Via::Email => mail::parse_address(message.mail.as_deref().unwrap_or_default())
            .err()
            .map(|_| "the scan's mail address is not a valid address".into()),
        Via::Boards if message.principal_name.trim().is_empty() => Some("no principal name to assign the work item to".into()),
        Via::Boards if record.owner(&message.owner).is_some_and(|o| o.member == Some(false)) => Some(
            "no longer a member of the organization (a work item cannot be assigned to them): revoke their credentials instead"
                .into(),
        ),
        Via::Boards => None,
    }
}

pub async fn run(args: NotifyArgs) -> Result<Exit, Failure> {
    let org = OrgRef::parse(&args.org)
        .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
    check_channel_args(&args)?;
    let (record, binding) = super::revoke::load_scan_for_action(
        &args.scan,
        &org,
        "notify",
        "its owners are pseudonyms no one can be told under; notify from the scan as written",
    )?;
    let scan_name = binding.file.clone();
    if !record.coverage.complete {
        eprintln!(
            "note: the scan could not read the credentials of {} of {} owners; they are in no message (rescan to reach them)",
            record.coverage.owners_failed.len(),
            record.coverage.owners_listed
        );
    }
    let selectors = args.selection.selectors(Vec::new());
    let notification = crate::notify::build(&record, &selectors).map_err(|e| Failure::error(Exit::Usage, e))?;
    for note in &notification.notes {
        eprintln!("note: {}", terminal_text(note));
    }

    let action = args.via.action();
    let journal_path = args.journal.clone().unwrap_or_else(|| default_journal(&args.scan, args.via));
    let _lock = if args.execute { Some(lock_journal(&journal_path, "notify")?) } else { None };
    let existing = read_journal(&journal_path, action, &record.organization, &binding)?;
    // Owners the journal says were told were told in its project: in another project they would
    // be skipped, never told there.
    if let (Some(journal), Some(project)) = (&existing, &args.project)
        && let Some(before) = journal.runs.iter().rev().find_map(|run| run.parameters.get("project"))
        && !before.trim().eq_ignore_ascii_case(project.trim())
    {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "journal {} records work items in project {}, not {}: give this project a journal of its own (--journal FILE)",
                journal_path.display(),
                terminal_text(before),
                terminal_text(project)
            ),
        ));
    }
    let finished = existing.as_ref().map(|j| j.finished()).unwrap_or_default();
    let is_done = |m: &Message| finished.contains_key(&(m.owner.clone(), m.owner.clone()));
    let done: Vec<&Message> = notification.messages.iter().filter(|m| is_done(m)).collect();
    let mut to_send: Vec<&Message> = Vec::new();
    let mut unreachable: Vec<(&Message, String)> = Vec::new();
    for m in notification.messages.iter().filter(|m| !is_done(m)) {
        match not_reachable(args.via, m, &record) {
            Some(why) => unreachable.push((m, why)),
            None => to_send.push(m),
        }
    }

    let mut stdout = std::io::stdout().lock();
    show_choice(&mut stdout, &args, &record, &scan_name, &notification, &to_send, &unreachable, &done, &journal_path)
        .map_err(stdout_failure)?;
    if !args.execute {
        let shown = if args.show_all { to_send.len() } else { to_send.len().min(1) };
        for (i, m) in to_send.iter().take(shown).enumerate() {
            show_message(&mut stdout, args.via, m, i + 1, to_send.len()).map_err(stdout_failure)?;
        }
        if to_send.len() > shown {
            writeln!(stdout, "\n({} more messages like it; --show-all prints every one.)", to_send.len() - shown)
                .map_err(stdout_failure)?;
        }
        let what = match args.via {
            Via::Boards => format!("create or update these {} work items", to_send.len()),
            Via::Email => format!("send these {} e-mails", to_send.len()),
        };
        if !to_send.is_empty() {
            writeln!(stdout, "\nDry run: nothing was sent. To {what},\nrun the same command with --execute.")
                .map_err(stdout_failure)?;
        }
        return Ok(Exit::Ok);
    }
    // What would fail after the confirmation fails before it.
    let channel = match args.via {
        Via::Boards => {
            let endpoints = match &args.base_url {
                Some(url) => Endpoints::single_base(url).map_err(|e| Failure::error(Exit::Usage, e))?,
                None => Endpoints::azure_devops(),
            };
            Channel::Boards { endpoints: Box::new(endpoints) }
        }
        Via::Email => Channel::Email(Box::new(mail::Mailer::from_args(&args)?)),
    };
    if to_send.is_empty() && unreachable.is_empty() {
        writeln!(stdout, "Nothing left to send.").map_err(stdout_failure)?;
        return Ok(Exit::Ok);
    }
    drop(stdout);
    if existing.is_none() {
        crate::files::check_writable(&journal_path)
            .map_err(|e| Failure::new(Exit::Usage, format!("--journal: {}", pat2entra_core::error::chain(&e))))?;
    }
    if !to_send.is_empty() {
        confirm(&args, org.name(), to_send.len())?;
    }

    let (client, actor) = match channel {
        // Only owners to journal as skipped: nothing to sign in for.
        Channel::Boards { .. } if to_send.is_empty() => (Sender::Idle, None),
        Channel::Boards { endpoints } => {
            let signed_in = super::auth::sign_in(&args.auth).await?;
            if !args.quiet {
                eprintln!("auth: {}", terminal_text(&signed_in.description));
            }
            let options = ClientOptions {
                max_retries: args.max_retries,
                request_timeout: args.request_timeout,
                max_wait: args.max_wait,
                ..ClientOptions::default()
            };
            let client = AdoClient::new(*endpoints, org.clone(), signed_in.credential, options)
                .map_err(|e| Failure::error(Exit::Usage, e))?;
            let connection = client.connection_data().await.map_err(|e| match e {
                AdoError::OrganizationNotFound { .. } => Failure::new(Exit::Usage, e.to_string()),
                e if e.is_auth() => Failure::new(Exit::Auth, format!("{e}\n  nothing was sent")),
                e => Failure::new(Exit::Auth, format!("could not tell who is signed in ({e}); nothing was sent")),
            })?;
            let caller = &connection.caller;
            let actor = match &caller.account {
                Some(account) => format!("{} <{account}>", caller.display_name),
                None => caller.display_name.clone(),
            };
            (Sender::Boards(Box::new(client)), Some(actor))
        }
        Channel::Email(mailer) => {
            let actor = mailer.describe();
            (Sender::Email(mailer), Some(actor))
        }
    };

    let writer = JournalWriter::open(&journal_path, action, existing.as_ref(), &record, &binding)
        .map_err(|e| journal_failure(&journal_path, e))?;
    let mut parameters: BTreeMap<String, String> = selectors.describe().into_iter().collect();
    parameters.insert("via".into(), args.via.as_str().into());
    parameters.insert("scan".into(), scan_name.clone());
    if let Some(project) = &args.project {
        parameters.insert("project".into(), project.clone());
        parameters.insert("work-item-type".into(), args.work_item_type.clone());
    }
    if let Some(area) = &args.area_path {
        parameters.insert("area-path".into(), area.clone());
    }
    let mut log = Log { writer, path: journal_path.clone(), organization: record.organization.clone(), actor, action };
    log.write(&[Line::Run(Run { started: Utc::now(), actor: log.actor.clone(), parameters })])?;

    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let skipped: Vec<Line> =
        unreachable.iter().map(|(m, why)| log.entry(m, Outcome::Skipped, Some(why.clone()))).collect();
    log.write(&skipped)?;
    for (m, why) in &unreachable {
        *counts.entry(Outcome::Skipped).or_default() += 1;
        eprintln!("skipped  {}: {}", terminal_text(&m.principal_name), why);
    }

    let history = format!("Updated by pat2entra from the scan of {}.", record.as_of.format("%Y-%m-%d"));
    let total = to_send.len();
    let mut stopped: Option<Failure> = None;
    for (n, m) in to_send.iter().enumerate() {
        log.write(&[log.entry(m, Outcome::Planned, None)])?;
        let result: Result<String, (String, Option<Failure>)> = match &client {
            Sender::Boards(client) => {
                let draft = WorkItemDraft {
                    title: &m.subject,
                    description: &m.html,
                    assigned_to: &m.principal_name,
                    tags: TAG,
                    area_path: args.area_path.as_deref(),
                    history: Some(&history),
                };
                let project = args.project.as_deref().unwrap_or_default();
                match client.upsert_work_item(project, &args.work_item_type, TAG, &draft).await {
                    Ok(Upserted::Created(id)) => Ok(format!("work item {id} created")),
                    Ok(Upserted::Updated(id)) => Ok(format!("work item {id} updated")),
                    Err(e) => {
                        let line = e.to_string().lines().next().unwrap_or_default().to_string();
                        let fatal = e.is_fatal().then(|| {
                            let exit = if e.is_auth() { Exit::Auth } else { Exit::Usage };
                            Failure::new(exit, e.to_string())
                        });
                        Err((line, fatal))
                    }
                }
            }
            Sender::Email(mailer) => mailer.send(m).await,
            Sender::Idle => Err(("not signed in".to_string(), None)),
        };
        let (outcome, reason) = match &result {
            Ok(what) => (Outcome::Done, Some(what.clone())),
            Err((why, _)) => (Outcome::Failed, Some(why.clone())),
        };
        log.write(&[log.entry(m, outcome, reason.clone())])?;
        *counts.entry(outcome).or_default() += 1;
        if !args.quiet {
            eprintln!(
                "notify: {}/{total} {}: {} {}",
                n + 1,
                terminal_text(&m.principal_name),
                outcome.word(action),
                terminal_text(reason.as_deref().unwrap_or_default())
            );
        }
        if let Err((_, Some(mut failure))) = result {
            failure.message = format!(
                "{}\n  stopped after {} of {total} owners; the journal {} says who was told: fix the cause and rerun the same command",
                failure.message,
                n + 1,
                journal_path.display()
            );
            stopped = Some(failure);
            break;
        }
    }

    let count = |o: Outcome| counts.get(&o).copied().unwrap_or(0);
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "\n{} {}, skipped {}, failed {} of {} owners ({} done before); journal: {}",
        Outcome::Done.word(action),
        count(Outcome::Done),
        count(Outcome::Skipped),
        count(Outcome::Failed),
        notification.messages.len(),
        done.len(),
        terminal_text(&journal_path.display().to_string())
    )
    .map_err(stdout_failure)?;
    if let Some(failure) = stopped {
        return Err(failure);
    }
    if count(Outcome::Failed) > 0 {
        eprintln!(
            "warning: {} owners could not be told; rerun the same command to try them again",
            count(Outcome::Failed)
        );
        return Ok(Exit::PartlyFailed);
    }
    Ok(Exit::Ok)
}

/// The channel, set up before the confirmation.
enum Channel {
    Boards { endpoints: Box<Endpoints> },
    Email(Box<mail::Mailer>),
}

/// The channel, signed in.
enum Sender {
    /// Nothing to send (only owners to journal as skipped).
    Idle,
    Boards(Box<AdoClient>),
    Email(Box<mail::Mailer>),
}

/// The flags each channel needs, and none of the other's.
fn check_channel_args(args: &NotifyArgs) -> Result<(), Failure> {
    let usage = |m: String| Err(Failure::new(Exit::Usage, m));
    match args.via {
        Via::Boards => {
            if args.project.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return usage("--via boards needs --project PROJECT (the project the work items go to)".into());
            }
            if let Some(flag) = [
                ("--smtp-url", args.smtp_url.is_some()),
                ("--from", args.from.is_some()),
                ("--smtp-credentials", args.smtp_credentials.is_some()),
                ("--smtp-insecure", args.smtp_insecure),
            ]
            .iter()
            .find(|(_, given)| *given)
            {
                return usage(format!("{} applies to --via email, not --via boards", flag.0));
            }
        }
        Via::Email => {
            if let Some(flag) = [("--project", args.project.is_some()), ("--area-path", args.area_path.is_some())]
                .iter()
                .find(|(_, given)| *given)
            {
                return usage(format!("{} applies to --via boards, not --via email", flag.0));
            }
            if args.execute && (args.smtp_url.is_none() || args.from.is_none()) {
                return usage(
                    "--via email --execute needs --smtp-url (smtps://HOST or smtp://HOST:587) and --from ADDRESS"
                        .into(),
                );
            }
            if let Some(from) = &args.from {
                mail::parse_mailbox(from)
                    .map_err(|e| Failure::new(Exit::Usage, format!("--from {}: {e}", terminal_text(from))))?;
            }
            if let Some(url) = &args.smtp_url {
                mail::SmtpUrl::parse(url, args.smtp_insecure)?;
            }
        }
    }
    Ok(())
}

/// Who would be told, who cannot be, and who was told already.
#[allow(clippy::too_many_arguments)]
fn show_choice(
    out: &mut dyn Write,
    args: &NotifyArgs,
    record: &ScanRecord,
    scan_name: &str,
    notification: &Notification,
    to_send: &[&Message],
    unreachable: &[(&Message, String)],
    done: &[&Message],
    journal_path: &Path,
) -> std::io::Result<()> {
    let channel = match args.via {
        Via::Boards => format!(
            "by a {} in project {}",
            terminal_text(&args.work_item_type),
            terminal_text(args.project.as_deref().unwrap_or_default())
        ),
        Via::Email => "by e-mail".into(),
    };
    writeln!(
        out,
        "Organization {}, scan {} (as of {}):",
        terminal_text(&record.organization),
        terminal_text(scan_name),
        record.as_of.format("%Y-%m-%d")
    )?;
    writeln!(out, "{} to tell {channel}", owners(to_send.len()))?;
    if !to_send.is_empty() {
        writeln!(out)?;
        let who = if args.via == Via::Email { "MAIL" } else { "ASSIGNED TO" };
        writeln!(out, "{:<48} {:>5}  {:<10}  WAVE", who, "CREDS", "DUE")?;
        for m in to_send {
            let address = match args.via {
                Via::Email => m.mail.as_deref().unwrap_or_default(),
                Via::Boards => &m.principal_name,
            };
            writeln!(
                out,
                "{:<48} {:>5}  {:<10}  {}",
                clip(address, 48),
                m.credentials(),
                m.due.to_string(),
                m.wave.as_str()
            )?;
        }
    }
    if !unreachable.is_empty() {
        writeln!(out, "\nNot told: {} (journaled as skipped when run with --execute)", owners(unreachable.len()))?;
        for (m, why) in unreachable {
            writeln!(out, "  {}", clip(&m.principal_name, 76))?;
            for line in wrap(why, 72) {
                writeln!(out, "      {line}")?;
            }
        }
    }
    if !done.is_empty() {
        writeln!(
            out,
            "\n{} owners of {} were told already per the journal {}",
            done.len(),
            notification.messages.len(),
            terminal_text(&journal_path.display().to_string())
        )?;
    }
    Ok(())
}

/// `1 owner`, `2 owners`.
fn owners(n: usize) -> String {
    format!("{n} owner{}", if n == 1 { "" } else { "s" })
}

/// `text` in lines of at most `width` characters, cut at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// One message as the owner will read it (the plain text).
fn show_message(out: &mut dyn Write, via: Via, m: &Message, n: usize, of: usize) -> std::io::Result<()> {
    let to = match via {
        Via::Email => format!("to {}", m.mail.as_deref().unwrap_or_default()),
        Via::Boards => format!("work item assigned to {}", m.principal_name),
    };
    writeln!(out, "\n--- message {n} of {of}: {} ---", terminal_text(&to))?;
    writeln!(out, "{}: {}", if via == Via::Email { "Subject" } else { "Title" }, terminal_text(&m.subject))?;
    writeln!(out)?;
    out.write_all(m.text.as_bytes())?;
    writeln!(out, "--- end of message {n} ---")
}

/// The typed confirmation: on a terminal, the number of owners; without one, `--yes`.
fn confirm(args: &NotifyArgs, org: &str, count: usize) -> Result<(), Failure> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Failure::new(
            Exit::Usage,
            "--execute without a terminal needs --yes (no one can type the confirmation); nothing was sent",
        ));
    }
    let what = match args.via {
        Via::Boards => "Create or update work items for",
        Via::Email => "E-mail",
    };
    eprint!("{what} {count} owners of organization {org}? Type {count} to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(Exit::Usage, format!("no confirmation: {e}")))?;
    if answer.trim() != count.to_string() {
        return Err(Failure::new(Exit::Usage, format!("not confirmed (expected {count}); nothing was sent")));
    }
    Ok(())
}

/// The journal being written, and what every entry of this run shares.
struct Log {
    writer: JournalWriter,
    path: PathBuf,
    organization: String,
    actor: Option<String>,
    action: Action,
}

impl Log {
    /// An owner is the target: id and owner are its descriptor.
    fn entry(&self, m: &Message, outcome: Outcome, reason: Option<String>) -> Line {
        Line::Entry(Entry {
            time: Utc::now(),
            organization: self.organization.clone(),
            actor: self.actor.clone(),
            action: self.action,
            target: Target {
                id: m.owner.clone(),
                owner: m.owner.clone(),
                owner_label: m.principal_name.clone(),
                name: m.display_name.clone(),
                kind: TargetKind::Owner,
            },
            outcome,
            reason,
            batch: None,
        })
    }

    fn write(&mut self, lines: &[Line]) -> Result<(), Failure> {
        self.writer.write(lines).map_err(|e| journal_failure(&self.path, e))
    }
}
