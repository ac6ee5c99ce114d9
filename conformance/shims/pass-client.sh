#!/bin/sh
# The client target's shim for the reference pass-client: maps the environment
# contract of `pass-conformance client` (docs/CONFORMANCE.md, "Checking a client") to
# pass-client's flags. PASS_CLIENT names the binary (default: pass-client on PATH).
#
#   pass-conformance client --exec 'PASS_CLIENT=target/debug/pass-client sh conformance/shims/pass-client.sh'
set -eu
bin=${PASS_CLIENT:-pass-client}
# pass-client reads the password from this variable when --password-file is absent.
PASS_CLIENT_PASSWORD=$PASS_PASSWORD
export PASS_CLIENT_PASSWORD
set -- --jid "$PASS_JID" --server "$PASS_XMPP_SERVER" --tls starttls --tls-ca "$PASS_TLS_CA"

case "$PASS_ROLE" in
answer)
  if [ -n "${PASS_MY_IP:-}" ]; then set -- "$@" --ip "$PASS_MY_IP"; fi
  exec "$bin" answer "$@"
  ;;
expose) ;;
*)
  echo "pass-client shim: PASS_ROLE=$PASS_ROLE is not supported" >&2
  exit 89
  ;;
esac

set -- expose "$PASS_FORWARD_TO" "$@" --service "$PASS_SERVICE"
if [ -n "${PASS_EXPIRE:-}" ]; then set -- "$@" --expire "$PASS_EXPIRE"; fi
if [ "${PASS_ONESHOT:-}" = 1 ]; then set -- "$@" --oneshot; fi
for net in $(printf '%s' "${PASS_ALLOW:-}" | tr ',' ' '); do set -- "$@" --allow "$net"; done
for jid in $(printf '%s' "${PASS_ALLOW_JID:-}" | tr ',' ' '); do set -- "$@" --allow-jid "$jid"; done

if [ -z "${PASS_CLOSE_AFTER:-}" ]; then
  exec "$bin" "$@"
fi

# PASS_CLOSE_AFTER: pass-client closes its lease (listing 9) on SIGTERM; send it that
# many seconds after the registration result (its "registered" event).
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/events"
"$bin" "$@" --json >"$dir/events" &
pid=$!
# Forward SIGTERM (the runner's end of the case) to pass-client.
trap 'kill -TERM "$pid" 2>/dev/null' TERM
while IFS= read -r line; do
  printf '%s\n' "$line"
  case $line in
  *'"event":"registered"'*) (sleep "$PASS_CLOSE_AFTER" && kill -TERM "$pid" 2>/dev/null) & ;;
  esac
done <"$dir/events"
wait "$pid"
