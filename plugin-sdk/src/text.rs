//! Text similarity without models: normalize, tokenize, shingle, compare.
//!
//! Two people asking the same question rarely type the same words in the same order, and two
//! command lines that differ only in a timestamp or a hash are the same command. So text is
//! normalized first (case, numbers, hex ids, light suffix stripping, stop words), then compared
//! as sets: plain Jaccard, an IDF-weighted Jaccard where rare shared words ("vendor",
//! "pre-commit") count more than common ones ("fix", "test"), or MinHash signatures when many
//! texts must be compared cheaply.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::keys::stable_hash;

/// Words that carry no topic.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for", "from", "get", "had",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please",
    "should", "so", "that", "the", "their", "then", "there", "this", "to", "up", "us", "was", "we", "what", "when",
    "where", "which", "why", "will", "with", "would", "you", "your", "again", "any", "some", "still", "just", "way",
    "there's", "it's", "i'm", "keep", "keeps", "make", "tell", "show", "now", "after", "before", "whenever", "while",
    "once", "always", "every", "each", "ever", "also", "too", "very", "all", "they", "them", "these", "those", "he",
    "she", "him", "her", "his",
];

/// The grouping key of a command line: whitespace collapsed, nothing else. Case, numbers and
/// flags stay, because they change what a command does (`git add -A` is not `git add -a`).
/// Borrows when the command is already clean, which is nearly always. Show the command as
/// logged; use this only to group.
pub fn command_key(command: &str) -> std::borrow::Cow<'_, str> {
    if is_collapsed(command) {
        std::borrow::Cow::Borrowed(command)
    } else {
        std::borrow::Cow::Owned(command.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Whether `command` has no whitespace but single spaces between words: asked of every
/// command a detector sees, so an ASCII command (nearly all are) is read eight bytes at a
/// time, where a loop per character cost a dozen instructions per byte (and, in a WebAssembly
/// guest, an epoch check each turn); anything else goes character by character.
fn is_collapsed(command: &str) -> bool {
    let bytes = command.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return true };
    if bytes.len() < 8 || first == b' ' || last == b' ' {
        return is_collapsed_by_char(command);
    }
    let mut last_was_space = 0;
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        match word_spaces(u64::from_le_bytes(word.try_into().expect("eight bytes"))) {
            Some(spaces) if spaces & (spaces << 8 | last_was_space) == 0 => last_was_space = spaces >> 56,
            Some(_) => return false,
            None => return is_collapsed_by_char(command),
        }
    }
    if words.remainder().is_empty() {
        return true;
    }
    // The last eight bytes, overlapping those read: each pair of neighbours they hold that was
    // read already was judged the same way.
    let tail = bytes.len() - 8;
    match word_spaces(u64::from_le_bytes(bytes[tail..].try_into().expect("eight bytes"))) {
        Some(spaces) => spaces & (spaces << 8) == 0,
        None => is_collapsed_by_char(command),
    }
}

/// The spaces of an ASCII word (eight bytes, little-endian) as the high bit of each byte that
/// is one; `None` if it holds a byte outside ASCII or whitespace other than a space (tab to
/// carriage return, the only other ASCII whitespace).
fn word_spaces(word: u64) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if word & HIGH != 0 {
        return None;
    }
    // Bytes below 0x80: adding 0x80 - n to each sets its high bit exactly when it is ≥ n, with
    // no carry into the next byte.
    let at_least = |n: u64| word.wrapping_add((0x80 - n) * ONES) & HIGH;
    let other_whitespace = at_least(0x09) & !at_least(0x0e);
    if other_whitespace != 0 {
        return None;
    }
    let not_space = (word ^ (0x20 * ONES)).wrapping_add(0x7f * ONES);
    Some(!not_space & HIGH)
}

fn is_collapsed_by_char(command: &str) -> bool {
    let mut after_space = true;
    for c in command.chars() {
        if c == ' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if c.is_whitespace() {
            return false;
        } else {
            after_space = false;
        }
    }
    !after_space || command.is_empty()
}

