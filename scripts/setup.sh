#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: Debian packages, Rust
# targets, cargo-deb, cargo-fuzz. Idempotent: skips what is already there. Needs root for apt.
set -euo pipefail

need_apt=()
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v prosodyctl >/dev/null || need_apt+=(prosody)
command -v ejabberdctl >/dev/null || need_apt+=(ejabberd)
command -v iperf3 >/dev/null || need_apt+=(iperf3)
command -v socat >/dev/null || need_apt+=(socat)
command -v strace >/dev/null || need_apt+=(strace)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# pass-client's STARTTLS test makes a test CA and a server certificate.
command -v openssl >/dev/null || need_apt+=(openssl)
# The HTML report's browser test (conformance/tests/html_in_browser.rs) and
# scripts/report-screenshots.sh: headless Chromium, and a font to draw text with.
command -v chromium >/dev/null || need_apt+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

installed_targets=$(rustup target list --installed)
for t in wasm32-wasip1 thumbv7em-none-eabihf; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    echo "setup: rustup target add $t"
    rustup target add "$t"
  fi
done

# The Debian package (scripts/deb-test.sh).
if ! command -v cargo-deb >/dev/null; then
  echo "setup: cargo install cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

if [ "${PASS_SKIP_FUZZ:-0}" != 1 ]; then
  if ! rustup toolchain list | grep -q '^nightly'; then
    echo "setup: rustup toolchain install nightly"
    rustup toolchain install nightly --profile minimal
  fi
  if ! command -v cargo-fuzz >/dev/null; then
    echo "setup: cargo install cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
  fi
fi
