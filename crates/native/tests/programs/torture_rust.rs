//! Rust target for leakhound's torture tests: leaks through the System allocator (Rust's
//! default global allocator, which calls malloc) at a known function; a bounded cache and
//! short-lived churn next to it. Prints "ok".
use std::hint::black_box;
use std::time::Duration;

mod sessions {
    /// Known leak: 2000 boxed 160-byte records kept forever.
    #[inline(never)]
    pub fn remember_session(store: &mut Vec<Box<[u8; 160]>>, i: usize) {
        store.push(Box::new([i as u8; 160]));
    }
}

/// Over-aligned blocks: the System allocator uses posix_memalign for them.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

#[inline(never)]
fn keep_pages(n: usize) {
    for i in 0..n {
        black_box(Box::into_raw(Box::new(Page([i as u8; 4096]))));
    }
}

#[inline(never)]
fn transient(i: usize) -> usize {
    let v: Vec<u64> = (0..64).map(|k| k as u64 * i as u64).collect();
    std::hint::black_box(v).len()
}

fn main() {
    let mut store = Vec::with_capacity(2000);
    let mut cache: Vec<String> = Vec::new();
    for i in 0..2000 {
        sessions::remember_session(&mut store, i);
        black_box(transient(i));
        if cache.len() == 32 {
            cache.remove(0);
        }
        cache.push(format!("entry-{i:08}"));
        // ~3 s in all: enough snapshots for the detector to call the steady rise, even when a
        // loaded machine stretches the sleeps unevenly.
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(15));
        }
    }
    keep_pages(10);
    std::mem::forget(store);
    black_box(&cache);
    println!("ok");
}