/// Lower-cases, replaces numbers and hex ids with placeholders, and collapses whitespace, so
/// `pytest -k test_42 --seed 9f3a0c1d` and `pytest -k test_7 --seed 0b12ffee` are one command.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().map(normalize_word).collect::<Vec<_>>().join(" ")
}

fn normalize_word(word: &str) -> String {
    let lower = word.to_lowercase();
    let is_hex_id = lower.len() >= 8
        && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && lower.chars().any(|c| c.is_ascii_digit());
    if is_hex_id {
        return "<id>".to_owned();
    }
    let mut out = String::with_capacity(lower.len());
    let mut in_number = false;
    for c in lower.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Strips a few English suffixes, then a final "e", so "linting", "lints" and "linted" meet,
/// and so do "close", "closes" and "closing".
fn stem(word: &str) -> &str {
    let mut stem = word;
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(stripped) = word.strip_suffix(suffix)
            && stripped.chars().count() >= 3
        {
            stem = stripped;
            break;
        }
    }
    match stem.strip_suffix('e') {
        Some(stripped) if stripped.chars().count() >= 3 => stripped,
        _ => stem,
    }
}

/// Verbs that mean "disable" with `off` after them (`turn off`, `switch off`), after stemming.
const OFF_VERBS: &[&str] = &["turn", "switch", "shut"];

/// The content words of `text`: normalized, split on anything not a letter or digit, stop words
/// dropped (as written and once stemmed: "shows" is "show"), stemmed; "turn off" and its
/// kind become the one word "turn-off" (which "disable" and "stop" fold onto in [`synonym`]).
pub fn words(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let stemmed: Vec<&str> = normalized
        .split(|c: char| !(c.is_alphanumeric() || c == '#'))
        .filter(|word| !word.is_empty() && !STOP_WORDS.contains(word))
        .map(stem)
        .filter(|word| !STOP_WORDS.contains(word))
        .collect();
    let mut words = Vec::with_capacity(stemmed.len());
    let mut index = 0;
    while index < stemmed.len() {
        if OFF_VERBS.contains(&stemmed[index]) && stemmed.get(index + 1) == Some(&"off") {
            words.push("turn-off".to_owned());
            index += 2;
        } else {
            words.push(stemmed[index].to_owned());
            index += 1;
        }
    }
    words
}

/// Prefixes people write joined, hyphenated or apart (`autofix`, `auto-fix`, `auto fix`).
const JOINED_PREFIXES: &[&str] = &["auto", "pre", "post", "re", "non", "multi", "sub", "un", "co"];

/// Joins what people write both together and apart, so `auto-fix`, `auto fix` and `autofix`
/// (or `pre-commit` and `pre commit`) become one word: a hyphen between letters is dropped,
/// and a prefix written as its own word is joined to the next one. Case is kept.
pub fn join_compounds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (index, c) in chars.iter().enumerate() {
        let between_letters = index > 0
            && chars[index - 1].is_alphabetic()
            && chars.get(index + 1).is_some_and(|next| next.is_alphabetic());
        if *c == '-' && between_letters {
            continue;
        }
        out.push(*c);
    }
    let mut joined = String::with_capacity(out.len());
    let mut words = out.split(' ').peekable();
    while let Some(word) = words.next() {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(word);
        let is_prefix = JOINED_PREFIXES.iter().any(|prefix| word.eq_ignore_ascii_case(prefix));
        if is_prefix && let Some(next) = words.next_if(|next| next.starts_with(char::is_alphabetic)) {
            joined.push_str(next);
        }
    }
    joined
}

/// Words that ask the same thing in a developer's question, folded onto one (after stemming):
/// a small thesaurus of the words questions about tools are asked in.
const SYNONYMS: &[(&str, &str)] = &[
    ("folder", "directory"),
    ("dir", "directory"),
    ("directori", "directory"),
    ("exclud", "skip"),
    ("ignor", "skip"),
    ("omit", "skip"),
    ("skipp", "skip"),
    ("disabl", "turn-off"),
    ("stop", "turn-off"),
    ("configur", "config"),
    ("setting", "config"),
    ("sett", "config"),
    ("error", "fail"),
    ("fail", "fail"),
    ("broken", "fail"),
    ("break", "fail"),
    ("sav", "stor"),
    ("kept", "stor"),
];

