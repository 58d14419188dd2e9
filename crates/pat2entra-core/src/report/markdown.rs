//! Markdown: for wikis and pull requests. Summary, findings by severity, actions per owner, and
//! the full text of every guidance referred to.

use super::escape::{anchor, markdown_escape as md, markdown_prose as prose, safe_link};
use crate::finding::{Finding, Severity};
use crate::record::ScanRecord;
use crate::rules::ExceptionStatus;
use std::collections::BTreeMap;
use std::io::{self, Write};

pub fn render(record: &ScanRecord, out: &mut dyn Write) -> io::Result<()> {
    let s = &record.summary;
    let c = &record.coverage;
    writeln!(out, "# PAT audit: {}", md(&record.organization))?;
    writeln!(out)?;
    writeln!(out, "As of {}.", record.as_of.format("%Y-%m-%d %H:%M UTC"))?;
    writeln!(out)?;
    if let Some(redaction) = &record.redaction {
        writeln!(out, "_Note: {}._", redaction.notice())?;
        writeln!(out)?;
    }
    writeln!(out, "| | |")?;
    writeln!(out, "| --- | --- |")?;
    let coverage = if c.complete {
        format!("complete: {} of {} owners scanned{}", c.owners_scanned, c.owners_listed, super::other_parts(record))
    } else {
        format!(
            "**INCOMPLETE**: {} of {} owners scanned{}, {} could not be read",
            c.owners_scanned,
            c.owners_listed,
            super::other_parts(record),
            c.owners_failed.len()
        )
    };
    writeln!(out, "| Coverage | {coverage} |")?;
    if !c.warnings.is_empty() {
        writeln!(out, "| Coverage warnings | {} (see below) |", c.warnings.len())?;
    }
    writeln!(
        out,
        "| Tokens | {} ({} active, {} expired, {} revoked); {} flagged |",
        s.tokens, s.active_tokens, s.expired_tokens, s.revoked_tokens, s.flagged_tokens
    )?;
    writeln!(out, "| Findings | {} |", s.severity_counts())?;
    writeln!(out, "| Accepted by exceptions | {} |", s.suppressed_findings)?;

    writeln!(out)?;
    writeln!(out, "## Evidence")?;
    writeln!(out)?;
    for line in super::evidence_lines_markdown(&record.evidence) {
        writeln!(out, "- {line}")?;
    }
    if record.evidence.shows_audit() {
        writeln!(out)?;
        writeln!(out, "_{}_", crate::evidence::AUDIT_CAVEAT)?;
    }

    if !c.owners_failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Coverage gaps")?;
        writeln!(out)?;
        writeln!(out, "The tokens of these owners were **not** read; the findings below are incomplete.")?;
        writeln!(out)?;
        for gap in &c.owners_failed {
            writeln!(out, "- {}: {}", md(&record.owner_label(&gap.descriptor)), md(&gap.error))?;
        }
    }
    if !c.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Coverage warnings")?;
        writeln!(out)?;
        writeln!(out, "Read, but resolved (duplicates) or not fully readable (judged as unknown).")?;
        writeln!(out)?;
        for w in &c.warnings {
            writeln!(out, "- {}: {}", md(w.kind.as_str()), md(&w.message))?;
        }
    }

    let open: Vec<&Finding> = record.open_findings().collect();
    writeln!(out)?;
    writeln!(out, "## Findings by severity")?;
    for severity in Severity::ALL {
        let of: Vec<&&Finding> = open.iter().filter(|f| f.severity == severity).collect();
        if of.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "### {} ({})", severity, of.len())?;
        writeln!(out)?;
        writeln!(out, "| Owner | Owner activity | Token | Kind | Last seen | Rule | Finding | Action |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
        for f in of {
            let (owner, activity, token, kind, seen) = if f.is_organization() {
                (ORGANIZATION.to_string(), "—".to_string(), "—".to_string(), "—".to_string(), "—".to_string())
            } else {
                let t = record.token(&f.owner, &f.authorization_id);
                (
                    md(&record.owner_label(&f.owner)),
                    record.owner(&f.owner).and_then(super::owner_activity).map_or_else(|| "—".to_string(), |a| md(&a)),
                    token_label(record, &f.owner, &f.authorization_id),
                    t.map_or_else(|| "—".to_string(), |t| t.kind.as_str().to_string()),
                    t.and_then(|t| super::seen_label(record, t)).map_or_else(|| "—".to_string(), |s| md(&s)),
                )
            };
            writeln!(
                out,
                "| {owner} | {activity} | {token} | {kind} | {seen} | {} | {} | {} |",
                md(&f.rule),
                md(&f.message),
                action_link(record, f)
            )?;
        }
    }

    // Per owner: what to set up, for how many tokens.
    let mut per_owner: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for f in &open {
        if let Some(g) = f.guidance.as_deref() {
            let owner = if f.is_organization() { ORGANIZATION.to_string() } else { record.owner_label(&f.owner) };
            *per_owner.entry(owner).or_default().entry(g).or_default() += 1;
        }
    }
    if !per_owner.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Actions by owner")?;
        writeln!(out)?;
        for (owner, actions) in &per_owner {
            let list: Vec<String> = actions
                .iter()
                .map(|(id, n)| {
                    let title = record.guidance(id).map(|g| md(&g.title)).unwrap_or_else(|| md(id));
                    format!("[{title}](#guidance-{}) ({n} finding{})", anchor(id), if *n == 1 { "" } else { "s" })
                })
                .collect();
            writeln!(out, "- **{}**: {}", md(owner), list.join("; "))?;
        }
    }

    let review: Vec<_> = record.exceptions.iter().filter(|e| e.status != ExceptionStatus::Active).collect();
    if !review.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Exceptions to review")?;
        writeln!(out)?;
        for e in review {
            let what = match e.status {
                ExceptionStatus::Expired => format!("expired on {}", e.expires),
                _ => "matches nothing (stale)".to_string(),
            };
            writeln!(out, "- #{} (rules file line {}): {} — {what}", e.exception, e.line, md(&e.reason))?;
        }
    }

    if !record.guidance.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Guidance")?;
        for g in &record.guidance {
            writeln!(out)?;
            // A loaded record's guidance is as hostile as its names: ids become plain anchors,
            // texts keep their `code` spans and lose every other markup.
            writeln!(out, "<a id=\"guidance-{}\"></a>", anchor(&g.id))?;
            writeln!(out)?;
            writeln!(out, "### {} ({})", md(&g.title), prose(&format!("`{}`", g.id.replace('`', "")), false))?;
            writeln!(out)?;
            writeln!(out, "**Do:** {}", prose(&g.action, false))?;
            writeln!(out)?;
            for (i, step) in g.steps.iter().enumerate() {
                writeln!(out, "{}. {}", i + 1, prose(step, false))?;
            }
            if !g.caveats.is_empty() {
                writeln!(out)?;
                writeln!(out, "Caveats:")?;
                writeln!(out)?;
                for caveat in &g.caveats {
                    writeln!(out, "- {}", prose(caveat, false))?;
                }
            }
            if let Some(keep) = &g.keep_pat {
                writeln!(out)?;
                writeln!(
                    out,
                    "If a PAT must stay: this organization only, scopes {}, at most {} days.",
                    prose(&keep.scopes.join(", "), false),
                    keep.max_days
                )?;
            }
            writeln!(out)?;
            if let Some(learn) = safe_link(&g.learn) {
                writeln!(out, "[Microsoft Learn]({learn})")?;
            }
        }
    }
    Ok(())
}

/// Who an organization's finding (a tenant policy) is about.
const ORGANIZATION: &str = "(organization)";

fn token_label(record: &ScanRecord, owner: &str, authorization_id: &str) -> String {
    let name = record.token(owner, authorization_id).map(|t| t.display_name.as_str()).filter(|n| !n.is_empty());
    let short: String = authorization_id.chars().take(8).collect();
    let short = md(&short);
    match name {
        Some(name) => format!("{} ({short})", md(name)),
        None => format!("(no name) ({short})"),
    }
}

fn action_link(record: &ScanRecord, f: &Finding) -> String {
    match f.guidance.as_deref() {
        Some(id) => {
            let action = record.guidance(id).map(|g| prose(&g.action, true)).unwrap_or_default();
            format!("{action} ([guide](#guidance-{}))", anchor(id))
        }
        None => String::new(),
    }
}
