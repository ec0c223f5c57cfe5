//! Safe extraction of a Mattermost release tarball (`mattermost-X.Y.Z-linux-ARCH.tar.gz`) into a
//! fresh staging directory, before anything on the server is touched.
//!
//! The tarball is streamed (gzip, then tar) and every entry is checked before it is written: only
//! regular files, directories, symlinks and hard links under the single top-level `mattermost/`
//! directory are accepted; `..`, absolute paths, links leaving the tree, devices, fifos, duplicate
//! entries and writes through a symlink are refused. Modes keep their `rwx` bits only (setuid,
//! setgid and sticky are dropped) and nothing is chowned: the installer sets ownership later. On
//! any error the staging directory is removed, so a half-extracted tree never remains.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fs::Permissions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::MultiGzDecoder;
use fs_err::os::unix::fs::OpenOptionsExt;
use tar::{Archive, Entry, EntryType};

use crate::exit::{Diagnostic, ExitCode};

/// The single top-level directory of every Mattermost release tarball.
const TOP: &str = "mattermost";
/// The server binary every release contains (the server's own upgrader looks for this name).
const SERVER_BINARY: &str = "mattermost/bin/mattermost";
/// Permission bits kept from the archive: `rwx` for user, group and other, nothing else.
const MODE_MASK: u32 = 0o777;
/// Mode of the staging directory and of directories the archive implies without listing them.
const DIR_MODE: u32 = 0o755;
/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a release tarball could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The tarball itself could not be opened or read.
    #[error("cannot read the release tarball {}", .tarball.display())]
    OpenTarball {
        tarball: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The staging directory could not be created (it exists already, or its parent does not).
    #[error("cannot create the staging directory {}", .staging.display())]
    CreateStaging {
        staging: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file does not start with the gzip magic bytes (an HTML error page, for example).
    #[error("{} is not a gzip file, so it is not a release tarball", .tarball.display())]
    NotGzip { tarball: PathBuf },
    /// The compressed stream or an entry's data ends early.
    #[error("{} is truncated: the archive ends early", .tarball.display())]
    Truncated { tarball: PathBuf },
    /// The gzip or tar stream is damaged.
    #[error("{} is corrupt: it is not a valid gzip-compressed tar archive", .tarball.display())]
    Corrupt {
        tarball: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An entry lies outside the single top-level `mattermost/` directory.
    #[error(
        "{} contains `{entry}`, which is outside the top-level `mattermost/` directory",
        .tarball.display()
    )]
    OutsideTree { tarball: PathBuf, entry: String },
    /// An entry's path contains a `..` component.
    #[error("{} contains `{entry}`, whose path contains `..`", .tarball.display())]
    ParentDirectory { tarball: PathBuf, entry: String },
    /// An entry's path is absolute.
    #[error("{} contains `{entry}`, an absolute path", .tarball.display())]
    AbsolutePath { tarball: PathBuf, entry: String },
    /// A symlink whose target is absolute or leaves the `mattermost/` tree.
    #[error(
        "{} contains `{entry}`, a symlink to `{target}`, which is absolute or leaves the \
         `mattermost/` tree",
        .tarball.display()
    )]
    UnsafeSymlink {
        tarball: PathBuf,
        entry: String,
        target: String,
    },
    /// A hard link whose target is not a regular file extracted earlier from the tree.
    #[error(
        "{} contains `{entry}`, a hard link to `{target}`, which is not a regular file extracted \
         earlier from the `mattermost/` tree",
        .tarball.display()
    )]
    UnsafeHardlink {
        tarball: PathBuf,
        entry: String,
        target: String,
    },
    /// An entry would be written through a symlink extracted earlier.
    #[error(
        "{} contains `{entry}`, which would be written through the symlink `{symlink}`",
        .tarball.display()
    )]
    ThroughSymlink {
        tarball: PathBuf,
        entry: String,
        symlink: String,
    },
    /// An entry's parent was extracted earlier as something other than a directory.
    #[error(
        "{} contains `{entry}`, but its parent `{parent}` is not a directory",
        .tarball.display()
    )]
    NotADirectory {
        tarball: PathBuf,
        entry: String,
        parent: String,
    },
    /// An entry would overwrite one extracted earlier.
    #[error(
        "{} contains `{entry}` more than once: it would overwrite an earlier entry",
        .tarball.display()
    )]
    Duplicate { tarball: PathBuf, entry: String },
    /// A device, fifo or other entry type a release never contains.
    #[error("{} contains `{entry}`, a {kind}, which a release never contains", .tarball.display())]
    UnsupportedType {
        tarball: PathBuf,
        entry: String,
        kind: String,
    },
    /// The archive is well-formed but has no server binary.
    #[error(
        "{} is not a Mattermost release: it has no regular file `{SERVER_BINARY}`",
        .tarball.display()
    )]
    NotARelease { tarball: PathBuf },
    /// Writing into the staging directory failed (disk full, permissions, ...).
    #[error("cannot extract `{entry}` from {} to {}", .tarball.display(), .path.display())]
    Write {
        tarball: PathBuf,
        entry: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Extraction failed, and removing the half-extracted staging directory failed too.
    #[error("{}; removing the staging directory {} afterwards failed too", crate::exit::Chain(&**.cause), .staging.display())]
    Cleanup {
        staging: PathBuf,
        cause: Box<ArchiveError>,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for ArchiveError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::OpenTarball { .. } | Self::CreateStaging { .. } | Self::Write { .. } => {
                ExitCode::Failure
            }
            Self::Cleanup { cause, .. } => cause.exit_code(),
            Self::NotGzip { .. }
            | Self::Truncated { .. }
            | Self::Corrupt { .. }
            | Self::OutsideTree { .. }
            | Self::ParentDirectory { .. }
            | Self::AbsolutePath { .. }
            | Self::UnsafeSymlink { .. }
            | Self::UnsafeHardlink { .. }
            | Self::ThroughSymlink { .. }
            | Self::NotADirectory { .. }
            | Self::Duplicate { .. }
            | Self::UnsupportedType { .. }
            | Self::NotARelease { .. } => ExitCode::VerificationFailed,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::OpenTarball { tarball, .. } => {
                format!("check that {} exists and is readable", tarball.display())
            }
            Self::CreateStaging { staging, .. } => format!(
                "the staging directory must not exist yet and its parent must exist; if an \
                 earlier run left {} behind, remove it",
                staging.display()
            ),
            Self::NotGzip { tarball } => format!(
                "a proxy or mirror may have served an error page instead of the release; delete \
                 {} and download it again",
                tarball.display()
            ),
            Self::Truncated { tarball } => format!(
                "the download was probably interrupted; delete {} and download it again",
                tarball.display()
            ),
            Self::Corrupt { tarball, .. } => {
                format!("delete {} and download it again", tarball.display())
            }
            Self::OutsideTree { tarball, .. }
            | Self::ParentDirectory { tarball, .. }
            | Self::AbsolutePath { tarball, .. }
            | Self::UnsafeSymlink { tarball, .. }
            | Self::UnsafeHardlink { tarball, .. }
            | Self::ThroughSymlink { tarball, .. }
            | Self::NotADirectory { tarball, .. }
            | Self::Duplicate { tarball, .. }
            | Self::UnsupportedType { tarball, .. } => format!(
                "official Mattermost releases never contain such an entry, so this archive is \
                 damaged or was tampered with; nothing was extracted. Delete {} and download the \
                 release again from an official source",
                tarball.display()
            ),
            Self::NotARelease { tarball } => format!(
                "{} must be a Mattermost server release for Linux \
                 (mattermost-X.Y.Z-linux-ARCH.tar.gz), not a plugin or another archive",
                tarball.display()
            ),
            Self::Write { path, .. } => format!(
                "check the free disk space and the permissions of the filesystem holding {}",
                path.display()
            ),
            Self::Cleanup { staging, cause, .. } => match cause.hint() {
                Some(hint) => format!("remove {} by hand; {hint}", staging.display()),
                None => format!("remove {} by hand", staging.display()),
            },
        };
        Some(hint)
    }
}

