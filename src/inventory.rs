//! The inventory: owners and their tokens, as plain data. No HTTP, no output format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A user who may own personal access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Graph subject descriptor (`aad.…`, `msa.…`): the stable identity of the owner.
    pub descriptor: String,
    pub display_name: String,
    /// User principal name (UPN) or account name.
    pub principal_name: String,
    pub mail: Option<String>,
    /// Directory the account comes from (`aad`, `msa`, …).
    pub origin: String,
    /// The account was deleted in its origin directory (it may still own valid PATs).
    pub deleted_in_origin: bool,
}

/// A personal access token, as the Token Admin API describes it. The secret itself is never part
/// of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The id used to revoke the token.
    pub authorization_id: String,
    /// Descriptor of the owner.
    pub owner: String,
    pub display_name: String,
    /// OAuth scopes (`app_token` means full access).
    pub scopes: Vec<String>,
    /// Valid in every organization the owner can reach (`targetAccounts` null or empty).
    pub all_organizations: bool,
    /// Organization ids the token is limited to (empty for an all-organizations token).
    #[serde(default)]
    pub target_accounts: Vec<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// `false` once the token is revoked.
    pub is_valid: bool,
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
            TokenState::Revoked
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

/// How much of the organization the scan actually saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub owners_listed: usize,
    pub owners_scanned: usize,
    pub owners_failed: Vec<OwnerFailure>,
    pub complete: bool,
}

impl Coverage {
    pub fn new(owners_listed: usize, owners_scanned: usize, owners_failed: Vec<OwnerFailure>) -> Self {
        let complete = owners_failed.is_empty() && owners_scanned == owners_listed;
        Coverage { owners_listed, owners_scanned, owners_failed, complete }
    }
}

/// Everything a scan found: the input of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub organization: String,
    pub owners: Vec<Owner>,
    pub tokens: Vec<Token>,
    pub coverage: Coverage,
}

impl Inventory {
    pub fn owner(&self, descriptor: &str) -> Option<&Owner> {
        self.owners.iter().find(|o| o.descriptor == descriptor)
    }
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
            target_accounts: vec![],
            valid_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
            valid_to: Some(Utc.with_ymd_and_hms(2026, 11, valid_to_day, 0, 0, 0).unwrap()),
            is_valid,
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
}
