//! Errors the user can act on, and the mapping of every outcome to an exit code.
//!
//! Commands return `anyhow::Result<u8>`: `Ok(code)` for a finished command (0/1/3/4 from the
//! verdict and the target), `Err` for anything that stopped it. An [`ExpectedError`] anywhere in
//! the chain picks the exit code; a broken pipe (`leakhound … | head`) is success; anything else
//! is an internal error, printed with its whole context chain.

use std::io;
use std::process::ExitCode;

use leakhound_core::ExitCodes;

/// An error caused by the user's input or the target, not by a bug in leakhound.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpectedError {
    /// Bad arguments, bad input file, unknown PID, command not found: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The target failed to start or crashed in a way that makes the run meaningless: exit 4.
    #[error("{0}")]
    TargetFailed(String),
}

impl ExpectedError {
    pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
        ExpectedError::Usage(msg.into()).into()
    }

    pub(crate) fn target_failed(msg: impl Into<String>) -> anyhow::Error {
        ExpectedError::TargetFailed(msg.into()).into()
    }

    fn exit_code(&self) -> u8 {
        match self {
            ExpectedError::Usage(_) => ExitCodes::USAGE,
            ExpectedError::TargetFailed(_) => ExitCodes::TARGET_FAILED,
        }
    }
}

/// Print the error (if any) and turn the outcome into the process exit code.
pub(crate) fn exit_with(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            if let Some(expected) = err.downcast_ref::<ExpectedError>() {
                eprintln!("error: {expected}");
                return ExitCode::from(expected.exit_code());
            }
            eprintln!("error: {err:#}");
            eprintln!(
                "(this is a bug in leakhound; please report it with the command line you used)"
            );
            ExitCode::from(ExitCodes::INTERNAL)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
