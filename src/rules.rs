//! The rules: a TOML file (`rules/default.toml` ships) turned into checks over the inventory.

use crate::finding::{Finding, Severity};
use crate::inventory::{Inventory, Owner, Token, TokenState};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// The rules file that ships with pat2entra.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// A rules file that cannot be used; the message names the file, line and column.
#[derive(Debug)]
pub struct RulesError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules file {}: {}", self.file, self.message.trim_end())
    }
}

impl std::error::Error for RulesError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: RuleTables,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleTables {
    full_access: Option<FullAccessConfig>,
    all_organizations: Option<AllOrganizationsConfig>,
    long_lived: Option<LongLivedConfig>,
}

/// One `[rules.<id>]` table: the fields every rule has, then the rule's own parameters.
/// (Spelled out rather than `#[serde(flatten)]`, which would lose the line numbers of errors.)
macro_rules! rule_config {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            #[serde(default = "yes")]
            enabled: bool,
            severity: Severity,
            #[serde(default)]
            rationale: Option<String>,
            $($field: $ty,)*
        }
    };
}

rule_config!(FullAccessConfig {});
rule_config!(AllOrganizationsConfig { retirement_date: NaiveDate });
rule_config!(LongLivedConfig { max_lifetime_days: i64 });

fn yes() -> bool {
    true
}

/// What a rule looks for.
#[derive(Debug, Clone)]
enum Check {
    FullAccess,
    AllOrganizations { retirement_date: NaiveDate },
    LongLived { max_lifetime_days: i64 },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub rationale: String,
    check: Check,
}

/// The enabled rules of a rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn default_rules() -> Self {
        RuleSet::parse(DEFAULT_RULES, "rules/default.toml (built in)").expect("the built-in rules file is valid")
    }

    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError { file: path.display().to_string(), message: format!("cannot read it: {e}") })?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, RulesError> {
        let parsed: RulesFile =
            toml::from_str(text).map_err(|e| RulesError { file: file.to_string(), message: e.to_string() })?;
        let t = parsed.rules;
        let mut rules = Vec::new();
        let mut add = |id: &'static str, enabled: bool, severity: Severity, rationale: Option<String>, check: Check| {
            if enabled {
                rules.push(Rule { id, severity, rationale: rationale.unwrap_or_default(), check });
            }
        };
        if let Some(r) = t.all_organizations {
            let check = Check::AllOrganizations { retirement_date: r.retirement_date };
            add("all-organizations", r.enabled, r.severity, r.rationale, check);
        }
        if let Some(r) = t.full_access {
            add("full-access", r.enabled, r.severity, r.rationale, Check::FullAccess);
        }
        if let Some(r) = t.long_lived {
            if r.max_lifetime_days < 1 {
                return Err(RulesError {
                    file: file.to_string(),
                    message: format!(
                        "[rules.long-lived] max_lifetime_days must be at least 1, not {}",
                        r.max_lifetime_days
                    ),
                });
            }
            let check = Check::LongLived { max_lifetime_days: r.max_lifetime_days };
            add("long-lived", r.enabled, r.severity, r.rationale, check);
        }
        Ok(RuleSet { rules })
    }

    /// Findings for every active token, most severe first. Revoked and expired tokens are not
    /// risks and produce none.
    pub fn evaluate(&self, inventory: &Inventory, as_of: DateTime<Utc>) -> Vec<Finding> {
        let mut findings = Vec::new();
        for token in inventory.tokens.iter().filter(|t| t.state(as_of) == TokenState::Active) {
            let owner = inventory.owner(&token.owner);
            for rule in &self.rules {
                if let Some(message) = rule.check(token, owner, as_of) {
                    findings.push(Finding {
                        rule: rule.id.to_string(),
                        severity: rule.severity,
                        authorization_id: token.authorization_id.clone(),
                        owner: token.owner.clone(),
                        message,
                    });
                }
            }
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        findings
    }
}

