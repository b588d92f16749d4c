//! Java HPROF 1.0.2 reader (plain or gzip): strings, classes, class dumps with static fields,
//! instance dumps, object and primitive arrays and GC roots, turned into a [`HeapGraph`].
//!
//! Object ids are addresses and not stable across dumps, so diffs of HPROF dumps compare by
//! class and accumulation point only. This first version reads the decompressed dump into
//! memory (two passes over the records); it does not stream yet.

use std::io::Read;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::error::HeapError;
use crate::graph::{EdgeKind, HeapGraph, NodeKind};
use crate::v8::ReadOptions;

struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
    id: usize,
}

type R<T> = Result<T, (usize, String)>;

impl Cur<'_> {
    fn take(&mut self, n: usize) -> R<&[u8]> {
        if self.b.len() - self.pos < n {
            return Err((self.pos, "unexpected end of file (truncated dump?)".into()));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u1(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn u2(&mut self) -> R<u16> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u4(&mut self) -> R<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn id(&mut self) -> R<u64> {
        let n = self.id;
        let s = self.take(n)?;
        Ok(s.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
    fn skip(&mut self, n: usize) -> R<()> {
        self.take(n).map(|_| ())
    }
}

/// Size in bytes of an HPROF basic type (2 = object id).
fn type_size(t: u8, id: usize) -> R<usize> {
    Ok(match t {
        2 => id,
        4 | 8 => 1,
        5 | 9 => 2,
        6 | 10 => 4,
        7 | 11 => 8,
        _ => return Err((0, format!("unknown basic type {t}"))),
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
    fields: Vec<(u64, u8)>,
    statics: Vec<(u64, u64)>,
    instance_size: u32,
}

/// Object header size assumed for shallow sizes (64-bit JVM with compressed class pointers).
const HEADER: u64 = 16;

/// Reads an HPROF dump from a decompressed reader; `path` is used in errors.
pub fn read(mut r: impl Read, path: &Path, opts: &ReadOptions) -> Result<HeapGraph, HeapError> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).map_err(|e| HeapError::Malformed {
        path: path.to_owned(),
        offset: buf.len() as u64,
        what: format!("read error ({e})"),
    })?;
    parse(&buf, opts).map_err(|(offset, what)| HeapError::Malformed {
        path: path.to_owned(),
        offset: offset as u64,
        what,
    })
}

fn parse(b: &[u8], opts: &ReadOptions) -> R<HeapGraph> {
    let nul = b
        .iter()
        .position(|&c| c == 0)
        .ok_or((0, "no HPROF header".to_string()))?;
    let mut c = Cur {
        b,
        pos: nul + 1,
        id: 4,
    };
    let id = c.u4()? as usize;
    if id != 4 && id != 8 {
        return Err((nul + 1, format!("identifier size {id} (expected 4 or 8)")));
    }
    c.id = id;
    c.skip(8)?;
    let mut strings: FxHashMap<u64, String> = FxHashMap::default();
    let mut class_names: FxHashMap<u64, u64> = FxHashMap::default();
    let mut classes: FxHashMap<u64, ClassInfo> = FxHashMap::default();
    // Pass 1: records; remember heap-dump segments.
    let mut segments = Vec::new();
    let mut saw_end = false;
    while c.pos < b.len() {
        let at = c.pos;
        let tag = c.u1()?;
        c.skip(4)?;
        let len = c.u4()? as usize;
        let body = c.pos;
        if b.len() - body < len {
            return Err((
                at,
                format!("record 0x{tag:02x} of {len} bytes runs past the end (truncated dump?)"),
            ));
        }
        match tag {
            0x01 => {
                let sid = c.id()?;
                let text = String::from_utf8_lossy(&b[c.pos..body + len]).into_owned();
                strings.insert(sid, text);
            }
            0x02 => {
                c.skip(4)?;
                let cid = c.id()?;
                c.skip(4)?;
                let nid = c.id()?;
                class_names.insert(cid, nid);
            }
            0x0C | 0x1C => segments.push((body, body + len)),
            0x2C => saw_end = true,
            _ => {}
        }
        c.pos = body + len;
    }
    let _ = saw_end;
    if segments.is_empty() {
        return Err((b.len(), "no heap dump records (truncated dump?)".into()));
    }
    // Pass 2a: class dumps and object ids -> node indices.
    let mut g = HeapGraph::default();
    let mut interned: FxHashMap<String, u32> = FxHashMap::default();
    let mut intern = |g: &mut HeapGraph, s: &str| -> u32 {
        if let Some(&i) = interned.get(s) {
            return i;
        }
        let i = g.strings.len() as u32;
        if !g.strings.push(s) {
            return 0;
        }
        interned.insert(s.to_owned(), i);
        i
    };
    let root_name = intern(&mut g, "(GC roots)");
    g.push_node(NodeKind::Synthetic, root_name, 0);
    g.newer.push(false);
    let mut index: FxHashMap<u64, u32> = FxHashMap::default();
    let mut roots: Vec<u64> = Vec::new();
    let mut objects: Vec<(usize, u8)> = Vec::new(); // (offset of sub-record body, tag)
    for &(start, end) in &segments {
        let mut s = Cur {
            b: &b[..end],
            pos: start,
            id,
        };
        while s.pos < end {
            let sub_at = s.pos;
            let t = s.u1()?;
            match t {
                0xFF | 0x05 | 0x07 => roots.push(s.id()?),
                0x01 => {
                    roots.push(s.id()?);
                    s.id()?;
                }
                0x02 | 0x03 | 0x08 => {
                    roots.push(s.id()?);
                    s.skip(8)?;
                }
                0x04 | 0x06 => {
                    roots.push(s.id()?);
                    s.skip(4)?;
                }
                0x20 => {
                    let cid = s.id()?;
                    s.skip(4)?;
                    let sup = s.id()?;
                    for _ in 0..5 {
                        s.id()?;
                    }
                    let instance_size = s.u4()?;
                    for _ in 0..s.u2()? {
                        s.skip(2)?;
                        let ty = s.u1()?;
                        s.skip(type_size(ty, id).map_err(|e| (s.pos, e.1))?)?;
                    }
                    let mut statics = Vec::new();
                    for _ in 0..s.u2()? {
                        let name = s.id()?;
                        let ty = s.u1()?;
                        if ty == 2 {
                            statics.push((name, s.id()?));
                        } else {
                            s.skip(type_size(ty, id).map_err(|e| (s.pos, e.1))?)?;
                        }
                    }
                    let mut fields = Vec::new();
                    for _ in 0..s.u2()? {
                        let name = s.id()?;
                        let ty = s.u1()?;
                        type_size(ty, id).map_err(|e| (s.pos, e.1))?;
                        fields.push((name, ty));
                    }
                    classes.insert(
                        cid,
                        ClassInfo {
                            sup,
                            fields,
                            statics,
                            instance_size,
                        },
                    );
                    objects.push((sub_at, t));
                    index.insert(cid, 0);
                }
                0x21 => {
                    let oid = s.id()?;
                    s.skip(4)?;
                    s.id()?;
                    let n = s.u4()? as usize;
                    s.skip(n)?;
                    objects.push((sub_at, t));
                    index.insert(oid, 0);
                }
                0x22 => {
                    let oid = s.id()?;
                    s.skip(4)?;
                    let n = s.u4()? as usize;
                    s.id()?;
                    s.skip(
                        n.checked_mul(id)
                            .ok_or((s.pos, "array too large".to_string()))?,
                    )?;
                    objects.push((sub_at, t));
                    index.insert(oid, 0);
                }
                0x23 => {
                    let oid = s.id()?;
                    s.skip(4)?;
                    let n = s.u4()? as usize;
                    let ty = s.u1()?;
                    let es = type_size(ty, id).map_err(|e| (s.pos, e.1))?;
                    s.skip(
                        n.checked_mul(es)
                            .ok_or((s.pos, "array too large".to_string()))?,
                    )?;
                    objects.push((sub_at, t));
                    index.insert(oid, 0);
                }
                other => {
                    return Err((
                        sub_at,
                        format!("unknown heap dump sub-record 0x{other:02x}"),
                    ));
                }
            }
        }
    }
    let class_name = |cid: u64| -> String {
        class_names
            .get(&cid)
            .and_then(|n| strings.get(n))
            .map_or_else(|| format!("class@{cid:x}"), |s| s.replace('/', "."))
    };
    // Pass 2b: nodes in dump order.
    for &(at, t) in &objects {
        let mut s = Cur { b, pos: at + 1, id };
        let oid = s.id()?;
        let (name, size) = match t {
            0x20 => (format!("class {}", class_name(oid)), HEADER),
            0x21 => {
                s.skip(4)?;
                let cid = s.id()?;
                let n = u64::from(s.u4()?);
                (class_name(cid), HEADER + n)
            }
            0x22 => {
                s.skip(4)?;
                let n = u64::from(s.u4()?);
                let cid = s.id()?;
                let mut nm = class_name(cid);
                if let Some(inner) = nm.strip_prefix("[L").and_then(|x| x.strip_suffix(';')) {
                    nm = format!("{inner}[]");
                } else if !nm.ends_with("[]") {
                    nm.push_str("[]");
                }
                (nm, HEADER + n * id as u64)
            }
            _ => {
                s.skip(4)?;
                let n = u64::from(s.u4()?);
                let ty = s.u1()?;
                (
                    prim_name(ty).to_owned(),
                    HEADER + n * type_size(ty, id).unwrap_or(1) as u64,
                )
            }
        };
        let ni = g.kind.len() as u32;
        index.insert(oid, ni);
        let nm = intern(&mut g, &name);
        g.push_node(NodeKind::Object, nm, size);
        g.newer.push(oid > opts.new_above);
        g.max_object_id = g.max_object_id.max(oid);
    }
    // Pass 2c: edges, node by node (CSR order): root first, then objects in node order.
    g.first_edge.push(0);
    let push = |g: &mut HeapGraph, k: EdgeKind, name: u32, to: u32| {
        g.edge_kind.push(k);
        g.edge_name.push(name);
        g.edge_to.push(to);
    };
    roots.sort_unstable();
    roots.dedup();
    for (i, r) in roots.iter().enumerate() {
        if let Some(&t) = index.get(r) {
            push(&mut g, EdgeKind::Element, i as u32, t);
        }
    }
    g.first_edge.push(g.edge_to.len() as u32);
    let mut field_names: FxHashMap<u64, u32> = FxHashMap::default();
    for &(at, t) in &objects {
        let mut s = Cur { b, pos: at + 1, id };
        let oid = s.id()?;
        match t {
            0x20 => {
                if let Some(ci) = classes.get(&oid) {
                    for &(fname, target) in &ci.statics {
                        if let Some(&to) = index.get(&target) {
                            let nm = *field_names.entry(fname).or_insert_with(|| {
                                intern(&mut g, strings.get(&fname).map_or("?", String::as_str))
                            });
                            push(&mut g, EdgeKind::Property, nm, to);
                        }
                    }
                }
            }
            0x21 => {
                s.skip(4)?;
                let mut cid = s.id()?;
                let n = s.u4()? as usize;
                let end = s.pos + n;
                let mut depth = 0;
                while cid != 0 && depth < 64 {
                    let Some(ci) = classes.get(&cid) else { break };
                    let _ = ci.instance_size;
                    for &(fname, ty) in &ci.fields {
                        if s.pos >= end {
                            break;
                        }
                        if ty == 2 {
                            let target = s.id()?;
                            if let Some(&to) = index.get(&target) {
                                let nm = *field_names.entry(fname).or_insert_with(|| {
                                    intern(&mut g, strings.get(&fname).map_or("?", String::as_str))
                                });
                                push(&mut g, EdgeKind::Property, nm, to);
                            }
                        } else {
                            s.skip(type_size(ty, id).map_err(|e| (s.pos, e.1))?)?;
                        }
                    }
                    cid = ci.sup;
                    depth += 1;
                }
            }
            0x22 => {
                s.skip(4)?;
                let n = s.u4()?;
                s.id()?;
                for i in 0..n {
                    let target = s.id()?;
                    if let Some(&to) = index.get(&target) {
                        push(&mut g, EdgeKind::Element, i, to);
                    }
                }
            }
            _ => {}
        }
        if g.edge_to.len() >= u32::MAX as usize {
            return Err((at, "too many references".into()));
        }
        g.first_edge.push(g.edge_to.len() as u32);
    }
    g.file_edges = g.edge_to.len() as u64;
    Ok(g)
}
