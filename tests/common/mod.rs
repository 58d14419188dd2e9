//! Helpers shared by the integration tests: a simulator on loopback and the real binary.
#![allow(dead_code)]

use pat2entra::sim::{self, SimConfig, SimHandle};
use std::path::Path;
use std::process::Command;

/// A simulator running on its own runtime, for tests that run the binary against it.
pub struct TestSim {
    pub handle: Option<SimHandle>,
    runtime: tokio::runtime::Runtime,
}

impl TestSim {
    pub fn start(config: SimConfig) -> TestSim {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime");
        let handle = runtime.block_on(sim::start(config, 0)).expect("simulator starts on a free port");
        TestSim { handle: Some(handle), runtime }
    }

    pub fn sim(&self) -> &SimHandle {
        self.handle.as_ref().expect("running")
    }

    pub fn base_url(&self) -> String {
        self.sim().base_url()
    }

    /// Runs async code (the library's client) on the simulator's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

impl Drop for TestSim {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        self.handle.take();
    }
}

/// The fixed date the tests judge tokens against.
pub fn as_of() -> chrono::DateTime<chrono::Utc> {
    "2026-11-26T00:00:00Z".parse().unwrap()
}

pub fn sim_config() -> SimConfig {
    SimConfig { anchor: as_of(), users: 60, ..SimConfig::default() }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Variables that would let the binary sign in with something other than what a test gives it.
pub const SIGN_IN_VARIABLES: &[&str] = &[
    "AZURE_DEVOPS_EXT_PAT",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURESUBSCRIPTION_CLIENT_ID",
    "AZURESUBSCRIPTION_TENANT_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    "SYSTEM_ACCESSTOKEN",
    "SYSTEM_OIDCREQUESTURI",
];

/// A `PATH` whose `az` and `azd` are absent (stubs that exit 127), so no test ever uses a real
/// CLI or account of the machine. `first` comes before them (a test's fake `az`).
pub fn path_without_clis(first: Option<&Path>) -> String {
    let stubs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-cli");
    let mut parts = Vec::new();
    if let Some(first) = first {
        parts.push(first.display().to_string());
    }
    parts.push(stubs.display().to_string());
    parts.push(std::env::var("PATH").unwrap_or_default());
    parts.join(":")
}

/// Runs the pat2entra binary with `args` and extra environment variables. Inherited sign-in
/// variables are removed first and `PATH` hides `az`/`azd` (unless the test sets `PATH`).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pat2entra"));
    cmd.args(args).env("NO_COLOR", "1").env("PATH", path_without_clis(None));
    for name in SIGN_IN_VARIABLES {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Scans the simulator through the binary and returns the JSON record.
pub fn scan_json(sim: &TestSim, extra: &[&str], pat: &str) -> (Run, serde_json::Value) {
    scan_json_with(sim, extra, &[("AZURE_DEVOPS_EXT_PAT", pat)])
}

/// Scans the simulator through the binary with the environment `env` (how it signs in).
pub fn scan_json_with(sim: &TestSim, extra: &[&str], env: &[(&str, &str)]) -> (Run, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let base = sim.base_url();
    let org = sim.sim().config().organization.clone();
    let mut args = vec!["scan", "--org", &org, "--base-url", &base, "--as-of", "2026-11-26", "-o", "json", "--out"];
    let out_str = out.to_str().unwrap().to_string();
    args.push(&out_str);
    args.extend_from_slice(extra);
    let run = run(&args, env);
    let record = read_json(&out);
    (run, record)
}

/// `--authority-host` and `--authority-loopback` for the simulator's token endpoint: an https
/// authority whose requests go to the simulator on loopback.
pub fn authority_args(sim: &TestSim) -> Vec<String> {
    vec![
        "--authority-host".into(),
        "https://login.sim.invalid".into(),
        "--authority-loopback".into(),
        sim.sim().addr().to_string(),
    ]
}

/// Writes an executable `#!/bin/sh` script `name` into `dir`.
pub fn write_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub fn read_json(path: &Path) -> serde_json::Value {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).expect("the record is JSON"),
        Err(_) => serde_json::Value::Null,
    }
}

/// The Graph subject kinds a scan lists (every kind of user that can own a PAT).
pub const SCANNED_KINDS: [&str; 5] = ["aad", "msa", "csp", "bnd", "svc"];

/// Authorization ids of the PATs the simulator holds for the owners a scan sees.
pub fn expected_ids(sim: &SimHandle) -> Vec<String> {
    let org = sim.org();
    let mut ids: Vec<String> = org
        .users()
        .zip(org.all_tokens())
        .filter(|(u, _)| SCANNED_KINDS.contains(&u.subject_type()))
        .flat_map(|(_, tokens)| tokens.into_iter().map(|t| t.authorization_id))
        .collect();
    ids.sort();
    ids
}