/// Extract `tarball` (gzip-compressed tar) into `staging`, which must not exist yet (its parent must).
/// Returns the path of the extracted `staging/mattermost` tree. On any error, `staging` is removed
/// entirely, so nothing half-extracted remains.
pub fn extract_release(tarball: &Path, staging: &Path) -> Result<PathBuf, ArchiveError> {
    let reader = open_gzip(tarball)?;
    let create_staging = |source| ArchiveError::CreateStaging {
        staging: staging.to_path_buf(),
        source,
    };
    // `create_dir` fails if `staging` exists: never extract into (or later remove) someone's tree.
    fs_err::create_dir(staging).map_err(create_staging)?;
    let extracted = fs_err::set_permissions(staging, Permissions::from_mode(DIR_MODE))
        .map_err(create_staging)
        .and_then(|()| Extractor::new(tarball, staging).run(reader));
    match extracted {
        Ok(()) => Ok(staging.join(TOP)),
        // `remove_dir_all` does not follow symlinks, so it only removes what was extracted.
        Err(cause) => Err(match fs_err::remove_dir_all(staging) {
            Ok(()) => cause,
            Err(source) => ArchiveError::Cleanup {
                staging: staging.to_path_buf(),
                cause: Box::new(cause),
                source,
            },
        }),
    }
}

/// The top-level entry names of the release in `tarball` (below its `mattermost/` directory),
/// read without extracting: what the release ships and an upgrade must not carry over. Entries
/// that extraction would refuse are skipped here; extraction reports them.
pub fn release_entries(tarball: &Path) -> Result<Vec<String>, ArchiveError> {
    let mut archive = Archive::new(open_gzip(tarball)?);
    let entries = archive
        .entries()
        .map_err(|error| stream_error(tarball, error))?;
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|error| stream_error(tarball, error))?;
        if let Ok(relative) = member_path(&entry.path_bytes()) {
            if let Some(Component::Normal(top)) = relative.components().nth(1) {
                names.insert(top.to_string_lossy().into_owned());
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// Open `tarball` as a buffered gzip stream, refusing a file that does not start like gzip.
fn open_gzip(tarball: &Path) -> Result<MultiGzDecoder<BufReader<fs_err::File>>, ArchiveError> {
    let open_error = |source| ArchiveError::OpenTarball {
        tarball: tarball.to_path_buf(),
        source,
    };
    let file = fs_err::File::open(tarball).map_err(open_error)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    if !reader
        .fill_buf()
        .map_err(open_error)?
        .starts_with(&GZIP_MAGIC)
    {
        return Err(ArchiveError::NotGzip {
            tarball: tarball.to_path_buf(),
        });
    }
    Ok(MultiGzDecoder::new(reader))
}

/// Classify a read error from the gzip or tar stream.
fn stream_error(tarball: &Path, source: io::Error) -> ArchiveError {
    // flate2 reports a compressed stream that stops early (and a missing trailer) as
    // `UnexpectedEof`; everything else (bad deflate data, CRC, tar checksums) is corruption.
    if source.kind() == io::ErrorKind::UnexpectedEof {
        ArchiveError::Truncated {
            tarball: tarball.to_path_buf(),
        }
    } else {
        ArchiveError::Corrupt {
            tarball: tarball.to_path_buf(),
            source,
        }
    }
}

/// Why a member path (an entry name or a hard link target) is unacceptable.
enum PathProblem {
    Absolute,
    ParentDirectory,
    OutsideTree,
}

/// Normalise a member path to a relative path under `mattermost/` (dropping `.` components, so a
/// leading `./` is accepted), or say why it cannot be one.
fn member_path(name: &[u8]) -> Result<PathBuf, PathProblem> {
    let mut relative = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(name)).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(PathProblem::Absolute),
            Component::ParentDir => return Err(PathProblem::ParentDirectory),
            Component::CurDir => {}
            Component::Normal(part) => relative.push(part),
        }
    }
    if relative.starts_with(TOP) {
        Ok(relative)
    } else {
        Err(PathProblem::OutsideTree)
    }
}

