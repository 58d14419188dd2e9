//! `--redact`: keyed pseudonyms for people and token names, so a report can leave the security
//! team.
//!
//! - Pseudonyms are HMAC-SHA-256 of the real value under a secret key (`PAT2ENTRA_REDACT_KEY` or
//!   `--redact-key-file`). Without the key nobody can recompute them from a list of users; with
//!   the same key two reports use the same pseudonyms. Without a key a random one is drawn per
//!   run, and the record says its pseudonyms are not comparable across runs.
//! - Owner descriptors become pseudonym descriptors everywhere (owners, tokens, findings, coverage
//!   gaps), so joins inside the record still work. Names, principal names, mails, token names and
//!   exception approvers are replaced; free texts (messages, errors, reasons, tickets, evidence)
//!   lose every known identity and anything that looks like a credential or a mail.
//! - Linear time: one Aho-Corasick automaton of every identity of the record, one pass per text.

use crate::record::ScanRecord;
use crate::secret::Secret;
use aho_corasick::{AhoCorasick, MatchKind};
use aws_lc_rs::hmac;
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The environment variable holding the key.
pub const KEY_ENV: &str = "PAT2ENTRA_REDACT_KEY";
/// Shortest key accepted: anything shorter could be guessed and the pseudonyms reversed.
pub const MIN_KEY_CHARS: usize = 16;
/// A key file larger than this is not a key (and is not read whole).
const MAX_KEY_FILE_BYTES: u64 = 4096;
/// What a credential or unknown secret-looking string becomes in a free text.
pub const REDACTED: &str = "<redacted>";
/// Domain of the pseudonym mails (`.invalid` is reserved: it never delivers).
const MAIL_DOMAIN: &str = "redacted.invalid";
/// Label signed to derive the key's public fingerprint (never the key itself).
const KEY_ID_LABEL: &[u8] = b"pat2entra redaction key id";

/// How a record was redacted (`redaction` in the JSON record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// Pseudonyms come from a key the user gave: another report redacted with the same key uses
    /// the same pseudonyms. `false` with a random per-run key.
    pub comparable_across_runs: bool,
    /// A fingerprint of the key (an HMAC of a fixed label, not the key): two records with the
    /// same `key_id` were redacted with the same key. `None` for a random key.
    #[serde(default)]
    pub key_id: Option<String>,
}

impl Redaction {
    /// One line for the top of every human-readable report.
    pub fn notice(&self) -> &'static str {
        if self.comparable_across_runs {
            "redacted; pseudonyms are keyed and comparable with reports redacted with the same key"
        } else {
            "redacted; pseudonyms are not comparable across runs (random key)"
        }
    }
}

/// A redaction key that cannot be used. `origin` names where the key came from (the file or
/// the environment variable); no message ever contains the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{origin} is empty: put at least {MIN_KEY_CHARS} random characters in it (e.g. `openssl rand -hex 32`)")]
    Empty { origin: String },
    #[error(
        "{origin} is too short for a redaction key: use at least {MIN_KEY_CHARS} random characters (e.g. `openssl rand -hex 32`)"
    )]
    TooShort { origin: String },
    #[error("cannot read {origin}")]
    Unreadable {
        origin: String,
        #[source]
        error: std::io::Error,
    },
    #[error("{origin} is larger than {MAX_KEY_FILE_BYTES} bytes: it should hold only the key")]
    TooLarge { origin: String },
    #[error("{origin} is not text: write the key as text (e.g. hex)")]
    NotText { origin: String },
    #[error("{KEY_ENV} is not valid text")]
    EnvNotText,
}

/// The key pseudonyms are made with. `Debug` never shows it.
pub struct RedactKey {
    /// Kept as a `Secret` so it cannot reach a log or an error by accident.
    _secret: Secret,
    hmac: hmac::Key,
    comparable: bool,
}

impl fmt::Debug for RedactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactKey(<redacted>, comparable: {})", self.comparable)
    }
}

impl RedactKey {
    /// A key given by the user (`source` names where it came from in errors: never the key
    /// itself).
    pub fn given(secret: Secret, source: &str) -> Result<Self, KeyError> {
        let text = secret.expose().trim();
        if text.is_empty() {
            return Err(KeyError::Empty { origin: source.to_string() });
        }
        if text.chars().count() < MIN_KEY_CHARS {
            return Err(KeyError::TooShort { origin: source.to_string() });
        }
        let secret = Secret::new(text);
        let hmac = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        Ok(RedactKey { _secret: secret, hmac, comparable: true })
    }

