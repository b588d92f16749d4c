//! Renders leakhound results for people and for programs.
//!
//! One renderer per file behind the small [`Renderer`] trait (after hyperfine's exporters):
//! [`terminal`] for the human summary with sparklines and highlighted leak lines, [`json`] for
//! versioned machine-readable output. Renderers only format: they never compute verdicts.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io::{self, Write};

use leakhound_core::RunReport;

pub mod json;
pub mod sparkline;
pub mod style;
pub mod terminal;

pub use style::Style;

/// Something that writes a [`RunReport`] in one output format.
pub trait Renderer {
    /// Write `report` to `out`.
    fn render(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()>;
}
