//! Who the credential belongs to (`connectionData`) and whether it may use Token Admin.

use super::wire::ConnectionData;

/// The answer of `connectionData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub caller: Caller,
    /// The organization's instance id (a GUID).
    pub instance_id: Option<String>,
    /// `hosted` for Azure DevOps Services.
    pub deployment_type: Option<String>,
}

/// The authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub display_name: String,
    /// The sign-in name (UPN) or, for an application, its client id.
    pub account: Option<String>,
    /// The Graph subject descriptor (`aad.…` for a user, `aadsp.…` for a service principal).
    pub subject_descriptor: Option<String>,
    /// The identity descriptor, whose prefix says what kind of identity this is.
    pub identity_descriptor: Option<String>,
}

impl Caller {
    /// A service principal or managed identity rather than a user.
    pub fn is_service_principal(&self) -> bool {
        self.subject_descriptor.as_deref().is_some_and(|d| d.starts_with("aadsp."))
            || self.identity_descriptor.as_deref().is_some_and(|d| d.contains("ServicePrincipal"))
    }

    /// The service names an unauthenticated caller with an anonymous identity rather than
    /// refusing the request outright on some hosts; such a caller is not signed in.
    pub fn is_anonymous(&self) -> bool {
        self.identity_descriptor
            .as_deref()
            .is_some_and(|d| d.contains("Anonymous") || d.contains("UnauthenticatedIdentity"))
    }
}

/// What the one Token Admin request of `whoami` proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAdminProbe {
    /// The caller may list tokens; the first page of its own held this many.
    Allowed { tokens_on_first_page: usize },
    /// The caller passed the permission check but is not a subject with tokens (HTTP 404, as for
    /// a service principal).
    AllowedSubjectUnknown,
}

/// A `connectionData` answer that says nothing about the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer names no authenticatedUser")]
pub(crate) struct NoAuthenticatedUser;

impl Connection {
    pub(crate) fn from_wire(data: ConnectionData) -> Result<Self, NoAuthenticatedUser> {
        let user = data.authenticated_user.ok_or(NoAuthenticatedUser)?;
        let account = user
            .properties
            .as_ref()
            .and_then(|p| p.get("Account"))
            .and_then(|a| a.get("$value").or(Some(a)))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let display_name = user
            .custom_display_name
            .or(user.provider_display_name)
            .filter(|n| !n.is_empty())
            .or_else(|| account.clone())
            .unwrap_or_else(|| "(no name)".to_string());
        Ok(Connection {
            caller: Caller {
                id: user.id.unwrap_or_default(),
                display_name,
                account,
                subject_descriptor: user.subject_descriptor.filter(|d| !d.is_empty()),
                identity_descriptor: user.descriptor,
            },
            instance_id: data.instance_id,
            deployment_type: data.deployment_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let body = r#"{
            "authenticatedUser": {
                "id": "d6245f20-2af8-44f4-9451-8107cb2767db",
                "descriptor": "Microsoft.IdentityModel.Claims.ClaimsIdentity;72f988bf\\jamal@contoso.com",
                "subjectDescriptor": "aad.ZjU3ZGI1",
                "providerDisplayName": "Jamal Hartnett",
                "isActive": true,
                "properties": {"Account": {"$type": "System.String", "$value": "jamal@contoso.com"}},
                "resourceVersion": 2,
                "metaTypeId": 0
            },
            "authorizedUser": {"id": "d6245f20-2af8-44f4-9451-8107cb2767db"},
            "instanceId": "8b5e4d2c-0000-0000-0000-000000000000",
            "deploymentId": "00000000-0000-0000-0000-000000000000",
            "deploymentType": "hosted",
            "locationServiceData": {"serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7"}
        }"#;
        let c = Connection::from_wire(serde_json::from_str(body).unwrap()).unwrap();
        assert_eq!(c.caller.display_name, "Jamal Hartnett");
        assert_eq!(c.caller.account.as_deref(), Some("jamal@contoso.com"));
        assert_eq!(c.caller.subject_descriptor.as_deref(), Some("aad.ZjU3ZGI1"));
        assert!(!c.caller.is_service_principal() && !c.caller.is_anonymous());
        assert_eq!(c.deployment_type.as_deref(), Some("hosted"));

        let sp = r#"{"authenticatedUser": {"id": "x", "descriptor": "Microsoft.VisualStudio.Services.Claims.AadServicePrincipal;t\\o", "subjectDescriptor": "aadsp.abc", "providerDisplayName": "scanner"}}"#;
        let c = Connection::from_wire(serde_json::from_str(sp).unwrap()).unwrap();
        assert!(c.caller.is_service_principal());
        assert!(
            Connection::from_wire(serde_json::from_str("{}").unwrap())
                .unwrap_err()
                .to_string()
                .contains("authenticatedUser")
        );
    }
}
