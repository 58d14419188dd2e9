//! Wire models of the evidence sources: User Entitlements, Graph membership state, the audit
//! log and the tenant PAT policies. Read leniently: one entry with a field of the wrong type
//! costs that field (or that entry), never the page; only the fields declared here are kept.
//! None of these answers carries a credential's secret.

use super::json_kind;
use chrono::{DateTime, Datelike, Utc};
use pat2entra_core::evidence::{AccessLevel, LastAccessed};
use serde::Deserialize;
use serde_json::Value;

/// Microsoft's "no date": `0001-01-01T00:00:00` (never) and `9999-12-31T23:59:59` (no end).
/// Both are read as unset, never as dates the rules would compute with.
pub fn is_sentinel(t: &DateTime<Utc>) -> bool {
    t.year() <= 1 || t.year() >= 9999
}

/// A value that failed to read as `T` keeps what was wrong instead of failing its page.
#[derive(Debug)]
pub struct Lenient<T>(pub Option<Result<T, String>>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Lenient(None));
        }
        let kind = json_kind(&value);
        Ok(Lenient(Some(serde_json::from_value(value).map_err(|_| format!("unexpected {kind}")))))
    }
}

impl<T> Lenient<T> {
    /// The value when it was present and readable.
    pub fn ok(self) -> Option<T> {
        self.0.and_then(Result::ok)
    }
}

/// One page of `GET https://vsaex.dev.azure.com/{org}/_apis/userentitlements?api-version=7.1`
/// (`PagedGraphMemberList` in MicrosoftDocs/vsts-rest-api-specs
/// `specification/memberEntitlementManagement/7.1/memberEntitlementManagement.json`): the page
/// is under `items` (the spec also declares `members`), the continuation token in the body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntitlementsPage {
    #[serde(default)]
    pub items: Option<Vec<UserEntitlement>>,
    #[serde(default)]
    pub members: Option<Vec<UserEntitlement>>,
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub total_count: Lenient<u64>,
}

impl UserEntitlementsPage {
    pub fn entries(self) -> Vec<UserEntitlement> {
        self.items.or(self.members).unwrap_or_default()
    }
}

/// A `UserEntitlement`: who (`user.descriptor`), their access level and last access.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntitlement {
    #[serde(default)]
    pub id: Lenient<String>,
    #[serde(default)]
    pub user: Lenient<EntitlementUser>,
    #[serde(default)]
    pub access_level: Lenient<EntitlementAccessLevel>,
    #[serde(default)]
    pub last_accessed_date: Lenient<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitlementUser {
    #[serde(default)]
    pub descriptor: Option<String>,
    #[serde(default)]
    pub principal_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitlementAccessLevel {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub license_display_name: Option<String>,
    #[serde(default)]
    pub account_license_type: Option<String>,
}

/// What one entitlement says about its user, in the inventory's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerActivity {
    pub descriptor: String,
    /// `None`: the date was absent or unreadable.
    pub last_accessed: Option<LastAccessed>,
    pub access_level: Option<AccessLevel>,
}

impl UserEntitlement {
    /// `None` when the entry names no user descriptor (nothing to join it to).
    pub fn into_activity(self) -> Option<OwnerActivity> {
        let descriptor = self.user.ok()?.descriptor.filter(|d| !d.trim().is_empty())?;
        let last_accessed = self.last_accessed_date.ok().and_then(|text| {
            let t = crate::timestamp::parse_timestamp(&text).ok()?;
            Some(if is_sentinel(&t) { LastAccessed::Never } else { LastAccessed::At(t) })
        });
        let access_level = self.access_level.ok().and_then(|a| {
            let status = a.status.filter(|s| !s.is_empty())?;
            let license = a.license_display_name.or(a.account_license_type).filter(|s| !s.is_empty());
            Some(AccessLevel { status, license })
        });
        Some(OwnerActivity { descriptor, last_accessed, access_level })
    }
}

/// `GET https://vssps.dev.azure.com/{org}/_apis/graph/membershipstates/{descriptor}`
/// (`GraphMembershipState` in `specification/graph/7.1/graph.json`): `{"active": bool}`.
/// `active` is required: an answer without it is not a membership state (and is not read as
/// "unknown" silently).
#[derive(Debug, Deserialize)]
pub struct MembershipState {
    pub active: bool,
}

