//! `pat2entra whoami`: who pat2entra signs in as, which organization answers, and whether the
//! identity may use Token Admin: the answer to "will the scan work?" in two requests.

use super::Failure;
use super::auth::{AuthArgs, sign_in};
use crate::ado::{AdoClient, AdoError, Caller, ClientOptions, Credential, Endpoints, OrgRef, TokenAdminProbe};
use crate::auth::{Candidate, TokenClaims, token_claims};
use crate::exit::Exit;
use crate::report::terminal_text;
use clap::Args;
use std::time::SystemTime;

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Organization: its name or URL (contoso, https://dev.azure.com/contoso).
    #[arg(long, value_name = "ORG")]
    pub org: String,

    /// Send requests to URL/{org}/_apis/... instead of *.dev.azure.com (a proxy or the simulator).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Largest response body read, in MiB, counted after decompression.
    #[arg(long, value_name = "N", default_value_t = crate::ado::DEFAULT_MAX_RESPONSE_MB, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_response_mb: u64,

    /// Time allowed for one request, body included (e.g. 30s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::limits::parse_duration)]
    pub request_timeout: std::time::Duration,

    /// Also settle how the service behaves where Microsoft's documents leave it open (read-only,
    /// at most about 20 requests): (1) GET vssps/{org}/_apis/tokens/pats?displayFilterOption=all, then
    /// =revoked (the lifecycle API: your own PATs, targetAccounts filled; a user's Entra token
    /// only); (2) Token Admin for your own descriptor with pageSize 1000, 500, 200, 100, 50, 20
    /// until one is accepted, then halving the gap (at most 12 calls): the largest accepted
    /// pageSize; (3) Token Admin for your own descriptor, paged: compared with (1), does it fill
    /// targetAccounts, list revoked and expired PATs and how it marks them, and the last page's
    /// continuationToken; (4) Token Admin for a user and an application descriptor that exist
    /// nowhere: the statuses whoami's verdict rests on.
    #[arg(long)]
    pub probe: bool,

    /// Write what --probe settled to FILE (a small versioned JSON profile, private file), for
    /// `pat2entra scan --service-profile FILE`.
    #[arg(long, value_name = "FILE", requires = "probe")]
    pub save_profile: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub auth: AuthArgs,
}

pub async fn run(args: WhoamiArgs) -> Result<Exit, Failure> {
    let org = OrgRef::parse(&args.org)
        .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
    let endpoints = match &args.base_url {
        Some(url) => Endpoints::single_base(url).map_err(|e| Failure::error(Exit::Usage, e))?,
        None => Endpoints::azure_devops(),
    };
    let org_url = endpoints.dev.join(org.name()).map(|u| u.to_string()).unwrap_or_default();
    if let Some(path) = &args.save_profile {
        crate::files::check_writable(path)
            .map_err(|e| Failure::new(Exit::Usage, format!("--save-profile: {}", pat2entra_core::error::chain(&e))))?;
    }
    let signed_in = sign_in(&args.auth).await?;
    let claims = match &signed_in.credential {
        Credential::Entra(source) => source.token().await.ok().and_then(|t| token_claims(&t)),
        _ => None,
    };
    let options = ClientOptions {
        max_retries: 2,
        max_response_bytes: args.max_response_mb * 1024 * 1024,
        request_timeout: args.request_timeout,
        ..ClientOptions::default()
    };
    let client = AdoClient::new(endpoints, org.clone(), signed_in.credential.clone(), options)
        .map_err(|e| Failure::error(Exit::Usage, e))?;

    show("credential", &format!("{}{}", signed_in.description, token_note(claims.as_ref(), signed_in.expires_at)));
    let connection = match client.connection_data().await {
        Ok(connection) => connection,
        Err(e @ AdoError::OrganizationNotFound { .. }) => return Err(Failure::new(Exit::Usage, e.to_string())),
        Err(e) if e.is_auth() => {
            return Err(Failure::new(Exit::Auth, not_accepted(&e, &signed_in.candidate, claims.as_ref())));
        }
        // whoami promises a verdict: "could not check" is not a pass.
        Err(e) => return Err(Failure::new(Exit::Auth, format!("could not check the identity: {e}"))),
    };
    let caller = &connection.caller;
    if caller.is_anonymous() {
        return Err(Failure::new(
            Exit::Auth,
            format!(
                "{org_url} answered for an anonymous caller: the credential was not accepted as an identity of this organization"
            ),
        ));
    }
    let instance = connection.instance_id.as_deref().map(|i| format!(", instance {i}")).unwrap_or_default();
    show("organization", &format!("{} ({org_url}{instance})", org.name()));
    show("signed in as", &describe_caller(caller));

    let Some(descriptor) = caller.subject_descriptor.as_deref() else {
        show("token admin", "not checked: the service named no subject descriptor for this identity");
        return Err(Failure::new(
            Exit::Auth,
            "could not check the Token Admin permission (no subject descriptor); try a short scan: pat2entra scan --org ... --concurrency 1",
        ));
    };
    match client.probe_token_admin(descriptor).await {
        Ok(probe) => {
            let note = match probe {
                TokenAdminProbe::Allowed { .. } => "",
                TokenAdminProbe::AllowedSubjectUnknown => " (this identity has no PATs of its own)",
            };
            show("token admin", &format!("allowed: this identity may list every user's PATs{note}"));
            if args.probe {
                let user_token = matches!(signed_in.credential, Credential::Entra(_));
                probe_service(&client, &connection, user_token, org.name(), args.save_profile.as_deref()).await?;
            }
            let profile =
                args.save_profile.as_ref().map(|p| format!(" --service-profile {}", p.display())).unwrap_or_default();
            show("next", &format!("pat2entra scan --org {} --auth {}{profile}", org.name(), args.auth.method.name()));
            Ok(Exit::Ok)
        }
        Err(AdoError::TokenAdminDenied { status, .. }) => {
            show("token admin", &format!("DENIED (HTTP {status})"));
            Err(Failure::new(Exit::Auth, missing_permission(caller, &signed_in.candidate, org.name())))
        }
        Err(e) if e.is_auth() => Err(Failure::new(Exit::Auth, e.to_string())),
        Err(e) => Err(Failure::new(Exit::Auth, format!("could not check the Token Admin permission: {e}"))),
    }
}

