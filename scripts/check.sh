#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test suite against the build in $BUILD (default: build) and ends
# with one line over all of them: "N passed, N failed, N skipped".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
export POSTHORN_BUILD=$PWD/$BUILD
# Tests that measure memory read this: sanitizers inflate RSS on purpose.
POSTHORN_SANITIZE=$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none"))' 2>/dev/null)
export POSTHORN_SANITIZE=${POSTHORN_SANITIZE:-none}

rc=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 || rc=1

# Debian's interpreter: a python3 earlier on PATH may not see python3-pytest.
PY=/usr/bin/python3
if [ -d tests/integration ] && ls tests/integration/test_*.py >/dev/null 2>&1; then
	$PY -m pytest tests/integration -q -p no:cacheprovider \
		--junitxml="$BUILD/pytest.xml" ${PYTEST_ARGS:-}
	prc=$?
	# 5 = no tests collected: not a failure of ours.
	if [ $prc -ne 0 ] && [ $prc -ne 5 ]; then rc=1; fi
else
	rm -f "$BUILD/pytest.xml"
fi

$PY - "$BUILD" <<'PYEOF'
import json, os, sys
import xml.etree.ElementTree as ET
build = sys.argv[1]
passed = failed = skipped = 0
log = os.path.join(build, "meson-logs", "testlog.json")
if os.path.exists(log):
    for line in open(log):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
xml = os.path.join(build, "pytest.xml")
if os.path.exists(xml):
    root = ET.parse(xml).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    for s in suites:
        t = int(s.get("tests", 0)); f = int(s.get("failures", 0))
        e = int(s.get("errors", 0)); k = int(s.get("skipped", 0))
        passed += t - f - e - k; failed += f + e; skipped += k
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PYEOF
exit $rc
