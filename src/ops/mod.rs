//! The operations users run: [`install`], [`upgrade`] and rollback, each a [`plan`] of journaled
//! steps (and the [`health`] checks that prove they worked), and the [`status`] they report.

pub mod backup;
pub mod carry;
pub mod docs;
pub mod health;
pub mod install;
pub mod plan;
pub mod requirements;
pub mod status;
pub mod upgrade;
pub mod verify;
pub(crate) mod websocket;
