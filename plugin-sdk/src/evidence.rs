//! Bounded evidence: keep a few examples and the true total, never the whole log.
//!
//! An insight travels through the sandbox boundary, the store and a beads issue; a detector
//! that attached every event it saw would make all three slow and unreadable.

use serde::{Deserialize, Serialize};

/// Examples an insight carries when the detector does not say.
pub const DEFAULT_EXAMPLES: usize = 5;

/// The first `limit` distinct examples of something, and how many there were in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Examples<T> {
    limit: usize,
    items: Vec<T>,
    total: usize,
}

impl<T: PartialEq + Clone> Examples<T> {
    pub fn new(limit: usize) -> Self {
        Examples { limit, items: Vec::new(), total: 0 }
    }

    /// Counts `item`, keeping it as an example while under the limit (repeats are counted,
    /// not kept twice).
    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.items.len() < self.limit && !self.items.contains(&item) {
            self.items.push(item);
        }
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Everything pushed, examples or not.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl<T: PartialEq + Clone> Default for Examples<T> {
    fn default() -> Self {
        Examples::new(DEFAULT_EXAMPLES)
    }
}

impl<T: PartialEq + Clone> Extend<T> for Examples<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_set_of_distinct_examples_and_the_true_total() {
        let mut examples = Examples::new(3);
        examples.extend(["a", "b", "a", "c", "d", "e"]);
        assert_eq!(examples.items(), &["a", "b", "c"]);
        assert_eq!(examples.total(), 6);
    }
}
