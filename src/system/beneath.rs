//! File operations inside trees the `mattermost` service user can write, relative to directory
//! descriptors and never following a symlink (issue 10, holes 1–3). Every path is resolved
//! beneath an anchor directory that root owns (`/opt`) with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, or one `O_NOFOLLOW` component at a time where
//! the kernel lacks `openat2` (before Linux 5.6). A symlink where a file or directory is
//! expected is refused, naming the path; renames, removals and ownership changes act on the
//! directory entries themselves (`renameat`, `unlinkat`, `fchownat(AT_SYMLINK_NOFOLLOW)`).

use super::files;
use crate::layout::{ANCHOR, PRIVATE_DIR};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;

/// What went wrong with a file inside a service-user tree.
#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    #[error("{} is a symlink; mm-install never follows links inside /opt/mattermost", path.display())]
    Symlink { path: PathBuf },
    #[error("{} is not a regular file", path.display())]
    NotRegular { path: PathBuf },
    #[error("{} is not below {ANCHOR}", path.display())]
    Outside { path: PathBuf },
    #[error(
        "{} must be a directory owned by root and writable only by its owner (found {found})",
        path.display()
    )]
    UnsafePrivateDir { path: PathBuf, found: String },
    /// A file of root's own (a backup), through `fs-err`, whose message names it.
    #[error(transparent)]
    RootFile(#[from] std::io::Error),
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The text of the regular file `system_path` below the context's `/opt` (config.json), read
/// without following any symlink.
pub fn read_to_string(
    ctx: &crate::context::Context,
    system_path: &Path,
) -> Result<String, BeneathError> {
    let mut text = String::new();
    Anchor::opt(ctx)?
        .open_file(Anchor::relative(system_path)?)?
        .read_to_string(&mut text)
        .map_err(|source| BeneathError::Io {
            what: "read",
            path: ctx.path(system_path),
            source,
        })?;
    Ok(text)
}

/// `ELOOP` (a symlink met with `O_NOFOLLOW` or `RESOLVE_NO_SYMLINKS`) becomes
/// [`BeneathError::Symlink`]; anything else names `what` failed on `path`.
fn fail(what: &'static str, path: &Path) -> impl FnOnce(Errno) -> BeneathError {
    let path = path.to_path_buf();
    move |errno| match errno {
        Errno::LOOP => BeneathError::Symlink { path },
        errno => BeneathError::Io {
            what,
            path,
            source: errno.into(),
        },
    }
}

/// A root-owned directory, opened once, that relative paths are resolved beneath.
pub struct Anchor {
    fd: OwnedFd,
    /// Its path on this machine (below the context's root), for messages.
    path: PathBuf,
}

impl Anchor {
    /// Open `path`, a directory root owns (its components are trusted).
    pub fn open(path: &Path) -> Result<Anchor, BeneathError> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail("open the directory", path))?;
        Ok(Anchor {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The context's `/opt`.
    pub fn opt(ctx: &crate::context::Context) -> Result<Anchor, BeneathError> {
        Anchor::open(&ctx.path(ANCHOR))
    }

    /// `system_path` (e.g. `/opt/mattermost/config`) relative to `/opt`.
    pub fn relative(system_path: &Path) -> Result<&Path, BeneathError> {
        system_path
            .strip_prefix(ANCHOR)
            .map_err(|_| BeneathError::Outside {
                path: system_path.to_path_buf(),
            })
    }

    fn shown(&self, relative: &Path) -> PathBuf {
        self.path.join(relative)
    }

    /// Open `relative` beneath the anchor without following any symlink; `flags` adds to
    /// `O_CLOEXEC | O_NOFOLLOW`.
    fn open_beneath(&self, relative: &Path, flags: OFlags) -> Result<OwnedFd, BeneathError> {
        let shown = self.shown(relative);
        let flags = flags | OFlags::CLOEXEC;
        let path = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        // No O_NOFOLLOW here: with O_DIRECTORY it reports a final symlink as ENOTDIR, where
        // RESOLVE_NO_SYMLINKS says ELOOP.
        match rustix::fs::openat2(
            &self.fd,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::NOSYS) => {
                self.open_by_components(relative, flags | OFlags::NOFOLLOW, &shown)
            }
            other => other.map_err(fail("open", &shown)),
        }
    }

    /// The `O_NOFOLLOW` walk for kernels without `openat2`.
    fn open_by_components(
        &self,
        relative: &Path,
        flags: OFlags,
        shown: &Path,
    ) -> Result<OwnedFd, BeneathError> {
        let directory = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mut names = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => names.push(name),
                Component::CurDir => {}
                _ => {
                    return Err(BeneathError::Outside {
                        path: shown.to_path_buf(),
                    });
                }
            }
        }
        let mut current =
            rustix::io::dup(&self.fd).map_err(fail("open the directory", &self.path))?;
        for (index, name) in names.iter().enumerate() {
            let last = index + 1 == names.len();
            current = open_nofollow(
                current.as_fd(),
                name,
                if last { flags } else { directory },
                shown,
            )?;
        }
        if names.is_empty() {
            current = rustix::fs::openat(&current, ".", flags, Mode::empty())
                .map_err(fail("open", shown))?;
        }
        Ok(current)
    }

    /// Open the directory `relative` (the anchor itself when empty).
    pub fn open_dir(&self, relative: &Path) -> Result<OwnedFd, BeneathError> {
        self.open_beneath(relative, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// Open the directory holding `relative` and return it with the last component's name.
    fn parent(&self, relative: &Path) -> Result<(OwnedFd, OsString), BeneathError> {
        let name = relative
            .file_name()
            .ok_or_else(|| BeneathError::Outside {
                path: self.shown(relative),
            })?
            .to_os_string();
        let parent = relative.parent().unwrap_or(Path::new(""));
        Ok((self.open_dir(parent)?, name))
    }

    /// Open the regular file `relative` for reading; anything else (a symlink, a FIFO, a
    /// directory) is refused.
    pub fn open_file(&self, relative: &Path) -> Result<std::fs::File, BeneathError> {
        let shown = self.shown(relative);
        let fd = self.open_beneath(relative, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let stat = rustix::fs::fstat(&fd).map_err(fail("inspect", &shown))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(BeneathError::NotRegular { path: shown });
        }
        Ok(std::fs::File::from(fd))
    }

    /// Whether `relative` exists (a symlink counts; it is not followed). An entry reachable
    /// only through a symlinked directory does not: nothing was ever moved there, so an undo has
    /// nothing to take back, and an operation on it is refused where it opens the directory.
    pub fn exists(&self, relative: &Path) -> Result<bool, BeneathError> {
        let (parent, name) = match self.parent(relative) {
            Err(BeneathError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(false);
            }
            Err(BeneathError::Symlink { .. }) => return Ok(false),
            other => other?,
        };
        match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(errno) => Err(fail("inspect", &self.shown(relative))(errno)),
        }
    }

    /// Copy the regular file `relative` to `destination` (a path root owns, created or
    /// replaced with the source's permission bits).
    pub fn copy_out(&self, relative: &Path, destination: &Path) -> Result<(), BeneathError> {
        let mut source = self.open_file(relative)?;
        let mode = rustix::fs::fstat(&source)
            .map_err(fail("inspect", &self.shown(relative)))?
            .st_mode
            & 0o7777;
        let mut out = fs_err::File::create(destination)?;
        rustix::fs::fchmod(out.file(), Mode::from_raw_mode(mode & 0o777))
            .map_err(fail("change the mode of", destination))?;
        std::io::copy(&mut source, &mut out)?;
        Ok(out.sync_all()?)
    }

    /// Put the contents of `backup` (a file root owns) at `relative`: a temporary file in the
    /// same directory is written, synced, given the owner of the file it replaces (or of the
    /// directory, if there was no regular file) and the backup's permission bits by
    /// descriptor, then renamed over the entry, which replaces a symlink rather than following it.
    pub fn restore(&self, relative: &Path, backup: &Path) -> Result<(), BeneathError> {
        let shown = self.shown(relative);
        let mut contents = Vec::new();
        let mut from = fs_err::File::open(backup)?;
        from.read_to_end(&mut contents)?;
        let mode = from.metadata()?.permissions();
        let mode = std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777;
        let (dir, name) = self.parent(relative)?;
        let owner = match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => stat,
            _ => rustix::fs::fstat(&dir).map_err(fail("inspect", &shown))?,
        };
        let mut temporary = OsString::from(".");
        temporary.push(&name);
        temporary.push(".mm-install-tmp");
        match rustix::fs::unlinkat(&dir, &temporary, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(errno) => return Err(fail("remove", &shown.with_file_name(&temporary))(errno)),
        }
        let fd = rustix::fs::openat(
            &dir,
            &temporary,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(fail("create", &shown.with_file_name(&temporary)))?;
        let mut file = std::fs::File::from(fd);
        let wrote = |source| BeneathError::Io {
            what: "write",
            path: shown.clone(),
            source,
        };
        file.write_all(&contents).map_err(wrote)?;
        file.sync_all().map_err(wrote)?;
        rustix::fs::fchown(
            &file,
            Some(Uid::from_raw(owner.st_uid)),
            Some(Gid::from_raw(owner.st_gid)),
        )
        .map_err(fail("change the owner of", &shown))?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))
            .map_err(fail("change the mode of", &shown))?;
        rustix::fs::renameat(&dir, &temporary, &dir, &name).map_err(fail("replace", &shown))?;
        rustix::fs::fsync(&dir).map_err(fail("sync", &shown))
    }

    /// Create the directory `relative` and its missing parents (mode 0755, owned by the caller),
    /// and open it; existing components must be real directories.
    pub fn create_dirs(&self, relative: &Path) -> Result<OwnedFd, BeneathError> {
        let mut done = PathBuf::new();
        for component in relative.components() {
            done.push(component);
            match rustix::fs::mkdirat(&self.fd, &done, Mode::from_raw_mode(0o755)) {
                // mkdirat never follows a symlink in the last component (EEXIST); the open
                // below refuses one.
                Ok(()) | Err(Errno::EXIST) => {}
                Err(errno) => return Err(fail("create the directory", &self.shown(&done))(errno)),
            }
            // Check the component before the next mkdirat resolves through it.
            self.open_dir(&done)?;
        }
        self.open_dir(relative)
    }

    /// Move `from` to `to` (both beneath the anchor), creating `to`'s missing parents; an
    /// existing `to` is replaced only if the kernel allows it (an empty directory, a file).
    pub fn rename(&self, from: &Path, to: &Path) -> Result<(), BeneathError> {
        let (from_dir, from_name) = self.parent(from)?;
        let to_dir = self.create_dirs(to.parent().unwrap_or(Path::new("")))?;
        let to_name = to.file_name().ok_or_else(|| BeneathError::Outside {
            path: self.shown(to),
        })?;
        rustix::fs::renameat(&from_dir, &from_name, &to_dir, to_name)
            .map_err(fail("move", &self.shown(from)))
    }

    /// Remove `relative` (a file, symlink or directory tree) if it exists, without following
    /// any symlink in it.
    pub fn remove(&self, relative: &Path) -> Result<(), BeneathError> {
        if !self.exists(relative)? {
            return Ok(());
        }
        let (dir, name) = self.parent(relative)?;
        remove_entry(dir.as_fd(), &name, &self.shown(relative))
    }
}

