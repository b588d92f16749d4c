//! Builds the heap agent (`leakhound-agent`, a cdylib) and embeds it in this crate.
//!
//! `cargo run --release -- run --heap ...` from a fresh clone must find the agent without a
//! separate build step. A nested `cargo build --release` of `crates/agent` runs into its own
//! target directory under `OUT_DIR` (so it never waits on the outer build's lock), with the
//! outer build's `CARGO_*`/`RUSTFLAGS` variables removed (they describe this crate's build, not
//! the agent's). The resulting `.so` is copied to `OUT_DIR/libleakhound_agent.so` and included
//! with `include_bytes!`; `agent::agent_path()` writes it to a cache file at run time. The agent
//! is always built in release mode: it runs inside the traced program.
//! If the nested build fails, an empty file is embedded and `agent_path()` reports the failure.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let agent_dir = manifest_dir.join("../agent");
    let format_dir = manifest_dir.join("../agent-format");
    for p in [
        agent_dir.join("src"),
        agent_dir.join("csrc"),
        agent_dir.join("build.rs"),
        agent_dir.join("Cargo.toml"),
        format_dir.join("src"),
        format_dir.join("Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-env-changed=LEAKHOUND_SKIP_AGENT_BUILD");
    let dest = out_dir.join("libleakhound_agent.so");
    let target_dir = out_dir.join("agent-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(agent_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let leaks_in = (k.starts_with("CARGO_") && k != "CARGO_HOME")
            || matches!(
                k.as_str(),
                "RUSTFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTC_LINKER"
            );
        if leaks_in {
            cmd.env_remove(k);
        }
    }
    let skip = std::env::var_os("LEAKHOUND_SKIP_AGENT_BUILD").is_some();
    let built = !skip
        && cmd.status().is_ok_and(|s| s.success())
        && std::fs::copy(target_dir.join("release/libleakhound_agent.so"), &dest).is_ok();
    if !built {
        println!("cargo:warning=leakhound-agent was not built; `run --heap` will report it");
        std::fs::write(&dest, b"").expect("OUT_DIR is writable");
    }
}
