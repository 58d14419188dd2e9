//! The files pat2entra reads and writes. Inputs are read with a size limit (a wrong path such as
//! `/dev/zero` fails fast instead of filling memory); outputs are written to a private (0600)
//! temporary file next to the target and renamed over it, so a reader never sees half a report,
//! an existing file never keeps a wider mode, and a symlink at the target is replaced, not
//! followed.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const MIB: u64 = 1024 * 1024;
/// A saved scan (`report`, `diff`, `plan`): 256 MiB holds well over a million tokens.
pub const MAX_SAVED_SCAN: u64 = 256 * MIB;
/// A checkpoint: the raw tokens of the owners finished so far.
pub const MAX_CHECKPOINT: u64 = 256 * MIB;
/// A rules file: 4 MiB holds tens of thousands of exceptions.
pub const MAX_RULES: u64 = 4 * MIB;
/// A file holding one secret or key.
pub const MAX_SECRET: u64 = 64 * 1024;

/// `256 MiB`, `4 MiB`, `64 KiB`.
pub fn human_size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why an input file could not be read (the file itself is named by `InputError`, or by the
/// caller).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it")]
    Io(#[source] io::Error),
    #[error("larger than {}, the limit for a {what}; is it the right file?", human_size(*limit))]
    TooLarge { limit: u64, what: &'static str },
    #[error("not UTF-8 text (at byte {at})")]
    NotUtf8 { at: usize },
}

/// An input file that could not be read: `saved scan X: cannot read it: No such file…`.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}", path.display())]
pub struct InputError {
    /// The kind of file ("saved scan", "checkpoint").
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub reason: ReadError,
}

/// Reads a whole input file, refusing one larger than `limit` bytes. `what` names the kind of
/// file in the error ("saved scan", "rules file"): `saved scan X: larger than 256 MiB, …`. The
/// limit is enforced on the bytes read, not on the size the file claims (`/dev/zero` and pipes
/// claim 0), and memory never exceeds it.
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    read_limited_reason(path, limit, what).map_err(|reason| InputError { what, path: path.to_path_buf(), reason })
}

/// `read_limited`, the error being only the reason (for callers that name the file themselves).
pub fn read_limited_reason(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let claimed = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    if claimed.is_some_and(|len| len > limit) {
        return Err(ReadError::TooLarge { limit, what });
    }
    // A regular file: exactly its size (plus the byte that tells it grew past the limit).
    // Anything else grows by doubling, never beyond the limit.
    let mut buf: Vec<u8> = Vec::with_capacity(claimed.map_or(64 * 1024, |len| len as usize + 1));
    let mut reader = file.take(limit + 1);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if buf.len() + n > buf.capacity() {
            let wanted = (buf.capacity() * 2).max(buf.len() + n).min(limit as usize + 1);
            buf.reserve_exact(wanted - buf.len());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit, what });
    }
    Ok(buf)
}

/// A regular file opened for streaming: buffered, cut one byte past `limit` (a file that grows
/// past the limit while read ends early, and its parser sees a truncated file), a leading
/// byte-order mark skipped. `None` for a file that is not a regular file (a pipe cannot be read
/// twice: read it with `read_limited`).
pub fn open_limited(path: &Path, limit: u64, what: &'static str) -> Result<Option<impl io::BufRead>, InputError> {
    use io::BufRead;
    let failed = |reason: ReadError| InputError { what, path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(|e| failed(ReadError::Io(e)))?;
    let meta = file.metadata().map_err(|e| failed(ReadError::Io(e)))?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > limit {
        return Err(failed(ReadError::TooLarge { limit, what }));
    }
    let mut reader = io::BufReader::with_capacity(256 * 1024, file.take(limit + 1));
    let start = reader.fill_buf().map_err(|e| failed(ReadError::Io(e)))?;
    if start.starts_with(b"\xef\xbb\xbf") {
        reader.consume(3);
    }
    Ok(Some(reader))
}

/// Like `read_limited_reason`, as UTF-8 text (a leading byte-order mark is dropped).
pub fn read_text_limited(path: &Path, limit: u64, what: &'static str) -> Result<String, ReadError> {
    let bytes = read_limited_reason(path, limit, what)?;
    let mut text = String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 { at: e.utf8_error().valid_up_to() })?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

/// An output file being written: a private temporary file in the target's directory, renamed
/// over the target by `commit`. Dropped without `commit`, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

/// Where an output goes: a regular file (replaced atomically) or a stream that exists already
/// (`/dev/stdout`, `/dev/null`, a named pipe), which is written in place: replacing a device
/// node would be wrong, and there is no half-written file to hide.
#[derive(Debug)]
pub enum Output {
    Replace(AtomicFile),
    Stream(File),
}

impl Output {
    pub fn create(target: &Path) -> io::Result<Output> {
        if is_stream(target) {
            return OpenOptions::new().write(true).open(target).map(Output::Stream);
        }
        AtomicFile::create(target).map(Output::Replace)
    }

    /// Finishes the output: flushed, and for a file synced and renamed over the target.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Replace(file) => file.commit(),
            Output::Stream(mut file) => file.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Replace(file) => file.write(buf),
            Output::Stream(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Replace(file) => file.flush(),
            Output::Stream(file) => file.flush(),
        }
    }
}

