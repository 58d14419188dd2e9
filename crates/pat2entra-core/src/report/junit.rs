//! JUnit XML: for the Azure Pipelines Tests tab (`PublishTestResults@2`, `testResultsFormat:
//! JUnit`) and GitHub test reporters. Valid against the Jenkins JUnit schema `junit-10.xsd`
//! (tests/data/junit-10.xsd, checked by tests/it/exports.rs).
//!
//! - One `<testsuite>` per organization (a tenant record: one per organization, and one per
//!   organization that could not be scanned at all, with an `<error>` case).
//! - Test cases, `classname` `ORGANIZATION.OWNER`, `name` `RULE: CREDENTIAL (AUTHORIZATION ID)`:
//!   every finding of a credential is a case; so is every enabled rule that judged an active
//!   credential and did not fire (a passing case). A rule that does not apply to the credential
//!   (the scope rules to an SSH key, `expired`/`revoked`/`exception-expired`) is no case; a rule
//!   that could not judge it (its evidence source not read, the owner's entitlements or
//!   membership unknown, a credential that could not be read) is no passing case either: it is
//!   counted in the suite's `not_judged.RULE` property. The output stays bounded: at most one
//!   case per credential and enabled rule (about 15 per credential), plus the organization's
//!   policy rules.
//! - An open finding at or above the threshold is a `<failure>`; below it, a passing case whose
//!   `<system-out>` holds the finding. The threshold is `--fail-on`; without it every open
//!   finding fails (a test report of all passing cases beside a critical finding would mislead;
//!   the exit code still gates only on `--fail-on`).
//! - A finding accepted by an exception is `<skipped>` with the exception's reason.
//! - Coverage gaps: an `<error>` case per owner whose credentials could not be read, and
//!   properties (`coverage`, `coverage.owner_not_read`, `evidence.SOURCE`, `not_judged.RULE`).
//!
//! Every text is escaped for XML 1.0: `&`, `<`, `>`, quotes; characters XML 1.0 forbids (C0
//! controls other than tab and line breaks, U+FFFE, U+FFFF) and the ones every report
//! replaces (escape sequences, bidi overrides) become U+FFFD or a space. No CDATA section is
//! written, so a name holding `]]>` is plain escaped text.

use super::Records;
use crate::evidence::{CredentialKind, Source};
use crate::finding::{Finding, Severity};
use crate::inventory::{Token, TokenState};
use crate::record::ScanRecord;
use crate::rules::RuleId;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

pub fn render(records: Records<'_>, fail_on: Option<Severity>, out: &mut dyn Write) -> io::Result<()> {
    let threshold = fail_on.unwrap_or(Severity::Info);
    let mut suites: Vec<Suite> = records.organizations().iter().map(|r| suite(r, threshold, fail_on)).collect();
    for failed in records.failed() {
        let mut s = Suite::new(&failed.organization, records.as_of());
        s.property("coverage", &format!("not scanned: {}", failed.reason));
        s.case(Case {
            classname: failed.organization.clone(),
            name: "scan organization".into(),
            outcome: Outcome::Error { message: failed.reason.clone() },
        });
        suites.push(s);
    }
    suites.sort_by(|a, b| a.name.cmp(&b.name));
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="pat2entra" tests="{}" failures="{}" errors="{}" time="0">"#,
        total(|s| s.cases.len()),
        total(|s| s.count(Outcome::is_failure)),
        total(|s| s.count(Outcome::is_error)),
    )?;
    for s in &suites {
        s.write(out)?;
    }
    writeln!(out, "</testsuites>")
}

