//! [`GuestServer`]: the set-up the guest tests share. A booted guest that trusts the test
//! release key (`/srv/artifacts/key.asc`), the release mirror on the host (the only address the
//! guest can reach), stand-in releases published on it, and Mattermost installed from it by
//! `mm-install install`.

use crate::common::{Ran, texts};
use crate::guest::{Guest, Suite};
use crate::install_guest::{Artifacts, VERSION, install_args, run_in, standin_binary, stdout};
use crate::mirror::{Mirror, standin_tarball};

/// The file name of Mattermost `version`'s amd64 release tarball.
pub fn release_name(version: &str) -> String {
    format!("mattermost-{version}-linux-amd64.tar.gz")
}

/// A booted guest with the release mirror on its host; see [`GuestServer::installed`].
pub struct GuestServer {
    /// The guest trusts `artifacts.key`: releases are signed with it.
    pub artifacts: Artifacts,
    pub guest: Guest,
    pub mirror: Mirror,
}

impl GuestServer {
    /// Boot a `suite` guest and start the mirror for it; nothing is published or installed.
    pub fn boot(suite: Suite) -> GuestServer {
        let artifacts = Artifacts::new();
        let guest = Guest::boot_suite(suite, artifacts.path());
        let mirror = Mirror::start_on(guest.host_address());
        GuestServer {
            artifacts,
            guest,
            mirror,
        }
    }

    /// [`GuestServer::boot`], then Mattermost [`VERSION`] (a stand-in whose standin.json has
    /// the fields `extra` too) published and installed by `mm-install install`, which must
    /// succeed.
    pub fn installed(suite: Suite, extra: &str) -> GuestServer {
        let server = GuestServer::boot(suite);
        server.publish(VERSION, extra);
        let output = server.install(&[]);
        assert!(
            output.status.success(),
            "{} failed on {suite}: {:?}\nmattermost journal:\n{}",
            output.command,
            texts(&output),
            server.guest.journal("mattermost")
        );
        server
    }

    /// Publish a signed stand-in release of `version`; `extra` is more standin.json fields
    /// (`""` for none).
    pub fn publish(&self, version: &str, extra: &str) {
        let json = if extra.is_empty() {
            format!(r#"{{"version": "{version}"}}"#)
        } else {
            format!(r#"{{"version": "{version}", {extra}}}"#)
        };
        let tarball = standin_tarball(standin_binary(), &json);
        self.mirror.publish_tarball(
            &self.artifacts.key,
            version,
            &release_name(version),
            tarball,
        );
    }

    /// `mm-install install --yes …` from the mirror, with `extra` flags.
    pub fn install(&self, extra: &[&str]) -> Ran {
        let mut args = install_args();
        args.extend(["--release-url".into(), self.mirror.base_url.clone()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        run_in(&self.guest, &args)
    }

    /// `mm-install <args…>` in the guest, with no other flags.
    pub fn mm_install(&self, args: &[&str]) -> Ran {
        let mut all = vec!["/srv/artifacts/mm-install".to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        run_in(&self.guest, &all)
    }

    /// `sh -c script` in the guest: its stdout, trimmed.
    pub fn sh(&self, script: &str) -> String {
        stdout(&self.guest.sh(script))
    }
}
