//! Optional diagnostics on stderr: `RUST_LOG=debug` (or `trace`, or `pat2entra=debug`). The
//! HTTP wire layers stay at info whatever is asked, because their frames can hold credentials;
//! what pat2entra itself logs never contains a secret.

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
        eprintln!("warning: RUST_LOG='{wanted}' is not a valid filter ({e}); logging warnings only");
        EnvFilter::new("warn")
    });
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}
