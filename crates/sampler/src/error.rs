//! Errors of the sampler.
//!
//! Only failures that make a whole sample impossible are errors. A process that exits while it
//! is read is dropped from the sample, and a file we may not read is reported in
//! [`crate::TreeSample::unreadable`].

/// Why the sampler could not start or take a sample.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// The root PID does not exist (or has already exited).
    #[error("no process with PID {pid}")]
    NoSuchProcess {
        /// The PID asked for.
        pid: u32,
    },
    /// `/proc` itself (or the root's `stat`) could not be read: not mounted, not Linux, hidepid.
    #[error("failed to read {path}")]
    Proc {
        /// The path that failed.
        path: String,
        /// The system error.
        #[source]
        err: std::io::Error,
    },
}
