//! Where the service lives: organization names and service hosts.

use std::net::IpAddr;
use url::Url;

/// An `--org` or `--base-url` that cannot be used. No message repeats a credential found in a
/// URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the organization URL is not valid")]
    OrgUrl(#[source] url::ParseError),
    #[error("'{input}' has no organization in its path (expected https://dev.azure.com/ORG)")]
    NoOrganization { input: String },
    /// `.` and `..`: resolved away in every URL.
    #[error("'{name}' is not a valid organization name (it would drop out of the URL; e.g. --org contoso)")]
    DropsOut { name: String },
    #[error(
        "--org is not a valid organization name or URL and may contain a credential; pass only the name (e.g. --org contoso)"
    )]
    MayHoldCredential,
    #[error("'{name}' is not a valid organization name (letters, digits, '-', '_' or '.'; e.g. --org contoso)")]
    InvalidName { name: String },
    #[error("--base-url is not a URL")]
    BaseUrl(#[source] url::ParseError),
    #[error(
        "--base-url '{base}' uses plain http to a non-loopback host; use https (credentials would travel in clear text)"
    )]
    PlainHttp { base: String },
    #[error("--base-url '{base}' has scheme '{scheme}'; use https")]
    Scheme { base: String, scheme: String },
    #[error(
        "{flag} contains a user name or password; remove it (secrets are read from the environment, e.g. AZURE_DEVOPS_EXT_PAT)"
    )]
    Credentials { flag: &'static str },
}

/// An organization, from `--org` in any of the forms `az devops` accepts:
/// `contoso`, `https://dev.azure.com/contoso`, `https://contoso.visualstudio.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRef(String);

impl OrgRef {
    pub fn parse(input: &str) -> Result<Self, EndpointError> {
        let input = input.trim().trim_end_matches('/');
        let name = if input.contains("://") {
            let url = Url::parse(input).map_err(EndpointError::OrgUrl)?;
            refuse_credentials(&url, "--org")?;
            let host = url.host_str().unwrap_or_default();
            if let Some(org) = host.strip_suffix(".visualstudio.com") {
                org.to_string()
            } else {
                url.path_segments()
                    .and_then(|mut s| s.next().map(str::to_string))
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| EndpointError::NoOrganization { input: input.to_string() })?
            }
        } else {
            input.to_string()
        };
        let valid = !name.is_empty()
            && name.len() <= 50
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        // `.` and `..` would be resolved away in every URL, silently scanning another path.
        if !name.is_empty() && name.chars().all(|c| c == '.') {
            return Err(EndpointError::DropsOut { name });
        }
        if !valid && (name.contains('@') || name.contains(':')) {
            // Possibly `user:PAT@host`: say what is wrong without repeating it.
            return Err(EndpointError::MayHoldCredential);
        }
        if !valid {
            return Err(EndpointError::InvalidName { name });
        }
        Ok(OrgRef(name))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// No organization: a client for the endpoints outside any organization (profile,
    /// accounts); every organization request of it is refused.
    pub(crate) fn none() -> Self {
        OrgRef(String::new())
    }
}

/// Base URLs of the service hosts pat2entra talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The organization itself (`dev.azure.com`): `connectionData`.
    pub dev: Url,
    /// Graph, Token Admin (`vssps.dev.azure.com`).
    pub vssps: Url,
    /// Member entitlements (`vsaex.dev.azure.com`).
    pub vsaex: Url,
    /// Audit log (`auditservice.dev.azure.com`).
    pub audit: Url,
    /// Outside any organization: the caller's profile and the organizations it belongs to
    /// (`app.vssps.visualstudio.com`, the host of Microsoft's `profile` and `account` specs).
    pub app: Url,
}

impl Endpoints {
    /// The public Azure DevOps Services hosts.
    pub fn azure_devops() -> Self {
        Endpoints {
            dev: Url::parse("https://dev.azure.com/").expect("static URL"),
            vssps: Url::parse("https://vssps.dev.azure.com/").expect("static URL"),
            vsaex: Url::parse("https://vsaex.dev.azure.com/").expect("static URL"),
            audit: Url::parse("https://auditservice.dev.azure.com/").expect("static URL"),
            app: Url::parse("https://app.vssps.visualstudio.com/").expect("static URL"),
        }
    }

    /// Every service host sent to one base URL (`--base-url`), for the simulator or a proxy.
    /// Plain `http://` is refused unless the host is loopback: credentials must not cross a
    /// network in clear text.
    pub fn single_base(base: &str) -> Result<Self, EndpointError> {
        let mut url = Url::parse(base).map_err(EndpointError::BaseUrl)?;
        refuse_credentials(&url, "--base-url")?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(EndpointError::PlainHttp { base: base.to_string() });
            }
            other => {
                return Err(EndpointError::Scheme { base: base.to_string(), scheme: other.to_string() });
            }
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Endpoints { dev: url.clone(), vssps: url.clone(), vsaex: url.clone(), audit: url.clone(), app: url })
    }
}

/// A URL with a user name or password in it (`https://user:PAT@dev.azure.com/...`) would put a
/// secret in arguments, logs and error messages: refused, without repeating it.
fn refuse_credentials(url: &Url, flag: &'static str) -> Result<(), EndpointError> {
    if url.username().is_empty() && url.password().is_none() {
        Ok(())
    } else {
        Err(EndpointError::Credentials { flag })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_accepts_az_devops_forms() {
        for input in [
            "contoso",
            "https://dev.azure.com/contoso",
            "https://dev.azure.com/contoso/",
            "https://contoso.visualstudio.com",
        ] {
            assert_eq!(OrgRef::parse(input).unwrap().name(), "contoso", "{input}");
        }
        assert!(OrgRef::parse("https://dev.azure.com/").is_err());
        assert!(OrgRef::parse("con toso").unwrap_err().to_string().contains("not a valid organization"));
        for dots in [".", "..", "...", " .. ", "../"] {
            let err = OrgRef::parse(dots).unwrap_err().to_string();
            assert!(err.contains("drop out of the URL"), "{dots}: {err}");
        }
        assert_eq!(OrgRef::parse("a.b").unwrap().name(), "a.b");
    }

    #[test]
    fn credentials_in_urls_are_refused_without_being_repeated() {
        for err in [
            OrgRef::parse("https://me:s3cretpat@dev.azure.com/contoso").unwrap_err(),
            Endpoints::single_base("https://me:s3cretpat@proxy.example.com").unwrap_err(),
            Endpoints::single_base("http://s3cretpat@127.0.0.1:8080").unwrap_err(),
        ] {
            let err = pat2entra_core::error::chain(&err);
            assert!(err.contains("user name or password"), "{err}");
            assert!(!err.contains("s3cretpat"), "{err}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(Endpoints::single_base("http://127.0.0.1:8080").is_ok());
        assert!(Endpoints::single_base("http://localhost:1").is_ok());
        assert!(Endpoints::single_base("http://[::1]:1").is_ok());
        assert!(Endpoints::single_base("https://proxy.example.com/ado").is_ok());
        let err = Endpoints::single_base("http://proxy.example.com").unwrap_err().to_string();
        assert!(err.contains("clear text"), "{err}");
        assert!(Endpoints::single_base("ftp://127.0.0.1").is_err());
        let e = Endpoints::single_base("https://proxy.example.com/ado").unwrap();
        assert_eq!(e.vssps.join("fabrikam/_apis").unwrap().as_str(), "https://proxy.example.com/ado/fabrikam/_apis");
    }
}
