//! Wire models: the JSON shapes of the Azure DevOps endpoints pat2entra reads, and their
//! conversion into the inventory. Unknown fields are ignored. The secret fields of a
//! `SessionToken` (`token`, `alternateToken`) are deliberately not declared, so they are never
//! even read into memory as strings we keep.

use chrono::{DateTime, Utc};
use pat2entra_core::Text;
use pat2entra_core::inventory::{Owner, Token};
use serde::Deserialize;

mod evidence;
pub use evidence::{
    AuditData, AuditEntry, AuditLogPage, AuditRecord, EntitlementAccessLevel, EntitlementUser, Lenient,
    MembershipState, OwnerActivity, TenantPolicy, UserEntitlement, UserEntitlementsPage, is_sentinel,
    pat_authorization_id,
};

/// `{"count": N, "value": [...]}`: how the service wraps arrays.
#[derive(Debug, Deserialize)]
pub struct Collection<T> {
    #[serde(default)]
    pub count: Option<u64>,
    pub value: Vec<T>,
}

/// A Graph user (`GET _apis/graph/users`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    pub descriptor: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub principal_name: Option<String>,
    #[serde(default)]
    pub mail_address: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub origin_id: Option<String>,
    #[serde(default)]
    pub subject_kind: Option<String>,
    #[serde(default)]
    pub meta_type: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub is_deleted_in_origin: Option<bool>,
}

/// One page of `GET _apis/tokenadmin/personalaccesstokens/{descriptor}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAdminPage {
    pub value: Vec<SessionToken>,
    #[serde(default)]
    pub continuation_token: Option<String>,
}

/// A `SessionToken` as Token Admin returns it.
///
/// Read field by field (see the `Deserialize` impl below), never derived: one token with a field
/// that cannot be read (a year 10000, `"isValid": "false"`, a number where a string belongs) is
/// kept as an unreadable token instead of failing its owner's whole page, and no retry could fix
/// it. Only the fields declared here are read; the secret fields (`token`, `alternateToken`) and
/// any unknown field are skipped without being kept.
#[derive(Debug, Default)]
pub struct SessionToken {
    pub authorization_id: String,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub scope: Option<String>,
    pub target_accounts: Option<Vec<String>>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub is_valid: Option<bool>,
    pub is_public: Option<bool>,
    /// Which fields could not be read, and why (`None` when every field was read).
    pub unreadable: Option<String>,
}

/// The fields of a `SessionToken` pat2entra reads (JSON names). Nothing else is kept.
const SESSION_TOKEN_FIELDS: [&str; 9] = [
    "authorizationId",
    "userId",
    "displayName",
    "scope",
    "targetAccounts",
    "validFrom",
    "validTo",
    "isValid",
    "isPublic",
];

impl<'de> Deserialize<'de> for SessionToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SessionTokenVisitor)
    }
}

/// Accepts any JSON value: an object is read field by field, anything else is an unreadable
/// token. Errors come only from JSON that is not well formed (that is the page's problem).
struct SessionTokenVisitor;

impl SessionTokenVisitor {
    fn not_an_object(what: &str) -> SessionToken {
        SessionToken { unreadable: Some(format!("the entry is {what}, not a token object")), ..SessionToken::default() }
    }
}

impl<'de> serde::de::Visitor<'de> for SessionTokenVisitor {
    type Value = SessionToken;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a SessionToken object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SessionToken, A::Error> {
        // Each declared field in its slot of `SESSION_TOKEN_FIELDS`; keys are matched without
        // being copied (one token costs only the values it keeps).
        let mut fields: [Option<serde_json::Value>; SESSION_TOKEN_FIELDS.len()] = Default::default();
        let mut problems = Vec::new();
        while let Some(key) = map.next_key::<FieldKey>()? {
            match key.0 {
                Some(i) => {
                    let value: serde_json::Value = map.next_value()?;
                    if fields[i].replace(value).is_some() {
                        problems.push(format!("{}: appears twice", SESSION_TOKEN_FIELDS[i]));
                    }
                }
                // The secret, and whatever else the service adds: skipped, never kept.
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(SessionToken::from_fields(fields, problems))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<SessionToken, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Self::not_an_object("an array"))
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("a string"))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("a boolean"))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("null"))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<SessionToken, E> {
        Ok(Self::not_an_object("null"))
    }
}

/// A `SessionToken` key: its slot in `SESSION_TOKEN_FIELDS`, or `None` for any other key (read
/// as a borrowed string where the JSON allows, never kept).
struct FieldKey(Option<usize>);

impl<'de> Deserialize<'de> for FieldKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = FieldKey;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<FieldKey, E> {
                Ok(FieldKey(SESSION_TOKEN_FIELDS.iter().position(|f| *f == key)))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// The JSON type of a value, for messages (never the value itself: it could be anything).
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A token's `targetAccounts`: nearly always this organization's id alone, so the last list
/// seen on this thread is reused whole (one allocation, not one per token).
fn accounts(ids: &[String]) -> std::sync::Arc<[Text]> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<std::sync::Arc<[Text]>>> = const { std::cell::RefCell::new(None) };
    }
    if ids.is_empty() {
        return std::sync::Arc::default();
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(shared) if shared.len() == ids.len() && shared.iter().zip(ids).all(|(a, b)| a == b) => shared.clone(),
            _ => {
                let shared: std::sync::Arc<[Text]> = ids.iter().map(|id| Text::intern(id)).collect();
                *last = Some(shared.clone());
                shared
            }
        }
    })
}

