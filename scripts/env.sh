# Shared settings for the project's scripts; sourced, never run.
# One cargo target folder and one tool cache for every run on this machine, so a warm build
# stays warm (a cold wasmtime build takes ~9 minutes on 2 cores).
export DEVLOOP_HOST_CACHE_ROOT="${DEVLOOP_HOST_CACHE_ROOT:-$HOME/.cache/devloop-host}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DEVLOOP_HOST_CACHE_ROOT/target}"
export DEVLOOP_HOST_VENV="${DEVLOOP_HOST_VENV:-$DEVLOOP_HOST_CACHE_ROOT/venv}"
export GUEST_TARGET_DIR="$CARGO_TARGET_DIR/guests"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
# Toolchains for detectors in other languages (scripts/polyglot-env installs them).
export DEVLOOP_HOST_TOOLS="${DEVLOOP_HOST_TOOLS:-$DEVLOOP_HOST_CACHE_ROOT/tools}"
export DEVLOOP_HOST_NODE="${DEVLOOP_HOST_NODE:-$DEVLOOP_HOST_CACHE_ROOT/node}"
export DEVLOOP_HOST_PLUGIN_BUILDS="${DEVLOOP_HOST_PLUGIN_BUILDS:-$DEVLOOP_HOST_CACHE_ROOT/plugin-builds}"
