//! Integration tests of leakhound-heap: hand-built snapshots with known dominators, truncation
//! at many offsets (never a panic), and a real Node service with a leak and three traps.

mod fuzz;
mod go_service;
mod go_two_paths;
mod java_service;
mod node_service;
mod order;
mod service;
mod synthetic;
