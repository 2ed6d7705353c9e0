# SPDX-License-Identifier: MIT
"""Hostile peers against a real posthornd: a pre-greeting talker on the MX
listener (untrusted source 127.0.0.2 with only 127.0.0.1 trusted), a
slow-drip client, an endless line, a huge IMAP literal announced and a
pipelined flood that never reads. Each answer is printed (pytest -s) for
docs/RELIABILITY.md; memory growth of the daemon is bounded."""
import os
import re
import socket
import time

import pytest

try:
    from conftest import require_store
except ImportError:
    pytest.skip("needs the integration harness", allow_module_level=True)

EXTRA = """[smtp]
greeting_delay = 1s
[limits]
trusted_networks = 127.0.0.1
line_timeout = 1s
"""


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s, limit=65536):
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def server(posthorn_factory):
    require_store()
    srv = posthorn_factory(extra=EXTRA)
    if not re.search(r'listeners="[^"]*smtp=', srv.log()):
        pytest.skip("no smtp listener in this build")
    return srv


def test_pregreet_talker_rejected(server):
    port = server.ports["smtp"]
    # Talks first from an untrusted address: 554 and closed.
    s = connect(port, "127.0.0.2")
    s.sendall(b"EHLO spammer.example\r\n")
    answer = read_all(s)
    s.close()
    print("pregreet talker:", answer)
    assert answer == b"554 5.5.0 Protocol violation: talked before greeting\r\n"
    # Waits: greeted after the pause, a normal session.
    s = connect(port, "127.0.0.2")
    greeting = read_line(s)
    assert greeting.startswith(b"220 "), greeting
    s.sendall(b"QUIT\r\n")
    assert read_line(s).startswith(b"221")
    s.close()
    # Passed before: greeted at once, so talking first is accepted.
    s = connect(port, "127.0.0.2")
    s.sendall(b"EHLO friend.example\r\n")
    data = read_line(s) + read_line(s)
    assert data.startswith(b"220 ") and b"\r\n250" in data, data
    s.close()
    # Trusted network: greeted at once, never made to wait.
    s = connect(port, "127.0.0.1")
    s.sendall(b"EHLO local\r\n")
    data = read_line(s) + read_line(s)
    assert data.startswith(b"220 ") and b"\r\n250" in data, data
    s.close()
    # The log is read by a thread: wait for the last event first.
    server.wait_log(r"event=pregreet_pass", 10)
    log = server.log()
    assert log.count("event=pregreet_reject") == 1
    assert log.count("event=pregreet_pass") == 1
    assert log.count("event=pregreet_wait") == 2


def test_slow_drip_dropped(server):
    s = connect(server.ports["smtp"])
    assert read_line(s).startswith(b"220")
    # One byte every 0.3 s: the idle timeout (5 min) restarts each time,
    # the line deadline (1 s) does not. Bounded at 40 bytes.
    answer = b""
    for ch in b"EHLO drip.example.com.and.more.and.more\r\n":
        try:
            s.sendall(bytes([ch]))
        except OSError:
            break
        time.sleep(0.3)
        s.setblocking(False)
        try:
            answer = s.recv(4096)
        except BlockingIOError:
            answer = b""
        finally:
            s.setblocking(True)
        if answer:
            break
    s.settimeout(5)
    answer += read_all(s)
    s.close()
    print("slow drip:", answer)
    assert answer.startswith(b"421"), answer
    server.wait_log(r"event=line_timeout", 10)


def test_memory_bounded_against_floods(server):
    pid = server.pid
    base = rss_kb(pid)
    # An endless line: 32 MB without a line end.
    s = connect(server.ports["smtp"])
    assert read_line(s).startswith(b"220")
    chunk = b"A" * 65536
    s.settimeout(10)
    for _ in range(512):
        s.sendall(chunk)
    s.sendall(b"\r\nQUIT\r\n")
    answer = read_all(s)
    s.close()
    print("32 MB line:", answer[:200])
    assert answer.startswith(b"500") or answer.startswith(b"421"), answer
    grow_line = rss_kb(pid) - base

    # A 4 GB literal announced before login.
    if "imap" in server.ports:
        s = connect(server.ports["imap"])
        read_line(s)
        s.sendall(b"a1 LOGIN {4000000000}\r\n")
        s.settimeout(5)
        answer = read_line(s)
        s.close()
        print("4 GB literal:", answer)
        assert re.match(rb"(a1 (NO|BAD)|\* BYE) ", answer), answer

    # A pipelined flood never reading the answers: the server stops
    # reading once its output is queued high, so our sends stall.
    s = connect(server.ports["smtp"])
    assert read_line(s).startswith(b"220")
    s.sendall(b"EHLO flood\r\n")
    s.settimeout(3)
    sent = 0
    block = b"NOOP\r\n" * 10000
    try:
        while sent < 200 * 1024 * 1024:
            s.sendall(block)
            sent += len(block)
    except (socket.timeout, OSError):
        pass
    grow_flood = rss_kb(pid) - base
    print("pipelined flood: sent %d bytes before the server stopped "
          "reading; RSS growth line %d KiB, flood %d KiB"
          % (sent, grow_line, grow_flood))
    s.close()
    assert sent < 200 * 1024 * 1024, "the server kept reading forever"
    # The daemon's memory did not follow what the peers sent (32 MB + a
    # flood): bounded by buffers, a few MB at most.
    assert grow_line < 16 * 1024
    assert grow_flood < 16 * 1024


def test_imap_authenticated_floods(server):
    if "imap" not in server.ports:
        pytest.skip("no imap listener")
    server.cli("domain", "add", "example.org", check=True)
    server.cli("user", "add", "eve@example.org", "--password-stdin",
               input="pw\n", check=True)
    pid = server.pid
    base = rss_kb(pid)
    s = connect(server.ports["imap"])
    read_line(s)
    s.sendall(b"a LOGIN eve@example.org pw\r\n")
    assert read_line(s).startswith(b"a OK")
    # A 4 GB APPEND announced (synchronizing and not).
    s.sendall(b"b APPEND INBOX {4000000000}\r\n")
    answer = read_line(s)
    print("APPEND 4 GB literal:", answer)
    assert re.match(rb"b (NO|BAD) ", answer), answer
    s.sendall(b"c APPEND INBOX {4000000000+}\r\n")
    s.settimeout(5)
    answer = read_all(s, 4096)
    print("APPEND 4 GB non-synchronizing literal:", answer)
    assert re.search(rb"(c (NO|BAD) |\* BYE )", answer), answer
    s.close()
    # Pipelined NOOPs never read: the server stops reading.
    s = connect(server.ports["imap"])
    read_line(s)
    s.sendall(b"a LOGIN eve@example.org pw\r\n")
    s.settimeout(3)
    sent = 0
    block = b"x NOOP\r\n" * 10000
    try:
        while sent < 200 * 1024 * 1024:
            s.sendall(block)
            sent += len(block)
    except (socket.timeout, OSError):
        pass
    grow = rss_kb(pid) - base
    print("IMAP pipelined flood: %d bytes sent before the server stopped "
          "reading; RSS growth %d KiB" % (sent, grow))
    s.close()
    assert sent < 200 * 1024 * 1024
    assert grow < 16 * 1024
