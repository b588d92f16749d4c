//! Allocation sites: how stacks are grouped into rows.
//!
//! The site of a stack is its first frame outside the allocator plumbing (libc, libstdc++'s
//! `operator new`, the agent, and Rust's standard library: `Vec`, `RawVec`, `Box`, `String`
//! and the global-allocator shims). Rust's liballoc is linked statically and its inlined frames
//! come back with bare names (`alloc`, `try_allocate_in<…>`, `from_elem<u8>`), so those frames
//! are recognised by their source file (`/rustc/<commit>/library/alloc/src/…`), not by name or
//! module. Grouping keys look only at
//! that frame (and, for `stack:N`, the N frames from it with recursion collapsed), so recursion
//! and middleware depth never split one leak into many rows.

use crate::symbolize::{Frame, Symbols};
use std::fmt;
use std::str::FromStr;

/// How stacks are grouped into sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Function and line of the allocating frame (default).
    #[default]
    Line,
    /// Function of the allocating frame.
    Function,
    /// The first N frames from the allocating frame, recursion collapsed.
    Stack(usize),
}

impl FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "line" => Ok(Self::Line),
            "function" => Ok(Self::Function),
            _ => match s.strip_prefix("stack:").map(str::parse::<usize>) {
                Some(Ok(n)) if n >= 1 => Ok(Self::Stack(n)),
                _ => Err(format!(
                    "invalid --group-by value {s:?}: expected function, line or stack:N (N >= 1)"
                )),
            },
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line => f.write_str("line"),
            Self::Function => f.write_str("function"),
            Self::Stack(n) => write!(f, "stack:{n}"),
        }
    }
}

/// Whether a frame belongs to allocation plumbing rather than the program's own code.
pub fn is_plumbing(f: &Frame) -> bool {
    let m = f.module.rsplit('/').next().unwrap_or("");
    if m.starts_with("libc.so")
        || m.starts_with("libstdc++")
        || m.starts_with("libgcc_s")
        || m.starts_with("ld-linux")
        || m.starts_with("libleakhound_agent")
    {
        return true;
    }
    // Inlined standard-library templates (std::vector, std::allocator ...) from the C++ headers,
    // and the Rust standard library's own source (inlined `Vec`/`RawVec`/`Box` layers).
    if f.file
        .as_deref()
        .is_some_and(|p| p.starts_with("/usr/include/c++/") || is_rust_std_source(p))
    {
        return true;
    }
    let n = f.function.as_str();
    n.starts_with("operator new")
        || n.starts_with("alloc::")
        || n.starts_with("<alloc::")
        || n.starts_with("__rust_")
        || n.starts_with("__rdl_")
        // rustc >= 1.9x mangles the default allocator shims as `__rustc::__rdl_alloc` etc.
        || n.starts_with("__rustc::")
        || n.starts_with("std::sys::alloc")
        || n.starts_with("std::alloc::")
        || n.starts_with("<std::alloc::")
        || n.starts_with("core::alloc::")
        || n.starts_with("xmalloc")
}

/// The standard-library crates whose code sits between a program and `malloc`.
const RUST_STD_CRATES: [&str; 3] = ["alloc", "core", "std"];

/// Whether `path` is a source file of Rust's standard library as rustc records it in debug info:
/// `/rustc/<commit>/library/{alloc,core,std}/src/…` (the remapped sysroot path of official
/// toolchains), `…/lib/rustlib/src/rust/library/…` (a `rust-src` sysroot) or
/// `library/{alloc,core,std}/src/…` relative to a rustc checkout, plus the standard library's
/// vendored dependencies (`/rust/deps/hashbrown-…/`, behind `HashMap`). A program's own
/// `src/alloc.rs` or a path that merely contains `library/` does not match.
pub fn is_rust_std_source(path: &str) -> bool {
    if path.starts_with("/rust/deps/") {
        return true;
    }
    let rest = if let Some(r) = path.strip_prefix("/rustc/") {
        // `<commit>/library/...`: the commit hash (or a version string) is one component.
        match r.split_once('/') {
            Some((_, r)) => r,
            None => return false,
        }
    } else if let Some(i) = path.find("/lib/rustlib/src/rust/") {
        &path[i + "/lib/rustlib/src/rust/".len()..]
    } else {
        path
    };
    let Some(rest) = rest.strip_prefix("library/") else {
        return false;
    };
    RUST_STD_CRATES
        .iter()
        .any(|c| rest.strip_prefix(c).is_some_and(|r| r.starts_with("/src/")))
}

/// The source frames of a stack, innermost first.
pub fn expand(frames: &[u64], syms: &Symbols) -> Vec<Frame> {
    frames
        .iter()
        .flat_map(|&a| syms.frames(a).iter().cloned())
        .collect()
}

/// Index of the allocating frame (first non-plumbing frame; 0 when all are plumbing).
pub fn site_index(frames: &[Frame]) -> usize {
    frames.iter().position(|f| !is_plumbing(f)).unwrap_or(0)
}

