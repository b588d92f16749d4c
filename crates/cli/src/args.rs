//! Command-line arguments (clap derive). Only this module and `props` know about clap.
//!
//! Shared flag groups are flattened into the commands that use them. Every command has an
//! example in its `--help` (`after_help`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::props::{
    LimitArg, parse_duration, parse_interval, parse_limit, parse_limit_arg, parse_threads,
};

/// Find memory and resource leaks in services, with statistics instead of eyeballing graphs.
#[derive(Debug, Parser)]
#[command(
    name = "leakhound",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "Examples:
  leakhound demo                                   # see a leak found and a fix confirmed (~90 s)
  leakhound run --duration 10m -- ./my-service --port 8080
  leakhound watch 4242 --duration 1h
  leakhound analyze memory.csv --online --limit 2GiB

Exit codes: 0 no leak, 1 leak found, 2 usage or input error, 3 inconclusive, 4 target failed.")]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// When to use colour in terminal output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub(crate) color: ColorChoice,
    /// Print only the result (no progress, no status lines).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start a command, sample its memory and resources, and judge whether it leaks.
    #[command(after_help = "Examples:
  leakhound run --duration 60s -- python3 server.py
  leakhound run --duration 10m --interval 2s --warmup 1m --out runs/today -- ./svc --port 8080
  leakhound run --json -- ./batch-job input.dat > verdict.json
  leakhound run --snapshots node --load http://127.0.0.1:8080/ --rate 200 -d 60s -- node app.js
  leakhound run --heap --duration 60s -- ./native-server --port 8080
  leakhound run --stop-on-leak --duration 2h -- ./svc --port 8080   # stop at the first leak alarm

Writes a run directory (default leakhound-runs/<timestamp>/) with samples.csv, run.json and
verdict.json. Ctrl-C stops the target and still writes the verdict of what was recorded.")]
    Run(Box<RunArgs>),
    /// Sample an already running process tree and judge whether it leaks.
    #[command(after_help = "Examples:
  leakhound watch 4242 --duration 30m
  leakhound watch $(pgrep -o nginx) --interval 5s     # Ctrl-C ends the watch and prints the verdict
  leakhound watch 4242 --stop-on-leak --interval 10s  # until the first leak alarm
  leakhound watch 4242 --stop-on-leak --alarm-after 1m  # a process long warm: alarms after 1 min")]
    Watch(WatchArgs),
    /// Judge time series from CSV files (t_seconds first, one series per further column).
    #[command(after_help = "Examples:
  leakhound analyze memory.csv
  leakhound analyze leakhound-runs/20261125T101500Z       # a run directory's samples.csv
  leakhound analyze --online --limit 2GiB --json a.csv b.csv   # JSON lines, one per series
  leakhound analyze --requests requests_total metrics.csv       # bytes retained per request
  leakhound analyze --online --load requests_total metrics.csv  # memory that follows load taken out
  leakhound analyze answer.json          # a Prometheus /api/v1/query_range answer, saved
  curl -s \"$PROM/api/v1/query_range?query=…\" | leakhound analyze -     # …or from standard input

CSV: a header line, first column t_seconds (float seconds, non-decreasing), further columns are
values (bytes or counts). Empty cells are missing samples. Also read as they are: Grafana's CSV
download (quoted Prometheus label sets, times in milliseconds since 1970 or as date-times, sizes
such as 1.02 GiB) and tab- or semicolon-separated files; see docs/analyze.md.")]
    Analyze(AnalyzeArgs),
    /// Compare heap snapshots of one process (V8 .heapsnapshot, Java HPROF, Go pprof; plain or
    /// .gz): what grows in every interval, who owns it, and the retainer path that keeps it alive.
    #[command(after_help = "Examples:
  leakhound diff s1.heapsnapshot s2.heapsnapshot s3.heapsnapshot
  leakhound diff --json --top 5 s1.heapsnapshot.gz s2.heapsnapshot.gz s3.heapsnapshot.gz
  leakhound diff d1.hprof d2.hprof d3.hprof
  leakhound diff heap1.pb.gz heap2.pb.gz heap3.pb.gz

