//! Fuzz target: arbitrary bytes through the v8 reader and the analysis after it; any panic is
//! a bug, errors are the expected outcome. See `leakhound_heap::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = leakhound_heap::fuzzing::v8(data);
});
