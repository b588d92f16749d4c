//! The `leakhound-corpus` binary as a shell pipeline uses it.

use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_scorer_quietly() {
    // `bench/detect-bench.sh` reads the first line only (`score … | head -1`); the scorer's
    // later lines then met a closed pipe, and `print!` panicked ("failed printing to stdout").
    // Closing the read end before anything is written makes every write meet it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_leakhound-corpus"))
        .args([
            "score",
            "--seed",
            "3",
            "--n",
            "12",
            "--threads",
            "1",
            "--list",
            "all",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the corpus binary starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("it ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
