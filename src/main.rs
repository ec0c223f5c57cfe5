//! The `mm-install` binary: everything lives in the library; this only hands over to the CLI.

fn main() -> std::process::ExitCode {
    mm_install::cli::main()
}
