//! Tests of the corpus and of the detector scored on it. See: issue #4.

mod cli;
mod regression;
