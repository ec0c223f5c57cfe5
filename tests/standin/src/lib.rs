//! The pieces of the Mattermost stand-in, usable on their own: the binary (`main.rs`) wires them
//! into the server start-up, and the tests reuse the protocol code (HTTP, websocket frames).
//!
//! Adding REST endpoints: write a module under `api/` with a `routes()` function, list it in
//! [`api::routes`], and keep any state it needs in [`server::App`] (the in-memory data lives in
//! [`store::Store`], the config.json settings the API reads in [`settings::Settings`]).

#![forbid(unsafe_code)]

pub mod api;
pub mod clock;
pub mod config;
pub mod database;
pub mod db;
pub mod filestore;
pub mod http;
pub mod identity;
pub mod ids;
pub mod image;
pub mod logging;
pub mod migrations;
pub mod multipart;
pub mod notify;
pub mod router;
pub mod server;
pub mod settings;
pub mod signals;
pub mod store;
pub mod url;
pub mod websocket;