With 3+ snapshots a type is a leak only if it grows in every interval; growth only in the first
interval is warm-up (caches filling, lazily built tables). Exit: 1 leak, 0 none, 3 cannot tell
(two snapshots), 2 bad input.")]
    Diff(DiffArgs),
    /// Take a heap snapshot of a running process: Node (inspector, PID or 127.0.0.1:PORT),
    /// Java (jcmd PID GC.heap_dump) or Go (pprof PORT: heap and goroutine profiles).
    #[command(after_help = "Examples:
  leakhound snapshot node 4242 -o s1.heapsnapshot
  leakhound snapshot java 4243 -o s1.hprof
  leakhound snapshot go 127.0.0.1:6060 -o heap1.pb.gz      # also writes heap1.pb.gz.goroutine.pb.gz
  leakhound snapshot node 4242 -o big.heapsnapshot --timeout 5m   # a heap of many GiB")]
    Snapshot(SnapshotArgs),
    /// Show a saved run again; re-judge it from samples.csv if leakhound was killed mid-run.
    #[command(after_help = "Examples:
  leakhound report leakhound-runs/20261125T101500Z
  leakhound report --json leakhound-runs/20261125T101500Z > verdict.json
  leakhound report RUN_DIR --pprof heap.pb.gz --flamegraph heap.svg   # a `run --heap` run")]
    Report(ReportArgs),
    /// Drive HTTP load at a URL: open model at --rate (latency from intended send times), or
    /// closed model with --concurrency.
    #[command(after_help = "Examples:
  leakhound load http://127.0.0.1:8080/ --rate 2000 --duration 10s
  leakhound load http://127.0.0.1:8080/api --rate 500 --arrivals poisson -d 5m --csv load.csv
  leakhound load http://127.0.0.1:8080/ --concurrency 64 --duration 30s        # like wrk -c64
  leakhound load http://127.0.0.1:8080/items --rate 100 -X POST --body @item.json
  leakhound load --scenario examples/cycles.toml http://127.0.0.1:8080/ --json

A JSON body usually wants -H 'Content-Type: application/json' as well.

Scenario files (TOML): weighted [[request]]s with {{seq}}/{{random}} placeholders and [[stage]]s
(constant, ramp, steps, cycles, idle); see docs/load.md.
Ctrl-C prints the summary of what was done.")]
    Load(LoadArgs),
    /// Run the built-in demo: a leaky service is caught, the fixed one passes (about 90 s).
    #[command(after_help = "Examples:
  leakhound demo
  leakhound demo --duration 60s --out /tmp/demo-runs")]
    Demo(DemoArgs),
    /// The demo's HTTP service (spawned by `leakhound demo`).
    #[command(hide = true)]
    DemoService(DemoServiceArgs),
}

