//! One engine for every operation's plan: the numbered list the CLI prints, and the runner that
//! carries the steps out as one journaled [`Transaction`], undoing them all when one fails.
//!
//! install, upgrade and rollback each describe their steps through [`Operation`]; the journal
//! entries, the crash checkpoints tests use ([`crate::environment::CRASH_AT`]) and the undo on
//! failure are the same for all of them.

use crate::context::Context;
use crate::journal::{JournalError, Keep, StepError, Transaction, Undo};
use crate::report::Reporter;

/// What an operation tells the engine about its steps, and how it runs one.
pub trait Operation {
    /// One step of the operation's plan.
    type Step;
    /// What a step (or the check after an undo) fails with.
    type Error: std::error::Error + From<JournalError> + 'static;

    /// The step's line in the plan, in the journal and in progress output.
    fn description(&self, step: &Self::Step) -> String;

    /// How to take the step back, journaled before it runs.
    fn undo(&self, step: &Self::Step) -> Undo;

    /// When the step starts the new server: what keeping it means, should the run be killed from
    /// here on (the server may write to the database).
    fn starts_server(&self, _step: &Self::Step) -> Option<Keep> {
        None
    }

    /// Carry the step out.
    fn run(&mut self, step: &Self::Step, reporter: &dyn Reporter) -> Result<(), Self::Error>;

    /// After every step up to and including the failed one (`ran`) was undone: check the world
    /// is back as it was.
    fn after_undo(
        &mut self,
        _ran: &[Self::Step],
        _reporter: &dyn Reporter,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The numbered step list the CLI prints under a plan's heading.
pub fn numbered(descriptions: impl IntoIterator<Item = String>) -> String {
    descriptions
        .into_iter()
        .enumerate()
        .map(|(number, description)| format!("  {:>2}. {description}\n", number + 1))
        .collect()
}

/// How a plan's run failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// Failed before the first step or after the last one (the journal): nothing was undone.
    Before(E),
    /// A step failed and everything was undone (and checked).
    RolledBack { step: String, cause: Box<E> },
    /// A step failed and undoing it failed too.
    Stuck {
        step: String,
        cause: Box<E>,
        undo: UndoFailure<E>,
    },
}

/// Why the undo after a failed step did not bring the world back.
#[derive(Debug)]
pub enum UndoFailure<E> {
    /// Undoing the journaled steps failed.
    Journal(JournalError),
    /// The undo ran but the operation's check afterwards ([`Operation::after_undo`]) failed.
    Check(E),
}

impl<E: std::error::Error + 'static> UndoFailure<E> {
    /// The failure with its causes, for a message.
    pub fn chain(&self) -> String {
        match self {
            UndoFailure::Journal(err) => crate::exit::Chain(err).to_string(),
            UndoFailure::Check(err) => crate::exit::Chain(err).to_string(),
        }
    }
}

/// Run `steps` as one transaction named `name`; on failure undo them and let the operation check.
pub fn run<O: Operation>(
    ctx: &Context,
    name: &str,
    steps: &[O::Step],
    operation: &mut O,
    reporter: &dyn Reporter,
) -> Result<(), Failure<O::Error>> {
    let mut transaction = Transaction::begin(ctx, name).map_err(|e| Failure::Before(e.into()))?;
    for (index, step) in steps.iter().enumerate() {
        let description = operation.description(step);
        let mut result = Ok(());
        if let Some(keep) = operation.starts_server(step) {
            result = transaction.server_starts(keep).map_err(StepError::Journal);
        }
        let undo = operation.undo(step);
        let result = result.and_then(|()| {
            transaction.step(reporter, &description, undo, || {
                crash_checkpoint(index + 1, &description);
                operation.run(step, reporter)
            })
        });
        if let Err(failure) = result {
            let cause = match failure {
                StepError::Step(err) => err,
                StepError::Journal(err) => err.into(),
            };
            reporter.warn(&format!(
                "{description}: {}; undoing",
                crate::exit::Chain(&cause)
            ));
            let undone = transaction
                .rollback(reporter)
                .map_err(UndoFailure::Journal)
                .and_then(|()| {
                    operation
                        .after_undo(&steps[..=index], reporter)
                        .map_err(UndoFailure::Check)
                });
            return Err(match undone {
                Ok(()) => Failure::RolledBack {
                    step: description,
                    cause: Box::new(cause),
                },
                Err(undo) => Failure::Stuck {
                    step: description,
                    cause: Box::new(cause),
                    undo,
                },
            });
        }
    }
    transaction.commit().map_err(|e| Failure::Before(e.into()))
}

/// Tests set [`crate::environment::CRASH_AT`] to a step's number in the printed plan, or to a
/// prefix of its description, to kill the process (like a power cut or `kill -9`) after the step
/// is journaled and before it runs.
fn crash_checkpoint(number: usize, description: &str) {
    if let Ok(checkpoint) = std::env::var(crate::environment::CRASH_AT) {
        if crashes_at(&checkpoint, number, description) {
            eprintln!(
                "mm-install: crashing on purpose before `{description}` (MM_INSTALL_CRASH_AT)"
            );
            std::process::abort();
        }
    }
}

/// Whether the checkpoint names step `number` (counted from 1) or starts its description.
fn crashes_at(checkpoint: &str, number: usize, description: &str) -> bool {
    match checkpoint.parse::<usize>() {
        Ok(wanted) => wanted == number,
        Err(_) => !checkpoint.is_empty() && description.starts_with(checkpoint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_right_aligns_two_digits() {
        let text = numbered((1..=10).map(|n| format!("step {n}")));
        assert!(text.starts_with("   1. step 1\n"), "{text}");
        assert!(text.ends_with("  10. step 10\n"), "{text}");
    }

    #[test]
    fn a_checkpoint_names_a_step_by_number_or_description_prefix() {
        assert!(crashes_at("3", 3, "stop mattermost.service"));
        assert!(!crashes_at("3", 4, "stop mattermost.service"));
        assert!(crashes_at("stop", 4, "stop mattermost.service"));
        assert!(!crashes_at("start", 4, "stop mattermost.service"));
        assert!(!crashes_at("", 4, "stop mattermost.service"));
    }
}
