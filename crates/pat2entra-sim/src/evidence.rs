//! Evidence of use in the synthetic organization: who is still a member and when they last
//! signed in (User Entitlements, Graph membership state), each owner's SSH keys, the audit log
//! (token events and audited actions taken with PATs) and the tenant's PAT policies. All of it
//! comes from the seed and the anchor date, like the tokens; `SimOrg::seeded_evidence` states
//! it as plain data, the truth tests compare a scan against.
//!
//! Choices where Microsoft documents nothing (see NOTES-README.md):
//! - Owners removed from the organization stay in Graph (membership state inactive) and leave
//!   User Entitlements; Token Admin answers 404 for those of them who own no PAT, and lists the
//!   PATs of the others.
//! - `data` of `Token.*` audit events holds `DisplayName` and `OwnerName` (the placeholders of
//!   Microsoft's detail templates, `docs/organizations/audit/auditing-events.md`) and
//!   `AuthorizationId` (unverified: the key that joins an event to its token).
//! - Audited actions taken with a PAT carry `authenticationMechanism`
//!   `PAT_Unscoped authorizationId:<uuid>` (the shape public code shows, e.g. the ado_wrapper
//!   Python package's `AuthenticationMechanismType`), one in four with a space after the colon.

use crate::org::{SimOrg, SimToken, SimUser, TimeFormat};
use crate::rng::{Rng, mix};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use pat2entra_core::evidence::{
    AccessLevel, AuditWindow, CredentialEvent, EventKind, LastAccessed, LastSeen, Source, TenantPolicies,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Days of audit log the service keeps (Microsoft: 90, not configurable).
pub const AUDIT_RETENTION_DAYS: i64 = 90;

/// Salts of the evidence's random streams, independent of users' and tokens'.
const STANDING: u64 = 0x57A4_D145;
const USE: u64 = 0x05ED_0017;
const SSH: u64 = 0x055B_4E75;

/// The actor id Azure DevOps itself acts under in the audit log (the spec example's
/// `Project.CreateCompleted` entry).
pub const SERVICE_ACTOR: &str = "00000002-0000-8888-8000-000000000000";
pub(crate) const SERVICE_NAME: &str = "Azure DevOps Service";

/// The tenant policies of a new simulated organization: two on, two off (the leak
/// auto-revocation is off, so leaked PATs stay valid and are seen as such).
pub fn default_policies() -> TenantPolicies {
    TenantPolicies {
        restrict_global_pat: Some(false),
        restrict_full_scope_pat: Some(true),
        restrict_pat_lifespan: Some(true),
        max_pat_lifespan_days: Some(180),
        leaked_pat_auto_revocation: Some(false),
    }
}

/// Users given a state on purpose, so that even a small organization has one of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Designated {
    /// Removed from the organization, owns PATs (Token Admin lists them).
    pub removed_with_tokens: Option<usize>,
    /// Removed, owns none (Token Admin answers 404).
    pub removed_without_tokens: Option<usize>,
    /// Never signed in, owns PATs.
    pub never: Option<usize>,
    /// Last signed in long ago, owns PATs.
    pub idle: Option<usize>,
}

/// Where an owner stands: member or not, and when they last signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStanding {
    /// Still a member (Graph membership state active).
    pub member: bool,
    /// User Entitlements' entry; `None` for non-members and service identities.
    pub entitlement: Option<SimEntitlement>,
}

/// A User Entitlements entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEntitlement {
    /// `None`: never signed in (`0001-01-01T00:00:00Z` on the wire).
    pub last_accessed: Option<DateTime<Utc>>,
    pub date_created: DateTime<Utc>,
    /// `accessLevel.status`.
    pub status: &'static str,
    pub license: SimLicense,
}

/// An access level's license fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimLicense {
    /// `accessLevel.accountLicenseType`
    pub account_license_type: &'static str,
    /// `accessLevel.licenseDisplayName`
    pub display_name: &'static str,
    /// `accessLevel.licensingSource`
    pub licensing_source: &'static str,
    /// `accessLevel.msdnLicenseType`
    pub msdn_license_type: &'static str,
}

const fn license(
    account_license_type: &'static str,
    display_name: &'static str,
    licensing_source: &'static str,
    msdn_license_type: &'static str,
) -> SimLicense {
    SimLicense { account_license_type, display_name, licensing_source, msdn_license_type }
}

