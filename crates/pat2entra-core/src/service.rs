//! What the scan assumed about the live service where Microsoft's documents leave it open, and
//! where each assumption came from: a saved probe of the service (`whoami --probe
//! --save-profile`), the data of this very scan, or pat2entra's defaults. Every scan record
//! carries it, so a reader can tell a confirmed finding from one that rests on a guess.
//!
//! The open questions (see the README, "What pat2entra assumes about the service"):
//! - does Token Admin fill `targetAccounts` (Microsoft's Token Admin example has `null` on every
//!   token, the lifecycle API's example fills it), so that empty means "all organizations"?
//! - does Token Admin list revoked and expired PATs, and does it mark expired ones `isValid:
//!   false` like revoked ones?
//! - how does it end paging (`null`, `""`, or an all-zero GUID as Microsoft's C# sample checks)?
//! - the largest `pageSize` it accepts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a reading of the service came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Nothing was known: the value is unset, and the code takes the reading worst for risk.
    #[default]
    Unknown,
    /// A probe of the service, saved as a profile (`scan --service-profile FILE`).
    Profile,
    /// The data of this scan showed it (e.g. some token came with `targetAccounts` filled).
    Inferred,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Unknown => "unknown",
            Basis::Profile => "profile",
            Basis::Inferred => "inferred",
        }
    }
}

/// One reading: its value (`None` while unknown) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading<T> {
    #[serde(default = "none")]
    pub value: Option<T>,
    #[serde(default)]
    pub basis: Basis,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Default for Reading<T> {
    fn default() -> Self {
        Reading { value: None, basis: Basis::Unknown }
    }
}

impl<T: Copy> Reading<T> {
    pub fn known(value: T, basis: Basis) -> Self {
        Reading { value: Some(value), basis }
    }

    pub fn get(&self) -> Option<T> {
        self.value
    }

    /// Keeps a reading the caller already had (a profile); fills an unknown one.
    fn or_infer(&mut self, value: Option<T>) {
        if self.value.is_none()
            && let Some(v) = value
        {
            *self = Reading::known(v, Basis::Inferred);
        }
    }
}

/// How Token Admin ends its paging: the `continuationToken` of the last page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagingEnd {
    /// `null`, or no `continuationToken` at all (the documented end).
    Null,
    /// `""` (the lifecycle API's example ends so).
    Empty,
    /// `00000000-0000-0000-0000-000000000000` (what Microsoft's C# sample also stops on).
    ZeroGuid,
}

impl PagingEnd {
    /// Reads a continuation token: `Some(end)` when it ends the listing.
    pub fn of(token: Option<&str>) -> Option<PagingEnd> {
        match token.map(str::trim) {
            None => Some(PagingEnd::Null),
            Some("") => Some(PagingEnd::Empty),
            Some(t) if is_zero_guid(t) => Some(PagingEnd::ZeroGuid),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PagingEnd::Null => "null",
            PagingEnd::Empty => "empty",
            PagingEnd::ZeroGuid => "zero_guid",
        }
    }
}

/// `00000000-0000-0000-0000-000000000000`, with or without hyphens or braces.
pub fn is_zero_guid(text: &str) -> bool {
    let digits: Vec<char> = text.trim_matches(|c| c == '{' || c == '}').chars().filter(|c| *c != '-').collect();
    digits.len() == 32 && digits.iter().all(|c| *c == '0')
}

