//! Progress on stderr while a scan runs (only on a terminal, never with `--quiet`), and a
//! one-line summary of the requests at the end (unless `--quiet`, terminal or not).

use crate::ado::{ClientStats, Pacer, format_duration};
use crate::scan::ScanEvent;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Progress {
    live: bool,
    quiet: bool,
    client: Arc<Pacer>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    owners_total: usize,
    owners_done: usize,
    owners_failed: usize,
    tokens: usize,
    last_draw: Option<Instant>,
}

impl Progress {
    pub fn new(quiet: bool, client: Arc<Pacer>) -> Self {
        Progress { live: !quiet && std::io::stderr().is_terminal(), quiet, client, state: Mutex::new(State::default()) }
    }

    pub fn event(&self, event: ScanEvent) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ScanEvent::OwnersListed(n) => s.owners_total = n,
            ScanEvent::Resumed { owners, tokens } => {
                s.owners_done += owners;
                s.tokens += tokens;
                if !self.quiet {
                    eprintln!("{}", resume_line(self.live, owners, tokens));
                }
            }
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
            self.draw(&mut s);
        }
    }

    /// Redraws the line now and then even without events: a long pause the service asked for
    /// shows as such instead of a frozen line.
    pub fn tick(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.owners_total > 0 {
            self.draw(&mut s);
        }
    }

    fn draw(&self, s: &mut State) {
        if !self.live {
            return;
        }
        s.last_draw = Some(Instant::now());
        let failed = if s.owners_failed > 0 { format!(", {} failed", s.owners_failed) } else { String::new() };
        let (_, retries, throttled, waited) = self.client.stats.snapshot();
        let throttling = match self.client.paused_for() {
            Some(left) => format!(", paused by the service: {:.0} s left", left.as_secs_f64().ceil()),
            None if throttled > 0 => format!(", throttled {throttled}x (waited {:.1} s)", waited.as_secs_f64()),
            None => String::new(),
        };
        let retried = if retries > 0 { format!(", {retries} retried") } else { String::new() };
        eprint!(
            "\r\x1b[Kscanning owners {}/{}, {} tokens{failed}{retried}{throttling}",
            s.owners_done, s.owners_total, s.tokens
        );
        let _ = std::io::stderr().flush();
    }

    /// Ends the live line and prints what the scan cost.
    pub fn finish(&self, elapsed: Duration) {
        if self.live {
            eprintln!();
        }
        if self.quiet {
            return;
        }
        eprintln!("{}", summary(&self.client.stats, elapsed));
    }
}

/// The resume message. The live line may already be drawn (without a newline): it is cleared
/// first, or the message would run into it.
fn resume_line(live: bool, owners: usize, tokens: usize) -> String {
    let clear = if live { "\r\x1b[K" } else { "" };
    format!("{clear}resuming: {owners} owners ({tokens} tokens) already scanned, from the checkpoint")
}

/// The end summary: what the scan cost, and every wait, retry and refusal, so that a slow or
/// incomplete run explains itself even in a CI log (no terminal).
pub fn summary(stats: &ClientStats, elapsed: Duration) -> String {
    let (requests, retries, throttled, waited) = stats.snapshot();
    let mut line = format!(
        "scan: {requests} requests in {:.1} s, {retries} retried, throttled {throttled}x (waited {} at the service's request), {} redirects refused",
        elapsed.as_secs_f64(),
        format_duration(waited),
        stats.redirects_refused.load(Ordering::Relaxed),
    );
    let extra = [
        (stats.waits_refused.load(Ordering::Relaxed), "waits refused (longer than --max-wait or past --deadline)"),
        (stats.oversized.load(Ordering::Relaxed), "responses over --max-response-mb"),
        (stats.deadline_refused.load(Ordering::Relaxed), "requests not sent or cut short by --deadline"),
    ];
    for (n, what) in extra {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_message_starts_on_a_clean_line() {
        assert!(resume_line(true, 3, 7).starts_with("\r\x1b[Kresuming: 3 owners (7 tokens)"));
        assert!(resume_line(false, 3, 7).starts_with("resuming: "), "no escape codes without a terminal");
    }

    #[test]
    fn the_summary_names_waits_retries_and_refusals() {
        let stats = ClientStats::default();
        stats.requests.store(1234, Ordering::Relaxed);
        stats.retries.store(5, Ordering::Relaxed);
        stats.throttled.store(3, Ordering::Relaxed);
        stats.waited_ms.store(130_000, Ordering::Relaxed);
        let line = summary(&stats, Duration::from_secs(2));
        assert_eq!(
            line,
            "scan: 1234 requests in 2.0 s, 5 retried, throttled 3x (waited 2m10s at the service's request), 0 redirects refused"
        );
        stats.redirects_refused.store(1, Ordering::Relaxed);
        stats.oversized.store(2, Ordering::Relaxed);
        stats.deadline_refused.store(7, Ordering::Relaxed);
        stats.waits_refused.store(4, Ordering::Relaxed);
        let line = summary(&stats, Duration::from_secs(2));
        for part in [
            ", 1 redirects refused",
            ", 4 waits refused",
            ", 2 responses over --max-response-mb",
            ", 7 requests not sent or cut short by --deadline",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
    }
}
