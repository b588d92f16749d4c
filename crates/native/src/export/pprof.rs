//! Heap profile in pprof's `profile.proto`, gzipped (`go tool pprof`, Pyroscope, Speedscope).
//!
//! Sample types, in this order: `inuse_space/bytes` (the default), `inuse_objects/count`,
//! `alloc_space/bytes`, `alloc_objects/count` — the names Go's heap profiles use, so pprof's
//! `-sample_index=alloc_space` etc. work as usual. One sample per call stack with a `pid` label;
//! one location per return address (the address of the call, `return address - 1`) carrying its
//! inlined frames innermost first, as `profile.proto` orders `Location.line`; one mapping per
//! loaded module with its build id. Functions and lines are already symbolized, so the mappings
//! say `has_functions` and pprof does not try to symbolize again. The messages are the ones
//! `leakhound-heap` reads Go profiles with (one `profile.proto`, generated once).

use super::{ExportError, ProcessHeap, last_totals, write_file};
use flate2::Compression;
use flate2::write::GzEncoder;
use leakhound_heap::pprof::profiles as proto;
use prost::Message;
use rustc_hash::FxHashMap;
use std::io::Write;
use std::path::Path;

/// The sample types written, in value order: (type, unit).
pub const SAMPLE_TYPES: [(&str, &str); 4] = [
    ("inuse_space", "bytes"),
    ("inuse_objects", "count"),
    ("alloc_space", "bytes"),
    ("alloc_objects", "count"),
];

/// Interned strings; index 0 is the empty string, as `profile.proto` requires.
struct Strings {
    table: Vec<String>,
    index: FxHashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Self {
            table: Vec::new(),
            index: FxHashMap::default(),
        };
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

fn value_type(strings: &mut Strings, ty: &str, unit: &str) -> proto::ValueType {
    proto::ValueType {
        r#type: strings.get(ty),
        unit: strings.get(unit),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Builds the profile message of `procs` (not yet encoded).
pub fn build(procs: &[ProcessHeap<'_>]) -> Result<proto::Profile, ExportError> {
    let mut strings = Strings::new();
    let mut out = proto::Profile::default();
    for (ty, unit) in SAMPLE_TYPES {
        let vt = value_type(&mut strings, ty, unit);
        out.sample_type.push(vt);
    }
    out.default_sample_type = strings.get(SAMPLE_TYPES[0].0);
    let mut functions: FxHashMap<(i64, i64), u64> = FxHashMap::default();
    let pid_key = strings.get("pid");
    let mut start_ns: Option<u64> = None;
    let mut end_s = 0.0f64;
    let mut sampled_mean = None;
    for ph in procs {
        let p = ph.profile;
        if p.sampled() {
            sampled_mean = Some(p.config.sample_mean_bytes);
        }
        if p.config.start_ns > 0 {
            start_ns = Some(start_ns.map_or(p.config.start_ns, |s| s.min(p.config.start_ns)));
        }
        end_s = end_s.max(p.times.last().copied().unwrap_or(0.0));
        let comment = format!(
            "leakhound native heap agent: pid {}, {} mode, {} at {:.1} s",
            p.pid,
            if p.sampled() { "sampled" } else { "exact" },
            if p.at_exit {
                "live at exit"
            } else {
                "live at the last snapshot (no exit record)"
            },
            p.times.last().copied().unwrap_or(0.0)
        );
        let c = strings.get(&comment);
        out.comment.push(c);
        // Mappings: ids are global across processes.
        let mapping_base = out.mapping.len() as u64;
        for m in &p.modules {
            let build_id: String = m.build_id.iter().map(|b| format!("{b:02x}")).collect();
            let mapping = proto::Mapping {
                id: out.mapping.len() as u64 + 1,
                memory_start: m.start,
                memory_limit: m.end,
                file_offset: m.start.wrapping_sub(m.base),
                filename: strings.get(&m.path),
                build_id: strings.get(&build_id),
                // Every location carries its symbolized lines (see the module docs).
                has_functions: true,
                has_filenames: true,
                has_line_numbers: true,
                has_inline_frames: true,
            };
            out.mapping.push(mapping);
        }
        let mut locations: FxHashMap<u64, u64> = FxHashMap::default();
        for t in last_totals(p) {
            let mut ids = Vec::with_capacity(t.frames.len());
            for &addr in t.frames {
                let id = match locations.get(&addr) {
                    Some(&id) => id,
                    None => {
                        let id = out.location.len() as u64 + 1;
                        let mapping_id = p
                            .modules
                            .iter()
                            .position(|m| m.start <= addr && addr < m.end)
                            .map_or(0, |i| mapping_base + i as u64 + 1);
                        let mut lines = Vec::new();
                        for f in ph.symbols.frames(addr) {
                            let name = strings.get(&f.function);
                            let file = strings.get(f.file.as_deref().unwrap_or(""));
                            let next = out.function.len() as u64 + 1;
                            let fid = *functions.entry((name, file)).or_insert(next);
                            if fid == next {
                                out.function.push(proto::Function {
                                    id: fid,
                                    name,
                                    system_name: name,
                                    filename: file,
                                    start_line: 0,
                                });
                            }
                            lines.push(proto::Line {
                                function_id: fid,
                                line: f.line.map_or(0, i64::from),
                                column: 0,
                            });
                        }
                        out.location.push(proto::Location {
                            id,
                            mapping_id,
                            address: addr.saturating_sub(1),
                            line: lines,
                            is_folded: false,
                        });
                        locations.insert(addr, id);
                        id
                    }
                };
                ids.push(id);
            }
            out.sample.push(proto::Sample {
                location_id: ids,
                value: vec![
                    to_i64(t.live_bytes),
                    to_i64(t.live_blocks),
                    to_i64(t.total_bytes),
                    to_i64(t.total_allocs),
                ],
                label: vec![proto::Label {
                    key: pid_key,
                    str: 0,
                    num: i64::from(p.pid),
                    num_unit: 0,
                }],
            });
        }
    }
    if out.sample.is_empty() {
        return Err(ExportError::Empty);
    }
    out.period_type = Some(value_type(&mut strings, "space", "bytes"));
    out.period = sampled_mean.map_or(1, to_i64);
    out.time_nanos = start_ns.map_or(0, to_i64);
    out.duration_nanos = (end_s * 1e9) as i64;
    out.string_table = strings.table;
    Ok(out)
}

/// Writes `procs` as a gzipped `profile.proto` to `path`.
pub fn write(procs: &[ProcessHeap<'_>], path: &Path) -> Result<(), ExportError> {
    let profile = build(procs)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let encoded = profile.encode_to_vec();
    gz.write_all(&encoded)
        .map_err(|e| ExportError::write(path, e))?;
    let bytes = gz.finish().map_err(|e| ExportError::write(path, e))?;
    write_file(path, &bytes)
}
