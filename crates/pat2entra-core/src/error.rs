//! Showing errors. Every layer has its own error type (`rules::RulesError`,
//! `record::LoadError`, `files::InputError`, `files::WriteError`, `redact::KeyError`, and in
//! pat2entra-ado the client's, sign-in's and the checkpoint's); an error's `Display` says what
//! failed at its own level and its `source()` says why. `Chain` shows the whole chain on one
//! line, outermost first: `saved scan a.json: cannot read it: No such file or directory`.

use std::error::Error;
use std::fmt;

/// An error with its causes, on one line, joined by `: `.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// `Chain` as a `String`.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("saved scan a.json")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_is_one_line_outermost_first() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&e), "saved scan a.json: disk on fire");
        assert_eq!(e.to_string(), "saved scan a.json", "Display is the outer level only");
    }
}
