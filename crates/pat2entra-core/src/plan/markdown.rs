//! The plan in Markdown: one section per owner, ready to send.

use super::{Plan, Wave};
use crate::guidance::Guidance;
use crate::report::{markdown_escape as esc, markdown_prose as prose, safe_link};
use std::io::{self, Write};

/// Writes the plan; `guide` looks up guidance texts by id.
pub fn render(plan: &Plan, guide: &dyn Fn(&str) -> Option<Guidance>, out: &mut dyn Write) -> io::Result<()> {
    let total: usize = plan.per_wave.values().sum();
    writeln!(out, "# PAT retirement plan: {}", esc(&plan.organization))?;
    writeln!(out)?;
    // SSH keys are planned too; say how many of the credentials are which.
    let ssh = plan.owners.iter().flat_map(|o| &o.items).filter(|i| !i.kind.is_pat()).count();
    let what = if ssh == 0 {
        "active personal access tokens".to_string()
    } else {
        format!("active credentials ({} personal access tokens, {ssh} SSH keys)", total.saturating_sub(ssh))
    };
    writeln!(
        out,
        "As of {}: {total} {what} of {} owners to replace with Microsoft Entra ID tokens \
         ({} expired or revoked tokens need nothing).",
        plan.as_of,
        plan.owners.len(),
        plan.inactive_tokens
    )?;
    writeln!(out)?;
    writeln!(out, "| Wave | When | Tokens |")?;
    writeln!(out, "| --- | --- | ---: |")?;
    for (wave, count) in &plan.per_wave {
        writeln!(out, "| {} | {} | {count} |", wave.as_str(), wave.describe())?;
    }
    writeln!(out)?;
    writeln!(out, "## Evidence")?;
    writeln!(out)?;
    for line in &plan.evidence_markdown {
        writeln!(out, "- {line}")?;
    }
    if let Some(caveat) = plan.audit_caveat {
        writeln!(out)?;
        writeln!(out, "_{caveat}_")?;
    }
    if !plan.organization_findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Organization")?;
        writeln!(out)?;
        for line in &plan.organization_findings {
            writeln!(out, "- {}", esc(line))?;
        }
    }
    if !plan.coverage_gaps.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Not read: {} owners", plan.coverage_gaps.len())?;
        writeln!(out)?;
        writeln!(
            out,
            "The scan could not read the tokens of these owners, so this plan does not cover them. Rescan before relying on it."
        )?;
        writeln!(out)?;
        for gap in &plan.coverage_gaps {
            writeln!(out, "- {}: {}", esc(&gap.owner), esc(&gap.error))?;
        }
    }
    if !plan.coverage_warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Coverage warnings: {}", plan.coverage_warnings.len())?;
        writeln!(out)?;
        for w in &plan.coverage_warnings {
            writeln!(out, "- {}", esc(w))?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "For each owner: set up the replacements first, switch what uses each token, then revoke it by its due date."
    )?;
    for owner in &plan.owners {
        writeln!(out)?;
        let name = if owner.display_name.is_empty() || owner.display_name == owner.principal_name {
            esc(&owner.principal_name)
        } else {
            format!("{} ({})", esc(&owner.display_name), esc(&owner.principal_name))
        };
        writeln!(out, "## {name}")?;
        writeln!(out)?;
        if owner.set_up_first.is_empty() {
            writeln!(out, "Nothing to set up first: revoke.")?;
        } else {
            writeln!(out, "Set up first:")?;
            writeln!(out)?;
        }
        for id in &owner.set_up_first {
            match guide(id) {
                Some(g) if safe_link(&g.learn).is_some() => writeln!(
                    out,
                    "- **{}** ({}): {} [Microsoft Learn]({})",
                    esc(&g.title),
                    esc(&g.id),
                    prose(&g.action, false),
                    g.learn
                )?,
                Some(g) => writeln!(out, "- **{}** ({}): {}", esc(&g.title), esc(&g.id), prose(&g.action, false))?,
                None => writeln!(out, "- {}", esc(id))?,
            }
        }
        writeln!(out)?;
        writeln!(out, "| Wave | Due | Token | Findings | Used for | Last seen | Action |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |")?;
        for item in &owner.items {
            let token = if item.token_name.is_empty() { "(no name)".to_string() } else { esc(&item.token_name) };
            let findings = if item.rules.is_empty() { "none".to_string() } else { esc(&item.rules.join(", ")) };
            let urgent = match item.wave {
                Wave::RevokeNow | Wave::Now => format!("**{}**", item.wave.as_str()),
                _ => item.wave.as_str().to_string(),
            };
            let kind = if item.kind.is_pat() { String::new() } else { format!(", {}", item.kind.as_str()) };
            let seen = item.last_seen_text().map(|s| esc(&s)).unwrap_or_else(|| "—".to_string());
            // The revoke-now reasons are pat2entra's own words.
            let action = match &item.revoke_now {
                Some(why) => why.clone(),
                None => prose(&item.action, true),
            };
            writeln!(
                out,
                "| {urgent} | {} | {token} ({}{kind}) | {findings} | {} ({}) | {seen} | {action} |",
                item.due,
                esc(&item.authorization_id.chars().take(8).collect::<String>()),
                esc(&item.use_id),
                esc(&item.confidence),
            )?;
        }
    }
    Ok(())
}
