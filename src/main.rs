fn main() {
    // glibc gives every thread that allocates an arena of its own (up to 8 per core): the
    // scan's runtime threads and the judging threads then keep freed memory apart. Two arenas
    // measured 81 MB peak instead of 87-88 MB for a 20,000-user scan (README, "Performance").
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing, before any other thread exists; M_ARENA_MAX takes any
    // positive count, M_MMAP_THRESHOLD any size up to 32 MiB.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // A fixed threshold: glibc otherwise raises it to the size of each large block freed
        // (a response body), after which such blocks come from the heap and leave it fragmented.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
    std::process::exit(pat2entra::cli::main());
}
