//! What a PAT is used for, inferred from its scopes and display name, with the evidence.

use crate::text::Text;
use serde::{Deserialize, Serialize};

/// Uses pat2entra can recognise. Ids are stable (they appear in JSON and the guidance catalog).
pub const USES: &[(&str, &str)] = &[
    ("git", "Git access (clone, push)"),
    ("packages-nuget", "NuGet feed"),
    ("packages-npm", "npm feed"),
    ("packages-maven", "Maven feed"),
    ("packages-python", "Python feed (pip, twine)"),
    ("packages", "package feed"),
    ("pipelines", "pipelines and release automation"),
    ("agent-pool", "self-hosted agent registration"),
    ("rest-scripting", "REST scripting and reporting"),
    ("terraform", "Terraform / infrastructure as code"),
    ("marketplace", "Marketplace extension publishing"),
    ("admin-tooling", "administration tooling (tokens, users, security)"),
    ("analytics", "Analytics / Power BI"),
    ("integration", "third-party integration"),
    ("unknown", "unknown use"),
];

/// Words in a display name that point at a use. A word matches a whole word of the name (or
/// its start, for words of four letters or more); a phrase with a space matches as a phrase.
const NAME_HINTS: &[(&str, &[&str])] = &[
    (
        "git",
        &[
            "git",
            "clone",
            "repo",
            "repos",
            "push",
            "vs code",
            "vscode",
            "visual studio",
            "mirror",
            "sourcetree",
            "xcode",
            "intellij",
            "rider",
        ],
    ),
    ("packages-nuget", &["nuget", "dotnet", "credprovider"]),
    ("packages-npm", &["npm", "yarn", "pnpm", "node"]),
    ("packages-maven", &["maven", "mvn", "gradle"]),
    ("packages-python", &["pip", "python", "twine", "pypi", "poetry"]),
    ("packages", &["feed", "artifact", "artifacts", "package", "packages"]),
    ("pipelines", &["pipeline", "build", "release", "ci", "cd", "cicd", "deploy", "deployment", "trigger", "yaml"]),
    ("agent-pool", &["agent", "agents", "pool", "self-hosted", "selfhosted"]),
    ("terraform", &["terraform", "tf", "pulumi", "iac", "azuredevops provider"]),
    ("marketplace", &["marketplace", "vsce", "tfx", "vsix", "extension"]),
    (
        "admin-tooling",
        &[
            "audit",
            "admin",
            "user management",
            "token audit",
            "token admin",
            "tokenadmin",
            "rotation",
            "security",
            "scanner",
            "governance",
            "license",
            "licensing",
            "graph",
        ],
    ),
    (
        "analytics",
        &["power bi", "powerbi", "analytics", "odata", "report", "reporting", "dashboard", "dashboards", "excel"],
    ),
    (
        "integration",
        &[
            "jira",
            "slack",
            "teams",
            "servicenow",
            "sonar",
            "sonarqube",
            "github",
            "jenkins",
            "octopus",
            "integration",
            "connector",
            "sync",
            "webhook",
            "service hooks",
            "zapier",
        ],
    ),
    (
        "rest-scripting",
        &["script", "scripts", "api", "rest", "automation", "powershell", "cli", "az devops", "python script"],
    ),
];

/// Scope prefixes that point at a use, with a weight (how specific the scope is to that use).
const SCOPE_HINTS: &[(&str, &str, u32)] = &[
    ("vso.code", "git", 2),
    ("vso.packaging", "packages", 2),
    ("vso.build", "pipelines", 2),
    ("vso.release", "pipelines", 2),
    ("vso.pipelineresources", "pipelines", 2),
    ("vso.variablegroups", "pipelines", 1),
    ("vso.securefiles", "pipelines", 1),
    ("vso.environment", "pipelines", 1),
    ("vso.taskgroups", "pipelines", 1),
    ("vso.agentpools", "agent-pool", 3),
    ("vso.machinegroup", "agent-pool", 3),
    ("vso.gallery", "marketplace", 3),
    ("vso.extension", "marketplace", 1),
    ("vso.tokenadministration", "admin-tooling", 3),
    ("vso.tokens", "admin-tooling", 3),
    ("vso.graph", "admin-tooling", 2),
    ("vso.identity", "admin-tooling", 2),
    ("vso.security", "admin-tooling", 2),
    ("vso.memberentitlementmanagement", "admin-tooling", 3),
    ("vso.auditlog", "admin-tooling", 2),
    ("vso.auditstreams", "admin-tooling", 2),
    ("vso.analytics", "analytics", 3),
    ("vso.serviceendpoint", "terraform", 1),
    ("vso.project", "terraform", 1),
    ("vso.connected_server", "integration", 2),
    ("vso.hooks", "integration", 1),
    ("vso.work", "rest-scripting", 1),
    ("vso.wiki", "rest-scripting", 1),
    ("vso.test", "rest-scripting", 1),
    ("vso.dashboards", "rest-scripting", 1),
    ("vso.notification", "integration", 1),
];