const LICENSES: &[(u32, SimLicense)] = &[
    (60, license("express", "Basic", "account", "none")),
    (20, license("stakeholder", "Stakeholder", "account", "none")),
    (5, license("advanced", "Basic + Test Plans", "account", "none")),
    (15, license("none", "Visual Studio Enterprise subscription", "msdn", "enterprise")),
];

/// One audit log entry.
#[derive(Debug, Clone)]
pub struct SimAuditEntry {
    /// `{reversed ticks};{actor};{correlation}`, as the service writes it: ascending ids are
    /// descending times, and the last id of a page is the continuation token.
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub action_id: &'static str,
    /// The acting user's index, `None` for the service itself.
    pub actor: Option<usize>,
    pub authentication_mechanism: String,
    /// The credential the entry is about or was made with.
    pub authorization_id: Option<String>,
    pub data: Value,
    pub details: String,
    pub correlation_id: String,
    pub activity_id: String,
    pub ip_address: Option<String>,
    pub user_agent: &'static str,
    /// Project-scoped actions: (id, name).
    pub project: Option<(String, String)>,
}

impl SimAuditEntry {
    pub fn area(&self) -> &'static str {
        self.action_id.split('.').next().unwrap_or_default()
    }

    pub fn category(&self) -> (&'static str, &'static str) {
        match self.action_id {
            "Token.PatCreateEvent" | "Token.SshCreateEvent" | "Release.ReleaseCreated" | "Git.RepositoryCreated" => {
                ("create", "Create")
            }
            "Token.PatRevokeEvent" | "Token.PatSystemRevokeEvent" | "Token.SshRevokeEvent" => ("remove", "Remove"),
            "Token.PatPublicDiscoveryEvent" => ("access", "Access"),
            "Pipelines.RunRetained" | "Release.DeploymentCompleted" => ("execute", "Execute"),
            _ => ("modify", "Modify"),
        }
    }
}

/// What the simulator seeded, for tests: they derive the findings they expect from this, never
/// from the scanner. Descriptors and authorization ids as the service serves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededEvidence {
    /// The period the audit log covers: the retention (90 days) up to the anchor.
    pub audit_window: AuditWindow,
    /// Owners removed from the organization (Graph lists them; membership state inactive; not in
    /// User Entitlements).
    pub not_members: BTreeSet<String>,
    /// Of those, the ones Token Admin answers 404 for (they own no PAT; empty unless
    /// `removed_owners_not_found` is set).
    pub token_admin_not_found: BTreeSet<String>,
    /// Subjects that cannot own PATs (`svc` service identities): Token Admin answers 400.
    pub cannot_own_tokens: BTreeSet<String>,
    /// Members' last sign-in (User Entitlements), by descriptor.
    pub last_accessed: BTreeMap<String, LastAccessed>,
    /// Members' access level, by descriptor.
    pub access_level: BTreeMap<String, AccessLevel>,
    /// Authorization ids with a `Token.PatPublicDiscoveryEvent` in the audit log.
    pub leaked: BTreeSet<String>,
    /// The last audited action taken with each PAT that has one.
    pub last_seen: BTreeMap<String, LastSeen>,
    /// `Token.*` events per authorization id, oldest first (actor: the display name).
    pub events: BTreeMap<String, Vec<CredentialEvent>>,
    /// Authorization ids of SSH keys (Token Admin `isPublic=true`).
    pub ssh_keys: BTreeSet<String>,
    /// Every credential's owner (PATs and SSH keys), by authorization id.
    pub owner_of: BTreeMap<String, String>,
    pub policies: TenantPolicies,
}

impl SeededEvidence {
    /// Members who never signed in.
    pub fn never_signed_in(&self) -> BTreeSet<&str> {
        self.last_accessed.iter().filter(|(_, a)| **a == LastAccessed::Never).map(|(d, _)| d.as_str()).collect()
    }

    /// Members whose last sign-in is more than `max_days` before `now`, or never.
    pub fn inactive(&self, max_days: i64, now: DateTime<Utc>) -> BTreeSet<&str> {
        self.last_accessed
            .iter()
            .filter(|(_, a)| a.at().is_none_or(|t| t < now - Duration::days(max_days)))
            .map(|(d, _)| d.as_str())
            .collect()
    }

