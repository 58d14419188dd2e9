//! Guidance: for every finding, the Microsoft Entra based replacement for what the PAT is used
//! for. The texts are data (`catalog.toml`); which use a token serves is inferred from its scopes
//! and name (`inference`).

mod inference;

pub use inference::{Confidence, Inference, USES, infer};

use crate::finding::Finding;
use crate::inventory::Inventory;
use crate::text::Text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const CATALOG: &str = include_str!("catalog.toml");

/// One replacement recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guidance {
    pub id: Text,
    /// Inferred uses it serves.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Rules it answers whatever the use.
    #[serde(default)]
    pub rules: Vec<String>,
    pub title: String,
    /// The short action shown in tables.
    pub action: String,
    pub steps: Vec<String>,
    #[serde(default)]
    pub caveats: Vec<String>,
    /// The Microsoft Learn page.
    pub learn: String,
    #[serde(default)]
    pub see_also: Vec<String>,
    /// When a PAT must stay: the least-privilege scopes and the longest sensible lifetime.
    #[serde(default)]
    pub keep_pat: Option<KeepPat>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepPat {
    pub scopes: Vec<String>,
    pub max_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    guidance: Vec<Guidance>,
}

/// The use pat2entra inferred for a token, and the guidance that follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub authorization_id: Text,
    /// Descriptor of the token's owner: an id listed under two owners is two tokens. (Empty in
    /// records written before it existed.)
    #[serde(default)]
    pub owner: Text,
    #[serde(flatten)]
    pub inference: Inference,
    pub guidance: Text,
}

/// Every guidance entry (parsed once; the catalog's validity is checked by tests).
pub fn catalog() -> &'static [Guidance] {
    static PARSED: OnceLock<Vec<Guidance>> = OnceLock::new();
    PARSED.get_or_init(|| {
        toml::from_str::<CatalogFile>(CATALOG)
            .unwrap_or_else(|e| panic!("crates/pat2entra-core/src/guidance/catalog.toml is invalid: {e}"))
            .guidance
    })
}

pub fn by_id(id: &str) -> Option<&'static Guidance> {
    catalog().iter().find(|g| g.id == id)
}

/// The guidance for an inferred use (every use has one; `unknown` falls back to the CLI token).
pub fn for_use(use_id: &str) -> &'static Guidance {
    catalog()
        .iter()
        .find(|g| g.uses.iter().any(|u| u == use_id))
        .or_else(|| catalog().iter().find(|g| g.uses.iter().any(|u| u == "unknown")))
        .expect("the catalog has guidance for unknown uses")
}

/// Guidance that answers a rule whatever the token is used for (e.g. `owner-removed`).
pub fn for_rule(rule: &str) -> Option<&'static Guidance> {
    catalog().iter().find(|g| g.rules.iter().any(|r| r == rule))
}

/// Infers every token's use, and gives every finding its guidance id. Pure.
/// Usages share their ids with their tokens, and equal lines of evidence with each other.
pub fn advise(inventory: &Inventory, findings: &mut [Finding]) -> Vec<TokenUsage> {
    // Equal lists of evidence, one allocation (each new one is dropped once matched).
    let mut lists: std::collections::HashSet<std::sync::Arc<[Text]>> = std::collections::HashSet::new();
    let usage: Vec<TokenUsage> = crate::text::interned(|| {
        inventory
            .tokens
            .iter()
            .map(|t| {
                let mut inference = infer(&t.scopes, &t.display_name);
                match lists.get(&*inference.evidence) {
                    Some(shared) => inference.evidence = shared.clone(),
                    None => {
                        lists.insert(inference.evidence.clone());
                    }
                }
                let guidance = for_use(&inference.use_id).id.clone();
                TokenUsage { authorization_id: t.authorization_id.clone(), owner: t.owner.clone(), inference, guidance }
            })
            .collect()
    });
    // Usages by (owner, id) in the record's compact lookup: 12 bytes a usage where a map of
    // the pairs took about 50. The ids are compared on every lookup (a collision costs a
    // comparison only); of two usages of one pair, the later one answers.
    let by_token = crate::record::Lookup::new(usage.iter().map(|u| (u.owner.as_str(), u.authorization_id.as_str())));
    let usage_of = |owner: &str, id: &str| {
        by_token.get((owner, id)).map(|i| &usage[i]).filter(|u| u.owner == owner && u.authorization_id == id).last()
    };
    for f in findings.iter_mut() {
        let id = match for_rule(&f.rule) {
            Some(g) => g.id.clone(),
            None => usage_of(&f.owner, &f.authorization_id)
                .map(|u| u.guidance.clone())
                .unwrap_or_else(|| for_use("unknown").id.clone()),
        };
        f.guidance = Some(id);
    }
    usage
}

