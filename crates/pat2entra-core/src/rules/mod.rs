//! The rules: a TOML file that security teams own (`rules/default.toml` ships), turned into
//! findings. Evaluation is pure: inventory + rules + as-of date -> findings, no I/O, one order.

mod checks;
mod config;
mod docs;
mod exceptions;
mod glob;
mod memo;
mod scopeset;
mod suggest;

pub use checks::RuleId;
pub use docs::{UnknownRule, explain};
use exceptions::ExceptionIndex;
pub use exceptions::{Exception, ExceptionReport, ExceptionStatus, Suppression};

use crate::finding::{Finding, FindingScope, Severity};
use crate::inventory::{Inventory, Owner};
use crate::text::Text;
use checks::{Check, Subject};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// The finding of a token the service sent with a field that could not be read. Not a rule of
/// the rules file: it cannot be turned off, nor accepted by an exception (an exception judges a
/// token's properties, and these are unknown).
pub const UNREADABLE_TOKEN: &str = "unreadable-token";
/// Severity of `unreadable-token`: unknown is judged as a risk until someone looks.
pub const UNREADABLE_TOKEN_SEVERITY: Severity = Severity::High;
/// Why `unreadable-token` exists (reports and `pat2entra explain unreadable-token`).
pub const UNREADABLE_TOKEN_RATIONALE: &str = "A field of this token could not be read (the finding says which and \
     why), so the rules could not judge it: unknown is treated as a risk until someone checks the token in Azure \
     DevOps. It is not a rule of the rules file: it cannot be disabled or accepted by an exception.";

/// Inventories at least this large are judged on several threads.
const PARALLEL_FROM: usize = 20_000;

/// One problem of a rules file: `rules file F:line:column: message`, and the line it is on with
/// the bad value underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The file's line with the bad value underlined, codespan-style; empty when the problem
    /// is not at one place (`no extends`).
    pub snippet: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules file {}", self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message.trim_end())?;
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read: `rules file X: larger than 4 MiB, …`.
    #[error("rules file {file}")]
    Read {
        file: String,
        #[source]
        reason: crate::files::ReadError,
    },
    /// `RuleSet::shipped` of a name that is not shipped.
    #[error("rules file {name}: no such built-in rule set (default, strict)")]
    NoSuchShipped { name: String },
    /// The file was read and is wrong: every problem found (not only the first), in file order;
    /// never empty.
    #[error("{}", .0.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl RulesError {
    /// Each problem, for showing one by one (`Read`, `NoSuchShipped`: none).
    pub fn problems(&self) -> &[Problem] {
        match self {
            RulesError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

/// Reads a rules file from disk: UTF-8 text of at most `files::MAX_RULES` bytes (a wrong path
/// such as `/dev/zero` fails at once).
pub fn read_file(path: &Path) -> Result<String, RulesError> {
    crate::files::read_text_limited(path, crate::files::MAX_RULES, "rules file")
        .map_err(|reason| RulesError::Read { file: path.display().to_string(), reason })
}

/// One enabled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub severity: Severity,
    pub rationale: String,
    check: Check,
    /// The rules file itself has a table for this rule (otherwise it comes from `extends`).
    pub from_file: bool,
}

/// A rule as the scan record describes it (so reports can show the rationale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    pub rationale: String,
    /// A date by which the flagged tokens stop working anyway (`all-organizations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<chrono::NaiveDate>,
}

/// The enabled rules and the exceptions of a rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub exceptions: Vec<Exception>,
    /// The shipped set the file builds on (`default`, `strict`); `None` for `extends = "none"`.
    pub extends: Option<String>,
}

/// The result of judging an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Every finding, suppressed ones included; most severe first.
    pub findings: Vec<Finding>,
    pub exceptions: Vec<ExceptionReport>,
}

impl RuleSet {
    /// The built-in `rules/default.toml`.
    pub fn default_rules() -> Self {
        RuleSet::shipped("default").expect("the built-in rule sets are valid")
    }