    /// Names of the tenant policies switched off (`TenantPolicy.*`).
    pub fn policies_off(&self) -> Vec<&'static str> {
        let p = &self.policies;
        [
            ("TenantPolicy.RestrictGlobalPersonalAccessToken", p.restrict_global_pat),
            ("TenantPolicy.RestrictFullScopePersonalAccessToken", p.restrict_full_scope_pat),
            ("TenantPolicy.RestrictPersonalAccessTokenLifespan", p.restrict_pat_lifespan),
            ("TenantPolicy.EnableLeakedPersonalAccessTokenAutoRevocation", p.leaked_pat_auto_revocation),
        ]
        .into_iter()
        .filter(|(_, on)| *on == Some(false))
        .map(|(name, _)| name)
        .collect()
    }
}

/// .NET ticks of `DateTime.MaxValue`: the audit log's ids start with this minus the entry's
/// ticks (the spec example's `2518505060978539161` is 2019-03-05T14:05:02).
const MAX_TICKS: i64 = 3_155_378_975_999_999_999;
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

fn reversed_ticks(t: DateTime<Utc>) -> i64 {
    let ticks = UNIX_EPOCH_TICKS + t.timestamp() * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100);
    MAX_TICKS - ticks
}

/// The audited action a PAT of this scope would show up in, with its details text.
fn action_for(scope: &str, rng: &mut Rng) -> (&'static str, &'static str) {
    let candidates: &[(&str, &str)] = if scope.contains("release") {
        &[
            ("Release.ReleaseCreated", "Release \"{}\" was created"),
            ("Release.DeploymentCompleted", "Deployment completed"),
        ]
    } else if scope.contains("build") {
        &[
            ("Pipelines.RunRetained", "Pipeline run was retained"),
            ("Pipelines.PipelineModified", "Pipeline was modified"),
        ]
    } else if scope.contains("code") {
        &[
            ("Git.RefUpdatePoliciesBypassed", "Policies were bypassed on a ref update"),
            ("Git.RepositoryCreated", "Repository was created"),
        ]
    } else if scope.contains("agentpools") {
        &[("Library.AgentAdded", "Agent was added to a pool")]
    } else if scope.contains("serviceendpoint") || scope.contains("project_manage") {
        &[
            ("Library.ServiceConnectionCreated", "Service connection was created"),
            ("Policy.PolicyConfigModified", "Branch policy was modified"),
        ]
    } else if scope.contains("graph") || scope.contains("memberentitlement") || scope.contains("security") {
        &[
            ("Group.UpdateGroupMembership.Add", "A member was added to a group"),
            ("Security.ModifyPermission", "A permission was changed"),
        ]
    } else {
        &[
            ("Git.RefUpdatePoliciesBypassed", "Policies were bypassed on a ref update"),
            ("Release.ReleaseCreated", "Release was created"),
            ("Library.AgentAdded", "Agent was added to a pool"),
        ]
    };
    *rng.pick(candidates)
}

const PROJECTS: &[&str] = &["fabrikam-fiber", "payments", "platform", "mobile-app"];
const SSH_NAMES: &[&str] = &["laptop", "work laptop", "build agent", "wsl", "jenkins", "mac mini"];

impl SimOrg {
    /// Chooses the users whose evidence state is set on purpose: walking people from the last,
    /// skipping service accounts, the first who fits each state.
    pub(crate) fn designate(&self) -> Designated {
        let mut d = Designated::default();
        for i in (self.service_accounts()..self.people()).rev() {
            let has_tokens = !self.tokens_of(i).is_empty();
            let slot = match (has_tokens, &d) {
                (true, Designated { removed_with_tokens: None, .. }) => &mut d.removed_with_tokens,
                (false, Designated { removed_without_tokens: None, .. }) => &mut d.removed_without_tokens,
                (true, Designated { never: None, .. }) => &mut d.never,
                (true, Designated { idle: None, .. }) => &mut d.idle,
                _ => continue,
            };
            *slot = Some(i);
            if d.removed_with_tokens.is_some()
                && d.removed_without_tokens.is_some()
                && d.never.is_some()
                && d.idle.is_some()
            {
                break;
            }
        }
        d
    }

