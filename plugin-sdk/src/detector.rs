use crate::{ConfigKey, Event, Insight, Settings, Value};

/// A detector: receives events in event-time order and reports insights.
///
/// Only [`Detector::info`] and [`Detector::on_event`] are required. State lives in `self`; the
/// host keeps one instance per plugin for the whole run.
pub trait Detector: Default + 'static {
    /// Who the detector is: id, version, patterns, wanted event kinds, settings.
    fn info() -> DetectorInfo;

    /// Applies the user's settings. Read them with the typed getters of [`Settings`], which
    /// fall back to the defaults declared in [`Detector::info`].
    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }

    /// Handles one event, pushing any insight it completes onto `out`.
    fn on_event(&mut self, event: &Event<'_>, out: &mut Vec<Insight>) -> Result<(), String>;

    /// Event time has reached `now_ms` with no new events: fire timers.
    fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Insight>) -> Result<(), String> {
        let _ = (now_ms, out);
        Ok(())
    }

    /// Serializes state for a new version to take over. `None`: not supported.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// Restores state written by [`Detector::snapshot`].
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Err("this detector does not restore state".to_owned())
    }

    /// Handles a batch. The default calls [`Detector::on_event`] for each event.
    fn process(&mut self, events: &[Event<'_>]) -> Result<Vec<Insight>, String> {
        let mut out = Vec::new();
        for event in events {
            self.on_event(event, &mut out)?;
        }
        Ok(out)
    }
}

/// What [`Detector::info`] returns; build it with the chained methods.
#[derive(Debug, Clone)]
pub struct DetectorInfo {
    pub id: String,
    pub version: String,
    pub patterns: Vec<String>,
    pub kinds: Vec<String>,
    /// The event fields the detector reads; `None` (the default) is every field.
    pub fields: Option<Vec<String>>,
    pub config: Vec<ConfigKey>,
    pub language: String,
}

impl DetectorInfo {
    pub fn new(id: impl Into<String>, version: impl Into<String>) -> Self {
        DetectorInfo {
            id: id.into(),
            version: version.into(),
            patterns: Vec::new(),
            kinds: Vec::new(),
            fields: None,
            config: Vec::new(),
            language: "rust".to_owned(),
        }
    }

    /// A pattern id this detector's insights carry.
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.patterns.push(pattern.into());
        self
    }

    /// The event kinds to receive (`cli.command`, or a prefix such as `feedback.*`).
    pub fn kinds<K: Into<String>>(mut self, kinds: impl IntoIterator<Item = K>) -> Self {
        self.kinds.extend(kinds.into_iter().map(Into::into));
        self
    }

    /// The event fields the detector reads (`error_message`, `files`): the host sends only
    /// these, so a batch crosses the sandbox faster. Without this call every field is sent;
    /// `fields([] as [&str; 0])` sends none. The event's own columns (id, time, source, kind,
    /// actor, thread, subject, outcome, duration) are always sent.
    pub fn fields<K: Into<String>>(mut self, fields: impl IntoIterator<Item = K>) -> Self {
        self.fields.get_or_insert_with(Vec::new).extend(fields.into_iter().map(Into::into));
        self
    }

    /// A setting with its default and a one-sentence description.
    pub fn setting(
        mut self,
        name: impl Into<String>,
        default_value: impl Into<Value>,
        description: impl Into<String>,
    ) -> Self {
        self.config.push(ConfigKey {
            name: name.into(),
            default_value: default_value.into(),
            description: description.into(),
        });
        self
    }

    /// The settings with every declared default applied and `overrides` on top.
    pub fn settings(&self, overrides: Vec<crate::Field>) -> Result<Settings, String> {
        Settings::new(&self.config, overrides)
    }
}