    /// A fresh random key for this run only.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        // The operating system's source (getrandom(2)): aws-lc's generator seeds itself on
        // first use, which took 70 ms of every `--redact` run.
        getrandom::fill(&mut bytes).expect("the system random source works");
        let secret = Secret::new(hex(&bytes));
        let hmac = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        RedactKey { _secret: secret, hmac, comparable: false }
    }

    /// The key of `--redact-key-file` (trimmed contents), else `PAT2ENTRA_REDACT_KEY`, else a
    /// random one.
    pub fn from_sources(file: Option<&Path>, env: Option<std::ffi::OsString>) -> Result<Self, KeyError> {
        if let Some(path) = file {
            let source = format!("the redaction key file {}", path.display());
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes))
                .map_err(|e| KeyError::Unreadable { origin: source.clone(), error: e })?;
            if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
                return Err(KeyError::TooLarge { origin: source });
            }
            let text = String::from_utf8(bytes).map_err(|_| KeyError::NotText { origin: source.clone() })?;
            return Self::given(Secret::new(text), &source);
        }
        match env {
            Some(value) => {
                let text = value.into_string().map_err(|_| KeyError::EnvNotText)?;
                Self::given(Secret::new(text), KEY_ENV)
            }
            None => Ok(Self::random()),
        }
    }

    /// What the record says about this key.
    pub fn redaction(&self) -> Redaction {
        let key_id = self.comparable.then(|| hex(&hmac::sign(&self.hmac, KEY_ID_LABEL).as_ref()[..6]));
        Redaction { comparable_across_runs: self.comparable, key_id }
    }

    /// `kind-0123456789abcdef`: 64 bits of HMAC over the kind and the value (collisions among
    /// a few million values are negligible, so joins stay exact).
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        let mut context = hmac::Context::with_key(&self.hmac);
        context.update(kind.as_bytes());
        context.update(&[0]);
        context.update(value.as_bytes());
        let mut pseudonym = String::with_capacity(kind.len() + 17);
        pseudonym.push_str(kind);
        pseudonym.push('-');
        pseudonym.push_str(&hex(&context.sign().as_ref()[..8]));
        pseudonym
    }

    /// The pseudonym of an owner, from its descriptor (also its name and principal name).
    pub fn owner(&self, descriptor: &str) -> String {
        self.pseudonym("user", descriptor)
    }

    /// The pseudonym of a token's display name, from its authorization id.
    pub fn token(&self, authorization_id: &str) -> String {
        self.pseudonym("token", authorization_id)
    }

    /// A pseudonym mail for a mail that is not an owner's (case does not matter in mails).
    fn mail(&self, mail: &str) -> String {
        format!("{}@{MAIL_DOMAIN}", self.pseudonym("mail", &mail.to_lowercase()))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// Rewrites free texts: every known identity becomes its pseudonym, then credentials and
/// unknown mails are removed. Linear in each text: identities without spaces (descriptors,
/// principal names, mails, one-word names) are looked up word by word in a hash map; the others
/// (names with spaces) are found by one Aho-Corasick automaton, which stays small.
pub struct Scrubber<'k> {
    key: &'k RedactKey,
    /// Every identity, ASCII-lower-cased, to its index in `replacements`.
    words: HashMap<String, usize, RandomState>,
    /// The longest key of `words`, in bytes (longer words are not looked up).
    longest_word: usize,
    /// Identities that contain a word delimiter, and their indices in `replacements`.
    phrases: Option<AhoCorasick>,
    phrase_replacements: Vec<usize>,
    replacements: Vec<String>,
}

/// What separates an identity from the text around it: `…/aad.X?api-version`, `<a@b.c>`,
/// `owner=a@b.c`, `mailto:a@b.c`, `'Anna'`.
fn is_identity_delimiter(c: char) -> bool {
    c.is_whitespace() || "\"'`,;()[]{}<>|/?&=:#!*".contains(c)
}

impl<'k> Scrubber<'k> {
    /// `identities`: (real value, pseudonym); the caller leaves out values too short to look for
    /// in prose (a two-letter name would rewrite unrelated words).
    fn new(key: &'k RedactKey, identities: Vec<(String, String)>) -> Self {
        let mut words: HashMap<String, usize, RandomState> =
            HashMap::with_capacity_and_hasher(identities.len(), RandomState::default());
        let mut phrases = Vec::new();
        let mut phrase_replacements = Vec::new();
        let mut replacements = Vec::with_capacity(identities.len());
        for (real, pseudonym) in identities {
            // The first pseudonym of a value wins (owners come before approvers).
            let lower = real.to_ascii_lowercase();
            if words.contains_key(&lower) {
                continue;
            }
            if real.contains(is_identity_delimiter) {
                phrases.push(real);
                phrase_replacements.push(replacements.len());
            }
            words.insert(lower, replacements.len());
            replacements.push(pseudonym);
        }
        let longest_word = words.keys().map(String::len).max().unwrap_or(0);
        let phrases = (!phrases.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(&phrases)
                .expect("literal patterns always build")
        });
        Scrubber { key, words, longest_word, phrases, phrase_replacements, replacements }
    }

    /// The pseudonym of a whole value (any case), when it is a known identity.
    fn exact(&self, value: &str) -> Option<&str> {
        self.words.get(&value.to_ascii_lowercase()).map(|i| self.replacements[*i].as_str())
    }

    /// The text with identities, credentials and mails replaced.
    pub fn scrub(&self, text: &str) -> String {
        self.changed(text).unwrap_or_else(|| text.to_string())
    }

    pub fn scrub_in_place(&self, text: &mut String) {
        if let Some(clean) = self.changed(text) {
            *text = clean;
        }
    }
}

/// Scrubs shared texts once per distinct value: a record repeats its messages and lines of
/// evidence thousands of times (a 100k-user record: 2,373 distinct messages among 133,783
/// findings, 45 distinct lines among 286,161 of evidence). Equal texts scrubbed by one memo stay
/// shared (a large record's findings are scrubbed by one memo per thread). Each memo remembers at
/// most `MEMO_LIMIT` values, so a record of all-different texts costs no more memory than that
/// per thread.
struct Memo<'a, 'k> {
    scrubber: &'a Scrubber<'k>,
    done: HashMap<crate::Text, crate::Text, foldhash::fast::RandomState>,
}

