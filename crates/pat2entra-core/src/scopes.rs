//! The Azure DevOps PAT / OAuth scope catalog, as data, in three parts (named 1a, 1b, 1c in
//! `CATALOG`):
//! - 1a: the special full-access values: `app_token` (the PAT UI's "Full access") and
//!   `user_impersonation`;
//! - 1b: Microsoft's scope table, in its row order (`docs/integrate/includes/scopes.md` in
//!   Microsoft's azure-devops-docs repository, ms.date 07/16/2025, rendered at
//!   <https://learn.microsoft.com/en-us/azure/devops/integrate/get-started/authentication/oauth#scopes>);
//! - 1c: scope strings seen outside that table.
//!
//! * `tier` is *our* classification, not a Microsoft field.
//! * `high_privilege` is Microsoft's "High-privilege" column, copied as-is (including its
//!   surprises: `vso.advsec` and `vso.securefiles_read` are flagged, `vso.work_full` is not).
//! * `includes` is Microsoft's "Inherits from" column, copied as-is (including the read scopes
//!   `vso.build`, `vso.code` and `vso.work` inheriting `vso.hooks_write`).
//! * `documented: false` marks strings that are not in Microsoft's table (1c: decompiled Azure
//!   DevOps Server code, legacy scopes, `vso.governance`). `vso.pats` / `vso.pats_manage` are seen
//!   only in third-party code and are deliberately absent.

use serde::Serialize;
use std::collections::BTreeSet;

/// How much a scope lets a token do within its area. Order matters: `Read < Write < Manage < Full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Read,
    Write,
    Manage,
    Full,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Read => "read",
            Tier::Write => "write",
            Tier::Manage => "manage",
            Tier::Full => "full",
        }
    }
}

/// One scope string and what we know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The scope string, e.g. `vso.code_write`.
    pub scope: &'static str,
    /// Short display text, e.g. "Code (read and write)".
    pub name: &'static str,
    /// Short lower-case area id, e.g. `code`, `packaging`; `all` for the full-access values.
    pub area: &'static str,
    /// Our tier classification.
    pub tier: Tier,
    /// Microsoft's "High-privilege" marking.
    pub high_privilege: bool,
    /// Scopes this one includes (Microsoft's "Inherits from" column).
    pub includes: &'static [&'static str],
    /// `false` for scope strings that are not in Microsoft's scope table (1c).
    pub documented: bool,
}

/// The scope a full-access PAT reports ("Full access" in the PAT UI).
pub const FULL_ACCESS: &str = "app_token";

/// Area id of the full-access values (`app_token`, `user_impersonation`).
const AREA_ALL: &str = "all";

/// A documented scope (Microsoft's table, or 1a).
const fn doc(
    scope: &'static str,
    name: &'static str,
    area: &'static str,
    tier: Tier,
    high_privilege: bool,
    includes: &'static [&'static str],
) -> ScopeInfo {
    ScopeInfo { scope, name, area, tier, high_privilege, includes, documented: true }
}

/// A scope string seen outside Microsoft's table (1c). Microsoft gives no
/// high-privilege marking or inheritance for these, so both are left empty.
const fn undoc(scope: &'static str, name: &'static str, area: &'static str, tier: Tier) -> ScopeInfo {
    ScopeInfo { scope, name, area, tier, high_privilege: false, includes: &[], documented: false }
}

use Tier::{Full, Manage, Read, Write};

const HP: bool = true; // Microsoft: High-privilege = Yes
const NO: bool = false;