    /// A rule set that ships with pat2entra (`default`, `strict`).
    pub fn shipped(name: &str) -> Result<Self, RulesError> {
        let (_, text) = config::SHIPPED
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| RulesError::NoSuchShipped { name: name.to_string() })?;
        RuleSet::parse(text, &format!("rules/{name}.toml (built in)"))
    }

    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = read_file(path)?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, RulesError> {
        config::parse(&config::Source::new(file, text))
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn describe(&self) -> Vec<RuleInfo> {
        self.rules
            .iter()
            .map(|r| RuleInfo {
                id: r.id.as_str().to_string(),
                severity: r.severity,
                rationale: r.rationale.clone(),
                deadline: match r.check {
                    Check::AllOrganizations { retirement_date } => Some(retirement_date),
                    _ => None,
                },
            })
            .collect()
    }

    /// Judges every token. Pure and deterministic.
    pub fn evaluate(&self, inventory: &Inventory, as_of: DateTime<Utc>) -> Evaluation {
        self.evaluate_with(inventory, as_of, || memo::Memo::new(self.rules.len()))
    }

    /// `evaluate`, with the memory each worker keeps of results (`memo`).
    fn evaluate_with<'a>(
        &self,
        inventory: &'a Inventory,
        as_of: DateTime<Utc>,
        memo: impl Fn() -> memo::Memo<'a> + Sync,
    ) -> Evaluation {
        // Tokens are judged independently: large inventories are split across the cores.
        let threads = if inventory.tokens.len() >= PARALLEL_FROM { crate::parallel::cores() } else { 1 };
        // Findings are put in order in one band of owners per thread: each band's orders are
        // worked out on a core of their own, and its findings freed once moved into place.
        // (More bands held less memory still but took more time: each is a list per severity
        // that every worker writes to.)
        let bands = threads;
        self.evaluate_on(inventory, as_of, memo, threads, bands)
    }

    /// `evaluate_with` on `threads` threads; the final sort makes the result the same whatever
    /// their number.
    fn evaluate_on<'a>(
        &self,
        inventory: &'a Inventory,
        as_of: DateTime<Utc>,
        memo: impl Fn() -> memo::Memo<'a> + Sync,
        threads: usize,
        bands: usize,
    ) -> Evaluation {
        let chunk = inventory.tokens.len().div_ceil(threads).max(1);
        let index = ExceptionIndex::new(&self.exceptions);
        // What the rules need of each owner, once per owner (split across the cores too).
        let facts = crate::parallel::map(&inventory.owners, threads, |owners| self.owner_facts(owners, &index));
        // Owners are numbered in 32 bits, `UNLISTED` kept apart.
        assert!(facts.len() < UNLISTED as usize, "{} owners: more than the evaluation numbers", facts.len());
        let owners: OwnerMap<'_> =
            facts.iter().enumerate().map(|(i, f)| (f.owner.descriptor.as_str(), (f, i as u32))).collect();
        let bands = Bands::new(&facts, bands);
        // Per rule, once: the exceptions keyed by its id, and what tells from a token's scope
        // set that it surely has no finding.
        let rule_candidates: Vec<&[usize]> = self.rules.iter().map(|r| index.for_rule(r.id.as_str())).collect();
        let prefilters: Vec<Option<scopeset::Prefilter>> =
            self.rules.iter().map(|r| scopeset::Prefilter::of(&r.check)).collect();
        let context = Context {
            owners: &owners,
            bands: &bands,
            index: &index,
            rule_candidates: &rule_candidates,
            prefilters: &prefilters,
            service: &inventory.service,
            evidence: &inventory.evidence,
        };
        let (memo, context) = (&memo, &context);
        let workers = inventory.tokens.chunks(chunk).map(|tokens| {
            // Equal messages share one allocation per worker.
            move || crate::text::interned(|| self.evaluate_tokens(tokens, context, memo(), as_of))
        });
        let parts: Vec<Part> = crate::parallel::all(workers.collect());
        drop(owners);
        // Organization-level findings (tenant policies), once, on this thread.
        let (organization, mut matched) = self.evaluate_organization(inventory, as_of);
        for part in &parts {
            for (sum, n) in matched.iter_mut().zip(&part.matched) {
                *sum += n;
            }
        }
        let findings = sort_findings(parts, &bands, organization, threads);
        let exceptions = self
            .exceptions
            .iter()
            .zip(matched)
            .map(|(e, matched_findings)| ExceptionReport {
                exception: e.number,
                line: e.line,
                reason: e.reason.clone(),
                ticket: e.ticket.clone(),
                expires: e.expires,
                status: if e.is_expired(as_of) {
                    ExceptionStatus::Expired
                } else if matched_findings == 0 {
                    ExceptionStatus::Stale
                } else {
                    ExceptionStatus::Active
                },
                matched_findings,
            })
            .collect();
        Evaluation { findings, exceptions }
    }

    /// The organization's findings (a `policy-*` rule whose policy is off), and how many
    /// findings each exception matched. An exception accepts one by its rule id alone: one that
    /// also names a token, owner or name is about credentials and never matches it.
    fn evaluate_organization(&self, inventory: &Inventory, as_of: DateTime<Utc>) -> (Vec<Finding>, Vec<usize>) {
        let mut findings = Vec::new();
        let mut matched = vec![0usize; self.exceptions.len()];
        let exception_expired = self.rule(RuleId::ExceptionExpired);
        for rule in &self.rules {
            let Some(message) = rule.check.evaluate_organization(&inventory.evidence) else {
                continue;
            };
            let mut finding = Finding {
                rule: rule.id.as_str().into(),
                severity: rule.severity,
                authorization_id: Text::default(),
                owner: Text::default(),
                message: Text::intern(&message),
                suppressed: None,
                guidance: None,
                scope: FindingScope::Organization,
                confidence: Default::default(),
            };
            let matching = self.exceptions.iter().enumerate().filter(|(_, e)| {
                e.rule.as_deref() == Some(rule.id.as_str())
                    && e.authorization_id.is_none()
                    && e.owner.is_none()
                    && e.display_name.is_none()
            });
            if let Some((i, exception)) = choose_exception(matching, as_of) {
                matched[i] += 1;
                if !exception.is_expired(as_of) {
                    finding.suppressed = Some(Box::new(exception.suppression()));
                } else if let Some(expired_rule) = exception_expired {
                    findings.push(expired_exception(
                        expired_rule,
                        exception,
                        (Text::default(), Text::default()),
                        FindingScope::Organization,
                    ));
                }
            }
            findings.push(finding);
        }
        (findings, matched)
    }

    /// The facts of some owners, in their order.
    fn owner_facts<'a>(&'a self, owners: &'a [Owner], index: &ExceptionIndex) -> Vec<OwnerFacts<'a>> {
        let service_rule = self.rule(RuleId::ServiceAccount);
        let mut scratch = String::new();
        owners
            .iter()
            .map(|owner| {
                let mut candidates = Vec::new();
                if !self.exceptions.is_empty() {
                    index.for_owner(&owner.descriptor, Some(owner), &mut candidates, &mut scratch);
                }
                OwnerFacts {
                    owner,
                    service_pattern: service_rule.and_then(|r| r.check.service_pattern(owner)),
                    candidates,
                }
            })
            .collect()
    }

    /// Findings of some tokens, apart by severity, with their owners' numbers (`Part`), and how
    /// many findings each exception matched. A token with no finding costs no allocation; tokens
    /// alike are judged once (`memo`).
    fn evaluate_tokens<'a>(
        &self,
        tokens: &'a [crate::inventory::Token],
        context: &Context<'_>,
        mut memo: memo::Memo<'a>,
        as_of: DateTime<Utc>,
    ) -> Part {
        let Context { owners, bands, index, rule_candidates, prefilters, service, evidence } = *context;
        let (mut token_candidates, mut candidates, mut scratch) = (Vec::new(), Vec::new(), String::new());
        let mut part = Part::new(bands.count, self.exceptions.len());
        let exception_expired = self.rule(RuleId::ExceptionExpired);
        let mut expired_noted: Vec<usize> = Vec::new();
        // Tokens come grouped by owner: the owner's entry is looked up once per run of its tokens.
        let mut last_owner: Option<&Text> = None;
        let mut facts: Option<&OwnerFacts<'_>> = None;
        let (mut owner, mut band) = (UNLISTED, 0);
        let mut owner_candidates: Vec<usize> = Vec::new();
        for token in tokens {
            if last_owner != Some(&token.owner) {
                last_owner = Some(&token.owner);
                let entry = owners.get(token.owner.as_str()).copied();
                (facts, owner) = (entry.map(|(facts, _)| facts), entry.map_or(UNLISTED, |(_, n)| n));
                band = bands.of(owner, &token.owner);
                memo.next_owner();
                match facts {
                    Some(facts) => owner_candidates.clone_from(&facts.candidates),
                    // An owner the inventory does not list: exceptions may still name its descriptor.
                    None => index.for_owner(&token.owner, None, &mut owner_candidates, &mut scratch),
                }
            }
            // Its fields hold placeholders: the rules would judge guesses. One finding instead.
            if let Some(reason) = &token.unreadable {
                part.push(
                    Finding {
                        rule: UNREADABLE_TOKEN.into(),
                        severity: UNREADABLE_TOKEN_SEVERITY,
                        authorization_id: token.authorization_id.clone(),
                        owner: token.owner.clone(),
                        message: Text::from(format!(
                            "could not be read ({reason}); judged as unknown: check this token in Azure DevOps by hand"
                        )),
                        suppressed: None,
                        guidance: None,
                        scope: FindingScope::Credential,
                        confidence: Default::default(),
                    },
                    owner,
                    band,
                );
                continue;
            }
            let subject = Subject {
                token,
                owner: facts.map(|f| f.owner),
                service_pattern: facts.and_then(|f| f.service_pattern),
                state: token.state(as_of),
                as_of,
                remaining_days: token.valid_to.map(|to| (to - as_of).num_days()),
                evidence,
                service,
            };
            expired_noted.clear();
            if !self.exceptions.is_empty() {
                token_candidates.clone_from(&owner_candidates);
                index.for_token_alone(token, &mut token_candidates);
            }
            let scope_set = memo.scopes(&token.scopes);
            for (number, (rule, prefilter)) in self.rules.iter().zip(prefilters).enumerate() {
                if !(rule.check.applies_to(subject.state) && rule.check.applies_to_kind(token.kind))
                    || prefilter.as_ref().is_some_and(|p| p.passes(&scope_set))
                {
                    continue;
                }
                let Some((message, confidence)) = memo.outcome(number, &rule.check, &subject) else {
                    continue;
                };
                let mut finding = Finding {
                    rule: rule.id.as_str().into(),
                    severity: rule.severity,
                    authorization_id: token.authorization_id.clone(),
                    owner: token.owner.clone(),
                    message,
                    suppressed: None,
                    guidance: None,
                    scope: FindingScope::Credential,
                    confidence,
                };
                // An exception still in force wins over one that has expired.
                if !self.exceptions.is_empty() {
                    ExceptionIndex::for_finding(&token_candidates, rule_candidates[number], &mut candidates);
                }
                let matching = candidates
                    .iter()
                    .map(|&i| (i, &self.exceptions[i]))
                    .filter(|(_, e)| e.matches(&finding, token, subject.owner));
                if let Some((i, exception)) = choose_exception(matching, as_of) {
                    part.matched[i] += 1;
                    if !exception.is_expired(as_of) {
                        finding.suppressed = Some(Box::new(exception.suppression()));
                    } else if let Some(rule) = exception_expired
                        && !expired_noted.contains(&i)
                    {
                        expired_noted.push(i);
                        let token_ids = (token.authorization_id.clone(), token.owner.clone());
                        part.push(expired_exception(rule, exception, token_ids, FindingScope::Credential), owner, band);
                    }
                }
                part.push(finding, owner, band);
            }
        }
        part
    }
}

