//! Trends over a scan history: the numbers of each scan, credentials created and revoked per
//! period, when each finding was first seen and resolved, the median time to remediate per
//! severity, and the retirement burn-down against the plan.
//!
//! Pure: what one scan says for the history is read from its record ([`Observation`]), what
//! changed since the scans before is worked out from plain values ([`advance`]), and the trend
//! is computed from plain rows ([`HistoryRows`] -> [`Trend`]). The `pat2entra-history` crate only
//! stores and loads those rows (SQLite), so all of this is testable without a database.
//!
//! A finding is (organization, owner, credential, rule); an organization's own finding (a tenant
//! policy) is (organization, rule). It is **resolved** when a later scan that would have reported
//! it does not: the owner's tokens were read (not a coverage gap, nor an owner the scan did not
//! list), the rule ran, and the evidence the rule rests on was read in full. Anything less leaves
//! the finding open: an owner nobody read is not remediated. A finding that an exception comes to
//! accept is not resolved either: its episode ends as `suppressed`.

use crate::evidence::{CredentialKind, EventKind, Source};
use crate::finding::Severity;
use crate::inventory::TokenState;
use crate::plan::Wave;
use crate::record::ScanRecord;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The span `trend --period` groups credentials created and revoked by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// ISO weeks, Monday to Sunday.
    Week,
    #[default]
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The first day of the period holding `date`.
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Period::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the next period.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Week => start.checked_add_days(Days::new(7)).unwrap_or(NaiveDate::MAX),
            Period::Month => start.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX),
        }
    }

    /// `2026-11` for a month, `2026-W48` for a week.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
        }
    }
}

// ---- the rows a history holds ----------------------------------------------------------------

/// One scan of one organization: its numbers, as its record's summary has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanRow {
    pub organization: String,
    pub as_of: DateTime<Utc>,
    pub tool_version: String,
    pub coverage_complete: bool,
    pub owners_listed: usize,
    pub owners_failed: usize,
    pub tokens: usize,
    pub active_tokens: usize,
    /// Active credentials of kind PAT (what the burn-down counts).
    pub active_pats: usize,
    /// Open (unsuppressed) findings per severity, in [`Severity::ALL`] order (critical first).
    pub open: [usize; 5],
    pub suppressed: usize,
}

/// How the time of a revocation is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedHow {
    /// The audit log's revocation event (its time).
    Audit,
    /// Seen valid in one scan and revoked in a later one: the later scan's date (at the latest).
    Observed,
    /// Already revoked when first seen, with no event: when is not known.
    BeforeFirstSeen,
}

impl RevokedHow {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedHow::Audit => "audit",
            RevokedHow::Observed => "observed",
            RevokedHow::BeforeFirstSeen => "before_first_seen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RevokedHow::Audit, RevokedHow::Observed, RevokedHow::BeforeFirstSeen].into_iter().find(|h| h.as_str() == s)
    }
}

/// One credential of one organization, as the history knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRow {
    pub organization: String,
    /// The owner's principal name (the descriptor when the scan had no name).
    pub owner: String,
    pub authorization_id: String,
    pub kind: CredentialKind,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// The audit log's creation event, when one was read.
    pub created_at: Option<DateTime<Utc>>,
    /// The as-of date of the first scan that listed it.
    pub first_seen: DateTime<Utc>,
    /// When it was revoked (`None` in `at` for [`RevokedHow::BeforeFirstSeen`]).
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_how: Option<RevokedHow>,
}

impl CredentialRow {
    /// When it came to be: the audit log's creation event, else its `valid_from`.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.created_at.or(self.valid_from)
    }
}

/// How a finding's episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A later scan that would have reported it did not: remediated (revoked, expired, fixed).
    Resolved,
    /// An exception came to accept it (the open episode ends; a suppressed one starts).
    Suppressed,
    /// Its exception no longer accepts it (the suppressed episode ends; an open one starts).
    Unsuppressed,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Resolved => "resolved",
            Ending::Suppressed => "suppressed",
            Ending::Unsuppressed => "unsuppressed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Ending::Resolved, Ending::Suppressed, Ending::Unsuppressed].into_iter().find(|e| e.as_str() == s)
    }
}

