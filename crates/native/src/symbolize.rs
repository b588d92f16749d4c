//! Return addresses -> functions, files and lines, through blazesym.
//!
//! Addresses are mapped to their module with the agent's module table (runtime range and load
//! bias), then symbolized per module as ELF virtual addresses, so this works after the process
//! is gone as long as the binaries are still on disk. Return addresses point after the call, so
//! `addr - 1` is looked up. Inlined frames are expanded innermost first; names are demangled.

use crate::load::Profile;
use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use rustc_hash::FxHashMap;

/// One source-level frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Frame {
    /// Demangled function name (`??` when unknown).
    pub function: String,
    /// Source file (full path when the debug info has it).
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
    /// Module (executable or library) path.
    pub module: String,
}

impl Frame {
    /// `function (file:line)`, with the file shortened to its last two components.
    pub fn display(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{} ({}:{l})", self.function, short_path(f)),
            (Some(f), None) => format!("{} ({})", self.function, short_path(f)),
            _ => format!("{} [{}]", self.function, short_path(&self.module)),
        }
    }
}

/// The last two components of a path.
pub fn short_path(p: &str) -> &str {
    let mut idx = p.len();
    for _ in 0..2 {
        match p[..idx].rfind('/') {
            Some(i) => idx = i,
            None => return p,
        }
    }
    &p[idx + 1..]
}

/// Address -> source frames (innermost first).
#[derive(Debug, Default)]
pub struct Symbols {
    map: FxHashMap<u64, Vec<Frame>>,
}

impl Symbols {
    /// Frames for a return address (a single unknown frame when it could not be resolved).
    pub fn frames(&self, addr: u64) -> &[Frame] {
        self.map.get(&addr).map_or(&[], Vec::as_slice)
    }

    /// Sets the frames of `addr` (tests build symbol tables by hand).
    #[cfg(test)]
    pub(crate) fn insert(&mut self, addr: u64, frames: Vec<Frame>) {
        self.map.insert(addr, frames);
    }
}

/// Symbolizes every address that appears in `profile`'s stacks.
pub fn symbolize(profile: &Profile) -> Symbols {
    let mut by_module: FxHashMap<usize, Vec<u64>> = FxHashMap::default();
    let mut unknown = Vec::new();
    let mut seen = rustc_hash::FxHashSet::default();
    for frames in profile.stacks.values() {
        for &a in frames {
            if !seen.insert(a) {
                continue;
            }
            match profile
                .modules
                .iter()
                .position(|m| m.start <= a && a < m.end)
            {
                Some(i) => by_module.entry(i).or_default().push(a),
                None => unknown.push(a),
            }
        }
    }
    let symbolizer = Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .enable_demangling(true)
        .build();
    let mut out = Symbols::default();
    for (mi, addrs) in by_module {
        let m = &profile.modules[mi];
        let offsets: Vec<u64> = addrs
            .iter()
            .map(|&a| a.wrapping_sub(m.base).wrapping_sub(1))
            .collect();
        let src = Source::Elf(Elf::new(&m.path));
        let results = symbolizer
            .symbolize(&src, Input::VirtOffset(&offsets))
            .unwrap_or_default();
        for (i, &a) in addrs.iter().enumerate() {
            let frames = match results.get(i) {
                Some(Symbolized::Sym(sym)) => {
                    let mut v = Vec::new();
                    let loc = |ci: Option<&blazesym::symbolize::CodeInfo<'_>>| {
                        ci.map(|c| (c.to_path().display().to_string(), c.line))
                    };
                    // blazesym reports the outer function's location in `sym.code_info` and,
                    // for each inlined callee (outermost first), the location inside it; so
                    // innermost first is the inlined list reversed, then the outer function.
                    for f in sym.inlined.iter().rev() {
                        let here = loc(f.code_info.as_ref());
                        v.push(Frame {
                            function: f.name.to_string(),
                            file: here.as_ref().map(|h| h.0.clone()),
                            line: here.as_ref().and_then(|h| h.1),
                            inlined: true,
                            module: m.path.clone(),
                        });
                    }
                    let here = loc(sym.code_info.as_deref());
                    v.push(Frame {
                        function: sym.name.to_string(),
                        file: here.as_ref().map(|h| h.0.clone()),
                        line: here.as_ref().and_then(|h| h.1),
                        inlined: false,
                        module: m.path.clone(),
                    });
                    v
                }
                _ => vec![unknown_frame(a, &m.path)],
            };
            out.map.insert(a, frames);
        }
    }
    for a in unknown {
        out.map.insert(a, vec![unknown_frame(a, "?")]);
    }
    out
}

fn unknown_frame(addr: u64, module: &str) -> Frame {
    Frame {
        function: format!("{addr:#x}"),
        file: None,
        line: None,
        inlined: false,
        module: module.to_owned(),
    }
}
