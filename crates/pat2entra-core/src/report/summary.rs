//! `--summary FILE`: a short Markdown digest for a CI run's summary page (`$GITHUB_STEP_SUMMARY`,
//! Azure Pipelines `##vso[task.uploadsummary]FILE`), whatever the size of the organization:
//! the headline numbers, every kind of coverage gap (always shown, each list capped with an
//! "N more" line), one line per organization of a tenant (capped), and the most severe open
//! findings (capped). Each name is cut to [`MAX_NAME`] characters and escaped; the whole text is
//! cut at a line to stay within the byte budget (GitHub refuses a step summary over 1 MiB).

use super::Records;
use super::escape::{markdown_escape, sanitize};
use crate::finding::{Finding, Severity};
use crate::record::ScanRecord;
use std::fmt::Write as _;

/// The most a summary takes: under GitHub's 1 MiB limit for one step's summary, with room.
pub const MAX_SUMMARY: usize = 1_000_000;
/// Open findings listed, most severe first.
const TOP_FINDINGS: usize = 25;
/// Coverage gap lines per organization (owners not read; evidence sources are few).
const GAPS_PER_ORGANIZATION: usize = 20;
/// Organization lines of a tenant summary.
const ORGANIZATIONS: usize = 200;
/// Characters of a name or message kept (hostile or huge names cannot blow the budget).
const MAX_NAME: usize = 120;

/// `text` sanitized, cut to `MAX_NAME` characters (an ellipsis says so), Markdown-escaped.
fn cell(text: &str) -> String {
    let clean = sanitize(text);
    if clean.chars().count() > MAX_NAME {
        let cut: String = clean.chars().take(MAX_NAME).collect();
        format!("{}…", markdown_escape(&cut))
    } else {
        markdown_escape(&clean)
    }
}

/// The digest, at most `budget` bytes (cut at a line, with a note, when longer).
pub fn render(records: Records<'_>, budget: usize) -> String {
    let mut out = String::new();
    let orgs = records.organizations();
    // `write!` to a String cannot fail.
    match records {
        Records::Organization(r) => {
            let _ = writeln!(out, "## PAT audit: {}\n", cell(&r.organization));
        }
        Records::Tenant(t) => {
            let _ = writeln!(
                out,
                "## PAT audit: {} organizations\n",
                t.summary.organizations + t.summary.organizations_failed
            );
        }
    }
    let _ = writeln!(out, "As of {}.\n", records.as_of().format("%Y-%m-%d %H:%M UTC"));
    if let Some(redaction) = records.redaction() {
        let _ = writeln!(out, "_Note: {}._\n", redaction.notice());
    }
    out.push_str("| | |\n| --- | --- |\n");
    match records {
        Records::Organization(r) => {
            let c = &r.coverage;
            let coverage = if c.complete && r.evidence.gaps().next().is_none() {
                format!("complete: {} of {} owners scanned", c.owners_scanned, c.owners_listed)
            } else if c.complete {
                format!(
                    "{} of {} owners scanned; evidence read in part (see coverage gaps)",
                    c.owners_scanned, c.owners_listed
                )
            } else {
                format!(
                    "**INCOMPLETE**: {} of {} owners scanned, {} could not be read",
                    c.owners_scanned,
                    c.owners_listed,
                    c.owners_failed.len()
                )
            };
            let s = &r.summary;
            let _ = writeln!(out, "| Coverage | {coverage} |");
            let _ = writeln!(
                out,
                "| Credentials | {} ({} active); {} flagged |",
                s.tokens, s.active_tokens, s.flagged_tokens
            );
            let _ = writeln!(out, "| Findings | {} |", s.severity_counts());
            let _ = writeln!(out, "| Accepted by exceptions | {} |", s.suppressed_findings);
        }
        Records::Tenant(t) => {
            let s = &t.summary;
            let coverage = if t.is_complete() {
                format!("complete: {} scanned", crate::text::plural(s.organizations, "organization"))
            } else {
                format!(
                    "**INCOMPLETE**: {} scanned ({} incomplete), {} not scanned",
                    crate::text::plural(s.organizations, "organization"),
                    s.organizations_incomplete,
                    s.organizations_failed
                )
            };
            let _ = writeln!(out, "| Coverage | {coverage} |");
            let _ = writeln!(
                out,
                "| Credentials | {} distinct ({} active, {} shared by several organizations); {} flagged |",
                s.credentials, s.active_credentials, s.shared_credentials, s.flagged_credentials
            );
            let _ = writeln!(out, "| Findings | {} |", crate::finding::severity_counts(&s.findings_by_severity));
            let _ = writeln!(out, "| Accepted by exceptions | {} |", s.suppressed_findings);
        }
    }

    let gaps = gap_lines(records);
    if !gaps.is_empty() {
        out.push_str("\n### Coverage gaps\n\n");
        out.push_str("What could not be read: the findings below are incomplete there.\n\n");
        for line in gaps {
            let _ = writeln!(out, "- {line}");
        }
    }

    if records.is_tenant() {
        out.push_str("\n### Organizations\n\n| Organization | Coverage | Findings |\n| --- | --- | --- |\n");
        for r in orgs.iter().take(ORGANIZATIONS) {
            let coverage = if r.coverage.complete { "complete" } else { "**incomplete**" };
            let _ = writeln!(out, "| {} | {coverage} | {} |", cell(&r.organization), r.summary.severity_counts());
        }
        for f in records.failed().iter().take(ORGANIZATIONS.saturating_sub(orgs.len())) {
            let _ = writeln!(out, "| {} | **not scanned** | {} |", cell(&f.organization), cell(&f.reason));
        }
        let listed = orgs.len() + records.failed().len();
        if listed > ORGANIZATIONS {
            let _ = writeln!(out, "\n_…and {} more organizations (see the full report)._", listed - ORGANIZATIONS);
        }
    }

    let mut open: Vec<(&ScanRecord, &Finding)> =
        orgs.iter().flat_map(|r| r.open_findings().map(move |f| (r, f))).collect();
    // Most severe first; the records' own order (stable) within a severity.
    open.sort_by_key(|(_, f)| std::cmp::Reverse(f.severity));
    out.push_str("\n### Top findings\n\n");
    if open.is_empty() {
        out.push_str("No open findings.\n");
    } else {
        let tenant = records.is_tenant();
        out.push_str(if tenant {
            "| Severity | Rule | Credential | Owner | Organization |\n| --- | --- | --- | --- | --- |\n"
        } else {
            "| Severity | Rule | Credential | Owner |\n| --- | --- | --- | --- |\n"
        });
        for (r, f) in open.iter().take(TOP_FINDINGS) {
            let (credential, owner) = if f.is_organization() {
                ("(the organization)".to_string(), String::new())
            } else {
                let name =
                    r.token(&f.owner, &f.authorization_id).map_or(f.authorization_id.as_str(), |t| &t.display_name);
                (cell(name), cell(&r.owner_label(&f.owner)))
            };
            // The rule id as escaped text, not a code span: an escaped backtick would still close one.
            let _ = write!(out, "| {} | {} | {credential} | {owner} |", severity(f.severity), cell(&f.rule));
            if tenant {
                let _ = write!(out, " {} |", cell(&r.organization));
            }
            out.push('\n');
        }
        if open.len() > TOP_FINDINGS {
            let _ = writeln!(out, "\n_…and {} more open findings (see the full report)._", open.len() - TOP_FINDINGS);
        }
    }
    fit(out, budget)
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "**critical**",
        Severity::High => "**high**",
        other => other.as_str(),
    }
}