    /// Where user `i` stands. Service accounts and service identities stay members who signed
    /// in lately; about one person in twenty was removed, one in sixteen never signed in, one in
    /// seven has been idle for more than 90 days.
    pub fn standing(&self, i: usize) -> Option<SimStanding> {
        let user = self.user(i)?;
        let anchor = self.anchor();
        let mut rng = Rng::new(mix(self.seed() ^ STANDING, i as u64));
        let removed_roll = rng.unit();
        let activity_roll = rng.unit();
        let date_created =
            anchor - Duration::days(900 + rng.below(1500) as i64) - Duration::seconds(rng.below(86_400) as i64);
        let license = *rng.weighted(LICENSES);
        if user.subject_type() == "svc" {
            return Some(SimStanding { member: true, entitlement: None });
        }
        let d = &self.designated;
        let automation = i < self.service_accounts();
        let removed = !automation
            && (d.removed_with_tokens == Some(i)
                || d.removed_without_tokens == Some(i)
                || (removed_roll < 0.05 && ![d.never, d.idle].contains(&Some(i))));
        if removed {
            return Some(SimStanding { member: false, entitlement: None });
        }
        let ago = |days: u64, rng: &mut Rng| {
            anchor - Duration::days(rng.below(days) as i64) - Duration::milliseconds(rng.below(86_400_000) as i64)
        };
        let last_accessed = if automation {
            Some(ago(3, &mut rng))
        } else if d.never == Some(i) || (d.idle != Some(i) && activity_roll < 0.06) {
            None
        } else if d.idle == Some(i) || activity_roll < 0.20 {
            Some(anchor - Duration::days(91 + rng.below(310) as i64) - Duration::seconds(rng.below(86_400) as i64))
        } else {
            Some(ago(60, &mut rng))
        };
        let status = if last_accessed.is_none() && rng.chance(0.5) { "pending" } else { "active" };
        Some(SimStanding {
            member: true,
            entitlement: Some(SimEntitlement { last_accessed, date_created, status, license }),
        })
    }

    /// Whether user `i` is a member (unknown users are not).
    pub fn is_member(&self, i: usize) -> bool {
        self.standing(i).is_some_and(|s| s.member)
    }

    /// Token Admin answers 404 for a removed owner who owns no PAT (when
    /// `removed_owners_not_found` is set).
    pub fn token_admin_not_found(&self, i: usize) -> bool {
        self.removed_owners_not_found && !self.is_member(i) && self.tokens_of(i).is_empty()
    }

