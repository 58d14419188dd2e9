//! `notify`: each owner's part of the retirement plan as a message of its own (a subject, plain
//! text and HTML), for an Azure Boards work item or an e-mail. Built from the plan (`plan::build`)
//! of a saved scan, narrowed by the selectors `revoke` uses (`selection`); pure.
//!
//! A message says, in this order: what to set up first (the Entra replacements, with their
//! steps), then the owner's credentials by wave and due date, then the commands the steps name.
//! Names of owners and tokens come from the directory, and a saved scan may have been edited, so
//! every text is hostile: the plain text is `sanitize`d (no control or bidi characters, so no
//! header or terminal injection), the HTML goes through the report's escaper (askama,
//! `templates/notify.html`), and only `https://` links the report would print become links.

use crate::evidence::CredentialKind;
use crate::guidance::Guidance;
use crate::plan::{OwnerPlan, PlanItem, Wave};
use crate::record::ScanRecord;
use crate::report::{safe_link, sanitize};
use crate::selection::{SelectError, Selectors, select};
use askama::Template;
use chrono::NaiveDate;
use std::collections::HashSet;

/// The tag every work item pat2entra creates carries: how a rerun finds it again.
pub const TAG: &str = "pat2entra";

/// Width of the plain text (an e-mail client's and a terminal's 80 columns, less a margin).
pub const TEXT_WIDTH: usize = 78;

/// One owner's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The owner's descriptor.
    pub owner: String,
    /// Principal name (what Azure Boards assigns the work item to).
    pub principal_name: String,
    pub display_name: String,
    /// The owner's mail address as the scan read it; `None`: no e-mail can reach them.
    pub mail: Option<String>,
    /// `Replace 3 personal access tokens with Microsoft Entra ID by 2026-12-03`.
    pub subject: String,
    /// The earliest due date of the owner's credentials.
    pub due: NaiveDate,
    /// The most urgent wave among them.
    pub wave: Wave,
    pub pats: usize,
    pub ssh_keys: usize,
    /// Plain text, lines of at most `TEXT_WIDTH` characters (a longer word stays whole).
    pub text: String,
    /// An HTML fragment (a work item's description).
    pub html: String,
    /// The e-mail's HTML part: the fragment as a page of its own.
    pub html_page: String,
}

impl Message {
    /// How many credentials the message lists.
    pub fn credentials(&self) -> usize {
        self.pats + self.ssh_keys
    }
}

/// Every owner's message, and what the selection noted.
#[derive(Debug, Clone, Default)]
pub struct Notification {
    pub messages: Vec<Message>,
    pub notes: Vec<String>,
}

impl Notification {
    /// Owners the scan has no mail address for.
    pub fn without_mail(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.mail.as_deref().is_none_or(|m| m.trim().is_empty()))
    }
}

/// The messages of a scan: one per owner with an active credential in the plan, most urgent
/// first. With selectors, only the credentials they choose (`selection::select`: an unknown
/// owner, id, rule or wave is an error, a suppressed finding never chooses); without, the whole
/// plan. `scan_file` is the saved scan as the reader would name it (for the commands).
pub fn build(record: &ScanRecord, selectors: &Selectors) -> Result<Notification, SelectError> {
    let plan = crate::plan::build(record);
    let mut notes = Vec::new();
    let chosen: Option<HashSet<(String, String)>> = if selectors.is_empty() {
        None
    } else {
        let selection = select(record, selectors)?;
        notes = selection.notes;
        Some(selection.chosen.into_iter().map(|c| (c.owner, c.authorization_id)).collect())
    };
    let guide = |id: &str| crate::guidance::by_id(id).cloned().or_else(|| record.guidance(id).cloned());
    let mut messages = Vec::new();
    for owner in &plan.owners {
        let items: Vec<&PlanItem> = owner
            .items
            .iter()
            .filter(|i| {
                chosen
                    .as_ref()
                    .is_none_or(|c| c.contains(&(owner.descriptor.to_string(), i.authorization_id.to_string())))
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        let mail = record
            .owner(&owner.descriptor)
            .and_then(|o| o.mail.as_deref().map(str::to_string))
            .filter(|m| !m.trim().is_empty());
        messages.push(message(record, owner, &items, mail, &guide));
    }
    Ok(Notification { messages, notes })
}

/// `Replace 2 personal access tokens and 1 SSH key with Microsoft Entra ID by 2026-12-03`.
pub fn subject(pats: usize, ssh_keys: usize, due: NaiveDate) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let what = match (pats, ssh_keys) {
        (p, 0) => count(p, "personal access token", "personal access tokens"),
        (0, s) => count(s, "SSH key", "SSH keys"),
        (p, s) => format!(
            "{} and {}",
            count(p, "personal access token", "personal access tokens"),
            count(s, "SSH key", "SSH keys")
        ),
    };
    format!("Replace {what} with Microsoft Entra ID by {due}")
}

/// A text with its `code` spans apart (guidance texts mark commands with backticks).
#[derive(Debug, Clone)]
struct Span {
    text: String,
    code: bool,
}

fn spans(text: &str) -> Vec<Span> {
    let text = sanitize(text);
    // An odd number of backticks: no code spans, the text as it is.
    if text.matches('`').count() % 2 == 1 {
        return vec![Span { text: text.into_owned(), code: false }];
    }
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| Span { text: part.to_string(), code: i % 2 == 1 })
        .collect()
}

