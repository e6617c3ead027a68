//! A `memcmp` for detectors compiled to WebAssembly that compares eight bytes at a time.
//!
//! Every comparison of strings (`BTreeMap<String, _>` lookups, `==` on `str`) ends in `memcmp`,
//! and the one wasi-libc links into a `wasm32-wasip2` guest compares one byte per loop turn.
//! Detectors key their state by command lines, people and agent threads whose ids share long
//! prefixes (`T-019c62c5-ce64-…`), so under a profile of the command-repetition component that
//! byte loop was a quarter of all the time, against about 1% for the native `memcmp`. A
//! definition in the guest's own code is linked before wasi-libc's archive is searched, so
//! every detector built with the SDK gets this one by being rebuilt.

/// Compares `len` bytes at `left` and `right` as unsigned bytes: negative, zero or positive
/// as the first differing byte of `left` is lower, equal or higher.
///
/// # Safety
///
/// Both pointers must be valid for reads of `len` bytes, as for C's `memcmp`.
#[cfg_attr(target_family = "wasm", unsafe(no_mangle))]
pub unsafe extern "C" fn memcmp(left: *const u8, right: *const u8, len: usize) -> i32 {
    // SAFETY: the caller promises `len` readable bytes behind each pointer.
    let (left, right) = unsafe { (std::slice::from_raw_parts(left, len), std::slice::from_raw_parts(right, len)) };
    let mut words_left = left.chunks_exact(8);
    let mut words_right = right.chunks_exact(8);
    for (offset, (a, b)) in words_left.by_ref().zip(words_right.by_ref()).enumerate() {
        let (a, b) = (word(a), word(b));
        if a != b {
            // Little-endian: the lowest differing bit is in the first differing byte.
            let byte = offset * 8 + ((a ^ b).trailing_zeros() / 8) as usize;
            return i32::from(left[byte]) - i32::from(right[byte]);
        }
    }
    for (a, b) in words_left.remainder().iter().zip(words_right.remainder()) {
        if a != b {
            return i32::from(*a) - i32::from(*b);
        }
    }
    0
}

fn word(bytes: &[u8]) -> u64 {
    let mut array = [0; 8];
    array.copy_from_slice(bytes);
    u64::from_le_bytes(array)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    fn compare(left: &[u8], right: &[u8]) -> Ordering {
        assert_eq!(left.len(), right.len());
        // SAFETY: both slices hold `left.len()` bytes.
        unsafe { super::memcmp(left.as_ptr(), right.as_ptr(), left.len()) }.cmp(&0)
    }

    #[test]
    fn orders_like_slices_whichever_byte_differs_first() {
        let base: Vec<u8> = (0..37).map(|i| b'a' + (i % 26) as u8).collect();
        assert_eq!(compare(&base, &base), Ordering::Equal);
        assert_eq!(compare(&[], &[]), Ordering::Equal);
        for at in 0..base.len() {
            for (to, later) in [(0x00, 0xff), (0xff, 0x00), (0x80, 0x7f)] {
                let mut changed = base.clone();
                changed[at] = to;
                // A difference after the first must not decide.
                if let Some(next) = changed.get_mut(at + 1) {
                    *next = later;
                }
                assert_eq!(compare(&changed, &base), changed.as_slice().cmp(&base), "at {at}, to {to:#x}");
                assert_eq!(compare(&base, &changed), base.as_slice().cmp(&changed), "at {at}, to {to:#x}");
            }
        }
    }
}
