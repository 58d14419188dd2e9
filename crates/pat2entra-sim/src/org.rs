//! The seeded synthetic organization the simulator serves. Same seed and anchor date, same org.

use super::rng::{Rng, mix};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveTime, Utc};

/// A Graph subject of the synthetic organization.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub descriptor: String,
    pub display_name: String,
    pub principal_name: String,
    pub mail: String,
    /// `aad`, `msa` or `vsts` (service identities).
    pub origin: String,
    pub origin_id: String,
    pub domain: String,
    pub meta_type: Option<String>,
    pub deleted_in_origin: bool,
    /// Storage key; Token Admin's `userId`.
    pub id: String,
}

impl SimUser {
    /// The subject type: the descriptor prefix (`aad`, `msa`, `svc`).
    pub fn subject_type(&self) -> &str {
        self.descriptor.split('.').next().unwrap_or_default()
    }
}

/// A personal access token of the synthetic organization.
#[derive(Debug, Clone)]
pub struct SimToken {
    pub authorization_id: String,
    pub display_name: Option<String>,
    pub scope: String,
    /// `None` for a global (all organizations) token.
    pub target_accounts: Option<Vec<String>>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    /// How the timestamps are written on the wire (the service uses several shapes).
    pub time_format: TimeFormat,
    pub is_valid: bool,
    /// A fake secret, served in `token` only when the simulator is told to leak it.
    pub secret: String,
    /// An SSH key's public key text (`publicData`); `None` for a PAT.
    pub public_data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `2018-07-19T00:00:00` (no zone; the Token Admin example's shape)
    ZoneLess,
    /// `2020-11-23T04:04:38.5233333Z`
    Utc,
}

impl SimToken {
    /// The token as a scan of the simulator would record it (for tests and benchmarks that
    /// need an inventory without going through HTTP). Shares what the scanner shares: pass the
    /// owner's own `Text`; scopes are the catalog's; organization ids are shared inside
    /// `pat2entra_core::text::interned`.
    pub fn to_inventory(&self, owner: impl Into<pat2entra_core::Text>) -> pat2entra_core::inventory::Token {
        use pat2entra_core::Text;
        pat2entra_core::inventory::Token {
            authorization_id: self.authorization_id.as_str().into(),
            owner: owner.into(),
            display_name: self.display_name.clone().unwrap_or_default(),
            scopes: self.scope.split_whitespace().map(pat2entra_core::scopes::shared).collect(),
            all_organizations: self.target_accounts.is_none(),
            target_accounts: self.target_accounts.iter().flatten().map(|id| Text::intern(id)).collect(),
            valid_from: Some(self.valid_from),
            valid_to: Some(self.valid_to),
            is_valid: self.is_valid,
            unreadable: None,
            kind: if self.public_data.is_some() {
                pat2entra_core::evidence::CredentialKind::Ssh
            } else {
                pat2entra_core::evidence::CredentialKind::Pat
            },
            ..Default::default()
        }
    }
}

impl TimeFormat {
    pub fn format(self, t: DateTime<Utc>) -> String {
        let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let nanos = t.timestamp_subsec_nanos();
        let fraction =
            if nanos == 0 { String::new() } else { format!(".{:07}", nanos / 100).trim_end_matches('0').to_string() };
        match self {
            TimeFormat::ZoneLess => format!("{base}{fraction}"),
            TimeFormat::Utc => format!("{base}{fraction}Z"),
        }
    }
}

/// The whole organization, generated on demand: user `i` and its tokens come from the seed and
/// `i` alone, and a descriptor carries its user's position, so a 100,000-user organization takes
/// no memory and the simulator is never the bottleneck. Same seed and dates, same organization.
#[derive(Debug, Clone)]
pub struct SimOrg {
    pub name: String,
    pub id: String,
    pub tenant_id: String,
    /// People (service identities come after them).
    people: usize,
    domain: String,
    service_accounts: usize,
    seed: u64,
    anchor: DateTime<Utc>,
    /// When set, tokens are generated as of this date and the organization then moves on to
    /// `anchor`: tokens revoked and created in between.
    epoch: Option<DateTime<Utc>>,
    /// Users of the Graph subject kinds `csp` and `bnd`, after the service identities.
    pub(crate) csp_users: usize,
    pub(crate) bnd_users: usize,
    /// Users given an evidence state on purpose, so that every state exists (see `evidence`).
    pub(crate) designated: crate::evidence::Designated,
    /// The tenant's PAT policies (`TenantPolicy/Policies`); the simulator's configuration may
    /// replace them.
    pub policies: pat2entra_core::evidence::TenantPolicies,
    /// Token Admin answers 404 for removed owners who own no PAT (`SimConfig`'s option).
    pub removed_owners_not_found: bool,
    /// One organization of several (`simulate --orgs`): the people it shares with the others.
    pub(crate) shared: Option<crate::orgs::SharedPeople>,
}

/// Salts that keep the random streams of users, tokens and history independent.
const TOKENS: u64 = 0x70CE_5A17;
const HISTORY: u64 = 0x0E70_1FE5;

pub(crate) const FIRST: &[&str] = &[
    "Ava", "Ben", "Chen", "Dana", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nora",
    "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Aisha",
    "Bruno", "Carmen", "Dmitri", "Esther", "Felix", "Gita", "Hamza", "Ivy", "Jonas",
];
pub(crate) const LAST: &[&str] = &[
    "Adeyemi",
    "Berg",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hartnett",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urquhart",
    "Varga",
    "Wagner",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Totten",
    "Novak",
];
const SERVICE_ACCOUNTS: &[(&str, &str)] = &[
    ("svc-build", "Build Service Account"),
    ("svc-release", "Release Automation"),
    ("automation-bot", "Automation Bot"),
    ("svc-terraform", "Terraform Service"),
    ("build-agent", "Build Agent Pool Owner"),
    ("svc-reporting", "Reporting Service"),
    ("deploy-bot", "Deployment Bot"),
    ("svc-backup", "Backup Service"),
];

/// What a token is for: its display names and scopes, as real organizations have them.
const PURPOSES: &[(u32, (&[&str], &str))] = &[
    (10, (&["git clone", "git access", "repo sync"], "vso.code")),
    (5, (&["git push from laptop", "vs code"], "vso.code_write")),
    (3, (&["git full", "mirror repos"], "vso.code_full")),
    (6, (&["nuget feed", "npm registry", "pip install private feed"], "vso.packaging")),
    (4, (&["nuget push", "npm publish", "maven deploy"], "vso.packaging_write")),
    (2, (&["feed admin"], "vso.packaging_manage")),
    (6, (&["pipeline trigger", "ci pipeline", "build status"], "vso.build_execute")),
    (3, (&["release pipeline", "azure pipelines release"], "vso.build_execute vso.release_execute")),
    (
        3,
        (
            &["terraform", "terraform azuredevops provider"],
            "vso.project_manage vso.build_execute vso.code_manage vso.serviceendpoint_manage",
        ),
    ),
    (4, (&["agent pool", "self-hosted agent registration"], "vso.agentpools_manage")),
    (4, (&["work item report", "sprint dashboard script"], "vso.work vso.analytics")),
    (2, (&["power bi analytics"], "vso.analytics")),
    (1, (&["marketplace publish", "vsce publish"], "vso.gallery_publish vso.gallery_manage")),
    (1, (&["token audit script"], "vso.tokenadministration")),
    (1, (&["user management automation"], "vso.graph_manage vso.memberentitlementmanagement_write")),
    (3, (&["jira sync", "slack integration", "servicenow connector"], "vso.work_write vso.code vso.build")),
    (2, (&["dashboards"], "vso.dashboards vso.taskgroups_manage")),
    (1, (&["security scanner"], "vso.security_manage vso.code")),
    (
        1,
        (
            &["legacy migration tool"],
            "vso.work_full vso.code_full vso.build_execute vso.release_manage vso.test_write vso.wiki_write",
        ),
    ),
    (12, (&["full access", "temp", "my token", "test", "admin", "ci", ""], "app_token")),
];

const SERVICE_IDENTITIES: [&str; 2] = ["Project Collection Build Service", "Agent Pool Service"];

const LIFETIME_DAYS: &[(u32, i64)] = &[(2, 7), (6, 30), (3, 60), (5, 90), (4, 180), (7, 365), (2, 730)];

impl SimOrg {
    /// Generates an organization of `users` people (plus a few service identities that the
    /// Graph filter `subjectTypes=aad,msa` leaves out), tokens dated around `anchor`; with an
    /// `epoch` before `anchor`, as it was at the epoch and then moved on to `anchor`.
    pub fn generate(
        name: &str,
        seed: u64,
        users: usize,
        anchor: DateTime<Utc>,
        epoch: Option<DateTime<Utc>>,
    ) -> SimOrg {
        let mut rng = Rng::new(seed);
        let id = rng.guid();
        let tenant_id = rng.guid();
        // Organizations of 50 people or more have a few `csp` and `bnd` users (kept out of
        // smaller ones, whose tests count owners).
        let (csp_users, bnd_users) = if users >= 50 { ((users / 150).max(1), (users / 300).max(1)) } else { (0, 0) };
        let mut org = SimOrg {
            name: name.to_string(),
            id,
            tenant_id,
            people: users,
            domain: format!("{}.com", name.to_ascii_lowercase()),
            service_accounts: (users / 40).clamp(usize::from(users > 0), SERVICE_ACCOUNTS.len()),
            seed,
            anchor,
            epoch: epoch.filter(|e| *e < anchor),
            csp_users,
            bnd_users,
            designated: Default::default(),
            policies: crate::evidence::default_policies(),
            removed_owners_not_found: false,
            shared: None,
        };
        org.designated = org.designate();
        org
    }

