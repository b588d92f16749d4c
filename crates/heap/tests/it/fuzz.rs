//! Stable-toolchain fuzzing of the three readers: thousands of random mutations and
//! truncations of small valid inputs go through the same entry points as the cargo-fuzz
//! targets (`leakhound_heap::fuzzing`), asserting that nothing panics. Errors are fine.
//! Bounded by iterations and by a time budget per reader, so it stays a few seconds even on
//! a loaded machine. Real coverage-guided fuzzing: see `fuzz/README.md` (nightly).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use leakhound_heap::fuzzing;

use crate::synthetic::{Snap, service};

/// Mutated inputs per reader (upper bound).
const ITERATIONS: usize = 20_000;
/// Time budget per reader; the loop stops early when it is used up.
const BUDGET: Duration = Duration::from_secs(3);
/// Fewest mutated inputs a reader must have been fed, even on a slow machine.
const MIN_ITERATIONS: usize = 300;

/// xorshift64*: deterministic, so a failing input can be reproduced from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the formats: JSON punctuation and digits, 0 and all-ones, gzip magic.
const INTERESTING: &[u8] = b"0123456789,[]{}\":\\\x00\xff\x1f\x8b\x7f\x80 ";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(16.min(len - i));
                b.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(64.min(len - i));
                let chunk = b[i..i + n].to_vec();
                let at = rng.below(len);
                b.splice(at..at, chunk);
            }
            4 => b.truncate(rng.below(len + 1)),
            5 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            _ if len >= 4 => {
                // Overwrite a big-endian u32 with an extreme value (lengths, counts).
                let i = rng.below(len - 3);
                let v: u32 = [0, 1, 0x7fff_ffff, u32::MAX, 0x100][rng.below(5)];
                b[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => {}
        }
    }
    b
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Feeds every truncation of the first seed (up to 2 KiB) and mutations of all seeds; each
/// call must return (Ok or Err), never panic. Returns how many inputs were fed.
fn run(
    name: &str,
    seeds: &[Vec<u8>],
    rng_seed: u64,
    f: fn(&[u8]) -> Result<(), leakhound_heap::HeapError>,
) {
    for s in seeds {
        assert!(
            f(s).is_ok(),
            "{name}: a valid seed was rejected: {:?}",
            f(s)
        );
    }
    let start = Instant::now();
    let mut rng = Rng(rng_seed);
    let mut fed = 0;
    let first = &seeds[0];
    for cut in (0..first.len()).step_by((first.len() / 2048).max(1)) {
        let _ = f(&first[..cut]);
        fed += 1;
    }
    let mut errors = 0;
    for i in 0..ITERATIONS {
        if start.elapsed() > BUDGET && i >= MIN_ITERATIONS {
            break;
        }
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        if f(&input).is_err() {
            errors += 1;
        }
        fed += 1;
    }
    eprintln!(
        "{name}: {fed} inputs, {errors} mutated inputs rejected, {:?}",
        start.elapsed()
    );
    assert!(fed >= MIN_ITERATIONS);
}

/// A small V8 snapshot with objects, a weak edge, and a located closure whose script is
/// named through `shared -> script -> name`.
fn v8_seed() -> Vec<u8> {
    let mut s: Snap = service(4, 3, 1000);
    let clo = s.node("closure", "onRequest", 71, 32);
    s.edge(0, "element", "7", clo);
    let sfi = s.node("code", "onRequest", 73, 40);
    s.edge(clo, "internal", "shared", sfi);
    let script = s.node("code", "", 75, 80);
    s.edge(sfi, "internal", "script", script);
    let url = s.node("string", "/srv/app/server.js", 77, 24);
    s.edge(script, "internal", "name", url);
    s.location(clo, 3, 11, 4);
    s.json().into_bytes()
}

/// A small HPROF 1.0.2 dump (8-byte ids): strings, two classes (one with a static reference),
/// instances with reference and int fields, an object array, a byte array and GC roots. With
/// `classes_last` the class dumps follow the instances (HotSpot writes them first).
pub(crate) fn hprof_seed(classes_last: bool) -> Vec<u8> {
    hprof_seed_at(classes_last, 0)
}

