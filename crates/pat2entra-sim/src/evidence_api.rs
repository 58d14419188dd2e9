//! The evidence endpoints: User Entitlements, Graph membership states, the audit log and the
//! tenant PAT policies, in the shapes of Microsoft's specs (copied under
//! `tests/fixtures/ado-api/`) and of the clients that read the undocumented ones.

use crate::evidence::SimAuditEntry;
use crate::http::{Reply, Request, Response};
use crate::{AuditOff, SimState, bad_continuation, continuation_start, error};
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use pat2entra_core::evidence::Source;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// The answer to a caller who lacks the permission (or the PAT scope) a source needs: 401 with
/// the service's `UnauthorizedRequestException` body, as for Token Admin.
pub(crate) fn denied() -> Reply {
    Reply::Response(error(
        401,
        "TF400813: The user '' is not authorized to access this resource.",
        "UnauthorizedRequestException",
    ))
}

impl SimState {
    /// Users with an entitlement (User Entitlements' `totalCount`).
    pub(crate) fn member_count(&self) -> usize {
        (0..self.org.user_count()).filter(|&i| self.org.standing(i).is_some_and(|s| s.entitlement.is_some())).count()
    }

    pub(crate) fn denies(&self, source: Source) -> bool {
        self.config.deny.contains(&source)
    }

    /// `GET {org}/_apis/userentitlements` (vsaex): `{items, continuationToken, totalCount}`,
    /// paged by a continuation token in the body that holds `+ / = : #` (like the service's
    /// Cosmos tokens, vsts-rest-api-specs#442), so a client must URL-encode it. Members only:
    /// owners removed from the organization have no entitlement. `$filter`, `select` and
    /// `$orderBy` are ignored. Spec: `memberEntitlementManagement/7.1/memberEntitlementManagement.json`
    /// (`PagedUserEntitlementsList`); item shape: `GET__memberEntitlementManagement_UserEntitlementById.json`.
    pub(crate) fn user_entitlements(&self, request: &Request) -> Reply {
        self.stats.entitlement_pages.fetch_add(1, Ordering::Relaxed);
        let count = self.org.user_count();
        let start = match continuation_start(request, count, decode_entitlements_continuation) {
            Ok(start) => start,
            Err(reply) => return reply,
        };
        let page_size = self.config.entitlements_page_size.max(1);
        let mut items = Vec::with_capacity(page_size.min(count));
        let mut next = start;
        while next < count && items.len() < page_size {
            if let (Some(user), Some(standing)) = (self.org.user(next), self.org.standing(next))
                && let Some(e) = standing.entitlement
            {
                let l = e.license;
                items.push(json!({
                    "id": user.id,
                    "user": self.graph_user_json(&user),
                    "accessLevel": {
                        "licensingSource": l.licensing_source,
                        "accountLicenseType": l.account_license_type,
                        "msdnLicenseType": l.msdn_license_type,
                        "licenseDisplayName": l.display_name,
                        "status": e.status,
                        "statusMessage": "",
                        "assignmentSource": "unknown",
                    },
                    "dateCreated": crate::TimeFormat::Utc.format(e.date_created),
                    "lastAccessedDate": e.last_accessed.map_or_else(
                        || "0001-01-01T00:00:00Z".to_string(),
                        |t| crate::TimeFormat::Utc.format(t),
                    ),
                    "projectEntitlements": [],
                    "extensions": [],
                    "groupAssignments": [],
                }));
            }
            next += 1;
        }
        let more = (next..count).any(|i| self.org.standing(i).is_some_and(|s| s.entitlement.is_some()));
        let total = *self.members.get_or_init(|| self.member_count());
        let continuation = more.then(|| encode_entitlements_continuation(next, items.len()));
        Reply::Response(Response::json(
            200,
            &json!({"items": items, "continuationToken": continuation, "totalCount": total}),
        ))
    }

    /// `GET {org}/_apis/graph/membershipstates/{descriptor}` (vssps): `GraphMembershipState`
    /// (`_links`, `active`), spec `graph/7.1/graph.json`. 404 for a descriptor the organization
    /// never had.
    pub(crate) fn membership_state(&self, descriptor: &str) -> Reply {
        let Some(index) = self.org.user_index(descriptor) else {
            return Reply::Response(error(
                404,
                &format!("VS860018: The subject '{descriptor}' could not be found."),
                "GraphSubjectNotFoundException",
            ));
        };
        let base = format!("https://vssps.dev.azure.com/{}/_apis/Graph", self.org.name);
        Reply::Response(Response::json(
            200,
            &json!({
                "_links": {
                    "self": {"href": format!("{base}/MembershipStates/{descriptor}")},
                    "member": {"href": format!("{base}/Users/{descriptor}")},
                },
                "active": self.org.is_member(index),
            }),
        ))
    }

