#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every fuzz target with libFuzzer for FUZZ_SECONDS each (`make fuzz`).
# Builds them in a separate clang build dir ($BUILD-fuzz) configured with
# -Dfuzzing=true and ASan + UBSan. A crash leaves its input in
# $BUILD-fuzz/fuzz-artifacts/; add it to tests/fuzz/corpus/NAME/ as a
# regression case once fixed.
#   FUZZ_SECONDS=60 BUILD=build tests/fuzz/run.sh [NAME...]
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-$BUILD-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null; then
	echo "run.sh: $CLANG not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
	# fuzzer-no-link instruments the libraries for coverage; the
	# targets themselves link libFuzzer (tests/fuzz/meson.build).
	CC=$CLANG CFLAGS="-fsanitize=fuzzer-no-link -g" \
	meson setup "$FUZZ_BUILD" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized || exit 1
fi

if [ $# -gt 0 ]; then
	names="$*"
else
	names=$(ls tests/fuzz/fuzz-*.c | sed 's|.*/fuzz-||; s|\.c$||')
fi
targets=""
for n in $names; do targets="$targets tests/fuzz/fuzz-$n"; done
ninja -C "$FUZZ_BUILD" -j2 $targets || exit 1

mkdir -p "$FUZZ_BUILD/fuzz-artifacts"
rc=0
for n in $names; do
	work="$FUZZ_BUILD/fuzz-corpus/$n"
	mkdir -p "$work"
	seeds="tests/fuzz/corpus/$n"
	[ -d "$seeds" ] || seeds=""
	echo "== fuzz-$n for ${FUZZ_SECONDS}s"
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$FUZZ_BUILD/tests/fuzz/fuzz-$n" -max_total_time="$FUZZ_SECONDS" \
		-max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_BUILD/fuzz-artifacts/$n-" \
		"$work" $seeds 2>"$FUZZ_BUILD/fuzz-$n.log"
	r=$?
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' \
		"$FUZZ_BUILD/fuzz-$n.log" | sed "s/^/  /"
	if [ $r -ne 0 ]; then
		echo "fuzz-$n FAILED (exit $r); see $FUZZ_BUILD/fuzz-$n.log and $FUZZ_BUILD/fuzz-artifacts/"
		tail -30 "$FUZZ_BUILD/fuzz-$n.log"
		rc=1
	fi
done
exit $rc