/// The backtick spans of `text`: the commands and settings a guidance step names.
#[cfg(test)]
fn code_spans(text: &str) -> Vec<String> {
    spans(text).into_iter().filter(|s| s.code).map(|s| s.text).collect()
}

/// A replacement to set up first.
struct Replacement {
    id: String,
    title: String,
    action: Vec<Span>,
    steps: Vec<Vec<Span>>,
    learn: Option<String>,
}

/// One credential, as the message lists it.
struct Row {
    urgent: bool,
    due: String,
    name: String,
    id: String,
    kind: &'static str,
    findings: String,
    /// What to do: the revoke-now reason, or the guidance's action.
    what: Vec<Span>,
    last_seen: Option<String>,
}

/// The credentials of one wave.
struct WaveGroup {
    title: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "notify.html")]
struct Fragment<'a> {
    greeting: &'a str,
    organization: &'a str,
    as_of: String,
    count: &'a str,
    due: String,
    replacements: &'a [Replacement],
    waves: &'a [WaveGroup],
    commands: &'a [String],
}

/// The e-mail's page: the fragment's values and the subject (the page includes the fragment's
/// template, so nothing already rendered is marked safe).
#[derive(Template)]
#[template(path = "notify-mail.html")]
struct MailPage<'a> {
    subject: &'a str,
    greeting: &'a str,
    organization: &'a str,
    as_of: String,
    count: &'a str,
    due: String,
    replacements: &'a [Replacement],
    waves: &'a [WaveGroup],
    commands: &'a [String],
}

