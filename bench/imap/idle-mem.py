#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Memory per idle IMAP connection: opens N connections over implicit TLS,
each logged in with INBOX selected and in IDLE, and prints how much the
server's processes grew (PSS, so shared pages count once), per connection.

  idle-mem.py HOST PORT USER-FORMAT PASSWORD USERS N PROCESS-MATCH

USER-FORMAT has one %d (1..USERS, round robin); PROCESS-MATCH selects the
server's processes by a substring of /proc/PID/cmdline ("posthornd",
"dovecot")."""
import os
import socket
import ssl
import sys
import time


def pss_kb(match):
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            if match not in cmd or "idle-mem" in cmd:
                continue
            with open("/proc/%s/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def main():
    host, port, fmt, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    users, n, match = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conns = []

    def open_one(i):
        s = ctx.wrap_socket(socket.create_connection((host, port), 20))
        f = s.makefile("rb")
        f.readline()
        user = fmt.replace("%d", str(i % users + 1))
        s.sendall(b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\nc IDLE\r\n'
                  % (user.encode(), password.encode()))
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("connection closed during login")
            if line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD")):
                raise SystemExit("login/select failed: %r" % line)
            if line.startswith(b"+"):
                break
        conns.append((s, f))

    for i in range(10):  # warm up: processes, caches, TLS contexts
        open_one(i)
    time.sleep(1)
    before = pss_kb(match)
    for i in range(10, 10 + n):
        open_one(i)
    time.sleep(2)
    after = pss_kb(match)
    print("connections=%d pss_before_kb=%d pss_after_kb=%d per_conn_kb=%.1f"
          % (n, before, after, (after - before) / n))
    for s, _ in conns:
        try:
            s.sendall(b"DONE\r\nz LOGOUT\r\n")
            s.close()
        except OSError:
            pass


if __name__ == "__main__":
    main()
