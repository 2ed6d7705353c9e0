#!/bin/bash
# SPDX-License-Identifier: MIT
# Inbound SMTP with the mail-authentication checks on against the same run
# with them off: Postfix's smtp-source sends one DKIM-signed 4 KB message
# (-F, the file as it is) from 127.0.0.1 with 20 sessions to one posthornd
# whose [dns] static zone answers SPF, DKIM and DMARC for the sender domain
# (so every answer is "cached": no network). Rounds alternate off/on/off/on
# on the same daemon data directory (restarted with the other [auth]
# settings), then one round against smtp-sink shows the client's ceiling.
# Prints messages/s and posthornd's CPU time per message for each mode, and
# the on/off ratios. Then bench/mailauth/mailauth-bench prints the library
# figures (µs per message for each check).
#
#   bench/mailauth/run.sh
#   BUILD=build MSGS=4000 SESSIONS=20 ROUNDS=2 SIG=rsa|ed25519|both bench/mailauth/run.sh
#   ON_AUTH=$'spf = yes\ndkim_verify = no\ndmarc = no' bench/mailauth/run.sh
#       (another [auth] section for the "on" mode, to see what each part
#       costs; the warm-up then does not insist on three passes)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MSGS=${MSGS:-4000}
SESSIONS=${SESSIONS:-20}
ROUNDS=${ROUNDS:-2}
SIG=${SIG:-rsa}
ALL_ON=$'spf = yes\ndkim_verify = yes\ndmarc = yes'
ON_AUTH=${ON_AUTH:-$ALL_ON}
WARMUP=200

say() { echo "bench-mailauth: $*" >&2; }

for bin in "$BUILD/posthornd" "$BUILD/posthorn" \
	   "$BUILD/bench/mailauth/mailauth-bench" \
	   "$BUILD/tests/unit/smtpd/smtp-store-dump"; do
	[ -x "$bin" ] || { say "missing $bin (build first: make)"; exit 1; }
done
for tool in smtp-source smtp-sink; do
	command -v "$tool" >/dev/null ||
		{ say "missing $tool (apt-get install postfix)"; exit 1; }
done

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
# utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

work=$(mktemp -d /tmp/posthorn-bench-mailauth.XXXXXX)
daemon=
sink=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
	[ -n "$sink" ] && kill "$sink" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The sender's side: its keys made as an administrator makes them.
mkdir -p "$work/sender"
printf '[server]\nhostname = mail.sender.test\ndata_dir = %s\n' \
	"$work/sender" >"$work/sender.conf"
keygen() { # selector algorithm
	"$BUILD/posthorn" -c "$work/sender.conf" dkim keygen sender.test \
		--selector "$1" --algorithm "$2" | grep -v '^#'
}
{
	echo 'sender.test.       TXT "v=spf1 ip4:127.0.0.1 -all"'
	echo 'sender.test.       MX 10 mail.sender.test.'
	echo 'mail.sender.test.  A 127.0.0.1'
	echo '_dmarc.sender.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test"'
	echo 'bench.test.        MX 10 mx.bench.test.'
	echo 'mx.bench.test.     A 127.0.0.1'
	keygen rsa rsa
	keygen ed ed25519
} >"$work/zone"

# One typical 4 KB message, LF line ends (smtp-source -F sends each line
# with CRLF), signed as the sender would sign it.
{
	printf 'From: Bench Sender <bench@sender.test>\n'
	printf 'To: user1@bench.test\n'
	printf 'Subject: authenticated mail benchmark\n'
	printf 'Date: Mon, 30 Nov 2026 10:00:00 +0000\n'
	printf 'Message-ID: <bench.1@sender.test>\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n\n'
	for _ in $(seq 53); do
		printf 'The quick brown fox jumps over the lazy dog, then stops and looks.\n'
	done
} >"$work/plain.eml"
key() { echo "$work/sender/dkim/sender.test/$1.key"; }
sign() { "$BUILD/bench/mailauth/mailauth-bench" sign "$(key "$1")" sender.test "$1"; }
case $SIG in
rsa|ed) sign "$SIG" <"$work/plain.eml" >"$work/msg.eml" ;;
ed25519) sign ed <"$work/plain.eml" >"$work/msg.eml" ;;
both) sign rsa <"$work/plain.eml" | sign ed >"$work/msg.eml" ;;
*) say "SIG is rsa, ed25519 or both"; exit 1 ;;
esac
size=$(wc -c <"$work/msg.eml")

port=$(free_port)
write_conf() { # on|off
	local auth=$'spf = no\ndkim_verify = no\ndmarc = no'
	[ "$1" = on ] && auth=$ON_AUTH
	cat >"$work/posthorn.conf" <<EOF
[server]
hostname = mx.bench.test
data_dir = $work/data
log_level = info
[listen]
smtp = 127.0.0.1:$port
[dns]
static = $work/zone
[auth]
$auth
EOF
}
start_daemon() {
	write_conf "$1"
	"$BUILD/posthornd" -c "$work/posthorn.conf" >>"$work/posthornd.log" 2>&1 &
	daemon=$!
	wait_port "$port"
}
stop_daemon() {
	kill "$daemon"
	wait "$daemon" || { say "posthornd exited $?"; tail -20 "$work/posthornd.log" >&2; exit 1; }
	daemon=
}

