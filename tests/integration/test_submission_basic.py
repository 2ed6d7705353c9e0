# SPDX-License-Identifier: MIT
"""Submission (587 STARTTLS, 465 implicit TLS) with real clients: Python
smtplib with AUTH PLAIN and LOGIN, SCRAM-SHA-256(-PLUS) with
posthorn-auth-client, swaks and curl; AUTH refused before TLS, 530 without
AUTH, 553 for a foreign envelope sender, 550 for a foreign From:, and the
Message-ID/Date an MSA adds (RFC 6409 section 8), each message read back
from the store."""
import os
import re
import shutil
import smtplib
import ssl
import subprocess

import pytest

from conftest import BUILD, require_store

from instances import DUMP, stored
AUTH_CLIENT = os.path.join(BUILD, "tests", "auth", "posthorn-auth-client")
PASSWORD = "s3cret pw"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start_submission(posthorn_factory, extra=""):
    require_store()
    if not os.path.exists(DUMP):
        pytest.skip("smtp-store-dump is not built (needs the store)")
    server = posthorn_factory(extra=extra)
    if not re.search(r"event=ready .*listeners=\"[^\"]*submission=",
                     server.log()):
        pytest.skip("posthornd has no submission listener in this build")
    for cmd in (["domain", "add", "example.org"],
                ["user", "add", "alice@example.org", "--password-stdin"],
                ["user", "add", "bob@example.org", "--password-stdin"],
                ["alias", "add", "info@example.org", "alice@example.org"]):
        server.cli(*cmd, input=PASSWORD + "\n" if "user" in cmd else None,
                   check=True)
    return server


@pytest.fixture
def sub(posthorn_factory):
    return start_submission(posthorn_factory)


def header_of(msg):
    return msg.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def connect_587(server, login=True, user="alice@example.org"):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10)
    s.ehlo("client.example.net")
    s.starttls(context=tls_context())
    s.ehlo("client.example.net")
    if login:
        s.login(user, PASSWORD)
    return s


def test_starttls_auth_plain_local_delivery(sub):
    with smtplib.SMTP("127.0.0.1", sub.ports["submission"], timeout=10) as s:
        s.ehlo("client.example.net")
        # Before TLS: STARTTLS, no AUTH (passwords only under TLS).
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes",
                    "smtputf8", "chunking", "dsn"):
            assert s.has_extn(ext), ext
        s.starttls(context=tls_context())
        s.ehlo("client.example.net")
        assert not s.has_extn("starttls")
        mechs = s.esmtp_features["auth"].split()
        for mech in ("PLAIN", "LOGIN", "SCRAM-SHA-256",
                     "SCRAM-SHA-256-PLUS"):
            assert mech in mechs, mechs
        s.user, s.password = "alice@example.org", PASSWORD
        s.auth("PLAIN", s.auth_plain)
        code, resp = s.docmd("AUTH", "PLAIN")
        assert code == 503  # already authenticated
        msg = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
               b"Subject: no id\r\n\r\nHello Bob.\r\n")
        refused = s.sendmail("alice@example.org", ["bob@example.org"], msg)
        assert refused == {}
        code, resp = s.noop()
    got = stored(sub, "bob@example.org")
    assert len(got) == 1
    head = header_of(got[0])
    assert head.startswith(b"Return-Path: <alice@example.org>\r\n")
    # RFC 3848: ESMTPSA for an authenticated TLS submission.
    assert re.search(rb"\r\n\tby localhost \(Posthorn\) with ESMTPSA id ",
                     head), head
    # RFC 6409 section 8: Message-ID and Date added once.
    assert len(re.findall(rb"\r\nMessage-ID: <[^>]+@localhost>\r\n",
                          head)) == 1, head
    assert len(re.findall(rb"\r\nDate: [A-Z][a-z]{2}, ", head)) == 1, head
    assert got[0].endswith(b"\r\n\r\nHello Bob.\r\n")
    assert re.search(r"event=smtp_auth .*user=alice@example\.org mech=PLAIN",
                     sub.log())


def test_auth_login_alias_sender_and_existing_ids_kept(sub):
    with connect_587(sub, login=False) as s:
        s.user, s.password = "alice@example.org", PASSWORD
        s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        msg = (b"From: Info <info@example.org>\r\nTo: bob@example.org\r\n"
               b"Subject: alias\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n"
               b"Message-ID: <given@example.org>\r\n\r\nbody\r\n")
        # The alias resolves to alice: hers to use, as sender and From:.
        s.sendmail("info@example.org", ["bob@example.org",
                                        "alice@example.org"], msg)
    for who in ("bob@example.org", "alice@example.org"):
        got = stored(sub, who)
        assert len(got) == 1
        head = header_of(got[0])
        assert head.count(b"Message-ID:") == 1
        assert b"\r\nMessage-ID: <given@example.org>\r\n" in head
        assert head.count(b"\r\nDate:") == 1
        assert head.startswith(b"Return-Path: <info@example.org>\r\n")


