//! Reading a rules file: TOML into checks. Every problem of a file is reported in one run (not
//! only the first), each with file, line and column and the line itself with the bad value
//! underlined.

use super::checks::{Check, Policy, RuleId};
use super::exceptions::Exception;
use super::glob::Glob;
use super::suggest;
use super::{Problem, Rule, RuleSet, RulesError};
use crate::finding::Severity;
use crate::scopes::{self, Tier};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml::map::Map;

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
                $( $param: Option<Spanned<$ty>>, )*
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
    privileged_scope = "privileged-scope" => PrivilegedScope { tiers: Vec<Spanned<String>>, deny: Vec<String> }
    long_lived = "long-lived" => LongLived { max_lifetime_days: i64 }
    long_remaining = "long-remaining" => LongRemaining { max_remaining_days: i64 }
    broad_scope = "broad-scope" => BroadScope { max_scopes: i64, max_areas: i64 }
    service_account = "service-account" => ServiceAccount { patterns: Vec<String> }
    unknown_scope = "unknown-scope" => UnknownScope {}
    expiring_soon = "expiring-soon" => ExpiringSoon { within_days: i64 }
    exception_expired = "exception-expired" => ExceptionExpired {}
    expired = "expired" => Expired {}
    revoked = "revoked" => Revoked {}
    owner_not_member = "owner-not-member" => OwnerNotMember {}
    owner_inactive = "owner-inactive" => OwnerInactive { max_inactive_days: i64 }
    leaked = "leaked" => Leaked {}
    unused = "unused" => Unused { window_days: i64 }
    policy_global_pat = "policy-global-pat" => PolicyGlobalPat {}
    policy_full_scope = "policy-full-scope" => PolicyFullScope {}
    policy_max_lifespan = "policy-max-lifespan" => PolicyMaxLifespan {}
    policy_leak_revocation = "policy-leak-revocation" => PolicyLeakRevocation {}
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

/// An `[[exception]]`. Every field is optional here so that each key can be read alone (see
/// `read`); the required ones are checked in `convert_exceptions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionToml {
    #[serde(default)]
    rule: Option<Spanned<String>>,
    #[serde(default)]
    authorization_id: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    reason: Option<Spanned<String>>,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    expires: Option<Date>,
}

/// A rules file's text and name, for locating errors.
pub struct Source<'a> {
    name: &'a str,
    text: &'a str,
    /// Where each line starts, built at the first problem: a file with thousands of bad
    /// exceptions locates each in log time, not by counting from the start.
    line_starts: std::cell::OnceCell<Vec<usize>>,
    may_quote: std::cell::OnceCell<bool>,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        Source { name, text, line_starts: Default::default(), may_quote: Default::default() }
    }

    /// 1-based line and column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset);
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let line = starts.partition_point(|start| *start <= offset);
        let column = self.text[starts[line - 1]..offset].chars().count() + 1;
        (line, column)
    }

    fn problem(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Problem {
        let (line, column, snippet) = match span {
            Some(span) => {
                let (line, column) = self.position(span.start);
                let snippet = if self.may_quote() { snippet(self.text, span, line) } else { String::new() };
                (Some(line), Some(column), snippet)
            }
            None => (None, None, String::new()),
        };
        // serde's messages quote values (`unknown variant `…``): never one that looks like a
        // credential.
        let message = crate::redact::scrub_credentials(&message.into()).into_owned();
        Problem { file: self.name.to_string(), line, column, message, snippet }
    }

    /// Whether lines of the file may be quoted: only when it looks like a rules file. A file
    /// given to `--rules` by mistake (a secret file, a `.env`) is located by line and column
    /// only, never shown.
    fn may_quote(&self) -> bool {
        *self.may_quote.get_or_init(|| {
            let head = &self.text[..floor_char_boundary(self.text, 64 * 1024)];
            ["extends", "[rules.", "[[exception]]"].iter().any(|key| head.contains(key))
        })
    }

    /// A TOML error (syntax, or a value of the wrong type, or an unknown key) as a problem;
    /// `context` (`[rules.long-lived] `) says where, when it is not the top level.
    fn toml_problem(&self, e: &toml::de::Error, context: &str) -> Problem {
        self.problem(e.span(), format!("{context}{}", suggest::improve_unknown_field(e.message())))
    }
}

/// The largest char boundary of `text` at or before `offset`.
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Lines longer than this are not quoted (a minified or binary file): the position says enough.
const MAX_SNIPPET_LINE: usize = 240;

