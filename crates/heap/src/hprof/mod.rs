//! Java HPROF 1.0.2 reader (plain or gzip): strings, classes, class dumps with static fields,
//! instance dumps, object and primitive arrays and GC roots, turned into a [`HeapGraph`].
//!
//! Object ids are addresses and not stable across dumps, so diffs of HPROF dumps compare by
//! class and accumulation point only. The dump is streamed once, record by record, through a
//! small buffer: nodes go straight into the graph's columns, references are kept as object
//! ids until the end and then turned into node indices (dropping references to objects that
//! are not in the dump). Names are resolved at the end too, so `LOAD CLASS` and string records
//! may come in any order. Primitive array contents are skipped, never held.
//!
//! Node order is dump order with the synthetic root first; the root's edges go to the GC roots
//! sorted by id. HotSpot writes class dumps before instances; an instance seen before its
//! class's dump is kept aside and its references are added at the end.

mod input;

use std::io::Read;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::error::HeapError;
use crate::graph::{EdgeKind, HeapGraph, NodeKind};
use crate::v8::ReadOptions;
use input::{Input, R};

/// Size in bytes of an HPROF basic type (2 = object id).
fn type_size(t: u8, id: usize) -> Option<usize> {
    Some(match t {
        2 => id,
        4 | 8 => 1,
        5 | 9 => 2,
        6 | 10 => 4,
        7 | 11 => 8,
        _ => return None,
    })
}

fn prim_name(t: u8) -> &'static str {
    match t {
        4 => "boolean[]",
        5 => "char[]",
        6 => "float[]",
        7 => "double[]",
        8 => "byte[]",
        9 => "short[]",
        10 => "int[]",
        11 => "long[]",
        _ => "?[]",
    }
}

struct ClassInfo {
    sup: u64,
    /// Instance fields: (name string id, basic type).
    fields: Vec<(u64, u8)>,
}

/// Object header size assumed for shallow sizes (64-bit JVM with compressed class pointers).
const HEADER: u64 = 16;

/// Longest superclass chain followed when decoding an instance (a cycle in a corrupt dump
/// must not loop forever; real Java hierarchies are far shallower).
const MAX_DEPTH: usize = 64;

/// What a node is named after, resolved to text once the whole dump is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NameKey {
    /// The synthetic root.
    Roots,
    /// A class object (`class java.lang.String`).
    ClassObject(u64),
    /// An instance of a class.
    Instance(u64),
    /// An object array of the given array class.
    ObjArray(u64),
    /// A primitive array of the given basic type.
    PrimArray(u8),
}

/// An instance whose class (or a superclass) had not been dumped yet when it was read.
struct Deferred {
    node: u32,
    class: u64,
    data: Vec<u8>,
}

/// State of one streaming read.
struct Builder {
    id: usize,
    g: HeapGraph,
    /// Targets of the edges, as object ids (turned into node indices at the end).
    targets: Vec<u64>,
    /// Node of each object id.
    index: FxHashMap<u64, u32>,
    strings: FxHashMap<u64, String>,
    class_names: FxHashMap<u64, u64>,
    classes: FxHashMap<u64, ClassInfo>,
    names: FxHashMap<NameKey, u32>,
    name_keys: Vec<NameKey>,
    /// Field-name string id of each distinct field name used by an edge.
    field_slots: FxHashMap<u64, u32>,
    field_ids: Vec<u64>,
    roots: Vec<u64>,
    deferred: Vec<Deferred>,
    new_above: u64,
}

/// Reads an HPROF dump from a decompressed reader; `path` is used in errors.
pub fn read(r: impl Read, path: &Path, opts: &ReadOptions) -> Result<HeapGraph, HeapError> {
    let mut input = Input::new(r);
    parse(&mut input, opts).map_err(|(offset, what)| HeapError::Malformed {
        path: path.to_owned(),
        gzip: false,
        offset,
        what,
    })
}

