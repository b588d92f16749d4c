//! `run --heap`: preload the native heap agent into the target and judge its per-site series.
//!
//! The agent comes embedded in the binary (`leakhound_native::agent_path` writes it to a cache
//! file). Each traced process writes `<pid>.lhev` into `<run dir>/heap/`; since the run
//! directory is created after the target starts, the agent first writes into a fresh temporary
//! directory and the files are moved into the run directory at the end.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use leakhound_core::{ExitCodes, NativeHeapRun, Series, Verdict};
use leakhound_native::export::{self, ExportError, ProcessHeap};
use leakhound_native::load::load_dir_each;
use leakhound_native::{AnalyzeOptions, GroupBy, Profile, analyze_profile, render, summary};

use crate::args::HeapArgs;
use crate::errors::ExpectedError;
use crate::output::Output;

/// A prepared heap-tracing setup.
pub(crate) struct HeapSetup {
    tmp: PathBuf,
    pub(crate) env: Vec<(OsString, OsString)>,
    group_by: GroupBy,
}

impl HeapSetup {
    /// Once the run directory exists: `RUN_DIR/heap` points at the directory the agent writes
    /// into (made before the target started, so before the run directory), so a run whose
    /// leakhound is killed still has its heap data where `report` looks. [`conclude`] replaces
    /// the link with the files themselves.
    pub(crate) fn link_into(&self, run_dir: &Path) {
        let link = run_dir.join("heap");
        if let Err(e) = std::os::unix::fs::symlink(&self.tmp, &link) {
            eprintln!(
                "warning: could not link {} to {}: {e}; a killed run keeps its heap data only there",
                link.display(),
                self.tmp.display()
            );
        }
    }
}

impl Drop for HeapSetup {
    /// A run that ends before [`conclude`] (the target never became ready) leaves no directory
    /// in the temp dir; after `conclude` it is gone already.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Why the dynamic loader will not preload the agent into `program` (as `run` would start
/// it: a bare name is looked up in `PATH`), if it can tell: a statically linked executable
/// (no `PT_INTERP`: there is no loader to read `LD_PRELOAD`), or a setuid/setgid one whose
/// owner is not the running user (secure-execution mode: glibc's loader ignores `LD_PRELOAD`
/// paths with slashes). Scripts, and programs it cannot read, are given the benefit of the doubt:
/// the run then says so afterwards if the agent wrote nothing.
pub(crate) fn preload_blocker(program: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let path = if program.contains('/') {
        Some(PathBuf::from(program))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
    }?;
    let meta = std::fs::metadata(&path).ok()?;
    let mode = meta.mode();
    let shown = path.display();
    if mode & 0o4000 != 0 && meta.uid() != rustix::process::geteuid().as_raw() {
        return Some(format!(
            "{shown} is setuid (owner uid {}): the loader ignores LD_PRELOAD for it",
            meta.uid()
        ));
    }
    if mode & 0o2000 != 0 && meta.gid() != rustix::process::getegid().as_raw() {
        return Some(format!(
            "{shown} is setgid (group {}): the loader ignores LD_PRELOAD for it",
            meta.gid()
        ));
    }
    // The ELF header and program headers sit at the start of the file: 64 KiB hold them in
    // any executable a linker writes, without reading a binary of hundreds of MB.
    let mut head = Vec::with_capacity(1 << 16);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(&path).ok()?, 1 << 16),
        &mut head,
    )
    .ok()?;
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = object::elf::FileHeader64::<object::Endianness>::parse(&*head).ok()?;
    let endian = header.endian().ok()?;
    let interp = header
        .program_headers(endian, &*head)
        .ok()?
        .iter()
        .any(|ph| ph.p_type(endian) == object::elf::PT_INTERP);
    (!interp).then(|| {
        format!(
            "{shown} is statically linked: no dynamic loader reads LD_PRELOAD for it (build it \
             dynamically linked, or leave out --heap)"
        )
    })
}