/// `GET https://auditservice.dev.azure.com/{org}/_apis/audit/auditlog` (`AuditLogQueryResult`
/// in `specification/audit/7.1/audit.json`). The spec's example nests the result under `value`
/// (`httpExamples/auditLog/GET__AuditLog_QueryLog_by_date.json`); public scripts read it at the
/// top level: both are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogPage {
    #[serde(default)]
    pub decorated_audit_log_entries: Option<Vec<AuditEntry>>,
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub has_more: Option<bool>,
    /// Read as any JSON first, so a body cut short fails as cut short (and is retried), not as
    /// a body of the wrong shape.
    #[serde(default)]
    pub value: Option<Value>,
}

impl AuditLogPage {
    /// The result wherever it was put (`value` or the top level); `Err` when neither holds
    /// `decoratedAuditLogEntries` (a page without entries is not an empty page).
    pub fn normalized(self) -> Result<AuditLogPage, String> {
        if self.decorated_audit_log_entries.is_some() {
            return Ok(AuditLogPage { value: None, ..self });
        }
        match self.value {
            Some(inner @ Value::Object(_)) => {
                serde_json::from_value::<AuditLogPage>(inner).map_err(|e| format!("value: {e}"))?.normalized()
            }
            _ => Err("no decoratedAuditLogEntries, at the top level or under value".into()),
        }
    }
}

/// A `DecoratedAuditLogEntry`, only the fields pat2entra uses. `data` keeps only the few keys
/// that name a credential (`AuthorizationId`, `DisplayName`, `OwnerName`…), as strings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[serde(default)]
    pub id: Lenient<String>,
    #[serde(default)]
    pub action_id: Lenient<String>,
    #[serde(default)]
    pub timestamp: Lenient<String>,
    #[serde(default)]
    pub authentication_mechanism: Lenient<String>,
    #[serde(default)]
    pub actor_display_name: Lenient<String>,
    #[serde(rename = "actorUPN", default)]
    pub actor_upn: Lenient<String>,
    #[serde(default)]
    pub actor_user_id: Lenient<String>,
    #[serde(default)]
    pub correlation_id: Lenient<String>,
    #[serde(default)]
    pub data: AuditData,
}

/// The keys of an entry's `data` that name a credential; everything else is skipped unread.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditData {
    pub authorization_id: Option<String>,
    pub display_name: Option<String>,
    pub owner_name: Option<String>,
}

impl<'de> Deserialize<'de> for AuditData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AuditData;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<AuditData, A::Error> {
                let mut data = AuditData::default();
                while let Some(key) = map.next_key::<String>()? {
                    let lower = key.to_ascii_lowercase();
                    let slot = if lower.ends_with("authorizationid") {
                        &mut data.authorization_id
                    } else if lower == "displayname" || lower == "tokendisplayname" {
                        &mut data.display_name
                    } else if lower == "ownername" || lower == "owner" || lower == "targetuser" {
                        &mut data.owner_name
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    };
                    if let Value::String(s) = map.next_value::<Value>()?
                        && slot.is_none()
                        && !s.trim().is_empty()
                    {
                        *slot = Some(s);
                    }
                }
                Ok(data)
            }
            // `data` that is not an object (null, a string…) names nothing.
            fn visit_unit<E: serde::de::Error>(self) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<AuditData, E> {
                Ok(AuditData::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<AuditData, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(AuditData::default())
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The service's own actor (`actorUserId` of "Azure DevOps Service" in the spec's example).
const SERVICE_ACTOR: &str = "00000002-0000-8888-8000-000000000000";

/// An audit entry read into what pat2entra uses, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The entry's id (dedupes entries seen twice across slices and pages).
    pub key: String,
    pub action: String,
    pub at: DateTime<Utc>,
    /// The authorization id of the PAT the action was taken with, from `authenticationMechanism`.
    pub pat_used: Option<String>,
    /// Who acted; `None` for the service itself.
    pub actor: Option<String>,
    pub data: AuditData,
}

