//! The Microsoft Entra side of the simulator: the token endpoints a credential talks to, the
//! tokens the simulator issued, and who each token belongs to.
//!
//! Endpoint shapes, as `azure_identity` 1.0 sends them:
//! - Entra v2 token endpoint: `POST /{tenant}/oauth2/v2.0/token`, form body with
//!   `grant_type=client_credentials`, `client_id`, `scope`, and either `client_secret` or
//!   `client_assertion` + `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//!   Answers `{"token_type","expires_in","ext_expires_in","access_token"}`, or an OAuth error
//!   `{"error","error_description":"AADSTS…","error_codes":[…]}`.
//! - Managed identity (App Service / Functions / Container Apps, `IDENTITY_ENDPOINT`):
//!   `GET /msi/token?api-version=2019-08-01&resource=…` with `x-identity-header`. Answers
//!   `{"access_token","expires_on":"<unix seconds as a string>","resource","token_type"}`.
//! - Azure Pipelines OIDC (`SYSTEM_OIDCREQUESTURI`): `POST …/oidctoken?serviceConnectionId=…`
//!   with the job's `System.AccessToken` as Bearer. Answers `{"oidcToken": "…"}`.

use super::http::{Reply, Request, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
// tokio's clock: under a paused test clock, tokens expire in virtual time.
use tokio::time::Instant;

/// The Azure DevOps resource: what every token must be for.
pub const ADO_RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";

/// How the simulated tenant hands out tokens.
#[derive(Debug, Clone)]
pub struct SimEntra {
    /// The application (client) id of the simulated service principal.
    pub client_id: String,
    /// Its client secret. `None`: client secrets are refused.
    pub client_secret: Option<String>,
    /// A federated credential (the JWT a workload identity file or an OIDC provider holds)
    /// accepted as `client_assertion` for `client_id`. `None`: assertions are refused.
    pub federated_assertion: Option<String>,
    /// The `x-identity-header` the managed identity endpoint expects. `None`: no managed identity.
    pub identity_header: Option<String>,
    /// Azure Pipelines' OIDC endpoint. `None`: not served.
    pub pipelines: Option<SimPipelines>,
    /// The lifetime announced in (and enforced for) every token issued.
    pub token_lifetime: Duration,
    /// When set, the token endpoints announce this lifetime instead (`expires_in`, `expires_on`,
    /// the `exp` claim) while still enforcing `token_lifetime`. `Some(ZERO)`: every token looks
    /// due for replacement when it arrives, so a client that replaces tokens before they expire
    /// does so on its next request, and a test sees it without waiting for a clock.
    pub announced_lifetime: Option<Duration>,
    /// When set, each token is refused as expired once it has been presented this many times,
    /// although `expires_in` promised more (as after a revocation): the client must react to
    /// the 401. Counted in requests rather than time, so tests need not wait.
    pub honoured_uses: Option<u64>,
}

/// The Azure Pipelines side: a job's access token and the service connection it may use.
#[derive(Debug, Clone)]
pub struct SimPipelines {
    pub system_access_token: String,
    pub service_connection_id: String,
}

impl Default for SimEntra {
    fn default() -> Self {
        SimEntra {
            client_id: "6f1c4e2a-8d3b-4c7e-9a51-2b7f0d9e3c18".into(),
            client_secret: None,
            federated_assertion: None,
            identity_header: None,
            pipelines: None,
            token_lifetime: Duration::from_secs(3600),
            announced_lifetime: None,
            honoured_uses: None,
        }
    }
}

/// Who a credential belongs to, as `connectionData` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The organization's administrator (a user): a configured PAT, or a token issued for a
    /// signed-in user (`az`, `azd`).
    Administrator,
    /// An application: client secret, federated assertion, Azure Pipelines.
    ServicePrincipal { client_id: String },
    /// The managed identity of the (simulated) Azure resource.
    ManagedIdentity,
}

