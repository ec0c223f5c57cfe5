//! The operations users run: [`install`] (and the [`health`] checks that prove it worked).

pub mod health;
pub mod install;
