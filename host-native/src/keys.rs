//! Key files: generating a key from the operating system's randomness, writing it so only its
//! owner can read it, and loading it only from such a file.
//!
//! A key file holds one line, the private key text `PRIVATE+KEY+<name>+<hex id>+<base64>`
//! (see [`evident_core::note::key`]). It is created exclusively (never over an existing
//! file) with mode 0600, synced, and its directory synced. Loading refuses a file that group
//! or others may read or write, and a path that is not a regular file. No error, log line or
//! JSON output ever contains the key's text: errors name the file and what is wrong.

use evident_core::note::{KeyKind, SigningKey};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The largest key file read (a key line is under 200 bytes).
const MAX_KEY_FILE: u64 = 4096;

/// A new key for `name` from 32 bytes of OS randomness.
pub fn generate(name: &str, kind: KeyKind) -> io::Result<SigningKey> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| {
        io::Error::other(format!(
            "cannot read the operating system's randomness: {e}"
        ))
    })?;
    SigningKey::from_seed(name, kind, &seed)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Writes `key` to a new file at `path` with mode 0600; refuses to replace an existing file.
pub fn write_key_file(path: &Path, key: &SigningKey) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} already exists: refusing to overwrite a key file",
                        path.display()
                    ),
                )
            } else {
                io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            }
        })?;
    let text = key.private_text();
    let mut line = zeroize::Zeroizing::new(String::with_capacity(text.expose().len() + 1));
    line.push_str(text.expose());
    line.push('\n');
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))
}

/// Loads a key from `path`: a regular file of at most 4 KiB that neither group nor others
/// can read or write. `want` is the kind the caller needs (a log key signs, a witness key
/// cosigns).
pub fn load_key_file(path: &Path, want: KeyKind) -> io::Result<SigningKey> {
    let at = |e: io::Error| io::Error::new(e.kind(), format!("key file {}: {e}", path.display()));
    let mut f = File::open(path).map_err(at)?;
    let meta = f.metadata().map_err(at)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("key file {} is not a regular file", path.display()),
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "key file {} has mode {mode:04o}: group or others may access it; run `chmod 600 {}`",
                path.display(),
                path.display()
            ),
        ));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key file {} is larger than a key", path.display()),
        ));
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    f.read_to_string(&mut text).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key file {} is not text", path.display()),
        )
    })?;
    let key = SigningKey::parse(text.trim()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key file {}: {e}", path.display()),
        )
    })?;
    if key.kind() != want {
        let (is, needed) = match want {
            KeyKind::Ed25519 => ("a witness (cosignature/v1) key", "a log signing key"),
            KeyKind::CosignatureV1 => ("a log signing key", "a witness (cosignature/v1) key"),
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "key file {} holds {is}; {needed} is needed here",
                path.display()
            ),
        ));
    }
    Ok(key)
}