struct Issued {
    /// Refused after this instant.
    honoured_until: Instant,
    /// Refused once this reaches zero (`None`: no limit).
    uses_left: Option<u64>,
    tenant_id: String,
    principal: Principal,
}

/// The tokens the simulator issued.
#[derive(Default)]
pub struct TokenStore {
    issued: Mutex<HashMap<String, Issued>>,
}

/// Why an issued-token check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired,
    OtherTenant(String),
}

impl TokenStore {
    /// Issues a token for `principal` in `tenant_id`, valid for `lifetime` and accepted `uses`
    /// times at most; its expiry says `announced` (`lifetime` unless a test says otherwise).
    /// Returns the token and its announced expiry in Unix seconds.
    pub fn issue(
        &self,
        tenant_id: &str,
        principal: Principal,
        lifetime: Duration,
        announced: Duration,
        uses: Option<u64>,
    ) -> (String, u64) {
        let expires_on = SystemTime::now().checked_add(announced).unwrap_or_else(SystemTime::now);
        let exp = expires_on.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let token = jwt_shaped(tenant_id, &principal, exp);
        let now = Instant::now();
        let honoured_until = now.checked_add(lifetime).unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
        let issued = Issued { honoured_until, uses_left: uses, tenant_id: tenant_id.to_string(), principal };
        self.issued.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), issued);
        (token, exp)
    }

    /// Every token issued so far (for tests that look for leaks).
    pub fn all(&self) -> Vec<String> {
        self.issued.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// The principal of a token the simulator issued for `tenant_id` and that is still honoured.
    /// Each check is one use of the token.
    pub fn check(&self, token: &str, tenant_id: &str) -> Result<Principal, TokenRefusal> {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let Some(found) = issued.get_mut(token) else {
            return Err(TokenRefusal::Unknown);
        };
        if found.tenant_id != tenant_id {
            return Err(TokenRefusal::OtherTenant(found.tenant_id.clone()));
        }
        if Instant::now() >= found.honoured_until || found.uses_left == Some(0) {
            return Err(TokenRefusal::Expired);
        }
        if let Some(left) = found.uses_left.as_mut() {
            *left -= 1;
        }
        Ok(found.principal.clone())
    }
}

/// A token shaped like an Entra access token (header.claims.signature, base64url), with the
/// claims a reader might decode (`tid`, `oid`, `appid`/`upn`, `exp`); the signature part is random,
/// so the token cannot be guessed.
fn jwt_shaped(tenant_id: &str, principal: &Principal, exp: u64) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "sim"});
    let mut claims = json!({
        "aud": ADO_RESOURCE,
        "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "tid": tenant_id,
        "exp": exp,
    });
    match principal {
        Principal::Administrator => claims["upn"] = json!("admin@sim.invalid"),
        Principal::ServicePrincipal { client_id } => claims["appid"] = json!(client_id),
        Principal::ManagedIdentity => claims["appid"] = json!("managed-identity"),
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes());
    format!("{}.{}.{signature}", b64(&header), b64(&claims))
}

/// 32 bytes that differ between calls (a simulator needs unguessable, not cryptographic).
pub fn random_bytes() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    (0..4u32)
        .flat_map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(i);
            h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default());
            h.finish().to_le_bytes()
        })
        .collect()
}

/// What the token endpoints need from the simulator.
pub struct Endpoints<'a> {
    pub config: &'a SimEntra,
    pub tenant_id: &'a str,
    pub store: &'a TokenStore,
}

/// What a token endpoint answered: the reply, and whether a token was issued.
pub struct Answer {
    pub reply: Reply,
    pub issued: bool,
}

