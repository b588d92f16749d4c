//! Rust target for `run --heap`: `resident` keeps a 4 KiB `vec![0u8; n]` per round forever, the
//! way lh-testserver's `--leak-bytes` does. At `-O` the whole liballoc chain (`alloc`,
//! `try_allocate_in`, `from_elem`) and `resident` itself are inlined, so the site must be found
//! from the frames' source files. Runs about 3 s and prints "ok".
use std::hint::black_box;
use std::time::Duration;

fn resident(store: &mut Vec<Vec<u8>>, n: usize) {
    store.push(vec![0u8; n]);
}

fn main() {
    let mut store: Vec<Vec<u8>> = Vec::with_capacity(1000);
    for i in 0..600 {
        resident(&mut store, black_box(4096));
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::mem::forget(black_box(store));
    println!("ok");
}
