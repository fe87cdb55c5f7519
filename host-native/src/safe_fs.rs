//! Files inside a trail directory, opened so that nothing outside it is ever read or written.
//!
//! Whoever can write to a trail directory can plant a symlink, a FIFO, a directory or a device
//! under a name the trail uses. Following such an entry would write outside the trail (a
//! segment created through a symlink truncates the link's target), read another file's bytes
//! as the trail's, or block forever (a FIFO). So every file is opened relative to a handle on
//! the directory (`openat`), never through a symlink (`O_NOFOLLOW`), without blocking
//! (`O_NONBLOCK`), and its type is checked on the open descriptor (`fstat`) before use. A file
//! that must be new is created with `O_EXCL`. A non-regular entry carrying a trail name is an
//! error naming it; the one exception is a stale `*.tmp` symlink, which is listed so that the
//! trail's open removes it (unlinking a symlink never touches its target).

use evident_core::naming;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The name of the writer's lock file (kept here so the symlink rule covers it).
const LOCK_NAME: &str = "LOCK";

/// Whether `name` is one the trail uses: a segment, a checkpoint, a temporary file, the lock.
pub fn is_trail_name(name: &str) -> bool {
    naming::parse_segment_name(name).is_some()
        || name == naming::HEAD_CHECKPOINT
        || name == naming::RETAINED_CHECKPOINT
        || name.ends_with(".tmp")
        || name == LOCK_NAME
}

