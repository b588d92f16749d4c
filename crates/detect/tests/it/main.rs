//! Integration tests of leakhound-detect: the issue-3 acceptance shapes, causality of the
//! online mode, and property tests of the public verdicts.

mod generic_column;
mod noise_free;
mod properties;
mod shapes;
