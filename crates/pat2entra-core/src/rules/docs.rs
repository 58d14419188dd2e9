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
    (
        RuleId::OwnerRemoved,
        "an active credential whose owner is deleted in its origin directory (isDeletedInOrigin). The message says what is known: the directory says deleted and Token Admin still lists the credential as valid (Microsoft invalidates a disabled Entra user's PATs within an hour, so it may no longer work; revoke it to be sure).",
        &[],
    ),
    (
        RuleId::OwnerNotMember,
        "an active credential whose owner Graph membership state says is no longer a member of the organization (evidence source membership). Owners whose membership was not read are not judged.",
        &[],
    ),
    (
        RuleId::OwnerInactive,
        "an active credential whose owner last accessed the organization more than N days ago, or never (User Entitlements' lastAccessedDate; evidence source entitlements). Owners whose entitlements were not read are not judged.",
        &[("max_inactive_days", "longest accepted time since the owner's last access, days")],
    ),
    (
        RuleId::Leaked,
        "an active credential with a leak event in the audit log (Token.PatPublicDiscoveryEvent: found in a public place). Revoked and expired credentials are not flagged (nothing left to revoke); their leak event stays in the record and diff shows it. Without the audit log, nothing is claimed.",
        &[],
    ),
    (
        RuleId::Unused,
        "an active PAT with no audited use within the window (audit log's authenticationMechanism naming its authorization id), when the audit log was read in full (a partial or missing audit log never claims absence). PATs created within the window are too young to judge; the window is cut to what the audit log covers. Only audited actions are seen: read-only use is not logged, the audit log keeps 90 days, auditing can be off. SSH keys are not judged.",
        &[("window_days", "days back from the as-of date in which an audited use counts")],
    ),
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
    (
        RuleId::PolicyGlobalPat,
        "the organization (one finding, not per token) when the tenant policy RestrictGlobalPersonalAccessToken is off. Only when the policies were read (scan --evidence +policies); a policy that could not be read is a coverage gap, not a finding.",
        &[],
    ),
    (
        RuleId::PolicyFullScope,
        "the organization when the tenant policy RestrictFullScopePersonalAccessToken is off (only when the policies were read).",
        &[],
    ),
    (
        RuleId::PolicyMaxLifespan,
        "the organization when the tenant policy RestrictPersonalAccessTokenLifespan is off (only when the policies were read).",
        &[],
    ),
    (
        RuleId::PolicyLeakRevocation,
        "the organization when the tenant policy EnableLeakedPersonalAccessTokenAutoRevocation is off (only when the policies were read).",
        &[],
    ),
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

Credential kinds: SSH keys (kind ssh) are judged by the lifetime rules (long-lived,
long-remaining, expiring-soon), the owner rules (owner-removed, owner-not-member,
owner-inactive) and leaked; not by the scope or organization rules, nor unused.

Evidence: a rule whose source was not read (scan --evidence) never fires and never claims
absence. Organization findings (policy-*) name no token; an exception accepts one by its
rule id alone (rule = \"policy-global-pat\", no other match key).

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
