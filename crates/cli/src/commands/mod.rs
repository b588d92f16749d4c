//! One module per command; [`dispatch`] parses the command line and runs one of them.
//!
//! Each command returns its exit code (`Ok(u8)`) or an error that `errors::exit_with` maps.

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
/// Parse the command line with clap's own colour (help, usage, errors) following `--color`
/// too: it is needed before the arguments are parsed, so it is looked up in them first.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut choice = clap::ColorChoice::Auto;
    for (i, a) in args.iter().enumerate() {
        let value = match a.to_str() {
            Some("--color") => args.get(i + 1).and_then(|v| v.to_str()),
            Some(s) => s.strip_prefix("--color="),
            None => None,
        };
        match value {
            Some("never") => choice = clap::ColorChoice::Never,
            Some("always") => choice = clap::ColorChoice::Always,
            _ => {}
        }
        if a == "--" {
            break;
        }
    }
    let matches = Cli::command().color(choice).get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

pub(crate) fn dispatch() -> anyhow::Result<u8> {
    let cli = parse_cli();
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
