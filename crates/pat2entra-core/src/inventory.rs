//! The inventory: owners and their tokens, as plain data. No HTTP, no output format.

use crate::evidence::{AccessLevel, CredentialEvent, CredentialKind, Evidence, LastAccessed, LastSeen};
use crate::text::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A user who may own personal access tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Graph subject descriptor (`aad.…`, `msa.…`): the stable identity of the owner.
    pub descriptor: Text,
    pub display_name: String,
    /// User principal name (UPN) or account name.
    pub principal_name: Text,
    pub mail: Option<Text>,
    /// Directory the account comes from (`aad`, `msa`, …).
    pub origin: Text,
    /// The account was deleted in its origin directory (it may still own valid PATs).
    pub deleted_in_origin: bool,
    /// Last sign-in to the organization (User Entitlements); `None` (written `null`) when not
    /// read for this owner. Always written, so a reader tells "not read" (null) from "never".
    #[serde(default)]
    pub last_accessed: Option<LastAccessed>,
    /// Still a member of the organization (Graph membership state); `None` (`null`) when not read.
    #[serde(default)]
    pub member: Option<bool>,
    /// Access level and license (User Entitlements); `None` (`null`) when not read.
    #[serde(default)]
    pub access_level: Option<Box<AccessLevel>>,
}

/// A personal access token or SSH key (`kind`), as the Token Admin API describes it. The secret
/// itself is never part of the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The id used to revoke the token.
    pub authorization_id: Text,
    /// Descriptor of the owner (the same allocation as the owner's, when the scanner made it).
    pub owner: Text,
    pub display_name: String,
    /// OAuth scopes (`app_token` means full access).
    pub scopes: Vec<Text>,
    /// Valid in every organization the owner can reach (`targetAccounts` null or empty).
    pub all_organizations: bool,
    /// Organization ids the token is limited to (empty for an all-organizations token).
    #[serde(default)]
    #[serde(with = "crate::text::list")]
    pub target_accounts: std::sync::Arc<[Text]>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// `false` once the token is revoked.
    pub is_valid: bool,
    /// Set when a field of this token could not be read (which field, and why). The token is
    /// kept and judged as unknown (`unreadable-token`); the fields that failed hold placeholders
    /// (never the values the rules would call safe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// A PAT or an SSH key (records of schema version 1 hold PATs only). Always written.
    #[serde(default)]
    pub kind: CredentialKind,
    /// The last audited action taken with this credential. Always written: `null` means "none
    /// seen" when the record's `evidence.sources.audit` was read, and "not known" otherwise.
    #[serde(default)]
    pub last_seen: Option<Box<LastSeen>>,
    /// What the audit log says happened to it (created, revoked, leaked…), oldest first. Always
    /// written; empty means nothing seen only when the audit log was read.
    #[serde(default)]
    pub events: Vec<CredentialEvent>,
}

/// Whether a token can still be used at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

pub const FULL_ACCESS_SCOPE: &str = "app_token";

impl Token {
    pub fn state(&self, as_of: DateTime<Utc>) -> TokenState {
        if !self.is_valid {
            // `isValid: false` reads as revoked, unless the audit log says the token expired and
            // nobody revoked it (the service may mark expired PATs `isValid: false` too).
            use crate::evidence::EventKind;
            let expired = self.events.iter().any(|e| e.kind == EventKind::Expired);
            let revoked = self.events.iter().any(|e| matches!(e.kind, EventKind::Revoked | EventKind::SystemRevoked));
            if expired && !revoked { TokenState::Expired } else { TokenState::Revoked }
        } else if self.valid_to.is_some_and(|to| to <= as_of) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    pub fn is_full_access(&self) -> bool {
        crate::scopes::each(&self.scopes).any(|s| s.eq_ignore_ascii_case(FULL_ACCESS_SCOPE))
    }

    /// Total lifetime (`valid_to - valid_from`) in whole days, when both dates are known.
    pub fn lifetime_days(&self) -> Option<i64> {
        Some((self.valid_to? - self.valid_from?).num_days())
    }
}

/// An owner whose tokens could not be read: a coverage gap, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerFailure {
    pub descriptor: String,
    pub error: String,
}