/// A name hint weighs more than a scope: people name tokens after what they do.
const NAME_WEIGHT: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// What a token is probably used for, and why pat2entra thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inference {
    #[serde(rename = "use")]
    pub use_id: Text,
    pub confidence: Confidence,
    /// Shared whole by the usages `advise` makes (most tokens give one of a few dozen lists).
    #[serde(with = "crate::text::list")]
    pub evidence: std::sync::Arc<[Text]>,
}

/// The display-name words, lower case, with spaces around each for phrase matching.
fn words(name: &str) -> (Vec<String>, String) {
    let normal: String =
        name.to_lowercase().chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { ' ' }).collect();
    let list: Vec<String> = normal.split_whitespace().map(str::to_string).collect();
    let phrase = format!(" {} ", list.join(" "));
    (list, phrase)
}

fn name_matches(hint: &str, words: &[String], phrase: &str) -> bool {
    if hint.contains(' ') || hint.contains('-') {
        return phrase.contains(&format!(" {hint} ")) || phrase.contains(&format!(" {hint}"));
    }
    words.iter().any(|w| {
        w == hint
            || (hint.len() >= 4 && w.starts_with(hint))
            || w.split('-').any(|part| part == hint || (hint.len() >= 4 && part.starts_with(hint)))
    })
}

/// Infers the use of a token from its scopes and display name.
pub fn infer<S: AsRef<str>>(scopes: &[S], display_name: &str) -> Inference {
    let mut scores: Vec<(usize, u32)> = Vec::new();
    let mut evidence_of: Vec<Vec<String>> = vec![Vec::new(); USES.len()];
    let index = |id: &str| USES.iter().position(|(u, _)| *u == id).expect("hint names a known use");
    let mut add = |use_id: &str, weight: u32, evidence: String| {
        let i = index(use_id);
        match scores.iter_mut().find(|(u, _)| *u == i) {
            Some((_, s)) => *s += weight,
            None => scores.push((i, weight)),
        }
        if !evidence_of[i].contains(&evidence) {
            evidence_of[i].push(evidence);
        }
    };

    let (name_words, phrase) = words(display_name);
    let mut named: Vec<usize> = Vec::new();
    for (use_id, hints) in NAME_HINTS {
        if let Some(hint) = hints.iter().find(|h| name_matches(h, &name_words, &phrase)) {
            add(use_id, NAME_WEIGHT, format!("name contains '{hint}'"));
            named.push(index(use_id));
        }
    }
    let mut scope_uses: Vec<usize> = Vec::new();
    for scope in crate::scopes::each(scopes) {
        let scope = scope.to_ascii_lowercase();
        if let Some((_, use_id, weight)) = SCOPE_HINTS.iter().find(|(prefix, _, _)| {
            scope == *prefix || scope.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('_'))
        }) {
            add(use_id, *weight, format!("scope {scope}"));
            scope_uses.push(index(use_id));
        }
    }
    // A specific feed named in the display name refines a generic packaging scope.
    let generic_packages = index("packages");
    let specific = named.iter().copied().find(|u| USES[*u].0.starts_with("packages-"));
    let generic = scores.iter().find(|(u, _)| *u == generic_packages).map(|(_, s)| *s);
    if let (Some(specific), Some(generic)) = (specific, generic) {
        let taken = std::mem::take(&mut evidence_of[generic_packages]);
        evidence_of[specific].extend(taken);
        scores.retain(|(u, _)| *u != generic_packages);
        if let Some((_, s)) = scores.iter_mut().find(|(u, _)| *u == specific) {
            *s += generic;
        }
    }

    // Highest score wins; ties go to the use listed first in USES (more specific first).
    scores.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some(&(best, score)) = scores.first() else {
        let mut evidence = vec!["no scope or name hints at a use".to_string()];
        if crate::scopes::each(scopes).any(crate::scopes::is_full_access) {
            evidence = vec!["full access (app_token) and no name hint".to_string()];
        }
        return Inference { use_id: Text::intern("unknown"), confidence: Confidence::Low, evidence: shared(evidence) };
    };
    let runner_up = scores.get(1).map_or(0, |(_, s)| *s);
    let by_name = named.contains(&best);
    let by_scope =
        scope_uses.contains(&best) || (USES[best].0.starts_with("packages-") && scope_uses.contains(&generic_packages));
    let confidence = if by_name && by_scope && score > runner_up {
        Confidence::High
    } else if score > runner_up && (by_name || score >= 2) {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    let mut evidence = std::mem::take(&mut evidence_of[best]);
    if score == runner_up {
        let (other, _) = scores[1];
        evidence.push(format!("ambiguous: also fits {}", USES[other].1));
    }
    Inference { use_id: Text::intern(USES[best].0), confidence, evidence: shared(evidence) }
}

