//! How the client proves who it is: a PAT, a fixed Entra token, or a source of Entra tokens
//! that caches and refreshes them (`crate::auth`). Nothing here prints a secret.

use super::error::AdoError;
use base64::Engine as _;
use futures::future::BoxFuture;
use pat2entra_core::secret::Secret;
use reqwest::header::HeaderValue;
use std::fmt;
use std::sync::Arc;

/// A source of Entra access tokens: one token per run, refreshed before it expires, and
/// replaced when the service refuses it.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token that is valid for a while yet (cached, or newly acquired).
    fn token(&self) -> BoxFuture<'_, Result<Secret, TokenError>>;

    /// A new token after the service refused `rejected`. Concurrent callers that saw the same
    /// token refused share one refresh.
    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, TokenError>>;
}

/// Why no Entra access token could be had (sign-in's errors). Messages say what to do and never
/// hold a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The credential (or the tool behind it: az, azd, the token endpoint) failed; the
    /// explanation is one actionable line (`auth::explain`).
    #[error("{explanation}")]
    Refused { explanation: String },
    /// The HTTP client of sign-in could not be built (reqwest's message: no secret).
    #[error("cannot set up the HTTP client for sign-in: {detail}")]
    HttpClient { detail: String },
    #[error("routing the authority to loopback needs --authority-host")]
    NoAuthorityHost,
    #[error("{target} is not a loopback address; the authority can only be routed to loopback")]
    NotLoopback { target: std::net::SocketAddr },
    #[error("the authority '{authority}' has no host")]
    NoHost { authority: String },
    /// A PAT reached the Entra token machinery (a bug in the sign-in chain).
    #[error("a personal access token is not an Entra credential")]
    NotEntra,
}

/// How the client proves who it is.
#[derive(Clone)]
pub enum Credential {
    /// A personal access token, sent as Basic with an empty user name (the `az devops` convention).
    Pat(Secret),
    /// A fixed Entra (OAuth) access token, sent as Bearer.
    Bearer(Secret),
    /// Entra access tokens from a source that refreshes them, sent as Bearer.
    Entra(Arc<dyn TokenSource>),
}

/// The `Authorization` header of one request, and the token in it when it can be refreshed.
pub(crate) struct Authorization {
    pub header: HeaderValue,
    pub refreshable: Option<Secret>,
}

impl Credential {
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Pat(_) => "personal access token",
            Credential::Bearer(_) | Credential::Entra(_) => "Entra access token",
        }
    }

    /// `text` (from the service) without this credential in it, in any form it is sent in,
    /// nor anything else that looks like a credential: a server may echo the request back.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        if let Credential::Pat(secret) | Credential::Bearer(secret) = self {
            let raw = secret.expose();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(":{raw}"));
            for form in [basic.as_str(), raw] {
                if !form.is_empty() && text.contains(form) {
                    text = text.replace(form, "<redacted>");
                }
            }
        }
        pat2entra_core::redact::scrub_credentials(&text).into_owned()
    }

    /// The header for the next request (acquiring or refreshing a token first if needed).
    pub(crate) async fn authorize(&self) -> Result<Authorization, AdoError> {
        match self {
            Credential::Pat(pat) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!(":{}", pat.expose()));
                Ok(Authorization { header: sensitive(format!("Basic {encoded}")), refreshable: None })
            }
            Credential::Bearer(token) => {
                Ok(Authorization { header: sensitive(format!("Bearer {}", token.expose())), refreshable: None })
            }
            Credential::Entra(source) => {
                let token = source.token().await.map_err(|e| AdoError::Credential { reason: e })?;
                Ok(Authorization { header: sensitive(format!("Bearer {}", token.expose())), refreshable: Some(token) })
            }
        }
    }

    /// Replaces a token the service refused. `Ok(false)`: this credential cannot be refreshed.
    pub(crate) async fn refresh(&self, rejected: &Secret) -> Result<bool, AdoError> {
        match self {
            Credential::Entra(source) => {
                source.refresh(rejected).await.map_err(|e| AdoError::Credential { reason: e })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A header value marked sensitive, so no HTTP layer prints it. A credential that is not a
/// valid header value is refused by the server as unauthenticated.
fn sensitive(raw: String) -> HeaderValue {
    let mut value = HeaderValue::from_str(&raw).unwrap_or_else(|_| HeaderValue::from_static("Basic invalid"));
    value.set_sensitive(true);
    value
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.kind())
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorization(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn headers_are_sensitive_and_debug_redacts() {
        for credential in [Credential::Pat(Secret::new("pat-value-1")), Credential::Bearer(Secret::new("jwt-value-2"))]
        {
            let auth = credential.authorize().await.unwrap();
            assert!(auth.header.is_sensitive());
            let shown = format!("{credential:?} {auth:?} {:?}", auth.header);
            assert!(!shown.contains("value-"), "{shown}");
            assert!(auth.refreshable.is_none());
        }
        let auth = Credential::Pat(Secret::new("abc")).authorize().await.unwrap();
        assert_eq!(auth.header.to_str().unwrap(), "Basic OmFiYw==");
    }

    #[test]
    fn text_echoed_by_a_server_loses_the_credential() {
        let pat = Credential::Pat(Secret::new("short-pat-1"));
        let echoed = "denied: Authorization: Basic OnNob3J0LXBhdC0x for pat short-pat-1 (mail ops@contoso.com)";
        let clean = pat.scrub(echoed);
        assert!(!clean.contains("short-pat-1") && !clean.contains("OnNob3J0LXBhdC0x"), "{clean}");
        assert!(clean.contains("ops@contoso.com") && clean.starts_with("denied:"), "{clean}");
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl";
        let entra = Credential::Bearer(Secret::new(jwt));
        assert!(!entra.scrub(&format!("token {jwt} refused")).contains(jwt));
        assert_eq!(entra.scrub("plain text"), "plain text");
    }
}
