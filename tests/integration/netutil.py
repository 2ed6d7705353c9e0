# SPDX-License-Identifier: MIT
"""Shared helpers for the lib-net integration tests (test_net_*.py).

Starts tests/net/net-test-server from the build directory ($POSTHORN_BUILD,
else ./build), waits for its "ready" line, and offers a small line client
over plain or TLS sockets.
"""
import os
import selectors
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 10


def build_dir():
    return os.environ.get("POSTHORN_BUILD", os.path.join(ROOT, "build"))


def server_binary():
    path = os.path.join(build_dir(), "tests", "net", "net-test-server")
    if not os.path.exists(path):
        pytest.skip("net-test-server not built: " + path)
    return path


def ipv6_available():
    """True when a socket can be bound to ::1 on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class NetTestServer:
    """A running net-test-server; addrs maps kind ("plain", "tls") to a
    list of (host, port)."""

    def __init__(self, plain=("127.0.0.1:0",), tls=("127.0.0.1:0",),
                 extra_args=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="posthorn-net-")
        self.log_path = os.path.join(self.tmp.name, "server.log")
        args = [server_binary(), "--cert-dir", self.tmp.name]
        for a in plain:
            args += ["--plain", a]
        for a in tls:
            args += ["--tls", a]
        args += list(extra_args)
        self.final_log = None
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.addrs = {"plain": [], "tls": []}
        line = self._read_ready()
        for tok in line.split()[1:]:
            kind, addr = tok.split("=", 1)
            host, port = addr.rsplit(":", 1)
            self.addrs[kind].append((host.strip("[]"), int(port)))

    def _read_ready(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + TIMEOUT
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.stop()
                raise AssertionError("server did not print ready")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.stop()
                raise AssertionError("server exited: " + self.log_text())
            buf += chunk
        line = buf.split(b"\n", 1)[0].decode()
        assert line.startswith("ready"), line
        return line

    def cert_path(self):
        return os.path.join(self.tmp.name, "selfsigned-cert.pem")

    def log_text(self):
        """The server's log so far (all of it once stopped)."""
        if self.final_log is not None:
            return self.final_log
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM, waits for the exit and returns its code. Idempotent;
        the log stays readable through log_text()."""
        if self.final_log is not None:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        self.final_log = self.log_text()
        self.tmp.cleanup()
        return self.proc.returncode


def client_context(cafile=None, minimum=None, maximum=None):
    """A client context; verifies against cafile when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Tests may offer TLS 1.1 on purpose, to see it refused.
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    return ctx


class LineClient:
    """Blocking line client; every read times out after TIMEOUT."""

    def __init__(self, host, port):
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""

    def wrap(self, ctx, server_hostname="localhost"):
        """Client TLS handshake on the current socket (implicit TLS or
        after STARTTLS). Plaintext already buffered would be lost."""
        assert self.buf == b"", "unread plaintext before TLS"
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """The next line without CRLF, or None at EOF."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode()

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def close(self):
        self.sock.close()
