#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Crash safety under load: SMTP deliveries and IMAP APPENDs run against a
real posthornd, which is SIGKILLed at a random moment; after a restart every
message acknowledged (250 after the final dot, APPEND OK) must be present
exactly once with its flags and its UID, UIDVALIDITY unchanged and UIDNEXT
never lower. Each round must acknowledge something new.

  tests/reliability/killtest.py [--rounds N] [--seed S] [--senders K]

Short mode (make check) is tests/integration/test_reliability_crash.py."""
import argparse
import imaplib
import os
import random
import re
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rel_daemon import BUILD, Daemon, USER, PASSWORD, free_ports  # noqa: E402

ENQUEUE = os.path.join(BUILD, "tests", "unit", "queue", "queue-enqueue")

APPEND_FLAGS = ((), ("\\Seen",), ("\\Seen", "\\Flagged"),
                ("\\Answered", "\\Draft"))


def message(token, sender="load@example.net"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@reliability>\r\n\r\nbody of %s\r\n%s\r\n"
            % (sender, USER, token, token, token,
               "x" * (hash(token) % 3000))).encode()


class Load:
    """Clients that run until the daemon dies or stop is set; acked maps
    token -> (expected flags, APPENDUID uid or None)."""

    def __init__(self, daemon, rnd, senders):
        self.daemon, self.rnd = daemon, rnd
        self.acked = {}
        self.queued = set()  # tokens of relayed mail acknowledged
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = []
        self.threads = []
        for i in range(senders):
            self.threads.append(threading.Thread(target=self.smtp, args=(i,)))
            self.threads.append(threading.Thread(target=self.imap, args=(i,)))
            if daemon.has_listener("submission"):
                self.threads.append(threading.Thread(target=self.submit,
                                                     args=(i,)))
            elif os.path.exists(ENQUEUE):
                self.threads.append(threading.Thread(target=self.enqueue,
                                                     args=(i,)))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def smtp(self, idx):
        n = 0
        while not self.stop.is_set():
            try:
                s = smtplib.SMTP("127.0.0.1", self.daemon.ports["smtp"],
                                 timeout=10)
                s.ehlo("load.example.net")
                while not self.stop.is_set():
                    token = "s%d-%d-%d" % (self.rnd, idx, n)
                    n += 1
                    s.sendmail("load@example.net", [USER], message(token))
                    with self.lock:
                        self.acked[token] = ((), None)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)

    def submit(self, idx):
        """Relayed mail through submission: it stays in the outbound
        queue (the remote MX refuses connections), one recipient each."""
        n = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        while not self.stop.is_set():
            try:
                s = smtplib.SMTP("127.0.0.1", self.daemon.ports["submission"],
                                 timeout=10)
                s.starttls(context=ctx)
                s.login(USER, PASSWORD)
                while not self.stop.is_set():
                    token = "q%d-%d-%d" % (self.rnd, idx, n)
                    n += 1
                    # Submission refuses a From: the user does not own.
                    s.sendmail(USER, ["%s@remote.test" % token],
                               message(token, sender=USER))
                    with self.lock:
                        self.queued.add(token)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)

    def enqueue(self, idx):
        """Without a submission listener: queue through the store as the
        listener would (tests/unit/queue/queue-enqueue, another process)
        and keep the daemon's queue runner busy on it with queue-wake."""
        n = 0
        while not self.stop.is_set():
            token = "q%d-%d-%d" % (self.rnd, idx, n)
            n += 1
            try:
                res = subprocess.run([ENQUEUE, self.daemon.data_dir, USER,
                                      "%s@remote.test" % token],
                                     input=message(token),
                                     capture_output=True, timeout=30)
            except subprocess.TimeoutExpired:
                continue
            if res.returncode == 0:
                with self.lock:
                    self.queued.add(token)
            if n % 4 == 0:
                try:
                    with socket.socket(socket.AF_UNIX) as c:
                        c.settimeout(2)
                        c.connect(os.path.join(self.daemon.data_dir,
                                               "control"))
                        c.sendall(b"queue-wake\n")
                        c.recv(100)
                except OSError:
                    pass

    def imap(self, idx):
        n = 0
        while not self.stop.is_set():
            try:
                c = imaplib.IMAP4("127.0.0.1", self.daemon.ports["imap"],
                                  timeout=10)
                c.login(USER, PASSWORD)
                while not self.stop.is_set():
                    token = "a%d-%d-%d" % (self.rnd, idx, n)
                    flags = APPEND_FLAGS[n % len(APPEND_FLAGS)]
                    n += 1
                    typ, data = c.append("INBOX", "(%s)" % " ".join(flags),
                                         None, message(token))
                    if typ != "OK":
                        continue
                    m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
                    with self.lock:
                        self.acked[token] = (flags,
                                             int(m.group(1)) if m else None)
            except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
                time.sleep(0.02)