/// How long and how often to sample, and where to write.
#[derive(Debug, Args)]
pub(crate) struct SamplingArgs {
    /// Stop after this long (e.g. 90s, 10m, 1h30m); default: until the target exits or Ctrl-C.
    #[arg(short, long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Time between samples (at least 10ms).
    #[arg(short, long, value_parser = parse_duration, default_value = "1s")]
    pub(crate) interval: Duration,
    /// Leave out this much start-up time from the verdict (samples are still recorded).
    #[arg(short, long, value_parser = parse_duration, default_value = "0s")]
    pub(crate) warmup: Duration,
    /// Memory limit for the time-to-limit estimate (e.g. 2GiB, 512MiB).
    #[arg(long, value_parser = parse_limit)]
    pub(crate) limit: Option<f64>,
    /// Run directory to write (default: leakhound-runs/<timestamp>).
    #[arg(short, long)]
    pub(crate) out: Option<PathBuf>,
    /// Print the verdict as JSON on stdout instead of the terminal summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Stop as soon as a series raises an online leak alarm, and judge what was recorded (exit
    /// 1). Alarms are the online verdicts of `analyze --online` (a leak whose evidence has
    /// persisted), printed as they are raised, with or without this flag.
    #[arg(long)]
    pub(crate) stop_on_leak: bool,
    /// Raise no online alarm before this much has been sampled after --warmup (default: 4m, since
    /// a starting process warms up in a line as steadily as a leak). Lower it when watching a
    /// process that was already warm.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) alarm_after: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) sampling: SamplingArgs,
    /// Time the target gets to exit after SIGTERM before it is killed.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub(crate) grace: Duration,
    #[command(flatten)]
    pub(crate) load: RunLoadArgs,
    #[command(flatten)]
    pub(crate) heap: HeapArgs,
    #[command(flatten)]
    pub(crate) snapshots: RunSnapshotArgs,
    /// The command to run, after `--`.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// Native heap tracing through the LD_PRELOAD agent (`run --heap`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Native heap agent (run --heap, see docs/heap.md)")]
pub(crate) struct HeapArgs {
    /// Trace the target's malloc/free per call site: `exact` (every allocation, the default) or
    /// `sampled[=BYTES]` (Poisson sampling by bytes, mean 512KiB); suspects are sites whose live
    /// bytes keep growing.
    #[arg(long, num_args = 0..=1, default_missing_value = "exact", value_name = "MODE")]
    pub(crate) heap: Option<String>,
    /// Time between the agent's heap snapshots (it also snapshots every 32 MiB allocated).
    #[arg(long, value_parser = parse_interval, default_value = "1s", requires = "heap")]
    pub(crate) heap_interval: Duration,
    /// How heap stacks are grouped into sites: function, line, or stack:N.
    #[arg(long, default_value = "line", value_name = "GROUP", requires = "heap")]
    pub(crate) group_by: String,
    /// Also log every allocation event to RUN_DIR/heap/<pid>.lhevents (large: grows with the
    /// number of allocations; the analysis does not need it).
    #[arg(long, requires = "heap")]
    pub(crate) heap_events: bool,
    /// Stack unwinding: `dwarf` (the default: frame pointers, falling back to cached .eh_frame
    /// rules for frames compiled without them) or `fp` (frame pointers only: a little faster,
    /// but a function built without frame pointers hides its caller).
    #[arg(
        long,
        value_enum,
        default_value = "dwarf",
        value_name = "HOW",
        requires = "heap"
    )]
    pub(crate) heap_unwind: HeapUnwind,
}

/// How the heap agent walks stacks (`run --heap-unwind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HeapUnwind {
    /// Frame pointers only.
    Fp,
    /// Frame pointers with a DWARF (.eh_frame) fallback for frames without them.
    Dwarf,
}

