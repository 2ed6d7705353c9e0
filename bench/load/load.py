#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Load tool (loopback only, bounded in time): starts its own posthornd on
free 127.0.0.1 ports with a temporary data directory, then

  idle  N concurrent IMAP IDLE sessions over implicit TLS (imaps), spread
        over U accounts; measures the daemon's RSS and PSS while all are
        idling, then delivers one message per account over SMTP and
        measures, for every session, the time from the 250 to its
        "* n EXISTS".
  smtp  N concurrent SMTP sessions held open at once (EHLO done), then
        every one sends a message; measures RSS/PSS and the replies.

  bench/load/load.py idle --connections 10000 --users 10
  bench/load/load.py smtp --connections 1000

Connections come from 127.0.0.2..127.0.0.254 in turn (so no single
source address runs out of ports); the tool raises its own RLIMIT_NOFILE
to the hard limit and the daemon does the same. Every wait has a timeout
and the whole run stops after --max-seconds."""
import argparse
import asyncio
import os
import resource
import shutil
import ssl
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests", "reliability"))
from rel_daemon import Daemon  # noqa: E402

PASSWORD = "load-pw"


def user(i):
    return "load%d@example.org" % i


def src_ip(i):
    return "127.0.0.%d" % (2 + i % 253)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def mem(d):
    return d.rss_kb() / 1024.0, (d.pss_kb() or 0) / 1024.0


async def readline(reader, timeout):
    return await asyncio.wait_for(reader.readline(), timeout)


async def expect_tagged(reader, tag, timeout):
    while True:
        line = await readline(reader, timeout)
        if not line:
            raise ConnectionError("eof")
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise ConnectionError(line.decode(errors="replace"))
            return


class IdleSession:
    def __init__(self, idx, users):
        self.idx = idx
        self.user = idx % users
        self.reader = self.writer = None
        self.notified_at = None
        self.event = asyncio.Event()

    async def open(self, port, ctx, timeout):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                    local_addr=(src_ip(self.idx), 0),
                                    server_hostname="localhost"), timeout)
        await readline(self.reader, timeout)  # greeting
        self.writer.write(b"a LOGIN %s %s\r\n" % (user(self.user).encode(),
                                                 PASSWORD.encode()))
        await expect_tagged(self.reader, b"a", timeout)
        self.writer.write(b"b SELECT INBOX\r\n")
        await expect_tagged(self.reader, b"b", timeout)
        self.writer.write(b"c IDLE\r\n")
        line = await readline(self.reader, timeout)
        if not line.startswith(b"+"):
            raise ConnectionError(line.decode(errors="replace"))

    async def wait_exists(self, timeout):
        while True:
            line = await readline(self.reader, timeout)
            if not line:
                raise ConnectionError("eof while idling")
            if line.startswith(b"* ") and line.rstrip().endswith(b"EXISTS"):
                self.notified_at = time.monotonic()
                return

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def smtp_dialog(port, rcpts_msgs, timeout, src="127.0.0.1"):
    """One SMTP session sending each (rcpt, body); returns the ack times."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0)),
        timeout)
    acks = []

    async def reply():
        while True:
            line = await readline(reader, timeout)
            if not line:
                raise ConnectionError("eof")
            if line[3:4] != b"-":
                return line

    await reply()
    writer.write(b"EHLO load.example\r\n")
    await reply()
    for rcpt, body in rcpts_msgs:
        writer.write(b"MAIL FROM:<load@example.net>\r\nRCPT TO:<%s>\r\n"
                     b"DATA\r\n" % rcpt.encode())
        for _ in range(3):
            r = await reply()
        if not r.startswith(b"354"):
            raise ConnectionError(r.decode(errors="replace"))
        # Timed from the final dot sent: the notification may well arrive
        # before we read the 250.
        sent = time.monotonic()
        writer.write(body + b".\r\n")
        r = await reply()
        if not r.startswith(b"250"):
            raise ConnectionError(r.decode(errors="replace"))
        acks.append(sent)
    writer.write(b"QUIT\r\n")
    writer.close()
    return acks


