//! Cost benchmark (being written).
fn main() {}
