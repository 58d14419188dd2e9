//! Progress on stderr while a scan runs: only on a terminal, never with `--quiet`.

use crate::scan::ScanEvent;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    enabled: bool,
    state: Mutex<State>,
}

struct State {
    owners_total: usize,
    owners_done: usize,
    owners_failed: usize,
    tokens: usize,
    last_draw: Option<Instant>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            state: Mutex::new(State { owners_total: 0, owners_done: 0, owners_failed: 0, tokens: 0, last_draw: None }),
        }
    }

    pub fn event(&self, event: ScanEvent) {
        if !self.enabled {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ScanEvent::OwnersListed(n) => s.owners_total = n,
            ScanEvent::OwnerScanned { tokens } => {
                s.owners_done += 1;
                s.tokens += tokens;
            }
            ScanEvent::OwnerFailed => {
                s.owners_done += 1;
                s.owners_failed += 1;
            }
        }
        let finished = s.owners_done == s.owners_total;
        if finished || s.last_draw.is_none_or(|t| t.elapsed() > Duration::from_millis(100)) {
            s.last_draw = Some(Instant::now());
            let failed = if s.owners_failed > 0 { format!(", {} failed", s.owners_failed) } else { String::new() };
            eprint!("\rscanning owners {}/{}, {} tokens found{failed}   ", s.owners_done, s.owners_total, s.tokens);
            let _ = std::io::stderr().flush();
        }
    }

    pub fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}
