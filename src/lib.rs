//! mm-install: install, upgrade and roll back a self-hosted Mattermost server on Linux.
//!
//! The library is the product; `src/main.rs` only calls [`cli::main`]. Modules:
//! - [`host`]: os-release parsing, the support policy, CPU architecture, free disk space;
//! - [`release`]: Mattermost versions, editions, download URLs and the releases feed;
//! - [`fetch`]: resumable downloads and OpenPGP + SHA-256 verification;
//! - [`archive`]: safe extraction of a release tarball into a staging directory;
//! - [`journal`]: operations as journaled, undoable transactions; [`lock`]: one at a time;
//! - [`ops`]: install, upgrade, rollback and their health checks; [`state`], [`settings`]: what
//!   the tool remembers and how the admin configures it;
//! - [`render`]: the systemd unit and nginx site from templates, and config.json edits;
//! - [`layout`]: every server path; [`site_url`]: the one site URL type;
//! - [`context`]: the outside world (filesystem root, environment) as one value;
//!   [`environment`]: every environment variable the tool reads;
//! - [`report`]: how the core tells the CLI about progress without printing;
//! - [`exit`]: the stable exit codes;
//! - [`system`]: users, files, services, packages, PostgreSQL, nginx, SELinux and firewalld;
//! - [`cli`]: clap, output and progress bars; the only module that prints.

pub mod archive;
pub mod cli;
pub mod context;
pub mod environment;
pub mod exit;
pub mod fetch;
pub mod host;
pub mod journal;
pub mod keyword;
pub mod layout;
pub mod lock;
pub mod notify;
pub mod ops;
pub mod release;
pub mod render;
pub mod report;
pub mod settings;
pub mod site_url;
pub mod state;
pub mod system;
