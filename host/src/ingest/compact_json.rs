//! A nested value of a record kept as JSON text, written while the record is parsed.
//!
//! Fields such as `environment` and `context` are kept whatever their shape, as the compact
//! text serde_json writes for a `serde_json::Value` (keys sorted, the last of a repeated key
//! kept). Building that `Value` first and then writing it took an allocation per key and per
//! string and was a large part of ingest; writing the text from the parser's callbacks gives
//! the same text straight into one buffer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Any JSON value but `null` (an `Option<CompactJson>` is `None` for it), as compact text.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactJson(pub String);

impl<'de> Deserialize<'de> for CompactJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = Vec::with_capacity(128);
        Writer(&mut text).deserialize(deserializer)?;
        String::from_utf8(text).map(CompactJson).map_err(D::Error::custom)
    }
}

/// Writes the value it is given at the end of its buffer.
struct Writer<'buffer>(&'buffer mut Vec<u8>);

impl Writer<'_> {
    fn write<E: Error>(self, value: &(impl Serialize + ?Sized)) -> Result<(), E> {
        serde_json::to_writer(self.0, value).map_err(E::custom)
    }

    /// A string as serde_json writes it. Most strings hold nothing it escapes (a quote, a
    /// backslash, a control character), and those are copied as they are, which is much
    /// cheaper than its escaping writer.
    fn write_str<E: Error>(self, text: &str) -> Result<(), E> {
        if text.bytes().any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\') {
            return self.write(text);
        }
        self.0.reserve(text.len() + 2);
        self.0.push(b'"');
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(b'"');
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Writer<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Writer<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, flag: bool) -> Result<(), E> {
        self.write(&flag)
    }

    fn visit_i64<E: Error>(self, integer: i64) -> Result<(), E> {
        self.write(&integer)
    }

    fn visit_u64<E: Error>(self, integer: u64) -> Result<(), E> {
        self.write(&integer)
    }

    fn visit_f64<E: Error>(self, float: f64) -> Result<(), E> {
        // As `serde_json::Value` holds it: a float that is not finite becomes null.
        match serde_json::Number::from_f64(float) {
            Some(number) => self.write(&number),
            None => self.visit_unit(),
        }
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<(), E> {
        self.write_str(text)
    }

    fn visit_unit<E: Error>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.0.push(b'[');
        let mut first = true;
        loop {
            let start = self.0.len();
            if !first {
                self.0.push(b',');
            }
            if items.next_element_seed(Writer(self.0))?.is_none() {
                self.0.truncate(start);
                break;
            }
            first = false;
        }
        self.0.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.0.len();
        self.0.push(b'{');
        let mut previous: Option<Cow<'de, str>> = None;
        let mut in_order = true;
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some(previous) = &previous {
                in_order &= *previous < key;
                self.0.push(b',');
            }
            Writer(self.0).write_str(key.as_ref())?;
            self.0.push(b':');
            map.next_value_seed(Writer(self.0))?;
            previous = Some(key);
        }
        self.0.push(b'}');
        if !in_order {
            // Rare: sorted (the last of a repeated key kept) as a `serde_json::Value` map does,
            // from the text just written, whose values are already in their final form.
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&self.0[start..]).map_err(A::Error::custom)?;
            self.0.truncate(start);
            Writer(self.0).write(&object)?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the record unless it holds an escape.
pub struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text through a `serde_json::Value`, what the fields held before.
    fn through_value(json: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        (!value.is_null()).then(|| value.to_string())
    }

    fn compact(json: &str) -> Option<String> {
        serde_json::from_str::<Option<CompactJson>>(json).ok()?.map(|compact| compact.0)
    }

    #[test]
    fn the_text_is_what_a_json_value_writes() {
        for json in [
            r#"{"CI": "true", "AMP_THREAD_ID": "T-1"}"#,
            r#"{"b": 1, "a": 2, "a": 3, "c": {"z": [1, -2, 3.50, 1e3, 2E-2, -0, 18446744073709551615, 18446744073709551616]}}"#,
            r#"{"é": "\u00e9\n\t\"\\\/", "e\u0301": null, "": [], "x": {}, "y": [true, false, null, {"k": "v", "a": 0}]}"#,
            r#"[{"b": 1, "b": {"q": 1}}, "\ud83d\ude00", 0.1, 123456789012345678901234567890]"#,
            r#"{"del": "a\u007fb \u007f", "sep": "\u2028\u2029", "ctl": "\u001f\u0000"}"#,
            r#""plain""#,
            "42",
            "-7",
            "1.5",
            "true",
            "null",
            r#"  { "spaced" :  [ 1 , 2 ] }  "#,
        ] {
            assert_eq!(compact(json), through_value(json), "{json}");
        }
    }

    #[test]
    fn malformed_json_is_refused_with_the_error_a_json_value_gets() {
        for json in [r#"{"a": }"#, r#"{"a": 1"#, r#"["\ud800"]"#, "1e400", r#"{"a": 1,}"#] {
            let before = serde_json::from_str::<serde_json::Value>(json).map_err(|error| error.to_string());
            let now = serde_json::from_str::<CompactJson>(json).map_err(|error| error.to_string());
            assert!(before.is_err(), "{json}");
            assert_eq!(now.err(), before.err(), "{json}");
        }
    }
}
