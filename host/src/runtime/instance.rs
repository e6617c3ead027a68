use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Func, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::LoadError;
use super::budget::{LogCounts, LogMeter};
use super::contract::{ApiVersion, v0_1_0};
use super::engine::PluginSource;
use super::limits::{Limits, MemoryLimiter, PluginFailure};
use super::stdio::LogPipe;
use crate::model;
use crate::sinks::escape;

/// What lives in a plugin's store: a WASI context with nothing granted, and its memory cap.
pub(crate) struct PluginState {
    plugin_id: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: Arc<LogMeter>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A clock stopped at the epoch: detectors work in event time, so a replay gives the same
/// result; a plugin that reads the wall clock learns nothing.
struct StoppedClock;

impl wasmtime_wasi::HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl v0_1_0::devloop::detector::log::Host for PluginState {
    fn emit(&mut self, level: v0_1_0::devloop::detector::log::Level, message: String, fields: Vec<v0_1_0::wit::Field>) {
        use v0_1_0::devloop::detector::log::Level;
        if !self.log.admit() {
            return;
        }
        // The host's log is read on a terminal: a plugin's text may not drive it.
        let message = escape::terminal_line(&message.chars().take(4096).collect::<String>());
        let fields: Vec<String> = fields
            .into_iter()
            .take(32)
            .map(|field| {
                let value = model::Value::from(field.value).to_json().to_string();
                escape::terminal_line(&format!("{}={}", field.key.chars().take(256).collect::<String>(), value))
            })
            .collect();
        let fields = fields.join(" ");
        let plugin = &*self.plugin_id;
        match level {
            Level::Trace => tracing::trace!(plugin, fields, "{message}"),
            Level::Debug => tracing::debug!(plugin, fields, "{message}"),
            Level::Info => tracing::info!(plugin, fields, "{message}"),
            Level::Warn => tracing::warn!(plugin, fields, "{message}"),
            Level::Error => tracing::error!(plugin, fields, "{message}"),
        }
    }
}

impl v0_1_0::devloop::detector::types::Host for PluginState {}

/// What a detector says about itself, in the host's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorDescription {
    pub id: String,
    pub version: String,
    pub api_version: String,
    pub patterns: Vec<String>,
    pub kinds: Vec<String>,
    /// `(name, default, description)` of each setting.
    pub config: Vec<(String, model::Value, String)>,
    pub language: String,
}

impl DetectorDescription {
    /// Whether the detector asked for events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty()
            || self.kinds.iter().any(|wanted| match wanted.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => wanted == kind,
            })
    }
}

/// A batch of events converted once into the contract's types and shared by every plugin.
pub struct WitEvents {
    events: Vec<v0_1_0::wit::Event>,
}

