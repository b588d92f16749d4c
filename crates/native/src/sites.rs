//! Allocation sites: how stacks are grouped into rows.
//!
//! The site of a stack is its first frame outside the allocator plumbing (libc, libstdc++'s
//! `operator new`, Rust's `alloc::`/`RawVec` layers, the agent). Grouping keys look only at
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
    // Inlined standard-library templates (std::vector, std::allocator ...) from the C++ headers.
    if f.file
        .as_deref()
        .is_some_and(|p| p.starts_with("/usr/include/c++/"))
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
