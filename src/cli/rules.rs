//! `pat2entra rules check|explain`.

use super::Failure;
use crate::exit::Exit;
use crate::rules::{self, RuleSet};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file without scanning (exit 0 when valid, 2 otherwise).
    Check {
        /// The rules file (TOML).
        file: PathBuf,
    },
    /// Document the rules file format and every rule, or one rule.
    Explain {
        /// A rule id such as long-lived; all rules when left out.
        rule: Option<String>,
    },
}

pub fn run(command: RulesCommand) -> Result<Exit, Failure> {
    match command {
        RulesCommand::Check { file } => {
            let set = RuleSet::load(&file).map_err(Failure::rules)?;
            print!("{}", describe(&file.display().to_string(), &set));
            Ok(Exit::Ok)
        }
        RulesCommand::Explain { rule } => {
            let text = rules::explain(rule.as_deref()).map_err(|e| Failure::error(Exit::Usage, e))?;
            print!("{text}");
            Ok(Exit::Ok)
        }
    }
}

/// What a valid rules file turns on: each rule with its severity and where it comes from, the
/// rules left off, and the exceptions, so that a file that disables more than meant shows it.
fn describe(file: &str, set: &RuleSet) -> String {
    let file = crate::report::terminal_text(file);
    let base = match &set.extends {
        Some(name) => format!("extends \"{name}\""),
        None => "stands alone (extends = \"none\")".to_string(),
    };
    let mut text = format!(
        "{file}: valid; {base}; {} of {} rules enabled, {} exceptions\n",
        set.rules.len(),
        rules::RuleId::ALL.len(),
        set.exceptions.len()
    );
    // As wide as the longest rule id, so rows line up in every file and whatever ids a release adds.
    let width = rules::RuleId::ALL.iter().map(|id| id.as_str().len()).max().unwrap_or(0);
    for rule in &set.rules {
        let from = match (&set.extends, rule.from_file) {
            (_, true) => "this file".to_string(),
            (Some(name), false) => format!("built in ({name})"),
            (None, false) => "built in".to_string(),
        };
        text.push_str(&format!("  {:<width$} {:<9} {from}\n", rule.id.as_str(), rule.severity.as_str()));
    }
    let off: Vec<&str> =
        rules::RuleId::ALL.iter().filter(|id| set.rule(**id).is_none()).map(|id| id.as_str()).collect();
    if !off.is_empty() {
        // Wrapped at 80 columns, continuation lines under the first id.
        let mut line = String::from("  off:");
        for (i, id) in off.iter().enumerate() {
            let item = if i + 1 < off.len() { format!(" {id},") } else { format!(" {id}") };
            if line.len() + item.len() > 80 {
                text.push_str(line.trim_end());
                text.push('\n');
                line = String::from("      ");
            }
            line.push_str(&item);
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_lists_each_rule_with_severity_and_origin() {
        let set = RuleSet::parse(
            "extends = \"default\"\n[rules.long-lived]\nseverity = \"high\"\nmax_lifetime_days = 30\n\n[[exception]]\nrule = \"full-access\"\nreason = \"r\"\nticket = \"T\"\nexpires = 2027-01-01\n",
            "mine.toml",
        )
        .unwrap();
        let text = describe("mine.toml", &set);
        assert!(text.starts_with("mine.toml: valid; extends \"default\"; "), "{text}");
        assert!(text.contains(", 1 exceptions"), "{text}");
        assert!(text.contains("  long-lived             high      this file\n"), "{text}");
        assert!(text.contains("  full-access            high      built in (default)\n"), "{text}");
        assert!(text.contains("off: ") && text.contains("revoked"), "{text}");

        let alone = RuleSet::parse("extends = \"none\"\n[rules.revoked]\nseverity = \"low\"\n", "a.toml").unwrap();
        let text = describe("a.toml", &alone);
        let enabled = format!("1 of {} rules enabled", rules::RuleId::ALL.len());
        assert!(text.contains("stands alone") && text.contains(&enabled), "{text}");
        assert!(text.contains("  revoked                low       this file\n"), "{text}");
        assert!(text.contains("full-access"), "a turned-off rule is listed: {text}");
    }
}
