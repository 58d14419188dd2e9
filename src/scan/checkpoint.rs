//! `--checkpoint FILE`: the owners a scan has finished, written as it goes (JSON Lines), so a
//! scan stopped by a crash or Ctrl-C continues where it stopped. The first line names the
//! organization; each further line is one finished owner with its tokens. A line cut short by a
//! crash is ignored (that owner is scanned again).

use crate::inventory::Token;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FORMAT: &str = "pat2entra-checkpoint";
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    organization: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Finished {
    owner: String,
    tokens: Vec<Token>,
}

/// An open checkpoint: what earlier runs finished, and the file new owners are appended to.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    file: Mutex<File>,
}

/// Opens (or creates) the checkpoint of `organization`; returns it with the owners it holds.
pub fn open(path: &Path, organization: &str) -> Result<(Checkpoint, HashMap<String, Vec<Token>>), String> {
    let shown = path.display();
    let mut finished = HashMap::new();
    let existing = path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
    if existing {
        let reader = BufReader::new(File::open(path).map_err(|e| format!("cannot read checkpoint {shown}: {e}"))?);
        // Bytes, not text: a line cut inside a multi-byte character must not hide the rest.
        let mut lines = reader.split(b'\n');
        let header: Header = lines
            .next()
            .and_then(|l| l.ok())
            .and_then(|l| serde_json::from_slice(&l).ok())
            .filter(|h: &Header| h.format == FORMAT)
            .ok_or_else(|| format!("{shown} is not a pat2entra checkpoint; choose another --checkpoint file"))?;
        if header.version != VERSION {
            return Err(format!("checkpoint {shown} has version {}; delete it to start over", header.version));
        }
        if !header.organization.eq_ignore_ascii_case(organization) {
            return Err(format!(
                "checkpoint {shown} belongs to organization '{}', not '{organization}'; delete it or choose another file",
                header.organization
            ));
        }
        for line in lines {
            let Ok(line) = line else { break };
            // A line cut short by a crash: that owner is simply scanned again.
            if let Ok(done) = serde_json::from_slice::<Finished>(&line) {
                finished.insert(done.owner, done.tokens);
            }
        }
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // Readable by its owner only: it lists every token of the organization.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot write checkpoint {shown}: {e}"))?;
    if !existing {
        let header = Header { format: FORMAT.into(), version: VERSION, organization: organization.into() };
        writeln!(file, "{}", serde_json::to_string(&header).expect("headers serialize"))
            .map_err(|e| format!("cannot write checkpoint {shown}: {e}"))?;
    } else {
        // Make sure a line cut short by a crash does not swallow the next one.
        writeln!(file).map_err(|e| format!("cannot write checkpoint {shown}: {e}"))?;
    }
    Ok((Checkpoint { path: path.to_path_buf(), file: Mutex::new(file) }, finished))
}

impl Checkpoint {
    /// Records a finished owner (one line, flushed, so a crash loses at most that line).
    pub fn record(&self, owner: &str, tokens: &[Token]) -> Result<(), String> {
        let line = serde_json::to_string(&Finished { owner: owner.to_string(), tokens: tokens.to_vec() })
            .expect("tokens serialize");
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(file, "{line}")
            .and_then(|_| file.flush())
            .map_err(|e| format!("cannot write checkpoint {}: {e}", self.path.display()))
    }
}

/// The scan completed and its result is written: the checkpoint is no longer needed.
pub fn remove(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove checkpoint {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str) -> Token {
        Token {
            authorization_id: id.into(),
            owner: "aad.a".into(),
            display_name: "t".into(),
            scopes: vec!["vso.code".into()],
            all_organizations: false,
            target_accounts: vec![],
            valid_from: None,
            valid_to: None,
            is_valid: true,
            unreadable: None,
        }
    }

    #[test]
    fn records_survive_a_crash_mid_line_and_refuse_another_organization() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.checkpoint");
        let (cp, done) = open(&path, "fabrikam").unwrap();
        assert!(done.is_empty());
        cp.record("aad.a", &[token("1"), token("2")]).unwrap();
        cp.record("aad.b", &[]).unwrap();
        drop(cp);
        // A crash while writing the next line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        write!(f, "{{\"owner\":\"aad.c\",\"tok").unwrap();
        drop(f);
        let (cp, done) = open(&path, "Fabrikam").unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done["aad.a"].len(), 2);
        cp.record("aad.c", &[token("3")]).unwrap();
        drop(cp);
        let (cp, done) = open(&path, "fabrikam").unwrap();
        assert_eq!(done.len(), 3, "the owner after the cut line is read");
        assert!(open(&path, "contoso").unwrap_err().contains("belongs to organization 'fabrikam'"));
        drop(cp);
        // A line cut inside a multi-byte character hides nothing after it.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"owner\":\"aad.\xc3").unwrap();
        drop(f);
        let (cp, _) = open(&path, "fabrikam").unwrap();
        cp.record("aad.d", &[]).unwrap();
        drop(cp);
        let (_, done) = open(&path, "fabrikam").unwrap();
        assert!(done.contains_key("aad.d"), "{:?}", done.keys());
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
        std::fs::write(&path, "hello\n").unwrap();
        assert!(open(&path, "fabrikam").unwrap_err().contains("not a pat2entra checkpoint"));
    }
}
