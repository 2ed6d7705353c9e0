# SPDX-License-Identifier: MIT
"""POP3 with real clients: fetchmail (delete and keep mode, STLS and pop3s)
and curl (pop3:// with and without STLS, pop3s://)."""
import os
import shutil
import subprocess

import pytest

from test_pop3_protocol import (MSG1, MSG2, MSG3, PASSWORD, USER, crlf,
                                make_env)


@pytest.fixture
def env(posthorn_factory, tmp_path):
    return make_env(posthorn_factory, tmp_path)


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip("%s is not installed (scripts/deps.txt)" % tool)
    return path


def fetchmail(env, tmp_path, *options, implicit_tls=False):
    """Runs fetchmail once; returns (exit status, [messages fetched])."""
    need("fetchmail")
    out = tmp_path / "fetched"
    out.mkdir(exist_ok=True)
    rc = tmp_path / "fetchmailrc"
    port = env.port_tls if implicit_tls else env.port
    rc.write_text('poll 127.0.0.1 protocol pop3 port %d\n'
                  '  username "%s" password "%s"\n' % (port, USER, PASSWORD))
    os.chmod(rc, 0o600)
    # The MDA gets each message on stdin: one file per message.
    mda = "cat > $(mktemp %s/msg.XXXXXXXX)" % out
    cmd = ["fetchmail", "-f", str(rc), "--idfile", str(tmp_path / "ids"),
           "--nosyslog", "-v", "--mda", mda, "--nosslcertck"]
    cmd += ["--ssl"] if implicit_tls else []
    cmd += list(options)
    env_vars = dict(os.environ, HOME=str(tmp_path))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                         env=env_vars)
    got = sorted(p.read_bytes() for p in out.iterdir())
    for p in out.iterdir():
        p.unlink()
    return res, got


def strip_fetchmail_headers(msg):
    """fetchmail adds a Received: line (and may add Status:); compare the
    message from its original first header on."""
    text = msg.replace(b"\r\n", b"\n")
    lines = text.split(b"\n")
    while lines and (lines[0].startswith(b"Received:") or
                     lines[0].startswith((b"\t", b" "))):
        lines.pop(0)
    return b"\n".join(lines)


def test_fetchmail_delete_mode_stls(env, tmp_path):
    env.append(USER, MSG1, MSG2)
    # sslproto forces STLS on the plain port (no cleartext fallback).
    res, got = fetchmail(env, tmp_path, "--nokeep", "--fetchall",
                         "--sslproto", "TLS1.2+")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "STLS" in res.stderr + res.stdout
    assert len(got) == 2
    bodies = sorted(strip_fetchmail_headers(m) for m in got)
    assert bodies == sorted(m.encode() for m in (MSG1, MSG2))
    # Deleted on the server, durably.
    assert env.inbox(USER) == []
    res, got = fetchmail(env, tmp_path, "--nokeep", "--fetchall",
                         "--sslproto", "TLS1.2+")
    assert res.returncode == 1 and got == []  # 1 = no mail


def test_fetchmail_keep_mode_pop3s(env, tmp_path):
    env.append(USER, MSG1, MSG2)
    before = env.inbox(USER)
    res, got = fetchmail(env, tmp_path, "--keep", "--uidl",
                         implicit_tls=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(got) == 2
    assert env.inbox(USER) == before
    # UIDLs are stable: the second run fetches only the new message.
    env.append(USER, MSG3)
    res, got = fetchmail(env, tmp_path, "--keep", "--uidl",
                         implicit_tls=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert [strip_fetchmail_headers(m) for m in got] == [MSG3.encode() + b"\n"]
    assert len(env.inbox(USER)) == 3


def curl(*args):
    need("curl")
    return subprocess.run(["curl", "-sS", "--max-time", "30"] + list(args),
                          capture_output=True, timeout=60)


def test_curl_pop3(env):
    env.append(USER, MSG1, MSG2)
    url = "pop3://127.0.0.1:%d/" % env.port
    auth = ["-u", "%s:%s" % (USER, PASSWORD)]
    # LIST (plaintext, allowed on loopback by the configuration)
    res = curl(url, *auth)
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"1 %d\r\n2 %d\r\n" % (len(crlf(MSG1)),
                                                  len(crlf(MSG2)))
    # RETR, dot-unstuffed by curl
    res = curl(url + "1", *auth)
    assert res.returncode == 0, res.stderr
    assert res.stdout == crlf(MSG1)
    # RETR over STLS, with SASL-IR
    res = curl("--ssl-reqd", "-k", "--sasl-ir", url + "2", *auth)
    assert res.returncode == 0, res.stderr
    assert res.stdout == crlf(MSG2)
    # Wrong password: login denied (curl exit 67)
    res = curl(url + "1", "-u", "%s:wrong" % USER)
    assert res.returncode == 67
    # DELE through curl, applied at its QUIT
    res = curl(url + "1", "-X", "DELE", "-I", *auth)
    assert res.returncode == 0, res.stderr
    assert len(env.inbox(USER)) == 1


def test_curl_pop3s(env):
    env.append(USER, MSG3)
    url = "pop3s://127.0.0.1:%d/" % env.port_tls
    auth = ["-u", "%s:%s" % (USER, PASSWORD)]
    res = curl("-k", url + "1", *auth)
    assert res.returncode == 0, res.stderr
    assert res.stdout == crlf(MSG3) + b"\r\n"
    res = curl("-k", "--login-options", "AUTH=LOGIN", url, *auth)
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"1 %d\r\n" % len(crlf(MSG3))
    res = curl("-k", "-X", "UIDL", url, *auth)
    assert res.returncode == 0, res.stderr
    (v, u, _), = env.inbox(USER)
    assert res.stdout == b"1 %d.%d\r\n" % (v, u)
