//! `Text`: an immutable, shared string for the values a record repeats.
//!
//! A scan record names each owner's descriptor on the owner, on every token, finding and usage of
//! that owner; each token's id on the token, its findings and its usage; the same few scopes,
//! organization ids and guidance ids on thousands of tokens. As `String`s, every mention was an
//! allocation of its own: most of the memory of a large scan or of a loaded record, and a third of
//! the time of judging a million tokens (three `String`s cloned per finding). A `Text` is an
//! `Arc<str>`: cloning one is a reference count, and equal values can share one allocation.
//!
//! Sharing happens where the values are made: the scanner hands a token its owner's descriptor,
//! the rules hand a finding its token's ids, and a record read from JSON is read inside
//! [`interned`], where every `Text` that deserializes looks itself up in a pool first (so a
//! descriptor named 40,000 times in a file is one allocation in memory). Outside `interned`, a
//! `Text` deserializes into an allocation of its own, as a `String` would.
//!
//! It reads and writes as a plain JSON string: the records' bytes do not change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string whose clones share one allocation. Compares, orders and hashes as its
/// text (so a `HashMap<Text, _>` is looked up with a `&str`); two `Text`s that share their
/// allocation are equal without comparing bytes.
#[derive(Clone, Default, Eq)]
pub struct Text(Arc<str>);

// As its text: consistent with `PartialEq` (equal texts hash alike whether shared or not) and
// with `Borrow<str>`.
impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) { std::cmp::Ordering::Equal } else { self.0.cmp(&other.0) }
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `1 owner`, `2 owners`, `0 entries`: a count and its noun (a consonant's `y` becomes `ies`).
pub fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, word: &str) -> String {
    if n == N::from(1) {
        return format!("1 {word}");
    }
    match word.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same value, shared with the pool of the enclosing [`interned`] call if there is one.
    pub fn intern(value: &str) -> Text {
        POOL.with(|pool| match pool.borrow_mut().as_mut() {
            Some(set) => match set.get(value) {
                Some(shared) => Text(Arc::clone(shared)),
                None => {
                    let shared: Arc<str> = Arc::from(value);
                    set.insert(Arc::clone(&shared));
                    Text(shared)
                }
            },
            None => Text(Arc::from(value)),
        })
    }
}

/// foldhash: fast on short strings, and seeded per process (a record crafted to collide costs
/// its author a guess of the seed). SipHash was 4% of the time of reading a large record.
type Pool = HashSet<Arc<str>, foldhash::fast::RandomState>;

thread_local! {
    /// The pool of the innermost `interned` call on this thread, if any.
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// Runs `f` with a pool of shared values: every `Text` deserialized (or made by
/// [`Text::intern`]) on this thread while it runs shares one allocation with every equal one.
/// The pool is dropped when `f` returns (the values live on in what `f` built). Nested calls
/// share the outer pool.
pub fn interned<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            if self.0 {
                POOL.with(|pool| pool.borrow_mut().take());
            }
        }
    }
    let outermost = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let outermost = pool.is_none();
        if outermost {
            *pool = Some(Pool::default());
        }
        outermost
    });
    let _reset = Reset(outermost);
    f()
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Text {
    fn from(value: &str) -> Self {
        Text(Arc::from(value))
    }
}

impl From<&String> for Text {
    fn from(value: &String) -> Self {
        Text(Arc::from(value.as_str()))
    }
}

impl From<String> for Text {
    fn from(value: String) -> Self {
        Text(Arc::from(value))
    }
}

impl From<&Text> for Text {
    fn from(value: &Text) -> Self {
        value.clone()
    }
}

impl From<std::borrow::Cow<'_, str>> for Text {
    fn from(value: std::borrow::Cow<'_, str>) -> Self {
        Text(Arc::from(value.as_ref()))
    }
}

impl From<Text> for String {
    fn from(value: Text) -> Self {
        value.0.as_ref().to_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == &*other.0
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Text, E> {
                Ok(Text::intern(value))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A list of `Text`s shared whole (`Arc<[Text]>`), read and written as a JSON array: for
/// `#[serde(with = "crate::text::list")]`.
pub mod list {
    use super::Text;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(list: &Arc<[Text]>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(list.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<[Text]>, D::Error> {
        Vec::<Text>::deserialize(deserializer).map(Arc::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_their_noun_in_the_right_number() {
        assert_eq!(plural(1usize, "organization"), "1 organization");
        assert_eq!(plural(0usize, "organization"), "0 organizations");
        assert_eq!(plural(2usize, "entry"), "2 entries");
        assert_eq!(plural(1usize, "entry"), "1 entry");
        assert_eq!(plural(3usize, "key"), "3 keys");
        assert_eq!(plural(-2i64, "day"), "-2 days");
        assert_eq!(plural(1i64, "day"), "1 day");
    }

    #[test]
    fn reads_and_writes_as_a_plain_string() {
        let text: Text = serde_json::from_str(r#""aad.abc""#).unwrap();
        assert_eq!(text, "aad.abc");
        assert_eq!(serde_json::to_string(&text).unwrap(), r#""aad.abc""#);
        assert_eq!(format!("{text} {text:?}"), r#"aad.abc "aad.abc""#);
        assert!(serde_json::from_str::<Text>("17").is_err());
    }

    #[test]
    fn equal_values_share_one_allocation_inside_interned_only() {
        let json = r#"["aad.x", "aad.y", "aad.x"]"#;
        let shared: Vec<Text> = interned(|| serde_json::from_str(json).unwrap());
        assert!(Arc::ptr_eq(&shared[0].0, &shared[2].0));
        assert!(!Arc::ptr_eq(&shared[0].0, &shared[1].0));
        let apart: Vec<Text> = serde_json::from_str(json).unwrap();
        assert_eq!(apart, shared);
        assert!(!Arc::ptr_eq(&apart[0].0, &apart[2].0), "no pool outside interned");
        // The pool is gone once the outermost call returns, also after a panic inside it.
        let _ = std::panic::catch_unwind(|| interned(|| panic!("inside")));
        POOL.with(|pool| assert!(pool.borrow().is_none()));
        let nested = interned(|| {
            let a = Text::intern("o");
            let b = interned(|| Text::intern("o"));
            Arc::ptr_eq(&a.0, &b.0)
        });
        assert!(nested, "a nested call shares the outer pool");
    }

    #[test]
    fn looks_up_as_str_in_maps() {
        let mut map = std::collections::HashMap::new();
        map.insert(Text::from("k"), 1);
        assert_eq!(map.get("k"), Some(&1));
        let (a, b) = (Text::from("a"), Text::from("b"));
        assert!(a < b, "ordered as their text");
    }
}
