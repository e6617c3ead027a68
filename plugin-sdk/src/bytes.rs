//! Comparing and copying the short strings detectors live on, for detectors compiled to
//! WebAssembly.
//!
//! Every comparison of strings (`BTreeMap<String, _>` lookups, `==` on `str`) ends in `memcmp`,
//! and the one wasi-libc links into a `wasm32-wasip2` guest compares one byte per loop turn.
//! Detectors key their state by command lines, people and agent threads whose ids share long
//! prefixes (`T-019c62c5-ce64-…`), so under a profile of the command-repetition component that
//! byte loop was a quarter of all the time, against about 1% for the native `memcmp`. The one
//! here compares eight bytes at a time, ends on one overlapping word instead of a byte loop, and
//! finds the first differing byte of two words by counting trailing zeros, as WebAssembly has no
//! byte swap to turn them into comparable numbers (3% of the component's time against words
//! swapped byte by byte).
//! A definition in the guest's own code is linked before wasi-libc's archive is searched, so
//! every detector built with the SDK gets it by being rebuilt.
//!
//! Copies are the other half: a copy of a slice compiles to the `memory.copy` instruction,
//! which wasmtime runs as a call out of the guest into the host's `memmove`, about ten
//! nanoseconds whatever the length; copying each event's source, kind, actor and subject out
//! of a batch that way was a sixth of the component's time (events now borrow them instead).
//! [`assign`] copies strings of up to 64 bytes with a few fixed-size loads and stores inside
//! the guest, for the key buffers detectors fill for each event's lookups.

/// Compares `len` bytes at `left` and `right` as unsigned bytes: negative, zero or positive
/// as the first differing byte of `left` is lower, equal or higher.
///
/// # Safety
///
/// Both pointers must be valid for reads of `len` bytes, as for C's `memcmp`.
#[cfg(any(target_family = "wasm", test))]
#[cfg_attr(target_family = "wasm", unsafe(no_mangle))]
pub unsafe extern "C" fn memcmp(left: *const u8, right: *const u8, len: usize) -> i32 {
    // Words are read little-endian, so a word's lowest byte is its first; WebAssembly has no
    // byte swap, and reordering a word to compare it as a number would cost a score of
    // instructions per word where the first differing byte costs one `ctz`.
    let word = |at: usize| {
        // SAFETY: callers pass `at + 8 <= len`; the caller promises `len` readable bytes.
        unsafe {
            (
                u64::from_le(left.add(at).cast::<u64>().read_unaligned()),
                u64::from_le(right.add(at).cast::<u64>().read_unaligned()),
            )
        }
    };
    let mut at = 0;
    while at + 8 <= len {
        let (a, b) = word(at);
        if a != b {
            return first_difference(a, b);
        }
        at += 8;
    }
    if at == len {
        return 0;
    }
    if len >= 8 {
        // The last eight bytes: those before `at` are equal, so the first difference decides.
        let (a, b) = word(len - 8);
        return first_difference(a, b);
    }
    // SAFETY: `len` (1 to 7) readable bytes behind each pointer.
    let (left, right) = unsafe { (std::slice::from_raw_parts(left, len), std::slice::from_raw_parts(right, len)) };
    first_difference(short_word(left), short_word(right))
}

/// The bytes of a slice of 1 to 7 bytes as a little-endian word of some of them, in their
/// order (overlapping pieces, which repeat bytes but never reorder them, and together hold
/// every byte), so that the first byte in which two slices of one length differ is the first
/// in which their words do.
fn short_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        let piece = |at: usize| u64::from(u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]));
        piece(0) | piece(len - 4) << 32
    } else {
        u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16
    }
}

#[cfg(any(target_family = "wasm", test))]
/// Orders two little-endian words by their first differing byte (zero if there is none).
fn first_difference(a: u64, b: u64) -> i32 {
    let differ = a ^ b;
    if differ == 0 {
        return 0;
    }
    let shift = differ.trailing_zeros() & !7;
    i32::from((a >> shift) as u8) - i32::from((b >> shift) as u8)
}

/// Whether two byte strings are equal: up to 16 bytes with two word reads each and no call, as
/// kinds are compared with the names detectors ask for for every event (in a guest a call to
/// `memcmp` checks the epoch and the stack on entry); longer ones as any slices are.
#[inline]
pub(crate) fn same(one: &[u8], other: &[u8]) -> bool {
    let len = one.len();
    if len != other.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    match len {
        0 => true,
        1..8 => short_word(one) == short_word(other),
        8..=16 => word(one, 0) == word(other, 0) && word(one, len - 8) == word(other, len - 8),
        _ => one == other,
    }
}