/// One episode of one finding: from the first scan that reported it to the scan that ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    pub organization: String,
    /// The owner's principal name; empty for an organization's finding.
    pub owner: String,
    /// Empty for an organization's finding.
    pub authorization_id: String,
    pub rule: String,
    /// As the latest scan that reported it judged it.
    pub severity: Severity,
    pub suppressed: bool,
    pub first_seen: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ending: Option<Ending>,
}

/// Active PATs of one scan's retirement plan falling due on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRow {
    pub organization: String,
    /// The as-of date of the scan the plan was built from.
    pub as_of: DateTime<Utc>,
    pub wave: Wave,
    pub due: NaiveDate,
    pub pats: usize,
}

/// Everything a trend is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryRows {
    pub scans: Vec<ScanRow>,
    pub credentials: Vec<CredentialRow>,
    pub findings: Vec<FindingRow>,
    pub plan: Vec<PlanRow>,
}

// ---- what one scan says ----------------------------------------------------------------------

/// Rules that rest on an evidence source: a scan that did not read the source in full cannot
/// say the finding is gone.
const EVIDENCE_RULES: [(&str, Source); 8] = [
    ("owner-not-member", Source::Membership),
    ("owner-inactive", Source::Entitlements),
    ("leaked", Source::Audit),
    ("unused", Source::Audit),
    ("policy-global-pat", Source::Policies),
    ("policy-full-scope", Source::Policies),
    ("policy-max-lifespan", Source::Policies),
    ("policy-leak-revocation", Source::Policies),
];

/// A finding's identity within one organization: the owner's descriptor (the stable identity of
/// an owner) and the authorization id (both empty for an organization's finding), and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingKey {
    pub owner: String,
    pub authorization_id: String,
    pub rule: String,
}

/// One credential as one scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFacts {
    /// Descriptor of the owner.
    pub owner: String,
    pub authorization_id: String,
    pub kind: CredentialKind,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    /// The audit log's revocation event (a person's or the service's), the earliest.
    pub revoked_event: Option<DateTime<Utc>>,
    pub state: TokenState,
}

/// One finding as one scan reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingFacts {
    pub key: FindingKey,
    pub severity: Severity,
    pub suppressed: bool,
}

/// What one scan record says for the history: its numbers, owners, credentials, findings and
/// plan, and what it could judge (whose tokens it read, which rules ran, which evidence it read
/// in full). Only what a trend needs: no token names, no messages, no scopes.
#[derive(Debug, Clone)]
pub struct Observation {
    pub scan: ScanRow,
    /// (descriptor, principal name) of every owner the record lists.
    pub owners: Vec<(String, String)>,
    pub credentials: Vec<CredentialFacts>,
    pub findings: Vec<FindingFacts>,
    /// Active PATs of the plan per (wave, due date).
    pub plan: Vec<(Wave, NaiveDate, usize)>,
    /// Owners whose tokens were read.
    covered: HashSet<String>,
    rules: HashSet<String>,
    complete_sources: BTreeSet<Source>,
}