fn parse<Rd: Read>(input: &mut Input<Rd>, opts: &ReadOptions) -> R<HeapGraph> {
    // "JAVA PROFILE 1.0.x\0"
    let mut header = Vec::new();
    loop {
        let c = input
            .u1()
            .map_err(|_| (input.pos(), "no HPROF header".to_string()))?;
        if c == 0 {
            break;
        }
        if header.len() > 64 {
            return Err((0, "no HPROF header".to_string()));
        }
        header.push(c);
    }
    let at = input.pos();
    let id = input.u4()? as usize;
    if id != 4 && id != 8 {
        return Err((at, format!("identifier size {id} (expected 4 or 8)")));
    }
    input.id = id;
    // The dump's time: milliseconds since the epoch as two big-endian u4 (high word first).
    let high = u64::from(input.u4()?);
    let low = u64::from(input.u4()?);
    let taken_at_ms = (high << 32) | low;
    let mut b = Builder {
        id,
        g: HeapGraph::default(),
        targets: Vec::new(),
        index: FxHashMap::default(),
        strings: FxHashMap::default(),
        class_names: FxHashMap::default(),
        classes: FxHashMap::default(),
        names: FxHashMap::default(),
        name_keys: Vec::new(),
        field_slots: FxHashMap::default(),
        field_ids: Vec::new(),
        roots: Vec::new(),
        deferred: Vec::new(),
        new_above: opts.new_above,
    };
    // Node 0: the synthetic root; its edges are added at the end.
    b.g.taken_at_ms = (taken_at_ms != 0).then_some(taken_at_ms);
    let root_name = b.name_slot(NameKey::Roots);
    b.g.push_node(NodeKind::Synthetic, root_name, 0);
    b.g.newer.push(false);
    b.g.first_edge.extend([0, 0]);
    let mut saw_dump = false;
    let mut scratch = Vec::new();
    while !input.at_eof()? {
        let at = input.pos();
        let tag = input.u1()?;
        input.skip(4)?;
        let len = u64::from(input.u4()?);
        let end = input.pos() + len;
        match tag {
            0x01 => {
                let sid = input.id()?;
                let n = len
                    .checked_sub(id as u64)
                    .ok_or((at, "short UTF8 record".to_string()))?;
                input.bytes(n as usize, &mut scratch)?;
                b.strings
                    .insert(sid, String::from_utf8_lossy(&scratch).into_owned());
            }
            0x02 => {
                input.skip(4)?;
                let cid = input.id()?;
                input.skip(4)?;
                let nid = input.id()?;
                b.class_names.insert(cid, nid);
            }
            0x0C | 0x1C => {
                saw_dump = true;
                b.segment(input, end, &mut scratch)?;
            }
            _ => {}
        }
        let pos = input.pos();
        if pos > end {
            return Err((
                at,
                format!("record 0x{tag:02x} is longer than its {len} bytes"),
            ));
        }
        input.skip_to(end).map_err(|(_, _)| {
            (
                at,
                format!("record 0x{tag:02x} of {len} bytes runs past the end (truncated dump?)"),
            )
        })?;
    }
    if !saw_dump {
        return Err((input.pos(), "no heap dump records (truncated dump?)".into()));
    }
    b.finish()
}

impl Builder {
    fn name_slot(&mut self, key: NameKey) -> u32 {
        if let Some(&s) = self.names.get(&key) {
            return s;
        }
        let s = self.name_keys.len() as u32;
        self.name_keys.push(key);
        self.names.insert(key, s);
        s
    }

    fn field_slot(&mut self, fname: u64) -> u32 {
        if let Some(&s) = self.field_slots.get(&fname) {
            return s;
        }
        let s = self.field_ids.len() as u32;
        self.field_ids.push(fname);
        self.field_slots.insert(fname, s);
        s
    }

    /// Adds an object node (its edges follow until the next node).
    fn node(&mut self, oid: u64, key: NameKey, size: u64) -> R<u32> {
        let n = self.g.node_count();
        if n >= u32::MAX as usize - 1 {
            return Err((0, "too many objects".into()));
        }
        let n = n as u32;
        let slot = self.name_slot(key);
        self.index.insert(oid, n);
        self.g.push_node(NodeKind::Object, slot, size);
        self.g.newer.push(oid > self.new_above);
        self.g.max_object_id = self.g.max_object_id.max(oid);
        Ok(n)
    }

