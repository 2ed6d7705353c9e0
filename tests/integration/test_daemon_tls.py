# SPDX-License-Identifier: MIT
"""TLS as posthornd wires it: the self-signed pair generated on first start
serves implicit-TLS listeners (a handshake with Python's ssl) and STARTTLS,
and SIGHUP reloads it. Each check runs once the protocol answering on that
listener is built in, and skips before."""
import os
import re
import smtplib
import socket
import ssl

import pytest

from conftest import mode_of

IMPLICIT = ("submissions", "imaps", "pop3s")


def bound_listeners(server):
    m = re.search(r'event=ready .*listeners="([^"]*)"', server.log())
    return dict(i.split("=", 1) for i in m.group(1).split()) if m.group(1) else {}


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def test_selfsigned_created(posthorn):
    if not bound_listeners(posthorn):
        pytest.skip("no listener bound yet (lib-net or protocols not built)")
    for name in ("selfsigned-cert.pem", "selfsigned-key.pem"):
        path = os.path.join(posthorn.data_dir, name)
        assert os.path.exists(path)
        assert mode_of(path) == 0o600
    assert "event=tls-selfsigned-created" in posthorn.log()


@pytest.mark.parametrize("name", IMPLICIT)
def test_implicit_tls_handshake(posthorn, name):
    if name not in bound_listeners(posthorn):
        pytest.skip("%s is not answering yet (its protocol is not built)" % name)
    port = posthorn.ports[name]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_context().wrap_socket(raw) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            der = tls.getpeercert(binary_form=True)
            assert der
            pem = ssl.DER_cert_to_PEM_cert(der)
    own = open(os.path.join(posthorn.data_dir, "selfsigned-cert.pem")).read()
    assert pem.split("-----")[2].split() == own.split("-----")[2].split()


def test_smtp_starttls(posthorn):
    if "smtp" not in bound_listeners(posthorn):
        pytest.skip("smtp is not answering yet")
    with smtplib.SMTP("127.0.0.1", posthorn.ports["smtp"], timeout=10) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls")
        s.starttls(context=client_context())
        code, _ = s.ehlo("client.example")
        assert code == 250
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_tls_reload(posthorn):
    if not bound_listeners(posthorn):
        pytest.skip("no listener bound yet")
    start = posthorn.reload()
    posthorn.wait_log(r"event=tls-reloaded selfsigned=yes", start=start)


def test_handshake_timeout_applies(posthorn_factory):
    """[limits] handshake_timeout bounds a TLS handshake that never comes:
    a client that connects to imaps and sends nothing is dropped with a
    handshake-timeout log line, well before the idle timeout (1 h here)."""
    server = posthorn_factory(extra="[limits]\nhandshake_timeout = 1s\n"
                                    "imap_idle_timeout = 1h\n")
    if "imaps" not in bound_listeners(server):
        pytest.skip("imaps is not built in yet")
    s = socket.create_connection(("127.0.0.1", server.ports["imaps"]),
                                 timeout=60)
    try:
        # 15 s: half the default, so only the configured 1 s can pass.
        server.wait_log(r'event=tls_failed error="handshake timeout"', 15)
        assert s.recv(1) == b""  # closed by the server
    finally:
        s.close()
