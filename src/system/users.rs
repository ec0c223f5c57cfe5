//! The `mattermost` system user and group: looked up in the root's `/etc/passwd` and
//! `/etc/group`, created with `useradd --system --user-group` (with `--root DIR` below another
//! tree), removed again on undo.

use super::{SystemError, rooted, run_checked};
use crate::context::Context;

/// A user's numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// Look `name` up in the root's `/etc/passwd`.
pub fn lookup(ctx: &Context, name: &str) -> Result<Option<Ids>, SystemError> {
    let passwd = match fs_err::read_to_string(ctx.path("/etc/passwd")) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    Ok(passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields[..] {
            [user, _, uid, gid, ..] if user == name => Some(Ids {
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
            }),
            _ => None,
        }
    }))
}

/// `true` when the root's `/etc/group` has `name`.
pub fn group_exists(ctx: &Context, name: &str) -> Result<bool, SystemError> {
    match fs_err::read_to_string(ctx.path("/etc/group")) {
        Ok(text) => Ok(text
            .lines()
            .any(|line| line.split(':').next() == Some(name))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// `useradd --system --user-group` for a service account whose home is `home` and which cannot
/// log in.
pub fn create_system_user(ctx: &Context, name: &str, home: &str) -> Result<Ids, SystemError> {
    let args = [
        "--system",
        "--user-group",
        "--home-dir",
        home,
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ];
    run_checked(ctx, &rooted(ctx, "useradd", &args))?;
    lookup(ctx, name)?.ok_or_else(|| SystemError::Unexpected {
        what: format!("useradd created `{name}`"),
        detail: format!("but it is not in {}", ctx.path("/etc/passwd").display()),
    })
}

/// Remove the user and its group if they exist (undo of [`create_system_user`]).
pub fn remove_system_user(ctx: &Context, name: &str) -> Result<(), SystemError> {
    if lookup(ctx, name)?.is_some() {
        run_checked(ctx, &rooted(ctx, "userdel", &[name]))?;
    }
    if group_exists(ctx, name)? {
        run_checked(ctx, &rooted(ctx, "groupdel", &[name]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

    #[test]
    fn users_are_looked_up_and_created_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("etc")).unwrap();
        fs_err::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        let runner = Arc::new(FakeRunner::default());
        let ctx = Context::new(dir.path()).with_runner(runner.clone());
        assert_eq!(lookup(&ctx, "mattermost").unwrap(), None);
        assert_eq!(lookup(&ctx, "root").unwrap(), Some(Ids { uid: 0, gid: 0 }));
        // The fake useradd does nothing, so the user is still missing afterwards: an error.
        let err = create_system_user(&ctx, "mattermost", "/opt/mattermost").unwrap_err();
        assert!(err.to_string().contains("etc/passwd"), "{err}");
        let root = dir.path().display();
        assert_eq!(
            runner.lines(),
            [format!(
                "useradd --root {root} --system --user-group --home-dir /opt/mattermost --no-create-home --shell /usr/sbin/nologin mattermost"
            )]
        );
        // Removing a user that does not exist runs nothing.
        remove_system_user(&ctx, "mattermost").unwrap();
        assert_eq!(runner.lines().len(), 1);
    }
}
