//! Several organizations of one Entra tenant on one loopback address (`simulate --orgs N`):
//! each organization as the single-organization simulator serves it, under its own name, plus
//! what lives outside any organization: the caller's profile and the organizations it belongs
//! to (`_apis/profile/profiles/me`, `_apis/accounts`), in the shapes of Microsoft's specs
//! (`specification/profile/7.1/profile.json`, `specification/account/7.1/accounts.json` and
//! their examples `specification/{profile,account}/5.0/httpExamples/…`).
//!
//! The organizations share some people: the first few people after the service accounts of
//! every organization are the tenant's shared people (same names, principal names and ids;
//! descriptors, which carry the position, differ between organizations as the service does not
//! promise them equal). Each of them owns all-organizations PATs (no `targetAccounts`) that every
//! organization lists under the same authorization id, plus PATs of each organization's own,
//! always scoped to it. Everyone else belongs to one organization. [`SeededTenant`] is the
//! truth tests derive their expectations from.

use crate::http::{Reply, Request, Response};
use crate::org::{FIRST, LAST, SimOrg, SimToken, SimUser};
use crate::rng::{self, Rng, mix};
use crate::{SimConfig, SimState, SimStats, error, http};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Names of the organizations served, after the configured one (then `org6`, `org7`…).
const NAMES: &[&str] =
    &["contoso", "northwind", "tailspin", "woodgrove", "litware", "wingtip", "proseware", "fourthcoffee"];
const SHARED_PEOPLE: u64 = 0x5A4ED;
const SHARED_TOKENS: u64 = 0x61081;
/// People shared by every organization (fewer in tiny organizations).
const SHARED_COUNT: usize = 4;

/// The people an organization shares with the tenant's other organizations.
#[derive(Debug, Clone)]
pub(crate) struct SharedPeople {
    /// The tenant's seed: what is shared is generated from it, the same in every organization.
    seed: u64,
    count: usize,
    domain: String,
    /// Generated at (the tenant's anchor; shared PATs do not evolve with `epoch`).
    anchor: DateTime<Utc>,
}

/// The shared person at position `i` of `org`, if `i` is one.
pub(crate) fn shared_user(org: &SimOrg, i: usize) -> Option<SimUser> {
    let shared = org.shared.as_ref()?;
    let j = shared_position(org, shared, i)?;
    let mut rng = Rng::new(mix(shared.seed ^ SHARED_PEOPLE, j as u64));
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let alias = format!("{}.{}.shared{j}", first.to_ascii_lowercase(), last.to_ascii_lowercase());
    Some(org.make_user(i, &mut rng, "aad", format!("{first} {last}"), format!("{alias}@{}", shared.domain), false))
}

/// A shared person's PATs: the organization's own ones scoped to it, then the tenant-wide ones.
pub(crate) fn share_tokens(org: &SimOrg, i: usize, tokens: &mut Vec<SimToken>) {
    let Some(shared) = org.shared.as_ref() else { return };
    let Some(j) = shared_position(org, shared, i) else { return };
    for t in tokens.iter_mut() {
        t.target_accounts.get_or_insert_with(|| vec![org.id.clone()]);
    }
    tokens.extend(global_tokens(org, shared, j));
}

/// Shared person `j`'s all-organizations PATs: one or two, from the tenant's seed.
fn global_tokens(org: &SimOrg, shared: &SharedPeople, j: usize) -> Vec<SimToken> {
    let mut rng = Rng::new(mix(shared.seed ^ SHARED_TOKENS, j as u64));
    let count = 1 + rng.below(2);
    (0..count)
        .map(|_| {
            let mut token = org.token(&mut rng, shared.anchor);
            token.target_accounts = None;
            token
        })
        .collect()
}

fn shared_position(org: &SimOrg, shared: &SharedPeople, i: usize) -> Option<usize> {
    let start = org.service_accounts();
    (i >= start && i < start + shared.count.min(org.people().saturating_sub(start))).then(|| i - start)
}

/// One credential the simulator lists in several organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCredentialTruth {
    /// The owner's principal name (the same in every organization).
    pub owner: String,
    /// The organizations listing it, in name order.
    pub organizations: Vec<String>,
}

