# SPDX-License-Identifier: MIT
"""Several posthornd instances playing separate domains on their own
loopback addresses (a.test on 127.0.0.2, b.test on 127.0.0.3, ...), and
reading what one of them stored. Shared by the two-instance tests."""
import os
import re
import subprocess
import time

import pytest

from conftest import (BUILD, HERMETIC_DNS, PosthornServer, check_log_clean,
                      free_ports)

DUMP = os.path.join(BUILD, "tests", "unit", "smtpd", "smtp-store-dump")
ENQUEUE = os.path.join(BUILD, "tests", "unit", "queue", "queue-enqueue")

# The relay settings every sending instance uses: the peer's MX port, our
# own source address (so the peer sees the right client IP), short waits.
OUTBOUND = ("[outbound]\nmx_port = %d\nsource = %s\n"
            "connect_timeout = 5s\ncommand_timeout = 10s\n")


def require_tools(*tools):
    for tool in tools:
        if not os.path.exists(tool):
            pytest.skip("%s is not built" % tool)


def prepare_instance(workdir, host, hostname, listeners=("smtp",), extra="",
                     ports=None):
    """A daemon, not started, named hostname, with the given listeners on
    host (free ports, or ports: {listener: port} chosen by the caller, for
    instances that name each other's ports), its data directory under
    workdir and extra appended to its configuration; hermetic DNS unless
    extra sets a resolver."""
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    if ports is None:
        ports = dict(zip(listeners, free_ports(len(listeners), host)))
    addr = "[%s]:%d" if ":" in host else "%s:%d"
    config_path = os.path.join(workdir, "posthorn.conf")
    with open(config_path, "w") as f:
        f.write("[server]\nhostname = %s\ndata_dir = %s\nlog_level = debug\n"
                "[listen]\n%s\n%s\n%s"
                % (hostname, data_dir,
                   "\n".join(("%s = " + addr) % (n, host, p)
                             for n, p in ports.items()),
                   "" if "resolver =" in extra
                   else "\n".join(HERMETIC_DNS), extra))
    return PosthornServer(workdir, ports, config_path, data_dir, host)


def start_instance(workdir, host, hostname, listeners=("smtp",), extra=""):
    """prepare_instance(), started."""
    return prepare_instance(workdir, host, hostname, listeners,
                            extra).start()


def stop_all(servers):
    """Stops every instance before judging any, so a failed check never
    leaves another one running; then checks each exit and log."""
    stopped = [(server, server.stop()) for server in servers]
    for server, rc in stopped:
        check_log_clean(server.log())
        assert rc == 0, "posthornd exited %s:\n%s" % (rc, server.log())


def add_users(server, domain, *users, password="pw"):
    server.cli("domain", "add", domain, check=True)
    for user in users:
        server.cli("user", "add", user, "--password-stdin",
                   input=password + "\n", check=True)


def stored(server, address, mailbox="INBOX"):
    """The messages stored for address in mailbox, as a list of bytes."""
    res = subprocess.run([DUMP, server.data_dir, address, mailbox],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    out, msgs = res.stdout, []
    while out:
        m = re.match(rb"MESSAGE (\d+) (\d+)\n", out)
        assert m, out[:200]
        size = int(m.group(2))
        start = m.end()
        msgs.append(out[start:start + size])
        assert out[start + size:start + size + 1] == b"\n"
        out = out[start + size + 1:]
    return msgs


def wait_stored(server, address, count, timeout=15.0, mailbox="INBOX"):
    """Waits until address has at least count messages in mailbox."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = stored(server, address, mailbox)
        if len(msgs) >= count:
            return msgs
        if time.monotonic() > deadline:
            pytest.fail("%s has %d messages in %s, expected %d; log:\n%s"
                        % (address, len(msgs), mailbox, count,
                           server.log()))
        time.sleep(0.1)


def enqueue(server, sender, rcpts, data):
    """Queues data for rcpts in server's store (posthornd may be running
    or not); returns the queue id."""
    res = subprocess.run([ENQUEUE, server.data_dir, sender] + list(rcpts),
                         input=data, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    return int(res.stdout.split()[0])
