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
        // Tokens are judged independently: large inventories are split across the cores, and
        // the final sort makes the result the same whatever the split.
        let threads = if inventory.tokens.len() >= PARALLEL_FROM {
            std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
        } else {
            1
        };
        let chunk = inventory.tokens.len().div_ceil(threads).max(1);
        let index = ExceptionIndex::new(&self.exceptions);
        // What the rules need of each owner, once per owner (split across the cores too).
        let facts = parallel_map(&inventory.owners, threads, |owners| self.owner_facts(owners, &index));
        let owners: OwnerMap<'_> = facts.iter().map(|f| (f.owner.descriptor.as_str(), f)).collect();
        // Per rule, once: the exceptions keyed by its id, and what tells from a token's scope
        // set that it surely has no finding.
        let rule_candidates: Vec<&[usize]> = self.rules.iter().map(|r| index.for_rule(r.id.as_str())).collect();
        let prefilters: Vec<Option<scopeset::Prefilter>> =
            self.rules.iter().map(|r| scopeset::Prefilter::of(&r.check)).collect();
        let context = Context {
            owners: &owners,
            index: &index,
            rule_candidates: &rule_candidates,
            prefilters: &prefilters,
            service: &inventory.service,
            evidence: &inventory.evidence,
        };
        let parts: Vec<(Vec<Finding>, Vec<usize>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = inventory
                .tokens
                .chunks(chunk)
                .map(|tokens| {
                    let memo = &memo;
                    scope.spawn(move || {
                        // Equal messages share one allocation per worker.
                        crate::text::interned(|| self.evaluate_tokens(tokens, &context, memo(), as_of))
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        let mut matched = vec![0usize; self.exceptions.len()];
        // Organization-level findings (tenant policies), once, on this thread.
        let organization = self.evaluate_organization(inventory, as_of);
        let organization_count = organization.0.len();
        let total = organization_count + parts.iter().map(|(f, _)| f.len()).sum::<usize>();
        // The first part grows to hold them all (a large block grows in place, by remapping),
        // so the findings are not held twice while they are gathered; the organization's come
        // first, as they were found.
        let mut parts = parts.into_iter();
        let (mut findings, counts) = parts.next().unwrap_or_default();
        findings.reserve_exact(total - findings.len());
        for (sum, n) in matched.iter_mut().zip(counts) {
            *sum += n;
        }
        for (part, counts) in parts.chain(std::iter::once(organization)) {
            findings.extend(part);
            for (sum, n) in matched.iter_mut().zip(counts) {
                *sum += n;
            }
        }
        findings.rotate_right(organization_count);
        let findings = sort_findings(findings, threads);
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
                    findings.push(Finding {
                        rule: expired_rule.id.as_str().into(),
                        severity: expired_rule.severity,
                        authorization_id: Text::default(),
                        owner: Text::default(),
                        message: Text::from(format!(
                            "exception #{} (line {}: {}) expired on {}; its findings count again",
                            exception.number, exception.line, exception.reason, exception.expires
                        )),
                        suppressed: None,
                        guidance: None,
                        scope: FindingScope::Organization,
                        confidence: Default::default(),
                    });
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

    /// Findings of some tokens, and how many findings each exception matched. A token with no
    /// finding costs no allocation; tokens alike are judged once (`memo`).
    fn evaluate_tokens<'a>(
        &self,
        tokens: &'a [crate::inventory::Token],
        context: &Context<'_>,
        mut memo: memo::Memo<'a>,
        as_of: DateTime<Utc>,
    ) -> (Vec<Finding>, Vec<usize>) {
        let Context { owners, index, rule_candidates, prefilters, service, evidence } = *context;
        let (mut token_candidates, mut candidates, mut scratch) = (Vec::new(), Vec::new(), String::new());
        let mut findings = Vec::new();
        let mut matched = vec![0usize; self.exceptions.len()];
        let exception_expired = self.rule(RuleId::ExceptionExpired);
        let mut expired_noted: Vec<usize> = Vec::new();
        // Tokens come grouped by owner: the owner's entry is looked up once per run of its tokens.
        let mut last_owner: Option<&Text> = None;
        let mut facts: Option<&OwnerFacts<'_>> = None;
        let mut owner_candidates: Vec<usize> = Vec::new();
        for token in tokens {
            // Its fields hold placeholders: the rules would judge guesses. One finding instead.
            if let Some(reason) = &token.unreadable {
                findings.push(Finding {
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
                });
                continue;
            }
            if last_owner != Some(&token.owner) {
                last_owner = Some(&token.owner);
                facts = owners.get(token.owner.as_str()).copied();
                memo.next_owner();
                match facts {
                    Some(facts) => owner_candidates.clone_from(&facts.candidates),
                    // An owner the inventory does not list: exceptions may still name its descriptor.
                    None => index.for_owner(&token.owner, None, &mut owner_candidates, &mut scratch),
                }
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
                    matched[i] += 1;
                    if !exception.is_expired(as_of) {
                        finding.suppressed = Some(Box::new(exception.suppression()));
                    } else if let Some(rule) = exception_expired
                        && !expired_noted.contains(&i)
                    {
                        expired_noted.push(i);
                        findings.push(Finding {
                            rule: rule.id.as_str().into(),
                            severity: rule.severity,
                            authorization_id: token.authorization_id.clone(),
                            owner: token.owner.clone(),
                            message: Text::from(format!(
                                "exception #{} (line {}: {}) expired on {}; its findings count again",
                                exception.number, exception.line, exception.reason, exception.expires
                            )),
                            suppressed: None,
                            guidance: None,
                            scope: FindingScope::Credential,
                            confidence: Default::default(),
                        });
                    }
                }
                findings.push(finding);
            }
        }
        (findings, matched)
    }
}

/// Most severe first, then by owner, token and rule: one order whatever the inventory's order.
/// Linear bucketing by severity and owner (a counting sort), then a sort of each small bucket by
/// token and rule: comparing and moving whole findings, or sorting them all on string keys,
/// dominated large scans. Findings equal on all four keep the order they were found in.
fn sort_findings(findings: Vec<Finding>, threads: usize) -> Vec<Finding> {
    // Findings come grouped by owner: each run of one owner is hashed once.
    let mut distinct: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
    let mut previous: Option<&Text> = None;
    for f in &findings {
        if previous != Some(&f.owner) {
            distinct.insert(f.owner.as_str());
            previous = Some(&f.owner);
        }
    }
    let mut owners: Vec<&str> = distinct.into_iter().collect();
    owners.sort_unstable();
    let rank: HashMap<&str, usize, foldhash::fast::RandomState> =
        owners.iter().enumerate().map(|(i, o)| (*o, i)).collect();
    let most_severe = Severity::Critical as usize;
    // Findings of one owner come together: its rank is looked up once per run of them.
    let mut last: Option<(&Text, usize)> = None;
    let buckets: Vec<usize> = findings
        .iter()
        .map(|f| {
            let owner_rank = match last {
                Some((o, r)) if *o == f.owner => r,
                _ => {
                    let r = rank[f.owner.as_str()];
                    last = Some((&f.owner, r));
                    r
                }
            };
            (most_severe - f.severity as usize) * owners.len() + owner_rank
        })
        .collect();
    drop(rank);
    let mut starts = vec![0usize; (most_severe + 1) * owners.len() + 1];
    for &b in &buckets {
        starts[b + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut order = vec![0usize; findings.len()];
    let mut next = starts.clone();
    for (i, &b) in buckets.iter().enumerate() {
        order[next[b]] = i;
        next[b] += 1;
    }
    drop((buckets, next));
    // Each bucket sorted by token and rule, the buckets split across the cores (at bucket
    // boundaries near equal shares of the findings).
    let sort_buckets = |order: &mut [usize], starts: &[usize]| {
        let base = starts[0];
        for bucket in starts.windows(2) {
            let slice = &mut order[bucket[0] - base..bucket[1] - base];
            if slice.len() > 1 {
                slice.sort_by(|&a, &b| {
                    let (a, b) = (&findings[a], &findings[b]);
                    (a.authorization_id.as_str(), a.rule.as_ref()).cmp(&(b.authorization_id.as_str(), b.rule.as_ref()))
                });
            }
        }
    };
    if threads <= 1 {
        sort_buckets(&mut order, &starts);
    } else {
        let cuts: Vec<usize> = (0..=threads)
            .map(|t| {
                if t == threads { starts.len() - 1 } else { starts.partition_point(|&s| s < order.len() * t / threads) }
            })
            .collect();
        std::thread::scope(|scope| {
            let mut rest: &mut [usize] = &mut order;
            for part in cuts.windows(2) {
                let (mine, others) = std::mem::take(&mut rest).split_at_mut(starts[part[1]] - starts[part[0]]);
                rest = others;
                let (starts, sort_buckets) = (&starts[part[0]..=part[1]], &sort_buckets);
                scope.spawn(move || sort_buckets(mine, starts));
            }
        });
    }
    // The permutation applied in place, one cycle at a time (position k takes the finding at
    // order[k]): no second vector of findings at the judging peak.
    let mut findings = findings;
    for start in 0..order.len() {
        let mut k = start;
        while order[k] != usize::MAX {
            let from = std::mem::replace(&mut order[k], usize::MAX);
            if from == start {
                break;
            }
            findings.swap(k, from);
            k = from;
        }
    }
    findings
}

/// What the rules need of one owner: worked out once per owner, whatever the order of the tokens.
struct OwnerFacts<'a> {
    owner: &'a Owner,
    /// The `service-account` pattern the owner matches.
    service_pattern: Option<&'a str>,
    /// The exceptions that name the owner (`ExceptionIndex::for_owner`).
    candidates: Vec<usize>,
}

/// The owners' facts by descriptor.
type OwnerMap<'a> = HashMap<&'a str, &'a OwnerFacts<'a>, foldhash::fast::RandomState>;

/// `f` over `items` split in `threads` parts, on as many threads (on this one for one part);
/// the results in the items' order.
fn parallel_map<'a, T: Sync, R: Send>(items: &'a [T], threads: usize, f: impl Fn(&'a [T]) -> Vec<R> + Sync) -> Vec<R> {
    if threads <= 1 {
        return f(items);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            items.chunks(items.len().div_ceil(threads).max(1)).map(|part| scope.spawn(move || f(part))).collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// What every thread judging tokens shares.
#[derive(Clone, Copy)]
struct Context<'a> {
    owners: &'a OwnerMap<'a>,
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

#[cfg(test)]
mod sort_tests {
    use super::*;

    /// The bucketed sort and its in-place permutation give the order of one plain sort on the
    /// four keys (findings equal on all four keep their order).
    #[test]
    fn findings_sort_as_one_sort_on_the_four_keys() {
        let severities = Severity::ALL;
        let rules = ["full-access", "long-lived", "expired", "all-organizations"];
        // A fixed pseudo-random sequence: owners, tokens and rules repeat, in no order.
        let mut state: u64 = 42;
        let mut next = |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % n) as usize
        };
        let findings: Vec<Finding> = (0..2000)
            .map(|i| Finding {
                rule: rules[next(4)].into(),
                severity: severities[next(5)],
                authorization_id: format!("t{}", next(300)).into(),
                owner: format!("aad.{}", next(40)).into(),
                message: format!("m{i}").into(),
                suppressed: None,
                guidance: None,
                scope: FindingScope::Credential,
                confidence: Default::default(),
            })
            .collect();
        let mut expected = findings.clone();
        expected.sort_by(|a, b| {
            (std::cmp::Reverse(a.severity), &a.owner, &a.authorization_id, &a.rule).cmp(&(
                std::cmp::Reverse(b.severity),
                &b.owner,
                &b.authorization_id,
                &b.rule,
            ))
        });
        for threads in [1, 2, 3] {
            assert_eq!(sort_findings(findings.clone(), threads), expected);
        }
    }
}