/// The suite of one organization.
fn suite(record: &ScanRecord, threshold: Severity, fail_on: Option<Severity>) -> Suite {
    let org = &record.organization;
    let mut s = Suite::new(org, record.as_of);
    s.property("as_of", &record.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    s.property(
        "fail_on",
        &match fail_on {
            Some(sev) => sev.as_str().to_string(),
            None => "info (no --fail-on given: every open finding fails)".to_string(),
        },
    );
    let c = &record.coverage;
    s.property(
        "coverage",
        &if c.complete {
            format!("complete: {} of {} owners scanned", c.owners_scanned, c.owners_listed)
        } else {
            format!(
                "INCOMPLETE: {} of {} owners scanned, {} could not be read",
                c.owners_scanned,
                c.owners_listed,
                c.owners_failed.len()
            )
        },
    );
    for gap in &c.owners_failed {
        s.property("coverage.owner_not_read", &format!("{}: {}", record.owner_label(&gap.descriptor), gap.error));
    }
    for w in &c.warnings {
        s.property("coverage.warning", &format!("{}: {}", w.kind.as_str(), w.message));
    }
    for line in record.evidence.lines() {
        let (name, value) = line.split_once(": ").unwrap_or(("evidence", &line));
        s.property(name, value);
    }
    if let Some(redaction) = &record.redaction {
        s.property("redaction", redaction.notice());
    }

    let enabled: Vec<RuleId> = record.rules.iter().filter_map(|r| RuleId::parse(&r.id)).collect();
    // Rule -> (credentials it could not judge, why); an organization rule counts no credentials.
    let mut not_judged: BTreeMap<&'static str, (usize, &'static str)> = BTreeMap::new();

    // The organization's own findings and its policy rules.
    let org_findings: Vec<&Finding> = record.organization_findings().collect();
    for f in &org_findings {
        s.case(finding_case(record, org.clone(), f, threshold));
    }
    for rule in enabled.iter().filter(|r| is_policy(**r)) {
        if org_findings.iter().any(|f| f.rule == rule.as_str()) {
            continue;
        }
        if record.evidence.complete(Source::Policies) {
            s.case(Case { classname: org.clone(), name: rule.as_str().to_string(), outcome: Outcome::Passed });
        } else {
            not_judged.insert(rule.as_str(), (0, "the tenant policies were not read"));
        }
    }

    for gap in &c.owners_failed {
        s.case(Case {
            classname: format!("{org}.{}", record.owner_label(&gap.descriptor)),
            name: "read credentials".into(),
            outcome: Outcome::Error { message: gap.error.clone() },
        });
    }

    for token in &record.tokens {
        let classname = format!("{org}.{}", record.owner_label(&token.owner));
        let findings: Vec<&Finding> = record.findings_of(&token.owner, &token.authorization_id).collect();
        for f in &findings {
            let mut case = finding_case(record, classname.clone(), f, threshold);
            case.name = case_name(&f.rule, token);
            s.case(case);
        }
        if token.state(record.as_of) != TokenState::Active {
            continue;
        }
        for rule in &enabled {
            if findings.iter().any(|f| f.rule == rule.as_str()) {
                continue;
            }
            match judgement(*rule, record, token) {
                Judgement::Judged => s.case(Case {
                    classname: classname.clone(),
                    name: case_name(rule.as_str(), token),
                    outcome: Outcome::Passed,
                }),
                Judgement::NotApplicable => {}
                Judgement::NotJudged(why) => not_judged.entry(rule.as_str()).or_insert((0, why)).0 += 1,
            }
        }
    }
    for (rule, (count, why)) in not_judged {
        let value = match count {
            0 => why.to_string(),
            1 => format!("1 credential: {why}"),
            n => format!("{n} credentials: {why}"),
        };
        s.property(&format!("not_judged.{rule}"), &value);
    }
    s
}

fn is_policy(rule: RuleId) -> bool {
    matches!(
        rule,
        RuleId::PolicyGlobalPat | RuleId::PolicyFullScope | RuleId::PolicyMaxLifespan | RuleId::PolicyLeakRevocation
    )
}

enum Judgement {
    Judged,
    /// The rule never looks at such a credential: no case.
    NotApplicable,
    /// The rule would look at it but could not: no passing case, a `not_judged` count.
    NotJudged(&'static str),
}

/// Whether an enabled rule judged an active credential. Mirrors `rules::checks`
/// (`Check::applies_to`, `Check::applies_to_kind`) and the evidence each rule needs (README,
/// "Rules on evidence": a source not read never fires and never claims absence).
fn judgement(rule: RuleId, record: &ScanRecord, token: &Token) -> Judgement {
    use RuleId::*;
    if matches!(rule, ExceptionExpired | Expired | Revoked) || is_policy(rule) {
        return Judgement::NotApplicable;
    }
    if token.kind == CredentialKind::Ssh
        && !matches!(
            rule,
            LongLived | LongRemaining | ExpiringSoon | OwnerRemoved | OwnerNotMember | OwnerInactive | Leaked
        )
    {
        return Judgement::NotApplicable;
    }
    if token.unreadable.is_some() {
        return Judgement::NotJudged("a field of the credential could not be read");
    }
    let owner = record.owner(&token.owner);
    match rule {
        OwnerNotMember if owner.is_none_or(|o| o.member.is_none()) => {
            Judgement::NotJudged("the owner's membership was not read")
        }
        OwnerInactive if owner.is_none_or(|o| o.last_accessed.is_none()) => {
            Judgement::NotJudged("the owner's entitlements were not read")
        }
        Leaked | Unused if !record.evidence.complete(Source::Audit) => {
            Judgement::NotJudged("the audit log was not read in full")
        }
        OwnerRemoved | ServiceAccount if owner.is_none() => Judgement::NotJudged("the owner is not listed"),
        _ => Judgement::Judged,
    }
}

fn case_name(rule: &str, token: &Token) -> String {
    format!("{rule}: {} ({})", token.display_name, token.authorization_id)
}

fn finding_case(record: &ScanRecord, classname: String, f: &Finding, threshold: Severity) -> Case {
    let outcome = if let Some(s) = &f.suppressed {
        let mut message = format!("accepted by an exception: {}", s.reason);
        if let Some(ticket) = &s.ticket {
            let _ = write!(message, " (ticket {ticket})");
        }
        if let Some(approver) = &s.approver {
            let _ = write!(message, " (approved by {approver})");
        }
        let _ = write!(message, "; until {}", s.expires);
        Outcome::Skipped { message }
    } else {
        let mut detail = format!("{} [{}] {}", f.severity, f.rule, f.message);
        if let Some(g) = f.guidance.as_deref().and_then(|id| record.guidance(id)) {
            let _ = write!(detail, "\nWhat to do: {}: {}\nSee {}", g.title, g.action, g.learn);
        }
        if f.severity >= threshold {
            Outcome::Failure { severity: f.severity, message: f.message.to_string(), detail }
        } else {
            Outcome::Below { detail }
        }
    };
    Case { classname, name: f.rule.to_string(), outcome }
}

struct Suite {
    name: String,
    timestamp: String,
    properties: Vec<(String, String)>,
    cases: Vec<Case>,
}

struct Case {
    classname: String,
    name: String,
    outcome: Outcome,
}

enum Outcome {
    Passed,
    /// An open finding below the threshold: a passing case that shows it.
    Below {
        detail: String,
    },
    Failure {
        severity: Severity,
        message: String,
        detail: String,
    },
    Skipped {
        message: String,
    },
    /// Could not be judged at all (owner or organization not read).
    Error {
        message: String,
    },
}

impl Outcome {
    fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failure { .. })
    }
    fn is_error(&self) -> bool {
        matches!(self, Outcome::Error { .. })
    }
    fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped { .. })
    }
}