fn message(
    record: &ScanRecord,
    owner: &OwnerPlan,
    items: &[&PlanItem],
    mail: Option<String>,
    guide: &dyn Fn(&str) -> Option<Guidance>,
) -> Message {
    let pats = items.iter().filter(|i| i.kind == CredentialKind::Pat).count();
    let ssh_keys = items.len() - pats;
    let due = items.iter().map(|i| i.due).min().unwrap_or(record.as_of.date_naive());
    let subject = subject(pats, ssh_keys, due);
    let name = if owner.display_name.trim().is_empty() { &owner.principal_name } else { &owner.display_name };
    let greeting = sanitize(name).into_owned();
    let organization = sanitize(&record.organization).into_owned();
    let count = match (pats, ssh_keys) {
        (1, 0) => "1 active personal access token".to_string(),
        (p, 0) => format!("{p} active personal access tokens"),
        (p, s) => format!("{} active credentials ({p} personal access tokens, {s} SSH keys)", p + s),
    };

    // Replacements in the plan's order, only those the chosen credentials need.
    let mut needed: Vec<&str> = Vec::new();
    for item in items.iter().filter(|i| i.wave != Wave::RevokeNow) {
        if !needed.contains(&item.guidance.as_str()) {
            needed.push(&item.guidance);
        }
    }
    let replacements: Vec<Replacement> = owner
        .set_up_first
        .iter()
        .filter(|id| needed.contains(&id.as_str()))
        .map(|id| match guide(id) {
            Some(g) => Replacement {
                id: sanitize(&g.id).into_owned(),
                title: sanitize(&g.title).into_owned(),
                action: spans(&g.action),
                steps: g.steps.iter().map(|s| spans(s)).collect(),
                learn: safe_link(&g.learn).map(str::to_string),
            },
            None => Replacement {
                id: sanitize(id).into_owned(),
                title: sanitize(id).into_owned(),
                action: Vec::new(),
                steps: Vec::new(),
                learn: None,
            },
        })
        .collect();
    let mut commands: Vec<String> = Vec::new();
    for r in &replacements {
        for step in &r.steps {
            for span in step.iter().filter(|s| s.code) {
                if !commands.contains(&span.text) {
                    commands.push(span.text.clone());
                }
            }
        }
    }

    let mut waves: Vec<WaveGroup> = Vec::new();
    for item in items {
        let row = Row {
            urgent: matches!(item.wave, Wave::RevokeNow | Wave::Now),
            due: item.due.to_string(),
            name: if item.token_name.trim().is_empty() {
                "(no name)".into()
            } else {
                sanitize(&item.token_name).into_owned()
            },
            id: sanitize(&item.authorization_id.chars().take(8).collect::<String>()).into_owned(),
            kind: if item.kind == CredentialKind::Pat { "PAT" } else { "SSH key" },
            findings: if item.rules.is_empty() { "none".into() } else { sanitize(&item.rules.join(", ")).into_owned() },
            what: match &item.revoke_now {
                Some(why) => spans(why),
                None => spans(&item.action),
            },
            last_seen: item.last_seen_text().map(|s| sanitize(&s).into_owned()),
        };
        let title = wave_title(item.wave);
        match waves.last_mut() {
            Some(group) if group.title == title => group.rows.push(row),
            _ => waves.push(WaveGroup { title, rows: vec![row] }),
        }
    }

    let text = text(&greeting, &organization, record, &count, due, &replacements, &waves, &commands);
    let html = Fragment {
        greeting: &greeting,
        organization: &organization,
        as_of: record.as_of.format("%Y-%m-%d").to_string(),
        count: &count,
        due: due.to_string(),
        replacements: &replacements,
        waves: &waves,
        commands: &commands,
    }
    .render()
    .expect("the notify template renders into a string");
    let html_page = MailPage {
        subject: &subject,
        greeting: &greeting,
        organization: &organization,
        as_of: record.as_of.format("%Y-%m-%d").to_string(),
        count: &count,
        due: due.to_string(),
        replacements: &replacements,
        waves: &waves,
        commands: &commands,
    }
    .render()
    .expect("the notify page template renders into a string");
    Message {
        owner: owner.descriptor.clone(),
        principal_name: owner.principal_name.clone(),
        display_name: owner.display_name.clone(),
        mail,
        subject,
        due,
        wave: items.iter().map(|i| i.wave).min().unwrap_or(Wave::AtExpiry),
        pats,
        ssh_keys,
        text,
        html,
        html_page,
    }
}

/// `Revoke now (today: leaked, …)`.
fn wave_title(wave: Wave) -> String {
    let name = match wave {
        Wave::RevokeNow => "Revoke now",
        Wave::Now => "Now",
        Wave::Next => "Next",
        Wave::AtExpiry => "At expiry",
    };
    format!("{name}: {}", wave.describe())
}

fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| if s.code { format!("`{}`", s.text) } else { s.text.clone() }).collect()
}

/// Appends `text` wrapped to `TEXT_WIDTH`, the first line after `first`, the others after
/// `rest` (the same width as `first`, for a hanging indent).
fn push_wrapped(out: &mut String, first: &str, rest: &str, text: &str) {
    let width = TEXT_WIDTH.saturating_sub(first.chars().count()).max(20);
    let lines = crate::report::wrap(text, width);
    if lines.is_empty() {
        out.push_str(first.trim_end());
        out.push('\n');
    }
    for (i, line) in lines.iter().enumerate() {
        out.push_str(if i == 0 { first } else { rest });
        out.push_str(line);
        out.push('\n');
    }
}

