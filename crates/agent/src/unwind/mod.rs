//! Stack capture for allocation sites.
//!
//! `fp` is the default frame-pointer walker: frames compiled without frame pointers end or skip
//! part of the walk. `dwarf` (opt-in, `LEAKHOUND_UNWIND=dwarf`) keeps the frame-pointer step for
//! functions that keep a frame pointer and takes a cached `.eh_frame` step for the others.

pub mod dwarf;
pub mod fp;

/// Most frames recorded per allocation. Deep recursion beyond this is cut (the analyzer groups
/// by the innermost frames, so the cut never splits a site).
pub const MAX_FRAMES: usize = 64;
