//! Reading a rules file: TOML into checks, with errors that name file, line and column.

use super::checks::{Check, RuleId};
use super::exceptions::Exception;
use super::glob::Glob;
use super::suggest;
use super::{Rule, RuleSet, RulesError};
use crate::finding::Severity;
use crate::scopes::{self, Tier};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

/// Rule sets that ship with pat2entra, usable with `extends`.
pub const SHIPPED: [(&str, &str); 2] = [
    ("default", include_str!("../../../../rules/default.toml")),
    ("strict", include_str!("../../../../rules/strict.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    extends: Option<Spanned<String>>,
    #[serde(default)]
    rules: RuleTables,
    #[serde(default)]
    exception: Vec<Spanned<ExceptionToml>>,
}

/// A date written as a TOML date (`2026-12-01`) or a string (`"2026-12-01"`).
#[derive(Debug, Clone, Copy)]
struct Date(NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::Datetime(dt) => match (dt.date, dt.time) {
                (Some(date), None) => {
                    NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
                        .map(Date)
                        .ok_or_else(|| D::Error::custom(format!("{date} is not a calendar date")))
                }
                _ => Err(D::Error::custom(format!("expected a date like 2026-12-01, found the date-time {dt}"))),
            },
            toml::Value::String(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| D::Error::custom(format!("'{s}' is not a date (expected YYYY-MM-DD, e.g. 2026-12-01)"))),
            other => Err(D::Error::custom(format!("expected a date (YYYY-MM-DD), found a {}", other.type_str()))),
        }
    }
}

/// Declares the `[rules.<id>]` tables: the fields every rule has (all optional here, so a file
/// that `extends` another can override just one), then each rule's own parameters.
macro_rules! rule_tables {
    ($( $field:ident = $id:literal => $cfg:ident { $($param:ident : $ty:ty),* $(,)? } )*) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RuleTables {
            $( #[serde(rename = $id, default)] $field: Option<Spanned<$cfg>>, )*
        }

        $(
            #[derive(Debug, Default, Clone, Deserialize)]
            #[serde(deny_unknown_fields)]
            struct $cfg {
                enabled: Option<bool>,
                severity: Option<Severity>,
                rationale: Option<String>,
                $( $param: Option<$ty>, )*
            }

            impl $cfg {
                /// `self` with every field `over` sets replaced.
                fn overlay(self, over: $cfg) -> $cfg {
                    $cfg {
                        enabled: over.enabled.or(self.enabled),
                        severity: over.severity.or(self.severity),
                        rationale: over.rationale.or(self.rationale),
                        $( $param: over.$param.or(self.$param), )*
                    }
                }
            }
        )*

        impl RuleTables {
            /// The rule ids this file has a table for.
            fn present(&self) -> Vec<&'static str> {
                let mut ids = Vec::new();
                $( if self.$field.is_some() { ids.push($id); } )*
                ids
            }

            fn overlay(self, over: RuleTables) -> RuleTables {
                RuleTables {
                    $( $field: merge(self.$field, over.$field, $cfg::overlay), )*
                }
            }
        }
    };
}

rule_tables! {
    all_organizations = "all-organizations" => AllOrganizations { retirement_date: Date }
    full_access = "full-access" => FullAccess {}
    owner_removed = "owner-removed" => OwnerRemoved {}
    privileged_scope = "privileged-scope" => PrivilegedScope { tiers: Vec<String>, deny: Vec<String> }
    long_lived = "long-lived" => LongLived { max_lifetime_days: i64 }
    long_remaining = "long-remaining" => LongRemaining { max_remaining_days: i64 }
    broad_scope = "broad-scope" => BroadScope { max_scopes: i64, max_areas: i64 }
    service_account = "service-account" => ServiceAccount { patterns: Vec<String> }
    unknown_scope = "unknown-scope" => UnknownScope {}
    expiring_soon = "expiring-soon" => ExpiringSoon { within_days: i64 }
    exception_expired = "exception-expired" => ExceptionExpired {}
    expired = "expired" => Expired {}
    revoked = "revoked" => Revoked {}
}

