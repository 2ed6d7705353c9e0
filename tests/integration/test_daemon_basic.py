# SPDX-License-Identifier: MIT
"""posthornd: start/stop, --check, the control socket, SIGHUP, the embedded
default's banner and the privilege drop."""
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (POSTHORND, PosthornServer, check_log_clean, free_ports,
                      mode_of, write_config)


def test_start_stop(posthorn):
    log = posthorn.log()
    assert re.search(r"event=start version=\S+ config=\S+posthorn.conf", log)
    assert "event=ready pid=%d" % posthorn.pid in log
    assert mode_of(posthorn.data_dir) == 0o700
    sock = os.path.join(posthorn.data_dir, "control")
    assert mode_of(sock) == 0o600
    assert posthorn.stop() == 0
    log = posthorn.log()
    assert "event=stopping signal=TERM" in log
    assert "event=stopped" in log
    assert not os.path.exists(sock)
    check_log_clean(log)


def test_sigint_stops(posthorn):
    assert posthorn.stop(signal.SIGINT) == 0
    assert "event=stopping signal=INT" in posthorn.log()


def test_listeners_or_warning(posthorn):
    """Every configured listener is either bound (its protocol is built) or
    reported once as skipped; the ready line names what is bound."""
    log = posthorn.log()
    ready = re.search(r'event=ready .*listeners="([^"]*)"', log).group(1)
    bound = dict(item.split("=", 1) for item in ready.split()) if ready else {}
    for name, port in posthorn.ports.items():
        skipped = len(re.findall(r"event=listener-skipped listener=%s " % name,
                                 log))
        if name in bound:
            assert bound[name] == "127.0.0.1:%d" % port
            assert skipped == 0
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        else:
            assert skipped == 1, log


def test_control_socket(posthorn):
    assert posthorn.control("ping") == "OK pong"
    assert posthorn.control("queue-wake") == "OK"
    assert posthorn.control("auth-flush nobody@localhost") == "OK"
    assert posthorn.control("mailbox-changed a@localhost INBOX") == "OK"
    assert posthorn.control("bogus") == "ERR unknown command"
    assert posthorn.control("ping extra") == "ERR wrong number of arguments for ping"
    assert posthorn.control("auth-flush a@b notanumber") == "ERR bad account id"
    assert posthorn.control("") == "ERR empty command"
    # Several commands on one connection, answered in order.
    path = os.path.join(posthorn.data_dir, "control")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"ping\nqueue-wake\n")
        data = b""
        while data.count(b"\n") < 2:
            data += s.recv(100)
        assert data == b"OK pong\nOK\n"
    # A line that never ends is refused, and the daemon carries on.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"x" * 5000)
        assert s.recv(100) == b"ERR line too long\n"
    assert posthorn.control("ping") == "OK pong"


