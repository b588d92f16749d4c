//! The agent's DWARF fallback (`LEAKHOUND_UNWIND=dwarf`): stacks through functions compiled
//! without frame pointers keep those functions and their callers. A control run with the
//! frame-pointer-only walker shows the program really loses a frame without it.

use leakhound_native::{
    AnalyzeOptions, HeapReport, Profile, SiteReport, analyze_profile, load_dir,
    symbolize::symbolize,
};
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

/// Runs the program under the agent with `LEAKHOUND_UNWIND=unwind`; returns its report and
/// profile.
fn run(exe: &Path, unwind: &str) -> (HeapReport, Profile) {
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
    let mut profiles = load_dir(out.path()).unwrap();
    assert_eq!(profiles.len(), 1);
    let profile = profiles.pop().unwrap();
    (
        analyze_profile(&profile, &AnalyzeOptions::default()),
        profile,
    )
}

/// Live blocks at exit of the stacks whose functions contain `chain` consecutively.
fn live_blocks_through(profile: &Profile, chain: &[&str]) -> u64 {
    let syms = symbolize(profile);
    profile
        .last()
        .unwrap()
        .iter()
        .filter(|(id, _)| {
            let names: Vec<&str> = profile.stacks[id]
                .iter()
                .flat_map(|&a| syms.frames(a))
                .map(|f| f.function.as_str())
                .collect();
            has_chain(&names, chain)
        })
        .map(|(_, c)| c.live_blocks)
        .sum()
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
    let (rep, profile) = run(&exe, "dwarf");

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
        has_chain(&fb, &["fp_leaf", "fpless_mid2", "outer_caller", "main"])
            || has_chain(&fb, &["fp_leaf", "fpless_mid2", "outer_caller2", "main"]),
        "{fb:?}"
    );
    // One stack per path, each with exactly its own blocks: the two outer callers differ only
    // above the frame-pointer-less frame, so a tail reused without checking those words would
    // give one caller's blocks to the other.
    assert_eq!((a.stacks, b.stacks), (1, 2));
    for caller in ["outer_caller", "outer_caller2"] {
        assert_eq!(
            live_blocks_through(&profile, &["fp_leaf", "fpless_mid2", caller, "main"]),
            ROUNDS * 25,
            "{caller}"
        );
    }
}

#[test]
fn the_frame_pointer_walk_alone_loses_the_callers_of_frame_pointer_less_functions() {
    let work = tempfile::tempdir().unwrap();
    let exe = build(work.path());
    let (rep, _) = run(&exe, "fp");
    let fa = functions(suspect(&rep, "fpless_middle"));
    assert!(!fa.contains(&"leak_caller"), "{fa:?}");
    let fb = functions(suspect(&rep, "fp_leaf"));
    assert!(has_chain(&fb, &["fp_leaf", "fpless_mid2"]), "{fb:?}");
    assert!(!fb.contains(&"outer_caller"), "{fb:?}");
    assert!(!fb.contains(&"outer_caller2"), "{fb:?}");
}
