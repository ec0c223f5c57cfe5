//! How the core tells the outside about progress without printing: the CLI implements
//! [`Reporter`] with log lines or progress bars, tests use [`Silent`] or a recorder.

/// Progress and log events from long-running core operations.
pub trait Reporter {
    /// A step worth one log line, e.g. "downloading https://…".
    fn step(&self, message: &str);
    /// Something the user should know about that does not stop the operation.
    fn warn(&self, message: &str);
    /// A transfer of `total` bytes (if known) starts, `already` of them present from a resume.
    fn transfer_started(&self, label: &str, total: Option<u64>, already: u64);
    /// The transfer has reached `position` bytes.
    fn transfer_progress(&self, position: u64);
    /// The transfer ended (successfully or not).
    fn transfer_finished(&self);
}

/// A reporter that discards everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn step(&self, _message: &str) {}
    fn warn(&self, _message: &str) {}
    fn transfer_started(&self, _label: &str, _total: Option<u64>, _already: u64) {}
    fn transfer_progress(&self, _position: u64) {}
    fn transfer_finished(&self) {}
}