/// What a coverage warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// One authorization id listed under two or more owners: each owner keeps its own token.
    SharedAuthorizationId,
    /// Two versions of one token (same owner, same id): the worst for risk was kept.
    DuplicateToken,
    /// One owner listed twice by Graph: the worst for risk was kept.
    DuplicateOwner,
    /// A token with a field that could not be read: kept, judged as unknown.
    UnreadableToken,
    /// A token limited to other organizations only (`targetAccounts` without this one's id).
    OtherOrganizations,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::SharedAuthorizationId => "shared_authorization_id",
            WarningKind::DuplicateToken => "duplicate_token",
            WarningKind::DuplicateOwner => "duplicate_owner",
            WarningKind::UnreadableToken => "unreadable_token",
            WarningKind::OtherOrganizations => "other_organizations",
        }
    }
}

/// Something the scan read but had to resolve or could not fully read. Warnings do not make a
/// scan incomplete (every owner was read), but every report shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageWarning {
    pub kind: WarningKind,
    /// One line for people.
    pub message: String,
    /// The authorization ids and owner descriptors it is about.
    #[serde(default)]
    pub ids: Vec<String>,
}

/// How much of the organization the scan actually saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub owners_listed: usize,
    pub owners_scanned: usize,
    pub owners_failed: Vec<OwnerFailure>,
    pub complete: bool,
    /// Duplicates resolved and tokens that could not be read (records without it still load).
    #[serde(default)]
    pub warnings: Vec<CoverageWarning>,
    /// Set on one part of an owner-sharded scan (`scan --shard I/N`): the owners listed but left
    /// to other parts (neither scanned nor gaps here), and the counts `merge` adds up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<crate::shard::PartCoverage>,
}

impl Coverage {
    pub fn new(owners_listed: usize, owners_scanned: usize, owners_failed: Vec<OwnerFailure>) -> Self {
        let complete = owners_failed.is_empty() && owners_scanned == owners_listed;
        Coverage { owners_listed, owners_scanned, owners_failed, complete, warnings: Vec::new(), part: None }
    }

    /// The coverage of one part of an owner-sharded scan: complete when every owner of its
    /// partition was read (the others belong to other parts).
    pub fn of_part(
        owners_listed: usize,
        owners_scanned: usize,
        owners_failed: Vec<OwnerFailure>,
        part: crate::shard::PartCoverage,
    ) -> Self {
        let complete = owners_failed.is_empty() && owners_scanned + part.owners_in_other_parts == owners_listed;
        Coverage { owners_listed, owners_scanned, owners_failed, complete, warnings: Vec::new(), part: Some(part) }
    }

    /// Owners of this organization left to other parts of a sharded scan (0 for a whole scan).
    pub fn owners_in_other_parts(&self) -> usize {
        self.part.as_ref().map_or(0, |p| p.owners_in_other_parts)
    }
}

/// The warning when tokens limited to organizations were listed but this organization's id
/// (`connectionData`) could not be read to check them against.
pub fn organization_id_unread_warning() -> CoverageWarning {
    CoverageWarning {
        kind: WarningKind::OtherOrganizations,
        message: "this organization's id could not be read (connectionData): tokens limited to organizations \
                  were not checked against it"
            .into(),
        ids: Vec::new(),
    }
}

