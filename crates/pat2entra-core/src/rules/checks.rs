//! What each rule looks for. Pure functions of a token, its owner and the as-of date.

use super::glob::Glob;
use crate::evidence::{CredentialKind, EventKind, Evidence, LastAccessed, Source};
use crate::inventory::{Owner, Token, TokenState};
use crate::scopes::{self, Tier};
use crate::text::plural;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::HashSet;

/// The stable rule ids: they appear in JSON, CSV, exceptions and exit-code gating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    AllOrganizations,
    FullAccess,
    OwnerRemoved,
    PrivilegedScope,
    LongLived,
    LongRemaining,
    BroadScope,
    ServiceAccount,
    UnknownScope,
    ExpiringSoon,
    ExceptionExpired,
    Expired,
    Revoked,
    OwnerNotMember,
    OwnerInactive,
    Leaked,
    Unused,
    PolicyGlobalPat,
    PolicyFullScope,
    PolicyMaxLifespan,
    PolicyLeakRevocation,
}

impl RuleId {
    pub const ALL: [RuleId; 21] = [
        RuleId::AllOrganizations,
        RuleId::FullAccess,
        RuleId::OwnerRemoved,
        RuleId::PrivilegedScope,
        RuleId::LongLived,
        RuleId::LongRemaining,
        RuleId::BroadScope,
        RuleId::ServiceAccount,
        RuleId::UnknownScope,
        RuleId::ExpiringSoon,
        RuleId::ExceptionExpired,
        RuleId::Expired,
        RuleId::Revoked,
        RuleId::OwnerNotMember,
        RuleId::OwnerInactive,
        RuleId::Leaked,
        RuleId::Unused,
        RuleId::PolicyGlobalPat,
        RuleId::PolicyFullScope,
        RuleId::PolicyMaxLifespan,
        RuleId::PolicyLeakRevocation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::AllOrganizations => "all-organizations",
            RuleId::FullAccess => "full-access",
            RuleId::OwnerRemoved => "owner-removed",
            RuleId::PrivilegedScope => "privileged-scope",
            RuleId::LongLived => "long-lived",
            RuleId::LongRemaining => "long-remaining",
            RuleId::BroadScope => "broad-scope",
            RuleId::ServiceAccount => "service-account",
            RuleId::UnknownScope => "unknown-scope",
            RuleId::ExpiringSoon => "expiring-soon",
            RuleId::ExceptionExpired => "exception-expired",
            RuleId::Expired => "expired",
            RuleId::Revoked => "revoked",
            RuleId::OwnerNotMember => "owner-not-member",
            RuleId::OwnerInactive => "owner-inactive",
            RuleId::Leaked => "leaked",
            RuleId::Unused => "unused",
            RuleId::PolicyGlobalPat => "policy-global-pat",
            RuleId::PolicyFullScope => "policy-full-scope",
            RuleId::PolicyMaxLifespan => "policy-max-lifespan",
            RuleId::PolicyLeakRevocation => "policy-leak-revocation",
        }
    }

    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|id| id.as_str() == s)
    }
}

/// What a check's result depends on, for remembering it (`Check::key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The token's scope strings.
    Scopes,
    /// The owner, and the kind of credential.
    Owner,
    /// These numbers (dates as days, flags as 0 or 1).
    Numbers([i64; 3]),
    /// The token itself: not remembered.
    Token,
}

