# SPDX-License-Identifier: MIT
"""Integration harness: a real posthornd on loopback with a temporary data
directory and configuration.

Fixtures:
  posthorn          a started daemon with every listener on a free port
  posthorn_factory  start(extra_config=..., user=..., ...) for variations
  posthorn_config   write_config(...) without starting anything

The object they yield (PosthornServer) has .ports (listener name -> port),
.host, .data_dir, .config_path, .pid, .cli(*args, input=None) to run the
posthorn command against the same configuration, .log() with the daemon's
log so far, .wait_log(pattern), .control(command) for the control socket,
.reload() (SIGHUP) and .stop().

On teardown the daemon gets SIGTERM and must exit 0 with a log free of
sanitizer reports. Later protocol work adds its real-client tests on top.
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTHORN_BUILD") or os.path.join(REPO, "build")
POSTHORND = os.path.join(BUILD, "posthornd")
POSTHORN = os.path.join(BUILD, "posthorn")
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared"))

LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3",
             "pop3s")
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",  # UBSan
    "level=fatal",
)


def shared_path(*parts):
    """Path inside ../shared, or None when the directory is absent (a clone
    on its own)."""
    if not os.path.isdir(SHARED):
        return None
    return os.path.join(SHARED, *parts)


def require_shared(*parts):
    """Skips the calling test with a clear notice when ../shared (or the
    given path inside it) is missing; returns the path otherwise."""
    path = shared_path(*parts)
    if path is None or not os.path.exists(path):
        pytest.skip("needs %s, which is absent (a clone on its own): skipped"
                    % os.path.join(SHARED, *parts))
    return path


def free_ports(count, host="127.0.0.1"):
    """count distinct free TCP ports on host (bound to port 0, then
    released)."""
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def cli_has_store():
    """True when build/posthorn has the store-backed commands."""
    out = subprocess.run([POSTHORN, "--help"], capture_output=True, text=True)
    return "not built yet" not in out.stdout


def require_store():
    if not cli_has_store():
        pytest.skip("the store and lib-auth are not built into posthorn yet")


def daemon_has_listeners(server):
    """True when the daemon bound at least one listener (lib-net and a
    protocol are built in)."""
    return re.search(r"event=ready .*listeners=\"[a-z]", server.log()) is not None


def check_log_clean(text):
    for pat in SANITIZER_PATTERNS:
        assert pat not in text, "daemon log has %r:\n%s" % (pat, text)


class PosthornServer:
    def __init__(self, workdir, ports, config_path, data_dir, host):
        self.workdir = workdir
        self.ports = ports
        self.config_path = config_path
        self.data_dir = data_dir
        self.host = host
        self.proc = None
        self._log = []
        self._stdout = []
        self._lock = threading.Lock()
        self._threads = []

    # -- process --
    def start(self, extra_args=(), cwd=None, env=None):
        cmd = [POSTHORND] + list(extra_args)
        if self.config_path is not None:
            cmd += ["-c", self.config_path]
        self.proc = subprocess.Popen(cmd, cwd=cwd or self.workdir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        for stream, sink in ((self.proc.stderr, self._log),
                             (self.proc.stdout, self._stdout)):
            t = threading.Thread(target=self._pump, args=(stream, sink),
                                 daemon=True)
            t.start()
            self._threads.append(t)
        self.wait_log(r"event=ready", READY_TIMEOUT)
        return self

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._lock:
                sink.append(raw.decode("utf-8", "replace"))
        stream.close()

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with self._lock:
            return "".join(self._log)

    def stdout(self):
        with self._lock:
            return "".join(self._stdout)

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until the log (from byte offset start) matches pattern;
        fails with the log when the daemon exits or the timeout passes."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            m = rx.search(text, start)
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the pump threads finish
                pytest.fail("posthornd exited (%s) before %r:\n%s"
                            % (self.proc.returncode, pattern, self.log()))
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for %r in the log:\n%s"
                            % (pattern, text))
            time.sleep(0.02)

    def reload(self):
        offset = len(self.log())
        self.proc.send_signal(signal.SIGHUP)
        return offset

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon; returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("posthornd did not stop within %ss:\n%s"
                        % (STOP_TIMEOUT, self.log()))
        for t in self._threads:
            t.join(5)
        return self.proc.returncode

    # -- clients --
    def cli(self, *args, input=None, check=False):
        """Runs build/posthorn -c CONFIG ARGS...; returns the
        CompletedProcess (text mode)."""
        cmd = [POSTHORN]
        if self.config_path is not None:
            cmd += ["-c", self.config_path]
        cmd += list(args)
        res = subprocess.run(cmd, input=input, capture_output=True, text=True,
                             cwd=self.workdir, timeout=60)
        if check and res.returncode != 0:
            pytest.fail("%s failed (%d): %s" % (" ".join(cmd), res.returncode,
                                                res.stderr))
        return res

    def control(self, command, timeout=5.0):
        """Sends one line to the control socket and returns the reply."""
        path = os.path.join(self.data_dir, "control")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
        return data.decode().rstrip("\r\n")


# Tests never ask the network: names outside a test's [dns] static zone do
# not exist (example.org's real SPF/DMARC records would otherwise decide
# what the MX accepts on a machine with internet access).
HERMETIC_DNS = ["[dns]", "resolver = static"]


def write_config(path, data_dir, ports, host="127.0.0.1", user=None,
                 extra=""):
    """Writes a configuration with every listener in ports on host.
    extra is appended as is (more sections)."""
    lines = ["[server]", "hostname = localhost", "data_dir = %s" % data_dir,
             "log_level = debug"]
    if user:
        lines.append("user = %s" % user)
    lines.append("[listen]")
    for name in LISTENERS:
        if name in ports:
            fmt = "[%s]:%d" if ":" in host else "%s:%d"
            lines.append(("%s = " + fmt) % (name, host, ports[name]))
    if "resolver =" not in extra:
        lines += HERMETIC_DNS
    text = "\n".join(lines) + "\n" + extra
    with open(path, "w") as f:
        f.write(text)
    return text


@pytest.fixture
def posthorn_factory(tmp_path):
    servers = []

    def start(extra="", user=None, host="127.0.0.1", workdir=None,
              listeners=LISTENERS):
        wd = workdir or str(tmp_path)
        data_dir = os.path.join(wd, "data")
        config_path = os.path.join(wd, "posthorn.conf")
        # A port found free can be taken by another process before the
        # daemon binds it: then start again on fresh ports.
        for attempt in range(5):
            ports = dict(zip(listeners, free_ports(len(listeners), host)))
            write_config(config_path, data_dir, ports, host, user, extra)
            server = PosthornServer(wd, ports, config_path, data_dir, host)
            servers.append(server)
            try:
                return server.start()
            except pytest.fail.Exception:
                if (attempt == 4 or server.proc.poll() is None or
                        "Address already in use" not in server.log()):
                    raise
                servers.remove(server)

    yield start
    # Every daemon is stopped before any is judged, so a failed check
    # never leaves another one running.
    stopped = [(server, server.stop()) for server in servers]
    for server, rc in stopped:
        check_log_clean(server.log())
        assert rc == 0, "posthornd exited %s:\n%s" % (rc, server.log())


@pytest.fixture
def posthorn(posthorn_factory):
    return posthorn_factory()


@pytest.fixture
def world_dir():
    """A temporary directory every user can traverse (for tests that run
    the daemon as another user: pytest's tmp_path is root-only)."""
    d = tempfile.mkdtemp(prefix="posthorn-it-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)
