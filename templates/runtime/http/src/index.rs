//! Indexing a slice by a byte, for elements under 256 bytes.
//!
//! On the AVR, LLVM turns the address `base + i * size` of `slice[i as usize]` into a `mul`
//! whose 16-bit product in `r1:r0` is then rebuilt from its bytes through shifts and ORs (ten
//! instructions); here the product is taken as it is (`movw`).

/// Element `i` of `slice`, or `None` past its end.
#[inline(always)]
#[allow(unsafe_code)]
pub fn byte_index<T>(slice: &[T], i: u8) -> Option<&T> {
    const { assert!(core::mem::size_of::<T>() < 256) };
    if (i as usize) < slice.len() {
        let off = mul8(i, core::mem::size_of::<T>() as u8);
        // SAFETY: `i` is in bounds, so `off` is the byte offset of element `i`.
        Some(unsafe { &*slice.as_ptr().cast::<u8>().add(off as usize).cast::<T>() })
    } else {
        None
    }
}

/// Element `i` of `slice`, mutable, or `None` past its end.
#[inline(always)]
#[allow(unsafe_code)]
pub fn byte_index_mut<T>(slice: &mut [T], i: u8) -> Option<&mut T> {
    const { assert!(core::mem::size_of::<T>() < 256) };
    if (i as usize) < slice.len() {
        let off = mul8(i, core::mem::size_of::<T>() as u8);
        // SAFETY: `i` is in bounds, so `off` is the byte offset of element `i`.
        Some(unsafe {
            &mut *slice
                .as_mut_ptr()
                .cast::<u8>()
                .add(off as usize)
                .cast::<T>()
        })
    } else {
        None
    }
}

#[cfg(not(target_arch = "avr"))]
#[inline(always)]
fn mul8(a: u8, b: u8) -> u16 {
    a as u16 * b as u16
}

#[cfg(target_arch = "avr")]
#[inline(always)]
#[allow(unsafe_code)]
fn mul8(a: u8, b: u8) -> u16 {
    let p: u16;
    // SAFETY: registers only: `mul` leaves the product in r1:r0, and r1 (the zero register)
    // is cleared again after it is copied.
    unsafe {
        core::arch::asm!(
            "mul {a}, {b}",
            "movw {p}, r0",
            "clr r1",
            a = in(reg) a,
            b = in(reg) b,
            p = out(reg_pair) p,
            options(pure, nomem, nostack),
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_like_get() {
        let mut a = [[1u8; 50], [2; 50], [3; 50]];
        for i in 0..=255u8 {
            assert_eq!(byte_index(&a, i), a.get(i as usize));
        }
        byte_index_mut(&mut a, 2).unwrap()[7] = 9;
        assert_eq!(a[2][7], 9);
        assert!(byte_index_mut(&mut a, 3).is_none());
        let words = [10u16, 20, 30];
        assert_eq!(byte_index(&words, 1), Some(&20));
        assert_eq!(byte_index(&[(); 4], 3), Some(&()));
    }
}
