#!/usr/bin/env bash
# Short fuzz run for CI: runs the fuzz crate's own tests (the harness's scenarios and
# a replay of the committed corpus, on stable), builds every cargo-fuzz target
# (fuzz/), then runs each for FUZZ_SECONDS (default 20) from a copy of its committed
# corpus, with the XML dictionary and inputs of at most 4096 bytes. A crash (panic, sanitizer report,
# timeout, out-of-memory) fails the script, which prints the reproducer's path, its
# bytes and the command that replays it.
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh              # every target, 60 s each
#   scripts/fuzz.sh lease_machine xml_reader      # some targets
#   FUZZ_JOBS=1 FUZZ_FLAGS='-seed=1' scripts/fuzz.sh   # one at a time, extra libFuzzer flags
#
# Needs the nightly toolchain and cargo-fuzz (scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
all_targets=(xml_reader stream_framer stanza_roundtrip lease_machine service_stanzas)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: needs the nightly toolchain and cargo-fuzz; install them with" >&2
  echo "  rustup toolchain install nightly --profile minimal && cargo install cargo-fuzz --locked" >&2
  echo "(or run scripts/setup.sh)" >&2
  exit 1
fi

echo "fuzz: harness tests and corpus replay (stable)"
cargo test --quiet --manifest-path fuzz/Cargo.toml

echo "fuzz: building ${targets[*]}"
if [ $# -gt 0 ]; then
  for t in "${targets[@]}"; do cargo +nightly fuzz build "$t"; done
else
  cargo +nightly fuzz build
fi

# libFuzzer adds what it finds to the first corpus folder: work on copies so that a
# run never changes the committed corpus.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One target's timed run; its exit status goes to $work/$t.rc, its log to $work/$t.log.
run_target() {
  local t=$1
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/$t/"; fi
  local flags=(-max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048
               -print_final_stats=1)
  # The lease_machine input is a `Script` in its byte encoding, not text: no dictionary, and
  # scripts of any length from the start (they only grow slowly otherwise).
  if [ "$t" = lease_machine ]; then flags+=(-len_control=0); else flags+=(-dict=fuzz/xml.dict); fi
  # shellcheck disable=SC2206 # FUZZ_FLAGS is a list of extra libFuzzer flags.
  flags+=(${FUZZ_FLAGS:-})
  touch "$work/$t.start"
  local rc=0
  cargo +nightly fuzz run "$t" "$work/$t" -- "${flags[@]}" >"$work/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$t.rc"
}

# FUZZ_JOBS targets at a time (default 2: one per core of the CI machine).
jobs_max=${FUZZ_JOBS:-2}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  echo "fuzz: $t for ${seconds}s ($(find "fuzz/corpus/$t" -type f 2>/dev/null | wc -l) corpus inputs)"
  run_target "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
  if [ "$(cat "$work/$t.rc" 2>/dev/null || echo missing)" = 0 ]; then
    grep -E '^Done [0-9]+ runs' "$work/$t.log" | sed "s/^/fuzz: $t: /" || true
    continue
  fi
  failed+=("$t")
  echo "fuzz: $t FAILED; end of its log:" >&2
  tail -n 60 "$work/$t.log" >&2
  found=0
  while IFS= read -r artifact; do
    found=1
    echo "fuzz: reproducer: $artifact ($(wc -c <"$artifact") bytes)" >&2
    echo "fuzz: base64: $(base64 -w0 "$artifact")" >&2
    od -A x -t x1z -v "$artifact" | head -n 64 >&2
    echo "fuzz: reproduce with: cargo +nightly fuzz run $t $artifact" >&2
  done < <(find "fuzz/artifacts/$t" -type f -newer "$work/$t.start")
  if [ "$found" = 0 ]; then echo "fuzz: $t failed without leaving a reproducer" >&2; fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing targets: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
