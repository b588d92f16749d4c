//! Process exit codes, documented in one place.
//!
//! The CLI maps every outcome to one of these; the README and `docs/` quote this list. Scripts
//! and CI gates rely on them, so a change here is a breaking change.

/// Namespace for leakhound's exit codes (never instantiated).
pub enum ExitCodes {}

impl ExitCodes {
    /// No leak verdict; all checks passed.
    pub const OK: u8 = 0;
    /// At least one series (or heap site, or snapshot type) produced a leak verdict.
    pub const LEAK: u8 = 1;
    /// Invalid arguments, configuration or input file.
    pub const USAGE: u8 = 2;
    /// Not enough data for a verdict (too short, too few samples after warm-up).
    pub const INCONCLUSIVE: u8 = 3;
    /// The target failed to start, exited with an error or crashed before the run finished.
    pub const TARGET_FAILED: u8 = 4;
    /// An internal error in leakhound itself (a bug: please report it).
    pub const INTERNAL: u8 = 101;
}