impl Rule {
    fn check(&self, token: &Token, _owner: Option<&Owner>, as_of: DateTime<Utc>) -> Option<String> {
        match &self.check {
            Check::FullAccess => token
                .is_full_access()
                .then(|| "full access (scope app_token): can do anything its owner can".to_string()),
            Check::AllOrganizations { retirement_date } => {
                if !token.all_organizations {
                    return None;
                }
                let days = (*retirement_date - as_of.date_naive()).num_days();
                Some(match days {
                    1.. => format!(
                        "valid in all organizations; Microsoft stops honouring global PATs on {retirement_date} (in {days} day{})",
                        if days == 1 { "" } else { "s" }
                    ),
                    0 => format!(
                        "valid in all organizations; Microsoft stops honouring global PATs today ({retirement_date})"
                    ),
                    _ => format!(
                        "global PAT: no longer honoured since {retirement_date}; revoke it and move its users to an organization-scoped replacement"
                    ),
                })
            }
            Check::LongLived { max_lifetime_days } => {
                let days = token.lifetime_days()?;
                (days > *max_lifetime_days)
                    .then(|| format!("lifetime of {days} days, over the {max_lifetime_days}-day limit"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Coverage;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    fn token(id: &str, scopes: &[&str], global: bool, lifetime_days: i64) -> Token {
        Token {
            authorization_id: id.into(),
            owner: "aad.owner".into(),
            display_name: id.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            all_organizations: global,
            target_accounts: if global { vec![] } else { vec!["org".into()] },
            valid_from: Some(now() - Duration::days(1)),
            valid_to: Some(now() - Duration::days(1) + Duration::days(lifetime_days)),
            is_valid: true,
        }
    }

    fn inventory(tokens: Vec<Token>) -> Inventory {
        Inventory { organization: "o".into(), owners: vec![], coverage: Coverage::new(1, 1, vec![]), tokens }
    }

    #[test]
    fn default_rules_flag_each_risk_once() {
        let rules = RuleSet::default_rules();
        let mut revoked = token("revoked", &["app_token"], true, 400);
        revoked.is_valid = false;
        let inv = inventory(vec![
            token("full", &["app_token"], false, 30),
            token("global", &["vso.code"], true, 30),
            token("long", &["vso.code"], false, 365),
            token("fine", &["vso.code"], false, 30),
            revoked,
        ]);
        let findings = rules.evaluate(&inv, now());
        let got: Vec<(&str, &str)> = findings.iter().map(|f| (f.rule.as_str(), f.authorization_id.as_str())).collect();
        assert_eq!(got, [("all-organizations", "global"), ("full-access", "full"), ("long-lived", "long")]);
        assert!(findings[0].message.contains("in 5 days"), "{}", findings[0].message);
        assert_eq!(findings[0].severity, Severity::Critical);
    }

    #[test]
    fn global_message_changes_after_the_retirement_date() {
        let rules = RuleSet::default_rules();
        let inv = inventory(vec![token("global", &["vso.code"], true, 30)]);
        let later = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        let findings = rules.evaluate(&inv, later);
        assert!(findings[0].message.contains("no longer honoured"), "{}", findings[0].message);
    }

    #[test]
    fn errors_name_file_line_and_unknown_keys() {
        let err = RuleSet::parse("[rules.long-lived]\nseverity = \"medium\"\nmax_lifetime_dayz = 5\n", "my.toml")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("rules file my.toml:"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("max_lifetime_dayz"), "{text}");
        let err = RuleSet::parse("[rules.full-access]\nseverity = \"severe\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err =
            RuleSet::parse("[rules.long-lived]\nseverity = \"low\"\nmax_lifetime_days = 0\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn disabled_rules_do_not_run() {
        let rules = RuleSet::parse("[rules.full-access]\nenabled = false\nseverity = \"high\"\n", "x.toml").unwrap();
        assert!(rules.rules.is_empty());
    }
}