/// What the simulator seeded across organizations, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededTenant {
    /// The organizations served, in the order served (the first is `SimConfig::organization`).
    pub organizations: Vec<String>,
    /// All-organizations PATs listed by more than one organization, by authorization id.
    pub shared: BTreeMap<String, SharedCredentialTruth>,
    /// The caller's profile id (`profiles/me`), which `accounts?memberId=` answers for.
    pub profile_id: String,
}

/// Several organizations served on one address. Dropping it shuts the server down.
pub struct SimTenant {
    addr: SocketAddr,
    states: Vec<Arc<SimState>>,
    truth: SeededTenant,
    _shutdown: tokio::sync::watch::Sender<()>,
}

impl SimTenant {
    /// `http://127.0.0.1:PORT`, for `--base-url` (organizations, profile and accounts alike).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn organizations(&self) -> &[String] {
        &self.truth.organizations
    }

    /// Organization `k` as served.
    pub fn org(&self, k: usize) -> &SimOrg {
        &self.states[k].org
    }

    pub fn stats(&self, k: usize) -> &SimStats {
        &self.states[k].stats
    }

    pub fn config(&self) -> &SimConfig {
        &self.states[0].config
    }

    pub fn tenant_id(&self) -> &str {
        &self.states[0].org.tenant_id
    }

    pub fn truth(&self) -> &SeededTenant {
        &self.truth
    }
}

/// Serves `organizations` organizations of one tenant on `127.0.0.1:port`, each configured as
/// `config` says (the first named `config.organization`, each with a seed of its own).
pub async fn start_tenant(config: SimConfig, organizations: usize, port: u16) -> io::Result<SimTenant> {
    start_tenant_refusing(config, organizations, port, &[]).await
}

/// `start_tenant`, with the organizations at the positions `refusing` answering every request
/// 401, as an organization does to a PAT made for other organizations.
pub async fn start_tenant_refusing(
    config: SimConfig,
    organizations: usize,
    port: u16,
    refusing: &[usize],
) -> io::Result<SimTenant> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let mut rng = Rng::new(mix(config.seed, 0x7E4A47));
    let tenant_id = rng.guid();
    let profile_id = rng.guid();
    let shared = SharedPeople {
        seed: config.seed,
        count: SHARED_COUNT,
        domain: format!("{}.onmicrosoft.com", config.organization.to_ascii_lowercase()),
        anchor: config.anchor,
    };
    let tokens = Arc::new(crate::entra::TokenStore::default());
    let mut names: Vec<String> = vec![config.organization.clone()];
    for k in 1..organizations.max(1) {
        let candidate = NAMES.iter().find(|n| !names.iter().any(|m| m.eq_ignore_ascii_case(n)));
        names.push(candidate.map_or_else(|| format!("org{}", k + 1), |n| n.to_string()));
    }
    let states: Vec<Arc<SimState>> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let seed = if k == 0 { config.seed } else { mix(config.seed, k as u64) };
            let mut org = SimOrg::generate(name, seed, config.users, config.anchor, config.epoch);
            org.tenant_id = tenant_id.clone();
            org.shared = Some(shared.clone());
            // Evidence states are given to users with the tokens they now have.
            org.designated = org.designate();
            let mut served = SimConfig { organization: name.clone(), seed, ..config.clone() };
            if refusing.contains(&k) {
                // A PAT no caller has: every credential is refused.
                served.accepted_pat = Some(format!("refused-in-{name}-{}", rng::Rng::new(seed).guid()));
            }
            SimState::new(served, org, tokens.clone())
        })
        .collect();
    let truth = seeded(&states, profile_id);
    let served = Arc::new(Served { states: states.clone(), truth: truth.clone() });
    let (shutdown, shutdown_signal) = tokio::sync::watch::channel(());
    tokio::spawn(http::serve(
        listener,
        move |request| {
            let served = served.clone();
            async move { served.handle(request).await }
        },
        shutdown_signal,
    ));
    Ok(SimTenant { addr, states, truth, _shutdown: shutdown })
}

fn seeded(states: &[Arc<SimState>], profile_id: String) -> SeededTenant {
    let mut seen: BTreeMap<String, SharedCredentialTruth> = BTreeMap::new();
    for state in states {
        let org = &state.org;
        for (user, tokens) in org.users().zip(org.all_tokens()) {
            for token in tokens.into_iter().filter(|t| t.target_accounts.is_none()) {
                let entry = seen.entry(token.authorization_id).or_insert_with(|| SharedCredentialTruth {
                    owner: user.principal_name.clone(),
                    organizations: Vec::new(),
                });
                entry.organizations.push(org.name.clone());
            }
        }
    }
    seen.retain(|_, t| {
        t.organizations.sort();
        t.organizations.len() > 1
    });
    SeededTenant { organizations: states.iter().map(|s| s.org.name.clone()).collect(), shared: seen, profile_id }
}