impl SessionToken {
    /// Types the declared fields one by one; a field that cannot be read is left unset (its
    /// placeholder) and named in `unreadable`. `null` or absent is simply unset.
    fn from_fields(
        mut fields: [Option<serde_json::Value>; SESSION_TOKEN_FIELDS.len()],
        mut problems: Vec<String>,
    ) -> Self {
        use serde_json::Value;
        let mut take = |name: &str| {
            let slot = SESSION_TOKEN_FIELDS.iter().position(|f| *f == name).expect("a declared field");
            fields[slot].take().filter(|v| !v.is_null())
        };
        let mut string = |name: &str, problems: &mut Vec<String>| match take(name) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                problems.push(format!("{name}: expected a string, got {}", json_kind(&other)));
                None
            }
        };
        let authorization_id = string("authorizationId", &mut problems);
        let user_id = string("userId", &mut problems);
        let display_name = string("displayName", &mut problems);
        let scope = string("scope", &mut problems);
        let valid_from = string("validFrom", &mut problems);
        let valid_to = string("validTo", &mut problems);
        let timestamp = |name: &str, value: Option<String>, problems: &mut Vec<String>| match value {
            // `0001-01-01` and `9999-12-31` are Microsoft's "unset" and "no expiry": not dates.
            Some(s) if !s.trim().is_empty() => super::timestamp::parse_timestamp(&s)
                .map_err(|e| problems.push(format!("{name}: {e}")))
                .ok()
                .filter(|t| !is_sentinel(t)),
            _ => None,
        };
        let valid_from = timestamp("validFrom", valid_from, &mut problems);
        let valid_to = timestamp("validTo", valid_to, &mut problems);
        let mut boolean = |name: &str, problems: &mut Vec<String>| match take(name) {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(other) => {
                problems.push(format!("{name}: expected true or false, got {}", json_kind(&other)));
                None
            }
        };
        let is_valid = boolean("isValid", &mut problems);
        let is_public = boolean("isPublic", &mut problems);
        let target_accounts = match take("targetAccounts") {
            None => None,
            Some(Value::Array(items)) => {
                let accounts: Option<Vec<String>> =
                    items.into_iter().map(|v| if let Value::String(s) = v { Some(s) } else { None }).collect();
                if accounts.is_none() {
                    problems.push("targetAccounts: expected an array of strings".into());
                }
                accounts
            }
            Some(other) => {
                problems.push(format!("targetAccounts: expected an array, got {}", json_kind(&other)));
                None
            }
        };
        if authorization_id.as_deref().is_none_or(|id| id.trim().is_empty()) && problems.is_empty() {
            problems.push("authorizationId: missing or empty".into());
        }
        let unreadable = (!problems.is_empty()).then(|| problems.join("; "));
        SessionToken {
            authorization_id: authorization_id.unwrap_or_default(),
            user_id,
            display_name,
            scope,
            target_accounts,
            valid_from,
            valid_to,
            is_valid,
            is_public,
            unreadable,
        }
    }
}

/// `GET _apis/connectionData` (the location service): who the caller is. Only the fields
/// pat2entra shows are declared.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionData {
    #[serde(default)]
    pub authenticated_user: Option<Identity>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub deployment_type: Option<String>,
}

/// An `Identity` of the identity service, as `connectionData` embeds it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub id: Option<String>,
    /// The identity descriptor, e.g. `Microsoft.IdentityModel.Claims.ClaimsIdentity;{tenant}\\{upn}`.
    #[serde(default)]
    pub descriptor: Option<String>,
    /// The Graph subject descriptor (`aad.…`, `aadsp.…`): what Token Admin takes.
    #[serde(default)]
    pub subject_descriptor: Option<String>,
    #[serde(default)]
    pub provider_display_name: Option<String>,
    #[serde(default)]
    pub custom_display_name: Option<String>,
    /// `{"Account": {"$type": "System.String", "$value": "user@contoso.com"}, …}`
    #[serde(default)]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The service's error body (`WrappedException`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappedException {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub type_key: Option<String>,
}

impl GraphUser {
    pub fn into_owner(self) -> Owner {
        let principal_name: Text = self.principal_name.filter(|s| !s.is_empty()).unwrap_or_default().into();
        let display_name = self.display_name.filter(|s| !s.is_empty()).unwrap_or_else(|| principal_name.to_string());
        // Mostly the principal name again: then the same allocation.
        let mail = self
            .mail_address
            .filter(|m| !m.is_empty())
            .map(|m| if principal_name == m.as_str() { principal_name.clone() } else { Text::from(m) });
        Owner {
            descriptor: self.descriptor.into(),
            display_name,
            principal_name,
            mail,
            // A handful of values (`aad`, `msa`): shared within a page (see `Client::user_pages`).
            origin: Text::intern(self.origin.as_deref().unwrap_or_default()),
            deleted_in_origin: self.is_deleted_in_origin.unwrap_or(false),
            ..Default::default()
        }
    }
}

