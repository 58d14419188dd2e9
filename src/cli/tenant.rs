//! Several organizations in one run (`scan --org A --org B`, `--orgs-file`, `--all-orgs`) into
//! one tenant record, and the tenant side of `report`, `plan` and `diff`: writing, redacting and
//! gating a record of either kind.

use super::output::{OutputArgs, gate};
use super::progress::Progress;
use super::scan::ScanArgs;
use super::{Failure, orgs};
use crate::ado::{AdoClient, ClientOptions, OrgRef};
use crate::exit::Exit;
use crate::record::ScanRecord;
use crate::rules::RuleSet;
use crate::scan::{ScanEvent, ScanOptions, scan_organizations};
use crate::tenant::{AnyRecord, OrganizationFailure, TenantRecord};
use chrono::{DateTime, Utc};

/// `scan` of several organizations: each scanned as a single scan would (its own coverage,
/// evidence and findings), `--org-concurrency` at a time; an organization that cannot be
/// scanned at all is listed as not scanned (a coverage gap: exit 4 unless `--allow-partial`).
pub async fn scan(
    args: &ScanArgs,
    rules: &RuleSet,
    rules_id: &str,
    as_of: DateTime<Utc>,
    started_at: tokio::time::Instant,
) -> Result<Exit, Failure> {
    let refuse = |flag: &str, why: &str| Err(Failure::new(Exit::Usage, format!("{flag} {why}")));
    #[cfg(feature = "demo")]
    if args.demo.demo {
        return refuse(
            "--demo",
            "scans one simulated organization; for several, run `pat2entra simulate --orgs N` and scan it with --all-orgs --base-url",
        );
    }
    if args.checkpoint.is_some() {
        return refuse("--checkpoint", "applies to one organization; scan organizations one at a time to resume them");
    }
    if args.service_profile.is_some() {
        return refuse(
            "--service-profile",
            "describes the one organization it probed; scan that organization alone with it",
        );
    }
    let endpoints = orgs::endpoints(args.base_url.as_deref())?;
    // Every organization named on the command line or in the file must be a valid name.
    let mut wanted: Vec<String> = Vec::new();
    for org in &args.org {
        let org = OrgRef::parse(org)
            .map_err(|e| Failure::new(Exit::Usage, format!("--org: {}", pat2entra_core::error::chain(&e))))?;
        wanted.push(org.name().to_string());
    }
    if let Some(path) = &args.orgs_file {
        wanted.extend(orgs::read_file(path, "--orgs-file")?.into_iter().map(|e| e.name));
    }
    let signed_in = super::auth::sign_in(&args.auth).await?;
    if !args.quiet {
        eprintln!("auth: {}", crate::report::terminal_text(&signed_in.description));
    }
    let client_options =
        args.limits.apply(ClientOptions { max_retries: args.max_retries, ..ClientOptions::default() }, started_at);
    let base = AdoClient::for_tenant(endpoints, signed_in.credential, client_options)
        .map_err(|e| Failure::error(Exit::Usage, e))?;
    let mut failed = Vec::new();
    if args.all_orgs {
        for entry in orgs::list(&base).await? {
            match OrgRef::parse(&entry.name) {
                Ok(_) => wanted.push(entry.name),
                Err(e) => failed.push(OrganizationFailure {
                    organization: entry.name,
                    reason: format!("listed by the accounts API but {}", pat2entra_core::error::chain(&e)),
                }),
            }
        }
        if wanted.is_empty() && failed.is_empty() {
            return Err(Failure::new(
                Exit::Usage,
                "--all-orgs: the identity belongs to no organization it can list (a service principal gets an empty list); name them with --org or --orgs-file",
            ));
        }
    }
    // Each organization once (names are case-insensitive), in name order.
    wanted.sort_by_key(|n| n.to_ascii_lowercase());
    wanted.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    // `--shard I/N` of several organizations: this part scans its share of them. Every
    // organization asked for takes part in the split, those `--all-orgs` could not even use
    // included, so that each lands in exactly one part (merge refuses one listed twice).
    let shard = args.shard.map(|spec| {
        let mut all: Vec<String> = wanted.iter().chain(failed.iter().map(|f| &f.organization)).cloned().collect();
        all.sort_by_key(|n| n.to_ascii_lowercase());
        let (mine, shard) = pat2entra_core::shard::organizations_part(spec, &all, rules_id, as_of, &args.evidence.0);
        let in_part = |name: &str| mine.iter().any(|m| m.eq_ignore_ascii_case(name));
        wanted.retain(|n| in_part(n));
        failed.retain(|f| in_part(&f.organization));
        shard
    });
    let targets: Vec<OrgRef> = wanted.iter().filter_map(|n| OrgRef::parse(n).ok()).collect();
    if !args.quiet {
        eprintln!("organizations: {} to scan, {} at a time", targets.len(), args.org_concurrency);
    }
    let options = ScanOptions {
        concurrency: usize::from(args.concurrency),
        page_size: args.page_size,
        evidence: super::scan::evidence_options(args, as_of),
        checkpoint: None,
        service: Default::default(),
        now: Some(as_of),
        owners: pat2entra_core::shard::OwnerFilter::All,
    };
    let progress = Progress::new(args.quiet, base.pacer());
    let counter = TenantProgress::default();
    let started = std::time::Instant::now();
    let outcomes = scan_organizations(&base, &targets, &options, usize::from(args.org_concurrency), &|org, event| {
        counter.event(org, event, &|e| progress.event(e))
    })
    .await;
    progress.finish(started.elapsed());
    let mut records = Vec::new();
    let mut auth_failures = 0;
    for outcome in outcomes {
        match outcome.result {
            Ok(inventory) => records.push(ScanRecord::judge(inventory, rules, as_of)),
            Err(e) => {
                let failure = super::scan::scan_failure(e);
                auth_failures += usize::from(failure.exit == Exit::Auth);
                if !args.quiet {
                    eprintln!(
                        "warning: organization '{}' not scanned: {}",
                        outcome.organization,
                        crate::report::terminal_text(&failure.message)
                    );
                }
                failed.push(OrganizationFailure {
                    organization: outcome.organization,
                    reason: one_line(&failure.message),
                });
            }
        }
    }
    // Refused everywhere: the credential, not the organizations (exit 3, nothing to write).
    if records.is_empty() && auth_failures > 0 && auth_failures == failed.len() {
        return Err(Failure::new(
            Exit::Auth,
            format!("no organization accepted the credential ({} tried); first: {}", failed.len(), failed[0].reason),
        ));
    }
    let record = AnyRecord::Tenant(Box::new(TenantRecord::new(records, failed, as_of, shard)));
    // The history takes the records unredacted; a history that cannot take them never costs
    // the report.
    let html = args.output.output == super::output::OutputFormat::Html;
    let (trends, history_failure) = match &args.history {
        Some(path) => super::history::add_tenant(path, &record, html, args.quiet),
        None => (Vec::new(), None),
    };
    let record = write(&args.output, record, &trends)?;
    if let Some(failure) = history_failure {
        return Err(failure);
    }
    Ok(gate_any(&args.output, &record))
}