impl AuditEntry {
    /// `Err` names what is missing: an entry without an action or a readable time says nothing.
    pub fn into_record(self) -> Result<AuditRecord, String> {
        let action = self.action_id.ok().filter(|a| !a.trim().is_empty()).ok_or("no actionId")?;
        let at = self
            .timestamp
            .ok()
            .and_then(|t| crate::timestamp::parse_timestamp(&t).ok())
            .ok_or_else(|| format!("{action}: no readable timestamp"))?;
        let mechanism = self.authentication_mechanism.ok();
        let pat_used = mechanism.as_deref().and_then(pat_authorization_id);
        let actor_user = self.actor_user_id.ok();
        let actor = if actor_user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(SERVICE_ACTOR)) {
            None
        } else {
            self.actor_upn.ok().or(self.actor_display_name.ok()).filter(|a| !a.trim().is_empty())
        };
        let id = self.id.ok().filter(|i| !i.trim().is_empty());
        // Without an id, the entry's own content is its identity.
        let key = id.unwrap_or_else(|| {
            format!(
                "{}|{}|{}|{}",
                at.to_rfc3339(),
                action,
                self.correlation_id.ok().unwrap_or_default(),
                mechanism.unwrap_or_default()
            )
        });
        Ok(AuditRecord { key, action, at, pat_used, actor, data: self.data })
    }
}

/// The authorization id in an `authenticationMechanism` naming a PAT, e.g.
/// `PAT_Unscoped authorizationId:<uuid>` (format seen in public code, not documented: read
/// leniently). `None` for other mechanisms (`FedAuth`, `OAuth`, empty).
pub fn pat_authorization_id(mechanism: &str) -> Option<String> {
    let lower = mechanism.to_ascii_lowercase();
    if !lower.trim_start().starts_with("pat") && !lower.contains("personalaccesstoken") {
        return None;
    }
    let rest = match lower.find("authorizationid") {
        Some(at) => &mechanism[at + "authorizationid".len()..],
        None => mechanism,
    };
    first_uuid(rest)
}

/// The first 36-character hyphenated hex UUID in `text`, lowercase.
fn first_uuid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let is_uuid = |w: &[u8]| {
        w.iter().enumerate().all(|(i, b)| if [8, 13, 18, 23].contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() })
    };
    bytes.windows(36).find(|w| is_uuid(w)).map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

/// `GET https://vssps.dev.azure.com/{org}/_apis/TenantPolicy/Policies/TenantPolicy.{Name}`
/// (undocumented). The shape the ADOPS PowerShell module reads (bjompen/AZDOPS
/// `Source/Public/Get-ADOPSTenantPolicy.ps1` and its tests: `{"name", "value": bool,
/// "properties": {...}}`; Maester reads `.value` and `.properties.MaxPatLifespanInDays`). The
/// service keeps properties as strings, so `"30"` and `30` are both read.
#[derive(Debug, Deserialize)]
pub struct TenantPolicy {
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub properties: Option<serde_json::Map<String, Value>>,
}