/// The warning for PATs limited to other organizations only (`targetAccounts` filled, without
/// this organization's id): listed by Token Admin here, usable only there. `None` when none is.
pub fn other_organizations_warning(tokens: &[Token], organization_id: &str) -> Option<CoverageWarning> {
    let others: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.kind.is_pat() && !t.target_accounts.is_empty())
        .filter(|t| !t.target_accounts.iter().any(|a| a.trim().eq_ignore_ascii_case(organization_id)))
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(CoverageWarning {
        kind: WarningKind::OtherOrganizations,
        message: format!(
            "{} token{} limited to other organizations only (targetAccounts without this organization's id {organization_id}): listed by Token Admin here, usable only there",
            others.len(),
            if others.len() == 1 { " is" } else { "s are" }
        ),
        ids: others.iter().flat_map(|t| [t.authorization_id.to_string(), t.owner.to_string()]).collect(),
    })
}

/// Everything a scan found: the input of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub organization: String,
    pub owners: Vec<Owner>,
    pub tokens: Vec<Token>,
    pub coverage: Coverage,
    /// What the evidence sources said, and how much of each was read.
    pub evidence: Evidence,
    /// What the scan assumed about the service, and where each reading came from.
    pub service: crate::service::ServiceBehaviour,
}

impl Inventory {
    pub fn owner(&self, descriptor: &str) -> Option<&Owner> {
        self.owners.iter().find(|o| o.descriptor == descriptor)
    }
}

/// How risky one version of a token is, for choosing between versions: an unreadable version
/// first (unknown is treated as the worst), then valid over revoked, full access, every
/// organization, no expiry or the later expiry, more scopes, more organizations.
fn risk(t: &Token) -> impl Ord + use<> {
    (
        t.unreadable.is_some(),
        t.is_valid,
        t.is_full_access(),
        t.all_organizations,
        t.valid_to.is_none(),
        t.valid_to,
        t.scopes.len(),
        t.target_accounts.len(),
    )
}

/// Joins ids for a message: `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The rule for an owner Graph lists more than once (the directory changed while paging): one
/// owner is kept, in the place it was first listed, and it is the version worst for risk (deleted
/// in its origin wins). Each such owner gives a warning. Linear in the number of owners.
pub fn resolve_owners(owners: Vec<Owner>) -> (Vec<Owner>, Vec<CoverageWarning>) {
    let mut resolver = OwnerResolver::with_capacity(owners.len());
    for owner in owners {
        resolver.add(owner);
    }
    resolver.finish()
}

/// `resolve_owners` one owner at a time, for a scan that starts on each Graph page as it
/// arrives: owners are numbered in the order of their first listing, which is their order in
/// the result.
#[derive(Debug, Default)]
pub struct OwnerResolver {
    kept: Vec<Owner>,
    position: HashMap<Text, usize>,
    listed: Vec<usize>,
}

impl OwnerResolver {
    pub fn with_capacity(owners: usize) -> Self {
        OwnerResolver {
            kept: Vec::with_capacity(owners),
            position: HashMap::with_capacity(owners),
            listed: Vec::with_capacity(owners),
        }
    }

    /// Adds one listed owner: its number, and whether it was listed for the first time.
    pub fn add(&mut self, owner: Owner) -> (usize, bool) {
        match self.position.get(&owner.descriptor) {
            Some(&i) => {
                self.listed[i] += 1;
                if owner.deleted_in_origin && !self.kept[i].deleted_in_origin {
                    self.kept[i] = owner;
                }
                (i, false)
            }
            None => {
                let i = self.kept.len();
                self.position.insert(owner.descriptor.clone(), i);
                self.kept.push(owner);
                self.listed.push(1);
                (i, true)
            }
        }
    }

    /// Owners numbered so far.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The owners, once each, and a warning for each owner listed more than once.
    pub fn finish(mut self) -> (Vec<Owner>, Vec<CoverageWarning>) {
        drop(self.position);
        // The vector grew by doubling while Graph was paged: up to twice the owners' size.
        self.kept.shrink_to_fit();
        let warnings = self
            .kept
            .iter()
            .zip(&self.listed)
            .filter(|(_, n)| **n > 1)
            .map(|(o, n)| CoverageWarning {
                kind: WarningKind::DuplicateOwner,
                message: format!(
                    "owner {} listed {n} times by Graph; kept one, the version worst for risk{}",
                    o.descriptor,
                    if o.deleted_in_origin { " (deleted in origin)" } else { "" }
                ),
                ids: vec![o.descriptor.to_string()],
            })
            .collect();
        (self.kept, warnings)
    }
}