/// How the scan read the service. `Default` is "nothing known".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceBehaviour {
    /// This organization's id (`connectionData`'s `instanceId`): what an organization-scoped
    /// PAT lists in `targetAccounts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// `true`: Token Admin fills `targetAccounts`, so an empty one means "all organizations".
    /// `false`: it leaves the field empty even for organization-scoped PATs, so empty says
    /// nothing. Unknown: treated as "might be global, not confirmed".
    #[serde(default)]
    pub fills_target_accounts: Reading<bool>,
    /// Token Admin lists revoked PATs (`false`: hides them).
    #[serde(default)]
    pub lists_revoked: Reading<bool>,
    /// Token Admin lists expired PATs (`false`: hides them).
    #[serde(default)]
    pub lists_expired: Reading<bool>,
    /// Token Admin marks expired PATs `isValid: false` too (`false`: only revoked ones).
    #[serde(default)]
    pub expired_marked_invalid: Reading<bool>,
    /// How the last page of Token Admin is marked.
    #[serde(default)]
    pub paging_end: Reading<PagingEnd>,
    /// The largest `pageSize` Token Admin accepted (a probe's search).
    #[serde(default)]
    pub max_page_size: Reading<u32>,
    /// The profile the readings came from (file name and when it was probed), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// What one scan's data shows about the service (filled by the scan, read by `infer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    /// Tokens whose `targetAccounts` came filled.
    pub filled_target_accounts: usize,
    /// Tokens listed with `isValid: false`.
    pub invalid: usize,
    /// Of those, tokens also past their `validTo`.
    pub invalid_past_valid_to: usize,
    /// Tokens listed with `isValid: true` past their `validTo`.
    pub valid_past_valid_to: usize,
    /// End markers of the paged listings, with how many listings ended so.
    pub paging_ends: Vec<(PagingEnd, u64)>,
}

impl Observations {
    /// What the PATs of an inventory show (SSH keys are another listing), judged at `as_of`,
    /// with the paging ends the client counted.
    pub fn of(tokens: &[crate::inventory::Token], as_of: DateTime<Utc>, paging_ends: Vec<(PagingEnd, u64)>) -> Self {
        let past = |t: &crate::inventory::Token| t.valid_to.is_some_and(|to| to <= as_of);
        let pats = || tokens.iter().filter(|t| t.kind.is_pat());
        Observations {
            filled_target_accounts: pats().filter(|t| !t.target_accounts.is_empty()).count(),
            invalid: pats().filter(|t| !t.is_valid).count(),
            invalid_past_valid_to: pats().filter(|t| !t.is_valid && past(t)).count(),
            valid_past_valid_to: pats().filter(|t| t.is_valid && past(t)).count(),
            paging_ends,
        }
    }
}

impl ServiceBehaviour {
    pub fn is_empty(&self) -> bool {
        *self == ServiceBehaviour::default()
    }

    /// The readings known before a scan (a profile's), without what a scan's data inferred:
    /// what `merge` starts from to infer again over every part's tokens.
    pub fn without_inferred(&self) -> Self {
        fn keep<T: Copy>(r: &Reading<T>) -> Reading<T> {
            if r.basis == Basis::Inferred { Reading::default() } else { r.clone() }
        }
        ServiceBehaviour {
            organization_id: self.organization_id.clone(),
            fills_target_accounts: keep(&self.fills_target_accounts),
            lists_revoked: keep(&self.lists_revoked),
            lists_expired: keep(&self.lists_expired),
            expired_marked_invalid: keep(&self.expired_marked_invalid),
            paging_end: keep(&self.paging_end),
            max_page_size: keep(&self.max_page_size),
            profile: self.profile.clone(),
        }
    }

    /// Fills the readings still unknown from what this scan saw. Only positive evidence counts:
    /// one token with `targetAccounts` filled proves the service fills the field (it is the same
    /// stored authorization the lifecycle API reads); none filled proves nothing (every PAT may
    /// be global), so the reading stays unknown. Likewise a revoked or expired token listed
    /// proves they are listed; none listed proves nothing.
    pub fn infer(&mut self, seen: &Observations) {
        self.fills_target_accounts.or_infer((seen.filled_target_accounts > 0).then_some(true));
        self.lists_revoked.or_infer((seen.invalid > 0).then_some(true));
        self.lists_expired.or_infer((seen.invalid_past_valid_to + seen.valid_past_valid_to > 0).then_some(true));
        // An expired token listed as valid shows that expiry alone does not clear `isValid`.
        self.expired_marked_invalid.or_infer((seen.valid_past_valid_to > 0).then_some(false));
        let most = seen.paging_ends.iter().max_by_key(|(end, n)| (*n, *end)).map(|(end, _)| *end);
        self.paging_end.or_infer(most);
    }