/// A rule's check with its parameters.
#[derive(Debug, Clone)]
pub enum Check {
    FullAccess,
    AllOrganizations {
        retirement_date: NaiveDate,
    },
    LongLived {
        max_lifetime_days: i64,
    },
    LongRemaining {
        max_remaining_days: i64,
    },
    PrivilegedScope {
        tiers: Vec<Tier>,
        /// Lower-case scope names.
        deny: HashSet<String>,
    },
    BroadScope {
        max_scopes: usize,
        max_areas: usize,
    },
    UnknownScope,
    OwnerRemoved,
    ServiceAccount {
        patterns: Vec<Glob>,
    },
    ExpiringSoon {
        within_days: i64,
    },
    /// Raised by the exception stage, not per token.
    ExceptionExpired,
    Expired,
    Revoked,
    /// Graph membership says the owner left the organization (`member: false`).
    OwnerNotMember,
    /// The owner's last access (User Entitlements) is older than the limit, or never.
    OwnerInactive {
        max_inactive_days: i64,
    },
    /// The audit log has a leak event (`Token.PatPublicDiscoveryEvent`) for the credential.
    Leaked,
    /// The audit log, read in full, shows no use of the PAT within the window.
    Unused {
        window_days: i64,
    },
    /// A tenant PAT policy that is off: judged once per organization, never per token.
    Policy(Policy),
}

/// The tenant PAT policies the `policy-*` rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    GlobalPat,
    FullScope,
    MaxLifespan,
    LeakRevocation,
}

/// What a check sees of one token.
pub struct Subject<'a> {
    pub token: &'a Token,
    pub owner: Option<&'a Owner>,
    /// The `service-account` pattern the owner matches, worked out once per owner.
    pub service_pattern: Option<&'a str>,
    pub state: TokenState,
    pub as_of: DateTime<Utc>,
    /// Whole days from `as_of` to the token's expiry, once per token (several rules ask).
    pub remaining_days: Option<i64>,
    /// What the evidence sources said and how much of each was read.
    pub evidence: &'a Evidence,
    /// How the scan read the service (`targetAccounts`, `isValid`): decides how sure a finding is.
    pub service: &'a crate::service::ServiceBehaviour,
}

/// What every `unused` finding says about its own limits.
pub const UNUSED_CAVEAT: &str = "Only audited actions are seen: read-only use is not logged";

