//! Version-matrix test: the checked-in v1 fixture must keep reading with the current reader.
//!
//! `tests/fixtures/v1-small.lhev` was written by this crate's encoder when format version 1 was
//! defined. If a change breaks this test, the change is incompatible: bump
//! `FORMAT_VERSION` and keep a reader for version 1 instead of editing the fixture.
//! Regenerate (only together with a version bump) with `LEAKHOUND_REGEN_FIXTURE=1`.

use leakhound_agent_format::{
    Config, Encoder, EndOfProcess, FORMAT_VERSION, Header, ModuleMap, Record, SnapshotEntry,
    StackDef, StackId, read_stream,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1-small.lhev");

fn entry(stack: u32, live_bytes: u64, live_blocks: u64) -> SnapshotEntry {
    SnapshotEntry {
        stack: StackId(stack),
        live_bytes,
        live_blocks,
        total_bytes: live_bytes * 4,
        total_allocs: live_blocks * 4,
        live_samples: live_blocks,
    }
}

fn expected() -> Vec<Record> {
    vec![
        Record::Config(Config {
            mode: 0,
            sample_mean_bytes: 0,
            interval_ms: 1000,
            start_ns: 1_700_000_000_000_000_000,
        }),
        Record::ModuleMap(ModuleMap {
            base: 0x5555_5555_0000,
            start: 0x5555_5555_0000,
            end: 0x5555_5556_0000,
            build_id: vec![0xde, 0xad, 0xbe, 0xef],
            path: "/opt/app/bin/server".into(),
        }),
        Record::StackDef(StackDef {
            stack: StackId(0),
            frames: vec![0x5555_5555_1234, 0x5555_5555_2000],
        }),
        Record::Snapshot(leakhound_agent_format::record::Snapshot {
            timestamp_ns: 1_700_000_001_000_000_000,
            entries: vec![entry(0, 1280, 10)],
        }),
        Record::Snapshot(leakhound_agent_format::record::Snapshot {
            timestamp_ns: 1_700_000_002_000_000_000,
            entries: vec![entry(0, 2560, 20)],
        }),
        Record::EndOfProcess(EndOfProcess {
            timestamp_ns: 1_700_000_002_500_000_000,
            dropped: 0,
        }),
    ]
}

fn encode(records: &[Record]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut enc = Encoder::new(&mut buf);
    enc.header(&Header::new(4242)).expect("fixture fits");
    for r in records {
        match r {
            Record::Config(c) => enc.config(c),
            Record::ModuleMap(m) => {
                enc.module_map(m.base, (m.start, m.end), &m.build_id, m.path.as_bytes())
            }
            Record::StackDef(s) => enc.stack_def(s.stack, &s.frames),
            Record::Snapshot(s) => enc.snapshot(s.timestamp_ns, &s.entries),
            Record::EndOfProcess(e) => enc.end_of_process(e.timestamp_ns, e.dropped),
        }
        .expect("fixture fits");
    }
    enc.as_bytes().to_vec()
}

#[test]
fn v1_fixture_reads_with_current_reader() {
    if std::env::var_os("LEAKHOUND_REGEN_FIXTURE").is_some() {
        std::fs::write(FIXTURE, encode(&expected())).expect("write fixture");
    }
    let bytes = std::fs::read(FIXTURE).expect("fixture is checked in");
    let stream = read_stream(&bytes).expect("v1 fixture reads");
    assert_eq!(
        FORMAT_VERSION, 1,
        "bump: add a reader for v1 and keep this test"
    );
    assert_eq!(stream.header, Some(Header::new(4242)));
    assert_eq!(stream.records, expected());
    assert_eq!(stream.truncated_at, None);
    // The current encoder still produces the fixture byte for byte.
    assert_eq!(encode(&expected()), bytes);
}

#[test]
fn v1_fixture_cut_anywhere_reads_a_prefix() {
    let bytes = std::fs::read(FIXTURE).expect("fixture is checked in");
    for cut in 0..bytes.len() {
        let s = read_stream(&bytes[..cut]).expect("a cut file is not an error");
        assert!(expected().starts_with(&s.records), "cut at {cut}");
    }
}
