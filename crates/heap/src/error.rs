//! Errors of the heap readers: every one names the file and, for malformed content, the byte
//! offset (in the decompressed stream) where reading stopped.

use std::path::PathBuf;

/// Failure to read or understand a heap dump.
#[derive(Debug, thiserror::Error)]
pub enum HeapError {
    /// The file could not be opened or read.
    #[error("failed to read {path}: {err}")]
    Io {
        /// The dump file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        err: std::io::Error,
    },
    /// The content is malformed or truncated.
    #[error("failed to parse {path} at byte offset {offset}{}: {what}", of_content(*.gzip))]
    Malformed {
        /// The dump file.
        path: PathBuf,
        /// Offset in the (decompressed) content.
        offset: u64,
        /// The file is gzip-compressed: the offset is of its decompressed content.
        gzip: bool,
        /// What was expected.
        what: String,
    },
    /// The content is a recognised dump format this build cannot read, or not a heap dump.
    #[error("failed to read {path}: {what}")]
    Format {
        /// The dump file.
        path: PathBuf,
        /// Which format was seen.
        what: String,
    },
    /// The snapshots cannot be compared (for example they come from different processes).
    #[error("failed to compare snapshots: {0}")]
    Incompatible(String),
}

fn of_content(gzip: bool) -> &'static str {
    if gzip {
        " of its decompressed content"
    } else {
        ""
    }
}

impl HeapError {
    /// The same error, saying that a malformed dump's offset is of its decompressed content
    /// when the file was gzip-compressed.
    pub(crate) fn in_gzip(self, gz: bool) -> HeapError {
        match self {
            HeapError::Malformed {
                path, offset, what, ..
            } => HeapError::Malformed {
                path,
                offset,
                gzip: gz,
                what,
            },
            e => e,
        }
    }
}
