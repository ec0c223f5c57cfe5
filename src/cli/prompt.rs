//! Questions asked on a terminal when `install` is run without the flags that answer them.
//! Without a terminal nothing is ever asked: a missing answer is a usage error naming the flag.

use std::io::IsTerminal;
use std::path::PathBuf;

use dialoguer::{Confirm, Input, Select};

use super::{CommandResult, UsageError};

/// Asks questions, or refuses to when there is no terminal (or `--yes` was given).
pub struct Asker {
    interactive: bool,
}

impl Asker {
    /// Interactive only when stdin and stderr are terminals and `--yes` was not given.
    pub fn new(yes: bool) -> Self {
        Asker {
            interactive: !yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// The flag's value, or the answer to `question`, or a usage error naming `flag`.
    pub fn text(&self, given: Option<String>, flag: &str, question: &str) -> CommandResult<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if !self.interactive {
            return Err(UsageError(format!(
                "{flag} is required when mm-install runs without a terminal (or with --yes)"
            ))
            .into());
        }
        Ok(Input::<String>::new()
            .with_prompt(question)
            .interact_text()?)
    }

    /// Choose one of `choices` (index), defaulting to the first without a terminal.
    pub fn choose(&self, question: &str, choices: &[&str]) -> CommandResult<usize> {
        if !self.interactive {
            return Ok(0);
        }
        Ok(Select::new()
            .with_prompt(question)
            .items(choices)
            .default(0)
            .interact()?)
    }

    /// A yes/no question, `default` without a terminal.
    pub fn confirm(&self, question: &str, default: bool) -> CommandResult<bool> {
        if !self.interactive {
            return Ok(default);
        }
        Ok(Confirm::new()
            .with_prompt(question)
            .default(default)
            .interact()?)
    }

    /// A path asked for on a terminal.
    pub fn path(&self, flag: &str, question: &str) -> CommandResult<PathBuf> {
        self.text(None, flag, question).map(PathBuf::from)
    }
}
