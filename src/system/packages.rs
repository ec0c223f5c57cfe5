//! The host's package manager (apt, dnf, yum): which packages are installed, installing the
//! missing ones non-interactively, and removing exactly those again on undo.

use super::{SystemError, run_checked, run_probe};
use crate::context::{CommandLine, Context};
use crate::host::PackageManager;

/// `true` when `package` is installed.
pub fn is_installed(
    ctx: &Context,
    manager: PackageManager,
    package: &str,
) -> Result<bool, SystemError> {
    let output = match manager {
        PackageManager::Apt => run_probe(
            ctx,
            &CommandLine::new("dpkg-query", &["-W", "-f=${Status}", package]),
        )?,
        PackageManager::Dnf | PackageManager::Yum => {
            run_probe(ctx, &CommandLine::new("rpm", &["-q", package]))?
        }
    };
    Ok(output.success()
        && (manager != PackageManager::Apt || output.stdout.contains("install ok installed")))
}

/// The subset of `packages` that is not installed yet.
pub fn missing(
    ctx: &Context,
    manager: PackageManager,
    packages: &[&str],
) -> Result<Vec<String>, SystemError> {
    let mut missing = Vec::new();
    for package in packages {
        if !is_installed(ctx, manager, package)? {
            missing.push(package.to_string());
        }
    }
    Ok(missing)
}

/// Install `packages` without prompts.
pub fn install(
    ctx: &Context,
    manager: PackageManager,
    packages: &[String],
) -> Result<(), SystemError> {
    if packages.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    match manager {
        PackageManager::Apt => {
            let apt = |args: &[&str]| {
                CommandLine::new("apt-get", args).with_env("DEBIAN_FRONTEND", "noninteractive")
            };
            run_checked(ctx, &apt(&["update"]))?;
            let mut args = vec!["install", "-y", "--no-install-recommends"];
            args.extend(&names);
            run_checked(ctx, &apt(&args))?;
        }
        PackageManager::Dnf | PackageManager::Yum => {
            let mut args = vec!["install", "-y"];
            args.extend(&names);
            run_checked(ctx, &CommandLine::new(&manager.to_string(), &args))?;
        }
    }
    Ok(())
}

/// Remove `packages` (undo of [`install`]); packages already gone are fine.
pub fn remove(
    ctx: &Context,
    manager: PackageManager,
    packages: &[String],
) -> Result<(), SystemError> {
    let present: Vec<&str> = packages
        .iter()
        .map(String::as_str)
        .filter(|p| is_installed(ctx, manager, p).unwrap_or(true))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let mut args = match manager {
        PackageManager::Apt => vec!["purge", "-y"],
        PackageManager::Dnf | PackageManager::Yum => vec!["remove", "-y"],
    };
    args.extend(&present);
    let program = match manager {
        PackageManager::Apt => "apt-get".to_owned(),
        other => other.to_string(),
    };
    run_checked(
        ctx,
        &CommandLine::new(&program, &args).with_env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::fake::FakeRunner;

    #[test]
    fn only_missing_packages_are_installed_and_removed() {
        let runner = Arc::new(FakeRunner::default());
        runner.answer(
            "dpkg-query -W -f=${Status} nginx",
            0,
            "install ok installed",
        );
        runner.answer("dpkg-query -W -f=${Status} postgresql", 1, "");
        let ctx = Context::default().with_runner(runner.clone());
        let missing = missing(&ctx, PackageManager::Apt, &["nginx", "postgresql"]).unwrap();
        assert_eq!(missing, ["postgresql"]);
        install(&ctx, PackageManager::Apt, &missing).unwrap();
        assert!(
            runner
                .lines()
                .contains(&"apt-get install -y --no-install-recommends postgresql".to_string())
        );
        let apt = runner.log.lock().unwrap().last().unwrap().clone();
        assert_eq!(
            apt.env,
            [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())]
        );
        // postgresql is still "missing" for the fake dpkg-query: nothing to remove.
        remove(&ctx, PackageManager::Apt, &missing).unwrap();
        assert!(
            !runner
                .lines()
                .iter()
                .any(|l| l.starts_with("apt-get purge"))
        );
    }
}
