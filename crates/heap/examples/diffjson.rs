//! Compares snapshots and prints the diff as JSON, exactly like `leakhound diff --json --top 10`
//! but without the CLI: used to check that reader changes keep the output byte-identical
//! (`diff <(old/diffjson S1 S2 S3) <(new/diffjson S1 S2 S3)`).
//!
//! Usage: `cargo run --release -p leakhound-heap --example diffjson -- S1 S2 [S3 …]`

use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    match leakhound_heap::diff_snapshots(&paths, &leakhound_heap::DiffOptions { top: 10 }) {
        Ok(r) => match serde_json::to_writer_pretty(std::io::stdout().lock(), &r) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: failed to write JSON: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
