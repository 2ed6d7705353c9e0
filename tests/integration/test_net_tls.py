# SPDX-License-Identifier: MIT
"""lib-net over real sockets with Python's ssl: implicit TLS, STARTTLS,
the RFC 3207 section 4.2 injection case, line ends, and IPv6."""
import ssl
import warnings

import pytest

from netutil import LineClient, NetTestServer, client_context, ipv6_available


@pytest.fixture
def server():
    srv = NetTestServer()
    yield srv
    assert srv.stop() == 0


GREETING = "+OK net-test-server ready"


def test_implicit_tls_handshake(server):
    host, port = server.addrs["tls"][0]
    c = LineClient(host, port)
    # The generated certificate verifies for localhost with its own file.
    c.wrap(client_context(cafile=server.cert_path()))
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert c.line() == GREETING
    info = c.cmd("TLSINFO")
    assert info.startswith("+OK tls TLSv1.3 "), info
    assert c.cmd("ECHO over tls") == "+OK crlf over tls"
    assert c.cmd("QUIT") == "+OK bye"
    assert c.line() is None
    c.close()


def test_tls12_accepted(server):
    host, port = server.addrs["tls"][0]
    c = LineClient(host, port)
    c.wrap(client_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert c.sock.version() == "TLSv1.2"
    assert c.line() == GREETING
    assert c.cmd("TLSINFO").startswith("+OK tls TLSv1.2 ")
    c.close()


def test_tls11_refused(server):
    host, port = server.addrs["tls"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v11 = ssl.TLSVersion.TLSv1_1
    ctx = client_context(minimum=v11, maximum=v11)
    # Let the client offer TLS 1.1 at all, so the refusal is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    c = LineClient(host, port)
    with pytest.raises(ssl.SSLError):
        c.wrap(ctx)
    c.close()
    server.stop()
    assert "unsupported protocol" in server.log_text() or \
        "no protocols available" in server.log_text()


def test_starttls_upgrade(server):
    host, port = server.addrs["plain"][0]
    c = LineClient(host, port)
    assert c.line() == GREETING
    assert c.cmd("TLSINFO") == "+OK plain"
    assert c.cmd("STARTTLS") == "+OK begin TLS"
    c.wrap(client_context(cafile=server.cert_path()))
    assert c.cmd("TLSINFO").startswith("+OK tls TLSv1.3 ")
    assert c.cmd("STARTTLS") == "-ERR TLS not available"
    assert c.cmd("QUIT") == "+OK bye"
    assert c.line() is None
    c.close()


def test_starttls_injection_discarded(server):
    """RFC 3207 section 4.2: a command pipelined after STARTTLS in the same
    packet travelled in plaintext and must be thrown away."""
    host, port = server.addrs["plain"][0]
    c = LineClient(host, port)
    assert c.line() == GREETING
    c.send("STARTTLS\r\nECHO injected\r\n")
    assert c.line() == "+OK begin TLS"
    c.wrap(client_context())
    assert c.cmd("ECHO after") == "+OK crlf after"
    c.close()
    server.stop()
    log = server.log_text()
    assert "event=starttls_discard bytes=15" in log, log


def test_line_ends_flagged(server):
    host, port = server.addrs["plain"][0]
    c = LineClient(host, port)
    assert c.line() == GREETING
    c.send("ECHO a\r\nECHO b\nECHO c\rd\r\n")
    assert c.line() == "+OK crlf a"
    assert c.line() == "+OK lf b"
    assert c.line() == "+OK crlf c\rd"
    c.close()


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_ipv6_loopback():
    srv = NetTestServer(plain=("[::1]:0",), tls=("[::1]:0",))
    try:
        host, port = srv.addrs["plain"][0]
        assert host == "::1"
        c = LineClient(host, port)
        assert c.line() == GREETING
        assert c.cmd("ECHO six") == "+OK crlf six"
        assert c.cmd("STARTTLS") == "+OK begin TLS"
        c.wrap(client_context())
        assert c.cmd("TLSINFO").startswith("+OK tls ")
        c.close()
        host, port = srv.addrs["tls"][0]
        c = LineClient(host, port)
        c.wrap(client_context())
        assert c.line() == GREETING
        c.close()
    finally:
        assert srv.stop() == 0
    assert "event=connect service=test ip=::1 " in srv.log_text()
