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
use crate::scan::{EvidenceOptions, ScanEvent, ScanOptions, scan_organizations};
use crate::tenant::{AnyRecord, OrganizationFailure, TenantRecord};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `scan` of several organizations: each scanned as a single scan would (its own coverage,
/// evidence and findings), `--org-concurrency` at a time; an organization that cannot be
/// scanned at all is listed as not scanned (a coverage gap: exit 4 unless `--allow-partial`).
pub async fn scan(
    args: &ScanArgs,
    rules: &RuleSet,
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
    let targets: Vec<OrgRef> = wanted.iter().filter_map(|n| OrgRef::parse(n).ok()).collect();
    if !args.quiet {
        eprintln!("organizations: {} to scan, {} at a time", targets.len(), args.org_concurrency);
    }
    let options = ScanOptions {
        concurrency: usize::from(args.concurrency),
        page_size: args.page_size,
        evidence: EvidenceOptions {
            sources: args.evidence.0.clone(),
            audit_end: as_of,
            audit_days: args.audit_days,
            audit_slice: chrono::Duration::from_std(args.audit_slice)
                .unwrap_or(chrono::Duration::days(pat2entra_ado::scan::DEFAULT_AUDIT_SLICE_DAYS)),
            audit_batch_size: args.audit_batch_size,
        },
        checkpoint: None,
        service: Default::default(),
        now: Some(as_of),
    };
    let progress = Progress::new(args.quiet, base.pacer());
    // One line for the whole run: the owners of every organization listed so far.
    let listed = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let outcomes =
        scan_organizations(&base, &targets, &options, usize::from(args.org_concurrency), &|_, event| match event {
            ScanEvent::OwnersListed(n) => {
                progress.event(ScanEvent::OwnersListed(listed.fetch_add(n, Ordering::Relaxed) + n))
            }
            other => progress.event(other),
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
    let record = AnyRecord::Tenant(Box::new(TenantRecord::new(records, failed, as_of, None)));
    let record = write(&args.output, record)?;
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
pub fn write(output: &OutputArgs, record: AnyRecord) -> Result<AnyRecord, Failure> {
    match record {
        AnyRecord::Organization(r) => output.write(*r).map(|r| AnyRecord::Organization(Box::new(r))),
        tenant => {
            let tenant = redact(output, tenant)?;
            let AnyRecord::Tenant(t) = &tenant else { unreachable!("redaction keeps the kind") };
            let options = output.render_options();
            super::write_to(output.out.as_deref(), |w| {
                crate::report::render_tenant(t, output.output.into(), &options, w)
            })?;
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
