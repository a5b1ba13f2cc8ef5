//! A `static` slot for state owned by interrupt handlers.

use core::cell::UnsafeCell;

/// Interior-mutable storage whose users guarantee exclusive access themselves (one interrupt
/// handler, or a critical section). AVR interrupt handlers do not nest, so a handler that is
/// the only user of a cell has it to itself.
#[repr(transparent)]
pub struct IsrCell<T>(UnsafeCell<T>);

// SAFETY: every `get` caller documents why its access is exclusive; the ATmega328P has one core.
unsafe impl<T> Sync for IsrCell<T> {}

impl<T> IsrCell<T> {
    /// A cell holding `value`, usable in a `static`.
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The contents.
    ///
    /// # Safety
    /// No other reference to the contents may exist while the returned one is used: call it
    /// only from the one handler that owns the cell, or with interrupts disabled.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub unsafe fn get(&self) -> &mut T {
        &mut *self.0.get()
    }
}