/// Every scope string we know (1a, 1b, 1c).
pub static CATALOG: &[ScopeInfo] = &[
    // --- 1a: special / full-access values ---------------------------------------------------
    // `app_token` is not in Microsoft's table, but "Full access" is the documented PAT UI option
    // and `app_token` its scope value (server code's `AppTokenScope`). Microsoft gives it no
    // high-privilege flag; we set it because it is a superset of every flagged scope.
    doc(FULL_ACCESS, "Full access", AREA_ALL, Full, HP, &[]),
    // The Entra delegated permission on the Azure DevOps resource; in the official table, flagged.
    doc("user_impersonation", "User impersonation (full access)", AREA_ALL, Full, HP, &[]),
    // --- 1b: Microsoft's scope table, in its row order -----------------------------------------
    doc("vso.advsec", "Advanced Security (read)", "advsec", Read, HP, &[]),
    doc("vso.advsec_write", "Advanced Security (read and write)", "advsec", Write, HP, &["vso.advsec"]),
    doc("vso.advsec_manage", "Advanced Security (read, write and manage)", "advsec", Manage, HP, &["vso.advsec_write"]),
    doc("vso.agentpools", "Agent pools (read)", "agentpools", Read, NO, &[]),
    doc("vso.agentpools_manage", "Agent pools (read and manage)", "agentpools", Manage, HP, &["vso.agentpools"]),
    doc(
        "vso.environment_manage",
        "Environments (read and manage)",
        "environment",
        Manage,
        HP,
        &["vso.agentpools_manage"],
    ),
    doc("vso.analytics", "Analytics (read)", "analytics", Read, NO, &[]),
    doc("vso.auditlog", "Audit log (read)", "audit", Read, NO, &[]),
    // Microsoft's display name says "Audit Streams (read)", but the scope manages audit streams.
    doc("vso.auditstreams_manage", "Audit streams (manage)", "audit", Manage, HP, &["vso.auditlog"]),
    doc("vso.build", "Build (read)", "build", Read, NO, &["vso.hooks_write"]),
    // Table tier: "write (execute)".
    doc("vso.build_execute", "Build (read and execute)", "build", Write, HP, &["vso.build"]),
    doc("vso.code", "Code (read)", "code", Read, NO, &["vso.hooks_write"]),
    doc("vso.code_write", "Code (read and write)", "code", Write, HP, &["vso.code"]),
    doc("vso.code_manage", "Code (read, write and manage)", "code", Manage, HP, &["vso.code_write"]),
    doc("vso.code_full", "Code (full)", "code", Full, HP, &["vso.code_manage"]),
    // Table tier: "write (status only)" — reads and writes commit/PR statuses.
    doc("vso.code_status", "Code (status)", "code", Write, NO, &[]),
    // Table tier: "other". Inferred Write: a service-to-service scope for on-premises connected
    // servers that calls endpoints on the server's behalf, so not read-only; not admin either.
    doc("vso.connected_server", "Connected server", "connectedserver", Write, NO, &[]),
    doc("vso.entitlements", "Entitlements (read)", "entitlements", Read, NO, &[]),
    doc("vso.memberentitlementmanagement", "Member entitlements (read)", "entitlements", Read, NO, &[]),
    // Table tier: "manage (user admin)" despite the `_write` suffix: manages users and licenses.
    doc(
        "vso.memberentitlementmanagement_write",
        "Member entitlements (write)",
        "entitlements",
        Manage,
        HP,
        &["vso.memberentitlementmanagement"],
    ),
    doc("vso.extension", "Extensions (read)", "extensions", Read, NO, &["vso.profile"]),
    doc("vso.extension_manage", "Extensions (read and manage)", "extensions", Manage, HP, &["vso.extension"]),
    doc("vso.extension.data", "Extension data (read)", "extensions", Read, NO, &["vso.profile"]),
    doc(
        "vso.extension.data_write",
        "Extension data (read and write)",
        "extensions",
        Write,
        NO,
        &["vso.extension.data"],
    ),
    doc("vso.githubconnections", "GitHub connections (read)", "github", Read, NO, &[]),
    doc(
        "vso.githubconnections_manage",
        "GitHub connections (read and manage)",
        "github",
        Manage,
        HP,
        &["vso.githubconnections"],
    ),
    doc("vso.graph", "Graph (read)", "graph", Read, NO, &[]),
    doc("vso.graph_manage", "Graph (manage)", "graph", Manage, HP, &["vso.graph"]),
    doc("vso.identity", "Identity (read)", "identity", Read, NO, &[]),
    doc("vso.identity_manage", "Identity (manage)", "identity", Manage, HP, &["vso.identity"]),
    doc(
        "vso.machinegroup_manage",
        "Deployment groups (read and manage)",
        "deploymentgroups",
        Manage,
        HP,
        &["vso.agentpools_manage"],
    ),
    doc("vso.gallery", "Marketplace (read)", "marketplace", Read, NO, &["vso.profile"]),
    // Table tier: "write (acquire)".
    doc("vso.gallery_acquire", "Marketplace (acquire)", "marketplace", Write, NO, &["vso.gallery"]),
    // Table tier: "write (publish)".
    doc("vso.gallery_publish", "Marketplace (publish)", "marketplace", Write, HP, &["vso.gallery"]),
    doc("vso.gallery_manage", "Marketplace (manage)", "marketplace", Manage, HP, &["vso.gallery_publish"]),
    doc("vso.notification", "Notifications (read)", "notifications", Read, NO, &["vso.profile"]),
    doc("vso.notification_write", "Notifications (write)", "notifications", Write, NO, &["vso.notification"]),
    doc("vso.notification_manage", "Notifications (manage)", "notifications", Manage, NO, &["vso.notification_write"]),
    // Table tier: "other". Inferred Write: it reads diagnostic logs *and* turns diagnostics on
    // per subscription (a configuration change), but grants no subscription management.
    doc(
        "vso.notification_diagnostics",
        "Notifications (diagnostics)",
        "notifications",
        Write,
        NO,
        &["vso.notification"],
    ),
    doc("vso.packaging", "Packaging (read)", "packaging", Read, NO, &["vso.profile"]),
    doc("vso.packaging_write", "Packaging (read and write)", "packaging", Write, HP, &["vso.packaging"]),
    doc(
        "vso.packaging_manage",
        "Packaging (read, write and manage)",
        "packaging",
        Manage,
        HP,
        &["vso.packaging_write"],
    ),
    // Table tier: "write (approve)" — approves a pipeline's use of a protected resource.
    doc("vso.pipelineresources_use", "Pipeline resources (use)", "pipelineresources", Write, HP, &[]),
    doc(
        "vso.pipelineresources_manage",
        "Pipeline resources (use and manage)",
        "pipelineresources",
        Manage,
        HP,
        &["vso.pipelineresources_use"],
    ),
    doc("vso.project", "Project and team (read)", "project", Read, NO, &[]),
    doc("vso.project_write", "Project and team (read and write)", "project", Write, NO, &["vso.project"]),
    doc(
        "vso.project_manage",
        "Project and team (read, write and manage)",
        "project",
        Manage,
        HP,
        &["vso.project_write"],
    ),
    doc("vso.release", "Release (read)", "release", Read, NO, &["vso.profile"]),
    // Table tier: "write (execute)".
    doc("vso.release_execute", "Release (read, write and execute)", "release", Write, HP, &["vso.release"]),
    doc(
        "vso.release_manage",
        "Release (read, write, execute and manage)",
        "release",
        Manage,
        HP,
        &["vso.release_execute"],
    ),
    // Read tier, but flagged by Microsoft: it reads secret material.
    doc("vso.securefiles_read", "Secure files (read)", "securefiles", Read, HP, &[]),
    doc("vso.securefiles_write", "Secure files (read and create)", "securefiles", Write, HP, &["vso.securefiles_read"]),
    doc(
        "vso.securefiles_manage",
        "Secure files (read, create and manage)",
        "securefiles",
        Manage,
        HP,
        &["vso.securefiles_write"],
    ),
    doc("vso.security_manage", "Security (manage)", "security", Manage, HP, &[]),
    doc("vso.serviceendpoint", "Service connections (read)", "serviceendpoints", Read, NO, &["vso.profile"]),
    // Table tier: "read (query)".
    doc(
        "vso.serviceendpoint_query",
        "Service connections (read and query)",
        "serviceendpoints",
        Read,
        NO,
        &["vso.serviceendpoint"],
    ),
    doc(
        "vso.serviceendpoint_manage",
        "Service connections (read, query and manage)",
        "serviceendpoints",
        Manage,
        HP,
        &["vso.serviceendpoint_query"],
    ),
    // The three service-hook scopes are marked "(No longer public.)" by Microsoft.
    doc("vso.hooks", "Service hooks (read)", "servicehooks", Read, NO, &["vso.profile"]),
    doc("vso.hooks_write", "Service hooks (read and write)", "servicehooks", Write, NO, &["vso.hooks"]),
    // Table tier: "other". Inferred Write: it acts on events delivered by service hooks rather
    // than only reading them; it manages no subscriptions.
    doc("vso.hooks_interact", "Service hooks (interact)", "servicehooks", Write, NO, &["vso.profile"]),
    doc("vso.settings", "Settings (read)", "settings", Read, NO, &[]),
    doc("vso.settings_write", "Settings (read and write)", "settings", Write, NO, &["vso.settings"]),
    doc("vso.symbols", "Symbols (read)", "symbols", Read, NO, &["vso.profile"]),
    doc("vso.symbols_write", "Symbols (read and write)", "symbols", Write, NO, &["vso.symbols"]),
    doc("vso.symbols_manage", "Symbols (read, write and manage)", "symbols", Manage, NO, &["vso.symbols_write"]),
    doc("vso.taskgroups_read", "Task groups (read)", "taskgroups", Read, NO, &[]),
    doc("vso.taskgroups_write", "Task groups (read and create)", "taskgroups", Write, NO, &["vso.taskgroups_read"]),
    doc(
        "vso.taskgroups_manage",
        "Task groups (read, create and manage)",
        "taskgroups",
        Manage,
        HP,
        &["vso.taskgroups_write"],
    ),
    doc("vso.dashboards", "Team dashboards (read)", "dashboards", Read, NO, &[]),
    doc("vso.dashboards_manage", "Team dashboards (manage)", "dashboards", Manage, NO, &["vso.dashboards"]),
    doc("vso.test", "Test management (read)", "test", Read, NO, &["vso.profile"]),
    doc("vso.test_write", "Test management (read and write)", "test", Write, NO, &["vso.test"]),
    // Table tier: "write", despite the `_full` suffix: it only reads and writes PR comment
    // threads. Classing it Full would put a comment-only scope on the privileged deny list.
    doc("vso.threads_full", "Pull request threads", "code", Write, NO, &[]),
    // Table tier: "manage (token)".
    doc("vso.tokens", "Delegated authorization tokens", "tokens", Manage, HP, &[]),
    // Table tier: "manage (token admin)".
    doc("vso.tokenadministration", "Token administration", "tokens", Manage, HP, &[]),
    doc("vso.profile", "User profile (read)", "profile", Read, NO, &[]),
    doc("vso.profile_write", "User profile (write)", "profile", Write, NO, &["vso.profile"]),
    doc("vso.variablegroups_read", "Variable groups (read)", "variablegroups", Read, NO, &[]),
    doc(
        "vso.variablegroups_write",
        "Variable groups (read and create)",
        "variablegroups",
        Write,
        NO,
        &["vso.variablegroups_read"],
    ),
    doc(
        "vso.variablegroups_manage",
        "Variable groups (read, create and manage)",
        "variablegroups",
        Manage,
        HP,
        &["vso.variablegroups_write"],
    ),
    doc("vso.wiki", "Wiki (read)", "wiki", Read, NO, &[]),
    doc("vso.wiki_write", "Wiki (read and write)", "wiki", Write, NO, &["vso.wiki"]),
    doc("vso.work", "Work items (read)", "work", Read, NO, &["vso.hooks_write"]),
    doc("vso.work_write", "Work items (read and write)", "work", Write, NO, &["vso.work"]),
    doc("vso.work_full", "Work items (full)", "work", Full, NO, &["vso.work_write"]),
    // --- 1c: seen outside the official table (decompiled Azure DevOps Server 2022 code, legacy) --
    // Tiers follow the suffix convention; where there is none, Read (the lowest tier) is used.
    // No tier for deletion exists; deleting audit streams is an admin action, so Manage.
    undoc("vso.auditstreams_delete", "Audit streams (delete)", "audit", Manage),
    undoc("vso.buildcache", "Build cache (read)", "buildcache", Read),
    undoc("vso.buildcache_write", "Build cache (read and write)", "buildcache", Write),
    undoc("vso.codesearch", "Code search", "code", Read),
    undoc("vso.drop", "Drop (read)", "drop", Read),
    undoc("vso.drop_write", "Drop (read and write)", "drop", Write),
    undoc("vso.drop_manage", "Drop (read, write and manage)", "drop", Manage),
    undoc("vso.features", "Feature flags (read)", "features", Read),
    undoc("vso.features_write", "Feature flags (read and write)", "features", Write),
    undoc("vso.workitemsearch", "Work item search", "work", Read),
    // Legacy: in the pre-2025 table, removed since (Azure DevOps load testing is retired).
    undoc("vso.loadtest", "Load test (read)", "loadtest", Read),
    undoc("vso.loadtest_write", "Load test (read and write)", "loadtest", Write),
    // Sign-out only; grants no data access, so the lowest tier.
    undoc("signout", "Sign out", "profile", Read),
    // Official note: "isn't selectable in the UI" for custom PATs; absent from the table.
    // No suffix and no description of its rights, so Read.
    undoc("vso.governance", "Component governance", "governance", Read),
];

