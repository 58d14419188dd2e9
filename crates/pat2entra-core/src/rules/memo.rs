//! Per worker: what each rule said of a token, remembered by what the rule reads of it
//! (`Check::key`), so that tokens alike are judged and worded once. A large organization has
//! a million tokens but a few hundred scope lists, lifetimes and expiry dates: formatting and
//! interning each finding's message was a third of the time of judging.
//!
//! Bounded: at most `LIMIT` scope lists and `LIMIT` results are kept; past that the worker
//! forgets them and starts again (a crafted inventory of distinct values costs time, not
//! memory).

use super::checks::{Check, Key, Subject};
use super::scopeset::ScopeSet;
use crate::evidence::CredentialKind;
use crate::finding::Confidence;
use crate::text::Text;
use std::collections::HashMap;

/// A rule's result for one token: its message and how sure it is, or no finding.
pub type Outcome = Option<(Text, Confidence)>;

/// Scope lists and results a worker keeps at most, each.
const LIMIT: usize = 1 << 16;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One worker's memory of results. `Memo::off()` judges every token afresh (the reference the
/// tests compare against).
pub struct Memo<'a> {
    enabled: bool,
    /// `LIMIT`, or less in tests (to forget often).
    limit: usize,
    /// Each distinct scope list seen: its number and its bitset over the catalog.
    lists: Map<&'a [Text], (u32, ScopeSet)>,
    /// By rule (its position), the key's kind and the key's numbers (a scope list's number for
    /// `Key::Scopes`).
    outcomes: Map<(u16, bool, [i64; 3]), Outcome>,
    /// The current owner's results by rule, per kind of credential: forgotten when the owner
    /// changes (tokens come grouped by owner).
    owner: Vec<[Option<Outcome>; 2]>,
    /// The number of the current token's scope list.
    list: u32,
}

impl<'a> Memo<'a> {
    pub fn new(rules: usize) -> Self {
        Memo {
            enabled: true,
            limit: LIMIT,
            lists: Map::default(),
            outcomes: Map::default(),
            owner: vec![[None, None]; rules],
            list: 0,
        }
    }

    #[cfg(test)]
    pub fn off(rules: usize) -> Self {
        Memo { enabled: false, ..Memo::new(rules) }
    }

    /// Remembers at most `limit` scope lists and results.
    #[cfg(test)]
    pub fn with_limit(rules: usize, limit: usize) -> Self {
        Memo { limit, ..Memo::new(rules) }
    }

    /// The next token's scope list: its bitset, worked out once per distinct list.
    pub fn scopes(&mut self, scopes: &'a [Text]) -> ScopeSet {
        if !self.enabled {
            return ScopeSet::of(scopes);
        }
        if let Some((number, set)) = self.lists.get(scopes) {
            self.list = *number;
            return *set;
        }
        if self.lists.len() >= self.limit {
            // The numbers start again: results keyed by the old ones go too.
            self.lists.clear();
            self.outcomes.clear();
        }
        let (number, set) = (self.lists.len() as u32, ScopeSet::of(scopes));
        self.lists.insert(scopes, (number, set));
        self.list = number;
        set
    }

    /// The tokens that follow belong to another owner.
    pub fn next_owner(&mut self) {
        self.owner.iter_mut().for_each(|o| *o = [None, None]);
    }

    /// Rule number `rule`'s result for the subject: remembered, or judged by `check` now.
    pub fn outcome(&mut self, rule: usize, check: &Check, s: &Subject<'_>) -> Outcome {
        let judge = || check.evaluate(s).map(|message| (Text::intern(&message), check.confidence(s)));
        if !self.enabled {
            return judge();
        }
        let numbers = match check.key(s) {
            Key::Token => return judge(),
            Key::Owner => {
                let slot = &mut self.owner[rule][usize::from(s.token.kind == CredentialKind::Ssh)];
                return slot.get_or_insert_with(judge).clone();
            }
            Key::Scopes => (true, [i64::from(self.list), 0, 0]),
            Key::Numbers(numbers) => (false, numbers),
        };
        let key = (rule as u16, numbers.0, numbers.1);
        if let Some(known) = self.outcomes.get(&key) {
            return known.clone();
        }
        if self.outcomes.len() >= self.limit {
            self.outcomes.clear();
        }
        let outcome = judge();
        self.outcomes.insert(key, outcome.clone());
        outcome
    }
}