impl Endpoints<'_> {
    fn issue(&self, principal: Principal) -> (String, u64) {
        let lifetime = self.config.token_lifetime;
        let announced = self.config.announced_lifetime.unwrap_or(lifetime);
        self.store.issue(self.tenant_id, principal, lifetime, announced, self.config.honoured_uses)
    }

    /// `POST /{tenant}/oauth2/v2.0/token`.
    pub fn token(&self, tenant: &str, request: &Request) -> Answer {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        if !tenant.eq_ignore_ascii_case(self.tenant_id) {
            return refused(
                400,
                "invalid_request",
                90002,
                &format!(
                    "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
                ),
            );
        }
        if field("grant_type") != "client_credentials" {
            return refused(
                400,
                "unsupported_grant_type",
                70003,
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
        if field("client_id") != self.config.client_id {
            return refused(
                400,
                "unauthorized_client",
                700016,
                &format!(
                    "AADSTS700016: Application with identifier '{}' was not found in the directory.",
                    field("client_id")
                ),
            );
        }
        if field("scope") != format!("{ADO_RESOURCE}/.default") {
            return refused(
                400,
                "invalid_scope",
                1002012,
                "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
            );
        }
        let authenticated = if let Some(secret) = form.get("client_secret") {
            self.config.client_secret.as_deref() == Some(secret.as_str())
        } else if let Some(assertion) = form.get("client_assertion") {
            field("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                && self.config.federated_assertion.as_deref() == Some(assertion.as_str())
        } else {
            false
        };
        if !authenticated {
            return refused(
                401,
                "invalid_client",
                7000215,
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        let (token, _) = self.issue(Principal::ServicePrincipal { client_id: self.config.client_id.clone() });
        let lifetime = self.config.announced_lifetime.unwrap_or(self.config.token_lifetime).as_secs();
        let body = json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        });
        Answer { reply: Reply::Response(Response::json(200, &body)), issued: true }
    }

    /// `GET /msi/token?api-version=2019-08-01&resource=…` with `x-identity-header`.
    pub fn managed_identity(&self, request: &Request) -> Answer {
        let Some(expected) = &self.config.identity_header else {
            return plain(404, "no managed identity is assigned to this resource");
        };
        if request.header("x-identity-header") != Some(expected.as_str()) {
            return plain(401, "the x-identity-header is missing or wrong");
        }
        if request.query("resource").map(|r| r.trim_end_matches('/')) != Some(ADO_RESOURCE) {
            return plain(400, "the resource is not Azure DevOps");
        }
        let (token, expires_on) = self.issue(Principal::ManagedIdentity);
        let body = json!({
            "access_token": token,
            "expires_on": expires_on.to_string(),
            "resource": ADO_RESOURCE,
            "token_type": "Bearer",
            "client_id": "managed-identity",
        });
        Answer { reply: Reply::Response(Response::json(200, &body)), issued: true }
    }

    /// `POST …/oidctoken?serviceConnectionId=…`: the federated assertion for a service connection.
    pub fn pipelines_oidc(&self, request: &Request) -> Answer {
        let Some(pipelines) = &self.config.pipelines else {
            return plain(404, "no Azure Pipelines job here");
        };
        let bearer = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(pipelines.system_access_token.as_str()) {
            return plain(401, "TF400813: The user '' is not authorized to access this resource.");
        }
        if request.query("serviceConnectionId") != Some(pipelines.service_connection_id.as_str()) {
            return plain(404, "the service connection was not found");
        }
        let Some(assertion) = &self.config.federated_assertion else {
            return plain(400, "the service connection has no workload identity federation");
        };
        Answer { reply: Reply::Response(Response::json(200, &json!({"oidcToken": assertion}))), issued: false }
    }
}

fn refused(status: u16, error: &str, code: u32, description: &str) -> Answer {
    let body = json!({
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    });
    Answer { reply: Reply::Response(Response::json(status, &body)), issued: false }
}

fn plain(status: u16, message: &str) -> Answer {
    Answer { reply: Reply::Response(Response::json(status, &json!({"error": message}))), issued: false }
}

/// The `Identity` `connectionData` reports for a principal.
pub fn identity_json(principal: &Principal, tenant_id: &str, admin: Option<&super::SimUser>) -> Value {
    let (id, descriptor, subject, name, account) = match (principal, admin) {
        (Principal::Administrator, None) => service_principal(tenant_id, "administrator", "Organization Administrator"),
        (Principal::Administrator, Some(admin)) => (
            admin.id.clone(),
            format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{tenant_id}\\{}", admin.principal_name),
            admin.descriptor.clone(),
            admin.display_name.clone(),
            admin.principal_name.clone(),
        ),
        (Principal::ServicePrincipal { client_id }, _) => service_principal(tenant_id, client_id, "pat2entra scanner"),
        (Principal::ManagedIdentity, _) => service_principal(tenant_id, "managed-identity", "pat2entra-host"),
    };
    json!({
        "id": id,
        "descriptor": descriptor,
        "subjectDescriptor": subject,
        "providerDisplayName": name,
        "isActive": true,
        "properties": {"Account": {"$type": "System.String", "$value": account}},
        "resourceVersion": 2,
        "metaTypeId": 0,
    })
}

fn service_principal(tenant_id: &str, client_id: &str, name: &str) -> (String, String, String, String, String) {
    let object = format!("{:0>32}", client_id.replace('-', "").chars().rev().collect::<String>());
    let object_id =
        format!("{}-{}-{}-{}-{}", &object[..8], &object[8..12], &object[12..16], &object[16..20], &object[20..32]);
    let subject = format!(
        "aadsp.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{tenant_id}\\{object_id}"))
    );
    (
        object_id.clone(),
        format!("Microsoft.VisualStudio.Services.Claims.AadServicePrincipal;{tenant_id}\\{object_id}"),
        subject,
        name.to_string(),
        client_id.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_checked_for_tenant_and_lifetime() {
        let store = TokenStore::default();
        let minute = Duration::from_secs(60);
        let (token, exp) = store.issue("t1", Principal::Administrator, minute, minute, None);
        assert_eq!(token.split('.').count(), 3, "shaped like a JWT");
        assert!(exp > 0);
        assert_eq!(store.check(&token, "t1"), Ok(Principal::Administrator));
        assert_eq!(store.check(&token, "t2"), Err(TokenRefusal::OtherTenant("t1".into())));
        assert_eq!(store.check("made-up", "t1"), Err(TokenRefusal::Unknown));
        let (short, _) = store.issue("t1", Principal::ManagedIdentity, Duration::ZERO, Duration::ZERO, None);
        assert_eq!(store.check(&short, "t1"), Err(TokenRefusal::Expired));
        let (again, _) = store.issue("t1", Principal::Administrator, minute, minute, None);
        assert_ne!(token, again, "every token is new");
    }

    #[test]
    fn a_token_may_be_honoured_for_some_uses_and_announced_shorter_than_it_lives() {
        let store = TokenStore::default();
        let minute = Duration::from_secs(60);
        let (token, exp) = store.issue("t1", Principal::Administrator, minute, Duration::ZERO, Some(2));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(exp <= now, "announced as due now");
        assert_eq!(store.check(&token, "t1"), Ok(Principal::Administrator), "yet honoured for its lifetime");
        assert_eq!(store.check(&token, "t1"), Ok(Principal::Administrator));
        assert_eq!(store.check(&token, "t1"), Err(TokenRefusal::Expired), "until its uses are spent");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_on_the_tokio_clock_so_tests_need_not_wait() {
        let store = TokenStore::default();
        let hour = Duration::from_secs(3600);
        let (token, _) = store.issue("t1", Principal::Administrator, hour, hour, None);
        tokio::time::advance(hour - Duration::from_secs(1)).await;
        assert_eq!(store.check(&token, "t1"), Ok(Principal::Administrator));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(store.check(&token, "t1"), Err(TokenRefusal::Expired));
    }
}
