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
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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
/// path separator or NUL — except a tile path (`tile/...`, every component checked by
/// [`naming::is_tile_path`]), whose directories are walked without following a symlink. The
/// core never asks for anything else; this is the executor's own guard.
pub fn check_name(name: &str) -> io::Result<()> {
    if naming::is_tile_path(name) {
        return Ok(());
    }
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

/// The directory a name lives in: the trail directory, or one below it (a tile path's).
enum Dirs {
    Top,
    Sub(OwnedFd),
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

    /// The directory holding `name` and its last component: the trail directory itself for a
    /// flat name; for a tile path, the directories below it opened one component at a time with
    /// `O_NOFOLLOW | O_DIRECTORY` (a symlink or a file in the way is refused), created first
    /// when `create` (`None` when one is missing and not created).
    fn parent_of<'n>(&self, name: &'n str, create: bool) -> io::Result<Option<(Dirs, &'n str)>> {
        check_name(name)?;
        let Some((dirs, last)) = name.rsplit_once('/') else {
            return Ok(Some((Dirs::Top, name)));
        };
        let mut cur: Option<OwnedFd> = None;
        for comp in dirs.split('/') {
            let at = cur.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let opened = match rfs::openat(at, comp, flags, Mode::empty()) {
                Err(rustix::io::Errno::NOENT) if create => {
                    match rfs::mkdirat(at, comp, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rfs::openat(at, comp, flags, Mode::empty())
                }
                other => other,
            };
            cur = Some(match opened {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}: `{comp}` is not a directory (refused: a symbolic link or a file \
                             in the way of a tile path is never followed)",
                            self.path.join(name).display()
                        ),
                    ))
                }
                Err(e) => return Err(e.into()),
            });
        }
        Ok(Some((
            Dirs::Sub(cur.expect("a tile path has a directory")),
            last,
        )))
    }

    fn at<'a>(&'a self, d: &'a Dirs) -> BorrowedFd<'a> {
        match d {
            Dirs::Top => self.fd.as_fd(),
            Dirs::Sub(fd) => fd.as_fd(),
        }
    }

    fn missing() -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, "no such file or directory")
    }

    /// Opens an existing regular file, read-only or read-write, never through a symlink and
    /// without blocking on a FIFO.
    pub fn open_file(&self, name: &str, write: bool) -> io::Result<File> {
        let (dir, leaf) = self.parent_of(name, false)?.ok_or_else(Self::missing)?;
        let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
        let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rfs::openat(self.at(&dir), leaf, flags, Mode::empty()) {
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
        let (dir, leaf) = self.parent_of(name, true)?.ok_or_else(Self::missing)?;
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        let fd = rfs::openat(self.at(&dir), leaf, flags, Mode::from_raw_mode(0o644))?;
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
        let Some((dir, leaf)) = self.parent_of(name, false)? else {
            return Ok(None);
        };
        match rfs::statat(self.at(&dir), leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The length of the entry `name`, not following a symlink.
    pub fn len_of(&self, name: &str) -> io::Result<u64> {
        let (dir, leaf) = self.parent_of(name, false)?.ok_or_else(Self::missing)?;
        Ok(rfs::statat(self.at(&dir), leaf, AtFlags::SYMLINK_NOFOLLOW)?.st_size as u64)
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
        let Some((dir, leaf)) = self.parent_of(name, false)? else {
            return Ok(()); // its directory is missing: so is the file
        };
        match rfs::unlinkat(self.at(&dir), leaf, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames `from` to `to` inside the directory (replacing `to`, never following it).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from_dir, from_leaf) = self.parent_of(from, false)?.ok_or_else(Self::missing)?;
        let (to_dir, to_leaf) = self.parent_of(to, true)?.ok_or_else(Self::missing)?;
        rfs::renameat(self.at(&from_dir), from_leaf, self.at(&to_dir), to_leaf)?;
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
    fn tile_paths_are_walked_without_following_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        let d = TrailDir::open(&dir, false).unwrap();
        // Directories are created as needed; a rename lands in a new directory.
        d.create_new("tile/pending.tmp").unwrap();
        d.rename("tile/pending.tmp", "tile/0/x001/234.p/7").unwrap();
        assert!(dir.join("tile/0/x001/234.p/7").is_file());
        assert_eq!(d.len_of("tile/0/x001/234.p/7").unwrap(), 0);
        d.remove("tile/0/x001/234.p/7").unwrap();
        d.remove("tile/9/000").unwrap(); // missing directory: nothing to remove
        assert!(check_name("tile/../x").is_err() && check_name("tile//0").is_err());
        // A symlinked directory in the way (to a directory outside) is refused, and nothing
        // is created through it.
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::remove_dir_all(dir.join("tile/0")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("tile/0")).unwrap();
        let e = d.create_new("tile/0/000").unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        d.create_new("tile/pending.tmp").unwrap();
        assert!(d.rename("tile/pending.tmp", "tile/0/000").is_err());
        assert!(d.open_file("tile/0/000", false).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
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