def test_submissions_implicit_tls(sub):
    with smtplib.SMTP_SSL("127.0.0.1", sub.ports["submissions"], timeout=10,
                          context=tls_context()) as s:
        s.ehlo("client.example.net")
        assert not s.has_extn("starttls")
        assert "PLAIN" in s.esmtp_features["auth"].split()
        s.login("bob@example.org", PASSWORD)
        s.sendmail("bob@example.org", ["alice@example.org"],
                   b"From: bob@example.org\r\nSubject: 465\r\n\r\nx\r\n")
    got = stored(sub, "alice@example.org")
    assert len(got) == 1
    assert b"with ESMTPSA id" in got[0]


def test_auth_refused_before_tls(sub):
    with smtplib.SMTP("127.0.0.1", sub.ports["submission"], timeout=10) as s:
        s.ehlo("client.example.net")
        code, resp = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHB3")
        assert code == 538, resp  # RFC 4954 section 6
        assert resp.startswith(b"5.7.11")
        code, resp = s.docmd("MAIL", "FROM:<alice@example.org>")
        assert code == 530 and resp.startswith(b"5.7.0"), resp
    # The MX listener has no AUTH at all.
    with smtplib.SMTP("127.0.0.1", sub.ports["smtp"], timeout=10) as s:
        s.ehlo("client.example.net")
        assert not s.has_extn("auth")
        code, resp = s.docmd("AUTH", "PLAIN")
        assert code == 502, resp


def test_plaintext_loopback_allowed_by_config(posthorn_factory):
    server = start_submission(
        posthorn_factory, "[submission]\nallow_plaintext_loopback = yes\n")
    with smtplib.SMTP("127.0.0.1", server.ports["submission"],
                      timeout=10) as s:
        s.ehlo("client.example.net")
        assert "PLAIN" in s.esmtp_features["auth"].split()
        # No channel binding without TLS.
        assert "SCRAM-SHA-256-PLUS" not in s.esmtp_features["auth"].split()
        s.login("alice@example.org", PASSWORD)
        s.sendmail("alice@example.org", ["bob@example.org"],
                   b"From: alice@example.org\r\n\r\nplain\r\n")
    got = stored(server, "bob@example.org")
    assert len(got) == 1 and b"with ESMTPA id" in got[0]


def test_mail_without_auth_530(sub):
    with connect_587(sub, login=False) as s:
        code, resp = s.docmd("MAIL", "FROM:<alice@example.org>")
        assert code == 530 and resp.startswith(b"5.7.0"), resp
        code, resp = s.docmd("RCPT", "TO:<bob@example.org>")
        assert code == 503


def test_wrong_password_535_throttled(sub):
    with connect_587(sub, login=False) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.org", "wrong")
        assert e.value.smtp_code == 535
        # Still usable: the right password after a wrong one.
        s.login("alice@example.org", PASSWORD)
    assert "event=smtp_auth_failed" in sub.log()


def test_foreign_envelope_sender_553(sub):
    with connect_587(sub) as s:
        for sender in ("bob@example.org", "someone@elsewhere.test"):
            code, resp = s.docmd("MAIL", "FROM:<%s>" % sender)
            assert code == 553 and resp.startswith(b"5.7.1"), resp
        # Subaddress of her own: hers.
        code, resp = s.docmd("MAIL", "FROM:<alice+lists@example.org>")
        assert code == 250, resp
        s.rset()


def test_foreign_from_550(sub):
    with connect_587(sub) as s:
        msg = (b"From: Bob <bob@example.org>\r\nSubject: spoof\r\n\r\n"
               b"not me\r\n")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.org", ["bob@example.org"], msg)
        assert e.value.smtp_code == 550
        assert e.value.smtp_error.startswith(b"5.7.1")
        # Two From: mailboxes, one foreign: refused as well.
        msg = (b"From: alice@example.org, mallory@evil.test\r\n"
               b"Sender: alice@example.org\r\n\r\nx\r\n")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.org", ["bob@example.org"], msg)
        assert e.value.smtp_code == 550
        # The session goes on.
        s.sendmail("alice@example.org", ["bob@example.org"],
                   b"From: alice@example.org\r\n\r\nfine\r\n")
    got = stored(sub, "bob@example.org")
    assert len(got) == 1 and got[0].endswith(b"\r\n\r\nfine\r\n")


def test_bdat_submission(sub):
    with connect_587(sub) as s:
        assert s.docmd("MAIL", "FROM:<alice@example.org>")[0] == 250
        assert s.docmd("RCPT", "TO:<bob@example.org>")[0] == 250
        body = b"From: alice@example.org\r\nSubject: chunk\r\n\r\nbdat\r\n"
        s.send(b"BDAT %d LAST\r\n" % len(body) + body)
        code, resp = s.getreply()
        assert code == 250 and b"queued as" in resp, resp
    got = stored(sub, "bob@example.org")
    assert len(got) == 1 and b"\r\nMessage-ID: <" in got[0]


