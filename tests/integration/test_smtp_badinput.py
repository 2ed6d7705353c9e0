# SPDX-License-Identifier: MIT
"""The MX listener's bad-input table: each case asserts the exact reply
(code and enhanced code), that nothing was stored, and that the connection
still works afterwards where it should."""
import subprocess

import pytest

try:
    import conftest  # noqa: F401
except ImportError:  # the daemon's harness is not merged yet
    pytest.skip("needs the integration harness (conftest.py)",
                allow_module_level=True)
from test_smtp_basic import DUMP, Raw, greet, mx, stored  # noqa: F401,E402

ALICE = "alice@example.org"


def nothing_stored(server):
    assert stored(server, ALICE) == []
    assert stored(server, "bob@example.org") == []


def still_works(c):
    code, lines = c.cmd("NOOP")
    assert code == 250, lines


def expect(reply, code, enhanced):
    got, lines = reply
    assert got == code, lines
    if enhanced is not None:
        assert lines[-1].startswith("%d %s " % (code, enhanced)), lines


def start_data(c, rcpt=ALICE):
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
    expect(c.cmd("DATA"), 354, None)


def test_overlong_command_line(mx):
    c = greet(mx.ports["smtp"])
    expect(c.cmd("NOOP " + "x" * 10000), 500, "5.5.2")
    still_works(c)
    # An over-long MAIL does not start a transaction.
    expect(c.cmd("MAIL FROM:<" + "a" * 10000 + "@example.org>"), 500, "5.5.2")
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
    c.close()
    nothing_stored(mx)


def test_overlong_address(mx):
    c = greet(mx.ports["smtp"])
    expect(c.cmd("MAIL FROM:<%s@remote.example>" % ("a" * 65)), 501, "5.1.7")
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<%s@example.org>" % ("a" * 65)), 501, "5.1.3")
    still_works(c)
    c.close()


def test_out_of_order(mx):
    c = Raw(mx.ports["smtp"])
    assert c.reply()[0] == 220
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 503, "5.5.1")
    expect(c.cmd("EHLO client.example"), 250, None)
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
    expect(c.cmd("DATA"), 503, "5.5.1")
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 503, "5.5.1")
    expect(c.cmd("DATA"), 554, "5.5.1")  # no valid recipients
    expect(c.cmd("STARTTLS"), 503, "5.5.1")  # inside a transaction
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_unknown_command(mx):
    c = greet(mx.ports["smtp"])
    expect(c.cmd("FROBNICATE now"), 500, "5.5.2")
    expect(c.cmd(""), 500, "5.5.2")
    expect(c.cmd("AUTH PLAIN AGJvYgBwdw=="), 502, "5.5.1")
    still_works(c)
    c.close()


def test_relay_attempt(mx):
    c = greet(mx.ports["smtp"])
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<victim@elsewhere.example>"), 550, "5.7.1")
    expect(c.cmd("RCPT TO:<victim@[192.0.2.1]>"), 550, "5.7.1")
    expect(c.cmd("RCPT TO:<@example.org:victim@elsewhere.example>"), 550, "5.7.1")
    expect(c.cmd("DATA"), 554, "5.5.1")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_unknown_user(mx):
    c = greet(mx.ports["smtp"])
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<nobody@example.org>"), 550, "5.1.1")
    expect(c.cmd("RCPT TO:<alice+x@example.org>"), 250, "2.1.5")
    still_works(c)
    c.close()
    nothing_stored(mx)


@pytest.mark.parametrize("content,code,enhanced", [
    # Bare LF: "\n.\n" must not end the message (SMTP smuggling); the
    # smuggled transaction after it is content, not commands.
    (b"Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@remote.example>\r\n"
     b"RCPT TO:<bob@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n", 554, "5.6.0"),
    (b"Subject: a\r\n\r\nbare\nlf\r\n.\r\n", 554, "5.6.0"),
    (b"Subject: a\r\n\r\nx\r\n.\nRSET\r\n.\r\n", 554, "5.6.0"),
    # Bare CR.
    (b"Subject: a\r\n\r\nx\r.\rMAIL FROM:<e@x>\r\n.\r\n", 554, "5.6.0"),
    # NUL.
    (b"Subject: a\r\n\r\nnul\x00here\r\n.\r\n", 554, "5.6.0"),
])
def test_bad_data_content(mx, content, code, enhanced):
    c = greet(mx.ports["smtp"])
    start_data(c)
    c.send(content)
    expect(c.reply(), code, enhanced)
    # Exactly one reply: nothing smuggled ran.
    still_works(c)
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
    c.close()
    nothing_stored(mx)


def test_nul_in_command(mx):
    c = greet(mx.ports["smtp"])
    c.send(b"NO\x00OP\r\n")
    expect(c.reply(), 500, "5.5.2")
    still_works(c)
    c.close()


