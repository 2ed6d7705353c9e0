#!/bin/bash
# SPDX-License-Identifier: MIT
# SELECT / FETCH of a range on a SMALL-message and a LARGE-message INBOX
# (select-scale.py). The mailboxes are filled with `posthorn import mbox`
# of a generated mbox (100,000 messages take well under a minute).
#
#   BUILD=build SMALL=100 LARGE=100000 ROUNDS=20 bench/imap/select-scale.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMALL=${SMALL:-100}
LARGE=${LARGE:-100000}
ROUNDS=${ROUNDS:-20}

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
work=$(mktemp -d /tmp/posthorn-select-scale.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

imap_port=$(free_port)
cat >"$work/posthorn.conf" <<CONF
[server]
hostname = bench.local
data_dir = $work/data
log_level = warn
[listen]
imap = 127.0.0.1:$imap_port
CONF
cli() { "$BUILD/posthorn" -c "$work/posthorn.conf" "$@"; }
cli domain add bench.test >/dev/null
for n in "$SMALL" "$LARGE"; do
	echo pass | cli user add "u$n@bench.test" --password-stdin >/dev/null
	# Every message but the last three is \Seen (Status: RO), so the
	# first unseen one is at the end, as in a real inbox.
	/usr/bin/python3 - "$n" >"$work/u$n.mbox" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    out.write("From sender@bench.test Mon Nov 30 10:00:00 2026\n"
              "From: Sender <sender@bench.test>\nTo: u@bench.test\n"
              "Subject: message %d\nDate: Mon, 30 Nov 2026 10:00:00 +0000\n"
              "Message-ID: <%d@bench.test>\n%s\n"
              "Body of message %d.\n\n"
              % (i, i, "Status: RO\n" if i < n - 3 else "", i))
PY
	start=$(date +%s.%N)
	cli import mbox "u$n@bench.test" "$work/u$n.mbox" >/dev/null
	echo "imported $n messages in $(echo "$(date +%s.%N) - $start" | bc) s" >&2
done
"$BUILD/posthornd" -c "$work/posthorn.conf" 2>"$work/posthornd.log" &
pid=$!
wait_port "$imap_port"
/usr/bin/python3 bench/imap/select-scale.py 127.0.0.1 "$imap_port" pass \
	"$ROUNDS" "u$SMALL@bench.test" "u$LARGE@bench.test"
