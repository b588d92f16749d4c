//! The agent's DWARF fallback (`LEAKHOUND_UNWIND=dwarf`): stacks through functions compiled
//! without frame pointers keep those functions and their callers. A control run with the
//! frame-pointer-only walker shows the program really loses a frame without it.

use leakhound_native::{AnalyzeOptions, HeapReport, SiteReport, analyze_profile, load_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs");
/// Rounds the program runs; each leaks 50 blocks on each of its two paths.
const ROUNDS: u64 = 80;

fn build(dir: &Path) -> PathBuf {
    let exe = dir.join("dwarf_fpless");
    let st = Command::new("gcc")
        .args(["-O2", "-g", "-fno-omit-frame-pointer", "-w", "-o"])
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join("dwarf_fpless.c"))
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc dwarf_fpless.c failed");
    exe
}

/// Runs the program under the agent with `LEAKHOUND_UNWIND=unwind`; returns its report.
fn run(exe: &Path, unwind: &str) -> HeapReport {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(exe)
        .args([ROUNDS.to_string().as_str(), "30"])
        .env(
            "LD_PRELOAD",
            leakhound_native::agent_path().expect("agent embedded"),
        )
        .env("LEAKHOUND_OUT", out.path())
        .env("LEAKHOUND_HEAP_INTERVAL_MS", "50")
        .env("LEAKHOUND_UNWIND", unwind)
        .output()
        .expect("program runs");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("leaked {} x 40 B and {} x 72 B\n", ROUNDS * 50, ROUNDS * 50)
    );
    let profiles = load_dir(out.path()).unwrap();
    assert_eq!(profiles.len(), 1);
    analyze_profile(&profiles[0], &AnalyzeOptions::default())
}

fn suspect<'a>(rep: &'a HeapReport, function: &str) -> &'a SiteReport {
    rep.suspects
        .iter()
        .find(|s| s.site.starts_with(&format!("{function} (")))
        .unwrap_or_else(|| {
            let all: Vec<(&str, &str, Vec<&str>)> = rep
                .sites
                .iter()
                .map(|s| (s.site.as_str(), s.verdict.reason.as_str(), functions(s)))
                .collect();
            panic!("{function} is not a suspect; sites: {all:?}")
        })
}

fn functions(s: &SiteReport) -> Vec<&str> {
    s.call_stack.iter().map(|f| f.function.as_str()).collect()
}

/// True when `chain` appears in `stack` as consecutive frames.
fn has_chain(stack: &[&str], chain: &[&str]) -> bool {
    stack.windows(chain.len()).any(|w| w == chain)
}

#[test]
fn dwarf_steps_keep_frames_without_frame_pointers_and_their_callers() {
    let work = tempfile::tempdir().unwrap();
    let exe = build(work.path());
    let rep = run(&exe, "dwarf");

    let a = suspect(&rep, "fpless_middle");
    assert_eq!(
        (a.live_blocks, a.live_bytes),
        (ROUNDS * 50, ROUNDS * 50 * 40)
    );
    let fa = functions(a);
    assert!(
        has_chain(&fa, &["fpless_middle", "leak_caller", "main"]),
        "{fa:?}"
    );

    let b = suspect(&rep, "fp_leaf");
    assert_eq!(
        (b.live_blocks, b.live_bytes),
        (ROUNDS * 50, ROUNDS * 50 * 72)
    );
    let fb = functions(b);
    assert!(
        has_chain(&fb, &["fp_leaf", "fpless_mid2", "outer_caller", "main"]),
        "{fb:?}"
    );
    // Every block of a site went through one stack: no split between walks.
    assert_eq!((a.stacks, b.stacks), (1, 1));
}

#[test]
fn the_frame_pointer_walk_alone_loses_the_callers_of_frame_pointer_less_functions() {
    let work = tempfile::tempdir().unwrap();
    let exe = build(work.path());
    let rep = run(&exe, "fp");
    let fa = functions(suspect(&rep, "fpless_middle"));
    assert!(!fa.contains(&"leak_caller"), "{fa:?}");
    let fb = functions(suspect(&rep, "fp_leaf"));
    assert!(has_chain(&fb, &["fp_leaf", "fpless_mid2"]), "{fb:?}");
    assert!(!fb.contains(&"outer_caller"), "{fb:?}");
}