def test_missing_from_gets_the_users_address(sub):
    """A message without From: (RFC 5322 requires one) gets the
    authenticated user's address; one with a From: is left alone."""
    with connect_587(sub) as s:
        msg = b"To: bob@example.org\r\nSubject: anonymous\r\n\r\nwho?\r\n"
        assert s.sendmail("alice@example.org", ["bob@example.org"],
                          msg) == {}
    got = stored(sub, "bob@example.org")
    assert len(got) == 1
    head = header_of(got[0])
    assert len(re.findall(rb"\r\nFrom: ", head)) == 1, head
    assert b"\r\nFrom: <alice@example.org>\r\n" in head, head
    assert got[0].endswith(b"\r\n\r\nwho?\r\n")


@pytest.mark.parametrize("mech,starttls", [
    ("SCRAM-SHA-256-PLUS", True), ("SCRAM-SHA-256", True),
    ("SCRAM-SHA-256-PLUS", False)])
def test_scram(sub, mech, starttls):
    if not os.path.exists(AUTH_CLIENT):
        pytest.skip("posthorn-auth-client is not built")
    port = sub.ports["submission" if starttls else "submissions"]
    args = [AUTH_CLIENT, "--protocol", "smtp", "--port", str(port),
            "--user", "alice@example.org", "--password", PASSWORD,
            "--mech", mech, "--timeout", "10"]
    if starttls:
        args.append("--starttls")
    res = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ACCEPTED")
    bad = subprocess.run(args[:args.index("--password") + 1] + ["nope"] +
                         args[args.index("--password") + 2:],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    if mech.endswith("-PLUS"):
        cb = subprocess.run(args + ["--corrupt-cb"], capture_output=True,
                            text=True, timeout=30)
        assert cb.returncode == 1, cb.stdout + cb.stderr


def test_swaks(sub):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    res = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port",
         str(sub.ports["submission"]), "--tls", "--auth", "PLAIN",
         "--auth-user", "alice@example.org", "--auth-password", PASSWORD,
         "--from", "alice@example.org", "--to", "bob@example.org",
         "--header", "From: alice@example.org", "--body", "via swaks",
         "--timeout", "10"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    got = stored(sub, "bob@example.org")
    assert len(got) == 1 and b"via swaks" in got[0]


def test_curl(sub, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    mail = tmp_path / "mail.txt"
    mail.write_bytes(b"From: alice@example.org\r\nTo: bob@example.org\r\n"
                     b"Subject: curl\r\n\r\nvia curl\r\n")
    res = subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20",
         "smtp://127.0.0.1:%d" % sub.ports["submission"],
         "--mail-from", "alice@example.org", "--mail-rcpt",
         "bob@example.org", "--user", "alice@example.org:" + PASSWORD,
         "--upload-file", str(mail)], capture_output=True, text=True,
        timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    got = stored(sub, "bob@example.org")
    assert len(got) == 1 and b"via curl" in got[0]


def test_auth_exchange_cancel_and_throttle(sub):
    with connect_587(sub, login=False) as s:
        # RFC 4954 section 4: "*" cancels with 501.
        code, resp = s.docmd("AUTH", "LOGIN")
        assert code == 334
        code, resp = s.docmd("*")
        assert code == 501, resp
        # An over-long response line cancels the exchange too.
        code, resp = s.docmd("AUTH", "LOGIN")
        assert code == 334
        code, resp = s.docmd("A" * 5000)
        assert code == 501, resp
        assert s.noop()[0] == 250
        # Unknown mechanism: 504.
        assert s.docmd("AUTH", "CRAM-MD5")[0] == 504
        # Two free failures, then the throttle delays the third 535 (a
        # timer in the daemon: the log says by how much).
        s.user, s.password = "alice@example.org", "wrong"
        for _ in range(3):
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.auth("PLAIN", s.auth_plain)
            assert e.value.smtp_code == 535
    assert re.search(r"event=smtp_auth_failed .*delay_ms=1000", sub.log())


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_msmtp(sub, tmp_path, listener):
    if shutil.which("msmtp") is None:
        pytest.skip("msmtp is not installed")
    conf = tmp_path / "msmtprc"
    conf.write_text(
        "account default\nhost 127.0.0.1\nport %d\ntls on\n"
        "tls_starttls %s\ntls_certcheck off\nauth on\n"
        "user alice@example.org\npassword %s\nfrom alice@example.org\n"
        "timeout 10\n"
        % (sub.ports[listener], "on" if listener == "submission" else "off",
           PASSWORD))
    conf.chmod(0o600)
    res = subprocess.run(
        ["msmtp", "-C", str(conf), "bob@example.org"],
        input=b"From: alice@example.org\nSubject: msmtp\n\nvia msmtp\n",
        capture_output=True, timeout=60)
    assert res.returncode == 0, (res.stdout + res.stderr).decode()
    got = stored(sub, "bob@example.org")
    assert len(got) == 1 and got[0].endswith(b"\r\n\r\nvia msmtp\r\n")
