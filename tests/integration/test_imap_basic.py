# SPDX-License-Identifier: MIT
"""IMAP end to end with Python's imaplib against a real posthornd: every
implemented command, the UID forms, literals, bad input, TLS (STARTTLS and
implicit), two sessions on one mailbox and IDLE."""
import imaplib
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

if not os.path.exists(os.path.join(os.path.dirname(__file__), "conftest.py")):
    pytest.skip("needs the daemon's integration harness", allow_module_level=True)

from conftest import require_store  # noqa: E402

USER = "alice@example.com"
PASSWORD = "correct horse"

MSG1 = (b"From: Bob <bob@example.org>\r\n"
        b"To: alice@example.com\r\n"
        b"Subject: first message\r\n"
        b"Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n"
        b"Message-ID: <m1@example.org>\r\n"
        b"\r\n"
        b"Hello Alice,\r\nthis is the body.\r\n")

MSG2 = (b"From: carol@example.net\r\n"
        b"To: alice@example.com\r\n"
        b"Subject: multipart\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n"
        b"\r\n"
        b"--XX\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"part one\r\n"
        b"--XX\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"AAECAwQ=\r\n"
        b"--XX--\r\n")


@pytest.fixture
def imap(posthorn_factory):
    require_store()
    server = posthorn_factory()
    if not re.search(r'listeners="[^"]*imap=', server.log()):
        pytest.skip("posthornd has no IMAP listener (imapd not built in)")
    server.cli("domain", "add", "example.com", check=True)
    server.cli("user", "add", USER, "--password-stdin",
               input=PASSWORD + "\n", check=True)
    return server


def connect(server):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    return c


def login(server):
    c = connect(server)
    typ, _ = c.login(USER, PASSWORD)
    assert typ == "OK"
    return c


def ok(res):
    typ, data = res
    assert typ == "OK", data
    return data


def test_greeting_capability_noop_logout(imap):
    c = connect(imap)
    caps = c.capabilities
    for cap in ("IMAP4REV1", "IMAP4REV2", "IDLE", "UIDPLUS", "MOVE", "MULTIAPPEND",
                "LITERAL+", "SASL-IR", "STARTTLS", "AUTH=PLAIN"):
        assert cap in caps
    assert "LOGINDISABLED" not in caps  # loopback counts as secure
    ok(c.noop())
    typ, data = c.capability()
    assert typ == "OK" and b"IMAP4rev2" in data[0]
    ok(c.xatom("ID", '("name" "pytest")'))
    assert c.logout()[0] == "BYE"


def test_login_failures(imap):
    c = connect(imap)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(USER, "wrong")
    with pytest.raises(imaplib.IMAP4.error):
        c.select("INBOX")  # not authenticated
    ok(c.login(USER, PASSWORD))
    c.logout()


def test_authenticate_plain_sasl_ir(imap):
    c = connect(imap)
    ok(c.authenticate("PLAIN",
                      lambda _: ("\0%s\0%s" % (USER, PASSWORD)).encode()))
    ok(c.select("INBOX"))
    c.logout()
    # SASL-IR on the command line, raw.
    import base64
    s = socket.create_connection(("127.0.0.1", imap.ports["imap"]), 10)
    f = s.makefile("rb")
    f.readline()
    ir = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()
    s.sendall(("a AUTHENTICATE PLAIN %s\r\n" % ir).encode())
    assert f.readline().startswith(b"a OK")
    s.close()


