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
use crate::graph::{BitVec, EdgeKind, HeapGraph, NodeKind, RawLocation};
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
    open_gz(path).map(|(format, _, reader)| (format, reader))
}

/// Like [`open`], also telling whether the file is gzip-compressed.
pub(crate) fn open_gz(path: &Path) -> Result<(DumpFormat, bool, Box<dyn Read>), HeapError> {
    let file = File::open(path).map_err(|err| HeapError::Io {
        path: path.to_owned(),
        err,
    })?;
    sniff(BufReader::with_capacity(1 << 16, file), path)
}

/// Like [`open`] over any byte stream (`path` only names it in errors).
pub fn open_reader(
    raw: impl Read + 'static,
    path: &Path,
) -> Result<(DumpFormat, Box<dyn Read>), HeapError> {
    sniff(raw, path).map(|(format, _, reader)| (format, reader))
}

fn sniff(
    mut raw: impl Read + 'static,
    path: &Path,
) -> Result<(DumpFormat, bool, Box<dyn Read>), HeapError> {
    let io = |err| HeapError::Io {
        path: path.to_owned(),
        err,
    };
    let mut magic = [0u8; 2];
    let n = read_prefix(&mut raw, &mut magic).map_err(io)?;
    let raw = std::io::Cursor::new(magic[..n].to_vec()).chain(raw);
    let gz = n == 2 && magic == [0x1f, 0x8b];
    let mut reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let mut head = [0u8; 64];
    let got = read_prefix(&mut reader, &mut head).map_err(|err| HeapError::Malformed {
        path: path.to_owned(),
        gzip: false,
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
        } else if (gz && head.first().is_some_and(|b| b & 0x7 == 2 || b & 0x7 == 0))
            || plain_profile_proto(head)
        {
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
        gz,
        Box::new(std::io::Cursor::new(head.to_vec()).chain(reader)),
    ))
}

/// Whether uncompressed bytes start as a Go profile (`profile.proto`) does: its first field is
/// a `ValueType` message, `sample_type` (field 1, as `google/pprof` writes it) or `period_type`
/// (field 11, as Go's runtime writes it), short, whose own first field is `type` or `unit` (a
/// varint string index). Plain profiles come from `go tool pprof -proto` or a gunzipped
/// `/debug/pprof/heap`. Text never starts so: after a newline or a `Z` its next byte would be
/// printable, not a length under 0x20 followed by 0x08 or 0x10.
fn plain_profile_proto(head: &[u8]) -> bool {
    matches!(head, [0x0a | 0x5a, len, 0x08 | 0x10, ..] if *len < 0x20)
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

/// Reads a V8 heap snapshot or HPROF file (plain or gzip) into a graph, with all detail.
pub fn read_path(path: &Path) -> Result<HeapGraph, HeapError> {
    read_path_with(path, &ReadOptions::default())
}

/// Like [`read_path`], keeping only what `opts` asks for.
pub fn read_path_with(path: &Path, opts: &ReadOptions) -> Result<HeapGraph, HeapError> {
    let (format, gz, reader) = open_gz(path)?;
    match format {
        DumpFormat::V8 => read_with(reader, path, opts).map_err(|e| e.in_gzip(gz)),
        DumpFormat::Hprof => crate::hprof::read(reader, path, opts).map_err(|e| e.in_gzip(gz)),
        DumpFormat::Pprof => Err(HeapError::Format {
            path: path.to_owned(),
            what: "a Go pprof profile holds stacks, not an object graph (`leakhound diff` compares profiles)".into(),
        }),
    }
}

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

/// What a reader keeps besides the graph structure and node classes.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Keep edge names and kinds, source locations and the strings they need (for retainer
    /// paths and hints). Without it the graph is enough for dominators and per-class totals
    /// only, and takes about half the memory.
    pub detail: bool,
    /// Object ids above this are flagged in [`HeapGraph::newer`].
    pub new_above: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            detail: true,
            new_above: u64::MAX,
        }
    }
}

/// Reads a decompressed V8 snapshot stream; `path` is only used in errors.
pub fn read(reader: impl Read, path: &Path) -> Result<HeapGraph, HeapError> {
    read_with(reader, path, &ReadOptions::default())
}

/// Like [`read`], keeping only what `opts` asks for.
pub fn read_with(
    reader: impl Read,
    path: &Path,
    opts: &ReadOptions,
) -> Result<HeapGraph, HeapError> {
    let mut sc = Scanner::new(reader);
    let conv = |e: ScanError| HeapError::Malformed {
        path: path.to_owned(),
        gzip: false,
        offset: e.offset,
        what: e.what,
    };
    read_inner(&mut sc, opts).map_err(conv)
}

