#!/usr/bin/env bash
# Runs docs/OPERATING.md's quick start as written: every ```sh quickstart block, in
# order, in one shell (docs/DESIGN.md decision 103). The machine has no systemd, so
# three commands are stood in for by shell functions, and only they:
#   systemctl restart prosody        -> (re)starts a private Prosody (prosody -F) on
#                                       127.0.0.1:5222 and :5347 whose config includes
#                                       /etc/prosody/conf.d/pass-*.cfg.lua, the files
#                                       the quick start writes
#   systemctl enable --now pass-node -> runs the installed unit's ExecStartPre and
#                                       ExecStart as an unprivileged user, with %d a
#                                       credentials directory holding the secret copy
#   journalctl -u pass-node          -> that node's log
# and prosodyctl is pointed at the private Prosody's config. Then everything is
# undone: the node and Prosody stopped, the package purged, the files removed.
#
#   bash scripts/quickstart-test.sh     # as root (dpkg, /etc, its own network namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fail() { echo "quickstart-test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i, /etc)"
# A network namespace of its own: the quick start's fixed ports (5222, 5347, the
# metrics' 9464) are free whatever else runs here. Offline: everything it builds
# was fetched by the steps before it.
if [ -z "${PASS_QUICKSTART_NETNS:-}" ]; then
  exec env PASS_QUICKSTART_NETNS=1 CARGO_NET_OFFLINE=true unshare --net -- bash "$0" "$@"
fi
ip link set lo up
for tool in prosody prosodyctl cargo-deb setpriv unshare ip; do
  command -v "$tool" >/dev/null || fail "$tool is missing: bash scripts/setup.sh"
done
for pkg in pass-node pass-client; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    fail "$pkg is already installed here; this test installs and purges it"
  fi
done
for f in /etc/prosody/conf.d/pass-node.cfg.lua /etc/prosody/conf.d/pass-smoke.cfg.lua /etc/pass-node; do
  [ ! -e "$f" ] || fail "$f exists; this test writes and removes it"
done

t=$(mktemp -d /tmp/pass-quickstart.XXXXXX)
chmod 755 "$t"
prosody_pid=
node_pid=
cleanup() {
  set +e
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  [ -n "$prosody_pid" ] && kill "$prosody_pid" 2>/dev/null && wait "$prosody_pid" 2>/dev/null
  dpkg -P pass-node pass-client >/dev/null 2>&1
  rm -f /etc/prosody/conf.d/pass-node.cfg.lua /etc/prosody/conf.d/pass-smoke.cfg.lua
  rm -rf /etc/pass-node
  rm -rf "$t"
}
trap cleanup EXIT

# The private Prosody: Debian's default host and the quick start's files.
mkdir -p "$t/prosody/data"
chown -R prosody:prosody "$t/prosody"
cat >"$t/prosody/prosody.cfg.lua" <<LUA
pidfile = "$t/prosody/prosody.pid"
data_path = "$t/prosody/data"
log = { info = "$t/prosody/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }
http_ports = {}
https_ports = {}
authentication = "internal_hashed"
storage = "internal"
modules_enabled = { "roster"; "saslauth"; "disco"; "ping" }
modules_disabled = { "s2s" }
-- As Debian's prosody.cfg.lua: a localhost host, then the conf.d files.
VirtualHost "localhost"
Include "/etc/prosody/conf.d/pass-*.cfg.lua"
LUA

wait_for_log() { # FILE TEXT WHAT
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "--- $1" >&2
  cat "$1" >&2 || true
  fail "$3"
}

prosodyctl() { command prosodyctl --config "$t/prosody/prosody.cfg.lua" "$@"; }

start_prosody() {
  if [ -n "$prosody_pid" ]; then
    kill "$prosody_pid" 2>/dev/null || true
    wait "$prosody_pid" 2>/dev/null || true
  fi
  : >"$t/prosody/prosody.log"
  chown prosody:prosody "$t/prosody/prosody.log"
  setpriv --reuid=prosody --regid=prosody --clear-groups -- \
    prosody --config "$t/prosody/prosody.cfg.lua" -F >"$t/prosody/console.log" 2>&1 &
  prosody_pid=$!
  wait_for_log "$t/prosody/prosody.log" "Activated service 'c2s' on \[127.0.0.1\]:5222" "Prosody did not start c2s"
  wait_for_log "$t/prosody/prosody.log" "Activated service 'component' on \[127.0.0.1\]:5347" "Prosody did not start the component port"
}

# The unit's own command lines, as systemd would run them: unprivileged, with the
# secret's copy in the credentials directory.
start_node() {
  unit=/lib/systemd/system/pass-node.service
  cred="$t/credentials"
  install -d -o nobody -g nogroup -m 700 "$cred"
  install -o nobody -g nogroup -m 400 /etc/pass-node/secret "$cred/secret"
  as_service() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
  pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
  main=$(sed -n 's/^ExecStart=//p' "$unit" | sed "s|%d|$cred|g")
  # shellcheck disable=SC2086 # the unit's command lines, split as systemd splits them
  as_service $pre >/dev/null || fail "ExecStartPre failed: $pre"
  # shellcheck disable=SC2086
  as_service $main >"$t/pass-node.log" 2>&1 &
  node_pid=$!
  wait_for_log "$t/pass-node.log" "XMPP component stream up" "pass-node did not connect to Prosody"
}

systemctl() {
  case "$*" in
  "restart prosody") start_prosody ;;
  "enable --now pass-node") start_node ;;
  *) fail "the quick start runs 'systemctl $*', which this test does not stand in for" ;;
  esac
}

journalctl() {
  [ "$*" = "-u pass-node" ] || fail "the quick start runs 'journalctl $*', which this test does not stand in for"
  cat "$t/pass-node.log"
}

# The quick start's commands, as the doc has them.
awk '/^```sh quickstart$/ {f = 1; next} /^```$/ {f = 0} f' docs/OPERATING.md >"$t/quickstart.sh"
[ -s "$t/quickstart.sh" ] || fail "docs/OPERATING.md has no \`\`\`sh quickstart block"
echo "quickstart-test: running $(grep -cv '^ *$' "$t/quickstart.sh") lines of docs/OPERATING.md's quick start"
start=$(date +%s)
cd "$repo"
set -x
# shellcheck disable=SC1091
source "$t/quickstart.sh"
set +x

# It did what it says: the installed pass-client made the relay the node logged, and
# the smoke host is gone.
grep -q 'relay started' "$t/pass-node.log" || fail "no relay in the node's log"
[ -x /usr/bin/pass-client ] || fail "the pass-client package is not installed"
[ ! -e /etc/prosody/conf.d/pass-smoke.cfg.lua ] || fail "the smoke host is still declared"
echo "quickstart-test: the quick start passed in $(( $(date +%s) - start )) s"
