use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, types::ComponentItem};
use wasmtime::{Config, Engine};

use super::LoadError;
use super::cache::ArtifactCache;
use super::contract::{ApiVersion, v0_1_0, v0_2_0};
use super::instance::{PluginInstance, SandboxContext};
use super::limits::Limits;
use super::ticker::{CallClock, EpochTicker};

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub limits: Limits,
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
}

/// The engine, the linker, the cache and the epoch ticker that enforces call deadlines.
pub struct Runtime {
    engine: Engine,
    linker: Linker<SandboxContext>,
    cache: ArtifactCache,
    limits: Limits,
    ticker: EpochTicker,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasmtime_config = Config::new();
        wasmtime_config
            .epoch_interruption(true)
            // Detectors are called synchronously; without this a call costs ~3x more.
            .concurrency_support(false);
        let engine = Engine::new(&wasmtime_config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        v0_1_0::DetectorPlugin::add_to_linker::<SandboxContext, HasSelf<SandboxContext>>(&mut linker, |state| state)?;
        v0_2_0::DetectorPlugin::add_to_linker::<SandboxContext, HasSelf<SandboxContext>>(&mut linker, |state| state)?;

        let ticker = {
            let engine = engine.clone();
            EpochTicker::spawn(move || engine.increment_epoch())?
        };
        Ok(Runtime { engine, linker, cache: ArtifactCache::new(config.cache_dir), limits: config.limits, ticker })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads, compiles (or loads from cache) and checks a plugin file.
    pub fn load_file(&self, path: &Path) -> Result<CompiledPlugin, LoadError> {
        let display = path.display().to_string();
        let wasm = std::fs::read(path).map_err(|source| LoadError::Read { path: display.clone(), source })?;
        self.load_bytes(&display, &wasm)
    }

    /// Compiles and checks a plugin from its bytes; `origin` names it in errors.
    pub fn load_bytes(&self, origin: &str, wasm: &[u8]) -> Result<CompiledPlugin, LoadError> {
        if wasm.starts_with(b"\0asm\x01\0\0\0") {
            return Err(LoadError::CoreModule { path: origin.to_owned() });
        }
        let component = self
            .cache
            .load(&self.engine, wasm)
            .map_err(|error| LoadError::Invalid { path: origin.to_owned(), reason: format!("{error:#}") })?;
        let api_version = detector_api_version(&self.engine, &component, origin)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| LoadError::Link { path: origin.to_owned(), reason: format!("{error:#}") })?;
        let checked = match api_version {
            ApiVersion::V0_1_0 => v0_1_0::DetectorPluginPre::new(instance_pre.clone()).map(drop),
            ApiVersion::V0_2_0 => v0_2_0::DetectorPluginPre::new(instance_pre.clone()).map(drop),
        };
        checked.map_err(|error| LoadError::Link { path: origin.to_owned(), reason: format!("{error:#}") })?;
        Ok(CompiledPlugin {
            origin: origin.to_owned(),
            content_hash: content_hash(wasm),
            api_version,
            instance_pre,
            clock: self.ticker.clock(),
            identity: None,
        })
    }

    /// Starts a fresh instance of `compiled` in a store of its own, applying `settings`.
    pub fn instantiate(
        &self,
        compiled: &CompiledPlugin,
        settings: &[crate::model::Field],
    ) -> Result<PluginInstance, LoadError> {
        PluginInstance::start(&self.engine, &self.limits, compiled, settings)
    }
}

fn content_hash(wasm: &[u8]) -> String {
    Sha256::digest(wasm)[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Reads the contract version from the component's export names, before instantiating it.
fn detector_api_version(engine: &Engine, component: &Component, origin: &str) -> Result<ApiVersion, LoadError> {
    let component_type = component.component_type();
    let mut exports = Vec::new();
    for (name, item) in component_type.exports(engine) {
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            exports.push(name.to_owned());
            continue;
        }
        match ApiVersion::from_export_name(name) {
            Some(Ok(version)) => return Ok(version),
            Some(Err(found)) => {
                return Err(LoadError::UnsupportedApi {
                    path: origin.to_owned(),
                    found,
                    supported: ApiVersion::supported_list(),
                });
            }
            None => exports.push(name.to_owned()),
        }
    }
    Err(LoadError::NotADetector {
        path: origin.to_owned(),
        exports: if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") },
    })
}

/// A compiled plugin, checked and ready to instantiate any number of times.
#[derive(Clone)]
pub struct CompiledPlugin {
    /// Where it came from (a path), for messages.
    pub origin: String,
    /// The first 16 hex digits of the wasm's sha256.
    pub content_hash: String,
    pub api_version: ApiVersion,
    /// Linked and checked against the exports of its contract version.
    pub(crate) instance_pre: InstancePre<SandboxContext>,
    /// Keeps the runtime's epoch ticking while an instance's call is in progress.
    pub(crate) clock: CallClock,
    /// Who every instance is, whatever its `describe` says: set when one component runs as
    /// several detectors (the rules detector, once per pattern file, see [`crate::patterns`]).
    pub identity: Option<super::DetectorDescription>,
}
