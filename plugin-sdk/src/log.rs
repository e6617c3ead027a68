//! Writing to the host's log. Records are tagged with the plugin's id by the host.
//!
//! Natively (unit tests, benchmarks) there is no host, and these do nothing.

use crate::Field;

#[cfg(target_family = "wasm")]
use crate::bindings::devloop::detector::log::{Level, emit};

#[cfg(target_family = "wasm")]
fn write(level: Level, message: &str, fields: &[Field]) {
    emit(level, message, fields);
}

#[cfg(not(target_family = "wasm"))]
fn write<L>(_level: L, _message: &str, _fields: &[Field]) {}

#[cfg(not(target_family = "wasm"))]
#[derive(Debug)]
enum Level {
    Debug,
    Info,
    Warn,
}

pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// A record with structured fields.
pub fn info_with(message: &str, fields: &[Field]) {
    write(Level::Info, message, fields);
}
