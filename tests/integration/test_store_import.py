# SPDX-License-Identifier: MIT
"""posthorn import/export maildir|mbox against a store with the daemon down:
Maildir flags and Dovecot keywords map to IMAP flags and back, Maildir++
folders become mailboxes, mbox Status/X-Status/X-Keywords carry flags, and
a message survives import and export byte for byte (in its LF form)."""
import os
import subprocess

import pytest

from conftest import POSTHORN, require_store, shared_path, write_config

CORPUS = shared_path("corpus", "messages")
MBOX = shared_path("corpus", "mbox", "issue1189.mbox.txt")


class Cli:
    def __init__(self, tmp_path):
        self.dir = str(tmp_path)
        self.conf = os.path.join(self.dir, "posthorn.conf")
        write_config(self.conf, os.path.join(self.dir, "data"), {})

    def run(self, *args, input=None):
        return subprocess.run([POSTHORN, "-c", self.conf] + list(args),
                              input=input, capture_output=True, text=True,
                              timeout=60, cwd=self.dir)

    def ok(self, *args, input=None):
        res = self.run(*args, input=input)
        assert res.returncode == 0, res.stderr
        return res


@pytest.fixture
def cli(tmp_path):
    require_store()
    c = Cli(tmp_path)
    c.ok("domain", "add", "example.com")
    c.ok("user", "add", "alice@example.com", "--password-stdin",
         input="secret-pw\n")
    return c


def corpus_messages(n):
    if not CORPUS or not os.path.isdir(CORPUS):
        pytest.skip("no corpus")
    names = sorted(f for f in os.listdir(CORPUS) if f.endswith(".txt"))[:n]
    out = []
    for name in names:
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        if b"\r" not in data:  # the LF form must round-trip exactly
            out.append(data)
    return out


