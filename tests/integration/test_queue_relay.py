# SPDX-License-Identifier: MIT
"""Outbound relay between two posthornd instances on one machine: a.test on
127.0.0.2 and b.test on 127.0.0.3, each domain's MX given by a static zone.
A message is put into A's queue through the store (as the SMTP listener
does), `queue-wake` on A's control socket starts the run, and A delivers it
to B over SMTP; refused and undeliverable recipients come back to the
sender's INBOX on A as RFC 3464 reports."""
import os
import re
import subprocess
import time

import pytest

from conftest import (BUILD, PosthornServer, check_log_clean, free_ports,
                      require_store)

DUMP = os.path.join(BUILD, "tests", "unit", "smtpd", "smtp-store-dump")
ENQUEUE = os.path.join(BUILD, "tests", "unit", "queue", "queue-enqueue")

MESSAGE = (b"From: Alice <alice@a.test>\nTo: Bob <bob@b.test>\n"
           b"Subject: across\nMessage-ID: <q1@a.test>\n\n"
           b"Hello Bob.\n.a line with a leading dot\n")


def stored(server, address, mailbox="INBOX"):
    """The messages stored for address, as a list of bytes."""
    res = subprocess.run([DUMP, server.data_dir, address, mailbox],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    out, msgs = res.stdout, []
    while out:
        m = re.match(rb"MESSAGE (\d+) (\d+)\n", out)
        assert m, out[:200]
        size = int(m.group(2))
        msgs.append(out[m.end():m.end() + size])
        out = out[m.end() + size + 1:]
    return msgs


def wait_stored(server, address, count, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        msgs = stored(server, address)
        if len(msgs) >= count:
            return msgs
        if time.monotonic() > deadline:
            pytest.fail("%s has %d messages, expected %d; log:\n%s"
                        % (address, len(msgs), count, server.log()))
        time.sleep(0.1)


def enqueue(server, sender, *rcpts, data=MESSAGE):
    res = subprocess.run([ENQUEUE, server.data_dir, sender] + list(rcpts),
                         input=data, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()


def start_server(workdir, host, hostname, extra=""):
    """A daemon with only an smtp listener on host, named hostname."""
    os.makedirs(workdir)
    data_dir = os.path.join(workdir, "data")
    port = free_ports(1, host)[0]
    config_path = os.path.join(workdir, "posthorn.conf")
    with open(config_path, "w") as f:
        f.write("[server]\nhostname = %s\ndata_dir = %s\nlog_level = debug\n"
                "[listen]\nsmtp = %s:%d\n%s"
                % (hostname, data_dir, host, port, extra))
    server = PosthornServer(workdir, {"smtp": port}, config_path, data_dir,
                            host)
    return server.start()


@pytest.fixture
def two(tmp_path):
    """(A, B): A relays for a.test from 127.0.0.2 with B (127.0.0.3) as
    b.test's MX."""
    require_store()
    for tool in (DUMP, ENQUEUE):
        if not os.path.exists(tool):
            pytest.skip("%s is not built" % tool)
    servers = []
    try:
        b = start_server(str(tmp_path / "b"), "127.0.0.3", "mx.b.test")
        servers.append(b)
        if not re.search(r"event=ready .*listeners=\"[^\"]*smtp", b.log()):
            pytest.skip("posthornd has no smtp listener in this build")
        b.cli("domain", "add", "b.test", check=True)
        b.cli("user", "add", "bob@b.test", "--password-stdin", input="pw\n",
              check=True)
        zone = tmp_path / "zone"
        zone.write_text("b.test.     MX 10 mx.b.test.\n"
                        "mx.b.test.  A 127.0.0.3\n"
                        "a.test.     MX 10 mx.a.test.\n"
                        "mx.a.test.  A 127.0.0.2\n"
                        "null.test.  MX 0 .\n")
        a = start_server(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            "[dns]\nstatic = %s\n"
            "[outbound]\nmx_port = %d\nsource = 127.0.0.2\n"
            "connect_timeout = 5s\ncommand_timeout = 10s\n"
            % (zone, b.ports["smtp"]))
        servers.append(a)
        a.wait_log(r"event=queue-start", 5)
        a.cli("domain", "add", "a.test", check=True)
        a.cli("user", "add", "alice@a.test", "--password-stdin",
              input="pw\n", check=True)
        yield a, b
    finally:
        # Every instance is stopped before any is judged, so a failed
        # check never leaves the other one running.
        stopped = [(server, server.stop()) for server in servers]
        for server, rc in stopped:
            check_log_clean(server.log())
            assert rc == 0, "posthornd exited %s:\n%s" % (rc, server.log())


def test_relay_to_other_instance_with_bounces(two):
    a, b = two
    enqueue(a, "alice@a.test", "bob@b.test", "nobody@b.test",
            "x@null.test;NOTIFY=FAILURE")
    assert a.control("queue-wake") == "OK"

    got = wait_stored(b, "bob@b.test", 1)[0]
    # B's own trace fields on top, then the message as A sent it (the
    # dot-stuffed line arrives as it was written).
    assert got.startswith(b"Return-Path: <alice@a.test>\r\n")
    assert re.search(rb"Received: from mx\.a\.test \(.*127\.0\.0\.2", got), got
    assert b"\r\nSubject: across\r\n" in got
    assert got.endswith(b"Hello Bob.\r\n.a line with a leading dot\r\n")

    # Two reports for alice: nobody@b.test (550 at B) and the null MX.
    dsns = wait_stored(a, "alice@a.test", 2)
    text = b"\n".join(dsns).decode("utf-8", "replace")
    assert "Content-Type: multipart/report; report-type=delivery-status" in text
    assert "Reporting-MTA: dns; mx.a.test" in text
    assert "Final-Recipient: rfc822;nobody@b.test" in text
    assert re.search(r"Status: 5\.1\.1\r\nRemote-MTA: dns; mx\.b\.test", text)
    assert "Final-Recipient: rfc822;x@null.test" in text
    assert "Status: 5.1.10" in text
    assert "Content-Type: text/rfc822-headers" in text
    assert "Subject: across" in text
    assert "bob@b.test\r\nAction" not in text  # delivered: no report
    # B offers STARTTLS (self-signed): A used it, opportunistically.
    a.wait_log(r"event=queue-delivered id=\d+ rcpt=bob@b\.test "
               r"host=\"mx\.b\.test \(127\.0\.0\.3:\d+\)\" tls=yes", 5)


def test_peer_down_then_up(two):
    """B is down: the recipient is deferred; B comes back and a
    `queue-wake` (posthorn queue flush) delivers."""
    a, b = two
    b.stop()
    enqueue(a, "alice@a.test", "bob@b.test")
    offset = len(a.log())
    assert a.control("queue-wake") == "OK"
    a.wait_log(r"event=queue-deferred id=\d+ rcpt=bob@b\.test "
               r"status=4\.4\.1 retry_in=300", 10, offset)
    offset = len(b.log())
    b.start()
    # start() matched the first run's ready line: wait for this one.
    b.wait_log(r"event=ready", 15, offset)
    assert a.control("queue-wake") == "OK"
    got = wait_stored(b, "bob@b.test", 1)[0]
    assert b"\r\nSubject: across\r\n" in got
    assert stored(a, "alice@a.test") == []


def test_smarthost_with_required_tls(tmp_path):
    """[outbound] relayhost: no MX lookup (the zone has none for b.test),
    everything to the smarthost, and only over STARTTLS."""
    require_store()
    for tool in (DUMP, ENQUEUE):
        if not os.path.exists(tool):
            pytest.skip("%s is not built" % tool)
    servers = []
    try:
        b = start_server(str(tmp_path / "b"), "127.0.0.3", "relay.b.test")
        servers.append(b)
        if not re.search(r"event=ready .*listeners=\"[^\"]*smtp", b.log()):
            pytest.skip("posthornd has no smtp listener in this build")
        b.cli("domain", "add", "b.test", check=True)
        b.cli("user", "add", "bob@b.test", "--password-stdin", input="pw\n",
              check=True)
        zone = tmp_path / "zone"
        zone.write_text("b.test. MX 0 .\n")  # MX delivery would fail
        a = start_server(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            "[dns]\nstatic = %s\n"
            "[outbound]\nrelayhost = 127.0.0.3:%d\nsource = 127.0.0.2\n"
            "relay_require_tls = yes\n" % (zone, b.ports["smtp"]))
        servers.append(a)
        a.wait_log(r"event=queue-start .*relayhost=127\.0\.0\.3", 5)
        a.cli("domain", "add", "a.test", check=True)
        a.cli("user", "add", "alice@a.test", "--password-stdin",
              input="pw\n", check=True)
        enqueue(a, "alice@a.test", "bob@b.test")
        assert a.control("queue-wake") == "OK"
        got = wait_stored(b, "bob@b.test", 1)[0]
        assert b"\r\nSubject: across\r\n" in got
        a.wait_log(r"event=queue-delivered id=\d+ rcpt=bob@b\.test "
                   r"host=\"relay\.b\.test \(127\.0\.0\.3:\d+\)\" tls=yes", 5)
        assert stored(a, "alice@a.test") == []
    finally:
        # Every instance is stopped before any is judged, so a failed
        # check never leaves the other one running.
        stopped = [(server, server.stop()) for server in servers]
        for server, rc in stopped:
            check_log_clean(server.log())
            assert rc == 0, "posthornd exited %s:\n%s" % (rc, server.log())


def test_forward_through_smtp_listener(two):
    """Mail arriving at A's MX listener for an alias whose target is at
    b.test is queued by A and carried to B: bob's INBOX then holds it with
    both instances' Received fields. Skipped while A's SMTP listener does
    not queue remote alias targets."""
    import smtplib
    a, b = two
    a.cli("alias", "add", "fwd@a.test", "bob@b.test", check=True)
    with smtplib.SMTP("127.0.0.2", a.ports["smtp"], timeout=20) as s:
        s.ehlo("client.example")
        code, _ = s.mail("carol@client.example")
        assert code == 250
        code, text = s.rcpt("fwd@a.test")
        if code != 250:
            pytest.skip("A's SMTP listener refuses remote alias targets: "
                        "%d %s" % (code, text.decode(errors="replace")))
        assert code == 250
        code, _ = s.data(MESSAGE.replace(b"\n", b"\r\n"))
        assert code == 250
    got = wait_stored(b, "bob@b.test", 1)[0]
    assert len(re.findall(rb"^Received: ", got, re.M)) >= 2, got
    assert re.search(rb"Received: from mx\.a\.test ", got), got
    assert b"\r\nSubject: across\r\n" in got