/// The `exception-expired` finding of `exception` (`rule`), on a token (its id and owner) or on
/// the organization (neither).
fn expired_exception(
    rule: &Rule,
    exception: &Exception,
    (authorization_id, owner): (Text, Text),
    scope: FindingScope,
) -> Finding {
    Finding {
        rule: rule.id.as_str().into(),
        severity: rule.severity,
        authorization_id,
        owner,
        message: Text::from(format!(
            "exception #{} (line {}: {}) expired on {}; its findings count again",
            exception.number, exception.line, exception.reason, exception.expires
        )),
        suppressed: None,
        guidance: None,
        scope,
        confidence: Default::default(),
    }
}

/// What one worker found: the findings apart by severity and band of owners (`Bands`), in
/// the order found, and each finding's owner number (the owner's place in the inventory's list
/// of owners, or `UNLISTED`).
struct Part {
    /// By `Severity as usize * bands + band`.
    findings: Vec<Vec<Option<Finding>>>,
    owners: Vec<Vec<u32>>,
    bands: usize,
    /// How many findings each exception matched.
    matched: Vec<usize>,
}

impl Part {
    fn new(bands: usize, exceptions: usize) -> Self {
        let lists = SEVERITIES * bands;
        Part {
            findings: (0..lists).map(|_| Vec::new()).collect(),
            owners: (0..lists).map(|_| Vec::new()).collect(),
            bands,
            matched: vec![0; exceptions],
        }
    }

