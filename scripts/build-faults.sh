#!/usr/bin/env bash
# Builds pass-node and pass-client with their `faults` feature (docs/DESIGN.md
# decisions 114, 124) in the workspace's own target folder, copies the two binaries to
# target/faults/, and builds the normal binaries again. Cargo keeps the artifacts of
# both feature sets side by side, so only the two crates compile once each and the
# final build is a copy: far cheaper than a target folder of their own, which compiles
# every dependency again. Prints the variables the proofs read:
#
#   eval "$(bash scripts/build-faults.sh)"
#   # PASS_NODE_FAULTS_BIN (conformance/tests/c2s_faults.rs)
#   # PASS_CLIENT_FAULTS_BIN (conformance/tests/client_faults.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/faults
mkdir -p "$out"
for crate in pass-node pass-client; do
  cargo build --quiet -p "$crate" --features faults >&2
  cp target/debug/"$crate" "$out/$crate"
done
# The normal binaries again, for every other test (the default build has no switch).
cargo build --quiet -p pass-node -p pass-client >&2
for crate in pass-node pass-client; do
  if cmp -s target/debug/"$crate" "$out/$crate"; then
    echo "build-faults: target/debug/$crate is still the faults build" >&2
    exit 1
  fi
done
echo "export PASS_NODE_FAULTS_BIN=$PWD/$out/pass-node"
echo "export PASS_CLIENT_FAULTS_BIN=$PWD/$out/pass-client"