impl Suite {
    fn new(name: &str, as_of: chrono::DateTime<chrono::Utc>) -> Self {
        Suite {
            name: name.to_string(),
            timestamp: as_of.format("%Y-%m-%dT%H:%M:%S").to_string(),
            properties: Vec::new(),
            cases: Vec::new(),
        }
    }

    fn property(&mut self, name: &str, value: &str) {
        self.properties.push((name.to_string(), value.to_string()));
    }

    fn case(&mut self, case: Case) {
        self.cases.push(case);
    }

    fn count(&self, what: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| what(&c.outcome)).count()
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="{}" timestamp="{}" time="0" package="pat2entra">"#,
            attr(&self.name),
            self.cases.len(),
            self.count(Outcome::is_failure),
            self.count(Outcome::is_error),
            self.count(Outcome::is_skipped),
            self.timestamp,
        )?;
        writeln!(out, "    <properties>")?;
        for (name, value) in &self.properties {
            writeln!(out, r#"      <property name="{}" value="{}"/>"#, attr(name), attr(value))?;
        }
        writeln!(out, "    </properties>")?;
        for case in &self.cases {
            let open =
                format!(r#"    <testcase classname="{}" name="{}" time="0""#, attr(&case.classname), attr(&case.name));
            match &case.outcome {
                Outcome::Passed => writeln!(out, "{open}/>")?,
                Outcome::Below { detail } => {
                    writeln!(out, "{open}>")?;
                    writeln!(out, "      <system-out>{}</system-out>", text(detail))?;
                    writeln!(out, "    </testcase>")?;
                }
                Outcome::Failure { severity, message, detail } => {
                    writeln!(out, "{open}>")?;
                    writeln!(
                        out,
                        r#"      <failure type="{severity}" message="{}">{}</failure>"#,
                        attr(message),
                        text(detail)
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
                Outcome::Skipped { message } => {
                    writeln!(out, "{open}>")?;
                    writeln!(out, r#"      <skipped message="{}"/>"#, attr(message))?;
                    writeln!(out, "    </testcase>")?;
                }
                Outcome::Error { message } => {
                    writeln!(out, "{open}>")?;
                    writeln!(out, r#"      <error type="coverage-gap" message="{}"/>"#, attr(message))?;
                    writeln!(out, "    </testcase>")?;
                }
            }
        }
        writeln!(out, "  </testsuite>")
    }
}

/// A character XML 1.0 does not allow, or one every report replaces (`escape::is_replaced`).
fn replaced(c: char) -> Option<char> {
    if matches!(c, '\u{FFFE}' | '\u{FFFF}') {
        return Some('\u{FFFD}');
    }
    if super::escape::is_replaced(c) {
        return Some(if matches!(c, '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}') { ' ' } else { '\u{FFFD}' });
    }
    None
}

fn escape(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if keep_newlines => out.push('\n'),
            c => out.push(replaced(c).unwrap_or(c)),
        }
    }
    out
}

/// An attribute value: one line, escaped.
fn attr(s: &str) -> String {
    escape(s, false)
}

/// Element text: escaped, line breaks kept.
fn text(s: &str) -> String {
    escape(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_for_xml_1_0() {
        let hostile = "a]]>b<c>&\"'\u{0}\u{1b}[2J\u{7f}\u{202e}\u{fffe}\u{ffff}\td\ne";
        assert_eq!(
            attr(hostile),
            "a]]&gt;b&lt;c&gt;&amp;&quot;&apos;\u{fffd}\u{fffd}[2J\u{fffd}\u{fffd}\u{fffd}\u{fffd} d e"
        );
        assert_eq!(text("x\ny]]>"), "x\ny]]&gt;");
    }
}