    fn push(&mut self, finding: Finding, owner: u32, band: usize) {
        let at = finding.severity as usize * self.bands + band;
        self.findings[at].push(Some(finding));
        self.owners[at].push(owner);
    }
}

/// Owners in bands of their descriptors' order, about equal in listed owners: every finding of
/// a band comes before every finding of the next one (of the same severity), so each band is
/// put in order on its own. An owner the inventory does not list goes in the band of the listed
/// owners it falls among.
struct Bands<'a> {
    count: usize,
    /// The listed owners' descriptors, sorted, each once.
    listed: Vec<&'a str>,
    /// By owner number: its place in `listed`.
    listed_rank: Vec<u32>,
}

impl<'a> Bands<'a> {
    fn new(facts: &[OwnerFacts<'a>], count: usize) -> Self {
        let mut listed: Vec<&str> = facts.iter().map(|f| f.owner.descriptor.as_str()).collect();
        listed.sort_unstable();
        listed.dedup();
        let rank = |d: &str| listed.binary_search(&d).unwrap_or_else(|at| at) as u32;
        let listed_rank = facts.iter().map(|f| rank(f.owner.descriptor.as_str())).collect();
        Bands { count: count.max(1), listed, listed_rank }
    }

    /// The band of the owner numbered `owner` (`UNLISTED`: of `descriptor`).
    fn of(&self, owner: u32, descriptor: &str) -> usize {
        let place = match owner {
            UNLISTED => self.listed.partition_point(|d| *d < descriptor),
            listed => self.listed_rank[listed as usize] as usize,
        };
        // Monotone in the place: an unlisted descriptor between two listed ones gets the band
        // of the one after it (or the last band), never one out of order.
        (place * self.count / self.listed.len().max(1)).min(self.count - 1)
    }
}

const SEVERITIES: usize = Severity::ALL.len();
/// The number of an owner the inventory does not list.
const UNLISTED: u32 = u32::MAX;

/// Most severe first, then by owner, token id and rule: one order whatever the inventory's order
/// and however it was split. Findings equal on all four keep the order they were found in, the
/// organization's (no owner, no token id) first.
///
/// Severity by severity, most severe first, and within one band of owners after another
/// (`Bands`): a counting sort by owner, a sort of each owner's findings by token id and rule
/// (the bands on the cores), then the findings moved into place in that order. The moves are
/// independent reads, which the processor overlaps; following the permutation's cycles in place
/// read one finding after another, each waiting on the last.
///
/// Memory: the whole is written as each band's findings are freed, so at the peak the findings
/// are held once plus the largest band of one severity, and 8 bytes a finding of that severity
/// for the orders. Bands hold about as many listed owners each, so with findings spread over
/// the owners that is about 1.28 times with two bands for the simulated 100k-user organization
/// (`medium` findings are 55%); findings all of one severity and of owners in one band are
/// still held twice.
fn sort_findings(mut parts: Vec<Part>, bands: &Bands<'_>, organization: Vec<Finding>, threads: usize) -> Vec<Finding> {
    let total = organization.len() + parts.iter().flat_map(|p| &p.findings).map(Vec::len).sum::<usize>();
    // Findings are numbered in 32 bits: four billion of them would need hundreds of gigabytes.
    assert!(u32::try_from(total).is_ok(), "{total} findings: more than the sort numbers");
    // The owners' ranks in the order of their descriptors (one rank for a descriptor listed
    // twice); owners the inventory does not list are ranked by the descriptor their findings carry.
    let mut unlisted: HashSet<Text, foldhash::fast::RandomState> = HashSet::default();
    for part in &parts {
        for (findings, owners) in part.findings.iter().zip(&part.owners) {
            for (finding, _) in findings.iter().zip(owners).filter(|(_, o)| **o == UNLISTED) {
                unlisted.extend(finding.as_ref().map(|f| f.owner.clone()));
            }
        }
    }
    let mut descriptors: Vec<&str> = bands.listed.clone();
    let listed_rank: std::borrow::Cow<'_, [u32]> = if unlisted.is_empty() {
        bands.listed_rank.as_slice().into()
    } else {
        descriptors.extend(unlisted.iter().map(Text::as_str));
        descriptors.sort_unstable();
        descriptors.dedup();
        let rank_of = |place: &u32| descriptors.binary_search(&bands.listed[*place as usize]).unwrap_or_else(|at| at);
        bands.listed_rank.iter().map(|place| rank_of(place) as u32).collect::<Vec<_>>().into()
    };
    let unlisted_rank: HashMap<&str, u32, foldhash::fast::RandomState> = unlisted
        .iter()
        .map(|d| (d.as_str(), descriptors.binary_search(&d.as_str()).unwrap_or_else(|at| at) as u32))
        .collect();
    let mut organization_by_severity: [Vec<Finding>; SEVERITIES] = Default::default();
    for f in organization {
        organization_by_severity[f.severity as usize].push(f);
    }
    let mut sorted = Vec::with_capacity(total);
    for severity in Severity::ALL {
        // Each band's findings of every worker, in the order found, and their owners' ranks.
        let found: Vec<(Found, Vec<u32>)> = (0..bands.count)
            .map(|band| {
                let at = severity as usize * bands.count + band;
                let mut found = Found::default();
                let mut ranks: Vec<u32> = Vec::new();
                for part in &mut parts {
                    let (findings, owners) =
                        (std::mem::take(&mut part.findings[at]), std::mem::take(&mut part.owners[at]));
                    ranks.extend(findings.iter().zip(owners).map(|(finding, owner)| match owner {
                        UNLISTED => unlisted_rank[finding.as_ref().expect("a finding not yet moved").owner.as_str()],
                        listed => listed_rank[listed as usize],
                    }));
                    found.push(findings);
                }
                (found, ranks)
            })
            .collect();
        // The bands' orders, on the cores.
        let orders = crate::parallel::map(&found, threads, |bands| {
            bands.iter().map(|(found, ranks)| band_order(found, ranks)).collect()
        });
        // Moved into place band by band, each band's lists freed after it. The organization's
        // are merged into the first (only a token's finding with no owner, no id and a rule that
        // sorts first can come before one of them).
        let mut pending = std::mem::take(&mut organization_by_severity[severity as usize]);
        pending.sort_by(|a, b| a.rule.cmp(&b.rule));
        for ((mut found, _), order) in found.into_iter().zip(orders) {
            let mut placed = 0;
            for o in std::mem::take(&mut pending) {
                let precedes = |f: &Finding| {
                    f.owner.is_empty() && f.authorization_id.is_empty() && f.rule.as_ref() < o.rule.as_ref()
                };
                let before = placed
                    + order[placed..].partition_point(|&i| precedes(found.get(i).expect("a finding not yet moved")));
                sorted.extend(order[placed..before].iter().map(|&i| found.take(i).expect("each finding moved once")));
                sorted.push(o);
                placed = before;
            }
            sorted.extend(order[placed..].iter().map(|&i| found.take(i).expect("each finding moved once")));
        }
    }
    sorted
}