/// Remove the entry `name` of `dir`: a directory's contents first (through a descriptor opened
/// with `O_NOFOLLOW`), anything else (a symlink included) by `unlinkat`.
fn remove_entry(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> Result<(), BeneathError> {
    match open_subdir(dir, name, shown)? {
        Some(child) => {
            for entry_name in entry_names(&child, shown)? {
                remove_entry(child.as_fd(), &entry_name, &shown.join(&entry_name))?;
            }
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(fail("remove", shown))
        }
        None => rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(fail("remove", shown)),
    }
}

/// `openat(dir, name, flags)` where `flags` include `O_NOFOLLOW`; a symlink is refused as
/// [`BeneathError::Symlink`] (with `O_DIRECTORY` the kernel reports it as `ENOTDIR`).
fn open_nofollow(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlags,
    shown: &Path,
) -> Result<OwnedFd, BeneathError> {
    rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|errno| {
        let symlink = errno == Errno::NOTDIR
            && rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink);
        fail("open", shown)(if symlink { Errno::LOOP } else { errno })
    })
}

/// Open the subdirectory `name` of `dir`, or `None` if it is not a directory (a symlink to one
/// is not).
fn open_subdir(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
) -> Result<Option<OwnedFd>, BeneathError> {
    match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::LOOP | Errno::NOTDIR) => Ok(None),
        Err(errno) => Err(fail("open", shown)(errno)),
    }
}