/// The word a stemmed word stands for in `SYNONYMS`, or the word itself.
pub fn synonym(word: &str) -> &str {
    SYNONYMS.iter().find(|(from, _)| *from == word).map_or(word, |(_, to)| to)
}

/// Shortest word a typo is looked for in: shorter words are too often other words.
const MIN_TYPO_LENGTH: usize = 5;

/// A typo-tolerant vocabulary (symmetric delete, as SymSpell): a word one edit away from a word
/// seen before (a letter missing, extra, changed or two swapped) is read as that word. The
/// first spelling seen is the canonical one, so a replay reads every text the same way. Words
/// read through [`Vocabulary::canonical_at`] can be forgotten when not read for a while, so a
/// long-lived vocabulary holds the words of its horizon, not of all history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Each known word, and each of its one-letter deletions, to the word it belongs to.
    canonical: BTreeMap<String, String>,
    /// When each known word was last read (none for a vocabulary saved before this was kept).
    #[serde(default)]
    last_ms: BTreeMap<String, i64>,
}

fn deletions(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    (0..chars.len())
        .map(|skip| chars.iter().enumerate().filter(|(index, _)| *index != skip).map(|(_, c)| *c).collect())
        .collect()
}

impl Vocabulary {
    pub fn new() -> Self {
        Self::default()
    }

    /// The canonical spelling of `word`, learning it if it is new.
    pub fn canonical(&mut self, word: &str) -> String {
        if word.chars().count() < MIN_TYPO_LENGTH {
            return word.to_owned();
        }
        if let Some(known) = self.canonical.get(word) {
            return known.clone();
        }
        let variants = deletions(word);
        if let Some(known) = variants.iter().find_map(|variant| self.canonical.get(variant)) {
            return known.clone();
        }
        self.canonical.insert(word.to_owned(), word.to_owned());
        for variant in variants {
            self.canonical.entry(variant).or_insert_with(|| word.to_owned());
        }
        word.to_owned()
    }

    /// [`Vocabulary::canonical`], noting that the word it gives was read at `now_ms`.
    pub fn canonical_at(&mut self, word: &str, now_ms: i64) -> String {
        let canonical = self.canonical(word);
        if self.canonical.contains_key(&canonical) {
            self.last_ms.insert(canonical.clone(), now_ms);
        }
        canonical
    }

    /// Forgets the words not read within `forget_ms` before `now_ms`, with their deletions: a
    /// word read again later is learned anew. A deletion two words shared goes with the word it
    /// belonged to.
    pub fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        let forgotten: BTreeSet<String> = (self.last_ms.iter())
            .filter(|(_, last_ms)| now_ms - **last_ms > forget_ms)
            .map(|(word, _)| word.clone())
            .collect();
        if forgotten.is_empty() {
            return;
        }
        self.last_ms.retain(|word, _| !forgotten.contains(word));
        self.canonical.retain(|_, word| !forgotten.contains(word));
    }

    /// Dates every known word not yet dated (a vocabulary saved before dates were kept) at
    /// `at_ms`, so that it can be forgotten.
    pub fn date_undated(&mut self, at_ms: i64) {
        for word in self.canonical.iter().filter(|(spelling, word)| spelling == word).map(|(_, word)| word) {
            self.last_ms.entry(word.clone()).or_insert(at_ms);
        }
    }

    /// Known spellings and their deletions.
    pub fn len(&self) -> usize {
        self.canonical.len()
    }

    pub fn is_empty(&self) -> bool {
        self.canonical.is_empty()
    }
}

/// Word n-grams (`n` ≥ 1) of `words`, joined by a space. Fewer words than `n` give one shingle
/// of all of them.
pub fn shingles(words: &[String], n: usize) -> BTreeSet<String> {
    let n = n.max(1);
    if words.len() <= n {
        return std::iter::once(words.join(" ")).filter(|shingle| !shingle.is_empty()).collect();
    }
    words.windows(n).map(|window| window.join(" ")).collect()
}

