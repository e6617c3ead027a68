//! Handing a detector's state to its next version (hot swap) or its next run (checkpoints).
//!
//! State is serialized as JSON inside a small envelope, `{"format": N, "state": …}`: readable
//! when debugging, tolerant of a newer version that added fields with `#[serde(default)]`, and
//! explicit when the layout changed incompatibly (the detector raises its format number, and a
//! snapshot in an older format is either migrated or refused with a reason, so the host can say
//! why the detector starts fresh). A snapshot without an envelope (written before formats
//! existed) is format 0.
//!
//! Every primitive of this SDK (windows, sequences, absence timers, baselines, the text index,
//! suppression, examples) is serde-serializable, so a detector made of them and of serde types
//! gets snapshot and restore by naming its state fields in [`keep_state!`](crate::keep_state):
//!
//! ```
//! use devloop_plugin_sdk::prelude::*;
//!
//! struct Bursts {
//!     min_repeats: usize,
//!     runs: WindowedCounts<String>,
//! }
//!
//! impl Default for Bursts {
//!     fn default() -> Self {
//!         Bursts { min_repeats: 3, runs: WindowedCounts::new(60_000) }
//!     }
//! }
//!
//! impl Detector for Bursts {
//!     fn info() -> DetectorInfo {
//!         DetectorInfo::new("bursts", "0.1.0").pattern("burst").kinds(["cli.command"])
//!     }
//!
//!     fn on_event(&mut self, event: &Event, _out: &mut Vec<Insight>) -> Result<(), String> {
//!         self.runs.add(event.subject_or_empty().to_owned(), event.time_ms, event.id);
//!         Ok(())
//!     }
//!
//!     // Settings (`min_repeats`) are not state: they come from `configure`, before `restore`.
//!     keep_state!(format = 1; runs);
//! }
//!
//! let mut before = Bursts::default();
//! before.process(&[Event::at(1, 0, "cli.command").subject("bd ready")]).unwrap();
//! let mut after = Bursts::default();
//! after.restore(&before.snapshot().unwrap()).unwrap();
//! assert_eq!(after.runs.count(&"bd ready".to_owned()), 1);
//! ```

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes `state` without an envelope (for state that never changes layout).
pub fn save<T: Serialize>(state: &T) -> Option<Vec<u8>> {
    serde_json::to_vec(state).ok()
}

/// Reads state written by [`save`].
pub fn load<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("cannot read the saved state: {error}"))
}

/// Serializes `state` in the envelope of layout `format`.
pub fn save_versioned<T: Serialize>(format: u32, state: &T) -> Option<Vec<u8>> {
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        format: u32,
        state: &'a T,
    }
    serde_json::to_vec(&Envelope { format, state }).ok()
}

/// A saved snapshot, opened: its layout number and its state, not yet read into a type.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// 0 for a snapshot written before envelopes existed.
    pub format: u32,
    pub state: serde_json::Value,
}

impl Saved {
    /// Opens the envelope (or recognises a snapshot without one, as format 0).
    pub fn open(bytes: &[u8]) -> Result<Saved, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|error| format!("cannot read the saved state: {error}"))?;
        match value {
            serde_json::Value::Object(mut map)
                if map.len() == 2 && map.get("format").is_some_and(serde_json::Value::is_u64) =>
            {
                let format = map.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
                let format = u32::try_from(format).map_err(|_| format!("saved state format {format} is not valid"))?;
                let state = map.remove("state").ok_or("the saved state has a format but no state")?;
                Ok(Saved { format, state })
            }
            state => Ok(Saved { format: 0, state }),
        }
    }

    /// Why a migration refuses this snapshot: its layout is not one it converts.
    pub fn unconvertible(&self) -> String {
        format!("the saved state is in format {}, which this version cannot convert; starting fresh", self.format)
    }

    /// The state as `T` whatever its format: for a migration that knows the older layout.
    pub fn read_any<T: DeserializeOwned>(self) -> Result<T, String> {
        let format = self.format;
        serde_json::from_value(self.state)
            .map_err(|error| format!("cannot read the saved state (format {format}): {error}"))
    }

    /// The state as `T`, if it is in layout `format`; otherwise why it cannot be used.
    pub fn read<T: DeserializeOwned>(self, format: u32) -> Result<T, String> {
        match self.format.cmp(&format) {
            std::cmp::Ordering::Equal => serde_json::from_value(self.state)
                .map_err(|error| format!("cannot read the saved state (format {format}): {error}")),
            std::cmp::Ordering::Less => Err(format!(
                "the saved state is in format {saved}, this version reads format {format} and cannot convert it; \
                 starting fresh",
                saved = self.format
            )),
            std::cmp::Ordering::Greater => Err(format!(
                "the saved state is in format {saved}, written by a newer version of this detector (this one reads \
                 format {format}); starting fresh",
                saved = self.format
            )),
        }
    }
}

/// Reads state written by [`save_versioned`] in layout `format`, or says why it cannot.
pub fn load_versioned<T: DeserializeOwned>(format: u32, bytes: &[u8]) -> Result<T, String> {
    Saved::open(bytes)?.read(format)
}