/// An error's lines as one (a record's reason is one line).
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Redacts every organization of a record under one key (when asked).
pub fn redact(output: &OutputArgs, record: AnyRecord) -> Result<AnyRecord, Failure> {
    let Some(key) = output.redaction_key()? else { return Ok(record) };
    super::output::note_random_key(&key);
    Ok(match record {
        AnyRecord::Organization(mut r) => {
            crate::redact::redact(&mut r, &key);
            AnyRecord::Organization(r)
        }
        AnyRecord::Tenant(t) => {
            let TenantRecord { organizations, failed, as_of, shard, .. } = *t;
            let organizations = organizations
                .into_iter()
                .map(|mut r| {
                    crate::redact::redact(&mut r, &key);
                    r
                })
                .collect();
            // Shared credentials and the summary again, from the redacted organizations.
            AnyRecord::Tenant(Box::new(TenantRecord::new(organizations, failed, as_of, shard)))
        }
    })
}

/// `OutputArgs::write` for a record of either kind: a single organization's exactly as before.
/// `trends`: a tenant's organizations' trends for the HTML report (`--history`), in its order.
pub fn write(
    output: &OutputArgs,
    record: AnyRecord,
    trends: &[Option<pat2entra_core::trend::Trend>],
) -> Result<AnyRecord, Failure> {
    match record {
        AnyRecord::Organization(r) => output.write(*r).map(|r| AnyRecord::Organization(Box::new(r))),
        tenant => {
            let tenant = redact(output, tenant)?;
            let AnyRecord::Tenant(t) = &tenant else { unreachable!("redaction keeps the kind") };
            let options = output.render_options();
            super::write_to(output.out.as_deref(), |w| {
                crate::report::render_tenant_with_trends(t, output.output.into(), &options, trends, w)
            })?;
            output.write_summary(crate::report::Records::Tenant(t))?;
            Ok(tenant)
        }
    }
}

