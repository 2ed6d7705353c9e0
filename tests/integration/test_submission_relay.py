# SPDX-License-Identifier: MIT
"""The seeded lifecycle across two instances: alice@a.test submits over 587
with STARTTLS and AUTH to bob@b.test (and to a local colleague in the same
transaction); A (127.0.0.2) finds b.test's MX in its static zone and
delivers to B (127.0.0.3); bob's INBOX holds the message with both
Received fields. Without AUTH nothing is relayed."""
import re
import smtplib
import ssl

import pytest

from conftest import require_store
from instances import (DUMP, OUTBOUND, add_users, require_tools,
                       start_instance, stop_all, stored, wait_stored)


@pytest.fixture
def two(tmp_path):
    require_store()
    require_tools(DUMP)
    servers = []
    try:
        b = start_instance(str(tmp_path / "b"), "127.0.0.3", "mx.b.test")
        servers.append(b)
        add_users(b, "b.test", "bob@b.test")
        zone = tmp_path / "zone"
        zone.write_text("b.test.     MX 10 mx.b.test.\n"
                        "mx.b.test.  A 127.0.0.3\n")
        a = start_instance(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            ("smtp", "submission"),
            "[dns]\nstatic = %s\n" % zone
            + OUTBOUND % (b.ports["smtp"], "127.0.0.2"))
        servers.append(a)
        if not re.search(r"event=ready .*listeners=\"[^\"]*submission=",
                         a.log()):
            pytest.skip("posthornd has no submission listener")
        add_users(a, "a.test", "alice@a.test", "carol@a.test")
        yield a, b
    finally:
        stop_all(servers)


def submit(a, login=True):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.2", a.ports["submission"], timeout=10,
                     source_address=("127.0.0.1", 0))
    s.ehlo("laptop.a.test")
    s.starttls(context=ctx)
    s.ehlo("laptop.a.test")
    if login:
        s.login("alice@a.test", "pw")
    return s


def test_submit_relay_to_other_instance(two):
    a, b = two
    msg = (b"From: Alice <alice@a.test>\r\nTo: bob@b.test, carol@a.test\r\n"
           b"Subject: across\r\n\r\nHello Bob.\r\n")
    with submit(a) as s:
        code, resp = s.docmd("MAIL", "FROM:<alice@a.test>")
        assert code == 250
        assert s.docmd("RCPT", "TO:<bob@b.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<carol@a.test>")[0] == 250
        code, resp = s.data(msg)
        # Answered after the commit that stored carol's copy and queued
        # bob's.
        assert code == 250 and re.match(rb"2\.0\.0 Ok: queued as \S+", resp)

    local = stored(a, "carol@a.test")
    assert len(local) == 1 and b"with ESMTPSA id" in local[0]
    got = wait_stored(b, "bob@b.test", 1)[0]
    head = got.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"Return-Path: <alice@a.test>\r\n")
    received = re.findall(rb"\r\nReceived: ", b"\r\n" + head)
    assert len(received) == 2, head
    # B's field names A; A's names the submitting client, authenticated.
    assert re.search(rb"Received: from mx\.a\.test \(\[127\.0\.0\.2\]\)",
                     head), head
    assert re.search(rb"by mx\.a\.test \(Posthorn\) with ESMTPSA id", head)
    assert b"\r\nMessage-ID: <" in head and b"\r\nDate: " in head
    assert got.endswith(b"\r\n\r\nHello Bob.\r\n")
    a.wait_log(r"event=queue-delivered id=\d+ rcpt=bob@b\.test", 5)


def test_relay_without_auth_refused(two):
    a, b = two
    with submit(a, login=False) as s:
        code, resp = s.docmd("MAIL", "FROM:<alice@a.test>")
        assert code == 530, resp
    # The MX listener never relays.
    with smtplib.SMTP("127.0.0.2", a.ports["smtp"], timeout=10) as s:
        s.ehlo("stranger.example")
        assert s.docmd("MAIL", "FROM:<x@stranger.example>")[0] == 250
        code, resp = s.docmd("RCPT", "TO:<bob@b.test>")
        assert code == 550 and resp.startswith(b"5.7.1"), resp


def test_unknown_remote_recipient_bounces_to_sender(two):
    """B refuses nobody@b.test with 550: alice finds the RFC 3464 report
    in her INBOX on A."""
    a, b = two
    with submit(a) as s:
        s.sendmail("alice@a.test", ["nobody@b.test"],
                   b"From: alice@a.test\r\nSubject: lost\r\n\r\nhello?\r\n")
    dsn = wait_stored(a, "alice@a.test", 1)[0]
    assert b"report-type=delivery-status" in dsn
    assert b"Final-Recipient: rfc822;nobody@b.test" in dsn
    assert b"Status: 5.1.1" in dsn
    assert b"Subject: lost" in dsn
    assert stored(b, "bob@b.test") == []