/// Character n-grams of the normalized text, for short strings and typos.
pub fn char_shingles(text: &str, n: usize) -> BTreeSet<String> {
    let chars: Vec<char> = normalize(text).chars().collect();
    let n = n.max(1);
    if chars.len() <= n {
        return std::iter::once(chars.iter().collect::<String>()).filter(|shingle| !shingle.is_empty()).collect();
    }
    chars.windows(n).map(|window| window.iter().collect()).collect()
}

/// |A ∩ B| / |A ∪ B|; two empty sets are not similar.
pub fn jaccard<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// How many texts each word appeared in, for IDF weights. Words counted through
/// [`DocumentFrequencies::add_at`] can be forgotten when not seen for a while (read as rare as
/// a new word if they come back), so long-lived frequencies hold the words of their horizon.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DocumentFrequencies {
    documents: u64,
    counts: BTreeMap<String, u64>,
    /// When each word was last counted (none for frequencies saved before this was kept).
    #[serde(default)]
    last_ms: BTreeMap<String, i64>,
}

impl DocumentFrequencies {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one text's distinct words.
    pub fn add(&mut self, words: &BTreeSet<String>) {
        self.documents += 1;
        for word in words {
            *self.counts.entry(word.clone()).or_default() += 1;
        }
    }

    /// [`DocumentFrequencies::add`], noting that its words were seen at `now_ms`.
    pub fn add_at(&mut self, words: &BTreeSet<String>, now_ms: i64) {
        self.add(words);
        for word in words {
            self.last_ms.insert(word.clone(), now_ms);
        }
    }

    /// Forgets the words not counted within `forget_ms` before `now_ms`. The number of texts
    /// stays: a word seen again is as rare as a new one.
    pub fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        let counts = &mut self.counts;
        self.last_ms.retain(|word, last_ms| {
            let keep = now_ms - *last_ms <= forget_ms;
            if !keep {
                counts.remove(word);
            }
            keep
        });
    }

    /// Dates every counted word not yet dated (frequencies saved before dates were kept) at
    /// `at_ms`, so that it can be forgotten.
    pub fn date_undated(&mut self, at_ms: i64) {
        for word in self.counts.keys() {
            self.last_ms.entry(word.clone()).or_insert(at_ms);
        }
    }

    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Distinct words counted.
    pub fn words(&self) -> usize {
        self.counts.len()
    }

    /// Smoothed inverse document frequency: `ln((1 + N) / (1 + df)) + 1`.
    pub fn idf(&self, word: &str) -> f64 {
        let frequency = self.counts.get(word).copied().unwrap_or(0);
        ((1.0 + self.documents as f64) / (1.0 + frequency as f64)).ln() + 1.0
    }

    /// Jaccard with every word weighted by its IDF: Σ idf(A ∩ B) / Σ idf(A ∪ B).
    pub fn weighted_jaccard(&self, a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
        let union: f64 = a.union(b).map(|word| self.idf(word)).sum();
        if union == 0.0 {
            return 0.0;
        }
        a.intersection(b).map(|word| self.idf(word)).sum::<f64>() / union
    }
}

/// MinHash signatures: the share of equal positions in two signatures estimates the Jaccard
/// similarity of the sets they came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MinHash {
    seeds: Vec<u64>,
}

impl MinHash {
    /// `permutations` hash functions (64–128 is usual; error ≈ 1/√permutations).
    pub fn new(permutations: usize) -> Self {
        MinHash { seeds: (0..permutations.max(1) as u64).map(|index| stable_hash(&[&index.to_le_bytes()])).collect() }
    }

    pub fn signature<T: AsRef<str>>(&self, set: impl IntoIterator<Item = T>) -> Vec<u64> {
        let hashes: Vec<u64> = set.into_iter().map(|item| stable_hash(&[item.as_ref().as_bytes()])).collect();
        self.seeds.iter().map(|seed| hashes.iter().map(|hash| mix(hash ^ seed)).min().unwrap_or(u64::MAX)).collect()
    }

