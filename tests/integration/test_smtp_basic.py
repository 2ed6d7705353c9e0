# SPDX-License-Identifier: MIT
"""Inbound SMTP (the MX listener) with real clients: Python smtplib with and
without STARTTLS, swaks, curl, a pipelined transaction, BDAT, 8BITMIME and
SMTPUTF8, aliases, catch-all, subaddresses and postmaster; each message is
read back from the store byte for byte with the headers we add."""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import free_ports, require_store
# stored is also imported from here by test_mailauth_inbound.py.
from instances import DUMP, stored

# conftest writes the [server] section; a second [server] header adds the
# postmaster account to it.
SMTP_EXTRA = """[server]
postmaster = alice@example.org
[smtp]
max_message_size = 64K
max_recipients = 100
max_received_headers = 50
"""


def start_mx(posthorn_factory, extra=""):
    """A daemon with an MX listener, domains, accounts and aliases."""
    require_store()
    if not os.path.exists(DUMP):
        pytest.skip("smtp-store-dump is not built (needs the store)")
    server = posthorn_factory(extra=SMTP_EXTRA + extra)
    if "smtp" not in server.ports or not re.search(
            r"event=ready .*listeners=\"[^\"]*smtp", server.log()):
        pytest.skip("posthornd has no smtp listener in this build")
    for cmd in (["domain", "add", "example.org"],
                ["domain", "add", "catch.example"],
                ["user", "add", "alice@example.org", "--password-stdin"],
                ["user", "add", "bob@example.org", "--password-stdin"],
                ["alias", "add", "info@example.org", "alice@example.org"],
                ["alias", "add", "team@example.org", "alice@example.org",
                 "bob@example.org"],
                ["alias", "add", "@catch.example", "bob@example.org"]):
        server.cli(*cmd, input="pw\n" if "user" in cmd else None, check=True)
    return server


@pytest.fixture
def mx(posthorn_factory):
    return start_mx(posthorn_factory)


def split_added(msg):
    """(Return-Path value, Received field, rest) of a stored message. The
    Received-SPF and Authentication-Results fields the MX adds after
    Received ([auth], see test_mailauth_inbound.py) are skipped."""
    m = re.match(rb"Return-Path: (<[^\r\n]*>)\r\n(Received: (?:[^\r\n]*\r\n)"
                 rb"(?:\t[^\r\n]*\r\n)*)"
                 rb"(?:Received-SPF: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)?"
                 rb"(?:Authentication-Results: [^\r\n]*\r\n"
                 rb"(?:[ \t][^\r\n]*\r\n)*)?", msg)
    assert m, msg[:300]
    return m.group(1), m.group(2), msg[m.end():]


