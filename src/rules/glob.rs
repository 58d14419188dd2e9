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
        let text: Vec<char> = text.to_lowercase().chars().collect();
        let (p, t) = (&self.pattern, &text);
        // Iterative matcher with backtracking to the last `*`: linear in practice, never recursive.
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
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