#[allow(clippy::too_many_arguments)]
fn text(
    greeting: &str,
    organization: &str,
    record: &ScanRecord,
    count: &str,
    due: NaiveDate,
    replacements: &[Replacement],
    waves: &[WaveGroup],
    commands: &[String],
) -> String {
    let mut out = String::new();
    push_wrapped(&mut out, "", "", &format!("Hello {greeting},"));
    out.push('\n');
    push_wrapped(
        &mut out,
        "",
        "",
        &format!(
            "Azure DevOps organization {organization} is replacing personal access tokens (PATs) with \
             Microsoft Entra ID tokens. The scan of {} lists {count} of yours. Please act by {due}: \
             set up the replacements first, switch what uses each token, then revoke it by its due date.",
            record.as_of.format("%Y-%m-%d")
        ),
    );
    let mut section = 0;
    if !replacements.is_empty() {
        section += 1;
        out.push('\n');
        out.push_str(&format!("{section}. Set up first\n"));
        for r in replacements {
            out.push('\n');
            push_wrapped(&mut out, "   - ", "     ", &format!("{} ({})", r.title, r.id));
            if !r.action.is_empty() {
                push_wrapped(&mut out, "     ", "     ", &plain(&r.action));
            }
            for (n, step) in r.steps.iter().enumerate() {
                let first = format!("     {}. ", n + 1);
                let rest = " ".repeat(first.chars().count());
                push_wrapped(&mut out, &first, &rest, &plain(step));
            }
            if let Some(link) = &r.learn {
                out.push_str("     More on Microsoft Learn:\n");
                push_wrapped(&mut out, "     ", "     ", link);
            }
        }
    }
    section += 1;
    out.push('\n');
    out.push_str(&format!("{section}. Your credentials, most urgent first\n"));
    for group in waves {
        out.push('\n');
        push_wrapped(&mut out, "   ", "   ", &group.title);
        for row in &group.rows {
            push_wrapped(
                &mut out,
                "   - ",
                "     ",
                &format!("{} ({}, id {}…), due {}", row.name, row.kind, row.id, row.due),
            );
            push_wrapped(&mut out, "     findings: ", "               ", &row.findings);
            push_wrapped(&mut out, "     do: ", "         ", &plain(&row.what));
            if let Some(seen) = &row.last_seen {
                push_wrapped(&mut out, "     ", "     ", seen);
            }
        }
    }
    if !commands.is_empty() {
        section += 1;
        out.push('\n');
        out.push_str(&format!("{section}. Commands and settings the steps use\n\n"));
        for c in commands {
            push_wrapped(&mut out, "   ", "     ", c);
        }
    }
    out.push('\n');
    push_wrapped(
        &mut out,
        "",
        "",
        "Revoke a token yourself once nothing uses it: User settings > Personal access tokens > Revoke. \
         Questions: ask the Azure DevOps administrators of the organization.",
    );
    out.push('\n');
    out.push_str("-- \nSent by pat2entra from the organization's PAT audit.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Coverage, Inventory, Owner, Token};
    use chrono::{Duration, TimeZone, Utc};

    fn owner(descriptor: &str, principal: &str, display: &str, mail: Option<&str>) -> Owner {
        Owner {
            descriptor: descriptor.into(),
            display_name: display.into(),
            principal_name: principal.into(),
            mail: mail.map(crate::Text::from),
            origin: "aad".into(),
            ..Owner::default()
        }
    }

    fn token(id: &str, owner: &str, name: &str, scopes: &[&str], days_left: i64) -> Token {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: name.into(),
            scopes: scopes.iter().map(|s| crate::Text::from(*s)).collect(),
            all_organizations: false,
            target_accounts: ["org".into()].into(),
            valid_from: Some(now - Duration::days(30)),
            valid_to: Some(now + Duration::days(days_left)),
            is_valid: true,
            ..Token::default()
        }
    }

    fn record(owners: Vec<Owner>, tokens: Vec<Token>) -> ScanRecord {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let n = owners.len();
        let inventory = Inventory {
            organization: "fabrikam".into(),
            owners,
            tokens,
            coverage: Coverage::new(n, n, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        ScanRecord::judge(inventory, &crate::rules::RuleSet::default_rules(), as_of)
    }

    const HOSTILE: &str = "<script>alert('x')</script>\u{1b}[31m\r\nBcc: evil@example.com";

    #[test]
    fn one_message_per_owner_with_the_plan_in_order_and_hostile_names_escaped() {
        let r = record(
            vec![
                owner("aad.a", "ana@fabrikam.com", HOSTILE, Some("ana@fabrikam.com")),
                owner("aad.b", "bo@fabrikam.com", "Bo", None),
            ],
            vec![
                token("11111111-0000-0000-0000-000000000001", "aad.a", HOSTILE, &["app_token"], 200),
                token("11111111-0000-0000-0000-000000000002", "aad.a", "git pushes", &["vso.code_write"], 20),
                token("22222222-0000-0000-0000-000000000001", "aad.b", "reader", &["vso.work"], 10),
            ],
        );
        let n = build(&r, &Selectors::default()).unwrap();
        assert_eq!(n.messages.len(), 2);
        let a = n.messages.iter().find(|m| m.owner == "aad.a").unwrap();
        assert_eq!(a.pats, 2);
        assert!(
            a.subject.starts_with("Replace 2 personal access tokens with Microsoft Entra ID by 2026-"),
            "{}",
            a.subject
        );
        assert_eq!(n.without_mail().map(|m| m.owner.as_str()).collect::<Vec<_>>(), ["aad.b"]);
        // Plain text: no control characters, 78 columns (but for a long unbreakable word).
        assert!(!a.text.contains('\u{1b}') && !a.text.contains('\r'), "{}", a.text);
        for line in a.text.lines() {
            assert!(line.chars().count() <= TEXT_WIDTH || !line.trim().contains(' '), "too wide: {line:?}");
        }
        // HTML: the names are text, never markup.
        assert!(!a.html.contains("<script>"), "{}", a.html);
        assert!(a.html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{}", a.html);
        assert!(!a.html.contains('\u{1b}'));
        let page = &a.html_page;
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains(a.html.trim()), "{page}");
        // Set up first comes before the credentials, which come by wave.
        let set_up = a.text.find("Set up first").unwrap();
        let creds = a.text.find("Your credentials").unwrap();
        assert!(set_up < creds, "{}", a.text);
        assert!(a.html.find("Set up first").unwrap() < a.html.find("Your credentials").unwrap());
    }

    #[test]
    fn selectors_narrow_the_messages_and_unknown_names_are_errors() {
        let r = record(
            vec![
                owner("aad.a", "ana@fabrikam.com", "Ana", Some("ana@fabrikam.com")),
                owner("aad.b", "bo@fabrikam.com", "Bo", None),
            ],
            vec![
                token("11111111-0000-0000-0000-000000000001", "aad.a", "a", &["vso.code"], 20),
                token("22222222-0000-0000-0000-000000000001", "aad.b", "b", &["vso.work"], 10),
            ],
        );
        let only_bo = Selectors { owners: vec!["bo@fabrikam.com".into()], ..Selectors::default() };
        let n = build(&r, &only_bo).unwrap();
        assert_eq!(n.messages.iter().map(|m| m.owner.as_str()).collect::<Vec<_>>(), ["aad.b"]);
        let nobody = Selectors { owners: vec!["eve@fabrikam.com".into()], ..Selectors::default() };
        assert!(matches!(build(&r, &nobody), Err(SelectError::UnknownOwner(_))));
    }

    #[test]
    fn subjects_count_what_they_list() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(subject(1, 0, d), "Replace 1 personal access token with Microsoft Entra ID by 2026-12-03");
        assert_eq!(
            subject(2, 1, d),
            "Replace 2 personal access tokens and 1 SSH key with Microsoft Entra ID by 2026-12-03"
        );
        assert_eq!(subject(0, 2, d), "Replace 2 SSH keys with Microsoft Entra ID by 2026-12-03");
    }

    #[test]
    fn code_spans_are_commands() {
        assert_eq!(code_spans("run `az login` then `git fetch`"), ["az login", "git fetch"]);
        assert!(code_spans("an odd ` backtick").is_empty());
    }
}