/// The names in the directory `dir` (without `.` and `..`).
fn entry_names(dir: &OwnedFd, shown: &Path) -> Result<Vec<OsString>, BeneathError> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(fail("list", shown))? {
        let entry = entry.map_err(fail("list", shown))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

/// `chown -hR uid:gid path` by descriptor, bottom-up: each directory is opened with
/// `O_NOFOLLOW` and walked through its descriptor, its entries are changed with
/// `fchownat(AT_SYMLINK_NOFOLLOW)` (a symlink itself, never its target), and the directory
/// last, by its descriptor. A directory swapped for a symlink during the walk is either
/// already open (the real directory is changed) or changed as the symlink it now is.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), BeneathError> {
    let parent = Anchor::open(path.parent().unwrap_or(Path::new("/")))?;
    let root = open_nofollow(
        parent.fd.as_fd(),
        path.file_name().unwrap_or(OsStr::new(".")),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        path,
    )?;
    chown_dir(&root, path, Uid::from_raw(uid), Gid::from_raw(gid))
}

/// The walk of [`chown_tree`] below an open directory, then the directory itself.
fn chown_dir(dir: &OwnedFd, shown: &Path, uid: Uid, gid: Gid) -> Result<(), BeneathError> {
    for name in entry_names(dir, shown)? {
        let entry = shown.join(&name);
        match open_subdir(dir.as_fd(), &name, &entry)? {
            Some(child) => chown_dir(&child, &entry, uid, gid)?,
            None => {
                rustix::fs::chownat(dir, &name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(fail("change the owner of", &entry))?
            }
        }
    }
    rustix::fs::fchown(dir, Some(uid), Some(gid)).map_err(fail("change the owner of", shown))
}

/// Create root's private directory in `opt` (the context's `/opt`; [`PRIVATE_DIR`] on the
/// system) 0700 if it is missing, and refuse one that is a symlink, not ours, or group- or
/// world-writable.
pub fn private_dir(opt: &Path) -> Result<PathBuf, BeneathError> {
    let name = Path::new(PRIVATE_DIR)
        .file_name()
        .unwrap_or(OsStr::new(".mm-install"));
    let path = opt.join(name);
    let anchor = Anchor::open(opt)?;
    match rustix::fs::mkdirat(&anchor.fd, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => return Err(fail("create the directory", &path)(errno)),
    }
    let unsafe_dir = |found: String| BeneathError::UnsafePrivateDir {
        path: path.clone(),
        found,
    };
    // Opened without following a symlink, and checked through that descriptor by the one
    // ownership and mode check (`system::files::exposure`).
    let Some(dir) = open_subdir(anchor.fd.as_fd(), name, &path)? else {
        return Err(unsafe_dir(
            "something other than a directory, such as a symlink".into(),
        ));
    };
    let meta = std::fs::File::from(dir)
        .metadata()
        .map_err(|source| BeneathError::Io {
            what: "inspect",
            path: path.clone(),
            source,
        })?;
    if files::exposure(&meta, 0o022).is_some() {
        use std::os::unix::fs::MetadataExt;
        return Err(unsafe_dir(format!(
            "a directory owned by uid {} with mode {:o}",
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    /// A temporary `/opt` with `mattermost/config/config.json` and a file outside it.
    fn tree() -> (tempfile::TempDir, Anchor, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("opt/mattermost/config")).unwrap();
        fs_err::write(dir.path().join("opt/mattermost/config/config.json"), "live").unwrap();
        let outside = dir.path().join("etc/shadow");
        fs_err::create_dir_all(outside.parent().unwrap()).unwrap();
        fs_err::write(&outside, "secret").unwrap();
        let anchor = Anchor::open(&dir.path().join("opt")).unwrap();
        (dir, anchor, outside)
    }

    fn is_symlink_refusal(err: BeneathError) -> bool {
        matches!(&err, BeneathError::Symlink { .. })
            && err
                .to_string()
                .contains("is a symlink; mm-install never follows links")
    }

    #[test]
    fn a_symlink_as_the_last_or_a_middle_component_is_refused() {
        let (dir, anchor, outside) = tree();
        let config = dir.path().join("opt/mattermost/config/config.json");
        fs_err::remove_file(&config).unwrap();
        symlink(&outside, &config).unwrap();
        let copy = dir.path().join("copy");
        let err = anchor
            .copy_out(Path::new("mattermost/config/config.json"), &copy)
            .unwrap_err();
        assert!(
            err.to_string().contains("config/config.json is a symlink"),
            "{err}"
        );
        assert!(is_symlink_refusal(err));
        assert!(!copy.exists());
        // A middle component: config/ is a link to /etc.
        fs_err::remove_dir_all(dir.path().join("opt/mattermost/config")).unwrap();
        symlink(
            outside.parent().unwrap(),
            dir.path().join("opt/mattermost/config"),
        )
        .unwrap();
        let err = anchor
            .open_file(Path::new("mattermost/config/shadow"))
            .unwrap_err();
        assert!(is_symlink_refusal(err));
        let err = anchor
            .rename(Path::new("mattermost/config/shadow"), Path::new("stolen"))
            .unwrap_err();
        assert!(is_symlink_refusal(err));
        fs_err::write(&copy, "backup").unwrap();
        let err = anchor
            .restore(Path::new("mattermost/config/shadow"), &copy)
            .unwrap_err();
        assert!(is_symlink_refusal(err));
        let err = anchor
            .create_dirs(Path::new("mattermost/config/sub"))
            .unwrap_err();
        assert!(is_symlink_refusal(err));
        assert!(!outside.parent().unwrap().join("sub").exists());
        assert_eq!(fs_err::read_to_string(&outside).unwrap(), "secret");
        // The fallback walk refuses the same way.
        let err = anchor
            .open_by_components(
                Path::new("mattermost/config/shadow"),
                OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Path::new("x"),
            )
            .unwrap_err();
        assert!(is_symlink_refusal(err));
    }

    #[test]
    fn a_fifo_or_a_directory_is_not_a_file() {
        let (dir, anchor, _) = tree();
        let fifo = dir.path().join("opt/mattermost/config/fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for path in ["mattermost/config/fifo", "mattermost/config"] {
            let err = anchor.open_file(Path::new(path)).unwrap_err();
            assert!(matches!(err, BeneathError::NotRegular { .. }), "{err}");
        }
    }

    #[test]
    fn restore_replaces_a_symlink_through_rename_and_fixes_owner_and_mode() {
        let (dir, anchor, outside) = tree();
        let config_dir = dir.path().join("opt/mattermost/config");
        rustix::fs::chown(
            &config_dir,
            Some(Uid::from_raw(4242)),
            Some(Gid::from_raw(4243)),
        )
        .unwrap();
        let backup = dir.path().join("config.json.backup");
        fs_err::write(&backup, "backed up").unwrap();
        fs_err::set_permissions(&backup, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = config_dir.join("config.json");
        // A regular file: its owner is kept, its inode replaced.
        rustix::fs::chown(
            &config,
            Some(Uid::from_raw(4242)),
            Some(Gid::from_raw(4243)),
        )
        .unwrap();
        let before = fs_err::metadata(&config).unwrap().ino();
        anchor
            .restore(Path::new("mattermost/config/config.json"), &backup)
            .unwrap();
        let meta = fs_err::symlink_metadata(&config).unwrap();
        assert_ne!(
            meta.ino(),
            before,
            "replaced by rename, not written in place"
        );
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (4242, 4243, 0o600)
        );
        assert_eq!(fs_err::read_to_string(&config).unwrap(), "backed up");
        // A symlink to a file outside: the link is replaced, its target untouched; the owner
        // comes from the directory.
        fs_err::remove_file(&config).unwrap();
        symlink(&outside, &config).unwrap();
        anchor
            .restore(Path::new("mattermost/config/config.json"), &backup)
            .unwrap();
        let meta = fs_err::symlink_metadata(&config).unwrap();
        assert!(meta.is_file());
        assert_eq!((meta.uid(), meta.gid()), (4242, 4243));
        assert_eq!(fs_err::read_to_string(&config).unwrap(), "backed up");
        assert_eq!(fs_err::read_to_string(&outside).unwrap(), "secret");
        assert_eq!(
            fs_err::read_dir(&config_dir).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn renames_create_parents_and_removals_never_follow_links() {
        let (dir, anchor, outside) = tree();
        fs_err::create_dir_all(dir.path().join("opt/mattermost/client/plugins/p")).unwrap();
        symlink(
            outside.parent().unwrap(),
            dir.path().join("opt/mattermost/client/plugins/etc"),
        )
        .unwrap();
        anchor
            .rename(
                Path::new("mattermost/client/plugins"),
                Path::new("new/mattermost/client/plugins"),
            )
            .unwrap();
        assert!(
            anchor
                .exists(Path::new("new/mattermost/client/plugins/p"))
                .unwrap()
        );
        assert!(
            !anchor
                .exists(Path::new("mattermost/client/plugins"))
                .unwrap()
        );
        assert!(!anchor.exists(Path::new("missing/x")).unwrap());
        anchor.remove(Path::new("new")).unwrap();
        anchor.remove(Path::new("new")).unwrap();
        assert!(!dir.path().join("opt/new").exists());
        assert_eq!(fs_err::read_to_string(&outside).unwrap(), "secret");
        // Behind a symlinked directory nothing exists and nothing is removed; a move is refused.
        symlink(
            outside.parent().unwrap(),
            dir.path().join("opt/mattermost/logs"),
        )
        .unwrap();
        assert!(!anchor.exists(Path::new("mattermost/logs/shadow")).unwrap());
        anchor.remove(Path::new("mattermost/logs/shadow")).unwrap();
        assert!(is_symlink_refusal(
            anchor
                .rename(Path::new("mattermost/logs/shadow"), Path::new("x"))
                .unwrap_err()
        ));
        anchor.remove(Path::new("mattermost/logs")).unwrap();
        assert!(outside.exists());
    }

    #[test]
    fn chown_walks_by_descriptor_and_never_touches_a_link_target() {
        let (dir, _, outside) = tree();
        let root = dir.path().join("opt/mattermost");
        fs_err::create_dir_all(root.join("a/b")).unwrap();
        fs_err::write(root.join("a/b/file"), "x").unwrap();
        symlink(&outside, root.join("a/link")).unwrap();
        chown_tree(&root, 4242, 4243).unwrap();
        for path in ["", "a", "a/b", "a/b/file", "config/config.json", "a/link"] {
            let meta = fs_err::symlink_metadata(root.join(path)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4242, 4243), "{path}");
        }
        assert_eq!(fs_err::metadata(&outside).unwrap().uid(), 0);
        // A directory swapped for a symlink after the walk opened it: the walk goes on in the
        // real directory (through its descriptor), and the symlink's target is not changed.
        let a = rustix::fs::open(
            root.join("a"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        fs_err::rename(root.join("a"), root.join("moved")).unwrap();
        symlink(outside.parent().unwrap(), root.join("a")).unwrap();
        chown_dir(
            &a,
            &root.join("a"),
            Uid::from_raw(5151),
            Gid::from_raw(5152),
        )
        .unwrap();
        chown_tree(&root, 5151, 5152).unwrap();
        assert_eq!(
            fs_err::metadata(root.join("moved/b/file")).unwrap().uid(),
            5151
        );
        assert_eq!(
            fs_err::symlink_metadata(root.join("a")).unwrap().uid(),
            5151
        );
        for system in [outside.clone(), outside.parent().unwrap().to_path_buf()] {
            assert_eq!(
                fs_err::metadata(&system).unwrap().uid(),
                0,
                "{}",
                system.display()
            );
        }
        // The tree's own root may not be a symlink.
        assert!(is_symlink_refusal(
            chown_tree(&root.join("a"), 1, 1).unwrap_err()
        ));
    }

    #[test]
    fn the_private_directory_is_created_0700_and_refused_when_unsafe() {
        let dir = tempfile::tempdir().unwrap();
        let private = private_dir(dir.path()).unwrap();
        let meta = fs_err::symlink_metadata(&private).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        assert_eq!(private_dir(dir.path()).unwrap(), private);
        fs_err::set_permissions(&private, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("must be a directory owned by root"),
            "{err}"
        );
        fs_err::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        rustix::fs::chown(&private, Some(Uid::from_raw(4242)), None).unwrap();
        let err = private_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("owned by uid 4242 with mode 700"), "{err}");
        fs_err::remove_dir(&private).unwrap();
        symlink(dir.path(), &private).unwrap();
        let err = private_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("such as a symlink"), "{err}");
        fs_err::remove_file(&private).unwrap();
        fs_err::write(&private, "").unwrap();
        assert!(private_dir(dir.path()).is_err());
    }
}