impl Observation {
    pub fn new(record: &ScanRecord) -> Self {
        let as_of = record.as_of;
        let failed: HashSet<&str> = record.coverage.owners_failed.iter().map(|f| f.descriptor.as_str()).collect();
        let covered = record
            .owners
            .iter()
            .filter(|o| !failed.contains(o.descriptor.as_str()))
            .map(|o| o.descriptor.to_string())
            .collect();
        let mut open = [0usize; 5];
        for (i, severity) in Severity::ALL.iter().enumerate() {
            open[i] = record.summary.findings_by_severity.get(severity).copied().unwrap_or(0);
        }
        let active_pats =
            record.tokens.iter().filter(|t| t.kind.is_pat() && t.state(as_of) == TokenState::Active).count();
        let mut plan: BTreeMap<(Wave, NaiveDate), usize> = BTreeMap::new();
        for item in crate::plan::build(record).owners.iter().flat_map(|o| &o.items) {
            if item.kind.is_pat() {
                *plan.entry((item.wave, item.due)).or_default() += 1;
            }
        }
        let event = |t: &crate::inventory::Token, kinds: &[EventKind]| {
            t.events.iter().filter(|e| kinds.contains(&e.kind)).map(|e| e.at).min()
        };
        Observation {
            scan: ScanRow {
                organization: record.organization.clone(),
                as_of,
                tool_version: record.tool.version.clone(),
                coverage_complete: record.coverage.complete,
                owners_listed: record.coverage.owners_listed,
                owners_failed: record.coverage.owners_failed.len(),
                tokens: record.summary.tokens,
                active_tokens: record.summary.active_tokens,
                active_pats,
                open,
                suppressed: record.summary.suppressed_findings,
            },
            owners: record.owners.iter().map(|o| (o.descriptor.to_string(), o.principal_name.to_string())).collect(),
            credentials: record
                .tokens
                .iter()
                .map(|t| CredentialFacts {
                    owner: t.owner.to_string(),
                    authorization_id: t.authorization_id.to_string(),
                    kind: t.kind,
                    valid_from: t.valid_from,
                    valid_to: t.valid_to,
                    created_at: event(t, &[EventKind::Created]),
                    revoked_event: event(t, &[EventKind::Revoked, EventKind::SystemRevoked]),
                    state: t.state(as_of),
                })
                .collect(),
            findings: record
                .findings
                .iter()
                .map(|f| FindingFacts {
                    key: FindingKey {
                        owner: f.owner.to_string(),
                        authorization_id: f.authorization_id.to_string(),
                        rule: f.rule.to_string(),
                    },
                    severity: f.severity,
                    suppressed: f.is_suppressed(),
                })
                .collect(),
            plan: plan.into_iter().map(|((wave, due), n)| (wave, due, n)).collect(),
            covered,
            rules: record.rules.iter().map(|r| r.id.clone()).collect(),
            complete_sources: Source::ALL.into_iter().filter(|s| record.evidence.complete(*s)).collect(),
        }
    }

    /// Whether this scan would have reported the finding had it still been there: the owner's
    /// tokens were read (an organization's finding: always), the rule ran, and the evidence the
    /// rule rests on was read in full.
    pub fn judges(&self, key: &FindingKey) -> bool {
        let owner_read = key.owner.is_empty() || self.covered.contains(&key.owner);
        let source_read = EVIDENCE_RULES
            .iter()
            .find(|(rule, _)| *rule == key.rule)
            .is_none_or(|(_, source)| self.complete_sources.contains(source));
        owner_read && self.rules.contains(&key.rule) && source_read
    }
}

/// A finding episode still open in the history (neither resolved nor turned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenEpisode {
    pub key: FindingKey,
    pub suppressed: bool,
    /// The credential is an SSH key: only a scan that read SSH keys in full can see it gone.
    pub ssh: bool,
}

/// What a new scan changes in the history's episodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Open episodes (by position in the list given) that end, and how.
    pub ended: Vec<(usize, Ending)>,
    /// Open episodes that go on, with the severity this scan gave them.
    pub continued: Vec<(usize, Severity)>,
    /// Episodes that start with this scan (positions in `Observation::findings`).
    pub started: Vec<usize>,
}

/// The episodes a scan ends, continues and starts, given the episodes open before it (of its
/// organization, from scans older than it). A finding reported again continues its episode; one
/// that turned suppressed (or back) ends its episode and starts the other kind; one not reported
/// ends as resolved only when the scan [`Observation::judges`] it, else stays open.
pub fn advance(open: &[OpenEpisode], observation: &Observation) -> Changes {
    let mut reported: HashMap<&FindingKey, usize> = HashMap::with_capacity(observation.findings.len());
    for (i, f) in observation.findings.iter().enumerate() {
        // A key twice in one record (it should not happen): the first one counts.
        reported.entry(&f.key).or_insert(i);
    }
    let mut changes = Changes::default();
    let mut carried: HashSet<usize> = HashSet::new();
    for (i, episode) in open.iter().enumerate() {
        match reported.get(&episode.key) {
            Some(&at) => {
                let facts = &observation.findings[at];
                if facts.suppressed == episode.suppressed {
                    changes.continued.push((i, facts.severity));
                    carried.insert(at);
                } else {
                    let how = if facts.suppressed { Ending::Suppressed } else { Ending::Unsuppressed };
                    changes.ended.push((i, how));
                }
            }
            // An SSH key is listed only when SSH keys are read: absent from a scan that did not
            // read them in full says nothing of it.
            None if episode.ssh && !observation.complete_sources.contains(&Source::Ssh) => {}
            None if observation.judges(&episode.key) => changes.ended.push((i, Ending::Resolved)),
            None => {}
        }
    }
    let mut seen: HashSet<&FindingKey> = HashSet::new();
    for (i, f) in observation.findings.iter().enumerate() {
        if !carried.contains(&i) && seen.insert(&f.key) {
            changes.started.push(i);
        }
    }
    changes
}

