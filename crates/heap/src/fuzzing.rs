//! Entry points for fuzzers: each feeds arbitrary bytes through one reader and the analysis
//! that follows it (dominators, retained sizes, retainer paths, labels, locations), so that
//! any panic or hang on malformed input shows up. Used by the cargo-fuzz targets in `fuzz/`
//! (nightly) and by the stable mutation test of this crate (`tests/it/fuzz.rs`).
//!
//! Errors are the expected outcome for most inputs and are returned, never panicked on.
//! Not for reading files (see [`crate::v8::read_path`]).

use std::io::Cursor;
use std::path::Path;

use crate::error::HeapError;
use crate::graph::HeapGraph;
use crate::v8::ReadOptions;
use crate::{DumpFormat, dominators, pprof, retained, v8};

/// Name of the input in error messages.
const INPUT: &str = "<fuzz input>";

/// V8 `.heapsnapshot` bytes (plain or gzip) through the V8 reader and the graph analysis.
pub fn v8(data: &[u8]) -> Result<(), HeapError> {
    let path = Path::new(INPUT);
    let (format, reader) = v8::open_reader(Cursor::new(data.to_vec()), path)?;
    if format != DumpFormat::V8 {
        return Ok(());
    }
    analyse(&v8::read(reader, path)?);
    // The reduced read of earlier snapshots takes its own paths through the reader.
    let lean = ReadOptions {
        detail: false,
        new_above: 0,
    };
    let (_, reader) = v8::open_reader(Cursor::new(data.to_vec()), path)?;
    analyse(&v8::read_with(reader, path, &lean)?);
    Ok(())
}

/// HPROF bytes (plain or gzip) through the HPROF reader and the graph analysis.
pub fn hprof(data: &[u8]) -> Result<(), HeapError> {
    let path = Path::new(INPUT);
    let (format, reader) = v8::open_reader(Cursor::new(data.to_vec()), path)?;
    if format != DumpFormat::Hprof {
        return Ok(());
    }
    analyse(&crate::hprof::read(reader, path, &ReadOptions::default())?);
    Ok(())
}

/// pprof bytes (gzip, or a plain protobuf message) through the decoder and the per-function
/// summary.
pub fn pprof(data: &[u8]) -> Result<(), HeapError> {
    let path = Path::new(INPUT);
    let profile = if data.starts_with(&[0x1f, 0x8b]) {
        let (format, reader) = v8::open_reader(Cursor::new(data.to_vec()), path)?;
        if format != DumpFormat::Pprof {
            return Ok(());
        }
        pprof::decode(reader, path)?
    } else {
        pprof::decode(data, path)?
    };
    pprof::summarise(&profile, path)?;
    Ok(())
}

/// Everything the diff does with a graph, on every node a path is asked for.
fn analyse(g: &HeapGraph) {
    let d = dominators::compute(g);
    let r = retained::compute(g, &d);
    let parents = g.bfs_parents();
    let n = g.node_count() as u32;
    // A few nodes spread over the graph, as representatives would be.
    let step = (n / 16).max(1);
    for v in (0..n).step_by(step as usize) {
        let _ = g.retainer_path(&parents, v);
        let _ = g.location(v);
        let _ = (
            g.class_of(v),
            g.display_name(v),
            g.is_domain(v),
            r[v as usize],
        );
        for e in g.edges(v) {
            let _ = g.edge_label(e);
            let _ = g.edge_source(e as u32);
        }
    }
}
