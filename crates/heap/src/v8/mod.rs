//! Streaming reader of V8 `.heapsnapshot` files (plain or gzip).
//!
//! The `snapshot.meta` header is small and parsed with serde; the big `nodes` and `edges`
//! integer arrays are scanned number by number straight into the CSR columns of
//! [`HeapGraph`], `strings` one by one, `locations` in groups. Sections this reader does not use
//! (`samples`, `trace_tree`, …) are skipped without being kept. No generic JSON tree of the file
//! is ever built. Truncated or corrupt input is an error naming the byte offset.

mod scan;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde::Deserialize;

use crate::DumpFormat;
use crate::error::HeapError;
use crate::graph::{EdgeKind, HeapGraph, Location, NodeKind};
use scan::{ScanError, Scanner};

#[derive(Deserialize)]
struct Header {
    meta: Meta,
    node_count: Option<u64>,
    edge_count: Option<u64>,
}

#[derive(Deserialize)]
struct Meta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
    #[serde(default)]
    location_fields: Vec<String>,
}

/// Opens a file, transparently decompressing gzip, and detects its format from content.
pub fn open(path: &Path) -> Result<(DumpFormat, Box<dyn Read>), HeapError> {
    let io = |err| HeapError::Io {
        path: path.to_owned(),
        err,
    };
    let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let mut magic = [0u8; 2];
    let n = read_prefix(&mut file, &mut magic).map_err(io)?;
    let raw = std::io::Cursor::new(magic[..n].to_vec()).chain(file);
    let gz = n == 2 && magic == [0x1f, 0x8b];
    let mut reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let mut head = [0u8; 64];
    let got = read_prefix(&mut reader, &mut head).map_err(|err| HeapError::Malformed {
        path: path.to_owned(),
        offset: 0,
        what: format!("bad gzip stream ({err})"),
    })?;
    let head = &head[..got];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    let format =
        if trimmed.starts_with('{') && trimmed[1..].trim_start().starts_with("\"snapshot\"") {
            DumpFormat::V8
        } else if head.starts_with(b"JAVA PROFILE 1.0") {
            DumpFormat::Hprof
        } else if gz && head.first().is_some_and(|b| b & 0x7 == 2 || b & 0x7 == 0) {
            DumpFormat::Pprof
        } else if got == 0 {
            return Err(HeapError::Format {
                path: path.to_owned(),
                what: "empty file".into(),
            });
        } else {
            return Err(HeapError::Format {
                path: path.to_owned(),
                what: "not a heap dump (expected a V8 .heapsnapshot, HPROF or pprof file)".into(),
            });
        };
    Ok((
        format,
        Box::new(std::io::Cursor::new(head.to_vec()).chain(reader)),
    ))
}

