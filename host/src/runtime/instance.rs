use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Func, Instance, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::LoadError;
use super::budget::{LogCounts, LogMeter};
use super::columns::{self, Columns, FieldSelection};
use super::contract::{ApiVersion, v0_1_0, v0_2_0};
use super::engine::CompiledPlugin;
use super::limits::{Limits, MemoryLimiter, PluginFailure};
use super::stdio::LogPipe;
use super::ticker::CallClock;
use crate::escape;
use crate::model;

/// What lives in a plugin's store: a WASI context with nothing granted, and its memory cap.
pub(crate) struct SandboxContext {
    plugin_id: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: Arc<LogMeter>,
}

impl WasiView for SandboxContext {
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

impl SandboxContext {
    /// Writes a plugin's log record into the host's log, escaped and bounded.
    fn log(&mut self, level: tracing::Level, message: &str, fields: impl Iterator<Item = (String, model::Value)>) {
        if !self.log.admit() {
            return;
        }
        // The host's log is read on a terminal: a plugin's text may not drive it.
        let message = escape::terminal_line(&message.chars().take(4096).collect::<String>());
        let fields: Vec<String> = fields
            .take(32)
            .map(|(key, value)| {
                let value = value.to_json().to_string();
                escape::terminal_line(&format!("{}={}", key.chars().take(256).collect::<String>(), value))
            })
            .collect();
        let fields = fields.join(" ");
        let plugin = &*self.plugin_id;
        match level {
            tracing::Level::TRACE => tracing::trace!(plugin, fields, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(plugin, fields, "{message}"),
            tracing::Level::INFO => tracing::info!(plugin, fields, "{message}"),
            tracing::Level::WARN => tracing::warn!(plugin, fields, "{message}"),
            tracing::Level::ERROR => tracing::error!(plugin, fields, "{message}"),
        }
    }
}

/// The log import of each contract version, written in the host's log alike.
macro_rules! log_host {
    ($version:ident) => {
        impl $version::devloop::detector::log::Host for SandboxContext {
            fn emit(
                &mut self,
                level: $version::devloop::detector::log::Level,
                message: String,
                fields: Vec<$version::wit::Field>,
            ) {
                use $version::devloop::detector::log::Level;
                let level = match level {
                    Level::Trace => tracing::Level::TRACE,
                    Level::Debug => tracing::Level::DEBUG,
                    Level::Info => tracing::Level::INFO,
                    Level::Warn => tracing::Level::WARN,
                    Level::Error => tracing::Level::ERROR,
                };
                self.log(level, &message, fields.into_iter().map(|field| (field.key, field.value.into())));
            }
        }

        impl $version::devloop::detector::types::Host for SandboxContext {}
    };
}

log_host!(v0_1_0);
log_host!(v0_2_0);

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

/// A batch of events in the 0.2.0 contract's columns, built once when the batch is made and
/// shared by every plugin (on their own worker threads), and in the 0.1.0 contract's records,
/// read back from the columns when the first 0.1 plugin needs them.
pub struct WitEvents {
    columns: Columns,
    v0_1_0: OnceLock<Vec<v0_1_0::wit::Event>>,
}

impl WitEvents {
    /// The batch of `events`, carrying the fields `selection` names: those the plugins it is
    /// for read ([`FieldSelection::union`] of their [`PluginInstance::reads`]).
    pub fn new(events: &[model::Event], selection: &FieldSelection) -> Self {
        WitEvents { columns: Columns::new(events, selection), v0_1_0: OnceLock::new() }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn records(&self) -> &[v0_1_0::wit::Event] {
        self.v0_1_0.get_or_init(|| self.columns.records())
    }
}

/// The bindings of the contract version an instance speaks, and its `process` export, called
/// with borrowed arguments rather than through the generated binding (which wants them owned:
/// a copy per plugin).
enum Bindings {
    V0_1_0(v0_1_0::DetectorPlugin, Func),
    V0_2_0(v0_2_0::DetectorPlugin, Func),
}

/// One live plugin instance in its own store.
pub struct PluginInstance {
    store: Store<SandboxContext>,
    bindings: Bindings,
    description: DetectorDescription,
    /// The event fields a 0.2 detector reads (`None`: every field; 0.1 detectors get all).
    fields: Option<Vec<String>>,
    /// The event time a 0.2 `process` call moved the detector to, owed a tick by the caller
    /// that sent the batch: the tick that follows it is already done.
    ticked_in_process: Option<i64>,
    limits: Limits,
    clock: CallClock,
}

type CallResult<T> = Result<Result<T, String>, PluginFailure>;

impl PluginInstance {
    pub(crate) fn start(
        engine: &Engine,
        limits: &Limits,
        compiled: &CompiledPlugin,
        settings: &[model::Field],
    ) -> Result<PluginInstance, LoadError> {
        let origin_id: Arc<str> = Arc::from(compiled.origin.as_str());
        let log = Arc::new(LogMeter::default());
        log.allow(limits.budget.log_records_per_call);
        let wasi = WasiCtx::builder()
            .stdout(LogPipe::new(origin_id.clone(), "stdout", log.clone()))
            .stderr(LogPipe::new(origin_id.clone(), "stderr", log.clone()))
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .insecure_random_seed(0)
            .build();
        let state = SandboxContext {
            plugin_id: origin_id,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            log,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(limits.deadline_ticks());
        let start_failure = |failure| LoadError::Start { path: compiled.origin.clone(), failure };
        let bindings = {
            let _call = compiled.clock.call();
            instantiate(&mut store, compiled).map_err(|error| start_failure(classify(&store, error, limits)))?
        };

        let mut instance = PluginInstance {
            store,
            bindings,
            fields: None,
            ticked_in_process: None,
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
            clock: compiled.clock.clone(),
        };
        let (description, fields) = instance.describe().map_err(start_failure)?;
        instance.description = description;
        instance.fields = fields;
        if let Some(identity) = &compiled.identity {
            instance.description =
                DetectorDescription { api_version: instance.description.api_version, ..identity.clone() };
        }
        instance.store.data_mut().plugin_id = Arc::from(escape::terminal_line(&instance.description.id));
        if !settings.is_empty() {
            let answer = instance.configure(settings).map_err(start_failure)?;
            if let Err(reason) = answer {
                return Err(LoadError::Configure { path: compiled.origin.clone(), reason });
            }
        }
        Ok(instance)
    }

    pub fn description(&self) -> &DetectorDescription {
        &self.description
    }

    /// The event fields the detector reads (`None`: every field).
    pub fn reads(&self) -> Option<&[String]> {
        self.fields.as_deref()
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
        call: impl FnOnce(&Bindings, &mut Store<SandboxContext>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        self.store.set_epoch_deadline(self.limits.deadline_ticks());
        self.store.data_mut().limiter.exceeded = false;
        let _call = self.clock.call();
        call(&self.bindings, &mut self.store).map_err(|error| classify(&self.store, error, &self.limits))
    }

    /// What the detector says about itself, and the fields it reads.
    fn describe(&mut self) -> Result<(DetectorDescription, Option<Vec<String>>), PluginFailure> {
        /// The two versions' `detector-info` records differ only in 0.2.0's `fields`.
        macro_rules! description {
            ($info:expr) => {
                DetectorDescription {
                    id: $info.id,
                    version: $info.version,
                    api_version: $info.api_version,
                    patterns: $info.patterns,
                    kinds: $info.kinds,
                    config: $info
                        .config
                        .into_iter()
                        .map(|key| (key.name, key.default_value.into(), key.description))
                        .collect(),
                    language: $info.language,
                }
            };
        }
        self.guarded(|bindings, store| match bindings {
            Bindings::V0_1_0(bindings, _) => {
                let info = bindings.devloop_detector_detector().call_describe(store)?;
                Ok((description!(info), None))
            }
            Bindings::V0_2_0(bindings, _) => {
                let mut info = bindings.devloop_detector_detector().call_describe(store)?;
                let fields = info.fields.take();
                Ok((description!(info), fields))
            }
        })
    }

    fn configure(&mut self, settings: &[model::Field]) -> CallResult<()> {
        self.guarded(|bindings, store| match bindings {
            Bindings::V0_1_0(bindings, _) => {
                let settings: Vec<v0_1_0::wit::Field> = settings.iter().map(Into::into).collect();
                bindings.devloop_detector_detector().call_configure(store, &settings)
            }
            Bindings::V0_2_0(bindings, _) => {
                let settings: Vec<v0_2_0::wit::Field> = settings.iter().map(Into::into).collect();
                bindings.devloop_detector_detector().call_configure(store, &settings)
            }
        })
    }

    /// Feeds a batch (only the events the detector asked for) and returns its insights. The
    /// shared batch is never copied: a 0.1 detector gets references to its events, a 0.2
    /// detector the shared columns or its own gathered indices into them. A 0.2 detector's
    /// clock moves to the batch's last event in the same call; the [`PluginInstance::tick`]
    /// to that time that follows is then answered without a call.
    pub fn process(&mut self, events: &WitEvents) -> CallResult<Vec<model::Insight>> {
        let description = &self.description;
        let answer = match &self.bindings {
            Bindings::V0_1_0(_, process) => {
                let process = *process;
                let wanted: Vec<&v0_1_0::wit::Event> =
                    events.records().iter().filter(|event| description.wants(&event.kind)).collect();
                if wanted.is_empty() {
                    return Ok(Ok(Vec::new()));
                }
                self.guarded(|_, store| {
                    let typed = process.typed::<(&[&v0_1_0::wit::Event],), (ProcessAnswerV0_1,)>(&*store)?;
                    Ok(Answer::V0_1_0(typed.call(store, (&wanted,))?.0))
                })?
            }
            Bindings::V0_2_0(_, process) => {
                let process = *process;
                let Some(now_ms) = events.columns.now_ms() else { return Ok(Ok(Vec::new())) };
                let projection = events.columns.project(|kind| description.wants(kind), self.fields.as_deref());
                let answer = self.guarded(|_, store| call_v0_2_0(process, store, now_ms, projection.view()))?;
                self.ticked_in_process = Some(now_ms);
                answer
            }
        };
        self.accept(answer)
    }

    /// Tells the detector event time has reached `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> CallResult<Vec<model::Insight>> {
        if self.ticked_in_process.take() == Some(now_ms) {
            return Ok(Ok(Vec::new()));
        }
        let answer = self.guarded(|bindings, store| match bindings {
            Bindings::V0_1_0(bindings, _) => {
                Ok(Answer::V0_1_0(bindings.devloop_detector_detector().call_tick(store, now_ms)?))
            }
            Bindings::V0_2_0(_, process) => call_v0_2_0(*process, store, now_ms, columns::empty()),
        })?;
        self.accept(answer)
    }

    /// The detector's state, if it can hand it over.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginFailure> {
        self.guarded(|bindings, store| match bindings {
            Bindings::V0_1_0(bindings, _) => bindings.devloop_detector_detector().call_snapshot(store),
            Bindings::V0_2_0(bindings, _) => bindings.devloop_detector_detector().call_snapshot(store),
        })
    }

