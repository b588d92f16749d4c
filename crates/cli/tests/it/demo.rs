//! `leakhound demo`: the README's main job, shortened.

use std::time::Duration;

use predicates::prelude::*;

use crate::support::{leakhound, read_json, series};

#[test]
fn default_demo_flags_the_leaky_variant_only() {
    let dir = tempfile::tempdir().unwrap();
    leakhound()
        .args(["demo", "--out"])
        .arg(dir.path())
        .timeout(Duration::from_secs(150))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("demo: as expected"));
    let leaky = read_json(&dir.path().join("leaky/verdict.json"));
    let fixed = read_json(&dir.path().join("fixed/verdict.json"));
    assert_eq!(series(&leaky, "rss_bytes")["verdict"], "leak");
    assert_eq!(series(&leaky, "fds_socket")["verdict"], "leak");
    assert_eq!(fixed["verdict"], "no_leak");
    // The load driver's summary and per-second series are part of the run.
    assert!(leaky["load"]["completed"].as_u64().unwrap() > 6000);
    // The load is stopped when sampling ends, as planned: not an interruption.
    assert_eq!(leaky["load"]["interrupted"], false);
    let load_csv = std::fs::read_to_string(dir.path().join("leaky/load.csv")).unwrap();
    assert!(load_csv.starts_with("t_seconds,offered,achieved"));
}
