//! The rules component, loaded once, and the identity it takes for each pattern.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::PatternFile;
use crate::model::{Field, Value};
use crate::runtime::{ApiVersion, CompiledPlugin, DetectorDescription, LoadError, Runtime, Supervisor};

/// The compiled rules component, what it says about itself, and each pattern's settings
/// (`[detectors.ID]`, `--set`) by pattern id.
#[derive(Clone)]
pub struct RulesEngine {
    compiled: CompiledPlugin,
    description: DetectorDescription,
    settings: BTreeMap<String, Vec<Field>>,
}

impl RulesEngine {
    /// Loads `path` and checks it is the rules component.
    pub fn load(runtime: &Runtime, path: &Path) -> Result<RulesEngine, LoadError> {
        RulesEngine::checked(runtime, runtime.load_file(path)?)
    }

    /// The rules component compiled into this binary.
    pub fn bundled(runtime: &Runtime) -> Result<RulesEngine, LoadError> {
        let (origin, wasm) = crate::detectors::bundled_rules().ok_or_else(|| LoadError::Read {
            path: "bundled:rules".to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "this build of devloop-host has no rules detector",
            ),
        })?;
        RulesEngine::checked(runtime, runtime.load_bytes(&origin, wasm)?)
    }

    fn checked(runtime: &Runtime, compiled: CompiledPlugin) -> Result<RulesEngine, LoadError> {
        let description = runtime.instantiate(&compiled, &[])?.description().clone();
        if description.id != rules::ENGINE_ID {
            return Err(LoadError::Configure {
                path: compiled.origin.clone(),
                reason: format!("it is detector `{}`, not the rules detector that runs pattern files", description.id),
            });
        }
        Ok(RulesEngine { compiled, description, settings: BTreeMap::new() })
    }

    /// The engine running each pattern with its settings, checked by [`PatternFile::settings`].
    pub fn with_settings(mut self, settings: BTreeMap<String, Vec<Field>>) -> RulesEngine {
        self.settings = settings;
        self
    }

    pub fn api_version(&self) -> ApiVersion {
        self.compiled.api_version
    }

    /// Who the engine is while it runs `file`: the pattern's id as detector id and pattern,
    /// the event kinds its filters can use, and a version that changes with the file.
    pub fn identity(&self, file: &PatternFile) -> DetectorDescription {
        DetectorDescription {
            version: format!("{}+{}", self.description.version, &text_hash(&file.text)[..8]),
            api_version: self.description.api_version.clone(),
            ..file.description()
        }
    }

    /// The component as the pattern's own plugin: named by the file, hashed with its text.
    pub fn compiled_for(&self, file: &PatternFile) -> CompiledPlugin {
        let mut compiled = self.compiled.clone();
        compiled.origin = file.path.display().to_string();
        compiled.content_hash = text_hash(&format!("{}\n{}", self.compiled.content_hash, file.text))[..16].to_owned();
        compiled.identity = Some(self.identity(file));
        compiled
    }

    /// The settings that hand the pattern, and its own settings, to the component.
    pub fn settings_for(&self, file: &PatternFile) -> Vec<Field> {
        let own = self.settings.get(&file.pattern.id).map(Vec::as_slice).unwrap_or_default();
        vec![
            Field::new(rules::PATTERN_SETTING, Value::Text(file.text.clone())),
            Field::new(rules::ORIGIN_SETTING, Value::Text(file.path.display().to_string())),
            Field::new(rules::OVERRIDES_SETTING, Value::Text(super::overrides_table(own).to_string())),
        ]
    }

    /// A started, supervised instance running `file`.
    pub fn supervisor(&self, runtime: &Runtime, file: &PatternFile) -> Result<Supervisor, LoadError> {
        Supervisor::start(runtime, self.compiled_for(file), self.settings_for(file))
    }
}

fn text_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}
