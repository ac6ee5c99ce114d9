#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the workspace tests (which start
# real Prosody, xmllint and wasmtime), the no_std and WASI builds, and a short fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== no_std build (thumbv7em-none-eabihf) and wasm32-wasip1 build of pass-core"
cargo build --quiet -p pass-core --no-default-features --target thumbv7em-none-eabihf
cargo build --quiet -p pass-core --no-default-features --target wasm32-wasip1

echo "== cargo test --workspace"
cargo test --workspace