    /// User `i`'s SSH keys (Token Admin `isPublic=true`): about one person in seven has one or
    /// two; a third of the keys are long-lived (five years).
    pub fn ssh_keys_of(&self, i: usize) -> Vec<SimToken> {
        let Some(user) = self.user(i) else {
            return Vec::new();
        };
        if user.subject_type() == "svc" {
            return Vec::new();
        }
        let mut rng = Rng::new(mix(self.seed() ^ SSH, i as u64));
        let share = if i < self.service_accounts() { 0.5 } else { 0.15 };
        if !rng.chance(share) {
            return Vec::new();
        }
        let anchor = self.anchor();
        (0..1 + rng.below(2))
            .map(|_| {
                let long_lived = rng.chance(0.35);
                let (lifetime, age) = if long_lived { (1825, 200 + rng.below(1300)) } else { (365, rng.below(500)) };
                let created = anchor.date_naive() - Duration::days(age as i64);
                let seconds = rng.below(86_400) as u32;
                let valid_from = created
                    .and_time(NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).expect("valid time"))
                    .and_utc();
                let ed25519 = rng.chance(0.6);
                let mut key = String::new();
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                for _ in 0..if ed25519 { 43 } else { 340 } {
                    key.push(alphabet[rng.below(64) as usize] as char);
                }
                let host = *rng.pick(SSH_NAMES);
                let alias = user.principal_name.split('@').next().unwrap_or_default().to_string();
                let public = if ed25519 {
                    format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{key} {alias}@{}", host.replace(' ', "-"))
                } else {
                    format!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{key}= {alias}@{}", host.replace(' ', "-"))
                };
                SimToken {
                    authorization_id: rng.guid(),
                    display_name: Some(host.to_string()),
                    scope: "vso.code_write".into(),
                    target_accounts: Some(vec![self.id.clone()]),
                    valid_from,
                    valid_to: valid_from + Duration::days(lifetime),
                    time_format: TimeFormat::Utc,
                    is_valid: !rng.chance(0.08),
                    secret: String::new(),
                    public_data: Some(public),
                }
            })
            .collect()
    }

    /// The whole audit log the organization keeps (the 90 days up to the anchor), ascending ids
    /// (newest first). Generated from the seed: for benches and the simulator, built once.
    pub fn audit_log(&self) -> Vec<SimAuditEntry> {
        let anchor = self.anchor();
        let start = anchor - Duration::days(AUDIT_RETENTION_DAYS);
        let mut log = Vec::new();
        let mut leaked_any = false;
        let mut first_valid: Option<(usize, SimToken)> = None;
        let administrator_id = self.user(0).map(|u| u.id).unwrap_or_default();
        for i in 0..self.user_count() {
            let Some(user) = self.user(i) else { continue };
            if user.subject_type() == "svc" {
                continue;
            }
            let automation = i < self.service_accounts();
            let member = self.is_member(i);
            let mut rng = Rng::new(mix(self.seed() ^ USE, i as u64));
            // The actor is the owner `i`, the administrator (user 0) or the service (`None`).
            let entry = |rng: &mut Rng, at: DateTime<Utc>, action_id: &'static str, actor: Option<usize>| {
                let actor_id = match actor {
                    None => SERVICE_ACTOR,
                    Some(0) => administrator_id.as_str(),
                    Some(_) => user.id.as_str(),
                };
                let correlation_id = rng.guid();
                SimAuditEntry {
                    id: format!("{};{actor_id};{correlation_id}", reversed_ticks(at)),
                    timestamp: at,
                    action_id,
                    actor,
                    authentication_mechanism: if actor.is_some() { "AAD_Cookie".into() } else { String::new() },
                    authorization_id: None,
                    data: json!({}),
                    details: String::new(),
                    correlation_id,
                    activity_id: rng.guid(),
                    ip_address: actor.map(|_| format!("203.0.113.{}", 1 + rng.below(254))),
                    user_agent: if actor.is_some() {
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
                    } else {
                        ""
                    },
                    project: None,
                }
            };
            let between = |rng: &mut Rng, from: DateTime<Utc>, to: DateTime<Utc>| {
                let span = (to - from).num_milliseconds().max(1) as u64;
                from + Duration::milliseconds(rng.below(span) as i64)
                    + Duration::nanoseconds(rng.below(10_000) as i64 * 100)
            };
            let token_event = |rng: &mut Rng,
                               at: DateTime<Utc>,
                               action_id: &'static str,
                               actor: Option<usize>,
                               t: &SimToken,
                               what: &str| {
                let mut e = entry(rng, at, action_id, actor);
                let name = t.display_name.clone().unwrap_or_default();
                e.data =
                    json!({"DisplayName": name, "OwnerName": user.display_name, "AuthorizationId": t.authorization_id});
                e.details = match action_id {
                    "Token.PatSystemRevokeEvent" | "Token.PatPublicDiscoveryEvent" => {
                        format!("{what} \"{name}\" associated with user \"{}\" {}", user.display_name, verb(action_id))
                    }
                    _ => format!("{what} \"{name}\" {}", verb(action_id)),
                };
                e.authorization_id = Some(t.authorization_id.clone());
                e
            };
            for t in self.tokens_of(i) {
                let from = t.valid_from.max(start);
                let live_end = t.valid_to.min(anchor);
                if t.valid_from >= start && t.valid_from <= anchor {
                    log.push(token_event(
                        &mut rng,
                        t.valid_from,
                        "Token.PatCreateEvent",
                        Some(i),
                        &t,
                        "Personal Access Token",
                    ));
                    if t.is_valid && rng.chance(0.1) {
                        let at = between(&mut rng, t.valid_from, live_end.max(t.valid_from));
                        log.push(token_event(
                            &mut rng,
                            at,
                            "Token.PatUpdateEvent",
                            Some(i),
                            &t,
                            "Personal Access Token",
                        ));
                    }
                }
                if t.valid_to >= start && t.valid_to <= anchor {
                    log.push(token_event(
                        &mut rng,
                        t.valid_to,
                        "Token.PatExpiredEvent",
                        None,
                        &t,
                        "Personal Access Token",
                    ));
                }
                if !t.is_valid && from < live_end {
                    let at = between(&mut rng, from, live_end);
                    let (action, actor) = if rng.chance(0.25) {
                        ("Token.PatSystemRevokeEvent", None)
                    } else if rng.chance(0.3) {
                        ("Token.PatRevokeEvent", Some(0))
                    } else {
                        ("Token.PatRevokeEvent", Some(i))
                    };
                    log.push(token_event(&mut rng, at, action, actor, &t, "Personal Access Token"));
                }
                let valid_now = t.is_valid && t.valid_to > anchor && t.valid_from < anchor;
                if valid_now && first_valid.is_none() && !automation {
                    first_valid = Some((i, t.clone()));
                }
                if valid_now && rng.chance(0.03) {
                    let at = between(&mut rng, from, anchor);
                    log.push(token_event(
                        &mut rng,
                        at,
                        "Token.PatPublicDiscoveryEvent",
                        None,
                        &t,
                        "Personal Access Token",
                    ));
                    leaked_any = true;
                }
                // Audited actions taken with the PAT (automation uses its PATs most).
                let use_share = if automation {
                    0.75
                } else if member {
                    0.3
                } else {
                    0.2
                };
                if t.is_valid && from < live_end && rng.chance(use_share) {
                    for _ in 0..1 + rng.below(3) {
                        let at = between(&mut rng, from, live_end);
                        let (action, details) = action_for(&t.scope, &mut rng);
                        let mut e = entry(&mut rng, at, action, Some(i));
                        let spacer = if rng.chance(0.25) { " " } else { "" };
                        e.authentication_mechanism =
                            format!("PAT_Unscoped authorizationId:{spacer}{}", t.authorization_id);
                        e.authorization_id = Some(t.authorization_id.clone());
                        e.user_agent = if action.starts_with("Git.") {
                            "git/2.47.1 (vss-client)"
                        } else {
                            "VSServices/19.250.35625.2 (NetStandard; Linux) VstsAgentCore-linux-x64/4.248.0"
                        };
                        let project = *rng.pick(PROJECTS);
                        let project_id = rng.guid();
                        e.data = json!({"ProjectName": project});
                        e.details = details.replace("\"{}\" ", "");
                        e.project = Some((project_id, project.to_string()));
                        log.push(e);
                    }
                }
            }
            for k in self.ssh_keys_of(i) {
                if k.valid_from >= start && k.valid_from <= anchor {
                    log.push(token_event(&mut rng, k.valid_from, "Token.SshCreateEvent", Some(i), &k, "SSH Key"));
                }
                let (from, live_end) = (k.valid_from.max(start), k.valid_to.min(anchor));
                if !k.is_valid && from < live_end {
                    let at = between(&mut rng, from, live_end);
                    log.push(token_event(&mut rng, at, "Token.SshRevokeEvent", Some(i), &k, "SSH Key"));
                }
            }
            // People's own actions in the browser: audited, but with no PAT behind them.
            if member && !automation && rng.chance(0.3) {
                let at = between(&mut rng, start, anchor);
                let mut e = entry(&mut rng, at, "Policy.PolicyConfigModified", Some(i));
                e.details = "Branch policy was modified".into();
                e.data = json!({"PolicyTypeDisplayName": "Minimum number of reviewers"});
                log.push(e);
            }
        }
        // At least one leak, on the first valid PAT of a person.
        if let (false, Some((i, t))) = (leaked_any, first_valid) {
            let mut rng = Rng::new(mix(self.seed() ^ USE ^ 0x1EA4, i as u64));
            let user = self.user(i).expect("the token's owner");
            let from = t.valid_from.max(start);
            let span = (anchor - from).num_milliseconds().max(1) as u64;
            let at = from + Duration::milliseconds(rng.below(span) as i64);
            let correlation_id = rng.guid();
            let name = t.display_name.clone().unwrap_or_default();
            log.push(SimAuditEntry {
                id: format!("{};{SERVICE_ACTOR};{correlation_id}", reversed_ticks(at)),
                timestamp: at,
                action_id: "Token.PatPublicDiscoveryEvent",
                actor: None,
                authentication_mechanism: String::new(),
                authorization_id: Some(t.authorization_id.clone()),
                data: json!({"DisplayName": name, "OwnerName": user.display_name, "AuthorizationId": t.authorization_id}),
                details: format!(
                    "Personal Access Token \"{name}\" associated with user \"{}\" {}",
                    user.display_name,
                    verb("Token.PatPublicDiscoveryEvent")
                ),
                correlation_id,
                activity_id: rng.guid(),
                ip_address: None,
                user_agent: "",
                project: None,
            });
        }
        log.sort_by(|a, b| a.id.cmp(&b.id));
        log
    }

    /// The evidence the organization was seeded with: what a complete scan of every source
    /// should find.
    pub fn seeded_evidence(&self) -> SeededEvidence {
        let anchor = self.anchor();
        let mut e = SeededEvidence {
            audit_window: AuditWindow { start: anchor - Duration::days(AUDIT_RETENTION_DAYS), end: anchor },
            not_members: BTreeSet::new(),
            token_admin_not_found: BTreeSet::new(),
            cannot_own_tokens: BTreeSet::new(),
            last_accessed: BTreeMap::new(),
            access_level: BTreeMap::new(),
            leaked: BTreeSet::new(),
            last_seen: BTreeMap::new(),
            events: BTreeMap::new(),
            ssh_keys: BTreeSet::new(),
            owner_of: BTreeMap::new(),
            policies: self.policies.clone(),
        };
        let mut users: Vec<SimUser> = Vec::with_capacity(self.user_count());
        for i in 0..self.user_count() {
            let Some(user) = self.user(i) else { continue };
            let d = user.descriptor.clone();
            if user.subject_type() == "svc" {
                e.cannot_own_tokens.insert(d.clone());
            }
            let standing = self.standing(i).expect("a user has a standing");
            if !standing.member {
                e.not_members.insert(d.clone());
                if self.token_admin_not_found(i) {
                    e.token_admin_not_found.insert(d.clone());
                }
            }
            if let Some(ent) = &standing.entitlement {
                e.last_accessed.insert(d.clone(), ent.last_accessed.map_or(LastAccessed::Never, LastAccessed::At));
                e.access_level.insert(
                    d.clone(),
                    AccessLevel { status: ent.status.into(), license: Some(ent.license.display_name.into()) },
                );
            }
            for t in self.tokens_of(i) {
                e.owner_of.insert(t.authorization_id, d.clone());
            }
            for k in self.ssh_keys_of(i) {
                e.ssh_keys.insert(k.authorization_id.clone());
                e.owner_of.insert(k.authorization_id, d.clone());
            }
            users.push(user);
        }
        // Oldest first, so the last use wins and events come in order.
        for entry in self.audit_log().into_iter().rev() {
            let Some(id) = entry.authorization_id.clone() else { continue };
            let kind = match entry.action_id {
                "Token.PatCreateEvent" | "Token.SshCreateEvent" => Some(EventKind::Created),
                "Token.PatUpdateEvent" | "Token.SshUpdateEvent" => Some(EventKind::Updated),
                "Token.PatRevokeEvent" | "Token.SshRevokeEvent" => Some(EventKind::Revoked),
                "Token.PatSystemRevokeEvent" => Some(EventKind::SystemRevoked),
                "Token.PatExpiredEvent" => Some(EventKind::Expired),
                "Token.PatPublicDiscoveryEvent" => Some(EventKind::Leaked),
                _ => None,
            };
            match kind {
                Some(kind) => {
                    if kind == EventKind::Leaked {
                        e.leaked.insert(id.clone());
                    }
                    let actor = entry.actor.and_then(|a| self.user(a)).map(|u| u.display_name);
                    e.events.entry(id).or_default().push(CredentialEvent {
                        kind,
                        at: entry.timestamp,
                        actor,
                        action: entry.action_id.to_string(),
                    });
                }
                None => {
                    e.last_seen.insert(
                        id,
                        LastSeen { at: entry.timestamp, action: entry.action_id.to_string(), source: Source::Audit },
                    );
                }
            }
        }
        e
    }
}

fn verb(action_id: &str) -> &'static str {
    match action_id {
        "Token.PatCreateEvent" | "Token.SshCreateEvent" => "was created.",
        "Token.PatUpdateEvent" | "Token.SshUpdateEvent" => "was updated.",
        "Token.PatRevokeEvent" | "Token.SshRevokeEvent" => "was revoked.",
        "Token.PatExpiredEvent" => "expired.",
        "Token.PatSystemRevokeEvent" => "was revoked by the system.",
        "Token.PatPublicDiscoveryEvent" => "was discovered in a public repository.",
        _ => "",
    }
}
