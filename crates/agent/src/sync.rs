//! A minimal spin lock for the agent's tables and output.
//!
//! Not `std::sync::Mutex`: `fork` handlers must take the lock in `prepare` and release it in
//! `parent`/`child` without a guard value crossing the fork, which std's guard-based API cannot
//! express. Critical sections are short (a hash-table update); contended waiters yield.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spin lock around a value.
pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (acquire on lock, release on unlock).
unsafe impl<T: Send> Sync for SpinMutex<T> {}

impl<T> SpinMutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn acquire(&self) {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // sched_yield(2) does not allocate; it cannot fail on Linux.
                std::thread::yield_now();
            }
        }
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        self.acquire();
        SpinGuard { lock: self }
    }

    /// Takes the lock without a guard (fork `prepare`); pair with [`Self::release_raw`].
    pub(crate) fn acquire_raw(&self) {
        self.acquire();
    }

    /// Releases a lock taken with [`Self::acquire_raw`] (fork `parent`/`child`).
    pub(crate) fn release_raw(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

/// Holds a [`SpinMutex`] until dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinMutex<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is held by this thread.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
