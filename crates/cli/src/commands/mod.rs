//! One module per command; [`dispatch`] parses the command line and runs one of them.
//!
//! Each command returns its exit code (`Ok(u8)`) or an error that `errors::exit_with` maps.

use clap::Parser;

use crate::args::{Cli, Command};
use crate::output::Output;

mod analyze;
mod demo;
mod demo_service;
mod diff;
mod heap_native;
pub(crate) mod load;
mod present;
mod report;
mod run;
mod run_snapshots;
mod snapshot;
mod watch;

/// Parse arguments and run the chosen command.
pub(crate) fn dispatch() -> anyhow::Result<u8> {
    let cli = Cli::parse();
    let out = Output::from_args(&cli.global);
    match &cli.command {
        Command::Run(a) => run::run(a, &out),
        Command::Watch(a) => watch::run(a, &out),
        Command::Analyze(a) => analyze::run(a, &out),
        Command::Report(a) => report::run(a, &out),
        Command::Diff(a) => diff::run(a, &out),
        Command::Snapshot(a) => snapshot::run(a, &out),
        Command::Load(a) => load::run(a, &out),
        Command::Demo(a) => demo::run(a, &out),
        Command::DemoService(a) => demo_service::run(a),
    }
}