fn read_prefix(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a V8 heap snapshot file (plain or gzip) into a graph.
pub fn read_path(path: &Path) -> Result<HeapGraph, HeapError> {
    let (format, reader) = open(path)?;
    match format {
        DumpFormat::V8 => read(reader, path),
        DumpFormat::Hprof => crate::hprof::read(reader, path),
        DumpFormat::Pprof => Err(HeapError::Format {
            path: path.to_owned(),
            what: "Go pprof profiles are recognised but not supported yet".into(),
        }),
    }
}

/// Largest count taken from the (untrusted) header or node table for up-front reservation;
/// beyond it the columns grow as values actually arrive, so a corrupt count cannot make the
/// reader allocate gigabytes before noticing. 8 M covers typical multi-hundred-MB snapshots.
const MAX_RESERVE: u64 = 8 << 20;

/// Column positions of the fields this reader uses.
struct Layout {
    node_width: usize,
    n_type: usize,
    n_name: usize,
    n_id: usize,
    n_size: usize,
    n_edges: usize,
    edge_width: usize,
    e_type: usize,
    e_name: usize,
    e_to: usize,
    node_kinds: Vec<NodeKind>,
    edge_kinds: Vec<EdgeKind>,
    loc_width: usize,
    l_obj: usize,
    l_script: usize,
    l_line: usize,
    l_col: usize,
}

fn field(fields: &[String], name: &str) -> Result<usize, String> {
    fields
        .iter()
        .position(|f| f == name)
        .ok_or_else(|| format!("snapshot.meta lacks the field '{name}'"))
}

fn type_names(v: &[serde_json::Value]) -> Result<Vec<String>, String> {
    let names = v
        .first()
        .and_then(|t| t.as_array())
        .ok_or("snapshot.meta types are not a list")?;
    Ok(names
        .iter()
        .map(|s| s.as_str().unwrap_or("").to_owned())
        .collect())
}

impl Layout {
    fn new(meta: &Meta) -> Result<Self, String> {
        let nf = &meta.node_fields;
        let ef = &meta.edge_fields;
        let node_kinds = type_names(&meta.node_types)?
            .iter()
            .map(|t| match t.as_str() {
                "object" => NodeKind::Object,
                "closure" => NodeKind::Closure,
                "array" => NodeKind::Array,
                "string" | "concatenated string" | "sliced string" => NodeKind::String,
                "code" => NodeKind::Code,
                "hidden" | "object shape" => NodeKind::Hidden,
                "native" => NodeKind::Native,
                "synthetic" => NodeKind::Synthetic,
                _ => NodeKind::Other,
            })
            .collect();
        let edge_kinds = type_names(&meta.edge_types)?
            .iter()
            .map(|t| match t.as_str() {
                "context" => EdgeKind::Context,
                "element" => EdgeKind::Element,
                "property" => EdgeKind::Property,
                "hidden" => EdgeKind::Hidden,
                "shortcut" => EdgeKind::Shortcut,
                "weak" => EdgeKind::Weak,
                _ => EdgeKind::Internal,
            })
            .collect();
        let lf = &meta.location_fields;
        let loc = |n: &str, d: usize| lf.iter().position(|f| f == n).unwrap_or(d);
        Ok(Self {
            node_width: nf.len(),
            n_type: field(nf, "type")?,
            n_name: field(nf, "name")?,
            n_id: field(nf, "id")?,
            n_size: field(nf, "self_size")?,
            n_edges: field(nf, "edge_count")?,
            edge_width: ef.len(),
            e_type: field(ef, "type")?,
            e_name: field(ef, "name_or_index")?,
            e_to: field(ef, "to_node")?,
            node_kinds,
            edge_kinds,
            loc_width: if lf.is_empty() { 4 } else { lf.len() },
            l_obj: loc("object_index", 0),
            l_script: loc("script_id", 1),
            l_line: loc("line", 2),
            l_col: loc("column", 3),
        })
    }
}

/// Reads a decompressed V8 snapshot stream; `path` is only used in errors.
pub fn read(reader: impl Read, path: &Path) -> Result<HeapGraph, HeapError> {
    let mut sc = Scanner::new(reader);
    let conv = |e: ScanError| HeapError::Malformed {
        path: path.to_owned(),
        offset: e.offset,
        what: e.what,
    };
    read_inner(&mut sc, path).map_err(conv)
}

fn read_inner<R: Read>(sc: &mut Scanner<R>, path: &Path) -> Result<HeapGraph, ScanError> {
    let _ = path;
    let mut g = HeapGraph::default();
    let mut layout: Option<Layout> = None;
    let mut header_counts = (None, None);
    let mut edge_counts: Vec<u32> = Vec::new();
    let mut raw_locations: Vec<[u64; 4]> = Vec::new();
    let (mut have_nodes, mut have_edges, mut have_strings) = (false, false, false);
    let mut key = String::new();
    sc.expect(b'{')?;
    sc.skip_ws()?;
    if sc.peek()? == Some(b'}') {
        return sc.err("empty snapshot object");
    }
    loop {
        sc.string(&mut key)?;
        sc.expect(b':')?;
        match key.as_str() {
            "snapshot" => {
                let at = sc.offset();
                let mut raw = Vec::new();
                sc.capture_value(&mut raw)?;
                let header: Header = serde_json::from_slice(&raw).map_err(|e| ScanError {
                    offset: at,
                    what: format!("bad snapshot header ({e})"),
                })?;
                header_counts = (header.node_count, header.edge_count);
                layout =
                    Some(Layout::new(&header.meta).map_err(|what| ScanError { offset: at, what })?);
            }
            "nodes" => {
                let Some(l) = layout.as_ref() else {
                    return sc.err("'nodes' before 'snapshot'");
                };
                let mut col = 0usize;
                let mut row = [0u64; 16];
                if l.node_width == 0 || l.node_width > row.len() {
                    return sc.err("unsupported node field count");
                }
                if let Some(n) = header_counts.0 {
                    let n = n.min(MAX_RESERVE) as usize;
                    g.kind.reserve_exact(n);
                    g.name.reserve_exact(n);
                    g.id.reserve_exact(n);
                    g.self_size.reserve_exact(n);
                    edge_counts.reserve_exact(n);
                }
                let mut bad: Option<&'static str> = None;
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.node_width {
                        col = 0;
                        let kind = l.node_kinds.get(row[l.n_type] as usize).copied();
                        match kind {
                            Some(k) => g.kind.push(k),
                            None => bad = Some("node type out of range"),
                        }
                        g.name
                            .push(u32::try_from(row[l.n_name]).unwrap_or(u32::MAX));
                        g.id.push(row[l.n_id]);
                        g.self_size.push(row[l.n_size]);
                        edge_counts.push(u32::try_from(row[l.n_edges]).unwrap_or(u32::MAX));
                    }
                    Ok(())
                })?;
                if let Some(b) = bad {
                    return sc.err(b);
                }
                if col != 0 {
                    return sc.err("'nodes' length is not a multiple of the node field count");
                }
                if g.kind.len() >= u32::MAX as usize {
                    return sc.err("too many nodes");
                }
                if let Some(n) = header_counts.0
                    && n != g.kind.len() as u64
                {
                    return sc.err(format!("header says {n} nodes, found {}", g.kind.len()));
                }
                have_nodes = true;
            }
            "edges" => {
                let Some(l) = layout.as_ref() else {
                    return sc.err("'edges' before 'snapshot'");
                };
                if !have_nodes {
                    return sc.err("'edges' before 'nodes'");
                }
                let mut total: u64 = 0;
                g.first_edge.reserve_exact(edge_counts.len() + 1);
                for &c in &edge_counts {
                    g.first_edge.push(total.min(u64::from(u32::MAX)) as u32);
                    total += u64::from(c);
                }
                if total >= u64::from(u32::MAX) {
                    return sc.err("too many edges");
                }
                g.first_edge.push(total as u32);
                let want = total.min(MAX_RESERVE) as usize;
                g.edge_kind.reserve_exact(want);
                g.edge_name.reserve_exact(want);
                g.edge_to.reserve_exact(want);
                let n_nodes = g.kind.len() as u64;
                let width = l.node_width as u64;
                let mut col = 0usize;
                let mut row = [0u64; 16];
                if l.edge_width == 0 || l.edge_width > row.len() {
                    return sc.err("unsupported edge field count");
                }
                let mut bad: Option<&'static str> = None;
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.edge_width {
                        col = 0;
                        match l.edge_kinds.get(row[l.e_type] as usize) {
                            Some(&k) => g.edge_kind.push(k),
                            None => bad = Some("edge type out of range"),
                        }
                        g.edge_name
                            .push(u32::try_from(row[l.e_name]).unwrap_or(u32::MAX));
                        let to = row[l.e_to];
                        if to % width != 0 || to / width >= n_nodes {
                            bad = Some("edge target out of range");
                        }
                        g.edge_to
                            .push((to / width).min(n_nodes.saturating_sub(1)) as u32);
                    }
                    Ok(())
                })?;
                if let Some(b) = bad {
                    return sc.err(b);
                }
                if col != 0 || g.edge_to.len() as u64 != total {
                    return sc.err(format!(
                        "nodes declare {total} edges, found {} (corrupt 'edges')",
                        g.edge_to.len()
                    ));
                }
                if let Some(e) = header_counts.1
                    && e != total
                {
                    return sc.err(format!("header says {e} edges, found {total}"));
                }
                have_edges = true;
            }
            "strings" => {
                if sc.open_array()? {
                    loop {
                        let mut s = String::new();
                        sc.string(&mut s)?;
                        g.strings.push(s);
                        if !sc.comma_or(b']')? {
                            break;
                        }
                    }
                }
                have_strings = true;
            }
            "locations" => {
                let Some(l) = layout.as_ref() else {
                    return sc.err("'locations' before 'snapshot'");
                };
                let mut col = 0usize;
                let mut row = [0u64; 8];
                if l.loc_width > row.len() {
                    return sc.err("unsupported location field count");
                }
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.loc_width {
                        col = 0;
                        raw_locations.push([
                            row[l.l_obj],
                            row[l.l_script],
                            row[l.l_line],
                            row[l.l_col],
                        ]);
                    }
                    Ok(())
                })?;
            }
            _ => sc.skip_value()?,
        }
        if !sc.comma_or(b'}')? {
            break;
        }
    }
    sc.skip_ws()?;
    if let Some(b) = sc.peek()? {
        return sc.err(format!(
            "unexpected '{}' after the snapshot object",
            b.escape_ascii()
        ));
    }
    if !(have_nodes && have_edges && have_strings) {
        return sc.err("snapshot lacks one of 'nodes', 'edges', 'strings' (truncated?)");
    }
    let n_strings = g.strings.len() as u32;
    if g.name.iter().any(|&s| s >= n_strings) {
        return sc.err("a node name points past the string table");
    }
    if g.edge_name
        .iter()
        .zip(&g.edge_kind)
        .any(|(&s, k)| !k.is_indexed() && s >= n_strings)
    {
        return sc.err("an edge name points past the string table");
    }
    if g.kind.is_empty() {
        return sc.err("snapshot has no nodes");
    }
    let width = layout.as_ref().map_or(1, |l| l.node_width) as u64;
    attach_locations(&mut g, &raw_locations, width);
    Ok(g)
}

