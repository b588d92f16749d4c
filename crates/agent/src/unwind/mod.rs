//! Stack capture for allocation sites.
//!
//! Only the frame-pointer walker exists so far; frames compiled without frame pointers end the
//! walk early (a DWARF fallback is future work).

pub mod fp;

/// Most frames recorded per allocation. Deep recursion beyond this is cut (the analyzer groups
/// by the innermost frames, so the cut never splits a site).
pub const MAX_FRAMES: usize = 64;