/// Refuses a name that could reach outside the directory: empty, `.`, `..`, or containing a
/// path separator or NUL. The core never asks for one; this is the executor's own guard.
pub fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` is not a file name inside the trail directory",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

fn describe(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of unknown type",
    }
}

/// The error for a trail name that is not a regular file.
fn not_regular(t: FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "is {} where the trail expects a regular file (refused: a trail directory's files are never followed or read through another type)",
            describe(t)
        ),
    )
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// Whether it is a regular file (false only for a stale `*.tmp` symlink, listed so that it
    /// can be removed).
    pub regular: bool,
}

/// A handle on a trail directory; every file operation is relative to it.
#[derive(Debug)]
pub struct TrailDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl TrailDir {
    /// Opens the directory at `path` (created first when `create`). A path naming something
    /// else than a directory is refused with "not a directory".
    pub fn open(path: &Path, create: bool) -> io::Result<TrailDir> {
        let not_dir = || io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
        match std::fs::metadata(path) {
            Ok(m) if !m.is_dir() => return Err(not_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                std::fs::create_dir_all(path)?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such trail directory",
                ))
            }
            _ => {}
        }
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            if e == rustix::io::Errno::NOTDIR {
                not_dir()
            } else {
                io::Error::from(e)
            }
        })?;
        Ok(TrailDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens an existing regular file, read-only or read-write, never through a symlink and
    /// without blocking on a FIFO.
    pub fn open_file(&self, name: &str, write: bool) -> io::Result<File> {
        check_name(name)?;
        let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
        let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rfs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // ELOOP: the last component is a symlink (O_NOFOLLOW). Name its type precisely.
            Err(rustix::io::Errno::LOOP) => return Err(not_regular(FileType::Symlink)),
            // A directory opened for writing, or a device the kernel refuses: report the type.
            Err(e) => {
                return Err(match self.type_of(name) {
                    Ok(Some(t)) if t != FileType::RegularFile => not_regular(t),
                    _ => io::Error::from(e),
                })
            }
        };
        Self::checked(fd)
    }

    /// Creates `name`, which must not exist (`O_EXCL`: never through a symlink, never over
    /// another file).
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        check_name(name)?;
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        let fd = rfs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o644))?;
        Self::checked(fd)
    }

    /// Creates `name` empty: new (`O_EXCL`), or an existing regular file truncated to zero. An
    /// existing entry of another type (a symlink above all) is refused and left alone.
    pub fn create_or_truncate(&self, name: &str) -> io::Result<File> {
        match self.create_new(name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let f = self.open_file(name, true)?;
                f.set_len(0)?;
                Ok(f)
            }
            other => other,
        }
    }

    fn checked(fd: OwnedFd) -> io::Result<File> {
        let st = rfs::fstat(&fd)?;
        let t = FileType::from_raw_mode(st.st_mode);
        if t != FileType::RegularFile {
            return Err(not_regular(t));
        }
        Ok(File::from(fd))
    }

    /// The type of the entry `name` without following it; `None` when it does not exist.
    pub fn type_of(&self, name: &str) -> io::Result<Option<FileType>> {
        check_name(name)?;
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The length of the entry `name`, not following a symlink.
    pub fn len_of(&self, name: &str) -> io::Result<u64> {
        check_name(name)?;
        Ok(rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?.st_size as u64)
    }

    /// The directory's regular files, plus stale `*.tmp` symlinks (so they can be removed). Any
    /// other non-regular entry with a trail name is an error naming it; entries with other names
    /// are not the trail's and are ignored. No stat per file where the directory entry carries
    /// its type.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in rfs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().to_str() else {
                continue; // not UTF-8: not a name the trail uses
            };
            if name == "." || name == ".." {
                continue;
            }
            let mut t = entry.file_type();
            if t == FileType::Unknown {
                t = self.type_of(name)?.unwrap_or(FileType::Unknown);
            }
            if t == FileType::RegularFile {
                out.push(Entry {
                    name: name.to_string(),
                    regular: true,
                });
            } else if !is_trail_name(name) {
                continue;
            } else if t == FileType::Symlink && name.ends_with(".tmp") {
                out.push(Entry {
                    name: name.to_string(),
                    regular: false,
                });
            } else if t != FileType::Unknown {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {}", self.path.join(name).display(), not_regular(t)),
                ));
            }
        }
        Ok(out)
    }

    /// Removes `name` (a symlink itself, never its target); a missing file is not an error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        match rfs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames `from` to `to` inside the directory (replacing `to`, never following it).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        rfs::renameat(&self.fd, from, &self.fd, to)?;
        Ok(())
    }

    /// Makes the directory's entries durable.
    pub fn sync(&self) -> io::Result<()> {
        rfs::fsync(&self.fd)?;
        Ok(())
    }
}

/// Reads a small file named on a command line (a checkpoint) through a bounded prefix: at most
/// `max` bytes, refused when it holds more (`/dev/zero` or a 3 GB file costs `max` bytes, not
/// their length). Pipes work (`--checkpoint <(evident head T)`).
pub fn read_small(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("longer than {max} bytes: not a checkpoint"),
        ));
    }
    Ok(buf)
}

/// The most a checkpoint file (or a signed note) may hold.
pub const MAX_CHECKPOINT_FILE: usize = 8 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "../x", "a\0b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("00000000000000000001.evseg").unwrap();
    }

    #[test]
    fn symlinks_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let dir = tmp.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("head.checkpoint.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("00000000000000000001.evseg")).unwrap();
        let d = TrailDir::open(&dir, false).unwrap();
        let seg = "00000000000000000001.evseg";
        assert!(d.create_new(seg).is_err());
        let e = d.create_or_truncate(seg).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(d.open_file(seg, false).is_err());
        let e = d.entries().unwrap_err();
        assert!(e.to_string().contains(seg), "{e}");
        d.remove(seg).unwrap();
        let entries = d.entries().unwrap();
        assert_eq!(
            entries,
            [Entry {
                name: "head.checkpoint.tmp".into(),
                regular: false
            }]
        );
        d.remove("head.checkpoint.tmp").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn bounded_small_reads() {
        assert!(read_small(Path::new("/dev/zero"), 4096).is_err());
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("cp");
        std::fs::write(&p, b"small").unwrap();
        assert_eq!(read_small(&p, 4096).unwrap(), b"small");
    }
}