/// [`hprof_seed`] with the header's timestamp set to `taken_at_ms`.
pub(crate) fn hprof_seed_at(classes_last: bool, taken_at_ms: u64) -> Vec<u8> {
    fn id(b: &mut Vec<u8>, v: u64) {
        b.extend_from_slice(&v.to_be_bytes());
    }
    fn record(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
        out.push(tag);
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }
    let mut out = b"JAVA PROFILE 1.0.2\0".to_vec();
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&((taken_at_ms >> 32) as u32).to_be_bytes());
    out.extend_from_slice(&(taken_at_ms as u32).to_be_bytes());
    for (sid, text) in [
        (1u64, "com/example/Registry"),
        (2, "com/example/Session"),
        (3, "sessions"),
        (4, "data"),
        (5, "INSTANCE"),
        (6, "[Lcom/example/Session;"),
        (7, "id"),
    ] {
        let mut b = Vec::new();
        id(&mut b, sid);
        b.extend_from_slice(text.as_bytes());
        record(&mut out, 0x01, &b);
    }
    for (serial, cid, sid) in [(1u32, 100u64, 1u64), (2, 200, 2), (3, 300, 6)] {
        let mut b = serial.to_be_bytes().to_vec();
        id(&mut b, cid);
        b.extend_from_slice(&0u32.to_be_bytes());
        id(&mut b, sid);
        record(&mut out, 0x02, &b);
    }
    let mut d = Vec::new();
    // Class dumps: Registry (static INSTANCE, field sessions: Session[]), Session (data, id).
    let class = |d: &mut Vec<u8>, cid: u64, statics: &[(u64, u64)], fields: &[(u64, u8)]| {
        d.push(0x20);
        id(d, cid);
        d.extend_from_slice(&0u32.to_be_bytes());
        for _ in 0..6 {
            id(d, 0);
        }
        d.extend_from_slice(&16u32.to_be_bytes());
        d.extend_from_slice(&0u16.to_be_bytes());
        d.extend_from_slice(&(statics.len() as u16).to_be_bytes());
        for &(name, target) in statics {
            id(d, name);
            d.push(2);
            id(d, target);
        }
        d.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for &(name, ty) in fields {
            id(d, name);
            d.push(ty);
        }
    };
    let mut classes = Vec::new();
    class(&mut classes, 100, &[(5, 1000)], &[(3, 2)]);
    class(&mut classes, 200, &[], &[(4, 2), (7, 10)]);
    class(&mut classes, 300, &[], &[]);
    if !classes_last {
        d.append(&mut classes);
    }
    // Registry instance 1000 -> array 1001 -> sessions 1100.. -> byte[] 1200..
    d.push(0x21);
    id(&mut d, 1000);
    d.extend_from_slice(&0u32.to_be_bytes());
    id(&mut d, 100);
    d.extend_from_slice(&8u32.to_be_bytes());
    id(&mut d, 1001);
    d.push(0x22);
    id(&mut d, 1001);
    d.extend_from_slice(&0u32.to_be_bytes());
    d.extend_from_slice(&3u32.to_be_bytes());
    id(&mut d, 300);
    for k in 0..3 {
        id(&mut d, 1100 + k);
    }
    for k in 0..3u64 {
        d.push(0x21);
        id(&mut d, 1100 + k);
        d.extend_from_slice(&0u32.to_be_bytes());
        id(&mut d, 200);
        d.extend_from_slice(&12u32.to_be_bytes());
        id(&mut d, 1200 + k);
        d.extend_from_slice(&(k as u32).to_be_bytes());
        d.push(0x23);
        id(&mut d, 1200 + k);
        d.extend_from_slice(&0u32.to_be_bytes());
        d.extend_from_slice(&16u32.to_be_bytes());
        d.push(8);
        d.extend_from_slice(&[7; 16]);
    }
    // Roots: a sticky class and a JNI global.
    d.push(0x05);
    id(&mut d, 100);
    d.push(0x01);
    id(&mut d, 1000);
    id(&mut d, 9);
    d.append(&mut classes);
    record(&mut out, 0x1C, &d);
    record(&mut out, 0x2C, &[]);
    out
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn v8_reader_survives_mutations() {
    let plain = v8_seed();
    let gz = gzip(&plain);
    run("v8", &[plain, gz], 0x5eed_0001, fuzzing::v8);
}

#[test]
fn hprof_reader_survives_mutations() {
    let plain = hprof_seed(false);
    let gz = gzip(&plain);
    run(
        "hprof",
        &[plain, gz, hprof_seed(true)],
        0x5eed_0002,
        fuzzing::hprof,
    );
}

/// Instances read before their class dump get the same references (added at the end).
#[test]
fn hprof_instances_before_their_class_get_the_same_references() {
    let dir = tempfile::tempdir().unwrap();
    let edges = |classes_last: bool| {
        let p = dir.path().join(format!("{classes_last}.hprof"));
        std::fs::write(&p, hprof_seed(classes_last)).unwrap();
        let g = leakhound_heap::v8::read_path(&p).unwrap();
        let mut out: Vec<String> = (0..g.node_count() as u32)
            .flat_map(|v| {
                g.edges(v)
                    .map(|e| {
                        let to = g.edge_to[e];
                        format!(
                            "{}{} -> {}",
                            g.display_name(v),
                            g.edge_label(e),
                            g.display_name(to)
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    };
    let first = edges(false);
    assert!(
        first.contains(&"com.example.Session.data -> byte[]".to_owned()),
        "{first:#?}"
    );
    assert!(
        first.contains(&"class com.example.Registry.INSTANCE -> com.example.Registry".to_owned())
    );
    assert_eq!(first, edges(true));
}

#[test]
fn pprof_reader_survives_mutations() {
    let heap = fixture("go-heap.pb.gz");
    let goroutine = fixture("go-goroutine.pb.gz");
    // Mutating the protobuf itself reaches the decoder; mutating gzip mostly the inflater.
    let seeds = vec![gunzip(&heap), gunzip(&goroutine), heap, goroutine];
    run("pprof", &seeds, 0x5eed_0003, fuzzing::pprof);
}

#[test]
fn plain_pprof_is_told_from_text_by_content() {
    use leakhound_heap::{DumpFormat, HeapError, v8::open_reader};
    let format = |b: &[u8]| {
        open_reader(std::io::Cursor::new(b.to_vec()), std::path::Path::new("x")).map(|(f, _)| f)
    };
    for name in ["go-heap.pb.gz", "go-goroutine.pb.gz"] {
        let gz = fixture(name);
        assert_eq!(format(&gz).unwrap(), DumpFormat::Pprof, "{name}");
        assert_eq!(
            format(&gunzip(&gz)).unwrap(),
            DumpFormat::Pprof,
            "{name} gunzipped"
        );
    }
    // google/pprof writes `sample_type` (field 1) first, Go's runtime `period_type` (field 11).
    assert_eq!(
        format(&[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]).unwrap(),
        DumpFormat::Pprof
    );
    for text in [&b"\nhello\n"[..], b"Zebra\n", b"\n\n\n", b"\x0a\x04\x09"] {
        assert!(
            matches!(format(text), Err(HeapError::Format { .. })),
            "{text:?} read as a dump"
        );
    }
}