    fn edge(&mut self, kind: EdgeKind, name: u32, target: u64) {
        if target != 0 {
            self.g.edge_kind.push(kind);
            self.g.edge_name.push(name);
            self.targets.push(target);
        }
    }

    fn close_node(&mut self, at: u64) -> R<()> {
        if self.targets.len() >= u32::MAX as usize {
            return Err((at, "too many references".into()));
        }
        self.g.first_edge.push(self.targets.len() as u32);
        Ok(())
    }

    /// Whether the class and all its superclasses have been dumped.
    fn hierarchy_known(&self, mut cid: u64) -> bool {
        for _ in 0..MAX_DEPTH {
            if cid == 0 {
                return true;
            }
            match self.classes.get(&cid) {
                Some(ci) => cid = ci.sup,
                None => return false,
            }
        }
        true
    }

    /// Reference fields of an instance, own class first, then its superclasses.
    fn instance_refs(&self, mut cid: u64, data: &[u8], out: &mut Vec<(u64, u64)>) {
        let id = self.id;
        let mut pos = 0usize;
        for _ in 0..MAX_DEPTH {
            if cid == 0 {
                break;
            }
            let Some(ci) = self.classes.get(&cid) else {
                break;
            };
            for &(fname, ty) in &ci.fields {
                let Some(sz) = type_size(ty, id) else { return };
                let Some(v) = data.get(pos..pos + sz) else {
                    return;
                };
                pos += sz;
                if ty == 2 {
                    out.push((fname, be(v)));
                }
            }
            cid = ci.sup;
        }
    }

    fn segment<Rd: Read>(
        &mut self,
        input: &mut Input<Rd>,
        end: u64,
        scratch: &mut Vec<u8>,
    ) -> R<()> {
        let id = self.id;
        let mut refs: Vec<(u64, u64)> = Vec::new();
        while input.pos() < end {
            let sub_at = input.pos();
            let t = input.u1()?;
            match t {
                0xFF | 0x05 | 0x07 => self.roots.push(input.id()?),
                0x01 => {
                    self.roots.push(input.id()?);
                    input.id()?;
                }
                0x02 | 0x03 | 0x08 => {
                    self.roots.push(input.id()?);
                    input.skip(8)?;
                }
                0x04 | 0x06 => {
                    self.roots.push(input.id()?);
                    input.skip(4)?;
                }
                0x20 => {
                    let cid = input.id()?;
                    input.skip(4)?;
                    let sup = input.id()?;
                    for _ in 0..5 {
                        input.id()?;
                    }
                    input.u4()?;
                    for _ in 0..input.u2()? {
                        input.skip(2)?;
                        let ty = input.u1()?;
                        let sz = type_size(ty, id)
                            .ok_or((input.pos(), format!("unknown basic type {ty}")))?;
                        input.skip(sz as u64)?;
                    }
                    let mut statics = Vec::new();
                    for _ in 0..input.u2()? {
                        let name = input.id()?;
                        let ty = input.u1()?;
                        if ty == 2 {
                            statics.push((name, input.id()?));
                        } else {
                            let sz = type_size(ty, id)
                                .ok_or((input.pos(), format!("unknown basic type {ty}")))?;
                            input.skip(sz as u64)?;
                        }
                    }
                    let mut fields = Vec::new();
                    for _ in 0..input.u2()? {
                        let name = input.id()?;
                        let ty = input.u1()?;
                        type_size(ty, id)
                            .ok_or((input.pos(), format!("unknown basic type {ty}")))?;
                        fields.push((name, ty));
                    }
                    self.classes.insert(cid, ClassInfo { sup, fields });
                    self.node(cid, NameKey::ClassObject(cid), HEADER)
                        .map_err(|e| (sub_at, e.1))?;
                    for (fname, target) in statics {
                        let slot = self.field_slot(fname);
                        self.edge(EdgeKind::Property, slot, target);
                    }
                    self.close_node(sub_at)?;
                }
                0x21 => {
                    let oid = input.id()?;
                    input.skip(4)?;
                    let cid = input.id()?;
                    let n = input.u4()? as usize;
                    input.bytes(n, scratch)?;
                    let node = self
                        .node(oid, NameKey::Instance(cid), HEADER + n as u64)
                        .map_err(|e| (sub_at, e.1))?;
                    if self.hierarchy_known(cid) {
                        refs.clear();
                        self.instance_refs(cid, scratch, &mut refs);
                        for &(fname, target) in &refs {
                            let slot = self.field_slot(fname);
                            self.edge(EdgeKind::Property, slot, target);
                        }
                    } else {
                        self.deferred.push(Deferred {
                            node,
                            class: cid,
                            data: scratch.clone(),
                        });
                    }
                    self.close_node(sub_at)?;
                }
                0x22 => {
                    let oid = input.id()?;
                    input.skip(4)?;
                    let n = input.u4()?;
                    let cid = input.id()?;
                    self.node(
                        oid,
                        NameKey::ObjArray(cid),
                        HEADER + u64::from(n) * id as u64,
                    )
                    .map_err(|e| (sub_at, e.1))?;
                    let mut i = 0u32;
                    input.ids(u64::from(n), |target| {
                        self.edge(EdgeKind::Element, i, target);
                        i += 1;
                    })?;
                    self.close_node(sub_at)?;
                }
                0x23 => {
                    let oid = input.id()?;
                    input.skip(4)?;
                    let n = input.u4()?;
                    let ty = input.u1()?;
                    let es = type_size(ty, id)
                        .ok_or((input.pos(), format!("unknown basic type {ty}")))?;
                    input.skip(u64::from(n) * es as u64)?;
                    self.node(
                        oid,
                        NameKey::PrimArray(ty),
                        HEADER + u64::from(n) * es as u64,
                    )
                    .map_err(|e| (sub_at, e.1))?;
                    self.close_node(sub_at)?;
                }
                other => {
                    return Err((
                        sub_at,
                        format!("unknown heap dump sub-record 0x{other:02x}"),
                    ));
                }
            }
            if input.pos() > end {
                return Err((sub_at, "heap dump sub-record runs past its segment".into()));
            }
        }
        Ok(())
    }

