//! Torture tests of the heap agent (agent-notes.md's list): termination by signals and every exit
//! path, exec, heavy thread churn, longjmp, allocation in TLS destructors, dlclose, anonymous
//! mmap, and a Rust target. Each runs a real program under the embedded agent and checks that
//! the program behaves exactly as without the agent (exit status, output) and that the agent's
//! file is readable with the expected counts.

use leakhound_native::{
    AnalyzeOptions, HeapReport, Profile, SiteReport, analyze_profile, load_dir,
};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs");

fn gcc(dir: &Path, src: &str, out: &str, extra: &[&str]) -> PathBuf {
    let exe = dir.join(out);
    let st = Command::new("gcc")
        .args(["-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-w"])
        .args(extra)
        .arg("-o")
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join(src))
        .arg("-ldl")
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc {src} failed");
    exe
}

fn torture(dir: &Path) -> PathBuf {
    gcc(dir, "torture_targets.c", "torture_targets", &[])
}

fn traced(exe: &Path, out: &Path, interval_ms: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env(
        "LD_PRELOAD",
        leakhound_native::agent_path().expect("agent embedded"),
    )
    .env("LEAKHOUND_OUT", out)
    .env("LEAKHOUND_HEAP_INTERVAL_MS", interval_ms);
    cmd
}

fn reports(profiles: &[Profile]) -> Vec<HeapReport> {
    profiles
        .iter()
        .map(|p| analyze_profile(p, &AnalyzeOptions::default()))
        .collect()
}

fn site<'a>(sites: &'a [SiteReport], function: &str) -> Option<&'a SiteReport> {
    sites
        .iter()
        .find(|s| s.site.starts_with(&format!("{function} (")))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

/// Time of the profile's last snapshot, ns since the epoch.
fn last_snapshot_ns(p: &Profile) -> u64 {
    p.config.start_ns + (p.times.last().copied().unwrap_or(0.0) * 1e9) as u64
}

/// The result of [`run_and_signal`].
struct Signalled {
    /// Holds the program: symbolization reads it.
    _work: tempfile::TempDir,
    status: ExitStatus,
    /// Last count the program printed before the signal.
    printed: u64,
    /// When the signal was sent, ns since the epoch.
    kill_ns: u64,
    profile: Profile,
}

/// Runs `mode` for 1.5 s, then sends `sig`.
fn run_and_signal(mode: &str, sig: i32) -> Signalled {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let out = tempfile::tempdir().unwrap();
    // A long interval: without a final snapshot the last one would be up to 1 s before the kill.
    let mut cmd = traced(&exe, out.path(), "1000");
    cmd.arg(mode).stdout(Stdio::piped());
    // The test is about a signal at its default action. A harness started in the background by
    // a non-interactive shell (`cargo test &`, nohup) hands SIGINT down ignored, and the agent
    // rightly leaves an ignored signal alone, so the child starts with the default again.
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires, and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            libc_signal(sig, SIG_DFL);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill_ns = now_ns();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc_kill(child.id() as i32, sig) }, 0);
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut profiles = load_dir(out.path()).unwrap();
    assert_eq!(profiles.len(), 1);
    Signalled {
        _work: work,
        status: output.status,
        printed,
        kill_ns,
        profile: profiles.remove(0),
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
    #[link_name = "signal"]
    fn libc_signal(sig: i32, handler: usize) -> usize;
}

/// `SIG_DFL` on Linux.
const SIG_DFL: usize = 0;

const SIGINT: i32 = 2;
const SIGABRT: i32 = 6;
const SIGSEGV: i32 = 11;
const SIGTERM: i32 = 15;