def inventory(daemon):
    """{token: [(uid, flags)]}, UIDVALIDITY, UIDNEXT of alice's INBOX."""
    c = imaplib.IMAP4("127.0.0.1", daemon.ports["imap"], timeout=30)
    c.login(USER, PASSWORD)
    typ, data = c.status("INBOX", "(UIDNEXT UIDVALIDITY)")
    assert typ == "OK", data
    uidnext = int(re.search(rb"UIDNEXT (\d+)", data[0]).group(1))
    validity = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK", data
    found = {}
    if int(data[0]) > 0:
        typ, data = c.uid("FETCH", "1:*",
                          "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0]
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode()
            m = re.search(rb"Subject: (\S+)", item[1])
            assert m, item
            fl = frozenset(f for f in flags.split() if f != "\\Recent")
            found.setdefault(m.group(1).decode(), []).append((uid, fl))
    c.logout()
    return found, validity, uidnext


def queue_inventory(daemon):
    """{token: count} of the recipients in the outbound queue, read from
    the store's database (read-only, beside the running daemon)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
        daemon.data_dir, "store.db"), uri=True, timeout=30)
    try:
        rows = db.execute("SELECT r.address FROM queue_recipient r "
                          "JOIN queue_message m ON m.id = r.queue_id").fetchall()
    finally:
        db.close()
    out = {}
    for (addr,) in rows:
        out[addr.split("@")[0]] = out.get(addr.split("@")[0], 0) + 1
    return out


def run(workdir, rounds, seed, senders=1, log=print):
    """Returns a summary dict; raises AssertionError on a lost, doubled or
    changed message."""
    rng = random.Random(seed)
    zone = os.path.join(workdir, "zone")
    with open(zone, "w") as f:
        f.write("remote.test. MX 10 mx.remote.test.\n"
                "mx.remote.test. A 127.0.0.9\n")
    closed_port = free_ports(1)[0]
    daemon = Daemon(workdir, extra="[dns]\nstatic = %s\n[outbound]\n"
                    "mx_port = %d\nconnect_timeout = 2s\n" % (zone, closed_port))
    daemon.start()
    daemon.add_account()
    queued = set()
    acked = {}
    uids = {}
    validity = None
    prev_uidnext = 0
    summary = {"rounds": 0, "acked": 0, "present": 0, "kills": 0,
               "queued": 0}
    try:
        for rnd in range(rounds):
            load = Load(daemon, rnd, senders)
            load.start()
            time.sleep(rng.uniform(0.3, 1.2))
            daemon.kill()
            summary["kills"] += 1
            load.join()
            new = len(load.acked)
            acked.update(load.acked)
            queued |= load.queued
            daemon.start()
            found, v, uidnext = inventory(daemon)
            if validity is None:
                validity = v
            assert v == validity, "UIDVALIDITY changed %d -> %d" % (validity, v)
            assert uidnext >= prev_uidnext, "UIDNEXT went backwards"
            prev_uidnext = uidnext
            for token, (flags, uid) in acked.items():
                assert token in found, "acknowledged %s lost (round %d)" % (
                    token, rnd)
                assert len(found[token]) == 1, "%s present %d times" % (
                    token, len(found[token]))
                got_uid, got_flags = found[token][0]
                assert got_flags == frozenset(flags), (
                    "%s flags %s, expected %s" % (token, sorted(got_flags),
                                                  sorted(flags)))
                if uid is not None:
                    assert got_uid == uid, "%s UID %d, APPENDUID said %d" % (
                        token, got_uid, uid)
                if token in uids:
                    assert got_uid == uids[token], "%s changed UID" % token
                uids[token] = got_uid
                assert got_uid < uidnext
            for token, lst in found.items():
                assert len(lst) == 1, "%s present %d times" % (token, len(lst))
            all_uids = [u for lst in found.values() for u, _ in lst]
            assert len(all_uids) == len(set(all_uids)), "a UID used twice"
            assert new > 0, "round %d acknowledged nothing" % rnd
            q = queue_inventory(daemon)
            for token in queued:
                assert q.get(token, 0) == 1, "queued %s present %d times" % (
                    token, q.get(token, 0))
            for token, count in q.items():
                assert count == 1, "queued %s present %d times" % (token, count)
            summary["rounds"] += 1
            summary["acked"] = len(acked)
            summary["present"] = len(found)
            summary["queued"] = len(queued)
            log("round %d: %d acked this round, %d acked in all, %d present "
                "(unacked extras: %d), UIDNEXT %d; queue: %d acked, %d held"
                % (rnd, new, len(acked), len(found),
                   len(found) - len([t for t in found if t in acked]),
                   uidnext, len(queued), len(q)))
        rc = daemon.stop()
        assert rc == 0, "posthornd exited %s" % rc
        assert not daemon.sanitizer_reports(), daemon.all_logs()[-5000:]
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.kill()
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="posthorn-kill-")
    print("seed %d, workdir %s" % (a.seed, workdir))
    t0 = time.monotonic()
    try:
        s = run(workdir, a.rounds, a.seed, a.senders)
    except AssertionError as e:
        print("FAILED: %s (workdir kept: %s)" % (e, workdir))
        return 1
    print("%d kill rounds survived, %d messages acknowledged and %d relayed "
          "messages queued, all present exactly once (%.0f s)"
          % (s["rounds"], s["acked"], s["queued"], time.monotonic() - t0))
    if not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
