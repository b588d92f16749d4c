//! Running things: the target child process, signal handling, and the sampling session that
//! ties the sampler, the run directory and the detector together.

pub(crate) mod child;
pub(crate) mod limits;
pub(crate) mod processes;
pub(crate) mod session;
pub(crate) mod signals;
