//! `leakhound`: find memory and resource leaks in services.
//!
//! A thin binary over the library crates: parse arguments, turn them into validated props, run
//! one command, and map the outcome to a documented exit code (see `leakhound_core::ExitCodes`).

#![forbid(unsafe_code)]

mod args;
mod commands;
mod errors;
mod orchestrate;
mod output;
mod props;
mod rundir;
mod samples_csv;

use std::process::ExitCode;

fn main() -> ExitCode {
    errors::exit_with(commands::dispatch())
}