impl Check {
    /// For `service-account`: the first pattern the owner's UPN local part or display name matches.
    pub fn service_pattern<'a>(&'a self, owner: &Owner) -> Option<&'a str> {
        let Check::ServiceAccount { patterns } = self else {
            return None;
        };
        let local = owner.principal_name.split('@').next().unwrap_or_default();
        patterns.iter().find(|p| p.matches(local) || p.matches(&owner.display_name)).map(Glob::as_str)
    }

    /// Which tokens the check looks at: active ones, except for the `expired`/`revoked` counters.
    pub fn applies_to(&self, state: TokenState) -> bool {
        match self {
            Check::Expired => state == TokenState::Expired,
            Check::Revoked => state == TokenState::Revoked,
            Check::ExceptionExpired | Check::Policy(_) => false,
            _ => state == TokenState::Active,
        }
    }

    /// Which kinds of credential the check judges. An SSH key has no scopes and no
    /// organizations: it is judged by the lifetime rules, by what is known of its owner, and
    /// by its leak events; `unused` judges PATs only (the audit log names the PAT that acted,
    /// not the SSH key).
    pub fn applies_to_kind(&self, kind: CredentialKind) -> bool {
        match kind {
            CredentialKind::Pat => true,
            CredentialKind::Ssh => matches!(
                self,
                Check::LongLived { .. }
                    | Check::LongRemaining { .. }
                    | Check::ExpiringSoon { .. }
                    | Check::OwnerRemoved
                    | Check::OwnerNotMember
                    | Check::OwnerInactive { .. }
                    | Check::Leaked
                    | Check::ExceptionExpired
                    | Check::Expired
                    | Check::Revoked
            ),
        }
    }

    /// The finding's message for the organization (a `policy-*` rule), or `None` when the
    /// policy is on, could not be read, or the policies were not read at all: a source that
    /// was not read never fires and never claims absence.
    pub fn evaluate_organization(&self, evidence: &Evidence) -> Option<String> {
        let Check::Policy(policy) = self else {
            return None;
        };
        if !evidence.has(Source::Policies) {
            return None;
        }
        let p = evidence.policies.as_ref()?;
        let (on, name, what) = match policy {
            Policy::GlobalPat => (
                p.restrict_global_pat,
                "RestrictGlobalPersonalAccessToken",
                "users can still create PATs valid in all organizations",
            ),
            Policy::FullScope => (
                p.restrict_full_scope_pat,
                "RestrictFullScopePersonalAccessToken",
                "users can still create full-access PATs",
            ),
            Policy::MaxLifespan => (
                p.restrict_pat_lifespan,
                "RestrictPersonalAccessTokenLifespan",
                "users can still create PATs valid for up to a year",
            ),
            Policy::LeakRevocation => (
                p.leaked_pat_auto_revocation,
                "EnableLeakedPersonalAccessTokenAutoRevocation",
                "a PAT found in a public place is not revoked automatically",
            ),
        };
        (on == Some(false)).then(|| format!("tenant policy {name} is off: {what}"))
    }

    /// The finding's message, or `None` when the token passes.
    pub fn evaluate(&self, s: &Subject<'_>) -> Option<String> {
        let t = s.token;
        let remaining_days = s.remaining_days;
        match self {
            Check::FullAccess => {
                t.is_full_access().then(|| "full access (scope app_token): can do anything its owner can".to_string())
            }
            Check::AllOrganizations { retirement_date } => {
                if !t.all_organizations {
                    return None;
                }
                let days = (*retirement_date - s.as_of.date_naive()).num_days();
                let verdict = match days {
                    1.. => format!(
                        "valid in all organizations; Microsoft stops honouring global PATs on {retirement_date} (in {})",
                        plural(days, "day")
                    ),
                    0 => format!(
                        "valid in all organizations; Microsoft stops honouring global PATs today ({retirement_date})"
                    ),
                    _ => format!(
                        "global PAT: no longer honoured since {retirement_date}; revoke it and move its users to an organization-scoped replacement"
                    ),
                };
                Some(match unconfirmed_global(s) {
                    Some(why) => format!("{verdict} (not confirmed: {why})"),
                    None => verdict,
                })
            }
            Check::LongLived { max_lifetime_days } => match (t.valid_from, t.valid_to) {
                (_, None) => Some("has no expiry date".to_string()),
                (None, Some(_)) => None,
                (Some(_), Some(_)) => {
                    let days = t.lifetime_days()?;
                    (days > *max_lifetime_days)
                        .then(|| format!("lifetime of {days} days, over the {max_lifetime_days}-day limit"))
                }
            },
            Check::LongRemaining { max_remaining_days } => match remaining_days {
                None => Some("has no expiry date".to_string()),
                Some(days) => (days > *max_remaining_days).then(|| {
                    format!("still valid for {}, over the {max_remaining_days}-day limit", plural(days, "day"))
                }),
            },
            Check::PrivilegedScope { tiers, deny } => {
                let hits: Vec<&str> = scopes::each(&t.scopes)
                    .filter(|scope| !scopes::is_full_access(scope))
                    .filter(|scope| {
                        deny.contains(*scope)
                            || (scope.bytes().any(|b| b.is_ascii_uppercase())
                                && deny.contains(&scope.to_ascii_lowercase()))
                            || scopes::lookup(scope).is_some_and(|info| tiers.contains(&info.tier))
                    })
                    .collect();
                (!hits.is_empty())
                    .then(|| format!("privileged scope{}: {}", if hits.len() == 1 { "" } else { "s" }, hits.join(", ")))
            }
            Check::BroadScope { max_scopes, max_areas } => {
                let mut distinct: Vec<String> = scopes::each(&t.scopes).map(str::to_ascii_lowercase).collect();
                distinct.sort_unstable();
                distinct.dedup();
                let areas = scopes::areas(distinct.iter().map(String::as_str));
                if distinct.len() > *max_scopes {
                    Some(format!("{} scopes, over the limit of {max_scopes}", distinct.len()))
                } else if areas.len() > *max_areas {
                    Some(format!(
                        "scopes span {} areas ({}), over the limit of {max_areas}",
                        areas.len(),
                        areas.join(", ")
                    ))
                } else {
                    None
                }
            }
            Check::UnknownScope => {
                let unknown: Vec<&str> = scopes::each(&t.scopes).filter(|scope| !scopes::is_known(scope)).collect();
                (!unknown.is_empty()).then(|| format!("scope not in the catalog, review it: {}", unknown.join(", ")))
            }
            // What is known: the directory says deleted, Token Admin still lists the token as
            // valid. Not that it works: Microsoft invalidates a disabled Entra user's PATs within
            // an hour (and an account deleted in its origin cannot sign in to use one).
            Check::OwnerRemoved => s.owner.filter(|o| o.deleted_in_origin).map(|o| {
                format!(
                    "owner {} was deleted in {}; the {} is still listed as valid: revoke it",
                    o.principal_name,
                    o.origin,
                    if t.kind == CredentialKind::Ssh { "SSH key" } else { "token" }
                )
            }),
            Check::OwnerNotMember => s.owner.filter(|o| o.member == Some(false)).map(|o| {
                format!(
                    "owner {} is no longer a member of the organization (Graph membership inactive); the {} is still listed as valid",
                    o.principal_name,
                    if t.kind == CredentialKind::Ssh { "SSH key" } else { "token" }
                )
            }),
            Check::OwnerInactive { max_inactive_days } => {
                // `None`: User Entitlements were not read for this owner; nothing is claimed.
                let owner = s.owner?;
                match owner.last_accessed? {
                    LastAccessed::Never => {
                        Some(format!("owner {} has never accessed the organization", owner.principal_name))
                    }
                    LastAccessed::At(at) => {
                        let days = (s.as_of - at).num_days();
                        (days > *max_inactive_days).then(|| {
                            format!(
                                "owner {} last accessed the organization on {} ({} ago), over the {max_inactive_days}-day limit",
                                owner.principal_name,
                                at.format("%Y-%m-%d"),
                                plural(days, "day")
                            )
                        })
                    }
                }
            }
            Check::Leaked => t.events.iter().filter(|e| e.kind == EventKind::Leaked).max_by_key(|e| e.at).map(|e| {
                format!(
                    "found in a public place on {} ({}): revoke it now and look for use since",
                    e.at.format("%Y-%m-%d"),
                    e.action
                )
            }),
            Check::Unused { window_days } => {
                // Absence is claimed only from an audit log read in full.
                if !s.evidence.complete(Source::Audit) {
                    return None;
                }
                let window_start = s.as_of - chrono::Duration::days(*window_days);
                // Younger than the window: too new to call unused.
                if t.valid_from.is_some_and(|from| from > window_start) {
                    return None;
                }
                // The audit log may cover less than the window (retention, the scan's window);
                // without a known window, nothing is claimed.
                let read_from = s.evidence.audit_window?.start.max(window_start);
                let read_days = (s.as_of - read_from).num_days();
                match &t.last_seen {
                    Some(seen) if seen.at >= read_from => None,
                    Some(seen) => Some(format!(
                        "no audited use in the last {}; last seen {} ({}). {}",
                        plural(read_days, "day"),
                        seen.at.format("%Y-%m-%d"),
                        seen.action,
                        UNUSED_CAVEAT
                    )),
                    None => Some(format!("no audited use in the last {}. {}", plural(read_days, "day"), UNUSED_CAVEAT)),
                }
            }
            Check::Policy(_) => None,
            Check::ServiceAccount { .. } => {
                let owner = s.owner?;
                let pattern = s.service_pattern?;
                Some(format!(
                    "owner {} looks like a shared or service account (matches '{pattern}'): use a service principal or managed identity",
                    owner.principal_name
                ))
            }
            Check::ExpiringSoon { within_days } => {
                let days = remaining_days?;
                (0..=*within_days)
                    .contains(&days)
                    .then(|| format!("expires in {}: a natural moment to retire it", plural(days, "day")))
            }
            Check::ExceptionExpired => None,
            Check::Expired => {
                Some(format!("expired on {}", t.valid_to.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()))
            }
            Check::Revoked => Some(match (s.service.expired_marked_invalid.get(), t.valid_to) {
                // Token Admin marks expired PATs `isValid: false` too: past its expiry, the flag
                // does not say whether anyone revoked it.
                (Some(true), Some(to)) if to <= s.as_of && t.events.is_empty() => format!(
                    "not valid (isValid false) and past its expiry on {}: expired, revoked or both (Token Admin marks both alike)",
                    to.format("%Y-%m-%d")
                ),
                _ => "revoked".to_string(),
            }),
        }
    }

    /// What `evaluate` and `confidence` read of a token, besides the rule's parameters and what
    /// one evaluation shares (`as_of`, the evidence, the service's behaviour): two tokens with
    /// equal keys get equal results, so a worker judges and words each key once
    /// (`memo::Memo`). A check that reads more of the token than its key says gives wrong
    /// findings: `memo_tests` compares every check against judging each token afresh.
    pub fn key(&self, s: &Subject<'_>) -> Key {
        let t = s.token;
        let day = |at: Option<DateTime<Utc>>| at.map_or(i64::MIN, |at| i64::from(at.date_naive().num_days_from_ce()));
        match self {
            Check::FullAccess | Check::PrivilegedScope { .. } | Check::BroadScope { .. } | Check::UnknownScope => {
                Key::Scopes
            }
            Check::AllOrganizations { .. } => Key::Numbers([i64::from(t.all_organizations), 0, 0]),
            Check::LongLived { .. } => Key::Numbers([
                i64::from(t.valid_from.is_some()),
                i64::from(t.valid_to.is_some()),
                t.lifetime_days().unwrap_or(i64::MIN),
            ]),
            Check::LongRemaining { .. } | Check::ExpiringSoon { .. } => {
                Key::Numbers([i64::from(s.remaining_days.is_some()), s.remaining_days.unwrap_or(0), 0])
            }
            Check::OwnerRemoved
            | Check::OwnerNotMember
            | Check::OwnerInactive { .. }
            | Check::ServiceAccount { .. } => Key::Owner,
            Check::Expired => Key::Numbers([day(t.valid_to), 0, 0]),
            Check::Revoked => Key::Numbers([
                day(t.valid_to),
                i64::from(t.valid_to.is_some_and(|to| to <= s.as_of)),
                i64::from(t.events.is_empty()),
            ]),
            Check::Leaked | Check::Unused { .. } | Check::ExceptionExpired | Check::Policy(_) => Key::Token,
        }
    }

    /// How sure the finding `evaluate` gave is: `low` when it rests on a reading of the service
    /// that was not confirmed.
    pub fn confidence(&self, s: &Subject<'_>) -> crate::finding::Confidence {
        match self {
            Check::AllOrganizations { .. } if unconfirmed_global(s).is_some() => crate::finding::Confidence::Low,
            _ => crate::finding::Confidence::High,
        }
    }
}

/// Why an all-organizations token is not known to be global, if it is not: its
/// `targetAccounts` came empty and nothing showed that Token Admin fills the field (Microsoft's
/// Token Admin example has `null` on every token; the lifecycle API fills it).
fn unconfirmed_global(s: &Subject<'_>) -> Option<&'static str> {
    if s.token.all_organizations && !s.service.empty_target_accounts_is_global() {
        Some(match s.service.fills_target_accounts.get() {
            Some(false) => "Token Admin left targetAccounts empty, and this service is known to leave it empty",
            _ => "Token Admin left targetAccounts empty",
        })
    } else {
        None
    }
}
