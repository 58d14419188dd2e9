//! HTML: one self-contained page for reviewers. A summary, four inline SVG charts drawn here (no
//! JavaScript charting), every finding in a table that a small inline script sorts and filters,
//! each finding linked to the full text of its guidance, exceptions to review, the rules.
//!
//! Nothing is loaded from elsewhere: no scripts, styles, fonts or images, and a Content Security
//! Policy forbids them too, so the page works offline and can be forwarded. The only links that
//! leave the page are the guidance's own (Microsoft Learn and its "see also" pages).
//!
//! The markup is in askama templates: `templates/report.html` on the shared `templates/base.html`,
//! the charts in `templates/chart*.html`. This module prepares what they show: the record's texts,
//! the counts, every coordinate of the charts. The templates print values only through the
//! report's HTML escaper (`askama.toml`, [`super::escape::Html`]), so names from the directory,
//! which are hostile, never become markup, and no code here escapes by hand.

use crate::finding::{Finding, Severity};
use crate::guidance::{Confidence, Guidance, USES};
use crate::inventory::{CoverageWarning, TokenState};
use crate::record::ScanRecord;
use crate::rules::{ExceptionStatus, RuleInfo};
use askama::Template;
use chrono::{Datelike, Months, NaiveDate};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

/// How many owners the risk chart shows.
const TOP_OWNERS: usize = 10;
/// Upper bounds (inclusive, in days) of the lifetime histogram's buckets; one more bucket holds
/// everything longer.
const LIFETIME_BUCKETS: [i64; 5] = [7, 30, 90, 180, 365];
/// Calendar months the expiry timeline covers, starting with the as-of month.
const TIMELINE_MONTHS: u32 = 12;
/// The rule whose `deadline` is the global PAT retirement date.
const GLOBAL_RULE: &str = "all-organizations";

/// Weight of one unsuppressed finding in an owner's risk score.
fn risk_weight(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 10,
        Severity::High => 5,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

/// Fill colour of a severity (charts and badges), and the text colour that reads on it.
fn severity_colours(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("#9d0208", "#ffffff"),
        Severity::High => ("#dc5f00", "#ffffff"),
        Severity::Medium => ("#e9b200", "#1d2330"),
        Severity::Low => ("#3f7cc4", "#ffffff"),
        Severity::Info => ("#8a94a6", "#ffffff"),
    }
}

pub(super) fn fill(severity: Severity) -> &'static str {
    severity_colours(severity).0
}

/// Bars that are not about a severity.
const ACCENT: &str = "#3f6fb0";
/// Tokens valid in all organizations (they stop working on the retirement date).
const GLOBAL_FILL: &str = "#9d0208";

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    write_page(&ReportPage::new(record), out)
}

/// The report with the trend charts of a scan history (`--history`) after its own charts.
pub fn render_with_trend(record: &ScanRecord, trend: &crate::trend::Trend, out: &mut dyn Write) -> io::Result<()> {
    let mut page = ReportPage::new(record);
    page.trend_charts = Some(super::trend::TrendCharts::new(trend));
    write_page(&page, out)
}

/// Writes a page template to `out` as it is rendered, in chunks: a report of a large
/// organization never sits whole in memory.
pub(super) fn write_page(page: &impl Template, out: &mut dyn Write) -> io::Result<()> {
    let mut sink = Sink { buffer: String::with_capacity(SINK_BUFFER * 2), out, error: None };
    let written = page.render_into(&mut sink);
    sink.flush()?;
    match (written, sink.error) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(io::Error::other(format!("the HTML page could not be written: {e}"))),
        (Ok(()), None) => Ok(()),
    }
}

/// Bytes gathered before they go out.
const SINK_BUFFER: usize = 64 * 1024;

/// `fmt::Write` over an `io::Write`, in chunks; remembers the first I/O error.
struct Sink<'w> {
    buffer: String,
    out: &'w mut dyn Write,
    error: Option<io::Error>,
}

impl Sink<'_> {
    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            self.out.write_all(self.buffer.as_bytes())?;
            self.buffer.clear();
        }
        Ok(())
    }
}

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buffer.push_str(s);
        if self.buffer.len() >= SINK_BUFFER
            && let Err(e) = self.flush()
        {
            self.error = Some(e);
            return Err(fmt::Error);
        }
        Ok(())
    }
}

// ---- the page (what `templates/report.html` reads) -----------------------------------------

/// The report page: the sections prepared from the record, the findings rows made one at a time
/// while the page is written ([`ReportPage::finding_rows`]).
#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    record: &'a ScanRecord,
    /// The guidance of the action column, by id.
    actions: HashMap<&'a str, GuidanceLink<'a>>,
    title: String,
    tool: &'a str,
    version: &'a str,
    organization: &'a str,
    redaction: Option<&'static str>,
    as_of_iso: String,
    as_of_text: String,
    rule_count: usize,
    finding_count: usize,
    severities: [Severity; 5],
    severity_colours: Vec<SeverityColours>,
    coverage: CoverageView<'a>,
    warnings: &'a [CoverageWarning],
    /// Each evidence source's coverage (`evidence.audit: unavailable (…)`).
    evidence: Vec<String>,
    /// Some sources were asked for and not read in full.
    evidence_gaps: bool,
    /// The audit log's limits, when it was asked for.
    audit_caveat: Option<&'static str>,
    cards: Cards,
    charts: Vec<Figure>,
    guidance: Vec<GuidanceText<'a>>,
    exceptions: ExceptionsView<'a>,
    rules: Vec<RuleRow<'a>>,
    /// The trend of the organization's scan history, with `--history`.
    trend_charts: Option<super::trend::TrendCharts>,
}

struct SeverityColours {
    severity: Severity,
    fill: &'static str,
    ink: &'static str,
}

struct CoverageView<'a> {
    complete: bool,
    listed: usize,
    scanned: usize,
    /// Owners whose tokens were not read.
    missed: usize,
    gaps: Vec<Gap<'a>>,
}

struct Gap<'a> {
    name: &'a str,
    upn: &'a str,
    error: &'a str,
}

struct Cards {
    tokens: usize,
    active: usize,
    expired: usize,
    revoked: usize,
    owners: usize,
    flagged: usize,
    open: usize,
    by_severity: Vec<SeverityCount>,
    accepted: usize,
    to_review: usize,
    retirement: Option<Retirement>,
}

struct SeverityCount {
    severity: Severity,
    findings: usize,
}

struct Retirement {
    date: NaiveDate,
    /// "in 5 days", "today", "3 days ago".
    when: String,
    /// Active tokens valid in all organizations.
    global: usize,
    /// The date has passed: they no longer work (else: they stop working then).
    past: bool,
}

