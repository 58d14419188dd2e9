//! `notify --via email`: SMTP through `lettre` on tokio with rustls (the platform's certificate
//! verifier, aws-lc-rs; no native-tls or OpenSSL).
//!
//! What a security engineer expects: `smtps://` is TLS from the first byte (port 465),
//! `smtp://` must upgrade with STARTTLS (port 587) or nothing, credentials included, is sent
//! (lettre's `Tls::Required`: no downgrade); plain SMTP only with `--smtp-insecure` and only to
//! loopback. Credentials never come from a flag or the URL: the environment
//! (`PAT2ENTRA_SMTP_USER`, `PAT2ENTRA_SMTP_PASSWORD`) or a file; the password is a `Secret`, and
//! any server answer that would quote it is scrubbed before it becomes a reason in the journal.

use super::{Failure, NotifyArgs};
use crate::exit::Exit;
use crate::notify::Message;
use crate::report::{sanitize, terminal_text};
use crate::secret::Secret;
use base64::Engine as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::Path;

/// The environment variables of the SMTP credentials.
pub const USER_VARIABLE: &str = "PAT2ENTRA_SMTP_USER";
pub const PASSWORD_VARIABLE: &str = "PAT2ENTRA_SMTP_PASSWORD";
/// A credentials file is two short lines.
const MAX_CREDENTIALS_FILE: u64 = 64 * 1024;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the start (`smtps://`).
    Tls,
    /// STARTTLS, required (`smtp://`).
    StartTls,
    /// None (`smtp://` with `--smtp-insecure`, loopback only).
    Plain,
}

/// `--smtp-url`, checked.
#[derive(Debug, Clone)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl SmtpUrl {
    pub fn parse(text: &str, insecure: bool) -> Result<SmtpUrl, Failure> {
        let shown = shown_url(text);
        let bad = |why: &str| Failure::new(Exit::Usage, format!("--smtp-url {shown}: {why}"));
        let url = url::Url::parse(text).map_err(|e| bad(&format!("not a URL ({e}); e.g. smtps://smtp.contoso.com")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(&format!(
                "credentials do not go in the URL (it shows in process lists and shell history); set {USER_VARIABLE} and {PASSWORD_VARIABLE}, or use --smtp-credentials FILE"
            )));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("only smtps://HOST[:PORT] or smtp://HOST[:PORT], without a path or query"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("no host")),
        };
        let loopback =
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let (security, default_port) = match (url.scheme(), insecure) {
            ("smtps", false) => (Security::Tls, 465),
            ("smtp", false) => (Security::StartTls, 587),
            ("smtp", true) if loopback => (Security::Plain, 25),
            ("smtp", true) => {
                return Err(bad(
                    "--smtp-insecure is for a relay on loopback only (127.0.0.1, ::1, localhost): mail and credentials must not cross a network in clear",
                ));
            }
            ("smtps", true) => return Err(bad("--smtp-insecure applies to smtp:// on loopback, not to smtps://")),
            (other, _) => return Err(bad(&format!("scheme '{other}': use smtps:// (TLS) or smtp:// (STARTTLS)"))),
        };
        Ok(SmtpUrl { host, port: url.port().unwrap_or(default_port), security })
    }

    fn describe(&self) -> String {
        let how = match self.security {
            Security::Tls => "TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "no TLS, loopback",
        };
        format!("{}:{} ({how})", self.host, self.port)
    }
}

/// `--smtp-url` as messages show it: without what stands before an `@` of its authority (a user
/// and password someone put there), safe for a terminal.
fn shown_url(text: &str) -> String {
    let shown = match text.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
                None => text.to_string(),
            }
        }
        None => text.to_string(),
    };
    terminal_text(&shown)
}

/// A mail address as lettre reads it (RFC 5321: no display name, no control characters).
pub fn parse_address(text: &str) -> Result<Address, String> {
    text.trim().parse::<Address>().map_err(|e| e.to_string())
}