// ---- the trend -------------------------------------------------------------------------------

/// One date of the history: every organization's latest scan at or before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    pub as_of: DateTime<Utc>,
    /// Organizations scanned on this date.
    pub scanned: usize,
    /// Organizations counted with an older scan (not scanned on this date).
    pub carried: usize,
    /// Every scan counted had complete coverage.
    pub complete: bool,
    /// Open findings per severity, critical first ([`Severity::ALL`]); JSON: by name.
    #[serde(serialize_with = "by_severity")]
    pub open: [usize; 5],
    pub suppressed: usize,
    pub tokens: usize,
    pub active_pats: usize,
}

impl Point {
    pub fn open_total(&self) -> usize {
        self.open.iter().sum()
    }
}

/// Credentials created and revoked in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodCount {
    pub start: NaiveDate,
    pub label: String,
    pub created: usize,
    pub revoked: usize,
}

/// One finding episode, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingLife {
    pub organization: String,
    pub owner: String,
    pub authorization_id: String,
    pub rule: String,
    pub severity: Severity,
    pub suppressed: bool,
    pub first_seen: NaiveDate,
    pub ended: Option<NaiveDate>,
    pub ending: Option<Ending>,
    /// Days from first seen to resolved (resolved episodes only).
    pub days_to_resolve: Option<i64>,
}

/// Time to remediate for one severity: open findings (not accepted) that were resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remediation {
    pub severity: Severity,
    pub resolved: usize,
    /// Median days from first seen to resolved; `None` when none was resolved.
    pub median_days: Option<f64>,
    /// Still open at the latest scan of their organization.
    pub open: usize,
    /// Accepted by an exception while open.
    pub accepted: usize,
}

/// The retirement burn-down: active PATs per date, and the latest plan's target line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Burndown {
    /// Active PATs at each point.
    #[serde(serialize_with = "dated")]
    pub actual: Vec<(NaiveDate, usize)>,
    /// The date of the plan (the latest point).
    pub plan_as_of: Option<NaiveDate>,
    /// Active PATs the plan leaves after each due date, starting with all of them on the plan's
    /// date.
    #[serde(serialize_with = "dated")]
    pub target: Vec<(NaiveDate, usize)>,
    /// Active PATs per wave of the plan, with the wave's last due date.
    pub waves: Vec<WaveDue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveDue {
    pub wave: Wave,
    pub pats: usize,
    pub last_due: NaiveDate,
}

/// Everything `pat2entra trend` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// The organizations the history holds (of those selected), in name order.
    pub organizations: Vec<String>,
    pub scans: usize,
    pub period: Period,
    pub points: Vec<Point>,
    pub periods: Vec<PeriodCount>,
    /// Credentials created before the first period (counted in none).
    pub created_before: usize,
    /// Credentials revoked before the first period, or at a time not known.
    pub revoked_before: usize,
    pub remediation: Vec<Remediation>,
    /// Every finding episode, most severe first, then oldest first.
    pub findings: Vec<FindingLife>,
    pub burndown: Burndown,
}

impl Trend {
    /// Episodes by how they stand: (open, resolved, suppressed ones still open).
    pub fn finding_counts(&self) -> (usize, usize, usize) {
        let open = self.findings.iter().filter(|f| !f.suppressed && f.ended.is_none()).count();
        let resolved = self.findings.iter().filter(|f| f.ending == Some(Ending::Resolved)).count();
        let accepted = self.findings.iter().filter(|f| f.suppressed && f.ended.is_none()).count();
        (open, resolved, accepted)
    }

    /// Whether any point counts a scan with coverage gaps.
    pub fn incomplete_points(&self) -> usize {
        self.points.iter().filter(|p| !p.complete).count()
    }
}

/// `{"critical": n, "high": n, …}`.
fn by_severity<S: serde::Serializer>(open: &[usize; 5], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(5))?;
    for (severity, n) in Severity::ALL.iter().zip(open) {
        map.serialize_entry(severity.as_str(), n)?;
    }
    map.end()
}

