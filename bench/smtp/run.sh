#!/bin/bash
# SPDX-License-Identifier: MIT
# SMTP benchmark: Postfix's smtp-source against posthornd, against Postfix
# delivering to Maildir, and against smtp-sink (the dialogue alone, storing
# nothing), in the same run, with 1 and 20 sessions and 4 KB messages.
# Prints messages/s and the ratios.
#
#   bench/smtp/run.sh            (as root: peer-setup.sh installs Postfix)
#   BUILD=build MSGS_1=500 MSGS_20=4000 bench/smtp/run.sh
#
# What is timed:
#   posthornd  smtp-source's wall time: each 250 comes only after the group
#              commit holding the message is durable, so accepted = durable;
#              the stored count is checked afterwards.
#   postfix    from the first connection until the last message is in the
#              Maildir (Postfix accepts into its queue first and delivers
#              after; its 250 is durable too, in the queue file).
#   smtp-sink  smtp-source's wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MSGS_1=${MSGS_1:-500}
MSGS_20=${MSGS_20:-4000}
SIZE=${SIZE:-4096}
PEER_SETUP=${PEER_SETUP:-../shared/tools/peer-setup.sh}
POSTFIX_PORT=12525
POSTFIX_RCPT=user99@bench.test
POSTFIX_MAILDIR=/var/vmail/bench.test/user99/Maildir

say() { echo "bench-smtp: $*" >&2; }

for bin in "$BUILD/posthornd" "$BUILD/posthorn" \
	   "$BUILD/tests/unit/smtpd/smtp-store-dump"; do
	[ -x "$bin" ] || { say "missing $bin (build first: make)"; exit 1; }
done
if ! command -v smtp-source >/dev/null || ! postfix status >/dev/null 2>&1; then
	say "setting up Postfix with $PEER_SETUP"
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
now() { date +%s.%N; }
rate() { /usr/bin/python3 -c "print('%.0f' % ($1 / ($3 - $2)))"; }
maildir_count() {
	{ find "$POSTFIX_MAILDIR/new" "$POSTFIX_MAILDIR/cur" -type f 2>/dev/null ||
	  true; } | wc -l
}

work=$(mktemp -d /tmp/posthorn-bench-smtp.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# posthornd on a free port with its own data directory.
ph_port=$(free_port)
cat >"$work/posthorn.conf" <<EOF
[server]
hostname = bench.local
data_dir = $work/data
log_level = info
[listen]
smtp = 127.0.0.1:$ph_port
[smtp]
max_recipients = 1000
EOF
"$BUILD/posthorn" -c "$work/posthorn.conf" domain add bench.test >/dev/null
echo pass | "$BUILD/posthorn" -c "$work/posthorn.conf" user add \
	user1@bench.test --password-stdin >/dev/null
"$BUILD/posthornd" -c "$work/posthorn.conf" >"$work/posthornd.log" 2>&1 &
pids+=($!)
wait_port "$ph_port"

sink_port=$(free_port)
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$sink_port" 256 &
pids+=($!)
wait_port "$sink_port"

source_run() { # port sessions msgs rcpt
	smtp-source -d -s "$2" -m "$3" -l "$SIZE" -f bench@source.example \
		-t "$4" -M source.example "127.0.0.1:$1"
}

# Warm-up, not timed: the store's first commits create and grow its
# files, Postfix's first deliveries create the Maildir.
WARMUP=50
wait_maildir() { # count
	local deadline=$(( $(date +%s) + 300 ))
	while [ "$(maildir_count)" -lt "$1" ]; do
		[ "$(date +%s)" -lt $deadline ] || { say "postfix did not deliver in time"; exit 1; }
		sleep 0.02
	done
}
source_run "$ph_port" 5 "$WARMUP" user1@bench.test
before=$(maildir_count)
source_run "$POSTFIX_PORT" 5 "$WARMUP" "$POSTFIX_RCPT"
wait_maildir $((before + WARMUP))
source_run "$sink_port" 5 "$WARMUP" user1@bench.test
sleep 2

declare -A R
ph_expected=$WARMUP
for s in 1 20; do
	n=$([ "$s" = 1 ] && echo "$MSGS_1" || echo "$MSGS_20")

	t0=$(now); source_run "$ph_port" "$s" "$n" user1@bench.test; t1=$(now)
	R[posthorn,$s]=$(rate "$n" "$t0" "$t1")
	ph_expected=$((ph_expected + n))

	before=$(maildir_count)
	t0=$(now); source_run "$POSTFIX_PORT" "$s" "$n" "$POSTFIX_RCPT"
	wait_maildir $((before + n))
	t1=$(now)
	R[postfix,$s]=$(rate "$n" "$t0" "$t1")

	t0=$(now); source_run "$sink_port" "$s" "$n" user1@bench.test; t1=$(now)
	R[sink,$s]=$(rate "$n" "$t0" "$t1")
	sleep 2 # let the disk settle between rounds
done

stored=$("$BUILD/tests/unit/smtpd/smtp-store-dump" "$work/data" user1@bench.test |
	grep -ac '^MESSAGE [0-9]* [0-9]*$' || true)
if [ "$stored" != "$ph_expected" ]; then
	say "posthornd stored $stored messages, expected $ph_expected"
	exit 1
fi

ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2))"; }
printf '%-9s %12s %12s %12s %14s %14s\n' sessions posthornd postfix smtp-sink \
	"ph/postfix" "ph/smtp-sink"
for s in 1 20; do
	printf '%-9s %12s %12s %12s %14s %14s\n' "$s" "${R[posthorn,$s]}" \
		"${R[postfix,$s]}" "${R[sink,$s]}" \
		"$(ratio "${R[posthorn,$s]}" "${R[postfix,$s]}")" \
		"$(ratio "${R[posthorn,$s]}" "${R[sink,$s]}")"
done
echo "(msg/s, ${SIZE}-byte messages; posthornd stored all $stored durably)"

# Clean up after measuring (DESIGN.md: the disk slows down after mass
# deletions, so not before).
find "$POSTFIX_MAILDIR/new" "$POSTFIX_MAILDIR/cur" -type f -delete 2>/dev/null || true