/// Placeholder id of an unreadable token whose authorization id could not be read either.
pub const UNREADABLE_ID_PREFIX: &str = "unreadable-";

/// The rule for duplicate tokens. An authorization id belongs to the owner Token Admin listed it
/// under: a token is the pair (owner, authorization id).
/// - Two versions of one token (same owner, same id, e.g. on two pages): one is kept, in the
///   place it was first listed, the version worst for risk (`risk`); a warning says so.
/// - One id under several owners: every owner keeps its own token (findings and usages never
///   mix, they are keyed by owner and id); a warning names the owners.
/// - An unreadable token: kept, with a warning; one without a readable id gets a placeholder id
///   (`unreadable-N`) so it can still be listed and judged.
///
/// Linear in the number of tokens.
pub fn resolve_tokens(tokens: Vec<Token>) -> (Vec<Token>, Vec<CoverageWarning>) {
    // Nearly always there is nothing to resolve: the tokens then stay where they are instead of
    // being copied, with a map of cloned keys, beside an inventory of tens of thousands.
    let clean = {
        let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(tokens.len());
        tokens.iter().all(|t| !t.authorization_id.trim().is_empty() && seen.insert((&t.owner, &t.authorization_id)))
    };
    let (kept, listed) = if clean {
        let once = vec![(1, false); tokens.len()];
        (tokens, once)
    } else {
        merge_versions(tokens)
    };
    let mut warnings = Vec::new();
    // The owners of each id listed under more than one (rare): a count per id first, so that
    // the common case holds no vector per token.
    let mut listings: HashMap<&str, usize> = HashMap::with_capacity(kept.len());
    for t in &kept {
        *listings.entry(t.authorization_id.as_str()).or_default() += 1;
    }
    let mut owners_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in kept.iter().filter(|t| listings[t.authorization_id.as_str()] > 1) {
        owners_of.entry(t.authorization_id.as_str()).or_default().push(t.owner.as_str());
    }
    drop(listings);
    let mut shared_noted: HashSet<&str> = HashSet::new();
    for (t, (count, differ)) in kept.iter().zip(&listed) {
        if *count > 1 {
            warnings.push(CoverageWarning {
                kind: WarningKind::DuplicateToken,
                message: format!(
                    "token {} of owner {} listed {count} times{}; kept one, the version worst for risk",
                    t.authorization_id,
                    t.owner,
                    if *differ { " with different contents" } else { "" }
                ),
                ids: vec![t.authorization_id.to_string(), t.owner.to_string()],
            });
        }
        if let Some(owners) = owners_of.get(t.authorization_id.as_str())
            && shared_noted.insert(t.authorization_id.as_str())
        {
            warnings.push(CoverageWarning {
                kind: WarningKind::SharedAuthorizationId,
                message: format!(
                    "authorization id {} listed under owners {}; each owner keeps its own token and findings",
                    t.authorization_id,
                    and_list(owners)
                ),
                ids: std::iter::once(t.authorization_id.as_str())
                    .chain(owners.iter().copied())
                    .map(String::from)
                    .collect(),
            });
        }
        if let Some(reason) = &t.unreadable {
            warnings.push(CoverageWarning {
                kind: WarningKind::UnreadableToken,
                message: format!(
                    "token {} of owner {} could not be read ({reason}); kept and judged as unknown",
                    t.authorization_id, t.owner
                ),
                ids: vec![t.authorization_id.to_string(), t.owner.to_string()],
            });
        }
    }
    drop(owners_of);
    drop(shared_noted);
    (kept, warnings)
}