/// Areas whose high-privilege scopes administer the organization itself (tokens, identities,
/// users and licenses, permissions, audit). Used by [`default_privileged`].
const ADMIN_AREAS: &[&str] = &["audit", "entitlements", "graph", "identity", "security", "tokens"];

/// The scope strings of a `scope` field: the service separates them with spaces, but commas and
/// semicolons (`vso.code,app_token`) are seen too, and a hand-edited saved scan may hold either.
pub fn split(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|s| !s.is_empty())
}

/// Every scope of a token's list, split again with [`split`] so that an element such as
/// `"vso.code,app_token"` (a saved scan written before splitting was fixed) is judged right.
pub fn each<S: AsRef<str>>(scopes: &[S]) -> impl Iterator<Item = &str> {
    scopes.iter().flat_map(|s| split(s.as_ref()))
}

/// A scope string as a shared [`Text`](crate::Text): one allocation per catalog scope for the
/// whole process (the catalog's spelling only; any other string is interned like any `Text`).
pub fn shared(scope: &str) -> crate::Text {
    static SHARED: std::sync::OnceLock<std::collections::HashMap<&'static str, crate::Text>> =
        std::sync::OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        CATALOG.iter().map(|s| s.scope).chain([FULL_ACCESS]).map(|s| (s, crate::Text::from(s))).collect()
    });
    shared.get(scope).cloned().unwrap_or_else(|| crate::Text::intern(scope))
}

