#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SELECT and FETCH of a range against mailbox size: times SELECT INBOX,
FETCH 1:10 (FLAGS) and UID FETCH <last 10 UIDs> (FLAGS BODY.PEEK[HEADER])
on each user's INBOX (median of ROUNDS rounds, one logged-in session per
user, plaintext on loopback).

  select-scale.py HOST PORT PASSWORD ROUNDS USER...
"""
import socket
import statistics
import sys
import time


class Client:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), 60)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0

    def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        start = time.perf_counter()
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("connection closed")
            # Literals: read their bytes whole.
            if line.endswith(b"}\r\n"):
                size = int(line[line.rindex(b"{") + 1:-3])
                line += self.f.read(size)
            lines.append(line)
            if line.startswith(tag + b" "):
                break
        elapsed = time.perf_counter() - start
        if not lines[-1].startswith(tag + b" OK"):
            raise SystemExit("%s failed: %r" % (text, lines[-1]))
        return elapsed, lines


def main():
    host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rounds = int(sys.argv[4])
    for user in sys.argv[5:]:
        c = Client(host, port)
        c.cmd('LOGIN "%s" "%s"' % (user, password))
        _, lines = c.cmd("SELECT INBOX")
        exists = next(int(l.split()[1]) for l in lines if l.endswith(b"EXISTS\r\n"))
        _, lines = c.cmd("UID SEARCH %d:*" % max(1, exists - 9))
        uids = [int(x) for l in lines if l.startswith(b"* SEARCH")
                for x in l.split()[2:]]
        uidset = "%d:%d" % (min(uids), max(uids))
        t = {"select": [], "fetch": [], "uidfetch": []}
        for _ in range(rounds):
            t["select"].append(c.cmd("SELECT INBOX")[0])
            t["fetch"].append(c.cmd("FETCH 1:10 (FLAGS)")[0])
            e, lines = c.cmd("UID FETCH %s (FLAGS BODY.PEEK[HEADER])" % uidset)
            t["uidfetch"].append(e)
        c.cmd("LOGOUT")
        print("%-24s messages=%-7d SELECT %.2f ms  FETCH 1:10 (FLAGS) %.2f ms  "
              "UID FETCH last 10 (FLAGS BODY.PEEK[HEADER]) %.2f ms"
              % (user, exists, *(statistics.median(t[k]) * 1000
                                 for k in ("select", "fetch", "uidfetch"))))


if __name__ == "__main__":
    main()