    /// Whether an empty `targetAccounts` is known to mean "all organizations".
    pub fn empty_target_accounts_is_global(&self) -> bool {
        self.fills_target_accounts.get() == Some(true)
    }

    /// One line per reading, for `whoami --probe`, logs and reports.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        fn show<T: Copy>(r: &Reading<T>, text: impl Fn(T) -> String) -> String {
            match r.value {
                Some(v) => format!("{} ({})", text(v), r.basis.as_str()),
                None => "unknown".to_string(),
            }
        }
        let yes_no = |yes: &'static str, no: &'static str| move |b: bool| if b { yes } else { no }.to_string();
        vec![
            ("organization id", self.organization_id.clone().unwrap_or_else(|| "unknown".into())),
            (
                "targetAccounts",
                show(
                    &self.fills_target_accounts,
                    yes_no("filled by Token Admin (empty means all organizations)", "left empty by Token Admin"),
                ),
            ),
            ("revoked PATs", show(&self.lists_revoked, yes_no("listed", "hidden"))),
            ("expired PATs", show(&self.lists_expired, yes_no("listed", "hidden"))),
            (
                "expired marked",
                show(&self.expired_marked_invalid, yes_no("isValid: false (like revoked)", "isValid: true")),
            ),
            ("end of paging", show(&self.paging_end, |e| e.as_str().to_string())),
            ("max pageSize", show(&self.max_page_size, |n| n.to_string())),
        ]
    }
}

/// Version of the profile's shape.
pub const PROFILE_VERSION: u32 = 1;
/// A profile is a few hundred bytes; 1 MiB refuses a wrong file fast.
pub const MAX_PROFILE: u64 = 1024 * 1024;

/// What `whoami --probe` learned, saved with `--save-profile` and read by `scan
/// --service-profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProfile {
    pub version: u32,
    pub organization: String,
    pub probed_at: DateTime<Utc>,
    pub behaviour: ServiceBehaviour,
    /// What the probe saw besides the readings (statuses of the descriptor checks…), one line each.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("service profile {file}")]
    Read {
        file: String,
        #[source]
        reason: crate::files::ReadError,
    },
    #[error(
        "service profile {file}: not a pat2entra service profile ({detail}); write one with: pat2entra whoami --probe --save-profile FILE"
    )]
    Parse { file: String, detail: String },
    #[error(
        "service profile {file}: version {found} is not supported (this pat2entra reads version {PROFILE_VERSION}); probe again with: pat2entra whoami --probe --save-profile FILE"
    )]
    Version { file: String, found: u32 },
}

impl ServiceProfile {
    /// Reads a profile; every reading in it is marked as coming from the profile.
    pub fn load(path: &std::path::Path) -> Result<ServiceProfile, ProfileError> {
        let file = path.display().to_string();
        let text = crate::files::read_text_limited(path, MAX_PROFILE, "a service profile")
            .map_err(|reason| ProfileError::Read { file: file.clone(), reason })?;
        let mut profile: ServiceProfile = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| ProfileError::Parse { file: file.clone(), detail: e.to_string() })?;
        if profile.version != PROFILE_VERSION {
            return Err(ProfileError::Version { file, found: profile.version });
        }
        let b = &mut profile.behaviour;
        for basis in [
            &mut b.fills_target_accounts.basis,
            &mut b.lists_revoked.basis,
            &mut b.lists_expired.basis,
            &mut b.expired_marked_invalid.basis,
        ] {
            *basis = Basis::Profile;
        }
        b.paging_end.basis = Basis::Profile;
        b.max_page_size.basis = Basis::Profile;
        for_unknown(b);
        b.profile = Some(format!("{file} (probed {})", profile.probed_at.format("%Y-%m-%d %H:%M UTC")));
        Ok(profile)
    }

    /// The profile as written by `--save-profile` (pretty JSON, one trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// A reading the probe could not settle stays unknown, not "from the profile".