/// `OutputArgs::gate` for a record of either kind: 4 when an organization was not scanned or
/// one's coverage is incomplete (unless `--allow-partial`), then 1 when a finding of any
/// organization reaches `--fail-on`.
pub fn gate_any(output: &OutputArgs, record: &AnyRecord) -> Exit {
    let t = match record {
        AnyRecord::Organization(r) => return output.gate(r),
        AnyRecord::Tenant(t) => t,
    };
    if !t.is_complete() {
        eprintln!(
            "warning: tenant scan incomplete: {} organizations not scanned, {} with owners that could not be read (listed as coverage gaps)",
            t.summary.organizations_failed, t.summary.organizations_incomplete
        );
        if !output.allow_partial {
            return Exit::Incomplete;
        }
    }
    let warnings: usize = t.organizations.iter().map(|r| r.coverage.warnings.len()).sum();
    if warnings > 0 {
        eprintln!(
            "warning: {warnings} coverage warnings (duplicates resolved, tokens not fully read; listed in the report)"
        );
    }
    gate(t.organizations.iter().flat_map(|r| r.open_findings().map(|f| f.severity)), output.fail_on)
}

/// `plan` of a tenant record: the tenant summary, then each organization's plan as `plan` of
/// that organization alone writes it (Markdown), or its rows with an organization column (CSV).
pub fn plan(args: &super::plan::PlanArgs, tenant: TenantRecord) -> Result<Exit, Failure> {
    use super::plan::PlanFormat;
    let mut tenant = tenant;
    if args.redact {
        let key = crate::redact::RedactKey::from_sources(
            args.redact_key_file.as_deref(),
            std::env::var_os(crate::redact::KEY_ENV),
        )
        .map_err(|e| Failure::error(Exit::Usage, e))?;
        let TenantRecord { organizations, failed, as_of, shard, .. } = tenant;
        let organizations = organizations
            .into_iter()
            .map(|mut r| {
                crate::redact::redact(&mut r, &key);
                r
            })
            .collect();
        tenant = TenantRecord::new(organizations, failed, as_of, shard);
        super::output::note_random_key(&key);
    }
    let plans: Vec<crate::plan::Plan> = tenant.organizations.iter().map(crate::plan::build).collect();
    let format = match args.output {
        PlanFormat::Markdown => crate::report::Format::Markdown,
        PlanFormat::Csv => crate::report::Format::Csv,
    };
    let parts: Vec<crate::report::tenant::Part> = tenant
        .organizations
        .iter()
        .zip(&plans)
        .map(|(record, plan)| crate::report::tenant::Part {
            organization: &record.organization,
            render: Box::new(move |out: &mut dyn std::io::Write| {
                // The built-in texts first: a saved scan is a file that may have been edited.
                let guide = |id: &str| crate::guidance::by_id(id).cloned().or_else(|| record.guidance(id).cloned());
                match format {
                    crate::report::Format::Csv => crate::plan::render_csv(plan, out),
                    _ => crate::plan::render_markdown(plan, &guide, out),
                }
            }),
        })
        .collect();
    let preamble = crate::report::tenant::preamble(&tenant);
    super::write_to(args.out.as_deref(), |w| crate::report::tenant::compose(format, &preamble, &parts, w))?;
    let gaps: usize = plans.iter().map(|p| p.coverage_gaps.len()).sum();
    if gaps > 0 || !tenant.failed.is_empty() {
        eprintln!(
            "warning: {} organizations were not scanned and {gaps} owners could not be read; the plan does not cover their tokens",
            tenant.failed.len()
        );
        if !args.allow_partial {
            return Ok(Exit::Incomplete);
        }
    }
    Ok(Exit::Ok)
}