/// One row of the findings table.
struct FindingRow<'p> {
    severity: Severity,
    severity_rank: u8,
    rule: &'p str,
    rule_anchor: String,
    token_id: &'p str,
    suppressed: bool,
    owner: &'p str,
    /// The owner's principal name, when it is not already the name shown.
    upn: Option<Upn<'p>>,
    deleted: bool,
    /// What is known of the owner's activity (`not a member`, `accessed 2026-11-20`).
    activity: Option<String>,
    /// An organization's finding (a tenant policy): no owner, no token.
    organization: bool,
    token: Option<TokenCell<'p>>,
    /// Last audited use (`seen_label`), when the audit log was asked for.
    seen: Option<String>,
    used_for: Option<UsedFor<'p>>,
    expires: Option<NaiveDate>,
    /// "expired" or "revoked".
    state: Option<&'static str>,
    message: &'p str,
    action: Action<'p>,
    accepted: Option<Accepted<'p>>,
}

/// A principal name split before its first `@` (long addresses break there).
struct Upn<'p> {
    local: &'p str,
    domain: Option<&'p str>,
}

struct TokenCell<'p> {
    name: &'p str,
    scopes: &'p [crate::Text],
    global: bool,
    /// An SSH key, not a PAT.
    ssh: bool,
}

struct UsedFor<'p> {
    name: &'p str,
    confidence: &'static str,
    evidence: &'p [crate::Text],
}

enum Action<'p> {
    Guidance(&'p GuidanceLink<'p>),
    /// A guidance id the record does not hold.
    Unknown(&'p str),
    None,
}

struct GuidanceLink<'a> {
    anchor: String,
    title: &'a str,
    action: Prose<'a>,
}

struct Accepted<'p> {
    exception: usize,
    /// Ticket and approver, when given.
    trace: Vec<&'p str>,
    expires: NaiveDate,
    reason: &'p str,
}

struct GuidanceText<'a> {
    anchor: String,
    id: &'a str,
    title: &'a str,
    action: Prose<'a>,
    findings: usize,
    /// Tokens this guidance was inferred for.
    tokens: usize,
    steps: Vec<Prose<'a>>,
    caveats: Vec<Prose<'a>>,
    keep_pat: Option<KeepPatText>,
    learn: Link<'a>,
    see_also: Vec<Link<'a>>,
}

struct KeepPatText {
    scopes: Prose<'static>,
    max_days: u32,
}

struct ExceptionsView<'a> {
    total: usize,
    active: usize,
    /// Findings the active exceptions accept.
    accepted: usize,
    /// Expired and stale exceptions.
    review: Vec<ExceptionRow<'a>>,
}

struct ExceptionRow<'a> {
    exception: usize,
    line: usize,
    status: &'static str,
    expired: bool,
    matched: usize,
    reason: &'a str,
    ticket: &'a str,
    expires: NaiveDate,
}

struct RuleRow<'a> {
    anchor: String,
    id: &'a str,
    severity: Severity,
    open: usize,
    accepted: usize,
    rationale: &'a str,
    deadline: Option<NaiveDate>,
}

/// Text whose `backticked` parts show as code (the guidance texts mark commands so); the
/// `prose` macro of `templates/macros.html` lays it out.
struct Prose<'a> {
    parts: Vec<ProsePart<'a>>,
}

struct ProsePart<'a> {
    code: bool,
    text: Cow<'a, str>,
}

impl<'a> Prose<'a> {
    fn new(text: &'a str) -> Self {
        Prose { parts: code_spans(text).map(|(code, r)| ProsePart { code, text: Cow::Borrowed(&text[r]) }).collect() }
    }

    fn owned(text: &str) -> Prose<'static> {
        Prose {
            parts: code_spans(text)
                .map(|(code, r)| ProsePart { code, text: Cow::Owned(text[r].to_string()) })
                .collect(),
        }
    }
}

/// The parts of `text` between backticks, every second one code. With an odd number of
/// backticks the last one is a plain character.
fn code_spans(text: &str) -> impl Iterator<Item = (bool, Range<usize>)> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('`') {
        parts.push(start..i);
        start = i + 1;
    }
    parts.push(start..text.len());
    // An even number of parts means an odd number of backticks: the last part keeps its tick.
    let tail =
        if parts.len().is_multiple_of(2) { parts.pop().map(|last| (false, last.start - 1..last.end)) } else { None };
    parts.into_iter().enumerate().map(|(i, r)| (i % 2 == 1, r)).chain(tail)
}

/// An address, followed as a link only when it is `https://` (a saved scan could hold
/// `javascript:` or a plain-text address); the `link` macro of `templates/macros.html`.
struct Link<'a> {
    url: &'a str,
    followable: bool,
}

impl<'a> Link<'a> {
    fn new(url: &'a str) -> Self {
        Link { url, followable: url.starts_with("https://") && !url.chars().any(char::is_whitespace) }
    }
}

impl<'a> ReportPage<'a> {
    fn new(r: &'a ScanRecord) -> Self {
        let rules: HashMap<&str, &RuleInfo> = r.rules.iter().map(|x| (x.id.as_str(), x)).collect();
        let retirement_date = rules.get(GLOBAL_RULE).and_then(|rule| rule.deadline);
        ReportPage {
            record: r,
            actions: r
                .guidance
                .iter()
                .map(|g| {
                    (
                        g.id.as_str(),
                        GuidanceLink { anchor: anchor(&g.id), title: &g.title, action: Prose::new(&g.action) },
                    )
                })
                .collect(),
            title: format!("PAT report: {} (as of {})", r.organization, r.as_of.format("%Y-%m-%d")),
            tool: &r.tool.name,
            version: &r.tool.version,
            organization: &r.organization,
            redaction: r.redaction.as_ref().map(|redaction| redaction.notice()),
            as_of_iso: r.as_of.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            as_of_text: r.as_of.format("%Y-%m-%d %H:%M UTC").to_string(),
            rule_count: r.rules.len(),
            finding_count: r.findings.len(),
            severities: Severity::ALL,
            severity_colours: Severity::ALL
                .iter()
                .map(|&severity| {
                    let (fill, ink) = severity_colours(severity);
                    SeverityColours { severity, fill, ink }
                })
                .collect(),
            coverage: coverage(r),
            warnings: &r.coverage.warnings,
            evidence: r.evidence.lines(),
            evidence_gaps: r.evidence.gaps().next().is_some(),
            audit_caveat: r.evidence.shows_audit().then_some(crate::evidence::AUDIT_CAVEAT),
            cards: cards(r, retirement_date),
            charts: [
                Some(chart_findings(r, &rules)),
                Some(chart_owners(r)),
                chart_owner_activity(r),
                Some(chart_expiry(r, retirement_date)),
                Some(chart_lifetimes(r)),
            ]
            .into_iter()
            .flatten()
            .collect(),
            guidance: guidance_texts(r),
            exceptions: exceptions(r),
            rules: rule_rows(r),
            trend_charts: None,
        }
    }

