//! The keywords naming the values of field-less enums (edition, tier, policy, architecture,
//! distribution family...). Each enum derives `clap::ValueEnum`, whose value names are the one
//! definition of its keywords: `--help`, the shell completions and text output (`Display`, through
//! [`write`]) all use them, and serde's `rename_all = "lowercase"` spells JSON the same way (the
//! test below pins the agreement).

use std::fmt;

/// Writes the keyword naming `value` (its `clap::ValueEnum` name), for `Display` impls.
pub fn write<T: clap::ValueEnum>(value: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value.to_possible_value() {
        Some(possible) => f.write_str(possible.get_name()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use crate::host::{Arch, Family, PackageManager, Support};

    /// `Display`, `--help` and JSON spell every value the same way.
    fn agree<T: ValueEnum + std::fmt::Display + serde::Serialize>() {
        for value in T::value_variants() {
            let keyword = value.to_string();
            assert_eq!(
                serde_json::to_string(value).unwrap(),
                format!("\"{keyword}\"")
            );
            assert!(T::from_str(&keyword, false).is_ok(), "{keyword}");
        }
    }

    #[test]
    fn display_json_and_command_line_agree() {
        agree::<Arch>();
        agree::<Family>();
        agree::<Support>();
        agree::<PackageManager>();
        agree::<crate::settings::Policy>();
        assert_eq!(PackageManager::Dnf.to_string(), "dnf");
        assert_eq!(crate::settings::Policy::Minor.to_string(), "minor");
        assert_eq!(crate::ops::docs::Tier::Certified.to_string(), "certified");
    }
}
