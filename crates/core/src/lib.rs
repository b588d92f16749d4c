//! Shared domain vocabulary of leakhound.
//!
//! Every other crate speaks in these types: units and their human formatting, time series,
//! the metrics the sampler records, per-series verdicts, the run report, typed warnings and the
//! documented exit codes. This crate does no I/O and knows nothing about the CLI, `/proc` or
//! statistics; it only defines what those parts exchange, and reads the tables of time series
//! they exchange as text ([`table`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod exit_code;
pub mod heap_diff;
pub mod load;
pub mod metrics;
pub mod native_heap;
pub mod prom_json;
pub mod report;
pub mod series;
pub mod table;
pub mod units;
pub mod verdict;
pub mod warnings;

pub use exit_code::ExitCodes;
pub use heap_diff::{HeapDiffRun, SnapshotTaken};
pub use load::LoadSummary;
pub use metrics::Metric;
pub use native_heap::NativeHeapRun;
pub use report::{OnlineAlarm, ProcessChange, RunInfo, RunReport, SCHEMA_VERSION, TargetOutcome};
pub use series::{Series, SeriesError};
pub use table::{Table, TableError, TimeKind, parse_table};
pub use units::{Unit, format_bytes, format_quantity, format_rate, format_rate_like};
pub use verdict::{SeriesVerdict, Verdict};
pub use warnings::Warning;