/// The line of `span` with the span underlined (to the end of the line when it goes on):
/// ```text
///    |
/// 12 | [rules.long-lifed]
///    |        ^^^^^^^^^^
/// ```
/// The line is shown sanitized (controls, tabs and bidi overrides replaced one for one, see
/// `report::sanitize`), and the marks are measured on what is shown, so they stay under the value.
fn snippet(text: &str, span: Range<usize>, line: usize) -> String {
    use crate::report::sanitize;
    use unicode_width::UnicodeWidthStr;
    let start = floor_char_boundary(text, span.start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let quoted = text[line_start..line_end].trim_end_matches('\r');
    // Not quoted: a line too long to help, a blank one, or one holding anything that looks like
    // a credential (a PAT pasted into a rules file).
    if quoted.len() > MAX_SNIPPET_LINE
        || quoted.trim().is_empty()
        || matches!(crate::redact::scrub_credentials(quoted), std::borrow::Cow::Owned(_))
    {
        return String::new();
    }
    let end = floor_char_boundary(text, span.end.clamp(start, line_start + quoted.len()));
    let pad = sanitize(&text[line_start..start]).width();
    let marks = sanitize(&text[start..end]).width().max(1);
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    format!("{gutter} |\n{number} | {}\n{gutter} | {}{}", sanitize(quoted), " ".repeat(pad), "^".repeat(marks))
}

/// Parses a rules file (and what it `extends`) into a rule set; every problem of the file in
/// one error, in file order.
pub fn parse(source: &Source<'_>) -> Result<RuleSet, RulesError> {
    let mut problems = Vec::new();
    let set = parse_with_depth(source, 0, &mut problems);
    match set {
        Some(set) if problems.is_empty() => Ok(set),
        _ => {
            // Problems without a place (`no extends`) first, then by position.
            problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
            Err(RulesError::Invalid(problems))
        }
    }
}

/// Reads the whole document as a `RulesFile`.
fn deserialize(doc: Spanned<DeTable<'_>>) -> Result<RulesFile, toml::de::Error> {
    RulesFile::deserialize(toml::de::Deserializer::from(doc))
}

/// A table of one entry.
fn one<'i>(key: &Spanned<std::borrow::Cow<'i, str>>, value: Spanned<DeValue<'i>>) -> DeTable<'i> {
    let mut table = Map::new();
    table.insert(key.clone(), value);
    table
}

/// A rules file as read, with the exceptions that could not be read (by index; left out of
/// the checks after reading, their problems already reported).
struct ReadFile {
    file: RulesFile,
    unreadable_exceptions: HashSet<usize>,
}

/// Reads the file's TOML. A file that does not read as a whole is read again piece by piece
/// (each top-level key, each rule table, each exception, and each key of those alone), so that
/// every bad key or value is a problem, not only the first serde meets. The pieces that read
/// are kept, so the checks after reading still run on them. `None` when too little could be
/// read for those checks (a syntax error, or an `extends` that is not a string).
fn read<'i>(source: &Source<'i>, problems: &mut Vec<Problem>) -> Option<ReadFile> {
    let (doc, syntax) = DeTable::parse_recoverable(source.text);
    if !syntax.is_empty() {
        // After a syntax error the rest of the document is a guess: only syntax is reported.
        problems.extend(syntax.iter().map(|e| source.toml_problem(e, "")));
        return None;
    }
    let whole = match deserialize(doc) {
        Ok(file) => return Some(ReadFile { file, unreadable_exceptions: HashSet::new() }),
        Err(e) => e,
    };
    let before = problems.len();
    // Parsed again rather than cloned beforehand: a file that reads (the usual case) costs one parse.
    let (doc, _) = DeTable::parse_recoverable(source.text);
    let doc_span = doc.span();
    let mut kept: DeTable<'i> = Map::new();
    let mut unreadable_exceptions = HashSet::new();
    let mut fatal = false;
    let try_piece = |table: DeTable<'i>| deserialize(Spanned::new(doc_span.clone(), table)).err();
    for (key, value) in doc.into_inner() {
        let value_span = value.span();
        match (key.get_ref().as_ref(), value.into_inner()) {
            ("rules", DeValue::Table(rules)) => {
                let mut good = Map::new();
                for (id, table) in rules {
                    if RuleId::parse(id.get_ref()).is_none() {
                        let hint = match suggest::closest(id.get_ref(), RuleId::ALL.iter().map(|r| r.as_str())) {
                            Some(s) => format!("; did you mean `{s}`?"),
                            None => " (`pat2entra rules explain` lists the rules)".to_string(),
                        };
                        problems
                            .push(source.problem(Some(id.span()), format!("unknown rule id `{}`{hint}", id.get_ref())));
                        continue;
                    }
                    let wrap = |v: Spanned<DeValue<'i>>| {
                        one(&key, Spanned::new(value_span.clone(), DeValue::Table(one(&id, v))))
                    };
                    let context = format!("[rules.{}] ", id.get_ref());
                    if read_piece(&table, &wrap, &try_piece, &context, source, problems) {
                        good.insert(id, table);
                    }
                }
                kept.insert(key, Spanned::new(value_span, DeValue::Table(good)));
            }
            ("exception", DeValue::Array(mut entries)) => {
                for (i, entry) in entries.iter_mut().enumerate() {
                    let wrap = |v: Spanned<DeValue<'i>>| {
                        let mut array = toml::de::DeArray::new();
                        array.push(v);
                        one(&key, Spanned::new(value_span.clone(), DeValue::Array(array)))
                    };
                    let context = format!("[[exception]] #{}: ", i + 1);
                    if !read_piece(entry, &wrap, &try_piece, &context, source, problems) {
                        // Kept in place as an empty table, so the others keep their numbers.
                        unreadable_exceptions.insert(i);
                        *entry = Spanned::new(entry.span(), DeValue::Table(Map::new()));
                    }
                }
                kept.insert(key, Spanned::new(value_span, DeValue::Array(entries)));
            }
            (name, value) => {
                let is_extends = name == "extends";
                let value = Spanned::new(value_span, value);
                if read_piece(&value, &|v| one(&key, v), &try_piece, "", source, problems) {
                    kept.insert(key, value);
                } else if is_extends {
                    fatal = true;
                }
            }
        }
    }
    if fatal {
        return None;
    }
    match deserialize(Spanned::new(doc_span, kept)) {
        Ok(file) if problems.len() > before => Some(ReadFile { file, unreadable_exceptions }),
        // Nothing was found piece by piece: the problem is the whole's.
        Ok(_) => {
            problems.push(source.toml_problem(&whole, ""));
            None
        }
        Err(e) => {
            problems.push(source.toml_problem(&e, ""));
            None
        }
    }
}