/// Whether a scope string is the full-access value `app_token` (any case).
pub fn is_full_access(scope: &str) -> bool {
    scope.eq_ignore_ascii_case(FULL_ACCESS)
}

/// Exact, case-insensitive lookup of a scope string.
pub fn lookup(scope: &str) -> Option<&'static ScopeInfo> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<String, &'static ScopeInfo>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| CATALOG.iter().map(|s| (s.scope.to_ascii_lowercase(), s)).collect());
    // Scopes arrive lower case; only mixed-case input pays for a lower-cased copy.
    index.get(scope).copied().or_else(|| {
        if scope.bytes().any(|b| b.is_ascii_uppercase()) {
            index.get(&scope.to_ascii_lowercase()).copied()
        } else {
            None
        }
    })
}

/// Whether the scope string is in the catalog (case-insensitive).
pub fn is_known(scope: &str) -> bool {
    lookup(scope).is_some()
}

/// All scopes a scope grants, itself included, following `includes` transitively (no duplicates, deterministic order).
///
/// Order: the scope itself, then a depth-first walk of `includes` in listed order. The full-access
/// values (area `all`: `app_token`, `user_impersonation`) grant everything, so they expand to
/// themselves followed by every other catalog scope in catalog order. Unknown scopes expand to
/// nothing.
pub fn expand(scope: &str) -> Vec<&'static str> {
    let Some(root) = lookup(scope) else {
        return Vec::new();
    };
    let mut out: Vec<&'static str> = Vec::new();
    if root.area == AREA_ALL {
        out.push(root.scope);
        out.extend(CATALOG.iter().filter(|s| s.area != AREA_ALL).map(|s| s.scope));
        return out;
    }
    let mut stack: Vec<&'static str> = vec![root.scope];
    while let Some(current) = stack.pop() {
        if out.contains(&current) {
            continue;
        }
        out.push(current);
        if let Some(info) = lookup(current) {
            // Reverse so the first listed include is visited first.
            stack.extend(info.includes.iter().rev().copied());
        }
    }
    out
}

