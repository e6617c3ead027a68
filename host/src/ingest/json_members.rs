//! The members of a JSON object (telemetry's `details`) as typed field values, read straight
//! from the record.
//!
//! They used to be read into a `serde_json::Map` and converted with [`Value::from_json`]: a
//! tree node, a key and a value allocated per member, then each key and string copied again
//! into its field. Here a member's scalar becomes its [`Value`] while the record is parsed, and
//! its key stays borrowed from the line; only nested arrays and objects still go through a
//! `serde_json::Value`, so every member converts exactly as before. The members come out in
//! the order such a map iterates them (sorted by key, the last of a repeated key kept), and a
//! value that is not an object is refused with the error the map gave.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use super::compact_json::Key;

use crate::model::Value;

/// An object's members; a member whose value is `null` is `None`.
#[derive(Debug, Default, PartialEq)]
pub struct JsonMembers<'a>(pub Vec<(Cow<'a, str>, Option<Value>)>);

impl JsonMembers<'_> {
    /// The text of member `key`, if it is a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == key).and_then(|(_, value)| match value {
            Some(Value::Text(text)) => Some(text.as_str()),
            _ => None,
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonMembers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = JsonMembers<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(JsonMembers::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Option<Value>)> = Vec::new();
        let mut in_order = true;
        while let Some(key) = map.next_key_seed(Key)? {
            let value = map.next_value_seed(MemberValue)?;
            if let Some((previous, _)) = members.last() {
                in_order &= *previous < key;
            }
            members.push((key, value));
        }
        if !in_order {
            // Rare: sorted, the last of a repeated key kept, as a `serde_json::Map` holds them.
            members.reverse();
            members.sort_by(|(a, _), (b, _)| a.cmp(b));
            members.dedup_by(|(later, _), (earlier, _)| later == earlier);
        }
        Ok(JsonMembers(members))
    }
}

/// A member's value, converted as [`Value::from_json`] converts it.
struct MemberValue;

impl<'de> DeserializeSeed<'de> for MemberValue {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberValue {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Boolean(flag)))
    }

    fn visit_i64<E: Error>(self, integer: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::Integer(integer)))
    }

    fn visit_u64<E: Error>(self, integer: u64) -> Result<Self::Value, E> {
        Ok(Some(i64::try_from(integer).map_or(Value::Float(integer as f64), Value::Integer)))
    }

    fn visit_f64<E: Error>(self, float: f64) -> Result<Self::Value, E> {
        // A `serde_json::Value` holds a float that is not finite as null.
        Ok(float.is_finite().then_some(Value::Float(float)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::Text(text.to_owned())))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Some(Value::Text(text)))
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(items))?;
        Ok(Value::from_json(&value))
    }

    fn visit_map<A: MapAccess<'de>>(self, members: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(MapAccessDeserializer::new(members))?;
        Ok(Value::from_json(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members through a `serde_json::Map`, what telemetry read before.
    fn through_map(json: &str) -> Result<Vec<(String, Option<Value>)>, String> {
        let map: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(json).map_err(|error| error.to_string())?;
        Ok(map.unwrap_or_default().iter().map(|(key, value)| (key.clone(), Value::from_json(value))).collect())
    }

    fn members(json: &str) -> Result<Vec<(String, Option<Value>)>, String> {
        let members: Option<JsonMembers> = serde_json::from_str(json).map_err(|error| error.to_string())?;
        Ok(members.unwrap_or_default().0.into_iter().map(|(key, value)| (key.into_owned(), value)).collect())
    }

    #[test]
    fn the_members_are_those_a_json_map_holds_converted_the_same_way() {
        for json in [
            r#"{"message": "Found 0 issues in src/app.py", "findings_count": 0}"#,
            r#"{"b": 1, "a": 2, "a": null, "c": 3, "c": 4, "b": "x", "\u0062": "escaped b"}"#,
            r#"{"n": -0, "f": -0.0, "big": 18446744073709551615, "bigger": 18446744073709551616, "e": 1e3, "x": 0.1}"#,
            r#"{"texts": ["a", "b\n"], "mixed": ["a", 1], "empty": [], "obj": {"z": 1, "a": [null]}, "t": true}"#,
            r#"{"é": "\u00e9\t\"\\", "": null}"#,
            r#"{}"#,
            "null",
        ] {
            assert_eq!(members(json), through_map(json), "{json}");
        }
    }

    #[test]
    fn what_is_not_an_object_is_refused_with_the_error_a_json_map_gets() {
        for json in [r#""text""#, "[1]", "3", r#"{"a": }"#, r#"{"a": [1,}"#, r#"{"a": 1e400}"#, r#"{"a": 1"#] {
            let before = through_map(json);
            assert!(before.is_err(), "{json}");
            assert_eq!(members(json), before, "{json}");
        }
    }

    #[test]
    fn a_string_member_is_found_by_its_key() -> Result<(), serde_json::Error> {
        let members: JsonMembers = serde_json::from_str(r#"{"file": "src/app.py", "line": 42, "file": "b.py"}"#)?;
        assert_eq!(members.text("file"), Some("b.py"));
        assert_eq!(members.text("line"), None);
        assert_eq!(members.text("other"), None);
        Ok(())
    }
}