fn for_unknown(b: &mut ServiceBehaviour) {
    fn fix<T>(r: &mut Reading<T>) {
        if r.value.is_none() {
            r.basis = Basis::Unknown;
        }
    }
    fix(&mut b.fills_target_accounts);
    fix(&mut b.lists_revoked);
    fix(&mut b.lists_expired);
    fix(&mut b.expired_marked_invalid);
    fix(&mut b.paging_end);
    fix(&mut b.max_page_size);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_markers_and_zero_guids() {
        assert_eq!(PagingEnd::of(None), Some(PagingEnd::Null));
        assert_eq!(PagingEnd::of(Some(" ")), Some(PagingEnd::Empty));
        assert_eq!(PagingEnd::of(Some("00000000-0000-0000-0000-000000000000")), Some(PagingEnd::ZeroGuid));
        assert_eq!(PagingEnd::of(Some("{00000000000000000000000000000000}")), Some(PagingEnd::ZeroGuid));
        assert_eq!(PagingEnd::of(Some("00000000-0000-0000-0000-000000000001")), None);
        assert!(!is_zero_guid("0000"));
    }

    #[test]
    fn only_positive_evidence_settles_a_reading_and_a_profile_wins() {
        let mut b = ServiceBehaviour::default();
        b.infer(&Observations::default());
        assert_eq!(b.fills_target_accounts.get(), None, "no filled token proves nothing");
        assert!(!b.empty_target_accounts_is_global());
        b.infer(&Observations {
            filled_target_accounts: 3,
            valid_past_valid_to: 1,
            paging_ends: vec![(PagingEnd::ZeroGuid, 5), (PagingEnd::Null, 1)],
            ..Observations::default()
        });
        assert_eq!(b.fills_target_accounts, Reading::known(true, Basis::Inferred));
        assert_eq!(b.expired_marked_invalid.get(), Some(false));
        assert_eq!(b.paging_end.get(), Some(PagingEnd::ZeroGuid));
        let mut from_profile = ServiceBehaviour {
            fills_target_accounts: Reading::known(false, Basis::Profile),
            ..ServiceBehaviour::default()
        };
        from_profile.infer(&Observations { filled_target_accounts: 3, ..Observations::default() });
        assert_eq!(from_profile.fills_target_accounts, Reading::known(false, Basis::Profile));
    }

    #[test]
    fn a_global_pat_is_confirmed_only_when_the_service_fills_target_accounts() {
        use crate::finding::Confidence;
        use crate::inventory::{Coverage, Inventory, Token};
        let token = |id: &str, targets: &[&str]| Token {
            authorization_id: id.into(),
            owner: "aad.o".into(),
            scopes: vec!["vso.code".into()],
            all_organizations: targets.is_empty(),
            target_accounts: targets.iter().map(|t| crate::Text::from(*t)).collect(),
            is_valid: true,
            ..Token::default()
        };
        let judge = |service: ServiceBehaviour| {
            let inventory = Inventory {
                organization: "o".into(),
                owners: vec![],
                tokens: vec![token("empty", &[]), token("scoped", &["org-id"])],
                coverage: Coverage::new(1, 1, vec![]),
                evidence: Default::default(),
                service,
            };
            let as_of = "2026-11-26T00:00:00Z".parse().unwrap();
            crate::rules::RuleSet::default_rules()
                .evaluate(&inventory, as_of)
                .findings
                .into_iter()
                .filter(|f| f.rule == "all-organizations")
                .collect::<Vec<_>>()
        };
        let unknown = judge(ServiceBehaviour::default());
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].authorization_id, "empty");
        assert_eq!(unknown[0].confidence, Confidence::Low);
        assert!(
            unknown[0].message.ends_with("(not confirmed: Token Admin left targetAccounts empty)"),
            "{}",
            unknown[0].message
        );
        let leaves = judge(ServiceBehaviour {
            fills_target_accounts: Reading::known(false, Basis::Profile),
            ..ServiceBehaviour::default()
        });
        assert_eq!(leaves[0].confidence, Confidence::Low);
        assert!(leaves[0].message.contains("known to leave it empty"), "{}", leaves[0].message);
        let fills = judge(ServiceBehaviour {
            fills_target_accounts: Reading::known(true, Basis::Inferred),
            ..ServiceBehaviour::default()
        });
        assert_eq!(fills[0].confidence, Confidence::High);
        assert!(!fills[0].message.contains("not confirmed"));
        let json = serde_json::to_value(&fills[0]).unwrap();
        assert!(json.get("confidence").is_none(), "high confidence is not written: older readers see no change");
    }

    #[test]
    fn audit_events_tell_an_expired_pat_from_a_revoked_one() {
        use crate::evidence::{CredentialEvent, EventKind};
        use crate::inventory::{Token, TokenState};
        let at: DateTime<Utc> = "2026-10-01T00:00:00Z".parse().unwrap();
        let event = |kind| CredentialEvent { kind, at, actor: None, action: "Token.Pat".into() };
        let mut t = Token { is_valid: false, valid_to: Some(at), ..Token::default() };
        assert_eq!(t.state(at), TokenState::Revoked, "without events isValid false reads as revoked");
        t.events = vec![event(EventKind::Expired)];
        assert_eq!(t.state(at), TokenState::Expired);
        t.events.push(event(EventKind::Revoked));
        assert_eq!(t.state(at), TokenState::Revoked);
    }

    #[test]
    fn a_profile_round_trips_and_a_wrong_one_is_refused_with_one_line() {
        let dir = std::env::temp_dir().join(format!("pat2entra-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.json");
        let profile = ServiceProfile {
            version: PROFILE_VERSION,
            organization: "fabrikam".into(),
            probed_at: "2026-11-26T00:00:00Z".parse().unwrap(),
            behaviour: ServiceBehaviour {
                fills_target_accounts: Reading::known(false, Basis::Inferred),
                paging_end: Reading::known(PagingEnd::ZeroGuid, Basis::Inferred),
                ..ServiceBehaviour::default()
            },
            notes: vec!["x".into()],
        };
        std::fs::write(&path, profile.to_json()).unwrap();
        let loaded = ServiceProfile::load(&path).unwrap();
        assert_eq!(loaded.behaviour.fills_target_accounts, Reading::known(false, Basis::Profile));
        assert_eq!(loaded.behaviour.paging_end.get(), Some(PagingEnd::ZeroGuid));
        assert_eq!(loaded.behaviour.lists_revoked, Reading::default(), "what the probe did not settle stays unknown");
        assert!(loaded.behaviour.profile.as_deref().unwrap().contains("p.json (probed 2026-11-26 00:00 UTC)"));
        std::fs::write(&path, profile.to_json().replace("\"version\": 1", "\"version\": 9")).unwrap();
        let e = ServiceProfile::load(&path).unwrap_err().to_string();
        assert!(e.contains("version 9 is not supported") && e.contains("whoami --probe"), "{e}");
        std::fs::write(&path, "{}").unwrap();
        assert!(ServiceProfile::load(&path).unwrap_err().to_string().contains("not a pat2entra service profile"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn older_records_without_the_section_load() {
        let b: ServiceBehaviour = serde_json::from_str("{}").unwrap();
        assert!(b.is_empty());
        let b: ServiceBehaviour =
            serde_json::from_str(r#"{"fills_target_accounts": {"value": true, "basis": "profile"}}"#).unwrap();
        assert!(b.empty_target_accounts_is_global());
    }
}