    /// The rows of the findings table, made as the template asks for them.
    fn finding_rows(&self) -> impl Iterator<Item = FindingRow<'_>> {
        self.record.findings.iter().map(|f| self.finding_row(f))
    }

    fn finding_row<'p>(&'p self, f: &'p Finding) -> FindingRow<'p> {
        let r = self.record;
        let token = r.token(&f.owner, &f.authorization_id);
        let (owner, upn) = if f.is_organization() { ("(organization)", "") } else { owner_name(r, &f.owner) };
        let upn = (!upn.is_empty()).then(|| match upn.split_once('@') {
            Some((local, domain)) => Upn { local, domain: Some(domain) },
            None => Upn { local: upn, domain: None },
        });
        let used_for = r.usage(&f.owner, &f.authorization_id).map(|u| UsedFor {
            name: USES.iter().find(|(id, _)| *id == u.inference.use_id).map_or(u.inference.use_id.as_str(), |(_, n)| n),
            confidence: match u.inference.confidence {
                Confidence::High => "high",
                Confidence::Medium => "medium",
                Confidence::Low => "low",
            },
            evidence: &u.inference.evidence,
        });
        let expires = token.and_then(|t| t.valid_to).map(|to| to.date_naive());
        let state = match token.map(|t| t.state(r.as_of)) {
            Some(TokenState::Expired) => Some("expired"),
            Some(TokenState::Revoked) => Some("revoked"),
            _ => None,
        };
        let action = match f.guidance.as_deref() {
            Some(id) => self.actions.get(id).map_or(Action::Unknown(id), Action::Guidance),
            None => Action::None,
        };
        FindingRow {
            severity: f.severity,
            severity_rank: f.severity as u8,
            rule: &f.rule,
            rule_anchor: anchor(&f.rule),
            token_id: &f.authorization_id,
            suppressed: f.is_suppressed(),
            owner,
            upn,
            deleted: r.owner(&f.owner).is_some_and(|o| o.deleted_in_origin),
            activity: r.owner(&f.owner).and_then(super::owner_activity),
            organization: f.is_organization(),
            token: token.map(|t| TokenCell {
                name: &t.display_name,
                scopes: &t.scopes,
                global: t.all_organizations,
                ssh: !t.kind.is_pat(),
            }),
            seen: token.and_then(|t| super::seen_label(r, t)),
            used_for,
            expires,
            state,
            message: &f.message,
            action,
            accepted: f.suppressed.as_deref().map(|s| Accepted {
                exception: s.exception,
                trace: [s.ticket.as_deref(), s.approver.as_deref()].into_iter().flatten().collect(),
                expires: s.expires,
                reason: &s.reason,
            }),
        }
    }
}

/// The name to show for an owner, and their principal name when it is not already the name.
fn owner_name<'a>(r: &'a ScanRecord, descriptor: &'a str) -> (&'a str, &'a str) {
    match r.owner(descriptor) {
        Some(o) if !o.display_name.is_empty() => (&o.display_name, &o.principal_name),
        Some(o) if !o.principal_name.is_empty() => (&o.principal_name, ""),
        _ => (descriptor, ""),
    }
}

// ---- summary -------------------------------------------------------------------------------

fn coverage(r: &ScanRecord) -> CoverageView<'_> {
    let c = &r.coverage;
    CoverageView {
        complete: c.complete,
        listed: c.owners_listed,
        scanned: c.owners_scanned,
        // A part of a sharded scan did not miss the owners of the other parts.
        missed: (c.owners_listed - c.owners_in_other_parts())
            .saturating_sub(c.owners_scanned)
            .max(c.owners_failed.len()),
        gaps: c
            .owners_failed
            .iter()
            .map(|gap| {
                let (name, upn) = owner_name(r, &gap.descriptor);
                Gap { name, upn, error: &gap.error }
            })
            .collect(),
    }
}

fn cards(r: &ScanRecord, retirement_date: Option<NaiveDate>) -> Cards {
    let s = &r.summary;
    let retirement = retirement_date.map(|date| {
        let days = (date - r.as_of.date_naive()).num_days();
        let when = match days {
            d if d > 0 => format!("in {d} day{}", plural(d as usize)),
            0 => "today".to_string(),
            d => format!("{} day{} ago", -d, plural((-d) as usize)),
        };
        let global = r.tokens.iter().filter(|t| t.all_organizations && t.state(r.as_of) == TokenState::Active).count();
        Retirement { date, when, global, past: days < 0 }
    });
    Cards {
        tokens: s.tokens,
        active: s.active_tokens,
        expired: s.expired_tokens,
        revoked: s.revoked_tokens,
        owners: s.owners,
        flagged: s.flagged_tokens,
        open: s.findings_by_severity.values().sum(),
        by_severity: Severity::ALL
            .iter()
            .map(|&severity| SeverityCount {
                severity,
                findings: s.findings_by_severity.get(&severity).copied().unwrap_or(0),
            })
            .collect(),
        accepted: s.suppressed_findings,
        to_review: r.exceptions.iter().filter(|e| e.status != ExceptionStatus::Active).count(),
        retirement,
    }
}

// ---- guidance, exceptions, rules -----------------------------------------------------------

fn guidance_texts(r: &ScanRecord) -> Vec<GuidanceText<'_>> {
    let mut findings: HashMap<&str, usize> = HashMap::new();
    for f in &r.findings {
        if let Some(id) = f.guidance.as_deref() {
            *findings.entry(id).or_default() += 1;
        }
    }
    let mut tokens: HashMap<&str, usize> = HashMap::new();
    for u in &r.usage {
        *tokens.entry(u.guidance.as_str()).or_default() += 1;
    }
    r.guidance
        .iter()
        .map(|g: &Guidance| GuidanceText {
            anchor: anchor(&g.id),
            id: &g.id,
            title: &g.title,
            action: Prose::new(&g.action),
            findings: findings.get(g.id.as_str()).copied().unwrap_or(0),
            tokens: tokens.get(g.id.as_str()).copied().unwrap_or(0),
            steps: g.steps.iter().map(|step| Prose::new(step)).collect(),
            caveats: g.caveats.iter().map(|caveat| Prose::new(caveat)).collect(),
            keep_pat: g
                .keep_pat
                .as_ref()
                .map(|keep| KeepPatText { scopes: Prose::owned(&keep.scopes.join(", ")), max_days: keep.max_days }),
            learn: Link::new(&g.learn),
            see_also: g.see_also.iter().map(|s| Link::new(s)).collect(),
        })
        .collect()
}