/// The order of a band's findings (`ranks`: each one's owner rank): by owner (a counting sort
/// over the band's ranks), then each owner's by token id and rule; stable.
fn band_order(found: &Found, ranks: &[u32]) -> Vec<u32> {
    let (Some(&low), Some(&high)) = (ranks.iter().min(), ranks.iter().max()) else { return Vec::new() };
    let mut starts = vec![0usize; (high - low) as usize + 2];
    for &r in ranks {
        starts[(r - low) as usize + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut order = vec![0u32; ranks.len()];
    let mut next = starts.clone();
    for (i, &r) in ranks.iter().enumerate() {
        order[next[(r - low) as usize]] = i as u32;
        next[(r - low) as usize] += 1;
    }
    sort_owners(&mut order, &starts, found);
    order
}

/// One severity and band's findings of every worker, numbered across the workers' lists in their order
/// (each list stays where its worker put it: joining them would copy them).
#[derive(Default)]
struct Found {
    parts: Vec<Vec<Option<Finding>>>,
    /// The number of each list's first finding.
    starts: Vec<usize>,
    len: usize,
}

impl Found {
    fn push(&mut self, part: Vec<Option<Finding>>) {
        self.starts.push(self.len);
        self.len += part.len();
        self.parts.push(part);
    }

    /// The list and place of finding `i` (the last list starting at or before it: an empty
    /// list starts where the next one does).
    fn locate(&self, i: u32) -> (usize, usize) {
        let part = self.starts.partition_point(|&s| s <= i as usize) - 1;
        (part, i as usize - self.starts[part])
    }

    fn get(&self, i: u32) -> Option<&Finding> {
        let (part, at) = self.locate(i);
        self.parts[part][at].as_ref()
    }

    /// Finding `i`, moved out (`None` after).
    fn take(&mut self, i: u32) -> Option<Finding> {
        let (part, at) = self.locate(i);
        self.parts[part][at].take()
    }
}

/// Each owner's findings (`order[starts[r]..starts[r + 1]]`) sorted by token id and rule,
/// stable. The keys are read once per finding into a list of their own: a comparison then reads
/// neither finding.
fn sort_owners(order: &mut [u32], starts: &[usize], found: &Found) {
    let key = |i: u32| {
        let f = found.get(i).expect("a finding not yet moved");
        (f.authorization_id.as_str(), f.rule.as_ref())
    };
    let mut keys: Vec<((&str, &str), u32)> = Vec::new();
    for owner in starts.windows(2) {
        let slice = &mut order[owner[0]..owner[1]];
        if slice.len() > 1 {
            keys.clear();
            keys.extend(slice.iter().map(|&i| (key(i), i)));
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            for (to, (_, i)) in slice.iter_mut().zip(&keys) {
                *to = *i;
            }
        }
    }
}

/// What the rules need of one owner: worked out once per owner, whatever the order of the tokens.
struct OwnerFacts<'a> {
    owner: &'a Owner,
    /// The `service-account` pattern the owner matches.
    service_pattern: Option<&'a str>,
    /// The exceptions that name the owner (`ExceptionIndex::for_owner`).
    candidates: Vec<usize>,
}

/// The owners' facts by descriptor, and each owner's number (its place in the inventory's list).
type OwnerMap<'a> = HashMap<&'a str, (&'a OwnerFacts<'a>, u32), foldhash::fast::RandomState>;

/// What every thread judging tokens shares.
#[derive(Clone, Copy)]
struct Context<'a> {
    owners: &'a OwnerMap<'a>,
    bands: &'a Bands<'a>,
    index: &'a ExceptionIndex,
    /// Per rule (in `rules` order): the exceptions keyed by its id (`ExceptionIndex::for_rule`).
    rule_candidates: &'a [&'a [usize]],
    /// Per rule (in `rules` order): the scope prefilter of a scope rule.
    prefilters: &'a [Option<scopeset::Prefilter>],
    service: &'a crate::service::ServiceBehaviour,
    evidence: &'a crate::evidence::Evidence,
}

