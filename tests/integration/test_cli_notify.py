# SPDX-License-Identifier: MIT
"""The daemon sees the admin command's changes at once: after `posthorn user
passwd` the old password stops working immediately, although the daemon
had cached its successful verification (the command told the daemon over
the control socket to drop it). Runs through POP3 over implicit TLS once
pop3s answers."""
import poplib
import re
import ssl

import pytest

from conftest import require_store


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def pop3_login(server, user, password):
    """True when USER/PASS succeeds on pop3s."""
    conn = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"],
                           context=tls_context(), timeout=30)
    try:
        conn.user(user)
        conn.pass_(password)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            conn.quit()
        except (poplib.error_proto, OSError):
            pass


def test_password_change_takes_effect_at_once(posthorn):
    require_store()
    if not re.search(r'event=ready .*listeners="[^"]*pop3s=', posthorn.log()):
        pytest.skip("pop3s is not answering yet")
    posthorn.cli("domain", "add", "example.com", check=True)
    posthorn.cli("user", "add", "frank@example.com", input="old-pass\n",
                 check=True)
    # Twice: the second login is served from the daemon's auth cache.
    assert pop3_login(posthorn, "frank@example.com", "old-pass")
    assert pop3_login(posthorn, "frank@example.com", "old-pass")

    start = len(posthorn.log())
    posthorn.cli("user", "passwd", "frank@example.com", input="new-pass\n",
                 check=True)
    posthorn.wait_log(r"event=auth-flush account=frank@example.com found=yes",
                      start=start)
    assert not pop3_login(posthorn, "frank@example.com", "old-pass")
    assert pop3_login(posthorn, "frank@example.com", "new-pass")

    # A deleted account cannot log in, cached or not.
    posthorn.cli("user", "del", "frank@example.com", check=True)
    assert not pop3_login(posthorn, "frank@example.com", "new-pass")


def test_import_reaches_idle_session(posthorn, tmp_path):
    """`posthorn import` runs in another process; the daemon is told over
    the control socket and an IMAP session in IDLE on the mailbox sees the
    new messages at once, also for a mailbox name with spaces."""
    import imaplib
    require_store()
    if "imap" not in posthorn.ports:
        pytest.skip("no imap listener")
    posthorn.cli("domain", "add", "imp.example", check=True)
    posthorn.cli("user", "add", "ann@imp.example", "--password-stdin",
                 input="pw-ann\n", check=True)
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(b"From a@b Mon Nov 30 08:00:00 2026\n"
                     b"From: a@b\nSubject: one\n\nbody one\n\n"
                     b"From a@b Mon Nov 30 08:00:01 2026\n"
                     b"From: a@b\nSubject: two\n\nbody two\n")
    for mailbox in ("INBOX", "Old  Mail"):
        imap = imaplib.IMAP4("127.0.0.1", posthorn.ports["imap"])
        imap.login("ann@imp.example", "pw-ann")
        if mailbox != "INBOX":
            assert imap.create('"%s"' % mailbox)[0] == "OK"
        typ, data = imap.select('"%s"' % mailbox)
        assert typ == "OK" and data == [b"0"]
        tag = imap._new_tag().decode()
        imap.send(("%s IDLE\r\n" % tag).encode())
        assert imap.readline().startswith(b"+")
        res = posthorn.cli("import", "mbox", "ann@imp.example", str(mbox),
                           "--mailbox", mailbox)
        assert res.returncode == 0, res.stderr
        imap.sock.settimeout(10)
        seen = b""
        try:
            while b"EXISTS" not in seen:
                seen += imap.readline()
        except OSError:
            pytest.fail("no EXISTS after import (%r); stderr %r; log:\n%s"
                        % (seen, res.stderr, posthorn.log()))
        assert re.search(rb"\* 2 EXISTS", seen), seen
        imap.send(b"DONE\r\n")
        while not imap.readline().startswith(tag.encode()):
            pass
        imap.logout()