/// Authorization ids of a record's PATs (SSH keys, `kind: ssh`, left out), sorted, duplicates kept.
pub fn record_ids(record: &serde_json::Value) -> Vec<String> {
    record_ids_of_kind(record, "pat")
}

/// Authorization ids of a record's credentials of `kind` (`pat`: no `kind` field), sorted,
/// duplicates kept.
pub fn record_ids_of_kind(record: &serde_json::Value, kind: &str) -> Vec<String> {
    let mut ids: Vec<String> = record["tokens"]
        .as_array()
        .expect("tokens array")
        .iter()
        .filter(|t| t["kind"].as_str().unwrap_or("pat") == kind)
        .map(|t| t["authorization_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

// ---- builders of domain values -------------------------------------------------------------
// The one place integration tests spell out `Token`, `Owner` and `ScanRecord`: a new field is
// added here only.

use chrono::{DateTime, Duration, Utc};
use pat2entra::inventory::{Coverage, Inventory, Owner, OwnerFailure, Token};
use pat2entra::record::ScanRecord;
use pat2entra::rules::RuleSet;

/// A token of `as_of()`: active, limited to one organization, created 10 days before and valid
/// for 400 days, no scopes, named after its id. Setters change one thing each, in call order
/// (`lifetime_days` counts from the creation date set so far).
pub struct TokenBuilder(Token);

impl TokenBuilder {
    pub fn new(authorization_id: &str, owner: &str) -> Self {
        let from = as_of() - Duration::days(10);
        TokenBuilder(Token {
            authorization_id: authorization_id.into(),
            owner: owner.into(),
            display_name: authorization_id.into(),
            scopes: Vec::new(),
            all_organizations: false,
            target_accounts: ["org".into()].into(),
            valid_from: Some(from),
            valid_to: Some(from + Duration::days(400)),
            is_valid: true,
            unreadable: None,
            ..Default::default()
        })
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.display_name = name.into();
        self
    }

    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.0.scopes = scopes.iter().map(|s| pat2entra::Text::from(*s)).collect();
        self
    }

    /// Valid in every organization of its owner (`true`) or limited to one (`false`).
    pub fn global(mut self, global: bool) -> Self {
        self.0.all_organizations = global;
        self.0.target_accounts = if global { [].into() } else { ["org".into()].into() };
        self
    }

    /// Created `days` before `as_of()` (negative: after it); the lifetime is kept.
    pub fn age_days(mut self, days: i64) -> Self {
        let lifetime = self.lifetime();
        let from = as_of() - Duration::days(days);
        self.0.valid_from = Some(from);
        self.0.valid_to = Some(from + lifetime);
        self
    }

    /// Valid for `days` from its creation.
    pub fn lifetime_days(mut self, days: i64) -> Self {
        self.0.valid_to = self.0.valid_from.map(|from| from + Duration::days(days));
        self
    }

    /// Expires `days` after `as_of()` (negative: expired that many days before).
    pub fn expires_in_days(mut self, days: i64) -> Self {
        self.0.valid_to = Some(as_of() + Duration::days(days));
        self
    }

    pub fn revoked(mut self) -> Self {
        self.0.is_valid = false;
        self
    }

    /// An SSH key instead of a PAT.
    pub fn ssh(mut self) -> Self {
        self.0.kind = pat2entra::evidence::CredentialKind::Ssh;
        self
    }

    /// Last audited use `days` before `as_of()`, by `action`.
    pub fn seen_days_ago(mut self, days: i64, action: &str) -> Self {
        self.0.last_seen = Some(Box::new(pat2entra::evidence::LastSeen {
            at: as_of() - Duration::days(days),
            action: action.into(),
            source: pat2entra::evidence::Source::Audit,
        }));
        self
    }

    /// A leak event (`Token.PatPublicDiscoveryEvent`) `days` before `as_of()`.
    pub fn leaked_days_ago(mut self, days: i64) -> Self {
        self.0.events.push(pat2entra::evidence::CredentialEvent {
            kind: pat2entra::evidence::EventKind::Leaked,
            at: as_of() - Duration::days(days),
            actor: None,
            action: "Token.PatPublicDiscoveryEvent".into(),
        });
        self
    }

    pub fn build(self) -> Token {
        self.0
    }

    fn lifetime(&self) -> Duration {
        match (self.0.valid_from, self.0.valid_to) {
            (Some(from), Some(to)) => to - from,
            _ => Duration::days(400),
        }
    }
}

/// An owner from Entra ID (`aad`) whose mail is its principal name.
pub fn owner(descriptor: &str, principal_name: &str, display_name: &str) -> Owner {
    Owner {
        descriptor: descriptor.into(),
        display_name: display_name.into(),
        principal_name: principal_name.into(),
        mail: Some(principal_name.into()),
        origin: "aad".into(),
        deleted_in_origin: false,
        ..Default::default()
    }
}

/// What the evidence sources say of an owner (`owner(...).member(false)`).
pub trait OwnerEvidence {
    /// Graph membership state: still a member or not.
    fn member(self, member: bool) -> Self;
    /// User Entitlements: last access `days` before `as_of()`.
    fn accessed_days_ago(self, days: i64) -> Self;
    /// User Entitlements: never accessed the organization.
    fn never_accessed(self) -> Self;
}

impl OwnerEvidence for Owner {
    fn member(mut self, member: bool) -> Self {
        self.member = Some(member);
        self
    }
    fn accessed_days_ago(mut self, days: i64) -> Self {
        self.last_accessed = Some(pat2entra::evidence::LastAccessed::At(as_of() - Duration::days(days)));
        self
    }
    fn never_accessed(mut self) -> Self {
        self.last_accessed = Some(pat2entra::evidence::LastAccessed::Never);
        self
    }
}

/// Every evidence source read in full, the audit log over the 90 days before `as_of()`, and
/// the tenant policies given.
pub fn evidence_read(policies: Option<pat2entra::evidence::TenantPolicies>) -> pat2entra::evidence::Evidence {
    use pat2entra::evidence::{AuditWindow, Evidence, Source, SourceCoverage};
    let sources = if policies.is_some() { &Source::ALL[..] } else { &Source::DEFAULT[..] };
    Evidence {
        sources: sources.iter().map(|s| (*s, SourceCoverage::complete())).collect(),
        audit_window: Some(AuditWindow { start: as_of() - Duration::days(90), end: as_of() }),
        policies,
    }
}

/// A scan record judged from owners and tokens: organization `contoso`, complete coverage,
/// the default rules, judged at `as_of()`, unless set otherwise.
pub struct RecordBuilder {
    inventory: Inventory,
    coverage: Option<Coverage>,
    rules: Option<RuleSet>,
    at: DateTime<Utc>,
}

impl Default for RecordBuilder {
    fn default() -> Self {
        RecordBuilder {
            inventory: Inventory {
                organization: "contoso".into(),
                owners: Vec::new(),
                tokens: Vec::new(),
                coverage: Coverage::new(0, 0, vec![]),
                evidence: Default::default(),
                service: Default::default(),
            },
            coverage: None,
            rules: None,
            at: as_of(),
        }
    }
}

impl RecordBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn organization(mut self, organization: &str) -> Self {
        self.inventory.organization = organization.into();
        self
    }

    pub fn owners(mut self, owners: Vec<Owner>) -> Self {
        self.inventory.owners = owners;
        self
    }

    pub fn tokens(mut self, tokens: Vec<Token>) -> Self {
        self.inventory.tokens = tokens;
        self
    }

    /// `listed` owners, of which `scanned` were read, and the owners that could not be.
    pub fn coverage(mut self, listed: usize, scanned: usize, failed: Vec<OwnerFailure>) -> Self {
        self.coverage = Some(Coverage::new(listed, scanned, failed));
        self
    }

    /// What the evidence sources said (default: nothing asked for).
    pub fn evidence(mut self, evidence: pat2entra::evidence::Evidence) -> Self {
        self.inventory.evidence = evidence;
        self
    }

    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Judged at `at` instead of `as_of()`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    pub fn build(self) -> ScanRecord {
        let mut inventory = self.inventory;
        let owners = inventory.owners.len();
        inventory.coverage = self.coverage.unwrap_or_else(|| Coverage::new(owners, owners, vec![]));
        let rules = self.rules.unwrap_or_else(RuleSet::default_rules);
        ScanRecord::judge(inventory, &rules, self.at)
    }
}

/// The header line of a checkpoint of the demo scan (`--as-of 2026-11-26`, built-in rules)
/// started two weeks ago, with its checksum: too old for the default `--checkpoint-max-age`.
/// Returns the start time (as the header writes it) and the file's text.
pub fn stale_demo_checkpoint() -> (String, String) {
    let started = (chrono::Utc::now() - chrono::Duration::days(14)).to_rfc3339();
    let header = serde_json::json!({
        "format": "pat2entra-checkpoint",
        "version": 2,
        "organization": "fabrikam",
        "as_of": "2026-11-26T00:00:00Z",
        "rules": "built-in default",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "started": started,
    })
    .to_string();
    let text = format!("{} {header}\n", pat2entra::files::sha256_hex(header.as_bytes()));
    (started, text)
}
