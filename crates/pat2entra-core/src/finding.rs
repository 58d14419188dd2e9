//! Findings: what the rules say about a token. Plain data.

use crate::text::Text;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Severity of a finding, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is none of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity '{0}' (expected one of critical, high, medium, low, info)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingScope {
    /// One credential: `owner` and `authorization_id` name it.
    #[default]
    Credential,
    /// The organization as a whole (a tenant policy that is off): `owner` and
    /// `authorization_id` are empty. Counted by summaries and `--fail-on` like any finding;
    /// an exception accepts it by its rule id alone.
    Organization,
}

impl FindingScope {
    pub fn is_credential(&self) -> bool {
        *self == FindingScope::Credential
    }
}

/// How sure a finding is. Most rules judge facts the service stated; a few rest on a reading of
/// the service that could not be confirmed (`all-organizations` when Token Admin left
/// `targetAccounts` empty and nothing showed that it ever fills the field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Rests on an assumption about the service (see the record's `service`).
    Low,
    /// Rests on what the service stated.
    #[default]
    High,
}

impl Confidence {
    pub fn is_high(&self) -> bool {
        *self == Confidence::High
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::High => "high",
        }
    }
}

/// One rule's verdict on one token (or, for a tenant policy, on the organization: `scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `full-access`.
    /// (Borrowed from the rule table while evaluating, and when read from a record: no
    /// allocation per finding.)
    #[serde(deserialize_with = "rule_id")]
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    pub authorization_id: Text,
    /// Descriptor of the token's owner.
    pub owner: Text,
    /// One line that explains the finding. (Many findings share one text: "lifetime of 365
    /// days, over the 90-day limit".)
    pub message: Text,
    /// Set when an exception of the rules file accepts this finding: it stays in the record but
    /// does not count for `--fail-on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Box<crate::rules::Suppression>>,
    /// Id of the guidance that says what to do (`pat2entra explain ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<Text>,
    /// A credential's finding (not written) or the organization's (`"scope": "organization"`).
    #[serde(default, skip_serializing_if = "FindingScope::is_credential")]
    pub scope: FindingScope,
    /// `low` when the finding rests on an unconfirmed reading of the service (records without
    /// it hold findings of high confidence only).
    #[serde(default, skip_serializing_if = "Confidence::is_high")]
    pub confidence: Confidence,
}

/// Open findings per severity, most severe first: `3 critical, 0 high, 1 medium, 0 low, 0 info`
/// (a severity without findings counts 0).
pub fn severity_counts(counts: &std::collections::BTreeMap<Severity, usize>) -> String {
    let counts: Vec<String> =
        Severity::ALL.iter().map(|sev| format!("{} {sev}", counts.get(sev).copied().unwrap_or(0))).collect();
    counts.join(", ")
}

/// A rule id as read from a record: one of pat2entra's own rules borrows its static name; any
/// other (a record of a later version) is kept as read.
fn rule_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cow<'static, str>, D::Error> {
    let id = crate::text::Text::deserialize(deserializer)?;
    let known = crate::rules::RuleId::ALL
        .iter()
        .map(|r| r.as_str())
        .chain([crate::rules::UNREADABLE_TOKEN])
        .find(|known| *known == id.as_str());
    Ok(match known {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(id.to_string()),
    })
}

impl Finding {
    pub fn is_suppressed(&self) -> bool {
        self.suppressed.is_some()
    }

    /// About the organization as a whole, not one credential.
    pub fn is_organization(&self) -> bool {
        self.scope == FindingScope::Organization
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_id_read_from_a_record_borrows_the_static_name_when_known() {
        let read = |rule: &str| -> Finding {
            serde_json::from_str(&format!(
                r#"{{"rule":"{rule}","severity":"high","authorization_id":"a","owner":"aad.o","message":"m"}}"#
            ))
            .unwrap()
        };
        assert!(matches!(read("full-access").rule, Cow::Borrowed("full-access")));
        assert!(matches!(read(crate::rules::UNREADABLE_TOKEN).rule, Cow::Borrowed(_)));
        let later = read("a-rule-of-a-later-version");
        assert!(matches!(&later.rule, Cow::Owned(id) if id == "a-rule-of-a-later-version"));
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("severe".parse::<Severity>().unwrap_err().to_string().contains("critical, high"));
    }
}
