//! Analyzer for the native heap agent's output.
//!
//! Pipeline: [`load`] reads `<pid>.lhev` files (a truncated tail is normal input) and rebuilds
//! the stack and module tables and the per-stack counter timeline; [`symbolize`] turns return
//! addresses into functions, files and lines with blazesym (inlined frames, demangled names);
//! [`sites`] groups stacks into allocation sites (`--group-by`); [`analyze`] builds one
//! live-bytes series per site, runs the detector on it and ranks suspects by growth rate, with
//! a separate "still live at exit" list; [`render`] prints the terminal view; [`export`] writes
//! pprof and flame graph files; [`summary`] turns reports into the run report's heap section
//! and checks that the allocator was interposed at all.
//!
//! Not here: running the target (the CLI sets `LD_PRELOAD`) and the agent itself.

pub mod agent;
pub mod analyze;
pub mod export;
pub mod load;
pub mod render;
pub mod sites;
pub mod summary;
pub mod symbolize;

pub use agent::{AgentError, agent_path};
pub use analyze::{AnalyzeOptions, HeapReport, SiteReport, analyze_profile};
pub use load::{LoadError, Profile, load_dir, load_file};
pub use sites::GroupBy;
