//! Per-thread agent state, reached through the C shim's initial-exec TLS block.
//!
//! Rust's `thread_local!` compiles to general-dynamic TLS in a cdylib (`__tls_get_addr`, which
//! can `malloc`), so all hook-path thread state lives in `csrc/tls.c`. Access goes through
//! [`Tls`], a handle that reads and writes single fields and never hands out references, so a
//! hook re-entered on the same thread cannot create aliasing `&mut`s.

/// Bit in [`ThreadState::flags`]: `stack_hi` has been computed for this thread.
pub const FLAG_BOUNDS: u32 = 1;
/// Shift of the thread's counter shard inside [`ThreadState::flags`] (bits 8-11; the `FLAG_*`
/// bits stay below 8).
const SHARD_SHIFT: u32 = 8;
/// Counter shards (a power of two, at most 16 to fit the flag bits; see
/// `aggregate::COUNTER_SHARDS`). Shard 0 is shared and updated with atomic read-modify-writes;
/// shards 1.. each belong to one thread, the first 15 threads that allocate.
pub const SHARDS: usize = 16;
/// The next exclusive shard to hand out (`SHARDS`: none left).
static NEXT_SHARD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Layout shared with `struct lh_thread_state` in `csrc/tls.c` (32 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct ThreadState {
    /// Nonzero while the thread is inside the agent (reentrancy guard).
    pub guard: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Sampled mode: bytes left until the next sample point.
    pub bytes_until_sample: i64,
    /// xorshift64 state; 0 means not seeded yet.
    pub rng: u64,
    /// Upper bound of this thread's stack for the frame-pointer walker (0: unknown).
    pub stack_hi: u64,
}

unsafe extern "C" {
    fn lh_tls_state() -> *mut ThreadState;
}

/// Handle to the calling thread's [`ThreadState`].
#[derive(Debug, Clone, Copy)]
pub struct Tls(*mut ThreadState);

macro_rules! field {
    ($get:ident, $set:ident, $field:ident, $ty:ty) => {
        #[doc = concat!("Reads `", stringify!($field), "`.")]
        #[inline(always)]
        pub fn $get(self) -> $ty {
            // SAFETY: self.0 points at this thread's live TLS block (see `current`); only this
            // thread accesses it and no reference to it exists.
            unsafe { (*self.0).$field }
        }
        #[doc = concat!("Writes `", stringify!($field), "`.")]
        #[inline(always)]
        pub fn $set(self, v: $ty) {
            // SAFETY: as in the getter.
            unsafe { (*self.0).$field = v }
        }
    };
}

impl Tls {
    /// The calling thread's state.
    #[inline(always)]
    pub fn current() -> Self {
        let p: *mut ThreadState;
        // SAFETY: the initial-exec TLS access sequence for the C shim's `lh_state` (what
        // `lh_tls_state` itself compiles to): the GOT holds the variable's offset from the
        // thread pointer, and `%fs:0` holds the thread pointer. The block lives in the static
        // TLS area, valid for the thread's lifetime, never null. Reads only; clobbers flags.
        unsafe {
            core::arch::asm!(
                "mov {p}, qword ptr [rip + lh_state@GOTTPOFF]",
                "add {p}, qword ptr fs:[0]",
                p = out(reg) p,
                options(nostack, pure, readonly),
            );
        }
        Self(p)
    }

    /// The calling thread's state through the C shim's function (same address as
    /// [`Self::current`]; kept to check the inline sequence in tests).
    pub fn current_via_call() -> Self {
        // SAFETY: the shim returns the address of a static initial-exec `__thread` block; it is
        // valid for the thread's lifetime and never null.
        Self(unsafe { lh_tls_state() })
    }

    /// The raw address of the state block.
    pub fn addr(self) -> usize {
        self.0 as usize
    }

    /// This thread's counter shard: 0 (shared) until [`Self::assign_shard`] gave it one of its
    /// own.
    #[inline(always)]
    pub fn shard(self) -> usize {
        (self.flags() >> SHARD_SHIFT) as usize & (SHARDS - 1)
    }

    /// Gives this thread an exclusive counter shard while any is left (once per thread, off
    /// the fast path: with the stack bounds). Shards are never reused, so no two live threads
    /// ever share one.
    pub fn assign_shard(self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.shard() != 0 {
            return;
        }
        if let Ok(s) = NEXT_SHARD.fetch_update(Relaxed, Relaxed, |v| (v < SHARDS).then_some(v + 1))
        {
            self.set_flags(self.flags() | ((s as u32) << SHARD_SHIFT));
        }
    }

    field!(guard, set_guard, guard, u32);
    field!(flags, set_flags, flags, u32);
    field!(until_sample, set_until_sample, bytes_until_sample, i64);
    field!(rng, set_rng, rng, u64);
    field!(stack_hi, set_stack_hi, stack_hi, u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_tls_access_finds_the_shims_block_on_every_thread() {
        let main = (Tls::current().addr(), Tls::current_via_call().addr());
        assert_eq!(main.0, main.1);
        let other = std::thread::spawn(|| (Tls::current().addr(), Tls::current_via_call().addr()))
            .join()
            .unwrap();
        assert_eq!(other.0, other.1);
        assert_ne!(main.0, other.0, "one block per thread");
    }
}