    /// Restores state from an earlier snapshot.
    pub fn restore(&mut self, state: &[u8]) -> CallResult<()> {
        self.guarded(|bindings, store| match bindings {
            Bindings::V0_1_0(bindings, _) => bindings.devloop_detector_detector().call_restore(store, state),
            Bindings::V0_2_0(bindings, _) => bindings.devloop_detector_detector().call_restore(store, state),
        })
    }

    /// Bounds the result and converts it into the host's model.
    fn accept(&self, answer: Answer) -> CallResult<Vec<model::Insight>> {
        match answer {
            Answer::V0_1_0(answer) => self.bounded(answer, v0_1_0::insight_size, v0_1_0::insight_into_model),
            Answer::V0_2_0(answer) => self.bounded(answer, v0_2_0::insight_size, v0_2_0::insight_into_model),
        }
    }

    fn bounded<I>(
        &self,
        answer: Result<Vec<I>, String>,
        size: fn(&I) -> usize,
        into_model: fn(I, &str) -> model::Insight,
    ) -> CallResult<Vec<model::Insight>> {
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
        let bytes: usize = insights.iter().map(size).sum();
        if bytes > self.limits.max_result_bytes {
            return Err(PluginFailure::OversizedResult {
                found: format!("{} KiB of insights", bytes >> 10),
                limit: format!("{} KiB per call", self.limits.max_result_bytes >> 10),
            });
        }
        let id = &self.description.id;
        Ok(Ok(insights.into_iter().map(|insight| into_model(insight, id)).collect()))
    }
}

/// What a `process` or `tick` call answered, in its contract version's types.
enum Answer {
    V0_1_0(ProcessAnswerV0_1),
    V0_2_0(ProcessAnswerV0_2),
}

/// Calls a 0.2.0 `process` with a borrowed batch.
fn call_v0_2_0(
    process: Func,
    store: &mut Store<SandboxContext>,
    now_ms: i64,
    batch: columns::BatchRef<'_>,
) -> wasmtime::Result<Answer> {
    let typed = process.typed::<(i64, columns::BatchRef<'_>), (ProcessAnswerV0_2,)>(&*store)?;
    Ok(Answer::V0_2_0(typed.call(store, (now_ms, batch))?.0))
}

/// What `process` returns in the 0.1.0 contract.
type ProcessAnswerV0_1 = Result<Vec<v0_1_0::wit::Insight>, String>;
/// What `process` returns in the 0.2.0 contract.
type ProcessAnswerV0_2 = Result<Vec<v0_2_0::wit::Insight>, String>;

/// Instantiates a component with the bindings of its contract version, keeping its `process`
/// export for calls by reference.
fn instantiate(store: &mut Store<SandboxContext>, compiled: &CompiledPlugin) -> wasmtime::Result<Bindings> {
    let instance = compiled.instance_pre.instantiate(&mut *store)?;
    let process = process_export(store, &instance, compiled.api_version)?;
    Ok(match compiled.api_version {
        ApiVersion::V0_1_0 => Bindings::V0_1_0(v0_1_0::DetectorPlugin::new(&mut *store, &instance)?, process),
        ApiVersion::V0_2_0 => Bindings::V0_2_0(v0_2_0::DetectorPlugin::new(&mut *store, &instance)?, process),
    })
}

fn process_export(
    store: &mut Store<SandboxContext>,
    instance: &Instance,
    version: ApiVersion,
) -> wasmtime::Result<Func> {
    let name = version.export_name();
    let interface = instance
        .get_export_index(&mut *store, None, &name)
        .ok_or_else(|| wasmtime::format_err!("no `{name}` export"))?;
    instance
        .get_export_index(&mut *store, Some(&interface), "process")
        .and_then(|index| instance.get_func(&mut *store, index))
        .ok_or_else(|| wasmtime::format_err!("no `process` function in `{name}`"))
}

/// Tells apart the ways the sandbox can stop a call.
fn classify(store: &Store<SandboxContext>, error: wasmtime::Error, limits: &Limits) -> PluginFailure {
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