fn exceptions(r: &ScanRecord) -> ExceptionsView<'_> {
    let active = r.exceptions.iter().filter(|e| e.status == ExceptionStatus::Active);
    ExceptionsView {
        total: r.exceptions.len(),
        active: active.clone().count(),
        accepted: active.map(|e| e.matched_findings).sum(),
        review: r
            .exceptions
            .iter()
            .filter(|e| e.status != ExceptionStatus::Active)
            .map(|e| {
                let expired = e.status == ExceptionStatus::Expired;
                ExceptionRow {
                    exception: e.exception,
                    line: e.line,
                    status: if expired { "expired" } else { "stale" },
                    expired,
                    matched: e.matched_findings,
                    reason: &e.reason,
                    ticket: e.ticket.as_deref().unwrap_or(""),
                    expires: e.expires,
                }
            })
            .collect(),
    }
}

fn rule_rows(r: &ScanRecord) -> Vec<RuleRow<'_>> {
    let mut open: HashMap<&str, usize> = HashMap::new();
    let mut accepted: HashMap<&str, usize> = HashMap::new();
    for f in &r.findings {
        let counts = if f.is_suppressed() { &mut accepted } else { &mut open };
        *counts.entry(f.rule.as_ref()).or_default() += 1;
    }
    r.rules
        .iter()
        .map(|rule| RuleRow {
            anchor: anchor(&rule.id),
            id: &rule.id,
            severity: rule.severity,
            open: open.get(rule.id.as_str()).copied().unwrap_or(0),
            accepted: accepted.get(rule.id.as_str()).copied().unwrap_or(0),
            rationale: &rule.rationale,
            deadline: rule.deadline,
        })
        .collect()
}

// ---- charts --------------------------------------------------------------------------------

fn chart_findings(r: &ScanRecord, rules: &HashMap<&str, &RuleInfo>) -> Figure {
    let rows = findings_by_rule(r);
    let mut used = [false; 5];
    let bars = rows
        .iter()
        .map(|row| {
            let open: usize = row.open.iter().sum();
            let segments = Severity::ALL
                .iter()
                .zip(row.open)
                .enumerate()
                .filter(|(_, (_, n))| *n > 0)
                .map(|(i, (sev, n))| {
                    used[i] = true;
                    Segment {
                        value: n as f64,
                        fill: fill(*sev),
                        title: format!("{}: {n} open {sev} finding{}", row.rule, plural(n)),
                    }
                })
                .collect();
            let rationale = rules.get(row.rule.as_str()).map(|x| x.rationale.as_str()).unwrap_or_default();
            let accepted = if row.suppressed > 0 { format!(" (+{} accepted)", row.suppressed) } else { String::new() };
            Bar {
                label: row.rule.clone(),
                sub: String::new(),
                title: format!("{}: {open} open finding{}{accepted}. {rationale}", row.rule, plural(open)),
                segments,
                note: format!("{open}{accepted}"),
            }
        })
        .collect();
    let legend =
        Severity::ALL.iter().zip(used).filter(|(_, u)| *u).map(|(sev, _)| (sev.to_string(), fill(*sev))).collect();
    let chart = Chart {
        id: "chart-findings",
        title: "Open findings by rule and severity",
        legend,
        bars,
        empty: "No open findings.",
    };
    rows_figure(chart, 150.0, "Unsuppressed findings of each rule; hover a bar for the rule's rationale.".into())
}

fn chart_owners(r: &ScanRecord) -> Figure {
    let risks = owner_risk(r);
    let mut used = [false; 5];
    let bars = risks
        .iter()
        .take(TOP_OWNERS)
        .map(|risk| {
            let (name, upn) = owner_name(r, &risk.descriptor);
            let counts: Vec<String> = Severity::ALL
                .iter()
                .zip(risk.counts)
                .filter(|(_, n)| *n > 0)
                .map(|(sev, n)| format!("{n} {sev}"))
                .collect();
            let segments = Severity::ALL
                .iter()
                .zip(risk.counts)
                .enumerate()
                .filter(|(_, (sev, n))| *n > 0 && risk_weight(**sev) > 0)
                .map(|(i, (sev, n))| {
                    used[i] = true;
                    let points = n as u32 * risk_weight(*sev);
                    Segment {
                        value: f64::from(points),
                        fill: fill(*sev),
                        title: format!("{n} {sev} finding{} = {points} points", plural(n)),
                    }
                })
                .collect();
            let who = if upn.is_empty() { name.to_string() } else { format!("{name} ({upn})") };
            Bar {
                label: name.to_string(),
                sub: String::new(),
                title: format!("{who}: risk score {}; open findings: {}", risk.score, counts.join(", ")),
                segments,
                note: risk.score.to_string(),
            }
        })
        .collect();
    let legend =
        Severity::ALL.iter().zip(used).filter(|(_, u)| *u).map(|(sev, _)| (sev.to_string(), fill(*sev))).collect();
    let chart =
        Chart { id: "chart-owners", title: "Top owners by risk", legend, bars, empty: "No owner has open findings." };
    let note = format!(
        "The {TOP_OWNERS} owners with the highest risk score: open findings weighted critical 10, high 5, medium 2, \
         low 1 ({} owner{} with a score above 0).",
        risks.len(),
        plural(risks.len())
    );
    rows_figure(chart, 210.0, note)
}

/// Owners of active credentials by what is known of their activity: removed from the
/// organization, never accessed it, last access by age, or not read. Only when entitlements or
/// membership were asked for (a bare inventory knows nothing of owners' activity).
fn chart_owner_activity(r: &ScanRecord) -> Option<Figure> {
    use crate::evidence::{LastAccessed, Source};
    let asked = |s| r.evidence.source(s).is_some();
    if !asked(Source::Entitlements) && !asked(Source::Membership) {
        return None;
    }
    let labels = ["not a member", "never accessed", "over 90 days", "31 to 90 days", "within 30 days", "not read"];
    let mut counts = [0usize; 6];
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for t in r.tokens.iter().filter(|t| t.state(r.as_of) == TokenState::Active) {
        if !seen.insert(t.owner.as_str()) {
            continue;
        }
        let owner = r.owner(&t.owner);
        let bucket = match (owner.and_then(|o| o.member), owner.and_then(|o| o.last_accessed)) {
            (Some(false), _) => 0,
            (_, Some(LastAccessed::Never)) => 1,
            (_, Some(LastAccessed::At(at))) => match (r.as_of - at).num_days() {
                91.. => 2,
                31..=90 => 3,
                _ => 4,
            },
            (_, None) => 5,
        };
        counts[bucket] += 1;
    }
    let fills = [
        fill(Severity::Critical),
        fill(Severity::High),
        fill(Severity::Medium),
        fill(Severity::Low),
        ACCENT,
        fill(Severity::Info),
    ];
    let bars = labels
        .iter()
        .zip(counts)
        .zip(fills)
        .filter(|((label, n), _)| *n > 0 || **label != "not read")
        .map(|((label, n), colour)| Bar {
            label: label.to_string(),
            sub: String::new(),
            title: format!("{label}: {n} owner{} of active credentials", plural(n)),
            segments: if n > 0 {
                vec![Segment { value: n as f64, fill: colour, title: format!("{n} owner{}", plural(n)) }]
            } else {
                Vec::new()
            },
            note: n.to_string(),
        })
        .collect();
    let chart = Chart {
        id: "chart-owner-activity",
        title: "Owner activity",
        legend: Vec::new(),
        bars,
        empty: "No active credentials.",
    };
    let lines: Vec<String> = [Source::Entitlements, Source::Membership]
        .into_iter()
        .filter_map(|s| r.evidence.source(s).map(|c| format!("evidence.{s}: {}", c.describe())))
        .collect();
    Some(rows_figure(
        chart,
        150.0,
        format!(
            "Owners of active credentials by membership (Graph) and last access (User Entitlements); {}.",
            lines.join("; ")
        ),
    ))
}