/// Heap snapshots between load phases (`run --snapshots`, see docs/snapshots.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "Heap snapshots (run --snapshots node|java|go --load …)")]
pub(crate) struct RunSnapshotArgs {
    /// Take a heap snapshot of the target before the load and after each load phase, diff
    /// them and add the findings to the report: node (inspector), java (jcmd), go (pprof).
    /// Needs --load or --scenario; a single constant load is cut into --snapshot-phases.
    #[arg(long, value_enum, value_name = "RUNTIME")]
    pub(crate) snapshots: Option<SnapshotKind>,
    /// Go: where net/http/pprof answers [default: the load target's http://HOST:PORT/debug/pprof].
    #[arg(long, value_name = "URL")]
    pub(crate) pprof_url: Option<String>,
    /// Pause without requests after each load phase, while its snapshot is taken [default: 3s,
    /// longer when the first snapshot takes more than a second].
    #[arg(long, value_parser = parse_duration)]
    pub(crate) snapshot_pause: Option<Duration>,
    /// Load phases at least (each ends with a snapshot); fewer stages are split equally.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) snapshot_phases: usize,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// PID of the process to watch (its descendants are included).
    pub(crate) pid: String,
    #[command(flatten)]
    pub(crate) sampling: SamplingArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// CSV files or saved Prometheus query results (JSON), plain or gzip-compressed; run
    /// directories (meaning their samples.csv); - for standard input.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Evaluate causally as samples arrive and report the first alarm: its time, and how far
    /// into the series it came.
    #[arg(long)]
    pub(crate) online: bool,
    /// With --online: raise no alarm before this much of a series has been seen after --warmup
    /// (default: 4m, since a starting process warms up in a line as steadily as a leak).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "online")]
    pub(crate) alarm_after: Option<Duration>,
    /// Limit for the time-to-limit estimate: a size (e.g. 2GiB) applies to memory series, a
    /// plain number (e.g. 1024) to every series in its own unit.
    #[arg(long, value_parser = parse_limit_arg)]
    pub(crate) limit: Option<LimitArg>,
    /// Leave out this much of the start of each series.
    #[arg(short, long, value_parser = parse_duration, default_value = "0s")]
    pub(crate) warmup: Duration,
    /// JSON lines on stdout: one object per series ("schema_version": 1).
    #[arg(long)]
    pub(crate) json: bool,
    /// Judge every other column against this column, a count of requests served so far (a
    /// counter such as http_requests_total), instead of against time: memory (or fds, …)
    /// retained per request. Memory that follows load and returns is then no leak, and a leak
    /// proportional to traffic is a straight line however bursty the load was. End of run only;
    /// no time to a --limit (the rate is per request, not per second).
    #[arg(long, value_name = "COLUMN", conflicts_with_all = ["online", "limit"])]
    pub(crate) requests: Option<String>,
    /// Take out what follows load before judging the other columns over time: COLUMN is a count
    /// of requests served so far (a counter such as http_requests_total). Memory held for work
    /// in flight (it rises with the request rate and falls back with it: a load ramp, a daily
    /// cycle) is fitted per req/s and removed when the load clearly explains it; what is left is
    /// judged as usual. Works with --online (fitted on the samples seen so far).
    #[arg(long, value_name = "COLUMN", conflicts_with = "requests")]
    pub(crate) load: Option<String>,
    /// No process restarted while the series were recorded: a large fall is memory given back,
    /// never a restart, so repeated falls are a collector's sawtooth rather than OOM-kill
    /// cycles. Without the flag, a `process_start_time_seconds` column in the file, or a run
    /// directory's processes.csv, says whether and when processes restarted.
    #[arg(long)]
    pub(crate) no_restarts: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Snapshots of one process, oldest first (format detected from content).
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub(crate) snapshots: Vec<PathBuf>,
    /// Print the report as JSON ("schema_version": 1).
    #[arg(long)]
    pub(crate) json: bool,
    /// Number of findings to show (leaks first; the verdict weighs them all).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) top: u32,
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// Runtime of the target.
    #[arg(value_enum)]
    pub(crate) kind: SnapshotKind,
    /// PID (node, java) or pprof port / 127.0.0.1:PORT (go; node's inspector too).
    pub(crate) target: String,
    /// Output file.
    #[arg(short, long)]
    pub(crate) out: PathBuf,
    /// Give up when the target sends nothing for this long (node, go; jcmd has its own
    /// timeouts). A large heap takes a while to collect and walk before its first byte.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SnapshotKind {
    Node,
    Java,
    Go,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Total time for both variants (split evenly; at least 30s).
    #[arg(short, long, value_parser = parse_duration, default_value = "80s")]
    pub(crate) duration: Duration,
    /// Requests per second sent to the demo service (1 to 20000).
    #[arg(long, default_value_t = 200)]
    pub(crate) rate: u32,
    /// Where to write the two run directories (default: leakhound-runs/).
    #[arg(short, long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoServiceArgs {
    /// `leaky` stores every request forever and leaks sockets; `fixed` does neither.
    #[arg(long, value_enum, default_value_t = DemoVariant::Leaky)]
    pub(crate) variant: DemoVariant,
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DemoVariant {
    Leaky,
    Fixed,
}

impl DemoVariant {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DemoVariant::Leaky => "leaky",
            DemoVariant::Fixed => "fixed",
        }
    }
}

