//! Turns a credential's failure into one line that says what to do. Errors are read through
//! `Display` only (`azure_core::Error`'s `Debug` carries a backtrace).

use super::chain::Candidate;

/// The longest piece of a tool's own message that is quoted.
const MAX_DETAIL: usize = 240;

/// One actionable line for a failed token request of `candidate`.
pub fn explain(candidate: &Candidate, error: &azure_core::Error) -> String {
    explain_text(candidate, &message_of(error))
}

/// What azure_core's retry policy wraps a transport's own message in (it says nothing).
const GENERIC_WRAPPERS: [&str; 2] = [
    "non-transport error occurred which will not be retried",
    "retry policy expired and the request will no longer be retried",
];

/// The error's message, or, when that is only the retry policy's generic wrapper, the message
/// of its innermost cause (e.g. "… answered HTTP 302 (a redirect); redirects are never followed").
fn message_of(error: &azure_core::Error) -> String {
    let top = error.to_string();
    if !GENERIC_WRAPPERS.iter().any(|w| top.contains(w)) {
        return top;
    }
    let mut innermost = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    innermost.unwrap_or(top)
}

pub(crate) fn explain_text(candidate: &Candidate, raw: &str) -> String {
    let detail = detail_of(raw);
    let lower = detail.to_ascii_lowercase();
    let aadsts = aadsts_code(&detail);
    match candidate {
        Candidate::AzureCli { .. } if not_found(&lower, "az") => {
            "the Azure CLI (az) is not installed or not on PATH: install it and run `az login`, or choose another --auth"
                .into()
        }
        Candidate::AzureCli { .. } if lower.contains("az login") || lower.contains("not logged in") => {
            "the Azure CLI is not signed in: run `az login` (add `--tenant TENANT` for the organization's Entra tenant), or choose another --auth".into()
        }
        Candidate::AzureDeveloperCli { .. } if not_found(&lower, "azd") => {
            "the Azure Developer CLI (azd) is not installed or not on PATH: install it and run `azd auth login`, or choose another --auth".into()
        }
        Candidate::AzureDeveloperCli { .. } if lower.contains("azd auth login") || lower.contains("not logged in") => {
            "the Azure Developer CLI is not signed in: run `azd auth login`, or choose another --auth".into()
        }
        Candidate::ClientSecret { secret_from, .. } if aadsts == Some(7000215) => format!(
            "Entra refused the client secret (AADSTS7000215): check that {secret_from} holds the secret's value (not its ID) and that the secret has not expired"
        ),
        Candidate::ClientSecret { client_id, tenant, .. }
        | Candidate::WorkloadIdentity { client_id, tenant, .. }
        | Candidate::AzurePipelines { client_id, tenant, .. }
            if aadsts == Some(700016) =>
        {
            format!(
                "Entra does not know application {client_id} in tenant {tenant} (AADSTS700016): check AZURE_CLIENT_ID and the tenant (--tenant / AZURE_TENANT_ID)"
            )
        }
        _ if aadsts == Some(90002) => {
            "Entra does not know the tenant (AADSTS90002): check --tenant / AZURE_TENANT_ID (the organization's Entra tenant id)".into()
        }
        Candidate::WorkloadIdentity { .. } | Candidate::AzurePipelines { .. } if aadsts.is_some() => format!(
            "Entra refused the federated credential: {detail} (check the federated credential's issuer and subject on the app registration)"
        ),
        Candidate::ManagedIdentity { .. } if lower.contains("not been assigned") => {
            "no managed identity is assigned to this Azure resource (or not the one AZURE_CLIENT_ID names): assign one, or choose another --auth".into()
        }
        _ => format!("{}: {detail}", candidate.label()),
    }
}

fn not_found(lower: &str, tool: &str) -> bool {
    lower.contains(&format!("{tool} not found on path")) || lower.contains("wasn't found on path")
}

/// The tool's or the service's own words, on one line, without the SDK's boilerplate.
fn detail_of(raw: &str) -> String {
    let without_link = raw.split("To troubleshoot, visit").next().unwrap_or_default();
    let mut text = without_link.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(rest) = text.split_once("authentication failed.").map(|(_, rest)| rest.trim().to_string()) {
        text = rest;
    }
    let text = text.trim_start_matches("ERROR:").trim().to_string();
    if text.chars().count() > MAX_DETAIL {
        format!("{}…", text.chars().take(MAX_DETAIL).collect::<String>())
    } else if text.is_empty() {
        "no detail given".into()
    } else {
        text
    }
}

/// `AADSTS7000215: …` → 7000215.
fn aadsts_code(text: &str) -> Option<u32> {
    let start = text.find("AADSTS")? + "AADSTS".len();
    let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pat2entra_core::secret::Secret;

    fn cli() -> Candidate {
        Candidate::AzureCli { tenant: None }
    }

    #[test]
    fn azure_cli_failures_say_what_to_run() {
        let not_logged_in = "AzureCliCredential authentication failed. ERROR: Please run 'az login' to setup account.\n\nTo troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#azure-cli";
        let line = explain_text(&cli(), not_logged_in);
        assert!(line.contains("run `az login`") && !line.contains('\n'), "{line}");
        let missing = explain_text(&cli(), "AzureCliCredential authentication failed. az not found on PATH");
        assert!(missing.contains("not installed"), "{missing}");
        let other =
            explain_text(&cli(), "AzureCliCredential authentication failed. ERROR: AADSTS50076: MFA required\nmore");
        assert_eq!(other, "Azure CLI: AADSTS50076: MFA required more");
    }

    #[test]
    fn entra_codes_become_advice() {
        let sp = Candidate::ClientSecret {
            tenant: "t".into(),
            client_id: "app".into(),
            secret: Secret::new("s"),
            secret_from: "AZURE_CLIENT_SECRET".into(),
        };
        assert!(
            explain_text(
                &sp,
                "ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret provided."
            )
            .contains("AZURE_CLIENT_SECRET holds the secret's value")
        );
        assert!(
            explain_text(&sp, "AADSTS700016: Application with identifier 'app' was not found")
                .contains("application app in tenant t")
        );
        assert!(explain_text(&sp, "AADSTS90002: Tenant 'x' not found.").contains("--tenant"));
        assert_eq!(aadsts_code("x AADSTS1002012: y"), Some(1002012));
        let long = "x".repeat(1000);
        assert!(explain_text(&sp, &long).chars().count() < 300);
    }
}
