# SPDX-License-Identifier: MIT
"""A posthornd under test for the reliability scripts: own data directory
and configuration, every listener on a free loopback port, start / SIGKILL
/ restart, one account (alice@example.org). Standalone (no pytest needed),
so the long modes run from a shell."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTHORN_BUILD") or os.path.join(REPO, "build")
POSTHORND = os.path.join(BUILD, "posthornd")
POSTHORN = os.path.join(BUILD, "posthorn")
LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3",
             "pop3s")
USER = "alice@example.org"
PASSWORD = "pw-reliability"
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                      "runtime error:", "level=fatal")


def free_ports(count):
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class Daemon:
    def __init__(self, workdir, extra="", data_dir=None):
        self.workdir = workdir
        self.data_dir = data_dir or os.path.join(workdir, "data")
        self.ports = dict(zip(LISTENERS, free_ports(len(LISTENERS))))
        self.config_path = os.path.join(workdir, "posthorn.conf")
        lines = ["[server]", "hostname = localhost",
                 "data_dir = %s" % self.data_dir, "log_level = info",
                 "[listen]"]
        for name, port in self.ports.items():
            lines.append("%s = 127.0.0.1:%d" % (name, port))
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        self.proc = None
        self.logs = []      # one list of lines per run
        self._lock = threading.Lock()

    def start(self, timeout=30.0):
        self.proc = subprocess.Popen([POSTHORND, "-c", self.config_path],
                                     cwd=self.workdir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        sink = []
        self.logs.append(sink)
        t = threading.Thread(target=self._pump, args=(self.proc.stderr, sink),
                             daemon=True)
        t.start()
        self._pump_thread = t
        deadline = time.monotonic() + timeout
        while "event=ready" not in self.log():
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise RuntimeError("posthornd exited %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError("posthornd not ready:\n" + self.log())
            time.sleep(0.02)
        return self

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._lock:
                sink.append(raw.decode("utf-8", "replace"))
        stream.close()

    def has_listener(self, name):
        """True when the last start answered on listener name (its
        protocol is built in)."""
        m = re.search(r'event=ready .*listeners="([^"]*)"', self.log())
        return m is not None and re.search(r"(^| )%s=" % name,
                                           m.group(1)) is not None

    def log(self, run=-1):
        with self._lock:
            return "".join(self.logs[run]) if self.logs else ""

    def all_logs(self):
        with self._lock:
            return "".join("".join(l) for l in self.logs)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._pump_thread.join(5)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("posthornd did not stop:\n" + self.log())
        self._pump_thread.join(5)
        return self.proc.returncode

    def sanitizer_reports(self):
        text = self.all_logs()
        return [p for p in SANITIZER_PATTERNS if p in text]

    def cli(self, *args, input=None):
        res = subprocess.run([POSTHORN, "-c", self.config_path] + list(args),
                             input=input, capture_output=True, text=True,
                             cwd=self.workdir, timeout=60)
        if res.returncode != 0:
            raise RuntimeError("posthorn %s: %s" % (" ".join(args), res.stderr))
        return res.stdout

    def add_account(self):
        self.cli("domain", "add", "example.org")
        self.cli("user", "add", USER, "--password-stdin",
                 input=PASSWORD + "\n")

    def rss_kb(self):
        """VmRSS of the daemon in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1))

    def pss_kb(self):
        try:
            with open("/proc/%d/smaps_rollup" % self.proc.pid) as f:
                m = re.search(r"Pss:\s+(\d+) kB", f.read())
            return int(m.group(1))
        except OSError:
            return None


def has_protocols():
    """posthornd and posthorn are built with the store and protocols."""
    if not (os.path.exists(POSTHORND) and os.path.exists(POSTHORN)):
        return False
    out = subprocess.run([POSTHORN, "--help"], capture_output=True, text=True)
    return "not built yet" not in out.stdout