impl WitEvents {
    pub fn new(events: &[model::Event]) -> Self {
        WitEvents { events: events.iter().map(Into::into).collect() }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// One live plugin instance in its own store.
pub struct PluginInstance {
    store: Store<PluginState>,
    bindings: v0_1_0::DetectorPlugin,
    /// `process`, called with references into the shared batch rather than through the
    /// generated binding, which wants the events themselves (a copy per filtering plugin).
    process: Func,
    description: DetectorDescription,
    limits: Limits,
}

type CallResult<T> = Result<Result<T, String>, PluginFailure>;

impl PluginInstance {
    pub(crate) fn start(
        engine: &Engine,
        limits: &Limits,
        source: &PluginSource,
        settings: &[model::Field],
    ) -> Result<PluginInstance, LoadError> {
        let origin_id: Arc<str> = Arc::from(source.origin.as_str());
        let log = Arc::new(LogMeter::default());
        log.allow(limits.budget.log_records_per_call);
        let wasi = WasiCtx::builder()
            .stdout(LogPipe::new(origin_id.clone(), "stdout", log.clone()))
            .stderr(LogPipe::new(origin_id.clone(), "stderr", log.clone()))
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .insecure_random_seed(0)
            .build();
        let state = PluginState {
            plugin_id: origin_id,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            log,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(limits.deadline_ticks());
        let start_failure = |failure| LoadError::Start { path: source.origin.clone(), failure };
        let (bindings, process) = match source.api_version {
            ApiVersion::V0_1_0 => instantiate_v0_1_0(&mut store, source),
        }
        .map_err(|error| start_failure(classify(&store, error, limits)))?;

        let mut instance = PluginInstance {
            store,
            bindings,
            process,
            description: DetectorDescription {
                id: String::new(),
                version: String::new(),
                api_version: String::new(),
                patterns: Vec::new(),
                kinds: Vec::new(),
                config: Vec::new(),
                language: String::new(),
            },
            limits: limits.clone(),
        };
        let info = instance.guarded(|bindings, store| bindings.devloop_detector_detector().call_describe(store));
        let info = info.map_err(start_failure)?;
        instance.description = DetectorDescription {
            id: info.id,
            version: info.version,
            api_version: info.api_version,
            patterns: info.patterns,
            kinds: info.kinds,
            config: info.config.into_iter().map(|key| (key.name, key.default_value.into(), key.description)).collect(),
            language: info.language,
        };
        if let Some(identity) = &source.identity {
            instance.description =
                DetectorDescription { api_version: instance.description.api_version, ..identity.clone() };
        }
        instance.store.data_mut().plugin_id = Arc::from(escape::terminal_line(&instance.description.id));
        if !settings.is_empty() {
            let settings: Vec<v0_1_0::wit::Field> = settings.iter().map(Into::into).collect();
            let answer = instance
                .guarded(|bindings, store| bindings.devloop_detector_detector().call_configure(store, &settings))
                .map_err(start_failure)?;
            if let Err(reason) = answer {
                return Err(LoadError::Configure { path: source.origin.clone(), reason });
            }
        }
        Ok(instance)
    }

    pub fn description(&self) -> &DetectorDescription {
        &self.description
    }

    /// Lets the next call write `records` log records; the rest are dropped and counted.
    pub fn allow_log_records(&self, records: u64) {
        self.store.data().log.allow(records);
    }

    /// What the instance wrote to the log since [`PluginInstance::allow_log_records`].
    pub fn log_counts(&self) -> LogCounts {
        self.store.data().log.counts()
    }

    /// Runs one guest call under a fresh deadline, turning a sandbox stop into a
    /// [`PluginFailure`].
    fn guarded<T>(
        &mut self,
        call: impl FnOnce(&v0_1_0::DetectorPlugin, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        self.store.set_epoch_deadline(self.limits.deadline_ticks());
        self.store.data_mut().limiter.exceeded = false;
        call(&self.bindings, &mut self.store).map_err(|error| classify(&self.store, error, &self.limits))
    }

    /// Feeds a batch (only the events the detector asked for) and returns its insights. The
    /// events it skips are left out by reference: the shared batch is never copied.
    pub fn process(&mut self, events: &WitEvents) -> CallResult<Vec<model::Insight>> {
        let wanted: Vec<&v0_1_0::wit::Event> =
            events.events.iter().filter(|event| self.description.wants(&event.kind)).collect();
        if wanted.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let process = self.process;
        let answer = self.guarded(|_, store| {
            let typed = process.typed::<(&[&v0_1_0::wit::Event],), (ProcessAnswer,)>(&*store)?;
            Ok(typed.call(store, (&wanted,))?.0)
        })?;
        self.accept(answer)
    }

    /// Tells the detector event time has reached `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> CallResult<Vec<model::Insight>> {
        let answer = self.guarded(|bindings, store| bindings.devloop_detector_detector().call_tick(store, now_ms))?;
        self.accept(answer)
    }

    /// The detector's state, if it can hand it over.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginFailure> {
        self.guarded(|bindings, store| bindings.devloop_detector_detector().call_snapshot(store))
    }

    /// Restores state from an earlier snapshot.
    pub fn restore(&mut self, state: &[u8]) -> CallResult<()> {
        self.guarded(|bindings, store| bindings.devloop_detector_detector().call_restore(store, state))
    }

    /// Bounds the result and converts it into the host's model.
    fn accept(&self, answer: Result<Vec<v0_1_0::wit::Insight>, String>) -> CallResult<Vec<model::Insight>> {
        let insights = match answer {
            Ok(insights) => insights,
            Err(message) => return Ok(Err(message)),
        };
        if insights.len() > self.limits.max_insights_per_call {
            return Err(PluginFailure::OversizedResult {
                found: format!("{} insights", insights.len()),
                limit: format!("{} insights per call", self.limits.max_insights_per_call),
            });
        }
        let bytes: usize = insights.iter().map(v0_1_0::insight_size).sum();
        if bytes > self.limits.max_result_bytes {
            return Err(PluginFailure::OversizedResult {
                found: format!("{} KiB of insights", bytes >> 10),
                limit: format!("{} KiB per call", self.limits.max_result_bytes >> 10),
            });
        }
        let id = &self.description.id;
        Ok(Ok(insights.into_iter().map(|insight| v0_1_0::insight_into_model(insight, id)).collect()))
    }
}

/// What `process` returns in the 0.1.0 contract.
type ProcessAnswer = Result<Vec<v0_1_0::wit::Insight>, String>;

/// Instantiates a 0.1.0 component, keeping its `process` export for calls by reference.
fn instantiate_v0_1_0(
    store: &mut Store<PluginState>,
    source: &PluginSource,
) -> wasmtime::Result<(v0_1_0::DetectorPlugin, Func)> {
    let instance = source.instance_pre.instance_pre().instantiate(&mut *store)?;
    let bindings = v0_1_0::DetectorPlugin::new(&mut *store, &instance)?;
    let interface = instance
        .get_export_index(&mut *store, None, "devloop:detector/detector@0.1.0")
        .ok_or_else(|| wasmtime::format_err!("no `devloop:detector/detector@0.1.0` export"))?;
    let process = instance
        .get_export_index(&mut *store, Some(&interface), "process")
        .and_then(|index| instance.get_func(&mut *store, index))
        .ok_or_else(|| wasmtime::format_err!("no `process` function in `devloop:detector/detector@0.1.0`"))?;
    Ok((bindings, process))
}

/// Tells apart the ways the sandbox can stop a call.
fn classify(store: &Store<PluginState>, error: wasmtime::Error, limits: &Limits) -> PluginFailure {
    if store.data().limiter.exceeded {
        return PluginFailure::OutOfMemory { limit_bytes: limits.memory_bytes };
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => PluginFailure::Deadline { limit: limits.call_deadline },
        Some(wasmtime::Trap::UnreachableCodeReached) => PluginFailure::Trap {
            message: "wasm `unreachable` executed (a Rust plugin panicked; its message is in the log)".to_owned(),
        },
        Some(trap) => PluginFailure::Trap { message: trap.to_string() },
        None => {
            let message = format!("{error:#}");
            PluginFailure::Trap { message: message.lines().next().unwrap_or("unknown trap").to_owned() }
        }
    }
}
