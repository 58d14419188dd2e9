//! Revocation through Token Admin, and the listing again of one owner's credentials that comes
//! before it (the scan may be old: a credential may be gone, revoked or moved since).
//!
//! `POST https://vssps.dev.azure.com/{org}/_apis/tokenadmin/revocations?isPublic=false|true&api-version=7.1`
//! with `[{"authorizationId": "…"}, …]`; 204 without a body. 400 when an entry has no id, 401 when
//! the caller is not a token administrator. Spec:
//! `specification/tokenAdmin/7.1/tokenAdmin.json` and
//! `specification/tokenAdmin/7.1/httpExamples/revocations/RevokeAuthorizations.json`
//! (MicrosoftDocs/vsts-rest-api-specs); `isPublic`: "false for PAT tokens and true for SSH
//! tokens". Microsoft's PowerShell sample (microsoft/vsts-script-samples,
//! `PowerShell/TokenAdmin/Revoke-VSTSPATsJWTs.ps1`) sends 990 ids per call; no limit is
//! documented, so the batch size is the caller's (`--batch-size`, default 100).

use crate::client::Api;
use crate::{AdoClient, AdoError};
use pat2entra_core::evidence::CredentialKind;
use pat2entra_core::inventory::Token;
use reqwest::header::HeaderMap;
use serde::Serialize;

const TOKEN_ADMIN_API_VERSION: &str = "7.1";

/// One entry of the revocation body (`TokenAdminRevocation` in the spec).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAdminRevocation<'a> {
    pub authorization_id: &'a str,
}

/// The body of one revocation request.
pub fn revocation_body(ids: &[&str]) -> Vec<u8> {
    let entries: Vec<TokenAdminRevocation> =
        ids.iter().map(|id| TokenAdminRevocation { authorization_id: id }).collect();
    serde_json::to_vec(&entries).expect("ids serialize")
}

/// `isPublic` for a kind of credential.
fn is_public(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Pat => "false",
        CredentialKind::Ssh => "true",
    }
}

impl AdoClient {
    /// Revokes `ids` (all of one kind) in one request, with the scan's pacing, retries and
    /// bounds (revoking an id twice is harmless, so a retry after a lost answer is safe). `Ok`
    /// only for a 2xx answer. A 401 is `NotAuthenticated`: the credential stopped working.
    pub async fn revoke(&self, kind: CredentialKind, ids: &[&str]) -> Result<(), AdoError> {
        let mut url = self.api_url(&self.endpoints().vssps, &["tokenadmin", "revocations"])?;
        url.query_pairs_mut()
            .append_pair("isPublic", is_public(kind))
            .append_pair("api-version", TOKEN_ADMIN_API_VERSION);
        let body = revocation_body(ids);
        let ((), _): ((), HeaderMap) = self.exchange(Api::Revocations, &url, Some(&body)).await?;
        tracing::info!(kind = kind.as_str(), count = ids.len(), "revocation accepted");
        Ok(())
    }

    /// Every credential of `kind` of one owner, as Token Admin lists it now: PATs as the scan
    /// reads them, SSH keys with `isPublic=true` (`list_ssh_keys`; the key text is not read).
    pub async fn list_credentials(
        &self,
        owner_descriptor: &str,
        kind: CredentialKind,
        page_size: u32,
    ) -> Result<Vec<Token>, AdoError> {
        match kind {
            CredentialKind::Pat => self.list_pats(owner_descriptor, page_size).await,
            CredentialKind::Ssh => self.list_ssh_keys(owner_descriptor, page_size).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientOptions, Credential, Endpoints, OrgRef};
    use pat2entra_core::secret::Secret;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A loopback server answering each request with `answer(n, head, body)`.
    async fn serve(
        answer: impl Fn(usize, &str, &str) -> Vec<u8> + Send + Sync + 'static,
    ) -> (String, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let counter = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (answer, counter) = (answer.clone(), counter.clone());
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut byte = [0u8; 1];
                    while !raw.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        raw.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&raw).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    socket.read_exact(&mut body).await.unwrap();
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let reply = answer(n, &head, &String::from_utf8_lossy(&body));
                    let _ = socket.write_all(&reply).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (base, count)
    }

