//! What the benches that run a program in a process of its own share: its figures from `wait4`,
//! and the load average to print beside them.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Figures of a finished child process: `wait4`'s resource usage.
pub struct Child {
    pub wall: f64,
    /// User + system CPU, in seconds.
    pub cpu: f64,
    pub peak_rss_mb: f64,
    pub status: i32,
}

/// Runs `command` to its end, its standard output read into the returned string, and reads its
/// resource usage with `wait4` (`ru_maxrss` is in KB on Linux): the child's own figures, not
/// this process's. The child's peak RSS starts at this process's RSS when it forks (the kernel
/// carries the high-water mark over `exec`), so the caller must be small.
pub fn measure(command: &mut Command) -> (Child, String) {
    let start = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value; `wait4` fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not waited for yet; both pointers are to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let wall = start.elapsed().as_secs_f64();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    // Reaped by wait4: `child` must not be waited for again.
    std::mem::forget(child);
    (Child { wall, cpu, peak_rss_mb: usage.ru_maxrss as f64 / 1024.0, status }, stdout)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
