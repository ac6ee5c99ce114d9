#!/usr/bin/env bash
# The quick start's smoke test (docs/OPERATING.md): with the real pass-client, a caller
# reaches a local service through the running node. Runs
# pass-client/examples/smoke.rs with the installed pass-client (the pass-client
# package), or one built from this checkout when none is installed.
#
#   bash scripts/smoke.sh C2S_ADDR USER@HOST PASSWORD SERVICE_JID
#   e.g. bash scripts/smoke.sh 127.0.0.1:5222 smoke@localhost smoke-password pass.example.org
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(command -v pass-client || true)
if [ -z "$bin" ]; then
  cargo build --quiet -p pass-client
  bin=$PWD/target/debug/pass-client
fi
PASS_SMOKE_CLIENT=$bin exec cargo run --quiet -p pass-client --example smoke -- "$@"