/// `resolve_tokens`' merge of versions: each (owner, id) once, in the place first listed, the
/// version worst for risk; with how often each was listed and whether the versions differed.
/// Ids left empty get a placeholder.
fn merge_versions(tokens: Vec<Token>) -> (Vec<Token>, Vec<(usize, bool)>) {
    let mut kept: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut listed: Vec<(usize, bool)> = Vec::with_capacity(tokens.len());
    let mut position: HashMap<(Text, Text), usize> = HashMap::with_capacity(tokens.len());
    let mut placeholders = 0usize;
    for mut token in tokens {
        if token.authorization_id.trim().is_empty() {
            placeholders += 1;
            token.authorization_id = format!("{UNREADABLE_ID_PREFIX}{placeholders}").into();
            if token.unreadable.is_none() {
                token.unreadable = Some("authorizationId: missing or empty".into());
            }
        }
        let key = (token.owner.clone(), token.authorization_id.clone());
        match position.get(&key) {
            Some(&i) => {
                let (count, differ) = &mut listed[i];
                *count += 1;
                *differ |= kept[i] != token;
                if risk(&token) > risk(&kept[i]) {
                    kept[i] = token;
                }
            }
            None => {
                position.insert(key, kept.len());
                kept.push(token);
                listed.push((1, false));
            }
        }
    }
    (kept, listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn token(valid_to_day: u32, is_valid: bool) -> Token {
        Token {
            authorization_id: "a".into(),
            owner: "aad.x".into(),
            display_name: "t".into(),
            scopes: vec!["vso.code".into()],
            all_organizations: false,
            target_accounts: [].into(),
            valid_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
            valid_to: Some(Utc.with_ymd_and_hms(2026, 11, valid_to_day, 0, 0, 0).unwrap()),
            is_valid,
            unreadable: None,
            ..Default::default()
        }
    }

    #[test]
    fn state_distinguishes_active_expired_revoked() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
        assert_eq!(token(25, true).state(now), TokenState::Active);
        assert_eq!(token(10, true).state(now), TokenState::Expired);
        assert_eq!(token(25, false).state(now), TokenState::Revoked);
        assert_eq!(token(25, true).lifetime_days(), Some(328));
    }

    #[test]
    fn coverage_is_incomplete_when_an_owner_failed() {
        let c = Coverage::new(3, 2, vec![OwnerFailure { descriptor: "aad.x".into(), error: "boom".into() }]);
        assert!(!c.complete);
        assert!(Coverage::new(3, 3, vec![]).complete);
    }

    fn owner(descriptor: &str, deleted: bool) -> Owner {
        Owner {
            descriptor: descriptor.into(),
            display_name: "d".into(),
            principal_name: format!("{descriptor}@contoso.com").into(),
            mail: None,
            origin: "aad".into(),
            deleted_in_origin: deleted,
            ..Default::default()
        }
    }

    fn on(owner: &str, id: &str, mut t: Token) -> Token {
        t.owner = owner.into();
        t.authorization_id = id.into();
        t
    }

    #[test]
    fn an_owner_listed_twice_keeps_the_deleted_version_in_its_first_place() {
        let (owners, warnings) = resolve_owners(vec![
            owner("aad.a", false),
            owner("aad.b", false),
            owner("aad.a", true),
            owner("aad.a", false),
        ]);
        assert_eq!(owners.iter().map(|o| o.descriptor.as_str()).collect::<Vec<_>>(), ["aad.a", "aad.b"]);
        assert!(owners[0].deleted_in_origin);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kind, WarningKind::DuplicateOwner);
        assert_eq!(warnings[0].ids, ["aad.a"]);
        assert!(warnings[0].message.contains("aad.a listed 3 times"), "{}", warnings[0].message);
        assert!(resolve_owners(vec![owner("aad.a", false)]).1.is_empty());
    }

    #[test]
    fn two_versions_of_one_token_keep_the_worst_for_risk() {
        let narrow = token(25, true);
        let mut full = token(25, true);
        full.scopes = vec![FULL_ACCESS_SCOPE.into()];
        let revoked = token(28, false);
        let mut later = token(28, true);
        later.all_organizations = true;
        // Either order: the worst wins, in the place the token was first listed.
        for versions in [vec![narrow.clone(), full.clone()], vec![full.clone(), narrow.clone()]] {
            let (kept, warnings) = resolve_tokens(versions);
            assert_eq!(kept, [full.clone()]);
            assert_eq!(warnings.len(), 1);
            assert_eq!(warnings[0].kind, WarningKind::DuplicateToken);
            assert!(warnings[0].message.contains("listed 2 times with different contents"));
        }
        assert_eq!(
            resolve_tokens(vec![revoked.clone(), narrow.clone()]).0,
            std::slice::from_ref(&narrow),
            "valid over revoked"
        );
        assert_eq!(resolve_tokens(vec![narrow.clone(), later.clone()]).0, [later.clone()]);
        let mut open_ended = narrow.clone();
        open_ended.valid_to = None;
        assert_eq!(resolve_tokens(vec![narrow.clone(), open_ended.clone()]).0, [open_ended]);
        let (kept, warnings) = resolve_tokens(vec![narrow.clone(), narrow.clone()]);
        assert_eq!(kept.len(), 1);
        assert!(!warnings[0].message.contains("different"));
    }

    #[test]
    fn one_id_under_two_owners_stays_with_each_owner_and_is_reported_once() {
        let t = token(25, true);
        let (kept, warnings) = resolve_tokens(vec![
            on("aad.a", "x", t.clone()),
            on("aad.b", "x", t.clone()),
            on("aad.c", "y", t.clone()),
            on("aad.c", "x", t.clone()),
        ]);
        assert_eq!(kept.len(), 4);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kind, WarningKind::SharedAuthorizationId);
        assert_eq!(
            warnings[0].message,
            "authorization id x listed under owners aad.a, aad.b and aad.c; each owner keeps its own token and findings"
        );
        assert_eq!(warnings[0].ids, ["x", "aad.a", "aad.b", "aad.c"]);
    }

    #[test]
    fn unreadable_tokens_are_kept_listed_and_given_ids() {
        let mut bad = on("aad.a", "", token(25, true));
        bad.unreadable = Some("the entry is a string, not a token object".into());
        let mut bad_with_id = on("aad.b", "z", token(25, true));
        bad_with_id.unreadable = Some("isValid: expected true or false, got a string".into());
        let (kept, warnings) = resolve_tokens(vec![bad.clone(), bad.clone(), bad_with_id]);
        let ids: Vec<&str> = kept.iter().map(|t| t.authorization_id.as_str()).collect();
        assert_eq!(ids, ["unreadable-1", "unreadable-2", "z"]);
        assert_eq!(warnings.len(), 3);
        assert!(warnings.iter().all(|w| w.kind == WarningKind::UnreadableToken));
        assert!(warnings[2].message.contains("token z of owner aad.b could not be read (isValid: expected"));
        // An unreadable version of a token wins over a readable one: unknown is the worst.
        let mut unreadable = on("aad.a", "q", token(25, true));
        unreadable.unreadable = Some("validTo: bad".into());
        let readable = on("aad.a", "q", token(25, true));
        assert_eq!(resolve_tokens(vec![readable, unreadable.clone()]).0, [unreadable]);
    }

    #[test]
    fn coverage_without_warnings_still_loads() {
        let c: Coverage =
            serde_json::from_str(r#"{"owners_listed":1,"owners_scanned":1,"owners_failed":[],"complete":true}"#)
                .unwrap();
        assert!(c.warnings.is_empty() && c.complete);
    }
}