/// Whether a symlink at `link` (relative to staging, e.g. `mattermost/bin/x`) pointing to `target`
/// stays inside the `mattermost/` tree.
///
/// The target must be relative, and `..` may only appear at its start: those steps walk up
/// through the link's own parents, which are verified real directories, so lexical resolution
/// is exact for them. A `..` after a name is refused, because that name could itself be a
/// symlink (extracted before or after this one) and the kernel would then go up from wherever
/// it points, not from where the text suggests.
fn symlink_stays_inside(link: &Path, target: &[u8]) -> bool {
    // Depth of the link's directory: 1 for `mattermost/`, 0 for the staging directory itself.
    let mut depth = link.components().count().saturating_sub(1);
    if depth == 0 || target.is_empty() {
        return false;
    }
    let mut after_name = false;
    for component in Path::new(OsStr::from_bytes(target)).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return false,
            Component::CurDir => {}
            Component::ParentDir => {
                if after_name || depth <= 1 {
                    return false;
                }
                depth -= 1;
            }
            Component::Normal(_) => after_name = true,
        }
    }
    true
}

/// Mode and modification time of a directory entry, applied once everything is extracted.
struct DirMetadata {
    mode: u32,
    mtime: Option<SystemTime>,
}

/// A `Write` that remembers whether writing failed, so a failed copy can be blamed on the
/// destination or on the tarball.
struct Destination<'a> {
    file: &'a mut fs_err::File,
    failed: bool,
}

impl Write for Destination<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf);
        self.failed |= written
            .as_ref()
            .is_err_and(|error| error.kind() != io::ErrorKind::Interrupted);
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.file.flush();
        self.failed |= flushed.is_err();
        flushed
    }
}

/// One extraction into a freshly created staging directory. Every path it records is relative
/// to the staging directory and was created by this extraction; nothing is ever replaced.
struct Extractor<'a> {
    tarball: &'a Path,
    staging: &'a Path,
    /// Paths verified (or created) as real directories, not symlinks.
    dirs: HashSet<PathBuf>,
    /// Regular files extracted so far: the only valid hard link targets.
    files: HashSet<PathBuf>,
    /// Directory entries, whose mode and mtime are applied at the end (children first), so a
    /// read-only directory can still be filled and its mtime is not bumped by its children.
    dir_metadata: BTreeMap<PathBuf, DirMetadata>,
}

impl<'a> Extractor<'a> {
    fn new(tarball: &'a Path, staging: &'a Path) -> Self {
        Extractor {
            tarball,
            staging,
            dirs: HashSet::new(),
            files: HashSet::new(),
            dir_metadata: BTreeMap::new(),
        }
    }

