# SPDX-License-Identifier: MIT
"""Outbound relay between two posthornd instances on one machine: a.test on
127.0.0.2 and b.test on 127.0.0.3, each domain's MX given by a static zone.
A message is put into A's queue through the store (as the SMTP listener
does), `queue-wake` on A's control socket starts the run, and A delivers it
to B over SMTP; refused and undeliverable recipients come back to the
sender's INBOX on A as RFC 3464 reports."""
import re

import pytest

from conftest import require_store
from instances import (DUMP, ENQUEUE, OUTBOUND, add_users, require_tools,
                       start_instance, stop_all, stored, wait_stored)
from instances import enqueue as enqueue_data

MESSAGE = (b"From: Alice <alice@a.test>\nTo: Bob <bob@b.test>\n"
           b"Subject: across\nMessage-ID: <q1@a.test>\n\n"
           b"Hello Bob.\n.a line with a leading dot\n")


def enqueue(server, sender, *rcpts, data=MESSAGE):
    enqueue_data(server, sender, rcpts, data)


@pytest.fixture
def two(tmp_path):
    """(A, B): A relays for a.test from 127.0.0.2 with B (127.0.0.3) as
    b.test's MX."""
    require_store()
    require_tools(DUMP, ENQUEUE)
    servers = []
    try:
        b = start_instance(str(tmp_path / "b"), "127.0.0.3", "mx.b.test")
        servers.append(b)
        if not re.search(r"event=ready .*listeners=\"[^\"]*smtp", b.log()):
            pytest.skip("posthornd has no smtp listener in this build")
        add_users(b, "b.test", "bob@b.test")
        zone = tmp_path / "zone"
        zone.write_text("b.test.     MX 10 mx.b.test.\n"
                        "mx.b.test.  A 127.0.0.3\n"
                        "a.test.     MX 10 mx.a.test.\n"
                        "mx.a.test.  A 127.0.0.2\n"
                        "null.test.  MX 0 .\n")
        a = start_instance(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            extra="[dns]\nstatic = %s\n" % zone
            + OUTBOUND % (b.ports["smtp"], "127.0.0.2"))
        servers.append(a)
        a.wait_log(r"event=queue-start", 5)
        add_users(a, "a.test", "alice@a.test")
        yield a, b
    finally:
        stop_all(servers)


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
    require_tools(DUMP, ENQUEUE)
    servers = []
    try:
        b = start_instance(str(tmp_path / "b"), "127.0.0.3",
                           "relay.b.test")
        servers.append(b)
        if not re.search(r"event=ready .*listeners=\"[^\"]*smtp", b.log()):
            pytest.skip("posthornd has no smtp listener in this build")
        add_users(b, "b.test", "bob@b.test")
        zone = tmp_path / "zone"
        zone.write_text("b.test. MX 0 .\n")  # MX delivery would fail
        a = start_instance(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            extra="[dns]\nstatic = %s\n"
            "[outbound]\nrelayhost = 127.0.0.3:%d\nsource = 127.0.0.2\n"
            "relay_require_tls = yes\n" % (zone, b.ports["smtp"]))
        servers.append(a)
        a.wait_log(r"event=queue-start .*relayhost=127\.0\.0\.3", 5)
        add_users(a, "a.test", "alice@a.test")
        enqueue(a, "alice@a.test", "bob@b.test")
        assert a.control("queue-wake") == "OK"
        got = wait_stored(b, "bob@b.test", 1)[0]
        assert b"\r\nSubject: across\r\n" in got
        a.wait_log(r"event=queue-delivered id=\d+ rcpt=bob@b\.test "
                   r"host=\"relay\.b\.test \(127\.0\.0\.3:\d+\)\" tls=yes", 5)
        assert stored(a, "alice@a.test") == []
    finally:
        stop_all(servers)


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
