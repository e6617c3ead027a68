//! New detector projects from templates, in Rust, Python or JavaScript.
//!
//! A plugin author's first five minutes decide whether they write a detector at all, so a
//! scaffold must build with one documented command and pass its own starter case as created.
//! The templates live in `host/templates/` and are compiled into the binary, so `plugin new`
//! works from an installed `devloop-host` with no checkout. Python and JavaScript projects get
//! a copy of the WIT contract (their toolchains generate bindings from it); Rust projects use
//! `devloop-plugin-sdk`, which carries the contract itself.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The contract every scaffold is built against.
const WIT: &str = include_str!("../../wit/since_v0.1.0/detector.wit");

/// The languages `plugin new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    Js,
}

impl Language {
    /// What `describe().language` says, and the name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
        }
    }

    /// The command that builds a scaffold, run in its folder.
    pub fn build_command(self, id: &str) -> String {
        match self {
            Language::Rust => "cargo build --release --target wasm32-wasip2".to_owned(),
            Language::Python => format!("componentize-py -d wit -w detector-plugin componentize app -o {id}.wasm"),
            Language::Js => "npm install && npm run build".to_owned(),
        }
    }

    /// The component the build command writes, relative to the scaffold's folder.
    pub fn output(self, id: &str) -> String {
        match self {
            Language::Rust => format!("target/wasm32-wasip2/release/{}.wasm", id.replace('-', "_")),
            Language::Python | Language::Js => format!("{id}.wasm"),
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Js => "JavaScript",
        }
    }

    fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Language::Rust => &[
                ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
                ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
                (".gitignore", "target/\n*.wasm\n"),
            ],
            Language::Python => &[
                ("app.py", include_str!("../templates/python/app.py")),
                ("wit/detector.wit", WIT),
                (".gitignore", "__pycache__/\n*.wasm\n"),
            ],
            Language::Js => &[
                ("detector.js", include_str!("../templates/js/detector.js")),
                ("package.json", include_str!("../templates/js/package.json")),
                ("build.mjs", include_str!("../../scripts/js-toolchain/componentize.mjs")),
                ("wit/detector.wit", WIT),
                (".gitignore", "node_modules/\n*.wasm\n"),
            ],
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Files every scaffold gets: its README and its starter case.
const COMMON_FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../templates/common/README.md")),
    ("cases/starter/events.jsonl", include_str!("../templates/common/cases/starter/events.jsonl")),
    ("cases/starter/expected.json", include_str!("../templates/common/cases/starter/expected.json")),
];

/// Why a scaffold could not be written.
#[derive(Debug, Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a detector id: use lowercase letters, digits and dashes, starting with a letter (`slow-builds`)"
    )]
    BadName(String),
    #[error("{0} already exists and is not empty; pick another --dir or remove it")]
    NotEmpty(PathBuf),
    #[error(
        "a Rust detector needs the devloop-plugin-sdk crate and none was found above {0}; \
         pass --sdk PATH/TO/devloop-host/plugin-sdk"
    )]
    NoSdk(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The detector's id, in kebab-case.
    pub id: String,
    pub language: Language,
    /// The folder to create.
    pub dir: PathBuf,
    /// The `plugin-sdk` folder a Rust detector depends on.
    pub sdk: Option<PathBuf>,
}

impl Scaffold {
    /// Writes the project and returns the files written, relative to its folder.
    pub fn write(&self) -> Result<Vec<String>, ScaffoldError> {
        if !is_detector_id(&self.id) {
            return Err(ScaffoldError::BadName(self.id.clone()));
        }
        if std::fs::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(ScaffoldError::NotEmpty(self.dir.clone()));
        }
        let sdk = match self.language {
            Language::Rust => {
                let sdk = self
                    .sdk
                    .clone()
                    .or_else(|| find_sdk(&self.dir))
                    .ok_or_else(|| ScaffoldError::NoSdk(self.dir.clone()))?;
                std::path::absolute(&sdk).unwrap_or(sdk).display().to_string()
            }
            Language::Python | Language::Js => String::new(),
        };
        let pattern = self.id.replace('-', "_");
        let substitutions = [
            ("{{id}}", self.id.as_str()),
            ("{{pattern}}", pattern.as_str()),
            ("{{crate}}", pattern.as_str()),
            ("{{sdk}}", sdk.as_str()),
            ("{{language}}", self.language.display_name()),
            ("{{build}}", &self.language.build_command(&self.id)),
            ("{{output}}", &self.language.output(&self.id)),
        ];
        let mut written = Vec::new();
        for (relative, template) in self.language.files().iter().chain(COMMON_FILES) {
            let text = substitutions.iter().fold((*template).to_owned(), |text, (from, to)| text.replace(from, to));
            let path = self.dir.join(relative);
            let write = |path: &Path| {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, text)
            };
            write(&path).map_err(|source| ScaffoldError::Write { path: path.clone(), source })?;
            written.push((*relative).to_owned());
        }
        Ok(written)
    }
}

fn is_detector_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Looks for `plugin-sdk/` of a devloop-host checkout in `start` and the folders above it.
fn find_sdk(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    start.ancestors().map(|folder| folder.join("plugin-sdk")).find(|sdk| {
        std::fs::read_to_string(sdk.join("Cargo.toml"))
            .is_ok_and(|manifest| manifest.contains("name = \"devloop-plugin-sdk\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_ids_are_kebab_case() {
        for good in ["slow-builds", "a", "retry2"] {
            assert!(is_detector_id(good), "{good}");
        }
        for bad in ["", "Slow", "2fast", "slow_builds", "slow-", "../x"] {
            assert!(!is_detector_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_python_scaffold_gets_the_contract_and_a_starter_case() -> Result<(), ScaffoldError> {
        let dir = std::env::temp_dir().join(format!("scaffold-test-{}", std::process::id()));
        let scaffold = Scaffold { id: "slow-builds".into(), language: Language::Python, dir: dir.clone(), sdk: None };
        let written = scaffold.write()?;
        assert!(written.contains(&"wit/detector.wit".to_owned()), "{written:?}");
        let app = std::fs::read_to_string(dir.join("app.py"))
            .map_err(|source| ScaffoldError::Write { path: dir.clone(), source })?;
        assert!(app.contains("PATTERN = \"slow_builds\"") && !app.contains("{{"), "{app}");
        assert!(matches!(scaffold.write(), Err(ScaffoldError::NotEmpty(_))));
        std::fs::remove_dir_all(&dir).map_err(|source| ScaffoldError::Write { path: dir, source })?;
        Ok(())
    }
}
