//! Counts per command that also keep their sum. Judging a pair asks how the *other* commands'
//! failed runs and successes were followed: the sum over every command less the pair's own.
//! Summed on each ask, that was a walk over every command of the last month for each occasion
//! of each pair; kept as the counts change, it is one subtraction.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A count per command and their sum. Saved as the map alone (as it was saved before it kept
/// its sum), the sum taken again when it is read back.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    per_command: BTreeMap<String, u64>,
    total: u64,
}

impl Counts {
    pub fn get(&self, command: &str) -> u64 {
        self.per_command.get(command).copied().unwrap_or(0)
    }

    pub fn add_one(&mut self, command: &str) {
        match self.per_command.get_mut(command) {
            Some(count) => *count += 1,
            None => {
                self.per_command.insert(command.to_owned(), 1);
            }
        }
        self.total += 1;
    }

    /// Forgets `command`'s count, and takes it off the sum.
    pub fn remove(&mut self, command: &str) {
        self.total -= self.per_command.remove(command).unwrap_or(0);
    }

    /// The sum of every command's count.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The commands counted: the tests' measure of how much is kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.per_command.len()
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.per_command.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let per_command = BTreeMap::<String, u64>::deserialize(deserializer)?;
        let total = per_command.values().sum();
        Ok(Counts { per_command, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_follows_every_count_added_and_forgotten() {
        let mut counts = Counts::default();
        for command in ["make", "make", "git diff", "make", "pytest"] {
            counts.add_one(command);
        }
        assert_eq!((counts.get("make"), counts.get("pytest"), counts.get("ls")), (3, 1, 0));
        assert_eq!((counts.total(), counts.len()), (5, 3));
        counts.remove("make");
        counts.remove("never counted");
        assert_eq!((counts.get("make"), counts.total(), counts.len()), (0, 2, 2));
    }

    #[test]
    fn it_saves_the_map_it_replaced_and_reads_its_sum_back() -> Result<(), serde_json::Error> {
        let mut counts = Counts::default();
        for command in ["make", "git diff", "make"] {
            counts.add_one(command);
        }
        let saved = serde_json::to_value(&counts)?;
        assert_eq!(saved, serde_json::json!({"git diff": 1, "make": 2}));
        let read: Counts = serde_json::from_value(saved)?;
        assert_eq!(read, counts);
        assert_eq!(read.total(), 3);
        Ok(())
    }
}