fn chart_expiry(r: &ScanRecord, retirement_date: Option<NaiveDate>) -> Figure {
    let timeline = expiry_timeline(r);
    let bars = timeline
        .months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let total = m.global + m.scoped;
            let month = m.start.format("%B %Y");
            let mut segments = Vec::new();
            if m.scoped > 0 {
                segments.push(Segment {
                    value: m.scoped as f64,
                    fill: ACCENT,
                    title: format!("{month}: {} organization-scoped token{}", m.scoped, plural(m.scoped)),
                });
            }
            if m.global > 0 {
                segments.push(Segment {
                    value: m.global as f64,
                    fill: GLOBAL_FILL,
                    title: format!("{month}: {} token{} valid in all organizations", m.global, plural(m.global)),
                });
            }
            Bar {
                label: m.start.format("%b").to_string(),
                sub: if i == 0 || m.start.month() == 1 { m.start.year().to_string() } else { String::new() },
                title: format!("{month}: {total} active token{} expire", plural(total)),
                segments,
                note: if total > 0 { total.to_string() } else { String::new() },
            }
        })
        .collect();
    let chart = Chart {
        id: "chart-expiry",
        title: "Active tokens expiring in the next 12 months",
        legend: vec![("this organization".into(), ACCENT), ("all organizations".into(), GLOBAL_FILL)],
        bars,
        empty: "No active tokens.",
    };
    let start = timeline.months.first().map(|m| m.start).unwrap_or_else(|| r.as_of.date_naive());
    let end = start.checked_add_months(Months::new(TIMELINE_MONTHS)).unwrap_or(start);
    let mut marker = None;
    let mut note = format!("Active tokens by month of expiry, from {} on.", r.as_of.format("%Y-%m-%d"));
    if let Some(date) = retirement_date {
        if date >= start && date < end {
            let index = month_index(start, date);
            let month_start = date.with_day(1).unwrap_or(date);
            let days =
                month_start.checked_add_months(Months::new(1)).map_or(30, |next| (next - month_start).num_days());
            marker = Some(Marker {
                at: f64::from(index) + f64::from(date.day0()) / days as f64,
                label: if date > r.as_of.date_naive() {
                    format!("Global PATs stop working {date}")
                } else {
                    format!("Global PATs retired {date}")
                },
            });
            note.push_str(&format!(
                " The dashed line marks the global PAT retirement date ({date}): tokens valid in all \
                 organizations stop working then, whatever their expiry."
            ));
        } else if date < r.as_of.date_naive() {
            note.push_str(&format!(" The global PAT retirement date ({date}) has passed."));
        } else {
            note.push_str(&format!(" The global PAT retirement date ({date}) is beyond this window."));
        }
    }
    if timeline.later > 0 {
        note.push_str(&format!(" {} more expire later.", timeline.later));
    }
    if timeline.no_end > 0 {
        note.push_str(&format!(" {} have no expiry date.", timeline.no_end));
    }
    columns_figure(chart, marker, note)
}

fn chart_lifetimes(r: &ScanRecord) -> Figure {
    let buckets = lifetime_histogram(r);
    let bars = buckets
        .iter()
        .map(|(label, n)| Bar {
            label: label.clone(),
            sub: if label == "unknown" { String::new() } else { "days".into() },
            title: format!(
                "lifetime {label}{}: {n} active token{}",
                if label == "unknown" { "" } else { " days" },
                plural(*n)
            ),
            segments: if *n > 0 {
                vec![Segment { value: *n as f64, fill: ACCENT, title: format!("{n} token{}", plural(*n)) }]
            } else {
                Vec::new()
            },
            note: if *n > 0 { n.to_string() } else { String::new() },
        })
        .collect();
    let chart = Chart { id: "chart-lifetimes", title: "Token lifetimes", legend: Vec::new(), bars, empty: "" };
    columns_figure(
        chart,
        None,
        "Active tokens by total lifetime (valid to minus valid from), in days. Short-lived tokens limit the damage \
         of a leak."
            .into(),
    )
}

// ---- chart geometry (what `templates/chart*.html` draw) ------------------------------------

/// What a chart shows, before it is laid out.
struct Chart {
    id: &'static str,
    title: &'static str,
    legend: Vec<(String, &'static str)>,
    bars: Vec<Bar>,
    /// Shown instead of an empty chart.
    empty: &'static str,
}

struct Bar {
    label: String,
    /// A second label line (vertical charts).
    sub: String,
    title: String,
    segments: Vec<Segment>,
    /// Text at the end of the bar.
    note: String,
}

struct Segment {
    value: f64,
    fill: &'static str,
    title: String,
}

/// A labelled vertical line, at a position counted in bar slots from the left.
struct Marker {
    at: f64,
    label: String,
}

const WIDTH: f64 = 640.0;

/// A coordinate, written with one decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Px(f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// A length written as a whole number.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Whole(f64);

impl fmt::Display for Whole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.0}", self.0)
    }
}

/// One chart laid out: a figure with an SVG drawing (`templates/chart.html`).
struct Figure {
    id: &'static str,
    title: &'static str,
    width: f64,
    height: Whole,
    legend: Vec<Key>,
    plot: Plot,
    note: String,
}

enum Plot {
    /// A chart without bars says so, instead of drawing nothing.
    Empty(EmptyPlot),
    Rows(Rows),
    Columns(Columns),
}

struct EmptyPlot {
    x: f64,
    message: &'static str,
}

/// A colour key of the legend.
struct Key {
    x: Px,
    y: Px,
    text_x: Px,
    text_y: Px,
    name: String,
    fill: &'static str,
}

/// Horizontal bars (`templates/chart-rows.html`).
struct Rows {
    ticks: Vec<RowTick>,
    bars: Vec<Row>,
    bar_height: f64,
}

/// A vertical grid line and its value below the plot.
struct RowTick {
    x: Px,
    y1: Px,
    y2: Px,
    label_y: Px,
    value: f64,
}

struct Row {
    title: String,
    label_x: Px,
    /// Baseline of the label and of the value text.
    text_y: Px,
    label: String,
    rects: Vec<Rect>,
    value_x: Px,
    note: String,
}