    /// Users, service identities and `csp`/`bnd` users included.
    pub fn user_count(&self) -> usize {
        self.people + SERVICE_IDENTITIES.len() + self.csp_users + self.bnd_users
    }

    pub(crate) fn people(&self) -> usize {
        self.people
    }

    pub(crate) fn service_accounts(&self) -> usize {
        self.service_accounts
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn anchor(&self) -> DateTime<Utc> {
        self.anchor
    }

    /// User `i` (people first, then the service identities that the Graph filter
    /// `subjectTypes=aad,msa` leaves out).
    pub fn user(&self, i: usize) -> Option<SimUser> {
        if i >= self.user_count() {
            return None;
        }
        let domain = &self.domain;
        let extras = self.people + SERVICE_IDENTITIES.len();
        if i >= extras {
            // Partner (`csp`) and `bnd` users: Entra users of subject kinds Microsoft's TokenAdmin
            // sample also scans.
            let kind = if i - extras < self.csp_users { "csp" } else { "bnd" };
            let mut rng = Rng::new(mix(self.seed ^ 0xC5B, i as u64));
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let alias = format!("{}.{}{}", first.to_ascii_lowercase(), last.to_ascii_lowercase(), i);
            let upn = if kind == "csp" { format!("{alias}@partner-{domain}") } else { format!("{alias}@{domain}") };
            let mut user = self.make_user(i, &mut rng, kind, format!("{first} {last}"), upn, false);
            user.origin = "aad".into();
            user.domain = self.tenant_id.clone();
            user.meta_type = Some("member".into());
            return Some(user);
        }
        if i >= self.people {
            let name = SERVICE_IDENTITIES[i - self.people];
            let mut rng = Rng::new(mix(self.seed ^ 0x5FC, i as u64));
            let mut svc = self.make_user(i, &mut rng, "svc", format!("{name} ({})", self.name), String::new(), false);
            svc.origin = "vsts".into();
            svc.mail = String::new();
            svc.principal_name = svc.display_name.clone();
            return Some(svc);
        }
        if let Some(user) = crate::orgs::shared_user(self, i) {
            return Some(user);
        }
        let mut rng = Rng::new(mix(self.seed, i as u64));
        Some(if let Some((alias, display)) = SERVICE_ACCOUNTS.get(i).filter(|_| i < self.service_accounts) {
            self.make_user(i, &mut rng, "aad", display.to_string(), format!("{alias}@{domain}"), false)
        } else {
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let display = format!("{first} {last}");
            // Unique principal names even when names repeat.
            let alias = format!("{}.{}{}", first.to_ascii_lowercase(), last.to_ascii_lowercase(), i);
            if rng.chance(0.12) {
                self.make_user(i, &mut rng, "msa", display, format!("{alias}@outlook.com"), false)
            } else {
                let deleted = rng.chance(0.05);
                self.make_user(i, &mut rng, "aad", display, format!("{alias}@{domain}"), deleted)
            }
        })
    }

    /// Every user, in order (for tests and benchmarks).
    pub fn users(&self) -> impl Iterator<Item = SimUser> + '_ {
        (0..self.user_count()).filter_map(|i| self.user(i))
    }

