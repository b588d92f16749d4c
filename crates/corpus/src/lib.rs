//! The labelled corpus and the scorer of leakhound's leak detector (issue 4).
//!
//! `gen` makes deterministic, labelled synthetic series (healthy and leaking memory and resource
//! families); `score` runs the detector on them (in process, or the real `leakhound analyze`
//! binary via `files`) and computes recall, false-positive rate, precision, time to detect,
//! growth at detection and premature alarms, per family and per mode; `baseline` scores the
//! usual alert rules and the textbook trend test on the same series; `calibrate` checks how
//! well an inconclusive verdict's "need about N more" holds; `monotone` checks that a leak made
//! stronger is never judged less of a leak. Not a library for users:
//! `publish = false`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod baseline;
pub mod calibrate;
pub mod families;
pub mod files;
pub mod monotone;
pub mod rng;
pub mod score;

pub use families::{Class, Item, generate, generate_one};
pub use score::{Mode, Outcome, Report, evaluate_library, summarize};