/// `--from`: an address or `Name <address>`.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if text.chars().any(|c| c.is_control()) {
        return Err("control characters are not allowed".into());
    }
    text.trim().parse::<Mailbox>().map_err(|e| e.to_string())
}

/// The SMTP user and password: from the environment or a file, never from a flag.
struct SmtpLogin {
    user: String,
    password: Secret,
}

fn login(args: &NotifyArgs) -> Result<Option<SmtpLogin>, Failure> {
    let user = std::env::var(USER_VARIABLE).ok().filter(|u| !u.trim().is_empty());
    let password = std::env::var(PASSWORD_VARIABLE).ok().filter(|p| !p.is_empty()).map(Secret::new);
    let usage = |m: String| Err(Failure::new(Exit::Usage, m));
    match (&args.smtp_credentials, user, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            usage(format!("--smtp-credentials and {USER_VARIABLE}/{PASSWORD_VARIABLE} are both given: choose one"))
        }
        (Some(path), None, None) => read_login(path).map(Some),
        (None, Some(user), Some(password)) => Ok(Some(SmtpLogin { user, password })),
        (None, Some(_), None) => usage(format!("{USER_VARIABLE} is set but {PASSWORD_VARIABLE} is not")),
        (None, None, Some(_)) => usage(format!("{PASSWORD_VARIABLE} is set but {USER_VARIABLE} is not")),
        (None, None, None) => Ok(None),
    }
}

fn read_login(path: &Path) -> Result<SmtpLogin, Failure> {
    let bad = |why: String| Failure::new(Exit::Usage, format!("--smtp-credentials {}: {why}", path.display()));
    let text = crate::files::read_text_limited(path, MAX_CREDENTIALS_FILE, "SMTP credentials file")
        .map_err(|e| bad(pat2entra_core::error::chain(&e)))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            eprintln!("warning: --smtp-credentials {}: others may read it (chmod 600 it)", path.display());
        }
    }
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let user = lines.next().unwrap_or_default().trim().to_string();
    let password = lines.next().unwrap_or_default().to_string();
    if user.is_empty() || password.is_empty() {
        return Err(bad("expected the user on the first line and the password on the second".into()));
    }
    Ok(SmtpLogin { user, password: Secret::new(password) })
}

/// The SMTP transport, the sender, and what to scrub from the server's answers.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    user: Option<String>,
    /// The password and its encodings as they travel (AUTH PLAIN and LOGIN), never shown.
    scrub: Vec<Secret>,
}