/// Every coverage gap: for one organization, each owner not read (capped) and each evidence
/// source not read in full; for a tenant, one line per organization with a gap and one per
/// organization not scanned (together capped), so the list stays short however many there are.
fn gap_lines(records: Records<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Records::Organization(r) = records {
        let failed = &r.coverage.owners_failed;
        for gap in failed.iter().take(GAPS_PER_ORGANIZATION) {
            lines.push(format!("owner {} not read: {}", cell(&r.owner_label(&gap.descriptor)), cell(&gap.error)));
        }
        if failed.len() > GAPS_PER_ORGANIZATION {
            lines.push(format!("…and {} more owners not read", failed.len() - GAPS_PER_ORGANIZATION));
        }
        if failed.is_empty() && r.coverage.owners_scanned < r.coverage.owners_listed {
            lines.push(format!("{} of {} owners scanned", r.coverage.owners_scanned, r.coverage.owners_listed));
        }
        for (source, c) in r.evidence.gaps() {
            lines.push(format!("evidence.{source}: {}", cell(&c.describe())));
        }
        return lines;
    }
    let mut all = Vec::new();
    for r in records.organizations() {
        let mut parts = Vec::new();
        let c = &r.coverage;
        if !c.complete {
            let first = c
                .owners_failed
                .first()
                .map(|g| format!(" (first: {}: {})", cell(&r.owner_label(&g.descriptor)), cell(&g.error)))
                .unwrap_or_default();
            parts.push(format!(
                "{} of {} owners not read{first}",
                c.owners_listed - c.owners_scanned.min(c.owners_listed),
                c.owners_listed
            ));
        }
        for (source, cov) in r.evidence.gaps() {
            parts.push(format!("evidence.{source}: {}", cell(&cov.describe())));
        }
        if !parts.is_empty() {
            all.push(format!("{}: {}", cell(&r.organization), parts.join("; ")));
        }
    }
    for f in records.failed() {
        all.push(format!("{}: not scanned: {}", cell(&f.organization), cell(&f.reason)));
    }
    let more = all.len().saturating_sub(ORGANIZATIONS);
    lines.extend(all.into_iter().take(ORGANIZATIONS));
    if more > 0 {
        lines.push(format!("…and {more} more organizations with coverage gaps (see the full report)"));
    }
    lines
}

/// `text` if it fits in `budget` bytes, else cut at the last line that fits, with a note.
fn fit(text: String, budget: usize) -> String {
    if text.len() <= budget {
        return text;
    }
    const NOTE: &str = "\n_Summary cut to fit the size limit; see the full report._\n";
    let room = budget.saturating_sub(NOTE.len());
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let mut cut = text[..end].to_string();
    if cut.len() + NOTE.len() <= budget {
        cut.push_str(NOTE);
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_line_within_the_budget() {
        let text = "line one\nline two\nline three\n".repeat(100);
        let cut = fit(text.clone(), 200);
        assert!(cut.len() <= 200, "{}", cut.len());
        assert!(cut.ends_with("see the full report._\n"));
        assert!(cut.starts_with("line one\n"));
        assert_eq!(fit(text.clone(), text.len()), text);
        assert!(fit(text, 10).len() <= 10);
    }

    #[test]
    fn names_are_cut_and_escaped() {
        let long = format!("<b>{}", "x".repeat(500));
        let c = cell(&long);
        assert!(c.starts_with("&lt;b&gt;") && c.ends_with('…') && c.chars().count() < 140, "{c}");
    }
}