def test_second_daemon_refused(posthorn):
    """A second posthornd on the same data directory finds the first one's
    control socket alive and refuses to start."""
    ports = dict(zip(posthorn.ports, free_ports(len(posthorn.ports))))
    conf = os.path.join(posthorn.workdir, "second.conf")
    write_config(conf, posthorn.data_dir, ports)
    res = subprocess.run([POSTHORND, "-c", conf], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert "another posthornd is running on %s" % posthorn.data_dir in res.stderr
    assert posthorn.control("ping") == "OK pong"


def test_reload(posthorn):
    conf = posthorn.config_path
    text = open(conf).read()

    # A valid change: applied, no restart needed.
    with open(conf, "w") as f:
        f.write(text.replace("log_level = debug", "log_level = info"))
    start = posthorn.reload()
    posthorn.wait_log(r"event=reloaded", start=start)
    assert "reload-restart-needed" not in posthorn.log()[start:]

    # A bad file: every problem logged, the old configuration kept.
    with open(conf, "w") as f:
        f.write(text + "[limits]\nmax_connections = lots\nbogus = 1\n")
    start = posthorn.reload()
    posthorn.wait_log(r"server.bogus|limits.bogus", start=start)
    tail = posthorn.log()[start:]
    assert "event=reload-failed" in tail
    assert "limits.max_connections: expected a number from 1 to 1000000" in tail
    assert "limits.bogus: unknown key" in tail
    assert posthorn.control("ping") == "OK pong"

    # A port change needs a restart, and says so.
    new_port = free_ports(1)[0]
    with open(conf, "w") as f:
        f.write(re.sub(r"imap = 127.0.0.1:\d+", "imap = 127.0.0.1:%d" % new_port,
                       text))
    start = posthorn.reload()
    m = posthorn.wait_log(r"event=reload-restart-needed keys=(\S+)", start=start)
    assert m.group(1) == "listen.imap"
    posthorn.wait_log(r"event=reloaded", start=start)

    # The control socket can ask for a reload too.
    start = len(posthorn.log())
    assert posthorn.control("reload") == "OK"
    posthorn.wait_log(r"event=reloaded", start=start)


def test_missing_config_file(tmp_path):
    path = str(tmp_path / "nope.conf")
    res = subprocess.run([POSTHORND, "-c", path], capture_output=True,
                         text=True)
    assert res.returncode == 1
    assert res.stderr == "%s: cannot open: No such file or directory\n" % path


def test_version_help_usage():
    res = subprocess.run([POSTHORND, "--version"], capture_output=True, text=True)
    assert res.returncode == 0
    assert re.fullmatch(r"posthornd \d+\.\d+\.\d+\n", res.stdout)
    res = subprocess.run([POSTHORND, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--check" in res.stdout
    res = subprocess.run([POSTHORND, "--bogus"], capture_output=True, text=True)
    assert res.returncode == 1 and "Usage: posthornd" in res.stderr
    res = subprocess.run([POSTHORND, "extra"], capture_output=True, text=True)
    assert res.returncode == 1
    assert "posthornd: unexpected argument: extra" in res.stderr


EMBEDDED_PORTS = (2525, 2587, 2465, 2143, 2993, 2110, 2995)


def embedded_ports_free():
    for port in EMBEDDED_PORTS:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def test_embedded_default_banner(tmp_path):
    """No -c: the embedded default, data in ./posthorn-data, and a banner
    on stdout (not in the log) naming what to connect to; the demo
    password appears on the first start only."""
    if not embedded_ports_free():
        pytest.skip("the embedded default's fixed ports (2525...) are in use")
    wd = str(tmp_path)
    data_dir = os.path.join(wd, "posthorn-data")
    banners = []
    for _ in range(2):
        server = PosthornServer(wd, {}, None, data_dir, "127.0.0.1")
        try:
            server.start()
        except pytest.fail.Exception:
            if "in use" in server.log():
                pytest.skip("an embedded default port was taken meanwhile")
            raise
        # The banner is printed right after the ready line.
        deadline = time.monotonic() + 10
        while "Stop with Ctrl-C." not in server.stdout():
            assert time.monotonic() < deadline, server.stdout()
            time.sleep(0.02)
        assert server.stop() == 0
        check_log_clean(server.log())
        banners.append(server.stdout())
        assert "Posthorn" not in server.log()
        assert "config=<embedded>" in server.log()
    first, second = banners
    assert "embedded default configuration" in first
    for name, port in zip(("smtp", "submission", "submissions", "imap",
                           "imaps", "pop3", "pop3s"), EMBEDDED_PORTS):
        assert re.search(r"^  %s +127\.0\.0\.1:%d " % (name, port), first,
                         re.M), first
    assert "Data directory: ./posthorn-data" in first
    assert mode_of(data_dir) == 0o700
    m = re.search(r"^Password: +(\S+)$", first, re.M)
    if "Demo account:" in first:
        assert m, first
        assert len(m.group(1)) == 16
        assert m.group(1) not in second
        assert "as shown on the first start" in second
        assert "demo-account-created" not in "".join(banners)
    else:
        assert m is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_privilege_drop(posthorn_factory, world_dir):
    nobody = pwd.getpwnam("nobody")
    server = posthorn_factory(user="nobody", workdir=world_dir)
    log = server.log()
    assert "event=privileges-dropped user=nobody uid=%d gid=%d" % (
        nobody.pw_uid, nobody.pw_gid) in log
    status = open("/proc/%d/status" % server.pid).read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert uids == [str(nobody.pw_uid)] * 4
    assert gids == [str(nobody.pw_gid)] * 4
    assert groups == [str(nobody.pw_gid)]
    st = os.stat(server.data_dir)
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert mode_of(server.data_dir) == 0o700
    # Everything the daemon created belongs to its user, 0600 for files.
    for name in os.listdir(server.data_dir):
        p = os.path.join(server.data_dir, name)
        st = os.lstat(p)
        assert st.st_uid == nobody.pw_uid, name
        assert mode_of(p) & 0o077 == 0, name
    assert server.control("ping") == "OK pong"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_without_user_warns(posthorn):
    assert "running as root: set [server] user" in posthorn.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_unknown_user_refused(tmp_path):
    data_dir = str(tmp_path / "data")
    conf = str(tmp_path / "p.conf")
    write_config(conf, data_dir, {"imap": free_ports(1)[0]},
                 user="posthorn-no-such-user")
    res = subprocess.run([POSTHORND, "-c", conf], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert "server.user: no such user: posthorn-no-such-user" in res.stderr


def test_pid_file(tmp_path):
    """pid_file is written once listening and removed on stop."""
    pid_file = str(tmp_path / "posthornd.pid")
    data_dir = str(tmp_path / "data")
    conf = str(tmp_path / "pid.conf")
    write_config(conf, data_dir, {"imap": free_ports(1)[0]})
    text = open(conf).read().replace("[server]\n",
                                     "[server]\npid_file = %s\n" % pid_file)
    open(conf, "w").write(text)
    server = PosthornServer(str(tmp_path), {}, conf, data_dir, "127.0.0.1")
    server.start()
    try:
        assert open(pid_file).read() == "%d\n" % server.pid
    finally:
        assert server.stop() == 0
    check_log_clean(server.log())
    assert not os.path.exists(pid_file)


def test_bad_data_dir_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    conf = str(tmp_path / "p.conf")
    write_config(conf, str(blocker / "data"), {"imap": free_ports(1)[0]})
    res = subprocess.run([POSTHORND, "-c", conf], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert re.search(r'event=start-failed error="cannot create %s/data: Not a directory"'
                     % re.escape(str(blocker)), res.stderr), res.stderr


def test_port_in_use_refused(tmp_path, posthorn):
    """A listener that cannot bind stops the start with exit 1 (once its
    protocol is built in: before, the listener is skipped)."""
    bound = re.search(r'event=ready .*listeners="([^"]*)"', posthorn.log()).group(1)
    if not bound:
        pytest.skip("no listener is bound yet (protocols not built)")
    name, addr = bound.split()[0].split("=", 1)
    conf = str(tmp_path / "clash.conf")
    write_config(conf, str(tmp_path / "data2"), {name: posthorn.ports[name]})
    res = subprocess.run([POSTHORND, "-c", conf], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert "event=start-failed" in res.stderr
    assert "listen.%s %s" % (name, addr) in res.stderr
    assert "in use" in res.stderr
