//! `cargo xtask gen-proto`: regenerates the prost code of the vendored Go pprof
//! `profile.proto` (STYLE.md rule 8: generated code is checked in and guarded by a test).
//!
//! The `.proto` is parsed by protox (pure Rust), so neither this task nor its guard test needs
//! `protoc`; prost-build then writes the Rust module. The guard test below regenerates into a
//! temporary directory and asserts the checked-in file is byte-identical. Not for decoding
//! profiles (see `leakhound_heap::pprof`).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Directory of the vendored `.proto`, relative to the workspace root.
const PROTO_DIR: &str = "crates/heap/proto";
/// The `.proto` file, relative to [`PROTO_DIR`].
const PROTO: &str = "profile.proto";
/// The checked-in generated module, relative to the workspace root.
const GENERATED: &str = "crates/heap/src/pprof/generated/perftools.profiles.rs";
/// Name prost-build gives the module of package `perftools.profiles`.
const OUT_NAME: &str = "perftools.profiles.rs";

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// Generates the module into `out_dir` and returns the path of the file written.
fn generate(root: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let include = root.join(PROTO_DIR);
    let fds = protox::compile([PROTO], [&include])
        .with_context(|| format!("failed to parse {}", include.join(PROTO).display()))?;
    prost_build::Config::new()
        .out_dir(out_dir)
        .compile_fds(fds)
        .context("failed to generate Rust code with prost-build")?;
    Ok(out_dir.join(OUT_NAME))
}

/// A fresh temporary directory under the system's temp dir.
fn scratch_dir(tag: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("leakhound-xtask-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(dir)
}

/// Regenerates the checked-in module; returns its path.
pub(crate) fn run() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let dir = scratch_dir("gen-proto")?;
    let fresh = generate(&root, &dir)?;
    let target = root.join(GENERATED);
    std::fs::copy(&fresh, &target)
        .with_context(|| format!("failed to write {}", target.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in code is exactly what `cargo xtask gen-proto` produces today.
    #[test]
    fn checked_in_pprof_code_matches_a_fresh_generation() {
        let root = workspace_root();
        let dir = scratch_dir("guard").unwrap();
        let fresh = std::fs::read(generate(&root, &dir).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let checked_in = std::fs::read(root.join(GENERATED)).unwrap();
        assert!(
            fresh == checked_in,
            "{GENERATED} is stale or edited by hand: run `cargo xtask gen-proto` and commit the result"
        );
    }
}