/// Reserves room for `n` more items when the allocator agrees; a corrupt count that is too
/// large is simply not reserved (the columns then grow as values actually arrive).
fn reserve<T>(v: &mut Vec<T>, n: u64) {
    if let Ok(n) = usize::try_from(n) {
        let _ = v.try_reserve_exact(n);
    }
}

fn read_inner<R: Read>(sc: &mut Scanner<R>, opts: &ReadOptions) -> Result<HeapGraph, ScanError> {
    let mut g = HeapGraph::default();
    let mut layout: Option<Layout> = None;
    let mut header_counts = (None, None);
    let (mut have_nodes, mut have_edges, mut have_strings, mut have_locations) =
        (false, false, false, false);
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
                if layout.is_some() {
                    return sc.err("duplicate 'snapshot'");
                }
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
                if have_nodes {
                    return sc.err("duplicate 'nodes'");
                }
                let mut col = 0usize;
                let mut row = [0u64; 16];
                if l.node_width == 0 || l.node_width > row.len() {
                    return sc.err("unsupported node field count");
                }
                if let Some(n) = header_counts.0 {
                    reserve(&mut g.kind, n);
                    reserve(&mut g.name, n);
                    reserve(&mut g.self_size, n);
                    reserve(&mut g.first_edge, n.saturating_add(1));
                    g.newer.reserve(usize::try_from(n).unwrap_or(0));
                }
                let mut bad: Option<&'static str> = None;
                let mut max_id = 0u64;
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.node_width {
                        col = 0;
                        let Some(&kind) = l.node_kinds.get(row[l.n_type] as usize) else {
                            bad = Some("node type out of range");
                            return Ok(());
                        };
                        let id = row[l.n_id];
                        if kind == NodeKind::Object {
                            max_id = max_id.max(id);
                            if (id >> 1) % 32 == 0 {
                                g.id_sample.push((id, g.kind.len() as u32));
                            }
                        }
                        g.newer.push(id > opts.new_above);
                        g.push_node(
                            kind,
                            u32::try_from(row[l.n_name]).unwrap_or(u32::MAX),
                            row[l.n_size],
                        );
                        // Edge counts for now; turned into offsets while reading `edges`.
                        g.first_edge
                            .push(u32::try_from(row[l.n_edges]).unwrap_or(u32::MAX));
                    }
                    Ok(())
                })?;
                g.max_object_id = max_id;
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
                if have_edges {
                    return sc.err("duplicate 'edges'");
                }
                let n = g.kind.len();
                let total: u64 = g.first_edge.iter().map(|&c| u64::from(c)).sum();
                if total >= u64::from(u32::MAX) {
                    return sc.err("too many edges");
                }
                g.file_edges = total;
                reserve(&mut g.edge_to, total);
                if opts.detail {
                    reserve(&mut g.edge_kind, total);
                    reserve(&mut g.edge_name, total);
                }
                g.first_edge.push(0);
                let n_nodes = n as u64;
                let width = l.node_width as u64;
                let mut col = 0usize;
                let mut row = [0u64; 16];
                if l.edge_width == 0 || l.edge_width > row.len() {
                    return sc.err("unsupported edge field count");
                }
                let mut bad: Option<&'static str> = None;
                // `node` is the source of the next edge, `left` its edges still to come;
                // `first_edge[node]` is overwritten with its offset when it becomes current.
                let mut node = 0usize;
                let mut left = 0u32;
                if n > 0 {
                    left = g.first_edge[0];
                    g.first_edge[0] = 0;
                }
                let mut seen = 0u64;
                let detail = opts.detail;
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.edge_width {
                        col = 0;
                        seen += 1;
                        while left == 0 && node < n {
                            node += 1;
                            if node < n {
                                left = g.first_edge[node];
                                g.first_edge[node] = g.edge_to.len() as u32;
                            }
                        }
                        if node >= n {
                            bad = Some("more edges than the nodes declare");
                            return Ok(());
                        }
                        left -= 1;
                        let Some(&kind) = l.edge_kinds.get(row[l.e_type] as usize) else {
                            bad = Some("edge type out of range");
                            return Ok(());
                        };
                        let to = row[l.e_to];
                        if to % width != 0 || to / width >= n_nodes {
                            bad = Some("edge target out of range");
                            return Ok(());
                        }
                        if kind == EdgeKind::Weak {
                            return Ok(());
                        }
                        g.edge_to.push((to / width) as u32);
                        if detail {
                            g.edge_kind.push(kind);
                            g.edge_name
                                .push(u32::try_from(row[l.e_name]).unwrap_or(u32::MAX));
                        }
                    }
                    Ok(())
                })?;
                if let Some(b) = bad {
                    return sc.err(b);
                }
                if col != 0 || seen != total {
                    return sc.err(format!(
                        "nodes declare {total} edges, found {seen} (corrupt 'edges')"
                    ));
                }
                let out = g.edge_to.len() as u32;
                while node < n {
                    node += 1;
                    if node < n {
                        g.first_edge[node] = out;
                    }
                }
                g.first_edge[n] = out;
                if let Some(e) = header_counts.1
                    && e != total
                {
                    return sc.err(format!("header says {e} edges, found {total}"));
                }
                have_edges = true;
            }
            "strings" => {
                if have_strings {
                    return sc.err("duplicate 'strings'");
                }
                // Names nobody will ask for (the text of string objects, mostly) are skipped;
                // that needs the nodes and edges (and, with detail, the locations) first.
                let needed = (have_nodes && have_edges && (have_locations || !opts.detail))
                    .then(|| needed_strings(&g, opts.detail));
                if sc.open_array()? {
                    let mut s = String::new();
                    loop {
                        let i = g.strings.len();
                        if needed.as_ref().is_none_or(|n| n.get(i)) {
                            sc.string(&mut s)?;
                        } else {
                            sc.skip_string()?;
                            s.clear();
                        }
                        if !g.strings.push(&s) {
                            return sc.err("string table larger than 4 GiB");
                        }
                        if !sc.comma_or(b']')? {
                            break;
                        }
                    }
                }
                have_strings = true;
            }
            "locations" if opts.detail => {
                let Some(l) = layout.as_ref() else {
                    return sc.err("'locations' before 'snapshot'");
                };
                if have_locations {
                    return sc.err("duplicate 'locations'");
                }
                let mut col = 0usize;
                let mut row = [0u64; 8];
                if l.loc_width > row.len() {
                    return sc.err("unsupported location field count");
                }
                let width = l.node_width.max(1) as u64;
                let locations = &mut g.locations;
                sc.int_array(|v| {
                    row[col] = v;
                    col += 1;
                    if col == l.loc_width {
                        col = 0;
                        let one_based =
                            |v: u64| u32::try_from(v.saturating_add(1)).unwrap_or(u32::MAX);
                        if let Ok(node) = u32::try_from(row[l.l_obj] / width) {
                            locations.push(RawLocation {
                                node,
                                script_id: u32::try_from(row[l.l_script]).unwrap_or(u32::MAX),
                                line: one_based(row[l.l_line]),
                                column: one_based(row[l.l_col]),
                            });
                        }
                    }
                    Ok(())
                })?;
                have_locations = true;
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
    g.locations.shrink_to_fit();
    Ok(g)
}