/// Whether `value` reads (wrapped by `wrap` into a document). If it does not and it is a table,
/// each of its keys is read alone, so that every bad key is a problem.
fn read_piece<'i>(
    value: &Spanned<DeValue<'i>>,
    wrap: &dyn Fn(Spanned<DeValue<'i>>) -> DeTable<'i>,
    try_piece: &dyn Fn(DeTable<'i>) -> Option<toml::de::Error>,
    context: &str,
    source: &Source<'_>,
    problems: &mut Vec<Problem>,
) -> bool {
    let Some(whole) = try_piece(wrap(value.clone())) else {
        return true;
    };
    let before = problems.len();
    if let DeValue::Table(table) = value.get_ref()
        && table.len() > 1
    {
        for (k, v) in table {
            let alone = Spanned::new(value.span(), DeValue::Table(one(k, v.clone())));
            if let Some(e) = try_piece(wrap(alone)) {
                problems.push(source.toml_problem(&e, context));
            }
        }
    }
    if problems.len() == before {
        problems.push(source.toml_problem(&whole, context));
    }
    false
}

/// `extends = "none"`: the file stands alone (only the rules it lists run).
const EXTENDS_NONE: &str = "none";

fn parse_with_depth(source: &Source<'_>, depth: usize, problems: &mut Vec<Problem>) -> Option<RuleSet> {
    let resolved = resolve(source, depth, problems)?;
    let mut rules = convert_rules(source, resolved.tables, problems);
    for rule in &mut rules {
        rule.from_file = resolved.own_rules.contains(&rule.id.as_str());
    }
    Some(RuleSet { rules, exceptions: resolved.exceptions, extends: resolved.extends })
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
/// exceptions of the whole chain, numbered in order. `None` when the file's base is unknown
/// (its problems are in `problems`).
fn resolve(source: &Source<'_>, depth: usize, problems: &mut Vec<Problem>) -> Option<Resolved> {
    let ReadFile { file, unreadable_exceptions } = read(source, problems)?;
    let own_rules = file.rules.present();
    // A file without `extends` used to stand alone silently, turning off every shipped rule it
    // did not list; standing alone must now be said explicitly.
    let (tables, mut exceptions) = match &file.extends {
        None => {
            problems.push(source.problem(
                None,
                "no `extends`: say what this file builds on. Add extends = \"default\" as its first line to \
                 start from the shipped rules and change only what the file lists (usual), or \
                 extends = \"none\" to run only the rules this file lists",
            ));
            // The rest is still checked, as if it stood alone.
            (file.rules, Vec::new())
        }
        Some(extends) if extends.get_ref() == EXTENDS_NONE => (file.rules, Vec::new()),
        Some(extends) => {
            let name = extends.get_ref().as_str();
            let Some((base_name, base_text)) = SHIPPED.iter().find(|(n, _)| *n == name) else {
                let hint = suggest::closest(name, SHIPPED.iter().map(|(n, _)| *n))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                problems.push(source.problem(
                    Some(extends.span()),
                    format!("extends = \"{name}\": no such rule set (shipped: default, strict; or none){hint}"),
                ));
                // Checking the rest against no base would report every parameter as missing.
                return None;
            };
            if depth >= SHIPPED.len() {
                problems.push(source.problem(Some(extends.span()), "extends goes round in a circle"));
                return None;
            }
            let base_name = format!("rules/{base_name}.toml (built in)");
            let base_source = Source::new(&base_name, base_text);
            let base = resolve(&base_source, depth + 1, problems)?;
            (base.tables.overlay(file.rules), base.exceptions)
        }
    };
    let extends = file.extends.as_ref().map(|e| e.get_ref().clone()).filter(|e| e != EXTENDS_NONE);
    let mut own = convert_exceptions(source, file.exception, &unreadable_exceptions, problems);
    let offset = exceptions.len();
    for e in &mut own {
        e.number += offset;
    }
    exceptions.extend(own);
    Some(Resolved { tables, exceptions, own_rules, extends })
}

/// Builds the enabled rules, checking every parameter; a rule with a problem is left out (and
/// the problem recorded).
fn convert_rules(source: &Source<'_>, t: RuleTables, problems: &mut Vec<Problem>) -> Vec<Rule> {
    let mut rules = Vec::new();
    let problems = std::cell::RefCell::new(problems);
    let report = |span: Range<usize>, message: String| problems.borrow_mut().push(source.problem(Some(span), message));
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
                    } else if let Some(severity) = cfg.severity {
                        Some((cfg, span, severity))
                    } else {
                        report(
                            span,
                            format!("[rules.{}] needs `severity` (critical, high, medium, low or info)", $id.as_str()),
                        );
                        None
                    }
                }
            }
        }};
    }
    // A required parameter: its value, or a problem at the rule's table.
    let need = |value: Option<Spanned<i64>>, span: &Range<usize>, id: RuleId, param: &str| -> Option<Spanned<i64>> {
        if value.is_none() {
            report(
                span.clone(),
                format!("[rules.{}] needs `{param}` (or start the file with extends = \"default\")", id.as_str()),
            );
        }
        value
    };
    // A count or a number of days: at least 1, or a problem at the value.
    let positive = |value: Option<Spanned<i64>>, id: RuleId, param: &str| -> Option<i64> {
        let value = value?;
        if *value.get_ref() < 1 {
            report(
                value.span(),
                format!("[rules.{}] {param} must be at least 1, not {}", id.as_str(), value.get_ref()),
            );
            None
        } else {
            Some(value.into_inner())
        }
    };
    let mut push = |id: RuleId, severity: Severity, rationale: Option<String>, check: Check| {
        rules.push(Rule { id, severity, rationale: rationale.unwrap_or_default(), check, from_file: false })
    };

    let id = RuleId::AllOrganizations;
    if let Some((cfg, span, sev)) = common!(t.all_organizations, id) {
        match cfg.retirement_date {
            Some(date) => {
                push(id, sev, cfg.rationale, Check::AllOrganizations { retirement_date: date.into_inner().0 })
            }
            None => report(
                span,
                format!(
                    "[rules.{}] needs `retirement_date` (or start the file with extends = \"default\")",
                    id.as_str()
                ),
            ),
        }
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
    if let Some((cfg, _, sev)) = common!(t.privileged_scope, id) {
        let mut tiers = Vec::new();
        let mut all_known = true;
        for name in cfg.tiers.map(Spanned::into_inner).unwrap_or_default() {
            match parse_tier(name.get_ref()) {
                Some(tier) => tiers.push(tier),
                None => {
                    all_known = false;
                    report(
                        name.span(),
                        format!(
                            "[rules.privileged-scope] tiers: '{}' is not a tier (read, write, manage, full)",
                            name.get_ref()
                        ),
                    );
                }
            }
        }
        let deny = match cfg.deny {
            Some(list) => list.get_ref().iter().map(|s| s.to_ascii_lowercase()).collect(),
            None => scopes::default_privileged().into_iter().map(str::to_string).collect(),
        };
        if all_known {
            push(id, sev, cfg.rationale, Check::PrivilegedScope { tiers, deny });
        }
    }
    let id = RuleId::LongLived;
    if let Some((cfg, span, sev)) = common!(t.long_lived, id) {
        let max = need(cfg.max_lifetime_days, &span, id, "max_lifetime_days");
        if let Some(max_lifetime_days) = positive(max, id, "max_lifetime_days") {
            push(id, sev, cfg.rationale, Check::LongLived { max_lifetime_days });
        }
    }
    let id = RuleId::LongRemaining;
    if let Some((cfg, span, sev)) = common!(t.long_remaining, id) {
        let max = need(cfg.max_remaining_days, &span, id, "max_remaining_days");
        if let Some(max_remaining_days) = positive(max, id, "max_remaining_days") {
            push(id, sev, cfg.rationale, Check::LongRemaining { max_remaining_days });
        }
    }
    let id = RuleId::BroadScope;
    if let Some((cfg, span, sev)) = common!(t.broad_scope, id) {
        let scopes = positive(need(cfg.max_scopes, &span, id, "max_scopes"), id, "max_scopes");
        let areas = positive(need(cfg.max_areas, &span, id, "max_areas"), id, "max_areas");
        if let (Some(scopes), Some(areas)) = (scopes, areas) {
            let check = Check::BroadScope { max_scopes: scopes as usize, max_areas: areas as usize };
            push(id, sev, cfg.rationale, check);
        }
    }
    let id = RuleId::ServiceAccount;
    if let Some((cfg, span, sev)) = common!(t.service_account, id) {
        match cfg.patterns {
            None => report(
                span,
                format!("[rules.{}] needs `patterns` (or start the file with extends = \"default\")", id.as_str()),
            ),
            Some(patterns) if patterns.get_ref().iter().any(|p| p.trim().is_empty()) => {
                report(patterns.span(), "[rules.service-account] patterns must not be empty strings".to_string())
            }
            Some(patterns) => {
                let patterns = patterns.get_ref().iter().map(|p| Glob::new(p)).collect();
                push(id, sev, cfg.rationale, Check::ServiceAccount { patterns });
            }
        }
    }
    let id = RuleId::UnknownScope;
    if let Some((cfg, _, sev)) = common!(t.unknown_scope, id) {
        push(id, sev, cfg.rationale, Check::UnknownScope);
    }
    let id = RuleId::ExpiringSoon;
    if let Some((cfg, span, sev)) = common!(t.expiring_soon, id) {
        let within = need(cfg.within_days, &span, id, "within_days");
        if let Some(within_days) = positive(within, id, "within_days") {
            push(id, sev, cfg.rationale, Check::ExpiringSoon { within_days });
        }
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
    let id = RuleId::OwnerNotMember;
    if let Some((cfg, _, sev)) = common!(t.owner_not_member, id) {
        push(id, sev, cfg.rationale, Check::OwnerNotMember);
    }
    let id = RuleId::OwnerInactive;
    if let Some((cfg, span, sev)) = common!(t.owner_inactive, id) {
        let max = need(cfg.max_inactive_days, &span, id, "max_inactive_days");
        if let Some(max_inactive_days) = positive(max, id, "max_inactive_days") {
            push(id, sev, cfg.rationale, Check::OwnerInactive { max_inactive_days });
        }
    }
    let id = RuleId::Leaked;
    if let Some((cfg, _, sev)) = common!(t.leaked, id) {
        push(id, sev, cfg.rationale, Check::Leaked);
    }
    let id = RuleId::Unused;
    if let Some((cfg, span, sev)) = common!(t.unused, id) {
        let window = need(cfg.window_days, &span, id, "window_days");
        if let Some(window_days) = positive(window, id, "window_days") {
            push(id, sev, cfg.rationale, Check::Unused { window_days });
        }
    }
    let id = RuleId::PolicyGlobalPat;
    if let Some((cfg, _, sev)) = common!(t.policy_global_pat, id) {
        push(id, sev, cfg.rationale, Check::Policy(Policy::GlobalPat));
    }
    let id = RuleId::PolicyFullScope;
    if let Some((cfg, _, sev)) = common!(t.policy_full_scope, id) {
        push(id, sev, cfg.rationale, Check::Policy(Policy::FullScope));
    }
    let id = RuleId::PolicyMaxLifespan;
    if let Some((cfg, _, sev)) = common!(t.policy_max_lifespan, id) {
        push(id, sev, cfg.rationale, Check::Policy(Policy::MaxLifespan));
    }
    let id = RuleId::PolicyLeakRevocation;
    if let Some((cfg, _, sev)) = common!(t.policy_leak_revocation, id) {
        push(id, sev, cfg.rationale, Check::Policy(Policy::LeakRevocation));
    }
    rules
}

fn parse_tier(name: &str) -> Option<Tier> {
    [Tier::Read, Tier::Write, Tier::Manage, Tier::Full].into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name))
}