/// `diff` where either side is a tenant record: each organization both scans hold is compared
/// as `diff` of the two organizations' records would; organizations only one of them holds are
/// named, and organizations either scan could not scan are coverage gaps (exit 4 unless
/// `--allow-partial`). `--fail-on` gates on the new findings of every organization.
pub fn diff(args: &super::diff::DiffArgs, old: AnyRecord, new: AnyRecord) -> Result<Exit, Failure> {
    let failed = |r: &AnyRecord| match r {
        AnyRecord::Tenant(t) => t.failed.clone(),
        AnyRecord::Organization(_) => Vec::new(),
    };
    let mut not_scanned: Vec<(String, String)> = Vec::new();
    for (which, record) in [("older", &old), ("newer", &new)] {
        for f in failed(record) {
            not_scanned.push((f.organization, format!("not scanned by the {which} scan: {}", f.reason)));
        }
    }
    let mut old_orgs: Vec<ScanRecord> = old.organizations().to_vec();
    let mut new_orgs: Vec<ScanRecord> = new.organizations().to_vec();
    // One key for both scans, so their pseudonyms match each other.
    if let Some(key) = args.output.redaction_key()? {
        for r in old_orgs.iter_mut().chain(new_orgs.iter_mut()) {
            crate::redact::redact(r, &key);
        }
        super::output::note_random_key(&key);
    }
    let find = |orgs: &[ScanRecord], name: &str| orgs.iter().position(|r| r.organization.eq_ignore_ascii_case(name));
    let only_old: Vec<String> = old_orgs
        .iter()
        .filter(|r| find(&new_orgs, &r.organization).is_none())
        .map(|r| r.organization.clone())
        .collect();
    let only_new: Vec<String> = new_orgs
        .iter()
        .filter(|r| find(&old_orgs, &r.organization).is_none())
        .map(|r| r.organization.clone())
        .collect();
    let diffs: Vec<crate::diff::ScanDiff> = old_orgs
        .iter()
        .filter_map(|o| find(&new_orgs, &o.organization).map(|i| crate::diff::diff(o, &new_orgs[i])))
        .collect();
    let mut summary = vec![format!("Organizations compared: {}", diffs.len())];
    if !only_old.is_empty() {
        summary.push(format!("Only in the older scan (not compared): {}", only_old.join(", ")));
    }
    if !only_new.is_empty() {
        summary.push(format!("Only in the newer scan (not compared): {}", only_new.join(", ")));
    }
    let preamble = crate::report::tenant::Preamble {
        title: format!("Changes in {}", pat2entra_core::text::plural(diffs.len(), "organization")),
        summary,
        not_scanned,
        sections: Vec::new(),
    };
    let format: crate::report::Format = args.output.output.into();
    let parts: Vec<crate::report::tenant::Part> = diffs
        .iter()
        .map(|d| crate::report::tenant::Part {
            organization: &d.organization,
            render: Box::new(move |w: &mut dyn std::io::Write| crate::report::render_diff(d, format, w)),
        })
        .collect();
    super::write_to(args.output.out.as_deref(), |w| crate::report::tenant::compose(format, &preamble, &parts, w))?;
    let gaps: usize = diffs.iter().filter(|d| !d.both_complete).map(|d| d.coverage_gaps.len()).sum();
    if gaps > 0 || !preamble.not_scanned.is_empty() {
        eprintln!(
            "warning: {} organizations were not scanned by one of the scans and {gaps} owners were not read; their findings may show as new or resolved",
            preamble.not_scanned.len()
        );
        if !args.output.allow_partial {
            return Ok(Exit::Incomplete);
        }
    }
    Ok(gate(diffs.iter().flat_map(|d| d.appeared().map(|f| f.severity)), args.output.fail_on))
}

