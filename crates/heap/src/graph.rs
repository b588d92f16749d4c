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

/// The heap graph in CSR form; see the module docs.
#[derive(Debug, Default)]
pub struct HeapGraph {
    /// Interned strings (names of nodes and edges).
    pub strings: Vec<String>,
    /// Kind of each node.
    pub kind: Vec<NodeKind>,
    /// Name (string index) of each node.
    pub name: Vec<u32>,
    /// Format-specific object id (stable across V8 snapshots of one process).
    pub id: Vec<u64>,
    /// Shallow size in bytes.
    pub self_size: Vec<u64>,
    /// `first_edge[n]..first_edge[n + 1]` are the outgoing edges of node `n`.
    pub first_edge: Vec<u32>,
    /// Kind of each edge.
    pub edge_kind: Vec<EdgeKind>,
    /// Name (string index) or element index of each edge.
    pub edge_name: Vec<u32>,
    /// Target node of each edge.
    pub edge_to: Vec<u32>,
    /// Source positions of constructors and closures, by node.
    pub locations: FxHashMap<u32, Location>,
}

impl HeapGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.kind.len()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// Name of a node.
    pub fn node_name(&self, n: u32) -> &str {
        self.strings
            .get(self.name[n as usize] as usize)
            .map_or("?", String::as_str)
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

    /// Whether an edge counts for reachability (weak edges do not).
    pub fn is_strong(&self, e: usize) -> bool {
        self.edge_kind[e] != EdgeKind::Weak
    }

    /// Label of an edge for retainer paths: `.name`, `[index]` or `['odd name']`.
    pub fn edge_label(&self, e: usize) -> String {
        let kind = self.edge_kind[e];
        let raw = self.edge_name[e];
        if kind.is_indexed() {
            return format!("[{raw}]");
        }
        let name = self.strings.get(raw as usize).map_or("?", String::as_str);
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

    /// Shortest path (by edge count) from the root to every node over strong edges: for each
    /// node the edge it was first reached by (`u32::MAX` for the root and unreachable nodes).
    pub fn bfs_parents(&self) -> Vec<u32> {
        let n = self.node_count();
        let mut parent_edge = vec![u32::MAX; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        if n == 0 {
            return parent_edge;
        }
        seen[0] = true;
        queue.push_back(0u32);
        while let Some(v) = queue.pop_front() {
            for e in self.edges(v) {
                if !self.is_strong(e) {
                    continue;
                }
                let t = self.edge_to[e];
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    parent_edge[t as usize] = e as u32;
                    queue.push_back(t);
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