#[test]
fn sigterm_and_sigint_write_a_final_snapshot_and_the_end_record() {
    for sig in [SIGTERM, SIGINT] {
        let Signalled {
            _work,
            status,
            printed,
            kill_ns,
            profile: p,
        } = run_and_signal("term", sig);
        assert_eq!(
            status.signal(),
            Some(sig),
            "dies by the same signal: {status:?}"
        );
        assert!(p.at_exit, "end record after signal {sig}");
        assert!(p.truncated_at.is_none());
        let last = last_snapshot_ns(&p);
        assert!(
            last >= kill_ns && last - kill_ns < 500_000_000,
            "final snapshot {} ms after the kill",
            (last as i64 - kill_ns as i64) / 1_000_000
        );
        let rep = &reports(std::slice::from_ref(&p))[0];
        let leak = site(&rep.live_at_exit, "term_leak").unwrap_or_else(|| {
            panic!(
                "leak site at exit: {:?}",
                rep.live_at_exit.iter().map(|s| &s.site).collect::<Vec<_>>()
            )
        });
        assert!(printed >= 500, "program ran: {printed}");
        assert!(
            leak.live_blocks >= printed && leak.live_blocks < printed + 100,
            "final count {} vs {printed} printed before the kill",
            leak.live_blocks
        );
        assert_eq!(leak.live_bytes, leak.live_blocks * 100);
    }
}

#[test]
fn the_programs_own_sigterm_handler_still_runs_and_its_exit_is_recorded() {
    let r = run_and_signal("own-handler", SIGTERM);
    assert_eq!(r.status.code(), Some(3), "{:?}", r.status);
    assert!(r.profile.at_exit);
    let rep = &reports(std::slice::from_ref(&r.profile))[0];
    let leak = site(&rep.live_at_exit, "term_leak").unwrap();
    assert!(leak.live_blocks >= r.printed);
    let r = run_and_signal("own-handler-exit", SIGTERM);
    assert_eq!(r.status.code(), Some(4), "{:?}", r.status);
    assert!(
        r.profile.at_exit,
        "_exit from the handler writes the end record"
    );
}

#[test]
fn abort_and_segfault_die_by_their_signal_with_complete_data() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    for (mode, sig) in [("abort", SIGABRT), ("segv", SIGSEGV)] {
        let plain = Command::new(&exe).arg(mode).output().unwrap();
        let out = tempfile::tempdir().unwrap();
        let o = traced(&exe, out.path(), "50").arg(mode).output().unwrap();
        assert_eq!(o.status.signal(), Some(sig), "{mode}: {:?}", o.status);
        assert_eq!(o.status.signal(), plain.status.signal());
        let profiles = load_dir(out.path()).unwrap();
        assert!(profiles[0].at_exit, "{mode}: end record");
        let rep = &reports(&profiles)[0];
        let leak = site(&rep.live_at_exit, "term_leak").unwrap();
        assert_eq!((leak.live_blocks, leak.live_bytes), (500, 50_000), "{mode}");
    }
}

#[test]
fn exit_underscore_exit_underscore_capital_exit_and_quick_exit_keep_status_and_write_the_end() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    for (mode, code) in [("exit", 5), ("_exit", 6), ("_Exit", 7), ("quick_exit", 8)] {
        let out = tempfile::tempdir().unwrap();
        let o: Output = traced(&exe, out.path(), "50").arg(mode).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{mode}");
        let profiles = load_dir(out.path()).unwrap();
        assert!(profiles[0].at_exit, "{mode}");
        let rep = &reports(&profiles)[0];
        let leak = site(&rep.live_at_exit, "exit_leak").expect(mode);
        assert_eq!(
            (leak.live_blocks, leak.live_bytes),
            (250, 250 * 40),
            "{mode}"
        );
    }
}

