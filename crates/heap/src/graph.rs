//! The compact heap graph every reader produces: nodes and edges in CSR form with `u32`
//! indices, interned names, and the few per-node facts the analysis needs.
//!
//! Node 0 is the synthetic root. Edge names are string-table indices, or element indices for
//! element/hidden edges. This module also finds shortest retainer paths. It does not compute
//! dominators (see `dominators`) or compare snapshots (see `diff`).

use rustc_hash::FxHashMap;

/// Index of a node in a [`HeapGraph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIdx(pub u32);

/// What kind of heap object a node is (V8's node types, collapsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A JS object; its name is the constructor name.
    Object,
    /// A closure (JS function); its name is the function name.
    Closure,
    /// An internal array (backing store of elements or properties).
    Array,
    /// A string of any representation.
    String,
    /// Compiled code, shared function info, scripts.
    Code,
    /// VM-internal objects (`system / Context`, maps, …).
    Hidden,
    /// Native (embedder) objects, array buffers' backing stores.
    Native,
    /// Synthetic nodes (the root, `(GC roots)`, …).
    Synthetic,
    /// Numbers, symbols, bigints, regexps and everything else.
    Other,
}

/// How an edge holds its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A closure's captured variable (`context` edge); name is the variable.
    Context,
    /// An indexed element; name is the index.
    Element,
    /// A named property.
    Property,
    /// A VM-internal named reference.
    Internal,
    /// A VM-internal indexed reference.
    Hidden,
    /// A shortcut the snapshot adds for convenience (e.g. root -> global object).
    Shortcut,
    /// A weak reference: ignored for reachability, dominators and retained sizes.
    Weak,
}

impl EdgeKind {
    /// Whether the edge name is an index rather than a string.
    pub fn is_indexed(self) -> bool {
        matches!(self, EdgeKind::Element | EdgeKind::Hidden)
    }
}

/// A source position (V8 `locations`): script name when known, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Script URL or file path; empty when the snapshot does not name it.
    pub script: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let script = if self.script.is_empty() {
            "<script>"
        } else {
            &self.script
        };
        write!(f, "{script}:{}:{}", self.line, self.column)
    }
}

/// Interned strings in one arena. Readers store names they do not need (the text of string
/// objects, for example) as empty strings, so indices stay those of the file.
#[derive(Debug, Default)]
pub struct Strings {
    bytes: String,
    ends: Vec<u32>,
}

impl Strings {
    /// Number of strings (kept or not).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The string at `i` (`None` past the end).
    pub fn get(&self, i: u32) -> Option<&str> {
        let i = i as usize;
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.bytes.get(start..end)
    }

    /// Appends a string; `false` when the arena would pass 4 GiB (the string is not added).
    #[must_use]
    pub fn push(&mut self, s: &str) -> bool {
        let Ok(end) = u32::try_from(self.bytes.len() + s.len()) else {
            return false;
        };
        self.bytes.push_str(s);
        self.ends.push(end);
        true
    }

    /// Bytes held by the arena (for diagnostics).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + 4 * self.ends.capacity()
    }
}

/// A growable bit vector (one bit per node).
#[derive(Debug, Default, Clone)]
pub struct BitVec {
    words: Vec<u64>,
    len: usize,
}

impl BitVec {
    /// `len` bits, all clear.
    pub fn zeros(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a bit.
    pub fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        if bit {
            self.words[self.len / 64] |= 1 << (self.len % 64);
        }
        self.len += 1;
    }

    /// Bit `i` (false past the end).
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Sets bit `i`; returns whether it was clear before. Bits past the end are ignored.
    pub fn set(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let w = &mut self.words[i / 64];
        let m = 1 << (i % 64);
        let was_clear = *w & m == 0;
        *w |= m;
        was_clear
    }

    /// Indices of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((wi * 64) as u32 + b)
            })
        })
    }

    /// Reserves room for `extra` more bits.
    pub fn reserve(&mut self, extra: usize) {
        let want = self.len.saturating_add(extra).div_ceil(64);
        // A corrupt count that is too large is simply not reserved.
        let _ = self
            .words
            .try_reserve_exact(want.saturating_sub(self.words.len()));
    }
}