    /// `GET {org}/_apis/audit/auditlog` (auditservice): `AuditLogQueryResult`
    /// (`decoratedAuditLogEntries`, `continuationToken`, `hasMore`) at the top level, as public
    /// scripts read it (the spec example nests it under `value`). Newest first, filtered to
    /// `startTime <= timestamp < endTime`, `batchSize` entries a page (at most
    /// `audit_max_batch`); the continuation token is the last entry's id, as in the example.
    /// The simulator refuses a window longer than `audit_max_window` with 400 (the service's
    /// limit is undocumented): a client asks for long periods in slices. Spec:
    /// `audit/7.1/audit.json`, example `GET__AuditLog_QueryLog_by_date.json`.
    pub(crate) fn audit_log(&self, request: &Request) -> Reply {
        self.stats.audit_pages.fetch_add(1, Ordering::Relaxed);
        match self.config.audit_off {
            Some(AuditOff::Refuse) => {
                return Reply::Response(error(
                    403,
                    "Auditing is not enabled for this organization. An organization administrator can turn on \
                     'Log Audit Events' under Organization settings > Policies.",
                    "AuditLogNotEnabledException",
                ));
            }
            Some(AuditOff::Empty) => {
                return Reply::Response(Response::json(
                    200,
                    &json!({"decoratedAuditLogEntries": [], "continuationToken": null, "hasMore": false}),
                ));
            }
            None => {}
        }
        let bad = |message: &str| Reply::Response(error(400, message, "InvalidArgumentValueException"));
        let time = |name: &'static str| request.query(name).map(|v| parse_time(v).ok_or(name));
        let end = match time("endTime") {
            None => self.org.anchor(),
            Some(Ok(t)) => t,
            Some(Err(name)) => return bad(&format!("The value of '{name}' is not a valid date and time.")),
        };
        let max_window = chrono::Duration::from_std(self.config.audit_max_window).unwrap_or(chrono::Duration::MAX);
        let start = match time("startTime") {
            None => end - max_window,
            Some(Ok(t)) => t,
            Some(Err(name)) => return bad(&format!("The value of '{name}' is not a valid date and time.")),
        };
        if start > end {
            return bad("startTime must be earlier than endTime.");
        }
        if end - start > max_window {
            return bad(&format!(
                "The time range from startTime to endTime may not exceed {} days; query a longer period in smaller ranges.",
                max_window.num_days()
            ));
        }
        let batch = match request.query("batchSize").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n)) if n > 0 => n.min(self.config.audit_max_batch.max(1)),
            Some(_) => return bad("The value of 'batchSize' is not valid."),
        };
        let log = self.audit.get_or_init(|| self.org.audit_log());
        // Newest first: the window is one run of the log.
        let first_in = log.partition_point(|e| e.timestamp >= end);
        let past_end = log.partition_point(|e| e.timestamp >= start);
        let from = match request.query("continuationToken") {
            None => first_in,
            Some(token) if token.split(';').count() == 3 => {
                log.partition_point(|e| e.id.as_str() <= token).max(first_in)
            }
            Some(_) => return bad_continuation(),
        };
        let to = (from + batch).min(past_end).max(from);
        let entries: Vec<Value> = log[from..to].iter().map(|e| self.audit_entry_json(e)).collect();
        let continuation = log[from..to].last().map(|e| e.id.clone());
        Reply::Response(Response::json(
            200,
            &json!({"decoratedAuditLogEntries": entries, "continuationToken": continuation, "hasMore": to < past_end}),
        ))
    }

    fn audit_entry_json(&self, e: &SimAuditEntry) -> Value {
        let actor = e.actor.and_then(|a| self.org.user(a));
        let (category, category_name) = e.category();
        let (project_id, project_name) = match &e.project {
            Some((id, name)) => (json!(id), json!(name)),
            None => (json!("00000000-0000-0000-0000-000000000000"), Value::Null),
        };
        json!({
            "id": e.id,
            "correlationId": e.correlation_id,
            "activityId": e.activity_id,
            "actorCUID": actor.as_ref().map_or("00000000-0000-0000-0000-000000000000".to_string(), |u| u.origin_id.clone()),
            "actorUserId": actor.as_ref().map_or(crate::evidence::SERVICE_ACTOR.to_string(), |u| u.id.clone()),
            "actorUPN": actor.as_ref().map_or(Value::Null, |u| json!(u.principal_name)),
            "authenticationMechanism": e.authentication_mechanism,
            // Seven fractional digits and an offset, as the example writes them.
            "timestamp": format!(
                "{}.{:07}+00:00",
                e.timestamp.format("%Y-%m-%dT%H:%M:%S"),
                e.timestamp.timestamp_subsec_nanos() / 100
            ),
            "scopeType": if e.project.is_some() { "project" } else { "organization" },
            "scopeDisplayName": match &e.project {
                Some((_, name)) => format!("{name} (Project)"),
                None => format!("{} (Organization)", self.org.name),
            },
            "scopeId": e.project.as_ref().map_or_else(|| self.org.id.clone(), |(id, _)| id.clone()),
            "projectId": project_id,
            "projectName": project_name,
            "ipAddress": e.ip_address,
            "userAgent": e.user_agent,
            "actionId": e.action_id,
            "data": e.data,
            "details": e.details,
            "area": e.area(),
            "category": category,
            "categoryDisplayName": category_name,
            "actorDisplayName": actor.as_ref().map_or(crate::evidence::SERVICE_NAME.to_string(), |u| u.display_name.clone()),
            "actorImageUrl": actor.as_ref().map_or(Value::Null, |u| json!(format!(
                "https://dev.azure.com/{}/_apis/GraphProfile/MemberAvatars/{}", self.org.name, u.descriptor
            ))),
        })
    }

    /// `GET {org}/_apis/TenantPolicy/Policies/TenantPolicy.{name}` (vssps; undocumented). The
    /// shape the ADOPS PowerShell module reads (`Get-ADOPSTenantPolicy`,
    /// https://github.com/AZDOPS/AZDOPS `Source/Public/Get-ADOPSTenantPolicy.ps1`, its test
    /// `Tests/Get-ADOPSTenantPolicy.Tests.ps1` mocks `{name, value, properties}`) and Maester's
    /// `Test-AzdoRestrictPersonalAccessTokenLifespan` (`properties.MaxPatLifespanInDays`).
    pub(crate) fn tenant_policy(&self, name: &str) -> Reply {
        let p = &self.org.policies;
        let key = name.strip_prefix("TenantPolicy.").or_else(|| name.strip_prefix("tenantpolicy.")).unwrap_or("");
        let known = [
            ("RestrictGlobalPersonalAccessToken", p.restrict_global_pat),
            ("RestrictFullScopePersonalAccessToken", p.restrict_full_scope_pat),
            ("RestrictPersonalAccessTokenLifespan", p.restrict_pat_lifespan),
            ("EnableLeakedPersonalAccessTokenAutoRevocation", p.leaked_pat_auto_revocation),
            ("OrganizationCreationRestriction", Some(false)),
        ];
        let Some((canonical, Some(value))) = known.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
            return Reply::Response(error(
                404,
                &format!("The policy '{name}' could not be found."),
                "PolicyNotFoundException",
            ));
        };
        let mut properties = json!({"AllowedUsersAndGroupObjectIds": "[]"});
        if canonical == "RestrictPersonalAccessTokenLifespan" {
            properties["MaxPatLifespanInDays"] = json!(p.max_pat_lifespan_days.unwrap_or(0));
        }
        Reply::Response(Response::json(
            200,
            &json!({"name": format!("TenantPolicy.{canonical}"), "value": value, "properties": properties}),
        ))
    }
}

