//! What an Entra access token says about itself (tenant, signed-in name, application), read
//! from its middle part without verifying it: for messages only, never for a decision.

use base64::Engine as _;
use pat2entra_core::secret::Secret;

/// Claims worth showing. None of them is a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// `tid`: the tenant that issued the token.
    pub tenant: Option<String>,
    /// `upn`, `unique_name` or `preferred_username`: a user's sign-in name.
    pub user: Option<String>,
    /// `appid` / `azp`: the application (client) id.
    pub application: Option<String>,
}

/// The claims of a JWT-shaped token; `None` when the token is not a readable JWT.
pub fn token_claims(token: &Secret) -> Option<TokenClaims> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let text = |names: &[&str]| names.iter().find_map(|n| value.get(*n)?.as_str().map(str::to_string));
    Some(TokenClaims {
        tenant: text(&["tid"]),
        user: text(&["upn", "unique_name", "preferred_username"]),
        application: text(&["appid", "azp"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tenant_and_names_and_ignores_non_jwts() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"tid":"72f988bf","upn":"jamal@contoso.com","appid":"04b07795"}"#);
        let claims = token_claims(&Secret::new(format!("eyJ0eXAiOiJKV1QifQ.{payload}.sig"))).unwrap();
        assert_eq!(claims.tenant.as_deref(), Some("72f988bf"));
        assert_eq!(claims.user.as_deref(), Some("jamal@contoso.com"));
        assert_eq!(claims.application.as_deref(), Some("04b07795"));
        assert_eq!(token_claims(&Secret::new("an-opaque-pat")), None);
        assert_eq!(token_claims(&Secret::new("a.!!!.c")), None);
    }
}
