//! Optional diagnostics on stderr: `RUST_LOG=debug` (or `trace`, or `pat2entra=debug`). The
//! HTTP wire layers stay at info whatever is asked, because their frames can hold credentials;
//! what pat2entra itself logs never contains a secret.

use crate::report::sanitize;
use std::io::Write;
use tracing_subscriber::EnvFilter;

/// Caps for the crates that log raw HTTP traffic.
const WIRE_CAPS: &str = "h2=info,hyper=info,hyper_util=info,rustls=info";

pub fn init() {
    let Ok(wanted) = std::env::var("RUST_LOG") else {
        return;
    };
    if wanted.trim().is_empty() {
        return;
    }
    let filter = EnvFilter::try_new(format!("{wanted},{WIRE_CAPS}")).unwrap_or_else(|e| {
        let wanted = crate::report::terminal_text(&wanted);
        eprintln!("warning: RUST_LOG='{wanted}' is not a valid filter ({e}); logging warnings only");
        EnvFilter::new("warn")
    });
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| SanitizedStderr).with_ansi(false).try_init();
}

/// Stderr for log lines, which quote the service (a refused redirect's `Location`, an Entra
/// error): each line [`sanitize`]d, so that no escape sequence or bidi override reaches the
/// terminal. (`tracing-subscriber` escapes ESC and C1 itself, but not bidi controls or CR.)
struct SanitizedStderr;

impl Write for SanitizedStderr {
    /// Takes the whole buffer: the formatter writes one event at a time, so lines arrive whole.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(sanitize_lines(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Every line of `text` [`sanitize`]d, the line breaks kept.
fn sanitize_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = line.strip_suffix('\n').map_or((line, ""), |body| (body, "\n"));
        out.push_str(&sanitize(body));
        out.push_str(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_keep_their_breaks_and_lose_escape_sequences_and_bidi_controls() {
        let logged = "WARN redirect refused location=https://x/\u{202e}gpj.exe\r\u{1b}[2J\nINFO next\n";
        assert_eq!(
            sanitize_lines(logged),
            "WARN redirect refused location=https://x/\u{fffd}gpj.exe \u{fffd}[2J\nINFO next\n"
        );
        assert_eq!(sanitize_lines("no newline"), "no newline");
    }
}
