# SPDX-License-Identifier: MIT
"""Crash safety under SMTP + IMAP APPEND load, short mode: a few SIGKILL
rounds of tests/reliability/killtest.py (the long mode is documented in
docs/RELIABILITY.md). RELIABILITY_KILL_ROUNDS overrides the count."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "reliability"))
import killtest  # noqa: E402
from rel_daemon import has_protocols  # noqa: E402

ROUNDS = int(os.environ.get("RELIABILITY_KILL_ROUNDS", "3"))


@pytest.mark.skipif(not has_protocols(), reason="store/protocols not built")
def test_sigkill_under_load_loses_nothing(tmp_path):
    s = killtest.run(str(tmp_path), ROUNDS, seed=os.getpid(), senders=1,
                     log=lambda m: None)
    assert s["rounds"] == ROUNDS
    assert s["acked"] > 0
    # Relayed mail really went through (submission refuses what the load
    # got wrong, and the load retries silently, so check it got some in).
    assert s["queued"] > 0