    /// The position of the user with this descriptor: descriptors carry it (in the last group of
    /// the GUID they encode), checked against the user generated there.
    pub fn user_index(&self, descriptor: &str) -> Option<usize> {
        let (_, encoded) = descriptor.split_once('.')?;
        let guid = base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded).ok()?;
        let guid = std::str::from_utf8(&guid).ok()?;
        let position = u64::from_str_radix(guid.get(24..36)?, 16).ok()? ^ self.position_mask();
        let i = usize::try_from(position).ok()?;
        self.user(i).filter(|u| u.descriptor == descriptor).map(|_| i)
    }

    fn position_mask(&self) -> u64 {
        mix(self.seed, 0xDE5C) & 0xffff_ffff_ffff
    }

    /// The tokens of user `i`, generated from the seed (the same every time).
    pub fn tokens_of(&self, i: usize) -> Vec<SimToken> {
        let Some(user) = self.user(i) else {
            return Vec::new();
        };
        if user.subject_type() == "svc" {
            return Vec::new();
        }
        let mut rng = Rng::new(mix(self.seed ^ TOKENS, i as u64));
        let count = if i < self.service_accounts {
            3 + rng.below(6)
        } else if i >= self.people + SERVICE_IDENTITIES.len() {
            // `csp` and `bnd` users own PATs.
            1 + rng.below(3)
        } else {
            *rng.weighted(&[(30, 0u64), (30, 1), (20, 2), (10, 3), (6, 4), (3, 5), (1, 6)])
        };
        let generated_at = self.epoch.unwrap_or(self.anchor);
        let mut tokens: Vec<SimToken> = (0..count).map(|_| self.token(&mut rng, generated_at)).collect();
        if let Some(epoch) = self.epoch {
            self.evolve(i, &mut tokens, epoch, self.anchor);
        }
        crate::orgs::share_tokens(self, i, &mut tokens);
        tokens
    }

