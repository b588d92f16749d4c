//! Reads one heap dump (V8 or HPROF), computes dominators and retained sizes, and prints the
//! largest retainers: the single-dump workload timed by `bench/hprof-bench.sh`.
//!
//! Usage: `cargo run --release -p leakhound-heap --example heapstat -- FILE`

use std::io::Write;
use std::process::ExitCode;

use leakhound_heap::{dominators, retained, v8};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: heapstat FILE");
        return ExitCode::from(2);
    };
    let g = match v8::read_path(path.as_ref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let d = dominators::compute(&g);
    let r = retained::compute(&g, &d);
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) ends the output quietly.
    let _ = writeln!(
        out,
        "{} nodes, {} edges, {} reachable, {} bytes reachable",
        g.node_count(),
        g.edge_count(),
        d.rpo.len(),
        r.first().copied().unwrap_or(0)
    );
    let mut top: Vec<u32> = d.rpo.iter().copied().filter(|&v| v != 0).collect();
    top.sort_by_key(|&v| std::cmp::Reverse(r[v as usize]));
    for &v in top.iter().take(5) {
        let _ = writeln!(
            out,
            "  {:>12} bytes retained by {}",
            r[v as usize],
            g.display_name(v)
        );
    }
    ExitCode::SUCCESS
}