/// A raw V8 source position: node, script id and 1-based line and column. The script is named
/// only when a location is asked for (see [`HeapGraph::location`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLocation {
    /// The node (constructor or closure instance).
    pub node: u32,
    /// V8 script id.
    pub script_id: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// The heap graph in CSR form; see the module docs.
///
/// Only strong edges are stored (weak edges never matter for reachability, dominators or
/// retained sizes); [`HeapGraph::file_edges`] still counts them. A graph read without detail
/// (see [`crate::v8::ReadOptions`]) has no edge names, edge kinds or locations: enough for
/// dominators and per-class totals, not for retainer paths.
#[derive(Debug, Default)]
pub struct HeapGraph {
    /// Interned strings (names of nodes and edges).
    pub strings: Strings,
    /// Kind of each node.
    pub kind: Vec<NodeKind>,
    /// Name (string index) of each node.
    pub name: Vec<u32>,
    /// Shallow size in bytes; `u32::MAX` means "look in `big_sizes`".
    pub self_size: Vec<u32>,
    /// Shallow sizes of `u32::MAX` bytes or more, by node.
    pub big_sizes: FxHashMap<u32, u64>,
    /// Whether a node's object id is above [`crate::v8::ReadOptions::new_above`] (allocated
    /// after the snapshot that threshold came from; V8 ids are stable and increasing).
    pub newer: BitVec,
    /// Largest object id of a JS/Java object (VM-internal and synthetic nodes use other ranges).
    pub max_object_id: u64,
    /// A sample of the objects, as (object id, node): one id in 32 (`(id >> 1) % 32 == 0`;
    /// V8's object ids are odd). Two snapshots whose ids mean the same objects share most of it (see
    /// `diff`); V8 numbers its objects again for each inspector session.
    pub id_sample: Vec<(u64, u32)>,
    /// When the dump was written, in milliseconds since the Unix epoch (the HPROF header's
    /// timestamp); `None` for V8 snapshots, which carry no time, and for a zero timestamp.
    pub taken_at_ms: Option<u64>,
    /// `first_edge[n]..first_edge[n + 1]` are the outgoing edges of node `n`.
    pub first_edge: Vec<u32>,
    /// Kind of each edge (empty without detail).
    pub edge_kind: Vec<EdgeKind>,
    /// Name (string index) or element index of each edge (empty without detail).
    pub edge_name: Vec<u32>,
    /// Target node of each edge.
    pub edge_to: Vec<u32>,
    /// Edges in the file, weak ones included.
    pub file_edges: u64,
    /// Source positions of constructors and closures, in file order (empty without detail).
    pub locations: Vec<RawLocation>,
}

