//! Single-producer/single-consumer byte ring shared between one interrupt handler and the
//! main loop.
//!
//! The ATmega328P loads and stores a `u8` in one instruction, so the two indexes need no
//! locking: the producer only writes `head`, the consumer only writes `tail`. Compiler fences
//! order the data access against the index update. `N` must be a power of two ≤ 128 so that
//! wrapping is a mask and "full" (one slot kept free) is unambiguous.

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{compiler_fence, Ordering};

/// A lock-free byte queue for exactly one producer and one consumer.
///
/// `repr(C)`: data, then `head`, then `tail`, so the virtual bench can follow the soft
/// serial's receive ring in the simulated SRAM (sim/src/rxcheck.rs).
#[repr(C)]
pub struct Ring<const N: usize> {
    data: UnsafeCell<[u8; N]>,
    head: UnsafeCell<u8>,
    tail: UnsafeCell<u8>,
}

// SAFETY: one side only writes `head` and the slot it owns, the other only `tail`; both index
// accesses are single-byte volatile operations, which are atomic on AVR.
unsafe impl<const N: usize> Sync for Ring<N> {}

impl<const N: usize> Ring<N> {
    const MASK: u8 = {
        assert!(N.is_power_of_two() && N >= 2 && N <= 128, "ring size must be a power of two in 2..=128");
        (N - 1) as u8
    };

    /// Where `head` lies from the ring's start, with `tail` in the byte after it: the soft
    /// serial's assembly handlers address both so.
    pub(crate) const HEAD_OFFSET: usize = {
        let head = core::mem::offset_of!(Self, head);
        assert!(core::mem::offset_of!(Self, tail) == head + 1);
        head
    };

    /// The mask that wraps an index, for the same handlers.
    pub(crate) const INDEX_MASK: u8 = Self::MASK;

    /// An empty ring, usable in a `static`.
    pub const fn new() -> Self {
        Self { data: UnsafeCell::new([0; N]), head: UnsafeCell::new(0), tail: UnsafeCell::new(0) }
    }

    /// Producer side: appends `byte`; returns `false` (and drops it) when the ring is full.
    #[inline(always)]
    pub fn push(&self, byte: u8) -> bool {
        // SAFETY: only the producer writes `head` and the slot at `head`.
        unsafe {
            let head = read_volatile(self.head.get());
            let next = head.wrapping_add(1) & Self::MASK;
            if next == read_volatile(self.tail.get()) {
                return false;
            }
            // `head` is below N (only ever stored masked): no bounds check, whose panic path
            // would make interrupt handlers save every register, and no mask.
            *self.slot(head) = byte;
            compiler_fence(Ordering::SeqCst);
            write_volatile(self.head.get(), next);
        }
        true
    }

    /// [`Ring::push`] for the only producer once it saw the ring not full: the room cannot
    /// go away meanwhile (the consumer only makes more), so the fullness is not tested again.
    #[inline(always)]
    pub fn push_with_room(&self, byte: u8) {
        // SAFETY: as in `push`; the caller saw room for `byte`.
        unsafe {
            let head = read_volatile(self.head.get());
            // `head` is below N (only ever stored masked): no bounds check, no mask.
            *self.slot(head) = byte;
            compiler_fence(Ordering::SeqCst);
            write_volatile(self.head.get(), head.wrapping_add(1) & Self::MASK);
        }
    }

    /// Consumer side: takes the oldest byte, if any.
    #[inline(always)]
    pub fn pop(&self) -> Option<u8> {
        // SAFETY: only the consumer writes `tail`; the slot at `tail` was published by `head`.
        unsafe {
            let tail = read_volatile(self.tail.get());
            if tail == read_volatile(self.head.get()) {
                return None;
            }
            compiler_fence(Ordering::SeqCst);
            // `tail` is below N (only ever stored masked).
            let byte = *self.slot(tail);
            compiler_fence(Ordering::SeqCst);
            write_volatile(self.tail.get(), tail.wrapping_add(1) & Self::MASK);
            Some(byte)
        }
    }

    /// Slot `i` of the data.
    ///
    /// # Safety
    /// `i` must be below `N`: an index this ring stored (every one is masked).
    #[inline(always)]
    unsafe fn slot(&self, i: u8) -> *mut u8 {
        (self.data.get() as *mut u8).add(i as usize)
    }

    /// True when no byte is waiting.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        // SAFETY: single-byte volatile reads.
        unsafe { read_volatile(self.tail.get()) == read_volatile(self.head.get()) }
    }

    /// True when a `push` would fail.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        // SAFETY: single-byte volatile reads.
        unsafe {
            read_volatile(self.head.get()).wrapping_add(1) & Self::MASK == read_volatile(self.tail.get())
        }
    }
}
