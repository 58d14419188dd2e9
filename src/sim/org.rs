//! The seeded synthetic organization the simulator serves. Same seed and anchor date, same org.

use super::rng::Rng;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `2018-07-19T00:00:00` (no zone; the Token Admin example's shape)
    ZoneLess,
    /// `2020-11-23T04:04:38.5233333Z`
    Utc,
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

/// The whole organization: users and, aligned with them, their tokens.
#[derive(Debug, Clone)]
pub struct SimOrg {
    pub name: String,
    pub id: String,
    pub tenant_id: String,
    pub users: Vec<SimUser>,
    pub tokens: Vec<Vec<SimToken>>,
}

const FIRST: &[&str] = &[
    "Ava", "Ben", "Chen", "Dana", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nora",
    "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Aisha",
    "Bruno", "Carmen", "Dmitri", "Esther", "Felix", "Gita", "Hamza", "Ivy", "Jonas",
];
const LAST: &[&str] = &[
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

const LIFETIME_DAYS: &[(u32, i64)] = &[(2, 7), (6, 30), (3, 60), (5, 90), (4, 180), (7, 365), (2, 730)];

impl SimOrg {
    /// Generates an organization of `users` people (plus a few service identities that the
    /// Graph filter `subjectTypes=aad,msa` leaves out), tokens dated around `anchor`.
    pub fn generate(name: &str, seed: u64, users: usize, anchor: DateTime<Utc>) -> SimOrg {
        let mut rng = Rng::new(seed);
        let id = rng.guid();
        let tenant_id = rng.guid();
        let domain = format!("{}.com", name.to_ascii_lowercase());
        let mut org = SimOrg {
            name: name.to_string(),
            id,
            tenant_id,
            users: Vec::with_capacity(users + 2),
            tokens: Vec::with_capacity(users + 2),
        };
        let service_count = (users / 40).clamp(usize::from(users > 0), SERVICE_ACCOUNTS.len());
        for i in 0..users {
            let service_account = SERVICE_ACCOUNTS.get(i).filter(|_| i < service_count);
            let user = if let Some((alias, display)) = service_account {
                org.user(&mut rng, "aad", display.to_string(), format!("{alias}@{domain}"), false)
            } else {
                let first = rng.pick(FIRST);
                let last = rng.pick(LAST);
                let display = format!("{first} {last}");
                // Unique principal names even when names repeat.
                let alias = format!("{}.{}{}", first.to_ascii_lowercase(), last.to_ascii_lowercase(), i);
                if rng.chance(0.12) {
                    org.user(&mut rng, "msa", display, format!("{alias}@outlook.com"), false)
                } else {
                    let deleted = rng.chance(0.05);
                    org.user(&mut rng, "aad", display, format!("{alias}@{domain}"), deleted)
                }
            };
            let count = if service_account.is_some() {
                3 + rng.below(6)
            } else {
                *rng.weighted(&[(30, 0u64), (30, 1), (20, 2), (10, 3), (6, 4), (3, 5), (1, 6)])
            };
            let tokens = (0..count).map(|_| org.token(&mut rng, anchor)).collect();
            org.users.push(user);
            org.tokens.push(tokens);
        }
        // Service identities: Graph lists them only when asked for subject type `svc`.
        for name in ["Project Collection Build Service", "Agent Pool Service"] {
            let mut svc = org.user(&mut rng, "svc", format!("{name} ({})", org.name), String::new(), false);
            svc.origin = "vsts".into();
            svc.mail = String::new();
            svc.principal_name = svc.display_name.clone();
            org.users.push(svc);
            org.tokens.push(Vec::new());
        }
        org
    }

    fn user(&self, rng: &mut Rng, kind: &str, display_name: String, principal_name: String, deleted: bool) -> SimUser {
        let id = rng.guid();
        let descriptor = format!("{kind}.{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(rng.guid()));
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

    fn token(&self, rng: &mut Rng, anchor: DateTime<Utc>) -> SimToken {
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
        }
    }

    /// Moves the organization on from `from` to `to`: some valid tokens are revoked and some
    /// users create new ones. Same seed and dates, same changes.
    pub fn evolve(&mut self, seed: u64, from: DateTime<Utc>, to: DateTime<Utc>) {
        let days = (to - from).num_days();
        if days <= 0 {
            return;
        }
        let mut rng = Rng::new(seed ^ 0x0E70_1FE5 ^ (days as u64).wrapping_mul(0x9E37));
        let per_day = days as f64;
        for i in 0..self.users.len() {
            if self.users[i].subject_type() == "svc" {
                continue;
            }
            for t in self.tokens[i].iter_mut() {
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
                self.tokens[i].push(token);
            }
        }
    }

    /// Index of the user with this descriptor (descriptors are case-sensitive).
    pub fn user_index(&self, descriptor: &str) -> Option<usize> {
        self.users.iter().position(|u| u.descriptor == descriptor)
    }

    pub fn token_count(&self) -> usize {
        self.tokens.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn anchor() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    #[test]
    fn same_seed_same_org_different_seed_different_org() {
        let a = SimOrg::generate("fabrikam", 42, 200, anchor());
        let b = SimOrg::generate("fabrikam", 42, 200, anchor());
        let c = SimOrg::generate("fabrikam", 43, 200, anchor());
        let ids = |o: &SimOrg| o.tokens.iter().flatten().map(|t| t.authorization_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&c));
    }

    #[test]
    fn the_mix_is_realistic() {
        let org = SimOrg::generate("fabrikam", 42, 300, anchor());
        let tokens: Vec<&SimToken> = org.tokens.iter().flatten().collect();
        assert!(tokens.len() > 300, "{} tokens", tokens.len());
        assert!(tokens.iter().any(|t| t.scope == "app_token"));
        assert!(tokens.iter().any(|t| t.target_accounts.is_none()));
        assert!(tokens.iter().any(|t| !t.is_valid));
        assert!(tokens.iter().any(|t| t.valid_to < anchor()));
        assert!(tokens.iter().any(|t| t.valid_to - t.valid_from > Duration::days(365)));
        assert!(tokens.iter().any(|t| t.scope.contains("_manage")));
        assert!(org.users.iter().any(|u| u.deleted_in_origin));
        assert!(org.users.iter().any(|u| u.origin == "msa"));
        assert!(org.users.iter().any(|u| u.principal_name.starts_with("svc-")));
        assert!(org.users.iter().any(|u| u.subject_type() == "svc"));
    }

    #[test]
    fn evolving_keeps_old_tokens_and_adds_and_revokes_some() {
        let start = SimOrg::generate("fabrikam", 42, 300, anchor());
        let mut later = start.clone();
        later.evolve(42, anchor(), anchor() + Duration::days(14));
        let ids = |o: &SimOrg| o.tokens.iter().flatten().map(|t| t.authorization_id.clone()).collect::<Vec<_>>();
        let before = ids(&start);
        let after = ids(&later);
        assert!(before.iter().all(|id| after.contains(id)), "old tokens stay listed");
        let created: Vec<&SimToken> =
            later.tokens.iter().flatten().filter(|t| !before.contains(&t.authorization_id)).collect();
        assert!(!created.is_empty());
        assert!(created.iter().all(|t| t.valid_from > anchor() && t.valid_from <= anchor() + Duration::days(14)));
        let revoked =
            start.tokens.iter().flatten().zip(later.tokens.iter().flatten()).filter(|(a, b)| a.is_valid && !b.is_valid);
        assert!(revoked.count() > 0);
        let mut again = start.clone();
        again.evolve(42, anchor(), anchor() + Duration::days(14));
        assert_eq!(ids(&again), after, "same seed and dates, same changes");
    }

    #[test]
    fn timestamps_round_trip_through_every_wire_format() {
        let org = SimOrg::generate("fabrikam", 1, 100, anchor());
        for t in org.tokens.iter().flatten() {
            let text = t.time_format.format(t.valid_from);
            assert_eq!(crate::ado::parse_timestamp(&text).unwrap(), t.valid_from, "{text}");
        }
    }
}
