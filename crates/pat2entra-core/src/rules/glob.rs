//! Case-insensitive glob patterns (`*` any run of characters, `?` one character).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    source: String,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Glob { pattern: pattern.to_lowercase().chars().collect(), source: pattern.to_string() }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, text: &str) -> bool {
        if text.is_ascii() {
            // No allocation for the common case.
            return matches_with(&self.pattern, text.len(), |i| char::from(text.as_bytes()[i].to_ascii_lowercase()));
        }
        let text: Vec<char> = text.to_lowercase().chars().collect();
        matches_with(&self.pattern, text.len(), |i| text[i])
    }
}

/// Glob matching of `p` against a text of `len` characters, read through `at`.
fn matches_with(p: &[char], len: usize, at: impl Fn(usize) -> char) -> bool {
    // Iterative matcher with backtracking to the last `*`: linear in practice, never recursive.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < len {
        if pi < p.len() && (p[pi] == '?' || p[pi] == at(ti)) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_case_insensitively() {
        assert!(Glob::new("svc-*").matches("SVC-build@contoso.com"));
        assert!(Glob::new("*bot").matches("deploy-bot"));
        assert!(!Glob::new("*bot").matches("abbott.smith"));
        assert!(Glob::new("terraform*").matches("Terraform azuredevops provider"));
        assert!(Glob::new("a?c").matches("abc") && !Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("*a*b*").matches("xxaxxbxx") && !Glob::new("*a*b*").matches("xxbxxaxx"));
    }
}
