//! Progress on stderr while a scan runs (an `indicatif` line, only on a terminal, never with
//! `--quiet`), and a one-line summary of the requests at the end (unless `--quiet`, terminal or
//! not).

use crate::ado::{ClientStats, Pacer, format_duration};
use crate::scan::ScanEvent;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the line is redrawn, events or not: a long pause the service asked for counts down
/// instead of freezing the line.
const REDRAW: Duration = Duration::from_millis(500);

pub struct Progress {
    live: bool,
    quiet: bool,
    client: Arc<Pacer>,
    /// Hidden until the owners are listed, and always without a terminal or with `--quiet`.
    bar: ProgressBar,
    /// Where the bar draws once the owners are listed; taken then.
    target: Mutex<Option<ProgressDrawTarget>>,
    counts: Arc<Counts>,
}

/// What the bar does not count itself, read at every redraw.
#[derive(Default)]
struct Counts {
    tokens: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    pub fn new(quiet: bool, client: Arc<Pacer>) -> Self {
        let live = !quiet && std::io::stderr().is_terminal();
        Progress::with_target(quiet, live, client, ProgressDrawTarget::stderr_with_hz(2))
    }

    fn with_target(quiet: bool, live: bool, client: Arc<Pacer>, target: ProgressDrawTarget) -> Self {
        let counts = Arc::new(Counts::default());
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(style(client.clone(), counts.clone()));
        Progress { live, quiet, client, bar, target: Mutex::new(live.then_some(target)), counts }
    }

    /// Counts first, then the owners: moving the bar draws it, with both.
    pub fn event(&self, event: ScanEvent) {
        match event {
            ScanEvent::OwnersListed(n) => {
                self.bar.set_length(n as u64);
                if let Some(target) = self.target.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    self.bar.set_draw_target(target);
                    self.bar.enable_steady_tick(REDRAW);
                }
            }
            ScanEvent::Resumed { owners, tokens } => {
                if self.live {
                    // Above the live line, never into it.
                    self.bar.println(resume_line(owners, tokens));
                } else if !self.quiet {
                    eprintln!("{}", resume_line(owners, tokens));
                }
                self.counts.tokens.fetch_add(tokens, Ordering::Relaxed);
                self.bar.inc(owners as u64);
            }
            ScanEvent::OwnerScanned { tokens } => {
                self.counts.tokens.fetch_add(tokens, Ordering::Relaxed);
                self.bar.inc(1);
            }
            ScanEvent::OwnerFailed => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                self.bar.inc(1);
            }
        }
    }

    /// Ends the live line (as it stands: a scan cut short does not show as complete) and prints
    /// what the scan cost.
    pub fn finish(&self, elapsed: Duration) {
        self.bar.abandon();
        if self.live {
            // indicatif leaves the cursor at the end of the line, relying on the terminal to wrap
            // there; a line break of our own keeps the summary off it whatever the terminal's width.
            eprintln!();
        }
        if self.quiet {
            return;
        }
        eprintln!("{}", summary(&self.client.stats, elapsed));
    }
}

/// `scanning owners 120/5002, 961 tokens, 2 failed, 3 retried, paused by the service: 12 s left`:
/// the counts, the retries and the service's pauses are read at every redraw.
fn style(client: Arc<Pacer>, counts: Arc<Counts>) -> ProgressStyle {
    let counted = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{} tokens", counts.tokens.load(Ordering::Relaxed));
        let failed = counts.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let _ = write!(w, ", {failed} failed");
        }
    };
    let service = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&service_note(&client));
    };
    ProgressStyle::with_template("scanning owners {pos}/{len}, {counts}{service}")
        .expect("the template is valid")
        .with_key("counts", counted)
        .with_key("service", service)
}

/// Retries and waits so far, and a pause in force.
fn service_note(client: &Pacer) -> String {
    let (_, retries, throttled, waited) = client.stats.snapshot();
    let retried = if retries > 0 { format!(", {retries} retried") } else { String::new() };
    let throttling = match client.paused_for() {
        Some(left) => format!(", paused by the service: {:.0} s left", left.as_secs_f64().ceil()),
        None if throttled > 0 => format!(", throttled {throttled}x (waited {:.1} s)", waited.as_secs_f64()),
        None => String::new(),
    };
    format!("{retried}{throttling}")
}

/// The resume message.
fn resume_line(owners: usize, tokens: usize) -> String {
    format!("resuming: {owners} owners ({tokens} tokens) already scanned, from the checkpoint")
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

    /// A progress display drawing into an in-memory terminal, as a terminal would show it.
    fn on_terminal(pacer: Arc<Pacer>) -> (Progress, indicatif::InMemoryTerm) {
        let term = indicatif::InMemoryTerm::new(10, 200);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        (Progress::with_target(false, true, pacer, target), term)
    }

    #[test]
    fn the_line_counts_owners_tokens_failures_and_shows_a_pause_as_such() {
        let pacer = Arc::new(Pacer::new(3, Duration::from_secs(300)));
        let (progress, term) = on_terminal(pacer.clone());
        progress.event(ScanEvent::OwnersListed(4));
        progress.event(ScanEvent::OwnerScanned { tokens: 3 });
        progress.event(ScanEvent::OwnerFailed);
        pacer.stats.retries.store(2, Ordering::Relaxed);
        pacer.pause(Duration::from_secs(30));
        progress.finish(Duration::from_secs(1));
        let shown = term.contents();
        assert!(
            shown.starts_with("scanning owners 2/4, 3 tokens, 1 failed, 2 retried, paused by the service: "),
            "{shown}"
        );
        assert!(shown.contains(" s left"), "{shown}");
    }

    #[test]
    fn the_resume_message_does_not_run_into_the_line() {
        let (progress, term) = on_terminal(Arc::new(Pacer::new(3, Duration::from_secs(300))));
        progress.event(ScanEvent::OwnersListed(10));
        progress.event(ScanEvent::Resumed { owners: 3, tokens: 7 });
        progress.event(ScanEvent::OwnerScanned { tokens: 1 });
        progress.finish(Duration::from_secs(1));
        let shown = term.contents();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "resuming: 3 owners (7 tokens) already scanned, from the checkpoint", "{shown}");
        assert_eq!(lines[1], "scanning owners 4/10, 8 tokens", "{shown}");
    }

    #[test]
    fn nothing_is_drawn_without_a_terminal() {
        let progress = Progress::with_target(
            false,
            false,
            Arc::new(Pacer::new(3, Duration::from_secs(300))),
            ProgressDrawTarget::hidden(),
        );
        progress.event(ScanEvent::OwnersListed(2));
        assert!(progress.bar.is_hidden());
        assert!(progress.target.lock().unwrap().is_none(), "no draw target without a terminal");
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