fn merge<T>(base: Option<Spanned<T>>, over: Option<Spanned<T>>, f: fn(T, T) -> T) -> Option<Spanned<T>> {
    match (base, over) {
        (Some(b), Some(o)) => {
            let span = o.span();
            Some(Spanned::new(span, f(b.into_inner(), o.into_inner())))
        }
        (b, None) => b,
        (None, o) => o,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionToml {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    authorization_id: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    reason: String,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    expires: Date,
}

/// A rules file's text and name, for locating errors.
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> RulesError {
        let (line, column) = span.map_or((None, None), |s| {
            let (l, c) = self.position(s.start);
            (Some(l), Some(c))
        });
        RulesError { file: self.name.to_string(), line, column, message: message.into() }
    }
}

/// Parses a rules file (and what it `extends`) into a rule set.
pub fn parse(source: &Source<'_>) -> Result<RuleSet, RulesError> {
    parse_with_depth(source, 0)
}

fn read(source: &Source<'_>) -> Result<RulesFile, RulesError> {
    toml::from_str(source.text).map_err(|e| {
        let message = suggest::improve_unknown_field(e.message());
        source.error(e.span(), message)
    })
}

/// `extends = "none"`: the file stands alone (only the rules it lists run).
const EXTENDS_NONE: &str = "none";

fn parse_with_depth(source: &Source<'_>, depth: usize) -> Result<RuleSet, RulesError> {
    let resolved = resolve(source, depth)?;
    let mut rules = convert_rules(source, resolved.tables)?;
    for rule in &mut rules {
        rule.from_file = resolved.own_rules.contains(&rule.id.as_str());
    }
    Ok(RuleSet { rules, exceptions: resolved.exceptions, extends: resolved.extends })
}

/// A rules file with what it `extends` underneath.
struct Resolved {
    tables: RuleTables,
    exceptions: Vec<Exception>,
    /// The rule ids the file itself has a table for (the others come from `extends`).
    own_rules: Vec<&'static str>,
    /// The shipped set it builds on; `None` for `extends = "none"`.
    extends: Option<String>,
}

/// The rule tables of a file with everything it `extends` (recursively) underneath, and the
/// exceptions of the whole chain, numbered in order.
fn resolve(source: &Source<'_>, depth: usize) -> Result<Resolved, RulesError> {
    let file = read(source)?;
    let own_rules = file.rules.present();
    // A file without `extends` used to stand alone silently, turning off every shipped rule it
    // did not list; standing alone must now be said explicitly.
    let (tables, mut exceptions) = match &file.extends {
        None => {
            return Err(source.error(
                None,
                "no `extends`: say what this file builds on. Add extends = \"default\" as its first line to \
                 start from the shipped rules and change only what the file lists (usual), or \
                 extends = \"none\" to run only the rules this file lists",
            ));
        }
        Some(extends) if extends.get_ref() == EXTENDS_NONE => (file.rules, Vec::new()),
        Some(extends) => {
            let name = extends.get_ref().as_str();
            let Some((base_name, base_text)) = SHIPPED.iter().find(|(n, _)| *n == name) else {
                let hint = suggest::closest(name, SHIPPED.iter().map(|(n, _)| *n))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                return Err(source.error(
                    Some(extends.span()),
                    format!("extends = \"{name}\": no such rule set (shipped: default, strict; or none){hint}"),
                ));
            };
            if depth >= SHIPPED.len() {
                return Err(source.error(Some(extends.span()), "extends goes round in a circle"));
            }
            let base_source = Source { name: &format!("rules/{base_name}.toml (built in)"), text: base_text };
            let base = resolve(&base_source, depth + 1)?;
            (base.tables.overlay(file.rules), base.exceptions)
        }
    };
    let extends = file.extends.as_ref().map(|e| e.get_ref().clone()).filter(|e| e != EXTENDS_NONE);
    let mut own = convert_exceptions(source, file.exception)?;
    let offset = exceptions.len();
    for e in &mut own {
        e.number += offset;
    }
    exceptions.extend(own);
    Ok(Resolved { tables, exceptions, own_rules, extends })
}

/// Builds the enabled rules, checking every parameter.
fn convert_rules(source: &Source<'_>, t: RuleTables) -> Result<Vec<Rule>, RulesError> {
    let mut rules = Vec::new();
    // Common fields: a rule present in the file must say its severity (directly or through
    // `extends`); `enabled` defaults to true.
    macro_rules! common {
        ($table:expr, $id:expr) => {{
            match $table {
                None => None,
                Some(spanned) => {
                    let span = spanned.span();
                    let cfg = spanned.into_inner();
                    if cfg.enabled == Some(false) {
                        None
                    } else {
                        let severity = cfg.severity.ok_or_else(|| {
                            source.error(
                                Some(span.clone()),
                                format!(
                                    "[rules.{}] needs `severity` (critical, high, medium, low or info)",
                                    $id.as_str()
                                ),
                            )
                        })?;
                        Some((cfg, span, severity))
                    }
                }
            }
        }};
    }
    let need = |span: &Range<usize>, id: RuleId, param: &str| {
        source.error(
            Some(span.clone()),
            format!("[rules.{}] needs `{param}` (or start the file with extends = \"default\")", id.as_str()),
        )
    };
    let positive = |span: &Range<usize>, id: RuleId, param: &str, value: i64| -> Result<i64, RulesError> {
        if value < 1 {
            Err(source
                .error(Some(span.clone()), format!("[rules.{}] {param} must be at least 1, not {value}", id.as_str())))
        } else {
            Ok(value)
        }
    };
    let mut push = |id: RuleId, severity: Severity, rationale: Option<String>, check: Check| {
        rules.push(Rule { id, severity, rationale: rationale.unwrap_or_default(), check, from_file: false })
    };

    let id = RuleId::AllOrganizations;
    if let Some((cfg, span, sev)) = common!(t.all_organizations, id) {
        let retirement_date = cfg.retirement_date.ok_or_else(|| need(&span, id, "retirement_date"))?.0;
        push(id, sev, cfg.rationale, Check::AllOrganizations { retirement_date });
    }
    let id = RuleId::FullAccess;
    if let Some((cfg, _, sev)) = common!(t.full_access, id) {
        push(id, sev, cfg.rationale, Check::FullAccess);
    }
    let id = RuleId::OwnerRemoved;
    if let Some((cfg, _, sev)) = common!(t.owner_removed, id) {
        push(id, sev, cfg.rationale, Check::OwnerRemoved);
    }
    let id = RuleId::PrivilegedScope;
    if let Some((cfg, span, sev)) = common!(t.privileged_scope, id) {
        let tiers = cfg
            .tiers
            .unwrap_or_default()
            .iter()
            .map(|name| {
                parse_tier(name).ok_or_else(|| {
                    source.error(
                        Some(span.clone()),
                        format!("[rules.privileged-scope] tiers: '{name}' is not a tier (read, write, manage, full)"),
                    )
                })
            })
            .collect::<Result<Vec<Tier>, _>>()?;
        let deny = match cfg.deny {
            Some(list) => list.iter().map(|s| s.to_ascii_lowercase()).collect(),
            None => scopes::default_privileged().into_iter().map(str::to_string).collect(),
        };
        push(id, sev, cfg.rationale, Check::PrivilegedScope { tiers, deny });
    }
    let id = RuleId::LongLived;
    if let Some((cfg, span, sev)) = common!(t.long_lived, id) {
        let max = cfg.max_lifetime_days.ok_or_else(|| need(&span, id, "max_lifetime_days"))?;
        let max_lifetime_days = positive(&span, id, "max_lifetime_days", max)?;
        push(id, sev, cfg.rationale, Check::LongLived { max_lifetime_days });
    }
    let id = RuleId::LongRemaining;
    if let Some((cfg, span, sev)) = common!(t.long_remaining, id) {
        let max = cfg.max_remaining_days.ok_or_else(|| need(&span, id, "max_remaining_days"))?;
        let max_remaining_days = positive(&span, id, "max_remaining_days", max)?;
        push(id, sev, cfg.rationale, Check::LongRemaining { max_remaining_days });
    }
    let id = RuleId::BroadScope;
    if let Some((cfg, span, sev)) = common!(t.broad_scope, id) {
        let scopes = cfg.max_scopes.ok_or_else(|| need(&span, id, "max_scopes"))?;
        let areas = cfg.max_areas.ok_or_else(|| need(&span, id, "max_areas"))?;
        let check = Check::BroadScope {
            max_scopes: positive(&span, id, "max_scopes", scopes)? as usize,
            max_areas: positive(&span, id, "max_areas", areas)? as usize,
        };
        push(id, sev, cfg.rationale, check);
    }
    let id = RuleId::ServiceAccount;
    if let Some((cfg, span, sev)) = common!(t.service_account, id) {
        let patterns = cfg.patterns.ok_or_else(|| need(&span, id, "patterns"))?;
        if patterns.iter().any(|p| p.trim().is_empty()) {
            return Err(source.error(Some(span), "[rules.service-account] patterns must not be empty strings"));
        }
        let patterns = patterns.iter().map(|p| Glob::new(p)).collect();
        push(id, sev, cfg.rationale, Check::ServiceAccount { patterns });
    }
    let id = RuleId::UnknownScope;
    if let Some((cfg, _, sev)) = common!(t.unknown_scope, id) {
        push(id, sev, cfg.rationale, Check::UnknownScope);
    }
    let id = RuleId::ExpiringSoon;
    if let Some((cfg, span, sev)) = common!(t.expiring_soon, id) {
        let within = cfg.within_days.ok_or_else(|| need(&span, id, "within_days"))?;
        let within_days = positive(&span, id, "within_days", within)?;
        push(id, sev, cfg.rationale, Check::ExpiringSoon { within_days });
    }
    let id = RuleId::ExceptionExpired;
    if let Some((cfg, _, sev)) = common!(t.exception_expired, id) {
        push(id, sev, cfg.rationale, Check::ExceptionExpired);
    }
    let id = RuleId::Expired;
    if let Some((cfg, _, sev)) = common!(t.expired, id) {
        push(id, sev, cfg.rationale, Check::Expired);
    }
    let id = RuleId::Revoked;
    if let Some((cfg, _, sev)) = common!(t.revoked, id) {
        push(id, sev, cfg.rationale, Check::Revoked);
    }
    Ok(rules)
}

fn parse_tier(name: &str) -> Option<Tier> {
    [Tier::Read, Tier::Write, Tier::Manage, Tier::Full].into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name))
}