impl HeapGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.kind.len()
    }

    /// Number of (strong) edges kept.
    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// Shallow size of a node in bytes.
    pub fn size(&self, n: u32) -> u64 {
        match self.self_size[n as usize] {
            u32::MAX => self
                .big_sizes
                .get(&n)
                .copied()
                .unwrap_or(u64::from(u32::MAX)),
            s => u64::from(s),
        }
    }

    /// Appends a node (the caller keeps `first_edge` in step).
    pub fn push_node(&mut self, kind: NodeKind, name: u32, size: u64) {
        let n = self.kind.len() as u32;
        self.kind.push(kind);
        self.name.push(name);
        match u32::try_from(size) {
            Ok(s) if s != u32::MAX => self.self_size.push(s),
            _ => {
                self.self_size.push(u32::MAX);
                self.big_sizes.insert(n, size);
            }
        }
    }

    /// The source position recorded for node `n`, with its script named through a closure of
    /// the same script (`shared -> script -> name`). The last record for a node wins.
    pub fn location(&self, n: u32) -> Option<Location> {
        let r = self.locations.iter().rev().find(|r| r.node == n)?;
        Some(Location {
            script: self.script_name(r.script_id).unwrap_or_default(),
            line: r.line,
            column: r.column,
        })
    }

    /// Name of a script: from the first closure (in file order) of that script whose
    /// `shared -> script_or_debug_info|script` node has a name.
    fn script_name(&self, script_id: u32) -> Option<String> {
        let edge_to_named = |n: u32, name: &str| -> Option<u32> {
            self.edges(n)
                .find(|&e| {
                    !self.edge_kind[e].is_indexed()
                        && self
                            .strings
                            .get(self.edge_name[e])
                            .is_some_and(|s| s == name)
                })
                .map(|e| self.edge_to[e])
        };
        for r in &self.locations {
            if r.script_id != script_id
                || r.node as usize >= self.node_count()
                || self.kind[r.node as usize] != NodeKind::Closure
            {
                continue;
            }
            // V8 names the Script node after its URL; older versions hold it under `name`.
            let name = edge_to_named(r.node, "shared")
                .and_then(|s| {
                    edge_to_named(s, "script_or_debug_info").or_else(|| edge_to_named(s, "script"))
                })
                .map(|s| {
                    let own = self.node_name(s);
                    if own.is_empty() || own.starts_with("system /") {
                        edge_to_named(s, "name")
                            .map(|n| self.node_name(n).to_owned())
                            .unwrap_or_default()
                    } else {
                        own.to_owned()
                    }
                });
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                return Some(name);
            }
        }
        None
    }

    /// Name of a node.
    pub fn node_name(&self, n: u32) -> &str {
        self.strings.get(self.name[n as usize]).unwrap_or("?")
    }

    /// Outgoing edge index range of a node.
    pub fn edges(&self, n: u32) -> std::ops::Range<usize> {
        self.first_edge[n as usize] as usize..self.first_edge[n as usize + 1] as usize
    }

    /// The class a node is counted under: constructor name for objects, `(kind)` otherwise.
    pub fn class_of(&self, n: u32) -> String {
        match self.kind[n as usize] {
            NodeKind::Object | NodeKind::Native => self.node_name(n).to_owned(),
            NodeKind::Closure => "(closure)".to_owned(),
            NodeKind::Array => "(array)".to_owned(),
            NodeKind::String => "(string)".to_owned(),
            NodeKind::Code => "(code)".to_owned(),
            NodeKind::Hidden => {
                let name = self.node_name(n);
                if name == "system / Context" {
                    "(context)".to_owned()
                } else {
                    "(system)".to_owned()
                }
            }
            NodeKind::Synthetic => "(synthetic)".to_owned(),
            NodeKind::Other => "(other)".to_owned(),
        }
    }

    /// Whether a node is an instance of a domain type: a named object that is not a built-in
    /// container (`Object`, `Array`, `Map`, typed arrays, …). Growth is attributed to these.
    pub fn is_domain(&self, n: u32) -> bool {
        if self.kind[n as usize] != NodeKind::Object {
            return false;
        }
        let name = self.node_name(n);
        !(name.is_empty()
            || name.starts_with('(')
            || name.starts_with("system /")
            || GENERIC_CLASSES.contains(&name)
            || name.ends_with("[]")
            || JAVA_PLATFORM.iter().any(|p| name.starts_with(p)))
    }

    /// Label of an edge for retainer paths: `.name`, `[index]` or `['odd name']`.
    pub fn edge_label(&self, e: usize) -> String {
        let (Some(&kind), Some(&raw)) = (self.edge_kind.get(e), self.edge_name.get(e)) else {
            return "?".to_owned();
        };
        if kind.is_indexed() {
            return format!("[{raw}]");
        }
        let name = self.strings.get(raw).unwrap_or("?");
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            format!(".{name}")
        } else {
            format!("['{}']", name.replace('\'', "\\'"))
        }
    }

    /// How a node is shown in retainer paths: constructor name, `onConfig()` for closures,
    /// `context` for closure contexts, the node's own name for VM and synthetic nodes.
    pub fn display_name(&self, n: u32) -> String {
        let name = self.node_name(n);
        match self.kind[n as usize] {
            NodeKind::Object if name == "system / Context" => "context".to_owned(),
            NodeKind::Object | NodeKind::Native => name.to_owned(),
            NodeKind::Closure if name.is_empty() => "(anonymous closure)".to_owned(),
            NodeKind::Closure => format!("{name}()"),
            NodeKind::Synthetic | NodeKind::Hidden | NodeKind::Code if !name.is_empty() => {
                name.to_owned()
            }
            _ => self.class_of(n),
        }
    }

    /// Shortest path (by edge count) from the root to every node: for each node the edge it was
    /// first reached by (`u32::MAX` for the root and unreachable nodes).
    pub fn bfs_parents(&self) -> Vec<u32> {
        let n = self.node_count();
        let mut parent_edge = vec![u32::MAX; n];
        if n == 0 {
            return parent_edge;
        }
        // The queue never shrinks physically: `head` walks over it (same order as a deque).
        let mut queue: Vec<u32> = vec![0];
        let mut head = 0;
        while let Some(&v) = queue.get(head) {
            head += 1;
            for e in self.edges(v) {
                let t = self.edge_to[e];
                if t != 0 && parent_edge[t as usize] == u32::MAX {
                    parent_edge[t as usize] = e as u32;
                    queue.push(t);
                }
            }
        }
        parent_edge
    }

    /// Source node of an edge (binary search over `first_edge`).
    pub fn edge_source(&self, e: u32) -> u32 {
        let i = self.first_edge.partition_point(|&f| f <= e);
        (i - 1) as u32
    }

    /// The retainer path of `target` as text, from the first node below the root, e.g.
    /// `ConfigBus._events.config -> Array[3] -> (closure).context.ctx -> RequestContext`.
    pub fn retainer_path(&self, parents: &[u32], target: u32) -> Option<Vec<PathStep>> {
        let mut steps = Vec::new();
        let mut cur = target;
        steps.push(PathStep {
            class: self.display_name(cur),
            edge: String::new(),
        });
        while cur != 0 {
            let e = parents[cur as usize];
            if e == u32::MAX {
                return None;
            }
            let src = self.edge_source(e);
            if src != 0 {
                steps.push(PathStep {
                    class: self.display_name(src),
                    edge: self.edge_label(e as usize),
                });
            }
            cur = src;
            if steps.len() > 10_000 {
                return None;
            }
        }
        steps.reverse();
        Some(steps)
    }
}

