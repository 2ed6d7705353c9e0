#!/bin/bash
# SPDX-License-Identifier: MIT
# IMAP benchmark: the same load mix (imap-load.c: login, select, append,
# fetch headers and body, store, search, idle, expunge, logout) against
# posthornd and against Dovecot (../shared/tools/peer-setup.sh, auth cache
# on) in the same run; prints operations/s for both and the ratio, then the
# memory (PSS) per idle authenticated IMAP connection over TLS for both.
#
#   bench/imap/run.sh            (as root: peer-setup.sh installs Dovecot)
#   BUILD=build CLIENTS=10 SECONDS_RUN=10 IDLE_CONNS=300 bench/imap/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLIENTS=${CLIENTS:-10}
SECONDS_RUN=${SECONDS_RUN:-10}
IDLE_CONNS=${IDLE_CONNS:-300}
PEER_SETUP=${PEER_SETUP:-../shared/tools/peer-setup.sh}
DOVECOT_IMAP=10143
DOVECOT_IMAPS=10993

say() { echo "bench-imap: $*" >&2; }

for bin in "$BUILD/posthornd" "$BUILD/posthorn"; do
	[ -x "$bin" ] || { say "missing $bin (build first: make)"; exit 1; }
done
if ! (exec 3<>/dev/tcp/127.0.0.1/$DOVECOT_IMAP) 2>/dev/null; then
	say "setting up Dovecot with $PEER_SETUP"
	"$PEER_SETUP" start >&2
fi

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	say "nothing listening on $1"
	return 1
}

work=$(mktemp -d /tmp/posthorn-bench-imap.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -Wall -Wextra -Wformat=2 -Wshadow -Werror -pthread \
	-o "$work/imap-load" bench/imap/imap-load.c

imap_port=$(free_port)
imaps_port=$(free_port)
cat >"$work/posthorn.conf" <<EOF
[server]
hostname = bench.local
data_dir = $work/data
log_level = warn
[listen]
imap = 127.0.0.1:$imap_port
imaps = 127.0.0.1:$imaps_port
[limits]
max_connections = 100000
max_connections_per_ip = 100000
EOF
"$BUILD/posthorn" -c "$work/posthorn.conf" domain add bench.test >/dev/null
for i in $(seq 1 "$CLIENTS"); do
	echo pass | "$BUILD/posthorn" -c "$work/posthorn.conf" \
		user add "user$i@bench.test" --password-stdin >/dev/null
done
"$BUILD/posthornd" -c "$work/posthorn.conf" 2>"$work/posthornd.log" &
pid=$!
wait_port "$imap_port"
wait_port "$imaps_port"

ulimit -n 65536 2>/dev/null || true
say "load: $CLIENTS clients, ${SECONDS_RUN}s each server"
ph=$("$work/imap-load" 127.0.0.1 "$imap_port" 'user%d@bench.test' pass \
	"$CLIENTS" "$SECONDS_RUN")
dv=$("$work/imap-load" 127.0.0.1 "$DOVECOT_IMAP" 'user%d@bench.test' pass \
	"$CLIENTS" "$SECONDS_RUN")
echo "posthornd: $ph"
echo "dovecot:   $dv"
/usr/bin/python3 - "$ph" "$dv" <<'PY'
import re, sys
r = [float(re.search(r"ops_per_s=(\d+)", s).group(1)) for s in sys.argv[1:3]]
e = [int(re.search(r"errors=(\d+)", s).group(1)) for s in sys.argv[1:3]]
print("ops/s posthornd %.0f  dovecot %.0f  ratio %.2f  (errors %d / %d)"
      % (r[0], r[1], r[0] / r[1], e[0], e[1]))
PY

say "idle memory: $IDLE_CONNS connections each (TLS, logged in, INBOX selected, IDLE)"
pm=$(/usr/bin/python3 bench/imap/idle-mem.py 127.0.0.1 "$imaps_port" \
	'user%d@bench.test' pass "$CLIENTS" "$IDLE_CONNS" \
	"posthornd -c $work/posthorn.conf")
dm=$(/usr/bin/python3 bench/imap/idle-mem.py 127.0.0.1 "$DOVECOT_IMAPS" \
	'user%d@bench.test' pass 99 "$(( IDLE_CONNS < 200 ? IDLE_CONNS : 200 ))" \
	dovecot)
echo "posthornd: $pm"
echo "dovecot:   $dm"