/// Implements [`Detector::snapshot`](crate::Detector::snapshot) and
/// [`Detector::restore`](crate::Detector::restore) inside an `impl Detector` block by
/// serializing the named fields (each a serde type, such as the SDK's primitives) in an
/// envelope of layout `format`. Raise `format` when a field changes incompatibly. Restore is
/// all or nothing: a snapshot in another format, or missing a field, leaves the detector as it
/// was and returns the reason.
///
/// With `migrate = path`, a snapshot in an older format is handed to
/// `fn(&mut Self, Saved) -> Result<(), String>` instead of being refused.
#[macro_export]
macro_rules! keep_state {
    (format = $format:expr; $($field:ident),+ $(,)?) => {
        $crate::keep_state!(@snapshot $format; $($field),+);
        fn restore(&mut self, saved: &[u8]) -> Result<(), String> {
            let saved = $crate::state::Saved::open(saved)?;
            $crate::keep_state!(@read self, saved, $format; $($field),+)
        }
    };
    (format = $format:expr, migrate = $migrate:path; $($field:ident),+ $(,)?) => {
        $crate::keep_state!(@snapshot $format; $($field),+);
        fn restore(&mut self, saved: &[u8]) -> Result<(), String> {
            let saved = $crate::state::Saved::open(saved)?;
            if saved.format < $format {
                return $migrate(self, saved);
            }
            $crate::keep_state!(@read self, saved, $format; $($field),+)
        }
    };
    (@snapshot $format:expr; $($field:ident),+) => {
        fn snapshot(&self) -> Option<Vec<u8>> {
            let mut fields = $crate::__private::serde_json::Map::new();
            $(
                fields.insert(
                    stringify!($field).to_owned(),
                    $crate::__private::serde_json::to_value(&self.$field).ok()?,
                );
            )+
            $crate::state::save_versioned($format, &fields)
        }
    };
    (@read $self:ident, $saved:ident, $format:expr; $($field:ident),+) => {{
        let mut fields: $crate::__private::serde_json::Map<String, $crate::__private::serde_json::Value> =
            $saved.read($format)?;
        $(
            let $field = $crate::__private::serde_json::from_value(
                fields
                    .remove(stringify!($field))
                    .ok_or(concat!("the saved state has no `", stringify!($field), "`; starting fresh"))?,
            )
            .map_err(|error| format!("cannot read `{}` from the saved state: {error}", stringify!($field)))?;
        )+
        $( $self.$field = $field; )+
        Ok(())
    }};
}

/// Serializes a map as a list of `[key, value]` pairs, so keys need not be strings in JSON
/// (tuples, numbers): `#[serde(with = "devloop_plugin_sdk::state::as_pairs")]`.
pub mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, K: Deserialize<'de> + Ord, V: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// A `BTreeMap` whose snapshot is a list of pairs, for state keyed by tuples or numbers.
/// It derefs to the map, so it is used exactly like one.
#[derive(Debug, Clone, PartialEq)]
pub struct PairMap<K, V>(pub BTreeMap<K, V>);

impl<K, V> Default for PairMap<K, V> {
    fn default() -> Self {
        PairMap(BTreeMap::new())
    }
}

impl<K, V> Deref for PairMap<K, V> {
    type Target = BTreeMap<K, V>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<K, V> DerefMut for PairMap<K, V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<K: Serialize, V: Serialize> Serialize for PairMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        as_pairs::serialize(&self.0, serializer)
    }
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for PairMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        as_pairs::deserialize(deserializer).map(PairMap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versioned_snapshot_round_trips_and_other_formats_say_why_not() {
        let bytes = save_versioned(2, &vec![1, 2, 3]).expect("serializable");
        assert_eq!(load_versioned::<Vec<i32>>(2, &bytes), Ok(vec![1, 2, 3]));
        let older = load_versioned::<Vec<i32>>(3, &bytes).expect_err("format 2 is not 3");
        assert!(older.contains("format 2") && older.contains("starting fresh"), "{older}");
        let newer = load_versioned::<Vec<i32>>(1, &bytes).expect_err("format 2 is newer than 1");
        assert!(newer.contains("newer version"), "{newer}");
    }

    #[test]
    fn a_snapshot_without_an_envelope_is_format_0() -> Result<(), String> {
        let saved = Saved::open(br#"{"bd ready": {"dev": 3}}"#)?;
        assert_eq!(saved.format, 0);
        assert_eq!(saved.state["bd ready"]["dev"], 3);
        Ok(())
    }

    #[test]
    fn pair_maps_take_tuple_keys() -> Result<(), String> {
        let mut map = PairMap::default();
        map.insert(("release publish".to_owned(), "twine upload".to_owned()), 3_u64);
        let bytes = save(&map).ok_or("serializable")?;
        assert_eq!(load::<PairMap<(String, String), u64>>(&bytes)?, map);
        Ok(())
    }
}