write_conf off
mkdir -p "$work/data"
"$BUILD/posthorn" -c "$work/posthorn.conf" domain add bench.test >/dev/null
echo pass | "$BUILD/posthorn" -c "$work/posthorn.conf" user add \
	user1@bench.test --password-stdin >/dev/null

source_run() { # port sessions msgs
	smtp-source -d -s "$2" -m "$3" -F "$work/msg.eml" \
		-f bench@sender.test -t user1@bench.test -M mail.sender.test \
		"127.0.0.1:$1"
}

stored_count() {
	"$BUILD/tests/unit/smtpd/smtp-store-dump" "$work/data" user1@bench.test |
		grep -ac '^MESSAGE [0-9]* [0-9]*$' || true
}
last_header() { # the header of the newest stored message
	"$BUILD/tests/unit/smtpd/smtp-store-dump" "$work/data" user1@bench.test |
		/usr/bin/python3 -c '
import re, sys
out, last = sys.stdin.buffer.read(), b""
while out:
    m = re.match(rb"MESSAGE (\d+) (\d+)\n", out)
    size = int(m.group(2))
    last = out[m.end():m.end() + size]
    out = out[m.end() + size + 1:]
sys.stdout.write(last.split(b"\r\n\r\n")[0].decode("utf-8", "replace"))'
}

# Warm-up, not timed, with the checks on: it also proves they run. The
# daemon must have added spf=pass dkim=pass dmarc=pass, else the "on"
# figures would measure nothing.
start_daemon on
source_run "$port" 5 "$WARMUP"
stop_daemon
hdr=$(last_header)
wants=()
[ "$ON_AUTH" = "$ALL_ON" ] && wants=('spf=pass' 'dkim=pass' 'dmarc=pass')
for want in "${wants[@]}"; do
	if ! grep -q "$want" <<<"$hdr"; then
		say "the checks did not run: no $want in the stored message:"
		echo "$hdr" >&2
		exit 1
	fi
done
expected=$WARMUP
sleep 2

declare -A RATE CPU
ticks=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for mode in off on; do
		start_daemon "$mode"
		c0=$(cpu_ticks "$daemon")
		t0=$(now); source_run "$port" "$SESSIONS" "$MSGS"; t1=$(now)
		c1=$(cpu_ticks "$daemon")
		stop_daemon
		expected=$((expected + MSGS))
		RATE[$mode,$r]=$(/usr/bin/python3 -c "print('%.0f' % ($MSGS / ($t1 - $t0)))")
		CPU[$mode,$r]=$(/usr/bin/python3 -c "print('%.0f' % (($c1 - $c0) * 1e6 / $ticks / $MSGS))")
		sleep 2 # let the disk settle between rounds
	done
done

sink_port=$(free_port)
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$sink_port" 256 &
sink=$!
wait_port "$sink_port"
t0=$(now); source_run "$sink_port" "$SESSIONS" "$MSGS"; t1=$(now)
sink_rate=$(/usr/bin/python3 -c "print('%.0f' % ($MSGS / ($t1 - $t0)))")

stored=$(stored_count)
if [ "$stored" != "$expected" ]; then
	say "posthornd stored $stored messages, expected $expected"
	exit 1
fi

py() { /usr/bin/python3 -c "$1"; }
echo "inbound SMTP, $SESSIONS sessions, $MSGS messages of $size bytes per round ($SIG signature)"
printf '%-6s %12s %12s %10s %14s %14s %10s\n' round "off msg/s" "on msg/s" \
	"on/off" "off cpu us/msg" "on cpu us/msg" "cpu on/off"
son=0; soff=0; con=0; coff=0
for r in $(seq "$ROUNDS"); do
	printf '%-6s %12s %12s %10s %14s %14s %10s\n' "$r" \
		"${RATE[off,$r]}" "${RATE[on,$r]}" \
		"$(py "print('%.2f' % (${RATE[on,$r]} / ${RATE[off,$r]}))")" \
		"${CPU[off,$r]}" "${CPU[on,$r]}" \
		"$(py "print('%.2f' % (${CPU[on,$r]} / max(${CPU[off,$r]}, 1)))")"
	son=$((son + RATE[on,$r])); soff=$((soff + RATE[off,$r]))
	con=$((con + CPU[on,$r])); coff=$((coff + CPU[off,$r]))
done
printf '%-6s %12s %12s %10s %14s %14s %10s\n' all \
	"$((soff / ROUNDS))" "$((son / ROUNDS))" \
	"$(py "print('%.2f' % ($son / $soff))")" \
	"$((coff / ROUNDS))" "$((con / ROUNDS))" \
	"$(py "print('%.2f' % ($con / max($coff, 1)))")"
echo "smtp-sink with the same client: $sink_rate msg/s (the client's ceiling)"
echo "posthornd stored all $stored messages"
echo
"$BUILD/bench/mailauth/mailauth-bench" --iterations "${ITERATIONS:-2000}"
