# SPDX-License-Identifier: MIT
"""The seeded lifecycle across two instances: alice@a.test submits over 587
with STARTTLS and AUTH to bob@b.test (and to a local colleague in the same
transaction); A (127.0.0.2) finds b.test's MX in its static zone and
delivers to B (127.0.0.3); bob's INBOX holds the message with both
Received fields. Without AUTH nothing is relayed."""
import os
import re
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import (BUILD, PosthornServer, check_log_clean, free_ports,
                      require_store)

DUMP = os.path.join(BUILD, "tests", "unit", "smtpd", "smtp-store-dump")


def stored(server, address, mailbox="INBOX"):
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


def start_server(workdir, host, hostname, names, extra=""):
    os.makedirs(workdir)
    data_dir = os.path.join(workdir, "data")
    ports = dict(zip(names, free_ports(len(names), host)))
    config_path = os.path.join(workdir, "posthorn.conf")
    with open(config_path, "w") as f:
        f.write("[server]\nhostname = %s\ndata_dir = %s\nlog_level = debug\n"
                "[listen]\n%s\n%s"
                % (hostname, data_dir,
                   "\n".join("%s = %s:%d" % (n, host, p)
                             for n, p in ports.items()), extra))
    server = PosthornServer(workdir, ports, config_path, data_dir, host)
    return server.start()


@pytest.fixture
def two(tmp_path):
    require_store()
    if not os.path.exists(DUMP):
        pytest.skip("smtp-store-dump is not built")
    servers = []
    try:
        b = start_server(str(tmp_path / "b"), "127.0.0.3", "mx.b.test",
                         ["smtp"])
        servers.append(b)
        b.cli("domain", "add", "b.test", check=True)
        b.cli("user", "add", "bob@b.test", "--password-stdin", input="pw\n",
              check=True)
        zone = tmp_path / "zone"
        zone.write_text("b.test.     MX 10 mx.b.test.\n"
                        "mx.b.test.  A 127.0.0.3\n")
        a = start_server(
            str(tmp_path / "a"), "127.0.0.2", "mx.a.test",
            ["smtp", "submission"],
            "[dns]\nstatic = %s\n"
            "[outbound]\nmx_port = %d\nsource = 127.0.0.2\n"
            "connect_timeout = 5s\ncommand_timeout = 10s\n"
            % (zone, b.ports["smtp"]))
        servers.append(a)
        if not re.search(r"event=ready .*listeners=\"[^\"]*submission=",
                         a.log()):
            pytest.skip("posthornd has no submission listener")
        a.cli("domain", "add", "a.test", check=True)
        for user in ("alice@a.test", "carol@a.test"):
            a.cli("user", "add", user, "--password-stdin", input="pw\n",
                  check=True)
        yield a, b
    finally:
        # Every daemon is stopped before any is judged, so a failed check
        # never leaves another one running.
        stopped = [(server, server.stop()) for server in servers]
        for server, rc in stopped:
            check_log_clean(server.log())
            assert rc == 0, "posthornd exited %s:\n%s" % (rc, server.log())


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
