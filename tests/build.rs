//! Builds every detector plugin and hostile fixture from source for the integration tests,
//! into a target folder of its own (a nested cargo must not wait on the outer one's lock), and
//! writes their paths into `artifacts.rs`. Nothing built is ever checked in.

#[path = "../host/build/guests.rs"]
mod guests;

use std::path::PathBuf;
use std::process::Command;

use guests::cargo;
/// Each builds `tests/fixtures/hostile` with that feature; "well-behaved" (no feature) takes a
/// batch and returns nothing, which measures the cost of crossing into the sandbox alone.
const HOSTILE_FEATURES: &[&str] = &[
    "well-behaved",
    "endless-loop",
    "memory-bomb",
    "panic",
    "oversized-result",
    "detector-error",
    "snoop",
    "undeclared-pattern",
    "pattern-thief",
    "duplicate-id",
    "slow",
    "spinner",
    "log-flood",
    "finding-flood",
    "update-flood",
    "snapshot-bomb",
    "state-trap",
    "echo",
    "laggard",
];
/// The hot-swap fixture's builds, as (variant, cargo features).
const LEDGER_VARIANTS: &[(&str, &str)] =
    &[("v1", ""), ("v2", "v2"), ("stateless", "stateless"), ("broken-restore", "broken-restore")];

fn run(mut command: Command) {
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "building plugins failed: {command:?}; is the wasm32-wasip2 target installed? (scripts/setup installs it)"
    );
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("tests/ sits in the workspace").to_owned();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let target_dir = guests::target_dir(&out_dir);
    guests::watch();
    println!("cargo:rerun-if-changed=fixtures");

    let plugins = guests::detector_crates(&workspace.join("plugins"));
    let mut build = cargo(&workspace, &target_dir);
    for plugin in &plugins {
        build.args(["-p", plugin]);
    }
    run(build);

    let built = guests::built(&target_dir);
    let mut artifacts = String::from(
        "/// Every detector under plugins/, as (crate name, built component).\npub const PLUGINS: &[(&str, &str)] = &[\n",
    );
    for plugin in &plugins {
        let path = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        artifacts.push_str(&format!("    ({plugin:?}, {:?}),\n", path.display().to_string()));
    }
    artifacts.push_str("];\n\n/// The hostile fixtures, as (misbehaviour, built component).\npub const HOSTILE: &[(&str, &str)] = &[\n");
    for feature in HOSTILE_FEATURES {
        let mut build = cargo(&workspace, &target_dir);
        build.args(["-p", "hostile"]);
        if *feature != "well-behaved" {
            build.args(["--features", feature]);
        }
        run(build);
        let copy = out_dir.join(format!("hostile-{feature}.wasm"));
        std::fs::copy(built.join("hostile.wasm"), &copy).expect("copy the fixture");
        artifacts.push_str(&format!("    ({feature:?}, {:?}),\n", copy.display().to_string()));
    }
    artifacts.push_str("];\n\n/// The hot-swap ledger fixture, as (variant, built component).\npub const LEDGER: &[(&str, &str)] = &[\n");
    for (variant, features) in LEDGER_VARIANTS {
        let mut build = cargo(&workspace, &target_dir);
        build.args(["-p", "ledger"]);
        if !features.is_empty() {
            build.args(["--features", features]);
        }
        run(build);
        let copy = out_dir.join(format!("ledger-{variant}.wasm"));
        std::fs::copy(built.join("ledger.wasm"), &copy).expect("copy the fixture");
        artifacts.push_str(&format!("    ({variant:?}, {:?}),\n", copy.display().to_string()));
    }
    artifacts.push_str("];\n");

    run({
        let mut build = cargo(&workspace, &target_dir);
        build.args(["-p", "classic-repetition"]);
        build
    });
    artifacts.push_str(&format!(
        "\n/// The reference the command-repetition ports are checked against (tests/fixtures/classic-repetition).\npub const CLASSIC_REPETITION: &str = {:?};\n",
        built.join("classic_repetition.wasm").display().to_string()
    ));
    std::fs::write(out_dir.join("artifacts.rs"), artifacts).expect("write artifacts.rs");
}
