//! Compiles the C shim that holds the agent's per-thread state in initial-exec TLS, and the
//! variadic `execl`/`execlp`/`execle` hooks (`csrc/exec.c`; Rust cannot define C-variadic functions).
//!
//! Rust cannot pick a TLS model on stable, and the general-dynamic model calls `__tls_get_addr`,
//! which may `malloc` (recursing into our hook). The shim's `__thread` block is reached with a
//! plain `%fs`-relative load.

#[expect(
    clippy::disallowed_macros,
    reason = "the build script runs in cargo, not in the traced process"
)]
fn main() {
    println!("cargo:rerun-if-changed=csrc/tls.c");
    println!("cargo:rerun-if-changed=csrc/exec.c");
    cc::Build::new()
        .file("csrc/tls.c")
        .file("csrc/exec.c")
        .flag("-ftls-model=initial-exec")
        .flag("-fno-omit-frame-pointer")
        .opt_level(2)
        .compile("leakhound_tls");
}
