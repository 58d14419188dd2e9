//! `pat2entra orgs`: the organizations the identity can see (profile, then accounts), or the
//! ones the portal's export of a tenant lists (`--from-csv`). Also what `scan --orgs-file` and
//! `scan --all-orgs` read.

use super::Failure;
use super::auth::AuthArgs;
use crate::ado::{AdoClient, ClientOptions, Endpoints, OrgRef};
use crate::exit::Exit;
use crate::tenant::{OrganizationEntry, parse_organizations};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgsFormat {
    /// One line per organization.
    Table,
    /// A JSON array of {name, id, url, owner, note}.
    Json,
    /// name,id,url,owner,note: a file `scan --orgs-file` reads back.
    Csv,
}

#[derive(Debug, Args)]
pub struct OrgsArgs {
    /// Read the CSV the Azure DevOps portal exports of the organizations connected to a
    /// Microsoft Entra tenant (Organization settings > Microsoft Entra > Download) instead of
    /// asking the service; or a file of names, one per line.
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<PathBuf>,

    /// Send the profile and accounts requests to URL/_apis/... instead of
    /// app.vssps.visualstudio.com (a proxy or the simulator).
    #[arg(long, value_name = "URL", conflicts_with = "from_csv")]
    pub base_url: Option<String>,

    /// Output format.
    #[arg(long, short = 'o', value_enum, ignore_case = true, default_value_t = OrgsFormat::Table)]
    pub output: OrgsFormat,

    /// Write the list to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// No sign-in line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub auth: AuthArgs,
}

pub async fn run(args: OrgsArgs) -> Result<Exit, Failure> {
    super::check_out(args.out.as_deref())?;
    let entries = match &args.from_csv {
        Some(path) => read_file(path, "--from-csv")?,
        None => {
            let endpoints = endpoints(args.base_url.as_deref())?;
            let signed_in = super::auth::sign_in(&args.auth).await?;
            if !args.quiet {
                eprintln!("auth: {}", crate::report::terminal_text(&signed_in.description));
            }
            let client = AdoClient::for_tenant(endpoints, signed_in.credential, ClientOptions::default())
                .map_err(|e| Failure::error(Exit::Usage, e))?;
            list(&client).await?
        }
    };
    super::write_to(args.out.as_deref(), |out| render(&entries, args.output, out))?;
    if entries.is_empty() {
        eprintln!(
            "warning: the identity belongs to no organization it can list (a service principal gets an empty list); name them with --org or --orgs-file"
        );
    }
    Ok(Exit::Ok)
}

pub(crate) fn endpoints(base_url: Option<&str>) -> Result<Endpoints, Failure> {
    match base_url {
        Some(url) => Endpoints::single_base(url).map_err(|e| Failure::error(Exit::Usage, e)),
        None => Ok(Endpoints::azure_devops()),
    }
}

/// The organizations the identity belongs to, in name order. A name the scanner would not
/// accept stays listed, with a note (a scan reports it as not scanned).
pub(crate) async fn list(client: &AdoClient) -> Result<Vec<OrganizationEntry>, Failure> {
    let (_, accounts) = client.organizations().await.map_err(|e| {
        Failure::new(if e.is_auth() { Exit::Auth } else { Exit::Incomplete }, format!("listing organizations: {e}"))
    })?;
    let mut entries: Vec<OrganizationEntry> = accounts
        .into_iter()
        .map(|a| {
            let mut notes = Vec::new();
            if let Some(status) = a.account_status.as_deref().filter(|s| !s.eq_ignore_ascii_case("enabled")) {
                notes.push(format!("status: {status}"));
            }
            if let Err(e) = OrgRef::parse(&a.account_name) {
                notes.push(pat2entra_core::error::chain(&e));
            }
            OrganizationEntry {
                name: a.account_name,
                id: a.account_id,
                url: a.account_uri.unwrap_or_default(),
                owner: String::new(),
                note: notes.join("; "),
            }
        })
        .collect();
    entries.sort_by_key(|e| e.name.to_ascii_lowercase());
    Ok(entries)
}

/// An organizations file (`--orgs-file`, `--from-csv`): names, or the portal's CSV export.
/// Every bad line is its own `error:` with file and line (exit 2).
pub(crate) fn read_file(path: &Path, flag: &str) -> Result<Vec<OrganizationEntry>, Failure> {
    let text = crate::files::read_text_limited(path, 16 * 1024 * 1024, "organizations file").map_err(|e| {
        Failure::new(Exit::Usage, format!("{flag} {}: {}", path.display(), pat2entra_core::error::chain(&e)))
    })?;
    let check =
        |raw: &str| OrgRef::parse(raw).map(|o| o.name().to_string()).map_err(|e| pat2entra_core::error::chain(&e));
    parse_organizations(&text, &path.display().to_string(), &check).map_err(|errors| {
        let mut messages = errors.iter().map(ToString::to_string);
        Failure { exit: Exit::Usage, message: messages.next().unwrap_or_default(), more: messages.collect() }
    })
}

fn render(entries: &[OrganizationEntry], format: OrgsFormat, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        OrgsFormat::Json => crate::report::write_pretty(entries, out),
        OrgsFormat::Csv => {
            // RFC 4180, every cell quoted; cells a spreadsheet would run as a formula neutralised.
            let row = |cells: [&str; 5]| {
                cells.map(|c| format!("\"{}\"", crate::report::neutralise(c).replace('"', "\"\""))).join(",")
            };
            writeln!(out, "{}", row(["name", "id", "url", "owner", "note"]))?;
            for e in entries {
                writeln!(out, "{}", row([&e.name, &e.id, &e.url, &e.owner, &e.note]))?;
            }
            Ok(())
        }
        OrgsFormat::Table => {
            let width = entries.iter().map(|e| e.name.chars().count()).max().unwrap_or(0).max(12);
            writeln!(out, "{:width$}  {:36}  note", "organization", "id")?;
            for e in entries {
                let name = crate::report::terminal_text(&e.name);
                writeln!(
                    out,
                    "{name:width$}  {:36}  {}",
                    crate::report::terminal_text(&e.id),
                    crate::report::terminal_text(&e.note)
                )?;
            }
            writeln!(out, "{}", pat2entra_core::text::plural(entries.len(), "organization"))
        }
    }
}
