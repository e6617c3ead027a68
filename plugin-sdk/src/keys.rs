//! Deterministic insight keys and hashes.
//!
//! The host derives a finding's fingerprint from the pattern and the insight's key, so a key
//! must name the finding (the command, the agent, the set of threads) and nothing that changes
//! between reports (counts, times). std's `HashMap` hasher is seeded randomly per process, so
//! anything that must be the same on every replay is hashed here with FNV-1a instead.

/// Separates key parts; it cannot appear in a command line typed at a terminal.
pub const KEY_SEPARATOR: char = '\u{1f}';

/// A stable key from its parts, in order: `insight_key(&["bd sync", "dev"])`.
pub fn insight_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut key = String::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push(KEY_SEPARATOR);
        }
        key.push_str(part.as_ref());
    }
    key
}

/// A stable key for an unordered set (threads, files): the same members in any order give the
/// same key.
pub fn set_key<S: AsRef<str>>(members: &[S]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    insight_key(&sorted)
}

/// FNV-1a over the parts (each prefixed by its length, so `["ab", "c"]` ≠ `["a", "bc"]`): the
/// same on every run and platform.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_parts_in_order_and_sets_ignore_order() {
        assert_eq!(insight_key(&["bd sync", "dev"]), "bd sync\u{1f}dev");
        assert_ne!(insight_key(&["a", "b"]), insight_key(&["b", "a"]));
        assert_eq!(set_key(&["T-2", "T-1", "T-2"]), set_key(&["T-1", "T-2"]));
    }

    #[test]
    fn stable_hash_is_fixed_and_length_prefixed() {
        assert_eq!(stable_hash(&[b"devloop"]), stable_hash(&[b"devloop"]));
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325, "the FNV offset basis: nothing hashed");
    }
}
