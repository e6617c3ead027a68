//! What every parser needs: a record read from its line, devloop's two timestamp styles, and
//! fields that are left out when the record has no value for them.

use std::borrow::Cow;

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

/// The kind `<family>.<name>` of an event whose name is read from its record: the one of
/// `known` (the names devloop writes) when it is there, static so that it costs no allocation;
/// a name devloop did not list is kept as written.
pub fn kind_named(family: &str, name: &str, known: &[&'static str]) -> Cow<'static, str> {
    let named =
        |kind: &str| kind.strip_prefix(family).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| rest == name);
    match known.iter().copied().find(|kind| named(kind)) {
        Some(kind) => Cow::Borrowed(kind),
        None => Cow::Owned(format!("{family}.{name}")),
    }
}

/// Parses an ISO-8601 timestamp as devloop writes it (`…+00:00`, or naive meaning UTC).
pub fn iso_millis(text: &str) -> Result<i64, String> {
    match python_utc_millis(text.as_bytes()) {
        Some(millis) => Ok(millis),
        None => chrono_millis(text),
    }
}

/// Any ISO-8601 timestamp, through chrono's general parser.
fn chrono_millis(text: &str) -> Result<i64, String> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc().timestamp_millis())
        .map_err(|error| format!("timestamp `{text}` is not ISO-8601: {error}"))
}

/// The stamp Python's `isoformat()` writes for a UTC time with microseconds,
/// `YYYY-MM-DDTHH:MM:SS.ffffff` with or without `+00:00` (nearly every record), read by hand:
/// chrono's general parser was a tenth of some logs' parsing. Anything else, and a leap second,
/// is left to chrono (`None`), which gives the same time for what this reads.
fn python_utc_millis(text: &[u8]) -> Option<i64> {
    let stamp = match text.len() {
        26 => text,
        32 => text.strip_suffix(b"+00:00")?,
        _ => return None,
    };
    let number = |range: std::ops::Range<usize>| {
        stamp[range]
            .iter()
            .try_fold(0_i64, |sum, &byte| byte.is_ascii_digit().then(|| sum * 10 + i64::from(byte - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.')];
    if separators.iter().any(|&(at, byte)| stamp[at] != byte) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second, micros) = (number(11..13)?, number(14..16)?, number(17..19)?, number(20..26)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + micros / 1000)
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

    pub fn add(&mut self, key: impl Into<Cow<'static, str>>, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.0.push(Field::new(key, value));
        }
        self
    }

    pub fn add_json(&mut self, key: impl Into<Cow<'static, str>>, value: Option<&serde_json::Value>) -> &mut Self {
        if let Some(value) = value.and_then(Value::from_json) {
            self.0.push(Field::new(key, value));
        }
        self
    }

    /// A nested value kept as compact JSON text, whatever its shape.
    pub fn add_json_text(&mut self, key: impl Into<Cow<'static, str>>, value: Option<&serde_json::Value>) -> &mut Self {
        if let Some(value) = value.filter(|value| !value.is_null()) {
            self.0.push(Field::new(key, Value::Json(value.to_string())));
        }
        self
    }

    /// A nested value already written as compact JSON text while the record was parsed.
    pub fn add_compact_json(&mut self, key: impl Into<Cow<'static, str>>, value: Option<CompactJson>) -> &mut Self {
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

    #[test]
    fn a_kind_devloop_lists_is_static_and_another_is_kept_as_written() {
        let known = ["audit.file_modified", "audit.fix_applied"];
        assert!(matches!(kind_named("audit", "fix_applied", &known), Cow::Borrowed("audit.fix_applied")));
        assert!(matches!(kind_named("audit", "file_modified", &known), Cow::Borrowed("audit.file_modified")));
        let unknown = kind_named("audit", "fix", &known);
        assert!(matches!(&unknown, Cow::Owned(kind) if kind == "audit.fix"), "{unknown:?}");
        assert_eq!(kind_named("aud", "it.fix_applied", &known), "aud.it.fix_applied");
        assert_eq!(kind_named("audit", "ünï", &known), "audit.ünï");
    }

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
    fn python_stamps_read_by_hand_are_the_times_chrono_reads() {
        let mut stamps = Vec::new();
        for year in (0..=3).chain(1599..=1601).chain(1899..=1901).chain(1968..=2104).chain(9998..=9999) {
            for month in 0..=13 {
                for day in [0, 1, 9, 10, 27, 28, 29, 30, 31, 32] {
                    let time = ["00:00:00.000000", "23:59:59.999999", "12:34:56.789012", "00:00:00.000999"]
                        [(year + month + day) % 4];
                    stamps.push(format!("{year:04}-{month:02}-{day:02}T{time}"));
                }
            }
        }
        for time in ["24:00:00.000000", "23:60:00.000000", "23:59:60.000000", "23:59:60.500000", "1a:00:00.000000"] {
            stamps.push(format!("2024-06-30T{time}"));
        }
        for stamp in [
            "2024-02-29 12:00:00.000000",
            "2024-02-29T12:00:00,000000",
            "2024-02-29T12:00:00.0000001",
            "2024-02-29T12:00:00.00000",
            "+024-02-29T12:00:00.000000",
            "2024-02-29T12:00:00.+00000",
            "2024-02-29T12:00:00.000000Z",
            "2024-02-29T12:00:00.000000+00:0",
            "2024-02-29T12:00:00.000000-00:00",
            "2024-02-29T12:00:00.000000+01:00",
            "2024-02-29T12:00:00.000000+00:00x",
            "2024-02-29T12:00:00+00:00",
            "2024-02-29T12:00:00",
        ] {
            stamps.push(stamp.to_owned());
        }
        let with_offsets: Vec<String> = stamps.iter().map(|stamp| format!("{stamp}+00:00")).collect();
        let mut read_by_hand = 0;
        for stamp in stamps.iter().chain(&with_offsets) {
            read_by_hand += usize::from(python_utc_millis(stamp.as_bytes()).is_some());
            assert_eq!(iso_millis(stamp), chrono_millis(stamp), "{stamp}");
        }
        assert!(read_by_hand > 5000, "{read_by_hand}");
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
