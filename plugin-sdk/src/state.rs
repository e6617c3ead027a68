//! Handing a detector's state to its next version (hot swap) or its next run (checkpoints).
//!
//! State is serialized as JSON: readable when debugging, and tolerant of a newer version that
//! added fields with `#[serde(default)]`.
//!
//! ```
//! use devloop_plugin_sdk::state;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize, PartialEq, Debug)]
//! struct Counts { seen: u64 }
//!
//! let bytes = state::save(&Counts { seen: 3 }).expect("serializable");
//! assert_eq!(state::load::<Counts>(&bytes), Ok(Counts { seen: 3 }));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serializes `state` for [`crate::Detector::snapshot`].
pub fn save<T: Serialize>(state: &T) -> Option<Vec<u8>> {
    serde_json::to_vec(state).ok()
}

/// Reads state written by [`save`] for [`crate::Detector::restore`].
pub fn load<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("cannot read the saved state: {error}"))
}
