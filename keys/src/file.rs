//! The master key file: base64 on one line, created owner-only on first use.

use std::io::Write;
use std::path::Path;

use super::{KeyError, MasterKey};

/// Reads the master key in `file`.
pub fn read_file(file: &Path) -> Result<MasterKey, KeyError> {
    let text = std::fs::read_to_string(file).map_err(|source| file_error(file, source))?;
    MasterKey::from_base64(&text)
}

/// Reads the master key in `file`, or creates the file (mode 0600) with a new
/// key; `true` with the key when it was created, so the caller can say to back it up.
pub fn read_or_create_file(file: &Path) -> Result<(MasterKey, bool), KeyError> {
    if file.exists() {
        return Ok((read_file(file)?, false));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|source| file_error(dir, source))?;
    }
    let key = MasterKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(mut out) => {
            writeln!(out, "{}", key.to_base64())
                .and_then(|()| out.sync_all())
                .map_err(|source| file_error(file, source))?;
            Ok((key, true))
        }
        // Another process created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((read_file(file)?, false)),
        Err(source) => Err(file_error(file, source)),
    }
}

fn file_error(path: &Path, source: std::io::Error) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_created_once_and_read_back() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("keys/master.key");
        let (key, created) = read_or_create_file(&file)?;
        assert!(created);
        let (again, created) = read_or_create_file(&file)?;
        assert!(!created);
        assert_eq!(again.to_base64(), key.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file)?.permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(matches!(
            read_file(&dir.path().join("absent")),
            Err(KeyError::File { .. })
        ));
        Ok(())
    }
}