/// The lines of evidence as `Text`s: many tokens have the same ones, and within
/// [`interned`](crate::text::interned) (as `advise` runs) they share them.
fn shared(evidence: Vec<String>) -> std::sync::Arc<[Text]> {
    evidence.iter().map(|e| Text::intern(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(scopes: &str, name: &str) -> Inference {
        infer(&scopes.split_whitespace().map(str::to_string).collect::<Vec<_>>(), name)
    }

    #[test]
    fn realistic_tokens() {
        // (scopes, display name, expected use, expected confidence)
        let table: &[(&str, &str, &str, Confidence)] = &[
            ("vso.code", "git clone", "git", Confidence::High),
            ("vso.code_write", "", "git", Confidence::Medium),
            ("vso.code_write", "VS Code on laptop", "git", Confidence::High),
            ("vso.packaging", "nuget feed", "packages-nuget", Confidence::High),
            ("vso.packaging_write", "npm publish", "packages-npm", Confidence::High),
            ("vso.packaging", "pip install private feed", "packages-python", Confidence::High),
            ("vso.packaging_manage", "maven deploy", "packages-maven", Confidence::High),
            ("vso.packaging", "", "packages", Confidence::Medium),
            ("vso.build_execute", "CI pipeline trigger", "pipelines", Confidence::High),
            ("vso.agentpools_manage", "self-hosted agent registration", "agent-pool", Confidence::High),
            (
                "vso.project_manage vso.build_execute vso.code_manage vso.serviceendpoint_manage",
                "terraform",
                "terraform",
                Confidence::High,
            ),
            ("vso.gallery_publish vso.gallery_manage", "vsce publish", "marketplace", Confidence::High),
            ("vso.tokenadministration", "token audit script", "admin-tooling", Confidence::High),
            ("vso.graph_manage vso.memberentitlementmanagement_write", "", "admin-tooling", Confidence::Medium),
            ("vso.analytics", "Power BI refresh", "analytics", Confidence::High),
            ("vso.work_write vso.code vso.build", "jira sync", "integration", Confidence::Medium),
            ("vso.work vso.analytics", "sprint report script", "analytics", Confidence::High),
            ("app_token", "terraform", "terraform", Confidence::Medium),
            ("app_token", "my token", "unknown", Confidence::Low),
            ("app_token", "", "unknown", Confidence::Low),
            ("vso.made_up_scope", "temp", "unknown", Confidence::Low),
        ];
        for (scopes, name, want_use, want_confidence) in table {
            let got = case(scopes, name);
            assert_eq!(
                (got.use_id.as_str(), got.confidence),
                (*want_use, *want_confidence),
                "{scopes} / {name}: {got:?}"
            );
            assert!(!got.evidence.is_empty());
        }
    }

    #[test]
    fn evidence_names_scopes_and_name_words() {
        let got = case("vso.packaging_write", "nuget push");
        assert!(got.evidence.contains(&crate::Text::from("scope vso.packaging_write")), "{:?}", got.evidence);
        assert!(got.evidence.contains(&crate::Text::from("name contains 'nuget'")), "{:?}", got.evidence);
    }

    #[test]
    fn ambiguous_tokens_say_so() {
        // Code and build scopes with a name that fits neither better.
        let got = case("vso.code vso.build", "misc");
        assert_eq!(got.confidence, Confidence::Low);
        assert!(got.evidence.iter().any(|e| e.starts_with("ambiguous")), "{:?}", got.evidence);
    }

    #[test]
    fn short_words_match_whole_words_only() {
        assert_ne!(case("", "ciso report").use_id, "pipelines");
        assert_eq!(case("", "ci").use_id, "pipelines");
        assert_eq!(case("", "pipelines-prod").use_id, "pipelines");
    }
}