/// One segment of a stacked bar.
struct Rect {
    x: Px,
    y: Px,
    width: Px,
    height: Px,
    fill: &'static str,
    title: String,
}

/// Vertical bars (`templates/chart-columns.html`).
struct Columns {
    /// Left end of the grid lines and baseline.
    left: f64,
    /// Right end of the grid lines and baseline.
    right: Px,
    ticks: Vec<ColumnTick>,
    bars: Vec<Column>,
    base: Px,
    marker: Option<MarkerLine>,
}

/// A horizontal grid line and its value left of the plot.
struct ColumnTick {
    y: Px,
    label_x: Px,
    label_y: Px,
    value: f64,
}

struct Column {
    title: String,
    rects: Vec<Rect>,
    centre: Px,
    /// Baseline of the note, above the bar.
    value_y: Px,
    note: String,
    label_y: Px,
    label: String,
    sub_y: Px,
    sub: String,
}

struct MarkerLine {
    label: String,
    x: Px,
    top: Px,
    text_x: Px,
    text_y: Px,
    /// `start` or `end`: the label stays inside the chart.
    anchor: &'static str,
}

fn empty_figure(chart: Chart, note: String) -> Figure {
    Figure {
        id: chart.id,
        title: chart.title,
        width: WIDTH,
        height: Whole(80.0),
        legend: Vec::new(),
        plot: Plot::Empty(EmptyPlot { x: WIDTH / 2.0, message: chart.empty }),
        note,
    }
}

fn legend(items: &[(String, &'static str)], x: f64, y: f64) -> Vec<Key> {
    let mut x = x;
    items
        .iter()
        .map(|(name, fill)| {
            let key = Key { x: Px(x), y: Px(y - 10.0), text_x: Px(x + 15.0), text_y: Px(y), name: name.clone(), fill };
            x += 15.0 + name.chars().count() as f64 * 6.8 + 18.0;
            key
        })
        .collect()
}

/// A round axis maximum at or above `max`, and the step between grid lines (whole numbers).
pub(super) fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = match raw / magnitude {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    } * magnitude;
    let step = step.max(1.0);
    ((max / step).ceil() * step, step)
}

/// The values of the grid lines: 0, `step`, … up to `axis_max`.
pub(super) fn grid_values(axis_max: f64, step: f64) -> Vec<f64> {
    let mut values = Vec::new();
    let mut v = 0.0;
    while v <= axis_max + 1e-9 {
        values.push(v);
        v += step;
    }
    values
}

fn total(bar: &Bar) -> f64 {
    bar.segments.iter().map(|s| s.value).sum()
}

/// Horizontal stacked bars, one row each, labels on the left.
fn rows_figure(chart: Chart, label_width: f64, note: String) -> Figure {
    if chart.bars.is_empty() {
        return empty_figure(chart, note);
    }
    let (row, bar_h) = (26.0, 16.0);
    let top = if chart.legend.is_empty() { 8.0 } else { 30.0 };
    let (left, right) = (label_width, 86.0);
    let plot_w = WIDTH - left - right;
    let plot_h = row * chart.bars.len() as f64;
    let height = top + plot_h + 24.0;
    let (axis_max, step) = nice_scale(chart.bars.iter().map(total).fold(0.0, f64::max));
    let ticks = grid_values(axis_max, step)
        .into_iter()
        .map(|value| {
            let x = Px(left + plot_w * value / axis_max);
            RowTick { x, y1: Px(top - 4.0), y2: Px(top + plot_h), label_y: Px(top + plot_h + 16.0), value }
        })
        .collect();
    let label_chars = ((label_width - 14.0) / 6.9) as usize;
    let bars = chart
        .bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let y = top + i as f64 * row + (row - bar_h) / 2.0;
            let mut x = left;
            let mut rects = Vec::with_capacity(bar.segments.len());
            for seg in bar.segments {
                let w = plot_w * seg.value / axis_max;
                if w <= 0.0 {
                    continue;
                }
                rects.push(Rect {
                    x: Px(x),
                    y: Px(y),
                    width: Px(w),
                    height: Px(bar_h),
                    fill: seg.fill,
                    title: seg.title,
                });
                x += w;
            }
            Row {
                title: bar.title,
                label_x: Px(left - 8.0),
                text_y: Px(y + bar_h / 2.0 + 4.0),
                label: clip(&bar.label, label_chars),
                rects,
                value_x: Px(x + 6.0),
                note: bar.note,
            }
        })
        .collect();
    Figure {
        id: chart.id,
        title: chart.title,
        width: WIDTH,
        height: Whole(height),
        legend: legend(&chart.legend, left, 16.0),
        plot: Plot::Rows(Rows { ticks, bars, bar_height: bar_h }),
        note,
    }
}

/// Vertical stacked bars, one slot each, labels below; an optional labelled marker line.
fn columns_figure(chart: Chart, marker: Option<Marker>, note: String) -> Figure {
    if chart.bars.is_empty() {
        return empty_figure(chart, note);
    }
    let height = 300.0;
    // Room above the plot: the legend, the marker's label, the value over the tallest bar.
    let top = 24.0 + if chart.legend.is_empty() { 0.0 } else { 22.0 } + if marker.is_some() { 16.0 } else { 0.0 };
    let (left, right, bottom) = (44.0, 14.0, 42.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let slot = plot_w / chart.bars.len() as f64;
    let bar_w = (slot * 0.62).min(64.0);
    let (axis_max, step) = nice_scale(chart.bars.iter().map(total).fold(0.0, f64::max));
    let base = top + plot_h;
    let ticks = grid_values(axis_max, step)
        .into_iter()
        .map(|value| {
            let y = base - plot_h * value / axis_max;
            ColumnTick { y: Px(y), label_x: Px(left - 6.0), label_y: Px(y + 4.0), value }
        })
        .collect();
    let bars = chart
        .bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
            let centre = x + bar_w / 2.0;
            let mut y = base;
            let mut rects = Vec::with_capacity(bar.segments.len());
            for seg in bar.segments {
                let h = plot_h * seg.value / axis_max;
                if h <= 0.0 {
                    continue;
                }
                y -= h;
                rects.push(Rect {
                    x: Px(x),
                    y: Px(y),
                    width: Px(bar_w),
                    height: Px(h),
                    fill: seg.fill,
                    title: seg.title,
                });
            }
            Column {
                title: bar.title,
                rects,
                centre: Px(centre),
                value_y: Px(y - 5.0),
                note: bar.note,
                label_y: Px(base + 16.0),
                label: bar.label,
                sub_y: Px(base + 31.0),
                sub: bar.sub,
            }
        })
        .collect();
    let marker = marker.map(|m| {
        let x = left + slot * m.at;
        let (text_x, anchor) = if x < WIDTH * 0.6 { (x + 6.0, "start") } else { (x - 6.0, "end") };
        MarkerLine { label: m.label, x: Px(x), top: Px(top - 30.0), text_x: Px(text_x), text_y: Px(top - 20.0), anchor }
    });
    Figure {
        id: chart.id,
        title: chart.title,
        width: WIDTH,
        height: Whole(height),
        legend: legend(&chart.legend, left, 16.0),
        plot: Plot::Columns(Columns { left, right: Px(WIDTH - right), ticks, bars, base: Px(base), marker }),
        note,
    }
}

