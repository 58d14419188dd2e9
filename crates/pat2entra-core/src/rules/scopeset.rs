//! A token's scopes as a bitset over the scope catalog (`scopes::CATALOG`), read once per token,
//! so that the scope rules can tell "no finding" without allocating: the common case. Only a
//! token that may have a finding goes through the rule's own check, which writes the message.

use super::checks::Check;
use crate::scopes::{self, CATALOG};
use crate::text::Text;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Catalog entries a bitset holds; scopes past it are read as "not exact" (the slow path).
const BITS: usize = 256;

type Bits = [u64; BITS / 64];

/// FNV-1a over a scope string. The table's keys are the catalog's, fixed: a crafted scope
/// string can only miss, never grow or degrade the table.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The catalog by lower-case scope string, and each entry's area as a small number.
struct Table {
    ids: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    /// Area number of each catalog entry (`None` past 64 areas: then not exact).
    area: Vec<Option<u8>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut areas: Vec<&str> = CATALOG.iter().map(|s| s.area).collect();
        areas.sort_unstable();
        areas.dedup();
        Table {
            ids: CATALOG.iter().enumerate().map(|(i, s)| (s.scope.to_ascii_lowercase(), i)).collect(),
            area: CATALOG
                .iter()
                .map(|s| areas.iter().position(|a| *a == s.area).filter(|n| *n < 64).map(|n| n as u8))
                .collect(),
        }
    })
}

/// The catalog entry of a scope string (case-insensitive, as `scopes::lookup`).
fn id(scope: &str) -> Option<usize> {
    let ids = &table().ids;
    ids.get(scope).copied().or_else(|| {
        if scope.bytes().any(|b| b.is_ascii_uppercase()) { ids.get(&scope.to_ascii_lowercase()).copied() } else { None }
    })
}

/// A token's scopes over the catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScopeSet {
    known: Bits,
    areas: u64,
    /// Every scope string is in the catalog (within `BITS`, with an area number): the set says
    /// all there is to say. Otherwise the rules take their own, slower path.
    exact: bool,
}

impl ScopeSet {
    pub fn of(scopes: &[Text]) -> Self {
        let table = table();
        let mut set = ScopeSet { exact: true, ..ScopeSet::default() };
        for scope in scopes::each(scopes) {
            match id(scope).filter(|i| *i < BITS).and_then(|i| Some((i, table.area[i]?))) {
                Some((i, area)) => {
                    set.known[i / 64] |= 1 << (i % 64);
                    set.areas |= 1 << area;
                }
                None => set.exact = false,
            }
        }
        set
    }

    fn count(&self) -> usize {
        self.known.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn meets(&self, mask: &Bits) -> bool {
        self.known.iter().zip(mask).any(|(a, b)| a & b != 0)
    }
}

/// What a scope rule needs to tell, from a `ScopeSet`, that a token surely has no finding.
#[derive(Debug, Clone)]
pub enum Prefilter {
    /// `privileged-scope`: the catalog entries it flags.
    Privileged(Box<Bits>),
    BroadScope {
        max_scopes: usize,
        max_areas: usize,
    },
    UnknownScope,
}

impl Prefilter {
    /// The prefilter of a check, for the checks that judge scopes.
    pub fn of(check: &Check) -> Option<Prefilter> {
        match check {
            Check::PrivilegedScope { tiers, deny } => {
                let mut mask: Bits = Default::default();
                for (i, info) in CATALOG.iter().enumerate().take(BITS) {
                    // As the check reads a catalog scope: by its lower-case name in `deny`, or by its
                    // tier. The full-access value is never "privileged" (it has its own rule).
                    let name = info.scope.to_ascii_lowercase();
                    if !scopes::is_full_access(&name) && (deny.contains(&name) || tiers.contains(&info.tier)) {
                        mask[i / 64] |= 1 << (i % 64);
                    }
                }
                Some(Prefilter::Privileged(Box::new(mask)))
            }
            Check::BroadScope { max_scopes, max_areas } => {
                Some(Prefilter::BroadScope { max_scopes: *max_scopes, max_areas: *max_areas })
            }
            Check::UnknownScope => Some(Prefilter::UnknownScope),
            _ => None,
        }
    }

    /// Whether the token surely has no finding of this rule (else the check decides).
    pub fn passes(&self, set: &ScopeSet) -> bool {
        if !set.exact {
            return false;
        }
        match self {
            Prefilter::Privileged(mask) => !set.meets(mask),
            Prefilter::BroadScope { max_scopes, max_areas } => {
                set.count() <= *max_scopes && set.areas.count_ones() as usize <= *max_areas
            }
            Prefilter::UnknownScope => true,
        }
    }
}
