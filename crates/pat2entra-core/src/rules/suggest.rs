//! "Did you mean …?" for misspelled keys and rule ids.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Adds a suggestion to a serde "unknown field `x`, expected one of `a`, `b`" message.
pub fn improve_unknown_field(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_string();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return message.to_string();
    };
    let unknown = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
    match closest(unknown, expected.iter().copied()) {
        Some(suggestion) => format!("{}; did you mean `{suggestion}`?", message.trim_end()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        // Levenshtein distance: a swap of two letters is two edits.
        assert_eq!(closest("sveerity", ["severity"]), Some("severity"));
        assert_eq!(closest("kitten", ["sitting"]), None, "3 edits in 7 letters is not a typo");
        assert_eq!(closest("max_lifetime_dayz", ["severity", "max_lifetime_days"]), Some("max_lifetime_days"));
        assert_eq!(closest("ful-access", ["full-access", "long-lived"]), Some("full-access"));
        assert_eq!(closest("xyz", ["full-access"]), None);
        let improved = improve_unknown_field("unknown field `sevrity`, expected one of `enabled`, `severity`");
        assert!(improved.ends_with("did you mean `severity`?"), "{improved}");
    }
}