/// `--probe`: prints what the service showed, line by line, and saves the profile if asked.
async fn probe_service(
    client: &AdoClient,
    connection: &crate::ado::Connection,
    user_token: bool,
    org: &str,
    save: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let report = crate::ado::probe::probe(client, connection, user_token).await;
    println!("service behaviour (whoami --probe):");
    for (label, text) in &report.lines {
        println!("  {label:<18}{}", terminal_text(text));
    }
    let Some(path) = save else {
        return Ok(());
    };
    let profile = pat2entra_core::service::ServiceProfile {
        version: pat2entra_core::service::PROFILE_VERSION,
        organization: org.to_string(),
        probed_at: chrono::Utc::now(),
        behaviour: report.behaviour,
        notes: report.lines.iter().map(|(label, text)| format!("{label}: {text}")).collect(),
    };
    let written = crate::files::AtomicFile::create(path).and_then(|mut file| {
        use std::io::Write as _;
        file.write_all(profile.to_json().as_bytes())?;
        file.commit()
    });
    written.map_err(|e| Failure::new(Exit::Usage, format!("--save-profile: cannot write {}: {e}", path.display())))?;
    show("profile", &format!("written to {}", path.display()));
    Ok(())
}

/// Prints one line of the answer: a label, then text that may come from the service, the token
/// or the environment (names, descriptors, tenant), [`terminal_text`]ed so that it cannot drive
/// the terminal.
fn show(label: &str, text: &str) {
    println!("{label:<14}{}", terminal_text(text));
}

/// `, token for tenant T, expires in 59 min`.
fn token_note(claims: Option<&TokenClaims>, expires_at: Option<SystemTime>) -> String {
    let mut note = String::new();
    if let Some(tenant) = claims.and_then(|c| c.tenant.as_deref()) {
        note.push_str(&format!("; token from tenant {tenant}"));
    }
    if let Some(left) = expires_at.and_then(|e| e.duration_since(SystemTime::now()).ok()) {
        note.push_str(&format!(", expires in {} min", left.as_secs().div_ceil(60)));
    }
    note
}

fn describe_caller(caller: &Caller) -> String {
    let kind = if caller.is_service_principal() { "a service principal" } else { "a user" };
    let account = caller.account.as_deref().map(|a| format!(" <{a}>")).unwrap_or_default();
    let descriptor = caller.subject_descriptor.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    format!("{}{account}, {kind}{descriptor}", caller.display_name)
}

/// The credential was refused: say which of token, tenant or organization is likely wrong.
fn not_accepted(e: &AdoError, candidate: &Candidate, claims: Option<&TokenClaims>) -> String {
    let advice = match (candidate, claims.and_then(|c| c.tenant.as_deref())) {
        (Candidate::Pat(_), _) => {
            "check that the PAT has not expired or been revoked and that it was created for this organization (or all organizations)".to_string()
        }
        (_, Some(tenant)) => format!(
            "the token was issued by tenant {tenant}: the organization must be connected to that Microsoft Entra tenant (Organization settings > Microsoft Entra), or sign in to the organization's tenant with --tenant TENANT; the identity must also be a member of the organization"
        ),
        _ => "sign in to the organization's Microsoft Entra tenant (--tenant TENANT); the identity must be a member of the organization".to_string(),
    };
    format!("{e}\n  {advice}")
}

/// What to change when Token Admin refuses: the role, the scope, or both.
fn missing_permission(caller: &Caller, candidate: &Candidate, org: &str) -> String {
    let who = if caller.is_service_principal() {
        format!(
            "add the service principal '{}' to the organization (Organization settings > Users > Add) and to the Project Collection Administrators group",
            caller.display_name
        )
    } else {
        format!(
            "add '{}' to the Project Collection Administrators group (Organization settings > Permissions)",
            caller.account.as_deref().unwrap_or(&caller.display_name)
        )
    };
    let scope = match candidate {
        Candidate::Pat(_) => {
            "; the PAT also needs the scope vso.tokenadministration (Token Administration, Read & manage) and vso.graph, or full access"
        }
        _ => "; an Entra token carries the identity's permissions, so only the role is missing",
    };
    format!("the identity may not list other users' tokens in '{org}': {who}{scope}")
}
