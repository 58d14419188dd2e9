//! `pat2entra rules explain`: the rules file format and every rule, from one table.

use super::RuleId;

/// A rule's documentation: id, what it flags, and (parameter, meaning) pairs.
type RuleDoc = (RuleId, &'static str, &'static [(&'static str, &'static str)]);

/// What each rule flags and its parameters.
const RULES: &[RuleDoc] = &[
    (
        RuleId::AllOrganizations,
        "an active token valid in all organizations (targetAccounts null or empty). Before retirement_date the message counts the days left; after it, says the token no longer works.",
        &[("retirement_date", "date Microsoft stops honouring global PATs (2026-12-01)")],
    ),
    (RuleId::FullAccess, "an active token with the scope app_token (full access).", &[]),
    (RuleId::OwnerRemoved, "an active token whose owner is deleted in its origin directory (isDeletedInOrigin).", &[]),
    (
        RuleId::PrivilegedScope,
        "an active token with a scope of a listed tier, or a scope in the deny list (app_token is left to full-access). The message names the scopes.",
        &[
            ("tiers", "scope tiers to flag: read, write, manage, full"),
            ("deny", "more scopes to flag; default: the catalog's privileged scopes"),
        ],
    ),
    (
        RuleId::LongLived,
        "an active token whose lifetime (valid_to - valid_from, whole days) is over the limit, or that has no expiry date. Exactly at the limit passes.",
        &[("max_lifetime_days", "longest accepted lifetime, days (at least 1)")],
    ),
    (
        RuleId::LongRemaining,
        "an active token valid for more than N more days (valid_to - as_of, whole days), or with no expiry date.",
        &[("max_remaining_days", "most validity left accepted, days")],
    ),
    (
        RuleId::BroadScope,
        "an active token with more than max_scopes distinct scopes, or scopes across more than max_areas areas.",
        &[("max_scopes", "most distinct scopes"), ("max_areas", "most distinct areas (code, build, packaging, ...)")],
    ),
    (
        RuleId::ServiceAccount,
        "an active token whose owner's UPN local part or display name matches a pattern: a shared account that should be a service principal or managed identity.",
        &[("patterns", "case-insensitive globs (* and ?)")],
    ),
    (RuleId::UnknownScope, "an active token with a scope the built-in catalog does not know.", &[]),
    (
        RuleId::ExpiringSoon,
        "an active token expiring within N days: a natural moment to retire it.",
        &[("within_days", "days ahead")],
    ),
    (
        RuleId::ExceptionExpired,
        "a token whose finding was matched by an exception past its expires date (the finding counts again).",
        &[],
    ),
    (RuleId::Expired, "an expired token (off by default: inactive tokens are counted, not reported).", &[]),
    (RuleId::Revoked, "a revoked token (off by default).", &[]),
];

const FORMAT: &str = "\
Rules file format (TOML)

  extends = \"default\"          # required: start from a shipped set (default, strict),
                                # or \"none\": only the rules this file lists run

  [rules.<id>]                  # one table per rule
  enabled = true                # default true
  severity = \"high\"             # critical, high, medium, low, info
  rationale = \"...\"             # shown in reports
  <parameter> = <value>         # the rule's own parameters (below)

  [[exception]]                 # accept a risk for a while
  rule = \"full-access\"          # match keys: at least one of rule, authorization_id,
  owner = \"svc@contoso.com\"     #   owner (UPN or descriptor), display_name (glob)
  display_name = \"deploy*\"
  reason = \"why it is accepted\" # required
  ticket = \"SEC-1234\"           # ticket or approver required
  expires = 2027-03-31          # required; after it the exception stops suppressing

A suppressed finding stays in every report, marked with its exception. An expired exception
is reported (rule exception-expired); one that matches nothing is reported as stale.
Unknown keys, rule ids or values are errors naming file:line:column; all of a file's
mistakes are reported at once, each with its line quoted and the bad value underlined.
Check a file without scanning: pat2entra rules check FILE
";

/// `explain` of an id that is not a rule's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{id}' is not a rule id{} (see: pat2entra rules explain)", suggestion.map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
pub struct UnknownRule {
    pub id: String,
    /// The rule id it is probably a typo of.
    pub suggestion: Option<&'static str>,
}

/// The documentation of one rule, or of the format and every rule.
pub fn explain(id: Option<&str>) -> Result<String, UnknownRule> {
    let defaults = super::config::SHIPPED[0].1;
    let describe = |(rule, what, params): &RuleDoc| {
        let mut text = format!("{}\n  Flags {what}\n", rule.as_str());
        for (name, doc) in params.iter() {
            text.push_str(&format!("  {name}: {doc}\n"));
        }
        let header = format!("[rules.{}]", rule.as_str());
        if let Some(start) = defaults.find(&header) {
            let section: String =
                defaults[start..].lines().take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n    ");
            text.push_str(&format!("  Default:\n    {section}\n"));
        }
        text
    };
    match id {
        None => {
            let mut text = FORMAT.to_string();
            text.push_str("\nRules\n\n");
            for entry in RULES {
                text.push_str(&describe(entry));
                text.push('\n');
            }
            Ok(text)
        }
        Some(id) => RULES.iter().find(|(r, _, _)| r.as_str() == id).map(describe).ok_or_else(|| UnknownRule {
            id: id.to_string(),
            suggestion: super::suggest::closest(id, RuleId::ALL.iter().map(|r| r.as_str())),
        }),
    }
}