/// Builds the exceptions, checking each; one with a problem is left out (and the problem
/// recorded). `unreadable`: entries whose problems `read` reported already.
fn convert_exceptions(
    source: &Source<'_>,
    entries: Vec<Spanned<ExceptionToml>>,
    unreadable: &HashSet<usize>,
    problems: &mut Vec<Problem>,
) -> Vec<Exception> {
    let mut out: Vec<Exception> = Vec::new();
    let mut seen: HashMap<_, usize> = HashMap::new();
    // Lines counted from the previous exception on, not from the start of the file for each
    // one: 20 000 exceptions took most of a minute to number.
    let (mut counted_to, mut line) = (0, 1);
    for (i, entry) in entries.into_iter().enumerate() {
        if unreadable.contains(&i) {
            continue;
        }
        let span = entry.span();
        let start = span.start.min(source.text.len());
        if start >= counted_to {
            line += source.text[counted_to..start].matches('\n').count();
        } else {
            line = source.position(start).0;
        }
        counted_to = start;
        let e = entry.into_inner();
        let before = problems.len();
        let mut fail = |at: Range<usize>, message: String| {
            problems.push(source.problem(Some(at), format!("[[exception]] #{}: {message}", i + 1)))
        };
        if let Some(rule) = &e.rule
            && RuleId::parse(rule.get_ref()).is_none()
        {
            let hint = suggest::closest(rule.get_ref(), RuleId::ALL.iter().map(|r| r.as_str()))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            fail(rule.span(), format!("rule = \"{}\" is not a rule id{hint}", rule.get_ref()));
        }
        if e.rule.is_none() && e.authorization_id.is_none() && e.owner.is_none() && e.display_name.is_none() {
            fail(
                span.clone(),
                "matches everything; set at least one of rule, authorization_id, owner, display_name".into(),
            );
        }
        match &e.reason {
            None => fail(span.clone(), "needs `reason`: why the risk is accepted".into()),
            Some(reason) if reason.get_ref().trim().is_empty() => {
                fail(reason.span(), "`reason` must say why the risk is accepted".into())
            }
            Some(_) => {}
        }
        if e.ticket.is_none() && e.approver.is_none() {
            fail(span.clone(), "needs `ticket` or `approver`, so the decision can be traced".into());
        }
        if e.expires.is_none() {
            fail(span.clone(), "needs `expires`: the date the exception ends (e.g. expires = 2027-01-01)".into());
        }
        let (Some(reason), Some(expires)) = (e.reason, e.expires) else {
            continue;
        };
        if problems.len() > before {
            continue;
        }
        let exception = Exception {
            number: i + 1,
            line,
            rule: e.rule.map(Spanned::into_inner),
            authorization_id: e.authorization_id,
            owner: e.owner,
            display_name: e.display_name.as_deref().map(Glob::new),
            reason: reason.into_inner(),
            ticket: e.ticket,
            approver: e.approver,
            expires: expires.0,
        };
        if let Some(first_line) = seen.insert(exception.match_key(), line) {
            problems.push(source.problem(
                Some(span),
                format!(
                    "[[exception]] #{}: duplicates the exception on line {first_line} (same rule, token, owner and name)",
                    i + 1
                ),
            ));
            continue;
        }
        out.push(exception);
    }
    out
}