impl Mailer {
    pub fn from_args(args: &NotifyArgs) -> Result<Mailer, Failure> {
        let url = SmtpUrl::parse(args.smtp_url.as_deref().unwrap_or_default(), args.smtp_insecure)?;
        let from_text = args.from.as_deref().unwrap_or_default();
        let from = parse_mailbox(from_text)
            .map_err(|e| Failure::new(Exit::Usage, format!("--from {}: {e}", terminal_text(from_text))))?;
        let login = login(args)?;
        let setup = |e: lettre::transport::smtp::Error| {
            Failure::new(Exit::Usage, format!("cannot set up the SMTP connection to {}: {e}", url.describe()))
        };
        let builder = match url.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&url.host).map_err(setup)?,
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&url.host).map_err(setup)?,
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host),
        };
        let mut builder = builder.port(url.port).timeout(Some(args.request_timeout));
        let mut scrub = Vec::new();
        let mut user = None;
        if let Some(login) = login {
            let b64 = |raw: &str| base64::engine::general_purpose::STANDARD.encode(raw);
            scrub.push(Secret::new(b64(&format!("\0{}\0{}", login.user, login.password.expose()))));
            scrub.push(Secret::new(b64(login.password.expose())));
            scrub.push(login.password.clone());
            builder = builder.credentials(Credentials::new(login.user.clone(), login.password.expose().to_string()));
            user = Some(login.user);
        }
        Ok(Mailer { transport: builder.build(), from, server: url.describe(), user, scrub })
    }

    /// Who sends, for the journal: `pat2entra@contoso.com via smtp.contoso.com:465 (TLS)`.
    pub fn describe(&self) -> String {
        let who = self.user.clone().unwrap_or_else(|| self.from.email.to_string());
        format!("{who} via {}", self.server)
    }

    fn scrubbed(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.scrub {
            if !secret.is_empty() {
                text = text.replace(secret.expose(), "<redacted>");
            }
        }
        sanitize(&text).into_owned()
    }

    /// Sends one owner's message: `Ok(what was done)`, or why not and, when no other message
    /// could go either (the connection, TLS, or the credentials), the failure that stops the run.
    pub async fn send(&self, m: &Message) -> Result<String, (String, Option<Failure>)> {
        let address = parse_address(m.mail.as_deref().unwrap_or_default())
            .map_err(|e| (format!("the scan's mail address is not valid: {e}"), None))?;
        let name = sanitize(if m.display_name.trim().is_empty() { &m.principal_name } else { &m.display_name });
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(name.into_owned()), address.clone()))
            .subject(sanitize(&m.subject).into_owned())
            .multipart(MultiPart::alternative_plain_html(m.text.clone(), m.html_page.clone()))
            .map_err(|e| (format!("the message could not be built: {e}"), None))?;
        tracing::debug!(server = %self.server, to = %address, "sending a message");
        match self.transport.send(email).await {
            Ok(response) => {
                tracing::debug!(to = %address, code = %response.code(), "the server accepted the message");
                Ok(format!("sent to {address}"))
            }
            Err(e) => {
                let why = self.scrubbed(&e.to_string());
                let auth = e.status().is_some_and(|c| matches!(c.to_string().as_str(), "530" | "534" | "535" | "538"));
                let fatal = if auth {
                    Some(Failure::new(
                        Exit::Auth,
                        format!("the mail server {} refused the credentials: {why}", self.server),
                    ))
                } else if e.is_tls() || e.is_timeout() || !(e.is_permanent() || e.is_transient()) {
                    // Not an answer about this recipient: the next message would fare no better.
                    Some(Failure::new(Exit::Usage, format!("cannot send through {}: {why}", self.server)))
                } else {
                    None
                };
                Err((format!("not sent to {address}: {why}"), fatal))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_tls_and_refuse_plain_text_off_loopback() {
        let u = SmtpUrl::parse("smtps://smtp.contoso.com", false).unwrap();
        assert_eq!((u.port, u.security), (465, Security::Tls));
        let u = SmtpUrl::parse("smtp://smtp.contoso.com", false).unwrap();
        assert_eq!((u.port, u.security), (587, Security::StartTls));
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525", true).unwrap();
        assert_eq!((u.port, u.security), (2525, Security::Plain));
        assert!(SmtpUrl::parse("smtp://[::1]:2525", true).is_ok());
        for (bad, why) in [("smtp://smtp.contoso.com", "loopback only"), ("smtps://127.0.0.1", "not to smtps")] {
            let e = SmtpUrl::parse(bad, true).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        let e = SmtpUrl::parse("smtps://me:hunter2@smtp.contoso.com", false).unwrap_err();
        assert!(
            e.message.contains("credentials do not go in the URL") && !e.message.contains("hunter2"),
            "{}",
            e.message
        );
        assert!(SmtpUrl::parse("https://smtp.contoso.com", false).is_err());
        assert!(SmtpUrl::parse("smtps://smtp.contoso.com/x?y", false).is_err());
    }

    #[test]
    fn addresses_refuse_header_injection() {
        assert!(parse_mailbox("PAT audit <pat2entra@contoso.com>").is_ok());
        assert!(parse_mailbox("a@b.example\r\nBcc: evil@example.com").is_err());
        assert!(parse_address("ana@contoso.com").is_ok());
        assert!(parse_address("ana@contoso.com>\r\nBcc: x@y").is_err());
    }
}