#[test]
fn anonymous_mmaps_are_sites_and_partial_munmap_trims_or_splits() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let out = tempfile::tempdir().unwrap();
    let o = traced(&exe, out.path(), "50").arg("mmap").output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");
    let profiles = load_dir(out.path()).unwrap();
    let rep = &reports(&profiles)[0];
    let names: Vec<&str> = rep.sites.iter().map(|s| s.site.as_str()).collect();
    let why: Vec<(&str, &str)> = rep
        .sites
        .iter()
        .map(|s| (s.site.as_str(), s.verdict.reason.as_str()))
        .collect();
    let top = rep
        .suspects
        .first()
        .unwrap_or_else(|| panic!("{} snapshots: {why:?}", rep.snapshots));
    assert!(top.site.starts_with("mmap_leak ("), "{}", top.site);
    assert_eq!((top.live_blocks, top.live_bytes), (300, 300 * 65536));
    let at_exit = |f: &str| {
        site(&rep.live_at_exit, f)
            .map(|s| (s.live_blocks, s.live_bytes))
            .unwrap_or_else(|| panic!("{f} missing: {names:?}"))
    };
    assert_eq!(at_exit("mmap_split"), (2, 2 * 4096), "middle page unmapped");
    assert_eq!(at_exit("mmap_trim"), (1, 3 * 4096), "head page unmapped");
    assert_eq!(at_exit("mremap_grow"), (1, 4 * 4096), "moved with its site");
    assert_eq!(
        at_exit("fixed_first"),
        (2, 2 * 4096),
        "MAP_FIXED replaced the middle"
    );
    assert_eq!(at_exit("fixed_second"), (1, 2 * 4096));
    let churn = site(&rep.sites, "mmap_churn").expect("churn site");
    assert_eq!((churn.live_bytes, churn.total_allocs), (0, 300));
    assert!(
        site(&rep.sites, "not_heap").is_none(),
        "file, shared and PROT_NONE mappings are not heap: {names:?}"
    );
}

/// Runs `args` on the torture program (or `exe`) under the agent; asserts the same exit status
/// and stdout as a plain run and returns the profiles.
fn same_as_plain(exe: &Path, args: &[&str]) -> (Vec<Profile>, tempfile::TempDir) {
    let plain = Command::new(exe).args(args).output().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = traced(exe, out.path(), "50")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a hang under the agent fails the test instead of blocking the suite.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?} hangs under the agent");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), plain.status.code(), "{args:?}: {o:?}");
    assert!(o.status.success(), "{args:?}: {o:?}");
    assert_eq!(o.stdout, plain.stdout, "{args:?}");
    (load_dir(out.path()).unwrap(), out)
}

fn live(rep: &HeapReport, function: &str) -> (u64, u64) {
    site(&rep.live_at_exit, function)
        .map(|s| (s.live_blocks, s.live_bytes))
        .unwrap_or_else(|| {
            let names: Vec<&str> = rep.live_at_exit.iter().map(|s| s.site.as_str()).collect();
            panic!("{function} not live at exit: {names:?}")
        })
}

#[test]
fn exec_writes_the_old_images_end_and_the_new_image_gets_its_own_file() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["exec"]);
    assert_eq!(profiles.len(), 2, "one file per image");
    assert_eq!(profiles[0].pid, profiles[1].pid, "exec keeps the pid");
    assert!(
        profiles
            .iter()
            .all(|p| p.at_exit && p.truncated_at.is_none())
    );
    let reps = reports(&profiles);
    let before = reps
        .iter()
        .find(|r| site(&r.live_at_exit, "before_exec_leak").is_some())
        .expect("the image before exec");
    // 100 before a failed exec, 10 after it (tracing went on), then the exec.
    assert_eq!(live(before, "before_exec_leak"), (110, 110 * 24));
    let after = reps
        .iter()
        .find(|r| site(&r.live_at_exit, "after_exec_leak").is_some())
        .expect("the exec'd image");
    assert_eq!(live(after, "after_exec_leak"), (70, 70 * 56));
    assert!(site(&after.sites, "before_exec_leak").is_none());
}

#[test]
fn a_daemon_closing_its_descriptors_never_gets_the_agents_records_in_its_own_files() {
    // The agent's file is the daemon's to close; once closed, its number is free for the
    // program's own files, which the agent must never write to: it opens its file again.
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let log = work.path().join("app.log");
    let (profiles, _out) = same_as_plain(&exe, &["daemon-fds", log.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "log opened as fd 3\ntick 0\ntick 50\ntick 100\ntick 150\n",
        "the program's log holds only its own lines"
    );
    assert_eq!(profiles.len(), 1);
    assert!(profiles[0].at_exit && profiles[0].truncated_at.is_none());
    let rep = &reports(&profiles)[0];
    assert!(rep.complete);
    assert_eq!(live(rep, "daemon_leak"), (200, 200 * 40));
}

#[test]
fn thousands_of_short_threads() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["threads"]);
    let rep = &reports(&profiles)[0];
    assert!(rep.complete);
    assert_eq!(rep.dropped, 0);
    assert_eq!(live(rep, "thread_churn_leak"), (4000, 4000 * 48));
    let churn: u64 = rep
        .sites
        .iter()
        .filter(|s| s.site.starts_with("churn_thread ("))
        .map(|s| s.total_allocs)
        .sum();
    assert_eq!(churn, 4000 * 8, "every thread's allocations seen");
}

