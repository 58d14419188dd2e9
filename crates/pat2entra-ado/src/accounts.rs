//! The organizations an identity can see: its profile, then the organizations ("accounts") it
//! is a member of. Both live outside any organization, on `app.vssps.visualstudio.com`
//! (`Endpoints::app`, which `--base-url` routes too).
//!
//! Shapes from Microsoft's specs (MicrosoftDocs/vsts-rest-api-specs):
//! - `GET /_apis/profile/profiles/me`: `specification/profile/7.1/profile.json` (`Profiles_Get`,
//!   api-version `7.1-preview.3`, scope `vso.profile`); example
//!   `specification/profile/5.0/httpExamples/profiles/GET__profile_profiles_me.json` (the newest
//!   one published), whose body has `id`, `displayName`, `emailAddress`, `publicAlias`.
//! - `GET /_apis/accounts?memberId={id}`: `specification/account/7.1/accounts.json`
//!   (`Accounts_List`, api-version `7.1-preview.1`, scope `vso.profile`); the array comes wrapped
//!   as `{count, value}`; example
//!   `specification/account/5.0/httpExamples/accounts/GET__Accounts_memberId-_userId_.json`.
//!
//! Both specs mark the operations preview: the service refuses a preview API asked for without
//! `-preview`, so the spec's versions are sent (the issue's `api-version=7.1` would be refused).
//! Both examples are copied under `tests/fixtures/ado-api/{profile,account}/` for the contract
//! tests. Reported (evidence-action-tenant-apis.md): a PAT bound to one organization gets 401
//! (`Api::Profile` says so), a service principal gets an empty list.

use crate::client::{Api, endpoint_name};
use crate::credential::Credential;
use crate::endpoints::{Endpoints, OrgRef};
use crate::wire::Collection;
use crate::{AdoClient, AdoError, ClientOptions};
use serde::Deserialize;
use url::Url;

pub const PROFILE_API_VERSION: &str = "7.1-preview.3";
pub const ACCOUNTS_API_VERSION: &str = "7.1-preview.1";

/// The caller's profile (`Profile` of the profile spec; `displayName` and `emailAddress` are
/// in the example's body, not in the 7.1 definition, hence optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
}

/// One organization the caller is a member of (`Account` of the account spec).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    pub account_name: String,
    #[serde(default)]
    pub account_uri: Option<String>,
    /// `enabled`, `disabled`, `deleted`, `moved` (absent in the example: taken as enabled).
    #[serde(default)]
    pub account_status: Option<String>,
}

impl AdoClient {
    /// A client for the endpoints outside any organization (profile, accounts); its requests
    /// to an organization are refused.
    pub fn for_tenant(endpoints: Endpoints, credential: Credential, options: ClientOptions) -> Result<Self, AdoError> {
        AdoClient::new(endpoints, OrgRef::none(), credential, options)
    }

    /// `GET https://app.vssps.visualstudio.com/_apis/profile/profiles/me`.
    pub async fn profile(&self) -> Result<Profile, AdoError> {
        let mut url = self.app_url(&["profile", "profiles", "me"]);
        url.query_pairs_mut().append_pair("api-version", PROFILE_API_VERSION);
        let (profile, _): (Profile, _) = self.get_json(Api::Profile, &url).await?;
        // It goes into the next request's query: a GUID and nothing else.
        if !is_guid(&profile.id) {
            return Err(AdoError::Malformed {
                endpoint: endpoint_name(&url),
                detail: "the profile's id is not a GUID".into(),
            });
        }
        Ok(profile)
    }

    /// `GET https://app.vssps.visualstudio.com/_apis/accounts?memberId={id}`: every
    /// organization the profile `member_id` belongs to (one answer; the spec has no paging).
    pub async fn accounts(&self, member_id: &str) -> Result<Vec<Account>, AdoError> {
        let mut url = self.app_url(&["accounts"]);
        url.query_pairs_mut().append_pair("memberId", member_id).append_pair("api-version", ACCOUNTS_API_VERSION);
        let (accounts, _): (Collection<Account>, _) = self.get_json(Api::Profile, &url).await?;
        Ok(accounts.value)
    }

    /// The caller's profile and the organizations it is a member of.
    pub async fn organizations(&self) -> Result<(Profile, Vec<Account>), AdoError> {
        let profile = self.profile().await?;
        let accounts = self.accounts(&profile.id).await?;
        Ok((profile, accounts))
    }

    /// `{app}/_apis/{segments…}` (no organization in the path).
    fn app_url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoints().app.clone();
        {
            let mut path = url.path_segments_mut().expect("service URLs are hierarchical");
            path.pop_if_empty();
            path.push("_apis");
            path.extend(segments);
        }
        url
    }
}

fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::{http, serve};
    use pat2entra_core::secret::Secret;

    #[test]
    fn guids_only() {
        assert!(is_guid("d6245f20-2af8-44f4-9451-8107cb2767db"));
        assert!(!is_guid("d6245f20-2af8-44f4-9451-8107cb2767d&"));
        assert!(!is_guid("me"));
    }

    #[tokio::test]
    async fn profile_then_accounts_on_the_app_host() {
        let (base, count) = serve(|_, head| {
            let body = if head.starts_with("GET /prefix/_apis/profile/profiles/me?api-version=7.1-preview.3 ") {
                r#"{"id": "d6245f20-2af8-44f4-9451-8107cb2767db", "displayName": "Normal Paulk"}"#
            } else if head.starts_with(
                "GET /prefix/_apis/accounts?memberId=d6245f20-2af8-44f4-9451-8107cb2767db&api-version=7.1-preview.1 ",
            ) {
                r#"{"count": 1, "value": [{"accountId": "6affcbef-fe5d-44c6-8a29-439b79aaa118", "accountName": "Fabrikam-Fiber-Inc", "accountUri": "https://vssps.dev.azure.com/Fabrikam-Fiber-Inc/", "properties": {}}]}"#
            } else {
                return Some(http("404 Not Found", "", "{}"));
            };
            Some(http("200 OK", "", body))
        })
        .await;
        let client = AdoClient::for_tenant(
            Endpoints::single_base(&format!("{base}/prefix")).unwrap(),
            Credential::Pat(Secret::new("pat-secret-777")),
            ClientOptions::default(),
        )
        .unwrap();
        let (profile, accounts) = client.organizations().await.unwrap();
        assert_eq!(profile.display_name.as_deref(), Some("Normal Paulk"));
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].account_name, "Fabrikam-Fiber-Inc");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        // No organization requests from a tenant client.
        assert!(matches!(client.list_users().await, Err(AdoError::InvalidSegment { .. })));
    }

    #[tokio::test]
    async fn a_401_says_the_credential_may_be_bound_to_one_organization() {
        let (base, _) = serve(|_, _| Some(http("401 Unauthorized", "", r#"{"message": "TF400813"}"#))).await;
        let client = AdoClient::for_tenant(
            Endpoints::single_base(&base).unwrap(),
            Credential::Pat(Secret::new("pat-secret-777")),
            ClientOptions::default(),
        )
        .unwrap();
        let e = client.organizations().await.unwrap_err();
        assert!(e.is_auth(), "{e}");
        let text = e.to_string();
        assert!(text.contains("All accessible organizations") && text.contains("--orgs-file"), "{text}");
        assert!(!text.contains("pat-secret-777"));
    }
}