class Raw:
    """A plain socket SMTP client for exact replies and byte-level input."""

    def __init__(self, port, host="127.0.0.1", timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """(code, [lines]) of the next reply; (None, []) on EOF."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return (None, lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return (int(line[:3]), lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        assert not self.buf
        self.sock = ctx.wrap_socket(self.sock)

    def close(self):
        self.sock.close()


def greet(port):
    c = Raw(port)
    code, _ = c.reply()
    assert code == 220
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    return c


MESSAGE = (b"From: Sender <sender@remote.example>\r\n"
           b"To: alice@example.org\r\n"
           b"Subject: hello\r\n"
           b"\r\n"
           b"Body line 1\r\n"
           b".leading dot\r\n"
           b"last line\r\n")


def test_ehlo_features(mx):
    c = Raw(mx.ports["smtp"])
    code, lines = c.reply()
    assert code == 220 and "ESMTP" in lines[0]
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    feats = [l[4:] for l in lines[1:]]
    for f in ("PIPELINING", "SIZE 65536", "8BITMIME", "ENHANCEDSTATUSCODES",
              "SMTPUTF8", "CHUNKING", "DSN", "STARTTLS"):
        assert f in feats, lines
    assert c.cmd("HELP")[0] == 214
    assert c.cmd("VRFY alice@example.org")[0] == 252
    assert c.cmd("EXPN team@example.org")[0] == 502
    assert c.cmd("NOOP")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    c.close()


def test_smtplib_plain(mx):
    with smtplib.SMTP("127.0.0.1", mx.ports["smtp"], timeout=20) as s:
        s.ehlo("client.example")
        s.mail("sender@remote.example")
        assert s.rcpt("alice@example.org")[0] == 250
        code, text = s.data(MESSAGE)
        assert code == 250
        m = re.match(rb"2\.0\.0 Ok: queued as ([a-z0-9]{12})$", text)
        assert m, text
        qid = m.group(1)
    [msg] = stored(mx, "alice@example.org")
    rp, received, rest = split_added(msg)
    assert rp == b"<sender@remote.example>"
    assert received.startswith(b"Received: from client.example ([127.0.0.1])\r\n")
    assert b"\tby localhost (Posthorn) with ESMTP id " + qid in received
    assert b"\tfor <alice@example.org>; " in received
    # smtplib dot-stuffs, we undo it: the content is what was given.
    assert rest == MESSAGE
    assert stored(mx, "bob@example.org") == []


def test_smtplib_starttls(mx):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", mx.ports["smtp"], timeout=20) as s:
        s.ehlo("tls.example")
        assert s.has_extn("starttls")
        s.starttls(context=ctx)
        s.ehlo("tls.example")
        assert not s.has_extn("starttls")
        s.sendmail("sender@remote.example", ["bob@example.org"], MESSAGE)
    [msg] = stored(mx, "bob@example.org")
    _, received, rest = split_added(msg)
    assert re.search(rb"\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)\r\n",
                     received), received
    assert b" with ESMTPS id " in received
    assert rest == MESSAGE


def test_swaks(mx):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    res = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(mx.ports["smtp"]),
         "--from", "swaks@remote.example", "--to", "info@example.org",
         "--helo", "swaks.example", "--header", "Subject: via swaks",
         "--body", "swaks body", "--tls"],
        capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as", res.stdout), res.stdout
    [msg] = stored(mx, "alice@example.org")
    assert b"Subject: via swaks\r\n" in msg
    assert b"swaks body" in msg


def test_curl(mx, tmp_path):
    body = tmp_path / "mail.txt"
    body.write_bytes(b"Subject: via curl\r\n\r\ncurl body\r\n")
    res = subprocess.run(
        ["curl", "-sS", "--url", "smtp://127.0.0.1:%d/curl.example" %
         mx.ports["smtp"], "--mail-from", "curl@remote.example",
         "--mail-rcpt", "bob@example.org", "--upload-file", str(body)],
        capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    [msg] = stored(mx, "bob@example.org")
    _, received, rest = split_added(msg)
    assert received.startswith(b"Received: from curl.example ")
    assert rest == b"Subject: via curl\r\n\r\ncurl body\r\n"


def test_pipelined_transactions(mx):
    c = greet(mx.ports["smtp"])
    # Two whole transactions and a QUIT in one write (RFC 2920).
    c.send(b"MAIL FROM:<p@remote.example>\r\n"
           b"RCPT TO:<alice@example.org>\r\n"
           b"RCPT TO:<nobody@example.org>\r\n"
           b"RCPT TO:<bob@example.org>\r\n"
           b"DATA\r\n"
           b"Subject: one\r\n\r\nfirst\r\n.\r\n"
           b"MAIL FROM:<p@remote.example>\r\n"
           b"RCPT TO:<bob@example.org>\r\n"
           b"DATA\r\n"
           b"Subject: two\r\n\r\nsecond\r\n.\r\n"
           b"QUIT\r\n")
    codes = [c.reply()[0] for _ in range(10)]
    assert codes == [250, 250, 550, 250, 354, 250, 250, 250, 354, 250], codes
    assert c.reply()[0] == 221
    c.close()
    alice = stored(mx, "alice@example.org")
    bob = stored(mx, "bob@example.org")
    assert len(alice) == 1 and alice[0].endswith(b"Subject: one\r\n\r\nfirst\r\n")
    assert len(bob) == 2
    assert bob[0].endswith(b"first\r\n") and bob[1].endswith(b"second\r\n")
    # Two recipients: no "for" clause, one queue id for both copies.
    assert b"\tfor <" not in split_added(alice[0])[1]
    assert split_added(alice[0])[1] == split_added(bob[0])[1]


def test_bdat(mx):
    c = greet(mx.ports["smtp"])
    part1 = b"Subject: chunks\r\n\r\nfirst part, "
    part2 = b"second part\r\n.\r\nnot an end\r\n"
    c.send(b"MAIL FROM:<b@remote.example> BODY=8BITMIME\r\n"
           b"RCPT TO:<alice@example.org>\r\n"
           b"BDAT %d\r\n" % len(part1) + part1 +
           b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert c.reply()[0] == 250
    assert c.reply()[0] == 250
    code, lines = c.reply()
    assert code == 250 and lines[0] == "250 2.0.0 %d octets received" % len(part1)
    code, lines = c.reply()
    assert code == 250 and "queued as" in lines[0]
    # BDAT 0 LAST, and the session goes on.
    assert c.cmd("MAIL FROM:<b@remote.example>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    assert c.cmd("BDAT 0 LAST")[0] == 250
    assert c.cmd("NOOP")[0] == 250
    c.close()
    msgs = stored(mx, "alice@example.org")
    assert len(msgs) == 2
    assert split_added(msgs[0])[2] == part1 + part2
    assert split_added(msgs[1])[2] == b""


def test_8bitmime_and_smtputf8(mx):
    body = "Subject: Grüße\r\n\r\nÄpfel und Öl\r\n".encode()
    with smtplib.SMTP("127.0.0.1", mx.ports["smtp"], timeout=20) as s:
        s.ehlo("utf8.example")
        s.sendmail("jörg@müller.example", ["alice@example.org"], body,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [msg] = stored(mx, "alice@example.org")
    rp, received, rest = split_added(msg)
    assert rp == "<jörg@müller.example>".encode()
    assert b" with UTF8SMTP id " in received
    assert rest == body
    c = greet(mx.ports["smtp"])
    # Without the SMTPUTF8 parameter a UTF-8 address is refused.
    code, lines = c.cmd("MAIL FROM:<jörg@müller.example>")
    assert code == 550 and lines[0].startswith("550 5.6.7 ")
    assert c.cmd("MAIL FROM:<jörg@müller.example> SMTPUTF8")[0] == 250
    code, lines = c.cmd("RCPT TO:<jörg@example.org>")
    assert code == 550 and lines[0].startswith("550 5.1.1 ")
    code, lines = c.cmd("RCPT TO:<a@b@example.org>")
    assert code == 501 and lines[0].startswith("501 5.1.3 ")
    c.close()


def test_alias_catchall_subaddress_postmaster(mx):
    def send(rcpt, subject):
        with smtplib.SMTP("127.0.0.1", mx.ports["smtp"], timeout=20) as s:
            s.sendmail("x@remote.example", [rcpt],
                       b"Subject: " + subject + b"\r\n\r\nx\r\n")
    send("info@example.org", b"alias")
    send("anything@catch.example", b"catchall")
    send("alice+tag@example.org", b"subaddress")
    send("Team@Example.ORG", b"team")
    alice = [split_added(m)[2] for m in stored(mx, "alice@example.org")]
    bob = [split_added(m)[2] for m in stored(mx, "bob@example.org")]
    assert alice == [b"Subject: alias\r\n\r\nx\r\n",
                     b"Subject: subaddress\r\n\r\nx\r\n",
                     b"Subject: team\r\n\r\nx\r\n"]
    assert bob == [b"Subject: catchall\r\n\r\nx\r\n",
                   b"Subject: team\r\n\r\nx\r\n"]
    # postmaster@ a local domain is accepted (RFC 5321 section 4.5.1).
    c = greet(mx.ports["smtp"])
    assert c.cmd("MAIL FROM:<>")[0] == 250
    code, lines = c.cmd("RCPT TO:<postmaster@example.org>")
    assert code == 250, lines
    c.close()


def test_bare_postmaster_without_setting(posthorn_factory):
    """<postmaster> with no domain (RFC 5321 section 4.1.1.3) reaches
    postmaster@ the local domain the host name is in, also without
    [server] postmaster (conftest names the host localhost: the first
    local domain then)."""
    require_store()
    if not os.path.exists(DUMP):
        pytest.skip("smtp-store-dump is not built (needs the store)")
    server = posthorn_factory()
    if "smtp" not in server.ports:
        pytest.skip("posthornd has no smtp listener in this build")
    server.cli("domain", "add", "example.org", check=True)
    server.cli("user", "add", "carol@example.org", "--password-stdin",
               input="pw\n", check=True)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.ehlo("client.example")
        assert s.mail("")[0] == 250
        code, text = s.rcpt("<postmaster>")
        assert code == 250, text
        assert s.data(b"Subject: to the postmaster\r\n\r\nhi\r\n")[0] == 250
    # The domain's only account stands in for its postmaster.
    got = stored(server, "carol@example.org")
    assert len(got) == 1 and b"Subject: to the postmaster" in got[0]


def test_dsn_parameters_accepted(mx):
    c = greet(mx.ports["smtp"])
    assert c.cmd("MAIL FROM:<d@remote.example> RET=HDRS ENVID=QQ+2B1 SIZE=100")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;alice+40example.org")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: dsn\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    code, lines = c.cmd("RCPT TO:<alice@example.org> NOTIFY=NEVER,DELAY")
    assert code == 503
    assert c.cmd("MAIL FROM:<d@remote.example> FOO=BAR")[0] == 555
    c.close()
    assert len(stored(mx, "alice@example.org")) == 1


def queued(server):
    res = subprocess.run([DUMP, "--queue", server.data_dir],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = []
    for line in res.stdout.splitlines():
        if line.startswith("QUEUED "):
            fields = line.split()
            item = dict(kv.split("=", 1) for kv in fields[2:])
            item["address"] = fields[1]
            out.append(item)
    return out


class FakeMX(threading.Thread):
    """A remote MTA on loopback that takes every message (no extensions)
    and records the envelope and the unstuffed content."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.messages = []  # (mail_from, [rcpts], data)
        self.done = threading.Event()

    def run(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    self.session(conn.makefile("rwb"))
        except OSError:
            pass

    def session(self, f):
        def say(line):
            f.write(line + b"\r\n")
            f.flush()
        say(b"220 fake.remote.example ESMTP")
        mail, rcpts = None, []
        for line in f:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say(b"250 fake.remote.example")
            elif verb == b"MAIL":
                mail, rcpts = line.strip(), []
                say(b"250 ok")
            elif verb == b"RCPT":
                rcpts.append(line.strip())
                say(b"250 ok")
            elif verb == b"DATA":
                say(b"354 go")
                data = b""
                for dl in f:
                    if dl == b".\r\n":
                        break
                    data += dl[1:] if dl.startswith(b".") else dl
                self.messages.append((mail, rcpts, data))
                say(b"250 queued")
                self.done.set()
            elif verb == b"QUIT":
                say(b"221 bye")
                return
            else:
                say(b"250 ok")

    def close(self):
        self.sock.close()


def outbound_config(tmp_path, mx_port):
    zone = tmp_path / "static.zone"
    zone.write_text("remote.example. 300 IN MX 10 mx.remote.example.\n"
                    "mx.remote.example. 300 IN A 127.0.0.1\n")
    return ("[dns]\nstatic = %s\n[outbound]\nmx_port = %d\n"
            % (zone, mx_port))


def test_remote_alias_target_queued(posthorn_factory, tmp_path):
    """An alias with a remote target: the local copy is stored, the remote
    one is queued (here the remote host refuses connections, so it stays
    pending) with the envelope and DSN parameters. The sender is at the
    same refusing host, so the success DSN stays queued too."""
    closed = free_ports(1)[0]
    mx = start_mx(posthorn_factory, outbound_config(tmp_path, closed))
    mx.cli("alias", "add", "fwd@example.org", "alice@example.org",
           "carol@remote.example", check=True)
    mx.cli("alias", "add", "away@example.org", "dave@remote.example",
           check=True)
    c = greet(mx.ports["smtp"])
    assert c.cmd("MAIL FROM:<s@remote.example> RET=HDRS ENVID=e+2B1")[0] == 250
    assert c.cmd("RCPT TO:<fwd@example.org> NOTIFY=SUCCESS,FAILURE")[0] == 250
    assert c.cmd("RCPT TO:<away@example.org> ORCPT=rfc822;Away+40example.org")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: forward\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    c.close()
    [msg] = stored(mx, "alice@example.org")
    assert split_added(msg)[2] == b"Subject: forward\r\n\r\nx\r\n"
    items = queued(mx)
    # fwd@ asked for NOTIFY=SUCCESS and has a local target: a "delivered"
    # DSN for the (remote) sender is queued from <>.
    [dsn] = [r for r in items if r["from"] == ""]
    assert dsn["address"] == "s@remote.example" and dsn["notify"] == "1"
    q = sorted((r for r in items if r["from"] != ""),
               key=lambda r: r["address"])
    assert [r["address"] for r in q] == ["carol@remote.example",
                                         "dave@remote.example"]
    assert q[0]["notify"] == "6" and q[0]["orcpt"] == "rfc822;fwd@example.org"
    assert q[1]["notify"] == "0" and q[1]["orcpt"] == "rfc822;Away@example.org"
    # The queued copy: our Received field, no Return-Path.
    rp_len = msg.index(b"\r\n") + 2
    assert all(r["from"] == "s@remote.example" and r["envid"] == "e+1" and
               r["ret"] == "2" and r["size"] == str(len(msg) - rp_len)
               for r in q)


def test_remote_alias_target_forwarded(posthorn_factory, tmp_path):
    """End to end: a remote-only alias is accepted, queued and sent on by
    the outbound queue to the remote MX (a fake one on loopback)."""
    fake = FakeMX()
    fake.start()
    try:
        mx = start_mx(posthorn_factory, outbound_config(tmp_path, fake.port))
        mx.cli("alias", "add", "away@example.org", "dave@remote.example",
               check=True)
        with smtplib.SMTP("127.0.0.1", mx.ports["smtp"], timeout=20) as s:
            s.ehlo("client.example")
            s.mail("s@sender.example")
            assert s.rcpt("away@example.org", ["NOTIFY=NEVER"])[0] == 250
            assert s.data(b"Subject: away\r\n\r\nforwarded\r\n")[0] == 250
        if not fake.done.wait(20):
            pytest.skip("the outbound queue did not deliver (not running "
                        "in this build?)")
        [(mail, rcpts, data)] = fake.messages
        assert mail == b"MAIL FROM:<s@sender.example>"
        assert rcpts == [b"RCPT TO:<dave@remote.example>"]
        assert data.startswith(b"Received: from client.example ([127.0.0.1])\r\n")
        assert b"Return-Path:" not in data
        assert data.endswith(b"\r\nSubject: away\r\n\r\nforwarded\r\n")
        assert stored(mx, "alice@example.org") == []
    finally:
        fake.close()


def test_success_dsn_local_sender(mx):
    """RFC 3461: NOTIFY=SUCCESS gets a "delivered" DSN; a local sender finds
    it in its INBOX, from the null sender, after the message is stored."""
    c = greet(mx.ports["smtp"])
    assert c.cmd("MAIL FROM:<bob@example.org> ENVID=env1")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org> NOTIFY=SUCCESS "
                 "ORCPT=rfc822;alice@example.org")[0] == 250
    assert c.cmd("RCPT TO:<info@example.org>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: please confirm\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    c.close()
    assert len(stored(mx, "alice@example.org")) == 1
    deadline = time.monotonic() + 10
    while not stored(mx, "bob@example.org") and time.monotonic() < deadline:
        time.sleep(0.05)
    [dsn] = stored(mx, "bob@example.org")
    assert dsn.startswith(b"Return-Path: <>\r\n")
    assert b"Action: delivered\r\n" in dsn
    assert b"Final-Recipient: rfc822; alice@example.org\r\n" in dsn or \
        b"Final-Recipient: rfc822;alice@example.org\r\n" in dsn
    assert b"Original-Envelope-Id: env1" in dsn
    assert b"Subject: please confirm" in dsn
    # Only the recipient that asked: one Action line.
    assert dsn.count(b"Action: ") == 1