/// `[{"date": "2026-11-20", "pats": n}, …]`.
fn dated<S: serde::Serializer>(values: &[(NaiveDate, usize)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Dated {
        date: NaiveDate,
        pats: usize,
    }
    s.collect_seq(values.iter().map(|(date, pats)| Dated { date: *date, pats: *pats }))
}

/// The median of whole numbers (the mean of the two middle ones for an even count).
fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) as f64 / 2.0 } else { values[mid] as f64 })
}

fn severity_index(severity: Severity) -> usize {
    Severity::ALL.iter().position(|s| *s == severity).unwrap_or(0)
}

/// Computes the trend of `rows` (already limited to the organizations wanted). Linear in the
/// rows, apart from sorting.
pub fn compute(rows: &HistoryRows, period: Period) -> Trend {
    let organizations: Vec<String> =
        rows.scans.iter().map(|s| s.organization.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let points = points(&rows.scans);
    let (periods, created_before, revoked_before) = periods(rows, &points, period);
    let mut findings: Vec<FindingLife> = rows
        .findings
        .iter()
        .map(|f| FindingLife {
            organization: f.organization.clone(),
            owner: f.owner.clone(),
            authorization_id: f.authorization_id.clone(),
            rule: f.rule.clone(),
            severity: f.severity,
            suppressed: f.suppressed,
            first_seen: f.first_seen.date_naive(),
            ended: f.ended_at.map(|d| d.date_naive()),
            ending: f.ending,
            days_to_resolve: match (f.ending, f.ended_at) {
                (Some(Ending::Resolved), Some(at)) => Some((at.date_naive() - f.first_seen.date_naive()).num_days()),
                _ => None,
            },
        })
        .collect();
    findings.sort_by(|a, b| {
        (b.severity, a.first_seen, &a.organization, &a.rule, &a.owner, &a.authorization_id).cmp(&(
            a.severity,
            b.first_seen,
            &b.organization,
            &b.rule,
            &b.owner,
            &b.authorization_id,
        ))
    });
    let remediation = Severity::ALL
        .iter()
        .map(|&severity| {
            let mine = findings.iter().filter(|f| f.severity == severity && !f.suppressed);
            let mut days: Vec<i64> = mine.clone().filter_map(|f| f.days_to_resolve).collect();
            Remediation {
                severity,
                resolved: days.len(),
                median_days: median(&mut days),
                open: mine.clone().filter(|f| f.ended.is_none()).count(),
                accepted: mine.filter(|f| f.ending == Some(Ending::Suppressed)).count(),
            }
        })
        .collect();
    let burndown = burndown(rows, &points);
    Trend {
        organizations,
        scans: rows.scans.len(),
        period,
        points,
        periods,
        created_before,
        revoked_before,
        remediation,
        findings,
        burndown,
    }
}

/// Every distinct as-of date, each with every organization's latest scan at or before it.
fn points(scans: &[ScanRow]) -> Vec<Point> {
    let mut sorted: Vec<&ScanRow> = scans.iter().collect();
    sorted.sort_by(|a, b| (a.as_of, &a.organization).cmp(&(b.as_of, &b.organization)));
    let mut latest: BTreeMap<&str, &ScanRow> = BTreeMap::new();
    let mut points: Vec<Point> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let as_of = sorted[i].as_of;
        let mut scanned = 0;
        while i < sorted.len() && sorted[i].as_of == as_of {
            latest.insert(&sorted[i].organization, sorted[i]);
            scanned += 1;
            i += 1;
        }
        let mut point = Point {
            as_of,
            scanned,
            carried: latest.len() - scanned,
            complete: true,
            open: [0; 5],
            suppressed: 0,
            tokens: 0,
            active_pats: 0,
        };
        for scan in latest.values() {
            point.complete &= scan.coverage_complete;
            for (total, n) in point.open.iter_mut().zip(scan.open) {
                *total += n;
            }
            point.suppressed += scan.suppressed;
            point.tokens += scan.tokens;
            point.active_pats += scan.active_pats;
        }
        points.push(point);
    }
    points
}