    fn reply(status: &str, headers: &str, body: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .into_bytes()
    }

    fn client(base: &str) -> AdoClient {
        AdoClient::new(
            Endpoints::single_base(base).unwrap(),
            OrgRef::parse("fabrikam").unwrap(),
            Credential::Pat(Secret::new("pat-secret-4242")),
            ClientOptions { base_backoff: std::time::Duration::from_millis(1), ..ClientOptions::default() },
        )
        .unwrap()
    }

    /// The body is the spec example's shape: a bare array of `{"authorizationId"}` objects.
    #[test]
    fn the_body_matches_microsofts_example() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/ado-api/tokenAdmin/7.1/httpExamples/revocations/RevokeAuthorizations.json"
        );
        let text = std::fs::read_to_string(path).expect("the spec example is copied under tests/fixtures");
        let example: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
        let ids: Vec<&str> = example["parameters"]["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["authorizationId"].as_str().unwrap())
            .collect();
        let ours: serde_json::Value = serde_json::from_slice(&revocation_body(&ids)).unwrap();
        assert_eq!(ours, example["parameters"]["body"]);
        assert!(example["responses"]["204"].is_object());
    }

    #[tokio::test]
    async fn a_revocation_posts_the_ids_and_takes_204_after_a_throttle() {
        let (base, count) = serve(|n, head, body| {
            assert!(
                head.starts_with("POST /fabrikam/_apis/tokenadmin/revocations?isPublic=true&api-version=7.1 "),
                "{head}"
            );
            assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
            assert_eq!(body, r#"[{"authorizationId":"a1"},{"authorizationId":"a2"}]"#);
            if n == 0 {
                reply("429 Too Many Requests", "Retry-After: 0\r\n", "{}")
            } else {
                reply("204 No Content", "", "")
            }
        })
        .await;
        client(&base).revoke(CredentialKind::Ssh, &["a1", "a2"]).await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_401_means_the_credential_stopped_working_and_a_400_is_not_retried() {
        let (base, count) = serve(|_, _, _| {
            reply("401 Unauthorized", "Content-Type: application/json\r\n", r#"{"message":"TF400813 pat-secret-4242"}"#)
        })
        .await;
        let err = client(&base).revoke(CredentialKind::Pat, &["a1"]).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, AdoError::NotAuthenticated { .. }), "{text}");
        assert!(text.contains("POST ") && text.contains("stopped working"), "{text}");
        assert!(!text.contains("pat-secret-4242"), "{text}");
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (base, count) = serve(|_, _, _| {
            reply(
                "400 Bad Request",
                "Content-Type: application/json\r\n",
                r#"{"message":"An authorization id is missing."}"#,
            )
        })
        .await;
        let err = client(&base).revoke(CredentialKind::Pat, &["a1"]).await.unwrap_err();
        assert!(matches!(err, AdoError::Status { status: 400, .. }), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn ssh_keys_are_listed_with_is_public_true() {
        let (base, _) = serve(|n, head, _| {
            assert!(head.contains("isPublic=true"), "{head}");
            let next = if n == 0 { "\"11111111-0000-4000-8000-000000000001\"" } else { "\"00000000-0000-0000-0000-000000000000\"" };
            reply(
                "200 OK",
                "Content-Type: application/json\r\n",
                &format!(r#"{{"value":[{{"authorizationId":"k{n}","isValid":true,"publicData":"ssh-rsa AAAA"}}],"continuationToken":{next}}}"#),
            )
        })
        .await;
        let keys = client(&base).list_credentials("aad.a", CredentialKind::Ssh, 10).await.unwrap();
        assert_eq!(keys.iter().map(|k| k.authorization_id.as_str()).collect::<Vec<_>>(), ["k0", "k1"]);
        assert!(keys.iter().all(|k| k.kind == CredentialKind::Ssh && k.owner == "aad.a"));
    }
}
