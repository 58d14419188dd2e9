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
            let set = RuleSet::load(&file).map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
            let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
            println!(
                "{}: valid; {} rules enabled ({}), {} exceptions",
                file.display(),
                ids.len(),
                ids.join(", "),
                set.exceptions.len()
            );
            Ok(Exit::Ok)
        }
        RulesCommand::Explain { rule } => {
            let text = rules::explain(rule.as_deref()).map_err(|e| Failure::new(Exit::Usage, e))?;
            print!("{text}");
            Ok(Exit::Ok)
        }
    }
}