    /// The estimated Jaccard similarity of two signatures made by this MinHash.
    pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
        if a.is_empty() || a.len() != b.len() {
            return 0.0;
        }
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    }
}

/// A 64-bit finalizer (splitmix64), so each seed gives an independent-looking permutation.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> BTreeSet<String> {
        words(text).into_iter().collect()
    }

    #[test]
    fn command_keys_collapse_whitespace_and_keep_case() {
        assert_eq!(command_key("git add -A"), "git add -A");
        assert_eq!(command_key(" git  add\t-A "), "git add -A");
        assert_ne!(command_key("git add -A"), command_key("git add -a"));
    }

    #[test]
    fn a_command_key_borrows_exactly_when_the_command_is_already_collapsed() {
        for command in
            ["", "a", "git add -A", "naïve ✓ x", " a", "a ", " ", "a  b", "a\tb", "a\u{a0}b", "\u{2003}a", "a\n"]
        {
            let key = command_key(command);
            let collapsed = command.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(key, collapsed, "{command:?}");
            assert_eq!(matches!(key, std::borrow::Cow::Borrowed(_)), collapsed == command, "{command:?}");
        }
    }

    #[test]
    fn a_command_is_judged_collapsed_word_at_a_time_as_character_by_character() {
        // Every text of up to 10 characters from letters, spaces, newlines and no-break spaces,
        // then longer ones from a fixed sequence: whitespace before, inside, across and at the
        // end of each eight-byte word.
        let alphabet = ['a', ' ', '\n', '\u{a0}'];
        for len in 0..=10_u32 {
            for mut digits in 0..alphabet.len().pow(len) {
                let text: String = (0..len)
                    .map(|_| {
                        let c = alphabet[digits % alphabet.len()];
                        digits /= alphabet.len();
                        c
                    })
                    .collect();
                assert_eq!(is_collapsed(&text), is_collapsed_by_char(&text), "{text:?}");
            }
        }
        let mut seed = 7_u64;
        for _ in 0..20_000 {
            let len = 8 + (seed % 40) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match seed >> 60 {
                        0 => ' ',
                        1 if seed & 1 == 0 => '\n',
                        2 if seed & 3 == 0 => '\u{2003}',
                        3 if seed & 3 == 0 => 'é',
                        _ => 'x',
                    }
                })
                .collect();
            assert_eq!(is_collapsed(&text), is_collapsed_by_char(&text), "{text:?}");
        }
    }

    #[test]
    fn normalize_folds_case_numbers_and_ids() {
        assert_eq!(normalize("pytest  -k test_42 --seed 9f3a0c1d"), "pytest -k test_# --seed <id>");
        assert_eq!(normalize("Release PUBLISH v1.2.3"), "release publish v#.#.#");
    }

    #[test]
    fn words_drop_stop_words_and_stem() {
        assert_eq!(
            words("How do I stop devloop linting the vendor directory?"),
            vec!["stop", "devloop", "lint", "vendor", "directory"]
        );
        assert_eq!(words("lints"), vec!["lint"]);
        for form in ["close", "closes", "closing", "closed"] {
            assert_eq!(words(form), vec!["clos"], "{form}");
        }
    }

    #[test]
    fn pronouns_carry_no_topic_and_ways_to_say_disable_are_one_word() {
        assert_eq!(words("where are they stored, and what shows them"), vec!["stor"]);
        assert_eq!(synonym("sav"), synonym("stor"), "saved and stored ask the same");
        for text in ["turn off autofix", "switch off autofix", "disable autofix", "stop autofix"] {
            let folded: Vec<String> = words(text).iter().map(|word| synonym(word).to_owned()).collect();
            assert_eq!(folded, vec!["turn-off", "autofix"], "{text}");
        }
    }

    #[test]
    fn compounds_are_one_word_however_they_are_written() {
        for text in ["auto-fix the imports", "autofix the imports", "auto fix the imports", "Auto fix the imports"] {
            assert_eq!(join_compounds(text).to_lowercase(), "autofix the imports", "{text}");
        }
        assert_eq!(join_compounds("pre-commit hook"), join_compounds("pre commit hook"));
        assert_eq!(join_compounds("a - b"), "a - b", "a dash between words stays");
    }

    #[test]
    fn typos_one_edit_away_read_as_the_first_spelling() {
        let mut vocabulary = Vocabulary::new();
        assert_eq!(vocabulary.canonical("vendor"), "vendor");
        for typo in ["vendro", "vendr", "vendors", "vemdor"] {
            assert_eq!(vocabulary.canonical(typo), "vendor", "{typo}");
        }
        assert_eq!(vocabulary.canonical("pagination"), "pagination");
        assert_eq!(vocabulary.canonical("lint"), "lint", "short words are never corrected");
        assert_eq!(synonym("folder"), "directory");
    }

    #[test]
    fn shingles_and_jaccard() {
        let a = shingles(&words("skip the vendor directory when linting"), 2);
        let b = shingles(&words("linting: skip vendor directory"), 2);
        assert!(a.contains("skip vendor") && b.contains("skip vendor"));
        assert!(jaccard(&a, &b) > 0.3);
        assert_eq!(jaccard(&BTreeSet::<String>::new(), &BTreeSet::new()), 0.0);
        assert_eq!(shingles(&words("lint"), 3).len(), 1);
        assert!(jaccard(&char_shingles("bd ready", 3), &char_shingles("bd  reday", 3)) > 0.3);
    }

    #[test]
    fn weighted_jaccard_favours_rare_shared_words() {
        let mut frequencies = DocumentFrequencies::new();
        for text in [
            "fix the failing test in src/a.py",
            "fix the failing test in src/b.py",
            "fix failing test in src/c.py",
            "why is devloop slow",
            "add retries to sync",
        ] {
            frequencies.add(&set(text));
        }
        let template_a = set("fix the failing test in src/d.py");
        let template_b = set("fix the failing test in src/e.py");
        let question_a = set("how do I make devloop skip the vendor directory");
        let question_b = set("devloop: skip vendor directory when linting?");
        for text in [&template_a, &template_b, &question_a, &question_b] {
            frequencies.add(text);
        }
        let template = frequencies.weighted_jaccard(&template_a, &template_b);
        let question = frequencies.weighted_jaccard(&question_a, &question_b);
        assert!(question > template, "rare shared words weigh more: question {question}, template {template}");
        assert!(template < jaccard(&template_a, &template_b), "words every template shares are discounted");
    }

    #[test]
    fn words_not_seen_within_the_horizon_are_forgotten_and_then_new_again() {
        let mut frequencies = DocumentFrequencies::new();
        let mut vocabulary = Vocabulary::new();
        frequencies.add_at(&set("skip vendor directory"), 0);
        frequencies.add_at(&set("skip formatter"), 100);
        assert_eq!(vocabulary.canonical_at("formatter", 0), "formatter");
        assert_eq!(vocabulary.canonical_at("vendoring", 100), "vendoring");
        let new_word = frequencies.idf("unseen");
        frequencies.forget(150, 60);
        vocabulary.forget(150, 60);
        assert_eq!(frequencies.idf("directory"), new_word, "forgotten: as rare as a new word");
        assert!(frequencies.idf("skip") < new_word, "seen since: kept");
        assert_eq!(vocabulary.canonical_at("formattr", 150), "formattr", "its typos are no longer read as it");
        assert_eq!(vocabulary.canonical_at("vendorng", 150), "vendoring");
    }

    #[test]
    fn minhash_estimates_jaccard() {
        let minhash = MinHash::new(128);
        let a: BTreeSet<String> = (0..100).map(|n| format!("w{n}")).collect();
        let b: BTreeSet<String> = (50..150).map(|n| format!("w{n}")).collect();
        let estimate = MinHash::similarity(&minhash.signature(&a), &minhash.signature(&b));
        let exact = jaccard(&a, &b);
        assert!((estimate - exact).abs() < 0.12, "estimate {estimate}, exact {exact}");
        assert_eq!(MinHash::similarity(&minhash.signature(&a), &minhash.signature(&a)), 1.0);
    }
}