    fn class_name(&self, cid: u64) -> String {
        self.class_names
            .get(&cid)
            .and_then(|n| self.strings.get(n))
            .map_or_else(|| format!("class@{cid:x}"), |s| s.replace('/', "."))
    }

    fn finish(mut self) -> R<HeapGraph> {
        // References of instances read before their class: appended to their nodes.
        let mut late: Vec<(u32, EdgeKind, u32, u64)> = Vec::new();
        let deferred = std::mem::take(&mut self.deferred);
        let mut refs = Vec::new();
        for d in &deferred {
            refs.clear();
            self.instance_refs(d.class, &d.data, &mut refs);
            for &(fname, target) in &refs {
                if target != 0 {
                    let slot = self.field_slot(fname);
                    late.push((d.node, EdgeKind::Property, slot, target));
                }
            }
        }
        drop(deferred);
        // The root's edges: GC roots sorted by id, named by their position.
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_unstable();
        roots.dedup();
        for (i, &r) in roots.iter().enumerate() {
            late.push((0, EdgeKind::Element, i as u32, r));
        }
        drop(roots);
        if !late.is_empty() {
            self.insert_late(late);
        }
        // Object ids -> node indices, dropping references to objects not in the dump.
        let g = &mut self.g;
        let n = g.node_count();
        let mut edge_to: Vec<u32> = Vec::with_capacity(self.targets.len());
        let mut w = 0usize;
        let mut start = 0usize;
        for v in 0..n {
            let end = g.first_edge[v + 1] as usize;
            g.first_edge[v] = w as u32;
            for e in start..end {
                if let Some(&t) = self.index.get(&self.targets[e]) {
                    edge_to.push(t);
                    g.edge_kind[w] = g.edge_kind[e];
                    g.edge_name[w] = g.edge_name[e];
                    w += 1;
                }
            }
            start = end;
        }
        g.first_edge[n] = w as u32;
        g.edge_kind.truncate(w);
        g.edge_name.truncate(w);
        g.edge_to = edge_to;
        drop(std::mem::take(&mut self.targets));
        drop(std::mem::take(&mut self.index));
        // Names: node names and field names become strings.
        let mut interned: FxHashMap<String, u32> = FxHashMap::default();
        let mut intern = |g: &mut HeapGraph, s: String| -> R<u32> {
            if let Some(&i) = interned.get(&s) {
                return Ok(i);
            }
            let i = g.strings.len() as u32;
            if !g.strings.push(&s) {
                return Err((0, "string table larger than 4 GiB".into()));
            }
            interned.insert(s, i);
            Ok(i)
        };
        let mut node_names = Vec::with_capacity(self.name_keys.len());
        for &key in &self.name_keys {
            let text = match key {
                NameKey::Roots => "(GC roots)".to_owned(),
                NameKey::ClassObject(cid) => format!("class {}", self.class_name(cid)),
                NameKey::Instance(cid) => self.class_name(cid),
                NameKey::ObjArray(cid) => {
                    let nm = self.class_name(cid);
                    if let Some(inner) = nm.strip_prefix("[L").and_then(|x| x.strip_suffix(';')) {
                        format!("{inner}[]")
                    } else if nm.ends_with("[]") {
                        nm
                    } else {
                        format!("{nm}[]")
                    }
                }
                NameKey::PrimArray(ty) => prim_name(ty).to_owned(),
            };
            node_names.push(intern(&mut self.g, text)?);
        }
        let mut field_names = Vec::with_capacity(self.field_ids.len());
        for fid in &self.field_ids {
            let text = self.strings.get(fid).map_or("?", String::as_str).to_owned();
            field_names.push(intern(&mut self.g, text)?);
        }
        let g = &mut self.g;
        for slot in &mut g.name {
            *slot = node_names[*slot as usize];
        }
        for (name, kind) in g.edge_name.iter_mut().zip(&g.edge_kind) {
            if *kind == EdgeKind::Property {
                *name = field_names[*name as usize];
            }
        }
        g.file_edges = g.edge_to.len() as u64;
        Ok(self.g)
    }