/// The exception that decides a finding among those that match it: the first still in force,
/// else the first (an expired one: its finding counts again and the expiry is reported).
fn choose_exception<'a>(
    mut matching: impl Iterator<Item = (usize, &'a exceptions::Exception)>,
    as_of: DateTime<Utc>,
) -> Option<(usize, &'a exceptions::Exception)> {
    let first = matching.next();
    match first {
        Some((_, e)) if e.is_expired(as_of) => matching.find(|(_, e)| !e.is_expired(as_of)).or(first),
        other => other,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod evidence_tests;

#[cfg(test)]
mod memo_tests;

#[cfg(test)]
mod order_tests;

#[cfg(test)]
mod unreadable_tests {
    use super::*;
    use crate::inventory::{Coverage, Token};

    #[test]
    fn an_unreadable_token_gets_one_high_finding_and_no_guesses() {
        let token = |id: &str, unreadable: Option<&str>| Token {
            authorization_id: id.into(),
            owner: "aad.alice".into(),
            display_name: id.into(),
            scopes: vec!["app_token".into()],
            all_organizations: true,
            target_accounts: [].into(),
            valid_from: None,
            valid_to: None,
            is_valid: true,
            unreadable: unreadable.map(String::from),
            ..Default::default()
        };
        let inventory = Inventory {
            organization: "o".into(),
            owners: vec![],
            tokens: vec![token("read", None), token("bad", Some("validTo: '10000-01-01' is not a timestamp"))],
            coverage: Coverage::new(1, 1, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        // An exception for every token of the owner does not accept the unreadable one.
        let rules = RuleSet::parse(
            "extends = \"default\"\n[[exception]]\nauthorization_id = \"bad\"\nreason = \"accepted\"\nticket = \"SEC-1\"\nexpires = 2099-01-01\n",
            "t.toml",
        )
        .unwrap();
        let findings = rules.evaluate(&inventory, Utc::now()).findings;
        let bad: Vec<&Finding> = findings.iter().filter(|f| f.authorization_id == "bad").collect();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].rule, UNREADABLE_TOKEN);
        assert_eq!(bad[0].severity, Severity::High);
        assert!(!bad[0].is_suppressed());
        assert!(bad[0].message.contains("validTo: '10000-01-01' is not a timestamp"), "{}", bad[0].message);
        // The readable token with the same placeholders is judged by the rules as usual.
        assert!(findings.iter().any(|f| f.authorization_id == "read" && f.rule == "full-access"));
    }
}