def make_maildir(root, messages):
    """messages: list of (subdir, name, data, mtime)."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for sub, name, data, mtime in messages:
        path = os.path.join(root, sub, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))


def read_maildir(root):
    """{content: (info flags, keywords, mtime)} of cur/ and new/."""
    keywords = {}
    kwfile = os.path.join(root, "dovecot-keywords")
    if os.path.exists(kwfile):
        for line in open(kwfile):
            idx, name = line.rstrip("\n").split(" ", 1)
            keywords[chr(ord("a") + int(idx))] = name
    out = {}
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(root, sub)):
            path = os.path.join(root, sub, name)
            info = name.split(":2,", 1)[1] if ":2," in name else ""
            flags = "".join(c for c in info if c.isupper())
            kws = sorted(keywords[c] for c in info if c.islower())
            with open(path, "rb") as f:
                out[f.read()] = (flags, kws, int(os.stat(path).st_mtime))
    return out


def test_maildir_round_trip(cli, tmp_path):
    msgs = corpus_messages(6)
    assert len(msgs) >= 4
    src = os.path.join(str(tmp_path), "Maildir")
    make_maildir(src, [
        ("cur", "1000000001.a.host:2,S", msgs[0], 1000000001),
        ("cur", "1000000002.b.host:2,RS", msgs[1], 1000000002),
        ("cur", "1000000003.c.host:2,Fa", msgs[2], 1000000003),
        ("new", "1000000004.d.host", msgs[3], 1000000004),
    ])
    with open(os.path.join(src, "dovecot-keywords"), "w") as f:
        f.write("0 $Label1\n")
    make_maildir(os.path.join(src, ".Work.Projects"), [
        ("cur", "1000000005.e.host:2,DT", msgs[0], 1000000005),
    ])

    res = cli.ok("import", "maildir", "alice@example.com", src)
    assert "imported 5 messages" in res.stdout

    out = os.path.join(str(tmp_path), "Export")
    res = cli.ok("export", "maildir", "alice@example.com", out)
    assert "exported 5 messages" in res.stdout

    got = read_maildir(out)
    assert got[msgs[0]] == ("S", [], 1000000001)
    assert got[msgs[1]] == ("RS", [], 1000000002)
    assert got[msgs[2]] == ("F", ["$Label1"], 1000000003)
    assert got[msgs[3]] == ("", [], 1000000004)
    sub = read_maildir(os.path.join(out, ".Work.Projects"))
    assert sub == {msgs[0]: ("DT", [], 1000000005)}
    # The default mailboxes come out as (empty) Maildir++ folders.
    assert os.path.isdir(os.path.join(out, ".Sent", "cur"))

    # Only one mailbox, into another.
    res = cli.ok("import", "maildir", "alice@example.com",
                 os.path.join(src, ".Work.Projects"), "--mailbox", "Copy")
    assert "imported 1 messages" in res.stdout
    one = os.path.join(str(tmp_path), "One")
    cli.ok("export", "maildir", "alice@example.com", one, "--mailbox", "Copy")
    assert read_maildir(one) == {msgs[0]: ("DT", [], 1000000005)}


def test_mbox_round_trip(cli, tmp_path):
    if not MBOX or not os.path.exists(MBOX):
        pytest.skip("no corpus mbox")
    with open(MBOX, "rb") as f:
        text = f.read()
    expected = sum(1 for i, line in enumerate(text.split(b"\n"))
                   if line.startswith(b"From ") and
                   (i == 0 or text.split(b"\n")[i - 1] == b""))
    res = cli.ok("import", "mbox", "alice@example.com", MBOX,
                 "--mailbox", "Old")
    assert "imported %d messages" % expected in res.stdout

    first = os.path.join(str(tmp_path), "first.mbox")
    cli.ok("export", "mbox", "alice@example.com", first, "--mailbox", "Old")
    # What we write, we read back the same.
    cli.ok("import", "mbox", "alice@example.com", first, "--mailbox", "Again")
    second = os.path.join(str(tmp_path), "second.mbox")
    cli.ok("export", "mbox", "alice@example.com", second,
           "--mailbox", "Again")
    assert open(first, "rb").read() == open(second, "rb").read()


def test_mbox_flags_and_escaping(cli, tmp_path):
    mbox = os.path.join(str(tmp_path), "in.mbox")
    with open(mbox, "wb") as f:
        f.write(b"From a@example.org Mon Nov 30 08:22:44 2026\n"
                b"Subject: one\n"
                b"Status: RO\n"
                b"X-Status: AF\n"
                b"X-Keywords: $Work, later\n"
                b"\n"
                b">From the start\n"
                b">>From twice\n"
                b"\n"
                b"From b@example.org Tue Dec  1 09:00:00 2026\n"
                b"Subject: two\n"
                b"\n"
                b"body\n")
    res = cli.ok("import", "mbox", "alice@example.com", mbox)
    assert "imported 2 messages" in res.stdout
    out = os.path.join(str(tmp_path), "out")
    cli.ok("export", "maildir", "alice@example.com", out, "--mailbox",
           "INBOX")
    got = read_maildir(out)
    one = b"Subject: one\n\nFrom the start\n>From twice\n"
    assert got[one][0] == "FRS"
    assert got[one][1] == ["$Work", "later"]
    assert got[one][2] == 1796026964  # the From line's date, UTC
    assert got[b"Subject: two\n\nbody\n"][0] == ""

    back = os.path.join(str(tmp_path), "back.mbox")
    cli.ok("export", "mbox", "alice@example.com", back, "--mailbox", "INBOX")
    data = open(back, "rb").read()
    assert b"\n>From the start\n>>From twice\n" in data
    assert b"X-Status: AF\n" in data and b"Status: RO\n" in data
    assert data.startswith(b"From MAILER-DAEMON Mon Nov 30 08:22:44 2026\n")


def test_import_errors(cli, tmp_path):
    res = cli.run("import", "maildir", "nobody@example.com", str(tmp_path))
    assert res.returncode == 1 and "unknown user" in res.stderr
    res = cli.run("import", "maildir", "alice@example.com", str(tmp_path))
    assert res.returncode == 1 and "not a Maildir" in res.stderr
    res = cli.run("import", "mbox", "alice@example.com",
                  os.path.join(str(tmp_path), "missing"))
    assert res.returncode == 1 and "cannot open" in res.stderr
    res = cli.run("export", "mbox", "alice@example.com",
                  os.path.join(str(tmp_path), "x"), "--mailbox", "Nope")
    assert res.returncode == 1 and "unknown mailbox" in res.stderr
    res = cli.run("import", "mbox", "alice@example.com", "x", "--bogus")
    assert res.returncode == 1 and "unknown option" in res.stderr