def test_mailboxes(imap):
    c = login(imap)
    data = ok(c.list())
    names = [d.decode() for d in data]
    assert any('"INBOX"' in n for n in names)
    assert any("\\Sent" in n for n in names)
    ok(c.create("Work/Projects"))
    assert c.create("Work/Projects")[0] == "NO"
    data = ok(c.list('""', "Work/%"))
    assert len(data) == 1 and b"Work/Projects" in data[0]
    data = ok(c.list('""', "%"))
    assert any(b'\\HasChildren) "/" "Work"' in d for d in data)
    ok(c.rename("Work/Projects", "Work/Done"))
    ok(c.subscribe("Work/Done"))
    data = ok(c.lsub('""', "Work/*"))
    assert data and b"Work/Done" in data[0]
    # RECURSIVEMATCH: the unsubscribed parent comes with CHILDINFO.
    typ, data = c._simple_command("LIST", "(SUBSCRIBED RECURSIVEMATCH)",
                                  '""', "%")
    assert typ == "OK"
    lines = c.untagged_responses.pop("LIST", [])
    assert any(b'"Work" ("CHILDINFO" ("SUBSCRIBED"))' in l for l in lines), lines
    ok(c.unsubscribe("Work/Done"))
    # LIST-EXTENDED with RETURN (CHILDREN SPECIAL-USE STATUS)
    typ, data = c._simple_command(
        "LIST", "(SPECIAL-USE)", '""', "*", "RETURN",
        "(SPECIAL-USE STATUS (MESSAGES))")
    assert typ == "OK"
    lines = c.untagged_responses.pop("LIST", [])
    assert lines and all(b"\\" in l for l in lines)
    assert c.untagged_responses.pop("STATUS", [])
    ok(c.delete("Work/Done"))
    assert c.delete("INBOX")[0] == "NO"
    assert c.select("Nope")[0] == "NO"
    # Non-ASCII names: modified UTF-7 for rev1 clients.
    ok(c.create("&AOQ-rger"))
    data = ok(c.list('""', "&AOQ-*"))
    assert b'"&AOQ-rger"' in data[0]
    ok(c._simple_command("NAMESPACE"))
    c.logout()