    fn run(mut self, reader: impl Read) -> Result<(), ArchiveError> {
        let mut archive = Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|error| stream_error(self.tarball, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| stream_error(self.tarball, error))?;
            self.extract(entry)?;
        }
        // tar stops at the first end-of-archive block; read on to the end so the gzip trailer
        // (CRC-32 and length) is checked and a tarball cut after the last entry is caught too.
        io::copy(&mut archive.into_inner(), &mut io::sink())
            .map_err(|error| stream_error(self.tarball, error))?;
        if !self.files.contains(Path::new(SERVER_BINARY)) {
            return Err(ArchiveError::NotARelease {
                tarball: self.tarball.to_path_buf(),
            });
        }
        self.apply_dir_metadata()
    }

    /// Check and extract one entry.
    fn extract<R: Read>(&mut self, mut entry: Entry<'_, R>) -> Result<(), ArchiveError> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            // Archive-wide pax metadata (e.g. `git archive`'s commit id): nothing to extract.
            return Ok(());
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let relative = member_path(&entry.path_bytes()).map_err(|problem| {
            let (tarball, entry) = (self.tarball.to_path_buf(), name.clone());
            match problem {
                PathProblem::Absolute => ArchiveError::AbsolutePath { tarball, entry },
                PathProblem::ParentDirectory => ArchiveError::ParentDirectory { tarball, entry },
                PathProblem::OutsideTree => ArchiveError::OutsideTree { tarball, entry },
            }
        })?;
        let header = entry.header();
        let mode = header
            .mode()
            .map_err(|error| stream_error(self.tarball, error))?
            & MODE_MASK;
        let mtime = header
            .mtime()
            .map_err(|error| stream_error(self.tarball, error))?;
        let mtime = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(mtime));
        let link_target = entry
            .link_name_bytes()
            .map(|target| target.into_owned())
            .unwrap_or_default();
        let unsupported = |what: &str| ArchiveError::UnsupportedType {
            tarball: self.tarball.to_path_buf(),
            entry: name.clone(),
            kind: what.to_string(),
        };
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                self.prepare(&relative, &name)?;
                self.write_file(&mut entry, &relative, &name, mode, mtime)
            }
            EntryType::Directory => self.make_dir(&relative, &name, mode, mtime),
            EntryType::Symlink => {
                if !symlink_stays_inside(&relative, &link_target) {
                    return Err(ArchiveError::UnsafeSymlink {
                        tarball: self.tarball.to_path_buf(),
                        entry: name,
                        target: String::from_utf8_lossy(&link_target).into_owned(),
                    });
                }
                self.prepare(&relative, &name)?;
                let path = self.staging.join(&relative);
                fs_err::os::unix::fs::symlink(OsStr::from_bytes(&link_target), &path)
                    .map_err(|source| self.write_error(&name, &path, source))
            }
            EntryType::Link => {
                let target = member_path(&link_target)
                    .ok()
                    .filter(|target| self.files.contains(target))
                    .ok_or_else(|| ArchiveError::UnsafeHardlink {
                        tarball: self.tarball.to_path_buf(),
                        entry: name.clone(),
                        target: String::from_utf8_lossy(&link_target).into_owned(),
                    })?;
                self.prepare(&relative, &name)?;
                let path = self.staging.join(&relative);
                fs_err::hard_link(self.staging.join(target), &path)
                    .map_err(|source| self.write_error(&name, &path, source))?;
                self.files.insert(relative);
                Ok(())
            }
            EntryType::Char => Err(unsupported("character device")),
            EntryType::Block => Err(unsupported("block device")),
            EntryType::Fifo => Err(unsupported("fifo")),
            EntryType::GNUSparse => Err(unsupported("sparse file")),
            other => Err(unsupported(&format!(
                "entry of type {:?}",
                char::from(other.as_byte())
            ))),
        }
    }

    /// Make sure every parent of `relative` is a real directory (creating missing ones) and that
    /// nothing exists at `relative` yet.
    fn prepare(&mut self, relative: &Path, name: &str) -> Result<(), ArchiveError> {
        self.ensure_parents(relative, name)?;
        let path = self.staging.join(relative);
        match fs_err::symlink_metadata(&path) {
            Ok(_) => Err(self.duplicate(name)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(self.write_error(name, &path, source)),
        }
    }

    /// Verify or create each parent directory of `relative`, refusing symlinks and files.
    fn ensure_parents(&mut self, relative: &Path, name: &str) -> Result<(), ArchiveError> {
        let mut parent = PathBuf::new();
        for part in relative.parent().into_iter().flat_map(Path::components) {
            parent.push(part);
            if self.dirs.contains(&parent) {
                continue;
            }
            let path = self.staging.join(&parent);
            match fs_err::symlink_metadata(&path) {
                Ok(metadata) if metadata.file_type().is_dir() => {}
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    return Err(ArchiveError::ThroughSymlink {
                        tarball: self.tarball.to_path_buf(),
                        entry: name.to_string(),
                        symlink: parent.display().to_string(),
                    });
                }
                Ok(_) => {
                    return Err(ArchiveError::NotADirectory {
                        tarball: self.tarball.to_path_buf(),
                        entry: name.to_string(),
                        parent: parent.display().to_string(),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    self.create_dir(&path, name)?;
                }
                Err(source) => return Err(self.write_error(name, &path, source)),
            }
            self.dirs.insert(parent.clone());
        }
        Ok(())
    }

    /// Create one directory (which must not exist) with the default mode.
    fn create_dir(&self, path: &Path, name: &str) -> Result<(), ArchiveError> {
        fs_err::create_dir(path)
            .and_then(|()| fs_err::set_permissions(path, Permissions::from_mode(DIR_MODE)))
            .map_err(|source| self.write_error(name, path, source))
    }

    /// Extract a directory entry; an existing real directory is fine (listed twice, or created
    /// earlier as the parent of a file), anything else there is a conflict.
    fn make_dir(
        &mut self,
        relative: &Path,
        name: &str,
        mode: u32,
        mtime: Option<SystemTime>,
    ) -> Result<(), ArchiveError> {
        self.ensure_parents(relative, name)?;
        let path = self.staging.join(relative);
        if !self.dirs.contains(relative) {
            match fs_err::symlink_metadata(&path) {
                Ok(_) => return Err(self.duplicate(name)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    self.create_dir(&path, name)?;
                }
                Err(source) => return Err(self.write_error(name, &path, source)),
            }
            self.dirs.insert(relative.to_path_buf());
        }
        self.dir_metadata
            .insert(relative.to_path_buf(), DirMetadata { mode, mtime });
        Ok(())
    }

    /// Write a regular file's data into a new file, then set its mode and mtime.
    fn write_file<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        relative: &Path,
        name: &str,
        mode: u32,
        mtime: Option<SystemTime>,
    ) -> Result<(), ArchiveError> {
        let path = self.staging.join(relative);
        let write_error = |source| self.write_error(name, &path, source);
        // `create_new` (O_CREAT | O_EXCL) never follows a symlink and never overwrites.
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(write_error)?;
        let expected = entry.size();
        let mut destination = Destination {
            file: &mut file,
            failed: false,
        };
        let copied = match io::copy(entry, &mut destination) {
            Ok(copied) => copied,
            Err(source) if destination.failed => return Err(write_error(source)),
            Err(source) => return Err(stream_error(self.tarball, source)),
        };
        if copied != expected {
            return Err(ArchiveError::Truncated {
                tarball: self.tarball.to_path_buf(),
            });
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(write_error)?;
        if let Some(mtime) = mtime {
            file.set_modified(mtime).map_err(write_error)?;
        }
        self.files.insert(relative.to_path_buf());
        Ok(())
    }

    /// Apply directory entries' mtimes and modes, deepest first.
    fn apply_dir_metadata(&self) -> Result<(), ArchiveError> {
        for (relative, metadata) in self.dir_metadata.iter().rev() {
            let path = self.staging.join(relative);
            let name = relative.display().to_string();
            let write_error = |source| self.write_error(&name, &path, source);
            if let Some(mtime) = metadata.mtime {
                fs_err::File::open(&path)
                    .and_then(|dir| dir.set_modified(mtime))
                    .map_err(write_error)?;
            }
            fs_err::set_permissions(&path, Permissions::from_mode(metadata.mode))
                .map_err(write_error)?;
        }
        Ok(())
    }

    fn duplicate(&self, name: &str) -> ArchiveError {
        ArchiveError::Duplicate {
            tarball: self.tarball.to_path_buf(),
            entry: name.to_string(),
        }
    }

    fn write_error(&self, name: &str, path: &Path, source: io::Error) -> ArchiveError {
        ArchiveError::Write {
            tarball: self.tarball.to_path_buf(),
            entry: name.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use tar::{Builder, Header};

    const MTIME: u64 = 1_700_000_000;

    /// A tar archive built entry by entry. Names and link targets are written straight into the
    /// raw header, because `Header::set_path` refuses the hostile ones these tests need.
    struct Tarball(Builder<Vec<u8>>);

    impl Tarball {
        fn new() -> Self {
            Tarball(Builder::new(Vec::new()))
        }

        fn entry(
            mut self,
            name: &str,
            kind: EntryType,
            mode: u32,
            link: &str,
            data: &[u8],
        ) -> Self {
            let mut header = Header::new_gnu();
            let old = header.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(mode);
            header.set_mtime(MTIME);
            if kind == EntryType::GNUSparse {
                // A well-formed sparse header (no holes), so the tar crate hands it over.
                header
                    .as_gnu_mut()
                    .unwrap()
                    .set_real_size(data.len() as u64);
            }
            header.set_cksum();
            self.0.append(&header, data).unwrap();
            self
        }

        fn file(self, name: &str, mode: u32, data: &[u8]) -> Self {
            self.entry(name, EntryType::Regular, mode, "", data)
        }

        fn dir(self, name: &str, mode: u32) -> Self {
            self.entry(name, EntryType::Directory, mode, "", b"")
        }

        fn symlink(self, name: &str, target: &str) -> Self {
            self.entry(name, EntryType::Symlink, 0o777, target, b"")
        }

        fn hardlink(self, name: &str, target: &str) -> Self {
            self.entry(name, EntryType::Link, 0o644, target, b"")
        }

        /// A file whose name is too long for the header, stored with a GNU long-name entry.
        fn long_file(mut self, name: &str, data: &[u8]) -> Self {
            let mut header = Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(MTIME);
            self.0.append_data(&mut header, name, data).unwrap();
            self
        }

        /// The smallest thing that passes for a release: the top directory and the server.
        fn release(self) -> Self {
            self.dir("mattermost/", 0o755)
                .file("mattermost/bin/mattermost", 0o755, b"#!server")
        }

        fn tar(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }

        fn gz(self) -> Vec<u8> {
            gzip(&self.tar())
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Deterministic, poorly compressible bytes.
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect()
    }

    fn long_name() -> String {
        format!("mattermost/prepackaged_plugins/{}.tar.gz", "a".repeat(120))
    }

    /// A Mattermost-shaped release exercising every accepted kind of entry.
    fn good_release() -> Vec<u8> {
        Tarball::new()
            .entry(
                "pax_global_header",
                EntryType::XGlobalHeader,
                0o666,
                "",
                b"52 comment=x\n",
            )
            .dir("mattermost/", 0o755)
            .file("mattermost/bin/mattermost", 0o4755, b"#!server")
            .file("mattermost/bin/mmctl", 0o2755, b"#!mmctl")
            .file("mattermost/config/config.json", 0o600, b"{}")
            .dir("mattermost/logs/", 0o1750)
            .dir("mattermost/i18n/", 0o755)
            .file("mattermost/i18n/en.json", 0o644, b"[]")
            .file("mattermost/client/static/js/app.js", 0o644, b"app()")
            .symlink("mattermost/bin/config.json", "../config/config.json")
            .symlink("mattermost/client/root", "./..")
            .hardlink("mattermost/bin/platform", "mattermost/bin/mattermost")
            .file("./mattermost/README.md", 0o644, b"readme")
            .file(
                "mattermost/prepackaged_plugins/big.bin",
                0o644,
                &noise(256 * 1024),
            )
            .long_file(&long_name(), b"plugin")
            .gz()
    }

    /// A temporary tree: `downloads/release.tar.gz`, and `work/` holding the staging directory
    /// next to `work/outside/` and `work/secret.txt`, the targets of escape attempts.
    struct Fixture {
        _temp: tempfile::TempDir,
        root: PathBuf,
        tarball: PathBuf,
        work: PathBuf,
        staging: PathBuf,
    }

    impl Fixture {
        fn new(tarball_bytes: &[u8]) -> Self {
            let temp = tempfile::tempdir().unwrap();
            let root = temp.path().to_path_buf();
            let tarball = root.join("downloads/release.tar.gz");
            let work = root.join("work");
            fs_err::create_dir_all(tarball.parent().unwrap()).unwrap();
            fs_err::write(&tarball, tarball_bytes).unwrap();
            fs_err::create_dir_all(work.join("outside")).unwrap();
            fs_err::write(work.join("secret.txt"), b"secret").unwrap();
            let staging = work.join("staging");
            Fixture {
                _temp: temp,
                root,
                tarball,
                work,
                staging,
            }
        }

        fn extract(&self) -> Result<PathBuf, ArchiveError> {
            extract_release(&self.tarball, &self.staging)
        }

        /// Extract, expecting a refusal that leaves the whole temporary tree as it was.
        fn refuse(&self) -> ArchiveError {
            let before = tree(&self.root);
            let error = self.extract().expect_err("the archive should be refused");
            assert!(
                fs_err::symlink_metadata(&self.staging).is_err(),
                "staging left behind after: {error}"
            );
            assert_eq!(tree(&self.root), before, "files changed after: {error}");
            assert!(!self.work.join("evil").exists());
            assert!(!self.work.join("outside/x").exists());
            assert!(!Path::new("/etc/evil").exists());
            assert_eq!(
                fs_err::read(self.work.join("secret.txt")).unwrap(),
                b"secret"
            );
            error
        }
    }

    /// Every path below `root`, without following symlinks.
    fn tree(root: &Path) -> BTreeSet<PathBuf> {
        let mut paths = BTreeSet::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs_err::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                }
                paths.insert(entry.path());
            }
        }
        paths
    }

    fn mode(path: &Path) -> u32 {
        fs_err::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn mtime(path: &Path) -> SystemTime {
        fs_err::symlink_metadata(path).unwrap().modified().unwrap()
    }

    fn refused(archive: Vec<u8>) -> ArchiveError {
        Fixture::new(&archive).refuse()
    }

    #[test]
    fn a_good_release_is_extracted_with_safe_modes() {
        let fixture = Fixture::new(&good_release());
        let tree_root = fixture.extract().unwrap();
        assert_eq!(tree_root, fixture.staging.join("mattermost"));
        let names: Vec<_> = fs_err::read_dir(&fixture.staging)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["mattermost"]);
        assert_eq!(mode(&fixture.staging), 0o755);

        let server = tree_root.join("bin/mattermost");
        assert_eq!(fs_err::read(&server).unwrap(), b"#!server");
        assert_eq!(mode(&server), 0o755, "setuid must be stripped");
        assert_eq!(
            mtime(&server),
            SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME)
        );
        assert_eq!(
            mode(&tree_root.join("bin/mmctl")),
            0o755,
            "setgid must be stripped"
        );
        assert_eq!(mode(&tree_root.join("config/config.json")), 0o600);
        assert_eq!(
            mode(&tree_root.join("logs")),
            0o750,
            "sticky must be stripped"
        );
        assert_eq!(mode(&tree_root.join("client/static/js")), 0o755);
        assert_eq!(
            fs_err::read(tree_root.join("client/static/js/app.js")).unwrap(),
            b"app()"
        );
        let i18n = tree_root.join("i18n");
        assert_eq!(
            mtime(&i18n),
            SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME)
        );
        assert_eq!(fs_err::read(i18n.join("en.json")).unwrap(), b"[]");

        let link = tree_root.join("bin/config.json");
        assert_eq!(
            fs_err::read_link(&link).unwrap(),
            Path::new("../config/config.json")
        );
        assert_eq!(fs_err::read(&link).unwrap(), b"{}");
        assert_eq!(
            fs_err::canonicalize(tree_root.join("client/root")).unwrap(),
            fs_err::canonicalize(&tree_root).unwrap()
        );

        let platform = fs_err::metadata(tree_root.join("bin/platform")).unwrap();
        assert_eq!(platform.ino(), fs_err::metadata(&server).unwrap().ino());
        assert_eq!(
            fs_err::read(tree_root.join("README.md")).unwrap(),
            b"readme"
        );
        assert_eq!(
            fs_err::read(tree_root.join("prepackaged_plugins/big.bin")).unwrap(),
            noise(256 * 1024)
        );
        assert_eq!(
            fs_err::read(fixture.staging.join(long_name())).unwrap(),
            b"plugin"
        );
        assert!(!fixture.staging.join("pax_global_header").exists());
    }

    #[test]
    fn release_entries_are_the_top_level_names_below_mattermost() {
        let fixture = Fixture::new(&good_release());
        assert_eq!(
            release_entries(&fixture.tarball).unwrap(),
            [
                "README.md",
                "bin",
                "client",
                "config",
                "i18n",
                "logs",
                "prepackaged_plugins"
            ]
        );
        assert!(fs_err::symlink_metadata(&fixture.staging).is_err());
        let fixture = Fixture::new(b"not gzip");
        assert!(matches!(
            release_entries(&fixture.tarball),
            Err(ArchiveError::NotGzip { .. })
        ));
    }

    #[test]
    fn paths_with_parent_components_are_refused() {
        for name in [
            "../evil",
            "mattermost/../../evil",
            "mattermost/bin/../../evil",
        ] {
            let error = refused(Tarball::new().release().file(name, 0o644, b"x").gz());
            assert!(
                matches!(&error, ArchiveError::ParentDirectory { entry, .. } if entry == name),
                "{error:?}"
            );
            assert!(error.to_string().contains(name), "{error}");
            assert_eq!(error.exit_code(), ExitCode::VerificationFailed);
        }
    }

    #[test]
    fn absolute_paths_are_refused() {
        let error = refused(Tarball::new().release().file("/etc/evil", 0o644, b"x").gz());
        assert!(
            matches!(&error, ArchiveError::AbsolutePath { entry, .. } if entry == "/etc/evil"),
            "{error:?}"
        );
    }

    #[test]
    fn entries_outside_the_top_directory_are_refused() {
        for name in ["other-top/file", "mattermost-evil/file", "README.md", "./"] {
            let error = refused(Tarball::new().release().file(name, 0o644, b"x").gz());
            assert!(
                matches!(&error, ArchiveError::OutsideTree { entry, .. } if entry == name),
                "{error:?}"
            );
        }
    }

    #[test]
    fn symlinks_leaving_the_tree_are_refused() {
        let archive = Tarball::new()
            .release()
            .symlink("mattermost/link", "../../outside")
            .file("mattermost/link/x", 0o644, b"x")
            .gz();
        let error = refused(archive);
        assert!(
            matches!(&error, ArchiveError::UnsafeSymlink { entry, target, .. }
                if entry == "mattermost/link" && target == "../../outside"),
            "{error:?}"
        );
        for (name, target) in [
            ("mattermost/link", "/etc"),
            ("mattermost/link", "/"),
            ("mattermost/link", ".."),
            ("mattermost/bin/link", "../../secret.txt"),
            ("mattermost/bin/link", "mattermost/../../.."),
            ("mattermost/bin/link", "x/../../.."),
            ("mattermost/bin/link", ""),
        ] {
            let error = refused(Tarball::new().release().symlink(name, target).gz());
            assert!(
                matches!(&error, ArchiveError::UnsafeSymlink { entry, .. } if entry == name),
                "{name} -> {target}: {error:?}"
            );
        }
    }

    #[test]
    fn the_top_directory_cannot_be_a_symlink() {
        let archive = Tarball::new()
            .symlink("mattermost", "bin")
            .file("mattermost/bin/mattermost", 0o755, b"x")
            .gz();
        let error = refused(archive);
        assert!(
            matches!(error, ArchiveError::UnsafeSymlink { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn nothing_is_written_through_a_symlink() {
        let through_file = Tarball::new()
            .release()
            .symlink("mattermost/link", "bin")
            .file("mattermost/link/x", 0o644, b"x")
            .gz();
        let through_dir = Tarball::new()
            .release()
            .symlink("mattermost/link", "bin")
            .dir("mattermost/link/sub/", 0o755)
            .gz();
        for archive in [through_file, through_dir] {
            let error = refused(archive);
            assert!(
                matches!(&error, ArchiveError::ThroughSymlink { symlink, .. }
                    if symlink == "mattermost/link"),
                "{error:?}"
            );
        }
        let over_link = Tarball::new()
            .release()
            .symlink("mattermost/link", "bin")
            .dir("mattermost/link/", 0o777)
            .gz();
        let error = refused(over_link);
        assert!(matches!(error, ArchiveError::Duplicate { .. }), "{error:?}");
    }

    #[test]
    fn hard_links_must_point_to_an_extracted_file_in_the_tree() {
        for target in [
            "/etc/passwd",
            "../secret.txt",
            "mattermost/../../secret.txt",
            "mattermost/bin",
            "mattermost/later",
            "mattermost/link",
            "mattermost/link/mattermost",
        ] {
            let archive = Tarball::new()
                .release()
                .symlink("mattermost/link", "bin")
                .hardlink("mattermost/hard", target)
                .file("mattermost/later", 0o644, b"later")
                .gz();
            let error = refused(archive);
            assert!(
                matches!(&error, ArchiveError::UnsafeHardlink { entry, target: t, .. }
                    if entry == "mattermost/hard" && t == target),
                "{target}: {error:?}"
            );
        }
    }

    #[test]
    fn devices_fifos_and_other_types_are_refused() {
        for (kind, expected) in [
            (EntryType::Char, "character device"),
            (EntryType::Block, "block device"),
            (EntryType::Fifo, "fifo"),
            (EntryType::GNUSparse, "sparse file"),
            (EntryType::new(b'V'), "entry of type 'V'"),
        ] {
            let archive = Tarball::new()
                .release()
                .entry("mattermost/dev", kind, 0o644, "", b"")
                .gz();
            let error = refused(archive);
            assert!(
                matches!(&error, ArchiveError::UnsupportedType { entry, kind, .. }
                    if entry == "mattermost/dev" && kind == expected),
                "{error:?}"
            );
        }
    }

    #[test]
    fn duplicate_entries_are_refused() {
        let duplicate_file = Tarball::new()
            .release()
            .file("mattermost/bin/mattermost", 0o755, b"second")
            .gz();
        let dir_over_file = Tarball::new()
            .release()
            .dir("mattermost/bin/mattermost/", 0o755)
            .gz();
        let link_over_file = Tarball::new()
            .release()
            .symlink("mattermost/bin/mattermost", "mmctl")
            .gz();
        for archive in [duplicate_file, dir_over_file, link_over_file] {
            let error = refused(archive);
            assert!(
                matches!(&error, ArchiveError::Duplicate { entry, .. }
                    if entry.starts_with("mattermost/bin/mattermost")),
                "{error:?}"
            );
        }
        let error = refused(
            Tarball::new()
                .release()
                .file("mattermost/bin/mattermost/x", 0o644, b"x")
                .gz(),
        );
        assert!(
            matches!(&error, ArchiveError::NotADirectory { parent, .. }
                if parent == "mattermost/bin/mattermost"),
            "{error:?}"
        );
    }

    #[test]
    fn a_truncated_download_is_reported_as_such() {
        let good = good_release();
        for cut in [good.len() / 2, good.len() - 4] {
            let error = refused(good[..cut].to_vec());
            assert!(
                matches!(error, ArchiveError::Truncated { .. }),
                "{cut}: {error:?}"
            );
            assert!(error.to_string().contains("release.tar.gz"), "{error}");
            assert!(error.hint().unwrap().contains("download it again"));
            assert_eq!(error.exit_code(), ExitCode::VerificationFailed);
        }
        // A complete gzip stream around a tar archive cut inside a file's data.
        let tar = Tarball::new()
            .release()
            .file("mattermost/big", 0o644, &noise(4096))
            .tar();
        let error = refused(gzip(&tar[..3 * 512 + 1024]));
        assert!(matches!(error, ArchiveError::Truncated { .. }), "{error:?}");
    }

    #[test]
    fn a_file_that_is_not_gzip_is_reported_as_such() {
        for bytes in [
            &b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"[..],
            b"",
        ] {
            let error = refused(bytes.to_vec());
            assert!(matches!(error, ArchiveError::NotGzip { .. }), "{error:?}");
            assert!(error.to_string().contains("release.tar.gz"), "{error}");
            assert!(error.hint().unwrap().contains("download it again"));
            assert_eq!(error.exit_code(), ExitCode::VerificationFailed);
        }
    }

    #[test]
    fn a_corrupt_stream_is_reported_as_such() {
        let garbage = gzip(&b"this is not a tar archive at all. ".repeat(100));
        let error = refused(garbage);
        assert!(matches!(error, ArchiveError::Corrupt { .. }), "{error:?}");
        assert!(error.to_string().contains("corrupt"), "{error}");

        let mut damaged = good_release();
        let middle = damaged.len() / 2;
        for byte in &mut damaged[middle..middle + 64] {
            *byte = !*byte;
        }
        let error = refused(damaged);
        assert!(matches!(error, ArchiveError::Corrupt { .. }), "{error:?}");
    }

    #[test]
    fn an_archive_without_the_server_binary_is_not_a_release() {
        let empty = Tarball::new().gz();
        let no_server = Tarball::new()
            .dir("mattermost/", 0o755)
            .file("mattermost/bin/mmctl", 0o755, b"x")
            .gz();
        let server_is_a_link = Tarball::new()
            .file("mattermost/bin/mmctl", 0o755, b"x")
            .symlink("mattermost/bin/mattermost", "mmctl")
            .gz();
        let server_is_a_dir = Tarball::new().dir("mattermost/bin/mattermost/", 0o755).gz();
        for archive in [empty, no_server, server_is_a_link, server_is_a_dir] {
            let error = refused(archive);
            assert!(
                matches!(error, ArchiveError::NotARelease { .. }),
                "{error:?}"
            );
            assert!(
                error.to_string().contains("not a Mattermost release"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_existing_staging_directory_is_left_alone() {
        let fixture = Fixture::new(&good_release());
        fs_err::create_dir(&fixture.staging).unwrap();
        fs_err::write(fixture.staging.join("keep"), b"keep").unwrap();
        let error = fixture.extract().unwrap_err();
        assert!(
            matches!(error, ArchiveError::CreateStaging { .. }),
            "{error:?}"
        );
        assert_eq!(error.exit_code(), ExitCode::Failure);
        assert_eq!(fs_err::read(fixture.staging.join("keep")).unwrap(), b"keep");
        assert_eq!(tree(&fixture.staging).len(), 1);

        let missing_parent = fixture.work.join("missing/staging");
        let error = extract_release(&fixture.tarball, &missing_parent).unwrap_err();
        assert!(
            matches!(error, ArchiveError::CreateStaging { .. }),
            "{error:?}"
        );
        assert!(!fixture.work.join("missing").exists());
    }

    #[test]
    fn a_missing_tarball_creates_nothing() {
        let fixture = Fixture::new(b"");
        let error =
            extract_release(&fixture.work.join("absent.tar.gz"), &fixture.staging).unwrap_err();
        assert!(
            matches!(error, ArchiveError::OpenTarball { .. }),
            "{error:?}"
        );
        assert_eq!(error.exit_code(), ExitCode::Failure);
        assert!(!fixture.staging.exists());
    }

    #[test]
    fn symlink_targets_are_checked_lexically_from_the_link() {
        let inside =
            |link: &str, target: &str| symlink_stays_inside(Path::new(link), target.as_bytes());
        assert!(inside("mattermost/bin/x", "../config/config.json"));
        assert!(inside("mattermost/bin/x", ".."));
        assert!(inside("mattermost/x", "bin/mattermost"));
        assert!(inside("mattermost/x", "."));
        assert!(inside("mattermost/a/b/x", "./../../c"));
        assert!(!inside("mattermost/x", ".."));
        assert!(!inside("mattermost/bin/x", "../.."));
        assert!(!inside("mattermost/bin/x", "/opt/mattermost"));
        assert!(!inside("mattermost/bin/x", "config/../.."));
        assert!(!inside("mattermost/bin/x", "config/../x"));
        assert!(!inside("mattermost", "bin"));
        assert!(!inside("mattermost/x", ""));
    }

    #[test]
    fn diagnostics_name_the_entry_and_give_hints() {
        let error = ArchiveError::OutsideTree {
            tarball: PathBuf::from("/var/lib/mm-install/cache/mattermost-10.5.0.tar.gz"),
            entry: "etc/cron.d/evil".to_string(),
        };
        let message = error.to_string();
        assert!(message.contains("mattermost-10.5.0.tar.gz"), "{message}");
        assert!(message.contains("`etc/cron.d/evil`"), "{message}");
        assert!(error.hint().unwrap().contains("download the release again"));
        let write = ArchiveError::Write {
            tarball: PathBuf::from("/t.tar.gz"),
            entry: "mattermost/bin/mattermost".to_string(),
            path: PathBuf::from("/opt/staging/mattermost/bin/mattermost"),
            source: io::Error::from(io::ErrorKind::StorageFull),
        };
        assert_eq!(write.exit_code(), ExitCode::Failure);
        assert!(write.hint().unwrap().contains("free disk space"));
        let cleanup = ArchiveError::Cleanup {
            staging: PathBuf::from("/opt/staging"),
            cause: Box::new(error),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(cleanup.exit_code(), ExitCode::VerificationFailed);
        assert!(
            cleanup
                .hint()
                .unwrap()
                .starts_with("remove /opt/staging by hand")
        );
    }
}
