# SPDX-License-Identifier: MIT
"""Crash consistency of the store: a child process appends messages in
group-committed batches and prints each message id once its completion ran
(the point where a protocol would answer its peer). The test SIGKILLs it at
random moments, restarts it, and checks after every kill that

  * every acknowledged message is present exactly once, byte for byte, with
    the flags it was delivered with (and \\Flagged once that was acknowledged),
  * nothing is half-visible: every present message is complete and the
    mailbox counters match the messages,
  * UIDs never go backwards and an acknowledged message keeps its UID.

SIGKILL loses no data the kernel already has, so this checks the store's
own atomicity and ordering (ack only after commit, a transaction's messages
all or none, body files before the rows that name them), not power loss.
Rounds: STORE_CRASH_ROUNDS (default 4, kept short for make check).
"""
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTHORN_BUILD") or os.path.join(REPO, "build")
HELPER = os.path.join(BUILD, "tests", "unit", "store", "store-crash-helper")
ROUNDS = int(os.environ.get("STORE_CRASH_ROUNDS", "4"))
SEEN, ANSWERED, FLAGGED = 1, 2, 4


def crash_flags(msg_id):
    return (msg_id % 4) & (SEEN | ANSWERED)


def check(data_dir):
    proc = subprocess.run([HELPER, "check", data_dir], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    msgs = {}
    uidnext = None
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[0] == "MSG":
            msg_id, uid, flags = int(parts[1]), int(parts[2]), int(parts[3])
            assert msg_id not in msgs, f"message {msg_id} present twice"
            msgs[msg_id] = (uid, flags, parts[4])
        elif parts[0] == "UIDNEXT":
            uidnext = int(parts[1])
    assert uidnext is not None
    return msgs, uidnext


@pytest.mark.skipif(not os.path.exists(HELPER), reason="helper not built")
def test_store_survives_sigkill():
    rng = random.Random(os.getpid())
    data_dir = tempfile.mkdtemp(prefix="posthorn-crash-")
    try:
        acked = {}          # id -> uid
        flagged = set()     # ids whose \Flagged change was acknowledged
        submitted_max = 0   # every id below next_id may have been written
        prev_uidnext = 1
        total_acked_last = 0
        for rnd in range(ROUNDS):
            first_id = (rnd + 1) * 1_000_000
            proc = subprocess.Popen([HELPER, "run", data_dir, str(first_id)],
                                    stdout=subprocess.PIPE, text=True)
            lines = []
            first_ack = threading.Event()

            def reader():
                for line in proc.stdout:
                    lines.append(line)
                    if line.startswith("ACK"):
                        first_ack.set()

            t = threading.Thread(target=reader)
            t.start()
            # Kill at a random moment after the first acknowledgement, so
            # every round has something to check even on a slow disk.
            assert first_ack.wait(60), "no acknowledgement within 60 s"
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            t.join(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            assert lines and lines[0].strip() == "READY"
            for line in lines:
                parts = line.split()
                if not parts:
                    continue
                # The last line may be cut by the kill.
                if parts[0] == "ACK" and len(parts) == 3:
                    acked[int(parts[1])] = int(parts[2])
                elif parts[0] == "FLAG" and len(parts) == 2:
                    flagged.add(int(parts[1]))
            submitted_max = first_id + 10_000_000

            msgs, uidnext = check(data_dir)
            assert uidnext >= prev_uidnext, "UIDNEXT went backwards"
            prev_uidnext = uidnext
            for msg_id, uid in acked.items():
                assert msg_id in msgs, f"acknowledged {msg_id} lost"
                got_uid, flags, keywords = msgs[msg_id]
                assert got_uid == uid, f"{msg_id} changed UID"
                assert flags & (SEEN | ANSWERED) == crash_flags(msg_id)
                if msg_id in flagged:
                    assert flags & FLAGGED, f"{msg_id} lost \\Flagged"
                    assert keywords == f"k{msg_id}"
            for msg_id, (uid, _, _) in msgs.items():
                # Only ids some round really generated can exist.
                assert 1_000_000 <= msg_id < submitted_max
                assert uid < uidnext
            uids = [uid for uid, _, _ in msgs.values()]
            assert len(set(uids)) == len(uids), "a UID is used twice"
            # Each round must make progress, or the test proves nothing.
            assert len(acked) > total_acked_last
            total_acked_last = len(acked)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