/// One step of a retainer path: a node's class and the edge leaving it towards the target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathStep {
    /// Class of the holding node.
    pub class: String,
    /// Label of the edge to the next step (empty for the target itself).
    pub edge: String,
}

/// Formats a path as `A.x -> B[2] -> C`.
pub fn format_path(steps: &[PathStep]) -> String {
    steps
        .iter()
        .map(|s| format!("{}{}", s.class, s.edge))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Java platform packages (and their class objects): containers like `java.util.HashMap`
/// never own growth; the user class holding them does.
const JAVA_PLATFORM: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "class java.",
    "class javax.",
    "class jdk.",
    "class sun.",
    "class com.sun.",
    "class@",
];

/// Built-in container and value classes that never count as the owner of growth: growth
/// inside them is attributed to the nearest dominating domain object instead.
const GENERIC_CLASSES: &[&str] = &[
    "Object",
    "Array",
    "Map",
    "Set",
    "WeakMap",
    "WeakSet",
    "Function",
    "Promise",
    "Error",
    "ArrayBuffer",
    "SharedArrayBuffer",
    "DataView",
    "Buffer",
    "Uint8Array",
    "Int8Array",
    "Uint16Array",
    "Int16Array",
    "Uint32Array",
    "Int32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "Uint8ClampedArray",
    "Date",
    "RegExp",
    "String",
    "Number",
    "Boolean",
    "Symbol",
    "Arguments",
    "Generator",
    "global",
    "Window",
    "Module",
];