fn convert_exceptions(source: &Source<'_>, entries: Vec<Spanned<ExceptionToml>>) -> Result<Vec<Exception>, RulesError> {
    let mut out: Vec<Exception> = Vec::new();
    let mut seen: HashMap<_, usize> = HashMap::new();
    // Lines counted from the previous exception on, not from the start of the file for each
    // one: 20 000 exceptions took most of a minute to number.
    let (mut counted_to, mut line) = (0, 1);
    for (i, entry) in entries.into_iter().enumerate() {
        let span = entry.span();
        let start = span.start.min(source.text.len());
        if start >= counted_to {
            line += source.text[counted_to..start].matches('\n').count();
        } else {
            line = source.position(start).0;
        }
        counted_to = start;
        let e = entry.into_inner();
        let fail = |message: String| source.error(Some(span.clone()), format!("[[exception]] #{}: {message}", i + 1));
        if let Some(rule) = &e.rule
            && RuleId::parse(rule).is_none()
        {
            let hint = suggest::closest(rule, RuleId::ALL.iter().map(|r| r.as_str()))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            return Err(fail(format!("rule = \"{rule}\" is not a rule id{hint}")));
        }
        if e.rule.is_none() && e.authorization_id.is_none() && e.owner.is_none() && e.display_name.is_none() {
            return Err(fail(
                "matches everything; set at least one of rule, authorization_id, owner, display_name".into(),
            ));
        }
        if e.reason.trim().is_empty() {
            return Err(fail("`reason` must say why the risk is accepted".into()));
        }
        if e.ticket.is_none() && e.approver.is_none() {
            return Err(fail("needs `ticket` or `approver`, so the decision can be traced".into()));
        }
        let exception = Exception {
            number: i + 1,
            line,
            rule: e.rule,
            authorization_id: e.authorization_id,
            owner: e.owner,
            display_name: e.display_name.as_deref().map(Glob::new),
            reason: e.reason,
            ticket: e.ticket,
            approver: e.approver,
            expires: e.expires.0,
        };
        if let Some(first_line) = seen.insert(exception.match_key(), line) {
            return Err(fail(format!(
                "duplicates the exception on line {first_line} (same rule, token, owner and name)"
            )));
        }
        out.push(exception);
    }
    Ok(out)
}