// ---- text helpers --------------------------------------------------------------------------

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// An id usable in `id="…"` and `href="#…"` whatever the record holds.
fn anchor(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

// ---- chart data (pure) -------------------------------------------------------------------

/// Findings of one rule: open ones by severity (in `Severity::ALL` order) and accepted ones.
#[derive(Debug, PartialEq)]
struct RuleCounts {
    rule: String,
    open: [usize; 5],
    suppressed: usize,
}

fn severity_index(severity: Severity) -> usize {
    Severity::ALL.iter().position(|s| *s == severity).expect("every severity is in ALL")
}

/// Rules with open findings, worst severity first, then most findings.
fn findings_by_rule(r: &ScanRecord) -> Vec<RuleCounts> {
    let mut by_rule: BTreeMap<&str, RuleCounts> = BTreeMap::new();
    for f in &r.findings {
        let row = by_rule.entry(&f.rule).or_insert_with(|| RuleCounts {
            rule: f.rule.to_string(),
            open: [0; 5],
            suppressed: 0,
        });
        if f.is_suppressed() {
            row.suppressed += 1;
        } else {
            row.open[severity_index(f.severity)] += 1;
        }
    }
    let mut rows: Vec<RuleCounts> = by_rule.into_values().filter(|row| row.open.iter().sum::<usize>() > 0).collect();
    // `open` is in ALL order (critical first): comparing the arrays puts the worst rules first.
    rows.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.rule.cmp(&b.rule)));
    rows
}

/// Active tokens per lifetime bucket (labels with the bounds in days); an `unknown` bucket only
/// when some token lacks a date.
fn lifetime_histogram(r: &ScanRecord) -> Vec<(String, usize)> {
    let mut counts = [0usize; LIFETIME_BUCKETS.len() + 1];
    let mut unknown = 0;
    for t in r.tokens.iter().filter(|t| t.state(r.as_of) == TokenState::Active) {
        match t.lifetime_days() {
            Some(days) => {
                let i = LIFETIME_BUCKETS.iter().position(|max| days <= *max).unwrap_or(LIFETIME_BUCKETS.len());
                counts[i] += 1;
            }
            None => unknown += 1,
        }
    }
    let mut buckets: Vec<(String, usize)> = Vec::with_capacity(counts.len() + 1);
    let mut low = 0;
    for (i, n) in counts.into_iter().enumerate() {
        let label = match LIFETIME_BUCKETS.get(i) {
            Some(max) if low == 0 => format!("≤ {max}"),
            Some(max) => format!("{}–{max}", low + 1),
            None => format!("> {low}"),
        };
        if let Some(max) = LIFETIME_BUCKETS.get(i) {
            low = *max;
        }
        buckets.push((label, n));
    }
    if unknown > 0 {
        buckets.push(("unknown".into(), unknown));
    }
    buckets
}

#[derive(Debug, PartialEq)]
struct MonthCount {
    start: NaiveDate,
    global: usize,
    scoped: usize,
}

#[derive(Debug, PartialEq)]
struct Timeline {
    months: Vec<MonthCount>,
    /// Active tokens expiring after the last month.
    later: usize,
    /// Active tokens without an expiry date.
    no_end: usize,
}

fn month_index(start: NaiveDate, date: NaiveDate) -> i32 {
    (date.year() - start.year()) * 12 + date.month() as i32 - start.month() as i32
}

/// Active tokens by calendar month of expiry, the as-of month first.
fn expiry_timeline(r: &ScanRecord) -> Timeline {
    let today = r.as_of.date_naive();
    let start = today.with_day(1).unwrap_or(today);
    let mut months: Vec<MonthCount> = (0..TIMELINE_MONTHS)
        .filter_map(|i| start.checked_add_months(Months::new(i)))
        .map(|start| MonthCount { start, global: 0, scoped: 0 })
        .collect();
    let (mut later, mut no_end) = (0, 0);
    for t in r.tokens.iter().filter(|t| t.state(r.as_of) == TokenState::Active) {
        let Some(to) = t.valid_to else {
            no_end += 1;
            continue;
        };
        match months.get_mut(month_index(start, to.date_naive()).max(0) as usize) {
            Some(m) if t.all_organizations => m.global += 1,
            Some(m) => m.scoped += 1,
            None => later += 1,
        }
    }
    Timeline { months, later, no_end }
}

#[derive(Debug, PartialEq)]
struct OwnerRisk {
    descriptor: String,
    /// Open findings by severity, in `Severity::ALL` order.
    counts: [usize; 5],
    score: u32,
}

