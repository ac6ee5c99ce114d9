#!/usr/bin/env bash
# Remakes docs/report-passing.png and docs/report-failing.png: the HTML report
# (`--format html`) of the in-process reference run, and of a run with the
# `no-oneshot-notice` fault (§4.2's cases only, so a failure's details are in view),
# rendered by headless Chromium (`bash scripts/setup.sh` installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p pass-conformance
bin=target/debug/pass-conformance
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Exit code 1 is the failing run's verdict, not an error.
"$bin" inproc --format html --output "$work/passing.html" >/dev/null
"$bin" inproc --fault no-oneshot-notice --only 'pass/4.2/*' \
  --format html --output "$work/failing.html" >/dev/null || [ $? -eq 1 ]

for name in passing failing; do
  out=docs/report-$name.png
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile-$name" \
    --screenshot="$out" --window-size=1100,1500 \
    "file://$work/$name.html" 2>/dev/null
  size=$(stat -c %s "$out")
  echo "$out: $size bytes"
  if [ "$size" -ge 300000 ]; then
    echo "report-screenshots: $out is $size bytes, more than 300 KB" >&2
    exit 1
  fi
done
