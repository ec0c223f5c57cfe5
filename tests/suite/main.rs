//! The integration suite: one test binary that runs the real `mm-install` CLI against fixtures
//! and a loopback release mirror built in code. Nothing here leaves loopback or touches the
//! host's /etc, /opt, users or services.

#![allow(clippy::disallowed_methods)] // fixtures may use std::fs directly

mod ca_guest;
mod common;
mod default_version;
mod detect_os;
mod docs_check;
mod download;
mod external_db;
mod guest;
mod guest_server;
mod guest_smoke;
mod install_guest;
mod install_root;
mod man_completions;
mod mirror;
#[path = "../fixtures/os_release.rs"]
#[allow(dead_code)] // the suite uses some fixtures, the unit tests others
mod os_release_fixtures;
mod packages;
mod pg_cluster;
mod render;
mod restore_db;
mod rhel_guest;
mod suites_guest;
mod upgrade_guest;
mod verify_guest;
