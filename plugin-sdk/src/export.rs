//! The glue between the generated `Guest` trait and a [`Detector`].
//!
//! A component's exports are free functions, so the detector instance lives in a
//! thread-local the export macro declares; [`Glue`] does the rest generically. A batch's events
//! borrow the batch (see [`crate::columns`]) and live for the one call.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::__private::{Batch, Info};
use crate::columns::{BadBatch, Columns};
use crate::{API_VERSION, Detector, Field, Insight};

/// Implements every export for detector type `D` stored in `slot`.
pub struct Glue<D: Detector>(std::marker::PhantomData<D>);

type Slot<D> = LocalKey<RefCell<Option<D>>>;

impl<D: Detector> Glue<D> {
    fn with<T>(slot: &'static Slot<D>, body: impl FnOnce(&mut D) -> T) -> T {
        slot.with(|cell| {
            let mut detector = cell.borrow_mut();
            body(detector.get_or_insert_with(D::default))
        })
    }

    pub fn describe() -> Info {
        let info = D::info();
        Info {
            id: info.id,
            version: info.version,
            api_version: API_VERSION.to_owned(),
            patterns: info.patterns,
            kinds: info.kinds,
            fields: info.fields,
            config: info.config,
            language: info.language,
        }
    }

    pub fn configure(slot: &'static Slot<D>, overrides: Vec<Field>) -> Result<(), String> {
        let settings = D::info().settings(overrides)?;
        Self::with(slot, |detector| detector.configure(&settings))
    }

    /// Reads the batch, hands its events to the detector, then lets its clock reach `now_ms`.
    pub fn process(slot: &'static Slot<D>, now_ms: i64, batch: Batch) -> Result<Vec<Insight>, String> {
        let bad = |error: BadBatch| error.to_string();
        let columns = Columns::new(&batch).map_err(bad)?;
        let text_items = columns.text_items().map_err(bad)?;
        let rows = columns.field_rows(&text_items).map_err(bad)?;
        let events = columns.events(&rows).map_err(bad)?;
        Self::with(slot, |detector| {
            let mut out = if events.is_empty() { Vec::new() } else { detector.process(&events)? };
            detector.on_tick(now_ms, &mut out)?;
            Ok(out)
        })
    }

    pub fn snapshot(slot: &'static Slot<D>) -> Option<Vec<u8>> {
        Self::with(slot, |detector| detector.snapshot())
    }

    pub fn restore(slot: &'static Slot<D>, state: Vec<u8>) -> Result<(), String> {
        Self::with(slot, |detector| detector.restore(&state))
    }
}

/// Exports a [`Detector`] as the plugin's implementation. Use it once, in the plugin's
/// `lib.rs`. On non-WebAssembly targets it expands to nothing, so the detector can be tested
/// and benchmarked natively.
#[macro_export]
macro_rules! export_detector {
    ($detector:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            use $crate::__private::{Batch, Glue, Guest, Info};
            use $crate::{Field, Insight};

            ::std::thread_local! {
                static DETECTOR: ::std::cell::RefCell<Option<$detector>> =
                    const { ::std::cell::RefCell::new(None) };
            }

            struct Exports;

            impl Guest for Exports {
                fn describe() -> Info {
                    Glue::<$detector>::describe()
                }
                fn configure(settings: Vec<Field>) -> Result<(), String> {
                    Glue::<$detector>::configure(&DETECTOR, settings)
                }
                fn process(now_ms: i64, events: Batch) -> Result<Vec<Insight>, String> {
                    Glue::<$detector>::process(&DETECTOR, now_ms, events)
                }
                fn snapshot() -> Option<Vec<u8>> {
                    Glue::<$detector>::snapshot(&DETECTOR)
                }
                fn restore(state: Vec<u8>) -> Result<(), String> {
                    Glue::<$detector>::restore(&DETECTOR, state)
                }
            }

    $crate::__private::export_bindings!(Exports with_types_in $crate::bindings);
        };
    };
}