/// Credentials created and revoked per period, from the first point's period to the last's; and
/// those before it (or, for revocations, at a time not known).
fn periods(rows: &HistoryRows, points: &[Point], period: Period) -> (Vec<PeriodCount>, usize, usize) {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return (Vec::new(), 0, 0);
    };
    let mut periods = Vec::new();
    let mut start = period.start(first.as_of.date_naive());
    let end = last.as_of.date_naive();
    while start <= end {
        periods.push(PeriodCount { start, label: period.label(start), created: 0, revoked: 0 });
        let next = period.next(start);
        if next <= start {
            break;
        }
        start = next;
    }
    let Some(window_start) = periods.first().map(|p| p.start) else {
        return (periods, 0, 0);
    };
    let slot = |date: NaiveDate| periods.partition_point(|p| p.start <= date).checked_sub(1);
    let (mut created_before, mut revoked_before) = (0, 0);
    let mut created = vec![0usize; periods.len()];
    let mut revoked = vec![0usize; periods.len()];
    for c in &rows.credentials {
        match c.created().map(|d| d.date_naive()) {
            Some(date) if date >= window_start => {
                if let Some(i) = slot(date) {
                    created[i] += 1;
                }
            }
            // Before the window, or not known at all: there before the history began.
            _ => created_before += 1,
        }
        if c.revoked_how.is_some() {
            match c.revoked_at.map(|d| d.date_naive()) {
                Some(date) if date >= window_start => {
                    if let Some(i) = slot(date) {
                        revoked[i] += 1;
                    }
                }
                _ => revoked_before += 1,
            }
        }
    }
    for (p, (c, r)) in periods.iter_mut().zip(created.into_iter().zip(revoked)) {
        p.created = c;
        p.revoked = r;
    }
    (periods, created_before, revoked_before)
}

/// Active PATs per point, and the target line of each organization's latest plan.
fn burndown(rows: &HistoryRows, points: &[Point]) -> Burndown {
    let actual: Vec<(NaiveDate, usize)> = points.iter().map(|p| (p.as_of.date_naive(), p.active_pats)).collect();
    // Each organization's latest scan, and its plan.
    let mut latest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for scan in &rows.scans {
        let at = latest.entry(&scan.organization).or_insert(scan.as_of);
        *at = (*at).max(scan.as_of);
    }
    let plan: Vec<&PlanRow> =
        rows.plan.iter().filter(|p| latest.get(p.organization.as_str()) == Some(&p.as_of)).collect();
    let plan_as_of = points.last().map(|p| p.as_of.date_naive());
    let total: usize = plan.iter().map(|p| p.pats).sum();
    let mut by_due: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut waves: BTreeMap<Wave, (usize, NaiveDate)> = BTreeMap::new();
    for p in &plan {
        *by_due.entry(p.due).or_default() += p.pats;
        let wave = waves.entry(p.wave).or_insert((0, p.due));
        wave.0 += p.pats;
        wave.1 = wave.1.max(p.due);
    }
    let mut target = Vec::with_capacity(by_due.len() + 1);
    if let Some(start) = plan_as_of {
        target.push((start, total));
        let mut left = total;
        for (due, n) in by_due {
            left -= n;
            match target.last_mut() {
                Some(last) if last.0 == due => last.1 = left,
                _ => target.push((due, left)),
            }
        }
    }
    Burndown {
        actual,
        plan_as_of,
        target,
        waves: waves.into_iter().map(|(wave, (pats, last_due))| WaveDue { wave, pats, last_due }).collect(),
    }
}

