//! New detector projects from templates, in Rust, Python or JavaScript.
//!
//! A plugin author's first five minutes decide whether they write a detector at all, so a
//! scaffold must build with one documented command and pass its own starter case as created,
//! in any folder, with no clone of this repository. The templates live in `host/templates/` and
//! are compiled into the binary, and so is everything else a scaffold needs: Python and
//! JavaScript projects get a copy of the WIT contract (their toolchains generate bindings from
//! it); Rust projects get the plugin SDK's sources in `sdk/` (built into the binary by
//! `host/build.rs`) and the contract it is built against.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The contract Python and JavaScript scaffolds are built against (their templates and
/// toolchains speak 0.1.0; the host speaks it too).
const WIT: &str = include_str!("../../wit/since_v0.1.0/detector.wit");
/// The contract the plugin SDK, and so every Rust scaffold, is built against.
const RUST_WIT_TEXT: &str = include_str!("../../wit/since_v0.2.0/detector.wit");

include!(concat!(env!("OUT_DIR"), "/sdk.rs"));

/// Where a Rust scaffold's vendored SDK lives, and where that SDK finds the contract (its
/// bindings are generated from `../wit/since_v0.2.0`).
const SDK_DIR: &str = "sdk";
const RUST_WIT: &str = "wit/since_v0.2.0/detector.wit";

/// The languages `plugins new` writes.
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
                (".cargo/config.toml", include_str!("../templates/rust/cargo-config.toml")),
                (RUST_WIT, RUST_WIT_TEXT),
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
    /// A `plugin-sdk` folder for a Rust detector to depend on instead of its own copy.
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
        let sdk = match &self.sdk {
            Some(sdk) => std::path::absolute(sdk).unwrap_or_else(|_| sdk.clone()).display().to_string(),
            None => SDK_DIR.to_owned(),
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
            ("{{contract}}", if self.language == Language::Rust { RUST_WIT } else { "wit/detector.wit" }),
            ("{{api}}", if self.language == Language::Rust { "0.2.0" } else { "0.1.0" }),
        ];
        let mut written = Vec::new();
        for (relative, template) in self.language.files().iter().chain(COMMON_FILES) {
            let text = substitutions.iter().fold((*template).to_owned(), |text, (from, to)| text.replace(from, to));
            write_file(&self.dir.join(relative), &text)?;
            written.push((*relative).to_owned());
        }
        if self.language == Language::Rust && self.sdk.is_none() {
            for (relative, contents) in SDK_FILES {
                let path = self.dir.join(SDK_DIR).join(relative);
                write_file(&path, contents)?;
                written.push(format!("{SDK_DIR}/{relative}"));
            }
        }
        Ok(written)
    }
}

fn is_detector_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn write_file(path: &Path, contents: &str) -> Result<(), ScaffoldError> {
    let write = || {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)
    };
    write().map_err(|source| ScaffoldError::Write { path: path.to_owned(), source })
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
    fn a_rust_scaffold_carries_a_standalone_sdk_and_the_contract() -> Result<(), ScaffoldError> {
        let dir = std::env::temp_dir().join(format!("scaffold-rust-test-{}", std::process::id()));
        let scaffold = Scaffold { id: "slow-builds".into(), language: Language::Rust, dir: dir.clone(), sdk: None };
        let written = scaffold.write()?;
        let read = |relative: &str| {
            std::fs::read_to_string(dir.join(relative))
                .map_err(|source| ScaffoldError::Write { path: dir.join(relative), source })
        };
        for expected in ["sdk/Cargo.toml", "sdk/src/lib.rs", RUST_WIT] {
            assert!(written.iter().any(|file| file == expected), "{expected} not in {written:?}");
        }
        let manifest = read("sdk/Cargo.toml")?;
        assert!(!manifest.contains("workspace"), "the SDK stands alone: {manifest}");
        assert!(manifest.contains("wit-bindgen"), "{manifest}");
        assert!(read("Cargo.toml")?.contains("devloop-plugin-sdk = { path = \"sdk\" }"));
        std::fs::remove_dir_all(&dir).map_err(|source| ScaffoldError::Write { path: dir, source })?;
        Ok(())
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
