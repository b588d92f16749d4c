//! Printing a finished run: terminal summary or JSON on stdout.

use std::io::Write;

use leakhound_core::RunReport;
use leakhound_report::Renderer;
use leakhound_report::json::JsonRenderer;
use leakhound_report::terminal::TerminalRenderer;

use crate::output::Output;

/// Print `report` as JSON (`json`) or as the terminal summary.
pub(crate) fn print_report(report: &RunReport, json: bool, out: &Output) -> anyhow::Result<()> {
    let mut lock = crate::output::stdout();
    if json {
        JsonRenderer.render(report, &mut lock)?;
    } else {
        TerminalRenderer { style: out.style }.render(report, &mut lock)?;
    }
    lock.flush()?;
    Ok(())
}