#[test]
fn longjmp_through_frames_and_out_of_signal_handlers() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["longjmp"]);
    let rep = &reports(&profiles)[0];
    assert_eq!(live(rep, "jmp_leak"), (500, 500 * 72));
    assert_eq!(live(rep, "sig_jmp_leak"), (300, 300 * 60));
    assert_eq!(live(rep, "timer_jmp_leak"), (200, 200 * 88));
    let held = site(&rep.sites, "dive").expect("block held across the jump");
    assert_eq!((held.live_bytes, held.total_allocs), (0, 500));
}

#[test]
fn allocation_in_pthread_key_and_cxx_thread_local_destructors() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["tls-dtor"]);
    let rep = &reports(&profiles)[0];
    assert_eq!(live(rep, "tls_dtor_leak"), (64, 64 * 64));
    let key_blocks = site(&rep.sites, "key_thread").expect("key values");
    assert_eq!((key_blocks.live_bytes, key_blocks.total_allocs), (0, 64));

    let cxx = work.path().join("torture_tls");
    let st = Command::new("g++")
        .args(["-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-o"])
        .arg(&cxx)
        .arg(Path::new(PROGRAMS).join("torture_tls.cpp"))
        .status()
        .unwrap();
    assert!(st.success());
    let (profiles, _out) = same_as_plain(&cxx, &[]);
    let rep = &reports(&profiles)[0];
    assert_eq!(live(rep, "Holder::~Holder()"), (64, 64 * 77));
}

#[test]
fn dlclose_of_a_module_that_allocated_keeps_its_frames_symbolizable() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let module = work.path().join("torture_mod.so");
    let st = Command::new("gcc")
        .args([
            "-O2",
            "-g",
            "-fno-omit-frame-pointer",
            "-shared",
            "-fPIC",
            "-o",
        ])
        .arg(&module)
        .arg(Path::new(PROGRAMS).join("torture_mod.c"))
        .status()
        .unwrap();
    assert!(st.success());
    let module = module.to_str().unwrap();
    // The module is opened, used and closed well before the first periodic snapshot (1 s).
    let plain = Command::new(&exe)
        .args(["dlclose", module])
        .output()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = traced(&exe, out.path(), "1000")
        .args(["dlclose", module])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), plain.status.code());
    assert_eq!(o.stdout, b"ok\n");
    let profiles = load_dir(out.path()).unwrap();
    assert!(
        profiles[0]
            .modules
            .iter()
            .any(|m| m.path.ends_with("torture_mod.so")),
        "module map has the closed module"
    );
    let rep = &reports(&profiles)[0];
    assert_eq!(live(rep, "mod_alloc"), (300, 300 * 111));
}

#[test]
fn rust_target_leaking_through_the_system_allocator_names_the_rust_function() {
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("torture_rust");
    let st = Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=2",
            "-C",
            "force-frame-pointers=yes",
            "-g",
            "-o",
        ])
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join("torture_rust.rs"))
        .status()
        .expect("rustc runs");
    assert!(st.success(), "rustc failed");
    let (profiles, _out) = same_as_plain(&exe, &[]);
    let rep = &reports(&profiles)[0];
    let why: Vec<(&str, &str)> = rep
        .sites
        .iter()
        .map(|s| (s.site.as_str(), s.verdict.reason.as_str()))
        .collect();
    let top = rep
        .suspects
        .first()
        .unwrap_or_else(|| panic!("{} snapshots: {why:?}", rep.snapshots));
    // Demangled, with its module path.
    assert!(
        top.site
            .starts_with("torture_rust::sessions::remember_session ("),
        "{}",
        top.site
    );
    assert_eq!((top.live_blocks, top.live_bytes), (2000, 2000 * 160));
    assert_eq!(
        rep.suspects.len(),
        1,
        "the bounded cache is not a suspect: {why:?}"
    );
    // Over-aligned boxes (posix_memalign underneath) land on the function, not on std's shims.
    assert_eq!(live(rep, "torture_rust::keep_pages"), (10, 10 * 4096));
}

