//! `pat2entra explain ID`: a rule or a guidance entry, in full.

use super::Failure;
use crate::exit::Exit;
use crate::{guidance, rules};

pub fn run(id: &str) -> Result<Exit, Failure> {
    if let Some(g) = guidance::by_id(id) {
        print!("{}", guidance::explain(g));
        return Ok(Exit::Ok);
    }
    if rules::RuleId::parse(id).is_some() {
        let text = rules::explain(Some(id)).map_err(|e| Failure::error(Exit::Usage, e))?;
        print!("{text}");
        return Ok(Exit::Ok);
    }
    if id == rules::UNREADABLE_TOKEN {
        println!("{id} ({})\n  {}", rules::UNREADABLE_TOKEN_SEVERITY, rules::UNREADABLE_TOKEN_RATIONALE);
        return Ok(Exit::Ok);
    }
    let ids = guidance::catalog().iter().map(|g| g.id.as_str()).chain(rules::RuleId::ALL.iter().map(|r| r.as_str()));
    let all: Vec<&str> = ids.collect();
    Err(Failure::new(
        Exit::Usage,
        format!("'{id}' is neither a rule id nor a guidance id; known ids: {}", all.join(", ")),
    ))
}