/// `Severity::ALL`'s position of a severity (the index into `Point::open`).
pub fn severity_position(severity: Severity) -> usize {
    severity_index(severity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::SourceCoverage;
    use crate::inventory::{Coverage, Inventory, Owner, OwnerFailure, Token};
    use crate::rules::RuleSet;

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T00:00:00Z").parse().unwrap()
    }

    fn record(tokens: &[(&str, &str)], failed: &[&str], audit_complete: bool) -> ScanRecord {
        let owners: Vec<Owner> = ["ada", "bob"]
            .iter()
            .map(|n| Owner {
                descriptor: format!("aad.{n}").into(),
                principal_name: format!("{n}@x.com").into(),
                ..Default::default()
            })
            .collect();
        let tokens = tokens
            .iter()
            .map(|(owner, id)| Token {
                authorization_id: (*id).into(),
                owner: format!("aad.{owner}").into(),
                scopes: vec!["app_token".into()],
                target_accounts: ["x".into()].into(),
                valid_from: Some(at(1)),
                valid_to: Some(at(20)),
                is_valid: true,
                ..Default::default()
            })
            .collect();
        let failures: Vec<OwnerFailure> =
            failed.iter().map(|n| OwnerFailure { descriptor: format!("aad.{n}"), error: "500".into() }).collect();
        let mut evidence = crate::evidence::Evidence::default();
        evidence.sources.insert(
            Source::Audit,
            if audit_complete { SourceCoverage::complete() } else { SourceCoverage::unavailable("401") },
        );
        let inventory = Inventory {
            organization: "x".into(),
            coverage: Coverage::new(2, 2 - failures.len(), failures),
            owners,
            tokens,
            evidence,
            service: Default::default(),
        };
        ScanRecord::judge(inventory, &RuleSet::default_rules(), at(5))
    }

    fn key(owner: &str, id: &str, rule: &str) -> FindingKey {
        FindingKey { owner: format!("aad.{owner}"), authorization_id: id.into(), rule: rule.into() }
    }

    #[test]
    fn a_scan_judges_only_what_it_read() {
        let o = Observation::new(&record(&[("ada", "a1")], &["bob"], false));
        assert!(o.judges(&key("ada", "a1", "full-access")));
        assert!(!o.judges(&key("bob", "b1", "full-access")), "bob's tokens were not read");
        assert!(!o.judges(&key("carol", "c1", "full-access")), "carol is not listed");
        assert!(!o.judges(&key("ada", "a1", "unused")), "the audit log was not read in full");
        assert!(!o.judges(&key("ada", "a1", "no-such-rule")), "a rule that did not run");
        assert!(!o.judges(&FindingKey {
            owner: "".into(),
            authorization_id: "".into(),
            rule: "policy-global-pat".into()
        }));
        let full = Observation::new(&record(&[], &[], true));
        assert!(full.judges(&key("bob", "b1", "unused")));
        // Every rule with a source names a rule that exists.
        let ids: Vec<String> = RuleSet::default_rules().describe().into_iter().map(|r| r.id).collect();
        for (rule, _) in EVIDENCE_RULES {
            assert!(ids.iter().any(|id| id == rule), "{rule}");
        }
    }

    #[test]
    fn episodes_continue_end_and_start() {
        let o = Observation::new(&record(&[("ada", "a1")], &["bob"], true));
        let full = o.findings.iter().position(|f| f.key == key("ada", "a1", "full-access")).unwrap();
        let open = vec![
            OpenEpisode { key: key("ada", "a1", "full-access"), suppressed: false, ssh: false },
            OpenEpisode { key: key("ada", "a0", "full-access"), suppressed: false, ssh: false },
            OpenEpisode { key: key("ada", "k0", "long-lived"), suppressed: false, ssh: true },
            OpenEpisode { key: key("bob", "b1", "full-access"), suppressed: false, ssh: false },
            OpenEpisode { key: key("ada", "a1", "all-organizations"), suppressed: true, ssh: false },
        ];
        let changes = advance(&open, &o);
        assert!(changes.continued.iter().any(|(i, sev)| *i == 0 && *sev == Severity::High));
        assert!(changes.ended.contains(&(1, Ending::Resolved)), "a0 is gone and ada was read");
        assert!(!changes.ended.iter().any(|(i, _)| *i == 3), "bob was not read: b1 stays open");
        assert!(!changes.ended.iter().any(|(i, _)| *i == 2), "SSH keys were not read: k0's finding stays open");
        let mut with_ssh = o.clone();
        with_ssh.complete_sources.insert(Source::Ssh);
        assert!(advance(&open, &with_ssh).ended.contains(&(2, Ending::Resolved)), "SSH keys read, k0 gone");
        assert!(!changes.started.contains(&full), "a1's full access goes on");
        assert_eq!(changes.started.len(), o.findings.len() - 1);
    }

    fn scan_row(org: &str, day: u32, pats: usize, complete: bool) -> ScanRow {
        ScanRow {
            organization: org.into(),
            as_of: at(day),
            tool_version: "0".into(),
            coverage_complete: complete,
            owners_listed: 1,
            owners_failed: 0,
            tokens: pats,
            active_tokens: pats,
            active_pats: pats,
            open: [1, 0, 0, 0, day as usize],
            suppressed: 0,
        }
    }

    #[test]
    fn points_carry_each_organization_forward() {
        let scans = vec![scan_row("a", 2, 10, true), scan_row("b", 3, 5, false), scan_row("a", 4, 8, true)];
        let p = points(&scans);
        assert_eq!(p.iter().map(|p| p.active_pats).collect::<Vec<_>>(), [10, 15, 13]);
        assert_eq!(p.iter().map(|p| (p.scanned, p.carried)).collect::<Vec<_>>(), [(1, 0), (1, 1), (1, 1)]);
        assert_eq!(p.iter().map(|p| p.complete).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!(p[2].open, [2, 0, 0, 0, 7]);
    }

    #[test]
    fn periods_medians_and_the_burndown() {
        let cred = |created: u32, revoked: Option<(u32, RevokedHow)>| CredentialRow {
            organization: "a".into(),
            owner: "o".into(),
            authorization_id: "c".into(),
            kind: CredentialKind::Pat,
            valid_from: Some(at(created)),
            valid_to: None,
            created_at: None,
            first_seen: at(2),
            revoked_at: revoked.and_then(|(d, how)| (how != RevokedHow::BeforeFirstSeen).then(|| at(d))),
            revoked_how: revoked.map(|(_, how)| how),
        };
        let plan = |day: u32, due: u32, wave, pats| PlanRow {
            organization: "a".into(),
            as_of: at(day),
            wave,
            due: at(due).date_naive(),
            pats,
        };
        let finding = |first: u32, ended: Option<u32>| FindingRow {
            organization: "a".into(),
            owner: "o".into(),
            authorization_id: "c".into(),
            rule: "full-access".into(),
            severity: Severity::High,
            suppressed: false,
            first_seen: at(first),
            ended_at: ended.map(at),
            ending: ended.map(|_| Ending::Resolved),
        };
        let rows = HistoryRows {
            scans: vec![scan_row("a", 4, 10, true), scan_row("a", 10, 8, true)],
            credentials: vec![
                cred(1, None),
                cred(3, Some((5, RevokedHow::Audit))),
                cred(9, Some((10, RevokedHow::Observed))),
                cred(9, Some((0, RevokedHow::BeforeFirstSeen))),
            ],
            findings: vec![finding(4, Some(10)), finding(4, Some(6)), finding(4, None), finding(6, Some(10))],
            plan: vec![
                plan(4, 30, Wave::AtExpiry, 10),
                plan(10, 10, Wave::RevokeNow, 1),
                plan(10, 17, Wave::Now, 2),
                plan(10, 30, Wave::AtExpiry, 5),
            ],
        };
        let t = compute(&rows, Period::Week);
        // 2026-11-04 is a Wednesday: weeks of 11-02 and 11-09.
        assert_eq!(t.periods.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["2026-W45", "2026-W46"]);
        assert_eq!(t.periods.iter().map(|p| (p.created, p.revoked)).collect::<Vec<_>>(), [(1, 1), (2, 1)]);
        assert_eq!((t.created_before, t.revoked_before), (1, 1));
        let high = &t.remediation[1];
        assert_eq!((high.resolved, high.median_days, high.open), (3, Some(4.0), 1));
        assert_eq!(median(&mut [1, 9]), Some(5.0));
        assert_eq!(median(&mut []), None);
        let b = &t.burndown;
        assert_eq!(b.actual, [(at(4).date_naive(), 10), (at(10).date_naive(), 8)]);
        let d = |day| at(day).date_naive();
        assert_eq!(
            b.target,
            [(d(10), 7), (d(17), 5), (d(30), 0)],
            "the latest plan only; its revoke-now is due at once"
        );
        assert_eq!(
            b.waves.iter().map(|w| (w.wave, w.pats)).collect::<Vec<_>>(),
            [(Wave::RevokeNow, 1), (Wave::Now, 2), (Wave::AtExpiry, 5)]
        );
        let month = compute(&rows, Period::Month);
        assert_eq!(month.periods.len(), 1);
        assert_eq!((month.periods[0].created, month.periods[0].revoked), (4, 2));
    }
}