#[test]
fn full_event_log_replays_to_the_snapshot_counts() {
    use leakhound_agent_format::events::{EventKind, read_events};
    use std::collections::HashMap;
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let out = tempfile::tempdir().unwrap();
    // Thousands of threads allocate and free concurrently: every event must arrive once.
    let o = traced(&exe, out.path(), "50")
        .arg("threads")
        .env("LEAKHOUND_EVENT_LOG", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let profiles = load_dir(out.path()).unwrap();
    assert_eq!(profiles.len(), 1);
    let p = &profiles[0];
    let events_path = p.path.with_extension("lhevents");
    let log = read_events(&std::fs::read(&events_path).unwrap()).unwrap();
    assert_eq!(log.pid, p.pid);
    assert_eq!(log.truncated_at, None);
    assert!(
        log.events.iter().all(|e| e.kind != EventKind::Dropped),
        "nothing dropped"
    );
    // Replay: every free matches a live block; what stays live equals the final snapshot.
    let mut live: HashMap<u64, (u64, u32)> = HashMap::new();
    let mut allocs_per_stack: HashMap<u32, u64> = HashMap::new();
    for e in &log.events {
        match e.kind {
            EventKind::Alloc => {
                assert!(live.insert(e.addr, (e.size, e.stack)).is_none(), "{e:?}");
                *allocs_per_stack.entry(e.stack).or_default() += 1;
            }
            EventKind::Free => {
                assert_eq!(live.remove(&e.addr), Some((e.size, e.stack)), "{e:?}");
            }
            _ => {}
        }
    }
    let last = p.last().expect("a snapshot");
    for (stack, c) in last {
        assert_eq!(
            allocs_per_stack.get(stack).copied().unwrap_or(0),
            c.total_allocs,
            "stack {stack}"
        );
        let (blocks, bytes) = live
            .values()
            .filter(|(_, s)| s == stack)
            .fold((0, 0), |(n, b), (sz, _)| (n + 1, b + sz));
        assert_eq!(
            (blocks, bytes),
            (c.live_blocks, c.live_bytes),
            "stack {stack}"
        );
    }
    assert!(log.events.len() > 4000 * 17, "{}", log.events.len());
}

#[test]
fn vfork_and_posix_spawn_children_get_their_own_files_and_leave_the_parents_alone() {
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["spawn"]);
    assert_eq!(profiles.len(), 3, "parent + two children");
    assert!(
        profiles
            .iter()
            .all(|p| p.at_exit && p.truncated_at.is_none())
    );
    let reps = reports(&profiles);
    let parents: Vec<&HeapReport> = reps
        .iter()
        .filter(|r| site(&r.sites, "spawner_leak").is_some())
        .collect();
    assert_eq!(parents.len(), 1, "only the parent has its sites");
    // Blocks from before and after the children ran: the vfork child's exec did not end the
    // parent's file.
    assert_eq!(live(parents[0], "spawner_leak"), (60, 60 * 36));
    let children: Vec<&HeapReport> = reps
        .iter()
        .filter(|r| site(&r.live_at_exit, "after_exec_leak").is_some())
        .collect();
    assert_eq!(children.len(), 2);
    for c in children {
        assert_eq!(live(c, "after_exec_leak"), (70, 70 * 56));
    }
}

#[test]
fn first_allocation_inside_pthread_getattr_np_does_not_deadlock() {
    // The JVM calls pthread_getattr_np at every thread start; it holds the thread's descriptor
    // lock while it reallocs, so the agent must not call it from the hook (it did: java hung).
    let work = tempfile::tempdir().unwrap();
    let exe = torture(work.path());
    let (profiles, _out) = same_as_plain(&exe, &["getattr"]);
    let rep = &reports(&profiles)[0];
    assert_eq!(live(rep, "getattr_leak"), (8, 8 * 44));
}
