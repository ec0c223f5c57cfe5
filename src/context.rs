//! The outside world as one value: the filesystem root every path is resolved under, and the
//! environment. Tests hand the core a temporary root instead of `/`, so nothing touches the host.

use std::path::{Path, PathBuf};

/// Where the core reads and writes the system.
#[derive(Clone, Debug)]
pub struct Context {
    root: PathBuf,
}

impl Context {
    /// A context acting on the tree below `root` (`/` for the live system).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Context { root: root.into() }
    }

    /// The root prefix.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `true` when acting on the live system rather than on a tree below another directory.
    pub fn is_live_system(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Map an absolute system path such as `/etc/os-release` into the root prefix.
    pub fn path(&self, system_path: impl AsRef<Path>) -> PathBuf {
        let system_path = system_path.as_ref();
        let relative = system_path.strip_prefix("/").unwrap_or(system_path);
        self.root.join(relative)
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_resolved_under_the_root() {
        let ctx = Context::new("/tmp/image");
        assert_eq!(
            ctx.path("/etc/os-release"),
            Path::new("/tmp/image/etc/os-release")
        );
        assert_eq!(
            ctx.path("etc/os-release"),
            Path::new("/tmp/image/etc/os-release")
        );
        assert!(!ctx.is_live_system());
        assert!(Context::default().is_live_system());
    }
}