async def run_idle(d, a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sessions = [IdleSession(i, a.users) for i in range(a.connections)]
    sem = asyncio.Semaphore(a.parallel)
    failures = []
    rest_rss, _ = mem(d)
    # One login per account first, so the flood hits the auth cache
    # instead of racing to run a yescrypt each.
    for u in range(a.users):
        s = IdleSession(u, a.users)
        await s.open(d.ports["imaps"], ctx, 60)
        s.close()
    t0 = time.monotonic()

    async def opener(s):
        async with sem:
            try:
                await s.open(d.ports["imaps"], ctx, 60)
            except (OSError, ConnectionError, asyncio.TimeoutError,
                    ssl.SSLError) as e:
                failures.append(repr(e))
                s.close()
                s.writer = None
    await asyncio.gather(*(opener(s) for s in sessions))
    live = [s for s in sessions if s.writer is not None]
    t_open = time.monotonic() - t0
    print("idle: %d/%d sessions idling over TLS after %.1f s (%d failed%s)"
          % (len(live), a.connections, t_open, len(failures),
             ": " + failures[0] if failures else ""))
    await asyncio.sleep(2)
    rss, pss = mem(d)
    print("daemon memory with %d idling: RSS %.1f MB, PSS %.1f MB "
          "(%.1f KB RSS per session over the daemon at rest)"
          % (len(live), rss, pss, (rss - rest_rss) * 1024 / max(1, len(live))))

    waiters = {s: asyncio.ensure_future(s.wait_exists(30)) for s in live}
    body = b"Subject: load\r\n\r\nnew mail\r\n"
    acks = await smtp_dialog(d.ports["smtp"],
                             [(user(u), body) for u in range(a.users)], 30)
    ack_of = dict(zip(range(a.users), acks))
    done, pending = await asyncio.wait(list(waiters.values()), timeout=30)
    lat = []
    missing = 0
    for s, w in waiters.items():
        if w.done() and w.exception() is None and s.notified_at is not None:
            lat.append(max(0.0, s.notified_at - ack_of[s.user]))
        else:
            missing += 1
    for w in pending:
        w.cancel()
    lat.sort()
    if lat:
        print("new-mail notification: %d sessions told, %d not within 30 s; "
              "latency from the final dot: median %.3f s, p99 %.3f s, max %.3f s; "
              "within 1 s: %d" % (len(lat), missing, statistics.median(lat),
                                  lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0],
                                  lat[-1], sum(1 for x in lat if x <= 1.0)))
    rss2, pss2 = mem(d)
    print("daemon memory after notification: RSS %.1f MB, PSS %.1f MB"
          % (rss2, pss2))
    for s in sessions:
        s.close()
    return len(live), rss, pss


async def run_smtp(d, a):
    sem = asyncio.Semaphore(a.parallel)
    held = []
    failures = []
    t0 = time.monotonic()

    async def opener(i):
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", d.ports["smtp"], local_addr=(src_ip(i), 0)),
                    60)
                line = await readline(r, 60)
                if not line.startswith(b"220"):
                    raise ConnectionError(line.decode(errors="replace"))
                w.write(b"EHLO load%d.example\r\n" % i)
                while True:
                    line = await readline(r, 60)
                    if line[3:4] != b"-":
                        break
                held.append((r, w))
            except (OSError, ConnectionError, asyncio.TimeoutError) as e:
                failures.append(repr(e))
    await asyncio.gather(*(opener(i) for i in range(a.connections)))
    print("smtp: %d/%d sessions open at once after %.1f s (%d failed%s)"
          % (len(held), a.connections, time.monotonic() - t0, len(failures),
             ": " + failures[0] if failures else ""))
    rss, pss = mem(d)
    print("daemon memory with %d SMTP sessions: RSS %.1f MB, PSS %.1f MB"
          % (len(held), rss, pss))

    async def send(i, r, w):
        w.write(b"MAIL FROM:<x@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                % user(i % a.users).encode())
        for _ in range(3):
            line = await readline(r, 60)
        if not line.startswith(b"354"):
            return line
        w.write(b"Subject: s%d\r\n\r\nbody\r\n.\r\n" % i)
        return await readline(r, 60)
    t1 = time.monotonic()
    res = await asyncio.gather(*(send(i, r, w) for i, (r, w) in
                                 enumerate(held)), return_exceptions=True)
    ok = sum(1 for x in res if isinstance(x, bytes) and x.startswith(b"250"))
    print("smtp: %d/%d messages accepted (250) in %.1f s with all sessions "
          "sending at once" % (ok, len(held), time.monotonic() - t1))
    rss2, pss2 = mem(d)
    print("daemon memory after: RSS %.1f MB, PSS %.1f MB" % (rss2, pss2))
    for r, w in held:
        w.close()
    return ok, rss, pss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("idle", "smtp"))
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=200,
                    help="connection attempts in flight at once")
    ap.add_argument("--io-threads", type=int, default=0)
    ap.add_argument("--max-seconds", type=int, default=900)
    a = ap.parse_args()
    hard = raise_nofile()
    if hard < a.connections + 100:
        print("RLIMIT_NOFILE hard limit %d is below %d connections"
              % (hard, a.connections))
    workdir = tempfile.mkdtemp(prefix="posthorn-load-")
    extra = ("[server]\nio_threads = %d\n[limits]\nmax_connections = %d\n"
             "max_connections_per_ip = %d\nimap_idle_timeout = 1h\n"
             "[smtp]\ngreeting_delay = 0\n"
             % (a.io_threads, a.connections + 100, a.connections + 100))
    d = Daemon(workdir, extra=extra)
    d.start()
    try:
        d.cli("domain", "add", "example.org")
        for u in range(a.users):
            d.cli("user", "add", user(u), "--password-stdin",
                  input=PASSWORD + "\n")
        rss, pss = mem(d)
        print("daemon memory at rest: RSS %.1f MB, PSS %.1f MB" % (rss, pss))
        coro = run_idle(d, a) if a.mode == "idle" else run_smtp(d, a)
        asyncio.run(asyncio.wait_for(coro, a.max_seconds))
        print("daemon still running: %s" % (d.proc.poll() is None))
        rc = d.stop()
        print("daemon exit status %s" % rc)
    finally:
        if d.proc.poll() is None:
            d.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