def test_thousand_recipients(mx):
    c = greet(mx.ports["smtp"])
    c.send("MAIL FROM:<x@remote.example>\r\n" +
           "RCPT TO:<%s>\r\n" % ALICE * 1000)
    expect(c.reply(), 250, "2.1.0")
    replies = [c.reply() for _ in range(1000)]
    assert all(r[0] == 250 for r in replies[:100])
    for r in replies[100:]:
        expect(r, 452, "4.5.3")
    expect(c.cmd("RSET"), 250, "2.0.0")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_message_over_size(mx):
    c = greet(mx.ports["smtp"])
    # Declared size over the limit (64K in the fixture).
    expect(c.cmd("MAIL FROM:<x@remote.example> SIZE=1000000"), 552, "5.3.4")
    still_works(c)
    # Undeclared: refused after the end, the rest is read and dropped.
    start_data(c)
    line = b"x" * 998 + b"\r\n"
    c.send(b"Subject: big\r\n\r\n" + line * 100 + b".\r\n")
    expect(c.reply(), 552, "5.3.4")
    still_works(c)
    # Same with BDAT.
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 250, "2.1.5")
    chunk = line * 100
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    expect(c.reply(), 552, "5.3.4")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_too_many_received(mx):
    c = greet(mx.ports["smtp"])
    start_data(c)
    hops = b"".join(b"Received: from hop%d.example by x; "
                    b"Mon, 30 Nov 2026 08:00:00 +0000\r\n" % i
                    for i in range(200))
    c.send(hops + b"Subject: loop\r\n\r\nx\r\n.\r\n")
    expect(c.reply(), 554, "5.4.6")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_long_data_line(mx):
    c = greet(mx.ports["smtp"])
    start_data(c)
    c.send(b"Subject: a\r\n\r\n" + b"y" * 20000 + b"\r\n.\r\n")
    expect(c.reply(), 554, "5.6.0")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_starttls_pipelined_injection(mx):
    c = greet(mx.ports["smtp"])
    # RFC 3207 section 4.2: what follows STARTTLS in the same packet is
    # thrown away, never run after the handshake.
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@remote.example>\r\n")
    expect(c.reply(), 220, "2.0.0")
    c.starttls()
    expect(c.cmd("EHLO client.example"), 250, None)
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
    expect(c.cmd("STARTTLS"), 503, "5.5.1")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_helo_syntax(mx):
    c = Raw(mx.ports["smtp"])
    assert c.reply()[0] == 220
    expect(c.cmd("EHLO"), 501, "5.5.4")
    expect(c.cmd("HELO two words"), 501, "5.5.4")
    expect(c.cmd("HELO client.example"), 250, None)
    still_works(c)
    c.close()


def test_bdat_out_of_sequence(mx):
    c = greet(mx.ports["smtp"])
    # The chunk is read even when refused, so the next command is found.
    c.send(b"BDAT 5\r\nNOOP\nNOOP\r\n")
    expect(c.reply(), 503, "5.5.1")
    expect(c.reply(), 250, "2.0.0")
    still_works(c)
    c.close()
    nothing_stored(mx)


def test_too_many_errors_closes(mx):
    c = greet(mx.ports["smtp"])
    for _ in range(19):
        expect(c.cmd("BOGUS"), 500, "5.5.2")
    expect(c.cmd("BOGUS"), 500, "5.5.2")
    code, lines = c.reply()
    assert code == 421, lines
    assert c.reply()[0] is None
    c.close()


def set_quota(server, address, nbytes, messages):
    res = subprocess.run([DUMP, "--quota", server.data_dir, address,
                          str(nbytes), str(messages)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def test_over_quota(mx):
    set_quota(mx, ALICE, 0, 1)
    c = greet(mx.ports["smtp"])
    start_data(c)
    c.send(b"Subject: first\r\n\r\nx\r\n.\r\n")
    expect(c.reply(), 250, "2.0.0")
    # The message quota is now used up: refused at RCPT.
    expect(c.cmd("MAIL FROM:<x@remote.example>"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<%s>" % ALICE), 552, "5.2.2")
    expect(c.cmd("RSET"), 250, "2.0.0")
    # A byte quota: a declared SIZE over it is refused at RCPT, an
    # undeclared one when the store sees the message; nothing is stored.
    set_quota(mx, "bob@example.org", 2000, 0)
    expect(c.cmd("MAIL FROM:<x@remote.example> SIZE=5000"), 250, "2.1.0")
    expect(c.cmd("RCPT TO:<bob@example.org>"), 552, "5.2.2")
    expect(c.cmd("RSET"), 250, "2.0.0")
    start_data(c, "bob@example.org")
    c.send(b"Subject: big\r\n\r\n" + b"z" * 998 + b"\r\n" + b"z" * 998 +
           b"\r\n" + b"z" * 998 + b"\r\n.\r\n")
    expect(c.reply(), 552, "5.2.2")
    still_works(c)
    c.close()
    assert len(stored(mx, ALICE)) == 1
    assert stored(mx, "bob@example.org") == []