/// `2026-09-01T00:00:00Z`, with or without fraction or offset; zone-less means UTC.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

/// Bytes that base64-encode to `++++////`: every token holds `+`, `/` and (padding) `=`.
const TOKEN_TAG: [u8; 6] = [0xFB, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF];

/// A continuation token shaped like the service's Cosmos tokens (`+RID:~…#RT:1#TRC:100#…`):
/// it only survives the round trip when the client URL-encodes it.
pub(crate) fn encode_entitlements_continuation(offset: usize, page_len: usize) -> String {
    let mut bytes = TOKEN_TAG.to_vec();
    bytes.extend_from_slice(&(offset as u32).to_be_bytes());
    let rid = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("+RID:~{rid}#RT:1#TRC:{page_len}#ISV:2#IEO:65551#FPC:AgEAAAAQAB8AAA==")
}

pub(crate) fn decode_entitlements_continuation(token: &str) -> Option<usize> {
    let rid = token.strip_prefix("+RID:~")?.split('#').next()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(rid).ok()?;
    let offset = bytes.strip_prefix(&TOKEN_TAG[..])?;
    Some(u32::from_be_bytes(offset.try_into().ok()?) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_tokens_need_url_encoding_and_round_trip() {
        let token = encode_entitlements_continuation(300, 100);
        for c in ['+', '/', '=', ':', '#'] {
            assert!(token.contains(c), "{token} lacks {c}");
        }
        assert_eq!(decode_entitlements_continuation(&token), Some(300));
        // What a server reads when the client sends it unencoded: '+' as a space, cut at '#'.
        let mangled = token.replace('+', " ");
        assert_eq!(decode_entitlements_continuation(&mangled), None);
        assert_eq!(decode_entitlements_continuation(token.split('#').next().unwrap()), Some(300));
        assert_eq!(decode_entitlements_continuation("garbage"), None);
    }

    #[test]
    fn times_parse_in_the_shapes_clients_send() {
        assert!(parse_time("2026-09-01T00:00:00Z").is_some());
        assert!(parse_time("2026-09-01T00:00:00.1234567+00:00").is_some());
        assert!(parse_time("2026-09-01T00:00:00").is_some());
        assert_eq!(parse_time("2026-09-01T00:00:00 00:00"), None, "an unencoded '+' arrives as a space");
    }
}