const MEMO_LIMIT: usize = 1 << 16;

/// Records with at least this many tokens plus findings are redacted on all the cores.
const PARALLEL_FROM: usize = 20_000;

impl<'a, 'k> Memo<'a, 'k> {
    fn new(scrubber: &'a Scrubber<'k>) -> Self {
        Memo { scrubber, done: HashMap::default() }
    }

    fn scrub(&mut self, text: &mut crate::Text) {
        if let Some(clean) = self.done.get(text.as_str()) {
            *text = clean.clone();
            return;
        }
        let clean = self.scrubber.changed(text).map_or_else(|| text.clone(), crate::Text::from);
        if self.done.len() < MEMO_LIMIT {
            self.done.insert(text.clone(), clean.clone());
        }
        *text = clean;
    }
}

impl<'k> Scrubber<'k> {
    /// The scrubbed text, or `None` when nothing had to change (no allocation).
    fn changed(&self, text: &str) -> Option<String> {
        let phrased = self.phrases(text);
        let worded = self.words(phrased.as_deref().unwrap_or(text)).or(phrased);
        scrub_secrets(worded.as_deref().unwrap_or(text), |mail| self.key.mail(mail)).or(worded)
    }

    /// Identities with spaces, at word boundaries. `None` when nothing matched.
    fn phrases(&self, text: &str) -> Option<String> {
        let automaton = self.phrases.as_ref()?;
        let mut edits = Edits::new(text);
        for m in automaton.find_iter(text) {
            let boundary_before = text[..m.start()].chars().next_back().is_none_or(|c| !is_word_char(c));
            let boundary_after = text[m.end()..].chars().next().is_none_or(|c| !is_word_char(c));
            if boundary_before && boundary_after {
                let replacement = self.phrase_replacements[m.pattern().as_usize()];
                edits.replace(m.start(), m.end(), &self.replacements[replacement]);
            }
        }
        edits.finish()
    }

    /// Identities without spaces: each word of the text (also without a final `.`) looked up.
    fn words(&self, text: &str) -> Option<String> {
        let mut edits = Edits::new(text);
        let mut lower = String::new();
        let mut rest = text;
        let mut offset = 0;
        while !rest.is_empty() {
            let start = rest.find(|c: char| !is_identity_delimiter(c)).unwrap_or(rest.len());
            let len = rest[start..].find(is_identity_delimiter).unwrap_or(rest.len() - start);
            let word = &rest[start..start + len];
            for candidate in [word, word.trim_end_matches('.')] {
                if candidate.is_empty() || candidate.len() > self.longest_word {
                    continue;
                }
                lower.clear();
                lower.extend(candidate.chars().map(|c| c.to_ascii_lowercase()));
                if let Some(i) = self.words.get(&lower) {
                    edits.replace(offset + start, offset + start + candidate.len(), &self.replacements[*i]);
                    break;
                }
            }
            offset += start + len;
            rest = &rest[start + len..];
        }
        edits.finish()
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A text rebuilt from left to right with some ranges replaced; untouched texts allocate nothing.
struct Edits<'a> {
    text: &'a str,
    out: String,
    done: usize,
}

impl<'a> Edits<'a> {
    fn new(text: &'a str) -> Self {
        Edits { text, out: String::new(), done: 0 }
    }

    /// Replaces `start..end` (at or after everything replaced so far).
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        debug_assert!(start >= self.done && end >= start);
        if self.out.is_empty() {
            self.out.reserve(self.text.len() + with.len());
        }
        self.out.push_str(&self.text[self.done..start]);
        self.out.push_str(with);
        self.done = end;
    }

    fn finish(mut self) -> Option<String> {
        if self.done == 0 && self.out.is_empty() {
            return None;
        }
        self.out.push_str(&self.text[self.done..]);
        Some(self.out)
    }
}

/// Characters that end a word in a free text (quotes and brackets around a header or URL).
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b"\"'`,;()[]{}<>|".contains(&b)
}

/// Keys whose `key=value` value is a credential (compared on the end of the key, any case).
const SECRET_KEYS: &[&str] = &[
    "token",
    "pat",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "sig",
    "signature",
    "credential",
    "credentials",
    "authorization",
];

fn is_scheme(word: &str) -> bool {
    let w = word.trim_end_matches(':');
    w.eq_ignore_ascii_case("bearer") || w.eq_ignore_ascii_case("basic")
}

/// After `Bearer`/`Basic` in prose: only a word that looks like base64 or a JWT is taken for a
/// credential ("basic authentication failed" stays readable).
fn looks_like_credential(word: &str) -> bool {
    word.len() >= 8
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit() || b"._~+/=-".contains(&b))
}

/// An opaque run: letters, digits, `+`, `_` (base32 PATs, base64, hex keys).
fn is_opaque(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'_'
}