/// Which strings a graph needs: names of nodes that are not strings, and with `detail` the
/// names of named edges and of the nodes a location's script name is looked up through
/// (closure `shared` -> `script` -> `name`: three named hops from a located closure).
fn needed_strings(g: &HeapGraph, detail: bool) -> BitVec {
    let max_name = g.name.iter().copied().max().unwrap_or(0);
    let max_edge = g.edge_name.iter().copied().max().unwrap_or(0);
    let mut needed = BitVec::zeros(max_name.max(max_edge) as usize + 1);
    for (&k, &name) in g.kind.iter().zip(&g.name) {
        if k != NodeKind::String {
            needed.set(name as usize);
        }
    }
    if !detail {
        return needed;
    }
    for (&k, &name) in g.edge_kind.iter().zip(&g.edge_name) {
        if !k.is_indexed() {
            needed.set(name as usize);
        }
    }
    let n = g.node_count();
    let named_targets = |v: u32, out: &mut dyn FnMut(u32)| {
        for e in g.edges(v) {
            if !g.edge_kind[e].is_indexed() {
                out(g.edge_to[e]);
            }
        }
    };
    let mut hop1 = BitVec::zeros(n);
    for r in &g.locations {
        if (r.node as usize) < n && g.kind[r.node as usize] == NodeKind::Closure {
            named_targets(r.node, &mut |t| {
                hop1.set(t as usize);
            });
        }
    }
    let mut hop2 = BitVec::zeros(n);
    for v in hop1.ones() {
        named_targets(v, &mut |t| {
            hop2.set(t as usize);
        });
    }
    for v in hop2.ones() {
        named_targets(v, &mut |t| {
            needed.set(g.name[t as usize] as usize);
        });
    }
    needed
}
