//! Wire models: the JSON shapes of the Azure DevOps endpoints pat2entra reads, and their
//! conversion into the inventory. Unknown fields are ignored. The secret fields of a
//! `SessionToken` (`token`, `alternateToken`) are deliberately not declared, so they are never
//! even read into memory as strings we keep.

use crate::inventory::{Owner, Token};
use chrono::{DateTime, Utc};
use serde::Deserialize;

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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionToken {
    pub authorization_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub target_accounts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::timestamp::deserialize_opt")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "super::timestamp::deserialize_opt")]
    pub valid_to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub is_valid: Option<bool>,
    #[serde(default)]
    pub is_public: Option<bool>,
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
        let principal_name = self.principal_name.filter(|s| !s.is_empty()).unwrap_or_default();
        let display_name = self.display_name.filter(|s| !s.is_empty()).unwrap_or_else(|| principal_name.clone());
        Owner {
            descriptor: self.descriptor,
            display_name,
            principal_name,
            mail: self.mail_address.filter(|m| !m.is_empty()),
            origin: self.origin.unwrap_or_default(),
            deleted_in_origin: self.is_deleted_in_origin.unwrap_or(false),
        }
    }
}

impl SessionToken {
    pub fn into_token(self, owner: &str) -> Token {
        let target_accounts = self.target_accounts.unwrap_or_default();
        Token {
            authorization_id: self.authorization_id,
            owner: owner.to_string(),
            display_name: self.display_name.unwrap_or_default(),
            scopes: crate::scopes::split(self.scope.as_deref().unwrap_or_default()).map(str::to_string).collect(),
            all_organizations: target_accounts.is_empty(),
            target_accounts,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            // The service omits nothing here in practice; a missing flag is read as valid so the
            // token is judged rather than hidden.
            is_valid: self.is_valid.unwrap_or(true),
        }
    }
}