/// Turns raw `locations` into [`Location`]s, naming scripts through closures'
/// `shared -> script -> name` edges.
fn attach_locations(g: &mut HeapGraph, raw: &[[u64; 4]], width: u64) {
    let mut scripts: rustc_hash::FxHashMap<u64, String> = Default::default();
    let edge_to_named = |g: &HeapGraph, n: u32, name: &str| -> Option<u32> {
        g.edges(n)
            .find(|&e| {
                !g.edge_kind[e].is_indexed()
                    && g.strings
                        .get(g.edge_name[e] as usize)
                        .is_some_and(|s| s == name)
            })
            .map(|e| g.edge_to[e])
    };
    for r in raw {
        let node = r[0] / width;
        if node >= g.node_count() as u64 || scripts.contains_key(&r[1]) {
            continue;
        }
        let node = node as u32;
        if g.kind[node as usize] != NodeKind::Closure {
            continue;
        }
        // V8 names the Script node after its URL; older versions hold it under `name`.
        let name = edge_to_named(g, node, "shared")
            .and_then(|s| {
                edge_to_named(g, s, "script_or_debug_info")
                    .or_else(|| edge_to_named(g, s, "script"))
            })
            .map(|s| {
                let own = g.node_name(s);
                if own.is_empty() || own.starts_with("system /") {
                    edge_to_named(g, s, "name")
                        .map(|n| g.node_name(n).to_owned())
                        .unwrap_or_default()
                } else {
                    own.to_owned()
                }
            });
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            scripts.insert(r[1], name);
        }
    }
    for r in raw {
        let node = r[0] / width;
        if node >= g.node_count() as u64 {
            continue;
        }
        let script = scripts.get(&r[1]).cloned().unwrap_or_default();
        let loc = Location {
            script,
            line: u32::try_from(r[2] + 1).unwrap_or(u32::MAX),
            column: u32::try_from(r[3] + 1).unwrap_or(u32::MAX),
        };
        g.locations.insert(node as u32, loc);
    }
}
