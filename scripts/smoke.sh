#!/usr/bin/env bash
# The quick start's smoke test (docs/OPERATING.md): a caller reaches a local service
# through the running node. Builds and runs pass-node/examples/smoke.rs.
#
#   bash scripts/smoke.sh C2S_ADDR USER@HOST PASSWORD SERVICE_JID
#   e.g. bash scripts/smoke.sh 127.0.0.1:5222 smoke@localhost smoke-password pass.example.org
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet -p pass-node --example smoke -- "$@"
