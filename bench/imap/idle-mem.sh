#!/bin/bash
# SPDX-License-Identifier: MIT
# posthornd alone: memory (PSS growth) per idle authenticated IMAP
# connection over TLS, with INBOX selected and holding a few messages
# (idle-mem.py does the measuring). No Dovecot needed, no root needed.
#
#   BUILD=build CONNS=2000 USERS=40 MESSAGES=20 bench/imap/idle-mem.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CONNS=${CONNS:-2000}
USERS=${USERS:-40}
MESSAGES=${MESSAGES:-20}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listening on $1" >&2
	return 1
}
work=$(mktemp -d /tmp/posthorn-imem.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

imap_port=$(free_port)
imaps_port=$(free_port)
cat >"$work/posthorn.conf" <<CONF
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
CONF
"$BUILD/posthorn" -c "$work/posthorn.conf" domain add bench.test >/dev/null
/usr/bin/python3 - "$MESSAGES" >"$work/inbox.mbox" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    sys.stdout.write("From a@bench.test Mon Nov 30 10:00:00 2026\n"
                     "From: a@bench.test\nTo: b@bench.test\n"
                     "Subject: idle %d\n\n%s\n" % (i, "body line\n" * 40))
PY
for i in $(seq 1 "$USERS"); do
	echo pass | "$BUILD/posthorn" -c "$work/posthorn.conf" \
		user add "user$i@bench.test" --password-stdin >/dev/null
	"$BUILD/posthorn" -c "$work/posthorn.conf" \
		import mbox "user$i@bench.test" "$work/inbox.mbox" >/dev/null
done
"$BUILD/posthornd" -c "$work/posthorn.conf" 2>"$work/posthornd.log" &
pid=$!
wait_port "$imap_port"
wait_port "$imaps_port"
ulimit -n 65536 2>/dev/null || true

/usr/bin/python3 bench/imap/idle-mem.py 127.0.0.1 "$imaps_port" \
	'user%d@bench.test' pass "$USERS" "$CONNS" \
	"posthornd -c $work/posthorn.conf"
