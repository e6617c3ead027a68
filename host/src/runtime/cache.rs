//! Compiled components on disk, keyed by the wasm's content hash and the engine's
//! compatibility hash, so a plugin compiles once per engine and loads in milliseconds after.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
}

impl ArtifactCache {
    /// `None` disables the cache (every load compiles).
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        ArtifactCache { dir }
    }

    fn entry(&self, engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        let mut hasher = Sha256::new();
        hasher.update(wasm);
        hasher.update(engine_hasher.finish().to_le_bytes());
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        let key: String = hasher.finalize()[..16].iter().map(|byte| format!("{byte:02x}")).collect();
        Some(dir.join(format!("{key}.cwasm")))
    }

    /// Loads `wasm` compiled, from the cache when present, compiling and storing it otherwise.
    /// A cache that cannot be read or written only costs time; it is logged, never fatal.
    pub(crate) fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let Some(entry) = self.entry(engine, wasm) else {
            return Component::new(engine, wasm);
        };
        if entry.exists() {
            match deserialize(engine, &entry) {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %entry.display(), "ignoring unreadable compiled component: {error}")
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        if let Err(error) = store_atomically(&entry, &compiled) {
            tracing::warn!(path = %entry.display(), "cannot cache compiled component: {error}");
        }
        deserialize_bytes(engine, &compiled)
    }
}

fn store_atomically(entry: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = entry.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = entry.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, entry)
}

#[expect(unsafe_code, reason = "the file is wasmtime output this cache wrote, keyed by engine compatibility")]
fn deserialize(engine: &Engine, entry: &Path) -> wasmtime::Result<Component> {
    // SAFETY: entries are written only by `store_atomically` with `precompile_component` output
    // for an engine with the same compatibility hash; wasmtime checks the header and version.
    unsafe { Component::deserialize_file(engine, entry) }
}

#[expect(unsafe_code, reason = "the bytes come straight from Engine::precompile_component")]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` was produced by `precompile_component` on this very engine.
    unsafe { Component::deserialize(engine, bytes) }
}
