//! Reading the files an operator names (settings, scores, manifests, keys) with a size cap, so a
//! wrong path (`/dev/zero`, a multi-gigabyte log) is a clear error instead of a process that
//! grows until the kernel kills it.

use std::io::Read;
use std::path::Path;

/// Cap for settings files, key files and small state files.
pub const SMALL_FILE_BYTES: u64 = 1 << 20;
/// Cap for data files the CLI reads (a weights scores file, a store manifest).
pub const DATA_FILE_BYTES: u64 = 256 << 20;

/// Read at most `limit` bytes of `path`; a longer file (or an endless one) is an
/// `InvalidData` error naming the file and the limit.
pub fn read_capped(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {limit} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, limit)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not UTF-8: {e}", path.display()),
        )
    })
}

/// A secret given as a file (`--…-file`) or in the environment variable `env_var` — never as a
/// command-line argument, where `ps` and shell history show it. Surrounding whitespace is
/// trimmed; an empty value is no secret. The file wins over the variable.
pub fn secret(file: Option<&Path>, env_var: &str) -> std::io::Result<Option<String>> {
    let value = match file {
        Some(path) => read_text_capped(path, SMALL_FILE_BYTES)?,
        None => std::env::var(env_var).unwrap_or_default(),
    };
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_at_the_cap() {
        let e = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            e.to_string()
                .contains("/dev/zero is larger than 4096 bytes"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, b"{}").unwrap();
        assert_eq!(read_text_capped(&p, 2).unwrap(), "{}");
        assert!(read_text_capped(&p, 1).is_err());
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read_text_capped(&p, 10)
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        assert!(read_capped(&dir.path().join("missing"), 10).is_err());
    }

    #[test]
    fn a_secret_comes_from_its_file_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "  abc\n").unwrap();
        let unset = "GAIA_TEST_SECRET_THAT_IS_NEVER_SET";
        assert_eq!(secret(Some(&p), unset).unwrap().as_deref(), Some("abc"));
        std::fs::write(&p, "\n").unwrap();
        assert_eq!(secret(Some(&p), unset).unwrap(), None);
        assert_eq!(secret(None, unset).unwrap(), None);
        assert!(secret(Some(&dir.path().join("missing")), unset).is_err());
    }
}