impl TenantPolicy {
    /// `value` as a boolean (`true`, `"true"`, `"True"`); `None` when absent or unreadable.
    pub fn enabled(&self) -> Option<bool> {
        match self.value.as_ref()? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => {
                s.trim().parse::<bool>().ok().or_else(|| match s.trim().to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    /// `properties.MaxPatLifespanInDays`, a positive whole number of days.
    pub fn max_pat_lifespan_days(&self) -> Option<u32> {
        let (_, v) = self.properties.as_ref()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("MaxPatLifespanInDays"))?;
        match v {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|d| *d > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_mechanisms_are_read_leniently() {
        let id = "0f6f4b6c-1234-4c1d-9a3e-abcdefabcdef";
        for text in [
            format!("PAT_Unscoped authorizationId:{id}"),
            format!("PAT authorizationId: {}", id.to_uppercase()),
            format!("PAT_Scoped (authorizationId={id}) scopes:vso.code"),
            format!("pat {id}"),
        ] {
            assert_eq!(pat_authorization_id(&text).as_deref(), Some(id), "{text}");
        }
        for text in
            ["FedAuth", "", "OAuth authorizationId:0f6f4b6c-1234-4c1d-9a3e-abcdefabcdef", "PAT_Unscoped", "PAT 1234"]
        {
            assert_eq!(pat_authorization_id(text), None, "{text}");
        }
    }

    #[test]
    fn audit_pages_are_read_at_the_top_level_or_under_value() {
        let entry = r#"{"id":"e1","actionId":"Git.RefUpdate","timestamp":"2026-11-01T10:00:00Z",
            "authenticationMechanism":"PAT_Unscoped authorizationId:0f6f4b6c-1234-4c1d-9a3e-abcdefabcdef",
            "actorUPN":"a@contoso.com","data":{"DisplayName":"ci","Secret":{"x":1}}}"#;
        for body in [
            format!(r#"{{"decoratedAuditLogEntries":[{entry}],"continuationToken":"c","hasMore":true}}"#),
            format!(r#"{{"value":{{"decoratedAuditLogEntries":[{entry}],"continuationToken":"c","hasMore":true}}}}"#),
        ] {
            let page = serde_json::from_str::<AuditLogPage>(&body).unwrap().normalized().unwrap();
            assert_eq!(page.has_more, Some(true));
            assert_eq!(page.continuation_token.as_deref(), Some("c"));
            let record = page.decorated_audit_log_entries.unwrap().pop().unwrap().into_record().unwrap();
            assert_eq!(record.pat_used.as_deref(), Some("0f6f4b6c-1234-4c1d-9a3e-abcdefabcdef"));
            assert_eq!(record.actor.as_deref(), Some("a@contoso.com"));
            assert_eq!(record.data.display_name.as_deref(), Some("ci"));
            assert_eq!(record.key, "e1");
        }
        // An entry with a bad field costs that entry, not the page.
        let page: AuditLogPage = serde_json::from_str(
            r#"{"decoratedAuditLogEntries":[{"actionId":7,"timestamp":"x"},{"id":"b","actionId":"A.B","timestamp":"2026-01-01T00:00:00","data":null}],"hasMore":false}"#,
        )
        .unwrap();
        let records: Vec<_> =
            page.decorated_audit_log_entries.unwrap().into_iter().map(AuditEntry::into_record).collect();
        assert!(records[0].is_err());
        assert_eq!(records[1].as_ref().unwrap().action, "A.B");
        // A body without entries anywhere is not an empty page.
        for body in [r#"{"value":"not a list"}"#, r#"{"value":{}}"#, r#"{"hasMore":false}"#] {
            assert!(serde_json::from_str::<AuditLogPage>(body).unwrap().normalized().is_err(), "{body}");
        }
        // A body cut short fails as cut short (retried), not as the wrong shape.
        let cut = serde_json::from_str::<AuditLogPage>(r#"{"value": [{"authorizationId": "#).unwrap_err();
        assert!(cut.is_eof(), "{cut}");
    }

    #[test]
    fn sentinel_dates_are_unset() {
        let never: UserEntitlement = serde_json::from_str(
            r#"{"user":{"descriptor":"aad.x"},"accessLevel":{"status":"active","licenseDisplayName":"Basic"},"lastAccessedDate":"0001-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let activity = never.into_activity().unwrap();
        assert_eq!(activity.last_accessed, Some(LastAccessed::Never));
        assert_eq!(activity.access_level, Some(AccessLevel { status: "active".into(), license: Some("Basic".into()) }));
        let bad: UserEntitlement =
            serde_json::from_str(r#"{"user":{"descriptor":"aad.y"},"lastAccessedDate":12,"accessLevel":"x"}"#).unwrap();
        let activity = bad.into_activity().unwrap();
        assert_eq!((activity.last_accessed, activity.access_level), (None, None));
    }

    #[test]
    fn tenant_policies_read_booleans_and_string_numbers() {
        let p: TenantPolicy = serde_json::from_str(
            r#"{"name":"TenantPolicy.RestrictPersonalAccessTokenLifespan","value":true,"properties":{"MaxPatLifespanInDays":"30"}}"#,
        )
        .unwrap();
        assert_eq!((p.enabled(), p.max_pat_lifespan_days()), (Some(true), Some(30)));
        let p: TenantPolicy =
            serde_json::from_str(r#"{"value":"False","properties":{"MaxPatLifespanInDays":0}}"#).unwrap();
        assert_eq!((p.enabled(), p.max_pat_lifespan_days()), (Some(false), None));
    }
}