/// What to send and how fast (shared by `load` and `run --load`).
#[derive(Debug, Args)]
pub(crate) struct LoadTargetArgs {
    /// Open model: requests per second (scheduled, independent of responses).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) rate: Option<f64>,
    /// Closed model: this many connections sending back to back (no --rate).
    #[arg(short = 'c', long)]
    pub(crate) concurrency: Option<usize>,
    /// Spacing of open-model arrivals.
    #[arg(long, value_enum)]
    pub(crate) arrivals: Option<ArrivalsArg>,
    /// At most this many requests outstanding (open model; one connection each, opened at the
    /// start) [default: 64].
    #[arg(long)]
    pub(crate) max_in_flight: Option<usize>,
    /// HTTP method.
    #[arg(short = 'X', long)]
    pub(crate) method: Option<String>,
    /// Extra header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,
    /// Request body, or @FILE to read it from a file.
    #[arg(long)]
    pub(crate) body: Option<String>,
    /// Scenario file (TOML): requests, stages, arrivals; the URL, --rate and --duration override it.
    #[arg(long, value_name = "FILE.toml")]
    pub(crate) scenario: Option<PathBuf>,
    /// A request without a full response after this long is a timeout error [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,
    /// Worker threads of the load driver [default: number of CPUs].
    #[arg(long, value_parser = parse_threads)]
    pub(crate) threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArrivalsArg {
    /// Evenly spaced.
    Constant,
    /// Poisson process (exponential gaps).
    Poisson,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Target URL, http://HOST:PORT/PATH (optional with a --scenario that names its target).
    pub(crate) url: Option<String>,
    #[command(flatten)]
    pub(crate) target: LoadTargetArgs,
    /// How long to send (e.g. 10s, 5m) [default: 10s, or the scenario's stages].
    #[arg(short, long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Write the per-second series (load.csv format) to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) csv: Option<PathBuf>,
    /// Print the summary as JSON ("schema_version": 1) instead of the terminal summary.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A run directory written by `run`, `watch` or `demo`.
    #[arg(value_name = "RUN_DIR")]
    pub(crate) run_dir: PathBuf,
    /// Print the report as JSON ("schema_version": 1) instead of the terminal summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write the native heap profile of a `run --heap` run as gzipped pprof (go tool pprof).
    #[arg(long, value_name = "FILE")]
    pub(crate) pprof: Option<PathBuf>,
    /// Write a flame graph SVG of the live heap bytes of a `run --heap` run.
    #[arg(long, value_name = "FILE")]
    pub(crate) flamegraph: Option<PathBuf>,
}

/// HTTP load driven during `run` (see `leakhound load`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Load (run --load URL | --scenario FILE)")]
pub(crate) struct RunLoadArgs {
    /// Drive HTTP load at this URL while sampling (needs --rate, or a --scenario).
    #[arg(long = "load", value_name = "URL")]
    pub(crate) url: Option<String>,
    /// Wait until this URL answers 2xx before load and sampling start [default: the load URL].
    #[arg(long, value_name = "URL")]
    pub(crate) ready: Option<String>,
    /// Longest wait for --ready; the run fails (exit 4) after it [default: 30s].
    #[arg(long, value_parser = crate::props::parse_positive_duration)]
    pub(crate) ready_timeout: Option<Duration>,
    #[command(flatten)]
    pub(crate) load: LoadTargetArgs,
}