/// Validates `--heap*` and builds the environment for the child; `None` without `--heap`.
pub(crate) fn prepare(args: &HeapArgs) -> anyhow::Result<Option<HeapSetup>> {
    let Some(mode) = args.heap.as_deref() else {
        return Ok(None);
    };
    let group_by: GroupBy = args.group_by.parse().map_err(ExpectedError::usage)?;
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    match mode {
        "exact" => env.push(("LEAKHOUND_HEAP_MODE".into(), "exact".into())),
        "sampled" => env.push(("LEAKHOUND_HEAP_MODE".into(), "sampled".into())),
        m => match m.strip_prefix("sampled=") {
            Some(b) => {
                let bytes = b
                    .parse::<bytesize::ByteSize>()
                    .ok()
                    .map(|s| s.as_u64())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        ExpectedError::usage(format!(
                            "invalid --heap value {m:?}: expected sampled=BYTES (e.g. sampled=512KiB)"
                        ))
                    })?;
                env.push(("LEAKHOUND_HEAP_SAMPLE".into(), bytes.to_string().into()));
            }
            None => {
                return Err(ExpectedError::usage(format!(
                    "invalid --heap value {m:?}: expected exact, sampled or sampled=BYTES"
                )));
            }
        },
    }
    env.push((
        "LEAKHOUND_UNWIND".into(),
        match args.heap_unwind {
            crate::args::HeapUnwind::Fp => "fp",
            crate::args::HeapUnwind::Dwarf => "dwarf",
        }
        .into(),
    ));
    if args.heap_events {
        env.push(("LEAKHOUND_EVENT_LOG".into(), "1".into()));
    }
    let ms = args.heap_interval.as_millis().max(10);
    env.push(("LEAKHOUND_HEAP_INTERVAL_MS".into(), ms.to_string().into()));
    // A LEAKHOUND_AGENT that names no file is the user's setting, not a bug.
    let agent = leakhound_native::agent_path().map_err(|e| match e {
        leakhound_native::AgentError::Missing(_) => ExpectedError::usage(e.to_string()),
        other => anyhow::Error::from(other),
    })?;
    let tmp = std::env::temp_dir().join(format!(
        "leakhound-heap-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&tmp)
        .map_err(|e| anyhow::anyhow!("failed to create {}: {e}", tmp.display()))?;
    env.push(("LEAKHOUND_OUT".into(), tmp.clone().into()));
    let mut preload = agent.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    env.push(("LD_PRELOAD".into(), preload));
    Ok(Some(HeapSetup { tmp, env, group_by }))
}

/// The heap analysis of a run: the run report's `heap` section and the terminal text.
pub(crate) struct HeapOutcome {
    pub(crate) run: NativeHeapRun,
    text: String,
}

impl HeapOutcome {
    /// Folds the heap verdict into the run's exit code `code` the way
    /// [`leakhound_core::RunReport::fold_verdict`] folds the verdicts (a heap leak turns "no
    /// leak" or "inconclusive" into 1; a heap that could not be judged turns "no leak" into 3; a
    /// failed target stays 4) and, unless `json`, prints the heap report and an overall line.
    pub(crate) fn finish(&self, code: u8, json: bool) -> u8 {
        let memory = match code {
            ExitCodes::OK => Some(Verdict::NoLeak),
            ExitCodes::LEAK => Some(Verdict::Leak),
            ExitCodes::INCONCLUSIVE => Some(Verdict::Inconclusive),
            _ => None,
        };
        let exit = match memory {
            Some(m) => Verdict::combine([m, self.run.verdict]).exit_code(),
            None => code,
        };
        if json {
            return exit;
        }
        print!("{}", self.text);
        let memory = match code {
            ExitCodes::LEAK => "leak",
            ExitCodes::OK => "no leak",
            ExitCodes::INCONCLUSIVE => "inconclusive",
            ExitCodes::TARGET_FAILED => "target failed",
            _ => "error",
        };
        let overall = match exit {
            ExitCodes::LEAK => "LEAK",
            ExitCodes::OK => "no leak",
            ExitCodes::INCONCLUSIVE => "inconclusive",
            ExitCodes::TARGET_FAILED => "target failed",
            _ => "error",
        };
        let suspects: Vec<&str> = self
            .run
            .processes
            .iter()
            .flat_map(|p| p.suspects.iter().map(|s| s.site.as_str()))
            .collect();
        let detail = match suspects.as_slice() {
            [] => String::new(),
            [one] => format!("; 1 suspect: {one}"),
            [first, rest @ ..] => format!("; {} suspects, first: {first}", rest.len() + 1),
        };
        println!(
            "overall: {overall} (memory: {memory}, heap: {}{detail}) · exit {exit}",
            self.run.verdict.words()
        );
        exit
    }
}

/// Moves the agent files into `<run_dir>/heap` and analyzes them; `data` is the run's sampled
/// series (its `anon_bytes` feeds the "allocator not interposed" check).
pub(crate) fn conclude(
    setup: &HeapSetup,
    run_dir: &Path,
    data: &[Series],
) -> anyhow::Result<HeapOutcome> {
    let dest = run_dir.join("heap");
    // The link made by `HeapSetup::link_into` gives way to the files themselves.
    if dest.is_symlink() {
        let _ = std::fs::remove_file(&dest);
    }
    std::fs::create_dir_all(&dest)
        .map_err(|e| anyhow::anyhow!("failed to create {}: {e}", dest.display()))?;
    if let Ok(rd) = std::fs::read_dir(&setup.tmp) {
        for e in rd.flatten() {
            let to = dest.join(e.file_name());
            if std::fs::rename(e.path(), &to).is_err() {
                std::fs::copy(e.path(), &to).map_err(|err| {
                    anyhow::anyhow!("failed to copy {}: {err}", e.path().display())
                })?;
            }
        }
    }
    let _ = std::fs::remove_dir(&setup.tmp);
    analyze_dir(&dest, setup.group_by, data)
}

/// Analyzes every agent file in `dir`, writes `dir/heap.json` (the full per-process reports)
/// and returns the run report's heap section with its terminal text.
pub(crate) fn analyze_dir(
    dir: &Path,
    group_by: GroupBy,
    data: &[Series],
) -> anyhow::Result<HeapOutcome> {
    let mut warnings = Vec::new();
    let mut profiles = Vec::new();
    let files = load_dir_each(dir).map_err(|e| ExpectedError::usage(error_chain(&e)))?;
    for f in files {
        match f {
            Ok(p) => profiles.push(p),
            // One unreadable file (not an agent file, a foreign writer) must not hide the rest.
            Err(e) => warnings.push(format!("skipped: {}", error_chain(&e))),
        }
    }
    let opts = AnalyzeOptions {
        group_by,
        ..AnalyzeOptions::default()
    };
    let mut all = Vec::new();
    let mut text = String::new();
    // Processes that only exec'd through (a shell, env) record nothing worth showing.
    let shown: Vec<&Profile> = profiles
        .iter()
        .filter(|p| p.stacks.len() > 1 || p.snapshots.len() > 1)
        .collect();
    // A process with a single snapshot has no timeline: a forked child that exec'd or exited
    // within one interval (its snapshot holds the blocks it inherited from its parent). With
    // processes that have timelines, those are judged and these only counted; alone, they are
    // all there is.
    let (timed, brief): (Vec<&Profile>, Vec<&Profile>) =
        shown.iter().partition(|p| p.snapshots.len() > 1);
    let judged = if timed.is_empty() { &brief } else { &timed };
    for p in judged {
        let r = analyze_profile(p, &opts);
        text.push_str(&render::render_terminal(&r));
        all.push(r);
    }
    if !timed.is_empty() && !brief.is_empty() {
        let mut pids: Vec<String> = brief.iter().map(|p| p.pid.to_string()).collect();
        pids.dedup();
        let more = pids.len().saturating_sub(8);
        pids.truncate(8);
        text.push_str(&format!(
            "{} short-lived process image{} (pid {}{}) had a single heap snapshot: children that \
             exec'd or exited within one --heap-interval, not judged (their files are in {})\n",
            brief.len(),
            if brief.len() == 1 { "" } else { "s" },
            pids.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            dir.display()
        ));
    }
    if all.is_empty() {
        warnings.push(format!(
            "the heap agent wrote no data into {} (a statically linked or setuid program started by \
             the target, or a custom allocator?)",
            dir.display()
        ));
    }
    if let Some(anon) = data.iter().find(|s| s.name == ANON_SERIES) {
        let hooked = summary::hooked_growth(&profiles);
        warnings.extend(summary::interposition_warning(
            summary::anon_growth(anon),
            hooked,
        ));
    }
    for w in &warnings {
        text.push_str(&format!("heap warning: {w}\n"));
    }
    let run = summary::run_summary(&all, warnings);
    let json = serde_json::to_string_pretty(&all)?;
    std::fs::write(dir.join("heap.json"), &json)
        .map_err(|e| anyhow::anyhow!("failed to write {}: {e}", dir.join("heap.json").display()))?;
    Ok(HeapOutcome { run, text })
}

/// The sampled series compared with the hooked live bytes.
const ANON_SERIES: &str = "anon_bytes";

/// Where `RUN_DIR/heap` links when the link's target is gone: a `run --heap` whose leakhound was
/// killed leaves a link to the agent's directory in the temp dir, which may be cleaned since.
pub(crate) fn dangling_heap_link(run_dir: &Path) -> Option<PathBuf> {
    let link = run_dir.join("heap");
    let target = std::fs::read_link(&link).ok()?;
    (!link.exists()).then_some(target)
}

/// `report RUN_DIR --pprof FILE --flamegraph FILE`: exports the heap data of a `run --heap` run.
/// Every failure (no heap data, unwritable file) is a usage error (exit 2).
pub(crate) fn export(
    run_dir: &Path,
    pprof: Option<&Path>,
    flamegraph: Option<&Path>,
    out: &Output,
) -> anyhow::Result<()> {
    if pprof.is_none() && flamegraph.is_none() {
        return Ok(());
    }
    let dir = run_dir.join("heap");
    if let Some(gone) = dangling_heap_link(run_dir) {
        return Err(ExpectedError::usage(format!(
            "{}'s heap data is gone: heap/ links to {}, which no longer exists (the agent wrote \
             there while leakhound ran; it was killed before moving the files, and the temp dir \
             was cleaned since)",
            run_dir.display(),
            gone.display()
        )));
    }
    if !dir.is_dir() {
        return Err(ExpectedError::usage(format!(
            "{} has no heap data (heap/ is missing): --pprof and --flamegraph need a run made with `run --heap`",
            run_dir.display()
        )));
    }
    let mut profiles = Vec::new();
    for f in load_dir_each(&dir).map_err(|e| ExpectedError::usage(error_chain(&e)))? {
        match f {
            Ok(p) => profiles.push(p),
            Err(e) => eprintln!("leakhound: skipped: {}", error_chain(&e)),
        }
    }
    let procs: Vec<ProcessHeap<'_>> = profiles
        .iter()
        .filter(|p| !p.stacks.is_empty())
        .map(ProcessHeap::new)
        .collect();
    let fail = |e: ExportError| match e {
        ExportError::Empty => ExpectedError::usage(format!(
            "{}: the heap agent recorded no allocation stacks; nothing to export",
            dir.display()
        )),
        e => ExpectedError::usage(e.to_string()),
    };
    if let Some(path) = pprof {
        export::pprof::write(&procs, path).map_err(fail)?;
        out.status(&format!(
            "leakhound: heap profile (pprof) written to {}",
            path.display()
        ));
    }
    if let Some(path) = flamegraph {
        export::flamegraph::write(&procs, path).map_err(fail)?;
        out.status(&format!(
            "leakhound: heap flame graph written to {}",
            path.display()
        ));
    }
    Ok(())
}

/// `err: cause: cause` in one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