def test_append_fetch_store_search(imap):
    c = login(imap)
    data = ok(c.append("INBOX", r"(\Flagged)", None, MSG1))
    assert b"APPENDUID" in data[0]
    ok(c.append("INBOX", None, '"01-Dec-2026 10:00:00 +0100"', MSG2))
    data = ok(c.select("INBOX"))
    assert data == [b"2"]
    data = ok(c.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE)"))
    assert len(data) == 2
    assert b"\\Flagged" in data[0]
    assert b"RFC822.SIZE %d" % len(MSG1) in data[0]
    assert b'INTERNALDATE "01-Dec-2026 10:00:00 +0100"' in data[1] or \
        b'INTERNALDATE "01-Dec-2026 09:00:00 +0000"' in data[1]
    data = ok(c.fetch("1", "(ENVELOPE BODYSTRUCTURE)"))
    assert b'"first message"' in data[0] and b"<m1@example.org>" in data[0]
    data = ok(c.fetch("2", "BODYSTRUCTURE"))
    assert b'"mixed"' in data[0] and b'"base64"' in data[0]
    # Body sections, partial, peek.
    data = ok(c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert data[0][1] == b"Subject: first message\r\n\r\n"
    data = ok(c.fetch("1", "(BODY.PEEK[TEXT]<6.5>)"))
    assert data[0][1] == b"Alice"
    data = ok(c.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2])"))
    parts = [d for d in data if isinstance(d, tuple)]
    assert parts[0][1] == b"part one"  # the CRLF before a boundary is the boundary's
    assert b"Content-Transfer-Encoding: base64" in parts[1][1]
    assert parts[2][1] == b"\x00\x01\x02\x03\x04"
    assert b"BINARY.SIZE[2] 5" in data[-1]
    data = ok(c.fetch("1", "(FLAGS)"))
    assert b"\\Seen" not in data[0]
    data = ok(c.fetch("1", "(RFC822)"))
    assert data[0][1] == MSG1
    data = ok(c.fetch("1", "(FLAGS)"))
    assert b"\\Seen" in data[0]
    data = ok(c.fetch("2", "(RFC822.HEADER)"))
    assert data[0][1].startswith(b"From: carol")
    # UID FETCH adds UID.
    data = ok(c.uid("FETCH", "1:*", "(FLAGS)"))
    assert b"UID 1" in data[0] and b"UID 2" in data[1]
    # STORE forms.
    data = ok(c.store("1", "+FLAGS", r"(\Answered $Label1)"))
    assert b"\\Answered" in data[0] and b"$Label1" in data[0]
    data = ok(c.store("1", "-FLAGS", r"($Label1)"))
    assert b"$Label1" not in data[0]
    data = ok(c.store("2", "FLAGS.SILENT", r"(\Draft)"))
    assert data == [None]
    data = ok(c.uid("STORE", "2", "+FLAGS", r"(\Seen)"))
    assert b"UID 2" in data[0]
    # SEARCH.
    assert ok(c.search(None, "ALL")) == [b"1 2"]
    assert ok(c.search(None, "SUBJECT", "multipart")) == [b"2"]
    assert ok(c.search(None, "FROM", "bob")) == [b"1"]
    assert ok(c.search(None, "BODY", '"part one"')) == [b"2"]
    assert ok(c.search(None, "TEXT", "Hello")) == [b"1"]
    # A header key (reads the header only) then a body key, one message.
    assert ok(c.search(None, "SUBJECT", "multipart", "BODY", '"part one"')) == [b"2"]
    assert ok(c.search(None, "TEXT", "alice")) == [b"1 2"]  # headers too
    assert ok(c.search(None, "ANSWERED")) == [b"1"]
    assert ok(c.search(None, "DRAFT")) == [b"2"]
    assert ok(c.search(None, "NOT", "DRAFT")) == [b"1"]
    assert ok(c.search(None, "OR", "DRAFT", "ANSWERED")) == [b"1 2"]
    assert ok(c.search(None, "LARGER", str(len(MSG1)))) == [b"2"]
    assert ok(c.search(None, "SENTON", "1-Dec-2026")) == [b"2"]
    assert ok(c.search(None, "SENTBEFORE", "1-Dec-2026")) == [b"1"]
    assert ok(c.search(None, "SINCE", "1-Jan-2020")) == [b"1 2"]
    assert ok(c.search(None, "HEADER", "Message-ID", "m1@")) == [b"1"]
    assert ok(c.search("UTF-8", "SUBJECT", "first")) == [b"1"]
    # Encoded words are matched decoded; the string as a UTF-8 literal.
    ok(c.append("INBOX", None, None, b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx\r\n"))
    c.literal = "Grüße".encode("utf-8")
    assert ok(c.search("UTF-8", "SUBJECT")) == [b"3"]
    # Bodies are matched decoded: quoted-printable and base64 text.
    ok(c.append("INBOX", None, None,
                b"Subject: qp\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=iso-8859-1\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                b"Sch=F6ne Gr=FC=DFe und ein sehr langes Wort am Ende der Zei=\r\nle\r\n"))
    ok(c.append("INBOX", None, None,
                b"Subject: b64\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/html; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
                b"PGI+c2VjcmV0IHdvcmQ8L2I+\r\n"))
    assert ok(c.search(None, "BODY", "Zeile")) == [b"4"]
    c.literal = "Schöne".encode("utf-8")
    assert ok(c.search("UTF-8", "BODY")) == [b"4"]
    assert ok(c.search(None, "TEXT", '"secret word"')) == [b"5"]
    ok(c.store("3:5", "+FLAGS.SILENT", r"(\Deleted)"))
    ok(c.expunge())
    assert ok(c.search(None, "2:*")) == [b"2"]
    assert ok(c.uid("SEARCH", "UID", "2")) == [b"2"]
    typ, data = c.search("KOI8-R", "ALL")
    assert typ == "NO"
    # ESEARCH
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    assert typ == "OK"
    es = c.untagged_responses.pop("ESEARCH")[0]
    assert b"MIN 1" in es and b"MAX 2" in es and b"COUNT 2" in es
    c.logout()


def test_append_copy_to_selected_announces_exists(imap):
    c = login(imap)
    ok(c.select("INBOX"))
    c.untagged_responses.pop("EXISTS")
    ok(c.append("INBOX", None, None, MSG1))
    # RFC 9051 6.3.12: EXISTS right away, in the APPEND's own response.
    assert c.untagged_responses.pop("EXISTS") == [b"1"]
    ok(c.copy("1", "INBOX"))
    assert c.untagged_responses.pop("EXISTS") == [b"2"]
    ok(c.noop())
    assert "EXISTS" not in c.untagged_responses  # not announced twice
    c.logout()


def test_copy_move_expunge(imap):
    c = login(imap)
    for _ in range(3):
        ok(c.append("INBOX", None, None, MSG1))
    ok(c.create("Archive2"))
    ok(c.select("INBOX"))
    data = ok(c.copy("1:2", "Archive2"))
    assert re.search(rb"COPYUID \d+ 1:2 1:2", data[0])
    assert c.copy("1", "Nope")[0] == "NO"
    typ, data = c.uid("MOVE", "3", "Archive2")
    assert typ == "OK"
    assert c.untagged_responses.pop("EXPUNGE") == [b"3"]
    assert ok(c.search(None, "ALL")) == [b"1 2"]
    ok(c.store("1", "+FLAGS", r"\Deleted"))
    data = ok(c.expunge())
    assert data == [b"1"]
    assert ok(c.search(None, "ALL")) == [b"1"]
    # UID EXPUNGE only touches the given UIDs.
    ok(c.store("1", "+FLAGS", r"\Deleted"))
    ok(c.uid("EXPUNGE", "1"))  # uid 1 was expunged already: nothing
    assert ok(c.search(None, "ALL")) == [b"1"]
    data = ok(c.status("Archive2", "(MESSAGES UIDNEXT UNSEEN SIZE)"))
    assert b"MESSAGES 3" in data[0] and b"UIDNEXT 4" in data[0]
    ok(c.close())  # expunges \Deleted silently
    assert "EXPUNGE" not in c.untagged_responses
    ok(c.append("INBOX", None, None, MSG1))
    ok(c.select("INBOX", readonly=True))
    assert c.store("1", "+FLAGS", r"\Seen")[0] == "NO"
    assert ok(c.search(None, "ALL")) == [b"1"]
    ok(c.unselect())
    c.logout()


def test_literals_and_bad_input(imap):
    s = socket.create_connection(("127.0.0.1", imap.ports["imap"]), 10)
    f = s.makefile("rb")
    f.readline()

    def cmd(line, expect_prefix):
        s.sendall(line)
        while True:
            r = f.readline()
            if not r.startswith(b"* "):
                break
        assert r.startswith(expect_prefix), (line, r)
        return r

    cmd(b"a1 FOO\r\n", b"a1 BAD")
    cmd(b"a2 SELECT INBOX\r\n", b"a2 BAD")  # not authenticated
    cmd(b"a3 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (
        len(USER), USER.encode(), len(PASSWORD), PASSWORD.encode()), b"a3 OK")
    cmd(b"a4 FETCH 1 FLAGS\r\n", b"a4 BAD")  # nothing selected
    cmd(b"a5 SELECT INBOX\r\n", b"a5 OK")
    cmd(b"a6 FETCH 5 FLAGS\r\n", b"a6 BAD")  # beyond EXISTS
    cmd(b"a7 FETCH 1:x FLAGS\r\n", b"a7 BAD")
    cmd(b"a8 STORE (\r\n", b"a8 BAD")
    cmd(b"a9 LIST \"\" \"unterminated\r\n", b"a9 BAD")
    # A synchronising literal: the server asks for it with "+".
    s.sendall(b"b1 APPEND INBOX {%d}\r\n" % len(MSG1))
    assert f.readline().startswith(b"+")
    s.sendall(MSG1 + b"\r\n")
    r = f.readline()
    while r.startswith(b"* "):
        r = f.readline()
    assert r.startswith(b"b1 OK [APPENDUID")
    # Too large for APPEND: refused before the data is sent.
    s.sendall(b"b2 APPEND INBOX {999999999999}\r\n")
    assert f.readline().startswith(b"b2 NO [TOOBIG]")
    # Too large a literal elsewhere.
    s.sendall(b"b3 LOGIN {99999999}\r\n")
    r = f.readline()
    assert r.startswith(b"b3 BAD")
    # A bad command with a non-synchronising literal: the literal is
    # skipped, never run as a command.
    s.sendall(b"b4 FOO ) {12+}\r\nb5 LOGOUT\r\n\r\nb6 NOOP\r\n")
    assert f.readline().startswith(b"b4 BAD")
    r = f.readline()
    while r.startswith(b"* "):
        r = f.readline()
    assert r.startswith(b"b6 OK")
    # Long garbage lines end with BAD, not a hang or a crash.
    s.sendall(b"c1 " + b"x" * 70000 + b"\r\nc2 NOOP\r\n")
    r = f.readline()
    assert r.startswith(b"* BYE") or r.startswith(b"c1 BAD")
    s.close()


def test_two_sessions_flags_expunge_new_mail(imap):
    a = login(imap)
    b = login(imap)
    for _ in range(3):
        ok(a.append("INBOX", None, None, MSG1))
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    # b changes flags; a sees FETCH FLAGS at its next command.
    ok(b.store("2", "+FLAGS", r"(\Flagged)"))
    ok(a.noop())
    fetches = a.untagged_responses.pop("FETCH", [])
    assert any(b"\\Flagged" in f for f in fetches), fetches
    # b expunges message 1; a is told only at a command that allows it.
    ok(b.store("1", "+FLAGS", r"(\Deleted)"))
    ok(b.expunge())
    time.sleep(0.2)
    ok(a.fetch("1:3", "(UID)"))  # FETCH: no EXPUNGE during it
    assert "EXPUNGE" not in a.untagged_responses
    ok(a.noop())
    assert a.untagged_responses.pop("EXPUNGE") == [b"1"]
    # New mail delivered by b shows up as EXISTS in a.
    ok(b.append("INBOX", None, None, MSG2))
    ok(a.noop())
    assert a.untagged_responses.pop("EXISTS")[-1] == b"3"
    assert ok(a.search(None, "ALL")) == [b"1 2 3"]
    a.logout()
    b.logout()


def test_expunge_only_where_allowed(imap):
    """RFC 9051 7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence
    number; the UID forms and NOOP may carry it."""
    a = login(imap)
    b = login(imap)
    for _ in range(4):
        ok(a.append("INBOX", None, None, MSG1))
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(b.store("1", "+FLAGS.SILENT", r"(\Deleted)"))
    ok(b.expunge())
    a.untagged_responses.clear()
    ok(a.store("2", "+FLAGS", r"(\Seen)"))
    ok(a.search(None, "ALL"))
    assert "EXPUNGE" not in a.untagged_responses
    # Sequence numbers are still the old ones: message 4 exists.
    data = ok(a.fetch("4", "(UID)"))
    assert b"UID 4" in data[0]
    ok(a.uid("SEARCH", "ALL"))
    assert a.untagged_responses.pop("EXPUNGE") == [b"1"]
    data = ok(a.fetch("3", "(UID)"))
    assert b"UID 4" in data[0]
    a.logout()
    b.logout()


def test_idle_expunge_and_flags(imap):
    a = login(imap)
    b = login(imap)
    for _ in range(2):
        ok(a.append("INBOX", None, None, MSG1))
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    assert a.readline().startswith(b"+")
    a.sock.settimeout(5)
    ok(b.store("2", "+FLAGS", r"(\Flagged)"))
    line = a.readline()
    assert line.startswith(b"* 2 FETCH") and b"\\Flagged" in line, line
    ok(b.store("1", "+FLAGS", r"(\Deleted)"))
    assert a.readline().startswith(b"* 1 FETCH")
    ok(b.expunge())
    assert a.readline().strip() == b"* 1 EXPUNGE"
    a.send(b"DONE\r\n")
    line = a.readline()
    assert line.startswith(tag + b" OK"), line
    a.logout()
    b.logout()


def test_idle_new_mail(imap):
    a = login(imap)
    b = login(imap)
    ok(a.select("INBOX"))
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    assert a.readline().startswith(b"+")
    start = time.monotonic()
    ok(b.append("INBOX", None, None, MSG1))
    a.sock.settimeout(5)
    line = a.readline()
    elapsed = time.monotonic() - start
    assert line.strip() == b"* 1 EXISTS", line
    assert elapsed < 2.0
    a.send(b"DONE\r\n")
    while True:
        line = a.readline()
        if line.startswith(tag):
            break
    assert b"OK" in line
    ok(a.noop())
    a.logout()
    b.logout()


def test_starttls_and_imaps(imap):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = connect(imap)
    ok(c.starttls(ssl_context=ctx))
    assert "STARTTLS" not in c.capabilities
    ok(c.login(USER, PASSWORD))
    c.logout()
    c = imaplib.IMAP4_SSL("127.0.0.1", imap.ports["imaps"], ssl_context=ctx,
                          timeout=10)
    ok(c.login(USER, PASSWORD))
    ok(c.select("INBOX"))
    c.logout()


def test_enable_rev2_utf8(imap):
    c = login(imap)
    typ, data = c._simple_command("ENABLE", "IMAP4rev2")
    assert typ == "OK"
    assert c.untagged_responses.pop("ENABLED") == [b"IMAP4rev2"]
    ok(c._simple_command("CREATE", '"Entw\u00fcrfe"'.encode("utf-8")))
    ok(c.append("INBOX", None, None, MSG1))
    ok(c.select("INBOX"))
    assert "RECENT" not in c.untagged_responses
    typ, data = c._simple_command("SEARCH", "ALL")
    assert typ == "OK"
    assert b"ALL 1" in c.untagged_responses.pop("ESEARCH")[0]
    c.logout()


AUTH_CLIENT = os.path.join(os.environ.get("POSTHORN_BUILD") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "build"), "tests", "auth", "posthorn-auth-client")


def test_authenticate_scram_and_login_mech(imap):
    """AUTHENTICATE with multi-step exchanges: SCRAM-SHA-256-PLUS with
    tls-exporter channel binding on imaps and after STARTTLS, SCRAM-SHA-256,
    LOGIN; wrong password and wrong binding refused."""
    if not os.path.exists(AUTH_CLIENT):
        pytest.skip("posthorn-auth-client is not built")

    def run(*args, port=None):
        cmd = [AUTH_CLIENT, "--protocol", "imap", "--port",
               str(port or imap.ports["imaps"]), "--user", USER,
               "--timeout", "20"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    res = run("--password", PASSWORD)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run("--password", PASSWORD, "--starttls", port=imap.ports["imap"])
    assert res.returncode == 0, res.stdout + res.stderr
    res = run("--password", PASSWORD, "--mech", "SCRAM-SHA-256")
    assert res.returncode == 0, res.stdout + res.stderr
    res = run("--password", PASSWORD, "--mech", "LOGIN")
    assert res.returncode == 0, res.stdout + res.stderr
    res = run("--password", PASSWORD, "--corrupt-cb")
    assert res.returncode == 1, res.stdout + res.stderr
    res = run("--password", "wrong", "--mech", "SCRAM-SHA-256")
    assert res.returncode == 1, res.stdout + res.stderr
    # Cancelling with "*".
    c = connect(imap)
    tag = c._new_tag()
    c.send(tag + b" AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send(b"*\r\n")
    assert c.readline().startswith(tag + b" BAD")
    ok(c.noop())
    c.logout()


def test_multiappend_and_large_fetch(imap):
    """MULTIAPPEND of 1,500 messages in one command (one commit), then
    FETCH of the whole range: metadata in chunks, bodies streamed with
    backpressure; a message expunged by another session meanwhile is
    left out, never a wrong one."""
    n = 1500
    body = b"Subject: bulk\r\n\r\n" + b"y" * 1000 + b"\r\n"
    s = socket.create_connection(("127.0.0.1", imap.ports["imap"]), 30)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN %s \"%s\"\r\n" % (USER.encode(), PASSWORD.encode()))
    assert f.readline().startswith(b"a OK")
    parts = [b"b APPEND INBOX"]
    for _ in range(n):
        parts.append(b" (\\Seen) {%d+}\r\n" % len(body) + body)
    s.sendall(b"".join(parts) + b"\r\n")
    line = f.readline()
    assert line.startswith(b"b OK [APPENDUID ") and b" 1:%d]" % n in line, line
    s.close()

    a = login(imap)
    b = login(imap)
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(b.store("1000", "+FLAGS.SILENT", r"(\Deleted)"))
    ok(b.expunge())
    data = ok(a.fetch("1:*", "(UID FLAGS)"))
    # b's flag change reaches a as an unsolicited FETCH at the end; the
    # expunged message itself is not in the answer.
    unsolicited = [d for d in data if b"\\Deleted" in d]
    assert len(unsolicited) == 1 and unsolicited[0].startswith(b"1000 (UID 1000 ")
    data = [d for d in data if b"\\Deleted" not in d]
    assert len(data) == n - 1
    assert b"1000 (UID 1000" not in b"".join(data)
    assert data[-1].startswith(b"%d (UID %d FLAGS (\\Seen" % (n, n))
    data = ok(a.fetch("1:*", "(BODY.PEEK[TEXT])"))
    literals = [d for d in data if isinstance(d, tuple)]
    assert len(literals) == n - 1
    assert all(d[1] == b"y" * 1000 + b"\r\n" for d in literals)
    ok(a.noop())
    assert a.untagged_responses.pop("EXPUNGE") == [b"1000"]
    a.logout()
    b.logout()


def test_condstore(imap):
    """RFC 7162 CONDSTORE: HIGHESTMODSEQ, FETCH MODSEQ and CHANGEDSINCE,
    STORE UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ."""
    c = login(imap)
    assert "CONDSTORE" in c.capabilities
    for _ in range(3):
        ok(c.append("INBOX", None, None, MSG1))
    typ, _ = c._simple_command("SELECT", "INBOX", "(CONDSTORE)")
    assert typ == "OK"
    c.state = "SELECTED"  # imaplib does not track a raw SELECT
    hms = int(c.untagged_responses.pop("HIGHESTMODSEQ")[0])
    data = ok(c.fetch("1:*", "(MODSEQ)"))
    modseqs = [int(re.search(rb"MODSEQ \((\d+)\)", d).group(1)) for d in data]
    assert max(modseqs) == hms
    data = ok(c.store("2", "+FLAGS", r"(\Flagged)"))
    m = re.search(rb"MODSEQ \((\d+)\)", data[0])
    assert m and int(m.group(1)) > hms
    new = int(m.group(1))
    # Only message 2 changed since hms.
    data = ok(c.fetch("1:*", "(FLAGS) (CHANGEDSINCE %d)" % hms))
    assert len(data) == 1 and data[0].startswith(b"2 (") and b"MODSEQ" in data[0]
    # UNCHANGEDSINCE older than message 2's modseq: refused for it.
    typ, data = c._simple_command("STORE", "1:2", "(UNCHANGEDSINCE %d)" % hms,
                                  "+FLAGS", r"(\Seen)")
    assert typ == "OK" and b"[MODIFIED 2]" in data[0], data
    typ, data = c._simple_command("SEARCH", "MODSEQ", str(new))
    assert typ == "OK"
    res = c.untagged_responses.pop("SEARCH")[0]
    assert res.startswith(b"1 2") and b"(MODSEQ " in res, res
    c.logout()


def test_garbage_dialogue_never_kills_the_server(imap):
    """Seeded random commands (real command names with mangled
    arguments, in every state) each get an answer; the server survives."""
    import random
    rnd = random.Random(7)
    names = ["FETCH", "UID FETCH", "STORE", "SEARCH", "UID SEARCH", "LIST",
             "STATUS", "SELECT", "EXAMINE", "APPEND", "COPY", "MOVE",
             "EXPUNGE", "CREATE", "RENAME", "ENABLE", "ID", "LSUB", "NOOP",
             "CLOSE", "UNSELECT", "AUTHENTICATE", "LOGIN", "CAPABILITY"]
    atoms = ["1", "*", "1:*", "0", "4294967295", "$", "(", ")", "()", "NIL",
             '""', '"x"', "INBOX", "BODY[", "BODY[]<0.5>", "BODY[1.2.MIME]",
             "(FLAGS", "FLAGS", "+FLAGS", "(\\Seen)", "\\Recent", "RETURN",
             "(ALL)", "CHARSET", "UTF-8", "OR", "NOT", "HEADER", "SINCE",
             "1-Jan-2020", "x%*", "&Jjo-", "&", "(MESSAGES", "~{3+}", "BINARY[1]",
             "(UNCHANGEDSINCE 1)", "MODSEQ", "(CHANGEDSINCE 5)", "{2+}\r\nab"]
    s = socket.create_connection(("127.0.0.1", imap.ports["imap"]), 20)
    f = s.makefile("rb")
    f.readline()
    n = 0
    for phase in range(3):
        if phase == 1:
            s.sendall(b"L LOGIN %s \"%s\"\r\n" % (USER.encode(), PASSWORD.encode()))
        if phase == 2:
            s.sendall(b"S SELECT INBOX\r\n")
        for i in range(150):
            args = " ".join(rnd.choice(atoms) for _ in range(rnd.randint(0, 6)))
            line = "t%d %s %s\r\n" % (n, rnd.choice(names), args)
            n += 1
            s.sendall(line.encode())
    s.sendall(b"zz NOOP\r\n")
    s.settimeout(20)
    seen = b""
    while not re.search(rb"^zz OK", seen, re.M):
        chunk = s.recv(65536)
        if not chunk:
            break
        seen += chunk
    assert re.search(rb"^zz OK", seen, re.M), seen[-2000:]
    s.close()
    c = login(imap)
    ok(c.noop())
    c.logout()


def test_selected_mailbox_deleted_by_other_session(imap):
    a = login(imap)
    b = login(imap)
    ok(a.create("Tmp"))
    ok(a.append("Tmp", None, None, MSG1))
    ok(a.select("Tmp"))
    ok(b.delete("Tmp"))
    time.sleep(0.2)
    with pytest.raises(imaplib.IMAP4.abort):
        a.noop()  # "* BYE Selected mailbox was deleted"
    ok(b.list())
    b.logout()


def test_shutdown_says_bye_to_idle_sessions(imap):
    a = login(imap)
    ok(a.select("INBOX"))
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    assert a.readline().startswith(b"+")
    b = login(imap)
    assert imap.stop() == 0
    a.sock.settimeout(10)
    assert a.readline().startswith(b"* BYE")
    b.sock.settimeout(10)
    assert b.readline().startswith(b"* BYE")


def test_starttls_discards_injected_commands(imap):
    """RFC 9051 6.2.1 / RFC 3207 4.2 style: commands pipelined after
    STARTTLS in plaintext are dropped, never run inside TLS."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", imap.ports["imap"]), 10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a STARTTLS\r\nb LOGIN %s \"%s\"\r\n" % (USER.encode(),
                                                      PASSWORD.encode()))
    assert f.readline().startswith(b"a OK")
    t = ctx.wrap_socket(s)
    tf = t.makefile("rb")
    t.sendall(b"c NOOP\r\n")
    assert tf.readline().startswith(b"c OK")
    t.sendall(b"d SELECT INBOX\r\n")
    assert tf.readline().startswith(b"d BAD")  # still not logged in
    t.close()