impl SessionToken {
    /// An SSH key from `isPublic=true` (its `publicData`, the key, is not even read).
    pub fn into_ssh_key(self, owner: impl Into<Text>) -> Token {
        Token { kind: pat2entra_core::evidence::CredentialKind::Ssh, ..self.into_token(owner) }
    }

    /// The token of `owner` (pass the owner's own `Text` to share it). Scopes are the catalog's
    /// shared values; organization ids are shared within an `interned` call (one owner's pages).
    pub fn into_token(self, owner: impl Into<Text>) -> Token {
        let target_accounts = accounts(self.target_accounts.as_deref().unwrap_or_default());
        // At their exact count: a vector collected from an iterator starts at four.
        let scope = self.scope.as_deref().unwrap_or_default();
        let mut scopes = Vec::with_capacity(pat2entra_core::scopes::split(scope).count());
        scopes.extend(pat2entra_core::scopes::split(scope).map(pat2entra_core::scopes::shared));
        Token {
            authorization_id: self.authorization_id.into(),
            owner: owner.into(),
            display_name: self.display_name.unwrap_or_default(),
            scopes,
            all_organizations: target_accounts.is_empty(),
            target_accounts,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            // The service omits nothing here in practice; a missing flag is read as valid so the
            // token is judged rather than hidden.
            is_valid: self.is_valid.unwrap_or(true),
            unreadable: self.unreadable,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> Vec<Token> {
        let page: TokenAdminPage = serde_json::from_str(json).expect("the page parses whatever its tokens hold");
        page.value.into_iter().map(|t| t.into_token("aad.owner")).collect()
    }

    #[test]
    fn one_unreadable_field_costs_that_token_not_the_page() {
        let tokens = page(
            r#"{"value":[
                {"authorizationId":"good","scope":"vso.code","validTo":"2027-01-01T00:00:00Z","isValid":true},
                {"authorizationId":"far","scope":"app_token","validTo":"10000-01-01T00:00:00Z"},
                {"authorizationId":"text-bool","isValid":"false"},
                {"authorizationId":"num-name","displayName":42,"targetAccounts":"all"},
                {"authorizationId":7},
                "just a string",
                {"authorizationId":"twice","isValid":true,"isValid":false}
            ],"continuationToken":null}"#,
        );
        assert_eq!(tokens.len(), 7);
        assert_eq!(tokens[0].unreadable, None);
        assert_eq!(tokens[0].scopes, ["vso.code"]);
        let far = tokens[1].unreadable.as_deref().unwrap();
        assert!(far.starts_with("validTo: '10000-01-01T00:00:00Z' is not a timestamp"), "{far}");
        // What could be read is kept; what could not holds the placeholder worst for risk.
        assert!(tokens[1].is_full_access() && tokens[1].valid_to.is_none() && tokens[1].is_valid);
        assert_eq!(tokens[2].unreadable.as_deref(), Some("isValid: expected true or false, got a string"));
        assert!(tokens[2].is_valid, "an unreadable isValid is not taken as revoked");
        let both = tokens[3].unreadable.as_deref().unwrap();
        assert!(both.contains("displayName: expected a string, got a number"), "{both}");
        assert!(both.contains("targetAccounts: expected an array, got a string"), "{both}");
        assert!(tokens[3].all_organizations);
        assert_eq!(tokens[4].authorization_id, "");
        assert!(tokens[4].unreadable.as_deref().unwrap().contains("authorizationId: expected a string, got a number"));
        assert_eq!(tokens[5].unreadable.as_deref(), Some("the entry is a string, not a token object"));
        assert_eq!(tokens[6].unreadable.as_deref(), Some("isValid: appears twice"));
    }

    #[test]
    fn secret_fields_are_never_read() {
        let secret = "s3cr3t-value-of-the-pat";
        let json = format!(
            r#"{{"authorizationId":"a","token":"{secret}","alternateToken":"{secret}","validTo":"bad {secret}"}}"#
        );
        let token: SessionToken = serde_json::from_str(&json).unwrap();
        let debug = format!("{token:?}");
        // The unreadable validTo is shown (cut short); the secret fields are not kept at all.
        assert_eq!(debug.matches(secret).count(), 1, "{debug}");
        let json = format!(r#"{{"authorizationId":"a","token":"{secret}","alternateToken":{{"x":"{secret}"}}}}"#);
        let token: SessionToken = serde_json::from_str(&json).unwrap();
        assert!(!format!("{token:?}").contains(secret));
        assert_eq!(token.unreadable, None);
    }

    #[test]
    fn broken_json_still_fails_the_page() {
        assert!(serde_json::from_str::<TokenAdminPage>(r#"{"value":[{"authorizationId":"a""#).is_err());
    }
}
