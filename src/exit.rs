//! Process exit codes, documented in the README and in `--help`.

/// Exit codes of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Scan complete, nothing at or above `--fail-on`.
    Ok = 0,
    /// An unsuppressed finding at or above `--fail-on` exists.
    Findings = 1,
    /// Bad arguments or a bad rules file.
    Usage = 2,
    /// Authentication failed or the identity lacks a permission.
    Auth = 3,
    /// The scan is incomplete: some owners or tokens could not be read (coverage gaps).
    Incomplete = 4,
    /// `revoke`: some revocations failed (the journal lists them; a rerun tries them again).
    PartlyFailed = 5,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}
