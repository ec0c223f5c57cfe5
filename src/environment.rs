//! Every environment variable mm-install reads, declared and documented in one place (the
//! README's "Environment" section lists the same). The standard proxy variables (`HTTPS_PROXY`,
//! `NO_PROXY`, …) are read by the HTTP client and documented in `fetch::http`.

/// A system admin's token for `verify`, instead of `--admin-token` (which `ps` shows).
pub const ADMIN_TOKEN: &str = "MM_INSTALL_ADMIN_TOKEN";
/// The external database's URL for `install`, instead of `--database-url` (which `ps` shows).
pub const DATABASE_URL: &str = "MM_INSTALL_DATABASE_URL";
/// Base delay in milliseconds before the first retry of a failed request (doubled for each
/// further retry). Default 1000; tests lower it.
pub const RETRY_BASE_MS: &str = "MM_INSTALL_RETRY_BASE_MS";
/// Tests only: a step's number in the printed plan, or a prefix of its description, at which an
/// install, upgrade or rollback kills itself (like a power cut or `kill -9`) after the step is
/// journaled and before it runs.
pub const CRASH_AT: &str = "MM_INSTALL_CRASH_AT";