/// Owners with a risk score above zero, highest first (ties by descriptor, for a stable page).
fn owner_risk(r: &ScanRecord) -> Vec<OwnerRisk> {
    let mut by_owner: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for f in r.open_findings().filter(|f| !f.is_organization()) {
        by_owner.entry(&f.owner).or_default()[severity_index(f.severity)] += 1;
    }
    let mut risks: Vec<OwnerRisk> = by_owner
        .into_iter()
        .map(|(descriptor, counts)| {
            let score = Severity::ALL.iter().zip(counts).map(|(sev, n)| risk_weight(*sev) * n as u32).sum();
            OwnerRisk { descriptor: descriptor.to_string(), counts, score }
        })
        .filter(|risk| risk.score > 0)
        .collect();
    risks.sort_by(|a, b| {
        b.score.cmp(&a.score).then_with(|| b.counts.cmp(&a.counts)).then_with(|| a.descriptor.cmp(&b.descriptor))
    });
    risks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Coverage, Inventory, Owner, Token};
    use crate::rules::RuleSet;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    fn token(id: &str, owner: &str, scopes: &[&str], global: bool, lifetime: i64, days_left: i64) -> Token {
        let to = as_of() + Duration::days(days_left);
        Token {
            authorization_id: id.into(),
            owner: owner.into(),
            display_name: format!("token {id}"),
            scopes: scopes.iter().map(|s| crate::Text::from(*s)).collect(),
            all_organizations: global,
            target_accounts: if global { [].into() } else { ["org".into()].into() },
            valid_from: Some(to - Duration::days(lifetime)),
            valid_to: Some(to),
            is_valid: true,
            unreadable: None,
            ..Default::default()
        }
    }

    fn record(tokens: Vec<Token>) -> ScanRecord {
        let owner = |d: &str| Owner {
            descriptor: d.into(),
            display_name: d.to_uppercase(),
            principal_name: format!("{d}@contoso.com").into(),
            mail: None,
            origin: "aad".into(),
            deleted_in_origin: false,
            ..Default::default()
        };
        let inventory = Inventory {
            organization: "contoso".into(),
            owners: vec![owner("aad.a"), owner("aad.b")],
            tokens,
            coverage: Coverage::new(2, 2, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        ScanRecord::judge(inventory, &RuleSet::default_rules(), as_of())
    }

    #[test]
    fn scales_are_round_and_cover_the_maximum() {
        assert_eq!(nice_scale(0.0), (1.0, 1.0));
        assert_eq!(nice_scale(3.0), (3.0, 1.0));
        assert_eq!(nice_scale(114.0), (150.0, 50.0));
        assert_eq!(nice_scale(20.0), (20.0, 5.0));
        assert_eq!(nice_scale(7.0), (8.0, 2.0));
    }

    fn parts(prose: &Prose) -> Vec<(bool, String)> {
        prose.parts.iter().map(|p| (p.code, p.text.to_string())).collect()
    }

    #[test]
    fn text_helpers_mark_code_clip_and_judge_links() {
        let code = |t: &str| (true, t.to_string());
        let text = |t: &str| (false, t.to_string());
        assert_eq!(parts(&Prose::new("run `a <b>` now")), [text("run "), code("a <b>"), text(" now")]);
        assert_eq!(parts(&Prose::new("odd ` tick")), [text("odd "), text("` tick")]);
        assert_eq!(parts(&Prose::new("`x` and ` y")), [text(""), code("x"), text(" and "), text("` y")]);
        assert_eq!(parts(&Prose::owned("a``b")), [text("a"), code(""), text("b")]);
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(anchor("a b\"><x"), "a_b___x");
        assert!(!Link::new("javascript:alert(1)").followable);
        assert!(!Link::new("https://x/ y").followable);
        assert!(Link::new("https://learn.microsoft.com/x?a=1&b=2").followable);
    }

    #[test]
    fn guidance_texts_keep_their_code_and_lose_their_markup() {
        let mut record = record(vec![token("g", "aad.a", &["app_token"], true, 30, 20)]);
        let g = &mut record.guidance[0];
        g.action = "Run `az <x>` \u{202E}now <b>".into();
        g.learn = "https://learn.microsoft.com/a?b=1&c=\"><script>".into();
        g.see_also = vec!["javascript:alert(1)".into()];
        let mut out = Vec::new();
        render(&record, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("Run <code>az &lt;x&gt;</code> \u{FFFD}now &lt;b&gt;"));
        assert!(html.contains(
            "<a href=\"https://learn.microsoft.com/a?b=1&amp;c=&quot;&gt;&lt;script&gt;\" rel=\"noreferrer\">"
        ));
        assert!(html.contains("<p>See also: javascript:alert(1)</p>"));
        assert!(!html.contains("<b>") && !html.contains("<script>alert") && !html.contains('\u{202E}'));
    }

    #[test]
    fn principal_names_break_before_the_domain_and_show_whatever_their_shape() {
        let mut record = record(vec![
            token("1", "aad.a", &["app_token"], true, 30, 20),
            token("2", "aad.b", &["app_token"], true, 30, 20),
        ]);
        record.owners[0].principal_name = "@lone".into();
        record.owners[1].principal_name = "no-at".into();
        let mut out = Vec::new();
        render(&record, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("<td>AAD.A<br><span class=\"muted\"><wbr>@lone</span></td>"));
        assert!(html.contains("<td>AAD.B<br><span class=\"muted\">no-at</span></td>"));
    }

    /// Escaping is the templates' business and always on: no template marks a value safe or
    /// picks another escaper, so every value goes through `escape::Html`.
    #[test]
    fn templates_never_turn_escaping_off() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/templates");
        let mut templates = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text: String = std::fs::read_to_string(&path).unwrap().split_whitespace().collect();
            for bypass in ["|safe", "|escape", "|e(", "|e}", "|e|", "autoescape"] {
                assert!(!text.contains(bypass), "{} uses {bypass}", path.display());
            }
            templates += 1;
        }
        assert!(templates >= 8, "templates found in {}", dir.display());
    }

    #[test]
    fn lifetime_buckets_count_active_tokens_by_bound() {
        let mut revoked = token("r", "aad.a", &["vso.code"], false, 5, 10);
        revoked.is_valid = false;
        let record = record(vec![
            token("1", "aad.a", &["vso.code"], false, 7, 3),
            token("2", "aad.a", &["vso.code"], false, 8, 3),
            token("3", "aad.a", &["vso.code"], false, 400, 30),
            token("old", "aad.a", &["vso.code"], false, 5, -1),
            revoked,
        ]);
        let buckets = lifetime_histogram(&record);
        let labels: Vec<&str> = buckets.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["≤ 7", "8–30", "31–90", "91–180", "181–365", "> 365"]);
        let counts: Vec<usize> = buckets.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, [1, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn the_timeline_counts_months_from_the_as_of_month() {
        let record = record(vec![
            token("nov", "aad.a", &["vso.code"], false, 30, 2),    // 2026-11-28
            token("dec", "aad.a", &["vso.code"], true, 30, 10),    // 2026-12-06, global
            token("oct", "aad.a", &["vso.code"], false, 30, 330),  // 2027-10-22: the 12th month
            token("late", "aad.a", &["vso.code"], false, 30, 370), // 2027-12-01: later
        ]);
        let t = expiry_timeline(&record);
        assert_eq!(t.months.len(), 12);
        assert_eq!(t.months[0].start, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!((t.months[0].scoped, t.months[1].global, t.months[11].scoped), (1, 1, 1));
        assert_eq!((t.later, t.no_end), (1, 0));
    }

    #[test]
    fn owner_risk_weighs_open_findings() {
        let record = record(vec![
            token("g", "aad.a", &["app_token"], true, 30, 20), // critical + high
            token("b", "aad.b", &["vso.code"], false, 30, 20),
        ]);
        let risks = owner_risk(&record);
        assert_eq!(risks[0].descriptor, "aad.a");
        let expected: u32 =
            record.open_findings().filter(|f| f.owner == "aad.a").map(|f| risk_weight(f.severity)).sum();
        assert!(expected >= 15);
        assert_eq!(risks[0].score, expected);
        assert!(risks.iter().all(|r| r.score > 0));
    }

    #[test]
    fn an_empty_record_renders_with_empty_charts() {
        let record = record(vec![]);
        let mut out = Vec::new();
        render(&record, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("No open findings.") && html.contains("No owner has open findings."));
        assert!(html.contains("id=\"chart-lifetimes\"") && html.contains("id=\"chart-expiry\""));
        assert!(html.ends_with("</html>\n"));
    }
}