/// Text from a server with anything that looks like a credential removed (mails kept): what
/// the client keeps of error messages, so a server that echoes the request's `Authorization`
/// cannot put a secret in a report, even an unredacted one.
pub fn scrub_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    match scrub_secrets(text, |mail| mail.to_string()) {
        Some(clean) => std::borrow::Cow::Owned(clean),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Removes what looks like a credential: `Authorization` values, `Bearer …`, `Basic …`,
/// JWTs, the value of `token=`/`pat=`/`secret=`/`password=` (and similar keys), opaque runs of
/// 32 or more letters and digits (PATs are 52), and mails (to `mail` pseudonyms). One pass;
/// `None` when nothing was found.
fn scrub_secrets(text: &str, mail: impl Fn(&str) -> String) -> Option<String> {
    #[derive(PartialEq)]
    enum Pending {
        Nothing,
        AfterAuthorization,
        AfterScheme { forced: bool },
    }
    let bytes = text.as_bytes();
    let mut edits = Edits::new(text);
    let mut pending = Pending::Nothing;
    let mut i = 0;
    while i < bytes.len() {
        if is_delimiter(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_delimiter(bytes[i]) {
            i += 1;
        }
        let word = &text[start..i];
        match pending {
            Pending::AfterAuthorization if word == ":" || word == "=" => continue,
            Pending::AfterAuthorization if is_scheme(word) => {
                pending = Pending::AfterScheme { forced: true };
                continue;
            }
            Pending::AfterAuthorization => {
                pending = Pending::Nothing;
                edits.replace(start, i, REDACTED);
                continue;
            }
            Pending::AfterScheme { forced } => {
                pending = Pending::Nothing;
                if forced || looks_like_credential(word) {
                    edits.replace(start, i, REDACTED);
                    continue;
                }
            }
            Pending::Nothing => {}
        }
        let bare = word.trim_end_matches([':', '=']);
        if bare.eq_ignore_ascii_case("authorization") || bare.eq_ignore_ascii_case("proxy-authorization") {
            pending = Pending::AfterAuthorization;
            continue;
        }
        if is_scheme(word) {
            pending = Pending::AfterScheme { forced: false };
            continue;
        }
        scrub_word(text, start, i, &mut edits, &mail);
    }
    edits.finish()
}

/// Inside one word: JWTs, long opaque runs, `key=value` credentials and mails.
fn scrub_word(text: &str, start: usize, end: usize, edits: &mut Edits<'_>, mail: &impl Fn(&str) -> String) {
    let bytes = text.as_bytes();
    let mut j = start;
    while j < end {
        let b = bytes[j];
        let at_run_start = j == start || !is_opaque(bytes[j - 1]);
        // A JWT: eyJ… with two dots.
        if at_run_start && bytes[j..end].starts_with(b"eyJ") {
            let mut k = j;
            while k < end && (bytes[k].is_ascii_alphanumeric() || b"_-.=+/".contains(&bytes[k])) {
                k += 1;
            }
            if text[j..k].bytes().filter(|&c| c == b'.').count() >= 2 {
                edits.replace(j, k, REDACTED);
                j = k;
                continue;
            }
        }
        if is_opaque(b) && at_run_start {
            let mut k = j;
            while k < end && is_opaque(bytes[k]) {
                k += 1;
            }
            let run = &bytes[j..k];
            if run.len() >= 32 && run.iter().any(u8::is_ascii_digit) && run.iter().any(u8::is_ascii_alphabetic) {
                while k < end && bytes[k] == b'=' {
                    k += 1;
                }
                edits.replace(j, k, REDACTED);
                j = k;
                continue;
            }
            // Runs never hold `=` or `@`: those are looked at below.
            j = k;
            continue;
        }
        if b == b'=' {
            let mut k = j;
            while k > edits.done.max(start) && (bytes[k - 1].is_ascii_alphanumeric() || b"_-".contains(&bytes[k - 1])) {
                k -= 1;
            }
            let key = text[k..j].to_ascii_lowercase();
            if !key.is_empty() && SECRET_KEYS.iter().any(|s| key.ends_with(s)) {
                let mut v = j + 1;
                while v < end && bytes[v] != b'&' {
                    v += 1;
                }
                if v > j + 1 {
                    edits.replace(j + 1, v, REDACTED);
                }
                j = v;
                continue;
            }
        }
        if b == b'@' {
            let is_local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
            let is_domain = |c: u8| c.is_ascii_alphanumeric() || b".-".contains(&c);
            let mut local = j;
            while local > edits.done.max(start) && is_local(bytes[local - 1]) {
                local -= 1;
            }
            let mut domain_end = j + 1;
            while domain_end < end && is_domain(bytes[domain_end]) {
                domain_end += 1;
            }
            while domain_end > j + 1 && bytes[domain_end - 1] == b'.' {
                domain_end -= 1;
            }
            let domain = &text[j + 1..domain_end];
            if local < j && domain.contains('.') && !domain.eq_ignore_ascii_case(MAIL_DOMAIN) {
                edits.replace(local, domain_end, &mail(&text[local..domain_end]));
                j = domain_end;
                continue;
            }
        }
        j += 1;
    }
}

/// Replaces every name, mail, descriptor and credential of the record by pseudonyms (see the
/// module documentation). The same key gives the same record.
pub fn redact(record: &mut ScanRecord, key: &RedactKey) {
    // A large record's HMACs and texts are worked on by all the cores.
    let threads =
        if record.tokens.len() + record.findings.len() >= PARALLEL_FROM { crate::parallel::cores() } else { 1 };
    redact_on(record, key, threads);
}

/// `redact` on `threads` threads: the same record whatever their number.
fn redact_on(record: &mut ScanRecord, key: &RedactKey, threads: usize) {
    // One HMAC per owner, whatever the number of tokens and findings that name it. Owners that
    // failed or own tokens without being listed get their pseudonym too.
    // Each pseudonym is one shared `Text`: every token, finding and usage of the owner names it.
    // In the order of the record, so that which of two values equal but for case wins is the
    // same in every run.
    let mut descriptors: Vec<crate::Text> = Vec::with_capacity(record.owners.len());
    let mut seen: HashSet<&str, RandomState> =
        HashSet::with_capacity_and_hasher(record.owners.len(), RandomState::default());
    for descriptor in record
        .owners
        .iter()
        .map(|o| o.descriptor.as_str())
        .chain(record.coverage.owners_failed.iter().map(|f| f.descriptor.as_str()))
        .chain(record.tokens.iter().map(|t| t.owner.as_str()))
        .chain(record.findings.iter().filter(|f| !f.is_organization()).map(|f| f.owner.as_str()))
    {
        if seen.insert(descriptor) {
            descriptors.push(descriptor.into());
        }
    }
    drop(seen);
    let hmacs = crate::parallel::map(&descriptors, threads, |part| {
        part.iter().map(|d| crate::Text::from(key.owner(d))).collect()
    });
    let pseudonyms: HashMap<crate::Text, crate::Text, RandomState> = descriptors.iter().cloned().zip(hmacs).collect();
    let pseudonym_of = |descriptor: &str| -> crate::Text {
        pseudonyms.get(descriptor).cloned().unwrap_or_else(|| key.owner(descriptor).into())
    };

    let mut identities: Vec<(String, String)> = Vec::with_capacity(record.owners.len() * 4 + pseudonyms.len());
    // Values shorter than `min_chars` are not looked for in texts (the fields are replaced anyway).
    let mut add = |real: &str, pseudonym: &str, min_chars: usize| {
        if real.trim().chars().count() >= min_chars {
            identities.push((real.to_string(), pseudonym.to_string()));
        }
    };
    for owner in &record.owners {
        let pseudonym = &pseudonyms[owner.descriptor.as_str()];
        add(&owner.principal_name, pseudonym, 4);
        if let Some(mail) = &owner.mail {
            add(mail, &format!("{pseudonym}@{MAIL_DOMAIN}"), 3);
        }
        // Display names are words ("Anna"): only fairly distinctive ones are looked for in texts.
        add(&owner.display_name, pseudonym, 4);
    }
    for descriptor in &descriptors {
        add(descriptor, &pseudonyms[descriptor], 4);
    }
    for approver in record.findings.iter().filter_map(|f| f.suppressed.as_ref()?.approver.as_deref()) {
        add(approver, &key.pseudonym("person", &approver.to_lowercase()), 3);
    }
    let scrubber = Scrubber::new(key, identities);

    for owner in &mut record.owners {
        let crate::inventory::Owner {
            descriptor,
            display_name,
            principal_name,
            mail,
            origin: _,
            deleted_in_origin: _,
            last_accessed: _,
            member: _,
            access_level: _,
        } = owner;
        let pseudonym = pseudonym_of(descriptor);
        *mail = mail.as_ref().map(|_| format!("{pseudonym}@{MAIL_DOMAIN}").into());
        *display_name = pseudonym.to_string();
        *principal_name = pseudonym.clone();
        *descriptor = pseudonym;
    }
    crate::parallel::for_each_mut(&mut record.tokens, threads, |tokens| {
        for token in tokens {
            let crate::inventory::Token {
                authorization_id,
                owner,
                display_name,
                scopes: _,
                all_organizations: _,
                target_accounts: _,
                valid_from: _,
                valid_to: _,
                is_valid: _,
                unreadable,
                kind: _,
                last_seen,
                events,
            } = token;
            *owner = pseudonym_of(owner);
            // An event's actor is a person (or the service): never shown by name.
            for event in events.iter_mut() {
                let crate::evidence::CredentialEvent { kind: _, at: _, actor, action } = event;
                if let Some(actor) = actor {
                    *actor = key.pseudonym("person", &actor.to_lowercase());
                }
                // An audit action id (`Token.PatRevokeEvent`) names no one; scrubbed in case a
                // service ever puts a name there.
                scrubber.scrub_in_place(action);
            }
            if let Some(seen) = last_seen {
                let crate::evidence::LastSeen { at: _, action, source: _ } = &mut **seen;
                scrubber.scrub_in_place(action);
            }
            if let Some(reason) = unreadable {
                scrubber.scrub_in_place(reason);
            }
            if !display_name.is_empty() {
                *display_name = key.token(authorization_id);
            }
        }
    });
    crate::parallel::for_each_mut(&mut record.findings, threads, |findings| {
        let mut memo = Memo::new(&scrubber);
        for finding in findings {
            let crate::finding::Finding {
                rule: _,
                severity: _,
                authorization_id: _,
                owner,
                message,
                suppressed,
                guidance: _,
                scope,
                confidence: _,
            } = finding;
            // An organization's finding names no owner: nothing to replace.
            if scope.is_credential() {
                *owner = pseudonym_of(owner);
            }
            memo.scrub(message);
            if let Some(s) = suppressed.as_deref_mut() {
                let crate::rules::Suppression { exception: _, reason, ticket, approver, expires: _ } = s;
                scrubber.scrub_in_place(reason);
                if let Some(ticket) = ticket {
                    scrubber.scrub_in_place(ticket);
                }
                if let Some(approver) = approver {
                    *approver = scrubber
                        .exact(approver)
                        .map_or_else(|| key.pseudonym("person", &approver.to_lowercase()), str::to_string);
                }
            }
        }
    });
    // Destructured in full (here and above): a field added to these types does not compile until
    // it is decided here whether it carries a name or free text.
    let crate::inventory::Coverage { owners_listed: _, owners_scanned: _, owners_failed, complete: _, warnings, part } =
        &mut record.coverage;
    // A sharded scan's part: counts, and the first error of a per-owner source (free text).
    if let Some(part) = part {
        for tally in part.sources.values_mut() {
            let crate::evidence::OwnerTally { read: _, deadline: _, failed: _, first_error, denied } = tally;
            for text in [first_error, denied].into_iter().flatten() {
                scrubber.scrub_in_place(text);
            }
        }
    }
    for warning in warnings {
        let crate::inventory::CoverageWarning { kind: _, message, ids } = warning;
        scrubber.scrub_in_place(message);
        // Owner descriptors among the ids become their pseudonyms; authorization ids stay.
        for id in ids {
            if let Some(pseudonym) = pseudonyms.get(id.as_str()) {
                *id = pseudonym.to_string();
            }
        }
    }
    for gap in owners_failed {
        let crate::inventory::OwnerFailure { descriptor, error } = gap;
        *descriptor = pseudonym_of(descriptor).to_string();
        scrubber.scrub_in_place(error);
    }
    // Evidence: why a source could not be read is free text (an error may name the signed-in
    // account); the window and the policies are dates and switches.
    let crate::evidence::Evidence { sources, audit_window: _, policies: _ } = &mut record.evidence;
    for coverage in sources.values_mut() {
        let crate::evidence::SourceCoverage { status: _, reason } = coverage;
        if let Some(reason) = reason {
            scrubber.scrub_in_place(reason);
        }
    }
    for e in &mut record.exceptions {
        let crate::rules::ExceptionReport {
            exception: _,
            line: _,
            reason,
            ticket,
            expires: _,
            status: _,
            matched_findings: _,
        } = e;
        scrubber.scrub_in_place(reason);
        if let Some(ticket) = ticket {
            scrubber.scrub_in_place(ticket);
        }
    }
    // Lists of evidence are shared whole: each distinct list is scrubbed once and stays shared.
    let mut lists: HashMap<std::sync::Arc<[crate::Text]>, std::sync::Arc<[crate::Text]>, RandomState> =
        HashMap::default();
    let mut memo = Memo::new(&scrubber);
    for usage in &mut record.usage {
        let crate::guidance::TokenUsage { authorization_id: _, owner, inference, guidance: _ } = usage;
        if !owner.is_empty() {
            *owner = pseudonym_of(owner);
        }
        let crate::guidance::Inference { use_id: _, confidence: _, evidence } = inference;
        if let Some(done) = lists.get(&**evidence) {
            *evidence = done.clone();
            continue;
        }
        let clean: std::sync::Arc<[crate::Text]> = evidence
            .iter()
            .map(|line| {
                let mut line = line.clone();
                memo.scrub(&mut line);
                line
            })
            .collect();
        if lists.len() < MEMO_LIMIT {
            lists.insert(evidence.clone(), clean.clone());
        }
        *evidence = clean;
    }
    // Redacting a redacted record chains two keys: comparable only when both were.
    let redaction = key.redaction();
    record.redaction = Some(match record.redaction.take() {
        None => redaction,
        Some(before) => Redaction {
            comparable_across_runs: before.comparable_across_runs && redaction.comparable_across_runs,
            key_id: None,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> RedactKey {
        RedactKey::given(Secret::new(text), "test key").unwrap()
    }

    fn scrub(text: &str) -> String {
        scrub_secrets(text, |m| format!("MAIL({m})")).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn equal_texts_are_scrubbed_once_and_stay_shared() {
        let key = key("0123456789abcdef-memo");
        let scrubber = Scrubber::new(&key, vec![("Anna Novak".into(), "person-1".into())]);
        let mut memo = Memo::new(&scrubber);
        let named = crate::Text::from("owner Anna Novak asked for it");
        let (mut a, mut b) = (named.clone(), crate::Text::from(named.as_str()));
        memo.scrub(&mut a);
        memo.scrub(&mut b);
        assert!(!a.contains("Anna") && a.contains("person-1"), "{a}");
        assert_eq!(a, b);
        assert_eq!(a.as_ptr(), b.as_ptr(), "the second equal text gets the first one's result");
        // A text with nothing to replace is kept as it is (the same allocation).
        let clean = crate::Text::from("lifetime of 365 days");
        let mut c = clean.clone();
        memo.scrub(&mut c);
        assert_eq!(c.as_ptr(), clean.as_ptr());
        // Past the limit, texts are still scrubbed, only not remembered.
        for i in 0..MEMO_LIMIT + 10 {
            let mut t = crate::Text::from(format!("Anna Novak {i}"));
            memo.scrub(&mut t);
            assert_eq!(t, format!("person-1 {i}"));
        }
        assert_eq!(memo.done.len(), MEMO_LIMIT);
    }

    /// Split across threads, the redaction is the same, and it is one: no name, principal name,
    /// mail or descriptor is left.
    #[test]
    fn split_across_threads_the_redaction_is_the_same() {
        use crate::inventory::{Coverage, Inventory, Owner, Token};
        let owners: Vec<Owner> = (0..40)
            .map(|i| Owner {
                descriptor: format!("aad.descriptor{i}").into(),
                display_name: format!("Anna Novak{i}"),
                principal_name: format!("anna.novak{i}@contoso.com").into(),
                mail: Some(format!("anna.novak{i}@contoso.com").into()),
                ..Default::default()
            })
            .collect();
        let tokens: Vec<Token> = (0..700)
            .map(|i| Token {
                authorization_id: format!("id-{i}").into(),
                // Some tokens of owners the record does not list.
                owner: format!("aad.descriptor{}", i % 45).into(),
                display_name: format!("deploy of anna.novak{}@contoso.com", i % 40),
                scopes: vec!["app_token".into()],
                target_accounts: ["o".into()].into(),
                is_valid: true,
                unreadable: (i % 97 == 0).then(|| format!("owner Anna Novak{} sent a bad date", i % 40)),
                ..Default::default()
            })
            .collect();
        let inventory = Inventory {
            organization: "o".into(),
            owners,
            tokens,
            coverage: Coverage::new(40, 40, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        let rules = crate::rules::RuleSet::default_rules();
        let record = ScanRecord::judge(inventory, &rules, "2026-11-26T00:00:00Z".parse().unwrap());
        let key = key("0123456789abcdef-split");
        let mut one = record.clone();
        redact_on(&mut one, &key, 1);
        for threads in [2, 3, 7] {
            let mut split = record.clone();
            redact_on(&mut split, &key, threads);
            assert!(split == one, "{threads} threads");
        }
        let text = serde_json::to_string(&one).unwrap();
        for name in ["contoso.com", "aad.descriptor", "Anna Novak", "anna.novak"] {
            assert!(!text.contains(name), "{name} left in the redacted record");
        }
    }

    #[test]
    fn pseudonyms_depend_on_the_key() {
        let (a, b) = (key("first-key-0123456789"), key("second-key-0123456789"));
        assert_eq!(a.owner("aad.x"), key("first-key-0123456789").owner("aad.x"));
        assert_ne!(a.owner("aad.x"), a.owner("aad.y"));
        assert_ne!(a.owner("aad.x"), b.owner("aad.x"));
        assert_ne!(a.owner("x"), a.token("x"), "kinds are separated");
        assert!(a.owner("aad.x").starts_with("user-") && a.owner("aad.x").len() == 5 + 16);
        assert_ne!(RedactKey::random().owner("aad.x"), RedactKey::random().owner("aad.x"));
    }

    #[test]
    fn short_or_empty_keys_are_refused_without_showing_them() {
        let e = RedactKey::given(Secret::new("  \n"), KEY_ENV).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = RedactKey::given(Secret::new("hunter2hunter2"), KEY_ENV).unwrap_err().to_string();
        assert!(e.contains("too short") && !e.contains("hunter2"), "{e}");
        // Surrounding whitespace (a newline at the end of a file) is not part of the key.
        assert_eq!(key("  0123456789abcdef\n").owner("a"), key("0123456789abcdef").owner("a"));
        assert!(!format!("{:?}", key("0123456789abcdef-secret")).contains("secret"));
    }

    #[test]
    fn key_sources_file_then_env_then_random() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "file-key-0123456789\n").unwrap();
        let from_file = RedactKey::from_sources(Some(&file), Some("env-key-0123456789".into())).unwrap();
        assert_eq!(from_file.owner("a"), key("file-key-0123456789").owner("a"));
        let from_env = RedactKey::from_sources(None, Some("env-key-0123456789".into())).unwrap();
        assert_eq!(from_env.owner("a"), key("env-key-0123456789").owner("a"));
        assert!(from_env.redaction().comparable_across_runs);
        assert_eq!(from_env.redaction().key_id, key("env-key-0123456789").redaction().key_id);
        let random = RedactKey::from_sources(None, None).unwrap();
        assert_eq!(random.redaction(), Redaction { comparable_across_runs: false, key_id: None });
        std::fs::write(&file, "short").unwrap();
        let e = RedactKey::from_sources(Some(&file), None).unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()) && !e.contains("short\""), "{e}");
        let e = crate::error::chain(&RedactKey::from_sources(Some(&dir.path().join("missing")), None).unwrap_err());
        assert!(e.starts_with("cannot read the redaction key file") && e.ends_with("(os error 2)"), "{e}");
    }

    #[test]
    fn credentials_are_removed_from_free_text() {
        let pat = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst";
        assert_eq!(pat.len(), 52);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        for (input, leaked) in [
            (format!("HTTP 401 for Authorization: Basic {}", "OnNlY3JldA=="), "OnNlY3JldA"),
            ("header authorization=\"Bearer abc.def.ghi\"".to_string(), "abc.def"),
            ("sent Bearer tok3n-value-xyz".to_string(), "tok3n"),
            (format!("echo {pat} failed"), pat),
            (format!("got {jwt}"), jwt),
            ("url https://x/?api-version=7.1&token=s3cr3t&x=1".to_string(), "s3cr3t"),
            ("password=hunter2, pat=abc, client_secret=zzz".to_string(), "hunter2"),
            ("pat=abc".to_string(), "abc"),
            ("client_secret=zzz9".to_string(), "zzz9"),
            ("\"authorization\": \"raw-credential\"".to_string(), "raw-credential"),
        ] {
            let out = scrub(&input);
            assert!(!out.contains(leaked), "{input} -> {out}");
            assert!(out.contains(REDACTED), "{input} -> {out}");
        }
        let out = scrub("url https://x/?api-version=7.1&token=s3cr3t&x=1");
        assert_eq!(out, "url https://x/?api-version=7.1&token=<redacted>&x=1");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "HTTP 503 from https://vssps.dev.azure.com/org/_apis/tokenadmin/personalaccesstokens/x?api-version=7.1-preview.1",
            "basic authentication failed; bearer token missing",
            "token 3f2504e0-4f89-11d3-9a0c-0305e82c3301 expired",
            "owner user-0123456789abcdef was deleted",
            "user-0123456789abcdef@redacted.invalid",
            "",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn every_top_level_field_of_the_record_is_known_to_redaction() {
        // The parts of the record are destructured in full in `redact`, except the record itself
        // (its index is private). A new field must be judged here: names or free text in it get
        // replaced in `redact`, then the field is added to this list.
        let inventory = crate::inventory::Inventory {
            organization: "o".into(),
            owners: vec![],
            tokens: vec![],
            coverage: crate::inventory::Coverage::new(0, 0, vec![]),
            evidence: Default::default(),
            service: Default::default(),
        };
        let mut record = ScanRecord::judge(inventory, &crate::rules::RuleSet::default_rules(), chrono::Utc::now());
        redact(&mut record, &key("0123456789abcdef"));
        let value = serde_json::to_value(&record).unwrap();
        let fields: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let known = [
            "schema_version", // number
            "tool",           // pat2entra's name and version
            "organization",   // kept
            "as_of",          // date
            "coverage",       // destructured in `redact`
            "evidence",       // destructured
            "summary",        // counts
            "owners",         // destructured
            "tokens",         // destructured
            "findings",       // destructured
            "rules",          // pat2entra's or the rules file's texts: kept
            "exceptions",     // destructured
            "usage",          // destructured
            "guidance",       // pat2entra's texts: kept
            "redaction",      // this module's own
        ];
        let unknown: Vec<&&str> = fields.iter().filter(|f| !known.contains(f)).collect();
        assert!(unknown.is_empty(), "decide in this module (redact.rs) how to redact the record fields {unknown:?}");
    }

    #[test]
    fn any_text_is_safe_to_scrub() {
        // Multi-byte characters next to everything the scrubber looks at: no panic, no loss.
        let text = "Ünïcödé→eyJ名.前.x token=秘密&x=1 bob@例え.example Bearer ключ12345678 ⚠@⚠.⚠";
        let out = scrub(text);
        assert!(!out.contains("秘密"), "{out}");
        assert!(out.starts_with("Ünïcödé→eyJ名.前.x token=<redacted>&x=1"), "{out}");
        for cut in 0..text.len() {
            if text.is_char_boundary(cut) {
                scrub(&text[..cut]);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 64, failure_persistence: None, ..Default::default() })]

        /// Any text can be scrubbed, and a credential in it is gone whatever surrounds it.
        #[test]
        fn a_credential_in_any_text_is_removed(
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            name in proptest::sample::select(&["password", "pat", "token", "client_secret"][..]),
            secret in "[A-Za-z0-9]{12,24}",
        ) {
            proptest::prop_assume!(!before.contains(&secret) && !after.contains(&secret));
            let _ = scrub(&before);
            let out = scrub(&format!("{before} {name}={secret} {after}"));
            proptest::prop_assert!(!out.contains(&secret), "{}", out);
        }
    }

    #[test]
    fn unknown_mails_get_pseudonyms() {
        assert_eq!(scrub("ask bob.smith@corp.example."), "ask MAIL(bob.smith@corp.example).");
        assert_eq!(scrub("a@b"), "a@b", "not a mail without a dot in the domain");
    }

    #[test]
    fn identities_are_replaced_at_word_boundaries_in_one_pass() {
        let k = key("0123456789abcdef");
        let scrubber = Scrubber::new(
            &k,
            vec![
                ("Anna Berg".into(), "user-1".into()),
                ("anna@corp.example".into(), "user-1@redacted.invalid".into()),
                ("Anna".into(), "user-2".into()),
                ("aad.QUJD".into(), "user-3".into()),
            ],
        );
        assert_eq!(scrubber.scrub("Anna Berg and ANNA@corp.example"), "user-1 and user-1@redacted.invalid");
        assert_eq!(scrubber.scrub("Annals by anna (aad.QUJD)"), "Annals by user-2 (user-3)");
        assert_eq!(scrubber.scrub("nothing here"), "nothing here");
    }
}