    /// Every user's tokens (for tests and benchmarks; the simulator itself never needs all).
    pub fn all_tokens(&self) -> Vec<Vec<SimToken>> {
        (0..self.user_count()).map(|i| self.tokens_of(i)).collect()
    }

    pub(crate) fn make_user(
        &self,
        i: usize,
        rng: &mut Rng,
        kind: &str,
        display_name: String,
        principal_name: String,
        deleted: bool,
    ) -> SimUser {
        let id = rng.guid();
        let guid = rng.guid();
        let guid = format!("{}{:012x}", &guid[..24], (i as u64) ^ self.position_mask());
        let descriptor = format!("{kind}.{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(guid));
        let (domain, meta_type) = match kind {
            "msa" => ("Windows Live ID".to_string(), None),
            "aad" if principal_name.ends_with("outlook.com") => (self.tenant_id.clone(), Some("guest".to_string())),
            "aad" => (self.tenant_id.clone(), Some("member".to_string())),
            _ => ("LOCAL AUTHORITY".to_string(), None),
        };
        SimUser {
            descriptor,
            display_name,
            mail: principal_name.clone(),
            principal_name,
            origin: kind.to_string(),
            origin_id: rng.guid(),
            domain,
            meta_type,
            deleted_in_origin: deleted,
            id,
        }
    }

    pub(crate) fn token(&self, rng: &mut Rng, anchor: DateTime<Utc>) -> SimToken {
        let (names, scope) = *rng.weighted(PURPOSES);
        let name = *rng.pick(names);
        let lifetime = *rng.weighted(LIFETIME_DAYS);
        // Created some time before the anchor: some still valid, some long expired.
        let age_days = if lifetime > 365 {
            // Tokens over a year old predate the one-year cap of the PAT page.
            400 + rng.below((lifetime - 300) as u64) as i64
        } else {
            rng.below((lifetime + lifetime / 2 + 45) as u64) as i64
        };
        let created = anchor.date_naive() - Duration::days(age_days);
        let seconds = rng.below(86_400) as u32;
        let ticks = match rng.below(3) {
            0 => 0,
            1 => rng.below(100) as u32 * 100_000,
            _ => rng.below(10_000_000) as u32,
        };
        let valid_from = created
            .and_time(NaiveTime::from_num_seconds_from_midnight_opt(seconds, ticks * 100).expect("valid time"))
            .and_utc();
        let global = rng.chance(0.18);
        let mut secret = String::with_capacity(52);
        for _ in 0..52 {
            secret.push(b"abcdefghijklmnopqrstuvwxyz234567"[rng.below(32) as usize] as char);
        }
        SimToken {
            authorization_id: rng.guid(),
            display_name: (!name.is_empty()).then(|| name.to_string()),
            scope: scope.to_string(),
            target_accounts: (!global).then(|| vec![self.id.clone()]),
            valid_from,
            valid_to: valid_from + Duration::days(lifetime),
            time_format: if rng.chance(0.5) { TimeFormat::ZoneLess } else { TimeFormat::Utc },
            is_valid: !rng.chance(0.06),
            secret,
            public_data: None,
        }
    }

    /// User `i`'s tokens moving on from `from` to `to`: some valid ones are revoked, and some
    /// users create new ones.
    fn evolve(&self, i: usize, tokens: &mut Vec<SimToken>, from: DateTime<Utc>, to: DateTime<Utc>) {
        let days = (to - from).num_days();
        if days <= 0 {
            return;
        }
        let mut rng = Rng::new(mix(self.seed ^ HISTORY ^ (days as u64).wrapping_mul(0x9E37), i as u64));
        let per_day = days as f64;
        for t in tokens.iter_mut() {
            if t.is_valid && t.valid_to > from && rng.chance(0.003 * per_day) {
                t.is_valid = false;
            }
        }
        if rng.chance(0.006 * per_day) {
            let mut token = self.token(&mut rng, to);
            let lifetime = token.valid_to - token.valid_from;
            token.valid_from = from + Duration::seconds(1 + rng.below((days * 86_400 - 1) as u64) as i64);
            token.valid_to = token.valid_from + lifetime;
            token.is_valid = true;
            tokens.push(token);
        }
    }

    /// The number of tokens (generates them all: for reporting, not for hot paths).
    pub fn token_count(&self) -> usize {
        (0..self.user_count()).map(|i| self.tokens_of(i).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn anchor() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    fn ids(o: &SimOrg) -> Vec<String> {
        o.all_tokens().iter().flatten().map(|t| t.authorization_id.clone()).collect()
    }

    #[test]
    fn same_seed_same_org_different_seed_different_org() {
        let a = SimOrg::generate("fabrikam", 42, 200, anchor(), None);
        let b = SimOrg::generate("fabrikam", 42, 200, anchor(), None);
        let c = SimOrg::generate("fabrikam", 43, 200, anchor(), None);
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&c));
        // Generated on demand, tokens are the same every time they are asked for.
        assert_eq!(
            a.tokens_of(7).iter().map(|t| &t.authorization_id).collect::<Vec<_>>(),
            b.tokens_of(7).iter().map(|t| &t.authorization_id).collect::<Vec<_>>()
        );
        assert_eq!(a.user_index(&a.user(17).unwrap().descriptor), Some(17));
        assert_eq!(a.user_index(&a.user(201).unwrap().descriptor), Some(201), "service identities too");
        assert_eq!(a.user_index("aad.bm9wZQ"), None);
        assert_eq!(b.user_index(&c.user(3).unwrap().descriptor), None, "another org's descriptor");
    }

    #[test]
    fn the_mix_is_realistic() {
        let org = SimOrg::generate("fabrikam", 42, 300, anchor(), None);
        let all = org.all_tokens();
        let tokens: Vec<&SimToken> = all.iter().flatten().collect();
        assert!(tokens.len() > 300, "{} tokens", tokens.len());
        assert!(tokens.iter().any(|t| t.scope == "app_token"));
        assert!(tokens.iter().any(|t| t.target_accounts.is_none()));
        assert!(tokens.iter().any(|t| !t.is_valid));
        assert!(tokens.iter().any(|t| t.valid_to < anchor()));
        assert!(tokens.iter().any(|t| t.valid_to - t.valid_from > Duration::days(365)));
        assert!(tokens.iter().any(|t| t.scope.contains("_manage")));
        assert!(org.users().any(|u| u.deleted_in_origin));
        assert!(org.users().any(|u| u.origin == "msa"));
        assert!(org.users().any(|u| u.principal_name.starts_with("svc-")));
        assert!(org.users().any(|u| u.subject_type() == "svc"));
    }

    #[test]
    fn a_later_scan_keeps_old_tokens_and_adds_and_revokes_some() {
        let later_date = anchor() + Duration::days(14);
        let start = SimOrg::generate("fabrikam", 42, 300, anchor(), None);
        let later = SimOrg::generate("fabrikam", 42, 300, later_date, Some(anchor()));
        let before = ids(&start);
        let after = ids(&later);
        assert!(before.iter().all(|id| after.contains(id)), "old tokens stay listed");
        let later_tokens = later.all_tokens();
        let created: Vec<&SimToken> =
            later_tokens.iter().flatten().filter(|t| !before.contains(&t.authorization_id)).collect();
        assert!(!created.is_empty());
        assert!(created.iter().all(|t| t.valid_from > anchor() && t.valid_from <= later_date));
        let now_valid: HashMap<&str, bool> =
            later_tokens.iter().flatten().map(|t| (t.authorization_id.as_str(), t.is_valid)).collect();
        let start_tokens = start.all_tokens();
        let revoked = start_tokens.iter().flatten().filter(|t| t.is_valid && !now_valid[t.authorization_id.as_str()]);
        assert!(revoked.count() > 0);
        assert_eq!(ids(&SimOrg::generate("fabrikam", 42, 300, later_date, Some(anchor()))), after);
    }

    #[test]
    fn timestamps_round_trip_through_every_wire_format() {
        let org = SimOrg::generate("fabrikam", 1, 100, anchor(), None);
        for t in org.all_tokens().iter().flatten() {
            let text = t.time_format.format(t.valid_from);
            assert_eq!(pat2entra_ado::parse_timestamp(&text).unwrap(), t.valid_from, "{text}");
        }
    }
}