/// The server's view: organizations by name, and the tenant-level endpoints.
struct Served {
    states: Vec<Arc<SimState>>,
    truth: SeededTenant,
}

impl Served {
    async fn handle(&self, request: Request) -> Reply {
        let first = request.segments.first().map(String::as_str).unwrap_or_default();
        if first.eq_ignore_ascii_case("_apis") {
            return self.tenant_endpoint(&request);
        }
        // An organization by name; anything else (token endpoints, an unknown organization's
        // 404) as the first organization answers it.
        let state = self.states.iter().find(|s| s.org.name.eq_ignore_ascii_case(first)).unwrap_or(&self.states[0]);
        state.handle(request).await
    }

    /// `_apis/profile/profiles/me` and `_apis/accounts?memberId=`.
    fn tenant_endpoint(&self, request: &Request) -> Reply {
        let state = &self.states[0];
        state.stats.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(reply) = state.authenticate(request) {
            state.stats.unauthenticated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return reply;
        }
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        let is = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        match segments.as_slice() {
            [_, p, ps, me] if is(p, "profile") && is(ps, "profiles") && is(me, "me") && request.method == "GET" => {
                let caller = state.administrator();
                let (name, mail) = caller.map_or_else(
                    || ("Simulated Administrator".to_string(), String::new()),
                    |u| (u.display_name, u.principal_name),
                );
                // The shape of GET__profile_profiles_me.json.
                Reply::Response(Response::json(
                    200,
                    &json!({
                        "displayName": name,
                        "publicAlias": self.truth.profile_id,
                        "emailAddress": mail,
                        "coreRevision": 1647,
                        "timeStamp": "2026-01-12T22:23:07.727+00:00",
                        "id": self.truth.profile_id,
                        "revision": 1647,
                    }),
                ))
            }
            [_, a] if is(a, "accounts") && request.method == "GET" => {
                let Some(member) = request.query("memberId") else {
                    return Reply::Response(error(
                        400,
                        "One of the following parameters is required: ownerId, memberId.",
                        "ArgumentException",
                    ));
                };
                // The shape of GET__Accounts_memberId-_userId_.json.
                let value: Vec<serde_json::Value> = if member.eq_ignore_ascii_case(&self.truth.profile_id) {
                    self.states
                        .iter()
                        .map(|s| {
                            json!({
                                "accountId": s.org.id,
                                "accountUri": format!("https://vssps.dev.azure.com/{}/", s.org.name),
                                "accountName": s.org.name,
                                "properties": {},
                            })
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                Reply::Response(Response::json(200, &json!({"count": value.len(), "value": value})))
            }
            _ => Reply::Response(error(404, "The resource cannot be found.", "NotFoundException")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_people_own_the_same_global_pats_in_every_organization() {
        let config = SimConfig { users: 40, anchor: "2026-11-26T00:00:00Z".parse().unwrap(), ..SimConfig::default() };
        let tenant = start_tenant(config, 3, 0).await.unwrap();
        assert_eq!(tenant.organizations(), ["fabrikam", "contoso", "northwind"]);
        let truth = tenant.truth();
        assert!(!truth.shared.is_empty());
        for shared in truth.shared.values() {
            assert_eq!(shared.organizations, ["contoso", "fabrikam", "northwind"]);
            assert!(shared.owner.ends_with("@fabrikam.onmicrosoft.com"), "{}", shared.owner);
        }
        // Every other global PAT belongs to one organization.
        let (a, b) = (tenant.org(0), tenant.org(1));
        let ids =
            |o: &SimOrg| -> Vec<String> { o.all_tokens().into_iter().flatten().map(|t| t.authorization_id).collect() };
        let common: Vec<String> = ids(a).into_iter().filter(|id| ids(b).contains(id)).collect();
        assert_eq!(common.len(), truth.shared.len());
        assert_eq!(a.tenant_id, b.tenant_id);
    }
}
