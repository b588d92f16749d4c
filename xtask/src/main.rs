//! Developer tasks that are not part of the shipped tool (`cargo xtask <task>`).
//!
//! Each task lives in its own module; `main` only dispatches on the first argument.

mod gen_proto;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  gen-proto   regenerate crates/heap/src/pprof/generated/ from crates/heap/proto/profile.proto
  help        this list";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        None | Some("help") | Some("--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("gen-proto") => match gen_proto::run() {
            Ok(path) => {
                println!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("error: unknown xtask `{other}` (see `cargo xtask help`)");
            ExitCode::from(2)
        }
    }
}
