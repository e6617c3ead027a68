//! What every parser needs: a record read from its line, devloop's two timestamp styles, and
//! fields that are left out when the record has no value for them.

use serde::Deserialize;

use super::compact_json::CompactJson;
use crate::model::{Field, Value};

/// Parses a JSON record from its line. The line is checked to be UTF-8 once, which costs less
/// than checking each of its strings; a line that is not is parsed from its bytes, so that its
/// error names the column of the first bad string.
pub fn from_line<'line, T: Deserialize<'line>>(line: &'line [u8]) -> Result<T, String> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
    .map_err(|error| error.to_string())
}

/// Parses an ISO-8601 timestamp as devloop writes it (`…+00:00`, or naive meaning UTC).
pub fn iso_millis(text: &str) -> Result<i64, String> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc().timestamp_millis())
        .map_err(|error| format!("timestamp `{text}` is not ISO-8601: {error}"))
}

/// Float seconds since the epoch (how `time.time()` is written) as milliseconds.
pub fn epoch_millis(seconds: f64) -> Result<i64, String> {
    let millis = (seconds * 1000.0).floor();
    if millis.is_finite() && millis.abs() < 1e15 {
        Ok(millis as i64)
    } else {
        Err(format!("timestamp {seconds} is not a time in seconds since the epoch"))
    }
}

/// Seconds (devloop's durations) as whole milliseconds; negative or absurd values are dropped.
pub fn seconds_to_millis(seconds: f64) -> Option<u64> {
    let millis = (seconds * 1000.0).round();
    (millis.is_finite() && (0.0..1e15).contains(&millis)).then_some(millis as u64)
}

/// Fields in the order they were added; absent values are skipped.
#[derive(Default)]
pub struct Fields(Vec<Field>);

impl Fields {
    /// Room for `count` fields, so a record's fields take one allocation.
    pub fn with_capacity(count: usize) -> Self {
        Fields(Vec::with_capacity(count))
    }

    pub fn add(&mut self, key: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.0.push(Field::new(key, value));
        }
        self
    }

    pub fn add_json(&mut self, key: &str, value: Option<&serde_json::Value>) -> &mut Self {
        if let Some(value) = value.and_then(Value::from_json) {
            self.0.push(Field::new(key, value));
        }
        self
    }

    /// A nested value kept as compact JSON text, whatever its shape.
    pub fn add_json_text(&mut self, key: &str, value: Option<&serde_json::Value>) -> &mut Self {
        if let Some(value) = value.filter(|value| !value.is_null()) {
            self.0.push(Field::new(key, Value::Json(value.to_string())));
        }
        self
    }

    /// A nested value already written as compact JSON text while the record was parsed.
    pub fn add_compact_json(&mut self, key: &str, value: Option<CompactJson>) -> &mut Self {
        if let Some(CompactJson(text)) = value {
            self.0.push(Field::new(key, Value::Json(text)));
        }
        self
    }

    pub fn into_vec(self) -> Vec<Field> {
        self.0
    }
}

impl From<f64> for Value {
    fn from(float: f64) -> Self {
        Value::Float(float)
    }
}

impl From<Vec<String>> for Value {
    fn from(texts: Vec<String>) -> Self {
        Value::Texts(texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Record<'a> {
        #[serde(borrow)]
        text: std::borrow::Cow<'a, str>,
    }

    #[test]
    fn a_record_is_read_from_its_line_and_a_line_that_is_not_utf8_is_refused_where_it_breaks() {
        let record: Result<Record, String> = from_line(br#"{"text": "caf\u00e9 \u00e9"}"#);
        assert_eq!(record.map(|record| record.text.into_owned()), Ok("café é".to_owned()));
        let record: Result<Record, String> = from_line(b"{\"text\": \"caf\xe9\"}");
        assert_eq!(
            record.map(|record| record.text.into_owned()),
            Err("invalid unicode code point at line 1 column 14".to_owned())
        );
    }

    #[test]
    fn both_timestamp_styles_agree() -> Result<(), String> {
        assert_eq!(iso_millis("2026-11-25T07:44:03.287249+00:00")?, 1_795_592_643_287);
        assert_eq!(iso_millis("2026-11-25T07:44:03.287249")?, 1_795_592_643_287);
        assert_eq!(epoch_millis(1_795_592_643.287_9)?, 1_795_592_643_287);
        assert!(epoch_millis(f64::NAN).is_err());
        assert_eq!(seconds_to_millis(0.41), Some(410));
        assert_eq!(seconds_to_millis(-1.0), None);
        Ok(())
    }
}
