//! Developer tasks that are not part of the shipped tool (`cargo xtask <task>`).
//!
//! Each task lives in its own module; `main` only dispatches on the first argument.

use std::process::ExitCode;

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        None | Some("help") | Some("--help") => {
            println!("usage: cargo xtask <task>\n\ntasks:\n  help    this list");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown xtask `{other}` (see `cargo xtask help`)");
            ExitCode::from(2)
        }
    }
}