/// The guidance entries a set of findings and usages refer to, in catalog order.
pub fn referenced<'a>(findings: &[Finding], usage: impl IntoIterator<Item = &'a TokenUsage>) -> Vec<Guidance> {
    // Inserted one by one: `collect` into a set first gathers every id (one per finding and
    // usage) in a vector to sort, for a set of a dozen.
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for id in
        findings.iter().filter_map(|f| f.guidance.as_deref()).chain(usage.into_iter().map(|u| u.guidance.as_str()))
    {
        ids.insert(id);
    }
    catalog().iter().filter(|g| ids.contains(g.id.as_str())).cloned().collect()
}

/// The whole text of one guidance entry, for `pat2entra explain`.
pub fn explain(g: &Guidance) -> String {
    let mut text = format!("{}\n  {}\n\n  Action: {}\n\n  Steps:\n", g.id, g.title, g.action);
    for (i, step) in g.steps.iter().enumerate() {
        text.push_str(&format!("    {}. {step}\n", i + 1));
    }
    if !g.caveats.is_empty() {
        text.push_str("\n  Caveats:\n");
        for c in &g.caveats {
            text.push_str(&format!("    - {c}\n"));
        }
    }
    if let Some(keep) = &g.keep_pat {
        text.push_str(&format!(
            "\n  If a PAT must stay: limit it to this organization, scopes {}, at most {} days.\n",
            keep.scopes.join(", "),
            keep.max_days
        ));
    }
    text.push_str(&format!("\n  Microsoft Learn: {}\n", g.learn));
    for s in &g.see_also {
        text.push_str(&format!("  See also: {s}\n"));
    }
    if !g.uses.is_empty() {
        let names: Vec<&str> =
            g.uses.iter().filter_map(|u| USES.iter().find(|(id, _)| id == u).map(|(_, name)| *name)).collect();
        text.push_str(&format!("\n  Serves: {}\n", names.join("; ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADO_RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";

    fn all_text(g: &Guidance) -> String {
        let keep = g.keep_pat.as_ref().map(|k| k.scopes.join(" ")).unwrap_or_default();
        [g.title.clone(), g.action.clone(), g.steps.join(" "), g.caveats.join(" "), keep].join(" ")
    }

    #[test]
    fn the_catalog_parses_with_unique_ids_and_learn_links() {
        let mut ids = BTreeSet::new();
        for g in catalog() {
            assert!(ids.insert(g.id.as_str()), "duplicate guidance id {}", g.id);
            assert!(g.learn.starts_with("https://learn.microsoft.com/"), "{}: {}", g.id, g.learn);
            assert!(!g.steps.is_empty() && !g.action.is_empty(), "{}", g.id);
            for u in &g.uses {
                assert!(USES.iter().any(|(id, _)| id == u), "{}: unknown use {u}", g.id);
            }
            for r in &g.rules {
                assert!(crate::rules::RuleId::parse(r).is_some(), "{}: unknown rule {r}", g.id);
            }
        }
    }

    #[test]
    fn every_use_has_guidance() {
        for (use_id, _) in USES {
            let g = for_use(use_id);
            assert!(g.uses.iter().any(|u| u == use_id), "no guidance serves {use_id}");
        }
    }

    #[test]
    fn texts_state_the_facts_that_matter() {
        for g in catalog() {
            let text = all_text(g);
            // Wherever a token is fetched with the Azure CLI, it is for Azure DevOps' resource id.
            if text.contains("get-access-token") {
                assert!(
                    text.contains(&format!("--resource {ADO_RESOURCE}")),
                    "{}: az token without the resource id",
                    g.id
                );
            }
            if text.contains(".default") {
                assert!(text.contains(&format!("{ADO_RESOURCE}/.default")), "{}", g.id);
            }
            // Never recommend Azure DevOps OAuth apps: any mention says they are being retired.
            let lower = text.to_lowercase();
            assert!(!lower.contains("app.vssps.visualstudio.com/oauth"), "{}", g.id);
            for (i, _) in lower.match_indices("azure devops oauth") {
                let around = &lower[i.saturating_sub(80)..(i + 160).min(lower.len())];
                assert!(
                    around.contains("retir") || around.contains("do not") || around.contains("cannot"),
                    "{}: mentions Azure DevOps OAuth without warning: {around}",
                    g.id
                );
            }
            // Where a PAT must stay, it is limited and short.
            if let Some(keep) = &g.keep_pat {
                assert!(keep.max_days <= 90, "{}", g.id);
            }
        }
        assert!(all_text(for_use("integration")).contains("Entra"));
        assert!(all_text(for_use("git")).contains("credential.azReposCredentialType oauth"));
        assert!(all_text(for_use("pipelines")).contains("System.AccessToken"));
        assert!(all_text(for_use("packages-nuget")).contains("Credential Provider"));
        assert!(all_text(for_use("agent-pool")).contains("--auth SP"));
    }

    #[test]
    fn explain_prints_everything() {
        let text = explain(for_use("git"));
        assert!(text.contains("Steps:") && text.contains("Microsoft Learn: https://learn.microsoft.com/"));
        assert!(text.contains("If a PAT must stay"));
    }
}