/// The grouping key of a stack and a human-readable site name.
pub fn site_key(frames: &[Frame], group: GroupBy) -> String {
    if frames.is_empty() {
        return "<unknown stack>".into();
    }
    let i = site_index(frames);
    let f = &frames[i];
    match group {
        GroupBy::Line => f.display(),
        GroupBy::Function => f.function.clone(),
        GroupBy::Stack(n) => {
            let mut parts: Vec<String> = Vec::new();
            let mut last_fn: Option<&str> = None;
            for fr in &frames[i..] {
                if last_fn == Some(fr.function.as_str()) {
                    continue; // recursion: one row however deep
                }
                last_fn = Some(&fr.function);
                parts.push(if parts.is_empty() {
                    fr.display()
                } else {
                    fr.function.clone()
                });
                if parts.len() == n {
                    break;
                }
            }
            parts.join(" <- ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(f: &str, line: u32, module: &str) -> Frame {
        Frame {
            function: f.into(),
            file: Some("/src/app/main.c".into()),
            line: Some(line),
            inlined: false,
            module: module.into(),
        }
    }

    #[test]
    fn recursion_depth_does_not_split_sites() {
        let base = vec![
            fr("malloc_wrapper_in_libc", 1, "/lib/libc.so.6"),
            fr("leaf", 10, "/app"),
        ];
        let mut a = base.clone();
        a.extend([
            fr("mid", 5, "/app"),
            fr("mid", 5, "/app"),
            fr("main", 1, "/app"),
        ]);
        let mut b = base.clone();
        b.extend([
            fr("mid", 5, "/app"),
            fr("mid", 5, "/app"),
            fr("mid", 5, "/app"),
            fr("main", 1, "/app"),
        ]);
        for g in [GroupBy::Line, GroupBy::Function, GroupBy::Stack(3)] {
            assert_eq!(site_key(&a, g), site_key(&b, g), "{g}");
        }
        assert_eq!(site_key(&a, GroupBy::Line), "leaf (app/main.c:10)");
        assert_eq!(
            site_key(&a, GroupBy::Stack(3)),
            "leaf (app/main.c:10) <- mid <- main"
        );
    }

    fn rs(f: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: f.into(),
            file: Some(file.into()),
            line: Some(line),
            inlined: true,
            module: "/work/target/release/server".into(),
        }
    }

    // See: audit "every Rust site is `alloc (src/alloc.rs:95)`". The frames are what blazesym
    // returns for `vec![0u8; n]` inlined into `resident` in lh-testserver (rustc 1.9x).
    #[test]
    fn inlined_liballoc_frames_with_bare_names_are_plumbing() {
        const STD: &str = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library";
        let frames = vec![
            fr("malloc", 1, "/lib/x86_64-linux-gnu/libc.so.6"),
            rs(
                "__rustc::__rdl_alloc",
                &format!("{STD}/std/src/alloc.rs"),
                1,
            ),
            rs("alloc", &format!("{STD}/alloc/src/alloc.rs"), 95),
            rs("allocate", &format!("{STD}/alloc/src/alloc.rs"), 429),
            rs(
                "try_allocate_in<alloc::alloc::Global>",
                &format!("{STD}/alloc/src/raw_vec/mod.rs"),
                464,
            ),
            rs(
                "from_elem<u8>",
                &format!("{STD}/alloc/src/vec/mod.rs"),
                3651,
            ),
            rs(
                "resident",
                "/work/crates/load/src/bin/lh-testserver.rs",
                129,
            ),
            rs(
                "{async_fn#0}",
                "/work/crates/load/src/bin/lh-testserver.rs",
                150,
            ),
        ];
        assert_eq!(
            site_key(&frames, GroupBy::Line),
            "resident (bin/lh-testserver.rs:129)"
        );
        assert_eq!(site_key(&frames, GroupBy::Function), "resident");
        // A program's own `src/alloc.rs` (or any user file) is never plumbing, whatever the
        // function is called, so user code that calls `Vec::push` keeps its own name.
        let user = vec![
            rs("push<u8>", &format!("{STD}/alloc/src/vec/mod.rs"), 2400),
            rs("alloc", "/home/me/app/src/alloc.rs", 7),
        ];
        assert_eq!(site_key(&user, GroupBy::Line), "alloc (src/alloc.rs:7)");
    }

    #[test]
    fn rust_std_source_paths() {
        for p in [
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src/alloc.rs",
            "/rustc/1.93.0/library/core/src/ptr/mod.rs",
            "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/std/src/io/mod.rs",
            "library/alloc/src/raw_vec/mod.rs",
            "/rust/deps/hashbrown-0.15.2/src/raw/mod.rs",
        ] {
            assert!(is_rust_std_source(p), "{p}");
        }
        for p in [
            "src/alloc.rs",
            "/home/me/app/src/alloc.rs",
            "/home/me/library/alloc/src/lib.rs",
            "library/allocator/src/lib.rs",
            "/rustc/abc",
            "/usr/include/c++/13/bits/stl_vector.h",
        ] {
            assert!(!is_rust_std_source(p), "{p}");
        }
    }

    #[test]
    fn group_by_parses_and_rejects() {
        assert_eq!("stack:4".parse::<GroupBy>(), Ok(GroupBy::Stack(4)));
        assert!("stack:0".parse::<GroupBy>().is_err());
        assert!(
            "file"
                .parse::<GroupBy>()
                .unwrap_err()
                .contains("function, line or stack:N")
        );
    }
}
