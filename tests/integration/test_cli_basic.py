# SPDX-License-Identifier: MIT
"""The posthorn admin command: usage, bad input (exit 1 and one line),
accounts with and without a running daemon, aliases, and the switch to the
data directory owner's user when run as root."""
import os
import pwd
import re
import subprocess

import pytest

from conftest import (POSTHORN, free_ports, require_store, write_config)


def run(*args, input=None, cwd=None):
    return subprocess.run([POSTHORN] + list(args), input=input,
                          capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture
def offline(tmp_path):
    """A configuration with no daemon running."""
    conf = str(tmp_path / "posthorn.conf")
    data_dir = str(tmp_path / "data")
    write_config(conf, data_dir, {"imap": free_ports(1)[0]})

    def cli(*args, input=None):
        return run("-c", conf, *args, input=input)
    cli.data_dir = data_dir
    cli.conf = conf
    return cli


def test_usage():
    res = run()
    assert res.returncode == 1
    assert res.stderr.startswith("Usage: posthorn [-c FILE]")
    res = run("--help")
    assert res.returncode == 0 and "Usage: posthorn" in res.stdout
    res = run("--version")
    assert res.returncode == 0
    assert re.fullmatch(r"posthorn \d+\.\d+\.\d+\n", res.stdout)
    res = run("--frobnicate")
    assert res.returncode == 1
    assert res.stderr == "posthorn: unknown option: --frobnicate (see posthorn --help)\n"
    res = run("frobnicate")
    assert res.returncode == 1
    assert res.stderr == "posthorn: unknown command: frobnicate (see posthorn --help)\n"


def test_bad_config(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nfoo = 1\nbar = 2\n")
    res = run("-c", str(conf), "domain", "list")
    if "not available in this build" in res.stderr:
        pytest.skip("the store is not built into posthorn yet")
    assert res.returncode == 1
    assert res.stderr == "posthorn: bad configuration: %s:2: server.foo: unknown key\n" % conf


# (arguments, stdin, expected stderr line); run against a store holding the
# domain example.com and the user taken@example.com.
BAD_INPUT = [
    (["user", "add", "not-an-address"], "pw\n",
     "malformed address: not-an-address"),
    (["user", "add", "a..b@example.com"], "pw\n",
     "malformed address: a..b@example.com"),
    (["user", "add", "a@exa_mple.com"], "pw\n", "malformed address: a@exa_mple.com"),
    (["user", "add", "a@unknown.example"], "pw\n",
     "unknown domain: unknown.example (add it with: posthorn domain add unknown.example)"),
    (["user", "add", "taken@example.com"], "pw\n",
     "user already exists: taken@example.com"),
    (["user", "add", "TAKEN@Example.COM"], "pw\n",
     "user already exists: taken@example.com"),
    (["user", "add", "new@example.com"], "", "missing password"),
    (["user", "add", "new@example.com", "--password-stdin"], "\n",
     "missing password"),
    (["user", "add"], "", "usage: posthorn user add ADDRESS [--password-stdin]"),
    (["user", "add", "a@example.com", "b@example.com"], "",
     "usage: posthorn user add ADDRESS [--password-stdin]"),
    (["user", "add", "new@example.com", "--force"], "pw\n",
     "unknown option for user add: --force"),
    (["user", "del", "nobody@example.com"], "", "unknown user: nobody@example.com"),
    (["user", "passwd", "nobody@example.com"], "pw\n",
     "unknown user: nobody@example.com"),
    (["user", "passwd", "taken@example.com"], "", "missing password"),
    (["user", "check", "taken@example.com"], "wrong\n",
     "password does not match for taken@example.com"),
    (["user", "frob"], "", "unknown command: user frob (see posthorn --help)"),
    (["user"], "", "usage: posthorn user VERB ... (see posthorn --help)"),
    (["domain", "add", "bad..domain"], "", "malformed domain: bad..domain"),
    (["domain", "add", "example.com"], "", "domain already exists: example.com"),
    (["domain", "del", "unknown.example"], "", "unknown domain: unknown.example"),
    (["domain", "del", "example.com"], "",
     "domain example.com still has accounts or aliases: delete them first"),
    (["domain", "add", "x.example", "--password-stdin"], "",
     "unknown option for domain add: --password-stdin"),
    (["alias", "add", "info@unknown.example", "taken@example.com"], "",
     "unknown domain: unknown.example (add it with: posthorn domain add unknown.example)"),
    (["alias", "add", "info@example.com"], "",
     "usage: posthorn alias add ALIAS TARGET..."),
    (["alias", "add", "info", "taken@example.com"], "",
     "malformed alias: info (expected user@domain or @domain)"),
    (["alias", "add", "info@example.com", "not an address"], "",
     "malformed target address: not an address"),
]


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """One store for the whole bad-input table: every case fails, so none
    changes it (and the password is hashed once, not per case)."""
    require_store()
    tmp = tmp_path_factory.mktemp("populated")
    conf = str(tmp / "posthorn.conf")
    write_config(conf, str(tmp / "data"), {"imap": free_ports(1)[0]})

    def cli(*args, input=None):
        return run("-c", conf, *args, input=input)
    assert cli("domain", "add", "example.com").returncode == 0
    res = cli("user", "add", "taken@example.com", "--password-stdin",
              input="secret\n")
    assert res.returncode == 0, res.stderr
    return cli


@pytest.mark.parametrize("args,stdin,message", BAD_INPUT,
                         ids=[" ".join(c[0]) or "none" for c in BAD_INPUT])
def test_bad_input(populated, args, stdin, message):
    res = populated(*args, input=stdin)
    assert res.returncode == 1
    assert res.stderr == "posthorn: %s\n" % message
    assert res.stdout == ""


def test_user_lifecycle_offline(offline):
    """Accounts work without a daemon; the password is checked against
    both the crypt hash and the SCRAM keys."""
    require_store()
    assert offline("domain", "add", "Example.ORG").returncode == 0
    assert offline("domain", "list").stdout == "example.org\n"
    res = offline("user", "add", "alice@example.org", input="correct horse\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    res = offline("user", "check", "alice@example.org", input="correct horse\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "password ok for alice@example.org\n"
    res = offline("user", "check", "alice@example.org", input="wrong\n")
    assert res.returncode == 1

    assert offline("user", "passwd", "alice@example.org",
                   input="battery staple\n").returncode == 0
    assert offline("user", "check", "alice@example.org",
                   input="correct horse\n").returncode == 1
    assert offline("user", "check", "alice@example.org",
                   input="battery staple\n").returncode == 0

    assert offline("user", "add", "bob@example.org", input="b\n").returncode == 0
    assert offline("user", "list").stdout == "alice@example.org\nbob@example.org\n"
    assert offline("user", "list", "example.org").stdout == \
        "alice@example.org\nbob@example.org\n"
    assert offline("user", "del", "bob@example.org").returncode == 0
    assert offline("user", "list").stdout == "alice@example.org\n"

    # Never the password in anything the command prints.
    for res in (offline("user", "list"), offline("domain", "list")):
        assert "correct horse" not in res.stdout + res.stderr
        assert "battery" not in res.stdout + res.stderr

    # A data directory only the owner can read, files 0600.
    assert os.stat(offline.data_dir).st_mode & 0o077 == 0
    for name in os.listdir(offline.data_dir):
        assert os.stat(os.path.join(offline.data_dir, name)).st_mode & 0o077 == 0, name


def test_aliases(offline):
    require_store()
    assert offline("domain", "add", "example.net").returncode == 0
    assert offline("user", "add", "carol@example.net", input="c\n").returncode == 0
    res = offline("alias", "add", "info@example.net", "carol@example.net",
                  "someone@elsewhere.example")
    assert res.returncode == 0, res.stderr
    assert offline("alias", "add", "@example.net", "carol@example.net").returncode == 0
    assert offline("alias", "list").stdout == (
        "@example.net carol@example.net\n"
        "info@example.net carol@example.net\n"
        "info@example.net someone@elsewhere.example\n")
    res = offline("alias", "add", "info@example.net", "carol@example.net")
    assert res.returncode == 1
    assert res.stderr == "posthorn: alias already exists: info@example.net\n"
    assert offline("alias", "del", "info@example.net",
                   "someone@elsewhere.example").returncode == 0
    assert offline("alias", "list", "example.net").stdout == (
        "@example.net carol@example.net\n"
        "info@example.net carol@example.net\n")
    assert offline("alias", "del", "@example.net").returncode == 0
    assert offline("alias", "del", "info@example.net").returncode == 0
    assert offline("alias", "list").stdout == ""


def test_user_add_with_daemon(posthorn):
    """With the daemon running: the command changes the store and tells the
    daemon, which drops cached authentications on password changes."""
    require_store()
    posthorn.cli("domain", "add", "example.com", check=True)
    posthorn.cli("user", "add", "dave@example.com", "--password-stdin",
                 input="first\n", check=True)
    res = posthorn.cli("user", "check", "dave@example.com", input="first\n")
    assert res.returncode == 0, res.stderr
    start = len(posthorn.log())
    res = posthorn.cli("user", "passwd", "dave@example.com", input="second\n")
    assert res.returncode == 0 and res.stderr == ""
    posthorn.wait_log(r"event=auth-flush account=dave@example.com found=yes",
                      start=start)
    assert posthorn.cli("user", "check", "dave@example.com",
                        input="second\n").returncode == 0
    start = len(posthorn.log())
    assert posthorn.cli("user", "del", "dave@example.com").returncode == 0
    posthorn.wait_log(r"event=auth-flush account=dave@example.com", start=start)
    log = posthorn.log()
    assert "first" not in log and "second" not in log


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_switches_to_owner(world_dir):
    """Run as root against a data directory owned by another user, the
    command works as that user: what it creates stays usable by the
    daemon."""
    require_store()
    nobody = pwd.getpwnam("nobody")
    data_dir = os.path.join(world_dir, "data")
    os.mkdir(data_dir, 0o700)
    os.chown(data_dir, nobody.pw_uid, nobody.pw_gid)
    conf = os.path.join(world_dir, "p.conf")
    write_config(conf, data_dir, {"imap": free_ports(1)[0]}, user="nobody")
    assert run("-c", conf, "domain", "add", "example.com").returncode == 0
    assert run("-c", conf, "user", "add", "eve@example.com",
               input="pw\n").returncode == 0
    names = os.listdir(data_dir)
    assert names
    for name in names:
        st = os.stat(os.path.join(data_dir, name))
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid), name


def test_without_store_says_so(offline):
    """Until the store is built in, the commands say so in one line."""
    res = offline("domain", "list")
    if res.returncode == 0:
        pytest.skip("the store is built in")
    assert res.returncode == 1
    assert res.stderr == "posthorn: domain: not available in this build (the store is not built yet)\n"


def test_embedded_default_needs_data_dir(tmp_path):
    """Without -c, posthorn works on ./posthorn-data and refuses to start a
    new store where there is none (most likely the wrong directory)."""
    require_store()
    res = run("domain", "list", cwd=str(tmp_path))
    assert res.returncode == 1
    assert res.stderr == ("posthorn: no ./posthorn-data here: run posthorn "
                          "where posthornd runs, or give -c FILE\n")
    assert not os.path.exists(str(tmp_path / "posthorn-data"))


def run_on_tty(args, answers, timeout=30):
    """Runs posthorn with a pseudo-terminal as stdin/stdout/stderr, writing
    each answer after its prompt; returns (exit status, everything shown)."""
    import pty
    import select
    import time
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(POSTHORN, [POSTHORN] + list(args))
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, shown
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 1024)
            except OSError:
                break
            if not data:
                break
            shown += data
        if pending and shown.rstrip().endswith(pending[0][0].encode()):
            prompt, answer = pending.pop(0)
            os.write(fd, answer.encode() + b"\n")
            shown += b"<" + prompt.encode() + b" answered>"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_password_prompt_on_terminal(offline):
    """On a terminal the password is asked twice, without echo."""
    require_store()
    assert offline("domain", "add", "tty.example").returncode == 0
    rc, shown = run_on_tty(["-c", offline.conf, "user", "add", "t@tty.example"],
                           [("Password:", "hidden-pw-1"),
                            ("Retype password:", "hidden-pw-1")])
    assert rc == 0, shown
    assert "hidden-pw-1" not in shown
    assert offline("user", "check", "t@tty.example",
                   input="hidden-pw-1\n").returncode == 0
    rc, shown = run_on_tty(["-c", offline.conf, "user", "passwd", "t@tty.example"],
                           [("Password:", "one"), ("Retype password:", "two")])
    assert rc == 1
    assert "posthorn: passwords do not match" in shown


def test_user_quota(posthorn):
    """`user quota` sets the limits (0 = none), `user list` shows them with
    the usage, and delivery over the limit is refused."""
    import smtplib
    require_store()
    cli = posthorn.cli
    assert cli("domain", "add", "quota.example").returncode == 0
    assert cli("user", "add", "q@quota.example", "--password-stdin",
               input="pw\n").returncode == 0
    res = cli("user", "quota", "q@quota.example", "--messages", "1")
    assert res.returncode == 0, res.stderr
    assert cli("user", "list").stdout == \
        "q@quota.example quota bytes=0/0 messages=0/1\n"
    msg = b"From: a@b.example\r\nSubject: q\r\n\r\nhello\r\n"
    with smtplib.SMTP("127.0.0.1", posthorn.ports["smtp"]) as s:
        s.sendmail("a@b.example", ["q@quota.example"], msg)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@b.example", ["q@quota.example"], msg)
        code = e.value.recipients["q@quota.example"][0]
        assert code == 552
    out = cli("user", "quota", "q@quota.example").stdout
    assert re.match(r"q@quota\.example bytes=\d+/0 messages=1/1\n$", out), out
    # 0 lifts the limit; the other limit stays as it was.
    assert cli("user", "quota", "q@quota.example", "--messages", "0",
               "--bytes", "100000").returncode == 0
    assert cli("user", "quota", "q@quota.example").stdout.endswith(
        "/100000 messages=1/0\n")
    with smtplib.SMTP("127.0.0.1", posthorn.ports["smtp"]) as s:
        s.sendmail("a@b.example", ["q@quota.example"], msg)
    for args, err in ((("user", "quota", "q@quota.example", "--bytes", "x"),
                       "--bytes needs a number"),
                      (("user", "quota", "nobody@quota.example"),
                       "unknown user"),
                      (("user", "quota", "q@quota.example", "--frob", "1"),
                       "unknown option")):
        res = cli(*args)
        assert res.returncode == 1 and err in res.stderr, res.stderr
