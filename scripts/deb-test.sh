#!/usr/bin/env bash
# Builds the Debian packages of pass-node and pass-client (cargo-deb, release builds),
# installs each with dpkg as root, checks what it installed, then removes and purges
# it and checks that nothing is left (docs/DESIGN.md decision 102). scripts/test.sh
# runs it.
#
#   bash scripts/deb-test.sh            # needs root (dpkg -i), cargo-deb (scripts/setup.sh)
#
# Time: the release builds are most of it, about 2-3 minutes each on 2 cores from a
# cold target/release; the dpkg steps take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "deb-test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
command -v cargo-deb >/dev/null || fail "cargo-deb is missing: bash scripts/setup.sh"
for pkg in pass-node pass-client; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    fail "$pkg is already installed here; this test installs and purges it"
  fi
done

# After `dpkg -P PKG`: every path the package had (FILES, one per line) is gone, but
# the directories it shares with the system.
check_purged() { # PKG FILES
  local left=() f
  while IFS= read -r f; do
    [ -e "$f" ] || continue
    case "$f" in
    / | /etc | /usr | /usr/bin | /usr/lib | /lib | /lib/systemd | /lib/systemd/system | \
      /usr/lib/systemd | /usr/lib/systemd/system | /usr/share | /usr/share/doc) ;;
    *) left+=("$f") ;;
    esac
  done <<<"$2"
  [ ${#left[@]} -eq 0 ] || fail "dpkg -P $1 left: ${left[*]}"
  if dpkg-query -W "$1" >/dev/null 2>&1; then fail "dpkg still knows $1"; fi
}
for d in /var/lib/pass-node /var/lib/private/pass-node; do
  [ ! -e "$d" ] || fail "$d exists; this test makes it and checks that the purge removes it"
done

start=$(date +%s)
rm -f target/debian/pass-node_*.deb
cargo deb -p pass-node --quiet
deb=$(ls target/debian/pass-node_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "cargo deb wrote no package"
echo "deb-test: built $deb in $(( $(date +%s) - start )) s"
# cargo-deb's maintainer scripts: stop the unit on remove, forget it on purge.
dpkg-deb -I "$deb" prerm | grep -q 'stop pass-node.service' || fail "prerm does not stop the unit"
dpkg-deb -I "$deb" postrm | grep -q 'purge pass-node.service' || fail "postrm does not purge the unit's state"
dpkg-deb -I "$deb" postrm | grep -q 'rm -rf /var/lib/pass-node' || fail "postrm does not remove the lease store"

# Whatever happens below, leave no package installed.
trap 'dpkg -P pass-node >/dev/null 2>&1 || true; rm -rf /var/lib/pass-node /var/lib/private/pass-node' EXIT
dpkg -i "$deb" >/dev/null
files=$(dpkg -L pass-node)

# Files, owners and modes.
check_mode() { # PATH MODE
  [ -e "$1" ] || fail "$1 not installed"
  got=$(stat -c '%a %U:%G' "$1")
  [ "$got" = "$2 root:root" ] || fail "$1 is $got, want $2 root:root"
}
unit=/lib/systemd/system/pass-node.service
check_mode /usr/bin/pass-node 755
check_mode /etc/pass-node/pass-node.toml 644
check_mode "$unit" 644
check_mode /usr/share/doc/pass-node/OPERATING.md 644
check_mode /usr/share/doc/pass-node/pass-node-help.md 644
grep -qx '/etc/pass-node/pass-node.toml' <(dpkg-query -W -f='${Conffiles}\n' pass-node | awk '{print $1}') ||
  fail "/etc/pass-node/pass-node.toml is not a conffile"
grep -q '^ExecStart=/usr/bin/pass-node ' "$unit" || fail "the unit does not start /usr/bin/pass-node"
# The installed files are the repository's.
cmp -s "$unit" pass-node/pass-node.service || fail "$unit differs from pass-node/pass-node.service"
cmp -s /etc/pass-node/pass-node.toml pass-node/pass-node.example.toml ||
  fail "the conffile differs from pass-node/pass-node.example.toml"
# Installed, not enabled: the operator sets the domain and the secret first.
[ ! -e /etc/systemd/system/multi-user.target.wants/pass-node.service ] || fail "the unit was enabled"

# The unit as installed, against the installed binary.
said=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify: $said"
if grep -q 'pass-node.service' <<<"$said"; then fail "systemd-analyze verify warns: $said"; fi
# The config as installed.
/usr/bin/pass-node check-config --config /etc/pass-node/pass-node.toml >/dev/null ||
  fail "check-config refuses the installed config"
/usr/bin/pass-node --version | grep -q '^pass-node ' || fail "pass-node --version"
# The fault switch is a test build's only (docs/DESIGN.md decision 124).
if grep -aq PASS_NODE_FAULT /usr/bin/pass-node; then fail "the packaged pass-node has the faults switch"; fi

# Remove: the binary and the unit go, the conffile stays until the purge.
# The lease store as systemd leaves it for the unit (StateDirectory=, DynamicUser=):
# /var/lib/private/pass-node and a link to it. The node writes it as it runs.
grep -qx 'StateDirectory=pass-node' "$unit" || fail "the unit has no StateDirectory=pass-node"
install -d -m 700 /var/lib/private
install -d -m 700 /var/lib/private/pass-node
ln -s private/pass-node /var/lib/pass-node
: >/var/lib/private/pass-node/leases.redb

dpkg -r pass-node >/dev/null
[ -f /var/lib/private/pass-node/leases.redb ] || fail "dpkg -r removed the lease store (only a purge may)"
[ ! -e /usr/bin/pass-node ] || fail "dpkg -r left /usr/bin/pass-node"
[ ! -e "$unit" ] || fail "dpkg -r left the unit"
[ -f /etc/pass-node/pass-node.toml ] || fail "dpkg -r removed the conffile (only a purge may)"
dpkg -P pass-node >/dev/null
trap - EXIT

check_purged pass-node "$files"
for d in /var/lib/pass-node /var/lib/private/pass-node; do
  [ ! -e "$d" ] && [ ! -L "$d" ] || fail "dpkg -P left the lease store: $d"
done

# pass-client: the users' tool, a binary and its guide.
rm -f target/debian/pass-client_*.deb
cargo deb -p pass-client --quiet
deb=$(ls target/debian/pass-client_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "cargo deb wrote no pass-client package"
trap 'dpkg -P pass-client >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" >/dev/null
files=$(dpkg -L pass-client)
check_mode /usr/bin/pass-client 755
check_mode /usr/share/doc/pass-client/CLIENT.md 644
cmp -s /usr/share/doc/pass-client/CLIENT.md docs/CLIENT.md || fail "the installed CLIENT.md differs from docs/CLIENT.md"
/usr/bin/pass-client --version | grep -q '^pass-client ' || fail "pass-client --version"
dpkg -r pass-client >/dev/null
[ ! -e /usr/bin/pass-client ] || fail "dpkg -r left /usr/bin/pass-client"
dpkg -P pass-client >/dev/null
trap - EXIT
check_purged pass-client "$files"
echo "deb-test: both packages installed, verified, removed and purged; nothing left ($(( $(date +%s) - start )) s)"