/// Distinct areas of a set of scopes (unknown scopes contribute nothing), sorted.
pub fn areas<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    scopes.into_iter().filter_map(lookup).map(|s| s.area).collect::<BTreeSet<_>>().into_iter().collect()
}

/// The default deny list for the `privileged-scope` rule: scopes whose tier is manage or full, or that are marked high-privilege and give admin power (tokens, identity/graph manage, security manage, ...). Sorted.
pub fn default_privileged() -> Vec<&'static str> {
    CATALOG
        .iter()
        .filter(|s| s.tier >= Tier::Manage || (s.high_privilege && ADMIN_AREAS.contains(&s.area)))
        .map(|s| s.scope)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scopes whose suffix disagrees with our tier, on purpose.
    /// `vso.threads_full` is "write" in the table: it only reads and writes PR comment threads.
    const SUFFIX_EXCEPTIONS: &[&str] = &["vso.threads_full"];

    #[test]
    fn tiers_match_suffixes() {
        for s in CATALOG {
            if SUFFIX_EXCEPTIONS.contains(&s.scope) {
                continue;
            }
            if s.scope.ends_with("_manage") {
                assert!(s.tier >= Tier::Manage, "{} should be at least manage", s.scope);
            }
            if s.scope.ends_with("_full") {
                assert_eq!(s.tier, Tier::Full, "{} should be full", s.scope);
            }
            if s.scope.ends_with("_write") {
                assert!(s.tier >= Tier::Write, "{} should be at least write", s.scope);
            }
            if s.scope.ends_with("_execute") || s.scope.ends_with("_delete") {
                assert!(s.tier >= Tier::Write, "{} should be at least write", s.scope);
            }
        }
        let full = lookup(FULL_ACCESS).expect("app_token is in the catalog");
        assert_eq!(full.tier, Tier::Full);
        assert_eq!(full.area, "all");
    }

    #[test]
    fn suffix_exceptions_are_still_justified() {
        let threads = lookup("vso.threads_full").unwrap();
        assert_eq!(threads.tier, Tier::Write);
        assert!(!threads.high_privilege);
    }

    #[test]
    fn covers_every_row_of_the_official_table() {
        let table = include_str!("../../../tests/fixtures/scope-table.txt");
        let rows: Vec<&str> = table.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 85, "table 1b has 85 rows");
        for scope in &rows {
            assert!(is_known(scope), "{scope} missing from the catalog");
            assert!(lookup(scope).unwrap().documented, "{scope} should be documented");
        }
        // Everything else marked documented is one of the 1a values.
        for s in CATALOG.iter().filter(|s| s.documented) {
            assert!(
                rows.contains(&s.scope) || s.area == "all",
                "{} is marked documented but is not in table 1b",
                s.scope
            );
        }
    }

    #[test]
    fn no_duplicates() {
        let mut seen = BTreeSet::new();
        for s in CATALOG {
            assert!(seen.insert(s.scope.to_ascii_lowercase()), "duplicate scope {}", s.scope);
        }
    }

    #[test]
    fn includes_targets_exist() {
        for s in CATALOG {
            for inc in s.includes {
                assert!(is_known(inc), "{} includes unknown {}", s.scope, inc);
                assert_ne!(*inc, s.scope, "{} includes itself", s.scope);
            }
        }
    }

    #[test]
    fn fields_are_sane() {
        for s in CATALOG {
            assert!(!s.name.is_empty(), "{} has no name", s.scope);
            assert!(
                !s.area.is_empty() && s.area.chars().all(|c| c.is_ascii_lowercase()),
                "{} has a bad area {:?}",
                s.scope,
                s.area
            );
            assert!(s.name.len() <= 60, "{}: keep display names short", s.scope);
        }
    }

    #[test]
    fn expand_follows_includes() {
        let e = expand("vso.code_full");
        assert_eq!(
            e,
            [
                "vso.code_full",
                "vso.code_manage",
                "vso.code_write",
                "vso.code",
                "vso.hooks_write",
                "vso.hooks",
                "vso.profile"
            ]
        );
        assert!(e.contains(&"vso.code"));
        // Two paths to vso.agentpools_manage / vso.profile; no duplicates.
        let e = expand("vso.environment_manage");
        assert_eq!(e, ["vso.environment_manage", "vso.agentpools_manage", "vso.agentpools"]);
        assert_eq!(expand("VSO.Code"), ["vso.code", "vso.hooks_write", "vso.hooks", "vso.profile"]);
        assert!(expand("vso.nope").is_empty());
        for s in CATALOG {
            let e = expand(s.scope);
            assert_eq!(e[0], s.scope);
            let unique: BTreeSet<_> = e.iter().collect();
            assert_eq!(unique.len(), e.len(), "{} expands with duplicates", s.scope);
            assert_eq!(e, expand(s.scope), "deterministic");
        }
    }

    #[test]
    fn full_access_expands_to_everything() {
        let e = expand(FULL_ACCESS);
        assert_eq!(e[0], FULL_ACCESS);
        assert!(e.contains(&"vso.code_full"));
        assert!(e.contains(&"vso.tokenadministration"));
        assert!(!e.contains(&"user_impersonation"));
        assert_eq!(e.len(), CATALOG.len() - 1);
    }

    #[test]
    fn areas_dedupes_and_sorts() {
        assert_eq!(
            areas(["vso.packaging_write", "vso.code", "vso.code_write", "VSO.PACKAGING", "unknown.scope"]),
            ["code", "packaging"]
        );
        assert_eq!(areas([FULL_ACCESS]), ["all"]);
        assert!(areas(Vec::<&str>::new()).is_empty());
        assert!(areas(["nope"]).is_empty());
    }

    #[test]
    fn lookup_is_case_insensitive_and_exact() {
        assert_eq!(lookup("VSO.CODE_WRITE").unwrap().scope, "vso.code_write");
        assert_eq!(lookup("App_Token").unwrap().scope, FULL_ACCESS);
    }

    #[test]
    fn scope_lists_split_on_spaces_commas_and_semicolons() {
        let got: Vec<&str> = split(" vso.code,app_token;vso.build\tvso.work ,, ;").collect();
        assert_eq!(got, ["vso.code", "app_token", "vso.build", "vso.work"]);
        let saved = vec!["vso.code,APP_TOKEN".to_string(), "vso.packaging".to_string()];
        assert_eq!(each(&saved).collect::<Vec<_>>(), ["vso.code", "APP_TOKEN", "vso.packaging"]);
        assert!(each(&saved).any(is_full_access));
        assert!(!is_full_access("app_tokens"));
        assert!(lookup("vso.code ").is_none());
        assert!(lookup("vso.cod").is_none());
        assert!(!is_known("vso.pats"));
        assert!(!is_known(""));
    }

    #[test]
    fn tier_order_and_strings() {
        assert!(Tier::Read < Tier::Write && Tier::Write < Tier::Manage && Tier::Manage < Tier::Full);
        for (t, s) in [(Read, "read"), (Write, "write"), (Manage, "manage"), (Full, "full")] {
            assert_eq!(t.as_str(), s);
        }
    }

    #[test]
    fn privileged_list() {
        let p = default_privileged();
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(p, sorted);
        for must in [
            FULL_ACCESS,
            "vso.tokens",
            "vso.tokenadministration",
            "vso.identity_manage",
            "vso.graph_manage",
            "vso.security_manage",
            "vso.memberentitlementmanagement_write",
            "vso.code_full",
            "vso.packaging_manage",
        ] {
            assert!(p.contains(&must), "{must} should be privileged");
        }
        for not in ["vso.code", "vso.code_write", "vso.packaging_write", "vso.threads_full", "vso.securefiles_read"] {
            assert!(!p.contains(&not), "{not} should not be privileged by default");
        }
    }
}