    /// Adds edges of earlier nodes (the root, deferred instances) in node order; `late` holds
    /// (node, kind, name, target id). The root's edges alone are rotated in place; others
    /// rebuild the edge columns once.
    fn insert_late(&mut self, mut late: Vec<(u32, EdgeKind, u32, u64)>) {
        late.sort_by_key(|l| l.0);
        let g = &mut self.g;
        let n = g.node_count();
        let k = late.len();
        if late.iter().all(|l| l.0 == 0) && g.first_edge[1] == 0 {
            for &(_, kind, name, target) in &late {
                g.edge_kind.push(kind);
                g.edge_name.push(name);
                self.targets.push(target);
            }
            g.edge_kind.rotate_right(k);
            g.edge_name.rotate_right(k);
            self.targets.rotate_right(k);
            for f in &mut g.first_edge[1..] {
                *f += k as u32;
            }
            return;
        }
        let total = self.targets.len() + k;
        let mut kinds = Vec::with_capacity(total);
        let mut names = Vec::with_capacity(total);
        let mut targets = Vec::with_capacity(total);
        let mut li = 0;
        for v in 0..n {
            let (s, e) = (g.first_edge[v] as usize, g.first_edge[v + 1] as usize);
            g.first_edge[v] = targets.len() as u32;
            kinds.extend_from_slice(&g.edge_kind[s..e]);
            names.extend_from_slice(&g.edge_name[s..e]);
            targets.extend_from_slice(&self.targets[s..e]);
            while li < k && late[li].0 as usize == v {
                kinds.push(late[li].1);
                names.push(late[li].2);
                targets.push(late[li].3);
                li += 1;
            }
        }
        g.first_edge[n] = targets.len() as u32;
        g.edge_kind = kinds;
        g.edge_name = names;
        self.targets = targets;
    }
}

/// Big-endian integer of 4 or 8 bytes.
fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}