/// Replaces the contents of `target` with `text`, keeping its allocation: for a key buffer a
/// detector fills for each event's lookups. In a WebAssembly guest a text of up to 64 bytes
/// is copied without leaving the guest.
pub fn assign(target: &mut String, text: &str) {
    target.clear();
    #[cfg(target_family = "wasm")]
    if text.len() <= 64 {
        target.reserve(text.len());
        // SAFETY: `target` is empty with room for `text.len()` bytes, which receive the bytes
        // of a `str`, so it stays UTF-8.
        unsafe {
            let bytes = target.as_mut_vec();
            copy_short(text.as_ptr(), bytes.as_mut_ptr(), text.len());
            bytes.set_len(text.len());
        }
        return;
    }
    target.push_str(text);
}

/// Copies `len` (at most 64) bytes from `from` to `to` with fixed-size loads and stores, which
/// stay inside the guest, where a copy of a slice would leave it.
///
/// # Safety
///
/// `from` must be valid for reads and `to` for writes of `len` bytes, not overlapping.
#[cfg(any(target_family = "wasm", test))]
pub(crate) unsafe fn copy_short(from: *const u8, to: *mut u8, len: usize) {
    debug_assert!(len <= 64);
    // SAFETY: every access below is within the first `len` bytes of each pointer: pieces of
    // 32, 16, 8 or 4 bytes are taken only when `len` is at least as long, from the start and
    // from the end (overlapping when `len` is shorter than two of them).
    unsafe {
        let word = |at: usize| from.add(at).cast::<u64>().read_unaligned();
        let put = |at: usize, value: u64| to.add(at).cast::<u64>().write_unaligned(value);
        if len >= 32 {
            let first = [word(0), word(8), word(16), word(24)];
            let last = [word(len - 32), word(len - 24), word(len - 16), word(len - 8)];
            for (at, value) in [0, 8, 16, 24].into_iter().zip(first) {
                put(at, value);
            }
            for (at, value) in [len - 32, len - 24, len - 16, len - 8].into_iter().zip(last) {
                put(at, value);
            }
        } else if len >= 16 {
            let (a, b, c, d) = (word(0), word(8), word(len - 16), word(len - 8));
            put(0, a);
            put(8, b);
            put(len - 16, c);
            put(len - 8, d);
        } else if len >= 8 {
            let (a, b) = (word(0), word(len - 8));
            put(0, a);
            put(len - 8, b);
        } else if len >= 4 {
            let (a, b) = (from.cast::<u32>().read_unaligned(), from.add(len - 4).cast::<u32>().read_unaligned());
            to.cast::<u32>().write_unaligned(a);
            to.add(len - 4).cast::<u32>().write_unaligned(b);
        } else if len > 0 {
            let (a, b, c) = (*from, *from.add(len / 2), *from.add(len - 1));
            *to = a;
            *to.add(len / 2) = b;
            *to.add(len - 1) = c;
        }
    }
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
        for len in 0..=37 {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(compare(&base, &base), Ordering::Equal);
            for at in 0..base.len() {
                for (to, later) in [(0x00, 0xff), (0xff, 0x00), (0x80, 0x7f)] {
                    let mut changed = base.clone();
                    changed[at] = to;
                    // A difference after the first must not decide.
                    if let Some(next) = changed.get_mut(at + 1) {
                        *next = later;
                    }
                    assert_eq!(
                        compare(&changed, &base),
                        changed.as_slice().cmp(&base),
                        "len {len}, at {at}, to {to:#x}"
                    );
                    assert_eq!(
                        compare(&base, &changed),
                        base.as_slice().cmp(&changed),
                        "len {len}, at {at}, to {to:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn same_agrees_with_slice_equality_whichever_byte_differs() {
        for len in 0..=20_usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            assert!(super::same(&base, &base), "len {len}");
            assert!(!super::same(&base, &base[..len.saturating_sub(1)]) || len == 0, "len {len}");
            for at in 0..len {
                let mut changed = base.clone();
                changed[at] ^= 0x20;
                assert!(!super::same(&base, &changed), "len {len}, at {at}");
            }
        }
    }

    #[test]
    fn a_short_copy_copies_every_byte_and_nothing_more() {
        let source: Vec<u8> = (1..=64).collect();
        for len in 0..=64 {
            let mut target = [0_u8; 72];
            // SAFETY: `source` has 64 bytes and `target` 72, apart.
            unsafe { super::copy_short(source.as_ptr(), target.as_mut_ptr(), len) };
            assert_eq!(&target[..len], &source[..len], "len {len}");
            assert!(target[len..].iter().all(|&byte| byte == 0), "len {len}");
        }
    }

    #[test]
    fn assign_replaces_a_string_whatever_the_lengths() {
        let mut target = String::from("a much longer string than what replaces it, past 32 bytes");
        for text in ["", "é", "cli.command", "T-019c62c5-ce64-720a-b597-0000000001", "naïve ✓ x", "x"] {
            super::assign(&mut target, text);
            assert_eq!(target, text);
        }
    }
}