/// One progress line for the whole run: the owners of every organization whose listing is
/// complete, and those of them scanned. An organization's owners are scanned while its listing
/// goes on (the scan is pipelined), so what it scans before its count is known is held back
/// until then: the line never shows more owners scanned than listed.
#[derive(Default)]
struct TenantProgress {
    state: std::sync::Mutex<TenantCounts>,
}

#[derive(Default)]
struct TenantCounts {
    listed: usize,
    /// By organization: what was scanned before its listing was complete.
    held: std::collections::HashMap<String, Held>,
    /// Organizations whose listing is complete.
    complete: std::collections::HashSet<String>,
}

/// Owners scanned (and their tokens) and owners failed, held back.
#[derive(Default)]
struct Held {
    scanned: usize,
    tokens: usize,
    failed: usize,
}

impl TenantProgress {
    fn event(&self, org: &str, event: ScanEvent, forward: &dyn Fn(ScanEvent)) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ScanEvent::OwnersListed(n) => {
                state.listed += n;
                forward(ScanEvent::OwnersListed(state.listed));
                state.complete.insert(org.to_string());
                let held = state.held.remove(org).unwrap_or_default();
                // The tokens with the first owner, then one step per owner.
                for n in 0..held.scanned {
                    forward(ScanEvent::OwnerScanned { tokens: if n == 0 { held.tokens } else { 0 } });
                }
                for _ in 0..held.failed {
                    forward(ScanEvent::OwnerFailed);
                }
            }
            other if state.complete.contains(org) => forward(other),
            ScanEvent::OwnerScanned { tokens } => {
                let held = state.held.entry(org.to_string()).or_default();
                held.scanned += 1;
                held.tokens += tokens;
            }
            ScanEvent::OwnerFailed => state.held.entry(org.to_string()).or_default().failed += 1,
            // (Resumed comes after the listing, and tenant scans keep no checkpoint.)
            other => forward(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two organizations scanned at once, the second's owners scanned while it is still
    /// listing: the line never shows more owners scanned than listed, and ends with all.
    #[test]
    fn the_progress_never_shows_more_scanned_than_listed() {
        let counter = TenantProgress::default();
        let seen = std::sync::Mutex::new((0usize, 0usize, 0usize)); // listed, owners, tokens
        let forward = |e: ScanEvent| {
            let mut seen = seen.lock().unwrap();
            match e {
                ScanEvent::OwnersListed(n) => seen.0 = n,
                ScanEvent::OwnerScanned { tokens } => {
                    seen.1 += 1;
                    seen.2 += tokens;
                }
                ScanEvent::OwnerFailed => seen.1 += 1,
                ScanEvent::Resumed { .. } => {}
            }
            assert!(seen.1 <= seen.0, "{} scanned of {} listed", seen.1, seen.0);
        };
        let scanned = |tokens| ScanEvent::OwnerScanned { tokens };
        counter.event("a", scanned(2), &forward);
        counter.event("b", scanned(1), &forward);
        counter.event("a", ScanEvent::OwnersListed(3), &forward);
        counter.event("b", scanned(4), &forward);
        counter.event("b", ScanEvent::OwnerFailed, &forward);
        counter.event("a", scanned(5), &forward);
        assert_eq!(*seen.lock().unwrap(), (3, 2, 7), "b's owners held back");
        counter.event("b", ScanEvent::OwnersListed(4), &forward);
        counter.event("a", ScanEvent::OwnerFailed, &forward);
        counter.event("b", scanned(0), &forward);
        assert_eq!(*seen.lock().unwrap(), (7, 7, 12));
    }
}