/// True when `path` (followed through symlinks) is an existing file that is not a regular file
/// nor a directory (a character device, a pipe, a socket), or anything existing under `/dev` or
/// `/proc` (`/dev/stdout` redirected to a file is a symlink there that must not be replaced).
fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| {
        (!m.is_file() && !m.is_dir()) || (cfg!(unix) && (path.starts_with("/dev") || path.starts_with("/proc")))
    })
}

/// The directory an output file is created in (`.` for a bare file name).
fn directory_of(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh temporary file next to `target`, readable by its owner only.
fn create_temp(target: &Path) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = directory_of(target);
    loop {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let temp = dir.join(temp_name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        let (file, temp) = create_temp(target)?;
        Ok(AtomicFile { file: Some(file), temp, target: target.to_path_buf() })
    }

    /// The open temporary file (for callers that keep appending after `commit_keep_open`).
    fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Syncs the file and renames it over the target (a symlink there is replaced).
    pub fn commit(self) -> io::Result<()> {
        self.commit_keep_open().map(drop)
    }

    /// Like `commit`, returning the file still open (the checkpoint appends to it).
    pub fn commit_keep_open(mut self) -> io::Result<File> {
        let mut file = self.file.take().expect("open until committed");
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&self.temp, &self.target)?;
        Ok(file)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// An output (a report, a plan, a saved scan) that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is a directory; give a file name", path.display())]
    IsDirectory { path: PathBuf },
    #[error("cannot write {}: the directory {} does not exist", path.display(), dir.display())]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {}: {} is not a directory", path.display(), dir.display())]
    NotADirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {}: {}", path.display(), dir.display())]
    Directory {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove the probe file {}", temp.display())]
    Probe {
        temp: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Standard output is closed, or `/dev/null` opened for reading (`stdout_problem`).
    #[error("{problem}: the output would be lost; pass --out FILE (or --out /dev/null to discard it)")]
    StdoutUnusable { problem: String },
    #[error("cannot write the output")]
    Stdout(#[source] io::Error),
}

/// Checks, before a long scan, that an output file can be created at `target`: its directory
/// exists and accepts a new file (a probe file is created and removed).
pub fn check_writable(target: &Path) -> Result<(), WriteError> {
    let path = || target.to_path_buf();
    if is_stream(target) {
        return OpenOptions::new()
            .write(true)
            .open(target)
            .map(drop)
            .map_err(|source| WriteError::File { path: path(), source });
    }
    if target.is_dir() {
        return Err(WriteError::IsDirectory { path: path() });
    }
    let dir = directory_of(target);
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(WriteError::NoDirectory { path: path(), dir: dir.to_path_buf() });
        }
        Err(source) => return Err(WriteError::Directory { path: path(), dir: dir.to_path_buf(), source }),
        Ok(m) if !m.is_dir() => return Err(WriteError::NotADirectory { path: path(), dir: dir.to_path_buf() }),
        Ok(_) => {}
    }
    let (file, temp) = create_temp(target).map_err(|source| WriteError::File { path: path(), source })?;
    drop(file);
    std::fs::remove_file(&temp).map_err(|source| WriteError::Probe { temp, source })
}

/// True when the two paths name the same file, through symlinks, `..` and relative paths; for a
/// path that does not exist yet, its directory is resolved and its name compared.
pub fn same_file(a: &Path, b: &Path) -> bool {
    fn resolve(path: &Path) -> Option<PathBuf> {
        if let Ok(p) = std::fs::canonicalize(path) {
            return Some(p);
        }
        let dir = std::fs::canonicalize(directory_of(path)).ok()?;
        Some(dir.join(path.file_name()?))
    }
    match (resolve(a), resolve(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// Why standard output cannot take a report, checked before writing to it. On Unix, a process
/// started with standard output closed (`>&-`) gets `/dev/null` opened read-write in its place
/// by the Rust runtime, so writes "succeed" and the report is lost: that case is refused. An
/// explicit `>/dev/null` (opened write-only) is respected.
pub fn stdout_problem() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let fd = io::stdout().as_raw_fd();
        // SAFETY: fcntl(F_GETFL) reads the flags of a descriptor and touches no memory.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags == -1 {
            return Some("standard output is closed".into());
        }
        let stdout = io::stdout();
        let stdout = std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned().ok()?;
        let meta = File::from(stdout).metadata().ok()?;
        let null = std::fs::metadata("/dev/null").ok()?;
        if meta.file_type().is_char_device() && meta.rdev() == null.rdev() && flags & libc::O_ACCMODE == libc::O_RDWR {
            return Some("standard output is closed (the process started without one)".into());
        }
    }
    None
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    #[test]
    fn limits_are_enforced_on_bytes_read_not_on_claimed_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        assert_eq!(read_limited(&path, 100, "thing").unwrap().len(), 100);
        let e = chain(&read_limited(&path, 99, "saved scan").unwrap_err());
        assert_eq!(
            e,
            format!(
                "saved scan {}: larger than 99 bytes, the limit for a saved scan; is it the right file?",
                path.display()
            )
        );
        #[cfg(unix)]
        {
            let e = chain(&read_limited(Path::new("/dev/zero"), MIB, "rules file").unwrap_err());
            assert!(e.contains("larger than 1 MiB"), "{e}");
        }
        let e = chain(&read_limited(&dir.path().join("missing"), 10, "rules file").unwrap_err());
        assert!(e.starts_with("rules file ") && e.contains(": cannot read it: "), "{e}");
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn text_drops_a_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "\u{feff}abc").unwrap();
        assert_eq!(read_text_limited(&path, 10, "x").unwrap(), "abc");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_replace_symlinks_and_narrow_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let target = dir.path().join("out");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let mut out = Output::create(&target).unwrap();
        out.write_all(b"report").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "report");

        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut out = Output::create(&target).unwrap();
        out.write_all(b"again").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);

        // Not committed: the temporary file goes, the target stays as it was.
        let mut out = Output::create(&target).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "again");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");

        // A device is written in place, never replaced.
        let out = Output::create(Path::new("/dev/null")).unwrap();
        assert!(matches!(out, Output::Stream(_)));
        out.commit().unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }

    #[test]
    fn writability_is_checked_with_a_probe() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(&dir.path().join("report.json")).is_ok());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe is removed");
        let e = chain(&check_writable(&dir.path().join("missing/report.json")).unwrap_err());
        assert!(e.contains("does not exist"), "{e}");
        std::fs::write(dir.path().join("file"), "").unwrap();
        let e = chain(&check_writable(&dir.path().join("file/report.json")).unwrap_err());
        assert!(e.contains("not a directory"), "{e}");
        assert!(check_writable(dir.path()).unwrap_err().to_string().contains("is a directory"));
    }

    #[test]
    fn same_file_sees_through_relative_paths_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(same_file(&a, &dir.path().join("sub/../a.json")));
        assert!(!same_file(&a, &dir.path().join("b.json")));
        #[cfg(unix)]
        {
            std::fs::write(&a, "").unwrap();
            std::os::unix::fs::symlink(&a, dir.path().join("link")).unwrap();
            assert!(same_file(&a, &dir.path().join("link")));
        }
    }
}
